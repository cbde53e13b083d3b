# SPDX-License-Identifier: Apache-2.0
"""`iocbus run` feeding Suricata live (src/export/surisock.c), the iprep
export (iprep.c) and Zeek removals (zeek_removals.c).

Suricata is not installable here: tests/servers/suricata_sock.py plays the
server side of its unix-command socket (exports.md §3.3: version handshake,
one command a line, Suricata's answers, `data is busy, try again` twice per
removal). A MISP ZeroMQ add reaches the double as `dataset-add` (base64 for
the string set), a delete as `dataset-remove` after the busy retries; the
iprep file and its categories follow the tag rules; the Zeek file keeps a
`meta.remove T` line for the removed domain. With the socket down, changes
still rewrite the files; when it comes back (a fresh Suricata, empty sets)
iocbus reconnects and reloads the sets: `dataset-clear` then the adds.
"""
import base64
import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import Iocbus, Misp, ServerProcess, _read_ready, wait_until  # noqa: E402
from test_run_export import read  # noqa: E402

DOUBLE = os.path.join(HERE, "..", "servers", "suricata_sock.py")


class SuricataSock(ServerProcess):
    """The socket double, logging every command to `log` (JSON lines)."""

    def __init__(self, path, log, busy=2, sets=("misp-domains:string", "misp-ips:ip")):
        args = ["/usr/bin/python3", DOUBLE, "--socket", path, "--log", log, "--busy", str(busy)]
        for s in sets:
            args += ["--set", s]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        _read_ready(self.proc, "READY", 10)


def commands(log):
    try:
        with open(log) as f:
            return [json.loads(x) for x in f if x.strip()]
    except FileNotFoundError:
        return []


def dump(log, d):
    """On a failure: what the double received and the end of iocbus's log."""
    sys.stderr.write("commands:\n%s\niocbus log:\n%s\n" % (read(log), d.log()[-3000:]))


def sent(log, cmd, setname, value=None):
    return [c for c in commands(log) if c["command"] == cmd and (c["arguments"] or {}).get("setname") == setname
            and (value is None or c["arguments"].get("datavalue") == value)]


class SuricataTest(unittest.TestCase):
    def setUp(self):
        self.misp = Misp(heartbeat=1)
        self.addCleanup(self.misp.close)

    def start(self):
        d = Iocbus({"misp": self.misp.misp_config(zmq=True)}, start=False)
        self.addCleanup(d.close)
        w = d.workdir
        self.sock, self.log = os.path.join(w, "suricata.sock"), os.path.join(w, "commands.log")
        self.iprep, self.cats = os.path.join(w, "misp.list"), os.path.join(w, "categories.txt")
        self.zeek = os.path.join(w, "misp.intel")
        cfg = dict(d.config)
        cfg["exports"] = [
            {"name": "domains", "format": "suricata-dataset", "path": os.path.join(w, "misp-domains.lst"),
             "types": ["domain", "hostname"], "dataset_type": "string", "socket": self.sock,
             "dataset": "misp-domains", "debounce": "200ms"},
            {"name": "misp-ips", "format": "suricata-dataset", "path": os.path.join(w, "misp-ips.lst"),
             "types": ["ip-src", "ip-dst"], "dataset_type": "ip", "socket": self.sock, "debounce": "200ms"},
            {"name": "iprep", "format": "suricata-iprep", "path": self.iprep, "types": ["ip-src", "ip-dst"],
             "iprep_categories": self.cats, "iprep_rules": {"*": "1,MISP,50", "kill-chain:*": "2,MISP-C2,90"},
             "socket": self.sock, "debounce": "200ms"},
            {"name": "zeek", "format": "zeek", "path": self.zeek, "removals_keep": "1h", "debounce": "200ms"},
        ]
        d.write_config(cfg)
        return d

    def test_adds_and_deletes_reach_the_socket_and_files(self):
        d = self.start()
        sur = SuricataSock(self.sock, self.log)
        self.addCleanup(sur.close)
        d.start()
        wait_until(lambda: d.metric("iocbus_export_socket_up") == 1, what="socket connected")

        ev = self.misp.control("event", info="suricata e2e")
        dom = self.misp.attribute(ev, "domain", "c2.example")
        b64 = base64.b64encode(b"c2.example").decode()
        wait_until(lambda: sent(self.log, "dataset-add", "misp-domains", b64), what="dataset-add of the domain")
        ip = self.misp.attribute(ev, "ip-dst", "198.51.100.7", tags=["kill-chain:Command and Control"])
        wait_until(lambda: sent(self.log, "dataset-add", "misp-ips", "198.51.100.7"), what="dataset-add of the ip")
        add = sent(self.log, "dataset-add", "misp-ips", "198.51.100.7")[0]
        self.assertEqual(add["arguments"], {"setname": "misp-ips", "settype": "ip", "datavalue": "198.51.100.7"})
        self.assertEqual((add["return"], add["message"]), ("OK", "data added"))
        wait_until(lambda: "198.51.100.7,2,90\n" in read(self.iprep), what="iprep rewritten")
        self.assertEqual(read(self.iprep), "198.51.100.7,1,50\n198.51.100.7,2,90\n")
        self.assertEqual(read(self.cats), "1,MISP,MISP tags *\n2,MISP-C2,MISP tags kill-chain:*\n")
        # the iprep rewrite asks Suricata to reload its rules (not the write at start; once a minute at most)
        wait_until(lambda: d.metric("iocbus_export_socket_rule_reloads_total") == 1, what="rule reload")
        self.assertEqual([c["message"] for c in commands(self.log) if c["command"] == "ruleset-reload-nonblocking"],
                         ["done"])
        wait_until(lambda: "\nc2.example\tIntel::DOMAIN\t" in read(self.zeek), what="zeek live line")
        self.assertIn("\tF\n", read(self.zeek))

        self.misp.control("attribute/delete", id=dom["id"])
        try:
            wait_until(lambda: [c for c in sent(self.log, "dataset-remove", "misp-domains", b64)
                                if c["message"] == "data removed"], what="dataset-remove after busy")
        except AssertionError:
            dump(self.log, d)
            raise
        removes = [c["message"] for c in sent(self.log, "dataset-remove", "misp-domains", b64)]
        self.assertEqual(removes, ["data is busy, try again"] * 2 + ["data removed"])
        self.assertEqual(d.metric("iocbus_export_socket_retries_total", export="domains"), 2)
        self.assertEqual(d.metric("iocbus_export_socket_nok_total", export="domains"), 0)
        self.assertGreaterEqual(d.metric("iocbus_export_socket_commands_total", export="misp-ips"), 1)
        wait_until(lambda: "c2.example\tIntel::DOMAIN\t" in read(self.zeek) and
                   [x for x in read(self.zeek).split("\n") if x.startswith("c2.example\t") and x.endswith("\tT")],
                   what="zeek meta.remove T line")
        self.assertTrue(read(self.zeek).startswith("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"
                                                   "\tmeta.url\tmeta.remove\n"))
        wait_until(lambda: d.metric("iocbus_export_removals", export="zeek") == 1, what="removals gauge")

        # the address deleted: removed from its set (busy twice first), gone from the iprep file
        self.misp.control("attribute/delete", id=ip["id"])
        wait_until(lambda: [c for c in sent(self.log, "dataset-remove", "misp-ips", "198.51.100.7")
                            if c["message"] == "data removed"], what="dataset-remove of the ip")
        wait_until(lambda: read(self.iprep) == "", what="iprep rewritten without the address")
        self.assertTrue(os.path.exists(self.iprep))
        self.assertEqual(d.term(), 0)

    def test_socket_down_then_up_resyncs(self):
        d = self.start()
        d.start()  # no Suricata yet: the files are written, the socket retried
        ev = self.misp.control("event", info="down")
        self.misp.attribute(ev, "domain", "while-down.example")
        wait_until(lambda: base64.b64encode(b"while-down.example").decode() in
                   read(os.path.join(d.workdir, "misp-domains.lst")), what="dataset file without Suricata")
        self.assertEqual(d.metric("iocbus_export_socket_up"), 0)
        sur = SuricataSock(self.sock, self.log)
        self.addCleanup(sur.close)
        b64 = base64.b64encode(b"while-down.example").decode()
        wait_until(lambda: sent(self.log, "dataset-add", "misp-domains", b64), timeout=20, what="resync adds")
        cmds = [c["command"] for c in commands(self.log)]
        self.assertEqual(cmds[0], "version")
        self.assertIn("dataset-clear", cmds)
        self.assertLess(cmds.index("dataset-clear"), cmds.index("dataset-add"))

        # Suricata restarts (empty sets): iocbus reconnects and reloads.
        sur.close()
        os.unlink(self.log)
        sur2 = SuricataSock(self.sock, self.log)
        self.addCleanup(sur2.close)
        self.misp.attribute(ev, "ip-src", "203.0.113.9")
        wait_until(lambda: sent(self.log, "dataset-add", "misp-domains", b64) and
                   sent(self.log, "dataset-add", "misp-ips", "203.0.113.9"), timeout=20, what="reload after restart")
        wait_until(lambda: (d.metric("iocbus_export_socket_reconnects_total") or 0) >= 1, what="reconnect counted")
        self.assertGreaterEqual(d.metric("iocbus_export_socket_resyncs_total"), 2)
        self.assertEqual(d.term(), 0)


if __name__ == "__main__":
    unittest.main()
