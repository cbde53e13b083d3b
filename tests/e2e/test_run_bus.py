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
  - sightings from apps of both generations reach MISP's /sightings/add, and with
    sightings.from_matches the log pipeline's matches (one per attribute and window);
  - MISP answering 503 for 30 s plus a kill -9 of iocbus: every sighting arrives once;
  - a flood of 6,000 sightings is queued at more than 3,000/s while the bus publishes;
  - an app that never reads goes stale while 20,000 attributes are stored and another app
    receives every one of them;
  - `bus.kafka`: an add and a delete reach the topic as an Indicator and a tombstone.
"""
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import zmq
from confluent_kafka import Consumer, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "servers"))
from harness import BIN, Iocbus, KafkaMock, Misp, free_port, wait_until  # noqa: E402
from sightings_delivery import sighting_requests  # noqa: E402
from test_run_zmq import OwnPublisher, attr_frame, frame_template  # noqa: E402
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

    def daemon(self, bus=None, sightings=None, start=True, **extra):
        cfg = {"misp": self.misp.misp_config(zmq=True), "bus": bus or bus_section(),
               "store": {"path": os.path.join(self.tmp.name, "store")}}
        cfg.update(extra)
        if sightings is not None:
            cfg["sightings"] = sightings
        d = Iocbus(cfg, workdir=self.tmp.name, start=start)
        self.addCleanup(d.close)
        return d

    def app(self, d, sndhwm=None, slow=False, **kw):
        """A zmq-app of d's bus; sndhwm sets its PUB socket's high-water mark (0: none, so a burst
        of sightings is not cut at ZeroMQ's default 1,000); slow gives its SUB socket a one-frame
        queue and a 4 KiB receive buffer, so an app that does not read backs up at once."""
        cls = ZmqApp
        if sndhwm is not None or slow:
            class cls(ZmqApp):
                def _socket(self, kind):
                    s = super()._socket(kind)
                    if sndhwm is not None:
                        s.setsockopt(zmq.SNDHWM, sndhwm)
                    if slow and kind == zmq.SUB:
                        s.setsockopt(zmq.RCVHWM, 1)
                        s.setsockopt(zmq.RCVBUF, 4096)
                    return s
        a = cls("127.0.0.1", d.config["bus"]["manage"], timeout=kw.pop("timeout", 5.0), **kw)
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
        # a reload that changes the bus: logged, the running bus and its subscriber go on
        cfg = dict(d.config)
        cfg["bus"] = dict(cfg["bus"], heartbeat_timeout="30s")
        d.write_config(cfg)
        d.hup()
        wait_until(lambda: '"reloaded"' in d.log(), what="the reload done")
        self.assertIn("bus (bus.kafka included) and sightings settings change only on restart", d.log())
        time.sleep(1.2)
        self.assertEqual(d.metric("iocbus_bus_heartbeats_missed_total"), 1)
        self.assertEqual(d.metric("iocbus_bus_subscribers"), 1)
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

    def test_slow_subscriber_does_not_slow_intake(self):
        # 20,000 attributes from a MISP-format publisher of our own; one app never reads.
        pub = OwnPublisher()
        self.addCleanup(pub.close)
        cfg = {"misp": {"zmq": {"host": "127.0.0.1", "port": pub.port, "heartbeat_timeout": "0s"}},
               "bus": bus_section(subscriber_queue=16)}
        d = Iocbus(cfg, workdir=self.tmp.name, start=False)
        self.addCleanup(d.close)
        d.start(wait_live=False)
        pub.wait_subscription()
        slow, fast = self.app(d, slow=True), self.app(d)
        slow.subscribe("stix2/indicator")
        fast.subscribe("stix2/indicator")
        got, stop = set(), threading.Event()

        def read():
            while not stop.is_set() and len(got) < n:
                try:
                    got.add(value_of(fast.recv(0.2)))
                except Timeout:
                    pass
        n, tmpl = 20000, frame_template()
        frames = [attr_frame(tmpl, i) for i in range(n)]
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        self.addCleanup(stop.set)
        time.sleep(0.5)     # both SUB sockets joined (the bus holds frames for a joining one anyway)
        t0 = time.monotonic()
        for f, _ in frames:
            pub.sock.send(f)
        wait_until(lambda: d.metric("iocbus_store_attributes_total") == n, timeout=60, interval=0.1,
                   what="%d attributes in the store" % n)
        took = time.monotonic() - t0
        reader.join(30)
        print("\nslow subscriber: %d attributes stored in %.2fs; the other app got %d" % (n, took, len(got)),
              file=sys.stderr)
        self.assertEqual(got, {ip for _, ip in frames}, "the reading app got every change")
        self.assertGreaterEqual(d.metric("iocbus_bus_stale_total"), 1, "the slow app marked stale")
        self.assertGreaterEqual(d.metric("iocbus_bus_subscriber_drops_total"), 1)
        self.assertEqual(d.metric("iocbus_bus_publish_drops_total"), 0)

    def test_sightings_flood_off_the_bus_thread(self):
        # The bus thread only hands frames over; the queue commits them in batches, so a flood is
        # durable at many thousands a second (one commit a frame managed about 1,000/s) and the
        # bus keeps publishing meanwhile.
        d = self.daemon(sightings={"max_per_second": 0})
        ev = self.misp.control("event", info="flood")
        attrs = [self.misp.attribute(ev, "ip-dst", "198.18.0.%d" % i) for i in range(1, 31)]
        wait_until(lambda: all(d.hits(x["value"]) == 1 for x in attrs), what="attributes stored")
        app = self.app(d, sndhwm=0)
        app.subscribe("stix2/indicator")
        app.wait_pub_connected()
        frames = [app.sighting_frame(attrs[i % 30]["uuid"], "flood-%d" % (i // 30), created=1729510000).encode()
                  for i in range(6000)]
        t0 = time.monotonic()
        for f in frames:
            app.pub.send(f)
        self.misp.attribute(ev, "domain", "during-the-flood.example")
        self.expect([app], [("ADD", "during-the-flood.example")], "published during the flood")
        wait_until(lambda: d.metric("iocbus_sightings_received_total") == 6000, timeout=30, interval=0.05,
                   what="6000 sightings queued")
        rate = 6000 / (time.monotonic() - t0)
        print("\nsightings from the bus: 6000 durable at %.0f/s" % rate, file=sys.stderr)
        self.assertGreater(rate, 3000)
        self.assertEqual(d.metric("iocbus_sightings_bus_dropped_total"), 0)

    def test_sightings_from_matches(self):
        # sightings.from_matches through `iocbus run`: log pipeline matches become sightings,
        # source iocbus/<input>, once per attribute and window.
        log, out = os.path.join(self.tmp.name, "eve.json"), os.path.join(self.tmp.name, "out.json")
        open(log, "w").close()
        d = self.daemon(sightings={"from_matches": True, "from_matches_window": "60s"},
                        inputs=[{"name": "logs", "type": "file", "path": log, "poll_interval": "20ms"}],
                        outputs=[{"name": "out", "type": "file", "path": out}],
                        pipeline={"batch_interval": "20ms"})
        ev = self.misp.control("event", info="matched")
        a = self.misp.attribute(ev, "ip-dst", "192.0.2.99")
        wait_until(lambda: d.hits("192.0.2.99") == 1, what="attribute stored")
        with open(log, "a") as f:
            for i in range(5):
                f.write(json.dumps({"destination": {"ip": "192.0.2.99"}, "n": i}) + "\n")
        wait_until(lambda: len(self.misp.control("sightings")) >= 1, timeout=15, what="a sighting in MISP")
        time.sleep(0.5)
        got = [(x["source"], x["attribute_id"]) for x in self.misp.control("sightings")]
        self.assertEqual(got, [("iocbus/logs", a["id"])], "five matches, one sighting per window")
        self.assertEqual(d.metric("iocbus_sightings_from_matches_total"), 1)
        self.assertEqual(d.metric("iocbus_sightings_deduplicated_total", window="from_matches"), 4)

    def test_sightings_outage_and_kill9(self):
        d = self.daemon(sightings={})
        ev = self.misp.control("event", info="outage")
        attrs = [self.misp.attribute(ev, "ip-dst", "203.0.113.%d" % i) for i in range(1, 11)]
        wait_until(lambda: all(d.hits(x["value"]) == 1 for x in attrs), what="attributes stored")
        # The case: MISP down for 30 s, and iocbus killed meanwhile.
        self.misp.control("sightings/outage", seconds=30, mode="status")
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
        self.assertEqual(self.misp.control("sightings"), [], "MISP is still down")
        # the outage's rest, then at most one backoff step (30 s at most)
        wait_until(lambda: len(self.misp.control("sightings")) == 10, timeout=75, what="delivered after the outage")
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
