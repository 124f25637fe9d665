/*
 * xen/ram_layout.c — where a guest's RAM sits in guest-physical space.
 *
 * Xen's toolstack (libxl__build_hvm) puts the first part of the RAM at 0 up to the
 * start of the PCI hole below 4 GiB (0xf0000000 = HVM_BELOW_4G_RAM_END, lower when
 * xl's mmio_hole makes the hole bigger) and the rest from 4 GiB. QEMU-xen serves it
 * with one RAM block of 4 GiB + the high part, seen through two aliases, so that
 * ram_addr == guest physical for both parts and the hole's range of the block is never
 * used; it learns the split from max-ram-below-4g, which libxl passes as
 * 4 GiB - mmio_hole, clamped to HVM_BELOW_4G_RAM_END. This file computes the same
 * split from the same inputs; the machine builds the block and aliases from it.
 *
 * On Arm the banks are fixed (libxl_arm.c, Xen's public arch-arm.h): up to 3 GiB from
 * 1 GiB, the rest from 8 GiB; there is no hole to size and no option to move them.
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

/* A size both layouts can take: non-zero, whole pages, below limit. */
static int check_ram_bytes(uint64_t ram_bytes, uint64_t limit, Error **errp)
{
    if (ram_bytes == 0 || ram_bytes % RAM_PAGE_SIZE || ram_bytes > limit) {
        error_setg(errp, "0x%" PRIx64 " bytes of guest RAM: expected a non-zero multiple "
                   "of 4 KiB up to 0x%" PRIx64, ram_bytes, limit);
        return -EINVAL;
    }
    return 0;
}

/* Two banks: the first up to first_max bytes, the rest in the second. */
static void layout_banks(uint64_t ram_bytes, uint64_t base0, uint64_t first_max,
                         uint64_t base1, XenRamLayout *out)
{
    uint64_t first = ram_bytes < first_max ? ram_bytes : first_max;
    *out = (XenRamLayout){ .bank = { { base0, first }, { base1, ram_bytes - first } } };
    out->block_size = ram_bytes > first ? base1 + ram_bytes - first : base0 + first;
}

int xen_ram_layout_compute(uint64_t ram_bytes, uint64_t max_below_4g, XenRamLayout *out,
                           Error **errp)
{
    if (max_below_4g == 0)
        max_below_4g = HVM_BELOW_4G_RAM_END;
    int ret = xen_ram_check_below_4g(max_below_4g, errp);
    if (ret == 0)
        ret = check_ram_bytes(ram_bytes, UINT64_MAX - XEN_RAM_HIGH_BASE, errp);
    if (ret == 0)
        layout_banks(ram_bytes, 0, max_below_4g, XEN_RAM_HIGH_BASE, out);
    return ret;
}

int xen_ram_layout_arm(uint64_t ram_bytes, XenRamLayout *out, Error **errp)
{
    int ret = check_ram_bytes(ram_bytes, XEN_ARM_RAM0_SIZE + XEN_ARM_RAM1_SIZE, errp);
    if (ret == 0)
        layout_banks(ram_bytes, XEN_ARM_RAM0_BASE, XEN_ARM_RAM0_SIZE, XEN_ARM_RAM1_BASE, out);
    return ret;
}

uint64_t xen_ram_size_of_populated(uint64_t populated_bytes)
{
    return (populated_bytes + MIB - 1) & ~(MIB - 1);
}
