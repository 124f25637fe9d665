# The virtio entropy device on PCI (xendm --device virtio-rng-pci,slot=4), found and
# driven the way Linux's virtio_pci does: vendor/device ID and the vendor capability
# list in config space, BAR 0 placed and enabled, negotiation through the common
# configuration (each field at its own width), a 4-entry queue set up with 32-bit
# halves, a kick through the notify area, INTA until the ISR byte is read. Then
# MSI-X: enabled in config space with the function masked while the table in BAR 0 is
# programmed, a vector for configuration changes and one for the queue; a kick is
# now a message with the queue vector's address and data (INTA stays low), and a
# masked vector's message waits in the pending bits until it is unmasked.
$cfg   = 0x80000000 | (4 << 11)                # bus 0, slot 4, function 0
$bar   = 0xe2000000
$desc  = 0x20000
$avail = 0x21000
$used  = 0x22000
$buf   = 0x23000

out 0xcf8, 4, $cfg | 0x00
in  0xcfc, 4 == 0x10441af4                     # virtio, device type 4 (entropy)
out 0xcf8, 4, $cfg | 0x04
in  0xcfc, 4 -> $cmdsts
expect ($cmdsts >> 16) & 0x10 == 0x10          # capability list present
out 0xcf8, 4, $cfg | 0x34
in  0xcfc, 1 == 0x40                           # first capability
out 0xcf8, 4, $cfg | 0x40
in  0xcfc, 4 == 0x01105009                     # vendor cap, next 0x50, len 16, common cfg
out 0xcf8, 4, $cfg | 0x60
in  0xcfc, 4 == 0x02148809                     # vendor cap, next 0x88, len 20, notify
out 0xcf8, 4, $cfg | 0x70
in  0xcfc, 4 == 4                              # notify_off_multiplier
out 0xcf8, 4, $cfg | 0x88
in  0xcfc, 4 == 0x00010011                     # MSI-X, last, 2 vectors, disabled
out 0xcf8, 4, $cfg | 0x8c
in  0xcfc, 4 == 0x4000                         # table at BAR 0 + 0x4000
out 0xcf8, 4, $cfg | 0x90
in  0xcfc, 4 == 0x5000                         # pending bits at BAR 0 + 0x5000

out 0xcf8, 4, $cfg | 0x10                      # BAR 0
out 0xcfc, 4, $bar
out 0xcf8, 4, $cfg | 0x04
out 0xcfc, 2, 0x0006                           # memory decode + bus master

mmio-write $bar + 0x14, 1, 0                   # device_status: reset
mmio-write $bar + 0x14, 1, 3
mmio-write $bar + 0x00, 4, 1                   # device_feature_select
mmio-read  $bar + 0x04, 4 == 1                 # VIRTIO_F_VERSION_1
mmio-write $bar + 0x08, 4, 1
mmio-write $bar + 0x0c, 4, 1
mmio-write $bar + 0x14, 1, 11                  # FEATURES_OK
mmio-read  $bar + 0x14, 1 == 11
mmio-read  $bar + 0x12, 2 == 1                 # num_queues
fill $desc, 0x3000, 0
fill $buf, 64, 0
mmio-write $bar + 0x16, 2, 0                   # queue_select
mmio-read  $bar + 0x18, 2 == 64                # queue_size: the maximum
mmio-write $bar + 0x18, 2, 4
mmio-write $bar + 0x20, 4, $desc
mmio-write $bar + 0x24, 4, 0
mmio-write $bar + 0x28, 4, $avail
mmio-write $bar + 0x2c, 4, 0
mmio-write $bar + 0x30, 4, $used
mmio-write $bar + 0x34, 4, 0
mmio-write $bar + 0x1c, 2, 1                   # queue_enable
mmio-write $bar + 0x14, 1, 15                  # DRIVER_OK

poke $desc, 8, $buf                            # one 64-byte device-writable buffer
poke $desc + 8, 4, 64
poke $desc + 12, 2, 2
poke $avail + 4, 2, 0
poke $avail + 2, 2, 1
mmio-read  $bar + 0x1e, 2 -> $noff             # queue_notify_off
mmio-write $bar + 0x2000 + 4 * $noff, 2, 0     # kick

peek $used + 2, 2 == 1
peek $used + 8, 4 == 64
peek $buf, 8 -> $a
peek $buf + 8, 8 -> $b
expect ($a | $b) != 0
wait-irq intx 0, 4, a
mmio-read $bar + 0x1000, 1 == 1                # ISR: used buffers; reading clears it
irq-level intx 0, 4, a == 0

# ---- MSI-X ----
$table = $bar + 0x4000
$pba   = $bar + 0x5000
out 0xcf8, 4, $cfg | 0x88
out 0xcfc, 4, 0xc0000000                       # MSI-X enable + function mask
mmio-read  $table + 0x0c, 4 == 1               # every vector masked after reset
mmio-write $table + 0x00, 4, 0xfee00000        # vector 0: configuration changes
mmio-write $table + 0x04, 4, 0
mmio-write $table + 0x08, 4, 0x4021
mmio-write $table + 0x0c, 4, 0
mmio-write $table + 0x10, 4, 0xfee01000        # vector 1: the queue
mmio-write $table + 0x14, 4, 0
mmio-write $table + 0x18, 4, 0x4022
mmio-write $table + 0x1c, 4, 0
mmio-read  $table + 0x10, 8 == 0xfee01000      # a qword read of the address
mmio-write $bar + 0x10, 2, 0                   # msix_config
mmio-read  $bar + 0x10, 2 == 0
mmio-write $bar + 0x16, 2, 0
mmio-write $bar + 0x1a, 2, 1                   # queue_msix_vector
mmio-read  $bar + 0x1a, 2 == 1
mmio-write $bar + 0x1a, 2, 2                   # beyond the table: refused
mmio-read  $bar + 0x1a, 2 == 0xffff
mmio-write $bar + 0x1a, 2, 1
out 0xcfc, 4, 0x80000000                       # function mask off
count xendevicemodel_inject_msi -> $msis0

poke $avail + 6, 2, 0                          # descriptor 0 again
poke $avail + 2, 2, 2
mmio-write $bar + 0x2000 + 4 * $noff, 2, 0
peek $used + 2, 2 == 2
wait-irq msi data 0x4022 addr 0xfee01000
irq-level intx 0, 4, a == 0                    # INTA stays low under MSI-X
mmio-read $bar + 0x1000, 1 == 0                # and the ISR is not used

mmio-write $table + 0x1c, 4, 1                 # mask the queue's vector
poke $avail + 8, 2, 0
poke $avail + 2, 2, 3
mmio-write $bar + 0x2000 + 4 * $noff, 2, 0
peek $used + 2, 2 == 3
mmio-read $pba, 4 == 2                         # vector 1 pending, nothing sent
expect-count xendevicemodel_inject_msi == $msis0 + 1
mmio-write $table + 0x1c, 4, 0                 # unmasked: the message goes out
wait-irq msi data 0x4022 addr 0xfee01000
mmio-read $pba, 4 == 0
irq-level intx 0, 4, a == 0
