/*
 * Unit tests for Xen's RAM layouts (xen/ram_layout.c): on x86 the split below the PCI
 * hole and from 4 GiB for sizes below, at and above the hole, with and without a bigger
 * hole; Arm's two fixed banks; what sizes and splits are refused; the split of a PCI
 * hole; the RAM size a domain's populated frames stand for; and the Xen RAM backend refusing to serve the toolstack's RAM anywhere
 * but at ram_addr 0, where ram_addr == guest physical.
 */
#include "tests/unit/support.h"

#include <string.h>

#include "xen/xen_dm.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)
#define HOLE_START 0xf0000000ull        /* Xen's HVM_BELOW_4G_RAM_END */

static XenRamLayout layout_ok(uint64_t ram_bytes, uint64_t max_below_4g)
{
    XenRamLayout l;
    memset(&l, 0xa5, sizeof(l));
    assert_int_equal(xen_ram_layout_compute(ram_bytes, max_below_4g, &l, NULL), 0);
    assert_int_equal(l.bank[0].size + l.bank[1].size, ram_bytes);
    assert_int_equal(l.bank[0].base, 0);
    assert_int_equal(l.bank[1].base, XEN_RAM_HIGH_BASE);
    return l;
}

static void small_guests_have_no_high_ram(void **state)
{
    XenRamLayout l = layout_ok(64 * MIB, 0);
    assert_int_equal(l.bank[0].size, 64 * MIB);
    assert_int_equal(l.bank[1].size, 0);
    assert_int_equal(l.block_size, 64 * MIB);
    l = layout_ok(HOLE_START - 4096, 0);                 /* one page short of the hole */
    assert_int_equal(l.bank[1].size, 0);
    assert_int_equal(l.block_size, HOLE_START - 4096);
}

static void a_guest_the_size_of_the_low_ram_has_none_above(void **state)
{
    XenRamLayout l = layout_ok(HOLE_START, 0);           /* 3840 MiB: exactly up to the hole */
    assert_int_equal(l.bank[0].size, HOLE_START);
    assert_int_equal(l.bank[1].size, 0);
    assert_int_equal(l.block_size, HOLE_START);
}

static void the_rest_goes_above_4g(void **state)
{
    XenRamLayout l = layout_ok(6 * GIB, 0);
    assert_int_equal(l.bank[0].size, HOLE_START);
    assert_int_equal(l.bank[1].size, 6 * GIB - HOLE_START);  /* 2304 MiB */
    assert_int_equal(l.block_size, XEN_RAM_HIGH_BASE + l.bank[1].size);
    l = layout_ok(HOLE_START + 4096, 0);                 /* one page over: one page high */
    assert_int_equal(l.bank[1].size, 4096);
    assert_int_equal(l.block_size, XEN_RAM_HIGH_BASE + 4096);
    l = layout_ok(5000 * MIB + 4096, 0);                 /* not a whole MiB */
    assert_int_equal(l.bank[1].size, 5000 * MIB + 4096 - HOLE_START);
}

/* xl's mmio_hole=1024 makes libxl pass max-ram-below-4g=3 GiB to QEMU. */
static void a_bigger_hole_moves_ram_above_4g(void **state)
{
    XenRamLayout l = layout_ok(6 * GIB, 3 * GIB);
    assert_int_equal(l.bank[0].size, 3 * GIB);
    assert_int_equal(l.bank[1].size, 3 * GIB);
    assert_int_equal(l.block_size, 7 * GIB);
    l = layout_ok(2 * GIB, 3 * GIB);                     /* below the split: unchanged */
    assert_int_equal(l.bank[0].size, 2 * GIB);
    assert_int_equal(l.bank[1].size, 0);
    l = layout_ok(5 * GIB, HOLE_START);                  /* the default, given */
    assert_int_equal(l.bank[0].size, HOLE_START);
    l = layout_ok(2 * MIB, MIB);                         /* the smallest split */
    assert_int_equal(l.bank[0].size, MIB);
    assert_int_equal(l.bank[1].size, MIB);
}

static void expect_refused(uint64_t ram_bytes, uint64_t max_below_4g, const char *what)
{
    XenRamLayout l = { 0 };
    Error *err = NULL;
    assert_int_equal(xen_ram_layout_compute(ram_bytes, max_below_4g, &l, &err), -EINVAL);
    assert_non_null(err);
    assert_non_null(strstr(error_get_pretty(err), what));
    error_free(err);
    assert_int_equal(l.block_size, 0);                   /* nothing written */
}

static void bad_sizes_and_splits_are_refused(void **state)
{
    expect_refused(0, 0, "0x0 bytes of guest RAM: expected a non-zero multiple of 4 KiB");
    expect_refused(6 * GIB + 1, 0, "0x180000001 bytes of guest RAM");
    expect_refused(UINT64_MAX & ~4095ull, 0, "bytes of guest RAM");  /* 4 GiB + it wraps */
    expect_refused(6 * GIB, HOLE_START + 4096,
                   "0xf0001000 bytes of RAM below 4 GiB: expected a multiple of 4 KiB from "
                   "1 MiB to 0xf0000000");
    expect_refused(6 * GIB, 4 * GIB, "0x100000000 bytes of RAM below 4 GiB");
    expect_refused(6 * GIB, MIB - 4096, "0xff000 bytes of RAM below 4 GiB");
    expect_refused(6 * GIB, 3 * GIB + 1, "0xc0000001 bytes of RAM below 4 GiB");
    assert_int_equal(xen_ram_check_below_4g(3 * GIB, NULL), 0);
    /* 0 stands for the default only in xen_ram_layout_compute. */
    assert_int_equal(xen_ram_check_below_4g(0, NULL), -EINVAL);
}

/* libxl writes xl's mmio_hole to xenstore in bytes; the split is 4 GiB minus it. */
static void the_split_of_a_hole(void **state)
{
    uint64_t below = 0;
    assert_int_equal(xen_ram_below_4g_of_hole(1 * GIB, &below, NULL), 0);
    assert_int_equal(below, 3 * GIB);
    assert_int_equal(xen_ram_below_4g_of_hole(256 * MIB, &below, NULL), 0);
    assert_int_equal(below, HOLE_START);
    Error *err = NULL;
    below = 7;
    assert_int_equal(xen_ram_below_4g_of_hole(128 * MIB, &below, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "0xf8000000 bytes of RAM below 4 GiB"));
    error_free(err);
    err = NULL;
    assert_int_equal(xen_ram_below_4g_of_hole(4 * GIB, &below, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "leaves no RAM below 4 GiB"));
    error_free(err);
    assert_int_equal(xen_ram_below_4g_of_hole(4 * GIB - 4096, &below, NULL), -EINVAL);
    assert_int_equal(below, 7);                          /* untouched on failure */
}

/* Arm (libxl_arm.c, arch-arm.h): up to 3 GiB from 1 GiB, the rest from 8 GiB; the
 * block ends where the last bank does, so ram_addr == guest physical in both. */
static XenRamLayout arm_layout_ok(uint64_t ram_bytes)
{
    XenRamLayout l;
    memset(&l, 0xa5, sizeof(l));
    assert_int_equal(xen_ram_layout_arm(ram_bytes, &l, NULL), 0);
    assert_int_equal(l.bank[0].base, 0x40000000);
    assert_int_equal(l.bank[1].base, 0x200000000);
    assert_int_equal(l.bank[0].size + l.bank[1].size, ram_bytes);
    return l;
}

static void arm_ram_starts_at_1g_and_goes_on_at_8g(void **state)
{
    XenRamLayout l = arm_layout_ok(16 * MIB);
    assert_int_equal(l.bank[1].size, 0);
    assert_int_equal(l.block_size, GIB + 16 * MIB);
    l = arm_layout_ok(3 * GIB);                          /* the first bank, full */
    assert_int_equal(l.bank[1].size, 0);
    assert_int_equal(l.block_size, 4 * GIB);
    l = arm_layout_ok(3 * GIB + 4096);                   /* one page in the second */
    assert_int_equal(l.bank[0].size, 3 * GIB);
    assert_int_equal(l.bank[1].size, 4096);
    assert_int_equal(l.block_size, 8 * GIB + 4096);
    l = arm_layout_ok(1019 * GIB);                       /* both banks, full */
    assert_int_equal(l.block_size, 8 * GIB + 1016 * GIB);

    Error *err = NULL;
    assert_int_equal(xen_ram_layout_arm(1019 * GIB + 4096, &l, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "up to 0xfec0000000"));
    error_free(err);
    assert_int_equal(xen_ram_layout_arm(0, &l, NULL), -EINVAL);
    assert_int_equal(xen_ram_layout_arm(MIB + 1, &l, NULL), -EINVAL);
}

/* Xen's builder leaves the VGA hole (32 frames) unpopulated and adds 8 special pages:
 * a 6144 MiB guest has 24 frames fewer than 6144 MiB, and must not lose its top MiB. */
static void the_domains_ram_is_its_populated_frames_rounded_up(void **state)
{
    assert_int_equal(xen_ram_size_of_populated(6144 * MIB - 24 * 4096), 6144 * MIB);
    assert_int_equal(xen_ram_size_of_populated(6144 * MIB), 6144 * MIB);
    assert_int_equal(xen_ram_size_of_populated(6144 * MIB + 8 * 4096), 6145 * MIB);
    assert_int_equal(xen_ram_size_of_populated(4096), MIB);
    assert_int_equal(xen_ram_size_of_populated(0), 0);
}

/* The toolstack's RAM is not populated again, and only served at ram_addr 0. */
static void toolstack_ram_must_sit_at_ram_addr_0(void **state)
{
    ram_reset_for_tests();
    XenRam *xr = xen_ram_new(NULL, NULL, NULL);   /* a populate would need a domain: none */
    assert_non_null(xr);
    RamBackend backend = xen_ram_backend(xr);
    MemoryRegion ram, other;
    xen_ram_set_toolstack_region(xr, &ram);
    assert_int_equal(memory_region_init_ram(&other, "/machine", "other", MIB, NULL), 0);
    Error *err = NULL;
    assert_int_equal(memory_region_init_ram_backed(&ram, "/machine", "ram", 6 * GIB,
                                                   &backend, &err), -EINVAL);
    assert_non_null(strstr(error_get_pretty(err), "'ram' lands at ram_addr 0x100000, not at 0"));
    error_free(err);
    memory_region_finalize(&other);
    assert_int_equal(memory_region_init_ram_backed(&ram, "/machine", "ram", 6 * GIB,
                                                   &backend, NULL), 0);
    assert_int_equal(memory_region_get_ram_addr(&ram), 0);
    memory_region_finalize(&ram);
    xen_ram_free(xr);
    ram_reset_for_tests();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(small_guests_have_no_high_ram),
        cmocka_unit_test(a_guest_the_size_of_the_low_ram_has_none_above),
        cmocka_unit_test(the_rest_goes_above_4g),
        cmocka_unit_test(a_bigger_hole_moves_ram_above_4g),
        cmocka_unit_test(bad_sizes_and_splits_are_refused),
        cmocka_unit_test(the_split_of_a_hole),
        cmocka_unit_test(arm_ram_starts_at_1g_and_goes_on_at_8g),
        cmocka_unit_test(the_domains_ram_is_its_populated_frames_rounded_up),
        cmocka_unit_test(toolstack_ram_must_sit_at_ram_addr_0),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
