# Any virtio device on PCI, driven without hard-coded register addresses: walk its
# capability list as a driver does to find the common configuration, notify and ISR
# structures in BAR 0, set up queue 0 with one device-writable buffer, kick it, poll
# the used ring until the device is done, then take its INTA.
#
#   mockxen ... --script virtio-pci-caps.gs --param slot=4 [--param device=0x1044]
param $slot                                    # the device's PCI slot on bus 0
param $device = 0x1044                         # virtio 1.0 device ID (0x1044: entropy)
param $bar = 0xe2000000                        # where BAR 0 goes
$cfg   = 0x80000000 | ($slot << 11)
$desc  = 0x20000
$avail = 0x21000
$used  = 0x22000
$buf   = 0x23000

out 0xcf8, 4, $cfg
in  0xcfc, 4 == ($device << 16) | 0x1af4

# The capability list: each entry is [id, next, len, cfg_type], then bar at +4, offset
# at +8; a notify structure adds its multiplier at +16. Bounded: a list that loops is
# the device's bug, and fails here.
out 0xcf8, 4, $cfg | 0x34
in  0xcfc, 1 -> $cap
$found = 0
while $cap != 0 max 48 {
    out 0xcf8, 4, $cfg | $cap
    in  0xcfc, 4 -> $head
    if $head & 0xff == 0x09 {                  # vendor-specific: a virtio structure
        $type = ($head >> 24) & 0xff
        out 0xcf8, 4, $cfg | ($cap + 4)
        in  0xcfc, 1 == 0                      # in BAR 0
        out 0xcf8, 4, $cfg | ($cap + 8)
        in  0xcfc, 4 -> $offset
        if $type == 1 { $common = $offset } else if $type == 3 { $isr = $offset }
        if $type == 2 {
            $notify = $offset
            out 0xcf8, 4, $cfg | ($cap + 16)
            in  0xcfc, 4 -> $multiplier
        }
        $found = $found | (1 << $type)
    }
    if $found & 0xe == 0xe { break }           # common, notify and ISR: enough
    $cap = ($head >> 8) & 0xfc
}
expect $found & 0xe == 0xe

out 0xcf8, 4, $cfg | 0x10                      # BAR 0
out 0xcfc, 4, $bar
out 0xcf8, 4, $cfg | 0x04
out 0xcfc, 2, 0x0006                           # memory decode + bus master

$cc = $bar + $common
mmio-write $cc + 0x14, 1, 0                    # device_status: reset
mmio-write $cc + 0x14, 1, 3                    # ACKNOWLEDGE | DRIVER
mmio-write $cc + 0x00, 4, 1                    # device_feature_select: bits 32-63
mmio-read  $cc + 0x04, 4 -> $features
expect $features & 1 == 1                      # VIRTIO_F_VERSION_1
mmio-write $cc + 0x08, 4, 1
mmio-write $cc + 0x0c, 4, 1
mmio-write $cc + 0x14, 1, 11                   # FEATURES_OK
mmio-read  $cc + 0x14, 1 == 11
fill $desc, 0x3000, 0
fill $buf, 64, 0
mmio-write $cc + 0x16, 2, 0                    # queue_select
mmio-read  $cc + 0x18, 2 -> $max
if $max < 4 { fail "queue 0 holds fewer than 4 descriptors" }
mmio-write $cc + 0x18, 2, 4
mmio-write $cc + 0x20, 4, $desc
mmio-write $cc + 0x24, 4, 0
mmio-write $cc + 0x28, 4, $avail
mmio-write $cc + 0x2c, 4, 0
mmio-write $cc + 0x30, 4, $used
mmio-write $cc + 0x34, 4, 0
mmio-write $cc + 0x1c, 2, 1                    # queue_enable
mmio-write $cc + 0x14, 1, 15                   # DRIVER_OK

poke $desc, 8, $buf                            # one 64-byte device-writable buffer
poke $desc + 8, 4, 64
poke $desc + 12, 2, 2
poke $avail + 4, 2, 0
poke $avail + 2, 2, 1
mmio-read  $cc + 0x1e, 2 -> $noff              # queue_notify_off
mmio-write $bar + $notify + $noff * $multiplier, 2, 0

# The device may finish later than the kick: poll the used ring's index, bounded.
$done = 0
while $done == 0 timeout 2s {
    peek $used + 2, 2 -> $done
    if $done == 0 { sleep 100us }
}
expect $done == 1
peek $used + 8, 4 == 64                        # bytes written
wait-irq intx 0, $slot, a
mmio-read $bar + $isr, 1 == 1                  # ISR: used buffers; reading clears it
irq-level intx 0, $slot, a == 0
