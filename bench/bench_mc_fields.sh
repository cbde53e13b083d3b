#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: elastiMISPstash's real bottleneck (issue #14 §1): a Logstash
# event costs one memcached round trip per field. Not a test: run by hand,
# figures go to docs/performance.md and docs/DROPINS.md.
#
#   bench/bench_mc_fields.sh
#
# What Logstash does (logstash-filter-memcached 1.2.0, Dalli 3.x): each
# `memcached` filter calls Dalli's get_multi ONCE per event with the keys of
# its `get` hash (GETKQ per key + NOOP: one round trip), and waits for the
# answer before the event goes on. elastiMISPstash's configuration
# (memcachedfilter-example.conf) has one filter per field, each inside
# `if [field] { memcached { get => { "domain-%{[field]}" => ... } } }` (a
# missing field would otherwise be looked up as the literal "%{[field]}"),
# so an event with F indicator fields pays F round trips in sequence. One
# Dalli client per filter instance is shared by the pipeline workers under
# a per-server lock (Dalli's ring lock), so one filter instance does at most
# 1 / round-trip lookups per second whatever the worker count.
#
# Measured here with the real client (ruby-dalli, binary protocol) against
# `iocbus run`'s memcached endpoint, one thread as one Logstash worker:
#   per-field: F get_multi calls of one key per event (elastiMISPstash);
#   one-call:  one get_multi of the F keys per event (all fields in one
#              filter, which only works when every event has every field);
# and `iocbus enrich` on the same events (in process: no round trip).
# Events carry F=4 ECS fields (source.ip, destination.ip,
# destination.domain, url.full); 1 % of the destination IPs hit.
#
# Environment knobs (defaults in brackets):
#   N [100000] indicators  EVENTS [20000]  ROUNDS [3]  SKIP_BUILD=1
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "$0")/.."

N=${N:-100000} EVENTS=${EVENTS:-20000} ROUNDS=${ROUNDS:-3} SKIP_BUILD=${SKIP_BUILD:-0}
PY=/usr/bin/python3
bin=${IOCBUS:-build/release/src/cli/iocbus}
BENCH_NAME=bench_mc_fields
bench_tmpdir iocbus-bench-mcf
command -v ruby >/dev/null && ruby -e 'require "dalli"' 2>/dev/null || die "needs ruby and ruby-dalli (scripts/deps.sh)"

if [ "$SKIP_BUILD" != 1 ]; then
	say "# building the release preset"
	cmake --preset release >/dev/null
	nice cmake --build --preset release -j2 >/dev/null
fi

say "# intel: $N ip-dst and domain attributes; $EVENTS ECS events with 4 indicator fields"
$PY - "$tmp" "$N" "$EVENTS" <<'PYEOF'
import json, random, sys
d, n, e = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ev = {"uuid": "5f1e2d3c-0000-4000-8000-000000000001", "id": "1", "info": "bench"}
ip = lambda i: "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
with open(d + "/intel.json", "w") as f:
    f.write('{"response": {"Attribute": [')
    for i in range(n):
        t, v = ("ip-dst", ip(i)) if i % 2 == 0 else ("domain", "d%d.bad.example" % i)
        a = {"uuid": "00000000-0000-4000-8000-%012d" % (i + 1), "type": t, "category": "Network activity",
             "value": v, "to_ids": True, "timestamp": "1700000000", "event_id": "1", "Event": ev,
             "Tag": [{"name": "Feed-bench"}]}
        f.write(("," if i else "") + json.dumps(a))
    f.write("]}}")
rnd = random.Random(1)
with open(d + "/events.ndjson", "w") as f:
    for i in range(e):
        dst = ip(rnd.randrange(0, n, 2)) if rnd.random() < 0.01 else "192.0.2.%d" % rnd.randrange(256)
        f.write(json.dumps({"@timestamp": "2026-12-05T00:00:00Z", "source": {"ip": "198.51.100.%d" % (i % 256)},
                            "destination": {"ip": dst, "domain": "host%d.good.example" % i},
                            "url": {"full": "https://host%d.good.example/p?q=%d" % (i, i)}}) + "\n")
PYEOF

iport=$(free_port)
hport=$(free_port)
cat > "$tmp/iocbus.yaml" <<YEOF
intel: ["$tmp/intel.json"]
memcached: {port: $iport}
http: {port: $hport}
logging: {level: warn}
YEOF
spawn "$tmp/iocbus.pid" "$bin" run -c "$tmp/iocbus.yaml"
wait_http "$hport" 120 || die "iocbus did not start"

# One Logstash worker: per event, the keys elastiMISPstash's filters build, looked up per field or in one call.
cat > "$tmp/dalli.rb" <<'RBEOF'
require "dalli"
require "json"
port, path, mode = ARGV[0], ARGV[1], ARGV[2]
keys = File.readlines(path).map do |l|
  e = JSON.parse(l)
  ["ip-src-#{e["source"]["ip"]}", "ip-dst-#{e["destination"]["ip"]}", "domain-#{e["destination"]["domain"]}",
   "url-#{e["url"]["full"]}"]
end
c = Dalli::Client.new(["127.0.0.1:#{port}"], expires_in: 0)
c.alive!
hits = calls = 0
t = Process.clock_gettime(Process::CLOCK_MONOTONIC)
keys.each do |ks|
  if mode == "per-field"
    ks.each { |k| hits += c.get_multi([k]).size; calls += 1 }
  else
    hits += c.get_multi(ks).size
    calls += 1
  end
end
s = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t
puts JSON.generate({mode: mode, events: keys.size, round_trips: calls, hits: hits, seconds: s,
                    events_per_s: keys.size / s, us_per_round_trip: s * 1e6 / calls})
RBEOF

: > "$tmp/runs.txt"
for r in $(seq "$ROUNDS"); do
	for mode in per-field one-call; do
		line=$(ruby "$tmp/dalli.rb" "$iport" "$tmp/events.ndjson" "$mode")
		say "round $r dalli $mode: $line load=$(cut -d' ' -f1 /proc/loadavg)"
		echo "$r dalli-$mode $line" >> "$tmp/runs.txt"
	done
	stats=$("$bin" enrich --intel "$tmp/intel.json" --preset ecs --stats -o /dev/null "$tmp/events.ndjson" 2>&1 |
		grep -E '^(enrich:|time:)' | tr '\n' ' ')
	say "round $r iocbus enrich: $stats"
	echo "$r enrich $stats" >> "$tmp/runs.txt"
done
