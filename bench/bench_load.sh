#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark: load 1 M attributes (100 k events) from a restSearch file,
# resident memory per indicator, and reopening the persisted store.
# Not a test: run by hand, figures go to docs/performance.md.
#   bench/bench_load.sh [ATTRS] [EVENTS] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
attrs=${1:-1000000}
events=${2:-100000}
reps=${3:-3}
out=bench/out
mkdir -p "$out"
data=$out/rest-$attrs.json
[ -f "$data" ] || /usr/bin/python3 bench/gen_misp.py --format restsearch -o "$data" \
  --attributes "$attrs" --events "$events" --seed 1 --quiet
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
bin=build/release/src/cli/iocbus
cat "$data" >/dev/null   # warm the page cache: we measure parsing, not the disk

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "# load $attrs attributes ($events events) from $(du -h "$data" | cut -f1) restSearch JSON, in memory"
for i in $(seq "$reps"); do
  $bin load --intel "$data" | tee "$out/load.txt" | awk '/^loaded/ {print $(NF-3)}'
done | median | awk '{printf "load_memory_seconds %s s\n", $1}'
grep -E '^(loaded|store|memory)' "$out/load.txt"

store=$(mktemp -d "$out/store.XXXXXX")
echo "# load into a persisted store (LMDB, durable)"
$bin load --store "$store" --intel "$data" | grep -E '^(loaded|memory)'
echo "# reopen the persisted store and look one value up (process start included)"
for i in $(seq "$reps"); do
  s=$(date +%s.%N); $bin lookup --store "$store" 203.0.113.1 >/dev/null || true; e=$(date +%s.%N)
  echo "$s $e" | awk '{print $2-$1}'
done | median | awk '{printf "reopen_seconds %.3f s\n", $1}'
du -sh "$store" | awk '{print "store_size " $1}'
rm -rf "$store"
