#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Property test of `iocbus enrich`: run it over every fixture log (Suricata
# EVE, Zeek JSON; .gz ones unpacked), the example logs and a deterministic
# mix of mangled lines, with intel that hits some of them, in two
# configurations, and let enrich_property.py check each output line
# (same line count and order, misses and non-JSON byte for byte, hits valid
# JSON without duplicate keys that equal their input once the added
# threat.enrichments and misp are removed). Four threads handed small blocks
# must give the same bytes as one.
#   enrich_property.sh IOCBUS_BINARY SOURCE_DIR FIXTURE_LOGS_DIR
set -euo pipefail
bin=$1
src=$2
logs=$3
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

inputs=()
for f in "$logs"/suricata/*.json "$logs"/zeek/*.json "$logs"/zeek/*.json.gz "$src"/examples/logs/*; do
  [ -f "$f" ] || continue
  case $f in
    *.gz) gunzip -c "$f" >"$work/$(basename "${f%.gz}")"; inputs+=("$work/$(basename "${f%.gz}")") ;;
    *) inputs+=("$f") ;;
  esac
done
[ ${#inputs[@]} -ge 8 ] || { echo "too few inputs found under $logs and $src/examples/logs" >&2; exit 1; }
$py "$here/enrich_property.py" mangle --seed 20261123 --out "$work/mangled.ndjson" "${inputs[@]}"
inputs+=("$work/mangled.ndjson")

intel=(--intel "$src/examples/intel/feed" --intel "$src/examples/intel/restsearch.json"
       --intel "$here/enrich_property.intel.json" --occurred 2026-01-01T00:00:00.000Z)
# name | enrich options | checker options
configs=(
  "plain||"
  "mark|--on-miss mark --parent-domains --non-ids --max-hits 3 --max-line 4096|--mark --max-hits 3 --max-line 4096"
)
# One input of everything (each file ending in a newline), so each run loads the intel once.
for f in "${inputs[@]}"; do
  cat "$f"
  [ -z "$(tail -c 1 "$f")" ] || echo
done >"$work/all.ndjson"
fail=0
for cfg in "${configs[@]}"; do
  IFS='|' read -r name eopts copts <<<"$cfg"
  out="$work/$name.out"
  # shellcheck disable=SC2086 # option lists split on purpose
  timeout 60 "$bin" enrich "${intel[@]}" $eopts "$work/all.ndjson" >"$out"
  # shellcheck disable=SC2086
  timeout 60 "$bin" enrich "${intel[@]}" $eopts --threads 4 --block-size 1000 "$work/all.ndjson" >"$out.t4"
  if ! cmp -s "$out" "$out.t4"; then
    echo "$name: --threads 4 output differs from --threads 1"
    fail=1
  fi
  # shellcheck disable=SC2086
  $py "$here/enrich_property.py" check $copts "$work/all.ndjson" "$out" || fail=1
  # The intel must actually hit: otherwise the checks above prove little.
  hits=$(grep -c '"misp":{[^}]*"hit":true' "$out" || true)
  [ "$hits" -ge 100 ] || { echo "$name: only $hits enriched lines: the intel no longer hits"; fail=1; }
done
[ "$fail" = 0 ] && echo "enrich_property: ok" || echo "enrich_property: FAILED"
[ "$fail" = 0 ]
