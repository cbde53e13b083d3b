#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the iocbus Debian package and check it with lintian (issue #16 §2).
#   scripts/package.sh [OUTDIR]      default OUTDIR: build/pkg/deb
# A release build with Debian's hardening flags (dpkg-buildflags) in
# build/pkg, then CPack's DEB generator (cmake/package.cmake: Depends from
# dpkg-shlibdeps, /etc/iocbus/iocbus.yaml a conffile), then lintian: any
# error fails the script. Prints the path of the .deb last.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${IOCB_PKG_BUILD:-build/pkg}
out=$(mkdir -p "${1:-$build/deb}" && cd "${1:-$build/deb}" && pwd)

export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
ldflags=$(dpkg-buildflags --get LDFLAGS)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIOCB_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr \
  -DCMAKE_C_FLAGS="$cflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" >/dev/null
cmake --build "$build" --target iocbus iocbus_gz -j"${IOCB_JOBS:-2}"
rm -f "$out"/iocbus_*.deb
(cd "$build" && cpack -G DEB -B "$out" >/dev/null)
deb=$(ls "$out"/iocbus_*.deb)
dpkg-deb -f "$deb" Package Version Depends >&2

if command -v lintian >/dev/null; then
  # --fail-on error: warnings are printed, errors fail the build.
  lintian --fail-on error --tag-display-limit 0 "$deb" | tee "$out/lintian.txt" || {
    echo "package.sh: lintian found errors in $deb" >&2; exit 1; }
  echo "package.sh: lintian: $(grep -c '^E:' "$out/lintian.txt" || true) error(s)," \
       "$(grep -c '^W:' "$out/lintian.txt" || true) warning(s)" >&2
else
  echo "package.sh: lintian is not installed (scripts/deps.sh installs it); the package is unchecked" >&2
  exit 1
fi
echo "$deb"
