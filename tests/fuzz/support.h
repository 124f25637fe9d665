/*
 * tests/fuzz/support.h — what several fuzz targets need: a board like xendm's
 * machine (RAM, port I/O, PCI, an event loop's work queue), block devices over
 * throw-away images, and serving devices the way xendm's event loop does
 * (devices/device.h: completion fds, then deferred work).
 *
 * Linked into every fuzz target (tests/fuzz/fuzz_*.c), both by `make test` and by
 * `make fuzz`. A setup failure here aborts: a harness that cannot build its machine
 * has nothing to test, and that is never the bytes' fault.
 */
#ifndef XENDM_FUZZ_SUPPORT_H
#define XENDM_FUZZ_SUPPORT_H

#include <stdint.h>

#include "devices/device.h"
#include "devices/irq.h"
#include "devices/pci.h"
#include "memory/memory.h"

/* A board like dm/machine.c's: RAM at 0 in the memory space, a port I/O space, the PCI
 * host on both, interrupts that go nowhere, a work queue for deferred device work.
 * `board` is what devices are created on. */
typedef struct FuzzBoard {
    MemoryRegion sys, io, ram;
    AddressSpace as_mem, as_io;
    IrqRouter irq;
    PciHost *pci;
    DeviceWorkQueue work;
    DeviceLoop loop;
    DeviceBoard board;
} FuzzBoard;

/* Build b with ram_bytes of RAM; it lives as long as the process. */
void fuzz_board_init(FuzzBoard *b, uint64_t ram_bytes);

/* Bytes of each image fuzz_create_blk() makes. */
#define FUZZ_IMAGE_BYTES (1u << 20)

/* Where an image lives: /tmp, or tmpfs (/dev/shm, else /tmp), which cannot zero a
 * range in place, so that write-zeroes takes the block layer's fallback. */
enum fuzz_image_fs { FUZZ_IMAGE_TMP, FUZZ_IMAGE_TMPFS };

/*
 * Create the device `spec` (a virtio-blk type and its options, without file=) over a
 * new FUZZ_IMAGE_BYTES image of zeroes on `fs`, which is unlinked at once: the device
 * holds the image open (and locked) for as long as it lives. Where the host refuses
 * spec (cache=none on a filesystem without O_DIRECT), `fallback` (if not NULL) is
 * tried instead. *image_fd (if not NULL) gets another descriptor of the image, for the
 * harness's own checks; it stays open.
 */
Device *fuzz_create_blk(const DeviceBoard *board, const char *spec, const char *fallback,
                        enum fuzz_image_fs fs, int *image_fd);

/*
 * One turn of an event loop over devs (at most 8): wait up to timeout_us microseconds
 * (0: just look) for their completion fds, let each ready device handle its input,
 * then run the work deferred to this turn (work may be NULL: the board has no loop).
 * Returns how many devices had input.
 */
unsigned fuzz_serve_turn(Device *const *devs, unsigned n, DeviceWorkQueue *work,
                         unsigned timeout_us);

#endif
