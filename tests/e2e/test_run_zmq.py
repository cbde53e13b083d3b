# SPDX-License-Identifier: Apache-2.0
"""`iocbus run` with MISP's ZeroMQ feed (src/sources/misp_zmq.c).

Against the MISP test server: every update kind (add, value edit, to_ids
off, attribute tag/untag under a tag filter, soft-delete, delete, event
delete), event tags learned from event messages feeding the filter, the org
filter, a heartbeat timeout asking for a catch-up, and a publisher restart
whose gap the REST catch-up fills. Against a PUB socket of our own: bad
frames (not split, not JSON, oversized, multi-part) counted by reason while
intake goes on, and 100 000 attributes end to end with zero loss.
"""
import json
import os
import re
import sys
import tempfile
import time
import unittest

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Iocbus, Misp, check_attribute_lifecycle, wait_until  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "fixtures", "misp", "zmq")
# A misp_json_attribute add exactly as MISP 2.5 sends it (§1.5), used as the template of our frames.
TEMPLATE = os.path.join(FIXTURES, "wire-frames.txt")


def at_least(d, name, n, **labels):
    """Wait until a counter reaches n: a change is matchable as soon as it is applied,
    its batch's counters are published a moment later."""
    wait_until(lambda: (d.metric(name, **labels) or 0) >= n, what="%s%r >= %d" % (name, labels, n))


def rejects(d, reason):
    return d.metric("iocbus_rejects_total", source="zmq", reason=reason) or 0


class MispZmqTest(unittest.TestCase):
    """Updates from the MISP test server's PUB socket."""

    def setUp(self):
        self.misp = Misp(heartbeat=1)
        self.addCleanup(self.misp.close)

    def event(self, **kw):
        return self.misp.control("event", **kw)

    def attr(self, event, typ, value, **kw):
        return self.misp.attribute(event, typ, value, **kw)

    def daemon(self, **kw):
        d = Iocbus({"misp": self.misp.misp_config(zmq=True, **kw)})
        self.addCleanup(d.close)
        return d

    def test_add_edit_to_ids_soft_delete_delete(self):
        d = self.daemon()
        ev = self.event(info="lifecycle")
        a = self.attr(ev, "ip-dst", "192.0.2.1")
        b = self.attr(ev, "domain", "gone.example")
        wait_until(lambda: d.hits("192.0.2.1") == 1, what="add")
        wait_until(lambda: d.hits("gone.example") == 1, what="second add")

        check_attribute_lifecycle(self.misp, d, a, b)

        at_least(d, "iocbus_updates_total", 2, source="zmq", action="add")
        at_least(d, "iocbus_updates_total", 3, source="zmq", action="edit")
        at_least(d, "iocbus_updates_total", 1, source="zmq", action="soft_delete")
        at_least(d, "iocbus_updates_total", 1, source="zmq", action="delete")
        at_least(d, "iocbus_source_messages_total", 8, source="zmq")
        self.assertGreater(d.metric("iocbus_source_bytes_total", source="zmq"), 0)
        self.assertEqual(d.metric("iocbus_source_up", source="zmq"), 1)
        self.assertEqual(d.term(), 0)

    def test_event_delete_removes_every_attribute(self):
        d = self.daemon()
        ev = self.event(info="to delete")
        keep = self.event(info="kept")
        vals = ["198.51.100.%d" % i for i in range(1, 6)]
        for v in vals:
            self.attr(ev, "ip-src", v)
        self.attr(keep, "ip-src", "198.51.100.200")
        wait_until(lambda: all(d.hits(v) == 1 for v in vals + ["198.51.100.200"]), what="adds")
        self.misp.control("event/delete", id=ev["id"])
        wait_until(lambda: all(d.hits(v) == 0 for v in vals), what="event delete")
        self.assertEqual(d.hits("198.51.100.200"), 1, "another event's attribute went too")
        at_least(d, "iocbus_updates_total", 1, source="zmq", action="event_delete")

    def test_attribute_tag_untag_with_tag_filter(self):
        d = self.daemon(filters=[{"tags": ["tlp:green"]}])
        ev = self.event(info="tags")
        a = self.attr(ev, "url", "http://tagged.example/x")
        wait_until(lambda: (d.metric("iocbus_updates_total", source="zmq", action="filtered") or 0) >= 1,
                   what="untagged add filtered")
        self.assertEqual(d.hits("http://tagged.example/x"), 0)
        self.misp.control("attribute/tag", id=a["id"], tag="tlp:green")
        wait_until(lambda: d.hits("http://tagged.example/x") == 1, what="hit after tag")
        self.misp.control("attribute/untag", id=a["id"], tag="tlp:green")
        wait_until(lambda: d.hits("http://tagged.example/x") == 0, what="miss after untag")
        # tagged from the start
        self.attr(ev, "domain", "born-green.example", tags=["tlp:green"])
        wait_until(lambda: d.hits("born-green.example") == 1, what="tagged add")

    def test_event_tags_feed_the_filter(self):
        d = self.daemon(filters=[{"tags": ["campaign:x"]}])
        tagged = self.event(info="tagged event", tags=["campaign:x"])
        plain = self.event(info="plain event")
        # attribute messages do not carry event tags: the stored event's tags decide
        self.attr(tagged, "ip-dst", "203.0.113.10")
        self.attr(plain, "ip-dst", "203.0.113.11")
        wait_until(lambda: d.hits("203.0.113.10") == 1, what="attribute of the tagged event")
        wait_until(lambda: (d.metric("iocbus_updates_total", source="zmq", action="filtered") or 0) >= 1,
                   what="other event's attribute filtered")
        self.assertEqual(d.hits("203.0.113.11"), 0)

    def test_org_filter(self):
        d = self.daemon(filters=[{"orgs": ["PARTNER-CERT"]}])
        theirs = self.event(info="partner", orgc="PARTNER-CERT")
        ours = self.event(info="own")
        self.attr(ours, "domain", "own.example")
        self.attr(theirs, "domain", "partner.example")
        wait_until(lambda: d.hits("partner.example") == 1, what="partner org passes")
        self.assertEqual(d.hits("own.example"), 0)
        at_least(d, "iocbus_updates_total", 1, source="zmq", action="filtered")

    def test_publisher_restart_gap_is_caught_up(self):
        d = self.daemon()
        ev = self.event(info="gap")
        self.attr(ev, "ip-dst", "192.0.2.50")
        wait_until(lambda: d.hits("192.0.2.50") == 1, what="before the gap")
        self.misp.control("zmq/stop")
        wait_until(lambda: d.metric("iocbus_source_up", source="zmq") == 0, what="disconnect seen")
        # published while the publisher is down: the frame is lost, REST has it
        self.attr(ev, "ip-dst", "192.0.2.51")
        self.misp.control("zmq/start")
        wait_until(lambda: d.metric("iocbus_source_reconnects_total", source="zmq") >= 1, timeout=15,
                   what="reconnect")
        self.assertGreaterEqual(d.metric("iocbus_source_catchups_total", source="zmq"), 1)
        wait_until(lambda: d.hits("192.0.2.51") == 1, timeout=20, what="gap filled by the catch-up")
        self.assertEqual(d.metric("iocbus_source_up", source="zmq"), 1)
        # live again
        self.attr(ev, "ip-dst", "192.0.2.52")
        wait_until(lambda: d.hits("192.0.2.52") == 1, what="live after the restart")

    def test_future_timestamp_does_not_poison_the_cursor(self):
        # Issue #11 item 3: one attribute dated 2100 used to set the cursor to 2100, so the catch-up
        # after a gap started in the future and missed what was added during the gap, restart or not.
        work = self.enterContext(tempfile.TemporaryDirectory(prefix="iocbus-e2e-"))
        d = Iocbus({"misp": self.misp.misp_config(zmq=True), "store": {"path": os.path.join(work, "store")}},
                   workdir=work)
        self.addCleanup(d.close)
        # the catch-up asked for when the subscription started is over: it must not fill the gap below
        at_least(d, "iocbus_source_catchups_total", 1, source="pull")
        ev = self.event(info="future")
        self.attr(ev, "ip-dst", "192.0.2.60")
        self.attr(ev, "ip-dst", "192.0.2.61", timestamp=4102444800)    # 2100-01-01
        wait_until(lambda: d.hits("192.0.2.61") == 1, what="future attribute stored")
        self.assertEqual(d.hits("192.0.2.60"), 1)

        self.misp.control("zmq/stop")
        wait_until(lambda: d.metric("iocbus_source_up", source="zmq") == 0, what="disconnect seen")
        self.attr(ev, "ip-dst", "192.0.2.62")     # lost on ZeroMQ, only the catch-up can bring it
        self.misp.control("zmq/start")
        wait_until(lambda: d.metric("iocbus_source_reconnects_total", source="zmq") >= 1, timeout=15,
                   what="reconnect")
        wait_until(lambda: d.hits("192.0.2.62") == 1, timeout=20, what="gap filled by the catch-up")
        self.assertEqual(d.hits("192.0.2.61"), 1, "the future attribute is kept")
        at_least(d, "iocbus_rejects_total", 1, source="zmq", reason="future_timestamp")
        # the catch-up got it again over REST (judged against the Date header MISP answers with)
        at_least(d, "iocbus_rejects_total", 1, source="pull", reason="future_timestamp")
        ceiling = time.time() + 3600
        self.assertLess(d.metric("iocbus_misp_cursor_timestamp_seconds"), ceiling, "cursor in the future")
        # once per source (ZeroMQ, then the catch-up), not once per message
        self.assertLessEqual(d.log().count("attribute timestamp in the future"), 2, d.log()[-3000:])

        # across a restart: added while the daemon is down, fetched by the start-up catch-up
        self.assertEqual(d.term(), 0)
        self.attr(ev, "ip-dst", "192.0.2.63")
        d.start()
        wait_until(lambda: d.hits("192.0.2.63") == 1, timeout=20, what="start-up catch-up")
        self.assertEqual(d.hits("192.0.2.61"), 1)
        self.assertLess(d.metric("iocbus_misp_cursor_timestamp_seconds"), ceiling, "cursor in the future")


class HeartbeatTest(unittest.TestCase):
    def test_silence_requests_a_catch_up_once(self):
        with Misp(heartbeat=100) as misp:   # idle publisher: no heartbeat within the test
            with Iocbus({"misp": misp.misp_config(zmq=True, heartbeat_timeout="1s")}) as d:
                wait_until(lambda: (d.metric("iocbus_source_catchups_total", source="zmq") or 0) >= 1,
                           timeout=10, what="catch-up after silence")
                wait_until(lambda: d.metric("iocbus_source_up", source="zmq") == 0, what="up=0 while silent")
                n = d.metric("iocbus_source_catchups_total", source="zmq")
                ev = misp.control("event", info="hb")
                misp.control("attribute", event_id=ev["id"], type="ip-dst", value="192.0.2.77")
                wait_until(lambda: d.hits("192.0.2.77") == 1, what="message after silence")
                self.assertEqual(d.metric("iocbus_source_up", source="zmq"), 1)
                # one request per silence, not one per poll
                self.assertLessEqual(n, 2)

    def test_heartbeats_are_counted_and_keep_it_quiet(self):
        with Misp(heartbeat=0.2) as misp:
            with Iocbus({"misp": misp.misp_config(zmq=True, heartbeat_timeout="1s")}) as d:
                wait_until(lambda: (d.metric("iocbus_source_heartbeats_total", source="zmq") or 0) >= 8,
                           timeout=10, what="heartbeats")
                self.assertEqual(d.metric("iocbus_source_catchups_total", source="zmq") or 0, 0)
                self.assertEqual(d.metric("iocbus_source_up", source="zmq"), 1)


def frame_template():
    """The wire-frames.txt add (tags dropped) as text with @U@ (uuid), @V@ (value), @I@ (id)."""
    with open(TEMPLATE, "rb") as f:
        first = f.readline().rstrip(b"\n")
    topic, doc = first.split(b" ", 1)
    d = json.loads(doc)
    d["Attribute"].pop("Tag", None)
    a = d["Attribute"]
    old_uuid, old_value, old_id = a["uuid"], a["value"], a["id"]
    a["uuid"], a["value"], a["value1"], a["id"] = "@U@", "@V@", "@V@", "@I@"
    s = json.dumps(d, separators=(",", ":"), ensure_ascii=False)
    assert old_uuid not in s and '"%s"' % old_value not in s, (old_uuid, old_value, old_id)
    return topic.decode() + " " + s


def attr_frame(tmpl, i):
    ip = "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)
    u = "%08x-0000-4000-8000-%012x" % (i, i)
    return tmpl.replace("@U@", u).replace("@V@", ip).replace("@I@", str(100000 + i)).encode(), ip


class PlainAuthTest(unittest.TestCase):
    """MISP with Plugin.ZeroMQ_username/_password: PLAIN through a ZAP handler."""

    def test_plain_credentials(self):
        misp = Misp(heartbeat=1, args=["--zmq-user", "iocbus", "--zmq-password", "s3cret-zmq"])
        self.addCleanup(misp.close)
        ev = misp.control("event", info="plain")
        # right credentials: live intake works (no api: nothing but ZeroMQ can deliver)
        cfg = {"misp": {"zmq": {"host": "127.0.0.1", "port": misp.zmq_port, "username": "iocbus",
                                "password": "s3cret-zmq"}}}
        with Iocbus(cfg) as d:
            misp.control("attribute", event_id=ev["id"], type="ip-dst", value="192.0.2.77")
            wait_until(lambda: d.hits("192.0.2.77") == 1, what="add over PLAIN")
            self.assertNotIn("s3cret-zmq", d.log())
        # wrong password: refused, counted, logged without the password, never up
        cfg["misp"]["zmq"]["password"] = "wrong-password"
        with Iocbus(cfg, start=False) as d:
            d.start(wait_live=False)
            wait_until(lambda: "refused the ZeroMQ handshake" in d.log(), timeout=20, what="refusal logged")
            self.assertGreaterEqual(d.metric("iocbus_source_errors_total", source="zmq"), 1)
            self.assertEqual(d.metric("iocbus_source_up", source="zmq"), 0)
            misp.control("attribute", event_id=ev["id"], type="ip-dst", value="192.0.2.78")
            self.assertEqual(d.hits("192.0.2.78"), 0)
            self.assertNotIn("wrong-password", d.log())


class OwnPublisher:
    """An XPUB socket of our own on a free port: send() waits for nothing, but start()
    returns only once the daemon's subscription arrived (no slow-joiner loss)."""

    def __init__(self):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.SNDHWM, 0)     # never drop on our side
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind("tcp://127.0.0.1:0")
        self.port = int(self.sock.getsockopt_string(zmq.LAST_ENDPOINT).rsplit(":", 1)[1])

    def wait_subscription(self, timeout=20):
        if not self.sock.poll(int(timeout * 1000)):
            raise AssertionError("no subscription within %ds" % timeout)
        sub = self.sock.recv()
        assert sub == b"\x01misp_json", sub

    def close(self):
        self.sock.close(0)
        self.ctx.term()


class OwnPublisherTest(unittest.TestCase):
    def start(self, **zmq_extra):
        self.pub = OwnPublisher()
        self.addCleanup(self.pub.close)
        z = {"host": "127.0.0.1", "port": self.pub.port, "heartbeat_timeout": "0s"}
        z.update(zmq_extra)
        d = Iocbus({"misp": {"zmq": z}}, start=False)
        self.addCleanup(d.close)
        d.start(wait_live=False)
        self.pub.wait_subscription()
        return d

    def test_bad_frames_are_counted_and_intake_goes_on(self):
        d = self.start(max_message="1MiB")
        tmpl = frame_template()
        self.pub.sock.send(b"misp_json_garbage-without-a-space")                # bad_shape
        self.pub.sock.send(b"other_topic is filtered by the publisher")        # never arrives
        self.pub.sock.send(b"misp_json_attribute {not json")                    # not_json
        self.pub.sock.send(b"misp_json_attribute " + b"[" * 10 + b"x" * (20 << 20))  # too_large (20 MiB)
        self.pub.sock.send_multipart([b"misp_json_attribute", b"{}", b"tail"])  # bad_shape (multi-part)
        self.pub.sock.send(b'misp_json_attribute {"Attribute":[1,2]}')          # bad_shape (shape)
        frame, ip = attr_frame(tmpl, 7)
        self.pub.sock.send(frame)
        wait_until(lambda: d.hits(ip) == 1, timeout=20, what="valid add after the bad frames")
        wait_until(lambda: rejects(d, "too_large") >= 1, what="too_large counted")
        self.assertGreaterEqual(rejects(d, "not_json"), 1)
        self.assertGreaterEqual(rejects(d, "bad_shape"), 3)
        # a change is matchable before its batch ends and the counters are published
        wait_until(lambda: d.metric("iocbus_source_messages_total", source="zmq") == 6, what="6 messages")
        self.assertEqual(d.metric("iocbus_store_attributes_total"), 1)
        self.assertEqual(d.proc.poll(), None)
        # Warnings are rate-limited (one a second): the first bad frame is logged with its
        # topic, the next ones only counted until a second has passed.
        log = d.log()
        self.assertIn('topic="misp_json_garbage-without-a-space"', log)
        # (the 20 MiB frame can take a while to arrive under sanitizers: not exactly 1)
        self.assertLess(log.count('msg="bad frame skipped"') + log.count("frame larger than max_message"), 5)

        def oversized_logged():
            self.pub.sock.send(b"misp_json_attribute " + b"y" * (2 << 20))
            return re.search(r'"frame larger than max_message.*suppressed=(\d+)', d.log())
        m = wait_until(oversized_logged, timeout=10, interval=0.25, what="next warning after a second")
        self.assertGreaterEqual(int(m.group(1)), 1)
        self.assertEqual(d.term(), 0)

    def test_backlog_asks_for_a_catch_up(self):
        # MISP's publisher queues 1000 frames per subscriber and then drops without a
        # word: after a backlog of a second or more, iocbus catches up over REST.
        misp = Misp(heartbeat=10)
        self.addCleanup(misp.close)
        self.pub = OwnPublisher()
        self.addCleanup(self.pub.close)
        cfg = {"misp": misp.misp_config()}
        cfg["misp"]["zmq"] = {"host": "127.0.0.1", "port": self.pub.port, "heartbeat_timeout": "0s"}
        d = Iocbus(cfg, start=False)
        self.addCleanup(d.close)
        d.start(wait_live=False)
        self.pub.wait_subscription()
        wait_until(lambda: d.metric("iocbus_source_up", source="pull") == 1, what="start-up pull done")
        tmpl = frame_template()
        sent = 0
        for chunk in (60000, 120000, 240000):   # until the daemon has been behind for a second
            for i in range(sent, sent + chunk):
                self.pub.sock.send(attr_frame(tmpl, i)[0])
            sent += chunk
            wait_until(lambda: d.metric("iocbus_source_messages_total", source="zmq") == sent, timeout=240,
                       interval=0.25, what="%d frames received" % sent)
            if "caught up with a backlog" in d.log():
                break
        self.assertIn("caught up with a backlog", d.log(), "no backlog of a second after %d frames" % sent)
        wait_until(lambda: (d.metric("iocbus_source_catchups_total", source="zmq") or 0) >= 1,
                   what="catch-up requested")
        wait_until(lambda: any('"timestamp"' in (r.get("body") or "") for r in misp.control("requests")),
                   timeout=30, what="REST catch-up with a timestamp")
        self.assertEqual(d.metric("iocbus_store_attributes_total"), sent)
        self.assertEqual(d.term(), 0)

    def test_100k_attributes_zero_loss(self):
        n = 100000
        d = self.start()
        tmpl = frame_template()
        frames = [attr_frame(tmpl, i) for i in range(n)]
        for f, _ in frames:
            self.pub.sock.send(f)
        wait_until(lambda: d.metric("iocbus_store_attributes_total") == n, timeout=240, interval=0.25,
                   what="%d attributes in the store" % n)
        wait_until(lambda: d.metric("iocbus_source_messages_total", source="zmq") == n, what="messages")
        wait_until(lambda: d.metric("iocbus_updates_total", source="zmq", action="upsert") == n, what="upserts")
        for i in (0, 1, 4095, 4096, 65535, 65536, n - 2, n - 1):
            self.assertEqual(d.hits(frames[i][1]), 1, frames[i][1])
        self.assertEqual(d.hits("10.255.255.255"), 0)
        self.assertEqual(sum(v for name, labels, v in d.metrics()
                             if name == "iocbus_rejects_total" and labels.get("source") == "zmq"), 0)
        self.assertEqual(d.term(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
