# Four vCPUs at once, each on its own ioreq slot and event channel. Each has its own
# variables; the UART scratch register is shared, so only vCPU 0 checks it.
vcpu 0 {
    repeat 500 as $i {
        out 0x3ff, 1, $i & 0xff
    }
    echo "vcpu 0 done"
}
vcpu 1 {
    repeat 500 { in 0x3fd, 1 -> $lsr }
    expect $lsr & 0x60 == 0x60
}
vcpu 2 {
    repeat 200 as $i { poke 0x20000 + $i * 8, 8, $i * 3 }
    peek 0x20000 + 199 * 8, 8 == 597
}
vcpu 3 {
    repeat 500 { in 0x80, 1 }
}
