#!/bin/bash
# Grant DMA end to end: a guest script sets up its grant table in mockxen, grants the
# pages of the rings and buffers, and drives xendm's virtio-blk with grant_usage=1
# through grant addresses (tests/guest-scripts/virtio-blk-grants.gs): the data reaches
# the image and comes back, what was not granted (or granted read-only for a device
# write, to another domain, or revoked) fails the request with IOERR, and every grant
# can be revoked once its request is back. xendm maps through mockxen's libxengnttab
# shim.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"

img=$tmp/disk.img
truncate -s 1M "$img"
sector_byte() {
    dd if="$img" bs=512 skip="$1" count=1 status=none | od -An -tx1 -v | tr -s ' \n' '\n' |
        sed '/^$/d' | sort -u | awk 'NR > 1 { m = 1 } { b = $1 } END { print m ? "mixed" : b }'
}

xendm_run "$scripts/virtio-blk-grants.gs" -- --device "virtio-blk,file=$img,grant_usage=1"
check "virtio-blk over grants: ACCESS_PLATFORM, write, read back, refused grants" \
    test "$mx_status" -eq 0 -a "$dm_status" -eq 0
check "... the image holds the guest's bytes (sectors 8 and 16)" \
    test "$(sector_byte 8)$(sector_byte 15)$(sector_byte 16)$(sector_byte 23)" = 5a5aa5a5
check "... and nothing of the refused requests" test "$(sector_byte 0)$(sector_byte 24)" = 0000
maps=$(mx_count xengnttab_map_domain_grant_refs)
unmaps=$(mx_count xengnttab_unmap)
check "... through xengnttab_map_domain_grant_refs ($maps calls) and xengnttab_unmap ($unmaps)" \
    test "$maps" -gt 0 -a "$unmaps" -gt 0 -a "$unmaps" -le "$maps"

# Without grant_usage the device offers no ACCESS_PLATFORM: the script's first check fails.
xendm_run "$scripts/virtio-blk-grants.gs" -- --device "virtio-blk,file=$img"
check "without grant_usage=1 the device does not offer ACCESS_PLATFORM" test "$mx_status" -ne 0
check "... as the script says" grep -q 'expected == 0x2' "$tmp/mx.err"

done_testing
