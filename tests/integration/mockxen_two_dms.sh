#!/bin/bash
# Two device-model processes on one domain, as Xen allows: xendm A with the default
# machine (UART 0x3f8, the PCI test device 00:03.0) and xendm B with one UART at 0x2f8,
# each with its own ioreq server. mockxen --device-models 2 starts the guest only once
# both are enabled; each device answers only its own registers; when B is killed or
# stopped, A is still served while a vCPU waits on B, and B's ranges stay claimed (as
# Xen keeps a dead emulator's server): the waiting vCPU times out, the domain lives.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/xendm_lib.bash"
. "$top/tools/mockxen/procs.sh"

# start_pair SCRIPT DELAY [mockxen options]: mockxen with two xendm processes, B started
# DELAY seconds after A. Sets $mx_pid $a_pid $b_pid.
start_pair() {
    local script=$1 delay=$2; shift 2
    rm -f "$tmp"/mx.* "$tmp"/xs.sock "$tmp"/a.* "$tmp"/b.*
    "$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid 1 \
        --populate-mb 64 --start-timeout 20000 --device-models 2 --script "$script" "$@" \
        >"$tmp/mx.out" 2>"$tmp/mx.err" &
    mx_pid=$!
    MOCKXEN_SOCKET=$tmp/mx.sock XENSTORED_PATH=$tmp/xs.sock mx_wait_sockets "$mx_pid"
    "${xendm_env[@]}" "$xendm" --domid 1 ${XENDM_TEST_ARGS:-} --stats "$tmp/a.stats" \
        >"$tmp/a.out" 2>"$tmp/a.err" &
    a_pid=$!
    sleep "$delay"
    "${xendm_env[@]}" "$xendm" --domid 1 ${XENDM_TEST_ARGS:-} --no-defaults \
        --device uart,port=0x2f8,irq=3 --stats "$tmp/b.stats" >"$tmp/b.out" 2>"$tmp/b.err" &
    b_pid=$!
}

# wait_for_line FILE TEXT: up to 30 s.
wait_for_line() {
    for _ in $(seq 600); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}

stat_of() { awk -v k="$2" '$1 == k { print $2 }' "$tmp/$1.stats"; }

# ---- both served, each its own ---------------------------------------------------------
start_pair "$scripts/two-dms.gs" 1.5
wait "$mx_pid"; mx_status=$?
kill -TERM "$a_pid" "$b_pid" 2>/dev/null
wait "$a_pid"; a_status=$?
wait "$b_pid"; b_status=$?
check "the guest waited for both device models and each answered its own" \
    test "$mx_status" = 0
[ "$mx_status" = 0 ] || grep -v '^[a-z_]* [0-9]*$' "$tmp/mx.err" | tail -5 | sed 's/^/# /'
check "both xendm processes exit cleanly" test "$a_status$b_status" = 00
# A: 0x3fb twice, 0x3fc, 0x3f8 twice, 0xcfc once (its device's config space; the 0xcf8
# writes are latched by mockxen, as by Xen, and nobody claims the port); B: 0x2fb
# twice, 0x2fc, 0x2f8 twice. The rest went to the null handler.
check "A got exactly its own 6 ioreqs" test "$(stat_of a ioreq.sync)" = 6
check "B got exactly its own 5 ioreqs" test "$(stat_of b ioreq.sync)" = 5
check "nothing crashed the domain" test "$(mx_count domain_crash)" = 0

# ---- B killed, then B stopped: A stays served ------------------------------------------
for sig in KILL STOP; do
    start_pair "$scripts/two-dms-death.gs" 0 --ioreq-timeout 8000
    if wait_for_line "$tmp/mx.out" "both-served"; then
        kill -"$sig" "$b_pid"
        ok "SIG$sig: both device models served the guest first"
    else
        not_ok "SIG$sig: both device models served the guest first"
    fi
    check "SIG$sig: A answered 200 reads while vCPU 1 waited on B" \
        wait_for_line "$tmp/mx.out" "vcpu0: a-served-while-b-waits"
    "$mockxen" --query "$tmp/mx.sock" ranges >"$tmp/ranges" 2>&1
    check "SIG$sig: B's server keeps its range, as Xen keeps it" \
        grep -qx "  port 0x2f8-0x2ff" "$tmp/ranges"
    { wait "$mx_pid"; } 2>/dev/null; mx_status=$?
    check "SIG$sig: vCPU 1's ioreq to B timed out, failing the run" test "$mx_status" = 1
    check "SIG$sig: the timeout is vCPU 1's read of B's port" \
        grep -q "vcpu 1: .*did not answer within 8000 ms (ioreq type 0 addr 0x2fb)" "$tmp/mx.err"
    check "SIG$sig: the domain did not crash" test "$(mx_count domain_crash)" = 0
    [ "$sig" = STOP ] && kill -CONT "$b_pid"
    kill -TERM "$a_pid" "$b_pid" 2>/dev/null
    wait "$a_pid" "$b_pid" 2>/dev/null
done

done_testing
