# The virtio block device with grant DMA (xendm --device
# virtio-blk,file=IMAGE,grant_usage=1: virtio-mmio at 0xfeb01000, IRQ 6; elsewhere
# with --param base=, irq=, arm=1 for an SPI, ram= for guest RAM not at 0) over a 1 MiB
# image, driven as Linux's grant DMA ops drive it: the guest sets up its grant table,
# grants the backend (domain 0) each page it hands the device, and gives the device
# grant addresses, 1 << 63 | ref << 12 | offset, consecutive refs for a buffer of
# several pages; buffers the device only reads are granted read-only. Checked: the
# device offers VIRTIO_F_ACCESS_PLATFORM and refuses FEATURES_OK without it; an 8 KiB
# write from read-only grants and a read back into writable ones; every grant can be
# revoked once its request is back (nothing stays mapped); and IOERR, with nothing
# transferred, for a read into a read-only grant, a ref never granted, a ref beyond
# the table, a grant to another domain, and a grant revoked before the request.
param $base = 0xfeb01000
param $irq = 6
param $arm = 0
param $ram = 0
$f     = $ram >> 12                            # the first frame of guest RAM
$g     = 1 << 63                               # grant addresses
$table = $ram + 0x30000                        # grant table: one frame, refs 0..511
$desc  = $ram + 0x20000                        # ref 10
$avail = $ram + 0x21000                        # ref 11
$used  = $ram + 0x22000                        # ref 12
$hdr   = $ram + 0x23000                        # ref 13 (header; status at +0x100)
$st    = $ram + 0x23100
$data  = $ram + 0x24000                        # refs 14, 15: read-only
$back  = $ram + 0x26000                        # refs 16, 17

grant-table $table, 1
grant 10, $f + 0x20
grant 11, $f + 0x21
grant 12, $f + 0x22
grant 13, $f + 0x23
grant 14, $f + 0x24 readonly
grant 15, $f + 0x25 readonly
grant 16, $f + 0x26
grant 17, $f + 0x27
grant 21, $f + 0x28 domid 5                    # for another domain
grant 22, $f + 0x28                            # revoked below, before it is used
peek $table + 14 * 8, 8 == ($f + 0x24) << 32 | 5 # frame, domid 0, permit | readonly

mmio-read $base + 0x008, 4 == 2                # block device
mmio-write $base + 0x070, 4, 0
mmio-write $base + 0x070, 4, 3
mmio-write $base + 0x014, 4, 1
mmio-read  $base + 0x010, 4 -> $f1
expect $f1 & 2 == 2                            # VIRTIO_F_ACCESS_PLATFORM (bit 33)
mmio-write $base + 0x024, 4, 1
mmio-write $base + 0x020, 4, 1                 # VERSION_1 only
mmio-write $base + 0x070, 4, 11
mmio-read  $base + 0x070, 4 == 3               # FEATURES_OK refused
mmio-write $base + 0x070, 4, 0
mmio-write $base + 0x070, 4, 3
mmio-write $base + 0x024, 4, 1
mmio-write $base + 0x020, 4, 3                 # VERSION_1 | ACCESS_PLATFORM
mmio-write $base + 0x070, 4, 11
mmio-read  $base + 0x070, 4 == 11

fill $desc, 0x4000, 0
mmio-write $base + 0x030, 4, 0
mmio-write $base + 0x038, 4, 8
mmio-write $base + 0x080, 4, 10 << 12          # the rings at grant addresses
mmio-write $base + 0x084, 4, $g >> 32
mmio-write $base + 0x090, 4, 11 << 12
mmio-write $base + 0x094, 4, $g >> 32
mmio-write $base + 0x0a0, 4, 12 << 12
mmio-write $base + 0x0a4, 4, $g >> 32
mmio-write $base + 0x044, 4, 1
mmio-write $base + 0x070, 4, 15
mmio-read  $base + 0x070, 4 == 15

# Descriptors 0-2 make every request: header, data, status.
poke $desc + 0x00, 8, $g | 13 << 12
poke $desc + 0x08, 4, 16
poke $desc + 0x0c, 2, 1                        # NEXT
poke $desc + 0x0e, 2, 1
poke $desc + 0x18, 4, 8192
poke $desc + 0x1e, 2, 2
poke $desc + 0x20, 8, $g | 13 << 12 | 0x100
poke $desc + 0x28, 4, 1
poke $desc + 0x2c, 2, 2                        # WRITE
$n = 0

# 1. write sectors 8..23 from two read-only grants (consecutive refs 14, 15)
fill $data, 4096, 0x5a
fill $data + 4096, 4096, 0xa5
poke $hdr, 4, 1                                # VIRTIO_BLK_T_OUT
poke $hdr + 8, 8, 8
poke $desc + 0x10, 8, $g | 14 << 12
poke $desc + 0x1c, 2, 1                        # NEXT: the device reads it
poke $st, 1, 0xee
poke $avail + 4 + 2 * ($n % 8), 2, 0
$n = $n + 1
poke $avail + 2, 2, $n
mmio-write $base + 0x050, 4, 0
if $arm { wait-irq spi $irq } else { wait-irq isa $irq }
mmio-write $base + 0x064, 4, 1
peek $used + 2, 2 == $n
peek $st, 1 == 0                               # VIRTIO_BLK_S_OK

# 2. read them back into writable grants 16, 17
fill $back, 8192, 0
poke $hdr, 4, 0                                # VIRTIO_BLK_T_IN
poke $desc + 0x10, 8, $g | 16 << 12
poke $desc + 0x1c, 2, 3                        # NEXT | WRITE
poke $st, 1, 0xee
poke $avail + 4 + 2 * ($n % 8), 2, 0
$n = $n + 1
poke $avail + 2, 2, $n
mmio-write $base + 0x050, 4, 0
if $arm { wait-irq spi $irq } else { wait-irq isa $irq }
mmio-write $base + 0x064, 4, 1
peek $used + 2, 2 == $n
peek $st, 1 == 0
compare-mem $back, $data, 8192

# Nothing stays mapped once a request is back: the data grants can be revoked.
grant-revoke 14 == 1
grant-revoke 16 == 1
grant 14, $f + 0x24 readonly
grant 16, $f + 0x26

# 3. refused: a read into a read-only grant, a ref never granted (20), a ref beyond
# the table (600), a grant to domain 5 (21), a revoked grant (22)
grant-revoke 22 == 1
poke $desc + 0x18, 4, 512
repeat 5 as $i {
    if $i == 0 { $ref = 14 } else if $i == 1 { $ref = 20 } else if $i == 2 { $ref = 600 }
    if $i == 3 { $ref = 21 } else if $i == 4 { $ref = 22 }
    fill $data, 512, 0x77
    fill $ram + 0x28000, 512, 0x77
    poke $desc + 0x10, 8, $g | $ref << 12
    poke $st, 1, 0xee
    poke $avail + 4 + 2 * ($n % 8), 2, 0
    $n = $n + 1
    poke $avail + 2, 2, $n
    mmio-write $base + 0x050, 4, 0
    if $arm { wait-irq spi $irq } else { wait-irq isa $irq }
    mmio-write $base + 0x064, 4, 1
    peek $used + 2, 2 == $n
    peek $st, 1 == 1                           # VIRTIO_BLK_S_IOERR
    compare $data, 512, 0x77                   # nothing read into it
    compare $ram + 0x28000, 512, 0x77
}

# The device keeps no grant mapped between requests: rings, header and status too.
grant-revoke 10 == 1
grant-revoke 12 == 1
grant-revoke 13 == 1
