#!/bin/bash
# bench/memory_pio_insns.sh — instructions per 4-byte address_space_write to an io
# region (memory.pio_insns, goal <= 150).
#
# Runs build/rel/bench/bench_memory_pio under callgrind, collecting only while inside
# address_space_write (callees included), and divides the instruction count by the
# number of calls.
set -u
top=${XENDM_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
rel=${XENDM_REL_BUILD:-$top/build/rel}
bin=$rel/bench/bench_memory_pio
calls=100000
goal="goal <= 150 (4-byte address_space_write to an io region, callgrind)"
if ! command -v valgrind >/dev/null 2>&1; then
    printf 'row\tmemory.pio_insns\tn/a\tinsns\tvalgrind not installed: cannot count (%s)\n' "$goal"
    exit 0
fi
if [ ! -x "$bin" ]; then
    echo "memory_pio_insns: $bin is missing (make bench-build)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
        --toggle-collect=address_space_write "$bin" --calls "$calls" >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    exit 1
fi
ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$tmp/cg.out")
if [ -z "$ir" ]; then
    echo "memory_pio_insns: no instruction count in callgrind output" >&2
    exit 1
fi
echo "# $ir instructions in $calls calls"
printf 'row\tmemory.pio_insns\t%s\tinsns\t%s\n' "$(awk -v ir="$ir" -v n="$calls" 'BEGIN { printf "%.1f", ir / n }')" "$goal"
