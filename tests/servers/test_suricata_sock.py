#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Self-test of tests/servers/suricata_sock.py (Suricata's unix-command socket double).

Talks to it as suricatasc does (exports.md §3.3) and checks the answers,
the busy removals, the value checks and the refusals: a bad handshake, two
commands in one read.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "suricata_sock.py")


class Client:
    def __init__(self, path, version="0.2"):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(5)
        self.s.connect(path)
        self.s.sendall(json.dumps({"version": version}).encode())
        self.hello = self.line()

    def line(self):
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = self.s.recv(4096)
            if not chunk:
                return None
            buf += chunk
        return json.loads(buf)

    def cmd(self, command, **args):
        msg = {"command": command}
        if args:
            msg["arguments"] = args
        self.s.sendall((json.dumps(msg, separators=(",", ":")) + "\n").encode())
        return self.line()


class SuricataSockTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="iocb-suri-")
        self.path = os.path.join(self.tmp, "s.sock")
        self.log = os.path.join(self.tmp, "log")
        self.proc = subprocess.Popen([sys.executable, SERVER, "--socket", self.path, "--set", "doms:string",
                                      "--set", "ips:ip", "--busy", "1", "--log", self.log],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.assertTrue(self.proc.stdout.readline().startswith("READY socket="))

    def tearDown(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=5)
        self.proc.stdout.close()

    def test_dataset_commands(self):
        c = Client(self.path)
        self.assertEqual(c.hello, {"return": "OK"})
        ok = lambda m: {"message": m, "return": "OK"}  # noqa: E731
        nok = lambda m: {"message": m, "return": "NOK"}  # noqa: E731
        self.assertEqual(c.cmd("version"), ok("7.0.2 RELEASE"))
        add = dict(setname="doms", settype="string", datavalue="ZXZpbC5jb20=")
        self.assertEqual(c.cmd("dataset-add", **add), ok("data added"))
        self.assertEqual(c.cmd("dataset-add", **add), ok("data already in set"))
        self.assertEqual(c.cmd("dataset-lookup", **add), ok("item found in set"))
        self.assertEqual(c.cmd("dataset-add", setname="doms", settype="string", datavalue="ZXZpbC5jb20"),
                         nok("failed to add data"))  # unpadded base64
        self.assertEqual(c.cmd("dataset-add", setname="doms", settype="ip", datavalue="1.2.3.4"),
                         nok("set not found or wrong type"))
        self.assertEqual(c.cmd("dataset-add", setname="ips", settype="ip", datavalue="::ffff:192.0.2.1"),
                         ok("data added"))
        self.assertEqual(c.cmd("dataset-lookup", setname="ips", settype="ip", datavalue="192.0.2.1"),
                         ok("item found in set"))
        self.assertEqual(c.cmd("dataset-remove", **add), ok("data is busy, try again"))
        self.assertEqual(c.cmd("dataset-remove", **add), ok("data removed"))
        self.assertEqual(c.cmd("dataset-remove", **add), nok("failed to remove data"))
        self.assertEqual(c.cmd("dataset-clear", setname="ips", settype="ip"), ok("dataset cleared"))
        self.assertEqual(c.cmd("dataset-add", setname=1, settype="ip", datavalue="x"), nok("setname is not a string"))
        self.assertEqual(c.cmd("nope"), nok("Unknown command"))
        with open(self.log) as f:
            self.assertEqual(len(f.readlines()), 14)

    def test_refusals(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.path)
        s.sendall(b'{"version": "9.9"}')
        self.assertEqual(s.recv(100), b"")  # closed without an answer
        c = Client(self.path)
        c.s.sendall(b'{"command":"version"}\n{"command":"version"}\n')
        self.assertIsNone(c.line())  # two commands in one read: closed


if __name__ == "__main__":
    unittest.main()
