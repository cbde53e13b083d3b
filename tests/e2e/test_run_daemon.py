# SPDX-License-Identifier: Apache-2.0
"""`iocbus run` as a process: start-up errors, SIGTERM, SIGHUP reloads (bad
file kept out, filter change applied both ways), event tags learned from
event messages feeding the filter and an event untag retracting, restart
with a persisted store and cursor, and the API key never in the log."""
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Iocbus, Misp, wait_until  # noqa: E402


class DaemonTest(unittest.TestCase):
    def setUp(self):
        self.misp = Misp(heartbeat=1)
        self.addCleanup(self.misp.close)

    def event(self, **kw):
        return self.misp.control("event", **kw)

    def attr(self, event, typ, value, **kw):
        return self.misp.attribute(event, typ, value, **kw)

    def test_bad_config_at_start_exits_2_with_location(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "bad.yaml")
            with open(p, "w") as f:
                f.write("misp:\n  zmq:\n    prot: 1\n")
            r = subprocess.run([BIN, "run", "-c", p], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 2)
            self.assertIn("bad.yaml:3:5", r.stderr.decode())
            r = subprocess.run([BIN, "run"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
            self.assertEqual(r.returncode, 2)

    def test_reload_filter_change_and_bad_reload(self):
        ev = self.event(info="reload")
        cfg = {"misp": self.misp.misp_config(zmq=True, filters=[{"types": ["ip-dst"]}])}
        with Iocbus(cfg) as d:
            self.attr(ev, "ip-dst", "192.0.2.10")
            self.attr(ev, "domain", "reload.example")
            wait_until(lambda: d.hits("192.0.2.10") == 1, what="ip-dst through the filter")
            # the domain was delivered (same batch or before) and filtered out
            wait_until(lambda: (d.metric("iocbus_updates_total", action="filtered") or 0) >= 1,
                       what="domain filtered")
            self.assertEqual(d.hits("reload.example"), 0)

            # A broken file is refused and the old configuration keeps running.
            with open(d.config_path, "w") as f:
                f.write("misp: [\n")
            d.hup()
            wait_until(lambda: d.metric("iocbus_config_reloads_total", result="error") == 1, what="bad reload")
            self.attr(ev, "ip-dst", "192.0.2.11")
            wait_until(lambda: d.hits("192.0.2.11") == 1, what="intake after a bad reload")

            # New filter: domains only. The ip-dst go, the domain comes back from MISP.
            cfg["misp"]["filter"] = [{"types": ["domain"]}]
            d.write_config(cfg)
            d.hup()
            wait_until(lambda: d.metric("iocbus_config_reloads_total", result="ok") == 1, what="reload")
            wait_until(lambda: d.hits("reload.example") == 1, timeout=20, what="domain after the filter change")
            self.assertEqual(d.hits("192.0.2.10"), 0)
            self.assertEqual(d.hits("192.0.2.11"), 0)
            self.assertGreaterEqual(d.metric("iocbus_filter_removed_total"), 2)
            self.attr(ev, "domain", "after.example")
            wait_until(lambda: d.hits("after.example") == 1, what="live intake after reload")
            self.assertEqual(d.term(), 0)
            self.assertNotIn(self.misp.key, d.log())

    def test_event_tags_feed_the_filter_and_untag_retracts(self):
        cfg = {"misp": self.misp.misp_config(zmq=True, filters=[{"tags": ["tlp:white"]}])}
        with Iocbus(cfg) as d:
            white = self.event(info="white", tags=["tlp:white"])
            other = self.event(info="other")
            # misp_json_attribute messages do not carry event tags: the stored ones decide
            self.attr(white, "ip-dst", "198.51.100.7")
            self.attr(other, "ip-dst", "198.51.100.8")
            wait_until(lambda: d.hits("198.51.100.7") == 1, what="attribute of the tagged event")
            self.assertEqual(d.hits("198.51.100.8"), 0)
            self.misp.control("event/untag", id=white["id"], tag="tlp:white")
            wait_until(lambda: d.hits("198.51.100.7") == 0, what="untag retracts")

    def test_event_tag_attach_fetches_what_now_passes(self):
        # The attribute was filtered out when it arrived; tagging its event makes it pass,
        # and only MISP has it: iocbus asks the REST API for that event's attributes.
        cfg = {"misp": self.misp.misp_config(zmq=True, filters=[{"tags": ["tlp:white"]}])}
        with Iocbus(cfg) as d:
            ev = self.event(info="tagged later")
            self.attr(ev, "domain", "later.example")
            wait_until(lambda: (d.metric("iocbus_updates_total", source="zmq", action="filtered") or 0) >= 1,
                       what="filtered on arrival")
            self.assertEqual(d.hits("later.example"), 0)
            n_req = len(self.misp.control("requests"))
            self.misp.control("event/tag", id=ev["id"], tag="tlp:white")
            wait_until(lambda: d.hits("later.example") == 1, timeout=20, what="fetched after the tag")
            bodies = [r.get("body") or "" for r in self.misp.control("requests")[n_req:]]
            self.assertTrue(any('"eventid"' in b for b in bodies), bodies)

    def test_restart_with_store_and_cursor_catches_up(self):
        ev = self.event(info="restart")
        with tempfile.TemporaryDirectory() as store:
            cfg = {"misp": self.misp.misp_config(zmq=True), "store": {"path": store}}
            d = Iocbus(cfg)
            try:
                self.attr(ev, "ip-dst", "203.0.113.1")
                wait_until(lambda: d.hits("203.0.113.1") == 1, what="first add")
                self.assertEqual(d.term(), 0)
                # published while iocbus is down: nobody receives the ZeroMQ frame
                gone = self.attr(ev, "ip-dst", "203.0.113.2")
                self.misp.control("attribute/soft-delete", id=gone["id"])
                self.attr(ev, "ip-dst", "203.0.113.3")
                n_req = len(self.misp.control("requests"))
                d.start()
                self.assertEqual(d.hits("203.0.113.1"), 1)  # from the persisted store
                wait_until(lambda: d.hits("203.0.113.3") == 1, timeout=20, what="catch-up after restart")
                self.assertEqual(d.hits("203.0.113.2"), 0)
                reqs = self.misp.control("requests")[n_req:]
                searches = [r for r in reqs if "restSearch" in r.get("path", "")]
                self.assertTrue(searches, "no restSearch after restart")
                self.assertIn("timestamp", searches[0].get("body") or "", "catch-up was not incremental")
            finally:
                d.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
