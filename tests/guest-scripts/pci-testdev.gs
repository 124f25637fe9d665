# The PCI test device (vendor 0x1234, device 0x10ed) through config space, its BAR
# and its DMA engine. $dev is the slot xendm puts it in; adjust if the board differs.
# The DMA runs in the guest RAM from $ram + 0x10000 (--param ram=0x100000000 for RAM
# above 4 GiB).
param $bar = 0xe0000000             # where this guest maps BAR0
param $ram = 0
$dev  = 3
$cfg  = 0x80000000 | ($dev << 11)   # bus 0, function 0

out 0xcf8, 4, $cfg | 0x00
in  0xcfc, 4 == 0x10ed1234          # device:vendor

out 0xcf8, 4, $cfg | 0x10           # BAR0
out 0xcfc, 4, $bar
out 0xcf8, 4, $cfg | 0x04           # command: memory space + bus master
out 0xcfc, 2, 0x0006

mmio-read  $bar + 0x00, 4 == 0x010000ed         # ID
mmio-write $bar + 0x04, 4, 0xcafef00d           # SCRATCH
mmio-read  $bar + 0x04, 4 == 0xcafef00d

# DMA 64 bytes guest RAM -> device buffer -> back to another guest page.
fill $ram + 0x10000, 64, 0xa5
mmio-write $bar + 0x10, 8, $ram + 0x10000       # DMA_SRC: guest address
mmio-write $bar + 0x18, 8, 0                    # DMA_DST: buffer offset
mmio-write $bar + 0x20, 8, 64                   # DMA_COUNT
mmio-write $bar + 0x28, 4, 0x1                  # START, guest -> buffer
mmio-read  $bar + 0x08, 4 -> $st
expect $st & 0x3 == 0x1                         # done, no error
mmio-read  $bar + 0x1000, 8 == 0xa5a5a5a5a5a5a5a5

mmio-write $bar + 0x10, 8, 0                    # DMA_SRC: buffer offset
mmio-write $bar + 0x18, 8, $ram + 0x11000       # DMA_DST: guest address
mmio-write $bar + 0x28, 4, 0x7                  # START | to guest | IRQ
wait-irq intx 0, $dev, a timeout 1s
compare-mem $ram + 0x11000, $ram + 0x10000, 64
mmio-write $bar + 0x30, 4, 0x7                  # acknowledge
irq-level intx 0, $dev, a == 0
