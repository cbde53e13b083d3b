#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: the memcached endpoint of `iocbus run` (issue #14 §1
# "Performance") against Debian's memcached 1.6 in the same run. Not a test:
# run by hand, figures go to docs/performance.md.
#
#   bench/bench_memcached.sh
#
# Both servers hold the same N keys "ip-dst-10.a.b.c" (iocbus: N ip-dst
# attributes from an intel file; memcached: the same keys with
# elastiMISPstash's value, set beforehand). bench/mc_load sends what Dalli's
# get_multi sends (BATCH pipelined GETKQ + NOOP per write, waits for the
# NOOP) from CONNS connections for DURATION seconds, HITPCT % of the keys hit
# candidates, the rest misses. The servers are measured in turn, ROUNDS
# times, alternating. iocbus also normalises each key and checks CIDRs.
# memcached runs with its defaults (4 worker threads), -m 2048, CAS off.
# Besides keys/s, each run records the server's own CPU time per key
# (user + system from /proc/PID/stat): on a machine shared with other work
# the rate follows the neighbours' load, the CPU a key costs much less so.
# The 1-minute load average is recorded with each run.
# Writes bench/out/memcached-results.md and the raw lines
# bench/out/memcached-runs.jsonl.
#
# Environment knobs (defaults in brackets):
#   N [1000000] CONNS [8] BATCH [8] HITPCT [1] DURATION [10] ROUNDS [2]
#   SKIP_BUILD=1  do not (re)build the release preset
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "$0")/.."

N=${N:-1000000} CONNS=${CONNS:-8} BATCH=${BATCH:-8} HITPCT=${HITPCT:-1} DURATION=${DURATION:-10} ROUNDS=${ROUNDS:-2}
SKIP_BUILD=${SKIP_BUILD:-0}
PY=/usr/bin/python3
out=bench/out
bin=${IOCBUS:-build/release/src/cli/iocbus}
load=build/release/bench/mc_load
mkdir -p "$out"
BENCH_NAME=bench_memcached
bench_tmpdir iocbus-bench-mc

if [ "$SKIP_BUILD" != 1 ]; then
	say "# building the release preset"
	cmake --preset release >/dev/null
	nice cmake --build --preset release -j2 >/dev/null
fi

say "# intel: $N ip-dst attributes"
$PY - "$tmp/intel.json" "$N" <<'PYEOF'
import json, sys
n = int(sys.argv[2])
ev = {"uuid": "5f1e2d3c-0000-4000-8000-000000000001", "id": "1", "info": "bench"}
with open(sys.argv[1], "w") as f:
    f.write('{"response": {"Attribute": [')
    for i in range(n):
        a = {"uuid": "00000000-0000-4000-8000-%012d" % (i + 1), "type": "ip-dst", "category": "Network activity",
             "value": "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255), "to_ids": True,
             "timestamp": "1700000000", "event_id": "1", "Event": ev, "Tag": [{"name": "Feed-bench"}]}
        f.write(("," if i else "") + json.dumps(a))
    f.write("]}}")
PYEOF

mport=$(free_port)
iport=$(free_port)
hport=$(free_port)
root=()
[ "$(id -u)" = 0 ] && root=(-u root)
spawn "$tmp/memcached.pid" memcached -l 127.0.0.1 -p "$mport" -U 0 -m 2048 -C "${root[@]}"
say "# memcached on $mport: setting $N keys"
$PY - "$mport" "$N" <<'PYEOF'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port)); break
    except OSError:
        time.sleep(0.05)
v = b"['Feed-bench']"
buf = []
for i in range(n):
    k = b"ip-dst-10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
    buf.append(b"set %s 0 0 %d noreply\r\n%s\r\n" % (k, len(v), v))
    if len(buf) == 10000:
        s.sendall(b"".join(buf)); buf = []
s.sendall(b"".join(buf) + b"get ip-dst-10.0.0.0\r\n")
r = b""
while not r.endswith(b"END\r\n"):
    r += s.recv(65536)
assert r.startswith(b"VALUE"), r
PYEOF

cat > "$tmp/iocbus.yaml" <<YEOF
intel: ["$tmp/intel.json"]
memcached: {port: $iport}
http: {port: $hport}
logging: {level: warn}
YEOF
spawn "$tmp/iocbus.pid" "$bin" run -c "$tmp/iocbus.yaml"
say "# iocbus on $iport: loading"
wait_http "$hport" 300 || die "iocbus did not start"

: > "$out/memcached-runs.jsonl"
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for r in $(seq "$ROUNDS"); do
	for who in memcached iocbus; do
		port=$mport pid=$(pid_of "$tmp/memcached.pid")
		[ "$who" = iocbus ] && port=$iport pid=$(pid_of "$tmp/iocbus.pid")
		c0=$(cpu_ticks "$pid")
		line=$("$load" "$port" "$CONNS" "$DURATION" "$BATCH" "$N" "$HITPCT")
		c1=$(cpu_ticks "$pid")
		load1=$(cut -d' ' -f1 /proc/loadavg)
		say "round $r $who: $line cpu_ticks=$((c1 - c0)) load=$load1"
		printf '{"round": %d, "server": "%s", "result": %s, "cpu_s": %s, "load1": %s}\n' "$r" "$who" "$line" \
			"$(awk -v t="$(getconf CLK_TCK)" -v d=$((c1 - c0)) 'BEGIN{print d / t}')" "$load1" \
			>> "$out/memcached-runs.jsonl"
	done
done

{
	echo "# memcached endpoint vs Debian memcached ($(date -u +%F), $(nproc) cores)"
	echo
	echo "N=$N keys, $CONNS connections, GETKQ batches of $BATCH + NOOP, $HITPCT % hit candidates, ${DURATION}s per run."
	echo
	echo "| round | server | keys/s | server CPU µs/key | hits | p50 batch us | p99 batch us | load avg |"
	echo "|---|---|---|---|---|---|---|---|"
	$PY -c '
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
for d in runs:
    r = d["result"]
    print("| %d | %s | %s | %.2f | %d | %d | %d | %.1f |" % (d["round"], d["server"], format(r["keys_per_s"], ",.0f"),
          d["cpu_s"] * 1e6 / max(r["keys"], 1), r["hits"], r["p50_us"], r["p99_us"], d["load1"]))
tot = {}
for d in runs:
    t = tot.setdefault(d["server"], [0, 0, 0.0])
    t[0] += d["result"]["keys"]; t[1] += d["result"]["keys_per_s"]; t[2] += d["cpu_s"]
print()
for s, (k, kps, cpu) in tot.items():
    print("%s: mean %s keys/s, %.2f server CPU µs/key over %d rounds" % (s, format(kps / len(runs) * len(tot), ",.0f"),
          cpu * 1e6 / max(k, 1), len(runs) // len(tot)))
' "$out/memcached-runs.jsonl"
} > "$out/memcached-results.md"
cat "$out/memcached-results.md"
