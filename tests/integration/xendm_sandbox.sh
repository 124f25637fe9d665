#!/bin/bash
# xendm's sandbox (docs/SECURITY.md), seen from outside in /proc of the running xendm:
# the seccomp filter is on (Seccomp: 2) with no_new_privs, the resource limits follow
# what it has open (a disk image bigger than the floor sets FSIZE), and, as root, it
# lives in mount, IPC, network and UTS namespaces of its own. Under the filter both
# I/O engines serve a disk, and xendm-ctl stop and SIGTERM still shut it down cleanly.
# --sandbox off leaves all of it out; a bad value stops start-up.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"
. "$top/tools/mockxen/procs.sh"
ctl=$build/xendm-ctl
sock=$tmp/ctl.sock
img=$tmp/disk.img

# start_idle XENDM_OPTIONS...: mockxen with a guest that makes one UART round trip and
# idles; xendm (log level info, the control socket at $sock, a threads-engine disk over
# a 1.5 GiB sparse image) once the round trip is done. Sets mx_pid and dm_pid.
start_idle() {
    printf 'out 0x3ff, 1, 0x5a\nin 0x3ff, 1 == 0x5a\nsleep 30s\n' >"$tmp/idle.gs"
    rm -f "$tmp"/mx.sock "$tmp"/xs.sock "$img"
    truncate -s 1536M "$img"
    "$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid 1 --mem-mb 64 --populate-mb 16 \
        --script "$tmp/idle.gs" >"$tmp/mx.out" 2>"$tmp/mx.err" &
    mx_pid=$!
    MOCKXEN_SOCKET=$tmp/mx.sock XENSTORED_PATH=$tmp/xs.sock mx_wait_sockets "$mx_pid"
    "${xendm_env[@]}" "$xendm" --domid 1 --control "$sock" --log info \
        --device "virtio-blk,file=$img,aio=threads" "$@" >"$tmp/dm.out" 2>"$tmp/dm.err" &
    dm_pid=$!
    for _ in $(seq 200); do grep -q "serving domain" "$tmp/dm.err" && [ -S "$sock" ] && break; sleep 0.05; done
    sleep 0.2
    # the ASan build's report handler names a forbidden call before the process dies
    grep -h "forbidden system call\|Sanitizer" "$tmp/dm.err" | sed 's/^/# xendm: /'
}
status_field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$dm_pid/status"; }
# limit NAME: "soft hard" of a line of /proc/PID/limits ("Max open files" ...)
limit() { grep "^$1 " "/proc/$dm_pid/limits" | sed "s/^$1 *//" | awk '{ print $1, $2 }'; }
stop_idle() {
    "$ctl" "$sock" stop >/dev/null
    wait "$dm_pid"; dm_status=$?
    kill "$mx_pid" 2>/dev/null; wait "$mx_pid" 2>/dev/null
}

# ---- on (the default) ----------------------------------------------------------------
start_idle
check "the filter is installed last, after every other step" \
    bash -c "grep 'step [0-9]*/' '$tmp/dm.err' | tail -1 | grep -q 'install the seccomp filter'"
check "xendm runs under a seccomp filter (Seccomp: 2)" test "$(status_field Seccomp)" = 2
check "... with no_new_privs (NoNewPrivs: 1)" test "$(status_field NoNewPrivs)" = 1
check "... on every thread (the threads engine's workers too)" \
    bash -c "for t in /proc/$dm_pid/task/*; do grep -q '^Seccomp:.2' \$t/status || exit 1; done"
check "no core file (CORE 0)" test "$(limit 'Max core file size')" = "0 0"
check "no locked memory (MEMLOCK 0)" test "$(limit 'Max locked memory')" = "0 0"
check "no message queues (MSGQUEUE 0)" test "$(limit 'Max msgqueue size')" = "0 0"
check "FSIZE lets the 1.5 GiB image be written to its end" \
    test "$(limit 'Max file size')" = "1610612736 1610612736"
max_fd=$(ls "/proc/$dm_pid/fd" | sort -n | tail -1)
read -r nofile nofile_hard <<<"$(limit 'Max open files')"
check "NOFILE: above every open fd ($max_fd), at most 65 more ($nofile)" \
    test "$nofile" = "$nofile_hard" -a "$nofile" -gt "$max_fd" -a "$nofile" -le $((max_fd + 65))
tasks=$(ls "/proc/$dm_pid/task" | wc -l)
check "NPROC: its $tasks tasks and 8 more" test "$(limit 'Max processes')" = "$((tasks + 8)) $((tasks + 8))"
if [ "$(id -u)" = 0 ]; then
    for ns in mnt ipc net uts; do
        check "as root, a $ns namespace of its own" \
            test "$(readlink "/proc/$dm_pid/ns/$ns")" != "$(readlink "/proc/self/ns/$ns")"
    done
    check "... but the host's pid and user namespaces" test \
        "$(readlink "/proc/$dm_pid/ns/pid")$(readlink "/proc/$dm_pid/ns/user")" = \
        "$(readlink /proc/self/ns/pid)$(readlink /proc/self/ns/user)"
else
    skip_test "namespaces need root (running as uid $(id -u))"
fi
"$ctl" "$sock" stats >"$tmp/stats"
check "the control socket still accepts clients under the filter" grep -q "^ioreq.sync" "$tmp/stats"
stop_idle
check "xendm-ctl stop under the filter: exit 0" test "$dm_status" -eq 0
check "... after undoing its start-up" grep -q "undo: open the Xen interfaces" "$tmp/dm.err"
check "... and nothing was forbidden" bash -c "! grep -q 'forbidden system call' '$tmp/dm.err'"

# ---- both I/O engines under the filter --------------------------------------------------
sector_byte() {
    dd if="$img" bs=512 skip="$1" count=1 status=none | od -An -tx1 -v | tr -s ' \n' '\n' |
        sed '/^$/d' | sort -u | awk 'NR > 1 { m = 1 } { b = $1 } END { print m ? "mixed" : b }'
}
for aio in io_uring threads; do
    rm -f "$img"; truncate -s 1M "$img"
    xendm_run "$scripts/virtio-blk.gs" -- --log info \
        --device "virtio-blk,file=$img,serial=xendm-disk-0,aio=$aio"
    check "aio=$aio under the filter: the guest's disk requests all complete" \
        test "$mx_status" -eq 0
    check "... SIGTERM still stops xendm cleanly" test "$dm_status" -eq 0
    check "... the image holds the guest's sector" test "$(sector_byte 5)" = 5a
    check "... with the filter installed" grep -q "seccomp filter installed" "$tmp/dm.err"
    check "... and nothing forbidden" bash -c "! grep -q 'forbidden system call' '$tmp/dm.err'"
    [ "$aio" = io_uring ] && check "... on the restricted ring (no fallback to threads)" \
        bash -c "! grep -q 'io_uring is not available' '$tmp/dm.err'"
done

# ---- off ------------------------------------------------------------------------------
start_idle --sandbox off
check "--sandbox off: no filter (Seccomp: 0)" test "$(status_field Seccomp)" = 0
check "... the limits are the parent's" \
    test "$(limit 'Max open files')" = "$(grep '^Max open files ' /proc/self/limits | sed 's/^Max open files *//' | awk '{ print $1, $2 }')"
check "... and the namespaces too" \
    test "$(readlink "/proc/$dm_pid/ns/net")" = "$(readlink /proc/self/ns/net)"
stop_idle
check "... and it stops cleanly" test "$dm_status" -eq 0

env LD_LIBRARY_PATH="$shim" "$xendm" --domid 1 --sandbox maybe >/dev/null 2>"$tmp/bad.err"
check "--sandbox maybe stops start-up with the reason" \
    bash -c "[ $? -eq 1 ] && grep -q \"sandbox: expected on or off, not 'maybe'\" '$tmp/bad.err'"
done_testing
