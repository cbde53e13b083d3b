# SPDX-License-Identifier: Apache-2.0
"""`iocbus run` with the Threat Bus compatible bus (`bus:`) and sightings (`sightings:`).

Against the MISP test server (ZeroMQ updates in, /sightings/add out) and
tests/servers/zmq_app.py (a zmq-app of each Threat Bus generation), loopback only,
every wait bounded:
  - each generation: a snapshot at subscribe, then add, edit, to_ids off and on,
    soft-delete, delete and event delete arrive as ADD/REMOVE, each exactly once;
  - a subscriber that stops heartbeating expires, one that heartbeats stays;
  - CURVE: a client whose key is not in clients_file (or without CURVE) gets no
    reply; a listed one works; a secret key file readable by others is refused;
  - sightings from apps of both generations reach MISP's /sightings/add;
  - MISP answering 503 plus a kill -9 of iocbus: every sighting arrives once;
  - `bus.kafka`: an add and a delete reach the topic as an Indicator and a tombstone.
"""
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import zmq
from confluent_kafka import Consumer, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "servers"))
from harness import BIN, Iocbus, KafkaMock, Misp, free_port, wait_until  # noqa: E402
from sightings_delivery import sighting_requests  # noqa: E402
from zmq_app import GEN_2020, Timeout, ZmqApp  # noqa: E402

PATTERN_VALUE = re.compile(r"= '((?:[^'\\]|\\.)*)'")


def value_of(m):
    """The indicator value of a 2020.12 intel or a 2021+ STIX Indicator message."""
    if m.kind == "intel":
        return m.body["data"]["indicator"][0]
    return PATTERN_VALUE.search(m.body["pattern"]).group(1)


def bus_section(**kw):
    b = {"host": "127.0.0.1", "manage": free_port(), "pub": free_port(), "sub": free_port()}
    b.update(kw)
    return b


class BusTest(unittest.TestCase):
    def setUp(self):
        self.misp = Misp(heartbeat=1)
        self.addCleanup(self.misp.close)
        self.tmp = tempfile.TemporaryDirectory(prefix="iocbus-bus-")
        self.addCleanup(self.tmp.cleanup)

    def daemon(self, bus=None, sightings=None, start=True):
        cfg = {"misp": self.misp.misp_config(zmq=True), "bus": bus or bus_section(),
               "store": {"path": os.path.join(self.tmp.name, "store")}}
        if sightings is not None:
            cfg["sightings"] = sightings
        d = Iocbus(cfg, workdir=self.tmp.name, start=start)
        self.addCleanup(d.close)
        return d

    def app(self, d, **kw):
        a = ZmqApp("127.0.0.1", d.config["bus"]["manage"], timeout=kw.pop("timeout", 5.0), **kw)
        self.addCleanup(a.close)
        return a

    @staticmethod
    def indicators(a, n=None, timeout=10.0):
        """The next n indicator messages (None: the next one, or Timeout); snapshot requests the bus
        forwards from other apps' subscribes are passed over."""
        end, out = time.monotonic() + timeout, []
        while len(out) < (n or 1):
            m = a.recv(max(0.0, end - time.monotonic()))
            if m.kind != "snapshotrequest":
                out.append(m)
        return out

    def expect(self, apps, want, what):
        """Each app receives exactly the (operation, value) set `want` (order free), nothing more."""
        for a in apps:
            got = sorted((m.operation, value_of(m)) for m in self.indicators(a, len(want)))
            self.assertEqual(got, sorted(want), "%s, %s app" % (what, a.generation))
        for a in apps:
            with self.assertRaises(Timeout, msg="%s: more than expected (%s app)" % (what, a.generation)):
                self.indicators(a, timeout=0.3)

    def test_changes_both_generations(self):
        d = self.daemon()
        ev = self.misp.control("event", info="bus")
        self.misp.attribute(ev, "ip-dst", "192.0.2.10")
        wait_until(lambda: d.hits("192.0.2.10") == 1, what="first attribute stored")
        old, new = self.app(d), self.app(d)
        old.subscribe("threatbus/intel", snapshot_days=1)
        new.subscribe("stix2/indicator", snapshot_days=1)
        self.assertEqual(old.generation, GEN_2020)
        apps = (old, new)
        self.expect(apps, [("ADD", "192.0.2.10")], "snapshot")
        self.assertGreaterEqual(d.metric("iocbus_bus_snapshot_requests_total"), 2)

        a = self.misp.attribute(ev, "ip-dst", "192.0.2.1")
        self.expect(apps, [("ADD", "192.0.2.1")], "add")
        b = self.misp.attribute(ev, "domain", "gone.example")
        self.expect(apps, [("ADD", "gone.example")], "second add")
        self.misp.control("attribute/edit", id=a["id"], value="192.0.2.2")
        self.expect(apps, [("REMOVE", "192.0.2.1"), ("ADD", "192.0.2.2")], "value edit")
        self.misp.control("attribute/edit", id=a["id"], to_ids=False)
        self.expect(apps, [("REMOVE", "192.0.2.2")], "to_ids off")
        self.misp.control("attribute/edit", id=a["id"], to_ids=True)
        self.expect(apps, [("ADD", "192.0.2.2")], "to_ids on")
        self.misp.control("attribute/soft-delete", id=a["id"])
        self.expect(apps, [("REMOVE", "192.0.2.2")], "soft-delete")
        self.misp.control("attribute/delete", id=b["id"])
        self.expect(apps, [("REMOVE", "gone.example")], "delete")
        doomed = self.misp.control("event", info="doomed")
        for v in ("198.51.100.1", "198.51.100.2"):
            self.misp.attribute(doomed, "ip-src", v)
        self.expect(apps, [("ADD", "198.51.100.1"), ("ADD", "198.51.100.2")], "adds to the doomed event")
        self.misp.control("event/delete", id=doomed["id"])
        self.expect(apps, [("REMOVE", "198.51.100.1"), ("REMOVE", "198.51.100.2")], "event delete")

        self.assertEqual(d.metric("iocbus_bus_subscribers"), 2)
        self.assertGreaterEqual(d.metric("iocbus_bus_frames_out_total", generation="2021", kind="indicator"), 12)
        st, body = d.get("/healthz")
        self.assertEqual((st, body.endswith(b" bus=up\n")), (200, True), body)
        self.assertEqual([old.unsubscribe(), new.unsubscribe()], ["success", "success"])
        self.assertEqual(d.term(), 0)

    def test_heartbeat_expiry(self):
        d = self.daemon(bus=bus_section(heartbeat_timeout="1s"))
        silent, alive = self.app(d), self.app(d)
        silent.subscribe("stix2/indicator")
        alive.subscribe("threatbus/intel")
        alive.start_heartbeats(0.25)
        wait_until(lambda: d.metric("iocbus_bus_heartbeats_missed_total") == 1, timeout=10,
                   what="the silent subscriber expired")
        time.sleep(1.2)
        self.assertEqual(d.metric("iocbus_bus_heartbeats_missed_total"), 1, "the heartbeating one expired too")
        self.assertEqual(d.metric("iocbus_bus_subscribers"), 1)
        self.assertEqual(silent.heartbeat(), "error")
        alive.stop_heartbeats()
        self.assertEqual({s for _, s in alive.heartbeats}, {"success"})

    def keys(self, allowed_public):
        key = os.path.join(self.tmp.name, "bus.key")
        p = subprocess.run([BIN, "bus", "keygen", key], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        clients = os.path.join(self.tmp.name, "clients")
        with open(clients, "w") as f:
            f.write("# the one app allowed in\n%s  # zeek\n\n" % allowed_public.decode())
        return key, clients, p.stdout.strip().encode()

    def test_curve(self):
        cpub = b""
        while b"#" not in cpub:     # '#' is a Z85 character: such a key is not a comment
            cpub, csec = zmq.curve_keypair()
        key, clients, server = self.keys(cpub)
        d = self.daemon(bus=bus_section(curve={"secret_key_file": key, "clients_file": clients}))
        good = self.app(d, curve=(server, cpub, csec))
        good.subscribe("stix2/indicator")
        ev = self.misp.control("event", info="curve")
        self.misp.attribute(ev, "domain", "curve.example")
        self.expect([good], [("ADD", "curve.example")], "over CURVE")
        opub, osec = zmq.curve_keypair()
        for name, curve in (("unlisted key", (server, opub, osec)), ("no CURVE", None)):
            bad = self.app(d, curve=curve, timeout=1.5)
            with self.assertRaises(Timeout, msg=name):
                bad.subscribe("stix2/indicator")
        wait_until(lambda: d.metric("iocbus_bus_curve_refused_total") >= 1, what="refusal counted")
        self.assertGreaterEqual(d.metric("iocbus_bus_curve_allowed_total"), 1)
        self.assertEqual(d.metric("iocbus_bus_subscribers"), 1)
        self.assertEqual(d.term(), 0)
        # a secret key others can read: refused at start, naming the file
        os.chmod(key, 0o644)
        p = subprocess.run([BIN, "run", "-c", d.config_path], capture_output=True, text=True, timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("chmod 600", p.stderr)
        self.assertIn(key, p.stderr)

    def test_sightings_both_generations(self):
        d = self.daemon(sightings={})
        ev = self.misp.control("event", info="seen")
        a = self.misp.attribute(ev, "ip-dst", "192.0.2.50")
        wait_until(lambda: d.hits("192.0.2.50") == 1, what="attribute stored")
        old, new = self.app(d), self.app(d)
        old.subscribe("threatbus/intel")
        new.subscribe("stix2/indicator")
        for app, source in ((old, "suricata@s1"), (new, "zeek@s2")):
            app.wait_pub_connected()
            app.send_sighting(a["uuid"], source, created=1729510000)
        wait_until(lambda: len(self.misp.control("sightings")) == 2, what="two sightings in MISP")
        got = sorted((s["source"], s["attribute_id"], s["type"]) for s in self.misp.control("sightings"))
        self.assertEqual(got, [("suricata@s1", a["id"], "0"), ("zeek@s2", a["id"], "0")])
        wait_until(lambda: d.metric("iocbus_sightings_sent_total") == 2, what="sent counted")
        self.assertEqual(d.metric("iocbus_sightings_queued"), 0)

    def test_sightings_outage_and_kill9(self):
        d = self.daemon(sightings={})
        ev = self.misp.control("event", info="outage")
        attrs = [self.misp.attribute(ev, "ip-dst", "203.0.113.%d" % i) for i in range(1, 11)]
        wait_until(lambda: all(d.hits(x["value"]) == 1 for x in attrs), what="attributes stored")
        self.misp.control("sightings/outage", seconds=5, mode="status")
        app = self.app(d)
        app.subscribe("stix2/indicator")
        app.wait_pub_connected()
        for x in attrs:
            app.send_sighting(x["uuid"], "outage-test", created=1729510000)
        wait_until(lambda: d.metric("iocbus_sightings_received_total") == 10 and
                   d.metric("iocbus_sightings_failed_total") >= 1, what="queued while MISP is down")
        self.assertEqual(self.misp.control("sightings"), [])
        d.kill9()
        d.start()
        self.assertEqual(d.metric("iocbus_sightings_queued"), 10, "resumed from disk")
        wait_until(lambda: len(self.misp.control("sightings")) == 10, timeout=30, what="delivered after the outage")
        time.sleep(0.5)
        got = self.misp.control("sightings")
        self.assertEqual(sorted(s["attribute_id"] for s in got), sorted(x["id"] for x in attrs), "each once")
        self.assertGreater(len(sighting_requests(self.misp)), 1, "retried")


    def test_kafka_stream(self):
        kafka = KafkaMock(topics=("indicators:1",))
        self.addCleanup(kafka.close)
        d = self.daemon(bus=bus_section(kafka={"topic": "indicators",
                                               "config": {"bootstrap.servers": kafka.bootstrap}}))
        ev = self.misp.control("event", info="stream")
        a = self.misp.attribute(ev, "domain", "stream.example")
        wait_until(lambda: d.hits("stream.example") == 1, what="attribute stored")
        self.misp.control("attribute/delete", id=a["id"])
        wait_until(lambda: d.hits("stream.example") == 0, what="attribute deleted")
        c = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": "check",
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        self.addCleanup(c.close)
        c.assign([TopicPartition("indicators", 0, 0)])
        got, end = [], time.monotonic() + 15
        while len(got) < 2 and time.monotonic() < end:
            got += [(m.key().decode(), m.value()) for m in c.consume(100, 0.5) if not m.error()]
        self.assertEqual([k for k, _ in got], [a["uuid"], a["uuid"]], got)
        self.assertIn("stream.example", json.loads(got[0][1])["pattern"])
        self.assertIsNone(got[1][1], "a tombstone for the delete")
        wait_until(lambda: d.metric("iocbus_stream_messages_total", kind="tombstone") == 1, what="stream counters")


if __name__ == "__main__":
    unittest.main(verbosity=2)
