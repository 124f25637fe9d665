# An Arm guest with what xendm serves from xenstore at libxl's places: virtio-mmio
# windows of 0x200 bytes from 0x02000000, SPIs from 33. The disk at 0x02000000 (SPI 33)
# is driven by virtio-blk-xs.gs; then the second disk (0x02000200) and the virtio-rng
# (0x02000400) answer their probes, the bad devices' windows stay unclaimed, a
# virtio-rng added while the guest runs appears at 0x02000600, and the first disk goes
# when the toolstack removes it, the added virtio-rng when its directory is removed,
# and everything when xendm stops. Run with --param base=0x2000000 --param irq=33
# --param arm=1 --param ram=0x40000000 (virtio-blk-xs.gs's parameters: the rings and
# buffers in the RAM libxl gives an Arm guest, from 1 GiB).
include "virtio-blk-xs.gs"

mmio-read 0x2000200, 4 == 0x74726976
mmio-read 0x2000208, 4 == 2                    # a block device
mmio-read 0x2000400, 4 == 0x74726976
mmio-read 0x2000408, 4 == 4                    # an entropy source
mmio-read 0x2000800, 4 == 0xffffffff           # refused devices: nothing there
mmio-read 0x2000a00, 4 == 0xffffffff

$magic = 0
while $magic != 0x74726976 timeout 20s {       # the virtio-rng added later
    sleep 20ms
    mmio-read 0x2000600, 4 -> $magic
}
mmio-read 0x2000608, 4 == 4

while $magic != 0xffffffff timeout 20s {       # the first disk, removed
    sleep 20ms
    mmio-read 0x2000000, 4 -> $magic
}
$magic = 0
while $magic != 0xffffffff timeout 20s {       # the added virtio-rng's directory removed
    sleep 20ms
    mmio-read 0x2000600, 4 -> $magic
}
$magic = 0
while $magic != 0xffffffff timeout 20s {       # xendm stopped
    sleep 20ms
    mmio-read 0x2000200, 4 -> $magic
}
sleep 1s                                       # the test reads xenstore meanwhile
