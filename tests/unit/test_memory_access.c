/*
 * Unit tests for the access layer (memory/access*.c) through the real region and
 * address-space APIs: ops constraints (valid/impl), endianness, splitting, unassigned
 * accesses, RAM/ROM/ROM-device copies and dirty marking, RAM reached through its
 * backend, the sized helpers, 2^64-sized regions and the top of the address space.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "memory/memory-internal.h"

/* ---- a recording test device --------------------------------------------------------
 * Its registers are a byte array; a callback of n bytes at addr reads/writes bytes
 * [addr, addr + n) interpreted in the device's endianness. So whatever the access
 * widths, the guest's little-endian view of the array must be the same. */

typedef struct Access {
    hwaddr addr;
    unsigned size;
    uint64_t val;
    bool write;
} Access;

typedef struct Dev {
    MemoryRegionOps ops;
    uint8_t regs[64];
    Access log[32];
    unsigned nlog;
    bool refuse_writes;         /* what valid.accepts answers for writes */
} Dev;

static uint64_t dev_get(const Dev *dev, hwaddr addr, unsigned size)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned shift = dev->ops.endianness == DEVICE_BIG_ENDIAN ? 8 * (size - 1 - i) : 8 * i;
        v |= (uint64_t)dev->regs[(addr + i) % sizeof(dev->regs)] << shift;
    }
    return v;
}

static void dev_record(Dev *dev, hwaddr addr, unsigned size, uint64_t val, bool write)
{
    assert_true(dev->nlog < 32);
    dev->log[dev->nlog++] = (Access){ addr, size, val, write };
}

static uint64_t dev_read(void *opaque, hwaddr addr, unsigned size)
{
    Dev *dev = opaque;
    uint64_t v = dev_get(dev, addr, size);
    dev_record(dev, addr, size, v, false);
    return v;
}

static void dev_write(void *opaque, hwaddr addr, uint64_t val, unsigned size)
{
    Dev *dev = opaque;
    dev_record(dev, addr, size, val, true);
    for (unsigned i = 0; i < size; i++) {
        unsigned shift = dev->ops.endianness == DEVICE_BIG_ENDIAN ? 8 * (size - 1 - i) : 8 * i;
        dev->regs[(addr + i) % sizeof(dev->regs)] = (uint8_t)(val >> shift);
    }
}

static bool dev_accepts(void *opaque, hwaddr addr, unsigned size, bool is_write)
{
    const Dev *dev = opaque;
    return !(is_write && dev->refuse_writes);
}

static void dev_init(Dev *dev, enum device_endian endian)
{
    memset(dev, 0, sizeof(*dev));
    dev->ops = (MemoryRegionOps){ .read = dev_read, .write = dev_write, .endianness = endian };
    for (unsigned i = 0; i < sizeof(dev->regs); i++)
        dev->regs[i] = (uint8_t)(0x10 + i);
}

static void expect_access(const Dev *dev, unsigned i, hwaddr addr, unsigned size,
                          uint64_t val, bool write)
{
    assert_true(i < dev->nlog);
    assert_int_equal(dev->log[i].addr, addr);
    assert_int_equal(dev->log[i].size, size);
    assert_int_equal(dev->log[i].val, val);
    assert_int_equal(dev->log[i].write, write);
}

/* ---- fixture: an address space over a 2^64 container ------------------------------ */

static MemoryRegion root;
static AddressSpace as;
static MemoryRegion *added[16];
static unsigned nr_added;

static int setup(void **state)
{
    memory_region_init(&root, NULL, "root", UINT64_MAX);
    assert_int_equal(address_space_init(&as, &root, "test-as", NULL), 0);
    nr_added = 0;
    return 0;
}

static int teardown(void **state)
{
    while (nr_added) {
        MemoryRegion *mr = added[--nr_added];
        assert_int_equal(memory_region_del_subregion(&root, mr, NULL), 0);
        memory_region_finalize(mr);
        free(mr);
    }
    address_space_destroy(&as);
    memory_region_finalize(&root);
    return 0;
}

/* Add a malloc'ed region to the root; teardown removes, finalises and frees it. */
static void add(MemoryRegion *mr, hwaddr addr)
{
    assert_int_equal(memory_region_add_subregion(&root, addr, mr, NULL), 0);
    added[nr_added++] = mr;
}

static MemoryRegion *add_dev(Dev *dev, hwaddr addr, uint64_t size)
{
    MemoryRegion *mr = malloc(sizeof(*mr));
    assert_non_null(mr);
    memory_region_init_io(mr, "/machine/testdev", &dev->ops, dev, "dev", size);
    add(mr, addr);
    return mr;
}

/* RAM from backend (NULL: host memory). */
static MemoryRegion *add_ram_backed(hwaddr addr, uint64_t size, const RamBackend *backend)
{
    MemoryRegion *mr = malloc(sizeof(*mr));
    assert_non_null(mr);
    assert_int_equal(memory_region_init_ram_backed(mr, "/machine", "ram", size, backend, NULL),
                     0);
    add(mr, addr);
    return mr;
}

static MemoryRegion *add_ram(hwaddr addr, uint64_t size)
{
    return add_ram_backed(addr, size, NULL);
}

/* ---- io: sizes, splitting, widening, endianness ----------------------------------- */

static void io_write_then_read_4_bytes(void **state)
{
    Dev dev;
    dev_init(&dev, DEVICE_LITTLE_ENDIAN);
    MemoryRegion *mr = add_dev(&dev, 0x1000, 0x40);
    uint8_t w[4] = { 0x44, 0x33, 0x22, 0x11 }, r[4];
    assert_int_equal(address_space_write(&as, 0x1008, MEMTXATTRS_UNSPECIFIED, w, 4), MEMTX_OK);
    expect_access(&dev, 0, 8, 4, 0x11223344, true);
    assert_int_equal(address_space_read(&as, 0x1008, MEMTXATTRS_UNSPECIFIED, r, 4), MEMTX_OK);
    assert_memory_equal(r, w, 4);
    assert_int_equal(dev.nlog, 2);
    /* A 16-byte access is cut into valid.max (default 4) pieces. */
    uint8_t big[16];
    assert_int_equal(address_space_read(&as, 0x1010, MEMTXATTRS_UNSPECIFIED, big, 16), MEMTX_OK);
    assert_int_equal(dev.nlog, 6);
    expect_access(&dev, 5, 0x1c, 4, 0x2f2e2d2c, false);
    assert_int_equal(big[0], 0x20);
    assert_int_equal(as.unassigned_reads + as.unassigned_writes, 0);
    uint64_t v;
    assert_int_equal(memory_region_dispatch_read(mr, 0x3c, &v, 4, MEMTXATTRS_UNSPECIFIED), MEMTX_OK);
    assert_int_equal(v, 0x4f4e4d4c);
    /* An empty access touches nothing. */
    assert_int_equal(address_space_read(&as, 0x1008, MEMTXATTRS_UNSPECIFIED, r, 0), MEMTX_OK);
    assert_int_equal(address_space_write(&as, 0x9999, MEMTXATTRS_UNSPECIFIED, w, 0), MEMTX_OK);
    assert_int_equal(dev.nlog, 7);
    assert_int_equal(as.unassigned_reads + as.unassigned_writes, 0);
}

static void valid_sizes_are_enforced(void **state)
{
    Dev dev;
    dev_init(&dev, DEVICE_LITTLE_ENDIAN);
    dev.ops.valid.min_access_size = 2;
    dev.ops.valid.max_access_size = 2;
    MemoryRegion *mr = add_dev(&dev, 0x2000, 0x40);
    uint64_t v = 0;
    assert_int_equal(memory_region_dispatch_read(mr, 0, &v, 1, MEMTXATTRS_UNSPECIFIED),
                     MEMTX_ACCESS_ERROR);
    assert_int_equal(v, 0xff);
    assert_int_equal(memory_region_dispatch_read(mr, 0, &v, 4, MEMTXATTRS_UNSPECIFIED),
                     MEMTX_ACCESS_ERROR);
    assert_int_equal(v, 0xffffffff);
    assert_int_equal(memory_region_dispatch_write(mr, 0, 1, 4, MEMTXATTRS_UNSPECIFIED),
                     MEMTX_ACCESS_ERROR);
    /* Sizes that are not 1, 2, 4, 8 are refused whatever the device says. */
    dev.ops.valid.max_access_size = 0;
    assert_int_equal(memory_region_dispatch_read(mr, 0, &v, 3, MEMTXATTRS_UNSPECIFIED),
                     MEMTX_ACCESS_ERROR);
    assert_int_equal(memory_region_dispatch_read(mr, 0, &v, 16, MEMTXATTRS_UNSPECIFIED),
                     MEMTX_ACCESS_ERROR);
    assert_int_equal(v, UINT64_MAX);
    assert_int_equal(dev.nlog, 0);
    /* address_space_rw cuts a 4-byte access into 2-byte pieces: accepted. */
    dev.ops.valid.max_access_size = 2;
    uint8_t r[4];
    assert_int_equal(address_space_read(&as, 0x2000, MEMTXATTRS_UNSPECIFIED, r, 4), MEMTX_OK);
    assert_int_equal(dev.nlog, 2);
    /* ... but a lone trailing byte is below valid.min. */
    assert_int_equal(address_space_read(&as, 0x2000, MEMTXATTRS_UNSPECIFIED, r, 3),
                     MEMTX_ACCESS_ERROR);
    assert_int_equal(r[2], 0xff);
    /* The sized helpers are one access: 4 bytes exceed valid.max. */
    MemTxResult res;
    assert_int_equal(address_space_ldl_le(&as, 0x2000, MEMTXATTRS_UNSPECIFIED, &res), 0xffffffff);
    assert_int_equal(res, MEMTX_ACCESS_ERROR);
    assert_int_equal(address_space_lduw_le(&as, 0x2002, MEMTXATTRS_UNSPECIFIED, &res), 0x1312);
    assert_int_equal(res, MEMTX_OK);
}

static void unaligned_and_accepts_are_enforced(void **state)
{
    Dev dev;
    dev_init(&dev, DEVICE_LITTLE_ENDIAN);
    dev.ops.valid.accepts = dev_accepts;
    MemoryRegion *mr = add_dev(&dev, 0x3000, 0x40);
    uint64_t v;
    assert_int_equal(memory_region_dispatch_read(mr, 2, &v, 4, MEMTXATTRS_UNSPECIFIED),
                     MEMTX_ACCESS_ERROR);
    assert_int_equal(v, 0xffffffff);
    /* address_space_rw aligns its pieces: 2 + 2 bytes. */
    uint8_t r[4];
    assert_int_equal(address_space_read(&as, 0x3002, MEMTXATTRS_UNSPECIFIED, r, 4), MEMTX_OK);
    expect_access(&dev, 0, 2, 2, 0x1312, false);
    expect_access(&dev, 1, 4, 2, 0x1514, false);
    /* valid.unaligned lets it through as one access. */
    dev.ops.valid.unaligned = true;
    dev.ops.impl.unaligned = true;
    assert_int_equal(memory_region_dispatch_read(mr, 2, &v, 4, MEMTXATTRS_UNSPECIFIED), MEMTX_OK);
    assert_int_equal(v, 0x15141312);
    /* accepts() refuses writes. */
    dev.refuse_writes = true;
    unsigned before = dev.nlog;
    assert_int_equal(address_space_write(&as, 0x3000, MEMTXATTRS_UNSPECIFIED, r, 4),
                     MEMTX_ACCESS_ERROR);
    assert_int_equal(dev.nlog, before);
    assert_int_equal(as.unassigned_writes, 0);
}

static void impl_max_splits_and_combines(void **state)
{
    for (int big = 0; big < 2; big++) {
        Dev dev;
        dev_init(&dev, big ? DEVICE_BIG_ENDIAN : DEVICE_LITTLE_ENDIAN);
        dev.ops.impl.max_access_size = 1;
        MemoryRegion *mr = add_dev(&dev, 0x4000 + big * 0x100, 0x40);
        uint64_t v;
        assert_int_equal(memory_region_dispatch_read(mr, 4, &v, 4, MEMTXATTRS_UNSPECIFIED), MEMTX_OK);
        assert_int_equal(v, 0x17161514);
        assert_int_equal(dev.nlog, 4);
        for (unsigned i = 0; i < 4; i++)
            expect_access(&dev, i, 4 + i, 1, 0x14 + i, false);
        assert_int_equal(memory_region_dispatch_write(mr, 8, 0x11223344, 4, MEMTXATTRS_UNSPECIFIED),
                         MEMTX_OK);
        expect_access(&dev, 4, 8, 1, 0x44, true);
        expect_access(&dev, 7, 11, 1, 0x11, true);
        /* 8 bytes with valid.max 8 and impl.max 2: four callbacks. */
        dev.ops.valid.max_access_size = 8;
        dev.ops.impl.max_access_size = 2;
        assert_int_equal(memory_region_dispatch_read(mr, 8, &v, 8, MEMTXATTRS_UNSPECIFIED), MEMTX_OK);
        assert_int_equal(v, 0x1f1e1d1c11223344ULL);
        assert_int_equal(dev.nlog, 12);
        expect_access(&dev, 8, 8, 2, big ? 0x4433 : 0x3344, false);
    }
}

static void impl_min_widens_aligned(void **state)
{
    for (int big = 0; big < 2; big++) {
        Dev dev;
        dev_init(&dev, big ? DEVICE_BIG_ENDIAN : DEVICE_LITTLE_ENDIAN);
        dev.ops.impl.min_access_size = 4;
        MemoryRegion *mr = add_dev(&dev, 0x5000 + big * 0x100, 0x40);
        uint64_t v;
        /* A byte read at 5 is a 4-byte read at 4, the byte extracted. */
        assert_int_equal(memory_region_dispatch_read(mr, 5, &v, 1, MEMTXATTRS_UNSPECIFIED), MEMTX_OK);
        assert_int_equal(v, 0x15);
        assert_int_equal(dev.nlog, 1);
        expect_access(&dev, 0, 4, 4, big ? 0x14151617 : 0x17161514, false);
        /* A byte write at 6 reads the word at 4 and writes it back changed. */
        assert_int_equal(memory_region_dispatch_write(mr, 6, 0xab, 1, MEMTXATTRS_UNSPECIFIED), MEMTX_OK);
        assert_int_equal(dev.nlog, 3);
        expect_access(&dev, 2, 4, 4, big ? 0x1415ab17 : 0x17ab1514, true);
        assert_int_equal(dev.regs[6], 0xab);
        assert_int_equal(dev.regs[5], 0x15);
        /* 2 bytes at 3 straddle two words: both are read, both written back. */
        assert_int_equal(memory_region_dispatch_write(mr, 3, 0xbeef, 2, MEMTXATTRS_UNSPECIFIED),
                         MEMTX_ACCESS_ERROR);       /* valid.unaligned is off */
        dev.ops.valid.unaligned = true;
        assert_int_equal(memory_region_dispatch_write(mr, 3, 0xbeef, 2, MEMTXATTRS_UNSPECIFIED), MEMTX_OK);
        assert_int_equal(dev.nlog, 7);
        assert_int_equal(dev.regs[3], 0xef);
        assert_int_equal(dev.regs[4], 0xbe);
        assert_int_equal(dev.regs[2], 0x12);
        expect_access(&dev, 5, 0, 4, dev_get(&dev, 0, 4), true);
        expect_access(&dev, 6, 4, 4, dev_get(&dev, 4, 4), true);
        assert_int_equal(memory_region_dispatch_read(mr, 3, &v, 2, MEMTXATTRS_UNSPECIFIED), MEMTX_OK);
        assert_int_equal(v, 0xbeef);
    }
}

static void impl_unaligned_passes_addresses_through(void **state)
{
    Dev dev;
    dev_init(&dev, DEVICE_LITTLE_ENDIAN);
    dev.ops.valid.unaligned = true;
    dev.ops.impl.unaligned = true;
    dev.ops.impl.max_access_size = 2;
    MemoryRegion *mr = add_dev(&dev, 0x6000, 0x40);
    uint64_t v;
    assert_int_equal(memory_region_dispatch_read(mr, 1, &v, 4, MEMTXATTRS_UNSPECIFIED), MEMTX_OK);
    assert_int_equal(v, 0x14131211);
    expect_access(&dev, 0, 1, 2, 0x1211, false);
    expect_access(&dev, 1, 3, 2, 0x1413, false);
}

static void big_endian_device_sees_swapped_values(void **state)
{
    Dev dev;
    dev_init(&dev, DEVICE_BIG_ENDIAN);
    add_dev(&dev, 0x7000, 0x40);
    MemTxResult r;
    address_space_stl_le(&as, 0x7000, 0x11223344, MEMTXATTRS_UNSPECIFIED, &r);
    assert_int_equal(r, MEMTX_OK);
    expect_access(&dev, 0, 0, 4, 0x44332211, true);
    address_space_stl_be(&as, 0x7004, 0x11223344, MEMTXATTRS_UNSPECIFIED, &r);
    expect_access(&dev, 1, 4, 4, 0x11223344, true);
    assert_int_equal(address_space_ldl_be(&as, 0x7004, MEMTXATTRS_UNSPECIFIED, &r), 0x11223344);
    assert_int_equal(address_space_ldl_le(&as, 0x7004, MEMTXATTRS_UNSPECIFIED, &r), 0x44332211);
    assert_int_equal(address_space_lduw_be(&as, 0x7004, MEMTXATTRS_UNSPECIFIED, &r), 0x1122);
    uint8_t bytes[4];
    assert_int_equal(address_space_read(&as, 0x7004, MEMTXATTRS_UNSPECIFIED, bytes, 4), MEMTX_OK);
    assert_int_equal(bytes[0], 0x11);
    assert_int_equal(bytes[3], 0x44);
    /* Native means little endian (x86 guests). */
    Dev native;
    dev_init(&native, DEVICE_NATIVE_ENDIAN);
    add_dev(&native, 0x7100, 0x40);
    address_space_stl_le(&as, 0x7100, 0x11223344, MEMTXATTRS_UNSPECIFIED, &r);
    expect_access(&native, 0, 0, 4, 0x11223344, true);
}

static void sized_helpers_on_io(void **state)
{
    Dev dev;
    dev_init(&dev, DEVICE_LITTLE_ENDIAN);
    dev.ops.valid.max_access_size = 8;
    dev.ops.impl.max_access_size = 8;
    add_dev(&dev, 0x8000, 0x40);
    MemTxResult r;
    assert_int_equal(address_space_ldub(&as, 0x8001, MEMTXATTRS_UNSPECIFIED, &r), 0x11);
    assert_int_equal(address_space_lduw_le(&as, 0x8002, MEMTXATTRS_UNSPECIFIED, &r), 0x1312);
    assert_int_equal(address_space_ldq_le(&as, 0x8008, MEMTXATTRS_UNSPECIFIED, &r),
                     0x1f1e1d1c1b1a1918ULL);
    expect_access(&dev, 2, 8, 8, 0x1f1e1d1c1b1a1918ULL, false);
    assert_int_equal(address_space_ldq_be(&as, 0x8008, MEMTXATTRS_UNSPECIFIED, NULL),
                     0x18191a1b1c1d1e1fULL);
    address_space_stq_be(&as, 0x8010, 0x0102030405060708ULL, MEMTXATTRS_UNSPECIFIED, &r);
    assert_int_equal(r, MEMTX_OK);
    assert_int_equal(dev.regs[0x10], 0x01);
    address_space_stw_be(&as, 0x8020, 0xa1b2, MEMTXATTRS_UNSPECIFIED, &r);
    address_space_stw_le(&as, 0x8022, 0xa1b2, MEMTXATTRS_UNSPECIFIED, &r);
    address_space_stb(&as, 0x8024, 0xc3, MEMTXATTRS_UNSPECIFIED, &r);
    address_space_stq_le(&as, 0x8028, 0x0102030405060708ULL, MEMTXATTRS_UNSPECIFIED, &r);
    const uint8_t want[] = { 0xa1, 0xb2, 0xb2, 0xa1, 0xc3 };
    assert_memory_equal(&dev.regs[0x20], want, 5);
    assert_int_equal(dev.regs[0x28], 0x08);
    /* A sized access straddling the end of the region goes piecewise: hole part. */
    assert_int_equal(address_space_ldl_le(&as, 0x803e, MEMTXATTRS_UNSPECIFIED, &r), 0xffff4f4e);
    assert_int_equal(r, MEMTX_DECODE_ERROR);
}

/* ---- unassigned ------------------------------------------------------------------- */

static void holes_read_all_ones_and_count(void **state)
{
    uint8_t buf[8] = { 0 };
    assert_int_equal(address_space_read(&as, 0x9000, MEMTXATTRS_UNSPECIFIED, buf, 8),
                     MEMTX_DECODE_ERROR);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(buf[i], 0xff);
    assert_int_equal(as.unassigned_reads, 1);
    assert_int_equal(address_space_write(&as, 0x9000, MEMTXATTRS_UNSPECIFIED, buf, 8),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(as.unassigned_writes, 1);
    MemTxResult r;
    assert_int_equal(address_space_ldq_le(&as, 0x9000, MEMTXATTRS_UNSPECIFIED, &r), UINT64_MAX);
    assert_int_equal(r, MEMTX_DECODE_ERROR);
    assert_int_equal(as.unassigned_reads, 2);
    /* A long access over a big hole counts once. */
    uint8_t *large = malloc(3 * 0x1000 + 5);
    assert_int_equal(address_space_read(&as, 0x10001, MEMTXATTRS_UNSPECIFIED, large, 3 * 0x1000 + 5),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(large[3 * 0x1000 + 4], 0xff);
    assert_int_equal(as.unassigned_reads, 3);
    free(large);
}

static void io_region_without_ops_is_unassigned(void **state)
{
    MemoryRegion *mr = malloc(sizeof(*mr));
    memory_region_init_io(mr, NULL, NULL, NULL, "noops", 0x10);
    add(mr, 0xa000);
    uint8_t buf[4] = { 0 };
    assert_int_equal(address_space_read(&as, 0xa000, MEMTXATTRS_UNSPECIFIED, buf, 4),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(buf[3], 0xff);
    assert_int_equal(as.unassigned_reads, 1);
    uint64_t v;
    assert_int_equal(memory_region_dispatch_read(mr, 0, &v, 2, MEMTXATTRS_UNSPECIFIED),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(v, 0xffff);
    MemoryRegion *un = malloc(sizeof(*un));
    memory_region_init_io(un, NULL, &unassigned_mem_ops, NULL, "unassigned", 0x10);
    add(un, 0xa010);
    assert_int_equal(address_space_write(&as, 0xa010, MEMTXATTRS_UNSPECIFIED, buf, 4),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(as.unassigned_writes, 1);
    assert_int_equal(unassigned_mem_ops.read(NULL, 0, 4), 0xffffffff);
    unassigned_mem_ops.write(NULL, 0, 0, 4);
}

/* ---- RAM, ROM, ROM devices --------------------------------------------------------- */

static void ram_copies_and_marks_dirty(void **state)
{
    MemoryRegion *ram = add_ram(0x100000, 0x4000);
    ram_addr_t base = memory_region_get_ram_addr(ram);
    memory_region_set_log(ram, true, DIRTY_MEMORY_VGA);
    cpu_physical_memory_test_and_clear_dirty(base, 0x4000, DIRTY_MEMORY_VGA);
    cpu_physical_memory_test_and_clear_dirty(base, 0x4000, DIRTY_MEMORY_MIGRATION);
    uint8_t w[0x20], r[0x20];
    for (unsigned i = 0; i < sizeof(w); i++)
        w[i] = (uint8_t)(i * 7);
    assert_int_equal(address_space_write(&as, 0x101ff0, MEMTXATTRS_UNSPECIFIED, w, 0x20), MEMTX_OK);
    assert_memory_equal((uint8_t *)memory_region_get_ram_ptr(ram) + 0x1ff0, w, 0x20);
    assert_int_equal(address_space_read(&as, 0x101ff0, MEMTXATTRS_UNSPECIFIED, r, 0x20), MEMTX_OK);
    assert_memory_equal(r, w, 0x20);
    assert_true(cpu_physical_memory_get_dirty(base + 0x1000, 1, DIRTY_MEMORY_VGA));
    assert_true(cpu_physical_memory_get_dirty(base + 0x2000, 1, DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_get_dirty(base, 0x1000, DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_get_dirty(base + 0x3000, 0x1000, DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_get_dirty(base, 0x4000, DIRTY_MEMORY_MIGRATION));
    /* While migrating, writes are dirty for migration too. */
    assert_int_equal(ram_dirty_migration_start(NULL), 0);
    cpu_physical_memory_test_and_clear_dirty(base, 0x4000, DIRTY_MEMORY_MIGRATION);
    address_space_stl_le(&as, 0x103000, 1, MEMTXATTRS_UNSPECIFIED, NULL);
    assert_true(cpu_physical_memory_get_dirty(base + 0x3000, 4, DIRTY_MEMORY_MIGRATION));
    assert_false(cpu_physical_memory_get_dirty(base, 0x3000, DIRTY_MEMORY_MIGRATION));
    ram_dirty_migration_stop();
    /* Sized helpers on RAM. */
    address_space_stq_be(&as, 0x100008, 0x0102030405060708ULL, MEMTXATTRS_UNSPECIFIED, NULL);
    assert_int_equal(address_space_ldub(&as, 0x100008, MEMTXATTRS_UNSPECIFIED, NULL), 1);
    assert_int_equal(address_space_ldq_le(&as, 0x100008, MEMTXATTRS_UNSPECIFIED, NULL),
                     0x0807060504030201ULL);
    assert_int_equal(address_space_ldl_be(&as, 0x10000c, MEMTXATTRS_UNSPECIFIED, NULL), 0x05060708);
    /* memory_region_dispatch_* serve RAM regions too, within bounds. */
    uint64_t v;
    assert_int_equal(memory_region_dispatch_read(ram, 8, &v, 2, MEMTXATTRS_UNSPECIFIED), MEMTX_OK);
    assert_int_equal(v, 0x0201);
    assert_int_equal(memory_region_dispatch_write(ram, 8, 0xaa, 1, MEMTXATTRS_UNSPECIFIED), MEMTX_OK);
    assert_int_equal(address_space_ldub(&as, 0x100008, MEMTXATTRS_UNSPECIFIED, NULL), 0xaa);
    assert_int_equal(memory_region_dispatch_read(ram, 0x3ffe, &v, 4, MEMTXATTRS_UNSPECIFIED),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(v, 0xffffffff);
    assert_int_equal(memory_region_dispatch_read(ram, 0, &v, 3, MEMTXATTRS_UNSPECIFIED),
                     MEMTX_ACCESS_ERROR);
}

static void readonly_ram_and_rom_drop_writes(void **state)
{
    MemoryRegion *ram = add_ram(0x200000, 0x1000);
    memset(memory_region_get_ram_ptr(ram), 0x5a, 0x1000);
    memory_region_set_readonly(ram, true);
    uint8_t w[4] = { 1, 2, 3, 4 }, r[4];
    assert_int_equal(address_space_write(&as, 0x200000, MEMTXATTRS_UNSPECIFIED, w, 4),
                     MEMTX_ACCESS_ERROR);
    assert_int_equal(address_space_read(&as, 0x200000, MEMTXATTRS_UNSPECIFIED, r, 4), MEMTX_OK);
    assert_int_equal(r[0], 0x5a);
    assert_int_equal(memory_region_dispatch_write(ram, 0, 1, 1, MEMTXATTRS_UNSPECIFIED),
                     MEMTX_ACCESS_ERROR);
    memory_region_set_readonly(ram, false);
    assert_int_equal(address_space_write(&as, 0x200000, MEMTXATTRS_UNSPECIFIED, w, 4), MEMTX_OK);
    assert_int_equal(address_space_ldub(&as, 0x200000, MEMTXATTRS_UNSPECIFIED, NULL), 1);

    MemoryRegion *rom = malloc(sizeof(*rom));
    assert_int_equal(memory_region_init_rom(rom, NULL, "rom", 0x1000, NULL), 0);
    add(rom, 0x300000);
    memset(memory_region_get_ram_ptr(rom), 0xc3, 0x1000);
    MemTxResult res;
    address_space_stl_le(&as, 0x300000, 0, MEMTXATTRS_UNSPECIFIED, &res);
    assert_int_equal(res, MEMTX_ACCESS_ERROR);
    assert_int_equal(address_space_ldl_le(&as, 0x300000, MEMTXATTRS_UNSPECIFIED, &res), 0xc3c3c3c3);
    assert_int_equal(res, MEMTX_OK);
    assert_int_equal(as.unassigned_writes, 0);
}

static void rom_device_reads_ram_in_romd_mode(void **state)
{
    Dev dev;
    dev_init(&dev, DEVICE_LITTLE_ENDIAN);
    MemoryRegion *romd = malloc(sizeof(*romd));
    assert_int_equal(memory_region_init_rom_device(romd, NULL, &dev.ops, &dev, "flash", 0x1000, NULL), 0);
    add(romd, 0x400000);
    memset(memory_region_get_ram_ptr(romd), 0x77, 0x1000);
    MemTxResult r;
    assert_int_equal(address_space_ldl_le(&as, 0x400000, MEMTXATTRS_UNSPECIFIED, &r), 0x77777777);
    assert_int_equal(dev.nlog, 0);
    address_space_stl_le(&as, 0x400004, 0xdeadbeef, MEMTXATTRS_UNSPECIFIED, &r);
    assert_int_equal(r, MEMTX_OK);
    expect_access(&dev, 0, 4, 4, 0xdeadbeef, true);
    assert_int_equal(((uint8_t *)memory_region_get_ram_ptr(romd))[4], 0x77);
    memory_region_rom_device_set_romd(romd, false);
    assert_int_equal(address_space_ldl_le(&as, 0x400004, MEMTXATTRS_UNSPECIFIED, &r), 0xdeadbeef);
    expect_access(&dev, 1, 4, 4, 0xdeadbeef, false);
}

/* ---- RAM without host memory: through its backend's map ------------------------------ */

static uint8_t guest_frames[0x4000];
static unsigned hook_maps, hook_releases;
static hwaddr hook_limit;             /* longest piece hook_map maps (0: no limit) */
static ram_addr_t hook_fail_from;     /* ram_addr from which mapping fails */
static ram_addr_t hook_base;          /* ram_addr of the block */
static bool hook_zero_len;

static void *hook_map(void *opaque, ram_addr_t ram_addr, hwaddr *len, bool is_write)
{
    hook_maps++;
    if (ram_addr >= hook_fail_from)
        return NULL;
    if (hook_zero_len) {
        *len = 0;
        return guest_frames;
    }
    if (hook_limit && *len > hook_limit)
        *len = hook_limit;
    return guest_frames + (ram_addr - hook_base);
}

static void hook_release(void *opaque, void *host, hwaddr len, bool is_write)
{
    hook_releases++;
}

/* RAM whose frames are guest_frames, reached through `backend` only. */
static MemoryRegion *add_hostless_ram(hwaddr addr, const RamBackend *backend)
{
    MemoryRegion *ram = add_ram_backed(addr, sizeof(guest_frames), backend);
    assert_null(memory_region_get_ram_ptr(ram));
    hook_base = memory_region_get_ram_addr(ram);
    hook_maps = hook_releases = 0;
    hook_limit = 0;
    hook_fail_from = UINT64_MAX;
    hook_zero_len = false;
    return ram;
}

static void backend_maps_pieces(void **state)
{
    static const RamBackend backend = { .map = hook_map, .release = hook_release };
    MemoryRegion *ram = add_hostless_ram(0x500000, &backend);
    memory_region_set_log(ram, true, DIRTY_MEMORY_VGA);
    cpu_physical_memory_test_and_clear_dirty(hook_base, sizeof(guest_frames), DIRTY_MEMORY_VGA);
    uint8_t w[300], r[300];
    for (unsigned i = 0; i < sizeof(w); i++)
        w[i] = (uint8_t)i;
    hook_limit = 100;
    assert_int_equal(address_space_write(&as, 0x500010, MEMTXATTRS_UNSPECIFIED, w, 300), MEMTX_OK);
    assert_int_equal(hook_maps, 3);
    assert_int_equal(hook_releases, 3);
    assert_memory_equal(guest_frames + 0x10, w, 300);
    assert_true(cpu_physical_memory_get_dirty(hook_base + 0x10, 300, DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_get_dirty(hook_base + 0x1000, 0x3000, DIRTY_MEMORY_VGA));
    hook_limit = 0;
    assert_int_equal(address_space_read(&as, 0x500010, MEMTXATTRS_UNSPECIFIED, r, 300), MEMTX_OK);
    assert_memory_equal(r, w, 300);
    assert_int_equal(hook_maps, 4);
}

static void backend_map_failures_are_decode_errors(void **state)
{
    static const RamBackend no_map = { 0 };
    add_hostless_ram(0x600000, &no_map);
    uint8_t r[0x40];
    /* A backend that cannot map at all. */
    assert_int_equal(address_space_read(&as, 0x600000, MEMTXATTRS_UNSPECIFIED, r, 4),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(r[0], 0xff);
    static const RamBackend map_only = { .map = hook_map };     /* no release */
    add_hostless_ram(0x700000, &map_only);
    memset(guest_frames, 0x11, sizeof(guest_frames));
    /* Mapping fails part way: the mapped prefix is read, the rest is all ones. */
    hook_limit = 0x10;
    hook_fail_from = hook_base + 0x20;
    assert_int_equal(address_space_read(&as, 0x700000, MEMTXATTRS_UNSPECIFIED, r, 0x40),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(r[0x1f], 0x11);
    assert_int_equal(r[0x20], 0xff);
    assert_int_equal(r[0x3f], 0xff);
    assert_int_equal(hook_releases, 0);
    /* A map that maps nothing is a failure, not a loop. */
    hook_fail_from = UINT64_MAX;
    hook_zero_len = true;
    assert_int_equal(address_space_write(&as, 0x700000, MEMTXATTRS_UNSPECIFIED, r, 4),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(as.unassigned_reads + as.unassigned_writes, 0);
}

/* ---- spanning, 2^64, top of the address space -------------------------------------- */

static void accesses_spanning_sections_are_split(void **state)
{
    MemoryRegion *ram = add_ram(0xb000, 0x1000);
    Dev dev;
    dev_init(&dev, DEVICE_LITTLE_ENDIAN);
    add_dev(&dev, 0xc000, 0x8);
    /* RAM tail, then io, then a hole. */
    uint8_t w[0x18];
    for (unsigned i = 0; i < sizeof(w); i++)
        w[i] = (uint8_t)(0xa0 + i);
    assert_int_equal(address_space_write(&as, 0xbff8, MEMTXATTRS_UNSPECIFIED, w, 0x18),
                     MEMTX_DECODE_ERROR);
    assert_memory_equal((uint8_t *)memory_region_get_ram_ptr(ram) + 0xff8, w, 8);
    assert_int_equal(dev.nlog, 2);
    expect_access(&dev, 0, 0, 4, 0xabaaa9a8, true);
    expect_access(&dev, 1, 4, 4, 0xafaeadac, true);
    assert_int_equal(as.unassigned_writes, 1);
    uint8_t r[0x18];
    assert_int_equal(address_space_read(&as, 0xbff8, MEMTXATTRS_UNSPECIFIED, r, 0x18),
                     MEMTX_DECODE_ERROR);
    assert_memory_equal(r, w, 0x10);
    assert_int_equal(r[0x10], 0xff);
    /* Sub-page neighbours: two io regions in one page. */
    Dev dev2;
    dev_init(&dev2, DEVICE_LITTLE_ENDIAN);
    add_dev(&dev2, 0xc008, 0x8);
    assert_int_equal(address_space_ldq_le(&as, 0xc004, MEMTXATTRS_UNSPECIFIED, NULL),
                     0x13121110afaeadacULL);
}

/* DMA that may reach RAM only: io and holes are refused untouched, RAM pieces done. */
static void ram_only_accesses_never_reach_io(void **state)
{
    MemoryRegion *ram = add_ram(0xb000, 0x1000);
    Dev dev;
    dev_init(&dev, DEVICE_LITTLE_ENDIAN);
    add_dev(&dev, 0xc000, 0x8);
    uint8_t w[0x18];
    memset(w, 0x77, sizeof(w));
    assert_int_equal(address_space_rw_ram_only(&as, 0xbff8, w, 0x18, true),
                     MEMTX_ACCESS_ERROR);
    assert_memory_equal((uint8_t *)memory_region_get_ram_ptr(ram) + 0xff8, w, 8);
    assert_int_equal(dev.nlog, 0);                  /* the device saw nothing */
    uint32_t v = 0;
    assert_int_equal(address_space_rw_ram_only(&as, 0xc000, &v, 4, false),
                     MEMTX_ACCESS_ERROR);               /* not the single-register path */
    assert_int_equal(v, 0xffffffffu);
    assert_int_equal(dev.nlog, 0);
    assert_int_equal(as.unassigned_reads + as.unassigned_writes, 0);
    assert_int_equal(address_space_rw_ram_only(&as, 0xb000, &v, 4, false), MEMTX_OK);
}

/* Zero-copy DMA mappings: RAM only, shortened at section ends and to what the backend
 * maps, held until unmapped, and what the device wrote is marked dirty. */
static void dma_mappings_are_ram_only_and_mark_written_pages(void **state)
{
    MemoryRegion *ram = add_ram(0xb000, 0x4000);
    Dev dev;
    dev_init(&dev, DEVICE_LITTLE_ENDIAN);
    add_dev(&dev, 0xf000, 0x8);
    memory_region_set_log(ram, true, DIRTY_MEMORY_VGA);
    ram_addr_t base = memory_region_get_ram_addr(ram);
    cpu_physical_memory_test_and_clear_dirty(base, 0x4000, DIRTY_MEMORY_VGA);
    DmaMap m;
    assert_int_equal(address_space_map(&as, 0xb800, 0x8000, true, &m), 0);
    assert_ptr_equal(m.host, (uint8_t *)memory_region_get_ram_ptr(ram) + 0x800);
    assert_int_equal(m.len, 0x3800);                /* to the end of the RAM */
    assert_false(cpu_physical_memory_get_dirty(base, 0x4000, DIRTY_MEMORY_VGA));
    address_space_unmap(&m, 0x900);                 /* wrote 0xb800..0xc100 */
    assert_true(cpu_physical_memory_get_dirty(base, 1, DIRTY_MEMORY_VGA));
    assert_true(cpu_physical_memory_get_dirty(base + 0x1000, 1, DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_get_dirty(base + 0x2000, 0x2000, DIRTY_MEMORY_VGA));
    assert_null(m.host);
    /* A mapping the device only read marks nothing. */
    assert_int_equal(address_space_map(&as, 0xd000, 0x1000, false, &m), 0);
    address_space_unmap(&m, 0x1000);
    assert_false(cpu_physical_memory_get_dirty(base + 0x2000, 0x1000, DIRTY_MEMORY_VGA));
    /* io, holes, zero length: refused, the device untouched. */
    assert_int_equal(address_space_map(&as, 0xf000, 4, false, &m), -EFAULT);
    assert_int_equal(address_space_map(&as, 0x90000000, 4, false, &m), -EFAULT);
    assert_int_equal(address_space_map(&as, 0xb000, 0, false, &m), -EINVAL);
    assert_int_equal(dev.nlog, 0);
    /* A backend's pieces: held (not released) until unmapped. */
    static const RamBackend backend = { .map = hook_map, .release = hook_release };
    add_hostless_ram(0x500000, &backend);
    hook_limit = 0x100;
    assert_int_equal(address_space_map(&as, 0x500010, 0x1000, false, &m), 0);
    assert_int_equal(m.len, 0x100);
    assert_ptr_equal(m.host, guest_frames + 0x10);
    assert_int_equal(hook_releases, 0);
    address_space_unmap(&m, 0);
    assert_int_equal(hook_releases, 1);
    hook_fail_from = hook_base;
    assert_int_equal(address_space_map(&as, 0x500000, 4, true, &m), -EFAULT);
}

static void full_64bit_region(void **state)
{
    /* Overlapping a 2^64 io region under everything else. */
    Dev dev;
    dev_init(&dev, DEVICE_LITTLE_ENDIAN);
    MemoryRegion *mr = malloc(sizeof(*mr));
    memory_region_init_io(mr, NULL, &dev.ops, &dev, "everything", UINT64_MAX);
    assert_int_equal(memory_region_add_subregion_overlap(&root, 0, mr, -1, NULL), 0);
    added[nr_added++] = mr;
    MemTxResult r;
    address_space_stl_le(&as, UINT64_MAX - 3, 0x01020304, MEMTXATTRS_UNSPECIFIED, &r);
    assert_int_equal(r, MEMTX_OK);
    expect_access(&dev, 0, UINT64_MAX - 3, 4, 0x01020304, true);
    assert_int_equal(address_space_ldub(&as, 0, MEMTXATTRS_UNSPECIFIED, &r), 0x10);
    expect_access(&dev, 1, 0, 1, 0x10, false);
    assert_int_equal(as.unassigned_reads + as.unassigned_writes, 0);
}

static void no_wrap_at_2_64(void **state)
{
    MemoryRegion *low = add_ram(0, 0x1000);
    memset(memory_region_get_ram_ptr(low), 0, 0x1000);
    MemoryRegion *top = add_ram(UINT64_MAX - 0xfff, 0x1000);
    memset(memory_region_get_ram_ptr(top), 0x99, 0x1000);
    uint8_t w[4] = { 1, 2, 3, 4 }, r[4];
    assert_int_equal(address_space_write(&as, UINT64_MAX - 1, MEMTXATTRS_UNSPECIFIED, w, 4),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(((uint8_t *)memory_region_get_ram_ptr(top))[0xfff], 2);
    assert_int_equal(((uint8_t *)memory_region_get_ram_ptr(low))[0], 0);
    assert_int_equal(as.unassigned_writes, 1);
    assert_int_equal(address_space_read(&as, UINT64_MAX - 1, MEMTXATTRS_UNSPECIFIED, r, 4),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(r[0], 1);
    assert_int_equal(r[1], 2);
    assert_int_equal(r[2], 0xff);
    assert_int_equal(r[3], 0xff);
    MemTxResult res;
    assert_int_equal(address_space_ldub(&as, UINT64_MAX, MEMTXATTRS_UNSPECIFIED, &res), 2);
    assert_int_equal(res, MEMTX_OK);
    assert_int_equal(address_space_lduw_le(&as, UINT64_MAX, MEMTXATTRS_UNSPECIFIED, &res), 0xff02);
    assert_int_equal(res, MEMTX_DECODE_ERROR);
}

static void view_without_dispatch_is_searched(void **state)
{
    MemoryRegion *ram = add_ram(0xd000, 0x1000);
    memset(memory_region_get_ram_ptr(ram), 0x42, 0x1000);
    FlatView *fv = as.current_map;
    AddressSpaceDispatch *d = fv->dispatch;
    fv->dispatch = NULL;                /* as after a failed dispatch allocation */
    uint8_t r[8];
    assert_int_equal(address_space_read(&as, 0xcffc, MEMTXATTRS_UNSPECIFIED, r, 8),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(r[3], 0xff);
    assert_int_equal(r[4], 0x42);
    assert_int_equal(address_space_ldl_le(&as, 0xd000, MEMTXATTRS_UNSPECIFIED, NULL), 0x42424242);
    fv->dispatch = d;
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(io_write_then_read_4_bytes),
        T(valid_sizes_are_enforced),
        T(unaligned_and_accepts_are_enforced),
        T(impl_max_splits_and_combines),
        T(impl_min_widens_aligned),
        T(impl_unaligned_passes_addresses_through),
        T(big_endian_device_sees_swapped_values),
        T(sized_helpers_on_io),
        T(holes_read_all_ones_and_count),
        T(io_region_without_ops_is_unassigned),
        T(ram_copies_and_marks_dirty),
        T(readonly_ram_and_rom_drop_writes),
        T(rom_device_reads_ram_in_romd_mode),
        T(backend_maps_pieces),
        T(backend_map_failures_are_decode_errors),
        T(accesses_spanning_sections_are_split),
        T(ram_only_accesses_never_reach_io),
        T(dma_mappings_are_ram_only_and_mark_written_pages),
        T(full_64bit_region),
        T(no_wrap_at_2_64),
        T(view_without_dispatch_is_searched),
    };
    return cmocka_run_group_tests_name("memory_access", tests, NULL, NULL);
}
