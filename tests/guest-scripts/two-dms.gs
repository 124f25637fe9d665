# Two device models on one domain (tests/integration/mockxen_two_dms.sh): xendm A with
# the default machine (UART at 0x3f8, the PCI test device at 00:03.0) and xendm B with
# one UART at 0x2f8. Each register reached must be its own device's: the line control
# registers are set differently, loopback bytes come back from the right UART, and
# what neither claims reads all ones (Xen's null handler).
out 0x3fb, 1, 0x03                # A: 8N1
out 0x2fb, 1, 0x1b                # B: 8E1
in  0x3fb, 1 == 0x03
in  0x2fb, 1 == 0x1b
out 0x3fc, 1, 0x10                # loopback on both
out 0x2fc, 1, 0x10
out 0x3f8, 1, 'A'
out 0x2f8, 1, 'B'
in  0x3f8, 1 == 'A'
in  0x2f8, 1 == 'B'
out 0xcf8, 4, 0x80000000 | (3 << 11)   # 00:03.0 is A's test device
in  0xcfc, 4 != 0xffffffff
out 0xcf8, 4, 0x80000000 | (4 << 11)   # 00:04.0 is nobody's
in  0xcfc, 4 == 0xffffffff
in  0x4f8, 1 == 0xff              # a port nobody claims
