# The virtio entropy device on virtio-mmio (xendm --device virtio-rng: 0xfeb00000,
# IRQ 5), driven the way a virtio 1.x driver does: probe, negotiate VERSION_1, lay out
# a 4-entry split queue in guest RAM, post a two-buffer chain, kick, and read the used
# ring. The device writes random bytes into the buffers through its DMA path
# (mockxen's foreign mappings) and raises IRQ 5.
$base  = 0xfeb00000
$desc  = 0x20000
$avail = 0x21000
$used  = 0x22000
$buf   = 0x23000

mmio-read $base + 0x000, 4 == 0x74726976       # "virt"
mmio-read $base + 0x004, 4 == 2                # version 2 (virtio 1.x)
mmio-read $base + 0x008, 4 == 4                # entropy source

mmio-write $base + 0x070, 4, 0                 # reset
mmio-write $base + 0x070, 4, 3                 # ACKNOWLEDGE | DRIVER
mmio-write $base + 0x014, 4, 1
mmio-read  $base + 0x010, 4 == 1               # offers VIRTIO_F_VERSION_1
mmio-write $base + 0x024, 4, 1
mmio-write $base + 0x020, 4, 1                 # accepts it
mmio-write $base + 0x070, 4, 11                # ... | FEATURES_OK
mmio-read  $base + 0x070, 4 == 11

fill $desc, 0x3000, 0
fill $buf, 256, 0
mmio-write $base + 0x030, 4, 0                 # queue 0
mmio-read  $base + 0x034, 4 == 64
mmio-write $base + 0x038, 4, 4
mmio-write $base + 0x080, 4, $desc
mmio-write $base + 0x090, 4, $avail
mmio-write $base + 0x0a0, 4, $used
mmio-write $base + 0x044, 4, 1
mmio-write $base + 0x070, 4, 15                # ... | DRIVER_OK

poke $desc + 0x00, 8, $buf                     # descriptor 0: 64 bytes, NEXT | WRITE
poke $desc + 0x08, 4, 64
poke $desc + 0x0c, 2, 3
poke $desc + 0x0e, 2, 1
poke $desc + 0x10, 8, $buf + 0x80              # descriptor 1: 32 bytes, WRITE
poke $desc + 0x18, 4, 32
poke $desc + 0x1c, 2, 2
poke $avail + 4, 2, 0                          # ring[0] = head 0
poke $avail + 2, 2, 1                          # idx = 1
mmio-write $base + 0x050, 4, 0                 # notify queue 0

peek $used + 2, 2 == 1                         # one used element
peek $used + 4, 4 == 0                         # id: head 0
peek $used + 8, 4 == 96                        # len: both buffers
peek $buf, 8 -> $a
peek $buf + 8, 8 -> $b
expect ($a | $b) != 0                          # random, not zeros (p = 2^-128)
compare $buf + 0x40, 0x40, 0                   # nothing between the two buffers
wait-irq isa 5
mmio-read  $base + 0x060, 4 == 1               # used-buffer interrupt
mmio-write $base + 0x064, 4, 1                 # acknowledge
irq-level isa 5 == 0
