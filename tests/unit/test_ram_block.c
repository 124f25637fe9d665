/*
 * Unit tests for RAM blocks (memory/ram_block.c, ram_gaps.c, ram_host.c, region_ram.c):
 * the seed's ram_block_add invariants one by one, resize, translation, the host-memory
 * and backend paths, and every error path with its message.
 */
#include "tests/unit/support.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "memory/memory.h"

#define KiB 1024ULL
#define PAGE RAM_PAGE_SIZE

static int reset(void **state)
{
    ram_reset_for_tests();
    return 0;
}

/* ---- a backend: records its alloc calls, can fail ------------------------------------ */

static struct {
    unsigned calls;
    ram_addr_t ram_addr, size;
    MemoryRegion *mr;
    int fail_with;              /* -errno to return, 0 to succeed */
    bool set_error;
} backend;

static int fake_backend(void *opaque, ram_addr_t ram_addr, ram_addr_t size, MemoryRegion *mr,
                        Error **errp)
{
    backend.calls++;
    backend.ram_addr = ram_addr;
    backend.size = size;
    backend.mr = mr;
    if (backend.fail_with && backend.set_error)
        error_setg(errp, "populate_physmap of %llu pages failed",
                   (unsigned long long)(size / PAGE));
    return backend.fail_with;
}

static const RamBackend fake = { .alloc = fake_backend };

/* Reset the fake backend's record and make it fail (or not) from now on. */
static void use_backend(int fail_with, bool set_error)
{
    memset(&backend, 0, sizeof(backend));
    backend.fail_with = fail_with;
    backend.set_error = set_error;
}

/* Allocate through the fake backend (no host memory), asserting success. */
static RAMBlock *alloc_ok(ram_addr_t size)
{
    Error *err = NULL;
    RAMBlock *b = qemu_ram_alloc(size, &fake, NULL, &err);
    assert_null(err);
    assert_non_null(b);
    return b;
}

/* Check the message in *errp, free it and clear *errp for the next call. */
static void expect_error(Error **errp, const char *msg)
{
    assert_non_null(*errp);
    assert_string_equal(error_get_pretty(*errp), msg);
    error_free(*errp);
    *errp = NULL;
}

/* ---- the seed's invariants ------------------------------------------------------- */

static void list_sorted_biggest_first_equal_sizes_oldest_first(void **state)
{
    use_backend(0, false);
    RAMBlock *a = alloc_ok(8 * PAGE), *b = alloc_ok(2 * PAGE), *c = alloc_ok(8 * PAGE);
    RAMBlock *d = alloc_ok(16 * PAGE), *e = alloc_ok(2 * PAGE), *f = alloc_ok(1);
    RAMBlock *want[] = { d, a, c, b, e, f };
    RAMBlock *it = ram_list_first();
    for (unsigned i = 0; i < 6; i++, it = it->next)
        assert_ptr_equal(it, want[i]);
    assert_null(it);
    qemu_ram_free(a);
    assert_ptr_equal(ram_list_first()->next, c);
    assert_ptr_equal(c->next, b);
}

static void first_block_at_zero_sizes_page_aligned(void **state)
{
    use_backend(0, false);
    RAMBlock *a = alloc_ok(1);
    assert_int_equal(a->offset, 0);
    assert_int_equal(a->used_length, PAGE);
    assert_int_equal(a->max_length, PAGE);
    assert_int_equal(a->fd, -1);
    assert_null(a->host);
    assert_int_equal(backend.calls, 1);
    assert_int_equal(backend.ram_addr, 0);
    assert_int_equal(backend.size, PAGE);
    RAMBlock *b = alloc_ok(PAGE + 1);
    assert_int_equal(b->offset, PAGE);
    assert_int_equal(b->max_length, 2 * PAGE);
    assert_int_equal(last_ram_offset(), 3 * PAGE);
}

static void best_fit_takes_smallest_gap_that_fits(void **state)
{
    use_backend(0, false);
    RAMBlock *a = alloc_ok(PAGE);           /* [0, 1) pages */
    RAMBlock *b = alloc_ok(4 * PAGE);       /* [1, 5) */
    RAMBlock *c = alloc_ok(PAGE);           /* [5, 6) */
    RAMBlock *d = alloc_ok(2 * PAGE);       /* [6, 8) */
    RAMBlock *e = alloc_ok(PAGE);           /* [8, 9) */
    qemu_ram_free(b);                       /* gap of 4 pages after a */
    qemu_ram_free(d);                       /* gap of 2 pages after c */
    assert_int_equal(alloc_ok(2 * PAGE)->offset, 6 * PAGE);    /* exact fit after c */
    assert_int_equal(alloc_ok(3 * PAGE)->offset, 1 * PAGE);    /* only the 4-page gap */
    assert_int_equal(alloc_ok(PAGE)->offset, 4 * PAGE);        /* the 1 page left */
    assert_int_equal(alloc_ok(PAGE)->offset, 9 * PAGE);        /* now only the tail */
    (void)a; (void)c; (void)e;
}

static void equal_gaps_go_to_the_block_first_in_the_list(void **state)
{
    use_backend(0, false);
    /* Offsets: s1 [0,1) x [1,2) big [2,6) y [6,7) s2 [7,8) z [8,9) */
    RAMBlock *s1 = alloc_ok(PAGE), *x = alloc_ok(PAGE), *big = alloc_ok(4 * PAGE);
    RAMBlock *y = alloc_ok(PAGE), *s2 = alloc_ok(PAGE), *z = alloc_ok(PAGE);
    assert_int_equal(s1->offset, 0);
    assert_int_equal(big->offset, 2 * PAGE);
    assert_int_equal(s2->offset, 7 * PAGE);
    qemu_ram_free(x);                       /* 1-page gap after s1 (small, older) */
    qemu_ram_free(y);                       /* 1-page gap after big (first in list) */
    qemu_ram_free(z);                       /* 1-page gap after s2... and the tail */
    /* Gaps: after s1: 1 page, after big: 1 page, after s2: the tail. */
    assert_int_equal(alloc_ok(PAGE)->offset, 6 * PAGE);        /* after big */
    assert_int_equal(alloc_ok(PAGE)->offset, 1 * PAGE);        /* then after s1 */
}

static void gap_below_the_lowest_block_is_never_used(void **state)
{
    use_backend(0, false);
    RAMBlock *a = alloc_ok(4 * PAGE);
    alloc_ok(PAGE);
    qemu_ram_free(a);
    /* The seed only looks at gaps after a block's end: [0, 4 pages) stays unused. */
    assert_int_equal(alloc_ok(PAGE)->offset, 5 * PAGE);
}

static void new_block_dirty_for_every_client(void **state)
{
    use_backend(0, false);
    alloc_ok(2 * PAGE);
    RAMBlock *r = qemu_ram_alloc_resizeable(2 * PAGE, 8 * PAGE, NULL, &fake, NULL, NULL);
    assert_non_null(r);
    for (unsigned c = 0; c < DIRTY_MEMORY_NUM; c++) {
        assert_true(cpu_physical_memory_get_dirty(0, 4 * PAGE, c));
        for (ram_addr_t p = 0; p < 4; p++)
            assert_true(cpu_physical_memory_get_dirty(p * PAGE, 1, c));
        /* Only used_length is dirty, not the reserved rest. */
        assert_false(cpu_physical_memory_get_dirty(4 * PAGE, 6 * PAGE, c));
    }
    assert_int_equal(ram_dirty_bitmap_pages(), 10);
}

static void bitmap_growth_keeps_old_bits_and_clears_stale_ones(void **state)
{
    use_backend(0, false);
    alloc_ok(4 * PAGE);
    RAMBlock *top = alloc_ok(4 * PAGE);     /* pages 4..7 */
    cpu_physical_memory_test_and_clear_dirty(0, 8 * PAGE, DIRTY_MEMORY_VGA);
    cpu_physical_memory_set_dirty_range(PAGE, PAGE, 1u << DIRTY_MEMORY_VGA);
    cpu_physical_memory_set_dirty_range(5 * PAGE, PAGE, 1u << DIRTY_MEMORY_VGA);
    qemu_ram_free(top);                     /* last_ram_offset drops to 4 pages */
    cpu_physical_memory_test_and_clear_dirty(2 * PAGE, 2 * PAGE, DIRTY_MEMORY_CODE);
    RAMBlock *big = alloc_ok(8 * PAGE);     /* pages 4..11: bitmaps grow */
    assert_int_equal(big->offset, 4 * PAGE);
    assert_int_equal(ram_dirty_bitmap_pages(), 12);
    /* Old bits below the old end are kept exactly. */
    assert_false(cpu_physical_memory_get_dirty(0, PAGE, DIRTY_MEMORY_VGA));
    assert_true(cpu_physical_memory_get_dirty(PAGE, PAGE, DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_get_dirty(2 * PAGE, 2 * PAGE, DIRTY_MEMORY_VGA));
    assert_false(cpu_physical_memory_get_dirty(2 * PAGE, 2 * PAGE, DIRTY_MEMORY_CODE));
    assert_true(cpu_physical_memory_get_dirty(0, 2 * PAGE, DIRTY_MEMORY_CODE));
    /* The new block is dirty (and the stale bit at page 5 is irrelevant: set anyway). */
    assert_true(cpu_physical_memory_test_and_clear_dirty(4 * PAGE, 8 * PAGE, DIRTY_MEMORY_VGA));
    /* Zero-extension clears stale bits left by a freed block: pages 8..11 are marked
     * after big is gone, then a block reserving 8..11 but using only page 8 arrives. */
    qemu_ram_free(big);
    RAMBlock *small = alloc_ok(4 * PAGE);   /* pages 4..7 */
    assert_int_equal(small->offset, 4 * PAGE);
    cpu_physical_memory_set_dirty_range(8 * PAGE, 4 * PAGE, DIRTY_CLIENTS_ALL);
    RAMBlock *r = qemu_ram_alloc_resizeable(PAGE, 4 * PAGE, NULL, &fake, NULL, NULL);
    assert_int_equal(r->offset, 8 * PAGE);
    for (unsigned c = 0; c < DIRTY_MEMORY_NUM; c++) {
        assert_true(cpu_physical_memory_get_dirty(8 * PAGE, PAGE, c));
        assert_false(cpu_physical_memory_get_dirty(9 * PAGE, 3 * PAGE, c));
    }
}

static void version_bumped_and_mru_reset_on_every_change(void **state)
{
    use_backend(0, false);
    uint32_t v = ram_list_version();
    RAMBlock *a = alloc_ok(PAGE);
    assert_int_equal(ram_list_version(), v + 1);
    RAMBlock *b = alloc_ok(PAGE);
    assert_int_equal(ram_list_version(), v + 2);
    assert_ptr_equal(qemu_get_ram_block(PAGE + 5), b);
    assert_ptr_equal(ram_list_mru(), b);
    assert_ptr_equal(qemu_get_ram_block(0), a);
    assert_ptr_equal(ram_list_mru(), a);
    RAMBlock *c = alloc_ok(PAGE);
    assert_null(ram_list_mru());
    assert_int_equal(ram_list_version(), v + 3);
    qemu_get_ram_block(0);
    qemu_ram_free(c);
    assert_null(ram_list_mru());
    assert_int_equal(ram_list_version(), v + 4);
    /* A failed allocation changes nothing. */
    assert_null(qemu_ram_alloc(0, &fake, NULL, NULL));
    assert_int_equal(ram_list_version(), v + 4);
}

static void translation_block_host_and_back(void **state)
{
    Error *err = NULL;
    RAMBlock *a = qemu_ram_alloc(3 * PAGE, NULL, NULL, &err);
    assert_null(err);
    assert_non_null(a->host);
    RAMBlock *b = qemu_ram_alloc(PAGE, NULL, NULL, &err);
    assert_null(err);
    assert_ptr_equal(qemu_get_ram_block(0), a);
    assert_ptr_equal(qemu_get_ram_block(3 * PAGE - 1), a);
    assert_ptr_equal(qemu_get_ram_block(3 * PAGE), b);
    assert_null(qemu_get_ram_block(4 * PAGE));
    assert_ptr_equal(ram_list_mru(), b);
    uint8_t *p = ram_block_host_ptr(a, 2 * PAGE + 7);
    assert_ptr_equal(p, a->host + 2 * PAGE + 7);
    assert_null(ram_block_host_ptr(a, 3 * PAGE));
    p[0] = 0x5a;                            /* the memory is really there */
    ram_addr_t addr = 0;
    assert_ptr_equal(qemu_ram_block_from_host(p, &addr), a);
    assert_int_equal(addr, 2 * PAGE + 7);
    assert_ptr_equal(qemu_ram_block_from_host(b->host + 1, &addr), b);
    assert_int_equal(addr, 3 * PAGE + 1);
    int stack_var;
    assert_null(qemu_ram_block_from_host(&stack_var, &addr));
    qemu_ram_free(a);
    qemu_ram_free(b);
    assert_null(ram_list_first());
    assert_int_equal(last_ram_offset(), 0);
}

static void anonymous_host_memory_is_2mib_aligned(void **state)
{
    RAMBlock *a = qemu_ram_alloc(5 * PAGE, NULL, NULL, NULL);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a->host % (2 * 1024 * KiB), 0);
    assert_int_equal(a->align, 2 * 1024 * KiB);
    assert_int_equal(a->flags, 0);
    memset(a->host, 0xab, a->max_length);
    qemu_ram_free(a);
}

static void from_ptr_uses_caller_memory_and_keeps_it(void **state)
{
    uint8_t *mem = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    use_backend(0, false);                  /* nobody asks it: the caller supplies memory */
    RAMBlock *b = qemu_ram_alloc_from_ptr(4 * PAGE, mem, NULL, NULL);
    assert_non_null(b);
    assert_ptr_equal(b->host, mem);
    assert_true(b->flags & RAM_PREALLOC);
    assert_int_equal(backend.calls, 0);
    qemu_ram_free(b);
    mem[4 * PAGE - 1] = 1;                  /* still mapped: free left it alone */
    munmap(mem, 4 * PAGE);
    Error *err = NULL;
    assert_null(qemu_ram_alloc_from_ptr(PAGE, NULL, NULL, &err));
    expect_error(&err, "cannot use a NULL host pointer for RAM");
}

/* ---- resize ---------------------------------------------------------------------- */

static struct {
    unsigned calls;
    char idstr[64];
    uint64_t size;
    void *host;
} resized_seen;

static void on_resized(const char *idstr, uint64_t size, void *host)
{
    resized_seen.calls++;
    snprintf(resized_seen.idstr, sizeof(resized_seen.idstr), "%s", idstr);
    resized_seen.size = size;
    resized_seen.host = host;
}

static void resize_within_max_moves_dirty_range_and_notifies(void **state)
{
    memset(&resized_seen, 0, sizeof(resized_seen));
    Error *err = NULL;
    RAMBlock *r = qemu_ram_alloc_resizeable(4 * PAGE, 16 * PAGE, on_resized, NULL, NULL, &err);
    assert_null(err);
    assert_true(r->flags & RAM_RESIZEABLE);
    assert_int_equal(r->used_length, 4 * PAGE);
    assert_int_equal(r->max_length, 16 * PAGE);
    assert_int_equal(last_ram_offset(), 16 * PAGE);
    RAMBlock *next = qemu_ram_alloc(PAGE, NULL, NULL, NULL);
    assert_int_equal(next->offset, 16 * PAGE);  /* the reserve is not reused */
    uint32_t v = ram_list_version();

    assert_int_equal(qemu_ram_resize(r, 10 * PAGE - 100, &err), 0);
    assert_null(err);
    assert_int_equal(r->used_length, 10 * PAGE);
    assert_int_equal(resized_seen.calls, 1);
    assert_string_equal(resized_seen.idstr, r->idstr);
    assert_int_equal(resized_seen.size, 10 * PAGE);
    assert_ptr_equal(resized_seen.host, r->host);
    assert_true(cpu_physical_memory_get_dirty(9 * PAGE, PAGE, DIRTY_MEMORY_MIGRATION));
    assert_int_equal(ram_list_version(), v);    /* resize is not a list change */

    /* Shrinking clears the old range first. */
    assert_int_equal(qemu_ram_resize(r, 2 * PAGE, NULL), 0);
    assert_false(cpu_physical_memory_get_dirty(2 * PAGE, 8 * PAGE, DIRTY_MEMORY_VGA));
    assert_true(cpu_physical_memory_get_dirty(0, 2 * PAGE, DIRTY_MEMORY_VGA));
    /* Same size: nothing to do, no callback. */
    assert_int_equal(qemu_ram_resize(r, 2 * PAGE, NULL), 0);
    assert_int_equal(resized_seen.calls, 2);

    assert_int_equal(qemu_ram_resize(r, 17 * PAGE, &err), -EINVAL);
    expect_error(&err, "length too large: ram@0x0: 0x11000 > 0x10000");
    assert_int_equal(qemu_ram_resize(next, 2 * PAGE, &err), -EINVAL);
    expect_error(&err, "length mismatch: ram@0x10000: 0x2000 in != 0x1000");
    assert_int_equal(qemu_ram_resize(r, UINT64_MAX, &err), -EINVAL);
    expect_error(&err, "length too large: ram@0x0: 0xffffffffffffffff > 0x10000");
    assert_int_equal(r->used_length, 2 * PAGE);
}

/* ---- error paths ----------------------------------------------------------------- */

static void size_zero_and_bad_max_are_errors(void **state)
{
    Error *err = NULL;
    assert_null(qemu_ram_alloc(0, NULL, NULL, &err));
    expect_error(&err, "cannot allocate a RAM block of 0 bytes");
    assert_null(qemu_ram_alloc_resizeable(2 * PAGE, PAGE, NULL, NULL, NULL, &err));
    expect_error(&err, "RAM block maximum size 0x1000 is below its size 0x2000");
    assert_null(ram_list_first());
}

static void exhaustion_is_an_error_not_an_abort(void **state)
{
    Error *err = NULL;
    use_backend(0, false);
    assert_int_equal(ram_set_addr_space_size(8 * PAGE, &err), 0);
    assert_int_equal(ram_addr_space_size(), 8 * PAGE);
    assert_null(qemu_ram_alloc(9 * PAGE, &fake, NULL, &err));
    expect_error(&err, "cannot find a gap of 36864 bytes");
    RAMBlock *a = alloc_ok(6 * PAGE);
    alloc_ok(2 * PAGE);
    uint32_t v = ram_list_version();
    assert_null(qemu_ram_alloc(1, &fake, NULL, &err));
    expect_error(&err, "cannot find a gap of 4096 bytes");
    assert_int_equal(ram_list_version(), v);
    assert_int_equal(backend.calls, 2);         /* the backend was not asked */
    qemu_ram_free(a);
    /* Freed space below the lowest block is not reusable (as in the seed). */
    assert_null(qemu_ram_alloc(PAGE, &fake, NULL, NULL));
    /* The space cannot shrink below what is in use, and must be page-aligned. */
    assert_int_equal(ram_set_addr_space_size(4 * PAGE, &err), -EINVAL);
    expect_error(&err, "invalid ram_addr space size 0x4000 (must be a non-zero multiple "
                      "of 0x1000 covering 0x8000)");
    assert_int_equal(ram_set_addr_space_size(16 * PAGE + 1, NULL), -EINVAL);
    assert_int_equal(ram_set_addr_space_size(0, NULL), -EINVAL);
    /* Growing it makes room above the last block. */
    assert_int_equal(ram_set_addr_space_size(16 * PAGE, NULL), 0);
    assert_int_equal(alloc_ok(8 * PAGE)->offset, 8 * PAGE);
    /* A size bigger than the whole space (even one that would wrap when aligned). */
    assert_null(qemu_ram_alloc(UINT64_MAX, &fake, NULL, &err));
    expect_error(&err, "cannot find a gap of 18446744073709551615 bytes");
}

static int mmap_fail_errno;
static unsigned mmap_calls;

static void *failing_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    mmap_calls++;
    errno = mmap_fail_errno;
    return MAP_FAILED;
}

static void mmap_failure_leaves_nothing_behind(void **state)
{
    Error *err = NULL;
    RAMBlock *keep = qemu_ram_alloc(PAGE, NULL, NULL, &err);
    assert_non_null(keep);
    uint32_t v = ram_list_version();
    uint64_t pages = ram_dirty_bitmap_pages();

    mmap_fail_errno = ENOMEM;
    ram_set_mmap_hook(failing_mmap);
    MemoryRegion mr = { .name = (char *)"vga.vram" };
    assert_null(qemu_ram_alloc(64 * PAGE, NULL, &mr, &err));
    expect_error(&err, "cannot set up guest memory 'vga.vram': Cannot allocate memory");
    assert_int_equal(mmap_calls, 1);
    assert_ptr_equal(ram_list_first(), keep);
    assert_null(keep->next);
    assert_int_equal(ram_list_version(), v);
    assert_int_equal(last_ram_offset(), PAGE);
    assert_int_equal(ram_dirty_bitmap_pages(), pages);

    /* The region layer reports the mapping's errno and leaves the region unallocated. */
    mmap_fail_errno = EAGAIN;
    MemoryRegion ram;
    assert_int_equal(memory_region_init_ram(&ram, NULL, "pc.ram", 4 * PAGE, &err), -EAGAIN);
    expect_error(&err, "cannot set up guest memory 'pc.ram': Resource temporarily unavailable");
    assert_null(ram.name);
    assert_null(ram.ram_block);

    ram_set_mmap_hook(NULL);
    RAMBlock *ok = qemu_ram_alloc(64 * PAGE, NULL, &mr, NULL);
    assert_non_null(ok);
    assert_string_equal(ok->idstr, "vga.vram");
    assert_int_equal(ok->offset, PAGE);
}

static void backend_failure_with_and_without_message(void **state)
{
    Error *err = NULL;
    uint32_t v = ram_list_version();
    use_backend(-ENOMEM, true);
    MemoryRegion mr = { .name = (char *)"xen.ram" };
    assert_null(qemu_ram_alloc(4 * PAGE, &fake, &mr, &err));
    expect_error(&err, "cannot set up guest memory 'xen.ram': populate_physmap of 4 pages failed");
    assert_int_equal(backend.calls, 1);
    assert_ptr_equal(backend.mr, &mr);
    assert_null(ram_list_first());

    use_backend(-EPERM, false);
    assert_null(qemu_ram_alloc(4 * PAGE, &fake, NULL, &err));
    expect_error(&err, "cannot set up guest memory 'ram@0x0': Operation not permitted");
    assert_null(ram_list_first());
    assert_int_equal(last_ram_offset(), 0);
    assert_int_equal(ram_list_version(), v);
    assert_int_equal(ram_dirty_bitmap_pages(), 0);

    use_backend(0, false);
    RAMBlock *b = qemu_ram_alloc(4 * PAGE, &fake, &mr, &err);
    assert_non_null(b);
    assert_null(b->host);                   /* Xen: no host pointer, use the mapcache */
    assert_null(ram_block_host_ptr(b, 0));
    assert_int_equal(backend.ram_addr, b->offset);
    assert_int_equal(backend.size, 4 * PAGE);
}

/* ---- modified sinks and migration --------------------------------------------------- */

static struct { unsigned calls; ram_addr_t start, length; void *opaque; } modified;

static void on_modified(void *opaque, ram_addr_t start, ram_addr_t length)
{
    modified.calls++;
    modified.start = start;
    modified.length = length;
    modified.opaque = opaque;
}

static const RamBackend logged = { .alloc = fake_backend, .modified = on_modified,
                                   .opaque = &modified };

static void modified_sink_sees_every_marked_range(void **state)
{
    use_backend(0, false);
    memset(&modified, 0, sizeof(modified));
    assert_non_null(qemu_ram_alloc(4 * PAGE, &logged, NULL, NULL));
    /* Any mask, even none: the sink decides whether it is logging. */
    cpu_physical_memory_set_dirty_range(PAGE + 3, 10, 0);
    assert_int_equal(modified.calls, 1);
    assert_int_equal(modified.start, PAGE + 3);
    assert_int_equal(modified.length, 10);
    assert_ptr_equal(modified.opaque, &modified);
    cpu_physical_memory_set_dirty_range(0, 0, DIRTY_CLIENTS_ALL);      /* empty: no call */
    assert_int_equal(modified.calls, 1);
    /* A new block is dirty for the local clients, but nobody wrote it: under Xen it
     * is toolstack or freshly populated memory, so log-dirty is not told. */
    RAMBlock *b = qemu_ram_alloc(2 * PAGE, &logged, NULL, NULL);
    assert_non_null(b);
    assert_int_equal(modified.calls, 1);
    assert_true(cpu_physical_memory_get_dirty(b->offset, 2 * PAGE, DIRTY_MEMORY_MIGRATION));
    /* A block whose backend has no sink: nobody is told of writes to it. */
    RAMBlock *quiet = alloc_ok(PAGE);
    cpu_physical_memory_set_dirty_range(quiet->offset, PAGE, DIRTY_CLIENTS_ALL);
    assert_int_equal(modified.calls, 1);
    assert_true(cpu_physical_memory_get_dirty(quiet->offset, PAGE, DIRTY_MEMORY_VGA));
}

/* A range over several blocks: each sink hears its own block's part, in address order;
 * holes and blocks without a sink hear nothing. */
static struct { unsigned n; ram_addr_t start[4], length[4]; void *opaque[4]; } parts;

static void on_part(void *opaque, ram_addr_t start, ram_addr_t length)
{
    assert_true(parts.n < 4);
    parts.start[parts.n] = start;
    parts.length[parts.n] = length;
    parts.opaque[parts.n++] = opaque;
}

static void set_dirty_range_tells_each_block_its_own_part(void **state)
{
    use_backend(0, false);
    int one, two;
    RamBackend first = { .modified = on_part, .opaque = &one };
    RamBackend second = { .modified = on_part, .opaque = &two };
    RAMBlock *a = qemu_ram_alloc(4 * PAGE, &first, NULL, NULL);        /* pages 0..3 */
    RAMBlock *gap = alloc_ok(PAGE);                                     /* page 4 */
    RAMBlock *b = qemu_ram_alloc(2 * PAGE, &second, NULL, NULL);       /* pages 5..6 */
    assert_int_equal(b->offset, 5 * PAGE);
    memset(&parts, 0, sizeof(parts));
    cpu_physical_memory_set_dirty_range(3 * PAGE + 8, 3 * PAGE, 0);
    assert_int_equal(parts.n, 2);
    assert_ptr_equal(parts.opaque[0], &one);
    assert_int_equal(parts.start[0], 3 * PAGE + 8);
    assert_int_equal(parts.length[0], PAGE - 8);
    assert_ptr_equal(parts.opaque[1], &two);
    assert_int_equal(parts.start[1], 5 * PAGE);
    assert_int_equal(parts.length[1], PAGE + 8);
    /* From a free ram_addr (freed page 4) on, and through the top of the space. */
    qemu_ram_free(gap);
    memset(&parts, 0, sizeof(parts));
    cpu_physical_memory_set_dirty_range(4 * PAGE, UINT64_MAX, 0);
    assert_int_equal(parts.n, 1);
    assert_ptr_equal(parts.opaque[0], &two);
    assert_int_equal(parts.start[0], 5 * PAGE);
    assert_int_equal(parts.length[0], 2 * PAGE);
    /* The block-level form tells only the block it is given. */
    memset(&parts, 0, sizeof(parts));
    ram_block_set_dirty(a, PAGE, 2 * PAGE, 1u << DIRTY_MEMORY_VGA);
    assert_int_equal(parts.n, 1);
    assert_ptr_equal(parts.opaque[0], &one);
    assert_int_equal(parts.start[0], PAGE);
    assert_int_equal(parts.length[0], 2 * PAGE);
    assert_true(cpu_physical_memory_get_dirty(2 * PAGE, PAGE, DIRTY_MEMORY_VGA));
}

static void migration_start_and_stop(void **state)
{
    Error *err = NULL;
    assert_false(ram_dirty_migration_active());
    assert_int_equal(ram_dirty_migration_start(&err), 0);
    assert_true(ram_dirty_migration_active());
    assert_int_equal(ram_dirty_migration_start(&err), -EBUSY);
    expect_error(&err, "migration dirty logging is already on");
    ram_dirty_migration_stop();
    assert_false(ram_dirty_migration_active());
    ram_dirty_migration_stop();                 /* harmless when off */
}

static bool test_bit_in(const unsigned long *bm, uint64_t bit)
{
    return bm[bit / (8 * sizeof(long))] >> (bit % (8 * sizeof(long))) & 1;
}

static void migration_bitmap_extended_with_new_pages_set(void **state)
{
    use_backend(0, false);
    RAMBlock *a = qemu_ram_alloc_resizeable(2 * PAGE, 4 * PAGE, NULL, &fake, NULL, NULL);
    assert_non_null(a);
    uint64_t pages;
    assert_null(ram_migration_bitmap(&pages));
    assert_int_equal(ram_dirty_migration_start(NULL), 0);
    const unsigned long *bm = ram_migration_bitmap(&pages);
    assert_int_equal(pages, 4);
    for (unsigned p = 0; p < 4; p++)
        assert_true(test_bit_in(bm, p));
    assert_int_equal(ram_migration_dirty_pages(), 2);   /* used pages only */

    alloc_ok(100 * PAGE);                   /* pages 4..103 */
    bm = ram_migration_bitmap(&pages);
    assert_int_equal(pages, 104);
    for (unsigned p = 0; p < 104; p++)
        assert_true(test_bit_in(bm, p));
    assert_int_equal(ram_migration_dirty_pages(), 102);
    /* Each page added above the old end counts once more, even a re-added one. */
    RAMBlock *c = alloc_ok(PAGE);           /* page 104 */
    assert_int_equal(ram_migration_dirty_pages(), 103);
    qemu_ram_free(c);
    alloc_ok(PAGE);                         /* re-fills page 104: bitmap grows by 1 */
    assert_int_equal(ram_migration_dirty_pages(), 104);
    ram_dirty_migration_stop();
    assert_null(ram_migration_bitmap(&pages));
    assert_int_equal(pages, 0);
}

/* ---- regions ----------------------------------------------------------------------- */

static void region_ram_ties_block_and_destructor_frees_it(void **state)
{
    Error *err = NULL;
    MemoryRegion ram;
    assert_int_equal(memory_region_init_ram(&ram, NULL, "pc.ram", 3 * PAGE + 1, &err), 0);
    assert_null(err);
    assert_true(memory_region_is_ram(&ram));
    RAMBlock *b = ram.ram_block;
    assert_non_null(b);
    assert_ptr_equal(b->mr, &ram);
    assert_string_equal(b->idstr, "pc.ram");
    assert_int_equal(b->used_length, 4 * PAGE);
    assert_int_equal(memory_region_size(&ram), 3 * PAGE + 1);
    assert_int_equal(memory_region_get_ram_addr(&ram), b->offset);
    assert_ptr_equal(memory_region_get_ram_ptr(&ram), b->host);

    MemoryRegion alias;
    memory_region_init_alias(&alias, NULL, "pc.ram.alias", &ram, 2 * PAGE, PAGE);
    assert_ptr_equal(memory_region_get_ram_ptr(&alias), b->host + 2 * PAGE);
    memory_region_finalize(&alias);

    uint32_t v = ram_list_version();
    memory_region_finalize(&ram);
    assert_null(ram_list_first());
    assert_int_equal(ram_list_version(), v + 1);
    assert_null(ram.ram_block);
}

static void region_ram_ptr_rom_and_rom_device(void **state)
{
    static const MemoryRegionOps rom_ops = { .endianness = DEVICE_LITTLE_ENDIAN };
    uint8_t *mem = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(mem != MAP_FAILED);
    Error *err = NULL;
    MemoryRegion ptr, rom, romd, bad;
    assert_int_equal(memory_region_init_ram_ptr(&ptr, NULL, "ptr", 2 * PAGE, mem, &err), 0);
    assert_ptr_equal(memory_region_get_ram_ptr(&ptr), mem);
    assert_true(ptr.ram_block->flags & RAM_PREALLOC);
    assert_int_equal(memory_region_init_rom(&rom, NULL, "bios", 16 * PAGE, &err), 0);
    assert_int_equal(rom.kind, MR_KIND_ROM);
    assert_true(rom.readonly);
    assert_int_equal(memory_region_init_rom_device(&romd, NULL, &rom_ops, &romd, "flash",
                                                   PAGE, &err), 0);
    assert_int_equal(romd.kind, MR_KIND_ROM_DEVICE);
    assert_ptr_equal(romd.ops, &rom_ops);
    assert_ptr_equal(romd.opaque, &romd);
    assert_true(romd.romd_mode);
    assert_non_null(romd.ram_block->host);
    /* List: bios (16 pages), ptr (2), flash (1). */
    assert_ptr_equal(ram_list_first(), rom.ram_block);
    assert_ptr_equal(rom.ram_block->next, ptr.ram_block);
    assert_ptr_equal(ptr.ram_block->next, romd.ram_block);

    assert_int_equal(memory_region_init_ram_ptr(&bad, NULL, "bad", PAGE, NULL, &err), -EINVAL);
    expect_error(&err, "RAM region 'bad': NULL host pointer");
    assert_int_equal(memory_region_init_ram(&bad, NULL, "zero", 0, &err), -EINVAL);
    expect_error(&err, "cannot allocate a RAM block of 0 bytes");

    MemoryRegion io;
    memory_region_init_io(&io, NULL, NULL, NULL, "io", PAGE);
    assert_null(memory_region_get_ram_ptr(&io));
    assert_int_equal(memory_region_get_ram_addr(&io), RAM_ADDR_INVALID);
    memory_region_finalize(&io);

    memory_region_finalize(&ptr);
    memory_region_finalize(&rom);
    memory_region_finalize(&romd);
    assert_null(ram_list_first());
    mem[0] = 1;                             /* caller memory survives the region */
    munmap(mem, 2 * PAGE);
}

static void resize_updates_the_region_size(void **state)
{
    MemoryRegion mr;
    memory_region_init(&mr, NULL, "acpi", PAGE);    /* any region: resize sets its size */
    RAMBlock *b = qemu_ram_alloc_resizeable(PAGE, 4 * PAGE, NULL, NULL, &mr, NULL);
    assert_non_null(b);
    assert_int_equal(qemu_ram_resize(b, 3 * PAGE, NULL), 0);
    assert_int_equal(memory_region_size(&mr), 3 * PAGE);
    qemu_ram_free(b);
    memory_region_finalize(&mr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(list_sorted_biggest_first_equal_sizes_oldest_first, reset),
        cmocka_unit_test_teardown(first_block_at_zero_sizes_page_aligned, reset),
        cmocka_unit_test_teardown(best_fit_takes_smallest_gap_that_fits, reset),
        cmocka_unit_test_teardown(equal_gaps_go_to_the_block_first_in_the_list, reset),
        cmocka_unit_test_teardown(gap_below_the_lowest_block_is_never_used, reset),
        cmocka_unit_test_teardown(new_block_dirty_for_every_client, reset),
        cmocka_unit_test_teardown(bitmap_growth_keeps_old_bits_and_clears_stale_ones, reset),
        cmocka_unit_test_teardown(version_bumped_and_mru_reset_on_every_change, reset),
        cmocka_unit_test_teardown(translation_block_host_and_back, reset),
        cmocka_unit_test_teardown(anonymous_host_memory_is_2mib_aligned, reset),
        cmocka_unit_test_teardown(from_ptr_uses_caller_memory_and_keeps_it, reset),
        cmocka_unit_test_teardown(resize_within_max_moves_dirty_range_and_notifies, reset),
        cmocka_unit_test_teardown(size_zero_and_bad_max_are_errors, reset),
        cmocka_unit_test_teardown(exhaustion_is_an_error_not_an_abort, reset),
        cmocka_unit_test_teardown(mmap_failure_leaves_nothing_behind, reset),
        cmocka_unit_test_teardown(backend_failure_with_and_without_message, reset),
        cmocka_unit_test_teardown(modified_sink_sees_every_marked_range, reset),
        cmocka_unit_test_teardown(set_dirty_range_tells_each_block_its_own_part, reset),
        cmocka_unit_test_teardown(migration_start_and_stop, reset),
        cmocka_unit_test_teardown(migration_bitmap_extended_with_new_pages_set, reset),
        cmocka_unit_test_teardown(region_ram_ties_block_and_destructor_frees_it, reset),
        cmocka_unit_test_teardown(region_ram_ptr_rom_and_rom_device, reset),
        cmocka_unit_test_teardown(resize_updates_the_region_size, reset),
    };
    return cmocka_run_group_tests_name("ram_block", tests, reset, NULL);
}
