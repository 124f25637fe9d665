# Shared helpers for integration tests: TAP output and process cleanup.
# Source it; then call ok/not_ok/skip_test and finally `done_testing`.
# Every process the test starts is stopped when it exits, however it exits
# (scripts/strays.bash): clean up with `at_exit COMMAND`, never `trap ... EXIT`.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../../scripts/strays.bash"
run_guard
_tap_n=0 _tap_failed=0
ok()        { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
not_ok()    { _tap_n=$((_tap_n + 1)); _tap_failed=1; echo "not ok $_tap_n - $*"; }
skip_test() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # SKIP $*"; }
# check NAME CMD...: run CMD, report ok/not ok under NAME.
check()     { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
diag()      { echo "# $*"; }
done_testing() { echo "1..$_tap_n"; exit "$_tap_failed"; }

# Debian's QEMU-xen (package qemu-system-xen), which the tests run beside or against
# xendm. need_qemu: from here on the script needs it; where it is not installed, the
# rest is one skip.
qemu=/usr/libexec/xen-qemu-system-i386
need_qemu() { [ -x "$qemu" ] || { skip_test "$qemu not installed (qemu-system-xen)"; done_testing; }; }
