#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `iocbus warninglists check` on the upstream fixture lists (one per type):
# the lists a value is on and the policy, MISP's matching_attributes with
# --type, the policy of a configuration, a broken list skipped with its
# reason, exit statuses; and `iocbus lookup --config` showing the lists of a
# record it matches (suppressed ones included).
#   test_warninglists.sh IOCBUS_BINARY SOURCE_DIR
set -u
bin=$1
src=$2
. "$(dirname "$0")/lib.sh"
wl="$src/tests/fixtures/misp/warninglists"

check "warninglists --help" 0 "$bin" warninglists --help
check "a value on a list" 0 "$bin" warninglists check --path "$wl" 10.1.2.3
has "cidr list named" "$work/out" '"list":"rfc1918"'
has "false-positive suppresses by default" "$work/out" '"action":"suppress"'
check "values on no list" 1 "$bin" warninglists check --path "$wl" 8.8.8.8 example.org
has "one line per value" "$work/out" '"value":"example.org","warninglists":\[\],"action":"none"'
check "hostname: a subdomain" 0 "$bin" warninglists check --path "$wl" --type domain x.whoami.akamai.net
has "findip-host" "$work/out" '"list":"findip-host"'
check "matching_attributes: rfc1918 does not apply to md5" 1 "$bin" warninglists check --path "$wl" --type md5 10.1.2.3
check "composite type split on |" 0 "$bin" warninglists check --path "$wl" --type ip-dst\|port '192.168.1.1|443'
check "regex list" 0 "$bin" warninglists check --path "$wl" abuse@example.com
has "regex list named" "$work/out" '"type":"regex"'
check "no value" 2 "$bin" warninglists check --path "$wl"
check "unknown type" 2 "$bin" warninglists check --path "$wl" --type nope 1.2.3.4
check "missing path" 2 "$bin" warninglists check --path "$work/none" 1.2.3.4
has "missing path named" "$work/err" "$work/none"
check "unknown subcommand" 2 "$bin" warninglists list

# A broken list is reported and skipped; the others still answer.
mkdir -p "$work/lists/broken" "$work/lists/rfc1918"
cp "$wl/rfc1918.json" "$work/lists/rfc1918/list.json"
printf '{"name":"b","description":"d","version":1,"type":"cidr","list":["10.0.0.0/8","x"]}' >"$work/lists/broken/list.json"
check "broken list skipped" 0 "$bin" warninglists check --path "$work" 10.9.9.9
has "skip reason with file and entry" "$work/err" 'lists/broken/list.json: entry 1: not an address or network'

# The policy of a configuration.
cat >"$work/c.yaml" <<YAML
quality:
  warninglists:
    paths: [$wl]
    lists: [rfc1918]
    false_positive: flag
YAML
check "config policy" 0 "$bin" warninglists check --config "$work/c.yaml" 10.1.2.3 abuse@example.com
has "flag from the config" "$work/out" '"value":"10.1.2.3".*"action":"flag"'
has "lists selection: the regex list is not loaded" "$work/out" '"value":"abuse@example.com","warninglists":\[\]'

# iocbus lookup shows the lists of a matched record (10.0.0.0/8 of the example intel, to_ids false).
check "lookup with warninglists" 0 "$bin" lookup --config "$work/c.yaml" --intel "$src/examples/intel/restsearch.json" \
  --non-ids 10.1.2.3
has "lookup names the list" "$work/out" '"warninglists":\[{"uuid":"[0-9a-f-]*","action":"flag","lists":\["rfc1918"\]}\]'
check "lookup without warninglists" 0 "$bin" lookup --intel "$src/examples/intel/restsearch.json" --non-ids 10.1.2.3
hasnt "no lists without the config" "$work/out" '"warninglists"'
# iocbus enrich with the same configuration: flagged matches name their lists; suppressed ones do not match.
ev='{"destination":{"ip":"10.1.2.3"}}'
printf '%s\n' "$ev" >"$work/ev.json"
check "enrich flagged" 0 "$bin" enrich --config "$work/c.yaml" --intel "$src/examples/intel/restsearch.json" --non-ids "$work/ev.json"
has "misp.warninglists on the match" "$work/out" '"warninglists":\["rfc1918"\]'
sed 's/false_positive: flag/false_positive: suppress/' "$work/c.yaml" >"$work/s.yaml"
check "enrich suppressed" 0 "$bin" enrich --config "$work/s.yaml" --intel "$src/examples/intel/restsearch.json" --non-ids "$work/ev.json"
hasnt "no enrichment for a suppressed value" "$work/out" 'enrichments'
check "enrich without lists" 0 "$bin" enrich --intel "$src/examples/intel/restsearch.json" --non-ids "$work/ev.json"
has "enriched without lists" "$work/out" 'enrichments'
finish test_warninglists
