/*
 * bench/bench_devices.c — the cost of the emulated devices' hot paths, as the ioreq loop
 * reaches them (the ioreq round trip through Xen or mockxen is not included):
 *   devices.uart_thr_write_ns    one byte written to the 16550A THR through the I/O space
 *   devices.pci_config_read_ns   one 4-byte IOREQ_TYPE_PCI_CONFIG read from the PCI host
 *   devices.testdev_dma_4k_ns    one 4 KiB pci-testdev DMA buffer → guest RAM, started by
 *                                an MMIO write (address_space_rw + dirty log included)
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench/support.h"
#include "devices/device.h"
#include "devices/irq.h"
#include "devices/pci.h"

static int fake_irq(void *opaque, unsigned irq, bool level) { return 0; }
static int fake_intx(void *opaque, uint32_t sbdf, unsigned intx, bool level) { return 0; }
static int fake_msi(void *opaque, uint64_t addr, uint32_t data) { return 0; }

static void die(const char *what, Error *err)
{
    fprintf(stderr, "bench_devices: %s: %s\n", what, error_get_pretty(err));
    exit(1);
}

int main(void)
{
    static MemoryRegion mem, io, ram;
    static AddressSpace as_mem, as_io;
    static const IrqRouter router = { .set_isa_irq = fake_irq, .set_pci_intx = fake_intx,
                                      .inject_msi = fake_msi };
    Error *err = NULL;
    memory_region_init(&mem, NULL, "system", UINT64_MAX);
    memory_region_init(&io, NULL, "io", 0x10000);
    if (memory_region_init_ram(&ram, NULL, "ram", 1 << 20, &err) < 0 ||
        memory_region_add_subregion(&mem, 0, &ram, &err) < 0 ||
        address_space_init(&as_mem, &mem, "memory", &err) < 0 ||
        address_space_init(&as_io, &io, "io", &err) < 0)
        die("memory set-up", err);
    PciHost *host = pci_host_new(&mem, &io, &router, 0, &err);
    if (!host)
        die("pci host", err);
    DeviceBoard board = { .system_memory = &mem, .system_io = &io, .dma_as = &as_mem,
                          .irq = &router, .pci = host };
    Device *uart = device_create(&board, "uart,chardev=null", &err);
    Device *td = uart ? device_create(&board, "pci-testdev,slot=3", &err) : NULL;
    if (!td)
        die("devices", err);
    uint32_t sbdf = PCI_SBDF(0, 0, PCI_DEVFN(3, 0));
    pci_host_config_write(host, sbdf, 0x10, 4, 0xe0000000);
    pci_host_config_write(host, sbdf, 0x04, 2, 0x6);        /* memory decode, bus master */

    const unsigned long n_uart = 2000000, n_cfg = 5000000, n_dma = 200000;
    MemTxResult r = MEMTX_OK;
    double t0 = bench_wall_ns();
    for (unsigned long i = 0; i < n_uart; i++)
        address_space_stb(&as_io, 0x3f8, (uint8_t)i, MEMTXATTRS_UNSPECIFIED, &r);
    double uart_ns = (bench_wall_ns() - t0) / n_uart;

    volatile uint32_t sink = 0;
    t0 = bench_wall_ns();
    for (unsigned long i = 0; i < n_cfg; i++)
        sink += pci_host_config_read(host, sbdf, (uint32_t)(i & 0x3c), 4);
    double cfg_ns = (bench_wall_ns() - t0) / n_cfg;

    address_space_stq_le(&as_mem, 0xe0000010, 0, MEMTXATTRS_UNSPECIFIED, &r);      /* src */
    address_space_stq_le(&as_mem, 0xe0000020, 4096, MEMTXATTRS_UNSPECIFIED, &r);   /* count */
    t0 = bench_wall_ns();
    for (unsigned long i = 0; i < n_dma; i++) {
        address_space_stq_le(&as_mem, 0xe0000018, (i & 0xff) << 12, MEMTXATTRS_UNSPECIFIED,
                             &r);
        address_space_stl_le(&as_mem, 0xe0000028, 0x3, MEMTXATTRS_UNSPECIFIED, &r);
    }
    double dma_ns = (bench_wall_ns() - t0) / n_dma;
    if (r != MEMTX_OK || address_space_ldl_le(&as_mem, 0xe0000008, MEMTXATTRS_UNSPECIFIED,
                                              &r) != 1) {
        fprintf(stderr, "bench_devices: an access or the DMA failed\n");
        return 1;
    }

    printf("row\tdevices.uart_thr_write_ns\t%.1f\tns\tinformational: one THR byte via "
           "address_space_stb, no ioreq round trip\n", uart_ns);
    printf("row\tdevices.pci_config_read_ns\t%.1f\tns\tinformational: one 4-byte "
           "PCI_CONFIG read in the PCI host\n", cfg_ns);
    printf("row\tdevices.testdev_dma_4k_ns\t%.0f\tns\tinformational: 4 KiB DMA to RAM "
           "(%.2f GB/s) incl. register writes\n", dma_ns, 4096 / dma_ns);

    device_destroy(td);
    device_destroy(uart);
    pci_host_free(host);
    address_space_destroy(&as_mem);
    address_space_destroy(&as_io);
    memory_region_del_subregion(&mem, &ram, NULL);
    memory_region_finalize(&ram);
    return 0;
}
