#!/bin/bash
# scripts/strays.bash: a guarded test stops at its exit every process it started, also
# those a saved pid does not reach (behind a function's subshell, under timeout, whose
# parent has gone), and keeps its exit status; a run that left processes is told so by
# run_strays_left, which lets a process that exits on its own in time go unnamed.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
tmp=$(mktemp -d)
at_exit 'rm -rf "$tmp"'

# A test that starts four programs in ways a saved pid misses, waits until all four
# carry its mark, and exits 3.
cat >"$tmp/leaky.sh" <<EOF
. "$top/tests/integration/lib.sh"
at_exit 'echo first'
at_exit 'echo second'
in_function() { env sleep 300; }
in_function &
timeout 100 sleep 301 &
(sleep 302 &)
echo "\$run_mark" >"$tmp/leaky.mark"
for _ in \$(seq 100); do
    [ "\$(run_strays "\$run_mark" | grep -c '^[0-9]* sleep 30[0-2]\$')" = 3 ] && break
    sleep 0.05
done
run_strays "\$run_mark" >"$tmp/leaky.before"
exit 3
EOF
bash "$tmp/leaky.sh" >"$tmp/leaky.out" 2>"$tmp/leaky.err"
rc=$?
mark=$(cat "$tmp/leaky.mark")
check "the test's mark nests in this one's" test "${mark%/*}" = "$run_mark"
check "its programs carried its mark while it ran" \
    test "$(grep -c '^[0-9]* sleep 30[0-2]$' "$tmp/leaky.before")" = 3
check "... and none is left after it exited" test -z "$(run_strays "$mark")"
check "... which kept its exit status" test "$rc" = 3
check "... ran its exit commands in order" test "$(cat "$tmp/leaky.out")" = "first
second"
check "... and named what it stopped" grep -q '^stopping at exit: [0-9]* sleep 302$' "$tmp/leaky.err"

# An unguarded run whose program outlives it.
XENDM_RUN_MARK=$run_mark/left bash -c 'sleep 303 & exit 0'
left=$(run_strays_left "$run_mark/left")
check "run_strays_left fails for a run that left a program running" test $? -eq 1
check "... names it" grep -q '^[0-9]* sleep 303$' <<<"$left"
check "... and stops it" test -z "$(run_strays "$run_mark/left")"

XENDM_RUN_MARK=$run_mark/late bash -c 'sleep 1 & exit 0'
check "a program that exits within the grace period is no stray" run_strays_left "$run_mark/late"

XENDM_RUN_MARK=$run_mark/10 sleep 304 &
check "a search for mark 1 does not find mark 10" test -z "$(run_strays "$run_mark/1")"
check "... nor for a nested mark the enclosing one" test -z "$(run_strays "$run_mark/10/1")"
check "... which is found as it is" grep -q ' sleep 304$' <<<"$(run_strays "$run_mark/10")"
done_testing
