#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build with ASan+UBSan (preset "ci") and, as a compile check, the release
# preset (gcc -O3); run every test: unit, golden and
# the fuzz corpus replay; then build the libFuzzer targets and fuzz each one
# briefly (IOCB_FUZZ_SECONDS, default 15; 0 skips). Installs its Debian
# packages first. Closes with ctest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"
# The optimised gcc build that scripts/run-example.sh uses: gcc at -O3 warns
# where clang does not (format truncation), and warnings are errors.
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"

fuzz_seconds=${IOCB_FUZZ_SECONDS:-15}
if [ "$fuzz_seconds" != 0 ]; then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$jobs"
  for f in build/fuzz/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    work=$(mktemp -d)
    # Fuzz a copy of the corpus so new inputs do not land in the tree; a
    # crash leaves its reproducer in $work and fails the run.
    cp -r "fuzz/corpus/$name/." "$work/" 2>/dev/null || true
    echo "fuzz: $name for ${fuzz_seconds}s"
    if ! "$f" -max_total_time="$fuzz_seconds" -max_len=65536 -timeout=10 \
         -artifact_prefix="$work/" "$work" >"$work/log" 2>&1; then
      tail -40 "$work/log"
      echo "fuzz: $name found a crash; reproducer in $work (copy it to fuzz/corpus/$name/)" >&2
      exit 1
    fi
    rm -rf "$work"
  done
fi

ctest --preset ci -j "$jobs"
