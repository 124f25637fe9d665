# Every ioreq shape xendm must serve, against its default machine (UART at 0x3f8, the
# PCI test device at slot 3). Uses the UART scratch register (0x3ff) for port I/O and
# the test device's DMA buffer (BAR0 + 0x1000) for MMIO.
include "pci-testdev.gs"

# Port I/O: 1, 2 and 4 bytes. The UART's registers are 1 byte wide: wider accesses are
# split into byte accesses of consecutive registers, as the memory core does.
out 0x3ff, 1, 0xa5
in  0x3ff, 1 == 0xa5
in  0x3fe, 2 -> $v                 # MSR, SCR
expect $v >> 8 == 0xa5
out 0x3fe, 2, 0x6600               # MSR is read-only; SCR takes 0x66
in  0x3ff, 1 == 0x66
in  0x3fc, 4 -> $v                 # MCR, LSR, MSR, SCR
expect $v >> 24 == 0x66
expect ($v >> 8) & 0x60 == 0x60    # LSR: transmitter empty

# MMIO of every size into the DMA buffer.
mmio-write $bar + 0x1000, 1, 0x11
mmio-write $bar + 0x1001, 1, 0x00
mmio-read  $bar + 0x1000, 1 == 0x11
mmio-write $bar + 0x1002, 2, 0x2233
mmio-read  $bar + 0x1002, 2 == 0x2233
mmio-write $bar + 0x1004, 4, 0x44556677
mmio-read  $bar + 0x1004, 4 == 0x44556677
mmio-write $bar + 0x1008, 8, 0x8899aabbccddeeff
mmio-read  $bar + 0x1008, 8 == 0x8899aabbccddeeff
mmio-read  $bar + 0x1000, 8 == 0x4455667722330011

# rep outs / ins through the scratch register, forwards and backwards.
poke 0x30000, 4, 0x44332211
rep-out 0x3ff, 1, 4, 0x30000
in 0x3ff, 1 == 0x44
rep-out 0x3ff, 1, 4, 0x30003 df
in 0x3ff, 1 == 0x11
out 0x3ff, 1, 0x7e
rep-in 0x3ff, 1, 3, 0x31000
peek 0x31000, 4 == 0x007e7e7e
rep-in 0x3ff, 1, 2, 0x31011 df
peek 0x31010, 2 == 0x7e7e

# rep movs between guest memory and MMIO (device side moves too).
fill 0x32000, 16, 0x5c
rep-mmio-write $bar + 0x1100, 4, 4, 0x32000
mmio-read $bar + 0x110c, 4 == 0x5c5c5c5c
rep-mmio-read $bar + 0x1000, 8, 2, 0x33000
peek 0x33000, 8 == 0x4455667722330011
peek 0x33008, 8 == 0x8899aabbccddeeff

# The mapcache drop request; accesses keep working after it.
raw type=invalidate
rep-mmio-read $bar + 0x1000, 8, 1, 0x33100
peek 0x33100, 8 == 0x4455667722330011
raw type=timeoffset data=0x10
echo "ioreq types ok"
