#!/bin/bash
# Run every test and print one summary line "N passed, N failed".
#
# Usage: run-tests.sh [--unit-only] ASAN_BUILD_DIR REL_BUILD_DIR [ARM64_BUILD_DIR]
#
# With ARM64_BUILD_DIR, the arm64 build's unit tests and mockxen integration tests
# (tests/integration/mockxen_*.sh, and xendm_xenstore_devices.sh: xendm as an Arm
# guest's standalone virtio backend) run too, under qemu-user through the wrappers in
# ARM64_BUILD_DIR/qemu, and get a line "arm64: N passed, N failed" of their own before
# the summary, which counts them in. The unit tests named in $XENDM_X86_ONLY (their
# sources) are skipped there. Where scripts/arm64-ready.sh says the cross packages are
# missing, that whole part is skipped with its reason.
#
# Every test program speaks TAP on stdout ("ok N - name", "not ok N - name", with
# "# SKIP" for skips): cmocka binaries through CMOCKA_MESSAGE_OUTPUT=tap, integration
# scripts through tests/integration/lib.sh. A program that exits non-zero without
# reporting a failure (a crash, a sanitizer report) counts as one failure.
# Integration tests get XENDM_BUILD (the ASan build) and XENDM_REL_BUILD.
#
# A test must leave no process behind: each runs under a mark of its own
# (scripts/strays.bash), and a process carrying it that is still there 5 s after the
# test exited is named, stopped, and counts as one more failure of that test.
set -u
unit_only=0
[ "${1:-}" = "--unit-only" ] && { unit_only=1; shift; }
asan=${1:?asan build dir}
rel=${2:?rel build dir}
arm64=${3:-}
top=$(cd "$(dirname "$0")/.." && pwd)
logdir="$top/build/test-logs"
mkdir -p "$logdir"

export CMOCKA_MESSAGE_OUTPUT=tap
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export XENDM_BUILD="$top/$asan" XENDM_REL_BUILD="$top/$rel" XENDM_TOP="$top"
. "$top/scripts/strays.bash"
run_guard

passed=0 failed=0 skipped=0 runs=0
run_one() {                       # $1 = label, rest = command
    local label=$1; shift
    local log="$logdir/$(echo "$label" | tr '/' '_').log"
    local mark=$run_mark/$((runs += 1))
    local rc p f s left
    XENDM_RUN_MARK=$mark timeout 600 "$@" >"$log" 2>&1
    rc=$?
    left=$(run_strays_left "$mark")
    p=$(grep -E '^ok [0-9]+' "$log" | grep -vc '# SKIP')
    s=$(grep -Ec '^(not )?ok [0-9]+.*# SKIP' "$log")
    f=$(grep -E '^not ok [0-9]+' "$log" | grep -vc '# SKIP')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$rc" -ne 77 ]; then f=1; fi
    if [ "$rc" -eq 77 ] && [ "$p$f$s" = "000" ]; then s=1; fi
    [ -z "$left" ] || f=$((f + 1))
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$f" -ne 0 ]; then
        echo "FAIL $label ($p passed, $f failed, $s skipped, exit $rc) — log: $log"
        grep -E '^not ok|^# |ERROR|Sanitizer|runtime error' "$log" | grep -v '# SKIP' | head -20 | sed 's/^/    /'
        [ -z "$left" ] || echo "$left" | sed 's/^/    left running after it exited (now stopped): /'
    else
        if [ "$s" -ne 0 ]; then echo "ok   $label ($p passed, $s skipped)"; else echo "ok   $label ($p passed)"; fi
        grep -E '# SKIP' "$log" | head -5 | sed 's/^/    /'
    fi
}

# run_unit PREFIX BUILD: every unit test in BUILD/tests/unit.
run_unit() {
    local t
    for t in "$2"/tests/unit/test_*; do
        [ -x "$t" ] || continue
        case "$t" in *.o|*.d) continue;; esac
        run_one "$1unit/$(basename "$t")" "$t"
    done
}

# run_integration PREFIX GLOB: the integration scripts matching GLOB.
run_integration() {
    local t
    for t in "$top"/tests/integration/$2.sh; do
        [ -f "$t" ] || continue
        case "$(basename "$t")" in lib.sh) continue;; esac
        run_one "$1integration/$(basename "$t" .sh)" bash "$t"
    done
}

# The arm64 build under qemu-user: programs run through the wrappers of $arm64/qemu;
# arm64 programs load the arm64 shims, Debian's x86-64 ones (QEMU-xen, xenstore-utils)
# skip them for build/shim's; mockxen starts its null device model through a wrapper.
run_arm64() {
    local reason t
    if ! reason=$("$top/scripts/arm64-ready.sh"); then
        echo "arm64: skipped: $reason"
        return
    fi
    local p0=$passed f0=$failed s0=$skipped
    local -x XENDM_BUILD="$top/$arm64/qemu" XENDM_REL_BUILD="$top/$arm64/qemu"
    local -x MOCKXEN_SHIM_DIR="$top/$arm64/shim:$top/build/shim"
    local -x MOCKXEN_NULL_DM="$top/$arm64/qemu/tools/mockxen/mockxen-null-dm"
    local -x XENDM_XEN_LIBDIR="$top/$arm64/sysroot/usr/lib/aarch64-linux-gnu"
    # The scripts that start xendm add these options: qemu-user refuses seccomp filters
    # (PR_SET_SECCOMP), and xendm will not run unconfined unless told; an arm64 xendm
    # builds the Arm machine unless told, and these guests are x86 ones.
    local -x XENDM_TEST_ARGS="--sandbox off --machine x86"
    for t in "$top"/tests/unit/test_*.c; do
        t=$(basename "$t" .c)
        case " ${XENDM_X86_ONLY:-} " in
        *" tests/unit/$t.c "*)
            echo "skip arm64/unit/$t: x86-64 only (X86_ONLY_SRCS in the Makefile)"
            skipped=$((skipped + 1)) ;;
        *)  run_one "arm64/unit/$t" "$top/$arm64/qemu/tests/unit/$t" ;;
        esac
    done
    if [ "$unit_only" != 1 ]; then
        run_integration arm64/ 'mockxen_*'
        # xendm as the standalone virtio backend of an Arm guest: the arm64 xendm with
        # its own machine (the script picks --machine per domain)
        run_integration arm64/ xendm_xenstore_devices
    fi
    echo "arm64: $((skipped - s0)) skipped"
    echo "arm64: $((passed - p0)) passed, $((failed - f0)) failed"
}

run_unit "" "$top/$asan"
[ "$unit_only" = 1 ] || run_integration "" '*'
[ -z "$arm64" ] || run_arm64
echo "$skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
