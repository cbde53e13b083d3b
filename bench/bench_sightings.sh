#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmark (not a test): sightings per second end to end into the MISP test
# server, against Threat Bus's 700/s (one POST per sighting). Run by hand;
# figures go to docs/BUS.md "Sightings" and docs/performance.md.
#
#   bench/bench_sightings.sh
#   N=200000 SCENARIOS=mixed ROUNDS=3 bench/bench_sightings.sh
#
# Builds the release preset (SKIP_BUILD=1: do not) and runs
# bench/bench_sightings.py with its sightings_driver: src/sightings (LMDB queue,
# batching, HTTP) posting to tests/servers/misp_server.py on loopback.
# Knobs: N [100000] sightings per run, ATTRS [1000] attributes, SOURCES [4]
# (mixed), BATCH [500] batch_max, SCENARIOS ["one-key mixed"], ROUNDS [1],
# SERVER_ARGS [""] extra misp_server.py arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${PRESET:-release}
if [ -z "${SKIP_BUILD:-}" ]; then
	cmake --preset "$PRESET" >/dev/null
	cmake --build --preset "$PRESET" --target sightings_driver -j2 >/dev/null
fi
IOCB_SIGHTINGS_DRIVER=${IOCB_SIGHTINGS_DRIVER:-build/$PRESET/tests/sightings_driver}
[ -x "$IOCB_SIGHTINGS_DRIVER" ] || { echo "bench_sightings: no $IOCB_SIGHTINGS_DRIVER" >&2; exit 1; }
export IOCB_SIGHTINGS_DRIVER
exec /usr/bin/python3 bench/bench_sightings.py
