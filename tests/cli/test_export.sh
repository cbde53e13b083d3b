#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `iocbus export` on the bundled example intel: the value list per MISP type,
# the to_ids rule shared with lookups, every exported value found again by
# `iocbus lookup`, the file replaced atomically, and usage errors.
#   test_export.sh IOCBUS_BINARY SOURCE_DIR
set -u
bin=$1
src=$2
. "$(dirname "$0")/lib.sh"
same() { # same DESCRIPTION FILE EXPECTED_TEXT
  if [ "$(cat "$2")" = "$3" ]; then ok; else bad "$1: got"; cat "$2"; fi
}
intel=(--intel "$src/examples/intel/feed" --intel "$src/examples/intel/restsearch.json")

check "export --help" 0 "$bin" export --help
check "ip-dst to stdout" 0 "$bin" export "${intel[@]}" --type ip-dst
same "ip-dst values, distinct and sorted" "$work/out" "2001:db8::bad
203.0.113.128/25
203.0.113.77"
check "ip-dst with --non-ids" 0 "$bin" export "${intel[@]}" --non-ids --type=ip-dst
same "to_ids=false values too" "$work/out" "10.0.0.0/8
2001:db8::bad
203.0.113.128/25
203.0.113.77"

check "every type" 0 "$bin" export "${intel[@]}" --format values
grep -qx 'c2.evil-update.example|203.0.113.5' "$work/out" && ok || bad "composite value missing"
[ "$(wc -l <"$work/out")" -gt 10 ] && ok || bad "only $(wc -l <"$work/out") values exported"
# Every exported single value is one `iocbus lookup` finds (composites are not lookup values).
check "single-value types" 0 "$bin" export "${intel[@]}" --type ip-dst --type ip-src --type domain \
  --type hostname --type md5 --type sha1 --type sha256 --type email-src
mapfile -t vals <"$work/out"
[ "${#vals[@]}" -gt 5 ] && ok || bad "only ${#vals[@]} single values exported"
for v in "${vals[@]}"; do
  "$bin" lookup "${intel[@]}" -- "$v" >/dev/null 2>&1 && ok || bad "exported value '$v' not found by lookup"
done

# --out replaces the file whole; a failed export leaves it as it was.
printf 'old\n' >"$work/ip.txt"
check "export to a file" 0 "$bin" export "${intel[@]}" --type ip-dst --out "$work/ip.txt"
same "file content" "$work/ip.txt" "2001:db8::bad
203.0.113.128/25
203.0.113.77"
grep -q "3 values from 5 attributes" "$work/err" && ok || bad "summary: $(cat "$work/err")"
check "failed export" 2 "$bin" export --intel "$work/nope.json" --type ip-dst --out "$work/ip.txt"
same "old file kept" "$work/ip.txt" "2001:db8::bad
203.0.113.128/25
203.0.113.77"
[ "$(ls "$work" | grep -c '\.tmp\.')" = 0 ] && ok || bad "temporary file left: $(ls "$work")"

# --format zeek: the Intel file, composites split, meta.url from --misp-url.
check "zeek to a file" 0 "$bin" export "${intel[@]}" --format zeek --misp-url https://misp.example/ --out "$work/misp.intel"
[ "$(head -1 "$work/misp.intel")" = "$(printf '#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url')" ] && ok || bad "zeek header: $(head -1 "$work/misp.intel")"
grep -q "$(printf '^c2.evil-update.example\tIntel::DOMAIN\t')" "$work/misp.intel" && ok || bad "domain|ip part 1 missing"
grep -q "$(printf '^2001:db8:bad::/48\tIntel::SUBNET\t.*\thttps://misp.example/events/view/42$')" "$work/misp.intel" && ok || bad "subnet / meta.url line missing"
grep -q "lines from" "$work/err" && ok || bad "zeek summary: $(cat "$work/err")"
# --format suricata-dataset: base64 strings for domains, plain addresses for ip, every line ending in '\n'.
check "suricata string dataset" 0 "$bin" export "${intel[@]}" --format suricata-dataset --type domain --out "$work/dom.lst"
grep -qx 'cmFuc29tLWRyb3AuZXhhbXBsZQ==' "$work/dom.lst" && ok || bad "base64 of ransom-drop.example missing"
[ "$(tail -c1 "$work/dom.lst" | od -An -c | tr -d ' ')" = '\n' ] && ok || bad "last line not newline-terminated"
check "suricata ip dataset" 0 "$bin" export "${intel[@]}" --format suricata-dataset --type ip-dst
same "ip dataset: single addresses, no CIDR" "$work/out" "2001:db8::bad
203.0.113.77"
check "bad dataset type" 2 "$bin" export "${intel[@]}" --format suricata-dataset --dataset-type ipv5
check "unknown format" 2 "$bin" export "${intel[@]}" --format zeek-intel
grep -q "values" "$work/err" && ok || bad "format list missing"
check "unknown type" 2 "$bin" export "${intel[@]}" --type ip-bogus
check "stray operand" 2 "$bin" export "${intel[@]}" 203.0.113.77

# issue #14: --format suricata-iprep with tag rules (attribute and event tags) and the categories
# file; --datarep; rules that give one category two names are refused.
check "iprep with rules" 0 "$bin" export "${intel[@]}" --format suricata-iprep --type ip-dst \
  --iprep-rule '*=1,MISP,50' --iprep-rule 'tlp:amber=2,AMBER,70' --iprep-categories "$work/cats.txt"
grep -qx '203.0.113.77,2,70' "$work/out" && ok || bad "tlp:amber address not in category 2"
grep -qx '203.0.113.128/25,1,50' "$work/out" && ok || bad "CIDR not kept in category 1"
same "iprep categories" "$work/cats.txt" "1,MISP,MISP tags *
2,AMBER,MISP tags tlp:amber"
check "datarep lines" 0 "$bin" export "${intel[@]}" --format suricata-dataset --type domain --datarep 7
grep -qx 'c3RlYWxlci1wYW5lbC5leGFtcGxl,7' "$work/out" && ok || bad "datarep line missing"
check "iprep rules disagree" 2 "$bin" export "${intel[@]}" --format suricata-iprep --iprep-rule 'x=1,A,5' --iprep-rule 'y=1,B,5'
check "datarep out of range" 2 "$bin" export "${intel[@]}" --format suricata-dataset --datarep 65536

finish export
