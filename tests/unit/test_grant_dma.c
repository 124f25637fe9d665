/*
 * Unit tests for grant DMA (mapcache/grant_dma.c) and virtio devices with grant_usage=1,
 * over a fake grant table: ref r grants page r of the test board's RAM, read-write,
 * read-only or not at all. Checked: an access maps exactly the refs it covers, writable
 * only for device writes, and unmaps them when it ends (nothing stays mapped); what was
 * not granted, or granted read-only for a device write, or a plain guest-physical
 * address, is never reached and fails the request with the virtio status; the device
 * offers VIRTIO_F_ACCESS_PLATFORM and refuses FEATURES_OK without it.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/device.h"
#include "devices/virtio.h"
#include "mapcache/grant_dma.h"
#include "util/macros.h"

#define RAM_SIZE  0x1000000u        /* 16 MiB: refs 0..4095 */
#define NR_PAGES  (RAM_SIZE >> 12)
#define BASE      0x10000000u
#define RINGS     0x100000u         /* queue 0: descriptors, avail +0x4000, used +0x8000 */
#define HDR       0x200000u
#define STATUS_AT 0x201000u
#define DATA      0x400000u
#define G(x)      (GRANT_DMA_ADDR_OFF | (uint64_t)(x))
#define F_ACCESS_PLATFORM (1ull << 33)
#define STATUS_NEEDS_RESET 64u

enum { NOT_GRANTED, GRANT_RW, GRANT_RO };

typedef struct FakeGrants {
    uint8_t *ram;
    uint8_t state[NR_PAGES];
    unsigned live_pages, writable_maps, readonly_maps;
} FakeGrants;

static void *fake_map(void *opaque, const uint32_t *refs, uint32_t count, bool writable)
{
    FakeGrants *fg = opaque;
    for (uint32_t i = 0; i < count; i++) {
        assert_int_equal(refs[i], refs[0] + i);         /* consecutive refs */
        if (refs[i] >= NR_PAGES || fg->state[refs[i]] == NOT_GRANTED ||
            (writable && fg->state[refs[i]] == GRANT_RO)) {
            errno = EINVAL;
            return NULL;
        }
    }
    fg->live_pages += count;
    *(writable ? &fg->writable_maps : &fg->readonly_maps) += 1;
    return fg->ram + ((uint64_t)refs[0] << 12);
}

static int fake_unmap(void *opaque, void *host, uint32_t count)
{
    FakeGrants *fg = opaque;
    assert_true(((uintptr_t)host & 0xfff) == 0);
    assert_true(count <= fg->live_pages);
    fg->live_pages -= count;
    return 0;
}

static const GrantMapperOps fake_ops = { .map = fake_map, .unmap = fake_unmap };

typedef struct Fixture {
    TestBoard b;
    FakeGrants fg;
    GrantDma *g;
    AddressSpace *as;
    Device *dev;
    TestVirtioDriver d;
    char path[64];
} Fixture;

static int setup(void **state)
{
    Fixture *f = calloc(1, sizeof(*f));
    test_board_init(&f->b, RAM_SIZE);
    f->fg.ram = f->b.ram_ptr;
    f->g = grant_dma_new(&fake_ops, &f->fg, "grant-dma", NULL);
    assert_non_null(f->g);
    f->as = grant_dma_address_space(f->g);
    f->b.board.grant_dma_as = f->as;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    if (f->dev)
        device_destroy(f->dev);
    assert_int_equal(f->fg.live_pages, 0);
    grant_dma_free(f->g);
    test_board_fini(&f->b);
    if (f->path[0])
        unlink(f->path);
    free(f);
    return 0;
}

static void grant(Fixture *f, uint64_t ram_addr, uint64_t len, uint8_t how)
{
    for (uint64_t p = ram_addr >> 12; p <= (ram_addr + len - 1) >> 12; p++)
        f->fg.state[p] = how;
}

static uint64_t live_maps(Fixture *f)
{
    GrantDmaStats st;
    grant_dma_get_stats(f->g, &st);
    return st.live_maps;
}

static void access_maps_what_is_granted(void **state)
{
    Fixture *f = *state;
    uint8_t *ram = f->b.ram_ptr;
    uint64_t v = 0x1122334455667788ull, r = 0;
    grant(f, 0x5000, 1, GRANT_RW);
    /* Across a page boundary into an ungranted page: nothing is written at all. */
    assert_int_not_equal(address_space_rw_ram_only(f->as, G(0x5ffc), &v, 8, true), MEMTX_OK);
    assert_int_equal(ram[0x5ffc], 0);
    grant(f, 0x6000, 1, GRANT_RW);
    assert_int_equal(address_space_rw_ram_only(f->as, G(0x5ffc), &v, 8, true), MEMTX_OK);
    assert_memory_equal(ram + 0x5ffc, &v, 8);
    /* Read-only: the device may read it, not write it. */
    grant(f, 0x7000, 1, GRANT_RO);
    ram[0x7010] = 0x5a;
    assert_int_equal(address_space_rw_ram_only(f->as, G(0x7010), &r, 1, false), MEMTX_OK);
    assert_int_equal(r, 0x5a);
    assert_int_not_equal(address_space_rw_ram_only(f->as, G(0x7010), &v, 1, true), MEMTX_OK);
    assert_int_equal(ram[0x7010], 0x5a);
    /* Guest-physical addresses and refs beyond the grant space reach nothing. */
    assert_int_not_equal(address_space_rw_ram_only(f->as, 0x5000, &r, 8, false), MEMTX_OK);
    assert_int_not_equal(address_space_rw_ram_only(f->as, G((uint64_t)GRANT_DMA_MAX_REFS << 12),
                                                   &r, 8, false), MEMTX_OK);
    assert_int_equal(f->fg.live_pages, 0);
    assert_int_equal(live_maps(f), 0);
}

static void zero_copy_maps_until_unmapped(void **state)
{
    Fixture *f = *state;
    DmaMap m;
    grant(f, 0x8000, 3 * 4096, GRANT_RO);
    assert_int_equal(address_space_map(f->as, G(0x8000), 3 * 4096, true, &m), -EFAULT);
    assert_int_equal(address_space_map(f->as, G(0x8800), 2 * 4096, false, &m), 0);
    assert_int_equal(m.len, 2 * 4096);
    assert_ptr_equal(m.host, f->b.ram_ptr + 0x8800);
    assert_int_equal(f->fg.live_pages, 3);              /* pages 8, 9 and 10 */
    assert_int_equal(f->fg.readonly_maps, 1);
    assert_int_equal(live_maps(f), 1);
    address_space_unmap(&m, 0);
    assert_int_equal(f->fg.live_pages, 0);
    assert_int_equal(live_maps(f), 0);
    /* A long buffer comes in pieces of at most GRANT_DMA_MAX_MAP_PAGES refs. */
    grant(f, DATA, (GRANT_DMA_MAX_MAP_PAGES + 1) * 4096ull, GRANT_RW);
    assert_int_equal(address_space_map(f->as, G(DATA), (GRANT_DMA_MAX_MAP_PAGES + 1) * 4096ull,
                                       true, &m), 0);
    assert_int_equal(m.len, GRANT_DMA_MAX_MAP_PAGES * 4096ull);
    address_space_unmap(&m, m.len);
}

/* ---- virtio-rng ---- */

static void create_device(Fixture *f, const char *spec)
{
    Error *err = NULL;
    f->dev = device_create(&f->b.board, spec, &err);
    if (err)
        fprintf(stderr, "%s\n", error_get_pretty(err));
    assert_non_null(f->dev);
}

static uint8_t start(Fixture *f, uint64_t features)
{
    grant(f, RINGS, 0x10000, GRANT_RW);
    return test_virtio_start_dma(&f->d, &f->b, BASE, features, 1, 16, RINGS,
                                 GRANT_DMA_ADDR_OFF);
}

static void rng_over_grants(void **state)
{
    Fixture *f = *state;
    create_device(f, "virtio-rng,addr=0x10000000,irq=5,grant_usage=1");
    f->d = (TestVirtioDriver){ .b = &f->b, .base = BASE };
    assert_true(test_virtio_device_features(&f->d) & F_ACCESS_PLATFORM);
    assert_false(start(f, 0) & 8);                      /* FEATURES_OK refused */
    assert_true(start(f, F_ACCESS_PLATFORM) & 4);       /* DRIVER_OK */
    grant(f, DATA, 64, GRANT_RW);
    TestVirtioBuf buf = { .addr = G(DATA), .len = 64, .device_writes = true };
    uint16_t head = test_virtio_add(&f->d, 0, &buf, 1, 0);
    test_virtio_kick(&f->d, 0);
    uint32_t id, len;
    assert_true(test_virtio_used(&f->d, 0, &id, &len));
    assert_int_equal(id, head);
    assert_int_equal(len, 64);
    assert_int_equal(f->fg.live_pages, 0);
    /* A buffer the guest did not grant: the device stops and asks for a reset. */
    TestVirtioBuf bad = { .addr = G(DATA + 0x10000), .len = 16, .device_writes = true };
    test_virtio_add(&f->d, 0, &bad, 1, 0);
    test_virtio_kick(&f->d, 0);
    assert_false(test_virtio_used(&f->d, 0, &id, &len));
    assert_true(test_virtio_read(&f->d, 0x070) & STATUS_NEEDS_RESET);
}

static void grant_usage_needs_a_grant_space(void **state)
{
    Fixture *f = *state;
    f->b.board.grant_dma_as = NULL;
    Error *err = NULL;
    assert_null(device_create(&f->b.board, "virtio-rng,addr=0x10000000,grant_usage=1", &err));
    assert_non_null(strstr(error_get_pretty(err), "no grant DMA address space"));
    error_free(err);
    err = NULL;
    assert_null(device_create(&f->b.board, "virtio-rng,addr=0x10000000,grant_usage=2", &err));
    error_free(err);
}

/* ---- virtio-blk ---- */

enum { T_IN = 0, T_OUT = 1 };
enum { S_OK = 0, S_IOERR = 1, S_UNSET = 0xee };

static void create_disk(Fixture *f)
{
    snprintf(f->path, sizeof(f->path), "/tmp/xendm-test-grant-XXXXXX");
    int fd = mkstemp(f->path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 1 << 20), 0);
    close(fd);
    char spec[160];
    snprintf(spec, sizeof(spec), "virtio-blk,addr=0x%x,irq=6,file=%s,aio=threads,"
             "grant_usage=1", BASE, f->path);
    create_device(f, spec);
    grant(f, HDR, 16, GRANT_RO);
    grant(f, STATUS_AT, 1, GRANT_RW);
}

/* One request with its data at grant address G(data); returns the status byte. */
static uint8_t blk_request(Fixture *f, uint32_t type, uint64_t sector, uint64_t data,
                           uint32_t len)
{
    uint8_t *ram = f->b.ram_ptr;
    memcpy(ram + HDR, &type, 4);
    memset(ram + HDR + 4, 0, 4);
    memcpy(ram + HDR + 8, &sector, 8);
    ram[STATUS_AT] = S_UNSET;
    TestVirtioBuf bufs[] = {
        { .addr = G(HDR), .len = 16 },
        { .addr = G(data), .len = len, .device_writes = type == T_IN },
        { .addr = G(STATUS_AT), .len = 1, .device_writes = true },
    };
    test_virtio_add(&f->d, 0, bufs, ARRAY_SIZE(bufs), 0);
    test_virtio_kick(&f->d, 0);
    uint32_t id, len_used;
    for (int spins = 0; !test_virtio_used(&f->d, 0, &id, &len_used); spins++) {
        assert_true(spins < 2000);
        struct pollfd p = { .fd = device_poll_fd(f->dev), .events = POLLIN };
        poll(&p, 1, 5);
        assert_true(device_handle_readable(f->dev, NULL) >= 0);
    }
    assert_int_equal(f->fg.live_pages, 0);              /* every mapping released */
    return ram[STATUS_AT];
}

static void blk_over_grants(void **state)
{
    Fixture *f = *state;
    uint8_t *ram = f->b.ram_ptr;
    create_disk(f);
    assert_true(start(f, F_ACCESS_PLATFORM) & 4);
    /* A write: the device only reads the data, which the guest granted read-only. */
    grant(f, DATA, 8192, GRANT_RO);
    for (unsigned i = 0; i < 8192; i++)
        ram[DATA + i] = (uint8_t)(i * 7 + 1);
    unsigned ro_before = f->fg.readonly_maps;
    assert_int_equal(blk_request(f, T_OUT, 8, DATA, 8192), S_OK);
    assert_true(f->fg.readonly_maps > ro_before);
    /* Reading into a read-only grant, or into what was not granted, fails cleanly. */
    assert_int_equal(blk_request(f, T_IN, 8, DATA, 512), S_IOERR);
    assert_int_equal(blk_request(f, T_IN, 8, DATA + 0x10000, 512), S_IOERR);
    /* Into two read-write pages (consecutive refs), the data comes back. */
    grant(f, DATA + 0x20000, 8192, GRANT_RW);
    assert_int_equal(blk_request(f, T_IN, 8, DATA + 0x20000, 8192), S_OK);
    assert_memory_equal(ram + DATA + 0x20000, ram + DATA, 8192);
    /* A guest-physical address is not a grant: refused, nothing read into it. */
    memset(ram + DATA + 0x30000, 0, 512);
    TestVirtioBuf plain[] = {
        { .addr = G(HDR), .len = 16 },
        { .addr = DATA + 0x30000, .len = 512, .device_writes = true },
        { .addr = G(STATUS_AT), .len = 1, .device_writes = true },
    };
    uint32_t type = T_IN;
    memcpy(ram + HDR, &type, 4);
    test_virtio_add(&f->d, 0, plain, ARRAY_SIZE(plain), 0);
    test_virtio_kick(&f->d, 0);
    uint32_t id, len;
    assert_true(test_virtio_used(&f->d, 0, &id, &len));
    assert_int_equal(ram[STATUS_AT], S_IOERR);
    assert_int_equal(ram[DATA + 0x30000], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(access_maps_what_is_granted, setup, teardown),
        cmocka_unit_test_setup_teardown(zero_copy_maps_until_unmapped, setup, teardown),
        cmocka_unit_test_setup_teardown(rng_over_grants, setup, teardown),
        cmocka_unit_test_setup_teardown(grant_usage_needs_a_grant_space, setup, teardown),
        cmocka_unit_test_setup_teardown(blk_over_grants, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
