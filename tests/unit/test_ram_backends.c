/*
 * Unit tests for RAM backends (memory/ram.h): two machines in one process, each with its
 * own address space and a RAM region made with its own backend (frames, map/release,
 * modified sink). Both put their RAM at the same guest-physical address; every
 * allocation, access and dirty report must reach only the machine it belongs to, and
 * one machine going away must leave the other working.
 */
#include "tests/unit/support.h"

#include <string.h>

#define RAM_GPA   0x100000ull       /* where both machines put their RAM */
#define RAM_SIZE  0x10000ull
#define PAGE      RAM_PAGE_SIZE
#define MAX_SEEN  8

typedef struct Range {
    ram_addr_t start, length;
} Range;

/* One machine: its address space, its RAM and what its backend was asked to do. */
typedef struct Machine {
    const char *name;
    TestMachine m;
    MemoryRegion ram;
    bool ram_ready;
    uint8_t frames[RAM_SIZE];       /* "guest memory", reached only through map */
    ram_addr_t base;                /* ram_addr of the block, learnt at alloc */
    unsigned allocs, maps, releases, bad_maps;
    const MemoryRegion *alloc_mr;
    Range modified[MAX_SEEN];
    unsigned nr_modified;
} Machine;

static int machine_alloc(void *opaque, ram_addr_t ram_addr, ram_addr_t size,
                         MemoryRegion *mr, Error **errp)
{
    Machine *m = opaque;
    m->allocs++;
    m->base = ram_addr;
    m->alloc_mr = mr;
    assert_int_equal(size, RAM_SIZE);
    return 0;
}

/* Maps at most to the end of a page, so accesses come in pieces; a ram_addr outside
 * this machine's block is counted and refused. */
static void *machine_map(void *opaque, ram_addr_t ram_addr, hwaddr *len, bool is_write)
{
    Machine *m = opaque;
    m->maps++;
    if (ram_addr < m->base || ram_addr - m->base >= RAM_SIZE) {
        m->bad_maps++;
        return NULL;
    }
    hwaddr off = ram_addr - m->base, to_page_end = PAGE - (off & (PAGE - 1));
    if (*len > to_page_end)
        *len = to_page_end;
    return m->frames + off;
}

static void machine_release(void *opaque, void *host, hwaddr len, bool is_write)
{
    ((Machine *)opaque)->releases++;
}

static void machine_modified(void *opaque, ram_addr_t start, ram_addr_t length)
{
    Machine *m = opaque;
    assert_true(m->nr_modified < MAX_SEEN);
    m->modified[m->nr_modified++] = (Range){ start, length };
}

static void machine_init(Machine *m, const char *name)
{
    memset(m, 0, sizeof(*m));
    m->name = name;
    test_machine_init(&m->m, UINT64_MAX);
    RamBackend backend = { .alloc = machine_alloc, .map = machine_map,
                           .release = machine_release, .modified = machine_modified,
                           .opaque = m };
    assert_int_equal(memory_region_init_ram_backed(&m->ram, "/machine", name, RAM_SIZE,
                                                   &backend, NULL), 0);
    assert_int_equal(memory_region_add_subregion(&m->m.root, RAM_GPA, &m->ram, NULL), 0);
    m->ram_ready = true;
}

static void machine_fini(Machine *m)
{
    if (m->ram_ready) {
        memory_region_del_subregion(&m->m.root, &m->ram, NULL);
        memory_region_finalize(&m->ram);
        m->ram_ready = false;
    }
    test_machine_fini(&m->m);
}

static void forget_calls(Machine *m)
{
    m->maps = m->releases = m->bad_maps = m->nr_modified = 0;
}

typedef struct Fixture {
    Machine a, b;
} Fixture;

static int setup(void **state)
{
    ram_reset_for_tests();
    Fixture *f = test_calloc(1, sizeof(*f));
    machine_init(&f->a, "ram-a");
    machine_init(&f->b, "ram-b");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    Fixture *f = *state;
    machine_fini(&f->b);
    machine_fini(&f->a);
    test_free(f);
    ram_reset_for_tests();
    return 0;
}

static void each_block_is_allocated_by_its_own_backend(void **state)
{
    Fixture *f = *state;
    assert_int_equal(f->a.allocs, 1);
    assert_ptr_equal(f->a.alloc_mr, &f->a.ram);
    assert_int_equal(f->a.base, memory_region_get_ram_addr(&f->a.ram));
    assert_int_equal(f->b.allocs, 1);
    assert_ptr_equal(f->b.alloc_mr, &f->b.ram);
    assert_int_equal(f->b.base, memory_region_get_ram_addr(&f->b.ram));
    /* One ram_addr space: the blocks sit side by side, neither has host memory. */
    assert_int_not_equal(f->a.base, f->b.base);
    assert_null(memory_region_get_ram_ptr(&f->a.ram));
    assert_null(memory_region_get_ram_ptr(&f->b.ram));
}

/* The same guest-physical address, written through each machine's address space. */
static void accesses_reach_only_their_own_machine(void **state)
{
    Fixture *f = *state;
    uint8_t wa[0x100], wb[0x100], r[0x100];
    memset(wa, 0xaa, sizeof(wa));
    memset(wb, 0xbb, sizeof(wb));
    const hwaddr at = RAM_GPA + PAGE - 0x80;            /* straddles a page: two pieces */
    assert_int_equal(address_space_write(&f->a.m.as, at, MEMTXATTRS_UNSPECIFIED, wa,
                                         sizeof(wa)), MEMTX_OK);
    assert_int_equal(f->a.maps, 2);
    assert_int_equal(f->a.releases, 2);
    assert_int_equal(f->b.maps, 0);
    assert_memory_equal(f->a.frames + PAGE - 0x80, wa, sizeof(wa));
    for (unsigned i = 0; i < RAM_SIZE; i++)
        assert_int_equal(f->b.frames[i], 0);

    assert_int_equal(address_space_write(&f->b.m.as, at, MEMTXATTRS_UNSPECIFIED, wb,
                                         sizeof(wb)), MEMTX_OK);
    assert_int_equal(f->a.maps, 2);
    assert_int_equal(f->b.maps, 2);
    assert_memory_equal(f->a.frames + PAGE - 0x80, wa, sizeof(wa));

    assert_int_equal(address_space_read(&f->a.m.as, at, MEMTXATTRS_UNSPECIFIED, r,
                                        sizeof(r)), MEMTX_OK);
    assert_memory_equal(r, wa, sizeof(r));
    assert_int_equal(address_space_read(&f->b.m.as, at, MEMTXATTRS_UNSPECIFIED, r,
                                        sizeof(r)), MEMTX_OK);
    assert_memory_equal(r, wb, sizeof(r));
    assert_int_equal(f->a.bad_maps + f->b.bad_maps, 0);
}

static void writes_are_reported_to_their_own_sink(void **state)
{
    Fixture *f = *state;
    uint32_t v = 0x12345678;
    assert_int_equal(address_space_write(&f->a.m.as, RAM_GPA + 0x2004,
                                         MEMTXATTRS_UNSPECIFIED, &v, 4), MEMTX_OK);
    assert_int_equal(f->a.nr_modified, 1);
    assert_int_equal(f->a.modified[0].start, f->a.base + 0x2004);
    assert_int_equal(f->a.modified[0].length, 4);
    assert_int_equal(f->b.nr_modified, 0);
    /* Reads are nobody's business. */
    assert_int_equal(address_space_read(&f->b.m.as, RAM_GPA, MEMTXATTRS_UNSPECIFIED, &v, 4),
                     MEMTX_OK);
    assert_int_equal(f->b.nr_modified, 0);
    assert_int_equal(address_space_write(&f->b.m.as, RAM_GPA + 0x10,
                                         MEMTXATTRS_UNSPECIFIED, &v, 4), MEMTX_OK);
    assert_int_equal(f->b.nr_modified, 1);
    assert_int_equal(f->b.modified[0].start, f->b.base + 0x10);
    assert_int_equal(f->a.nr_modified, 1);
}

/* Dirty bits live in the one process-wide bitmap, each machine at its own ram_addrs;
 * a ram_addr-level report goes to the block that holds it. */
static void dirty_marking_stays_with_its_machine(void **state)
{
    Fixture *f = *state;
    cpu_physical_memory_clear_dirty_range(f->a.base, RAM_SIZE);
    cpu_physical_memory_clear_dirty_range(f->b.base, RAM_SIZE);
    memory_region_set_log(&f->a.ram, true, DIRTY_MEMORY_VGA);
    uint64_t v = ~0ull;
    assert_int_equal(address_space_write(&f->a.m.as, RAM_GPA + 3 * PAGE,
                                         MEMTXATTRS_UNSPECIFIED, &v, 8), MEMTX_OK);
    assert_int_equal(address_space_write(&f->b.m.as, RAM_GPA + 5 * PAGE,
                                         MEMTXATTRS_UNSPECIFIED, &v, 8), MEMTX_OK);
    assert_true(cpu_physical_memory_get_dirty(f->a.base + 3 * PAGE, PAGE, DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_get_dirty(f->a.base + 5 * PAGE, PAGE, DIRTY_MEMORY_VGA));
    /* B does not log VGA: its write marks nothing for that client, anywhere. */
    assert_false(cpu_physical_memory_get_dirty(f->b.base, RAM_SIZE, DIRTY_MEMORY_VGA));

    forget_calls(&f->a);
    forget_calls(&f->b);
    cpu_physical_memory_set_dirty_range(f->b.base + PAGE, 2 * PAGE, 1u << DIRTY_MEMORY_CODE);
    assert_int_equal(f->a.nr_modified, 0);
    assert_int_equal(f->b.nr_modified, 1);
    assert_int_equal(f->b.modified[0].start, f->b.base + PAGE);
    assert_int_equal(f->b.modified[0].length, 2 * PAGE);
    assert_true(cpu_physical_memory_get_dirty(f->b.base + PAGE, 2 * PAGE, DIRTY_MEMORY_CODE));
    assert_false(cpu_physical_memory_get_dirty(f->a.base, RAM_SIZE, DIRTY_MEMORY_CODE));
}

/* Migration dirty logging is process-wide, but each write still reaches only its sink. */
static void migration_logging_keeps_reports_apart(void **state)
{
    Fixture *f = *state;
    assert_int_equal(ram_dirty_migration_start(NULL), 0);
    uint8_t v = 1;
    assert_int_equal(address_space_write(&f->b.m.as, RAM_GPA + 7 * PAGE,
                                         MEMTXATTRS_UNSPECIFIED, &v, 1), MEMTX_OK);
    assert_int_equal(f->a.nr_modified, 0);
    assert_int_equal(f->b.nr_modified, 1);
    assert_int_equal(f->b.modified[0].start, f->b.base + 7 * PAGE);
    ram_dirty_migration_stop();
}

/* One machine's RAM going away leaves the other's RAM, backend and reports as they
 * were. */
static void one_machine_goes_away_the_other_goes_on(void **state)
{
    Fixture *f = *state;
    memory_region_del_subregion(&f->a.m.root, &f->a.ram, NULL);
    memory_region_finalize(&f->a.ram);
    f->a.ram_ready = false;
    forget_calls(&f->b);
    uint32_t v = 0xfeedface, r = 0;
    assert_int_equal(address_space_write(&f->b.m.as, RAM_GPA + 0x40,
                                         MEMTXATTRS_UNSPECIFIED, &v, 4), MEMTX_OK);
    assert_int_equal(address_space_read(&f->b.m.as, RAM_GPA + 0x40,
                                        MEMTXATTRS_UNSPECIFIED, &r, 4), MEMTX_OK);
    assert_int_equal(r, 0xfeedface);
    assert_int_equal(f->b.nr_modified, 1);
    assert_int_equal(f->b.bad_maps, 0);
    assert_null(qemu_get_ram_block(f->a.base));
    /* A's address space has a hole there now; nothing reaches B's backend from it. */
    assert_int_equal(address_space_read(&f->a.m.as, RAM_GPA, MEMTXATTRS_UNSPECIFIED, &r, 4),
                     MEMTX_DECODE_ERROR);
    assert_int_equal(f->b.maps, 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(each_block_is_allocated_by_its_own_backend),
        T(accesses_reach_only_their_own_machine),
        T(writes_are_reported_to_their_own_sink),
        T(dirty_marking_stays_with_its_machine),
        T(migration_logging_keeps_reports_apart),
        T(one_machine_goes_away_the_other_goes_on),
    };
#undef T
    return cmocka_run_group_tests_name("ram_backends", tests, NULL, NULL);
}
