# A virtio-mmio disk that xendm serves from xenstore (--xenstore-devices), at the window
# and interrupt libxl wrote: $base, $irq, an ISA line on x86 or ($arm = 1) an SPI on
# Arm, where the guest has only MMIO. Probe, negotiate VERSION_1, set up an 8-entry
# queue, write sector 5 with 0x5a and read it back. With $removed = 1 (x86 only) the
# guest then waits for the device to go (the test removes it through xenstore): its
# window reads as unclaimed, all ones; and then for xendm to stop (its UART's line
# status reads all ones), so that xenstore is still there while the test reads it.
# The rings and buffers are in the guest RAM from $ram + 0x20000 (an Arm guest's RAM
# starts at 0x40000000).
param $base
param $irq
param $arm = 0
param $ram = 0
param $removed = 0
$desc  = $ram + 0x20000
$avail = $ram + 0x21000
$used  = $ram + 0x22000
$hdr   = $ram + 0x23000
$st    = $ram + 0x23100
$data  = $ram + 0x24000
$back  = $ram + 0x25000

mmio-read $base + 0x000, 4 == 0x74726976       # "virt"
mmio-read $base + 0x004, 4 == 2
mmio-read $base + 0x008, 4 == 2                # block device
mmio-write $base + 0x070, 4, 0
mmio-write $base + 0x070, 4, 3
mmio-write $base + 0x024, 4, 1
mmio-write $base + 0x020, 4, 1                 # VERSION_1
mmio-write $base + 0x070, 4, 11
mmio-read  $base + 0x070, 4 == 11
mmio-read  $base + 0x100, 4 == 2048            # 1 MiB in 512-byte sectors

fill $desc, 0x3000, 0
mmio-write $base + 0x030, 4, 0
mmio-write $base + 0x038, 4, 8
mmio-write $base + 0x080, 4, $desc
mmio-write $base + 0x090, 4, $avail
mmio-write $base + 0x0a0, 4, $used
mmio-write $base + 0x044, 4, 1
mmio-write $base + 0x070, 4, 15

poke $desc + 0x00, 8, $hdr                     # header, data, status
poke $desc + 0x08, 4, 16
poke $desc + 0x0c, 2, 1
poke $desc + 0x0e, 2, 1
poke $desc + 0x18, 4, 512
poke $desc + 0x1e, 2, 2
poke $desc + 0x20, 8, $st
poke $desc + 0x28, 4, 1
poke $desc + 0x2c, 2, 2                        # WRITE (the device writes it)

# write sector 5
fill $data, 512, 0x5a
poke $hdr, 4, 1                                # VIRTIO_BLK_T_OUT
poke $hdr + 8, 8, 5
poke $desc + 0x10, 8, $data
poke $desc + 0x1c, 2, 1
poke $st, 1, 0xee
poke $avail + 4, 2, 0
poke $avail + 2, 2, 1
mmio-write $base + 0x050, 4, 0
if $arm { wait-irq spi $irq } else { wait-irq isa $irq }
mmio-read  $base + 0x060, 4 == 1
mmio-write $base + 0x064, 4, 1
peek $used + 2, 2 == 1
peek $st, 1 == 0

# read it back
fill $back, 512, 0
poke $hdr, 4, 0                                # VIRTIO_BLK_T_IN
poke $desc + 0x10, 8, $back
poke $desc + 0x1c, 2, 3                        # NEXT | WRITE
poke $st, 1, 0xee
poke $avail + 6, 2, 0
poke $avail + 2, 2, 2
mmio-write $base + 0x050, 4, 0
if $arm { wait-irq spi $irq } else { wait-irq isa $irq }
mmio-write $base + 0x064, 4, 1
peek $used + 2, 2 == 2
peek $st, 1 == 0
compare $back, 512, 0x5a

if $removed {
    $magic = 0
    while $magic != 0xffffffff timeout 20s {
        sleep 20ms
        mmio-read $base, 4 -> $magic
    }
    $lsr = 0
    while $lsr != 0xff timeout 20s {
        sleep 20ms
        in 0x3fd, 1 -> $lsr
    }
}
