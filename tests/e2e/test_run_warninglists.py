# SPDX-License-Identifier: Apache-2.0
"""Warninglists in `iocbus run` (issue #15 §1): a log file input enriched into a file output,
with intel loaded at start and `quality.warninglists` pointing at a directory of lists.

- a value on a `false-positive` list (rfc1918, upstream fixture) is suppressed: it never
  enriches, the store keeps it (/v1/lookup still shows it) and the suppressed match is counted
  under its list;
- a value on a `known` list is flagged: it enriches, and the match carries misp.warninglists;
- a value on no list enriches as before;
- SIGHUP with a new list file applies it without a restart; so does a list file appearing
  while `watch` is on, with no signal.

Loopback only, bounded waits; run with IOCB_BIN set by ctest (tests/e2e/e2e.cmake)."""
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Iocbus, wait_until  # noqa: E402

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "misp", "warninglists")

EVENT = {"id": "1", "info": "wl test", "uuid": "5f1b0d6e-0000-4000-8000-0000000000e1", "orgc_id": "1", "org_id": "1"}


def attr(n, typ, value):
    return {"id": str(n), "event_id": "1", "uuid": "5f1b0d6e-0000-4000-8000-%012d" % n, "type": typ,
            "category": "Network activity", "to_ids": True, "value": value, "timestamp": "1700000000",
            "Event": EVENT}


INTEL = {"response": {"Attribute": [
    attr(1, "ip-dst", "10.1.2.3"),          # rfc1918: false-positive -> suppress
    attr(2, "domain", "www.example.org"),   # known-hosts: known -> flag
    attr(3, "ip-dst", "198.51.100.7"),      # on no list until a new one arrives
    attr(4, "ip-dst", "203.0.113.9"),       # on no list, ever
]}}

KNOWN = {"name": "Known example hosts", "description": "test list", "version": 1, "type": "hostname",
         "category": "known", "list": ["example.org"], "matching_attributes": ["domain", "hostname"]}
EXTRA = {"name": "Documentation range", "description": "test list", "version": 1, "type": "cidr",
         "list": ["198.51.100.0/24"]}

EVENTS = {"supp": {"destination": {"ip": "10.1.2.3"}},
          "flag": {"url": {"domain": "www.example.org"}},
          "plain": {"destination": {"ip": "198.51.100.7"}},
          "ctrl": {"destination": {"ip": "203.0.113.9"}}}


class Warninglists(unittest.TestCase):
    def setUp(self):
        t = tempfile.TemporaryDirectory(prefix="iocbus-wl-")
        self.addCleanup(t.cleanup)
        self.dir = t.name
        self.wl = os.path.join(self.dir, "lists")
        os.mkdir(self.wl)
        shutil.copy(os.path.join(FIX, "rfc1918.json"), self.wl)
        self.write_list("known-hosts", KNOWN)
        self.intel = os.path.join(self.dir, "intel.json")
        with open(self.intel, "w") as f:
            json.dump(INTEL, f)
        self.log_in = os.path.join(self.dir, "in.ndjson")
        self.out = os.path.join(self.dir, "out.ndjson")
        open(self.log_in, "w").close()
        self.seq = 0

    def write_list(self, name, doc):
        # Written aside and renamed, as a checkout update replaces files.
        tmp = os.path.join(self.dir, name + ".tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, os.path.join(self.wl, name + ".json"))

    def start(self, watch, lists=True, store=None):
        cfg = {"intel": [self.intel],
               "inputs": [{"name": "f", "type": "file", "path": self.log_in, "poll_interval": "20ms"}],
               "outputs": [{"name": "out", "type": "file", "path": self.out}],
               "pipeline": {"batch_interval": "20ms"},
               "quality": {"warninglists": {"paths": [self.wl], "watch": watch, "watch_interval": "100ms"}}}
        if not lists:
            del cfg["quality"]
        if store:
            cfg["store"] = {"path": store}
        d = Iocbus(cfg)
        self.addCleanup(d.close)
        return d

    def send(self, key):
        """Append one event and wait for its output line; returns the decoded line."""
        self.seq += 1
        ev = dict(EVENTS[key], seq=self.seq)
        with open(self.log_in, "a") as f:
            f.write(json.dumps(ev) + "\n")
        seq = self.seq

        def line():
            if not os.path.exists(self.out):
                return None
            with open(self.out) as f:
                for ln in f:
                    o = json.loads(ln)
                    if o.get("seq") == seq:
                        return o
            return None
        wait_until(lambda: line() is not None, timeout=20, what="output line %d" % seq)
        return line()

    @staticmethod
    def enriched(o):
        return bool(o.get("misp", {}).get("hit"))

    def check_start_state(self, d):
        o = self.send("supp")
        self.assertFalse(self.enriched(o), "a suppressed indicator enriched: %r" % o)
        self.assertEqual(d.metric("iocbus_quality_warninglist_suppressed_total", list="rfc1918"), 1)
        # The store keeps it: lookups for people show it, with its lists and the action.
        lk = d.lookup("10.1.2.3")
        self.assertEqual(len(lk["matches"]), 1)
        self.assertEqual([(w["action"], w["lists"]) for w in lk["warninglists"]], [("suppress", ["rfc1918"])])
        o = self.send("flag")
        self.assertTrue(self.enriched(o), "a flagged indicator did not enrich: %r" % o)
        self.assertEqual(o["misp"].get("warninglists"), ["known-hosts"])
        # no decaying model: a plain match is High; the flag lowers it one level
        self.assertEqual(o["threat"]["enrichments"][0]["indicator"]["confidence"], "Medium")
        o = self.send("plain")
        self.assertTrue(self.enriched(o))
        self.assertNotIn("warninglists", o["misp"])
        self.assertEqual(o["threat"]["enrichments"][0]["indicator"]["confidence"], "High")
        self.assertEqual(d.metric("iocbus_quality_warninglist_lists"), 2)

    def test_suppress_flag_and_sighup(self):
        d = self.start(watch=False)
        self.check_start_state(d)
        # A new list, then SIGHUP: 198.51.100.7 is now suppressed, without a restart.
        self.write_list("extra", EXTRA)
        d.hup()
        wait_until(lambda: d.metric("iocbus_quality_warninglist_lists") == 3, timeout=20, what="3 lists after SIGHUP")
        wait_until(lambda: d.metric("iocbus_quality_warninglist_reloads_total", result="ok") == 2, timeout=20,
                   what="second load")
        o = self.send("plain")
        self.assertFalse(self.enriched(o), "the new list did not apply after SIGHUP: %r" % o)
        self.assertEqual(d.metric("iocbus_quality_warninglist_suppressed_total", list="extra"), 1)
        self.assertTrue(self.enriched(self.send("ctrl")))
        # A broken list on reload is skipped with its reason; the others stay.
        with open(os.path.join(self.wl, "broken.json"), "w") as f:
            f.write('{"name": "b", "description": "d", "version": 1, "type": "cidr", "list": ["nope"]}')
        d.hup()
        wait_until(lambda: d.metric("iocbus_quality_warninglist_skipped") == 1, timeout=20, what="skipped list")
        self.assertIn("entry 0: not an address or network: 'nope'", d.log())
        self.assertFalse(self.enriched(self.send("supp")))

    def test_watch_applies_new_list(self):
        d = self.start(watch=True)
        self.check_start_state(d)
        self.write_list("extra", EXTRA)
        wait_until(lambda: d.metric("iocbus_quality_warninglist_lists") == 3, timeout=20,
                   what="the watcher loads the new list")
        wait_until(lambda: not self.enriched(self.send("plain")), timeout=20, interval=0.2,
                   what="198.51.100.7 suppressed after the list file appeared")
        self.assertIn("why=files_changed", d.log())

    def test_restart_without_lists(self):
        # Marks persist with the records (LMDB); a restart without the section must clear them.
        store = os.path.join(self.dir, "store")
        d = self.start(watch=False, store=store)
        self.assertFalse(self.enriched(self.send("supp")))
        self.assertEqual(d.term(), 0)
        d = self.start(watch=False, lists=False, store=store)
        self.assertTrue(self.enriched(self.send("supp")), "a mark of the earlier run's lists survived the restart")
        self.assertIn("marks of an earlier run cleared", d.log())
        self.assertEqual(d.term(), 0)
        d = self.start(watch=False, store=store)
        self.assertFalse(self.enriched(self.send("supp")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
