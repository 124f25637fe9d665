#!/bin/bash
# Can the arm64 build and its tests run here? Prints why not and fails, or prints
# nothing. scripts/deps.sh installs what is missing (as root) and makes the sysroot.
top=$(cd "$(dirname "$0")/.." && pwd)
stamp=$top/build/arm64/sysroot/.packages
if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
    echo "no arm64 cross compiler (Debian: gcc-aarch64-linux-gnu)"
elif ! command -v qemu-aarch64-static >/dev/null; then
    echo "no qemu-user for arm64 (Debian: qemu-user-static)"
elif [ ! -f "$stamp" ] || [ "$top/scripts/arm64-sysroot.sh" -nt "$stamp" ]; then
    echo "no arm64 sysroot in build/arm64/sysroot (scripts/arm64-sysroot.sh, run by make deps)"
else
    exit 0
fi
exit 1
