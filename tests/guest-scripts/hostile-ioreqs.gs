# Garbage a device model must survive: every request still gets an answer, nothing
# crashes, and a sane access afterwards still works.
raw type=0x42 addr=0x3f8                                # unknown type
raw type=pio addr=0x3f8 size=0                          # size 0
raw type=pio addr=0x3f8 size=3                          # size 3
raw type=copy addr=0xe0000000 size=16 dir=read          # size 16
raw type=pio addr=0x10000 size=1 dir=read               # port above 0xffff
raw type=copy addr=0xfffffffffffffffc size=8 dir=read   # wraps the address space
raw type=pio addr=0x3f8 size=4 count=0x40000001 ptr=1 data=0x1000 dir=read  # count*size overflows 32 bits
raw type=pio addr=0x3f8 size=1 count=0xffffffff ptr=1 data=0xfffffffffffff000 dir=read df=1
raw type=copy addr=0xe0000000 size=4 count=0 ptr=1 data=0x1000                # count 0
raw type=pci-config addr=0xffffffff size=4 dir=read     # config address out of range
raw type=invalidate                                     # mapcache invalidate from the guest
raw type=timeoffset data=0xffffffffffffffff

# still alive
out 0x3f8 + 7, 1, 0x5a                                  # UART scratch register
in  0x3f8 + 7, 1 == 0x5a
