# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Shell helpers the benchmark scripts share (bench_run.sh, bench_enrich.sh,
# bench_pipe.sh, soak.sh). Source it, then call `bench_tmpdir PREFIX` once: it makes
# $tmp, and an EXIT trap kills every process started with `spawn` and removes
# $tmp. Needs bash (EPOCHREALTIME) and $PY for free_port.

say() { printf '%s\n' "$*" >&2; }
die() { say "${BENCH_NAME:-bench}: $*"; exit 1; }
now() { echo "$EPOCHREALTIME"; }
has_part() { case " $PARTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
# nap SECONDS: sleep without a child process (a read that times out), so a
# signal's trap runs at once and nothing is left behind when a subshell dies
nap() { read -rt "$1" <> <(:) || :; }
kv() { sed -n "s/.*\<$1=\([^ ]*\).*/\1/p" <<<"$2"; }

# bench_tmpdir PREFIX: $tmp (short path: sockets have a 108-byte limit) and the cleanup trap.
bench_tmpdir() {
	tmp=$(mktemp -d "/tmp/$1.XXXXXX")
	PIDFILES=()
	trap cleanup EXIT
	trap 'exit 130' INT TERM
}
cleanup() { # SIGTERM to every spawned process, up to 15 s for them to exit (a daemon
	# spools on the way out), then SIGKILL: nothing outlives the script
	local f p left _
	for f in "${PIDFILES[@]+"${PIDFILES[@]}"}"; do
		[ -s "$f" ] || continue
		p=$(cat "$f")
		kill "$p" 2>/dev/null || true
	done
	for _ in $(seq 150); do
		left=
		for f in "${PIDFILES[@]+"${PIDFILES[@]}"}"; do
			[ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && left="$left $(cat "$f")"
		done
		[ -n "$left" ] || break
		sleep 0.1
	done
	# shellcheck disable=SC2086 # a list of pids
	[ -z "$left" ] || kill -9 $left 2>/dev/null || true
	rm -rf "$tmp"
}

spawn() {
	local pidfile=$1
	shift
	PIDFILES+=("$pidfile")
	sh -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" &
}

pid_of() {
	local _
	for _ in $(seq 100); do [ -s "$1" ] && break; sleep 0.05; done
	cat "$1"
}

kill_pidfile() { # kill_pidfile FILE [SIGNAL]: signal, wait up to 10 s, then SIGKILL
	local p _
	for _ in $(seq 100); do [ -s "$1" ] && break; sleep 0.05; done
	[ -s "$1" ] || return 0
	p=$(cat "$1")
	kill "-${2:-TERM}" "$p" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null || true
	rm -f "$1"
}

wait_pidfile() { # wait_pidfile FILE SECONDS: until the process is gone (1: still there)
	local p _
	for _ in $(seq 100); do [ -s "$1" ] && break; sleep 0.05; done   # spawn writes it
	[ -s "$1" ] || return 0
	p=$(cat "$1")
	for _ in $(seq $(($2 * 10))); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
	return 1
}

free_port() {
	$PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # wait_http PORT SECONDS
	local _
	for _ in $(seq $(($2 * 20))); do
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/metrics" && return 0
		sleep 0.05
	done
	return 1
}

cpu_busy() {
	local a b
	a=$(head -n 1 /proc/stat)
	sleep 1
	b=$(head -n 1 /proc/stat)
	printf '%s\n%s\n' "$a" "$b" | awk '{idle[NR] = $5 + $6; t = 0; for (i = 2; i <= NF; i++) t += $i; tot[NR] = t}
		END {dt = tot[2] - tot[1]; printf "%.0f", (dt > 0 ? 100 * (dt - (idle[2] - idle[1])) / dt : 0)}'
}


# build_release: (re)build the release preset unless SKIP_BUILD=1 (bench_mispapi.sh).
build_release() {
	[ "${SKIP_BUILD:-0}" = 1 ] && return 0
	say "# building the release preset"
	cmake --preset release >/dev/null
	nice cmake --build --preset release -j2 >/dev/null
}
