#!/bin/bash
# bench/lib.sh's shared pieces that the side-by-side benchmarks build their tables and
# bench/results.md from: medians and spreads of the runs' figures, the n/a notes, and
# the results file's sections (each benchmark rewrites its own, in place).
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
. "$top/bench/lib.sh"
results=$tmp/results.md

for v in 5 1 3 2; do bench_record m colA "$v"; done
check "median of an even count is the mean of the middle two" test "$(bench_stats m colA)" = "2.5 1 5 4"
check "a cell shows median (min-max) and the runs when some are missing" \
    test "$(bench_summary m colA %.1f 5)" = "2.5 (1.0-5.0, 4 runs)"
bench_unavailable m colB "it broke"
bench_unavailable m colB "a later reason"
check "no figures: n/a" test "$(bench_summary m colB %.1f 5)" = "n/a"
bench_unavailable m colA "one run failed"
name() { echo "column $1"; }
notes=$(bench_na_notes name 3)
check "the notes give the first reason, and name metrics with only some runs" \
    test "$notes" = "- column colA: n/a (m (some runs)): one run failed
- column colB: n/a (m): it broke"
check "a ratio of medians, n/a without a positive divisor" \
    test "$(bench_ratio_text 3 4)/$(bench_ratio_text 3 0)/$(bench_ratio_text "" 4)" = "0.75/n/a/n/a"

bench_write_section "$results" one "## One
first"
bench_write_section "$results" two "## Two"
bench_write_section "$results" one "## One
second"
check "a new file gets the title, and sections are replaced where they are" \
    test "$(grep -v '^$' "$results" | sed 1,2d | tr '\n' '|')" = \
    "<!-- begin one -->|## One|second|<!-- end one -->|<!-- begin two -->|## Two|<!-- end two -->|"
done_testing
