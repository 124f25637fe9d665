#!/bin/bash
# xendm --runas and --chroot: once started, xendm runs as the given user in the given
# root directory and still serves the guest (port I/O, PCI config, DMA through the
# mapcache, interrupts); bad values stop it before Xen is touched; without root the
# drop fails start-up with the reason. Dropping needs root: skipped otherwise.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/tests/integration/xendm_lib.bash"
. "$top/tools/mockxen/procs.sh"

dm_alone() {
    env LD_LIBRARY_PATH="$shim" "$@" >"$tmp/alone.out" 2>"$tmp/alone.err"
    alone_status=$?
}
dm_alone "$xendm" --domid 1 --runas no-such-user-here
check "an unknown user stops start-up before Xen is touched" \
    bash -c "[ $alone_status -eq 1 ] && grep -q \"runas: unknown user 'no-such-user-here'\" '$tmp/alone.err'"
dm_alone "$xendm" --domid 1 --chroot "$tmp/no-such-dir"
check "so does a root directory that does not exist" \
    bash -c "[ $alone_status -eq 1 ] && grep -q 'cannot use .* as the root directory' '$tmp/alone.err'"

if [ "$(id -u)" != 0 ]; then
    skip_test "dropping privileges needs root (running as uid $(id -u))"
    done_testing
fi

# The guest: a UART round trip, then (after xendm has dropped privileges) the PCI test
# device's DMA into guest RAM and its interrupt.
cat >"$tmp/guest.gs" <<'GS'
sleep 200ms
out 0x3ff, 1, 0x42
in 0x3ff, 1 == 0x42
GS
cat "$scripts/pci-testdev.gs" >>"$tmp/guest.gs"
mkdir -p "$tmp/jail"
"$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid 1 --populate-mb 64 \
    --script "$tmp/guest.gs" >"$tmp/mx.out" 2>"$tmp/mx.err" &
mx_pid=$!
MOCKXEN_SOCKET=$tmp/mx.sock XENSTORED_PATH=$tmp/xs.sock mx_wait_sockets "$mx_pid"
# LeakSanitizer needs /proc, which the root directory given here does not have.
"${xendm_env[@]}" ASAN_OPTIONS=detect_leaks=0 "$xendm" --domid 1 --runas nobody \
    --chroot "$tmp/jail" --log info >"$tmp/dm.out" 2>"$tmp/dm.err" &
dm_pid=$!
for _ in $(seq 100); do grep -q "running as uid" "$tmp/dm.err" && break; sleep 0.02; done
uid=$(awk '/^Uid:/ { print $2 "/" $3 "/" $4 "/" $5 }' "/proc/$dm_pid/status")
gid=$(awk '/^Gid:/ { print $2 }' "/proc/$dm_pid/status")
root=$(readlink "/proc/$dm_pid/root")
check "xendm runs as nobody (real, effective, saved and fs uid)" \
    test "$uid" = "65534/65534/65534/65534"
check "... in nobody's group" test "$gid" = 65534
check "... with the given root directory" test "$root" = "$tmp/jail"
check "... and logged it" grep -q "running as uid 65534 gid 65534, root directory $tmp/jail" "$tmp/dm.err"
wait "$mx_pid"; mx_status=$?
check "the guest is served after the drop (UART, PCI config, DMA, interrupt)" \
    test "$mx_status" -eq 0
[ "$mx_status" -eq 0 ] || sed 's/^/# mockxen: /' "$tmp/mx.err" | grep -v '^# mockxen: [a-z_]* [0-9]*$' | tail -5
kill -TERM "$dm_pid"; wait "$dm_pid"; dm_status=$?
check "... and xendm stops cleanly" test "$dm_status" -eq 0

# Not root any more cannot chroot: start-up fails, naming why.
setpriv_ok=$(command -v setpriv)
if [ -n "$setpriv_ok" ]; then
    printf 'sleep 2s\n' >"$tmp/idle.gs"
    "$mockxen" --socket "$tmp/mx2.sock" --xenstore "$tmp/xs2.sock" --domid 1 --populate-mb 16 \
        --script "$tmp/idle.gs" >/dev/null 2>&1 &
    mx_pid=$!
    MOCKXEN_SOCKET=$tmp/mx2.sock XENSTORED_PATH=$tmp/xs2.sock mx_wait_sockets "$mx_pid"
    chmod 0777 "$tmp/mx2.sock" "$tmp/xs2.sock" "$tmp"
    env LD_LIBRARY_PATH="$shim" MOCKXEN_SOCKET="$tmp/mx2.sock" XENSTORED_PATH="$tmp/xs2.sock" \
        ASAN_OPTIONS=detect_leaks=0 setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$xendm" --domid 1 --chroot "$tmp/jail" >/dev/null 2>"$tmp/noroot.err"
    [ -s "$tmp/noroot.err" ] && sed "s/^/# /" "$tmp/noroot.err" | head -3
    check "without root, --chroot fails start-up and says it needs root" \
        grep -q "drop privileges: cannot change the root directory .*must start as root" "$tmp/noroot.err"
    kill "$mx_pid" 2>/dev/null; wait "$mx_pid" 2>/dev/null
else
    skip_test "setpriv (util-linux) not installed"
fi
done_testing
