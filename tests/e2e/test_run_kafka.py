# SPDX-License-Identifier: Apache-2.0
"""`iocbus run` with MISP's Kafka feed (src/sources/misp_kafka.c).

The MISP test server produces to librdkafka's mock cluster (kafka_mock) the
way KafkaPubTool does; iocbus consumes misp_attribute and misp_event with
no misp.api, so everything seen comes through Kafka. Covered: every update
kind, attribute tag/untag under a tag filter, event delete, event tags from
misp_event feeding the filter, the org filter, a bad configuration key, and
the offset discipline: offsets are committed only once the store has
committed, so a SIGTERM restart re-reads nothing and a kill -9 re-reads at
most the uncommitted tail, ending in the right state either way.

Kafka gives no order across topics or partitions (MISP produces with a null
key), so the tests use one partition per topic and wait for an event message
to be consumed before adding attributes that depend on it.
"""
import os
import subprocess
import sys
import tempfile
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Iocbus, KafkaMock, Misp, check_attribute_lifecycle, wait_until  # noqa: E402

TOPICS = ["misp_attribute", "misp_event"]


def at_least(d, name, n, timeout=20, **labels):
    """Wait until a counter reaches n (counters are published after each batch)."""
    return wait_until(lambda: (d.metric(name, **labels) or 0) >= n, timeout=timeout,
                      what="%s%r >= %d" % (name, labels, n))


def messages(d):
    return d.metric("iocbus_source_messages_total", source="kafka") or 0


class KafkaTest(unittest.TestCase):
    def setUp(self):
        self.kafka = KafkaMock(topics=["%s:1" % t for t in TOPICS])
        self.addCleanup(self.kafka.close)
        self.misp = Misp(heartbeat=100, kafka_bootstrap=self.kafka.bootstrap)
        self.addCleanup(self.misp.close)
        self.group = "iocbus-e2e-" + uuid.uuid4().hex[:8]

    def config(self, filters=None, store=None, extra=None):
        kc = {"bootstrap.servers": self.kafka.bootstrap, "group.id": self.group,
              # the mock coordinator waits a whole session for a member that died
              "session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}
        kc.update(extra or {})
        m = self.misp.misp_config(api=False, filters=filters)
        m["kafka"] = {"topics": TOPICS, "poll_interval": 0.05, "config": kc}
        c = {"misp": m}
        if store:
            c["store"] = {"path": store}
        return c

    def daemon(self, **kw):
        d = Iocbus(self.config(**kw))
        self.addCleanup(d.close)
        return d

    def event(self, d, **kw):
        """Create an event and wait until its misp_event message was consumed."""
        n = messages(d)
        ev = self.misp.control("event", **kw)
        at_least(d, "iocbus_source_messages_total", n + 1, source="kafka")
        return ev

    def attr(self, event, typ, value, **kw):
        return self.misp.attribute(event, typ, value, **kw)

    def test_add_edit_to_ids_soft_delete_delete_event_delete(self):
        d = self.daemon()
        ev = self.event(d, info="lifecycle")
        a = self.attr(ev, "ip-dst", "192.0.2.1")
        b = self.attr(ev, "domain", "gone.example")
        wait_until(lambda: d.hits("192.0.2.1") == 1, timeout=30, what="add (consumer joined)")
        wait_until(lambda: d.hits("gone.example") == 1, what="second add")
        self.assertGreaterEqual(d.metric("iocbus_source_reconnects_total", source="kafka"), 1)

        check_attribute_lifecycle(self.misp, d, a, b)

        other = self.event(d, info="to delete")
        vals = ["198.51.100.%d" % i for i in range(1, 4)]
        for v in vals:
            self.attr(other, "ip-src", v)
        wait_until(lambda: all(d.hits(v) == 1 for v in vals), what="adds of the second event")
        self.misp.control("event/delete", id=other["id"])
        wait_until(lambda: all(d.hits(v) == 0 for v in vals), what="event delete")

        at_least(d, "iocbus_updates_total", 5, source="kafka", action="add")
        at_least(d, "iocbus_updates_total", 3, source="kafka", action="edit")
        at_least(d, "iocbus_updates_total", 1, source="kafka", action="soft_delete")
        at_least(d, "iocbus_updates_total", 1, source="kafka", action="delete")
        at_least(d, "iocbus_updates_total", 1, source="kafka", action="event_delete")
        self.assertGreater(d.metric("iocbus_source_bytes_total", source="kafka"), 0)
        self.assertEqual(d.metric("iocbus_source_up", source="kafka"), 1)
        self.assertEqual(d.metric("iocbus_source_errors_total", source="kafka"), 0)
        self.assertEqual(d.term(), 0)

    def test_attribute_tag_untag_with_tag_filter(self):
        d = self.daemon(filters=[{"tags": ["tlp:green"]}])
        ev = self.event(d, info="tags")
        a = self.attr(ev, "url", "http://tagged.example/x")
        at_least(d, "iocbus_updates_total", 1, source="kafka", action="filtered")
        self.assertEqual(d.hits("http://tagged.example/x"), 0)
        self.misp.control("attribute/tag", id=a["id"], tag="tlp:green")
        wait_until(lambda: d.hits("http://tagged.example/x") == 1, what="hit after tag")
        self.misp.control("attribute/untag", id=a["id"], tag="tlp:green")
        wait_until(lambda: d.hits("http://tagged.example/x") == 0, what="miss after untag")

    def test_event_tags_and_org_filter(self):
        d = self.daemon(filters=[{"tags": ["campaign:x"]}, {"orgs": ["PARTNER-CERT"]}])
        tagged = self.event(d, info="tagged event", tags=["campaign:x"])
        plain = self.event(d, info="plain event")
        partner = self.event(d, info="partner event", orgc="PARTNER-CERT")
        # attribute messages carry no event tags: the stored event's tags decide
        self.attr(tagged, "ip-dst", "203.0.113.10")
        self.attr(plain, "ip-dst", "203.0.113.11")
        self.attr(partner, "domain", "partner.example")
        wait_until(lambda: d.hits("203.0.113.10") == 1, timeout=30, what="attribute of the tagged event")
        wait_until(lambda: d.hits("partner.example") == 1, what="attribute of the partner org")
        at_least(d, "iocbus_updates_total", 1, source="kafka", action="filtered")
        self.assertEqual(d.hits("203.0.113.11"), 0)

    def test_unknown_property_fails_start_without_echoing_secrets(self):
        for extra, needle in (({"no.such.property": "x"}, "no.such.property"),
                              ({"sasl.password": "hunter2-SECRET", "bogus.x": "1"}, "bogus.x"),
                              ({"ssl.key.password": "hunter2-SECRET", "session.timeout.ms": "nope"},
                               "session.timeout.ms")):
            with tempfile.TemporaryDirectory() as w:
                d = Iocbus(self.config(extra=extra), workdir=w, start=False)
                r = subprocess.run([BIN, "run", "-c", d.config_path], capture_output=True, timeout=30,
                                   stdin=subprocess.DEVNULL)
                out = r.stderr.decode()
                self.assertEqual(r.returncode, 2, out)
                self.assertIn(needle, out)
                self.assertNotIn("hunter2", out)

    def test_bad_messages_are_counted_and_their_offsets_stored(self):
        from confluent_kafka import Producer
        with tempfile.TemporaryDirectory() as store:
            cfg = self.config(store=store)
            cfg["misp"]["kafka"]["max_message"] = "4KiB"
            d = Iocbus(cfg)
            self.addCleanup(d.close)
            p = Producer({"bootstrap.servers": self.kafka.bootstrap})
            for v in (b"not json at all", b"[" * 10 + b"x" * 10000, b'{"Attribute":[1,2]}', None):
                p.produce("misp_attribute", v)
            self.assertEqual(p.flush(10), 0)
            ev = self.event(d, info="after junk")
            self.attr(ev, "ip-dst", "192.0.2.33")
            wait_until(lambda: d.hits("192.0.2.33") == 1, timeout=30, what="valid add after the junk")
            at_least(d, "iocbus_source_messages_total", 6, source="kafka")

            def rej(reason):
                return d.metric("iocbus_rejects_total", source="kafka", reason=reason) or 0
            self.assertEqual(rej("too_large"), 1)
            self.assertGreaterEqual(rej("not_json"), 2)      # text and the null value
            self.assertGreaterEqual(rej("bad_shape"), 1)
            self.assertEqual(d.proc.poll(), None)
            self.assertEqual(d.term(), 0)
            d.start()
            at_least(d, "iocbus_source_reconnects_total", 1, timeout=30, source="kafka")
            self.attr(ev, "ip-dst", "192.0.2.34")
            wait_until(lambda: d.hits("192.0.2.34") == 1, what="add after restart")
            # skipped messages were done with too: nothing is read twice
            self.assertEqual(messages(d), 1)

    def test_sigterm_restart_reads_nothing_again(self):
        with tempfile.TemporaryDirectory() as store:
            d = Iocbus(self.config(store=store))
            self.addCleanup(d.close)
            ev = self.event(d, info="restart")
            vals = ["192.0.2.%d" % i for i in range(100, 120)]
            for v in vals:
                self.attr(ev, "ip-dst", v)
            wait_until(lambda: all(d.hits(v) == 1 for v in vals), timeout=30, what="20 adds")
            self.assertEqual(d.term(), 0)

            d.start()
            at_least(d, "iocbus_source_reconnects_total", 1, timeout=30, source="kafka")
            self.assertTrue(all(d.hits(v) == 1 for v in vals), "persisted store lost attributes")
            self.attr(ev, "ip-dst", "192.0.2.200")
            wait_until(lambda: d.hits("192.0.2.200") == 1, what="new add after restart")
            # only the new message: the committed offsets covered everything before
            self.assertEqual(messages(d), 1)

    def test_kill9_rereads_at_most_the_uncommitted_tail(self):
        with tempfile.TemporaryDirectory() as store:
            d = Iocbus(self.config(store=store))
            self.addCleanup(d.close)
            ev = self.event(d, info="crash")
            base = ["192.0.2.%d" % i for i in range(1, 31)]
            for v in base:
                self.attr(ev, "ip-dst", v)
            wait_until(lambda: all(d.hits(v) == 1 for v in base), timeout=30, what="30 adds")
            self.assertEqual(d.term(), 0)          # commits the offsets of the first 31 messages

            d.start()
            tail = []
            for i in range(10):
                tail.append(self.attr(ev, "domain", "tail%d.example" % i))
            wait_until(lambda: all(d.hits("tail%d.example" % i) == 1 for i in range(10)), timeout=30,
                       what="tail adds")
            d.kill9()

            # changes made while iocbus is down wait in Kafka
            self.misp.control("attribute/soft-delete", id=tail[0]["id"])
            self.attr(ev, "ip-dst", "192.0.2.99")
            d.start()
            wait_until(lambda: d.hits("192.0.2.99") == 1, timeout=40, what="add made while down")
            wait_until(lambda: d.hits("tail0.example") == 0, what="soft-delete made while down")
            # at most the 10 uncommitted tail messages come again, never the first 31
            self.assertLessEqual(messages(d), 12)
            self.assertTrue(all(d.hits(v) == 1 for v in base))
            self.assertTrue(all(d.hits("tail%d.example" % i) == 1 for i in range(1, 10)))
            self.assertEqual(d.metric("iocbus_store_attributes_total"), 30 + 9 + 1)
            self.assertEqual(d.term(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
