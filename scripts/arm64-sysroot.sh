#!/bin/sh
# Make the arm64 sysroot for the cross build (make ARCH=arm64): Debian's arm64 packages
# of the libraries xendm links, with every library they need at run time, unpacked
# with dpkg-deb -x into build/arm64/sysroot. Nothing is installed on the host:
# libxen-dev is not Multi-Arch: same, so libxen-dev:arm64 would replace the amd64
# package xendm's own build needs.
#
# The compiler takes headers and libraries from here (Makefile: ARM64_SYSROOT), and
# qemu-user takes the sysroot as the arm64 root for shared libraries (QEMU_LD_PREFIX),
# libc and the dynamic loader included. Needs the arm64 package lists
# (dpkg --add-architecture arm64 && apt-get update, which scripts/deps.sh does as root);
# apt-get download works without root.
#
# Usage: arm64-sysroot.sh SYSROOT_DIR
set -eu

# The development packages of what the arm64 build links, one per line, so that a
# library is added in one line. Their run-time dependencies come along.
DEV_PKGS="
libxen-dev
libcmocka-dev
liburing-dev
libseccomp-dev
"

dir=${1:?usage: arm64-sysroot.sh SYSROOT_DIR}
debs=$dir.debs
stamp=$dir/.packages

# The closure: the development packages and everything they need at run time, without
# other -dev or -bin packages (the cross toolchain brings libc's headers; the sysroot
# only needs what runs). apt-cache is slow to start, so it is asked once, for the whole
# dependency graph, and the walk from the development packages is done here.
roots=$(for p in $DEV_PKGS; do printf '%s:arm64 ' "$p"; done)
# shellcheck disable=SC2086
all=$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
          --no-breaks --no-replaces --no-enhances $roots 2>/dev/null |
      awk -v roots="$roots" '
          /^[^ ]/ { pkg = $1; known[pkg] = 1; next }
          /^ *(Pre)?Depends: [^<]/ { dep[pkg] = dep[pkg] " " $2 }
          function keep(p) { return p ~ /:arm64$/ && p !~ /-(dev|bin):arm64$/ }
          END {
              n = split(roots, todo, " ")
              for (i = 1; i <= n; i++) {
                  seen[todo[i]] = 1
                  if (!known[todo[i]]) { print "unknown:" todo[i]; exit }
              }
              for (i = 1; i <= n; i++) {
                  m = split(dep[todo[i]], d, " ")
                  for (j = 1; j <= m; j++)
                      if (keep(d[j]) && !seen[d[j]]) { seen[d[j]] = 1; todo[++n] = d[j] }
              }
              for (i = 1; i <= n; i++) print todo[i]
          }')

case $all in *unknown:*)
    echo "xendm: no arm64 package lists (apt knows no ${all#*unknown:});" \
         "as root: dpkg --add-architecture arm64 && apt-get update" >&2
    exit 1;;
esac

rm -rf "$dir" "$debs"
mkdir -p "$dir" "$debs"
# A failed download shows as a missing .deb below. As root apt-get warns that it
# downloads unsandboxed: not news.
# shellcheck disable=SC2086
(cd "$debs" && apt-get download -qq $all 2>&1) | grep -v 'unsandboxed as root' >&2 || true
for p in $all; do
    name=${p%:arm64}
    set -- "$debs/${name}"_*_arm64.deb
    [ -f "$1" ] || { echo "xendm: apt-get download $p failed" >&2; exit 1; }
    dpkg-deb -x "$1" "$dir"
done

# Absolute symbolic links (the dynamic loader's, some libraries' .so) point into the
# host; make them point inside the sysroot.
find "$dir" -type l | while read -r link; do
    target=$(readlink "$link")
    case $target in /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" \
                                    "$dir$target")" "$link";; esac
done
(cd "$debs" && ls) >"$stamp"
rm -rf "$debs"
echo "xendm: arm64 sysroot in $dir ($(wc -l <"$stamp") packages)"
