# The `make demo` guest: one vCPU doing what a small OS does with xendm's machine.
$com1 = 0x3f8
$cfg  = 0x80000000 | (3 << 11)        # PCI 00:03.0, the test device
$bar  = 0xe0000000

echo "1. greet through the UART (THR at 0x3f8)"
poke 0x8000, 8, 0x6f6c6c6568         # "hello"
repeat 5 as $i {
    peek 0x8000 + $i, 1 -> $c
    out $com1, 1, $c
}
out $com1, 1, 0x0a
in $com1 + 5, 1 -> $lsr
expect $lsr & 0x60 == 0x60
echo "   LSR =" $lsr "(transmitter empty)"

echo "2. rep outsb of a string from guest memory"
poke 0x9000, 8, 0x6d6f726620706572   # "rep from"
poke 0x9008, 8, 0x0a74736575672020   # "  guest\n"
rep-out $com1, 1, 16, 0x9000

echo "3. find the test device in PCI config space"
out 0xcf8, 4, $cfg
in  0xcfc, 4 -> $id
expect $id == 0x10ed1234
echo "   00:03.0 vendor:device =" $id

echo "4. size and place BAR0, enable memory decode and bus mastering"
out 0xcf8, 4, $cfg | 0x10
out 0xcfc, 4, 0xffffffff
in  0xcfc, 4 -> $size
expect $size == 0xfffffff0 & ~0x1fff
out 0xcfc, 4, $bar
out 0xcf8, 4, $cfg | 0x04
out 0xcfc, 2, 0x0006
mmio-read $bar, 4 == 0x010000ed
echo "   BAR0 at" $bar ", ID register" 0x010000ed

echo "5. DMA 4 KiB guest -> device -> guest with log-dirty on"
log-dirty on
dirty 0x40, 16, clean
fill 0x40000, 4096, 0x5a
mmio-write $bar + 0x10, 8, 0x40000         # DMA_SRC: guest
mmio-write $bar + 0x18, 8, 0               # DMA_DST: device buffer
mmio-write $bar + 0x20, 8, 4096
mmio-write $bar + 0x28, 4, 0x1             # START guest -> buffer
mmio-write $bar + 0x10, 8, 0               # DMA_SRC: buffer
mmio-write $bar + 0x18, 8, 0x41000         # DMA_DST: guest
mmio-write $bar + 0x28, 4, 0x7             # START buffer -> guest, IRQ
wait-irq intx 0, 3, a timeout 2s
mmio-write $bar + 0x30, 4, 0x7             # acknowledge
compare-mem 0x41000, 0x40000, 4096
dirty 0x41, 1 == 1
echo "   copied 4096 bytes, page 0x41 is dirty in the log"
log-dirty off

echo "6. move BAR0 and use it at the new address"
out 0xcf8, 4, $cfg | 0x10
out 0xcfc, 4, 0xe8000000
mmio-read 0xe8000000, 4 == 0x010000ed
mmio-read $bar, 4 == 0xffffffff
mmio-write 0xe8000000 + 0x04, 4, 0x600df00d
mmio-read  0xe8000000 + 0x04, 4 == 0x600df00d
echo "   BAR0 now at 0xe8000000, scratch register answers"

echo "7. virtio-rng on virtio-mmio at 0xfeb00000: negotiate, post a 96-byte chain"
include "../guest-scripts/virtio-rng.gs"
echo "   used ring: 1 element of 96 bytes, first 8 random bytes:" $a
echo "8. virtio-blk on virtio-mmio at 0xfeb01000 over a 1 MiB image: write, flush, read back"
include "../guest-scripts/virtio-blk.gs"
echo "   sector 5 written with 0x5a, flushed, read back; serial 'xendm-disk-0'; IOERR past the end"
echo "demo: guest done, waiting for the inspection"
sleep 1500ms
