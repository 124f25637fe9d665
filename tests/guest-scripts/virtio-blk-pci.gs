# The virtio block device on PCI (xendm --device virtio-blk-pci,slot=5,file=IMAGE,
# serial=xendm-disk-0) over a 1 MiB image, as Linux's virtio_pci finds it: the vendor
# capabilities (common, ISR, notify, device configuration) and MSI-X, BAR 0 placed and
# enabled, the capacity read through the device-configuration window, MSI-X turned on
# with a vector for the queue; then a write of sector 7, a flush and a read back, each
# completion arriving as the queue vector's message. --param slot=N: the device's slot.
param $slot = 5
$cfg   = 0x80000000 | ($slot << 11)            # bus 0, slot $slot, function 0
$bar   = 0xe2000000
$desc  = 0x20000
$avail = 0x21000
$used  = 0x22000
$hdr   = 0x23000
$st    = 0x23100
$data  = 0x24000
$back  = 0x25000

out 0xcf8, 4, $cfg | 0x00
in  0xcfc, 4 == 0x10421af4                     # virtio, device type 2 (block)
out 0xcf8, 4, $cfg | 0x60
in  0xcfc, 4 == 0x02147809                     # notify cap, next 0x78
out 0xcf8, 4, $cfg | 0x78
in  0xcfc, 4 == 0x04108809                     # device configuration, next 0x88 (MSI-X)
out 0xcf8, 4, $cfg | 0x80
in  0xcfc, 4 == 0x3000                         # at BAR 0 + 0x3000
out 0xcf8, 4, $cfg | 0x88
in  0xcfc, 4 == 0x00010011                     # MSI-X, 2 vectors (queue, config), off

out 0xcf8, 4, $cfg | 0x10
out 0xcfc, 4, $bar
out 0xcf8, 4, $cfg | 0x04
out 0xcfc, 2, 0x0006                           # memory decode + bus master

mmio-read  $bar + 0x3000, 4 == 2048            # capacity, low half
mmio-read  $bar + 0x3004, 4 == 0
mmio-read  $bar + 0x3022, 2 == 1               # num_queues

mmio-write $bar + 0x14, 1, 0
mmio-write $bar + 0x14, 1, 3
mmio-write $bar + 0x08, 4, 0
mmio-write $bar + 0x0c, 4, 0x200               # FLUSH
mmio-write $bar + 0x08, 4, 1
mmio-write $bar + 0x0c, 4, 1                   # VERSION_1
mmio-write $bar + 0x14, 1, 11
mmio-read  $bar + 0x14, 1 == 11
fill $desc, 0x3000, 0
mmio-write $bar + 0x16, 2, 0
mmio-write $bar + 0x18, 2, 8
mmio-write $bar + 0x20, 4, $desc
mmio-write $bar + 0x24, 4, 0
mmio-write $bar + 0x28, 4, $avail
mmio-write $bar + 0x2c, 4, 0
mmio-write $bar + 0x30, 4, $used
mmio-write $bar + 0x34, 4, 0

# MSI-X: function masked while the table is programmed; vector 0 for the queue.
$table = $bar + 0x4000
out 0xcf8, 4, $cfg | 0x88
out 0xcfc, 4, 0xc0000000
mmio-write $table + 0x00, 4, 0xfee00000
mmio-write $table + 0x04, 4, 0
mmio-write $table + 0x08, 4, 0x4031
mmio-write $table + 0x0c, 4, 0
mmio-write $bar + 0x1a, 2, 0                   # queue_msix_vector
mmio-read  $bar + 0x1a, 2 == 0
out 0xcfc, 4, 0x80000000                       # function mask off
mmio-write $bar + 0x1c, 2, 1                   # queue_enable
mmio-write $bar + 0x14, 1, 15
mmio-read  $bar + 0x1e, 2 -> $noff

poke $desc + 0x00, 8, $hdr
poke $desc + 0x08, 4, 16
poke $desc + 0x0c, 2, 1
poke $desc + 0x0e, 2, 1
poke $desc + 0x20, 8, $st
poke $desc + 0x28, 4, 1
poke $desc + 0x2c, 2, 2

# write sector 7
fill $data, 512, 0xc3
poke $hdr, 4, 1
poke $hdr + 8, 8, 7
poke $desc + 0x10, 8, $data
poke $desc + 0x18, 4, 512
poke $desc + 0x1c, 2, 1
poke $desc + 0x1e, 2, 2
poke $st, 1, 0xee
poke $avail + 4, 2, 0
poke $avail + 2, 2, 1
mmio-write $bar + 0x2000 + 4 * $noff, 2, 0
wait-irq msi data 0x4031 addr 0xfee00000
peek $used + 2, 2 == 1
peek $st, 1 == 0
irq-level intx 0, $slot, a == 0                   # INTA stays low under MSI-X

# flush
poke $hdr, 4, 4
poke $desc + 0x0e, 2, 2
poke $st, 1, 0xee
poke $avail + 6, 2, 0
poke $avail + 2, 2, 2
mmio-write $bar + 0x2000 + 4 * $noff, 2, 0
wait-irq msi data 0x4031 addr 0xfee00000
peek $st, 1 == 0

# read it back
fill $back, 512, 0
poke $hdr, 4, 0
poke $desc + 0x0e, 2, 1
poke $desc + 0x10, 8, $back
poke $desc + 0x1c, 2, 3
poke $st, 1, 0xee
poke $avail + 8, 2, 0
poke $avail + 2, 2, 3
mmio-write $bar + 0x2000 + 4 * $noff, 2, 0
wait-irq msi data 0x4031 addr 0xfee00000
peek $used + 2, 2 == 3
peek $st, 1 == 0
compare $back, 512, 0xc3
