/*
 * tests/fuzz/fuzz_virtio_blk.c — a hostile virtio driver against the virtio block
 * device (devices/virtio_blk.c on virtio-mmio, over block/).
 *
 * The input is a program for the driver of tests/fuzz/virtio_driver.h. Its first byte
 * picks one of four disks (both I/O engines; queue sizes from 8 to 1024; write-back,
 * write-through and O_DIRECT caching; one read-only; images on a disk filesystem and
 * on tmpfs, which has no in-place zeroing) and whether the device is brought up
 * before the program runs. Then come the driver's shared actions (the configuration
 * accesses hit the writeback byte a quarter of the time; resets may leave requests in
 * flight) and whole request chains built from the bytes (any type, sector and framing,
 * data anywhere, direct or through an indirect table).
 *
 * After the program the device is reset, which waits for whatever is still in flight:
 * every request completes within its input, and the next input starts from a reset
 * device and zeroed RAM (the images keep their contents, as a disk does).
 *
 * Checked besides the sanitizers and the driver's own checks (nothing but guest RAM
 * reached, the ROM intact): the images never change size, and the read-only one is
 * never written (its mtime stays).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/support.h"
#include "tests/fuzz/virtio_driver.h"
#include "util/macros.h"

#define NR_DISKS        4
enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WRITE_ZEROES = 13 };
#define F_RO            (1u << 5)
#define CFG_WRITEBACK   32
#define SECTORS         (FUZZ_IMAGE_BYTES / 512)

/* The disks: what varies is the engine, the queues, caching, read-only and the
 * filesystem under the image. */
static const struct {
    const char *opts, *fallback;    /* fallback: where the host has no O_DIRECT */
    enum fuzz_image_fs fs;
} disk_opts[NR_DISKS] = {
    { "num-queues=2,queue-size=1024,serial=fuzz-serial-longer-than-20", NULL,
      FUZZ_IMAGE_TMP },
    { "aio=threads,queue-size=8,cache=writethrough,discard=ignore", NULL, FUZZ_IMAGE_TMPFS },
    { "queue-size=64,cache=none", "queue-size=64", FUZZ_IMAGE_TMP },
    { "aio=threads,queue-size=16,readonly=on", NULL, FUZZ_IMAGE_TMPFS },
};

typedef struct Disk {
    FuzzVirtioDev v;
    bool readonly;
    int image_fd;
    struct timespec mtime;          /* read-only: what it must stay */
} Disk;

static FuzzVirtioMachine machine;
static Disk disks[NR_DISKS];

/* Create disk d and learn its queues and read-only bit from its registers. */
static void create_disk(unsigned d)
{
    static const unsigned irqs[NR_DISKS] = { 5, 6, 7, 9 };
    Disk *disk = &disks[d];
    char spec[2][256];
    const char *opts[2] = { disk_opts[d].opts, disk_opts[d].fallback };
    disk->v.base = FUZZ_DEVICE_AT(d);
    for (unsigned i = 0; i < 2 && opts[i]; i++)
        snprintf(spec[i], sizeof(spec[i]), "virtio-blk,addr=0x%llx,irq=%u,%s",
                 (unsigned long long)disk->v.base, irqs[d], opts[i]);
    disk->v.dev = fuzz_create_blk(&machine.board, spec[0], opts[1] ? spec[1] : NULL,
                                  disk_opts[d].fs, &disk->image_fd);
    disk->v.hot_config = CFG_WRITEBACK;
    fuzz_virtio_probe(&machine, &disk->v);
    disk->readonly = disk->v.features_lo & F_RO;
    struct stat st;
    if (fstat(disk->image_fd, &st) < 0)
        abort();
    disk->mtime = st.st_mtim;
}

/* Built once: creating disks (io_uring rings, thread pools) is too slow per input. */
static void setup(void)
{
    static bool ready;
    if (ready)
        return;
    fuzz_virtio_machine_init(&machine);
    for (unsigned d = 0; d < NR_DISKS; d++)
        create_disk(d);
    ready = true;
}

/* ---- request chains ------------------------------------------------------------------ */

/* A sector: near the start, near the end, anywhere on the disk, anything. */
static uint64_t take_sector(FuzzDriver *d)
{
    uint8_t how = fuzz_take8(d);
    switch (how >> 6) {
    case 0:  return how & 63;
    case 1:  return SECTORS - 1 - (how & 63);
    case 2:  return fuzz_take16(d) % SECTORS;
    default: return fuzz_take(d, 8);
    }
}

/* A request type: the six the device knows, mostly, or any number. */
static uint32_t request_type(FuzzDriver *d, uint8_t how)
{
    static const uint32_t known[] = { T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD,
                                      T_WRITE_ZEROES, T_IN };
    return how < ARRAY_SIZE(known) ? known[how] : fuzz_take32(d);
}

/* The buffers after the header: data, or discard/write-zeroes segments. */
static unsigned data_bufs(FuzzDriver *d, uint32_t type, FuzzBuf *bufs)
{
    unsigned n = fuzz_take8(d) % (FUZZ_MAX_CHAIN - 2);
    bool is_segs = type == T_DISCARD || type == T_WRITE_ZEROES;
    uint16_t flags = type == T_IN || type == T_GET_ID ? FUZZ_D_WRITE : 0;
    for (unsigned i = 0; i < n; i++) {
        if (is_segs) {
            uint8_t seg[16];
            uint64_t sector = take_sector(d);
            uint32_t num = fuzz_take8(d) < 200 ? fuzz_take8(d) : fuzz_take32(d);
            uint32_t seg_flags = fuzz_take8(d) % 4;
            fuzz_put_le(seg, sector, 8);
            fuzz_put_le(seg + 8, num, 4);
            fuzz_put_le(seg + 12, seg_flags, 4);
            bufs[i] = (FuzzBuf){ .addr = fuzz_alloc(d, sizeof(seg), 16), .len = sizeof(seg) };
            fuzz_guest_put(d, bufs[i].addr, seg, sizeof(seg));
        } else {
            uint32_t len = fuzz_take_len(d);
            bufs[i] = (FuzzBuf){ .addr = fuzz_take_addr(d, len), .len = len, .flags = flags };
        }
    }
    return n;
}

/*
 * A request chain on the selected queue. kind: bits 0-2 the type, 3 indirect, 4 the
 * header in two pieces, 5 the status byte at the end of the last data buffer, 6 one
 * buffer's WRITE flag flipped, 7 the header anywhere.
 */
static void act_chain(FuzzDriver *d)
{
    uint8_t kind = fuzz_take8(d);
    uint32_t type = request_type(d, kind & 7);
    uint64_t sector = take_sector(d);
    uint64_t hdr = kind & 0x80 ? fuzz_take_addr(d, 16) : fuzz_alloc(d, 16, 16);
    uint8_t h[16] = { 0 };
    fuzz_put_le(h, type, 4);
    fuzz_put_le(h + 8, sector, 8);
    fuzz_guest_put(d, hdr, h, sizeof(h));
    FuzzBuf bufs[FUZZ_MAX_CHAIN];
    unsigned n = 0;
    if (kind & 0x10) {
        bufs[n++] = (FuzzBuf){ .addr = hdr, .len = 8 };
        bufs[n++] = (FuzzBuf){ .addr = hdr + 8, .len = 8 };
    } else {
        bufs[n++] = (FuzzBuf){ .addr = hdr, .len = 16 };
    }
    n += data_bufs(d, type, bufs + n);
    if ((kind & 0x20) && (bufs[n - 1].flags & FUZZ_D_WRITE))
        bufs[n - 1].len++;
    else
        bufs[n++] = (FuzzBuf){ .addr = fuzz_alloc(d, 1, 1), .len = 1, .flags = FUZZ_D_WRITE };
    if (kind & 0x40)
        bufs[fuzz_take8(d) % n].flags ^= FUZZ_D_WRITE;
    fuzz_post(d, bufs, n, kind & 8);
}

/* ---- one input ---------------------------------------------------------------------- */

/* What no input may change: the images' sizes, the read-only image. */
static void check_image(const Disk *disk)
{
    struct stat st;
    if (fstat(disk->image_fd, &st) < 0 || st.st_size != FUZZ_IMAGE_BYTES ||
        (disk->readonly && (st.st_mtim.tv_sec != disk->mtime.tv_sec ||
                            st.st_mtim.tv_nsec != disk->mtime.tv_nsec))) {
        fprintf(stderr, "fuzz_virtio_blk: the image changed size (%lld bytes) or, read-only, "
                "was written\n", (long long)st.st_size);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (!size)
        return 0;
    Disk *disk = &disks[data[0] % NR_DISKS];
    fuzz_virtio_run(&machine, &disk->v, data[0] & 0x80, data + 1, size - 1, act_chain);
    check_image(disk);
    return 0;
}
