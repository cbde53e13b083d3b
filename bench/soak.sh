#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Soak test of `iocbus run` (issue #11). Not part of CI or ctest: run it by hand
# (10 minutes by default, 30 for the figures in docs/performance.md).
#
#   bench/soak.sh                               # 600 s
#   bench/soak.sh --seconds 1800                # or SOAK_SECONDS=1800
#   SOAK_SECONDS=150 SOAK_OUTAGE_SECONDS=20 SKIP_BUILD=1 bench/soak.sh   # a quick look
#   SOAK_INJECT=dup bench/soak.sh --seconds 150 # must FAIL: proves the check sees a doubled event
#
# One daemon (release build) with everything live at once, all on loopback with
# free ports, in a mktemp directory:
#   - MISP: tests/servers/misp_server.py; bench/soak_load.py churn adds, edits
#     (value and comment), soft-deletes and deletes attributes through its
#     control plane at SOAK_CHURN_RATE/s, each published on ZeroMQ; the live
#     pool stays near SOAK_POOL attributes, so the store does not grow.
#   - a file input: soak_load.py writer appends ECS-like lines, each with a
#     unique "seq" (0, 1, ...), at SOAK_RATE lines/s to the tailed file; every
#     20th carries the permanent indicator, so enrichment matches too. Output:
#     tests/servers/es_server.py (`document_id: hash`, `action: create`: a batch
#     sent again after the outage is refused with 409, as by Elasticsearch).
#   - one Elasticsearch outage in the middle: the ES port is closed (connections
#     refused) for SOAK_OUTAGE_SECONDS, then comes back; delivery must resume.
#   - HTTP: soak_load.py lookups at SOAK_LOOKUP_RATE/s, in turn: /v1/lookup of the
#     permanent indicator (must match) and of an absent value (must not) on one
#     keep-alive connection, /healthz (must be 200) and a lookup on new connections.
# Every SOAK_SAMPLE_SECONDS the daemon's VmRSS, VmHWM, threads (/proc/PID/status)
# and open fds (/proc/PID/fd) go to a CSV (and es_server.py's VmRSS: it keeps
# every document, about 2 KiB each).
#
# Verdict (exit 1, one `FAIL:` line per problem; 0 and PASS otherwise):
#   - growth after warm-up: the median of the last quarter of the samples against
#     the median of the (up to 3) samples just after warm-up, all before the
#     outage. RSS may grow by max(SOAK_RSS_TOL_PCT % of it, SOAK_RSS_TOL_MIB MiB):
#     the outage fills the memory queue (`pipeline.queue_bytes`, set to
#     SOAK_QUEUE_BYTES so that most of the backlog goes to the spool on disk) and
#     glibc keeps freed heap (the daemon's M_TRIM_THRESHOLD is 64 MiB): a 60 s
#     outage at 2,000 lines/s leaves a step of about 40 MiB. So RSS is also held
#     to max(SOAK_RSS_TREND_PCT %, SOAK_RSS_TREND_MIB MiB) over its median from
#     30 s after the outage (up to 3 samples, when they come before the last
#     quarter: 30-minute runs): a leak keeps climbing after the step.
#     Open fds may grow by SOAK_FD_TOL (connections in flight when sampled),
#     threads by SOAK_THREAD_TOL.
#   - a lost or doubled event: after the writer stops and the backlog drains,
#     es_server.py's `field_stats` over the index must show every seq 0..N-1
#     exactly once (no missing, no duplicate, nothing else).
#   - any failed HTTP exchange (error, 5 s timeout, wrong status, wrong answer).
#   - ZeroMQ: attribute messages applied (iocbus_updates_total{source="zmq"})
#     != published, or, after the churn, a live value that does not match or a
#     deleted / edited-away value that still does.
#   - no delivery within SOAK_RESUME_TIMEOUT s of the outage's end; the daemon
#     exiting; the backlog not delivered within SOAK_DRAIN_SECONDS.
# Prints a summary table for docs/performance.md. Files (kept): $SOAK_OUT/
# soak-samples.csv, soak-summary.md, soak-run.json, soak-metrics.txt,
# soak-iocbus.log.
#
# Knobs (environment; defaults in brackets):
#   SOAK_SECONDS [600] (--seconds N)   load duration
#   SOAK_OUTAGE_SECONDS [60, at most SOAK_SECONDS/6] (--outage-seconds N), from SOAK_SECONDS/2 - outage/2
#   SOAK_WARMUP_SECONDS [SOAK_SECONDS/10, 30..120]
#   SOAK_SAMPLE_SECONDS [10]
#   SOAK_RATE [2000] lines/s     SOAK_LOOKUP_RATE [50]/s
#   SOAK_CHURN_RATE [20]/s       SOAK_POOL [500] attributes
#   SOAK_RSS_TOL_PCT [25], SOAK_RSS_TOL_MIB [64], SOAK_FD_TOL [8], SOAK_THREAD_TOL [2]
#   SOAK_RSS_TREND_PCT [5], SOAK_RSS_TREND_MIB [8]: a leak of about 1 MiB a minute fails a 30-minute run
#   SOAK_QUEUE_BYTES [16MiB]      the daemon's pipeline.queue_bytes
#   SOAK_RESUME_TIMEOUT [60], SOAK_DRAIN_SECONDS [300]
#   SOAK_INJECT [""]             dup: one seq written twice (different bytes); loss:
#                                one seq counted but never written. Either must FAIL.
#   SOAK_OUT [bench/out]         SOAK_LOG_LEVEL [info]
#   BUILD_DIR [build/release], SKIP_BUILD [0]: 1 uses the existing build
set -euo pipefail
BENCH_NAME=soak
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "$0")/.."

usage() { sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) SOAK_SECONDS=${2:?}; shift 2 ;;
	--outage-seconds) SOAK_OUTAGE_SECONDS=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) say "soak: unknown argument $1 (see --help)"; exit 2 ;;
	esac
done

S=${SOAK_SECONDS:-600}
O=${SOAK_OUTAGE_SECONDS:-$((S / 6 < 60 ? S / 6 : 60))}
W=${SOAK_WARMUP_SECONDS:-$((S / 10 < 30 ? 30 : (S / 10 > 120 ? 120 : S / 10)))}
EVERY=${SOAK_SAMPLE_SECONDS:-10}
RATE=${SOAK_RATE:-2000}
LOOKUP_RATE=${SOAK_LOOKUP_RATE:-50}
CHURN_RATE=${SOAK_CHURN_RATE:-20}
POOL=${SOAK_POOL:-500}
RESUME_TIMEOUT=${SOAK_RESUME_TIMEOUT:-60}
QUEUE=${SOAK_QUEUE_BYTES:-16MiB}
DRAIN=${SOAK_DRAIN_SECONDS:-300}
INJECT=${SOAK_INJECT:-}
OUT=${SOAK_OUT:-bench/out}
BUILD_DIR=${BUILD_DIR:-build/release}
SKIP_BUILD=${SKIP_BUILD:-0}
PY=/usr/bin/python3
HIT=198.51.100.7              # the permanent indicator
INDEX=soak
O0=$((S / 2 - O / 2))         # outage start, seconds after the load started
for v in S O W EVERY RATE LOOKUP_RATE CHURN_RATE POOL RESUME_TIMEOUT DRAIN; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[ $((W + EVERY)) -le "$O0" ] || die "no sample between warm-up ($W s) and the outage (t=$O0 s): make SOAK_SECONDS longer or the outage shorter"
[ $((O0 + O + EVERY)) -le $((S * 3 / 4)) ] || die "the outage (t=$O0..$((O0 + O)) s) must end before the last quarter"
case $INJECT in "" | dup | loss) ;; *) die "SOAK_INJECT is dup or loss" ;; esac
bin=$BUILD_DIR/src/cli/iocbus
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
command -v curl >/dev/null || die "curl is required"

if [ "$SKIP_BUILD" != 1 ]; then
	say "# building the release preset"
	timeout 3600 cmake --preset release >/dev/null
	timeout 3600 cmake --build --preset release -j2 >/dev/null
fi
[ -x "$bin" ] || die "$bin missing (build the release preset, or set BUILD_DIR)"

bench_tmpdir iocbus-soak
# the whole run is bounded: start-up, load, drain, checks
limit=$((S + DRAIN + RESUME_TIMEOUT + 300))
( nap "$limit"; say "soak: time limit of $limit s reached"; kill -TERM $$ ) &
echo $! > "$tmp/limit.pid"
PIDFILES+=("$tmp/limit.pid")

# ------------------------------------------------------------ servers and daemon

spawn "$tmp/misp.pid" $PY tests/servers/misp_server.py --no-stdin-watch --heartbeat 5 \
	< /dev/null > "$tmp/misp.out" 2> "$tmp/misp.err"
spawn "$tmp/es.pid" $PY tests/servers/es_server.py --no-stdin-watch --port 0 --control-port 0 \
	< /dev/null > "$tmp/es.out" 2> "$tmp/es.err"
for _ in $(seq 300); do
	grep -q '^READY' "$tmp/misp.out" 2>/dev/null && grep -q '^READY' "$tmp/es.out" 2>/dev/null && break
	sleep 0.1
done
grep -q '^READY' "$tmp/misp.out" || { cat "$tmp/misp.err" >&2; die "misp_server.py did not come up"; }
grep -q '^READY' "$tmp/es.out" || { cat "$tmp/es.err" >&2; die "es_server.py did not come up"; }
misp_line=$(grep '^READY' "$tmp/misp.out")
rport=$(kv rest "$misp_line"); zport=$(kv zmq "$misp_line"); key=$(kv key "$misp_line")
es_line=$(grep '^READY' "$tmp/es.out")
eport=$(kv port "$es_line"); ectl=$(kv control "$es_line")
hport=$(free_port)

es_control() { # es_control ACTION [JSON]: the answer on stdout
	curl -s --max-time 60 -X POST -H 'Content-Type: application/json' --data "${2:-{\}}" \
		"http://127.0.0.1:$ectl/_control/$1"
}
es_docs() { es_control stats | $PY -c "import json,sys; print(json.load(sys.stdin)['docs'].get('$INDEX', 0))"; }
metric_sum() { # metric_sum NAME LABEL-SUBSTRING: from a /metrics scrape on stdin
	awk -v n="$1" -v l="$2" 'index($0, n) == 1 && index($0, l) { s += $NF } END { printf "%d", s }'
}

input=$tmp/events.ndjson
: > "$input"
cfg=$tmp/iocbus.yaml
cat > "$cfg" <<EOF
misp:
  api: {host: "http://127.0.0.1:$rport", key: $key, ssl: false, timeout: 10}
  zmq: {host: 127.0.0.1, port: $zport}
store: {path: $tmp/store}
enrich: {preset: ecs}
inputs:
  - {name: logs, type: file, path: $input, start_at: beginning}
outputs:
  - {name: es, type: elasticsearch, hosts: ["http://127.0.0.1:$eport"], index: $INDEX, document_id: hash, action: create}
pipeline: {state_dir: $tmp/state, queue_bytes: $QUEUE}
http: {host: 127.0.0.1, port: $hport}
logging: {level: ${SOAK_LOG_LEVEL:-info}}
EOF
mkdir -p "$tmp/store" "$tmp/state"
say "# soak: $S s, $RATE lines/s, $LOOKUP_RATE HTTP/s, $CHURN_RATE MISP changes/s (pool $POOL), ES outage $O s at t=$O0 s, warm-up $W s${INJECT:+, INJECT=$INJECT}"
spawn "$tmp/daemon.pid" "$bin" run -c "$cfg" < /dev/null > "$OUT/soak-iocbus.log" 2>&1
dpid=$(pid_of "$tmp/daemon.pid")
wait_http "$hport" 60 || { tail -n 20 "$OUT/soak-iocbus.log" >&2; die "iocbus HTTP did not come up"; }
for _ in $(seq 300); do
	[ "$(curl -s --max-time 2 "http://127.0.0.1:$hport/metrics" | metric_sum iocbus_source_up 'source="zmq"')" = 1 ] && break
	sleep 0.1
done
sleep 0.5   # the subscription travels after the connection

# ------------------------------------------------------------ load

sample_loop() { # sample_loop PID T0 ES_PID: one CSV row every EVERY s until S
	local i=0 t st rss hwm thr fds phase es
	echo "t_s,rss_kib,hwm_kib,fds,threads,phase,es_rss_kib" > "$OUT/soak-samples.csv"
	while :; do
		t=$(awk -v a="$2" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}')
		st=$(cat "/proc/$1/status" 2>/dev/null) || break
		rss=$(awk '/^VmRSS:/ {print $2}' <<<"$st")
		hwm=$(awk '/^VmHWM:/ {print $2}' <<<"$st")
		thr=$(awk '/^Threads:/ {print $2}' <<<"$st")
		fds=$(find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
		es=$(awk '/^VmRSS:/ {print $2}' "/proc/$3/status" 2>/dev/null) || es=0
		phase=$(awk -v t="$t" -v w="$W" -v a="$O0" -v b=$((O0 + O)) 'BEGIN {print (t < w ? "warmup" : (t >= a && t < b ? "outage" : "run"))}')
		echo "$t,$rss,$hwm,$fds,$thr,$phase,$es" >> "$OUT/soak-samples.csv"
		i=$((i + 1))
		[ $((i * EVERY)) -le "$S" ] || break
		nap "$(awk -v a="$2" -v b="$(now)" -v n=$((i * EVERY)) 'BEGIN {d = a + n - b; printf "%.3f", (d > 0 ? d : 0)}')"
	done
}
sleep_until() { # sleep_until T: T seconds after $t0
	nap "$(awk -v a="$t0" -v b="$(now)" -v n="$1" 'BEGIN {d = a + n - b; printf "%.3f", (d > 0 ? d : 0)}')"
}

# the churn first: its permanent indicator must match before the lookups start
spawn "$tmp/churn.pid" timeout $((S + 120)) $PY bench/soak_load.py churn --misp-port "$rport" --rate "$CHURN_RATE" \
	--seconds $((S + 5)) --pool "$POOL" --hit-value "$HIT" --state "$tmp/churn.json" 2> "$tmp/churn.err"
for _ in $(seq 200); do
	curl -s --max-time 2 "http://127.0.0.1:$hport/v1/lookup?value=$HIT" | grep -q '"matches":\[{' && break
	sleep 0.1
done
curl -s --max-time 2 "http://127.0.0.1:$hport/v1/lookup?value=$HIT" | grep -q '"matches":\[{' ||
	{ cat "$tmp/churn.err" >&2; die "the permanent indicator did not reach the store over ZeroMQ"; }

t0=$(now)
sample_loop "$dpid" "$t0" "$(pid_of "$tmp/es.pid")" &
echo $! > "$tmp/sampler.pid"
PIDFILES+=("$tmp/sampler.pid")
spawn "$tmp/writer.pid" timeout $((S + 60)) $PY bench/soak_load.py writer --file "$input" --rate "$RATE" --seconds "$S" \
	--stats "$tmp/writer.json" --hit-value "$HIT" ${INJECT:+--inject "$INJECT"} 2> "$tmp/writer.err"
spawn "$tmp/lookups.pid" timeout $((S + 60)) $PY bench/soak_load.py lookups --port "$hport" --rate "$LOOKUP_RATE" \
	--seconds "$S" --hit-value "$HIT" --stats "$tmp/lookups.json" 2> "$OUT/soak-lookups.err"

sleep_until "$O0"
say "# t=$O0 s: Elasticsearch down for $O s ($(es_docs) documents so far)"
es_control down > /dev/null
sleep_until $((O0 + O))
es_control up > /dev/null
docs_at_up=$(es_docs)
t_up=$(now)
resume=null
while awk -v a="$t_up" -v b="$(now)" -v m="$RESUME_TIMEOUT" 'BEGIN {exit !(b - a < m)}'; do
	if [ "$(es_docs)" -gt "$docs_at_up" ]; then
		resume=$(awk -v a="$t_up" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}')
		break
	fi
	sleep 0.2
done
say "# t=$((O0 + O)) s: Elasticsearch up again; first delivery after ${resume} s"

wait_pidfile "$tmp/writer.pid" $((S + 60)) || die "the writer did not finish"
written=$($PY -c "import json; print(json.load(open('$tmp/writer.json'))['written'])")
say "# writer done: $written lines; draining"
t_drain=$(now)
last=-1
still=0
for _ in $(seq $((DRAIN * 2))); do
	docs=$(es_docs)
	[ "$docs" -ge "$written" ] && break
	# nothing new for 15 s while short: what is missing is not coming
	if [ "$docs" = "$last" ]; then still=$((still + 1)); else still=0; last=$docs; fi
	[ "$still" -lt 30 ] || break
	sleep 0.5
done
drain_s=$(awk -v a="$t_drain" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}')
wait_pidfile "$tmp/lookups.pid" 60 || die "the lookups did not finish"
wait_pidfile "$tmp/churn.pid" 130 || die "the churn did not finish"
[ -s "$tmp/churn.json" ] || { cat "$tmp/churn.err" >&2; die "the churn wrote no totals"; }
wait_pidfile "$tmp/sampler.pid" $((EVERY + 5)) || true

# ------------------------------------------------------------ verdict

verify=$($PY bench/soak_load.py verify --port "$hport" --churn-state "$tmp/churn.json" --timeout 60) || true
curl -s --max-time 10 "http://127.0.0.1:$hport/metrics" > "$OUT/soak-metrics.txt" || true
daemon_exit=null
kill -0 "$dpid" 2>/dev/null || daemon_exit='"gone before the checks"'
es_control field_stats "{\"index\": \"$INDEX\", \"field\": \"seq\", \"expect\": $written}" > "$tmp/es.json"
kill_pidfile "$tmp/daemon.pid"
cat > "$OUT/soak-run.json" <<EOF
{"seconds": $S, "warmup": $W, "sample_every": $EVERY, "outage_start": $O0, "outage_seconds": $O,
 "rate": $RATE, "lookup_rate": $LOOKUP_RATE, "churn_rate": $CHURN_RATE, "pool": $POOL,
 "rss_tol_pct": ${SOAK_RSS_TOL_PCT:-25}, "rss_tol_mib": ${SOAK_RSS_TOL_MIB:-64},
 "rss_trend_pct": ${SOAK_RSS_TREND_PCT:-5}, "rss_trend_mib": ${SOAK_RSS_TREND_MIB:-8},
 "fd_tol": ${SOAK_FD_TOL:-8}, "thread_tol": ${SOAK_THREAD_TOL:-2},
 "resume_seconds": $resume, "resume_timeout": $RESUME_TIMEOUT, "drain_seconds": $drain_s, "daemon_exit": $daemon_exit, "inject": "$INJECT",
 "writer": $(cat "$tmp/writer.json"), "lookups": $(cat "$tmp/lookups.json"), "churn": $(cat "$tmp/churn.json"),
 "verify": ${verify:-null}, "es": $(cat "$tmp/es.json")}
EOF
rc=0
$PY bench/soak_load.py report --samples "$OUT/soak-samples.csv" --run "$OUT/soak-run.json" \
	--metrics "$OUT/soak-metrics.txt" --out "$OUT/soak-summary.md" || rc=$?
say "# samples: $OUT/soak-samples.csv, summary: $OUT/soak-summary.md, daemon log: $OUT/soak-iocbus.log"
if [ "$rc" = 0 ]; then say "soak: PASS"; else say "soak: FAIL"; fi
exit "$rc"
