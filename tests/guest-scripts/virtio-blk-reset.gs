# A virtio-mmio reset with requests in flight (xendm --device virtio-blk,file=IMAGE of
# at least 16 MiB: 0xfeb01000, IRQ 6). The driver posts 16 writes of 1 MiB, kicks once
# and at once writes 0 to the status, as Linux's virtio-mmio driver does without waiting
# for anything. The device holds that write until the requests have completed (the
# loop goes on meanwhile): once the vCPU is past it, every request has its used entry
# and an OK status, and the device reads as reset. Then the device is brought up again
# and reads back the first and last sectors written.
$base  = 0xfeb01000
$desc  = 0x20000
$avail = 0x21000
$used  = 0x22000
$hdr   = 0x23000
$st    = 0x23800
$data  = 0x100000

mmio-read $base + 0x008, 4 == 2                # block device

# bring-up: VERSION_1 only, one 64-entry queue
$setup = 1
mmio-write $base + 0x070, 4, 0
mmio-write $base + 0x070, 4, 3
mmio-write $base + 0x024, 4, 1
mmio-write $base + 0x020, 4, 1
mmio-write $base + 0x070, 4, 11
fill $desc, 0x3000, 0
mmio-write $base + 0x030, 4, 0
mmio-write $base + 0x038, 4, 64
mmio-write $base + 0x080, 4, $desc
mmio-write $base + 0x090, 4, $avail
mmio-write $base + 0x0a0, 4, $used
mmio-write $base + 0x044, 4, 1
mmio-write $base + 0x070, 4, 15

# 16 requests of three descriptors: header, 1 MiB of data (every byte = request + 1),
# status
repeat 16 as $i {
    $d = $desc + 48 * $i
    poke $hdr + 16 * $i, 4, 1                  # VIRTIO_BLK_T_OUT
    poke $hdr + 16 * $i + 8, 8, 2048 * $i      # 1 MiB apart
    fill $data + 0x100000 * $i, 0x100000, $i + 1
    poke $d, 8, $hdr + 16 * $i
    poke $d + 8, 4, 16
    poke $d + 12, 2, 1
    poke $d + 14, 2, 3 * $i + 1
    poke $d + 16, 8, $data + 0x100000 * $i
    poke $d + 24, 4, 0x100000
    poke $d + 28, 2, 1
    poke $d + 30, 2, 3 * $i + 2
    poke $d + 32, 8, $st + $i
    poke $d + 40, 4, 1
    poke $d + 44, 2, 2                         # WRITE
    poke $st + $i, 1, 0xee
    poke $avail + 4 + 2 * $i, 2, 3 * $i
}
poke $avail + 2, 2, 16
mmio-write $base + 0x050, 4, 0                 # the kick
mmio-write $base + 0x070, 4, 0                 # reset, with the writes in flight
mmio-read  $base + 0x070, 4 == 0
peek $used + 2, 2 == 16                        # all completed into the old ring
repeat 16 as $i {
    peek $st + $i, 1 == 0
}
echo "reset done after 16 requests"

# bring it up again and read back sector 0 and the last sector of request 15
mmio-write $base + 0x070, 4, 3
mmio-write $base + 0x024, 4, 1
mmio-write $base + 0x020, 4, 1
mmio-write $base + 0x070, 4, 11
fill $desc, 0x3000, 0
mmio-write $base + 0x030, 4, 0
mmio-write $base + 0x038, 4, 64
mmio-write $base + 0x080, 4, $desc
mmio-write $base + 0x090, 4, $avail
mmio-write $base + 0x0a0, 4, $used
mmio-write $base + 0x044, 4, 1
mmio-write $base + 0x070, 4, 15
$back = 0x40000
repeat 2 as $i {
    poke $hdr, 4, 0                            # VIRTIO_BLK_T_IN
    poke $hdr + 8, 8, $i * (2048 * 16 - 1)
    poke $desc, 8, $hdr
    poke $desc + 8, 4, 16
    poke $desc + 12, 2, 1
    poke $desc + 14, 2, 1
    poke $desc + 16, 8, $back
    poke $desc + 24, 4, 512
    poke $desc + 28, 2, 3
    poke $desc + 30, 2, 2
    poke $desc + 32, 8, $st
    poke $desc + 40, 4, 1
    poke $desc + 44, 2, 2
    poke $st, 1, 0xee
    poke $avail + 4 + 2 * $i, 2, 0
    poke $avail + 2, 2, $i + 1
    mmio-write $base + 0x050, 4, 0
    wait-irq isa 6
    mmio-write $base + 0x064, 4, 1
    peek $st, 1 == 0
    compare $back, 512, 1 + 15 * $i
}
