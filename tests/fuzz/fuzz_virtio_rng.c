/*
 * tests/fuzz/fuzz_virtio_rng.c — a hostile virtio driver against the virtio entropy
 * device (devices/virtio_rng.c on virtio-mmio).
 *
 * The input is a program for the driver of tests/fuzz/virtio_driver.h: its first byte
 * says whether the device is brought up before the program runs (bit 7), then come
 * the driver's shared actions and chains of buffers for entropy built from the bytes
 * (one to eight buffers, of any length, anywhere, mostly device-writable, direct or
 * through an indirect table).
 *
 * Checked besides the sanitizers: the driver's own checks (the device reaches nothing
 * but guest RAM, the ROM stays intact). Every input ends with the device reset and
 * its deferred work run, so work deferred past the device's budget is served too.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/virtio_driver.h"

static FuzzVirtioMachine machine;
static FuzzVirtioDev rng;

static void setup(void)
{
    static bool ready;
    if (ready)
        return;
    fuzz_virtio_machine_init(&machine);
    rng.base = FUZZ_DEVICE_AT(0);
    rng.dev = device_create(&machine.board, "virtio-rng,addr=0x10000000,irq=5", NULL);
    if (!rng.dev)
        abort();
    fuzz_virtio_probe(&machine, &rng);
    ready = true;
}

/*
 * A chain on the selected queue. kind: bits 0-2 the number of buffers less one, 3
 * indirect, 4 one buffer the device may only read, 5 short buffers (1 to 256 bytes)
 * rather than any length.
 */
static void act_chain(FuzzDriver *d)
{
    uint8_t kind = fuzz_take8(d);
    unsigned n = (kind & 7) + 1;
    FuzzBuf bufs[FUZZ_MAX_CHAIN];
    for (unsigned i = 0; i < n; i++) {
        uint32_t len = kind & 0x20 ? fuzz_take8(d) + 1u : fuzz_take_len(d);
        bufs[i] = (FuzzBuf){ .addr = fuzz_take_addr(d, len), .len = len,
                             .flags = FUZZ_D_WRITE };
    }
    if (kind & 0x10)
        bufs[fuzz_take8(d) % n].flags = 0;
    fuzz_post(d, bufs, n, kind & 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (!size)
        return 0;
    fuzz_virtio_run(&machine, &rng, data[0] & 0x80, data + 1, size - 1, act_chain);
    return 0;
}
