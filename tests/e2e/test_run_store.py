# SPDX-License-Identifier: Apache-2.0
"""`iocbus run` with a store whose commits fail (issue #11 item 5): a map too
small for what is loaded. The daemon keeps serving lookups from memory, and
says so: /healthz answers "degraded ... store=failing (<reason>)" and
iocbus_store_commit_errors_total counts every failed commit, the start-up
intel load's and the ZeroMQ source's batches alike."""
import json
import os
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Iocbus, Misp, wait_until  # noqa: E402


def write_intel(path, n):
    """n ip-dst attributes of one event, as a restSearch answer (about 130 B each in LMDB)."""
    ev = {"uuid": "5f1e2d3c-0000-4000-8000-000000000001", "id": "1", "info": "generated"}
    attrs = [{"uuid": str(uuid.UUID(int=i + 1)), "type": "ip-dst", "category": "Network activity",
              "value": "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255), "to_ids": True,
              "timestamp": "1700000000", "event_id": "1", "Event": ev} for i in range(n)]
    with open(path, "w") as f:
        json.dump({"response": {"Attribute": attrs}}, f)


class StoreCommitFailureTest(unittest.TestCase):
    def setUp(self):
        self.misp = Misp(heartbeat=1)
        self.addCleanup(self.misp.close)
        self.dir = tempfile.TemporaryDirectory(prefix="iocbus-store-")
        self.addCleanup(self.dir.cleanup)

    def health(self, d):
        st, body = d.get("/healthz")
        return st, body.decode()

    def test_failed_commits_show_in_healthz_and_counter(self):
        intel = os.path.join(self.dir.name, "intel.json")
        write_intel(intel, 12000)  # about 1.6 MB in LMDB: more than a 1 MiB map holds
        cfg = {"misp": self.misp.misp_config(zmq=True),
               "store": {"path": os.path.join(self.dir.name, "store"), "map_size": "1MiB"},
               "intel": [intel]}
        with Iocbus(cfg, workdir=self.dir.name) as d:
            st, body = self.health(d)
            self.assertEqual(st, 200, body)  # lookups still work from memory: not a reason to restart
            self.assertTrue(body.startswith("degraded "), body)
            self.assertIn("store=failing", body)
            self.assertIn("store map full", body)
            self.assertEqual(d.hits("10.0.0.1"), 1)
            first = d.metric("iocbus_store_commit_errors_total")
            self.assertGreaterEqual(first, 1)

            # A live add: its batch commit fails too, and is counted; the value is served from memory.
            ev = self.misp.control("event", info="while the store is full")
            self.misp.attribute(ev, "ip-dst", "192.0.2.77")
            wait_until(lambda: d.hits("192.0.2.77") == 1, what="live add applied")
            wait_until(lambda: d.metric("iocbus_store_commit_errors_total") > first,
                       what="the source's failed commit counted")
            self.assertTrue(self.health(d)[1].startswith("degraded "))

    def test_healthy_store_says_ok_and_counts_nothing(self):
        cfg = {"misp": self.misp.misp_config(zmq=True), "store": {"path": os.path.join(self.dir.name, "store")}}
        with Iocbus(cfg, workdir=self.dir.name) as d:
            ev = self.misp.control("event", info="fine")
            self.misp.attribute(ev, "ip-dst", "192.0.2.78")
            wait_until(lambda: d.hits("192.0.2.78") == 1, what="live add applied")
            st, body = self.health(d)
            self.assertEqual(st, 200)
            self.assertTrue(body.startswith("ok"), body)
            self.assertNotIn("store=", body)
            self.assertEqual(d.metric("iocbus_store_commit_errors_total"), 0)


if __name__ == "__main__":
    unittest.main()
