#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark (not a test): sightings per second end to end, src/sightings into
tests/servers/misp_server.py /sightings/add, driven by tests/unit/sightings_driver.c
(built with the test suite). Run through bench/bench_sightings.sh.

Scenarios (N sightings each, rate limit off):
  one-key    A attributes, one source, one timestamp: every queued sighting shares
             the batching key, so batches are as large as batch_max allows;
  mixed      the same sightings from S sources (apps / sensors) interleaved one by
             one, with the timestamp advancing every 1,000: the realistic stream,
             where a batch made only of a consecutive run of one key would be tiny.
The clock runs from the first add to the moment the driver counts all N sent;
the server's own count of stored sightings is checked (every one exactly once).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import harness as h  # noqa: E402

DRIVER = os.environ["IOCB_SIGHTINGS_DRIVER"]
N = int(os.environ.get("N", "100000"))
ATTRS = int(os.environ.get("ATTRS", "1000"))
SOURCES = int(os.environ.get("SOURCES", "4"))
BATCH = int(os.environ.get("BATCH", "500"))        # batch_max
SCENARIOS = os.environ.get("SCENARIOS", "one-key mixed").split()
ROUNDS = int(os.environ.get("ROUNDS", "1"))
SERVER_ARGS = os.environ.get("SERVER_ARGS", "").split()


def run(misp, uuids, scenario, batch):
    with tempfile.TemporaryDirectory() as state:
        url = "http://127.0.0.1:%d" % misp.rest_port
        p = subprocess.Popen([DRIVER, url, misp.key, state, str(batch), "0", "0"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "READY"

        def cmd(line):
            p.stdin.write(line + "\n")
            p.stdin.flush()
            return p.stdout.readline().strip()

        before = misp.control("stats")
        t0 = time.monotonic()
        ts = 1729510000
        # sighting i is of attribute i % ATTRS; mixed: from source i % SOURCES, the
        # timestamp advancing every 1,000; queued 1,000 per add_many (one LMDB commit)
        mixed = scenario == "mixed"
        block = []
        for i in range(N):
            if mixed and i % 1000 == 0 and i:
                ts += 1
            block.append("%s bench-%d 0 %d" % (uuids[i % len(uuids)], i % SOURCES if mixed else 0, ts))
            if len(block) == 1000 or i == N - 1:
                assert cmd("list " + " ".join(block)) == "ok %d" % len(block)
                block = []
        t1 = time.monotonic()
        deadline = t1 + 600
        while True:
            st = json.loads(cmd("stats"))
            if st["sent"] >= N or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        t2 = time.monotonic()
        cmd("quit")
        p.stdin.close()
        p.wait(timeout=30)
        after = misp.control("stats")
        stored = after.get("sightings", 0) - before.get("sightings", 0)
        return {"scenario": scenario, "n": N, "sent": st["sent"], "requests": st["requests"],
                "queued_s": t1 - t0, "total_s": t2 - t0, "rate": st["sent"] / (t2 - t0),
                "stored": stored, "batch": batch}


def main():
    misp = h.Misp(args=SERVER_ARGS)
    try:
        e = misp.control("event", info="bench")
        uuids = [misp.control("attribute", event_id=e["id"], type="ip-dst",
                              value="198.51.%d.%d" % (i // 250, i % 250 + 1))["uuid"] for i in range(ATTRS)]
        for r in range(ROUNDS):
            for sc in SCENARIOS:
                res = run(misp, uuids, sc, BATCH)
                ok = res["sent"] == N and res["stored"] == N
                print("round=%d scenario=%s n=%d batch=%d requests=%d queued_s=%.2f total_s=%.2f "
                      "sightings_per_s=%.0f stored=%d ok=%d vs_threatbus_700=%.1fx"
                      % (r + 1, sc, N, res["batch"], res["requests"], res["queued_s"], res["total_s"],
                         res["rate"], res["stored"], ok, res["rate"] / 700.0), flush=True)
    finally:
        misp.close()


if __name__ == "__main__":
    main()
