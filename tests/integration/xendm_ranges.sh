#!/bin/bash
# The Xen listener's registrations against mockxen: a ROM device is registered whatever
# its romd mode (its RAM is not in the guest's p2m at the device's address), and a romd
# change unmaps exactly the range it mapped, so no refusal and no range left behind.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"
listener=$build/tests/xen-check/listener

echo "# no guest: nothing announces 'running'" >"$tmp/none.gs"
"$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid 1 --mem-mb 64 \
    --start-timeout 1500 --script "$tmp/none.gs" >"$tmp/mx.out" 2>"$tmp/mx.err" &
mx_pid=$!
for _ in $(seq 200); do [ -S "$tmp/mx.sock" ] && [ -S "$tmp/xs.sock" ] && break; sleep 0.05; done
"${xendm_env[@]}" "$listener" 1 >"$tmp/l.out" 2>"$tmp/l.err"
l_status=$?
wait "$mx_pid"
[ "$l_status" -ne 0 ] && sed "s/^/# /" "$tmp/l.err"
check "ROM device: registered in romd mode, romd changes accepted, ranges balanced" \
    test "$l_status" -eq 0
done_testing
