#!/bin/bash
# Guest scripts end to end: mockxen runs a script against its null device model
# (which answers every read with 0x12345678 masked to the access size), and its exit
# status and messages say whether every expectation held.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
build=${XENDM_BUILD:-$top/build/asan}
mockxen=$build/tools/mockxen/mockxen

for bin in "$mockxen" "$build/tools/mockxen/mockxen-null-dm"; do
    if [ ! -x "$bin" ]; then
        not_ok "$bin is built (make mockxen-asan)"
        done_testing
    fi
done

tmp=$(mktemp -d /tmp/guest-integ-XXXXXX)
at_exit 'rm -rf "$tmp"'

# run_script NAME [OPTION...]: run $tmp/NAME.gs with mockxen's OPTIONs, leaving
# stdout/stderr in $tmp/NAME.out/.err and the exit status in $rc.
run_script() {
    local name=$1; shift
    rm -f "$tmp"/*.sock
    timeout 120 "$mockxen" --socket "$tmp/mx.sock" --xenstore "$tmp/xs.sock" --null-dm \
        --script "$tmp/$name.gs" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
    rc=$?
}

cat >"$tmp/pass.gs" <<'GS'
# every expectation holds against the null device model
in 0x3f8, 1 == 0x78
in 0xcfc, 2 == 0x5678
mmio-read 0xfebf0000, 4 -> $v
expect $v == 0x12345678
out 0xcf8, 4, 0x80000000 | (3 << 11)
raw type=0x42 addr=0x10 size=3 dir=read
raw type=pio addr=0x3f8 size=1 count=0xffffffff ptr=1 data=0xfffffffffffff000 dir=read df=1
time 50 "integration pio" "-" { out 0x80, 1, 0 }
expect-count guest_ioreq >= 3
vcpu 1 { repeat 20 as $i { out 0x80, 1, $i } ; echo "vcpu one done" }
GS
run_script pass
check "a script whose expectations hold exits 0" test "$rc" = 0
check "echo output carries the vCPU" grep -qx "vcpu1: vcpu one done" "$tmp/pass.out"
check "time prints a benchmark row" grep -qP '^row\tintegration pio\t[0-9.]+\tns\t-$' "$tmp/pass.out"
[ "$rc" = 0 ] || sed 's/^/# /' "$tmp/pass.err"

cat >"$tmp/mismatch.gs" <<'GS'
out 0x80, 1, 1

in 0x80, 1 == 0x99
GS
run_script mismatch
check "a failed expectation exits 1" test "$rc" = 1
check "the failure names file:line, expected and got" \
    grep -qF "$tmp/mismatch.gs:3: vcpu 0: in 0x80, 1 == 0x99: expected == 0x99, got 0x78" \
    "$tmp/mismatch.err"

printf 'out 0x80 3 0\n' >"$tmp/syntax.gs"
run_script syntax
check "a parse error fails before the guest starts" test "$rc" != 0
check "the parse error names file:line:col" \
    grep -qF "$tmp/syntax.gs:1:10: bad access size 3" "$tmp/syntax.err"

cat >"$tmp/params.gs" <<'GS'
param $port                     # required: --param port=N
param $n = 3
$i = 0
while $i < $n max 10 { out $port, 1, $i; $i = $i + 1 }
in $port, 1 == 0x78
if $n == 5 { echo "n is" $n } else { fail "n is not 5" }
GS
run_script params --param port=0x80 --param n=5
check "--param gives a script its parameters" test "$rc" = 0
check "... which every statement sees" grep -qx "vcpu0: n is 0x5" "$tmp/params.out"
run_script params --param n=5
check "a parameter without a value stops mockxen before the guest starts" test "$rc" = 2
check "... naming it and where it is declared" \
    grep -qF "$tmp/params.gs:1:7: parameter \$port has no value" "$tmp/params.err"
run_script params --param port=0x80 --param prot=1
check "an unknown parameter is a usage error" test "$rc" = 2
check "... naming it" grep -qF 'the script has no parameter $prot' "$tmp/params.err"
run_script params --param port=0x80 --param n=0x1g
check "a parameter that is not a number is a usage error" test "$rc" = 2

printf 'while 1 timeout 50ms { in 0x80, 1 }\n' >"$tmp/spin.gs"
run_script spin
check "a while loop that never ends fails when its bound is hit" test "$rc" = 1
check "... saying so" grep -qF "while 1 timeout 50ms: condition still true after" "$tmp/spin.err"

done_testing
