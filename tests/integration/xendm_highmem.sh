#!/bin/bash
# Guest RAM above 4 GiB: a 6 GiB mockxen domain populated as libxl does (below the PCI
# hole at 0xf0000000 and from 4 GiB; the memfd is sparse, so only touched pages cost
# memory) served by xendm, which learns the size from the domain and lays it out as
# Xen does. The test device's DMA, rep ins/outs with data_is_ptr, a rep movs and
# virtio-blk's rings and buffers work above 4 GiB (through the mapcache), a device
# write there reaches the dirty log at its own frame, and the hole is not RAM to
# devices. With xl's mmio_hole (a bigger hole) xendm takes the split libxl wrote to
# xenstore; --memory and --max-ram-below-4g set the layout by hand.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"

xendm_run "$scripts/xendm-highmem.gs" --populate-mb 6144 \
    --param ram=0x100000000 --param bar=0xf0000000 -- --log-dirty --log info
check "6 GiB guest: DMA, rep ins/outs/movs and the dirty log above 4 GiB; the hole refused" \
    test "$mx_status" -eq 0 -a "$dm_status" -eq 0
check "... xendm laid out what the domain has: 3840 MiB at 0x0, 2304 MiB at 0x100000000" \
    grep -q "guest RAM: 3840 MiB at 0x0, 2304 MiB at 0x100000000" "$tmp/dm.err"
check "... and refused the DMA into the hole and past the ends of RAM (3 times)" \
    test "$(grep -c 'refused (error 4)' "$tmp/dm.err")" -eq 3

img=$tmp/disk.img
rm -f "$img"; truncate -s 1M "$img"
xendm_run "$scripts/virtio-blk.gs" --populate-mb 6144 --param ram=0x18ff00000 -- \
    --memory 6144 --device "virtio-blk,file=$img,serial=xendm-disk-0"
check "virtio-blk with its rings and buffers in the last MiB of RAM above 4 GiB" \
    test "$mx_status" -eq 0 -a "$dm_status" -eq 0
check "... sector 5 of the image holds the guest's bytes" \
    test "$(od -An -tx1 -v -j 2560 -N 512 "$img" | tr -s ' \n' '\n' | sed '/^$/d' | sort -u)" = 5a

# xl's mmio_hole=1024: libxl puts 3 GiB below the hole, writes the hole's size to
# xenstore (platform/mmio_hole_size) and tells QEMU max-ram-below-4g=0xc0000000; xendm
# learns the same split from xenstore.
xendm_run "$scripts/xendm-highmem.gs" --populate-mb 6144 --mmio-hole-mb 1024 \
    --param ram=0x100000000 --param bar=0xf0000000 --param hole=0xc0000000 \
    --param high_end=0x1c0000000 -- --log-dirty --log info
check "a 1 GiB hole: RAM to 0xc0000000 and 3 GiB from 4 GiB, the hole refused" \
    test "$mx_status" -eq 0 -a "$dm_status" -eq 0
check "... as xendm laid it out from the domain's xenstore" \
    grep -q "guest RAM: 3072 MiB at 0x0, 3072 MiB at 0x100000000" "$tmp/dm.err"

# --memory and --max-ram-below-4g choose the layout: 2 GiB at 0 and 2 GiB at 4 GiB of
# the 6 GiB domain; what lies beyond is not RAM to devices, populated or not.
xendm_run "$scripts/xendm-highmem.gs" --populate-mb 6144 \
    --param ram=0x100000000 --param bar=0xf0000000 --param hole=0x80000000 \
    --param high_end=0x180000000 -- --memory 4096 --max-ram-below-4g 0x80000000 \
    --log-dirty --log info
check "--memory 4096 --max-ram-below-4g 0x80000000: 2 GiB at 0, 2 GiB at 4 GiB" \
    test "$mx_status" -eq 0 -a "$dm_status" -eq 0
check "... as xendm laid it out" grep -q "guest RAM: 2048 MiB at 0x0, 2048 MiB at 0x100000000" "$tmp/dm.err"

check "--max-ram-below-4g past Xen's hole start is refused, naming the limit" \
    bash -c "'$xendm' -d 1 --max-ram-below-4g 0xf0001000 2>&1 >/dev/null |
             grep -q 'expected a multiple of 4 KiB from 1 MiB to 0xf0000000'; [ \${PIPESTATUS[0]} -eq 1 ]"
check "--max-ram-below-4g is refused for the Arm machine, whose banks are fixed" \
    bash -c "'$xendm' -d 1 --machine arm --max-ram-below-4g 0xc0000000 2>&1 >/dev/null |
             grep -q 'is for x86 guests'; [ \${PIPESTATUS[0]} -eq 1 ]"
check "mockxen refuses --mmio-hole-mb for an Arm domain" \
    bash -c "'$mockxen' --socket '$tmp/x.sock' --xenstore '$tmp/y.sock' --arch arm \
             --mmio-hole-mb 1024 2>&1 | grep -q 'is for x86 domains'"
check "mockxen refuses --mem-mb too small for the RAM above 4 GiB" \
    bash -c "'$mockxen' --socket '$tmp/x.sock' --xenstore '$tmp/y.sock' --populate-mb 6144 \
             --mem-mb 4096 2>&1 | grep -q 'needs --mem-mb 6400 or more'"
done_testing
