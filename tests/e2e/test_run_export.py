# SPDX-License-Identifier: Apache-2.0
"""`iocbus run` with `exports:` (src/daemon/exports.c, src/export/watch.c).

A MISP change on the ZeroMQ feed rewrites the Zeek Intel file and the
Suricata dataset within debounce (+ the once-a-second floor), atomically
(a new inode, no temporary file left); a removal drops the line; the
per-export metrics follow. A bad format is refused at start.
"""
import base64
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Iocbus, Misp, wait_until  # noqa: E402


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode()
    except FileNotFoundError:
        return ""


class ExportTest(unittest.TestCase):
    def setUp(self):
        self.misp = Misp(heartbeat=1)
        self.addCleanup(self.misp.close)

    def test_misp_change_rewrites_zeek_and_suricata_files(self):
        d = Iocbus({"misp": self.misp.misp_config(zmq=True)}, start=False)
        self.addCleanup(d.close)
        zeek = os.path.join(d.workdir, "misp.intel")
        dom = os.path.join(d.workdir, "misp-domains.lst")
        cfg = dict(d.config)
        cfg["exports"] = [
            {"name": "zeek", "format": "zeek", "path": zeek, "misp_url": "https://misp.example",
             "debounce": "200ms"},
            {"name": "domains", "format": "suricata-dataset", "path": dom, "types": ["domain"],
             "dataset_type": "string", "debounce": "200ms"},
        ]
        d.write_config(cfg)
        d.start()
        wait_until(lambda: read(zeek).startswith("#fields\tindicator\tindicator_type\tmeta.source"),
                   what="zeek file at start")
        ino = os.stat(zeek).st_ino
        ev = self.misp.control("event", info="export e2e")
        a = self.misp.attribute(ev, "domain", "new-c2.example")
        wait_until(lambda: "\nnew-c2.example\tIntel::DOMAIN\t" in read(zeek), what="zeek rewritten")
        line = [x for x in read(zeek).split("\n") if x.startswith("new-c2.example\t")][0]
        self.assertTrue(line.endswith("\thttps://misp.example/events/view/%s" % ev["id"]), line)
        self.assertIn("export e2e", line)
        self.assertNotEqual(os.stat(zeek).st_ino, ino, "not replaced by rename")
        b64 = base64.b64encode(b"new-c2.example").decode()
        wait_until(lambda: b64 + "\n" in read(dom), what="dataset rewritten")
        self.assertTrue(read(dom).endswith("\n"))
        self.assertEqual([f for f in os.listdir(d.workdir) if ".tmp." in f], [])

        self.misp.control("attribute/delete", id=a["id"])
        wait_until(lambda: "new-c2.example" not in read(zeek), what="line gone after delete")
        wait_until(lambda: (d.metric("iocbus_export_writes_total", export="zeek") or 0) >= 3,
                   what="writes counted")
        self.assertEqual(d.metric("iocbus_export_errors_total", export="zeek"), 0)
        self.assertGreater(d.metric("iocbus_export_last_write_seconds", export="domains"), 0)
        self.assertEqual(d.term(), 0)

    def test_unknown_format_refused(self):
        d = Iocbus({"misp": self.misp.misp_config(zmq=True)}, start=False)
        self.addCleanup(d.close)
        cfg = dict(d.config)
        cfg["exports"] = [{"name": "x", "format": "zeek-intel", "path": os.path.join(d.workdir, "x")}]
        d.write_config(cfg)
        with self.assertRaises(Exception):
            d.start(timeout=10)


if __name__ == "__main__":
    unittest.main()
