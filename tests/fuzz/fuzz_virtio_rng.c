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
#include "util/macros.h"

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

/* Opcode n is actions[n % ARRAY_SIZE(actions)]: the seeds (tests/fuzz/corpus/) rely
 * on this order, which is fuzz_virtio_blk's. */
static FuzzAction *const actions[] = {
    fuzz_act_bring_up, act_chain, fuzz_act_kick, fuzz_act_serve, fuzz_act_work,
    fuzz_act_ram_bytes, fuzz_act_desc, fuzz_act_avail, fuzz_act_ring_field,
    fuzz_act_features, fuzz_act_status, fuzz_act_queue, fuzz_act_config_read,
    fuzz_act_config_write, fuzz_act_reg_read, fuzz_act_reg_write, fuzz_act_ack,
    fuzz_act_select,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (!size)
        return 0;
    fuzz_virtio_run(&machine, &rng, data[0] & 0x80, data + 1, size - 1, actions,
                    ARRAY_SIZE(actions));
    return 0;
}
