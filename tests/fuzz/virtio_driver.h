/*
 * tests/fuzz/virtio_driver.h — a hostile virtio driver on virtio-mmio, for the fuzz
 * targets of the virtio devices (tests/fuzz/fuzz_virtio_*.c).
 *
 * The machine (FuzzVirtioMachine): RAM at 0 (a heap buffer, so ASan sees the host side
 * of every access), an MMIO tripwire right after it that aborts on any access, a ROM
 * that must keep its contents, a hole, and the devices' registers at
 * FUZZ_DEVICE_AT(n). A target builds it once and creates its devices on its board.
 *
 * The driver (FuzzDriver) runs a program from the input: actions, each an opcode byte
 * and its operands (operands past the end of the input read as zero). Most actions
 * are what every virtio device shares: raw bytes into RAM; descriptors and avail
 * entries; feature negotiation with any bits; queue setup with any size and ring
 * addresses (in RAM, across its end, over MMIO and ROM, wrapping past 2^64);
 * notifications of any queue; resets; configuration and register accesses of every
 * width; interrupt acknowledgements; turns of the event loop. A target adds one
 * action: the request chains of its device, built with fuzz_post().
 *
 * After the program, fuzz_virtio_run() serves what is ready, then resets the device,
 * which waits for whatever is still in flight, and checks that the ROM is intact. The
 * next input starts from zeroed RAM. Setup failures abort: that is never the bytes'
 * fault.
 */
#ifndef XENDM_FUZZ_VIRTIO_DRIVER_H
#define XENDM_FUZZ_VIRTIO_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"
#include "devices/irq.h"
#include "memory/memory.h"

/* Guest physical layout. */
#define FUZZ_RAM_SIZE       0x40000u    /* 256 KiB of RAM at 0 */
#define FUZZ_HEAP_AT        0x10000u    /* headers, data, tables: a wrapping allocator */
#define FUZZ_DEVICE_AT(n)   (0x10000000u + 0x1000u * (n))   /* device n's registers */
#define FUZZ_MODEL_QUEUES   2           /* queues the driver model tracks */
#define FUZZ_MAX_CHAIN      8           /* buffers of a chain a target builds */

/* virtio-mmio registers (devices/virtio_mmio.c) that targets use. */
enum {
    FUZZ_R_DEVICE_FEATURES = 0x010, FUZZ_R_DEVICE_FEATURES_SEL = 0x014,
    FUZZ_R_QUEUE_SEL = 0x030, FUZZ_R_QUEUE_NUM_MAX = 0x034, FUZZ_R_STATUS = 0x070,
    FUZZ_R_CONFIG = 0x100,
};

/* Descriptor flags. */
enum { FUZZ_D_NEXT = 1, FUZZ_D_WRITE = 2, FUZZ_D_INDIRECT = 4 };

typedef struct FuzzVirtioMachine {
    MemoryRegion root, ram, tripwire, rom;
    AddressSpace as;
    uint8_t *ram_ptr, *rom_ptr;
    IrqRouter irq;
    DeviceBoard board;
    DeviceWorkQueue work;
    DeviceLoop loop;
} FuzzVirtioMachine;

/* A device under test and what its registers say about it. */
typedef struct FuzzVirtioDev {
    Device *dev;
    uint64_t base;                  /* its registers */
    unsigned nr_queues;
    uint16_t queue_max;
    uint32_t features_lo;           /* device features, bits 0-31 */
    uint8_t hot_config;             /* a config offset hit a quarter of the time */
} FuzzVirtioDev;

/* The driver's view of a queue: where it put the rings and what it posted. */
typedef struct FuzzDriverQueue {
    uint16_t num, avail_idx, next_desc;
    uint64_t desc, avail, used;
} FuzzDriverQueue;

typedef struct FuzzDriver {
    FuzzVirtioMachine *m;
    FuzzVirtioDev *dev;
    const uint8_t *in;              /* the rest of the input */
    size_t left;
    FuzzDriverQueue q[FUZZ_MODEL_QUEUES];
    unsigned sel;                   /* the queue chains go to */
    uint64_t heap;                  /* next free byte of the allocator */
    unsigned waits;                 /* serve actions that waited for I/O */
} FuzzDriver;

typedef void FuzzAction(FuzzDriver *d);

/* A buffer of a chain: FUZZ_D_WRITE and, rarely, any flags. */
typedef struct FuzzBuf {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
} FuzzBuf;

/* Build the machine, without devices. */
void fuzz_virtio_machine_init(FuzzVirtioMachine *m);

/* Learn dev's queues and features from its registers (dev->dev and base set). */
void fuzz_virtio_probe(FuzzVirtioMachine *m, FuzzVirtioDev *dev);

/*
 * Run one input's program against dev: zero RAM, bring the device up first if asked,
 * run the actions, serve, reset, check the ROM. The opcodes, modulo 18, are: 0 bring
 * up, 1 `chain` (the target's request chains), 2 kick, 3 serve, 4 run deferred work,
 * 5 bytes into RAM, 6 a descriptor, 7 an avail entry, 8 a ring field, 9 features,
 * 10 status, 11 a queue's setup, 12/13 a config read/write, 14/15 a register
 * read/write, 16 an interrupt acknowledgement, 17 the queue chains go to. Seeds
 * (tests/fuzz/corpus/make_seeds.py) rely on these numbers.
 */
void fuzz_virtio_run(FuzzVirtioMachine *m, FuzzVirtioDev *dev, bool bring_up,
                     const uint8_t *prog, size_t len, FuzzAction *chain);

/* ---- for a target's own actions ---- */

/* The next `bytes` (up to 8) bytes as a little-endian number; zeroes past the end. */
uint64_t fuzz_take(FuzzDriver *d, unsigned bytes);
uint8_t fuzz_take8(FuzzDriver *d);
uint16_t fuzz_take16(FuzzDriver *d);
uint32_t fuzz_take32(FuzzDriver *d);

/* v as `bytes` little-endian bytes at p. */
void fuzz_put_le(uint8_t *p, uint64_t v, unsigned bytes);

/* The driver writes its own RAM; what it aims elsewhere goes nowhere. */
void fuzz_guest_put(FuzzDriver *d, uint64_t addr, const void *buf, size_t len);

/* len bytes of the heap, `align`-aligned (a power of two); it wraps when full. */
uint64_t fuzz_alloc(FuzzDriver *d, uint64_t len, uint64_t align);

/* Where a buffer of len bytes goes: mostly fresh heap, else anywhere at all. */
uint64_t fuzz_take_addr(FuzzDriver *d, uint64_t len);

/* A length: mostly whole sectors (512 bytes). */
uint32_t fuzz_take_len(FuzzDriver *d);

/* Post bufs as one chain on the selected queue: in the ring's descriptors (round
 * robin), or in an indirect table that one ring descriptor points at. */
void fuzz_post(FuzzDriver *d, const FuzzBuf *bufs, unsigned n, bool indirect);

#endif
