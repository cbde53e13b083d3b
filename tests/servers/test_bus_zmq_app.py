#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The zmq-app endpoint (src/serve/bus) end to end with the real test client
zmq_app.py, for both generations: bus_demo (a tiny program linking the module,
path in argv[1]) binds 127.0.0.1 on ephemeral ports and publishes what this
script writes to its stdin. Checks: subscribe with a snapshot, live ADD and
REMOVE frames decoded and checked by zmq_app, a sighting reaching the bus's
callback byte for byte, heartbeat, unsubscribe and the "error" after it, the
error replies, and expiry without heartbeats. Loopback only; every wait is
bounded (ctest TIMEOUT 60)."""
import json
import os
import queue
import subprocess
import sys
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import zmq_app  # noqa: E402

DEMO = None


class Demo:
    def __init__(self, *args):
        self.p = subprocess.Popen([DEMO] + [str(a) for a in args], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.ports = json.loads(self.line())

    def _read(self):
        for ln in self.p.stdout:
            self.lines.put(ln.rstrip("\n"))

    def line(self, timeout=5):
        return self.lines.get(timeout=timeout)

    def cmd(self, text):
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()
        return self.line()

    def publish(self, gen, kind, obj):
        self.assert_ok(self.cmd("publish %s %s %s" % (gen, kind, json.dumps(obj))))

    @staticmethod
    def assert_ok(r):
        if r != "ok":
            raise AssertionError(r)

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        t0 = time.monotonic()
        self.p.wait(5)
        return time.monotonic() - t0


def intel(op, value="198.51.100.7"):
    return {"ts": zmq_app.tb_ts(), "id": str(uuid.uuid4()),
            "data": {"indicator": [value], "intel_type": 1}, "operation": op}


def indicator(op):
    now = "2026-12-05T02:00:00.000Z"
    o = {"type": "indicator", "spec_version": "2.1", "id": "indicator--%s" % uuid.uuid4(),
         "created": now, "modified": now, "valid_from": now,
         "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix"}
    if op == "REMOVE":
        o["x_threatbus_update"] = "REMOVE"
    return o


class BusEndToEnd(unittest.TestCase):
    def setUp(self):
        self.demo = Demo()
        self.apps = []

    def tearDown(self):
        for a in self.apps:
            a.close()
        self.assertLess(self.demo.close(), 1.0)

    def app(self):
        a = zmq_app.ZmqApp(manage_port=self.demo.ports["manage"], timeout=5)
        self.apps.append(a)
        return a

    def join(self, app, gen, make):
        """Publish probes until the app's SUB has joined (ZeroMQ's slow joiner)."""
        for _ in range(100):
            self.demo.publish(gen, "intel", make("ADD"))
            try:
                app.recv(0.05)
                break
            except zmq_app.Timeout:
                continue
        else:
            self.fail("the app's SUB never joined")
        while True:
            try:
                app.recv(0.2)
            except zmq_app.Timeout:
                return

    def run_generation(self, topic, gen, make, snapshot_days):
        a = self.app()
        r = a.subscribe(topic, snapshot_days=snapshot_days)
        self.assertEqual(r["status"], "success")
        self.assertEqual(a.generation, zmq_app.GEN_2020 if gen == "2020" else zmq_app.GEN_2021)
        self.join(a, gen, make)
        sent = [make("ADD"), make("REMOVE")]
        for o in sent:
            self.demo.publish(gen, "intel", o)
        got = a.recv_all(2)
        self.assertEqual([m.operation for m in got], ["ADD", "REMOVE"])
        self.assertEqual([m.body for m in got], sent)
        self.assertEqual(got[0].kind, "intel" if gen == "2020" else "indicator")
        # a sighting back, byte for byte to the bus's callback
        a.wait_pub_connected()
        frame = a.send_sighting(sent[0]["id"], "zmq_app-test")
        topic, body = frame.split(" ", 1)
        self.assertEqual(self.demo.line(), "sighting %s %s" % (gen, body))
        self.assertEqual(a.heartbeat(), "success")
        self.assertEqual(a.unsubscribe(), "success")
        self.assertEqual(a.heartbeat(), "error")

    def test_2020(self):
        self.run_generation("threatbus/intel", "2020", intel, 2)

    def test_2021(self):
        self.run_generation(["stix2/indicator", "stix2/sighting"], "2021", indicator, 30)

    def test_error_replies(self):
        a = self.app()
        for raw, status in ((b"not json", "error"),
                            (b'{"action":"nope","topic":"x"}', "unknown request"),
                            (b'{"action":"subscribe","topic":"stix2/indicator"}', "unknown request"),
                            (b'{"action":"subscribe","topic":"stix2/indicator","snapshot":1.5}', "error"),
                            (b'{"action":"heartbeat","topic":"nosuchtopic"}', "error")):
            self.assertEqual(a.manage(raw, raw=True), {"status": status}, raw)


class BusExpiry(unittest.TestCase):
    def test_expiry(self):
        demo = Demo(1.0)
        try:
            a = zmq_app.ZmqApp(manage_port=demo.ports["manage"], timeout=5)
            b = zmq_app.ZmqApp(manage_port=demo.ports["manage"], timeout=5)
            a.subscribe("stix2/indicator")
            b.subscribe("threatbus/intel")
            b.start_heartbeats(0.1)
            time.sleep(2.2)
            self.assertEqual(a.heartbeat(), "error")
            b.stop_heartbeats()
            self.assertTrue(b.heartbeats)
            self.assertEqual({s for _, s in b.heartbeats}, {"success"})
            st = json.loads(demo.cmd("stats"))
            self.assertEqual(st["heartbeats_missed"], 1)
            self.assertEqual(st["subscribers"], 1)
            a.close()
            b.close()
        finally:
            demo.close()


if __name__ == "__main__":
    DEMO = sys.argv.pop(1)
    unittest.main(verbosity=2)
