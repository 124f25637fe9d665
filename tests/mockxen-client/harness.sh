# tests/mockxen-client/harness.sh — shared set-up for the mockxen integration tests
# (tests/integration/mockxen_*.sh). Source it after tests/integration/lib.sh.
#
#   mx_start ARGS...        start the daemon (ASan build) in the background on fresh
#                           sockets; returns once its socket exists
#   mx_stop                 SIGTERM the daemon and wait; its status in $mx_status
#   mx_guest SCRIPT MODE [ARGS...]   run the daemon with a guest script and mxclient as
#                           device model in MODE; the daemon's exit status in $mx_status,
#                           its stderr in $tmp/mx.err
top=${XENDM_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
build=${XENDM_BUILD:-$top/build/asan}
mockxen=$build/tools/mockxen/mockxen
mxclient=$build/tests/mockxen-client/mxclient
tmp=$(mktemp -d /tmp/mockxen-test-XXXXXX)
export MOCKXEN_SOCKET=$tmp/mockxen.sock XENSTORED_PATH=$tmp/xenstored.sock
# The shims: build/shim, or the folders in $MOCKXEN_SHIM_DIR (which mockxen hands its
# null device model too); the first holds those of $build's architecture.
shims=${MOCKXEN_SHIM_DIR:-$top/build/shim}
export LD_LIBRARY_PATH=$shims
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
mx_pid= dm_pid= mx_status=
. "$top/tools/mockxen/procs.sh"

mx_cleanup() {
    [ -n "$dm_pid" ] && kill "$dm_pid" 2>/dev/null
    [ -n "$mx_pid" ] && kill "$mx_pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$tmp"
}
at_exit mx_cleanup

for f in "$mockxen" "$mxclient" "${shims%%:*}/libxendevicemodel.so.1"; do
    if [ ! -e "$f" ]; then
        not_ok "$f is built (make mockxen-asan)"
        done_testing
    fi
done

mx_start() {
    # A daemon killed with SIGKILL leaves its sockets behind: waiting for them to appear
    # must not see the old ones.
    rm -f "$MOCKXEN_SOCKET" "$XENSTORED_PATH"
    "$mockxen" --socket "$MOCKXEN_SOCKET" --xenstore "$XENSTORED_PATH" "$@" \
        >"$tmp/mx.out" 2>"$tmp/mx.err" &
    mx_pid=$!
    mx_wait_sockets "$mx_pid"
}

mx_stop() {
    kill -TERM "$mx_pid" 2>/dev/null
    wait "$mx_pid"
    mx_status=$?
    mx_pid=
}

mx_guest() {
    local script=$1 mode=$2; shift 2
    mx_start --script "$script" --start-timeout 20000 "$@"
    "$mxclient" dm "$mode" 1 2>"$tmp/dm.err" &
    dm_pid=$!
    wait "$mx_pid"
    mx_status=$?
    mx_pid=
    kill "$dm_pid" 2>/dev/null
    wait "$dm_pid" 2>/dev/null
    dm_pid=
    if [ "$mx_status" -ne 0 ]; then
        sed 's/^/# mockxen: /' "$tmp/mx.err" | grep -v ' [0-9]*$' | head -20
    fi
    return 0
}
