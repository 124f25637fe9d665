#!/bin/bash
# Stopping xendm while the guest keeps using its devices: at SIGTERM xendm disables its
# ioreq server (nothing more is routed to it), serves the requests vCPUs posted before
# with its devices still in place (a long rep ins carried out in slices included), and
# destroys the server only once every vCPU has taken its answer. Before, a vCPU that
# touched a device during teardown waited until the server was destroyed and then went
# on with whatever its request held (on mockxen: "destroyed during an ioreq"). Several
# rounds, since the stop lands at a different point of the guest's requests each time.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"

rounds=${STOP_ROUNDS:-6}
mx_failed=0 dm_failed=0 unanswered=0
for round in $(seq "$rounds"); do
    rm -f "$tmp"/mx.* "$tmp"/xs.sock "$tmp"/dm.*
    "$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid 1 --populate-mb 64 \
        --start-timeout 20000 --script "$scripts/poll-while-stopping.gs" \
        >"$tmp/mx.out" 2>"$tmp/mx.err" &
    mx_pid=$!
    for i in $(seq 200); do [ -S "$tmp/mx.sock" ] && [ -S "$tmp/xs.sock" ] && break; sleep 0.05; done
    "${xendm_env[@]}" "$xendm" --domid 1 --log info ${XENDM_TEST_ARGS:-} >/dev/null \
        2>"$tmp/dm.err" &
    dm_pid=$!
    for i in $(seq 200); do grep -q "serving domain" "$tmp/dm.err" && break; sleep 0.05; done
    sleep 0.$((2 + round % 5))                 # the guest is busy by now
    kill -TERM "$dm_pid"
    wait "$dm_pid" || dm_failed=$((dm_failed + 1))
    wait "$mx_pid" || { mx_failed=$((mx_failed + 1)); grep -m2 'error' "$tmp/mx.err" | sed 's/^/# /'; }
    grep -q "unanswered" "$tmp/dm.err" && unanswered=$((unanswered + 1))
done
check "$rounds stops under a busy guest: no vCPU left waiting, the ports then unclaimed" \
    test "$mx_failed" -eq 0
check "... xendm exited 0 each time" test "$dm_failed" -eq 0
check "... without reaching the drain's time limit" test "$unanswered" -eq 0

done_testing
