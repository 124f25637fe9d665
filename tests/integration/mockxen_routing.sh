#!/bin/bash
# mockxen: Xen's routing of guest accesses to ioreq servers (ports, MMIO, PCI config
# through 0xcf8/0xcfc, unclaimed reads), buffered ioreq rules, interrupts and log-dirty,
# with two vCPUs at once. The device model is mxclient (tests/mockxen-client/dm.c).
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/mockxen-client/harness.sh"

cat >"$tmp/routing.gs" <<'GS'
in 0x100, 4 == 0xa0000100                  # server A's port range
in 0x204, 4 == 0xb0000204                  # server B's
in 0x300, 4 == 0xffffffff                  # nobody's: all ones
in 0x1fe, 4 == 0xffffffff                  # straddles A and B: not wholly claimed
mmio-read 0xf0000010, 4 == 0xa1000010
mmio-read 0xf0001010, 4 == 0xb1001010
mmio-read 0xf0002000, 4 == 0xffffffff
mmio-read 0xf0000ffc, 8 == 0xffffffffffffffff
out 0xcf8, 4, 0x80000000 | (3 << 11) | 0x10
in 0xcfc, 4 == 0xa2001810                  # PCI_CONFIG for 00:03.0 reg 0x10, server A
in 0xcfe, 2 == 0x1812
out 0xcf8, 4, 0x80000000 | (4 << 11) | 0x10
in 0xcfc, 4 == 0xb2002010                  # 00:04.0 belongs to server B
out 0xcf8, 4, 0x80000000 | (5 << 11)
in 0xcfc, 4 == 0xffffffff                  # no server owns 00:05.0
out 0xcf8, 4, (3 << 11)
in 0xcfc, 4 == 0xffffffff                  # enable bit clear: plain unclaimed port
expect-count guest_unclaimed >= 7
fill 0x3000, 16, 0
rep-in 0x104, 2, 4, 0x3000                 # the DM writes guest memory via a foreign map
peek 0x3000, 8 == 0x0107010601050104
rep-in 0x108, 1, 3, 0x3012 df              # backwards: 0x3012, 0x3011, 0x3010
peek 0x3010, 4 == 0x0008090a
repeat 200 { in 0x104, 4 == 0xa0000104 }
vcpu 1 { repeat 200 { in 0x208, 4 == 0xb0000208 } }
GS
mx_guest "$tmp/routing.gs" echo --vcpus 2
check "routing: ports, MMIO, PCI config decode, unclaimed, rep via foreign maps, two vcpus" test "$mx_status" -eq 0

cat >"$tmp/buffered.gs" <<'GS'
mmio-write 0xa0010, 4, 0x11223344          # buffered (VGA window)
in 0x1f0, 4 == 0x11223344                  # the DM drained the ring first
in 0x1fc, 4 == 0xa0010
in 0x1f8, 4 == 1
mmio-write 0xa0020, 8, 0x5566778899aabbcc  # 8 bytes: two slots
in 0x1f0, 4 == 0x99aabbcc
in 0x1f4, 4 == 0x55667788
in 0x1f8, 4 == 3
expect-count guest_bufioreq == 2
count guest_ioreq -> $n
mmio-read 0xa0000, 4 == 0xa10a0000         # reads are never buffered
poke 0x1000, 8, 0
rep-mmio-write 0xa0000, 4, 2, 0x1000       # data_is_ptr: synchronous
expect-count guest_ioreq == $n + 2
expect-count guest_bufioreq == 2
GS
mx_guest "$tmp/buffered.gs" echo
check "buffered: writes only, 8 bytes take two slots, rep/ptr go sync" test "$mx_status" -eq 0

cat >"$tmp/bufaddr.gs" <<'GS'
count guest_ioreq -> $n
out 0x104, 2, 0x4455                       # port write below 0xfffff: buffered
in 0x1f0, 4 == 0x4455
mmio-write 0xf0000010, 4, 1                # above 0xfffff: synchronous
expect-count guest_bufioreq == 1
expect-count guest_ioreq == $n + 2
GS
mx_guest "$tmp/bufaddr.gs" echo --buffered 0-0xffffffff
check "buffered: only addresses up to 0xfffff" test "$mx_status" -eq 0

cat >"$tmp/bufull.gs" <<'GS'
repeat 511 { mmio-write 0xa0000, 4, 1 }
expect-count guest_bufioreq == 511
count guest_ioreq -> $n
mmio-write 0xa0000, 4, 1                   # ring full: Xen falls back to sync
expect-count guest_ioreq == $n + 1
expect-count guest_bufioreq == 511
GS
mx_guest "$tmp/bufull.gs" nodrain
check "buffered: a full ring falls back to a synchronous ioreq" test "$mx_status" -eq 0

cat >"$tmp/irq.gs" <<'GS'
out 0x1e0, 1, 1                            # DM raises ISA IRQ 5
wait-irq isa 5 timeout 2s
irq-level isa 5 == 1
out 0x1e0, 1, 0
irq-level isa 5 == 0
out 0x1e4, 4, 0x4041                       # DM injects an MSI
wait-irq msi data 0x4041 timeout 2s
log-dirty on
out 0x1e8, 4, 0x42                         # DM: modified_memory(0x42)
dirty 0x40, 8 == 1
poke 0x2000, 4, 7                          # the guest's own write is logged too
dirty 0, 8 clean == 1
dirty 0, 8 == 0
expect-count modified_memory == 1
GS
mx_guest "$tmp/irq.gs" echo
check "interrupts and log-dirty reach the guest" test "$mx_status" -eq 0
done_testing
