#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: the Threat Bus compatible bus of `iocbus run` (issue #13
# "Performance"). Not a test: run by hand, figures go to docs/performance.md.
#
#   bench/bench_bus.sh
#
# MISP ZeroMQ in -> store -> bus -> zmq-app subscribers out, end to end. The
# publisher is bench/zmq_flood --type stamp: domain attributes whose value
# t<ns>-<i>.s<seed>.bench.example carries the send time (CLOCK_REALTIME), which
# survives into the STIX pattern (2021+) and the 2020.12 indicator. The
# subscribers are bench/bus_sub (C; a Python client tops out near 300 k
# frames/s): one per generation (stix2/indicator, threatbus/intel), each
# counting ADD/REMOVE frames and measuring publish-to-receive latency.
#
# Parts (PARTS):
#   throughput  MSGS attributes (+1 marker) flat out into a daemon with two
#               subscribers already subscribed. Rate = (MSGS+1) / (last frame
#               received - first frame sent), per subscriber; loss = MSGS+1 -
#               ADD frames received (must be 0). Ratio against Threat Bus
#               2020.12.16 (3,950-7,000/s) and 2022.05.16 (840-1,100/s),
#               quoted from ../shared/reference/threatbus.md §6, not re-measured.
#   latency     LAT_RATE/s for LAT_S seconds, both subscribers; p50/p90/p99/max
#               publish-to-receive (target p99 <= 5 ms at 1,000/s).
#   snapshot    the ATTRS-attribute gen_misp.py restSearch file loaded with
#               `iocbus load --store` (copied per run), `iocbus run` on that
#               store with live updates at SNAP_LIVE_RATE/s and one live
#               subscriber; then a new subscriber per generation asks for a
#               snapshot covering everything (3650 days / 3650*86400 s) and
#               times subscribe -> last snapshot frame (target <= 5 s for 1 M),
#               while live frames keep arriving and their latency is measured
#               at both the live and the snapshotting subscriber.
# Writes bench/out/bus-results.md, raw subscriber lines bench/out/bus-runs.jsonl,
# the exact commands bench/out/bus-commands.txt, latency samples (ms)
# bench/out/bus-latency-*.txt, and the daemon's bus metrics bench/out/bus-metrics-*.txt.
#
# Environment knobs (defaults in brackets):
#   PARTS ["throughput latency snapshot"]
#   MSGS [1000000]          throughput messages (+1 marker)
#   TP_SUBS ["stix2 tb2020"]  throughput subscribers: stix2/indicator, threatbus/intel or both
#   ROUNDS [1]              throughput rounds
#   LAT_RATE [1000], LAT_S [30]          latency part
#   ATTRS [1000000]         snapshot data size (gen_misp.py --seed 1, ATTRS/10 events)
#   SNAP_LIVE_RATE [1000]   live attributes/s during the snapshot part
#   SNAP_SETTLE [5]         seconds without a snapshot frame that end a snapshot
#   SNAP_TIMEOUT [120]      seconds a snapshot may take at most
#   APPLY_TIMEOUT [180]     seconds for a throughput round
#   BUS_OPTS []             extra `bus:` keys, YAML flow style, e.g. "subscriber_queue: 2000000"
#   PIN_DAEMON [], CPU_AUX []   taskset CPU lists for the daemon / for publisher and
#                           subscribers (empty: unpinned; the daemon's bus, intake and
#                           libzmq threads want more than one core)
#   SKIP_BUILD=1            do not (re)build the release preset
#   IOCBUS [build/release/src/cli/iocbus]   the iocbus binary (load and run)
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "$0")/.."

PARTS=${PARTS:-throughput latency snapshot}
MSGS=${MSGS:-1000000}
ROUNDS=${ROUNDS:-1}
LAT_RATE=${LAT_RATE:-1000}
LAT_S=${LAT_S:-30}
ATTRS=${ATTRS:-1000000}
SNAP_LIVE_RATE=${SNAP_LIVE_RATE:-1000}
SNAP_SETTLE=${SNAP_SETTLE:-5}
SNAP_TIMEOUT=${SNAP_TIMEOUT:-120}
APPLY_TIMEOUT=${APPLY_TIMEOUT:-180}
BUS_OPTS=${BUS_OPTS:-}
SKIP_BUILD=${SKIP_BUILD:-0}
TP_SUBS=${TP_SUBS:-stix2 tb2020}
TB2020_LO=3950 TB2020_HI=7000 TB2022_LO=840 TB2022_HI=1100   # threatbus.md §6, quoted

PY=/usr/bin/python3
out=bench/out
bin=${IOCBUS:-build/release/src/cli/iocbus}
flood=build/release/bench/zmq_flood
sub=build/release/bench/bus_sub
PIN=()
AUX=()
[ -n "${PIN_DAEMON:-}" ] && PIN=(taskset -c "$PIN_DAEMON")
[ -n "${CPU_AUX:-}" ] && AUX=(taskset -c "$CPU_AUX")
mkdir -p "$out"

BENCH_NAME=bench_bus
bench_tmpdir iocbus-bench-bus

if [ "$SKIP_BUILD" != 1 ]; then
	say "# building the release preset"
	timeout 1800 cmake --preset release >/dev/null
	timeout 3600 cmake --build --preset release >/dev/null
fi
for f in "$bin" "$flood" "$sub"; do [ -x "$f" ] || die "$f missing (release build)"; done

runs=$out/bus-runs.jsonl
report=$out/bus-results.md
: > "$runs"
: > "$out/bus-commands.txt"
RESULTS=()

# write_config FILE ZPORT HPORT MPORT PPORT SPORT [STORE_LINE]: misp.zmq + bus + http
write_config() {
	{
		echo "misp:"
		echo "  zmq: {host: 127.0.0.1, port: $2, heartbeat_timeout: 0s}"
		[ -n "${7:-}" ] && echo "$7"
		echo "http: {host: 127.0.0.1, port: $3}"
		echo "logging: {level: warn}"
		echo "bus: {host: 127.0.0.1, manage: $4, pub: $5, sub: $6${BUS_OPTS:+, $BUS_OPTS}}"
	} > "$1"
}

# start_daemon CFG LOG HPORT: start `iocbus run`, wait for HTTP; the bus binds before HTTP
# starts, so its iocbus_bus_* metrics are there by then
start_daemon() {
	spawn "$tmp/daemon.pid" "${PIN[@]}" "$bin" run -c "$1" 2> "$2"
	wait_http "$3" 60 || { cat "$2" >&2; die "the daemon's HTTP did not come up"; }
	local m
	m=$(curl -s --max-time 10 "http://127.0.0.1:$3/metrics") || true   # not piped: grep -q would SIGPIPE curl
	grep -q '^iocbus_bus_' <<<"$m" ||
		{ cat "$2" >&2; die "no iocbus_bus_* metrics: this iocbus run does not start the bus"; }
}

# thread_cpu PIDFILE: CPU seconds of each thread (name/tid) of a running process that used any
thread_cpu() {
	local p t
	p=$(cat "$1" 2>/dev/null) || return 0
	for t in /proc/"$p"/task/*; do
		printf '%s/%s %s\n' "$(tr ' ' _ < "$t/comm")" "${t##*/}" "$(cut -d')' -f2 "$t/stat" | awk '{print $12 + $13}')"
	done 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '$2 > 0 {printf "%s=%.2f ", $1, $2 / hz}'
}

# start_sub NAME ARGS...: bus_sub in the background; waits until it has subscribed
start_sub() {
	local name=$1 _
	shift
	spawn "$tmp/sub-$name.pid" "${AUX[@]}" "$sub" --label "$name" "$@" > "$tmp/sub-$name.out" 2> "$tmp/sub-$name.err"
	for _ in $(seq 200); do grep -q subscribed "$tmp/sub-$name.err" 2>/dev/null && return 0; sleep 0.05; done
	cat "$tmp/sub-$name.err" >&2
	die "bus_sub $name did not subscribe"
}

# sub_line NAME SECONDS: wait for bus_sub NAME to stop (0: stop it now), print its JSON line (also to $runs)
sub_line() {
	wait_pidfile "$tmp/sub-$1.pid" "$2" || [ "$2" = 0 ] || say "  bus_sub $1 still running after $2 s: stopping it"
	kill_pidfile "$tmp/sub-$1.pid" INT
	[ -s "$tmp/sub-$1.out" ] || { cat "$tmp/sub-$1.err" >&2; die "bus_sub $1 printed nothing"; }
	cat "$tmp/sub-$1.out" >> "$runs"
	cat "$tmp/sub-$1.out"
}

save_metrics() { # save_metrics HPORT NAME: the daemon's bus/store/source counters
	curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | grep -E '^iocbus_(bus|store_attributes|updates|source_messages)' \
		> "$out/bus-metrics-$2.txt" || true
}

jget() { $PY -c 'import json,sys; d=json.loads(sys.argv[1]); print(d[sys.argv[2]])' "$1" "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", (b > 0 ? a / b : 0)}'; }

# ------------------------------------------------------------ throughput

throughput_round() {
	local r=$1 zport hport mport pport sport cfg fl t_first n line name add rate loss
	zport=$(free_port) hport=$(free_port) mport=$(free_port) pport=$(free_port) sport=$(free_port)
	cfg=$tmp/tp.yaml
	n=$((MSGS + 1))
	write_config "$cfg" "$zport" "$hport" "$mport" "$pport" "$sport" "store: {expected_attributes: $n}"
	start_daemon "$cfg" "$tmp/daemon-tp.log" "$hport"
	for name in $TP_SUBS; do
		local topic=stix2/indicator
		[ "$name" = tb2020 ] && topic=threatbus/intel
		start_sub "$name" --manage "127.0.0.1:$mport" --topic "$topic" --adds "$n" --silence 30 \
			--wait-first "$APPLY_TIMEOUT"
	done
	# subscribers first, publisher last: nothing is published before both listen
	local fargs=(--port "$zport" --count "$MSGS" --type stamp --seed "$r" --wait-timeout 60 --hold-s $((APPLY_TIMEOUT + 60)))
	spawn "$tmp/flood.pid" "${AUX[@]}" "$flood" "${fargs[@]}" > "$tmp/flood.out" 2> "$tmp/flood.err"
	for name in $TP_SUBS; do
		line=$(sub_line "$name" $((APPLY_TIMEOUT + 30)))
		fl=$(cat "$tmp/flood.out")
		[ -n "$fl" ] || { cat "$tmp/flood.err" >&2; die "zmq_flood printed nothing"; }
		t_first=$(kv t_first "$fl")
		add=$(jget "$line" add)
		rate=$(awk -v n="$add" -v a="$t_first" -v b="$(jget "$line" t_last)" 'BEGIN {printf "%.0f", (b > a ? n / (b - a) : 0)}')
		loss=$((n - add))
		say "  round $r $name: $add of $n ADD frames, $rate indicators/s end to end, loss $loss (subscriber: $(jget "$line" recv_rate) frames/s, $(jget "$line" cpu_s) CPU s; stop: $(jget "$line" stop))"
		RESULTS+=("| throughput, $MSGS attributes flat out, round $r, \`$(jget "$line" topic)\` | **$rate indicators/s**, loss $loss, publisher $(kv rate "$fl") msg/s | $(ratio "$rate" $TB2020_HI)–$(ratio "$rate" $TB2020_LO)× TB 2020.12.16, $(ratio "$rate" $TB2022_HI)–$(ratio "$rate" $TB2022_LO)× TB 2022.05.16 |")
	done
	save_metrics "$hport" "throughput-$r"
	say "  CPU seconds: iocbus threads: $(thread_cpu "$tmp/daemon.pid")"
	say "               zmq_flood: $(thread_cpu "$tmp/flood.pid")"
	echo "# CPU seconds per thread: $(thread_cpu "$tmp/daemon.pid")" >> "$out/bus-metrics-throughput-$r.txt"
	kill_pidfile "$tmp/flood.pid"
	kill_pidfile "$tmp/daemon.pid"
	[ "$r" != 1 ] || echo "throughput: ${PIN[*]} $bin run -c CFG (CFG: $(tr '\n' ' ' < "$cfg")); ${AUX[*]} $sub --manage 127.0.0.1:M --topic stix2/indicator|threatbus/intel --adds $n --silence 30; ${AUX[*]} $flood ${fargs[*]}" >> "$out/bus-commands.txt"
}

if has_part throughput; then
	say "# throughput: $MSGS attributes (+1 marker) flat out, one subscriber per generation, $ROUNDS round(s)"
	for r in $(seq "$ROUNDS"); do throughput_round "$r"; done
fi

# ------------------------------------------------------------ latency

if has_part latency; then
	say "# latency: $LAT_RATE attributes/s for $LAT_S s, one subscriber per generation"
	zport=$(free_port) hport=$(free_port) mport=$(free_port) pport=$(free_port) sport=$(free_port)
	cfg=$tmp/lat.yaml
	count=$((LAT_RATE * LAT_S))
	write_config "$cfg" "$zport" "$hport" "$mport" "$pport" "$sport"
	start_daemon "$cfg" "$tmp/daemon-lat.log" "$hport"
	for name in stix2 tb2020; do
		topic=stix2/indicator
		[ "$name" = tb2020 ] && topic=threatbus/intel
		start_sub "$name" --manage "127.0.0.1:$mport" --topic "$topic" --adds $((count + 1)) --silence 10 \
			--samples-out "$out/bus-latency-$name.txt"
	done
	fargs=(--port "$zport" --count "$count" --rate "$LAT_RATE" --type stamp --seed 2 --wait-timeout 60 --hold-s $((LAT_S + 60)))
	spawn "$tmp/flood.pid" "${AUX[@]}" "$flood" "${fargs[@]}" > "$tmp/flood.out" 2> "$tmp/flood.err"
	for name in stix2 tb2020; do
		line=$(sub_line "$name" $((LAT_S + 60)))
		say "  $name: $(jget "$line" lat_n) samples, p50 $(jget "$line" lat_p50_ms) ms, p90 $(jget "$line" lat_p90_ms) ms, p99 $(jget "$line" lat_p99_ms) ms, max $(jget "$line" lat_max_ms) ms; ADD frames $(jget "$line" add) of $((count + 1))"
		RESULTS+=("| publish → subscriber at $LAT_RATE/s for $LAT_S s, \`$(jget "$line" topic)\` | p50 $(jget "$line" lat_p50_ms) ms, p90 $(jget "$line" lat_p90_ms) ms, **p99 $(jget "$line" lat_p99_ms) ms**, max $(jget "$line" lat_max_ms) ms ($(jget "$line" lat_n) samples, loss $((count + 1 - $(jget "$line" add)))) | p99 ≤ 5 ms |")
	done
	save_metrics "$hport" latency
	kill_pidfile "$tmp/flood.pid"
	kill_pidfile "$tmp/daemon.pid"
	echo "latency: ${PIN[*]} $bin run -c CFG (CFG: $(tr '\n' ' ' < "$cfg")); ${AUX[*]} $sub --manage 127.0.0.1:M --topic T --adds $((count + 1)) --silence 10; ${AUX[*]} $flood ${fargs[*]}" >> "$out/bus-commands.txt"
fi

# ------------------------------------------------------------ snapshot

if has_part snapshot; then
	intel=$out/rest-$ATTRS.json           # the file bench_load.sh / bench_run.sh make
	if [ ! -s "$intel" ] || [ bench/gen_misp.py -nt "$intel" ]; then
		say "# generating $intel ($ATTRS attributes)"
		timeout 900 $PY bench/gen_misp.py --format restsearch -o "$intel" --attributes "$ATTRS" \
			--events $((ATTRS / 10)) --seed 1 --quiet
	fi
	store=$out/bus-store-$ATTRS
	if [ ! -s "$store/.loaded" ] || [ "$intel" -nt "$store/.loaded" ] || [ "$bin" -nt "$store/.loaded" ]; then
		say "# iocbus load --store $store --intel $intel"
		rm -rf "$store"
		mkdir -p "$store"
		timeout 900 "$bin" load --store "$store" --intel "$intel" > "$store/.loaded"
	fi
	say "# snapshot: $(grep -E '^loaded' "$store/.loaded" | head -n 1) ; live updates at $SNAP_LIVE_RATE/s"
	rm -rf "$tmp/store"
	cp -a "$store" "$tmp/store"
	zport=$(free_port) hport=$(free_port) mport=$(free_port) pport=$(free_port) sport=$(free_port)
	cfg=$tmp/snap.yaml
	live_s=$((SNAP_TIMEOUT * 2 + 30))
	write_config "$cfg" "$zport" "$hport" "$mport" "$pport" "$sport" "store: {path: $tmp/store, durable: false}"
	start_daemon "$cfg" "$tmp/daemon-snap.log" "$hport"
	stored=$(curl -s "http://127.0.0.1:$hport/metrics" | sed -n 's/^iocbus_store_attributes_total\({[^}]*}\)\? \([0-9.e+]*\)$/\2/p' | head -n 1)
	fargs=(--port "$zport" --count $((SNAP_LIVE_RATE * live_s)) --rate "$SNAP_LIVE_RATE" --type stamp --seed 3 --wait-timeout 60 --hold-s 30)
	spawn "$tmp/flood.pid" "${AUX[@]}" "$flood" "${fargs[@]}" > "$tmp/flood.out" 2> "$tmp/flood.err"
	# the live subscriber joins once live traffic flows (the first writes into a freshly opened
	# 1 M store are slow once; that is not the bus), and the snapshots start 2 s after it
	sleep 3
	start_sub live --manage "127.0.0.1:$mport" --topic stix2/indicator --duration "$live_s" \
		--samples-out "$out/bus-latency-snap-live.txt"
	sleep 2
	for name in snap-stix2 snap-tb2020; do
		if [ "$name" = snap-stix2 ]; then
			sargs=(--topic stix2/indicator --snapshot 3650)
		else
			sargs=(--topic threatbus/intel --snapshot $((3650 * 86400)))
		fi
		start_sub "$name" --manage "127.0.0.1:$mport" "${sargs[@]}" --snapshot-silence "$SNAP_SETTLE" \
			--duration "$SNAP_TIMEOUT" --samples-out "$out/bus-latency-$name.txt"
		line=$(sub_line "$name" $((SNAP_TIMEOUT + 10)))
		say "  $name: $(jget "$line" snapshot_rows) snapshot frames (store: ${stored:-?} attributes) in $(jget "$line" snapshot_s) s (subscribe -> last snapshot frame; stop: $(jget "$line" stop)); live frames meanwhile: $(jget "$line" lat_n), p99 $(jget "$line" lat_p99_ms) ms, max $(jget "$line" lat_max_ms) ms"
		RESULTS+=("| snapshot of the $ATTRS-attribute store (${stored:-?} stored) to a new \`$(jget "$line" topic)\` subscriber, live $SNAP_LIVE_RATE/s meanwhile | **$(jget "$line" snapshot_s) s** for $(jget "$line" snapshot_rows) indicators; live frames to it meanwhile p99 $(jget "$line" lat_p99_ms) ms, max $(jget "$line" lat_max_ms) ms | ≤ 5 s for 1 M |")
	done
	line=$(sub_line live 0)
	say "  live subscriber through both snapshots: $(jget "$line" lat_n) samples, p50 $(jget "$line" lat_p50_ms) ms, p99 $(jget "$line" lat_p99_ms) ms, max $(jget "$line" lat_max_ms) ms"
	RESULTS+=("| live subscriber during the snapshots, $SNAP_LIVE_RATE/s | p50 $(jget "$line" lat_p50_ms) ms, **p99 $(jget "$line" lat_p99_ms) ms**, max $(jget "$line" lat_max_ms) ms ($(jget "$line" lat_n) samples) | no stall |")
	save_metrics "$hport" snapshot
	kill_pidfile "$tmp/flood.pid"
	kill_pidfile "$tmp/daemon.pid"
	echo "snapshot: $bin load --store STORE --intel $intel; ${PIN[*]} $bin run -c CFG (CFG: $(tr '\n' ' ' < "$cfg")); ${AUX[*]} $flood ${fargs[*]}; ${AUX[*]} $sub --manage 127.0.0.1:M --topic stix2/indicator --snapshot 3650 --snapshot-silence $SNAP_SETTLE (and threatbus/intel --snapshot $((3650 * 86400)))" >> "$out/bus-commands.txt"
fi

# ------------------------------------------------------------ report

{
	echo "# bench_bus.sh results ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load before: $(cut -d' ' -f1-3 /proc/loadavg))"
	echo
	echo "| measure | result | target / ratio |"
	echo "|---|---|---|"
	printf '%s\n' "${RESULTS[@]+"${RESULTS[@]}"}"
	echo
	echo "Threat Bus figures quoted from threatbus.md §6: 2020.12.16 $TB2020_LO–$TB2020_HI/s, 2022.05.16 $TB2022_LO–$TB2022_HI/s."
	echo "Commands: bench/out/bus-commands.txt; subscriber lines: bench/out/bus-runs.jsonl."
} > "$report"
cat "$report"
