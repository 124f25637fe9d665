# Guest RAM above 4 GiB, for a guest laid out as Xen lays out a 6 GiB one (mockxen
# --populate-mb 6144): RAM at [0, $hole) and [4 GiB, $high_end), the PCI hole between.
# Run with --param ram=0x100000000 --param bar=0xf0000000 (BAR0 in the hole) and xendm
# --log-dirty: the test device's DMA (pci-testdev.gs) runs above 4 GiB, then rep
# ins/outs and a rep movs whose data pointer is above 4 GiB, the dirty log of a frame
# above 4 GiB, and DMA refused where the guest has no RAM.
include "pci-testdev.gs"
param $hole = 0xf0000000
param $high_end = 0x190000000

# rep outs / ins through the UART's scratch register, the data above 4 GiB.
poke $ram + 0x30000, 4, 0x44332211
rep-out 0x3ff, 1, 4, $ram + 0x30000
in 0x3ff, 1 == 0x44
rep-out 0x3ff, 1, 4, $ram + 0x30003 df
in 0x3ff, 1 == 0x11
out 0x3ff, 1, 0x7e
rep-in 0x3ff, 1, 3, $ram + 0x31000
peek $ram + 0x31000, 4 == 0x007e7e7e
# rep movs from the device's buffer into the last page of RAM.
mmio-write $bar + 0x1000, 8, 0x8899aabbccddeeff
rep-mmio-read $bar + 0x1000, 8, 1, $high_end - 8
peek $high_end - 8, 8 == 0x8899aabbccddeeff

# A device's write above 4 GiB is in the dirty log, at its own frame.
log-dirty on
dirty ($ram >> 12) + 0x40, 16, clean
mmio-write $bar + 0x10, 8, 0                    # DMA_SRC: buffer offset
mmio-write $bar + 0x18, 8, $ram + 0x41000       # DMA_DST: above 4 GiB
mmio-write $bar + 0x20, 8, 4096
mmio-write $bar + 0x28, 4, 0x3                  # START, to guest
mmio-read  $bar + 0x08, 4 -> $st
expect $st & 0x3 == 0x1
dirty ($ram >> 12) + 0x40, 16 == 1
dirty ($ram >> 12) + 0x41, 1 == 1
log-dirty off

# DMA where there is no RAM is refused (error 4, not RAM), in both directions: the
# hole, across the end of RAM below it, and across the end of RAM above 4 GiB.
fill $hole - 0x1000, 0x1000, 0x33
mmio-write $bar + 0x20, 8, 4096
mmio-write $bar + 0x18, 8, $hole + 0x100000     # to the guest, inside the hole
mmio-write $bar + 0x28, 4, 0x3
mmio-read  $bar + 0x08, 4 -> $st
expect $st & 0xff03 == 0x0402
mmio-write $bar + 0x18, 8, $hole - 0x800        # across the end of low RAM
mmio-write $bar + 0x28, 4, 0x3
mmio-read  $bar + 0x08, 4 -> $st
expect $st & 0xff03 == 0x0402
compare $hole - 0x1000, 0x1000, 0x33            # nothing written before the hole
mmio-write $bar + 0x10, 8, $high_end - 0x800    # from the guest, across the end of RAM
mmio-write $bar + 0x18, 8, 0
mmio-write $bar + 0x28, 4, 0x1
mmio-read  $bar + 0x08, 4 -> $st
expect $st & 0xff03 == 0x0402
# ... and the last whole page of RAM is reachable.
fill $high_end - 0x1000, 0x1000, 0x6b
mmio-write $bar + 0x10, 8, $high_end - 0x1000
mmio-write $bar + 0x28, 4, 0x1
mmio-read  $bar + 0x08, 4 -> $st
expect $st & 0x3 == 0x1
mmio-read  $bar + 0x1ff8, 8 == 0x6b6b6b6b6b6b6b6b
echo "high memory ok"
