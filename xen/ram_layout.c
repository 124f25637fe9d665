/*
 * xen/ram_layout.c — where an HVM guest's RAM sits in guest-physical space.
 *
 * Xen's toolstack (libxl__build_hvm) puts the first part of the RAM at 0 up to the
 * start of the PCI hole below 4 GiB (0xf0000000 = HVM_BELOW_4G_RAM_END, lower when
 * xl's mmio_hole makes the hole bigger) and the rest from 4 GiB. QEMU-xen serves it
 * with one RAM block of 4 GiB + the high part, seen through two aliases, so that
 * ram_addr == guest physical for both parts and the hole's range of the block is never
 * used; it learns the split from max-ram-below-4g, which libxl passes as
 * 4 GiB - mmio_hole, clamped to HVM_BELOW_4G_RAM_END. This file computes the same
 * split from the same inputs; the machine builds the block and aliases from it.
 */
#include "xen/xen_dm.h"

#include <errno.h>
#include <inttypes.h>
#include <xen/hvm/e820.h>

#define MIB (1ull << 20)

int xen_ram_check_below_4g(uint64_t max_below_4g, Error **errp)
{
    if (max_below_4g > HVM_BELOW_4G_RAM_END || max_below_4g < MIB ||
        max_below_4g % RAM_PAGE_SIZE) {
        error_setg(errp, "0x%" PRIx64 " bytes of RAM below 4 GiB: expected a multiple of "
                   "4 KiB from 1 MiB to 0x%llx (the start of Xen's PCI hole)", max_below_4g,
                   (unsigned long long)HVM_BELOW_4G_RAM_END);
        return -EINVAL;
    }
    return 0;
}

int xen_ram_below_4g_of_hole(uint64_t mmio_hole, uint64_t *max_below_4g, Error **errp)
{
    if (mmio_hole >= XEN_RAM_HIGH_BASE) {
        error_setg(errp, "a PCI hole of 0x%" PRIx64 " bytes leaves no RAM below 4 GiB",
                   mmio_hole);
        return -EINVAL;
    }
    int ret = xen_ram_check_below_4g(XEN_RAM_HIGH_BASE - mmio_hole, errp);
    if (ret == 0)
        *max_below_4g = XEN_RAM_HIGH_BASE - mmio_hole;
    return ret;
}

int xen_ram_layout_compute(uint64_t ram_bytes, uint64_t max_below_4g, XenRamLayout *out,
                           Error **errp)
{
    if (max_below_4g == 0)
        max_below_4g = HVM_BELOW_4G_RAM_END;
    int ret = xen_ram_check_below_4g(max_below_4g, errp);
    if (ret < 0)
        return ret;
    if (ram_bytes == 0 || ram_bytes % RAM_PAGE_SIZE ||
        ram_bytes > UINT64_MAX - XEN_RAM_HIGH_BASE) {
        error_setg(errp, "0x%" PRIx64 " bytes of guest RAM: expected a non-zero multiple "
                   "of 4 KiB", ram_bytes);
        return -EINVAL;
    }
    XenRamLayout l = { .below_4g = ram_bytes, .block_size = ram_bytes };
    if (ram_bytes > max_below_4g) {
        l.below_4g = max_below_4g;
        l.above_4g = ram_bytes - max_below_4g;
        l.block_size = XEN_RAM_HIGH_BASE + l.above_4g;  /* the hole's part stays unused */
    }
    *out = l;
    return 0;
}

uint64_t xen_ram_size_of_populated(uint64_t populated_bytes)
{
    return (populated_bytes + MIB - 1) & ~(MIB - 1);
}
