#!/bin/bash
# Run every benchmark and print one table.
#
# Usage: run-bench.sh REL_BUILD_DIR
#
# A benchmark is bench/bench_*.c (built into REL_BUILD_DIR/bench/) or bench/*.sh. Each
# prints result rows on stdout as tab-separated fields:
#     row<TAB>name<TAB>value<TAB>unit<TAB>goal / comparison (free text)
# and anything else as commentary (shown only on failure). Rows are printed as a table
# and written to build/bench-results.txt. A benchmark may also write a text file into
# $XENDM_BENCH_SECTIONS (e.g. the side-by-side tables of bench/compare.sh and
# bench/blk.sh); each is printed after the table as a section of its own. A bench/*.sh
# that is a library (bench/lib.sh, bench/blk_guest.sh) exits at once when run. A
# benchmark that leaves a process running 5 s after it exited fails, the process named
# and stopped (scripts/strays.bash).
set -u
rel=${1:?rel build dir}
top=$(cd "$(dirname "$0")/.." && pwd)
export XENDM_REL_BUILD="$top/$rel" XENDM_TOP="$top"
out="$top/build/bench-results.txt"
: >"$out"
sections="$top/build/bench-sections"
rm -rf "$sections" && mkdir -p "$sections"
export XENDM_BENCH_SECTIONS=$sections
. "$top/scripts/strays.bash"
run_guard
status=0 runs=0
run() {
    local label=$1; shift
    local log; log=$(mktemp)
    local mark=$run_mark/$((runs += 1)) left
    if ! XENDM_RUN_MARK=$mark "$@" >"$log" 2>&1; then
        echo "bench $label failed:" >&2; tail -20 "$log" >&2; status=1
    fi
    if ! left=$(run_strays_left "$mark"); then
        echo "bench $label left running after it exited (now stopped):" >&2
        echo "$left" | sed 's/^/    /' >&2; status=1
    fi
    grep -P '^row\t' "$log" >>"$out"
    rm -f "$log"
}
for b in "$top/$rel"/bench/bench_*; do
    [ -x "$b" ] && [ "${b%.o}" = "$b" ] && [ "${b%.d}" = "$b" ] && run "$(basename "$b")" "$b"
done
for s in "$top"/bench/*.sh; do
    [ -f "$s" ] && run "$(basename "$s")" bash "$s"
done
printf '%-28s %14s  %-8s %s\n' benchmark value unit "goal / comparison"
printf '%-28s %14s  %-8s %s\n' ---------------------------- -------------- -------- -----------------
awk -F'\t' '{ printf "%-28s %14s  %-8s %s\n", $2, $3, $4, $5 }' "$out"
for f in "$sections"/*; do
    [ -f "$f" ] && { echo; cat "$f"; }
done
exit $status
