#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install the Debian 12 packages iocbus needs to build and test.
# Runs apt-get as root, or through sudo. Safe to run repeatedly: it installs
# only what is missing.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  libfyaml-dev liburcu-dev liblmdb-dev libidn2-dev libxxhash-dev libcmocka-dev
  python3 python3-zmq python3-confluent-kafka librdkafka-dev kcat
  libzmq3-dev libcurl4-openssl-dev libmicrohttpd-dev libdeflate-dev zlib1g-dev
  memcached ruby ruby-dalli python3-pymemcache libmemcached-tools
  # issue #16 §2: .deb check, completion test, man page render, unit verify
  lintian bash-completion man-db groff-base systemd
  # issue #16 status page: e2e tests drive headless Chromium through chromedriver
  chromium chromium-driver python3-selenium
  libpcre2-dev  # issue #15: warninglist regexes are PCRE (MISP's preg_match)
  python3-yaml  # issue #14: tests/e2e/test_run_contrib.py reads contrib/suricata's YAML
)
if [ "${1:-}" = "--list" ]; then printf '%s\n' "${PKGS[@]}"; exit 0; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
