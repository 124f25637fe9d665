#!/bin/bash
# mockxen.null_rtt_ns: ns per port-I/O round trip through mockxen's transport with the
# built-in null device model (guest vCPU -> ioreq slot -> event -> device model ->
# answer -> event -> vCPU), measured by a guest script `time` block. The goal is at
# most twice mockxen.pingpong_ns (two processes bouncing eventfds, bench_mockxen_pingpong).
# The machine is shared and noisy, so the two are measured in alternation, three rounds
# of five batches of 10000 each, and the best batch of each is compared.
set -u
top=${XENDM_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
rel=${XENDM_REL_BUILD:-$top/build/rel}
tmp=$(mktemp -d /tmp/mockxen-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/rtt.gs" <<'GS'
repeat 2000 { in 0x80, 1 }
repeat 5 { time 10000 "null_rtt" { in 0x80, 1 } }
GS
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }
rtt= pp=
for round in 1 2 3; do
    rm -f "$tmp"/*.sock
    "$rel/tools/mockxen/mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --null-dm \
        --mem-mb 64 --script "$tmp/rtt.gs" >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
    for v in $(awk -F'\t' '$1 == "row" && $2 == "null_rtt" { print $3 }' "$tmp/out"); do
        rtt=$(min "$rtt" "$v")
    done
    v=$("$rel/bench/bench_mockxen_pingpong" | awk -F'\t' '$1 == "row" { print $3 }')
    [ -n "$v" ] && pp=$(min "$pp" "$v")
done
[ -n "$rtt" ] && [ -n "$pp" ] || { echo "no measurement" >&2; exit 1; }
ratio=$(awk -v a="$rtt" -v b="$pp" 'BEGIN { printf "%.2f", a / b }')
printf 'row\tmockxen.null_rtt_ns\t%.0f\tns\tgoal <= 2x mockxen.pingpong_ns (best %.0f ns alongside: %sx)\n' \
    "$rtt" "$pp" "$ratio"
