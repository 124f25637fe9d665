# 16550A UART at COM1 (port 0x3f8, ISA IRQ 4) in loopback mode: what a driver's
# self-test does. Runs on vCPU 0.
$com1 = 0x3f8

out $com1 + 3, 1, 0x80             # LCR: DLAB on
out $com1 + 0, 1, 0x01             # divisor 1 = 115200 baud
out $com1 + 1, 1, 0x00
out $com1 + 3, 1, 0x03             # LCR: 8N1, DLAB off
in  $com1 + 3, 1 == 0x03
out $com1 + 4, 1, 0x10             # MCR: loopback

repeat 4 as $i {
    out $com1, 1, 'A' + $i
    in  $com1 + 5, 1 -> $lsr
    expect $lsr & 0x01 == 0x01     # data ready
    in  $com1, 1 == 'A' + $i
}
in $com1 + 5, 1 -> $lsr
expect $lsr & 0x60 == 0x60         # transmitter empty
echo "uart loopback ok, lsr" $lsr

# An interrupt on received data: IER bit 0, OUT2 in MCR gates the ISA line.
out $com1 + 4, 1, 0x18             # MCR: loopback | OUT2
out $com1 + 1, 1, 0x01             # IER: received data available
out $com1, 1, 'Z'
wait-irq isa 4 timeout 1s
in  $com1 + 2, 1 -> $iir
expect $iir & 0x0f == 0x04         # IIR: received data
in  $com1, 1 == 'Z'
out $com1 + 1, 1, 0x00
