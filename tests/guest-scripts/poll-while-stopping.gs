# A guest that keeps touching xendm's devices while xendm stops (SIGTERM from the
# test): vCPU 0 polls the UART's line status register, vCPU 1 repeats a long
# `rep ins` from the UART's scratch register (0x3ff) into guest memory, which xendm
# carries out in slices over several loop turns. Every request either is answered
# by the device (the stop serves what was posted before it) or, once xendm has stopped
# taking requests, finds the port unclaimed: all ones. The run fails if a vCPU is left
# waiting when the ioreq server goes ("destroyed during an ioreq") or if the ports
# never read as unclaimed (xendm did not stop).
vcpu 0 {
    $lsr = 0
    while $lsr != 0xff timeout 20s {
        in 0x3fd, 1 -> $lsr
    }
}
vcpu 1 {
    out 0x3ff, 1, 0x5a                         # the scratch register
    $b = 0x5a
    while $b != 0xff timeout 20s {
        rep-in 0x3ff, 1, 4096, 0x40000
        peek 0x40fff, 1 -> $b                  # the last byte of the batch
    }
}
