# Helpers for xendm integration tests: run mockxen with a guest script and xendm (the
# ASan build, the same binary a user runs) against it through the shim libraries.
#
#   xendm_run SCRIPT [mockxen options] -- [xendm options]
# starts mockxen (domain 1, 64 MiB populated, log in $tmp/mx.*), starts xendm (its
# stdout goes to $dm_stdout if set, else $tmp/dm.out), waits for mockxen to finish the
# script, stops xendm with SIGTERM (or $dm_signal, e.g. KILL) and sets:
#   $mx_status  mockxen's exit status (0: every expectation held)
#   $dm_status  xendm's exit status
#   $tmp/mx.out $tmp/mx.err $tmp/dm.out $tmp/dm.err $tmp/dm.stats
# Source after lib.sh.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${XENDM_BUILD:-$top/build/asan}
rel=${XENDM_REL_BUILD:-$top/build/rel}
mockxen=$build/tools/mockxen/mockxen
xendm=$build/xendm
shim=${MOCKXEN_SHIM_DIR:-$top/build/shim}     # the arm64 run: its shims first
scripts=$top/tests/guest-scripts
tmp=$(mktemp -d)
at_exit 'rm -rf "$tmp"'
# "${xendm_env[@]}" PROGRAM ARGS...: run PROGRAM against this test's mockxen. A
# command, not a function, so that `... &` makes $! the program's pid (env execs it),
# not that of a subshell that would outlive a kill.
xendm_env=(env LD_LIBRARY_PATH="$shim" MOCKXEN_SOCKET="$tmp/mx.sock" XENSTORED_PATH="$tmp/xs.sock")

xendm_run() {
    local script=$1; shift
    local mx_args=() dm_args=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do mx_args+=("$1"); shift; done
    [ "${1:-}" = "--" ] && shift
    dm_args=("$@")
    rm -f "$tmp"/mx.* "$tmp"/xs.sock "$tmp"/dm.*
    "$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --domid 1 \
        --populate-mb 64 --start-timeout 20000 --script "$script" "${mx_args[@]}" \
        >"$tmp/mx.out" 2>"$tmp/mx.err" &
    local mx_pid=$!
    local i
    for i in $(seq 200); do [ -S "$tmp/mx.sock" ] && [ -S "$tmp/xs.sock" ] && break; sleep 0.05; done
    "${xendm_env[@]}" "$xendm" --domid 1 --stats "$tmp/dm.stats" "${dm_args[@]}" >"${dm_stdout:-$tmp/dm.out}" \
        2>"$tmp/dm.err" &
    local dm_pid=$!
    wait "$mx_pid"; mx_status=$?
    kill -"${dm_signal:-TERM}" "$dm_pid" 2>/dev/null
    wait "$dm_pid" 2>/dev/null; dm_status=$?
    local expected=0
    [ "${dm_signal:-TERM}" = KILL ] && expected=137
    if [ "$mx_status" -ne 0 ] || [ "$dm_status" -ne "$expected" ]; then
        diag "mockxen exit $mx_status, xendm exit $dm_status"
        grep -v '^[a-z_]* [0-9]*$' "$tmp/mx.err" | tail -5 | sed 's/^/# mockxen: /'
        tail -5 "$tmp/dm.err" | sed 's/^/# xendm: /'
    fi
}

# stat NAME: a counter from xendm's --stats output.
dm_stat() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/dm.stats"; }
# mx_count NAME: a counter from mockxen's exit report.
mx_count() { awk -v k="$1" '$1 == k { n = $2 } END { print n + 0 }' "$tmp/mx.err"; }

if [ ! -x "$xendm" ] || [ ! -x "$mockxen" ]; then
    skip_test "xendm or mockxen not built ($xendm, $mockxen)"
    done_testing
fi
