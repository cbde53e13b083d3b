#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: `iocbus run` intake (issue #4 speed targets). Not a test: run by
# hand, figures go to docs/performance.md.
#
#   bench/bench_run.sh
#
# Three parts, each against the release build (build/release/src/cli/iocbus):
#   zmq      MISP ZeroMQ -> store on one core: bench/zmq_flood (CPU 0) publishes
#            MSGS misp_json_attribute add frames (+1 marker) to `iocbus run`
#            (CPU 1, only misp.zmq configured); /metrics is polled until
#            iocbus_updates_total{source="zmq",action="add"} and
#            iocbus_store_attributes_total both reach MSGS+1. Rate = (MSGS+1) /
#            (last applied - first send). Zero loss = both counters exactly
#            MSGS+1. Store variants: memory (store.path unset), memory with
#            store.expected_attributes = MSGS+1 (mem-sized) and LMDB
#            (store: {path, durable: false}), alternated within each round.
#            Ratio against Threat Bus 2020.12.16's 3,950 msg/s, quoted from
#            ../shared/reference/threatbus.md §6 (not re-measured here).
#   latency  publish -> matchable: bench/latency_probe.py (CPU 0) publishes one
#            attribute at a time from its own PUB socket and polls
#            GET /v1/lookup?value=V on a keep-alive connection until it hits;
#            LAT_SAMPLES samples at LAT_RATE/s, with LAT_LOAD msg/s of filler
#            from the same socket when set; p50/p90/p99/max.
#   rest     1 M-attribute REST backfill: tests/servers/misp_server.py
#            --preload the gen_misp.py restSearch file (CPU 0), `iocbus run`
#            with misp.api + misp.pull (page_size PAGE_SIZE, CPU 1, memory
#            store); time from daemon start until iocbus_store_attributes_total
#            reaches the indicator count (what `iocbus load` stores from the
#            same file). Baseline: the same page requests with curl alone,
#            cold (first, the server builds its per-item cache) and warm.
# Writes bench/out/run-results.md (and run-*.txt raw outputs).
#
# Prerequisites (Debian 12): the build deps (scripts/deps.sh: libzmq,
# python3-zmq), curl, util-linux (taskset).
#
# Environment knobs (defaults in brackets):
#   PARTS ["zmq latency rest"]  which parts run
#   ROUNDS [3]            timed rounds of the zmq part (medians)
#   MSGS [1000000]        attribute messages per zmq round (+1 marker)
#   FLOOD_TYPE [ip]       ip (ip-dst 10.x.y.z), domain, mixed
#   FLOOD_RATE [0]        publisher pacing in msg/s; 0 = as fast as it can
#   STORES ["mem mem-sized lmdb"]  store variants of the zmq part (mem-sized:
#                         store.expected_attributes = MSGS+1, indexes pre-sized)
#   APPLY_TIMEOUT [180]   seconds to wait for every message to be applied
#   LAT_SAMPLES [2000]    latency samples
#   LAT_RATE [200]        samples per second
#   LAT_LOADS ["0 10000"] background msg/s per latency run (one run each)
#   LAT_PROBE [c]         c: bench/latency_probe.c (release build), py: latency_probe.py
#   LAT_GAP_US [50]       C probe: µs between two lookups of one sample
#   ATTRS [1000000]       attributes in the REST data (events: ATTRS/10, --seed 1)
#   PAGE_SIZE [50000]     misp.pull.page_size
#   REST_TIMEOUT [600]    seconds for the preload and for the backfill
#   CPU_DAEMON [1], CPU_AUX [0]   CPUs for the daemon / publisher, probe, server
#   SKIP_BUILD=1          do not (re)build the release preset
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "$0")/.."

PARTS=${PARTS:-zmq latency rest}
ROUNDS=${ROUNDS:-3}
MSGS=${MSGS:-1000000}
FLOOD_TYPE=${FLOOD_TYPE:-ip}
FLOOD_RATE=${FLOOD_RATE:-0}
STORES=${STORES:-mem mem-sized lmdb}
APPLY_TIMEOUT=${APPLY_TIMEOUT:-180}
LAT_SAMPLES=${LAT_SAMPLES:-2000}
LAT_RATE=${LAT_RATE:-200}
LAT_LOADS=${LAT_LOADS:-0 10000}
LAT_PROBE=${LAT_PROBE:-c}
LAT_GAP_US=${LAT_GAP_US:-50}
ATTRS=${ATTRS:-1000000}
INTEL_EVENTS=${INTEL_EVENTS:-$((ATTRS / 10))}
PAGE_SIZE=${PAGE_SIZE:-50000}
REST_TIMEOUT=${REST_TIMEOUT:-600}
SKIP_BUILD=${SKIP_BUILD:-0}
THREATBUS_MSG_S=3950   # ../shared/reference/threatbus.md §6, 2020.12.16, quoted

PY=/usr/bin/python3
out=bench/out
bin=build/release/src/cli/iocbus
flood=build/release/bench/zmq_flood
if [ "$LAT_PROBE" = c ]; then
	probe=(build/release/bench/latency_probe --poll-gap-us "$LAT_GAP_US")
else
	probe=("$PY" bench/latency_probe.py)
fi
KEY=IocbusTestKey000000000000000000000000001
mkdir -p "$out"
if [ "$(nproc)" -ge 2 ]; then
	CPU_DAEMON=${CPU_DAEMON:-1}
	CPU_AUX=${CPU_AUX:-0}
else
	CPU_DAEMON=${CPU_DAEMON:-0}
	CPU_AUX=${CPU_AUX:-0}
fi
PIN=(taskset -c "$CPU_DAEMON")
AUX=(taskset -c "$CPU_AUX")


# ------------------------------------------------------------ cleanup

BENCH_NAME=bench_run
bench_tmpdir iocbus-bench-run

# ------------------------------------------------------------ prerequisites

command -v taskset >/dev/null || die "taskset (util-linux) is required"
command -v curl >/dev/null || die "curl is required"
$PY -c 'import zmq' 2>/dev/null || die "python3-zmq is required (scripts/deps.sh)"
if [ "$SKIP_BUILD" != 1 ]; then
	say "# building the release preset"
	timeout 1800 cmake --preset release >/dev/null
	timeout 3600 cmake --build --preset release >/dev/null
fi
[ -x "$bin" ] || die "$bin missing"
timeout 10 "$bin" run --help >/dev/null 2>&1 || die "$bin has no 'run' command yet"
[ -x "$flood" ] || die "$flood missing (bench/CMakeLists.txt target zmq_flood)"

# ------------------------------------------------------------ metrics poller
# poll_metrics PORT ADDS TOTAL TIMEOUT [SOURCE]: polls /metrics on one keep-alive
# connection every 10 ms until updates_total{source=SOURCE,action=add} >= ADDS
# and store_attributes_total >= TOTAL (ADDS 0: only the store total), or TIMEOUT
# seconds. Prints "t_done=EPOCH adds=N total=N messages=N ok=1|0 polls=N".
poll_metrics() {
	"${AUX[@]}" $PY - "$@" <<'EOF'
import http.client, re, sys, time
port, want_adds, want_total, timeout = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
source = sys.argv[5] if len(sys.argv) > 5 else "zmq"
deadline = time.monotonic() + timeout
conn = None
adds = total = msgs = -1
polls = 0
rx_total = re.compile(r"^iocbus_store_attributes_total(?:\{[^}]*\})? (\S+)$", re.M)
rx_upd = re.compile(r"^iocbus_updates_total\{([^}]*)\} (\S+)$", re.M)
rx_msg = re.compile(r"^iocbus_source_messages_total\{([^}]*)\} (\S+)$", re.M)
ok = 0
while time.monotonic() < deadline:
    try:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/metrics")
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        conn = None
        time.sleep(0.05)
        continue
    t = time.time()
    polls += 1
    m = rx_total.search(body)
    total = int(float(m.group(1))) if m else -1
    adds = msgs = 0
    for lab, v in rx_upd.findall(body):
        if 'source="%s"' % source in lab and 'action="add"' in lab:
            adds = int(float(v))
    for lab, v in rx_msg.findall(body):
        if 'source="%s"' % source in lab:
            msgs = int(float(v))
    if total >= want_total and adds >= want_adds:
        ok = 1
        break
    time.sleep(0.01)
else:
    t = time.time()
print("t_done=%.6f adds=%d total=%d messages=%d ok=%d polls=%d" % (t, adds, total, msgs, ok, polls))
EOF
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
report=$out/run-results.md
runs=$out/run-runs.tsv
: > "$runs"
: > "$out/run-commands.txt"

# ------------------------------------------------------------ zmq throughput

# zmq_round ROUND STORE: one flood into a fresh daemon
zmq_round() {
	local r=$1 st=$2 zport hport cfg dir line fl t_first send_s rate adds total ok el
	zport=$(free_port)
	hport=$(free_port)
	cfg=$tmp/zmq-$st.yaml
	dir=$tmp/store-$st-$r
	{
		echo "misp:"
		echo "  zmq: {host: 127.0.0.1, port: $zport, heartbeat_timeout: 0s}"
		if [ "$st" = lmdb ]; then
			rm -rf "$dir"
			mkdir -p "$dir"
			echo "store: {path: $dir, durable: false}"
		elif [ "$st" = mem-sized ]; then
			echo "store: {expected_attributes: $((MSGS + 1))}"
		fi
		echo "http: {host: 127.0.0.1, port: $hport}"
		echo "logging: {level: warn}"
	} > "$cfg"
	local fargs=(--port "$zport" --count "$MSGS" --type "$FLOOD_TYPE" --seed "$r" --wait-timeout 120
		--hold-s $((APPLY_TIMEOUT + 60)))
	[ "$FLOOD_RATE" != 0 ] && fargs+=(--rate "$FLOOD_RATE")
	spawn "$tmp/flood.pid" "${AUX[@]}" "$flood" "${fargs[@]}" > "$tmp/flood.out" 2> "$tmp/flood.err"
	# the publisher builds its frames first; the daemon may connect before the bind
	spawn "$tmp/daemon.pid" "${PIN[@]}" "$bin" run -c "$cfg" 2> "$tmp/daemon-zmq.log"
	wait_http "$hport" 30 || { cat "$tmp/daemon-zmq.log" >&2; die "zmq: daemon HTTP did not come up"; }
	line=$(poll_metrics "$hport" $((MSGS + 1)) $((MSGS + 1)) $((APPLY_TIMEOUT + 60)))
	# zmq_flood holds its connection open after sending (--hold-s): its line is out already
	fl=$(cat "$tmp/flood.out")
	kill_pidfile "$tmp/flood.pid"
	kill_pidfile "$tmp/daemon.pid"
	[ -n "$fl" ] || { cat "$tmp/flood.err" >&2; die "zmq: zmq_flood printed nothing"; }
	t_first=$(kv t_first "$fl"); send_s=$(kv send_s "$fl")
	adds=$(kv adds "$line"); total=$(kv total "$line"); ok=$(kv ok "$line")
	el=$(awk -v a="$t_first" -v b="$(kv t_done "$line")" 'BEGIN {printf "%.4f", b - a}')
	rate=$(awk -v n=$((MSGS + 1)) -v e="$el" 'BEGIN {printf "%.0f", (e > 0 ? n / e : 0)}')
	echo "zmq $r $st $el $rate $adds $total $ok $send_s $(kv rate "$fl")" >> "$runs"
	say "  $st: $((MSGS + 1)) msgs in $el s = $rate msg/s; applied adds $adds, store $total, complete=$ok; publisher sent in $send_s s"
	grep -v '^$' "$tmp/daemon-zmq.log" | tail -n 3 >&2 || true
	if [ "$r" = 1 ]; then
		echo "zmq ($st): ${PIN[*]} $bin run -c CFG   (CFG: $(tr '\n' ' ' < "$cfg")); ${AUX[*]} $flood ${fargs[*]}" >> "$out/run-commands.txt"
	fi
	rm -rf "$dir"
}

if has_part zmq; then
	say "# zmq throughput: $MSGS messages (+1 marker), stores: $STORES, $ROUNDS rounds"
	read -r -a stores <<<"$STORES"
	ns=${#stores[@]}
	for r in $(seq "$ROUNDS"); do
		for k in $(seq 0 $((ns - 1))); do
			st=${stores[$(((k + r - 1) % ns))]}
			say "# round $r/$ROUNDS: zmq $st"
			zmq_round "$r" "$st"
		done
	done
fi

# ------------------------------------------------------------ latency

if has_part latency; then
	for load in $LAT_LOADS; do
		say "# latency: $LAT_SAMPLES samples at $LAT_RATE/s, background $load msg/s"
		zport=$(free_port)
		hport=$(free_port)
		cfg=$tmp/lat.yaml
		printf 'misp:\n  zmq: {host: 127.0.0.1, port: %s, heartbeat_timeout: 0s}\nhttp: {host: 127.0.0.1, port: %s}\nlogging: {level: warn}\n' \
			"$zport" "$hport" > "$cfg"
		spawn "$tmp/probe.pid" "${AUX[@]}" "${probe[@]}" --zmq-port "$zport" --http-port "$hport" \
			--samples "$LAT_SAMPLES" --rate "$LAT_RATE" --load "$load" \
			--samples-out "$out/run-latency-$load.txt" > "$tmp/probe.out" 2> "$tmp/probe.err"
		spawn "$tmp/daemon.pid" "${PIN[@]}" "$bin" run -c "$cfg" 2> "$tmp/daemon-lat.log"
		wait_pidfile "$tmp/probe.pid" $((LAT_SAMPLES * 4 / LAT_RATE + 120)) || say "bench_run: latency probe timed out"
		kill_pidfile "$tmp/probe.pid"
		kill_pidfile "$tmp/daemon.pid"
		line=$(cat "$tmp/probe.out")
		[ -n "$line" ] || { cat "$tmp/probe.err" "$tmp/daemon-lat.log" >&2; die "latency: the probe printed nothing"; }
		say "  $line"
		echo "latency $load $line" >> "$runs"
		echo "latency (load $load): ${PIN[*]} $bin run -c CFG   (CFG: $(tr '\n' ' ' < "$cfg")); ${AUX[*]} ${probe[*]} --zmq-port P --http-port H --samples $LAT_SAMPLES --rate $LAT_RATE --load $load" >> "$out/run-commands.txt"
	done
fi

# ------------------------------------------------------------ REST backfill

if has_part rest; then
	intel=$out/rest-$ATTRS.json           # same file bench_load.sh / bench_enrich.sh make
	if [ ! -s "$intel" ] || [ bench/gen_misp.py -nt "$intel" ]; then
		say "# generating $intel ($ATTRS attributes)"
		timeout 900 $PY bench/gen_misp.py --format restsearch -o "$intel" --attributes "$ATTRS" \
			--events "$INTEL_EVENTS" --seed 1 --quiet
	fi
	expect_f=$out/run-expected-$ATTRS.txt
	if [ ! -s "$expect_f" ] || [ "$intel" -nt "$expect_f" ] || [ "$bin" -nt "$expect_f" ]; then
		say "# counting the indicators of $intel (iocbus load)"
		timeout 900 "$bin" load --intel "$intel" | sed -n 's/^loaded \([0-9]*\) .*/\1/p' > "$expect_f"
	fi
	expect=$(cat "$expect_f")
	[ -n "$expect" ] || die "rest: could not count the indicators"
	cat "$intel" > /dev/null

	say "# rest: preloading $intel into misp_server.py"
	t0=$(now)
	spawn "$tmp/srv.pid" "${AUX[@]}" $PY tests/servers/misp_server.py --no-stdin-watch --preload "$intel" \
		< /dev/null > "$tmp/srv.out" 2> "$tmp/srv.err"
	for _ in $(seq $((REST_TIMEOUT * 10))); do grep -q '^READY' "$tmp/srv.out" 2>/dev/null && break; sleep 0.1; done
	grep -q '^READY' "$tmp/srv.out" || { cat "$tmp/srv.err" >&2; die "rest: misp_server.py did not come up"; }
	preload_s=$(awk -v a="$t0" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}')
	rport=$(sed -n 's/^READY rest=\([0-9]*\).*/\1/p' "$tmp/srv.out")
	srv_stats=$(curl -s -X POST --data '{}' "http://127.0.0.1:$rport/_control/stats")
	say "  server up after $preload_s s: $srv_stats; indicators expected in the store: $expect"

	# curl baseline: the daemon's reconcile request bodies, page after page
	pull_curl() { # prints seconds and pages
		local page=1 t0 n
		t0=$(now)
		while :; do
			n=$(curl -s -o /dev/null -D - -H "Authorization: $KEY" -H 'Accept: application/json' \
				-H 'Content-Type: application/json' \
				--data "{\"returnFormat\":\"json\",\"limit\":$PAGE_SIZE,\"page\":$page,\"order\":\"Attribute.id ASC\",\"includeContext\":1,\"includeEventTags\":1}" \
				"http://127.0.0.1:$rport/attributes/restSearch" | tr -d '\r' | sed -n 's/^X-Result-Count: //p')
			[ -n "$n" ] || die "rest: restSearch failed on page $page"
			[ "$n" -gt "$PAGE_SIZE" ] || break
			page=$((page + 1))
		done
		awk -v a="$t0" -v b="$(now)" -v p="$page" 'BEGIN {printf "%.3f %d\n", b - a, p}'
	}
	say "# rest: curl baseline (cold: the server builds its item cache)"
	cold=$(pull_curl)
	say "  cold: $cold (s pages)"
	warm=$(pull_curl)
	say "  warm: $warm (s pages)"
	echo "rest-curl cold $cold" >> "$runs"
	echo "rest-curl warm $warm" >> "$runs"
	nreq0=$(curl -s -X POST --data '{}' "http://127.0.0.1:$rport/_control/requests" | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')

	hport=$(free_port)
	cfg=$tmp/rest.yaml
	printf 'misp:\n  api: {host: "http://127.0.0.1:%s", key: %s, ssl: false}\n  pull: {page_size: %s, interval: 1h, reconcile: 0s}\nhttp: {host: 127.0.0.1, port: %s}\nlogging: {level: warn}\n' \
		"$rport" "$KEY" "$PAGE_SIZE" "$hport" > "$cfg"
	say "# rest: daemon backfill, page_size $PAGE_SIZE"
	t0=$(now)
	spawn "$tmp/daemon.pid" "${PIN[@]}" "$bin" run -c "$cfg" 2> "$tmp/daemon-rest.log"
	line=$(poll_metrics "$hport" 0 "$expect" "$REST_TIMEOUT" pull)
	kill_pidfile "$tmp/daemon.pid"
	el=$(awk -v a="$t0" -v b="$(kv t_done "$line")" 'BEGIN {printf "%.3f", b - a}')
	pages=$(kv messages "$line")
	reqs=$(curl -s -X POST --data '{}' "http://127.0.0.1:$rport/_control/requests" | $PY -c "import json,sys; print(len(json.load(sys.stdin)) - $nreq0)")
	say "  $line"
	say "  backfill: $el s from daemon start to $expect attributes in the store; $pages pages read ($reqs requests at the server)"
	echo "rest-daemon $el $pages $reqs $(kv total "$line") $(kv ok "$line") $expect $preload_s" >> "$runs"
	grep -v '^$' "$tmp/daemon-rest.log" | tail -n 5 >&2 || true
	echo "rest: ${AUX[*]} $PY tests/servers/misp_server.py --preload $intel; ${PIN[*]} $bin run -c CFG   (CFG: $(tr '\n' ' ' < "$cfg" | sed "s/$KEY/KEY/"))" >> "$out/run-commands.txt"
	curl -s -o /dev/null -X POST --data '{}' "http://127.0.0.1:$rport/_control/shutdown" || true
	wait_pidfile "$tmp/srv.pid" 10 || kill_pidfile "$tmp/srv.pid"
fi

# ------------------------------------------------------------ report

{
	echo "# \`iocbus run\` benchmark (issue #4)"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r); daemon on CPU $CPU_DAEMON, publisher/probe/server on CPU $CPU_AUX. Load average (1/5/15 min) before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg) — anything above ~2 means other work shared these CPUs and the figures are low."
	echo
	if grep -q '^zmq ' "$runs"; then
		echo "## MISP ZeroMQ -> store (target: ≥ 200 k msg/s on one core, zero loss; ≥ 50× Threat Bus)"
		echo
		echo "$MSGS \`misp_json_attribute\` add frames (type $FLOOD_TYPE) + 1 marker per round; $ROUNDS rounds, variants alternated; rate = messages / (last applied − first send), from \`/metrics\` polled every 10 ms."
		echo
		echo "| store | rounds | median msg/s | min–max msg/s | zero loss (adds = store = $((MSGS + 1))) | × Threat Bus (3,950 msg/s) | publisher send rate (median) |"
		echo "|---|---:|---:|---:|---|---:|---:|"
		for st in $STORES; do
			awk -v st="$st" -v n=$((MSGS + 1)) -v tb="$THREATBUS_MSG_S" '
			function med(a, k,   i, j, t) { for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t } return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2 }
			$1 == "zmq" && $3 == st { k++; r[k] = $5; s[k] = $10; if (min == "" || $5 < min) min = $5; if ($5 > max) max = $5; if (!($6 == n && $7 == n && $8 == 1)) loss++ }
			END { if (!k) exit; m = med(r, k); printf "| %s | %d | %.0f | %.0f–%.0f | %s | %.0f× | %.0f |\n", st, k, m, min, max, (loss ? "NO (" loss " rounds)" : "yes"), m / tb, med(s, k) }' "$runs"
		done
		echo
		echo "Threat Bus figure quoted from \`../shared/reference/threatbus.md\` §6 (2020.12.16: 3,946–3,949 msg/s, MISP ZMQ → misp plugin → inmem → zmq-app subscriber, 2-core Debian 12), not re-measured here."
		echo
	fi
	if grep -q '^latency ' "$runs"; then
		echo "## Publish -> matchable latency (target: p99 ≤ 5 ms)"
		echo
		echo "| background msg/s | samples | p50 ms | p90 ms | p99 ms | max ms | timeouts | lookup round trip (resolution) |"
		echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
		while read -r _ load rest; do
			awk -v load="$load" '{for (i = 1; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}}
				END {printf "| %s | %s | %s | %s | %s | %s | %s | %s µs |\n", load, v["samples"], v["p50_ms"], v["p90_ms"], v["p99_ms"], v["max_ms"], v["timeouts"], v["poll_rtt_us"]}' <<<"$rest"
		done < <(grep '^latency ' "$runs")
		echo
		echo "Latency = time of the lookup answer that first matched − time just before the send; the probe ($LAT_PROBE: bench/latency_probe.c or .py) polls one keep-alive connection (the C probe waits $LAT_GAP_US µs between polls so as not to keep the daemon's core busy), so the resolution is one lookup round trip (last column) plus that gap. Samples paced at $LAT_RATE/s."
		echo
	fi
	if grep -q '^rest-daemon ' "$runs"; then
		read -r _ el pages reqs total ok expect preload_s < <(grep '^rest-daemon ' "$runs")
		read -r _ _ cold_s cold_p < <(grep '^rest-curl cold' "$runs")
		read -r _ _ warm_s warm_p < <(grep '^rest-curl warm' "$runs")
		echo "## REST backfill (target: 1 M attributes ≤ 10 s)"
		echo
		echo "| what | seconds | pages | pages/s |"
		echo "|---|---:|---:|---:|"
		awk -v e="$el" -v p="$pages" -v t="$total" -v x="$expect" -v ok="$ok" 'BEGIN {printf "| `iocbus run` start → %d attributes in the store (expected %d, reached: %s) | %.2f | %d | %.1f |\n", t, x, (ok ? "yes" : "NO"), e, p, (e > 0 ? p / e : 0)}'
		awk -v e="$warm_s" -v p="$warm_p" 'BEGIN {printf "| curl alone, same requests, warm server (the server'"'"'s share) | %.2f | %d | %.1f |\n", e, p, p / e}'
		awk -v e="$cold_s" -v p="$cold_p" 'BEGIN {printf "| curl alone, cold server (first pass builds the per-item cache) | %.2f | %d | %.1f |\n", e, p, p / e}'
		echo
		echo "$ATTRS attributes (\`bench/gen_misp.py --seed 1\`), page size $PAGE_SIZE, \`includeContext\` + \`includeEventTags\`, \`order: Attribute.id ASC\`; memory store. misp_server.py preload took $preload_s s (not counted). Requests the daemon made: $reqs."
		echo
	fi
	echo "## Commands"
	echo
	# shellcheck disable=SC2016 # literal backquotes (Markdown code)
	sed 's/^/- `/; s/$/`/' "$out/run-commands.txt"
	echo
	echo "Raw runs: \`$runs\`"
} > "$report"
say ""
cat "$report" >&2
say "wrote $report"
