#!/bin/sh
# Install the Debian packages xendm needs to build, test and benchmark, when they are
# missing. As root it runs apt-get; otherwise it prints the exact command and fails.
set -eu
PKGS="gcc make pkg-config libxen-dev libcmocka-dev liburing-dev libseccomp-dev xenstore-utils qemu-system-xen valgrind procps python3 fio"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
    echo "xendm: missing Debian packages:$missing" >&2
    echo "xendm: run as root:  apt-get update && $cmd" >&2
    exit 1
fi
echo "xendm: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || echo "xendm: apt-get update failed, trying the cached package lists" >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
