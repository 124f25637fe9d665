#!/bin/bash
# Every fuzz target (tests/fuzz/fuzz_*.c) under ASan+UBSan: its seeds
# (tests/fuzz/corpus/<target>/) replayed, then seeded random inputs — a smoke run in
# `make test`; `make fuzz` runs them coverage-guided with libFuzzer.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
build=${XENDM_BUILD:-$top/build/asan}
for t in "$build"/tests/fuzz/fuzz_*; do
    case "$t" in *.o|*.d) continue;; esac
    [ -x "$t" ] || continue
    name=$(basename "$t")
    seeds=("$top/tests/fuzz/corpus/$name"/*)
    if [ -e "${seeds[0]}" ]; then
        out=$("$t" "${seeds[@]}" 2>&1)
        rc=$?
        check "$name: its ${#seeds[@]} seeds run clean" test "$rc" -eq 0
        [ "$rc" -eq 0 ] || echo "$out" | tail -20 | sed 's/^/# /'
    fi
    out=$(XENDM_FUZZ_RUNS=${XENDM_FUZZ_RUNS:-20000} "$t" 2>&1)
    rc=$?
    check "$name: random inputs do not crash it" test "$rc" -eq 0
    [ "$rc" -eq 0 ] || echo "$out" | tail -20 | sed 's/^/# /'
done
done_testing
