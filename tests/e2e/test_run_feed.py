# SPDX-License-Identifier: Apache-2.0
"""`iocbus run` following a MISP-format feed (issue #4), over HTTP from
tests/servers/feed_server.py and from a local directory, on a copy of
examples/intel/feed:
  - the feed's attributes are matchable;
  - unchanged rounds send If-None-Match, get 304 and re-fetch nothing;
  - a changed event (attribute removed, timestamp bumped in the manifest) is
    the only file fetched again, and only its removed attribute misses;
  - an event dropped from the manifest loses its attributes, not the ones
    another event shares;
  - a failing server counts errors and keeps the previous attributes;
  - the `misp.filter` list applies to feeds;
  - a restart with a persisted store keeps the state and sweeps events the
    feed dropped while iocbus was down.
Every wait is a bounded poll on a condition.
"""
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import PY, ROOT, Iocbus, ServerProcess, _read_ready, wait_until  # noqa: E402

FEED_SERVER = os.path.join(ROOT, "tests/servers/feed_server.py")
EXAMPLE = os.path.join(ROOT, "examples/intel/feed")
EV_PHISH = "81090a86-cce3-57ee-9169-00dea942b0ef"   # login-micros0ft.example, 203.0.113.77
EV_C2 = "cc219755-21fd-5404-a1dc-0e212576ebfb"      # 203.0.113.5, 203.0.113.77, cdn-evil-update.example
EV_RANSOM = "fbac5b63-e14f-564b-a336-f0480c8e6e35"  # ransom-drop.example, ransom-ops@...
ATTR_RANSOM_DOMAIN = "90c54691-bb8f-5f1e-808b-25a38bd8b5d7"  # domain ransom-drop.example
WAIT = 20.0


class FeedServer(ServerProcess):
    """tests/servers/feed_server.py over `directory`; .url is the feed URL."""

    def __init__(self, directory):
        self.proc = subprocess.Popen([PY, FEED_SERVER, "--dir", directory], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        line = _read_ready(self.proc, "READY", 30)
        self.port = int(line.split("=", 1)[1])
        self.url = "http://127.0.0.1:%d" % self.port

    def _call(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request(method, path, json.dumps(body) if body is not None else None,
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            if r.status != 200:
                raise AssertionError("%s %s -> %d" % (method, path, r.status))
            return json.loads(data)
        finally:
            c.close()

    def requests(self):
        return self._call("GET", "/_control/requests")

    def reset(self):
        self._call("POST", "/_control/reset", {})

    def fail(self, count, status=503):
        self._call("POST", "/_control/fail", {"count": count, "status": status})


def feed_cfg(url, **extra):
    c = {"feeds": [{"name": "t", "url": url, "interval": "1s"}]}
    c.update(extra)
    return c


class FeedTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="iocbus-feed-e2e-")
        self.addCleanup(self.tmp.cleanup)
        self.dir = os.path.join(self.tmp.name, "feed")
        shutil.copytree(EXAMPLE, self.dir)

    # ---- feed edits (atomic: write a temp file, rename) -----------------------
    def _write_json(self, name, obj):
        p = os.path.join(self.dir, name)
        with open(p + ".tmp", "w") as f:
            json.dump(obj, f, indent=1)
        os.replace(p + ".tmp", p)

    def _read_json(self, name):
        with open(os.path.join(self.dir, name)) as f:
            return json.load(f)

    def remove_attribute(self, event, attr_uuid):
        """Drop one attribute from an event file and bump the event's timestamp in both files."""
        doc = self._read_json(event + ".json")
        ev = doc["Event"]
        ev["Attribute"] = [a for a in ev["Attribute"] if a["uuid"] != attr_uuid]
        ev["timestamp"] = str(int(ev["timestamp"]) + 100)
        self._write_json(event + ".json", doc)
        man = self._read_json("manifest.json")
        man[event]["timestamp"] = ev["timestamp"]
        self._write_json("manifest.json", man)

    def drop_event(self, event):
        man = self._read_json("manifest.json")
        del man[event]
        self._write_json("manifest.json", man)

    # ---- metrics ------------------------------------------------------------------
    @staticmethod
    def m(d, name, **labels):
        return d.metric(name, source="feed:t", **labels) or 0

    def wait_loaded(self, d):
        wait_until(lambda: d.hits("login-micros0ft.example") == 1 and d.hits("ransom-drop.example") == 1
                   and d.hits("203.0.113.5") == 1 and d.hits("203.0.113.77") == 2, WAIT, what="feed loaded")

    def assert_untouched_hits(self, d):
        self.assertEqual(d.hits("login-micros0ft.example"), 1)
        self.assertEqual(d.hits("ransom-ops@ransom-drop.example"), 1)
        self.assertEqual(d.hits("cdn-evil-update.example"), 1)

    # ---- tests ----------------------------------------------------------------------
    def test_http_feed(self):
        with FeedServer(self.dir) as fs, Iocbus(feed_cfg(fs.url)) as d:
            self.wait_loaded(d)
            wait_until(lambda: self.m(d, "iocbus_source_messages_total") == 4, WAIT, what="4 files read")
            self.assertEqual(self.m(d, "iocbus_source_up"), 1)
            self.assertEqual(self.m(d, "iocbus_source_errors_total"), 0)
            self.assertGreater(self.m(d, "iocbus_source_bytes_total"), 1000)
            first = [(r["path"], r["status"]) for r in fs.requests()]
            self.assertEqual(sorted(first), sorted([("/manifest.json", 200)] + [
                ("/%s.json" % e, 200) for e in (EV_PHISH, EV_C2, EV_RANSOM)]))

            # Unchanged: the next rounds ask for the manifest with its ETag and get 304, nothing else.
            fs.reset()
            wait_until(lambda: len(fs.requests()) >= 2, WAIT, what="two more rounds")
            reqs = fs.requests()
            self.assertTrue(all(r["path"] == "/manifest.json" for r in reqs), reqs)
            self.assertTrue(all(r["if_none_match"] and r["status"] == 304 for r in reqs), reqs)
            self.assertEqual(self.m(d, "iocbus_source_messages_total"), 4)

            # One event changes: one attribute goes, the rest of the feed stays; only it is re-fetched.
            fs.reset()
            self.remove_attribute(EV_RANSOM, ATTR_RANSOM_DOMAIN)
            wait_until(lambda: d.hits("ransom-drop.example") == 0, WAIT, what="removed attribute misses")
            self.assertEqual(d.hits("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"), 1)
            self.assert_untouched_hits(d)
            self.assertEqual(d.hits("203.0.113.77"), 2)
            fetched = sorted({r["path"] for r in fs.requests() if r["status"] == 200})
            self.assertEqual(fetched, ["/%s.json" % EV_RANSOM, "/manifest.json"])
            ev_req = [r for r in fs.requests() if r["path"] == "/%s.json" % EV_RANSOM]
            self.assertTrue(ev_req[0]["if_none_match"], ev_req)  # conditional on the old version's ETag

            # An event leaves the manifest: its attributes miss; a value it shares keeps the other event's.
            fs.reset()
            self.drop_event(EV_C2)
            wait_until(lambda: d.hits("203.0.113.5") == 0, WAIT, what="dropped event's attributes gone")
            self.assertEqual(d.hits("cdn-evil-update.example"), 0)
            self.assertEqual(d.hits("203.0.113.77"), 1)
            self.assertEqual(d.hits("login-micros0ft.example"), 1)
            self.assertEqual(sorted({r["path"] for r in fs.requests()}), ["/manifest.json"])

            # The server fails: errors grow, up drops to 0, the attributes stay.
            errs = self.m(d, "iocbus_source_errors_total")
            fs.fail(100000, 503)
            wait_until(lambda: self.m(d, "iocbus_source_errors_total") >= errs + 2, WAIT, what="errors counted")
            self.assertEqual(self.m(d, "iocbus_source_up"), 0)
            self.assertEqual(d.hits("login-micros0ft.example"), 1)
            self.assertEqual(d.hits("ransom-ops@ransom-drop.example"), 1)
            fs.fail(0)
            wait_until(lambda: self.m(d, "iocbus_source_up") == 1, WAIT, what="feed up again")
            self.assertEqual(d.hits("login-micros0ft.example"), 1)
            self.assertIn("feed=t", d.log())

    def test_local_directory(self):
        with Iocbus(feed_cfg(self.dir)) as d:
            self.wait_loaded(d)
            wait_until(lambda: self.m(d, "iocbus_source_messages_total") == 4, WAIT, what="4 files read")
            self.remove_attribute(EV_RANSOM, ATTR_RANSOM_DOMAIN)
            wait_until(lambda: d.hits("ransom-drop.example") == 0, WAIT, what="removed attribute misses")
            wait_until(lambda: self.m(d, "iocbus_source_messages_total") == 6, WAIT, what="manifest + 1 event")
            self.assert_untouched_hits(d)
            self.drop_event(EV_C2)
            wait_until(lambda: d.hits("203.0.113.5") == 0, WAIT, what="dropped event's attributes gone")
            self.assertEqual(d.hits("203.0.113.77"), 1)
            # a missing event file: counted, previous state kept
            errs = self.m(d, "iocbus_source_errors_total")
            os.unlink(os.path.join(self.dir, EV_PHISH + ".json"))
            man = self._read_json("manifest.json")
            man[EV_PHISH]["timestamp"] = str(int(man[EV_PHISH]["timestamp"]) + 1)
            self._write_json("manifest.json", man)
            wait_until(lambda: self.m(d, "iocbus_source_errors_total") > errs, WAIT, what="missing file counted")
            self.assertEqual(d.hits("login-micros0ft.example"), 1)

    def test_filter_applies(self):
        cfg = feed_cfg(self.dir, misp={"filter": [{"types": ["domain"]}]})
        with Iocbus(cfg) as d:
            wait_until(lambda: d.hits("ransom-drop.example") == 1 and d.hits("login-micros0ft.example") == 1,
                       WAIT, what="domains loaded")
            wait_until(lambda: self.m(d, "iocbus_updates_total", action="filtered") > 0, WAIT, what="filtered")
            self.assertEqual(d.hits("203.0.113.77"), 0)
            self.assertEqual(d.hits("ransom-ops@ransom-drop.example"), 0)

    def test_restart_with_persisted_store(self):
        store = os.path.join(self.tmp.name, "store")
        with FeedServer(self.dir) as fs, Iocbus(feed_cfg(fs.url, store={"path": store})) as d:
            self.wait_loaded(d)
            wait_until(lambda: self.m(d, "iocbus_source_messages_total") == 4, WAIT, what="4 files read")
            self.assertEqual(d.term(), 0)
            # while iocbus is down the feed drops an event and the server is unreachable
            self.drop_event(EV_C2)
            fs.fail(100000, 503)
            d.start()
            # the persisted store answers before the feed is reachable
            self.assertEqual(d.hits("login-micros0ft.example"), 1)
            self.assertEqual(d.hits("203.0.113.5"), 1)
            wait_until(lambda: self.m(d, "iocbus_source_errors_total") >= 1, WAIT, what="errors")
            self.assertEqual(d.hits("203.0.113.5"), 1)  # nothing removed on a failure
            fs.reset()
            # reachable again: fetched once (no state in memory), the dropped event swept
            wait_until(lambda: d.hits("203.0.113.5") == 0, WAIT, what="dropped event swept after restart")
            self.assertEqual(d.hits("203.0.113.77"), 1)
            self.assertEqual(d.hits("login-micros0ft.example"), 1)
            self.assertEqual(d.hits("ransom-drop.example"), 1)
            wait_until(lambda: self.m(d, "iocbus_source_messages_total") == 3, WAIT, what="3 files")
            first = [r for r in fs.requests() if r["path"] == "/manifest.json"][0]
            self.assertIsNone(first["if_none_match"])


if __name__ == "__main__":
    unittest.main()
