#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end checks of `iocbus enrich` as a command: inputs (files, stdin,
# several files with and without final newlines, unreadable ones), outputs
# (-o, --reject, --hits-only, a closed pipe), the order of lines with 1, 2
# and 4 threads and blocks of every size, lines longer than --max-line
# streamed through unchanged, --stats, --list-fields, the `enrich:` config
# section and its errors. What an enriched line contains is the golden
# tests' business (tests/golden/enrich/); here a hit is only recognised.
#   test_enrich.sh IOCBUS_BINARY
set -euo pipefail
bin=$(realpath "$1")
py=/usr/bin/python3
. "$(dirname "$0")/lib.sh"
cd "$work"
same() { # same DESCRIPTION FILE1 FILE2
  if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; cmp "$2" "$3" | head -3 || true; fi
}

cat >intel.json <<'JSON'
{"response":{"Attribute":[
{"id":"1","event_id":"1","uuid":"5f0c5a8e-1b2c-4d3e-8f90-0123456789ab","type":"ip-dst","category":"Network activity","value":"203.0.113.7","to_ids":true,"timestamp":"1700000000","Event":{"id":"1","uuid":"6a1d6b9f-2c3d-4e4f-9a01-123456789abc","info":"test event","orgc_id":"1"}},
{"id":"2","event_id":"1","uuid":"5f0c5a8e-1b2c-4d3e-8f90-0123456789ac","type":"domain","category":"Network activity","value":"evil.example","to_ids":true,"timestamp":"1700000000","Event":{"id":"1","uuid":"6a1d6b9f-2c3d-4e4f-9a01-123456789abc","info":"test event","orgc_id":"1"}}
]}}
JSON
run=("$bin" enrich --intel intel.json --occurred 2026-01-01T00:00:00.000Z)
hit='"misp":{"hit":true'
nhits() { grep -c -- "$hit" "$1" || true; }

# ---- help, basic input and output ------------------------------------------------------------
check "enrich --help" 0 "$bin" enrich --help
has "usage names the options" out "--hits-only"
has "main usage lists enrich" <("$bin" --help) "enrich"
check "unknown option" 2 "${run[@]}" --frobnicate
check "bad --threads" 2 "${run[@]}" --threads 0
has "bad --threads says why" err "threads: expected an integer from 1 to 64"
check "bad --max-line" 2 "${run[@]}" --max-line 10
check "bad --on-miss" 2 "${run[@]}" --on-miss drop

printf '%s\n' '{"destination":{"ip":"203.0.113.7","port":443}}' '{"destination":{"ip":"198.51.100.1"}}' \
  '' 'not json' '{"source":{"ip":"203.0.113.7"},"cut":' '[1,2]' >small.json
check "file input" 0 "${run[@]}" small.json
cp out small.out
[ "$(wc -l <small.out)" = 6 ] && ok || bad "file input: $(wc -l <small.out) lines, want 6"
[ "$(nhits small.out)" = 1 ] && ok || bad "file input: $(nhits small.out) hits, want 1"
has "hit has threat.enrichments" small.out '"threat":{"enrichments":\[{'
sed -n '2,6p' small.json >want && sed -n '2,6p' small.out >got && same "misses, blank and rejects byte for byte" want got
check "stdin input (no FILE)" 0 "${run[@]}" <small.json
same "stdin = file" small.out out
check "stdin input (-)" 0 "${run[@]}" - <small.json
same "- = file" small.out out
check "-o OUT" 0 "${run[@]}" -o o.json small.json
same "-o writes the output" small.out o.json
[ ! -s out ] && ok || bad "-o: standard output not empty"
[ "$(stat -c %a o.json)" = 644 ] && ok || bad "-o: mode $(stat -c %a o.json), want 644"
echo stale >o.json
check "-o truncates" 0 "${run[@]}" --output=o.json small.json
same "-o truncated the old content" small.out o.json
check "-o naming an input" 2 "${run[@]}" -o small.json small.json
has "-o naming an input says why" err "also an input"
[ "$(wc -l <small.json)" = 6 ] && ok || bad "-o naming an input damaged it"

# ---- several files, final newlines, unreadable inputs -----------------------------------------
printf '{"a":1}\n{"destination":{"ip":"203.0.113.7"}}' >nonl1.json
printf '{"b":2}\n' >nl.json
printf '{"c":3}' >nonl2.json
: >empty.json
check "concatenation" 0 "${run[@]}" nonl1.json empty.json nl.json nonl2.json
printf '{"a":1}\n%s\n{"b":2}\n{"c":3}' "$(sed -n 2p out)" >want
same "missing newline inserted between files, kept at the end" want out
[ "$(nhits out)" = 1 ] && ok || bad "concatenation: the joined line is not enriched"
check "unreadable input" 2 "${run[@]}" nl.json does-not-exist.json nonl2.json
has "unreadable input named" err "does-not-exist.json"
printf '{"b":2}\n{"c":3}' >want
same "other inputs processed" want out
check "directory as input" 2 "${run[@]}" nl.json . nonl2.json
same "other inputs processed (directory)" want out

# ---- order across threads and block sizes ----------------------------------------------------
chunked() { # write file $1 to stdout in pieces of 1 to 3000 bytes, flushing each
  $py -c 'import os, random, sys
data, r, i = open(sys.argv[1], "rb").read(), random.Random(3), 0
while i < len(data):
    n = r.randrange(1, 3000)
    os.write(1, data[i:i + n])
    i += n' "$1"
}
$py - <<'PY' >gen.json
import json, random
r = random.Random(7)
for i in range(6000):
    k = r.random()
    if k < 0.05:
        print(json.dumps({"n": i, "destination": {"ip": "203.0.113.7", "port": 80}}))
    elif k < 0.08:
        print(json.dumps({"n": i, "_path": "dns", "id.orig_h": "10.0.0.1", "query": "a.evil.example"}))
    elif k < 0.10:
        print(json.dumps({"n": i, "event_type": "dns", "dns": {"rrname": "evil.example"}}))
    elif k < 0.12:
        print('{"n": %d, "broken": ' % i)
    elif k < 0.13:
        print("")
    elif k < 0.135:
        print(json.dumps({"n": i, "pad": "x" * r.randrange(1100, 5000), "destination": {"ip": "203.0.113.7"}}))
    else:
        print(json.dumps({"n": i, "source": {"ip": "192.0.2.%d" % (i % 250)}, "msg": "y" * r.randrange(0, 300)}))
PY
"${run[@]}" gen.json >t1.json
hits1=$(nhits t1.json)
[ "$hits1" -ge 300 ] && ok || bad "generated input: only $hits1 hits"
[ "$(wc -l <t1.json)" = 6000 ] && ok || bad "generated input: $(wc -l <t1.json) lines out, want 6000"
for t in 1 2 4; do
  for b in 1 700 4096 65536; do
    "${run[@]}" --threads "$t" --max-line 1KiB --block-size "$b" gen.json >tb.json 2>tb.err || bad "threads $t block $b failed"
    # Through a pipe written in uneven pieces: short reads hand partial blocks over early.
    chunked gen.json | "${run[@]}" --threads "$t" --max-line 1KiB --block-size "$b" --stats >tbs.json 2>tbs.err ||
      bad "threads $t block $b (pipe) failed"
    same "threads $t, block $b: same bytes with a file and a pipe" tb.json tbs.json
    if [ "$t$b" = 11 ]; then cp tb.json ref1k.json; cp tbs.err ref1k.err; continue; fi
    same "threads $t, block $b: same bytes as one thread" ref1k.json tb.json
    # Counters add up the same whatever the threads (only the time line differs).
    # Which worker saw "the first" reject depends on scheduling: that line is left out.
    grep -v -e '^time:' -e '^  first:' tbs.err >a.err && grep -v -e '^time:' -e '^  first:' ref1k.err >b.err &&
      same "threads $t, block $b: same --stats" b.err a.err
  done
done
check "four threads, default blocks" 0 "${run[@]}" --threads 4 gen.json
same "four threads = one thread" t1.json out
# The lines over 1 KiB are passed through when --max-line is 1KiB, enriched otherwise.
[ "$(nhits ref1k.json)" -lt "$hits1" ] && ok || bad "--max-line 1KiB changed no hit"
$py - gen.json ref1k.json <<'PY' || bad "--max-line 1KiB: lines over the limit not copied unchanged"
import sys
src, out = (open(p, "rb").read().split(b"\n") for p in sys.argv[1:3])
assert len(src) == len(out)
for a, b in zip(src, out):
    if len(a) > 1024:
        assert a == b
PY

# Every line a hit: the output is ~20 times the input, so a worker writes a block's output in
# several parts (waiting for its turn); the order must still hold.
$py -c 'print("\n".join("{\"n\":%d,\"destination\":{\"ip\":\"203.0.113.7\"}}" % i for i in range(30000)))' >amp.json
"${run[@]}" amp.json >amp1.json
[ "$(nhits amp1.json)" = 30000 ] && ok || bad "amplified: $(nhits amp1.json) hits, want 30000"
for t in 2 4; do
  "${run[@]}" --threads "$t" --block-size 300KiB amp.json >ampt.json || bad "amplified, $t threads failed"
  same "amplified, $t threads: same bytes as one thread" amp1.json ampt.json
done

# ---- long lines, rejects, stats --------------------------------------------------------------
exact() { # a hit line of exactly $1 bytes (newline not counted)
  $py -c 'import sys; h = "{\"destination\":{\"ip\":\"203.0.113.7\"},\"p\":\""
print(h + "q" * (int(sys.argv[1]) - len(h) - 2) + "\"}")' "$1"
}
{
  echo '{"destination":{"ip":"203.0.113.7"}}'
  $py -c 'import sys; sys.stdout.write("{\"pad\":\"" + "z" * (3 << 20) + "\"}\n")'
  echo 'garbage'
  exact 1024
  echo '{"truncated":'
  exact 1025
  echo '{"destination":{"ip":"203.0.113.7"}}'
} >long.json
l4=$(sed -n 4p long.json | tr -d '\n' | wc -c)
[ "$l4" = 1024 ] && ok || bad "test data: line 4 is $l4 bytes, want 1024"
check "3 MiB line with default settings" 0 "${run[@]}" --stats long.json
[ "$(sed -n 2p out | md5sum)" = "$(sed -n 2p long.json | md5sum)" ] && ok || bad "long line changed"
[ "$(wc -l <out)" = 7 ] && ok || bad "long line: $(wc -l <out) lines out, want 7"
has "--stats counts the long line" err "too_long  *1$"
has "--stats counts not_json" err "not_json  *1$"
has "--stats counts truncated" err "truncated  *1$"
has "--stats first reject" err "first: line 2: too_long"
has "--stats line counts" err "^enrich: 7 lines"
has "--stats per field" err "destination.ip  *4$"
has "--stats per type" err "ip-dst  *4$"
has "--stats time" err "events/s"
check "--max-line 1KiB, streamed in 1 KiB blocks" 0 "${run[@]}" --max-line 1KiB --block-size 1 --threads 2 \
  --stats long.json
same "--max-line: rejects unchanged, in order" <(sed -n '2,3p;5,6p' long.json) <(sed -n '2,3p;5,6p' out)
[ "$(sed -n 4p out | grep -c -- "$hit")" = 1 ] && ok || bad "a line of exactly --max-line bytes is not enriched"
[ "$(sed -n 6p out | grep -c -- "$hit")" = 0 ] && ok || bad "a line of --max-line + 1 bytes is enriched"
has "--stats counts both long lines" err "too_long  *2$"
check "--reject" 0 "${run[@]}" --max-line 1KiB --block-size 1 --threads 4 --reject rej.json long.json
sed -n '2,3p;5,6p' long.json >want
same "--reject gets exactly the rejected lines" want rej.json
[ "$(wc -l <out)" = 3 ] && ok || bad "--reject: $(wc -l <out) lines left in the output, want 3"
[ "$(nhits out)" = 3 ] && ok || bad "--reject: $(nhits out) hits in the output, want 3"
check "--reject naming the output" 2 "${run[@]}" -o same.json --reject same.json small.json
has "--reject naming the output says why" err "is the output file"
check "--hits-only" 0 "${run[@]}" --hits-only long.json
[ "$(wc -l <out)" = 4 ] && ok || bad "--hits-only: $(wc -l <out) lines, want 4"
[ "$(nhits out)" = 4 ] && ok || bad "--hits-only: $(nhits out) hits, want 4"
check "--hits-only with --reject" 0 "${run[@]}" --hits-only --reject rej.json --threads 2 gen.json
[ "$(wc -l <out)" = "$hits1" ] && ok || bad "--hits-only: $(wc -l <out) lines, want $hits1"
grep -c '"broken": $' rej.json >/dev/null && ok || bad "--hits-only --reject: rejects not in the reject file"
# Line numbers in messages run across files, whatever block a line landed in.
$py -c 'print("\n".join("garbage" if i == 7777 else "{\"n\":%d}" % i for i in range(3, 9001)))' >ln.json
check "line numbers with 4 threads" 0 "${run[@]}" --threads 4 --max-line 1KiB --block-size 1 --stats nonl1.json ln.json
has "reject located across files and blocks" err "first: line 7777: not_json"
check "--on-miss mark" 0 "${run[@]}" --on-miss mark small.json
has "--on-miss mark marks" out '"misp":{"hit":false}'

# ---- a closed output pipe ---------------------------------------------------------------------
for t in 1 3; do
  # The group runs in a subshell of the pipeline: its status comes back through a file.
  { "${run[@]}" --threads "$t" gen.json gen.json gen.json 2>epipe.err && echo 0 >epipe.rc || echo $? >epipe.rc; } |
    head -c 10 >/dev/null
  [ "$(cat epipe.rc)" = 2 ] && ok || bad "closed pipe, $t thread(s): exit $(cat epipe.rc), want 2"
  has "closed pipe reported ($t threads)" epipe.err "write failed: Broken pipe"
done

# ---- field map --------------------------------------------------------------------------------
check "--list-fields" 0 "$bin" enrich --list-fields
has "--list-fields ECS" out "^destination.ip  *ip  *destination.port"
has "--list-fields Zeek" out "^id.resp_h  *ip"
check "--list-fields --preset none --field" 0 "$bin" enrich --list-fields --preset none --field my.addr=ip,port=my.port
[ "$(wc -l <out)" = 2 ] && ok || bad "--preset none: $(wc -l <out) lines, want a header and one field"
has "--field listed" out "^my.addr  *ip  *my.port  *all"
check "--field none removes" 0 "$bin" enrich --list-fields --preset ecs --field destination.ip=none
hasnt "--field none removed the field" out "^destination.ip "
check "bad --field" 2 "$bin" enrich --list-fields --field my.addr=ipp
has "bad --field named" err "enrich.fields.my.addr: unknown kind 'ipp'"
check "--field without =" 2 "$bin" enrich --list-fields --field my.addr
check "bad --preset" 2 "$bin" enrich --list-fields --preset elastic
printf '%s\n' '{"my":{"addr":"203.0.113.7"}}' '{"destination":{"ip":"203.0.113.7"}}' >custom.json
check "--field enriches" 0 "${run[@]}" --preset none --field my.addr=ip custom.json
[ "$(sed -n 1p out | grep -c -- "$hit")" = 1 ] && ok || bad "--field: the mapped field does not hit"
[ "$(sed -n 2p out | grep -c -- "$hit")" = 0 ] && ok || bad "--preset none: a preset field still hits"

# ---- the enrich: section -------------------------------------------------------------------------
cat >cfg.yaml <<'YAML'
intel: [intel.json]
enrich:
  preset: none
  fields:
    my.addr: ip
  on_miss: mark
  threads: 2
  reject_file: cfg-rej.json
  match_type: from_config
YAML
check "config enrich section" 0 "$bin" enrich -c cfg.yaml custom.json small.json
[ "$(sed -n 1p out | grep -c -- "$hit")" = 1 ] && ok || bad "config: enrich.fields does not hit"
has "config: on_miss mark" out '"misp":{"hit":false}'
has "config: match_type" out '"type":"from_config"'
printf '%s\n' 'not json' '{"source":{"ip":"203.0.113.7"},"cut":' '[1,2]' >want
same "config: reject_file" want cfg-rej.json
check "command line over config" 0 "$bin" enrich -c cfg.yaml --on-miss pass --match-type cli --reject - \
  --field destination.ip=ip custom.json
[ "$(nhits out)" = 2 ] && ok || bad "--field adds to enrich.fields"
hasnt "--on-miss over on_miss" out '"hit":false'
has "--match-type over match_type" out '"type":"cli"'
check "check-config with enrich" 0 "$bin" check-config cfg.yaml
sed 's/my.addr: ip/my.addr: ipp/' cfg.yaml >badcfg.yaml
check "check-config: bad field spec" 2 "$bin" check-config badcfg.yaml
has "bad field spec names the file and key" err "badcfg.yaml: enrich.fields.my.addr: unknown kind 'ipp'"
check "enrich: bad field spec" 2 "$bin" enrich -c badcfg.yaml custom.json
has "enrich: bad field spec names the file" err "badcfg.yaml: enrich.fields.my.addr"
sed 's/threads: 2/threads: 100/' cfg.yaml >badcfg.yaml
check "check-config: threads out of range" 2 "$bin" check-config badcfg.yaml
has "threads out of range located" err "badcfg.yaml:7:12: enrich.threads: 100 is out of range 1..64"
check "missing intel" 2 "$bin" enrich --intel nope.json small.json
check "no intel at all" 0 "$bin" enrich small.json
has "no intel warned" err "no indicators loaded"
same "no intel: output = input" small.json out

finish
