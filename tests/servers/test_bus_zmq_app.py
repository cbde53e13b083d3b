#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The zmq-app endpoint (src/serve/bus) end to end with the real test client
zmq_app.py, for both generations: bus_demo (a tiny program linking the module,
path in argv[1]) binds 127.0.0.1 on ephemeral ports and publishes what this
script writes to its stdin. Checks: subscribe with a snapshot, live ADD and
REMOVE frames decoded and checked by zmq_app, a sighting reaching the bus's
callback byte for byte, heartbeat, unsubscribe and the "error" after it, the
error replies, and expiry without heartbeats. With bus_demo's memory store:
a snapshot of exactly the window, then add, edit, value change, to_ids off
and on, soft delete, delete and event delete each arriving once. Loopback only; every wait is
bounded (ctest TIMEOUT 60)."""
import json
import os
import queue
import re
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


def value_of(m):
    """The indicator value a frame carries (2020.12 indicator[0], or the STIX pattern's literal)."""
    if m.kind == "intel":
        return m.body["data"]["indicator"][0]
    return re.search(r"= '([^']*)'", m.body["pattern"]).group(1)


class BusStoreFeed(unittest.TestCase):
    """bus_demo's memory store behind the bus: a snapshot of the window from the
    store, then each kind of store change arriving once as ADD/REMOVE, as the
    real test client decodes them."""

    def run_generation(self, topic, kind):
        demo = Demo()
        app = None
        try:
            def ok(cmd):
                Demo.assert_ok(demo.cmd(cmd))

            def attr(n, value, ids=1, deleted=0, ts="now", event=1):
                ok("attr 11111111-0000-4000-8000-%012d domain %s %d %d %s 22222222-0000-4000-8000-%012d"
                   % (n, value, ids, deleted, ts, event))

            now = int(time.time())
            attr(1, "in.example", ts=now - 3600)
            attr(2, "old.example", ts=now - 10 * 86400)  # outside a 1-day window
            attr(3, "noids.example", ids=0)
            ok("commit")
            app = zmq_app.ZmqApp(manage_port=demo.ports["manage"], timeout=5)
            self.assertEqual(app.subscribe(topic, snapshot_days=1)["status"], "success")
            snap = app.recv_all(1)
            self.assertEqual((snap[0].kind, snap[0].operation, value_of(snap[0])), (kind, "ADD", "in.example"))
            with self.assertRaises(zmq_app.Timeout):
                app.recv(0.5)
            self.assertEqual(json.loads(demo.cmd("stats"))["snapshot_sent"], 1)

            # explicit timestamps: an upsert identical to the stored one is no change
            attr(4, "a.example", ts=now)              # add
            attr(4, "a.example", ts=now + 1)          # edit, same value
            attr(4, "b.example", ts=now + 2)          # value change
            attr(4, "b.example", ids=0, ts=now + 3)   # to_ids off
            attr(4, "b.example", ts=now + 4)          # to_ids on
            attr(4, "b.example", deleted=1, ts=now + 5)  # soft delete
            attr(5, "c.example")
            ok("remove 11111111-0000-4000-8000-%012d" % 5)  # delete
            attr(6, "d.example", event=2)
            ok("event_remove 22222222-0000-4000-8000-%012d" % 2)
            ok("commit")                              # the event delete goes out here
            want = [("ADD", "a.example"), ("ADD", "a.example"), ("REMOVE", "a.example"), ("ADD", "b.example"),
                    ("REMOVE", "b.example"), ("ADD", "b.example"), ("REMOVE", "b.example"),
                    ("ADD", "c.example"), ("REMOVE", "c.example"), ("ADD", "d.example"), ("REMOVE", "d.example")]
            got = app.recv_all(len(want))
            self.assertEqual([(m.operation, value_of(m)) for m in got], want)
            self.assertEqual({m.kind for m in got}, {kind})
            with self.assertRaises(zmq_app.Timeout):
                app.recv(0.5)
        finally:
            if app:
                app.close()
            demo.close()

    def test_2020(self):
        self.run_generation("threatbus/intel", "intel")

    def test_2021(self):
        self.run_generation("stix2/indicator", "indicator")


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
