#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build iocbus (release preset) and run the main job on the bundled example
# data: load the example MISP feed and restSearch dump, then look up values
# seen in the example logs. No MISP or Elasticsearch needed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release >/dev/null
bin=build/release/src/cli/iocbus

echo "== iocbus load: the bundled example MISP feed and restSearch dump"
$bin load --intel examples/intel/feed --intel examples/intel/restsearch.json
echo
echo "== iocbus lookup: values from the example logs (exit 0 = hit, 1 = no hit)"
set +e
$bin lookup --intel examples/intel/feed --intel examples/intel/restsearch.json \
  203.0.113.77 198.51.100.23 C2.Evil-Update.Example. 44d88612fea8a8f36de82e1278abb02f 192.0.2.200
echo "exit status: $?"
