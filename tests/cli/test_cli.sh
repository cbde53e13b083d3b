#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end checks of the iocbus command on the bundled example intel:
# exit codes, output shape, persistence across processes, config errors with
# their location, and that the API key is never printed.
#   test_cli.sh IOCBUS_BINARY SOURCE_DIR
set -u
bin=$1
src=$2
. "$(dirname "$0")/lib.sh"
intel=(--intel "$src/examples/intel/feed" --intel "$src/examples/intel/restsearch.json")

check "version" 0 "$bin" --version
has "version text" "$work/out" "^iocbus "
for c in load lookup check-config config; do check "$c --help" 0 "$bin" $c --help; done
check "unknown command" 2 "$bin" frobnicate

check "load examples" 0 "$bin" load "${intel[@]}"
has "load summary" "$work/out" "^loaded 36 indicator attributes from 2 input"
has "load per type" "$work/out" "ip-dst  *6"
has "load skip reason" "$work/out" "invalid_value  *1"
has "load skip location" "$work/out" "attribute 9423e101-c685-5fdc-b58f-5aa0adf254f4: ip-dst value"

check "lookup hit" 0 "$bin" lookup "${intel[@]}" 198.51.100.99
has "CIDR containment" "$work/out" '"prefix":24'
/usr/bin/python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$work/out" && ok || bad "lookup output is not JSON lines"
check "lookup normalises" 0 "$bin" lookup "${intel[@]}" C2.EVIL-UPDATE.EXAMPLE.
has "domain|ip part" "$work/out" '"type":"domain|ip"'
check "lookup miss" 1 "$bin" lookup "${intel[@]}" 192.0.2.200
# "--" ends the options, as getopt has it: what follows are values, even "-1" or "--store".
check "lookup -- VALUE" 0 "$bin" lookup "${intel[@]}" -- 198.51.100.99
has "lookup -- VALUE looked the value up" "$work/out" '"value":"198.51.100.99"'
check "lookup -- -VALUE" 1 "$bin" lookup "${intel[@]}" -- -1 --store
has "a value after -- that looks like an option" "$work/out" '"value":"--store"'
check "load -- PATH" 0 "$bin" load -- "$src/examples/intel/restsearch.json"
printf '{"source":{"ip":"198.51.100.99"}}\n' >"$work/-x.ndjson"
check "enrich -- -FILE" 0 bash -c 'cd "$1" && shift && "$@"' _ "$work" "$bin" enrich "${intel[@]}" -- -x.ndjson
has "enrich read the file after --" "$work/out" "198.51.100.99"
check "run -- OPERAND" 2 "$bin" run -c /nonexistent.yaml -- extra
has "run refuses operands" "$work/err" "takes no operands"
check "non-IDS hidden" 1 "$bin" lookup "${intel[@]}" e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
check "non-IDS with --non-ids" 0 "$bin" lookup --non-ids "${intel[@]}" e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
check "lookup error: missing intel" 2 "$bin" lookup --intel "$work/nope.json" 1.2.3.4
echo '{"response": {"Attribute": [' >"$work/broken.json"
check "load of broken JSON" 2 "$bin" load --intel "$work/broken.json"
has "broken JSON located" "$work/err" "broken.json.*byte"

# Persistence: one process loads, another looks up.
check "load into store" 0 "$bin" load --store "$work/store" "${intel[@]}"
check "lookup from store" 0 "$bin" lookup --store "$work/store" 203.0.113.77
has "three events share the value" "$work/out" "Example: commodity stealer"

# Configuration: Threat Bus nesting, errors with location, the key never shown.
cat >"$work/ok.yaml" <<YAML
plugins:
  apps:
    misp:
      api: {host: "https://misp.example", ssl: false, key: "SECRETKEY0123456789012345678901234567890"}
      filter:
        - orgs: [1, "25"]
          types: [ip-dst, domain]
      zmq: {host: localhost, port: 50000}
YAML
check "check-config ok" 0 "$bin" check-config "$work/ok.yaml"
check "config dump" 0 "$bin" config dump "$work/ok.yaml"
check "check-config -- FILE" 0 "$bin" check-config -- "$work/ok.yaml"
check "config dump -- FILE" 0 "$bin" config dump -- "$work/ok.yaml"
if grep -q SECRETKEY "$work/out" "$work/err"; then bad "API key printed by config dump"; else ok; fi
sed 's/orgs:/org:/' "$work/ok.yaml" >"$work/typo.yaml"
check "misspelt filter key" 2 "$bin" check-config "$work/typo.yaml"
has "typo located" "$work/err" "typo.yaml:6:"
if grep -q SECRETKEY "$work/err"; then bad "API key in an error"; else ok; fi
sed 's/ip-dst, domain/src-ip/' "$work/ok.yaml" >"$work/type.yaml"
check "unknown MISP type" 2 "$bin" check-config "$work/type.yaml"
has "type suggestion" "$work/err" "did you mean 'ip-src'"

# Filters apply to loads: only org 25's attributes... none match here.
cat >"$work/filter.yaml" <<YAML
misp:
  filter:
    - tags: ["tlp:green"]
YAML
check "load with event-tag filter" 0 "$bin" load --config "$work/filter.yaml" "${intel[@]}"
has "filter counts" "$work/out" "filtered"
check "filtered out value" 1 "$bin" lookup --config "$work/filter.yaml" "${intel[@]}" 198.51.100.99
check "filtered in value" 0 "$bin" lookup --config "$work/filter.yaml" "${intel[@]}" login-micros0ft.example

# Large files load on two threads (parser + store writer). That this gives the
# same result as one thread is test_ingest's test_pipeline_same_as_one_thread.
/usr/bin/python3 "$src/bench/gen_misp.py" --format restsearch -o "$work/big.json" --attributes 5000 \
  --events 500 --seed 7 --values-out "$work/values.tsv" --values-count 200 --quiet
[ "$(stat -c %s "$work/big.json")" -gt 1048576 ] && ok || bad "big.json too small to take the pipeline path"
mapfile -t vals < <(cut -f2 "$work/values.tsv" | grep -v '|')
"$bin" lookup --intel "$work/big.json" "${vals[@]}" >"$work/piped.json"
[ "$(grep -c '"matches":\[{' "$work/piped.json")" -ge 150 ] && ok || bad "too few sample values found after a pipelined load"

finish
