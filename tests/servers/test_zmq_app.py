#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Self-test of tests/servers/zmq_app.py (issue #13).

The iocbus bus does not exist yet, so the client runs against FakeHost below: a tiny
Threat Bus zmq-app host written from ../shared/reference/threatbus.md §3.1 (management
REP + bound PUB + bound SUB, the reply shapes of 2020.12 and 2021.07.29+, the error
strings `unknown request`, `error`, `success`). It exists only for this self-test.
Everything is on ephemeral loopback ports; every wait is bounded.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import zmq_app  # noqa: E402

WAIT = 5.0
UUID = "5f0b8e2a-1c7d-4a51-9a3e-2b7d0c4e9f11"
# exports.md §4.2, verbatim
INDICATOR = {"type": "indicator", "spec_version": "2.1", "id": "indicator--" + UUID,
             "created": "2021-03-25T09:41:33.000Z",
             "modified": "2022-05-16T10:00:00.123456Z",
             "pattern": "[domain-name:value = 'evil.com']", "pattern_type": "stix",
             "pattern_version": "2.1", "valid_from": "2022-05-16T10:00:00.123456Z"}
# threatbus.md §1.3, verbatim
INTEL = {"ts": "2020-10-05 13:58:55", "id": "15",
         "data": {"source": "MISP", "indicator": ["example.com"], "intel_type": 11},
         "operation": "ADD"}


class FakeHost(threading.Thread):
    """Threat Bus's zmq-app host as §3.1 describes it, `generation` choosing the reply."""

    def __init__(self, generation):
        super().__init__(daemon=True)
        self.generation = generation
        self.ctx = zmq.Context()
        self.rep = self.ctx.socket(zmq.REP)
        self.pub = self.ctx.socket(zmq.PUB)
        self.sub = self.ctx.socket(zmq.SUB)
        for s in (self.rep, self.pub, self.sub):
            s.setsockopt(zmq.LINGER, 0)
        self.manage_port = self.rep.bind_to_random_port("tcp://127.0.0.1")
        self.pub_port = self.pub.bind_to_random_port("tcp://127.0.0.1")
        self.sub_port = self.sub.bind_to_random_port("tcp://127.0.0.1")
        # 2020.12: threatbus/intel, threatbus/sighting, threatbus/snapshotenvelope;
        # later: stix2/ and threatbus/snapshotenvelope
        subs = (["threatbus/intel", "threatbus/sighting"] if generation == zmq_app.GEN_2020
                else ["stix2/"]) + ["threatbus/snapshotenvelope"]
        for t in subs:
            self.sub.setsockopt(zmq.SUBSCRIBE, t.encode())
        self.subscriptions = {}         # p2p -> (topic, snapshot)
        self.requests = []              # every management request, raw bytes
        self.received = []              # every frame on the bound SUB
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.publish_q = []

    def answer(self, raw):
        try:
            req = json.loads(raw)
        except ValueError:
            return {"status": "error"}
        try:
            action = req["action"]
            if action == "subscribe":
                topic, snapshot = req["topic"], req["snapshot"]
                if isinstance(snapshot, bool) or not isinstance(snapshot, int):
                    return {"status": "error"}     # "a non-integer is an error"
                p2p = zmq_app.random_p2p()
                with self.lock:
                    self.subscriptions[p2p] = (topic, snapshot)
                if self.generation == zmq_app.GEN_2020:
                    return {"topic": p2p, "pub_endpoint": "127.0.0.1:%d" % self.pub_port,
                            "sub_endpoint": "127.0.0.1:%d" % self.sub_port,
                            "status": "success"}
                return {"topic": p2p, "pub_port": self.pub_port, "sub_port": self.sub_port,
                        "status": "success"}
            if action in ("unsubscribe", "heartbeat"):
                p2p = req["topic"]
                with self.lock:
                    known = p2p in self.subscriptions
                    if known and action == "unsubscribe":
                        del self.subscriptions[p2p]
                return {"status": "success" if known else "error"}
        except (KeyError, TypeError):
            pass
        return {"status": "unknown request"}

    def run(self):
        poller = zmq.Poller()
        poller.register(self.rep, zmq.POLLIN)
        poller.register(self.sub, zmq.POLLIN)
        while not self.stopping.is_set():
            for s, _ in poller.poll(50):
                if s is self.rep:
                    raw = self.rep.recv()
                    with self.lock:
                        self.requests.append(raw)
                    self.rep.send(json.dumps(self.answer(raw)).encode())
                else:
                    with self.lock:
                        self.received.append(self.sub.recv())
            with self.lock:
                q, self.publish_q = self.publish_q, []
            for frame in q:
                self.pub.send(frame)

    def publish(self, p2p, suffix, obj):
        """`<p2p><suffix> <json>`; sent from the host thread (sockets are not shared)."""
        body = obj if isinstance(obj, str) else json.dumps(obj)
        with self.lock:
            self.publish_q.append(("%s%s %s" % (p2p, suffix, body)).encode())

    def wait_received(self, n, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError("host received %d of %d frames" % (len(self.received), n))

    def request_objs(self):
        with self.lock:
            return [json.loads(r) for r in self.requests]

    def stop(self):
        self.stopping.set()
        self.join(WAIT)
        self.ctx.destroy(linger=0)


class Base(unittest.TestCase):
    generation = zmq_app.GEN_2021

    def setUp(self):
        self.host = FakeHost(self.generation)
        self.host.start()
        self.app = zmq_app.ZmqApp("127.0.0.1", self.host.manage_port, timeout=WAIT)

    def tearDown(self):
        self.app.close()
        self.host.stop()

    def sync(self, probe):
        """Defeat the slow joiner: publish probes until one arrives, then drain."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            self.host.publish(self.app.p2p, *probe)
            try:
                self.app.recv(0.1)
                break
            except zmq_app.Timeout:
                pass
        else:
            self.fail("subscription never became active")
        while True:
            try:
                self.app.recv(0.2)
            except zmq_app.Timeout:
                return


class Stix2021Test(Base):
    generation = zmq_app.GEN_2021

    def test_subscribe_receive_sight_heartbeat_unsubscribe(self):
        r = self.app.subscribe(["stix2/indicator", "stix2/sighting"], snapshot_days=30)
        self.assertEqual(self.host.request_objs()[-1],
                         {"action": "subscribe", "topic": ["stix2/indicator", "stix2/sighting"],
                          "snapshot": 30})             # days, a list since 2021.05.27
        self.assertRegex(self.app.p2p, r"^[a-z]{32}$")
        self.assertEqual((r["pub_port"], self.app.generation),
                         (self.host.pub_port, zmq_app.GEN_2021))
        self.sync(("indicator", INDICATOR))
        # ADD, REMOVE; another app's frame is not seen
        self.host.publish(zmq_app.random_p2p(), "indicator", INDICATOR)
        self.host.publish(self.app.p2p, "indicator", INDICATOR)
        self.host.publish(self.app.p2p, "indicator", dict(INDICATOR, x_threatbus_update="REMOVE"))
        a, b = self.app.recv_all(2)
        self.assertEqual([(m.kind, m.operation) for m in (a, b)],
                         [("indicator", "ADD"), ("indicator", "REMOVE")])
        self.assertEqual(a.body, INDICATOR)
        with self.assertRaises(zmq_app.Timeout):
            self.app.recv(0.3)
        # a sighting as suricata-/vast-threatbus send it
        self.app.wait_pub_connected()
        frame = self.app.send_sighting(UUID, "zeek@sensor-1", created=1729510000.25,
                                       context={"noisy": False})
        got = self.host.wait_received(1)
        self.assertEqual(got, [frame.encode()])
        topic, _, body = got[0].decode().partition(" ")
        sg = json.loads(body)
        self.assertEqual(topic, "stix2/sighting")
        self.assertEqual(list(sg)[:4], ["type", "spec_version", "id", "created"])
        self.assertEqual((sg["type"], sg["spec_version"], sg["sighting_of_ref"],
                          sg["x_threatbus_source"], sg["created"], sg["modified"],
                          sg["x_threatbus_sighting_context"]),
                         ("sighting", "2.1", "indicator--" + UUID, "zeek@sensor-1",
                          "2024-10-21T11:26:40.250Z", "2024-10-21T11:26:40.250Z",
                          {"noisy": False}))
        self.assertRegex(sg["id"], r"^sighting--[0-9a-f-]{36}$")
        self.assertIn('", "', body)                     # stix2's separators
        # heartbeats on a timer, then unsubscribe; afterwards a heartbeat is an error
        self.app.start_heartbeats(0.2)
        time.sleep(1.1)                 # 5 due; a loaded 2-core machine may lose one
        self.app.stop_heartbeats()
        hb = [s for _, s in self.app.heartbeats]
        self.assertTrue(4 <= len(hb) <= 6 and set(hb) == {"success"}, hb)
        self.assertEqual(self.app.unsubscribe(), "success")
        self.assertEqual(self.app.heartbeat(), "error")
        self.assertEqual(self.app.unsubscribe(), "error")
        self.assertEqual(self.host.request_objs()[-1],
                         {"action": "unsubscribe", "topic": self.app.p2p})

    def test_snapshot_request_and_envelope(self):
        self.app.subscribe("stix2/indicator", snapshot_days=0)
        self.assertEqual(self.host.request_objs()[-1]["snapshot"], 0)
        self.sync(("indicator", INDICATOR))
        req = {"type": "snapshotrequest", "snapshot_type": 1,
               "snapshot_id": "0c9b6f0e-3b8e-4f7a-a1d2-8e4c2f6b7a90", "snapshot": 2592000}
        self.host.publish(self.app.p2p, "snapshotrequest", req)
        m = self.app.recv()
        self.assertEqual((m.kind, m.body), ("snapshotrequest", req))
        self.app.wait_pub_connected()
        self.app.send_snapshot_envelope(m.body, INDICATOR)
        topic, _, body = self.host.wait_received(1)[0].decode().partition(" ")
        self.assertEqual((topic, json.loads(body)),
                         ("threatbus/snapshotenvelope",
                          {"type": "snapshotenvelope", "snapshot_type": 1,
                           "snapshot_id": req["snapshot_id"], "body": INDICATOR}))

    def test_decoder_rejects(self):
        """Frames a STIX-era app cannot parse must fail the client, not pass."""
        self.app.subscribe("stix2/indicator", 30)
        self.sync(("indicator", INDICATOR))
        bad = [("indicator", {k: v for k, v in INDICATOR.items() if k != "spec_version"}),
               ("indicator", dict(INDICATOR, created="2021-03-25 09:41:33")),
               ("indicator", dict(INDICATOR, id="indicator--15")),
               ("indicator", dict(INDICATOR, X_bad=1)),
               ("indicator", dict(INDICATOR, x_threatbus_update="DELETE")),
               ("intel", INTEL),                         # a 2020.12 suffix
               ("indicator", "{not json")]
        for suffix, obj in bad:
            self.host.publish(self.app.p2p, suffix, obj)
            with self.assertRaises(zmq_app.ProtocolError, msg=(suffix, obj)):
                self.app.recv()

    def test_generation_mismatch_and_errors(self):
        # a 2021+ app needs pub_port/sub_port: a 2020.12-shaped reply fails it
        self.host.generation = zmq_app.GEN_2020
        with self.assertRaisesRegex(zmq_app.ProtocolError, "pub_port"):
            self.app.subscribe("stix2/indicator", 30)
        self.host.generation = zmq_app.GEN_2021
        # §3.1 error replies, byte for byte in status
        for raw, status in ((b"not json", "error"),
                            (b'{"action":"publish"}', "unknown request"),
                            (b'{"action":"subscribe","topic":"stix2/indicator"}',
                             "unknown request"),
                            (b'{"action":"subscribe","topic":"stix2/indicator",'
                             b'"snapshot":1.5}', "error"),
                            (b'{"action":"heartbeat","topic":"' + b"a" * 32 + b'"}', "error")):
            self.assertEqual(self.app.manage(raw, raw=True), {"status": status}, raw)
        with self.assertRaises(ValueError):
            self.app.subscribe(["stix2/indicator", "threatbus/intel"], 1)

    def test_timeout_and_loopback(self):
        with self.assertRaises(zmq_app.ProtocolError):
            zmq_app.ZmqApp("192.0.2.1", 13370)
        dead = zmq_app.ZmqApp("127.0.0.1", self.host.sub_port, timeout=0.3)  # no REP there
        t0 = time.monotonic()
        with self.assertRaises(zmq_app.Timeout):
            dead.manage({"action": "heartbeat", "topic": "x"})
        self.assertLess(time.monotonic() - t0, 2.0)
        dead.close()


class Threatbus2020Test(Base):
    generation = zmq_app.GEN_2020

    def test_subscribe_receive_sight(self):
        r = self.app.subscribe("threatbus/intel", snapshot_days=30)
        self.assertEqual(self.host.request_objs()[-1],
                         {"action": "subscribe", "topic": "threatbus/intel",
                          "snapshot": 30 * 86400})     # seconds at 2020.12
        self.assertEqual(r["pub_endpoint"], "127.0.0.1:%d" % self.host.pub_port)
        self.sync(("intel", INTEL))
        self.host.publish(self.app.p2p, "intel", INTEL)
        rm = dict(INTEL, operation="REMOVE", ts="2020-10-05 13:58:55.123456+00:00",
                  data={"indicator": ["example.com", "192.0.2.1"], "intel_type": 12})
        self.host.publish(self.app.p2p, "intel", rm)
        a, b = self.app.recv_all(2)
        self.assertEqual([(m.kind, m.operation, m.body) for m in (a, b)],
                         [("intel", "ADD", INTEL), ("intel", "REMOVE", rm)])
        for obj in (dict(INTEL, operation="EDIT"), dict(INTEL, ts="2020-10-05T13:58:55Z"),
                    dict(INTEL, data={"indicator": ["x"], "intel_type": 48})):
            self.host.publish(self.app.p2p, "intel", obj)
            with self.assertRaises(zmq_app.ProtocolError, msg=obj):
                self.app.recv()
        self.app.wait_pub_connected()
        self.app.send_sighting("15", "VAST", created=1609755019, ioc=["example.com"])
        topic, _, body = self.host.wait_received(1)[0].decode().partition(" ")
        self.assertEqual((topic, json.loads(body)),
                         ("threatbus/sighting",
                          {"ts": "2021-01-04 10:10:19+00:00", "intel": "15",
                           "context": {"source": "VAST"}, "ioc": ["example.com"]}))
        self.assertEqual(self.app.heartbeat(), "success")
        self.assertEqual(self.app.unsubscribe(), "success")

    def test_2020_app_needs_endpoints(self):
        self.host.generation = zmq_app.GEN_2021
        with self.assertRaisesRegex(zmq_app.ProtocolError, "pub_endpoint"):
            self.app.subscribe("threatbus", 1)


class CliTest(unittest.TestCase):
    def test_cli(self):
        host = FakeHost(zmq_app.GEN_2021)
        host.start()
        try:
            proc = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "zmq_app.py"),
                 "--manage", "127.0.0.1:%d" % host.manage_port, "--topic", "stix2/indicator",
                 "--snapshot-days", "7", "--count", "2", "--duration", "8",
                 "--heartbeat", "0.2", "--sighting", UUID + "=cli"],
                stdout=subprocess.PIPE, text=True)
            first = json.loads(proc.stdout.readline())
            self.assertEqual(first["kind"], "subscribed")
            p2p = first["reply"]["topic"]
            got = host.wait_received(1)
            self.assertTrue(got[0].startswith(b"stix2/sighting {"), got)
            self.assertEqual(json.loads(got[0].partition(b" ")[2])["x_threatbus_source"], "cli")
            deadline = time.monotonic() + WAIT      # slow joiner: repeat until 2 arrive
            while proc.poll() is None and time.monotonic() < deadline:
                host.publish(p2p, "indicator", INDICATOR)
                time.sleep(0.3)
            out, _ = proc.communicate(timeout=WAIT)
            lines = [json.loads(x) for x in out.splitlines()]
            self.assertEqual(proc.returncode, 0)
            self.assertEqual([x["kind"] for x in lines], ["indicator", "indicator",
                                                          "unsubscribed"])
            self.assertEqual(lines[-1]["status"], "success")
            self.assertTrue(set(lines[-1]["heartbeats"]) <= {"success"})
            self.assertEqual(host.request_objs()[0]["snapshot"], 7)
            self.assertTrue(re.match(r"^[a-z]{32}$", p2p))
        finally:
            host.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
