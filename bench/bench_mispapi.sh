#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: the MISP-compatible read API of `iocbus run` (issue #14 §2). Not a
# test: run by hand, figures go to docs/performance.md.
#
#   bench/bench_mispapi.sh
#
# iocbus holds N ip-dst attributes (an intel file in MISP's restSearch shape,
# each with a tag and its event). bench/http_load sends PyMISP-shaped
# single-value restSearch POSTs (includeEventTags) over CONNS keep-alive
# connections for DURATION seconds; 1 value in 1 exists. Then the same load
# while one more client streams a walk of every attribute ("type":"ip-dst",
# http.misp_api.max_attributes = N), then beside a walk that matches nothing
# ("value": "nomatch%": every step yields): the walk's time and the
# single-value latencies beside it. For context only, the same single-value load against
# the MISP test server (tests/servers/misp_server.py, Python, a linear scan)
# preloaded with the first MISP_N attributes of the same file.
# Writes bench/out/mispapi-results.md.
#
# Environment knobs (defaults in brackets):
#   N [1000000] MISP_N [100000] CONNS [4] DURATION [10]
#   SKIP_BUILD=1  do not (re)build the release preset
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "$0")/.."

N=${N:-1000000} MISP_N=${MISP_N:-100000} CONNS=${CONNS:-4} DURATION=${DURATION:-10}
PY=/usr/bin/python3
out=bench/out
bin=${IOCBUS:-build/release/src/cli/iocbus}
load=build/release/bench/http_load
key=BenchBenchBenchBenchBenchBenchBenchBench
BENCH_NAME=bench_mispapi
bench_tmpdir iocbus-bench-mispapi
mkdir -p "$out"
build_release

gen() { # gen COUNT FILE: COUNT attributes in restSearch's shape, 1000 per event
	$PY - "$1" "$2" <<'PYEOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
tmpl = ('{"id":"%d","event_id":"%d","object_id":"0","object_relation":null,"category":"Network activity",'
        '"type":"ip-dst","to_ids":true,"uuid":"00000000-0000-4000-8000-%012d","timestamp":"1729500000",'
        '"distribution":"5","sharing_group_id":"0","comment":"","deleted":false,"disable_correlation":false,'
        '"first_seen":null,"last_seen":null,"value":"10.%d.%d.%d","Event":{"org_id":"1","distribution":"1",'
        '"publish_timestamp":"1729510500","id":"%d","info":"bench event %d","orgc_id":"1",'
        '"uuid":"eeeeeeee-0000-4000-8000-%012d"},"Tag":[{"id":"1","name":"Feed-bench","colour":"#2c6f8a",'
        '"numerical_value":null,"is_galaxy":false,"local":false}]}')
with open(path, "w") as f:
    f.write('{"response": {"Attribute": [')
    for i in range(n):
        e = i // 1000 + 1
        f.write(("," if i else "") + tmpl % (i + 1, e, i + 1, i >> 16 & 255, i >> 8 & 255, i & 255, e, e, e))
    f.write("]}}\n")
PYEOF
}

say "# intel: $N ip-dst attributes"
gen "$N" "$tmp/intel.json"
hport=$(free_port)
cat > "$tmp/iocbus.yaml" <<YEOF
intel: ["$tmp/intel.json"]
http: {port: $hport, misp_api: {keys: "$key", max_attributes: $N}}
logging: {level: warn}
YEOF
spawn "$tmp/iocbus.pid" "$bin" run -c "$tmp/iocbus.yaml"
wait_http "$hport" 300 || die "iocbus did not start"
last=$((N - 1))
last_ip="10.$((last >> 16 & 255)).$((last >> 8 & 255)).$((last & 255))"
for _ in $(seq 600); do
	curl -s -H "Authorization: $key" -H 'Content-Type: application/json' \
		-d "{\"value\":\"$last_ip\"}" "http://127.0.0.1:$hport/attributes/restSearch" | grep -q '"uuid"' && break
	sleep 0.5
done
say "# iocbus loaded; rss $(ps -o rss= -p "$(pid_of "$tmp/iocbus.pid")") KiB"

single=$("$load" "$hport" "$key" "$CONNS" "$DURATION" "$N")
say "iocbus single-value: $single"
walk=$("$load" "$hport" "$key" "$CONNS" 600 "$N" walk)
say "iocbus single-value beside a walk of $N: $walk"
# a walk that matches nothing: every step comes back empty and yields to the other connections
none=$("$load" "$hport" "$key" "$CONNS" 600 "$N" walk '{"returnFormat": "json", "value": "nomatch%"}')
say "iocbus single-value beside a walk matching nothing: $none"

say "# MISP test server: $MISP_N attributes"
gen "$MISP_N" "$tmp/misp.json"
mport=$(free_port)
zport=$(free_port)
spawn "$tmp/misp.pid" $PY tests/servers/misp_server.py --rest-port "$mport" --zmq-port "$zport" \
	--preload "$tmp/misp.json" --no-stdin-watch
for _ in $(seq 600); do
	curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$mport/servers/getVersion" && break
	sleep 0.2
done
mkey=$(sed -n 's/^DEFAULT_KEY = "\([^"]*\)".*/\1/p' tests/servers/misp_server.py)
misp=$("$load" "$mport" "$mkey" "$CONNS" "$DURATION" "$MISP_N")
say "misp_server.py single-value: $misp"

{
	echo "# MISP-compatible read API ($(date -u +%F), $(nproc) cores)"
	echo
	echo "| server | attributes | load | requests/s | p50 µs | p99 µs | max µs | walk |"
	echo "|---|---|---|---|---|---|---|---|"
	$PY - "$N" "$MISP_N" "$CONNS" "$single" "$walk" "$none" "$misp" <<'PYEOF'
import json, sys
n, mn, c = sys.argv[1:4]
rows = [("iocbus", n, "%s conns, single value" % c, sys.argv[4]),
        ("iocbus", n, "%s conns, single value, beside a walk of every attribute" % c, sys.argv[5]),
        ("iocbus", n, "%s conns, single value, beside a walk matching nothing" % c, sys.argv[6]),
        ("misp_server.py (context)", mn, "%s conns, single value" % c, sys.argv[7])]
for who, cnt, what, line in rows:
    r = json.loads(line)
    w = ("%d attributes, %.1f MB in %.2f s" % (r["walk_attributes"], r["walk_bytes"] / 1e6, r["walk_s"])
         if "walk_s" in r else "")
    print("| %s | %s | %s | %s | %d | %d | %d | %s |" % (who, format(int(cnt), ","), what,
          format(r["requests_per_s"], ",.0f"), r["p50_us"], r["p99_us"], r["max_us"], w))
PYEOF
} > "$out/mispapi-results.md"
cat "$out/mispapi-results.md"
