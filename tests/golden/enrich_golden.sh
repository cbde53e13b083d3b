#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Golden tests of `iocbus enrich`, as data: each directory
# tests/golden/enrich/<case>/ holds
#   intel.json       MISP intel in any shape iocbus loads
#   events.ndjson    the input lines
#   args             optional extra arguments, one per line
#   about            what the case checks (read by people, not by this script)
#   expected.ndjson  the exact expected output
# and is run, from inside the case directory, as
#   iocbus enrich --occurred 2026-01-01T00:00:00.000Z --intel intel.json ARGS... events.ndjson
# The output must equal expected.ndjson byte for byte and the exit status
# must be 0. With IOCB_UPDATE_GOLDEN=1 the expected files are rewritten
# instead (review every changed line before committing it).
#   enrich_golden.sh IOCBUS_BINARY CASE_DIR...
set -euo pipefail
bin=$(realpath "$1")
shift
[ $# -gt 0 ] || { echo "usage: enrich_golden.sh IOCBUS_BINARY CASE_DIR..." >&2; exit 2; }
update=${IOCB_UPDATE_GOLDEN:-0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0

for dir in "$@"; do
  name=$(basename "$dir")
  args=()
  if [ -f "$dir/args" ]; then
    while IFS= read -r a || [ -n "$a" ]; do
      [ -n "$a" ] && args+=("$a")
    done <"$dir/args"
  fi
  rc=0
  (cd "$dir" && timeout 30 "$bin" enrich --occurred 2026-01-01T00:00:00.000Z --intel intel.json \
     ${args[@]+"${args[@]}"} events.ndjson) >"$work/out" 2>"$work/err" || rc=$?
  if [ "$rc" != 0 ]; then
    fail=$((fail + 1))
    echo "FAIL $name: exit status $rc"
    head -5 "$work/err"
    continue
  fi
  if [ "$update" = 1 ]; then
    if ! cmp -s "$work/out" "$dir/expected.ndjson"; then
      cp "$work/out" "$dir/expected.ndjson"
      echo "updated $name"
    fi
    pass=$((pass + 1))
  elif [ ! -f "$dir/expected.ndjson" ]; then
    fail=$((fail + 1))
    echo "FAIL $name: no expected.ndjson (generate with IOCB_UPDATE_GOLDEN=1, then review it)"
  elif cmp -s "$work/out" "$dir/expected.ndjson"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL $name: output differs from expected.ndjson"
    diff -u "$dir/expected.ndjson" "$work/out" | head -40 || true
  fi
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
