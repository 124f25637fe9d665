/*
 * dm/machines.c — the machines xendm can present to a guest, one chosen at start-up.
 *
 * A machine description says what the guest's platform has, so that dm/machine.c
 * builds one machine from data rather than from #ifdefs: an x86 HVM guest has ports
 * (the UART), PCI through 0xcf8/0xcfc, ISA interrupt lines and a buffered ioreq ring;
 * an Arm guest has none of these. There Xen forwards only MMIO, refuses a buffered ring
 * (ioreq_server_create: -EINVAL outside x86) and takes a device's interrupt as a GIC
 * shared peripheral interrupt (xendevicemodel_set_irq_level), and libxl places each
 * virtio-mmio device in a window of 0x200 bytes from GUEST_VIRTIO_MMIO_BASE with one
 * SPI from GUEST_VIRTIO_MMIO_SPI_FIRST to _LAST (Xen's public arch-arm.h, libxl_arm.c).
 * The default is the build's own architecture.
 */
#include "dm/dm.h"

#include <string.h>

#include "util/macros.h"

static const char *const x86_default_devices[] = { "uart", "pci-testdev" };

/* x86 has no toolstack placement for virtio-mmio: xendm's own defaults live in the
 * megabyte below the IOAPIC (0xfec00000), and ISA lines 3 to 15 are free for them. */
const DmMachineDesc dm_machine_x86 = {
    .name = "x86",
    .help = "x86 HVM: ports, PCI bus 0, ISA interrupt lines, a buffered ioreq ring",
    .port_io = true, .pci = true, .buffered_ioreqs = true, .irq_spi = false,
    .default_devices = x86_default_devices,
    .nr_default_devices = ARRAY_SIZE(x86_default_devices),
    .virtio_mmio_base = 0xfeb00000ull, .virtio_mmio_size = 0x100000ull,
    .virtio_irq_first = 3, .virtio_irq_last = 15,
    .ram_layout = DM_RAM_X86_HVM,
};

const DmMachineDesc dm_machine_arm = {
    .name = "arm",
    .help = "Arm guest: MMIO only, no PCI, interrupts are GIC SPIs, no buffered ring",
    .port_io = false, .pci = false, .buffered_ioreqs = false, .irq_spi = true,
    .default_devices = NULL, .nr_default_devices = 0,
    .virtio_mmio_base = 0x02000000ull,      /* GUEST_VIRTIO_MMIO_BASE */
    .virtio_mmio_size = 0x00100000ull,      /* GUEST_VIRTIO_MMIO_SIZE */
    .virtio_irq_first = 33,                 /* GUEST_VIRTIO_MMIO_SPI_FIRST */
    .virtio_irq_last = 43,                  /* GUEST_VIRTIO_MMIO_SPI_LAST */
    .ram_layout = DM_RAM_ARM_BANKS,         /* GUEST_RAM0_BASE, GUEST_RAM1_BASE */
};

static const DmMachineDesc *const machines[] = { &dm_machine_x86, &dm_machine_arm };

const DmMachineDesc *dm_machine_find(const char *name)
{
    for (unsigned i = 0; i < ARRAY_SIZE(machines); i++)
        if (strcmp(machines[i]->name, name) == 0)
            return machines[i];
    return NULL;
}

const DmMachineDesc *dm_machine_default(void)
{
#if defined(__aarch64__) || defined(__arm__)
    return &dm_machine_arm;
#else
    return &dm_machine_x86;
#endif
}
