/*
 * tests/fuzz/fuzz_buffered_ring.c — a hostile buffered ioreq page.
 *
 * The input becomes the buffered page's contents — both ring pointers and all 511
 * slots — and the ring is drained into a small machine (RAM, the UART, a VGA-like
 * MMIO window at 0xa0000), as if Xen had published garbage. Draining must stop at
 * what was published, never read outside the page and leave the pointers sane.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "devices/device.h"
#include "devices/irq.h"
#include "memory/memory.h"
#include "tests/fuzz/fuzz.h"
#include "util/log.h"
#include "xen/xen-internal.h"

static uint64_t vga_read(void *opaque, hwaddr addr, unsigned size) { return addr; }
static void vga_write(void *opaque, hwaddr addr, uint64_t data, unsigned size) { }

static const MemoryRegionOps vga_ops = {
    .read = vga_read, .write = vga_write, .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 1, .max_access_size = 8 },
};

static int irq_isa(void *opaque, unsigned irq, bool level) { return 0; }

static XenDM *machine(void)
{
    static MemoryRegion sys, io, ram, vga;
    static AddressSpace as_mem, as_io;
    static IrqRouter irq = { .set_isa_irq = irq_isa };
    static XenDM *xd;
    if (xd)
        return xd;
    log_set_level(LOG_ERROR);
    memory_region_init(&sys, "/machine", "system", UINT64_MAX);
    memory_region_init(&io, "/machine", "io", 0x10000);
    memory_region_init_io(&vga, "/machine", &vga_ops, NULL, "vga", 0x20000);
    DeviceBoard board = { .system_memory = &sys, .system_io = &io, .dma_as = &as_mem,
                          .irq = &irq };
    if (memory_region_init_ram(&ram, "/machine", "ram", 0x80000, NULL) < 0 ||
        memory_region_add_subregion(&sys, 0, &ram, NULL) < 0 ||
        memory_region_add_subregion(&sys, 0xa0000, &vga, NULL) < 0 ||
        address_space_init(&as_mem, &sys, "memory", NULL) < 0 ||
        address_space_init(&as_io, &io, "I/O", NULL) < 0 ||
        !device_create(&board, "uart,chardev=null", NULL))
        abort();
    xd = calloc(1, sizeof(*xd));
    xd->buffered_page = aligned_alloc(4096, 4096);
    if (!xd || !xd->buffered_page)
        abort();
    xd->exec.as_mem = &as_mem;
    xd->exec.as_io = &as_io;
    return xd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    XenDM *xd = machine();
    buffered_iopage_t *page = xd->buffered_page;
    memset(page, 0, 4096);
    memcpy(page, data, size < sizeof(*page) ? size : sizeof(*page));
    xen_ioreq_drain_buffered(xd);
    uint32_t rp = page->read_pointer, wp = page->write_pointer;
    /* Either everything published was consumed, or only an unpaired half is left. */
    if (wp - rp > 1)
        abort();
    return 0;
}
