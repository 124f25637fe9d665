#!/bin/bash
# Run every test and print one summary line "N passed, N failed".
#
# Usage: run-tests.sh [--unit-only] ASAN_BUILD_DIR REL_BUILD_DIR
#
# Every test program speaks TAP on stdout ("ok N - name", "not ok N - name", with
# "# SKIP" for skips): cmocka binaries through CMOCKA_MESSAGE_OUTPUT=tap, integration
# scripts through tests/integration/lib.sh. A program that exits non-zero without
# reporting a failure (a crash, a sanitizer report) counts as one failure.
# Integration tests get XENDM_BUILD (the ASan build) and XENDM_REL_BUILD.
set -u
unit_only=0
[ "${1:-}" = "--unit-only" ] && { unit_only=1; shift; }
asan=${1:?asan build dir}
rel=${2:?rel build dir}
top=$(cd "$(dirname "$0")/.." && pwd)
logdir="$top/build/test-logs"
mkdir -p "$logdir"

export CMOCKA_MESSAGE_OUTPUT=tap
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export XENDM_BUILD="$top/$asan" XENDM_REL_BUILD="$top/$rel" XENDM_TOP="$top"

passed=0 failed=0 skipped=0
run_one() {                       # $1 = label, rest = command
    local label=$1; shift
    local log="$logdir/$(echo "$label" | tr '/' '_').log"
    local rc p f s
    timeout 600 "$@" >"$log" 2>&1
    rc=$?
    p=$(grep -E '^ok [0-9]+' "$log" | grep -vc '# SKIP')
    s=$(grep -Ec '^(not )?ok [0-9]+.*# SKIP' "$log")
    f=$(grep -E '^not ok [0-9]+' "$log" | grep -vc '# SKIP')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$rc" -ne 77 ]; then f=1; fi
    if [ "$rc" -eq 77 ] && [ "$p$f$s" = "000" ]; then s=1; fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$f" -ne 0 ]; then
        echo "FAIL $label ($p passed, $f failed, $s skipped, exit $rc) — log: $log"
        grep -E '^not ok|^# |ERROR|Sanitizer|runtime error' "$log" | grep -v '# SKIP' | head -20 | sed 's/^/    /'
    else
        if [ "$s" -ne 0 ]; then echo "ok   $label ($p passed, $s skipped)"; else echo "ok   $label ($p passed)"; fi
        grep -E '# SKIP' "$log" | head -5 | sed 's/^/    /'
    fi
}

for t in "$top/$asan"/tests/unit/test_*; do
    [ -x "$t" ] || continue
    case "$t" in *.o|*.d) continue;; esac
    run_one "unit/$(basename "$t")" "$t"
done
if [ "$unit_only" = 0 ]; then
    for t in "$top"/tests/integration/*.sh; do
        [ -f "$t" ] || continue
        case "$(basename "$t")" in lib.sh) continue;; esac
        run_one "integration/$(basename "$t" .sh)" bash "$t"
    done
fi
echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
