#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build iocbus (release preset) and run the main job on the bundled example
# data: load the example MISP feed and restSearch dump, then enrich the
# example ECS, Suricata EVE and Zeek logs with it, printing one line per hit
# and enrich's summary; then run the daemon against the MISP test server and
# show /v1/lookup following adds, edits and deletes; then the Threat Bus
# compatible bus: zmq-apps of both generations receive MISP changes live and
# a sighting goes back to MISP (scripts/bus-demo.py); then the drop-ins:
# Logstash's memcached client (ruby-dalli) hits an example indicator on the
# memcached endpoint and a MISP change rewrites the Zeek Intel file
# (scripts/dropins-demo.py); an indicator on a MISP warninglist, kept but
# suppressed. No MISP or Elasticsearch needed.
#
#   scripts/run-example.sh            everything above
#   scripts/run-example.sh bus        only the bus demo (after the build)
#   scripts/run-example.sh dropins    only the drop-ins demo (after the build)
set -euo pipefail
mode=${1:-all}
case $mode in all | bus | dropins) ;; *) echo "usage: $0 [bus|dropins]" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
bin=build/release/src/cli/iocbus
intel=(--intel examples/intel/feed --intel examples/intel/restsearch.json)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# bus_demo: the zmq-app endpoint and sightings of `iocbus run` (issue #13)
bus_demo() {
  echo
  echo "== iocbus run with bus: and sightings: (MISP: tests/servers/misp_server.py; apps: tests/servers/zmq_app.py)"
  local rc=0
  /usr/bin/python3 -W ignore scripts/bus-demo.py "$bin" || rc=$?
  # 3: this build has no bus: section yet; the rest of the example still stands
  [ "$rc" = 3 ] && [ "$mode" = all ] && return 0
  return "$rc"
}
if [ "$mode" = bus ]; then
  bus_demo
  exit
fi

# warninglist_demo: one indicator on a MISP warninglist, suppressed (issue #15 §1)
warninglist_demo() {
  echo
  echo "== quality.warninglists: an indicator on MISP's rfc1918 warninglist is kept but suppressed"
  local wl=tests/fixtures/misp/warninglists
  printf '%s\n' '{"response":{"Attribute":[{"id":"1","event_id":"1","uuid":"5f1b0d6e-0000-4000-8000-00000000a001","type":"ip-dst","category":"Network activity","to_ids":true,"value":"10.20.30.40","timestamp":"1700000000","Event":{"id":"1","info":"a feed that lists a private address","uuid":"5f1b0d6e-0000-4000-8000-00000000e001"}}]}}' >"$tmp/wl-intel.json"
  printf 'quality:\n  warninglists:\n    paths: [%s]\n' "$wl" >"$tmp/wl.yaml"
  printf '%s\n' '{"destination":{"ip":"10.20.30.40"}}' >"$tmp/wl-event.json"
  echo "\$ iocbus warninglists check --config wl.yaml 10.20.30.40"
  $bin warninglists check --config "$tmp/wl.yaml" 10.20.30.40 | sed 's/^/  /'
  local with without
  without=$($bin enrich --intel "$tmp/wl-intel.json" "$tmp/wl-event.json" | grep -c '"enrichments"' || true)
  with=$($bin enrich --config "$tmp/wl.yaml" --intel "$tmp/wl-intel.json" "$tmp/wl-event.json" | grep -c '"enrichments"' || true)
  echo "  enriched events without the lists: $without; with them: $with (suppressed, as MISP's enforceWarninglist)"
  echo "\$ iocbus lookup --config wl.yaml 10.20.30.40   (lookups still show it, with its lists)"
  $bin lookup --config "$tmp/wl.yaml" --intel "$tmp/wl-intel.json" 10.20.30.40 | grep -o '"warninglists":.*' | sed 's/}$//; s/^/  /'
}
# dropins_demo: Dalli on the memcached endpoint, the Zeek Intel file of exports: (issue #14)
dropins_demo() {
  echo
  echo "== iocbus run with memcached: and exports: (Dalli: ruby-dalli, Logstash's client; MISP: tests/servers/misp_server.py)"
  local rc=0
  /usr/bin/python3 -W ignore scripts/dropins-demo.py "$bin" || rc=$?
  # 3: no ruby-dalli, or a build without these sections; the rest of the example still stands
  [ "$rc" = 3 ] && [ "$mode" = all ] && return 0
  return "$rc"
}
if [ "$mode" = dropins ]; then
  dropins_demo
  exit
fi

echo "== iocbus load ${intel[*]}"
$bin load "${intel[@]}" | grep -E '^(loaded|skipped|store)'

for spec in ecs:examples/logs/ecs.ndjson suricata:examples/logs/suricata.eve.json zeek:examples/logs/zeek.ndjson; do
  preset=${spec%%:*}
  log=${spec#*:}
  echo
  echo "== iocbus enrich ${intel[*]} --preset $preset --hits-only --stats $log"
  $bin enrich "${intel[@]}" --preset "$preset" --hits-only --stats -o "$tmp/hits.ndjson" "$log" \
    2>"$tmp/stats.txt" || { cat "$tmp/stats.txt" >&2; exit 1; }
  # One line per enrichment: nth enriched event, field=value -> MISP attribute, event info, TLP.
  /usr/bin/python3 - "$tmp/hits.ndjson" <<'PY'
import json, sys
for n, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    ev = json.loads(line)
    attrs = {a["uuid"]: a for a in ev["misp"]["attributes"]}
    for en in ev["threat"]["enrichments"]:
        m, ind = en["matched"], en["indicator"]
        if m.get("id") not in attrs:
            continue  # an enrichment the event already carried
        a = attrs[m["id"]]
        tlp = ind.get("marking", {}).get("tlp", "-")
        print(f'  event {n}: {m["field"]}={m["atomic"]}  ->  {a["type"]} {a["value"]}  '
              f'"{ind.get("description", "")}"  tlp={tlp}')
PY
  cat "$tmp/stats.txt"
done
echo
echo "(full enriched events: $bin enrich ${intel[*]} --hits-only LOG)"
warninglist_demo

# expired_demo: one expired indicator (issue #15, docs/QUALITY.md): a maximum age of 30 days for
# ip-dst; the example's ip-dst attributes are older, so lookups show them expired and enrich skips them.
expired_demo() {
  echo
  echo "== expired indicator: quality.expire_after ip-dst 30d; iocbus lookup 203.0.113.77, then enrich"
  cat >"$tmp/quality.yaml" <<EOF
intel: [examples/intel/feed, examples/intel/restsearch.json]
quality:
  expire_after:
    rules:
      - {type: ip-dst, max_age: 30d}
EOF
  $bin lookup -c "$tmp/quality.yaml" 203.0.113.77 | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    for m in json.loads(line)["matches"]:
        a, q = m["attribute"], m["attribute"].get("quality", {})
        print("  %s %s  expired=%s  expires_at=%s" % (a["type"], a["value"], q.get("expired"), q.get("expires_at")))'
  $bin enrich -c "$tmp/quality.yaml" --hits-only --stats -o /dev/null examples/logs/ecs.ndjson 2>&1 |
    grep -E "^enrich:|expired hits"
}
expired_demo

# The daemon: iocbus run following a MISP (the MISP test server stands in)
# and the example feed; every change is looked up over HTTP as it lands.
echo
echo "== iocbus run (MISP: tests/servers/misp_server.py; feed: examples/intel/feed)"
/usr/bin/python3 -W ignore scripts/daemon-demo.py "$bin"
bus_demo
dropins_demo
