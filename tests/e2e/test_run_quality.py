# SPDX-License-Identifier: Apache-2.0
"""Indicator decay and expiry in `iocbus run` (issue #15 §2).

Against the MISP test server (ZeroMQ + REST), with the NIDS decaying model
and a maximum age of a few seconds for ip-dst, and a log pipeline from a
file to a file:
  - a fresh indicator enriches, with threat.indicator.confidence and
    misp.decay_score;
  - it expires while the daemon runs, with no reload: it stops enriching,
    /v1/lookup still shows it, as expired, and the sweep counts it;
  - a type-0 sighting (MISP's misp_json_sighting on ZeroMQ) brings it back;
  - a type-2 (expiration) sighting expires it at once.
"""
import http.client
import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Iocbus, Misp, wait_until  # noqa: E402

MODEL = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "fixtures", "misp", "decaying-models", "nids-simple-model.json")
MAX_AGE = 4  # seconds: short enough to expire during the test


class QualityTest(unittest.TestCase):
    def setUp(self):
        self.misp = Misp(heartbeat=1)
        self.addCleanup(self.misp.close)
        self.tmp = tempfile.TemporaryDirectory(prefix="iocbus-quality-")
        self.addCleanup(self.tmp.cleanup)
        self.log = os.path.join(self.tmp.name, "eve.json")
        self.out = os.path.join(self.tmp.name, "out.json")
        open(self.log, "w").close()
        self.n = 0

    def sighting(self, uuid, typ):
        """POST /sightings/add as a MISP client would; MISP publishes misp_json_sighting."""
        c = http.client.HTTPConnection("127.0.0.1", self.misp.rest_port, timeout=10)
        try:
            c.request("POST", "/sightings/add", json.dumps({"id": uuid, "type": typ}),
                      {"Authorization": self.misp.key, "Accept": "application/json",
                       "Content-Type": "application/json"})
            r = c.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, body)
            self.assertIn(b"Sighting", body)
        finally:
            c.close()

    def event_line(self, value):
        """Append one event with destination.ip `value`; return its output line once written."""
        self.n += 1
        n = self.n
        with open(self.log, "a") as f:
            f.write(json.dumps({"destination": {"ip": value}, "n": n}) + "\n")

        def written():
            if not os.path.exists(self.out):
                return None
            for line in open(self.out):
                doc = json.loads(line)
                if doc.get("n") == n:
                    return doc
            return None
        wait_until(lambda: written() is not None, timeout=15, what="event %d written" % n)
        return written()

    def quality(self, d, value):
        m = d.lookup(value)["matches"]
        self.assertEqual(len(m), 1, "lookups show the indicator, expired or not")
        return m[0]["attribute"]["quality"]

    def test_expiry_sightings(self):
        d = Iocbus({
            "misp": self.misp.misp_config(zmq=True),
            "quality": {"decay": {"models": [MODEL]},
                        "expire_after": {"rules": [{"type": "ip-dst", "max_age": "%ds" % MAX_AGE}]},
                        "sweep_interval": "1s"},
            "inputs": [{"name": "logs", "type": "file", "path": self.log, "poll_interval": "20ms"}],
            "outputs": [{"name": "out", "type": "file", "path": self.out}],
            "pipeline": {"batch_interval": "20ms"},
        })
        self.addCleanup(d.close)
        ev = self.misp.control("event", info="decay")
        a = self.misp.attribute(ev, "ip-dst", "192.0.2.77")
        wait_until(lambda: d.hits("192.0.2.77") == 1, what="attribute stored")

        # fresh: enriches, with the NIDS model's score (base 80, seconds old) and its confidence
        doc = self.event_line("192.0.2.77")
        ind = doc["threat"]["enrichments"][0]["indicator"]
        self.assertEqual(ind["confidence"], "High")
        self.assertGreater(doc["misp"]["decay_score"], 79)
        self.assertFalse(self.quality(d, "192.0.2.77")["expired"])

        # expires while running, no reload: no enrichment, still visible in lookups, counted
        wait_until(lambda: self.quality(d, "192.0.2.77")["expired"], timeout=MAX_AGE + 5, what="expired")
        doc = self.event_line("192.0.2.77")
        self.assertNotIn("threat", doc, "an expired indicator does not enrich")
        q = self.quality(d, "192.0.2.77")
        self.assertEqual(q["model"], 1)
        self.assertIsNotNone(q["score"])
        wait_until(lambda: (d.metric("iocbus_quality_expired") or 0) == 1, timeout=5, what="sweep counted it")
        self.assertGreaterEqual(d.metric("iocbus_quality_expired_total"), 1)
        wait_until(lambda: (d.metric("iocbus_quality_expired_hits_total", input="logs") or 0) >= 1,
                   what="skipped hit counted")

        # a type-0 sighting from MISP (ZeroMQ) brings it back
        self.sighting(a["uuid"], "0")
        wait_until(lambda: not self.quality(d, "192.0.2.77")["expired"], timeout=5, what="back after sighting")
        self.assertIsNotNone(self.quality(d, "192.0.2.77")["last_sighting"])
        doc = self.event_line("192.0.2.77")
        self.assertIn("threat", doc, "enriches again after a sighting")
        self.assertEqual(d.metric("iocbus_quality_decay_sightings_total", type="0"), 1)

        # a type-2 (expiration) sighting expires it at once
        self.sighting(a["uuid"], "2")
        wait_until(lambda: self.quality(d, "192.0.2.77")["expired"], timeout=5, what="expired by type 2")
        doc = self.event_line("192.0.2.77")
        self.assertNotIn("threat", doc)
        self.assertEqual(d.metric("iocbus_quality_decay_sightings_total", type="2"), 1)
        self.assertEqual(d.metric("iocbus_quality_decay_models"), 1)
        self.assertEqual(d.term(), 0)


if __name__ == "__main__":
    unittest.main()
