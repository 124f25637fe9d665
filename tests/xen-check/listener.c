/*
 * tests/xen-check/listener.c — drive the Xen listener (xen/xen_listener.c) against
 * mockxen (or Xen) with a ROM device whose romd mode changes.
 *
 * Usage: listener DOMID
 * A ROM device's RAM is not in the guest's p2m at the device's address, so every access
 * to it must reach us, in romd mode or not; and a romd change (which the memory core
 * announces as region_del + region_add) must unmap exactly what was mapped. Prints what
 * went wrong and exits 1; exits 0 when every registration was accepted and the ranges
 * mapped and unmapped balance after the detach. Used by tests/integration/xendm_ranges.sh.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "memory/memory.h"
#include "xen/xen_dm.h"

#define ROM_BASE 0xfff00000u
#define ROM_SIZE 0x10000u

static uint64_t rom_read(void *opaque, hwaddr addr, unsigned size)
{
    return 0;
}

static void rom_write(void *opaque, hwaddr addr, uint64_t data, unsigned size)
{
}

static const MemoryRegionOps rom_ops = {
    .read = rom_read, .write = rom_write, .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 4 },
};

static int failures;

static void expect_ranges_ok(XenDM *xd, const char *when)
{
    Error *err = NULL;
    if (xen_dm_check_ranges(xd, &err) < 0) {
        fprintf(stderr, "listener: %s: %s\n", when, error_get_pretty(err));
        error_free(err);
        failures++;
    }
}

static void expect_mapped(XenDM *xd, uint64_t mapped, uint64_t unmapped, const char *when)
{
    const XenDMStats *st = xen_dm_stats(xd);
    if (st->ranges_mapped != mapped || st->ranges_unmapped != unmapped) {
        fprintf(stderr, "listener: %s: %" PRIu64 " ranges mapped, %" PRIu64 " unmapped "
                "(expected %" PRIu64 " and %" PRIu64 ")\n", when, st->ranges_mapped,
                st->ranges_unmapped, mapped, unmapped);
        failures++;
    }
}

/* The ROM device goes through romd on → off → on; returns with it detached. */
static void toggle_romd(XenDM *xd, MemoryRegion *sys, MemoryRegion *io, MemoryRegion *rom)
{
    AddressSpace as_mem, as_io;
    Error *err = NULL;
    if (address_space_init(&as_mem, sys, "memory", &err) < 0 ||
        address_space_init(&as_io, io, "I/O", &err) < 0) {
        fprintf(stderr, "listener: %s\n", error_get_pretty(err));
        exit(1);
    }
    if (xen_dm_attach_address_spaces(xd, &as_mem, &as_io, &err) < 0) {
        fprintf(stderr, "listener: attach: %s\n", error_get_pretty(err));
        error_free(err);
        failures++;
    }
    expect_mapped(xd, 1, 0, "ROM device in romd mode at attach");
    memory_region_rom_device_set_romd(rom, false);
    expect_ranges_ok(xd, "romd off");
    expect_mapped(xd, 2, 1, "romd off");
    memory_region_rom_device_set_romd(rom, true);
    expect_ranges_ok(xd, "romd back on");
    expect_mapped(xd, 3, 2, "romd back on");
    xen_dm_detach_address_spaces(xd);
    expect_mapped(xd, 3, 3, "after the detach");
    address_space_destroy(&as_io);
    address_space_destroy(&as_mem);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DOMID\n", argv[0]);
        return 2;
    }
    Error *err = NULL;
    XenDMConfig cfg = { .domid = (uint32_t)strtoul(argv[1], NULL, 0) };
    XenDM *xd = xen_dm_open(&cfg, &err);
    if (!xd || xen_ioreq_server_create(xd, &err) < 0) {
        fprintf(stderr, "listener: %s\n", error_get_pretty(err));
        error_free(err);
        xen_dm_close(xd);
        return 1;
    }
    MemoryRegion sys, io, rom;
    memory_region_init(&sys, "/machine", "system", UINT64_MAX);
    memory_region_init(&io, "/machine", "io", 0x10000);
    if (memory_region_init_rom_device(&rom, "/machine", &rom_ops, NULL, "flash", ROM_SIZE,
                                      &err) < 0 ||
        memory_region_add_subregion(&sys, ROM_BASE, &rom, &err) < 0) {
        fprintf(stderr, "listener: %s\n", error_get_pretty(err));
        return 1;
    }
    toggle_romd(xd, &sys, &io, &rom);
    memory_region_del_subregion(&sys, &rom, NULL);
    memory_region_finalize(&rom);
    memory_region_finalize(&io);
    memory_region_finalize(&sys);
    xen_dm_close(xd);
    if (failures == 0)
        printf("listener: ROM device ranges balanced\n");
    return failures ? 1 : 0;
}
