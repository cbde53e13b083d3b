#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Kafka mock cluster process is a real Kafka peer: kcat (a separate
# librdkafka client) reads its metadata, produces to a pre-created topic and
# a new one, and reads back exactly what it wrote, in order.
set -euo pipefail
mock=$1
command -v kcat >/dev/null || { echo "kcat missing (scripts/deps.sh installs it)"; exit 1; }
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# The mock exits when its stdin closes: keep a pipe open for its lifetime.
mkfifo "$tmp/in"
"$mock" 3 misp_attribute:2 < "$tmp/in" > "$tmp/out" 2> "$tmp/err" &
pid=$!
exec 4> "$tmp/in"
for _ in $(seq 100); do grep -q '^READY' "$tmp/out" 2>/dev/null && break; sleep 0.1; done
boot=$(sed -n 's/^READY bootstraps=//p' "$tmp/out")
[ -n "$boot" ] || { echo "FAIL: no READY line"; cat "$tmp/err"; exit 1; }

fail=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi; }

timeout 20 kcat -b "$boot" -L > "$tmp/meta" 2>&1 || true
check "metadata lists 3 brokers" '[ "$(grep -c "broker [0-9]* at" "$tmp/meta")" -eq 3 ]'
check "pre-created topic has 2 partitions" 'grep -q "topic \"misp_attribute\" with 2 partitions" "$tmp/meta"'

seq 1 500 | sed 's/.*/{"n":&}/' > "$tmp/msgs"
timeout 20 kcat -b "$boot" -P -t roundtrip -p 0 < "$tmp/msgs"
timeout 20 kcat -b "$boot" -C -t roundtrip -p 0 -o beginning -e -q > "$tmp/got" 2> "$tmp/cerr" || true
check "500 messages read back in order" 'cmp -s "$tmp/msgs" "$tmp/got"'

exec 4>&-   # closing its stdin stops the mock
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "mock exits when its stdin closes" '! kill -0 "$pid" 2>/dev/null'
exit $fail
