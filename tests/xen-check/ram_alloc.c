/*
 * tests/xen-check/ram_alloc.c — drive the Xen RAM backend against mockxen (or Xen).
 *
 * Usage: ram_alloc DOMID SIZE_KIB
 * Creates a RAM region of SIZE_KIB with the Xen RAM backend (no mapcache: nothing is
 * accessed): its frames must be populated through xc_domain_populate_physmap_exact. On
 * failure it prints the error, checks that no half-added block was left behind, and
 * exits 1. Used by tests/integration/xendm_ram.sh with mockxen's fault injection.
 */
#include <stdio.h>
#include <stdlib.h>

#include "memory/memory.h"
#include "xen/xen_dm.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DOMID SIZE_KIB\n", argv[0]);
        return 2;
    }
    Error *err = NULL;
    XenDMConfig cfg = { .domid = (uint32_t)strtoul(argv[1], NULL, 0) };
    XenDM *xd = xen_dm_open(&cfg, &err);
    if (!xd) {
        fprintf(stderr, "ram_alloc: %s\n", error_get_pretty(err));
        error_free(err);
        return 1;
    }
    XenRam *xr = xen_ram_new(xd, NULL, &err);
    if (!xr) {
        fprintf(stderr, "ram_alloc: %s\n", error_get_pretty(err));
        error_free(err);
        xen_dm_close(xd);
        return 1;
    }
    RamBackend backend = xen_ram_backend(xr);
    MemoryRegion vram;
    uint64_t size = strtoull(argv[2], NULL, 0) << 10;
    int status = 0;
    if (memory_region_init_ram_backed(&vram, "/machine", "vram", size, &backend, &err) < 0) {
        fprintf(stderr, "ram_alloc: %s\n", error_get_pretty(err));
        error_free(err);
        if (ram_list_first() || last_ram_offset() != 0) {
            fprintf(stderr, "ram_alloc: a failed allocation left a block behind\n");
            status = 3;
        } else {
            status = 1;
        }
    } else {
        printf("ram_alloc: '%s' at ram_addr 0x%llx, %llu KiB, host %p\n", vram.name,
               (unsigned long long)memory_region_get_ram_addr(&vram),
               (unsigned long long)(size >> 10), memory_region_get_ram_ptr(&vram));
        memory_region_finalize(&vram);
    }
    xen_ram_free(xr);
    xen_dm_close(xd);
    return status;
}
