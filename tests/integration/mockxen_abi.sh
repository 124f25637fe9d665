#!/bin/bash
# mockxen's shim libraries against Debian's: same sonames; every symbol a shim exports
# exists in Debian's library under the same version node; and every Xen symbol that
# Debian's xen-qemu-system-i386 imports (it is linked with BIND_NOW) is exported.
top=${XENDM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$top/tests/integration/lib.sh"
# The shims of the build under test (the first folder of $MOCKXEN_SHIM_DIR) and
# Debian's libraries of its architecture.
shim=${MOCKXEN_SHIM_DIR:-$top/build/shim}
shim=${shim%%:*}
sys=${XENDM_XEN_LIBDIR:-/usr/lib/x86_64-linux-gnu}
qemu=/usr/libexec/xen-qemu-system-i386

# exports LIB: "version symbol" per defined function
exports() { objdump -T "$1" | awk '$4 == ".text" || ($3 == "DF" && $4 != "*UND*") { print $(NF-1), $NF }' | sort -u; }

for lib in libxenctrl.so.4.17 libxenforeignmemory.so.1 libxendevicemodel.so.1 \
           libxenevtchn.so.1 libxengnttab.so.1 libxentoolcore.so.1; do
    if [ ! -e "$shim/$lib" ] || [ ! -e "$sys/$lib" ]; then
        not_ok "$lib exists in $shim and $sys"
        continue
    fi
    check "$lib: same soname" test "$(objdump -p "$shim/$lib" | awk '/SONAME/ { print $2 }')" = "$lib"
    ours=$(exports "$shim/$lib")
    missing=$(comm -23 <(echo "$ours") <(exports "$sys/$lib"))
    check "$lib: exports functions" test -n "$ours"
    check "$lib: every export is Debian's, same version node" test -z "$missing"
    [ -z "$missing" ] || diag "not in Debian's $lib: $missing"
done

if [ -x "$qemu" ]; then
    need=$(objdump -T "$qemu" | awk '$3 == "*UND*" && $NF ~ /^(xc_|xen(ctrl|foreignmemory|devicemodel|evtchn|gnttab|gntshr|toolcore))/ { gsub(/[()]/, "", $(NF-1)); print $(NF-1), $NF }' | sort -u)
    have=$(for l in "$shim"/*.so.*; do exports "$l"; done | sort -u)
    missing=$(comm -23 <(echo "$need") <(echo "$have"))
    check "QEMU imports Xen library functions" test "$(echo "$need" | wc -l)" -gt 40
    check "every Xen symbol QEMU imports is exported ($(echo "$need" | wc -l) symbols)" test -z "$missing"
    [ -z "$missing" ] || diag "missing: $missing"
else
    skip_test "$qemu not installed"
fi
done_testing
