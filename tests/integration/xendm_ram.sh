#!/bin/bash
# Guest RAM that xendm places itself (any RAM block but the toolstack's main RAM) is
# populated through xc_domain_populate_physmap_exact; a refused populate is reported
# with the frames and the domain, and leaves no half-added RAM block and no frame
# populated in the guest.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"
ram_alloc=$build/tests/xen-check/ram_alloc

# run_ram_alloc KIB [mockxen options]: mockxen with nothing populated, then the program.
run_ram_alloc() {
    local kib=$1; shift
    rm -f "$tmp"/mx.* "$tmp"/xs.sock
    echo "# no guest: nothing announces 'running'" >"$tmp/none.gs"
    "$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid 1 --mem-mb 64 \
        --start-timeout 1500 --script "$tmp/none.gs" "$@" >"$tmp/mx.out" 2>"$tmp/mx.err" &
    local mx_pid=$!
    for _ in $(seq 200); do [ -S "$tmp/mx.sock" ] && [ -S "$tmp/xs.sock" ] && break; sleep 0.05; done
    "${xendm_env[@]}" "$ram_alloc" 1 "$kib" >"$tmp/ra.out" 2>"$tmp/ra.err"
    ra_status=$?
    populated=$("$mockxen" --query "$tmp/mx.sock" status 2>/dev/null | awk '$1 == "populated" { print $2 }')
    wait "$mx_pid"
    [ "$ra_status" -ne 0 ] && sed "s/^/# /" "$tmp/ra.err"
}

run_ram_alloc 8192
check "an 8 MiB block is populated through Xen" test "$ra_status" -eq 0
check "... in 1024-frame batches (2 calls for 2048 frames)" \
    test "$(mx_count xc_domain_populate_physmap_exact)" -eq 2
check "... and has no host pointer (accesses go through the mapcache)" grep -q "host (nil)" "$tmp/ra.out"

run_ram_alloc 8192 --fail xc_domain_populate_physmap_exact:2:ENOMEM
check "a refused populate fails the allocation (exit 1, nothing left behind)" test "$ra_status" -eq 1
check "... naming the frames, the region and the domain" \
    grep -q "Xen refused to populate 1024 frames at gfn 0x400 for 'vram' (domain 1): Cannot allocate memory" \
    "$tmp/ra.err"
check "... and giving back the 1024 frames it had populated (none left in the guest)" \
    bash -c "[ '$(mx_count xc_domain_decrease_reservation_exact)' -eq 1 ] && [ '$populated' = 0 ]"
done_testing
