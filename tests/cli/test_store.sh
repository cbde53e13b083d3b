#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A broken persistent store, from the command line (issue #11 items 4, 5, 7):
#   - a truncated data.mdb is refused by lookup, load, enrich, run and
#     `store check` with exit 2 and "store damaged: ...", never a signal;
#     `store rebuild` sets it aside;
#   - a commit that fails (LMDB map full; a full file system on a small
#     tmpfs, skipped when mounting is not permitted) makes `load` exit 2 and
#     names the reason in plain words (no space left, not EIO);
#   - `load` reports the store's own memory, the same with or without LMDB.
#   test_store.sh IOCBUS_BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
exec </dev/null
mnt=""
cleanup() {
  if [ -n "$mnt" ]; then umount "$mnt" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

# N ip-dst attributes of one event, as a restSearch answer.
gen() { # gen N FILE
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import json, sys, uuid
n, path = int(sys.argv[1]), sys.argv[2]
ev = {"uuid": "5f1e2d3c-0000-4000-8000-000000000001", "id": "1", "info": "generated"}
attrs = [{"uuid": str(uuid.UUID(int=i + 1)), "type": "ip-dst", "category": "Network activity",
          "value": "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255), "to_ids": True,
          "timestamp": "1700000000", "event_id": "1", "Event": ev} for i in range(n)]
json.dump({"response": {"Attribute": attrs}}, open(path, "w"))
EOF
}
gen 5000 "$work/intel.json"
gen 12000 "$work/big.json"

# ---- item 4: truncated store
check "store --help" 0 "$bin" store --help
has "store usage" "$work/out" "iocbus store check DIR"
check "store without a verb" 2 "$bin" store
check "store check of no store" 2 "$bin" store check "$work/none"
check "load into store" 0 "$bin" load --store "$work/good" "$work/intel.json"
check "store check of an intact store" 0 "$bin" store check "$work/good"
has "store check report" "$work/out" "ok: 5000 attributes"
size=$(stat -c %s "$work/good/data.mdb")
for cut in $((size / 2)) $((size - 4096)) 4096; do
  rm -rf "$work/cut"
  cp -r "$work/good" "$work/cut"
  truncate -s "$cut" "$work/cut/data.mdb"
  check "lookup, store cut to $cut of $size" 2 "$bin" lookup --store "$work/cut" 10.0.0.1
  has "lookup names the damage ($cut)" "$work/err" "store damaged: $work/cut/data.mdb: "
  has "lookup says what to do ($cut)" "$work/err" "iocbus store rebuild $work/cut"
  if [ "$cut" -gt 8192 ]; then has "a truncation is named as such ($cut)" "$work/err" "it was truncated"; fi
  check "load --store, store cut to $cut" 2 "$bin" load --store "$work/cut" "$work/intel.json"
  has "load names the damage ($cut)" "$work/err" "store damaged: "
  check "enrich --store, store cut to $cut" 2 "$bin" enrich --store "$work/cut"
  has "enrich names the damage ($cut)" "$work/err" "store damaged: "
  check "store check, store cut to $cut" 2 "$bin" store check "$work/cut"
  has "store check names the damage ($cut)" "$work/err" "store damaged: "
  printf 'store:\n  path: %s\nhttp:\n  enabled: false\n' "$work/cut" >"$work/run.yaml"
  check "run, store cut to $cut" 2 timeout 30 "$bin" run -c "$work/run.yaml"
  has "run names the damage ($cut)" "$work/err" "store damaged: "
done
has "a file cut inside its meta pages" "$work/err" "no valid LMDB meta pages in its 4096 bytes"
check "store rebuild of a damaged store" 0 "$bin" store rebuild "$work/cut"
check "the rebuilt store is intact" 0 "$bin" store check "$work/cut"
has "rebuilt store is empty" "$work/out" "ok: 0 attributes"
if ls "$work/cut"/data.mdb.damaged-* >/dev/null 2>&1; then ok; else bad "damaged file not kept"; fi
check "store rebuild leaves an intact store alone" 0 "$bin" store rebuild "$work/good"
check "... which still has its data" 0 "$bin" lookup --store "$work/good" 10.0.0.1

# ---- item 5: a commit that fails makes load fail, with the reason in plain words
printf 'store:\n  path: %s\n  map_size: 1MiB\n' "$work/small" >"$work/small.yaml"
check "load into a full map" 2 "$bin" load -c "$work/small.yaml" "$work/big.json"
has "map full named with its key" "$work/err" "store map full: store.map_size"
has "load says nothing was saved" "$work/out" "NOT SAVED"

mkdir -p "$work/mnt"
if mount -t tmpfs -o size=512k tmpfs "$work/mnt" 2>/dev/null; then
  mnt="$work/mnt"
  check "load onto a full file system" 2 "$bin" load --store "$mnt/st" "$work/intel.json"
  has "full disk named" "$work/err" "no space left on device"
  hasnt "not reported as EIO" "$work/err" "Input/output error"
  umount "$mnt" && mnt=""
else
  echo "SKIP: full file system case (cannot mount a tmpfs here; needs root)"
fi

# ---- item 7: the store's own memory, not the process's (LMDB's dirty pages, malloc's cache)
check "load in memory" 0 "$bin" load "$work/intel.json"
mem_only=$(grep -o '[0-9]* bytes per attribute' "$work/out")
check "load into LMDB" 0 "$bin" load --store "$work/mem" "$work/intel.json"
mem_lmdb=$(grep -o '[0-9]* bytes per attribute' "$work/out")
if [ -n "$mem_only" ] && [ "$mem_only" = "$mem_lmdb" ]; then ok; else
  bad "memory figure depends on LMDB: '$mem_only' vs '$mem_lmdb'"; fi

finish test_store.sh
