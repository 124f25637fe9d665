# Hostile requests aimed at ranges xendm has claimed, so they reach it (mockxen answers
# unroutable ones itself). Every one must be answered, rejected by xendm's checks and
# leave it serving.
include "pci-testdev.gs"

raw type=pio addr=0x3f8 size=3 dir=read                 # size 3
raw type=pio addr=0x3f8 size=8 dir=read                 # ports are at most 4 bytes
raw type=pio addr=0x3f8 size=1 count=0                  # count 0
raw type=pio addr=0x3f8 size=4 count=0x40000001 ptr=1 data=0x1000 dir=read   # count*size > 2^32
raw type=pio addr=0x3f8 size=1 count=0xffffffff ptr=1 data=0xfffffffffffff000 dir=read df=1
raw type=pio addr=0x3f8 size=4 count=4 ptr=1 data=0xfffffffffffffff8          # buffer wraps 2^64
raw type=pio addr=0x3f8 size=4 count=4 ptr=1 data=8 df=1                      # buffer wraps below 0
raw type=copy addr=$bar size=16 dir=read                # MMIO size 16
raw type=copy addr=$bar + 0x1000 size=8 count=3 ptr=1 data=4 df=1 dir=read   # wraps below 0

# Accepted but harmless: a data_is_ptr buffer in a hole reads all ones, writes vanish.
rep-out 0x3ff, 1, 4, 0x80000000
in 0x3ff, 1 == 0xff
rep-in 0x3ff, 1, 4, 0x80000000

# still alive and correct
out 0x3ff, 1, 0x5a
in  0x3ff, 1 == 0x5a
mmio-read $bar, 4 == 0x010000ed
echo "hostile ok"
