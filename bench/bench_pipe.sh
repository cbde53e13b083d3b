#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: the log pipeline of `iocbus run` (issue #5 item 6). Not a test:
# run by hand, figures go to docs/performance.md.
#
#   bench/bench_pipe.sh
#   PARTS=throughput ROUNDS=3 bench/bench_pipe.sh
#   PARTS=outage OUTAGE_S=60 OUTAGE_RATES="20000 100000" bench/bench_pipe.sh
#
# Two parts, against the release build's `iocbus` and bench/es_sink (a C
# Elasticsearch `_bulk` sink: framing, gzip, items[], filter_path, keep-alive;
# it stores nothing, see the top of bench/es_sink.c):
#   throughput  file -> enrich -> Elasticsearch: `iocbus run` with one file
#               input (start_at: beginning) on a pre-written ECS file of N
#               events (bench/out/pipe-ecs-seq-N.json: bench/out/ecs-1000000.json,
#               cycled for N > 1 M, with a unique event.sequence put in each
#               line), the intel store of 1 M MISP attributes persisted once
#               (bench/out/store-1000000, as bench_enrich.sh makes it), enrich
#               preset ecs, and one elasticsearch output to es_sink pinned to
#               CPU_SINK; iocbus itself unpinned (both cores). The clock runs
#               from the first event read (iocbus_input_events_total > 0,
#               /metrics polled every 10 ms; the store's opening is not timed)
#               to the moment the sink holds all N distinct sequences.
#               Variants, alternated within each round:
#                 es-gzip   output compression_level 1 (Logstash's default)
#                 es-plain  compression_level 0
#                 file      a file output to /dev/null instead (the pipeline
#                           without Elasticsearch)
#                 enrich-1t / enrich-2t  `iocbus enrich --threads 1|2 -o /dev/null`
#                           on the same file: the enrichment ceiling
#               Reported: events/s, MB/s (input bytes), CPU seconds of iocbus
#               (user/sys, per thread) and of the sink over the timed span,
#               iocbus peak RSS (VmHWM), and the zero-loss check (sink:
#               distinct == N, duplicates, missing, enriched documents).
#   outage      input flowing during an Elasticsearch outage: a writer
#               (CPU_SINK) appends ECS lines with unique sequences to the tailed
#               file at RATE events/s; after WARM_S the sink goes down
#               (SIGUSR1: listening socket and connections closed, so
#               connections are refused) for OUTAGE_S seconds, then comes back.
#               Every SAMPLE_S: iocbus VmRSS, queue and spool bytes (metrics),
#               state_dir size on disk, file backlog. After recovery: seconds
#               until everything written before it was delivered, then TAIL_S
#               more seconds of flow, the writer stops, and every event written
#               must reach the sink (distinct == written).
# Writes bench/out/pipe-results.md, raw rows bench/out/pipe-runs.txt,
# samples bench/out/pipe-outage-RATE.tsv, commands bench/out/pipe-commands.txt.
#
# Environment knobs (defaults in brackets):
#   PARTS ["throughput outage"]
#   ROUNDS [3]                rounds of the throughput part (medians)
#   SIZES ["1000000 3000000"] events per throughput run
#   VARIANTS ["es-gzip es-plain file enrich-1t enrich-2t"]; a variant name
#                             ending in +mmap runs iocbus with
#                             GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432
#                             (A/B of glibc's mmap threshold, see the report)
#   ES_OPTS [""]              extra keys for the elasticsearch output, YAML flow
#                             syntax without braces ("flush_events: 20000, max_in_flight: 2")
#   PIPE_OPTS [""]            extra keys for `pipeline:` ("queue_bytes: 32MiB")
#   DONE_TIMEOUT [300]        seconds a throughput run may take
#   OUTAGE_RATES ["20000 100000"]  writer events/s, one outage run each
#   OUTAGE_S [600]            outage length (60 for a quick look)
#   OUTAGE_MAX_EVENTS [12000000]  an OUTAGE_RATES run lasts at most this many events
#                             (the tailed file grows ~530 B an event: 100 k/s gets 120 s)
#   OUTAGE_RUNS [""]          "RATE:SECONDS ..." instead of OUTAGE_RATES x OUTAGE_S
#                             (each run first checks the free space of /tmp)
#   WARM_S [20], TAIL_S [10], SAMPLE_S [5]
#   DRAIN_TIMEOUT [1200]      seconds allowed for the drain after recovery
#   CPU_SINK [0]              CPU of es_sink and the writer (taskset)
#   PIN_DAEMON [""]           CPU list for iocbus (empty: unpinned)
#   BUILD_DIR [build/release] release build to use; SKIP_BUILD=1: do not build
#                             (default: `cmake --preset release`; another
#                             BUILD_DIR is configured Release, tests off)
#   PERF=1                    also `perf record -g` iocbus in the first run of each
#                             es-gzip variant (bench/out/pipe-perf-VARIANT-N.data; the
#                             profile includes the store's opening, on the main thread)
#   NICE [0]                  nice level of iocbus, es_sink and the poller (e.g. -10 on a
#                             shared machine; needs root)
#   DAEMON_ENV [""]           environment for iocbus (`run` and `enrich`), e.g.
#                             "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432"
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "$0")/.."

PARTS=${PARTS:-throughput outage}
ROUNDS=${ROUNDS:-3}
SIZES=${SIZES:-1000000 3000000}
VARIANTS=${VARIANTS:-es-gzip es-plain file enrich-1t enrich-2t}
ES_OPTS=${ES_OPTS:-}
PIPE_OPTS=${PIPE_OPTS:-}
DONE_TIMEOUT=${DONE_TIMEOUT:-300}
OUTAGE_RATES=${OUTAGE_RATES:-20000 100000}
OUTAGE_S=${OUTAGE_S:-600}
OUTAGE_RUNS=${OUTAGE_RUNS:-}
OUTAGE_MAX_EVENTS=${OUTAGE_MAX_EVENTS:-12000000}
WARM_S=${WARM_S:-20}
TAIL_S=${TAIL_S:-10}
SAMPLE_S=${SAMPLE_S:-5}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-1200}
CPU_SINK=${CPU_SINK:-0}
PIN_DAEMON=${PIN_DAEMON:-}
BUILD_DIR=${BUILD_DIR:-build/release}
SKIP_BUILD=${SKIP_BUILD:-0}
PERF=${PERF:-0}
DAEMON_ENV=${DAEMON_ENV:-}
NICE=${NICE:-0}
ATTRS=1000000

PY=/usr/bin/python3
out=bench/out
bin=$BUILD_DIR/src/cli/iocbus
sink=$BUILD_DIR/bench/es_sink
ecs=$out/ecs-$ATTRS.json
store=$out/store-$ATTRS
intel=$out/rest-$ATTRS.json
SEQ_KEY='"sequence":'
mkdir -p "$out"
SINKPIN=(nice -n "$NICE" taskset -c "$CPU_SINK")
DPIN=(nice -n "$NICE")
[ -n "$PIN_DAEMON" ] && DPIN=(nice -n "$NICE" taskset -c "$PIN_DAEMON")
DENV=(env)
# shellcheck disable=SC2206 # split on purpose: VAR=value words
[ -n "$DAEMON_ENV" ] && DENV=(env $DAEMON_ENV)


# ------------------------------------------------------------ cleanup

BENCH_NAME=bench_pipe
bench_tmpdir iocbus-bench-pipe

# Run "$@" in the background with its own pid in file $1 (exec keeps the pid).

# ------------------------------------------------------------ build and data

if [ "$SKIP_BUILD" != 1 ]; then
	say "# building $BUILD_DIR"
	if [ "$BUILD_DIR" = build/release ]; then
		timeout 1800 cmake --preset release >/dev/null
		timeout 3600 cmake --build --preset release >/dev/null
	else
		timeout 1800 cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIOCB_TESTS=OFF >/dev/null
		timeout 3600 cmake --build "$BUILD_DIR" >/dev/null
	fi
fi
[ -x "$bin" ] || die "$bin missing"
[ -x "$sink" ] || die "$sink missing (bench/CMakeLists.txt target es_sink)"
command -v taskset >/dev/null || die "taskset (util-linux) is required"
command -v curl >/dev/null || die "curl is required"
[ -s "$ecs" ] || die "$ecs missing: run bench/bench_enrich.sh once (it generates the ECS events and the intel)"
if [ ! -e "$store/.bench-ok" ] || [ "$intel" -nt "$store/.bench-ok" ]; then
	[ -s "$intel" ] || die "$intel missing: run bench/bench_enrich.sh once"
	say "# persisting the intel into $store (once)"
	rm -rf "$store"
	mkdir -p "$store"
	timeout 900 "$bin" load --store "$store" --intel "$intel" > "$out/enrich-load.txt"
	touch "$store/.bench-ok"
fi

# seq_file N: bench/out/pipe-ecs-seq-N.json, the ECS lines cycled to N with
# "event":{"sequence":I, (I = 0..N-1) so the sink can count distinct events
seq_file() {
	local n=$1 f=$out/pipe-ecs-seq-$1.json
	if [ ! -s "$f" ] || [ "$ecs" -nt "$f" ]; then
		say "# writing $f"
		"$PY" - "$ecs" "$f" "$n" <<'EOF'
import sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, "rb") as f:
    lines = f.read().split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
key = b'"event":{'
with open(dst + ".tmp", "wb") as o:
    out = []
    for i in range(n):
        pre, sep, post = lines[i % len(lines)].partition(key)
        if not sep:
            sys.exit("line %d has no %s" % (i % len(lines) + 1, key.decode()))
        out.append(b"%s%s\"sequence\":%d,%s\n" % (pre, key, i, post))
        if len(out) == 100000:
            o.write(b"".join(out))
            out = []
    o.write(b"".join(out))
import os
os.rename(dst + ".tmp", dst)
EOF
	fi
	echo "$f"
}

# ------------------------------------------------------------ config

# make_cfg FILE VARIANT INPUT SINK_PORT HTTP_PORT STATE_DIR
make_cfg() {
	local f=$1 v=$2 in=$3 sport=$4 hport=$5 state=$6 comp=1
	[ "$v" = es-plain ] && comp=0
	{
		echo "store: {path: $store, durable: false}"
		echo "enrich: {preset: ecs}"
		echo "inputs:"
		echo "  - {name: logs, type: file, path: $in, start_at: beginning}"
		echo "outputs:"
		if [ "$v" = file ]; then
			echo "  - {name: out, type: file, path: /dev/null}"
		else
			echo "  - {name: out, type: elasticsearch, hosts: [\"http://127.0.0.1:$sport\"], index: logs-bench, compression_level: $comp${ES_OPTS:+, $ES_OPTS}}"
		fi
		echo "pipeline: {state_dir: $state${PIPE_OPTS:+, $PIPE_OPTS}}"
		echo "http: {host: 127.0.0.1, port: $hport}"
		echo "logging: {level: warn}"
	} > "$f"
}

# ------------------------------------------------------------ throughput poller
# watch_run PORT WANT TIMEOUT IOCBUS_PID SINK_PID SINK_STATS: polls /metrics
# every 10 ms on one keep-alive connection. Start = first poll that sees
# iocbus_input_events_total > 0 (CPU times of iocbus and the sink read from
# /proc there). Done = the sink's stats file has t_expect (its clock), or,
# without a sink, iocbus_output_events_total{output="out"} >= WANT. Prints one
# key=value line.
watch_run() {
	"${SINKPIN[@]}" $PY - "$@" <<'EOF'
import http.client, os, re, sys, time
port, want, timeout, pid, spid, sstats = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
HZ = os.sysconf("SC_CLK_TCK")
def cpu(p):
    try:
        with open("/proc/%d/stat" % p) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return int(v[11]) / HZ, int(v[12]) / HZ
    except OSError:
        return 0.0, 0.0
def tasks(p):
    r = {}
    try:
        for t in os.listdir("/proc/%d/task" % p):
            try:
                with open("/proc/%d/task/%s/stat" % (p, t)) as f:
                    s = f.read()
                comm = s[s.index("(") + 1:s.rindex(")")]
                v = s.rsplit(")", 1)[1].split()
                r[t] = (comm, (int(v[11]) + int(v[12])) / HZ)
            except OSError:
                pass
    except OSError:
        pass
    return r
def status(p, key):
    try:
        with open("/proc/%d/status" % p) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
def sink_stats():
    try:
        with open(sstats) as f:
            return dict(kv.split("=", 1) for kv in f.read().split()[1:])
    except (OSError, ValueError):
        return {}
def val(body, name, label=None):
    tot = 0.0
    for m in re.finditer(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), body, re.M):
        if label is None or (m.group(1) and label in m.group(1)):
            tot += float(m.group(2))
    return tot
deadline = time.monotonic() + timeout
conn = None
t_in0 = None
c0 = s0 = t0 = None
ok = 0
t_done = 0.0
body = ""
polls = 0
while time.monotonic() < deadline:
    if t_in0 is not None and spid:
        st = sink_stats()      # cheap: no HTTP while the sink is the judge
        if float(st.get("t_expect", "0")) > 0:
            t_done, ok = float(st["t_expect"]), 1
            break
        time.sleep(0.01)
        continue
    try:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/metrics")
        body = conn.getresponse().read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        conn = None
        time.sleep(0.02)
        continue
    polls += 1
    now = time.time()
    if t_in0 is None and val(body, "iocbus_input_events_total") > 0:
        t_in0, c0, s0, t0 = now, cpu(pid), cpu(spid) if spid else (0, 0), tasks(pid)
    if t_in0 is not None and not spid:
        if val(body, "iocbus_output_events_total", 'output="out"') >= want:
            t_done, ok = now, 1
            break
    time.sleep(0.01)
c1, s1, t1 = cpu(pid), cpu(spid) if spid else (0, 0), tasks(pid)
hwm = status(pid, "VmHWM")
for _ in range(2):    # final counters (the keep-alive connection may have timed out meanwhile)
    try:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/metrics")
        body = conn.getresponse().read().decode("utf-8", "replace")
        break
    except Exception:
        conn = None
if t_in0 is None:
    t_in0, c0, s0, t0 = time.time(), c1, s1, t1
th = sorted(((t1[k][1] - t0.get(k, ("", 0))[1], t1[k][0], k) for k in t1), reverse=True)
thr = ",".join("%s/%s:%.2f" % (tid, comm.replace(" ", "_"), d) for d, comm, tid in th if d >= 0.01)
print("t_in0=%.6f t_done=%.6f ok=%d polls=%d iocbus_user=%.2f iocbus_sys=%.2f sink_user=%.2f sink_sys=%.2f "
      "hwm_kb=%d in_events=%d matched=%d out_events=%d requests=%d sent_bytes=%d out_bytes=%d retries=%d blocked_s=%.2f threads=%s"
      % (t_in0, t_done, ok, polls, c1[0] - c0[0], c1[1] - c0[1], s1[0] - s0[0], s1[1] - s0[1], hwm,
         val(body, "iocbus_input_events_total"), val(body, "iocbus_input_matched_total"),
         val(body, "iocbus_output_events_total", 'output="out"'),
         val(body, "iocbus_output_requests_total", 'output="out"'),
         val(body, "iocbus_output_sent_bytes_total", 'output="out"'),
         val(body, "iocbus_output_bytes_total", 'output="out"'),
         val(body, "iocbus_output_retries_total", 'output="out"'), val(body, "iocbus_input_blocked_seconds_total"), thr or "-"))
EOF
}

runs=$out/pipe-runs.txt
touch "$out/pipe-commands.txt"
# drop_commands REGEX: drop a part's old lines from pipe-commands.txt before it
# runs again (each part rewrites its own lines; the report lists both)
drop_commands() {
	grep -v -E "$1" "$out/pipe-commands.txt" > "$tmp/cmds" || true
	cat "$tmp/cmds" > "$out/pipe-commands.txt"
}

# pipe_round ROUND VARIANT N: one timed run; appends a line to $runs
pipe_round() {
	local r=$1 v=$2 n=$3 denv=("${DENV[@]}") input sport=0 hport cfg state line sline ipid spid=0 t_start rc bytes perf_pid="" matched
	input=$(seq_file "$n")
	if [ "${v%+mmap}" != "$v" ]; then
		denv+=(GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432)
	fi
	bytes=$(stat -c %s "$input")
	cat "$input" > /dev/null        # page cache, as for every variant
	case ${v%+mmap} in
	enrich-1t|enrich-2t)
		local th=${v#enrich-}; th=${th%%t*} pin=()
		pin=(nice -n "$NICE")
		[ "$th" = 1 ] && pin=(nice -n "$NICE" taskset -c "${PIN_DAEMON:-1}")
		local cmd=("${denv[@]}" "${pin[@]}" "$bin" enrich --store "$store" --preset ecs --threads "$th" --stats -o /dev/null "$input")
		t_start=$(now)
		rc=0
		timeout "$DONE_TIMEOUT" "${cmd[@]}" 2> "$tmp/enrich.txt" || rc=$?
		local t_end
		t_end=$(now)
		[ "$rc" = 0 ] || { cat "$tmp/enrich.txt" >&2; die "$v: exit status $rc"; }
		local phase
		phase=$(sed -n 's/^time: \([0-9.]*\) s.*/\1/p' "$tmp/enrich.txt")
		matched=$(sed -n 's/.* events, \([0-9]*\) matched.*/\1/p' "$tmp/enrich.txt")
		line="variant=$v round=$r n=$n bytes=$bytes wall=$(awk -v a="$t_start" -v b="$t_end" 'BEGIN {printf "%.4f", b - a}') span=${phase:-0} ok=1 matched=${matched:-0}"
		echo "$line" >> "$runs"
		say "  $v n=$n: span ${phase:-?} s (enrichment phase), wall $(kv wall "$line") s"
		[ "$r" = 1 ] && echo "$v (n=$n): ${cmd[*]}" >> "$out/pipe-commands.txt"
		return 0
		;;
	esac
	hport=$(free_port)
	state=$tmp/state-$v-$r
	rm -rf "$state"
	mkdir -p "$state"
	if [ "${v%+mmap}" != file ]; then
		spawn "$tmp/sink.pid" "${SINKPIN[@]}" "$sink" --port 0 --stats "$tmp/sink.stats" --stats-interval 0.2 \
			--seq-key "$SEQ_KEY" --expect "$n" > "$tmp/sink.out" 2> "$tmp/sink.err"
		for _ in $(seq 100); do grep -q '^READY' "$tmp/sink.out" 2>/dev/null && break; sleep 0.05; done
		sport=$(sed -n 's/^READY port=//p' "$tmp/sink.out")
		[ -n "$sport" ] || { cat "$tmp/sink.err" >&2; die "es_sink did not start"; }
		spid=$(pid_of "$tmp/sink.pid")
	fi
	cfg=$tmp/pipe-$v.yaml
	make_cfg "$cfg" "${v%+mmap}" "$input" "$sport" "$hport" "$state"
	t_start=$(now)
	spawn "$tmp/daemon.pid" "${denv[@]}" "${DPIN[@]}" "$bin" run -c "$cfg" 2> "$tmp/daemon.log"
	ipid=$(pid_of "$tmp/daemon.pid")
	if [ "$PERF" = 1 ] && [ "${v%+mmap}" = es-gzip ] && [ ! -e "$tmp/perf-done-$v" ]; then
		touch "$tmp/perf-done-$v"
		perf record -g -F 499 -o "$out/pipe-perf-$v-$n.data" -p "$ipid" > /dev/null 2>&1 &
		perf_pid=$!
	fi
	wait_http "$hport" 60 || { cat "$tmp/daemon.log" >&2; die "$v: iocbus HTTP did not come up"; }
	line=$(watch_run "$hport" "$n" "$DONE_TIMEOUT" "$ipid" "$spid" "$tmp/sink.stats")
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid" 2>/dev/null || true
		wait "$perf_pid" 2>/dev/null || true
	fi
	kill_pidfile "$tmp/daemon.pid"
	sline=-
	if [ "${v%+mmap}" != file ]; then
		kill_pidfile "$tmp/sink.pid"
		sline=$(tail -n 1 "$tmp/sink.out")
	fi
	local el
	el=$(awk -v a="$(kv t_in0 "$line")" -v b="$(kv t_done "$line")" 'BEGIN {printf "%.4f", b - a}')
	echo "variant=$v round=$r n=$n bytes=$bytes t_start=$t_start span=$el $line sink: $sline" >> "$runs"
	say "  $v n=$n: $el s = $(awk -v n="$n" -v e="$el" 'BEGIN {printf "%.0f", (e > 0 ? n / e : 0)}') events/s; ok=$(kv ok "$line") hwm=$(kv hwm_kb "$line") kB; sink distinct=$(kv distinct "$sline") dups=$(kv dups "$sline") matched=$(kv matched "$line")"
	grep -v '^$' "$tmp/daemon.log" | tail -n 3 >&2 || true
	[ "$r" = 1 ] && echo "$v (n=$n): ${denv[*]} ${DPIN[*]} $bin run -c CFG   (CFG: $(tr '\n' ' ' < "$cfg")); ${SINKPIN[*]} $sink --seq-key '$SEQ_KEY' --expect $n" >> "$out/pipe-commands.txt"
	rm -rf "$state"
	return 0
}

busy_before=$(cpu_busy)
[ "$busy_before" -gt 10 ] && { say "bench_pipe: warning: $busy_before % of the CPUs busy before the benchmark:"; ps -eo pcpu,pid,comm --sort=-pcpu | head -n 4 >&2; }

if has_part throughput; then
	: > "$runs"
	drop_commands '^(es-|file|enrich-)'
	read -r -a vs <<<"$VARIANTS"
	nv=${#vs[@]}
	for n in $SIZES; do seq_file "$n" > /dev/null; done
	for r in $(seq "$ROUNDS"); do
		for n in $SIZES; do
			for k in $(seq 0 $((nv - 1))); do
				v=${vs[$(((k + r - 1) % nv))]}
				say "# round $r/$ROUNDS: $v, $n events"
				pipe_round "$r" "$v" "$n"
			done
		done
	done
fi

# ------------------------------------------------------------ outage

# writer RATE FILE STATUS: appends cycled ECS lines with sequences 0.. at RATE/s
writer_py='
import os, signal, sys, time
rate, path, src, status = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
key = b"\"event\":{"
lines = []
with open(src, "rb") as f:
    for i, line in enumerate(f):
        if i == 200000:
            break
        pre, _, post = line.partition(key)
        lines.append((pre + key + b"\"sequence\":", b"," + post))
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
seq = 0
t0 = time.monotonic()
next_st = 0.0
cap = max(1, rate // 20)
def put_status(final=False):
    with open(status + ".tmp", "w") as f:
        f.write("written=%d t=%.6f rate=%.0f final=%d\n" % (seq, time.time(), seq / max(1e-9, time.monotonic() - t0), final))
    os.rename(status + ".tmp", status)
L = len(lines)
while not stop:
    due = int((time.monotonic() - t0) * rate)
    n = min(due - seq, cap)
    if n > 0:
        buf = b"".join(b"%s%d%s" % (lines[(seq + i) % L][0], seq + i, lines[(seq + i) % L][1]) for i in range(n))
        mv = memoryview(buf)
        while mv:
            w = os.write(fd, mv)
            mv = mv[w:]
        seq += n
    now = time.monotonic()
    if now >= next_st:
        put_status()
        next_st = now + 0.2
    if due - seq <= 0:
        time.sleep(0.005)
put_status(True)
'

metric() { # metric BODY NAME [LABEL]: sum of the samples
	awk -v n="$2" -v l="${3:-}" '
		{ split($1, a, "{"); if (a[1] != n) next; if (l != "" && index($1, l) == 0) next; s += $2 }
		END { printf "%.0f", s }' <<<"$1"
}
proc_kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\).*/\1/p" "/proc/$1/status" 2>/dev/null || echo 0; }
sink_v() { [ -s "$tmp/osink.stats" ] && kv "$1" "$(cat "$tmp/osink.stats")" || echo 0; }
writer_v() { [ -s "$tmp/writer.st" ] && kv "$1" "$(cat "$tmp/writer.st")" || echo 0; }

# outage_run RATE SECONDS
outage_run() {
	local rate=$1 secs=$2 hport sport cfg state in ipid spid samples t0 phase t_down t_up t_next
	local w_up=0 d_up=0 t_first_after=0 t_drained=0 t_tail=0 body rss need free
	samples=$out/pipe-outage-$rate.tsv
	# the tailed file holds every event (~560 B with the sequence) until the
	# run ends: warm-up, outage, a drain about as long, the tail
	need=$((rate * (WARM_S + 2 * secs + TAIL_S + 60) * 560))
	free=$(($(df -Pk "$tmp" | awk 'NR == 2 {print $4}') * 1024))
	[ "$need" -lt $((free * 8 / 10)) ] ||
		die "outage $rate/s for $secs s needs about $((need >> 30)) GiB in $tmp, $((free >> 30)) GiB free"
	hport=$(free_port)
	state=$tmp/ostate
	in=$tmp/outage-in.json
	rm -rf "$state" "$in" "$tmp/osink.stats" "$tmp/writer.st"
	mkdir -p "$state"
	: > "$in"
	spawn "$tmp/osink.pid" "${SINKPIN[@]}" "$sink" --port 0 --stats "$tmp/osink.stats" --stats-interval 0.2 \
		--seq-key "$SEQ_KEY" > "$tmp/osink.out" 2> "$tmp/osink.err"
	for _ in $(seq 100); do grep -q '^READY' "$tmp/osink.out" 2>/dev/null && break; sleep 0.05; done
	sport=$(sed -n 's/^READY port=//p' "$tmp/osink.out")
	[ -n "$sport" ] || die "es_sink did not start"
	spid=$(pid_of "$tmp/osink.pid")
	cfg=$tmp/outage.yaml
	make_cfg "$cfg" es-gzip "$in" "$sport" "$hport" "$state"
	spawn "$tmp/odaemon.pid" "${DENV[@]}" "${DPIN[@]}" "$bin" run -c "$cfg" 2> "$tmp/odaemon.log"
	ipid=$(pid_of "$tmp/odaemon.pid")
	wait_http "$hport" 60 || { cat "$tmp/odaemon.log" >&2; die "outage: iocbus HTTP did not come up"; }
	echo "outage (rate $rate, $secs s): ${DAEMON_ENV:+$DAEMON_ENV }${DPIN[*]} $bin run -c CFG   (CFG: $(tr '\n' ' ' < "$cfg")); writer at $rate/s on CPU $CPU_SINK; sink down by SIGUSR1" >> "$out/pipe-commands.txt"
	spawn "$tmp/writer.pid" "${SINKPIN[@]}" "$PY" -c "$writer_py" "$rate" "$in" "$ecs" "$tmp/writer.st"
	printf 't_s\tphase\twritten\tin_events\tout_events\tsink_distinct\trss_kb\thwm_kb\tqueue_bytes\tspool_bytes\tstate_dir_bytes\tfile_backlog_bytes\tblocked_s\tin_batches\tacked_batches\tposition\n' > "$samples"
	t0=$(now)
	phase=warm
	t_down=$(awk -v a="$t0" -v w="$WARM_S" 'BEGIN {printf "%.6f", a + w}')
	t_up=$(awk -v a="$t_down" -v w="$secs" 'BEGIN {printf "%.6f", a + w}')
	t_next=$t0
	say "# outage at $rate events/s: warm $WARM_S s, down $secs s, then drain"
	while :; do
		local tn
		tn=$(now)
		if [ "$phase" = warm ] && awk -v a="$tn" -v b="$t_down" 'BEGIN {exit !(a >= b)}'; then
			kill -USR1 "$spid"
			phase=down
			say "  sink down at +$(awk -v a="$t0" -v b="$tn" 'BEGIN {printf "%.0f", b - a}') s"
		elif [ "$phase" = down ] && awk -v a="$tn" -v b="$t_up" 'BEGIN {exit !(a >= b)}'; then
			kill -USR1 "$spid"
			sleep 0.3
			w_up=$(writer_v written)
			d_up=$(sink_v distinct)
			t_up=$tn
			phase=drain
			say "  sink up at +$(awk -v a="$t0" -v b="$tn" 'BEGIN {printf "%.0f", b - a}') s: written $w_up, delivered $d_up"
		elif [ "$phase" = drain ]; then
			if [ "$t_first_after" = 0 ] && [ "$(sink_v distinct)" -gt "$d_up" ]; then t_first_after=$tn; fi
			if [ "$(sink_v distinct)" -ge "$w_up" ]; then
				t_drained=$tn
				t_tail=$tn
				phase="tail"
				say "  drained: everything written before recovery delivered $(awk -v a="$t_up" -v b="$tn" 'BEGIN {printf "%.1f", b - a}') s after it"
			elif awk -v a="$tn" -v b="$t_up" -v m="$DRAIN_TIMEOUT" 'BEGIN {exit !(a - b >= m)}'; then
				say "  drain timed out after $DRAIN_TIMEOUT s"
				t_tail=$tn
				phase="tail"
			fi
		elif [ "$phase" = tail ] && awk -v a="$tn" -v b="$t_tail" -v w="$TAIL_S" 'BEGIN {exit !(a - b >= w)}'; then
			break
		fi
		if awk -v a="$tn" -v b="$t_next" 'BEGIN {exit !(a >= b)}'; then
			body=$(curl -s --max-time 2 "http://127.0.0.1:$hport/metrics" || true)
			rss=$(proc_kb "$ipid" VmRSS)
			local fsz pos
			fsz=$(stat -c %s "$in" 2>/dev/null || echo 0)
			pos=$(metric "$body" iocbus_input_position_bytes)
			printf '%.1f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
				"$(awk -v a="$t0" -v b="$tn" 'BEGIN {print b - a}')" "$phase" "$(writer_v written)" \
				"$(metric "$body" iocbus_input_events_total)" "$(metric "$body" iocbus_output_events_total 'output="out"')" \
				"$(sink_v distinct)" "$rss" "$(proc_kb "$ipid" VmHWM)" "$(metric "$body" iocbus_output_queue_bytes)" \
				"$(metric "$body" iocbus_spool_bytes)" "$(du -sb "$state" | cut -f1)" "$((fsz - pos))" \
				"$(awk -v x="$(metric "$body" iocbus_input_blocked_seconds_total)" 'BEGIN {print x + 0}')" \
				"$(metric "$body" iocbus_input_batches_total)" "$(metric "$body" iocbus_input_acked_batches_total)" "$pos" >> "$samples"
			t_next=$(awk -v a="$tn" -v s="$SAMPLE_S" 'BEGIN {printf "%.6f", a + s}')
		fi
		kill -0 "$ipid" 2>/dev/null || { tail -n 20 "$tmp/odaemon.log" >&2; die "outage: iocbus died"; }
		sleep 0.25
	done
	kill_pidfile "$tmp/writer.pid"
	local w_total t_stop ok=0
	for _ in $(seq 20); do [ "$(writer_v final)" = 1 ] && break; sleep 0.1; done
	w_total=$(writer_v written)
	t_stop=$(now)
	for _ in $(seq $((DRAIN_TIMEOUT * 4))); do
		if [ "$(sink_v distinct)" -ge "$w_total" ]; then ok=1; break; fi
		sleep 0.25
	done
	local hwm rss_end
	hwm=$(proc_kb "$ipid" VmHWM)
	rss_end=$(proc_kb "$ipid" VmRSS)
	body=$(curl -s --max-time 2 "http://127.0.0.1:$hport/metrics" || true)
	kill_pidfile "$tmp/odaemon.pid"
	kill_pidfile "$tmp/osink.pid"
	local sline
	sline=$(tail -n 1 "$tmp/osink.out")
	echo "outage rate=$rate secs=$secs warm=$WARM_S written=$w_total writer_rate=$(writer_v rate) w_up=$w_up d_up=$d_up t_up=$t_up t_first_after=$t_first_after t_drained=$t_drained all_delivered=$ok final_wait=$(awk -v a="$t_stop" -v b="$(now)" 'BEGIN {printf "%.1f", b - a}') hwm_kb=$hwm rss_end_kb=$rss_end retries=$(metric "$body" iocbus_output_retries_total) spooled=$(metric "$body" iocbus_spool_written_batches_total) replayed=$(metric "$body" iocbus_spool_replayed_batches_total) blocked_s=$(metric "$body" iocbus_input_blocked_seconds_total) sink: $sline" >> "$out/pipe-outage.txt"
	say "  written $w_total, sink distinct $(kv distinct "$sline") dups $(kv dups "$sline") missing $(kv missing "$sline"); all delivered: $ok; VmHWM $hwm kB"
	grep -v '^$' "$tmp/odaemon.log" | tail -n 5 >&2 || true
	rm -rf "$state" "$in"
}

if has_part outage; then
	: > "$out/pipe-outage.txt"
	drop_commands '^outage'
	if [ -z "$OUTAGE_RUNS" ]; then
		for rt in $OUTAGE_RATES; do
			secs=$OUTAGE_S
			[ $((rt * secs)) -le "$OUTAGE_MAX_EVENTS" ] || secs=$((OUTAGE_MAX_EVENTS / rt))
			OUTAGE_RUNS="$OUTAGE_RUNS $rt:$secs"
		done
	fi
	for spec in $OUTAGE_RUNS; do
		outage_run "${spec%%:*}" "${spec##*:}"
	done
fi
busy_after=$(cpu_busy)

# ------------------------------------------------------------ report

"$PY" - "$out" "$PARTS" "$busy_before" "$busy_after" "$(nproc) CPUs, $(uname -r)" <<'EOF'
import os, statistics, sys, time
out, parts, busy_b, busy_a, host = sys.argv[1:6]
def parse(line):
    d = {}
    for tok in line.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            d.setdefault(k, v)
    # the sink's keys come after "sink:"; keep them apart
    if " sink: " in line:
        d["sink"] = {k: v for k, v in (t.split("=", 1) for t in line.split(" sink: ", 1)[1].split() if "=" in t)}
    return d
def f(x, default=0.0):
    try:
        return float(x)
    except (TypeError, ValueError):
        return default
def rate(x):
    return "%.2f M" % (x / 1e6) if x >= 1e6 else "%.0f k" % (x / 1e3)
md = []
md.append("# Log pipeline benchmark (issue #5 item 6)\n")
md.append("%s, %s. CPU busy 1 s before: %s %%, after: %s %%.\n" % (time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), host, busy_b, busy_a))
if os.path.exists(out + "/pipe-runs.txt") and os.path.getsize(out + "/pipe-runs.txt"):
    rows = [parse(l) for l in open(out + "/pipe-runs.txt") if l.strip()]
    groups = {}
    for r in rows:
        groups.setdefault((r["variant"], int(r["n"])), []).append(r)
    md.append("## Throughput: file -> enrich (ECS preset, 1 M-attribute store) -> output\n")
    md.append("Medians of %d alternated rounds. Clock: first event read -> sink holds all N distinct events "
              "(file output: iocbus counted N delivered; `iocbus enrich`: its `--stats` enrichment phase). "
              "MB/s of input. CPU seconds over the timed span, per second of it (1.00 = one core).\n" % max(int(r["round"]) for r in rows))
    md.append("CPU s per 1 M events: iocbus (all threads), its busiest thread, and the sink, medians; "
              "\"bound\" = min(1 / busiest thread, 2 cores / (iocbus + sink)): the rate two otherwise idle "
              "cores could carry at these costs, a figure that the other load on a shared machine does not move much.\n")
    md.append("| variant | events | events/s | MB/s | iocbus CPU (user+sys)/s | sink CPU/s | CPU s per 1 M: iocbus / busiest thread / sink | bound | iocbus peak RSS | wire bytes/event | all delivered, dups, enriched docs | rounds |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    order = ["es-gzip", "es-gzip+mmap", "es-plain", "es-plain+mmap", "file", "file+mmap", "enrich-1t", "enrich-2t"]
    for (v, n) in sorted(groups, key=lambda k: (order.index(k[0]) if k[0] in order else 9, k[1])):
        g = groups[(v, n)]
        spans = [f(r["span"]) for r in g if f(r["span"]) > 0]
        if not spans:
            continue
        sp = statistics.median(spans)
        evs = n / sp
        mbs = f(g[0]["bytes"]) / sp / 1e6
        if v.startswith("enrich"):
            md.append("| `iocbus enrich --threads %s` -o /dev/null | %d | %s | %.0f | — | — | — | — | — | — | matched %s | %d |"
                      % (v[7], n, rate(evs), mbs, g[0].get("matched", "?"), len(spans)))
            continue
        cpu = statistics.median([(f(r["iocbus_user"]) + f(r["iocbus_sys"])) / f(r["span"]) for r in g if f(r["span"]) > 0])
        usr = statistics.median([f(r["iocbus_user"]) / f(r["span"]) for r in g if f(r["span"]) > 0])
        scpu = statistics.median([(f(r["sink_user"]) + f(r["sink_sys"])) / f(r["span"]) for r in g if f(r["span"]) > 0])
        hwm = max(f(r["hwm_kb"]) for r in g) / 1024
        if v.startswith("file"):
            chk = "delivered %s; enriched %s" % (",".join(r.get("out_events", "?") for r in g), ",".join(r.get("matched", "?") for r in g))
            wire = "—"
            scpu_s = "—"
        else:
            s = [r.get("sink", {}) for r in g]
            chk = "%s; dups %s; enriched %s" % (
                "yes" if all(x.get("distinct") == str(n) and x.get("missing") == "0" for x in s) else "NO (" + ",".join(x.get("distinct", "?") for x in s) + ")",
                ",".join(x.get("dups", "?") for x in s), ",".join(r.get("matched", "?") for r in g))
            wire = "%.0f" % statistics.median([f(x.get("wire_bytes")) / n for x in s])
            scpu_s = "%.2f" % scpu
        m = n / 1e6
        def busiest(r):
            th = sorted((f(x.rsplit(":", 1)[1]) for x in r.get("threads", "-").split(",") if ":" in x), reverse=True)
            return th[0] if th else 0.0
        c_tot = statistics.median([(f(r["iocbus_user"]) + f(r["iocbus_sys"])) / m for r in g])
        c_top = statistics.median([busiest(r) / m for r in g])
        c_snk = statistics.median([(f(r["sink_user"]) + f(r["sink_sys"])) / m for r in g])
        bound = min(1 / c_top if c_top else 0, 2 / (c_tot + c_snk) if c_tot + c_snk else 0) * 1e6
        md.append("| %s | %d | %s | %.0f | %.2f (user %.2f) | %s | %.2f / %.2f / %s | %s | %.0f MiB | %s | %s | %d |"
                  % (v, n, rate(evs), mbs, cpu, usr, scpu_s, c_tot, c_top, "—" if v.startswith("file") else "%.2f" % c_snk,
                     rate(bound), hwm, wire, chk, len(spans)))
    md.append("")
    md.append("Per-thread CPU seconds of iocbus in each run (tid/name:seconds, largest first):\n")
    for r in rows:
        if "threads" in r:
            md.append("- %s n=%s round %s: span %.2f s; %s" % (r["variant"], r["n"], r["round"], f(r["span"]), r["threads"]))
    md.append("")
if os.path.exists(out + "/pipe-outage.txt") and os.path.getsize(out + "/pipe-outage.txt"):
    md.append("## Elasticsearch outage with input flowing\n")
    md.append("es_sink down (listening socket closed, connections refused) for the outage; a writer appends at the given rate throughout. "
              "RSS from /proc/PID/status every 5 s (samples in `bench/out/pipe-outage-RATE.tsv`).\n")
    md.append("| rate ev/s (achieved) | outage s | RSS before outage | RSS max during outage | VmHWM (whole run) | spool max | state_dir max | file backlog max | backlog at recovery | first delivery after recovery | drained after | all delivered | dups | missing |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for line in open(out + "/pipe-outage.txt"):
        r = parse(line)
        s = r.get("sink", {})
        rate_ = r["rate"]
        samples = []
        try:
            with open("%s/pipe-outage-%s.tsv" % (out, rate_)) as fh:
                hdr = fh.readline().split()
                for l in fh:
                    samples.append(dict(zip(hdr, l.split())))
        except OSError:
            pass
        warm = [f(x["rss_kb"]) for x in samples if x["phase"] == "warm"]
        down = [f(x["rss_kb"]) for x in samples if x["phase"] == "down"]
        mx = lambda k: max([f(x[k]) for x in samples] or [0])
        t_up = f(r["t_up"])
        fa = f(r["t_first_after"]) - t_up if f(r["t_first_after"]) else float("nan")
        dr = f(r["t_drained"]) - t_up if f(r["t_drained"]) else float("nan")
        md.append("| %s (%s) | %s | %.0f MiB | %.0f MiB | %.0f MiB | %.0f MiB | %.0f MiB | %.0f MiB | %d events | %.1f s | %.1f s | %s (%s written, %s distinct) | %s | %s |" % (
            rate_, r.get("writer_rate", "?"), r["secs"], (statistics.median(warm) if warm else 0) / 1024,
            (max(down) if down else 0) / 1024, f(r["hwm_kb"]) / 1024, mx("spool_bytes") / 2**20,
            mx("state_dir_bytes") / 2**20, mx("file_backlog_bytes") / 2**20, int(f(r["w_up"]) - f(r["d_up"])),
            fa, dr, "yes" if r["all_delivered"] == "1" and s.get("missing") == "0" else "NO", r["written"],
            s.get("distinct", "?"), s.get("dups", "?"), s.get("missing", "?")))
    md.append("")
if os.path.exists(out + "/pipe-commands.txt"):
    md.append("## Commands\n")
    for l in open(out + "/pipe-commands.txt"):
        md.append("- `%s`" % l.strip())
open(out + "/pipe-results.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
EOF
say "wrote $out/pipe-results.md"
