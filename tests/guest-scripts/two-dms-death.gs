# One of two device models dies or stalls (tests/integration/mockxen_two_dms.sh): vCPU 1
# keeps reading B's UART (0x2f8), counting its reads at guest address 0x10000, until
# an ioreq to B gets no answer; vCPU 0 waits for that, then checks that A (0x3f8) is
# still served, many times over, while vCPU 1 waits.
vcpu 0 {
    out 0x3fb, 1, 0x03
    in  0x3fb, 1 == 0x03
    $stuck = 0
    $seen = 0
    while $stuck == 0 timeout 30s {
        peek 0x10000, 8 -> $before
        sleep 500ms
        peek 0x10000, 8 -> $after
        $seen = $seen | ($after != 0)
        $stuck = $seen & ($before == $after)
    }
    repeat 200 { in 0x3fb, 1 == 0x03 }
    echo "a-served-while-b-waits"
}
vcpu 1 {
    out 0x2fb, 1, 0x1b
    in  0x2fb, 1 == 0x1b
    echo "both-served"
    repeat 1000000 as $i {
        poke 0x10000, 8, $i + 1
        in 0x2fb, 1 == 0x1b
        sleep 10ms
    }
}
