# SPDX-License-Identifier: Apache-2.0
"""End-to-end: src/sightings (through tests/unit/sightings_driver.c) against
tests/servers/misp_server.py, loopback only, each test bounded by deadlines:
  - delivery: sightings reach MISP, batched (fewer requests than sightings);
  - outage: 5xx for a while, then recovery: nothing lost, nothing doubled;
  - kill -9 of the driver between add and delivery, restart: nothing lost or doubled;
  - no match: rejected and dropped, not retried for ever;
  - rate limit; dedup window; throughput figure (sightings/s) printed.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

DRIVER = os.environ.get("IOCB_SIGHTINGS_DRIVER", "")


class Driver:
    def __init__(self, misp, state, batch=500, rate=0, dedup=0):
        url = "http://127.0.0.1:%d" % misp.rest_port
        self.p = subprocess.Popen([DRIVER, url, misp.key, state, str(batch), str(rate), str(dedup)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "READY"

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def stats(self):
        return json.loads(self.cmd("stats"))

    def wait(self, fn, timeout=20, what="condition"):
        return h.wait_until(lambda: fn(self.stats()), timeout=timeout, what=what)

    def quit(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.close()
        self.p.wait(timeout=10)
        self.p.stdout.close()

    def kill9(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(timeout=10)
        self.p.stdin.close()
        self.p.stdout.close()


def sighting_requests(misp):
    return [r for r in misp.control("requests") if r["path"].startswith("/sightings/add")]


class SightingsTest(unittest.TestCase):
    def setUp(self):
        self.misp = h.Misp()
        self.tmp = tempfile.TemporaryDirectory()
        e = self.misp.control("event", info="sightings")
        self.uuids = [self.misp.control("attribute", event_id=e["id"], type="ip-dst",
                                        value="192.0.2.%d" % i)["uuid"] for i in range(1, 21)]

    def tearDown(self):
        self.misp.close()
        self.tmp.cleanup()

    def add_all(self, d, source="zeek@sensor-1", ts=1729510000):
        for u in self.uuids:
            self.assertEqual(d.cmd("add %s %s 0 %d" % (u, source, ts)), "ok 1")

    def check_once_each(self, source="zeek@sensor-1"):
        got = [s for s in self.misp.control("sightings") if s["source"] == source]
        self.assertEqual(len(got), len(self.uuids), "each sighting exactly once")
        self.assertEqual(len({s["attribute_id"] for s in got}), len(self.uuids))
        self.assertTrue(all(s["date_sighting"] == "1729510000" and s["type"] == "0" for s in got))

    def test_delivery_batched(self):
        d = Driver(self.misp, self.tmp.name)
        self.add_all(d)
        d.wait(lambda s: s["sent"] == 20 and s["queued"] == 0, what="all sent")
        d.quit()
        self.check_once_each()
        reqs = sighting_requests(self.misp)
        self.assertLess(len(reqs), 20, "batched")
        body = json.loads(reqs[0]["body"])
        self.assertEqual(set(body), {"id", "source", "type", "timestamp"})
        self.assertEqual(body["type"], "0")

    def test_outage_then_recovery(self):
        self.misp.control("sightings/outage", seconds=3, mode="status")
        d = Driver(self.misp, self.tmp.name)
        self.add_all(d)
        d.wait(lambda s: s["failed"] >= 2, what="failures during the outage")
        self.assertEqual(self.misp.control("sightings"), [])
        d.wait(lambda s: s["sent"] == 20 and s["queued"] == 0, timeout=30, what="recovered")
        d.quit()
        self.check_once_each()

    def test_kill9_restart(self):
        self.misp.control("sightings/outage", seconds=2, mode="status")
        d = Driver(self.misp, self.tmp.name)
        self.add_all(d)
        d.kill9()           # added (durable), not delivered yet: MISP is answering 5xx
        self.assertEqual(self.misp.control("sightings"), [])
        d = Driver(self.misp, self.tmp.name)
        self.assertEqual(d.stats()["queued"], 20, "resumed from disk")
        d.wait(lambda s: s["sent"] == 20 and s["queued"] == 0, timeout=30, what="delivered after restart")
        d.quit()
        self.check_once_each()

    def test_no_match_rejected(self):
        d = Driver(self.misp, self.tmp.name)
        self.assertEqual(d.cmd("add 11111111-2222-4333-8444-555555555555 nobody 0 1729510000"), "ok 1")
        d.wait(lambda s: s["rejected"] == 1 and s["queued"] == 0, what="rejected")
        time.sleep(0.5)
        self.assertEqual(len(sighting_requests(self.misp)), 1, "not retried")
        d.quit()

    def test_dedup_window(self):
        d = Driver(self.misp, self.tmp.name, dedup=60)
        for _ in range(3):
            self.assertEqual(d.cmd("add %s dup 0 1729510000" % self.uuids[0]), "ok 1")
        self.assertEqual(d.cmd("add %s dup 1 1729510000" % self.uuids[0]), "ok 1")
        d.wait(lambda s: s["sent"] == 2 and s["deduplicated"] == 2, what="deduplicated")
        d.quit()

    def test_rate_limited(self):
        # 20 sightings at 10/s: a burst of 10, then 10 more a second later, in batches of at most 10.
        d = Driver(self.misp, self.tmp.name, rate=10)
        t0 = time.monotonic()
        self.add_all(d)
        d.wait(lambda s: s["sent"] == 20, what="all sent")
        elapsed = time.monotonic() - t0
        d.quit()
        self.assertGreaterEqual(elapsed, 0.9, "rate limited")
        for r in sighting_requests(self.misp):
            self.assertLessEqual(len(json.loads(r["body"])["id"].split("|")), 10)
        self.check_once_each()

    def test_interleaved_sources_batched(self):
        # Two apps' sightings interleaved one by one: a batch takes its key's sightings from
        # further down the queue, so 40 sightings of 2 keys take 2 requests (not 40).
        d = Driver(self.misp, self.tmp.name)
        quads = []
        for u in self.uuids:
            quads += ["%s app-a 0 1729510000" % u, "%s app-b 0 1729510000" % u]
        self.assertEqual(d.cmd("list " + " ".join(quads)), "ok 40")
        d.wait(lambda s: s["sent"] == 40, what="40 sent")
        d.quit()
        self.assertEqual(len(sighting_requests(self.misp)), 2)
        for src in ("app-a", "app-b"):
            self.check_once_each(source=src)

    def throughput(self, verb, what):
        # 20,000 sightings of 20 attributes (synthetic uuids would not match), unlimited rate.
        d = Driver(self.misp, self.tmp.name)
        t0 = time.monotonic()
        for u in self.uuids:
            self.assertEqual(d.cmd(verb % u), "ok 1000")
        t1 = time.monotonic()
        d.wait(lambda s: s["sent"] == 20000, timeout=50, what="20000 sent")
        t2 = time.monotonic()
        d.quit()
        self.assertEqual(len([s for s in self.misp.control("sightings") if s["source"] == "bench"]), 20000)
        print("\nthroughput (%s): 20000 queued in %.2fs (%.0f/s), delivered in %.2fs (%.0f/s), %d requests"
              % (what, t1 - t0, 20000 / (t1 - t0), t2 - t0, 20000 / (t2 - t0),
                 len(sighting_requests(self.misp))), file=sys.stderr)

    def test_throughput(self):
        self.throughput("add %s bench 0 1729510000 1000", "add")

    def test_throughput_add_many(self):
        # One commit per 1,000: delivery (and the test server) is then the limit.
        self.throughput("many %s bench 1729510000 1000", "add_many")

if __name__ == "__main__":
    unittest.main(verbosity=2)
