#!/bin/sh
# Install the Debian packages xendm needs to build, test and benchmark, when they are
# missing. As root it runs apt-get; otherwise it prints the exact command and fails.
#
# Then the same for the arm64 part of make test, which is optional: the cross
# toolchain and qemu-user (installed as root, with the arm64 architecture added for
# the package lists), and the arm64 sysroot (scripts/arm64-sysroot.sh). When any of
# that cannot be had, it says so and succeeds: the arm64 tests are then skipped.
set -eu
PKGS="gcc make pkg-config libxen-dev libcmocka-dev liburing-dev libseccomp-dev xenstore-utils qemu-system-xen valgrind procps python3 fio"
ARM64_PKGS="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static"
top=$(cd "$(dirname "$0")/.." && pwd)

# missing PKG...: those of PKG not installed.
missing() {
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            printf ' %s' "$p"
    done
}

export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
need=$(missing $PKGS)
if [ -n "$need" ]; then
    cmd="apt-get install -y --no-install-recommends$need"
    if [ "$(id -u)" != 0 ]; then
        echo "xendm: missing Debian packages:$need" >&2
        echo "xendm: run as root:  apt-get update && $cmd" >&2
        exit 1
    fi
    echo "xendm: installing:$need"
    apt-get update -qq || echo "xendm: apt-get update failed, trying the cached package lists" >&2
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need
fi

# ---- arm64: never fails ------------------------------------------------------------------
arm64_skip() {
    echo "xendm: arm64: $*; the arm64 tests will be skipped" >&2
    exit 0
}
# shellcheck disable=SC2086
need=$(missing $ARM64_PKGS)
lists=yes
dpkg --print-foreign-architectures | grep -qx arm64 || lists=
if [ -n "$need" ] || [ -z "$lists" ]; then
    if [ "$(id -u)" != 0 ]; then
        cmd="dpkg --add-architecture arm64 && apt-get update"
        [ -z "$need" ] || cmd="$cmd && apt-get install --no-install-recommends$need"
        arm64_skip "not root, and missing the arm64 package lists or packages; as root: $cmd"
    fi
    echo "xendm: arm64: adding the architecture and installing:${need:- nothing}"
    if [ -z "$lists" ]; then
        dpkg --add-architecture arm64 || arm64_skip "dpkg --add-architecture arm64 failed"
        apt-get update -qq || arm64_skip "apt-get update with arm64 failed"
    fi
    # shellcheck disable=SC2086
    [ -z "$need" ] || apt-get install -y -qq --no-install-recommends $need ||
        arm64_skip "apt-get install$need failed"
fi
reason=$("$top/scripts/arm64-ready.sh") || case $reason in
    *sysroot*) "$top/scripts/arm64-sysroot.sh" "$top/build/arm64/sysroot" ||
                   arm64_skip "could not make the arm64 sysroot" ;;
    *) arm64_skip "$reason" ;;
esac
