#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: `iocbus enrich` against its baselines (issue #3 item 6).
# Not a test: run by hand, figures go to docs/performance.md.
#
#   bench/bench_enrich.sh
#
# Input: 1 M MISP attributes (gen_misp.py, restSearch, ~986 k indicators),
# ECS and Suricata EVE events (gen_events.py, ~500 bytes a line, 1 % carrying
# an indicator value). Contenders, alternated within each round:
#   iocbus-1t-ecs   iocbus enrich --threads 1, ECS, pinned to CPU 0
#   iocbus-2t-ecs   iocbus enrich --threads 2, ECS, not pinned
#   iocbus-1t-eve   iocbus enrich --threads 1, the EVE input fever gets, CPU 0
#   jq              jq 1.6 doing the same field lookups against a {value: 1}
#                   table of every indicator value, on the first JQ_EVENTS ECS
#                   lines, CPU 0; its table load is timed on empty input and
#                   subtracted
#   fever           DCSO fever 1.3.5 matching the EVE input against a Bloom
#                   filter of every indicator value, CPU 0 (feeder and reader
#                   on CPU 1); clock from the first byte fed until the sentinel
#                   alert comes out; nothing subtracted
# Prints events/s and MB/s per contender (median of the rounds), the ratios
# with their targets, and writes the same as Markdown to
# bench/out/enrich-results.md.
#
# Prerequisites (Debian 12): the build deps (scripts/deps.sh), jq, fever,
# golang-github-dcso-bloom-cli (`bloom`), socat, util-linux (`taskset`), bc.
# Missing jq/fever/bloom/socat are installed with apt-get like scripts/deps.sh
# does (root or sudo) unless SKIP_JQ / SKIP_FEVER say they are not needed.
#
# Environment knobs (defaults in brackets):
#   EVENTS [1000000]     event lines per input (ECS and EVE)
#   ROUNDS [3]           timed rounds; medians over them
#   JQ_EVENTS [100000]   ECS lines jq gets (it is ~40x slower)
#   ATTRS [1000000]      MISP attributes (in 100 k events, --seed 1)
#   HIT_RATE [0.01]      share of events carrying an indicator value
#   SKIP_FEVER=1, SKIP_JQ=1, SKIP_IOCBUS=1   leave a contender out
#   SKIP_BUILD=1         do not (re)build the release preset
#   VERIFY [1]           0: skip the untimed checking run of each contender
#   FEVER_FORWARD [alerts]  what fever's timed runs forward: alerts (Bloom hits
#                        and the sentinel; fever's usual set-up, and the one
#                        behind the ~100 k events/s the issue quotes) or all
#                        (every event, as iocbus writes every line: ~2.5x
#                        slower). The checking run always forwards all, to
#                        show that fever lets every event through.
#   WARNINGLISTS [0]     1: one more contender, iocbus-1t-ecs-wl: iocbus-1t-ecs
#                        with --config quality.warninglists over synthetic lists
#                        sized like the largest upstream ones (gen_warninglists.py:
#                        1 M hostnames, 200 k strings, 150 k CIDRs, 5 k substrings,
#                        20 regexes; 1 % of the store's indicators put on them),
#                        plus the upstream fixture lists; in the same rounds
#   IOCBUS_ARGS []       extra arguments of every iocbus run, e.g. "-c quality.yaml"
#                        (indicator quality marks on every record, docs/performance.md)
#   IOCBUS_INTEL [store] store: open a store persisted once with
#                        `iocbus load --store`; file: --intel the restSearch file
# Generated data is cached in bench/out/ and regenerated when a generator changes.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-1000000}
ROUNDS=${ROUNDS:-3}
JQ_EVENTS=${JQ_EVENTS:-100000}
ATTRS=${ATTRS:-1000000}
INTEL_EVENTS=${INTEL_EVENTS:-$((ATTRS / 10))}
HIT_RATE=${HIT_RATE:-0.01}
SKIP_FEVER=${SKIP_FEVER:-0}
SKIP_JQ=${SKIP_JQ:-0}
SKIP_IOCBUS=${SKIP_IOCBUS:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
VERIFY=${VERIFY:-1}
FEVER_FORWARD=${FEVER_FORWARD:-alerts}
IOCBUS_INTEL=${IOCBUS_INTEL:-store}
WARNINGLISTS=${WARNINGLISTS:-0}
[ "$JQ_EVENTS" -gt "$EVENTS" ] && JQ_EVENTS=$EVENTS
case $FEVER_FORWARD in all) fever_all=true ;; alerts) fever_all=false ;; *)
	echo "bench_enrich: FEVER_FORWARD must be all or alerts" >&2; exit 2 ;; esac

PY=/usr/bin/python3
out=bench/out
bin=build/release/src/cli/iocbus
SENTINEL=IOCBUS-BENCH-SENTINEL
mkdir -p "$out"
ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then cpu_main=0; cpu_aux=1; else cpu_main=0; cpu_aux=0; fi
PIN=(taskset -c "$cpu_main")
AUX=(taskset -c "$cpu_aux")

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.4f", b - a}'; }

# ------------------------------------------------------------ cleanup

BENCH_NAME=bench_enrich
bench_tmpdir iocbus-bench

# Run "$@" in the background with its own pid in file $1 (exec keeps the pid).

# ------------------------------------------------------------ prerequisites

need_pkgs=()
command -v taskset >/dev/null || need_pkgs+=(util-linux)
command -v bc >/dev/null || need_pkgs+=(bc)
if [ "$SKIP_JQ" != 1 ]; then command -v jq >/dev/null || need_pkgs+=(jq); fi
if [ "$SKIP_FEVER" != 1 ]; then
	command -v fever >/dev/null || need_pkgs+=(fever)
	command -v bloom >/dev/null || need_pkgs+=(golang-github-dcso-bloom-cli)
	command -v socat >/dev/null || need_pkgs+=(socat)
fi
if [ ${#need_pkgs[@]} -gt 0 ]; then
	SUDO=
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || die "need root or sudo to install: ${need_pkgs[*]}"
		SUDO=sudo
	fi
	say "bench_enrich: installing ${need_pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	timeout 600 $SUDO apt-get update -qq
	timeout 600 $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
fi

# ------------------------------------------------------------ data

intel=$out/rest-$ATTRS.json           # same file bench_load.sh makes
values=$out/values-all-$ATTRS.tsv     # every attribute as type<TAB>value
ecs=$out/ecs-$EVENTS.json
eve=$out/eve-$EVENTS.json             # ends with the sentinel alert
jq_in=$out/ecs-jq-$JQ_EVENTS.json
table=$out/jq-table-$ATTRS.json
indicators=$out/indicators-$ATTRS.txt
bloomf=$out/iocs-$ATTRS.bloom

# stale FILE DEP...: FILE is missing or older than a DEP
stale() {
	local f=$1 d
	shift
	[ -s "$f" ] || return 0
	for d in "$@"; do [ "$d" -nt "$f" ] && return 0; done
	return 1
}

if stale "$intel" bench/gen_misp.py; then
	say "# generating $intel ($ATTRS attributes)"
	timeout 900 $PY bench/gen_misp.py --format restsearch -o "$intel" --attributes "$ATTRS" \
		--events "$INTEL_EVENTS" --seed 1 --quiet
fi
if stale "$values" bench/gen_misp.py "$intel"; then
	say "# generating $values"
	timeout 900 $PY bench/gen_misp.py --format restsearch --attributes "$ATTRS" --events "$INTEL_EVENTS" \
		--seed 1 --quiet --values-out "$values" --values-count "$ATTRS"
fi
if stale "$ecs.meta" bench/gen_events.py "$values" || [ ! -s "$ecs" ] || [ ! -s "$table" ] || [ ! -s "$indicators" ]; then
	say "# generating $ecs, $table, $indicators"
	timeout 900 $PY bench/gen_events.py --format ecs -n "$EVENTS" --seed 1 --values "$values" \
		--hit-rate "$HIT_RATE" -o "$ecs" --jq-table "$table" --indicators-out "$indicators" 2> "$ecs.meta"
	cat "$ecs.meta" >&2
fi
if stale "$eve.meta" bench/gen_events.py "$values" || [ ! -s "$eve" ]; then
	say "# generating $eve"
	timeout 900 $PY bench/gen_events.py --format eve -n "$EVENTS" --seed 2 --values "$values" \
		--hit-rate "$HIT_RATE" --sentinel -o "$eve" 2> "$eve.meta"
	cat "$eve.meta" >&2
fi
if stale "$jq_in" "$ecs"; then
	head -n "$JQ_EVENTS" "$ecs" > "$jq_in"
fi
if [ "$SKIP_FEVER" != 1 ] && stale "$bloomf" "$indicators"; then
	say "# building the Bloom filter $bloomf"
	rm -f "$bloomf"
	timeout 300 bloom create -p 0.0001 -n "$(wc -l < "$indicators")" "$bloomf"
	timeout 300 bloom insert "$bloomf" < "$indicators"
fi
hits_of() { sed -n 's/.* events (\([0-9]*\) with an indicator value.*/\1/p' "$1.meta" 2>/dev/null || true; }
ecs_bytes=$(stat -c %s "$ecs")
eve_bytes=$(stat -c %s "$eve")
eve_lines=$((EVENTS + 1))   # + sentinel
jq_bytes=$(stat -c %s "$jq_in")

# ------------------------------------------------------------ iocbus

iocbus_ok=0
if [ "$SKIP_IOCBUS" != 1 ]; then
	if [ "$SKIP_BUILD" != 1 ]; then
		say "# building the release preset"
		timeout 1800 cmake --preset release >/dev/null
		timeout 3600 cmake --build --preset release >/dev/null
	fi
	if [ -x "$bin" ] && timeout 10 "$bin" enrich --help >/dev/null 2>&1; then
		iocbus_ok=1
	else
		say "bench_enrich: $bin has no 'enrich' command yet: iocbus left out"
	fi
fi

store=$out/store-$ATTRS
intel_args=()
if [ "$iocbus_ok" = 1 ]; then
	if [ "$IOCBUS_INTEL" = store ]; then
		if [ ! -e "$store/.bench-ok" ] || [ "$intel" -nt "$store/.bench-ok" ] || [ "$bin" -nt "$store/.bench-ok" ]; then
			say "# persisting the intel into $store (once)"
			rm -rf "$store"
			mkdir -p "$store"
			timeout 900 "$bin" load --store "$store" --intel "$intel" > "$out/enrich-load.txt"
			grep -E '^(loaded|store|memory)' "$out/enrich-load.txt" >&2 || true
			touch "$store/.bench-ok"
		fi
		intel_args=(--store "$store")
	else
		intel_args=(--intel "$intel")
	fi
fi

# ------------------------------------------------------------ runs
# Each run appends "round contender wall_s phase_events_per_s" to $runs.

runs=$out/enrich-runs.tsv
: > "$runs"
checks=$out/enrich-checks.txt

: > "$checks"
# ---- warninglists (WARNINGLISTS=1): synthetic lists + the upstream fixtures, the load timed once
wlcfg=$out/warninglists-$ATTRS.yaml
if [ "$iocbus_ok" = 1 ] && [ "$WARNINGLISTS" = 1 ]; then
	wldir=$out/warninglists-$ATTRS
	if stale "$wldir/lists/top-hosts/list.json" bench/gen_warninglists.py "$values"; then
		say "# generating synthetic warninglists into $wldir"
		rm -rf "$wldir"
		timeout 900 $PY bench/gen_warninglists.py -o "$wldir" --values "$values" > "$wldir.txt"
	fi
	printf 'quality:\n  warninglists:\n    paths: [%s, %s]\n    watch: false\n' "$PWD/$wldir" \
		"$PWD/tests/fixtures/misp/warninglists" > "$wlcfg"
	wl_t=$( { /usr/bin/time -f '%e s wall, %U s user, %S s sys, %M KB' "$bin" warninglists check --config "$wlcfg" \
		0.0.0.0 >/dev/null || true; } 2>&1 | tail -1)
	echo "warninglists: $(cat "$wldir.txt") + the 5 fixture lists; \`iocbus warninglists check\` loading them all, whole process: $wl_t" >> "$checks"
fi

# Events/s of the enrichment phase from --stats output (whatever line says
# "N events/s" or "N lines/s", k/M suffixes allowed); "-" if none.
stats_rate() {
	awk '
	{
		line = tolower($0)
		if (match(line, /[0-9][0-9.,]*[ ]*[km]?[ ]*(events|lines|ev)\/s/)) {
			s = substr(line, RSTART, RLENGTH); gsub(/,/, "", s)
			v = s + 0; mult = 1
			if (s ~ /^[0-9.]+[ ]*k/) mult = 1e3
			if (s ~ /^[0-9.]+[ ]*m/) mult = 1e6
			print v * mult; found = 1; exit
		}
	}
	END { if (!found) print "-" }' "$1"
}

# run_iocbus ROUND NAME PRESET THREADS INPUT OUTPUT [pin]   (a NAME ending in -wl adds the warninglists)
run_iocbus() {
	local round=$1 name=$2 preset=$3 threads=$4 input=$5 output=$6 pin=$7 t0 t1 rc=0 wl=()
	[ "${name%-wl}" != "$name" ] && wl=(--config "$wlcfg")
	# shellcheck disable=SC2086 # IOCBUS_ARGS is split into words on purpose
	local cmd=("$bin" enrich "${intel_args[@]}" "${wl[@]}" ${IOCBUS_ARGS:-} --preset "$preset" --threads "$threads" --stats -o "$output" "$input")
	[ "$pin" = pin ] && cmd=("${PIN[@]}" "${cmd[@]}")
	t0=$(now)
	timeout 900 "${cmd[@]}" 2> "$tmp/stats.txt" || rc=$?
	t1=$(now)
	if [ "$rc" != 0 ]; then
		cat "$tmp/stats.txt" >&2
		die "$name: exit status $rc: ${cmd[*]}"
	fi
	cp "$tmp/stats.txt" "$out/enrich-stats-$name.txt"
	echo "$round $name $(elapsed "$t0" "$t1") $(stats_rate "$tmp/stats.txt")" >> "$runs"
	[ "$round" = 1 ] && echo "$name: ${cmd[*]}" >> "$out/enrich-commands.txt"
	return 0
}

# The fields of the ECS events that iocbus's ecs preset looks up (ports and
# composite indicators aside); a hit adds threat.enrichments and misp.hit.
# shellcheck disable=SC2016 # a jq program, not shell
JQ_FILTER='$t[0] as $t
| . as $e
| [ .source.ip, .destination.ip, .destination.domain, .url.full, .url.original, .url.domain,
    .dns.question.name, (.dns.resolved_ip // [])[], .tls.client.server_name, .tls.client.ja3,
    .tls.server.ja3s, .file.hash.md5, .file.hash.sha1, .file.hash.sha256, .user_agent.original ]
| map(select(type == "string" and $t[.] != null)) as $m
| if ($m | length) > 0
  then $e + {threat: {enrichments: [$m[] | {indicator: {provider: "misp", description: .},
                                             matched: {atomic: ., type: "indicator_match_rule"}}]},
             misp: {hit: true}}
  else $e end'

# run_jq ROUND NAME INPUT OUTPUT
run_jq() {
	local round=$1 name=$2 input=$3 output=$4 t0 t1
	t0=$(now)
	timeout 1800 "${PIN[@]}" jq -c --slurpfile t "$table" "$JQ_FILTER" "$input" > "$output"
	t1=$(now)
	echo "$round $name $(elapsed "$t0" "$t1") -" >> "$runs"
	if [ "$round" = 1 ] && [ "$name" = jq ]; then
		echo "$name: ${PIN[*]} jq -c --slurpfile t $table -f FILTER $input   (FILTER: see bench_enrich.sh)" \
			>> "$out/enrich-commands.txt"
	fi
}

# run_fever ROUND OUTPUT ALL: OUTPUT = file to tee everything into, or "" (count
# only); ALL = true (forward every event) or false (alerts only)
run_fever() {
	local round=$1 save=$2 fwd_all=$3 d=$tmp/fever t0 t1 rc=0
	rm -rf "$d"
	mkdir -p "$d"
	sed -e "s|@IN_SOCKET@|$d/in.sock|; s|@OUT_SOCKET@|$d/out.sock|; s|@BLOOM@|$PWD/$bloomf|" \
		-e "s|@FORWARD_ALL@|$fwd_all|; s|@MGMT_SOCKET@|$d/mgmt.sock|" bench/fever/fever.yaml.in > "$d/fever.yaml"
	# Reader (CPU 1): socat listens, grep stops the clock at the sentinel and
	# prints its line number, i.e. how many lines came out up to it.
	local sink=/dev/null
	[ -n "$save" ] && sink=$save
	PIDFILES+=("$d/reader.pid")
	(
		sh -c 'echo $$ > "$0"; exec "$@"' "$d/reader.pid" "${AUX[@]}" timeout 1800 \
			socat -u UNIX-LISTEN:"$d/out.sock" STDOUT |
			"${AUX[@]}" tee "$sink" | { grep -m1 -n -F "$SENTINEL" | cut -d: -f1 > "$d/sentinel"; now > "$d/end"; }
	) &
	local rsub=$!
	for _ in $(seq 100); do [ -S "$d/out.sock" ] && break; sleep 0.05; done
	[ -S "$d/out.sock" ] || die "fever: reader socket did not appear"
	spawn "$d/fever.pid" "${PIN[@]}" timeout 1800 fever run --config "$d/fever.yaml" --dummy -n 0 \
		--in-buffer-drop=false -i "$d/in.sock" -b "$bloomf" > "$d/fever.log" 2>&1
	for _ in $(seq 600); do [ -S "$d/in.sock" ] && break; sleep 0.05; done
	[ -S "$d/in.sock" ] || { cat "$d/fever.log" >&2; die "fever: input socket did not appear"; }
	sleep 0.5   # let fever settle (its output connection, handlers)
	t0=$(now)
	timeout 1800 "${AUX[@]}" socat -u FILE:"$eve" UNIX-CONNECT:"$d/in.sock" || rc=$?
	[ "$rc" = 0 ] || { cat "$d/fever.log" >&2; die "fever: feeding failed ($rc)"; }
	for _ in $(seq 18000); do [ -s "$d/end" ] && break; sleep 0.01; done  # at most 3 min after feeding
	[ -s "$d/end" ] || { tail "$d/fever.log" >&2; die "fever: the sentinel never came out"; }
	t1=$(cat "$d/end")
	kill_pidfile "$d/fever.pid"
	kill_pidfile "$d/reader.pid"
	wait "$rsub" 2>/dev/null || true
	echo "$round fever $(elapsed "$t0" "$t1") -" >> "$runs"
	echo "$round $(cat "$d/sentinel")" >> "$tmp/fever-lines"
	if [ "$round" = 1 ]; then
		echo "fever: ${PIN[*]} fever run --config FEVER.yaml --dummy -n 0 --in-buffer-drop=false -i IN.sock -b $bloomf   (FEVER.yaml: bench/fever/fever.yaml.in filled in, multi-forward all: $fwd_all); feed: ${AUX[*]} socat -u FILE:$eve UNIX-CONNECT:IN.sock; read: ${AUX[*]} socat -u UNIX-LISTEN:OUT.sock STDOUT | grep -m1 -n $SENTINEL" \
			>> "$out/enrich-commands.txt"
	fi
}

# CPU in use by anything (% of all CPUs) over one second, from /proc/stat
busy_before=$(cpu_busy)
if [ "$busy_before" -gt 10 ]; then
	say "bench_enrich: warning: $busy_before % of the CPUs busy before the benchmark; figures will be low:"
	ps -eo pcpu,pid,comm --sort=-pcpu | head -n 4 >&2
fi

say "# warming the page cache"
cat "$ecs" "$eve" "$jq_in" "$table" > /dev/null
[ "$iocbus_ok" = 1 ] && [ "$IOCBUS_INTEL" != store ] && cat "$intel" > /dev/null
: > "$out/enrich-commands.txt"
: > "$tmp/fever-lines"

count_hits() { grep -c -F '"enrichments"' "$1" || true; }

# ---- round 0: untimed checks with real outputs
if [ "$VERIFY" = 1 ]; then
	say "# checking run (outputs kept in $tmp, counted, then deleted)"
	if [ "$iocbus_ok" = 1 ]; then
		run_iocbus 0 iocbus-1t-ecs ecs 1 "$ecs" "$tmp/o1.json" pin
		run_iocbus 0 iocbus-2t-ecs ecs 2 "$ecs" "$tmp/o2.json" nopin
		n1=$(wc -l < "$tmp/o1.json"); n2=$(wc -l < "$tmp/o2.json")
		h1=$(count_hits "$tmp/o1.json"); h2=$(count_hits "$tmp/o2.json")
		# misses must be byte for byte and in order; hits differ only in matched.occurred
		if grep -v -F '"enrichments"' "$tmp/o1.json" | cmp -s - <(grep -v -F '"enrichments"' "$tmp/o2.json"); then
			same=yes
		else
			same=NO
		fi
		echo "iocbus ECS: $EVENTS lines in; 1 thread: $n1 lines out, $h1 enriched; 2 threads: $n2 lines out, $h2 enriched; misses identical and in order: $same; generator put an indicator value in $(hits_of "$ecs")" >> "$checks"
		if [ "$n1" != "$EVENTS" ] || [ "$n2" != "$EVENTS" ]; then
			die "iocbus ECS: line counts differ from the input ($n1, $n2)"
		fi
		[ "$same" = yes ] || die "iocbus ECS: unenriched lines differ between 1 and 2 threads"
		rm -f "$tmp/o2.json"
		# every line that was not enriched is the input line, byte for byte
		bad=$(paste -d $'\x01' "$ecs" "$tmp/o1.json" |
			awk -F $'\x01' '$1 != $2 && index($2, "\"enrichments\"") == 0 {n++} END {print n + 0}')
		echo "iocbus ECS: lines changed without an enrichment: $bad" >> "$checks"
		[ "$bad" = 0 ] || die "iocbus ECS: $bad lines changed without being enriched"
		rm -f "$tmp/o1.json"
		run_iocbus 0 iocbus-1t-eve suricata 1 "$eve" "$tmp/o3.json" pin
		n3=$(wc -l < "$tmp/o3.json"); h3=$(count_hits "$tmp/o3.json")
		echo "iocbus EVE: $eve_lines lines in; 1 thread: $n3 lines out, $h3 enriched; generator put an indicator value in $(hits_of "$eve")" >> "$checks"
		[ "$n3" = "$eve_lines" ] || die "iocbus EVE: $n3 lines out, $eve_lines in"
		rm -f "$tmp/o3.json"
	fi
	if [ "$SKIP_JQ" != 1 ]; then
		run_jq 0 jq "$jq_in" "$tmp/oj.json"
		nj=$(wc -l < "$tmp/oj.json"); hj=$(grep -c -F '"misp":{"hit":true}' "$tmp/oj.json" || true)
		echo "jq: $JQ_EVENTS lines in, $nj out, $hj enriched" >> "$checks"
		[ "$nj" = "$JQ_EVENTS" ] || die "jq: $nj lines out, $JQ_EVENTS in"
		rm -f "$tmp/oj.json"
	fi
	if [ "$SKIP_FEVER" != 1 ]; then
		run_fever 0 "$tmp/of.json" true
		nf=$(wc -l < "$tmp/of.json")
		af=$(grep -c -F '"event_type":"alert"' "$tmp/of.json" || true)
		bf=$(grep -c -F '"signature":"BLF' "$tmp/of.json" || true)
		fever_alerts=$bf
		echo "fever (forwarding all): $eve_lines lines in (sentinel included), $nf out by the sentinel's arrival: $((nf - af)) events + $bf Bloom alerts + $((af - bf)) other alert (the sentinel); $(tail -n 1 "$runs" | awk -v n="$eve_lines" '{printf "%.1f k events/s", n / $3 / 1e3}')" >> "$checks"
		[ $((nf - af)) = "$EVENTS" ] || die "fever: forwarded $((nf - af)) events of $EVENTS"
		rm -f "$tmp/of.json"
	fi
	cat "$checks" >&2
fi

# ---- timed rounds, contenders alternated (the order rotates each round)
contenders=()
if [ "$iocbus_ok" = 1 ]; then contenders+=(iocbus-1t-ecs iocbus-2t-ecs iocbus-1t-eve); fi
if [ "$iocbus_ok" = 1 ] && [ "$WARNINGLISTS" = 1 ]; then contenders+=(iocbus-1t-ecs-wl); fi
if [ "$SKIP_JQ" != 1 ]; then contenders+=(jq-load jq); fi
if [ "$SKIP_FEVER" != 1 ]; then contenders+=(fever); fi
nc=${#contenders[@]}
[ "$nc" -gt 0 ] || die "nothing to run"
for r in $(seq "$ROUNDS"); do
	for k in $(seq 0 $((nc - 1))); do
		c=${contenders[$(((k + r - 1) % nc))]}
		say "# round $r/$ROUNDS: $c"
		case $c in
		iocbus-1t-ecs) run_iocbus "$r" "$c" ecs 1 "$ecs" /dev/null pin ;;
		iocbus-1t-ecs-wl) run_iocbus "$r" "$c" ecs 1 "$ecs" /dev/null pin ;;
		iocbus-2t-ecs) run_iocbus "$r" "$c" ecs 2 "$ecs" /dev/null nopin ;;
		iocbus-1t-eve) run_iocbus "$r" "$c" suricata 1 "$eve" /dev/null pin ;;
		jq-load) run_jq "$r" jq-load /dev/null /dev/null ;;
		jq) run_jq "$r" jq "$jq_in" /dev/null ;;
		fever) run_fever "$r" "" "$fever_all" ;;
		esac
	done
done

busy_after=$(cpu_busy)
if [ "$SKIP_FEVER" != 1 ] && [ -n "${fever_alerts:-}" ]; then
	# every timed fever run must have let the same alerts through (no drops)
	if [ "$fever_all" = true ]; then want=$((EVENTS + fever_alerts + 1)); else want=$((fever_alerts + 1)); fi
	awk -v w="$want" '$1 > 0 && $2 != w {bad = 1} END {exit bad}' "$tmp/fever-lines" ||
		echo "WARNING: fever timed runs did not all put out $want lines: $(awk '$1 > 0 {print $2}' "$tmp/fever-lines" | tr '\n' ' ')" >> "$checks"
fi
echo "CPU in use by anything, 1 s before the benchmark: $busy_before %; 1 s after: $busy_after %" >> "$checks"

# ------------------------------------------------------------ report

report=$out/enrich-results.md
fever_lines=$(awk '$1 > 0 {print $2}' "$tmp/fever-lines" | sort -u | tr '\n' ' ')
awk -v EVENTS="$EVENTS" -v JQ_EVENTS="$JQ_EVENTS" -v EVE_LINES="$eve_lines" \
	-v ECS_BYTES="$ecs_bytes" -v EVE_BYTES="$eve_bytes" -v JQ_BYTES="$jq_bytes" \
	-v ROUNDS="$ROUNDS" -v MD="$report" -v FEVER_ALL="$fever_all" -v HOSTINFO="$(nproc) CPUs, $(uname -r)" \
	-v DATE="$(date -u +%Y-%m-%dT%H:%MZ)" -v ATTRS="$ATTRS" '
function median(arr, n,   i, j, t, b) {
	for (i = 1; i <= n; i++) b[i] = arr[i]
	for (i = 2; i <= n; i++) { t = b[i]; for (j = i - 1; j >= 1 && b[j] > t; j--) b[j + 1] = b[j]; b[j + 1] = t }
	if (n == 0) return ""
	return (n % 2) ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2
}
function fmt_rate(x) {
	if (x == "") return "n/a"
	if (x >= 1e6) return sprintf("%.2f M", x / 1e6)
	if (x >= 1e3) return sprintf("%.1f k", x / 1e3)
	return sprintf("%.0f", x)
}
function fmt_ratio(x) { return (x == "") ? "n/a" : sprintf("%.2f×", x) }
function verdict(x, target) { return (x == "") ? "" : (x >= target ? "yes" : "NO") }
$1 > 0 { wall[$2, $1] = $3; phase[$2, $1] = $4; seen[$2] = 1; if ($1 > maxr) maxr = $1 }
END {
	ev["iocbus-1t-ecs"] = EVENTS; by["iocbus-1t-ecs"] = ECS_BYTES; lab["iocbus-1t-ecs"] = "iocbus enrich, 1 thread (CPU 0), ECS"
	ev["iocbus-1t-ecs-wl"] = EVENTS; by["iocbus-1t-ecs-wl"] = ECS_BYTES; lab["iocbus-1t-ecs-wl"] = "iocbus enrich, 1 thread (CPU 0), ECS, warninglists"
	ev["iocbus-2t-ecs"] = EVENTS; by["iocbus-2t-ecs"] = ECS_BYTES; lab["iocbus-2t-ecs"] = "iocbus enrich, 2 threads, ECS"
	ev["iocbus-1t-eve"] = EVE_LINES; by["iocbus-1t-eve"] = EVE_BYTES; lab["iocbus-1t-eve"] = "iocbus enrich, 1 thread (CPU 0), EVE"
	ev["jq"] = JQ_EVENTS; by["jq"] = JQ_BYTES; lab["jq"] = "jq 1.6 (CPU 0), ECS, table load subtracted"
	ev["fever"] = EVE_LINES; by["fever"] = EVE_BYTES; lab["fever"] = "fever 1.3.5 + Bloom (CPU 0), EVE"
	n = split("iocbus-1t-ecs iocbus-1t-ecs-wl iocbus-2t-ecs iocbus-1t-eve jq fever", order, " ")
	for (r = 1; r <= maxr; r++) {
		for (i = 1; i <= n; i++) {
			c = order[i]
			if (!((c, r) in wall)) continue
			w = wall[c, r]
			if (c == "jq") { w -= wall["jq-load", r]; if (w <= 0) continue }
			rate[c, r] = ev[c] / w
			# events/s of the enrichment phase (--stats), when reported
			prate[c, r] = (phase[c, r] != "-" && phase[c, r] != "") ? phase[c, r] : rate[c, r]
		}
	}
	for (i = 1; i <= n; i++) {
		c = order[i]; k = 0; kp = 0; kw = 0
		for (r = 1; r <= maxr; r++) {
			if ((c, r) in rate) { a[++k] = rate[c, r]; p[++kp] = prate[c, r]; ww[++kw] = wall[c, r] }
		}
		if (k == 0) continue
		mrate[c] = median(a, k); mphase[c] = median(p, kp); mwall[c] = median(ww, kw); runs[c] = k
		if (c ~ /^iocbus/ && phase[c, 1] != "-" && phase[c, 1] != "") hasphase[c] = 1
	}
	# paired per-round ratios, median; iocbus on its phase rate when --stats gave one
	split("iocbus-1t-ecs/jq iocbus-1t-eve/fever iocbus-2t-ecs/iocbus-1t-ecs iocbus-1t-ecs/fever iocbus-1t-ecs-wl/iocbus-1t-ecs", rl, " ")
	for (i = 1; i <= 5; i++) {
		split(rl[i], ab, "/"); k = 0; kw = 0
		for (r = 1; r <= maxr; r++) {
			if (!(((ab[1], r) in rate) && ((ab[2], r) in rate))) continue
			x = (ab[1] ~ /^iocbus/) ? prate[ab[1], r] : rate[ab[1], r]
			y = (ab[2] ~ /^iocbus/) ? prate[ab[2], r] : rate[ab[2], r]
			q[++k] = x / y
			qw[++kw] = rate[ab[1], r] / rate[ab[2], r]
		}
		ratio[rl[i]] = median(q, k); ratiow[rl[i]] = median(qw, kw)
	}
	jqload = ""
	k = 0
	for (r = 1; r <= maxr; r++) if (("jq-load", r) in wall) l[++k] = wall["jq-load", r]
	if (k) jqload = median(l, k)

	hdr = sprintf("| contender | events | median wall s | events/s (wall) | MB/s (wall) | events/s (enrich phase, --stats) | MB/s (phase) |\n|---|---:|---:|---:|---:|---:|---:|")
	print "" > "/dev/stderr"
	printf "%-44s %9s %9s %12s %8s %14s %8s\n", "contender", "events", "wall s", "events/s", "MB/s", "phase ev/s", "MB/s" > "/dev/stderr"
	body = ""
	for (i = 1; i <= n; i++) {
		c = order[i]
		if (!(c in mrate)) continue
		mbs = by[c] / ev[c] * mrate[c] / 1e6
		ph = (c in hasphase) ? fmt_rate(mphase[c]) : "—"
		phm = (c in hasphase) ? sprintf("%.0f", by[c] / ev[c] * mphase[c] / 1e6) : "—"
		wl = (c == "jq") ? sprintf("%.2f (+%.2f load)", mwall[c] - jqload, jqload) : sprintf("%.3f", mwall[c])
		printf "%-44s %9d %9s %12s %8.0f %14s %8s\n", lab[c], ev[c], (c == "jq") ? sprintf("%.2f", mwall[c] - jqload) : sprintf("%.3f", mwall[c]), fmt_rate(mrate[c]), mbs, ph, phm > "/dev/stderr"
		body = body sprintf("| %s | %d | %s | %s | %.0f | %s | %s |\n", lab[c], ev[c], wl, fmt_rate(mrate[c]), mbs, ph, phm)
	}
	if (jqload != "") printf "%-44s %9s %9.2f\n", "  (jq table load alone, subtracted above)", "", jqload > "/dev/stderr"

	t1 = ("iocbus-1t-ecs" in mrate) ? (("iocbus-1t-ecs" in hasphase) ? mphase["iocbus-1t-ecs"] : mrate["iocbus-1t-ecs"]) : ""
	t1mb = (t1 == "") ? "" : t1 * ECS_BYTES / EVENTS / 1e6
	rh = "| measure | median | target | met |\n|---|---:|---:|---|"
	rows = ""
	rows = rows sprintf("| iocbus 1 thread, ECS events/s | %s | ≥ 1 M | %s |\n", fmt_rate(t1), verdict(t1, 1e6))
	rows = rows sprintf("| iocbus 1 thread, ECS MB/s | %s | ≥ 500 | %s |\n", (t1mb == "") ? "n/a" : sprintf("%.0f", t1mb), verdict(t1mb, 500))
	rows = rows sprintf("| iocbus 2 threads / 1 thread (ECS) | %s | ≥ 1.8× | %s |\n", fmt_ratio(ratio["iocbus-2t-ecs/iocbus-1t-ecs"]), verdict(ratio["iocbus-2t-ecs/iocbus-1t-ecs"], 1.8))
	rows = rows sprintf("| iocbus 1 thread / jq (ECS) | %s | ≥ 25× | %s |\n", fmt_ratio(ratio["iocbus-1t-ecs/jq"]), verdict(ratio["iocbus-1t-ecs/jq"], 25))
	rows = rows sprintf("| iocbus 1 thread / fever (same EVE input) | %s | ≥ 10× | %s |\n", fmt_ratio(ratio["iocbus-1t-eve/fever"]), verdict(ratio["iocbus-1t-eve/fever"], 10))
	rows = rows sprintf("| iocbus 1 thread (ECS) / fever (EVE) | %s | — | |\n", fmt_ratio(ratio["iocbus-1t-ecs/fever"]))
	if (ratio["iocbus-1t-ecs-wl/iocbus-1t-ecs"] != "")
		rows = rows sprintf("| iocbus 1 thread with / without warninglists (ECS, enrich phase; wall) | %s; %s | ≈ 1× | |\n", fmt_ratio(ratio["iocbus-1t-ecs-wl/iocbus-1t-ecs"]), fmt_ratio(ratiow["iocbus-1t-ecs-wl/iocbus-1t-ecs"]))
	rows = rows sprintf("| same ratios on whole-process wall time: 2t/1t, /jq, /fever | %s, %s, %s | | |\n", fmt_ratio(ratiow["iocbus-2t-ecs/iocbus-1t-ecs"]), fmt_ratio(ratiow["iocbus-1t-ecs/jq"]), fmt_ratio(ratiow["iocbus-1t-eve/fever"]))
	print "" > "/dev/stderr"
	printf "%-58s %16s %8s %s\n", "measure", "median", "target", "met" > "/dev/stderr"
	nr = split(rows, rr, "\n")
	for (i = 1; i < nr; i++) {
		split(rr[i], f, "|")
		gsub(/^ +| +$/, "", f[2]); gsub(/^ +| +$/, "", f[3]); gsub(/^ +| +$/, "", f[4]); gsub(/^ +| +$/, "", f[5])
		printf "%-58s %16s %8s %s\n", f[2], f[3], f[4], f[5] > "/dev/stderr"
	}

	printf "# Enrichment benchmark (issue #3 item 6)\n\n" > MD
	printf "%s, %s; %d timed rounds, contenders alternated; medians. %d MISP attributes (~986 k indicators); inputs: %d ECS lines (%.0f bytes/line), %d EVE lines (%.0f bytes/line, sentinel included), jq on the first %d ECS lines. fever multi-forward all: %s.\n\n", DATE, HOSTINFO, ROUNDS, ATTRS, EVENTS, ECS_BYTES / EVENTS, EVE_LINES, EVE_BYTES / EVE_LINES, JQ_EVENTS, FEVER_ALL > MD
	print hdr > MD
	printf "%s\n", body > MD
	print rh > MD
	printf "%s\n", rows > MD
	printf "Ratios are medians of per-round ratios; iocbus enters them with its enrichment-phase rate from --stats when it reports one (wall time otherwise), jq with its table load subtracted, fever with its whole feed-to-sentinel time.\n" > MD
}' "$runs"
{
	echo
	echo "## Checks"
	echo
	sed 's/^/- /' "$checks"
	[ -n "$fever_lines" ] && echo "- fever: lines out up to and including the sentinel, per timed round: $fever_lines"
	echo
	echo "## Commands"
	echo
	# shellcheck disable=SC2016 # literal backquotes (Markdown code)
	sed 's/^/- `/; s/$/`/' "$out/enrich-commands.txt"
	echo
	echo "Raw runs (round contender wall_s phase_events_per_s): \`$runs\`"
} >> "$report"
say ""
say "wrote $report"
