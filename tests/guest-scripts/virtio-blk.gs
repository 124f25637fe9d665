# The virtio block device on virtio-mmio (xendm --device virtio-blk,file=IMAGE,
# serial=xendm-disk-0: 0xfeb01000, IRQ 6) over a 1 MiB image, driven as a virtio 1.x
# driver does: probe, negotiate VERSION_1 and FLUSH, read the capacity from the
# configuration space, set up an 8-entry queue, then requests of three buffers each
# (16-byte header, data, status byte): write a sector, flush, read it back, GET_ID,
# and a read past the end. Completions are asynchronous: each request is waited for on
# IRQ 6, then its used entry and status byte are checked. The rings and buffers sit in
# the guest RAM from $ram + 0x20000 (--param ram=0x100000000 for RAM above 4 GiB).
param $ram = 0
$base  = 0xfeb01000
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
mmio-write $base + 0x014, 4, 0
mmio-read  $base + 0x010, 4 -> $f0
expect $f0 & 0x200 == 0x200                    # VIRTIO_BLK_F_FLUSH offered
mmio-write $base + 0x024, 4, 0
mmio-write $base + 0x020, 4, 0x200             # accept FLUSH
mmio-write $base + 0x024, 4, 1
mmio-write $base + 0x020, 4, 1                 # and VERSION_1
mmio-write $base + 0x070, 4, 11
mmio-read  $base + 0x070, 4 == 11
mmio-read  $base + 0x100, 4 == 2048            # capacity: 1 MiB in 512-byte sectors
mmio-read  $base + 0x104, 4 == 0
mmio-read  $base + 0x114, 4 == 512             # blk_size

fill $desc, 0x3000, 0
mmio-write $base + 0x030, 4, 0
mmio-write $base + 0x038, 4, 8
mmio-write $base + 0x080, 4, $desc & 0xffffffff
mmio-write $base + 0x084, 4, $desc >> 32
mmio-write $base + 0x090, 4, $avail & 0xffffffff
mmio-write $base + 0x094, 4, $avail >> 32
mmio-write $base + 0x0a0, 4, $used & 0xffffffff
mmio-write $base + 0x0a4, 4, $used >> 32
mmio-write $base + 0x044, 4, 1
mmio-write $base + 0x070, 4, 15

# Descriptors 0-2 make every request: header, data, status. Only the data buffer's
# address, length and direction change.
poke $desc + 0x00, 8, $hdr
poke $desc + 0x08, 4, 16
poke $desc + 0x0c, 2, 1                        # NEXT
poke $desc + 0x0e, 2, 1
poke $desc + 0x20, 8, $st
poke $desc + 0x28, 4, 1
poke $desc + 0x2c, 2, 2                        # WRITE
$n = 0

# 1. write sector 5 with 0x5a
fill $data, 512, 0x5a
poke $hdr, 4, 1                                # VIRTIO_BLK_T_OUT
poke $hdr + 8, 8, 5
poke $desc + 0x10, 8, $data
poke $desc + 0x18, 4, 512
poke $desc + 0x1c, 2, 1                        # NEXT (the device reads it)
poke $desc + 0x1e, 2, 2
poke $st, 1, 0xee
poke $avail + 4 + 2 * ($n % 8), 2, 0
$n = $n + 1
poke $avail + 2, 2, $n
mmio-write $base + 0x050, 4, 0
wait-irq isa 6
mmio-read  $base + 0x060, 4 == 1
mmio-write $base + 0x064, 4, 1
peek $used + 2, 2 == 1
peek $used + 8, 4 == 1                         # only the status byte written
peek $st, 1 == 0                               # VIRTIO_BLK_S_OK

# 2. flush: header and status only
poke $hdr, 4, 4                                # VIRTIO_BLK_T_FLUSH
poke $desc + 0x0e, 2, 2                        # header → status
poke $st, 1, 0xee
poke $avail + 4 + 2 * ($n % 8), 2, 0
$n = $n + 1
poke $avail + 2, 2, $n
mmio-write $base + 0x050, 4, 0
wait-irq isa 6
mmio-write $base + 0x064, 4, 1
peek $used + 2, 2 == 2
peek $st, 1 == 0

# 3. read sector 5 back
fill $back, 512, 0
poke $hdr, 4, 0                                # VIRTIO_BLK_T_IN
poke $hdr + 8, 8, 5
poke $desc + 0x0e, 2, 1
poke $desc + 0x10, 8, $back
poke $desc + 0x1c, 2, 3                        # NEXT | WRITE
poke $st, 1, 0xee
poke $avail + 4 + 2 * ($n % 8), 2, 0
$n = $n + 1
poke $avail + 2, 2, $n
mmio-write $base + 0x050, 4, 0
wait-irq isa 6
mmio-write $base + 0x064, 4, 1
peek $used + 2, 2 == 3
peek $used + 4 + 8 * 2 + 4, 4 == 513           # data and status written
peek $st, 1 == 0
compare $back, 512, 0x5a

# 4. GET_ID: the serial
poke $hdr, 4, 8
poke $desc + 0x18, 4, 20
poke $st, 1, 0xee
poke $avail + 4 + 2 * ($n % 8), 2, 0
$n = $n + 1
poke $avail + 2, 2, $n
mmio-write $base + 0x050, 4, 0
wait-irq isa 6
mmio-write $base + 0x064, 4, 1
peek $st, 1 == 0
peek $back, 8 == 0x69642d6d646e6578            # "xendm-di"

# 5. a read past the end: IOERR, nothing transferred
poke $hdr, 4, 0
poke $hdr + 8, 8, 2048
poke $desc + 0x18, 4, 512
poke $st, 1, 0xee
poke $avail + 4 + 2 * ($n % 8), 2, 0
$n = $n + 1
poke $avail + 2, 2, $n
mmio-write $base + 0x050, 4, 0
wait-irq isa 6
mmio-write $base + 0x064, 4, 1
peek $used + 2, 2 == 5
peek $st, 1 == 1                               # VIRTIO_BLK_S_IOERR
