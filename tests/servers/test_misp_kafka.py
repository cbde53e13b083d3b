#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Self-test of misp_server.py --kafka-bootstrap against ../shared/reference/misp.md §2.

Usage: test_misp_kafka.py KAFKA_MOCK_BINARY [unittest args]
Starts tests/servers/kafka_mock (stdin kept open on a pipe), then misp_server.py producing
to it, drives the control plane, and reads back with a confluent_kafka Consumer (unique
group, earliest, bounded waits).  Loopback only.
"""
import json
import os
import subprocess
import sys
import time
import unittest
import uuid

from confluent_kafka import Consumer, KafkaError

import test_misp_server as tms

HERE = os.path.dirname(os.path.abspath(__file__))
MOCK = None                      # set from argv[1]
TOPICS = ["misp_attribute", "misp_event", "misp_event_publish", "misp_tag",
          "misp_sighting", "custom_sightings", "misp_object"]
URL = "http://evil.example/dl/facture_\u00e9t\u00e9.exe"
WAIT = 30.0


def json_encode(obj):
    """PHP json_encode() without flags: compact, `\\/`, `\\uXXXX`."""
    return json.dumps(obj, separators=(",", ":")).replace("/", "\\/")


def key_tree(v):
    """Key names and order (recursively) of a decoded document."""
    if isinstance(v, dict):
        return [(k, key_tree(x)) for k, x in v.items()]
    if isinstance(v, list):
        return [key_tree(x) for x in v[:1]]
    return type(v).__name__


def start(argv, prefix):
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if not line.startswith(prefix):
        p.kill()
        p.wait(timeout=5)
        raise AssertionError("%s: no %r line: %r" % (argv[0], prefix, line))
    return p, dict(kv.split("=", 1) for kv in line.split()[1:])


def stop(p, timeout=15):
    """Close stdin (both servers exit on EOF); kill only after a bound. Returns seconds."""
    t0 = time.monotonic()
    try:
        p.stdin.close()
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=5)
    p.stdout.close()
    return time.monotonic() - t0


class MispKafkaTest(unittest.TestCase):
    ctl = tms.Base.ctl
    http = tms.Base.http

    def setUp(self):
        self.procs = []
        mock, f = start([MOCK, "1"] + ["%s:1" % t for t in TOPICS], "READY ")
        self.procs.append(mock)
        self.boot = f["bootstraps"]
        self.server = None

    def start_server(self, bootstrap, *extra):
        self.server, f = start([sys.executable, tms.SERVER, "--heartbeat", "0.3",
                                "--kafka-bootstrap", bootstrap] + list(extra), "READY ")
        self.procs.append(self.server)
        self.rest = int(f["rest"])

    def tearDown(self):
        for p in reversed(self.procs):
            if p.poll() is None or not p.stdout.closed:
                stop(p)

    def consume(self, want, timeout=WAIT):
        """Read every pre-created topic until `want` messages arrived, then 1 s more."""
        c = Consumer({"bootstrap.servers": self.boot, "group.id": "t-" + uuid.uuid4().hex,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False})
        got = []
        try:
            c.subscribe(TOPICS)
            deadline = time.monotonic() + timeout
            settle = None
            while time.monotonic() < (settle or deadline):
                m = c.poll(0.2)
                if m is None:
                    if settle is None and len(got) >= want:
                        settle = time.monotonic() + 1.0
                    continue
                if m.error():
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        self.fail("consumer error: %s" % m.error())
                    continue
                got.append(m)
        finally:
            c.close()
        self.assertGreaterEqual(len(got), want, [m.value()[:80] for m in got])
        return got

    def by_topic(self, msgs):
        out = {}
        for m in msgs:
            raw = m.value()
            self.assertIsNone(m.key(), m.topic())                  # null key
            self.assertIsNone(m.headers(), m.topic())              # no headers
            raw.decode("ascii")                                     # \uXXXX, no raw UTF-8
            doc = json.loads(raw)
            self.assertEqual(raw.decode(), json_encode(doc))      # exact json_encode form
            self.assertNotIn("status", doc)                        # no heartbeat on Kafka
            out.setdefault(m.topic(), []).append((raw, doc))
        return out

    def test_every_zmq_message_is_produced_like_kafkapubtool(self):
        self.start_server(self.boot, "--kafka-topic", "sighting=custom_sightings")
        e = self.ctl("event", {"info": "Kafka \u00e9v\u00e9nement", "orgc": "EXAMPLE-CERT"})
        a = self.ctl("attribute", {"event_id": e["id"], "type": "url", "value": URL,
                                   "tags": ["tlp:amber"]})
        self.ctl("attribute/edit", {"id": a["id"], "comment": "seen 2024/10"})
        self.ctl("attribute/tag", {"id": a["id"], "tag": "misp-galaxy:x=\"y/z\""})
        self.ctl("event/tag", {"id": e["id"], "tag": "tlp:green"})
        st, _, body = self.http("/sightings/add", {"value": URL})
        self.assertEqual(st, 200, body)
        self.ctl("event/publish", {"id": e["id"]})
        b = self.ctl("attribute", {"event_id": e["id"], "type": "domain",
                                   "value": "b.example"})
        self.ctl("attribute/soft-delete", {"id": b["id"]})
        self.ctl("attribute/delete", {"id": b["id"]})
        self.ctl("event/delete", {"id": e["id"]})
        # the last message was produced just before shutdown: the flush must deliver it
        self.assertLess(stop(self.server), 15)
        t = self.by_topic(self.consume(12))

        self.assertEqual(sorted(t), ["custom_sightings", "misp_attribute", "misp_event",
                                     "misp_event_publish", "misp_tag"])
        attr = t["misp_attribute"]
        self.assertEqual([d["action"] for _, d in attr],
                         ["add", "edit", "edit", "add", "soft-delete", "delete"])
        raw, add = attr[0]
        # json_encode escaping in the raw bytes (reference §2)
        self.assertIn(b'"value":"http:\\/\\/evil.example\\/dl\\/facture_\\u00e9t\\u00e9.exe"',
                      raw)
        self.assertEqual(add["Attribute"]["value"], URL)
        self.assertEqual([x["name"] for x in add["Attribute"]["Tag"]], ["tlp:amber"])
        self.assertEqual(add["Event"]["Orgc"]["name"], "EXAMPLE-CERT")
        self.assertIn(b'"comment":"seen 2024\\/10"', attr[1][0])
        self.assertEqual(list(attr[5][1]), ["Attribute", "action"])
        self.assertTrue(attr[4][1]["Attribute"]["deleted"])
        for name, i in (("misp_attribute-add", 0), ("misp_attribute-delete", 5)):
            with open(os.path.join(tms.FIXTURES, "kafka", name + ".value.json"), "rb") as fh:
                want = json.loads(fh.read())
            self.assertEqual(key_tree(attr[i][1]), key_tree(want), name)

        ev = t["misp_event"]
        self.assertEqual([d["action"] for _, d in ev], ["add", "delete"])
        self.assertIn(b'"info":"Kafka \\u00e9v\\u00e9nement"', ev[0][0])
        self.assertEqual(ev[1][1]["Event"]["id"], e["id"])

        tags = t["misp_tag"]
        self.assertEqual([(d["Tag"]["name"], d["action"]) for _, d in tags],
                         [('misp-galaxy:x="y/z"', "attached to attribute"),
                          ("tlp:green", "attached to event")])
        self.assertIn(b'"name":"misp-galaxy:x=\\"y\\/z\\""', tags[0][0])

        (sraw, sg), = t["custom_sightings"]                        # topic override
        self.assertEqual(sg["action"], "add")
        self.assertEqual(sg["Sighting"]["Attribute"]["value"], URL)
        self.assertIn(b"http:\\/\\/", sraw)

        (praw, pub), = t["misp_event_publish"]                     # raw fetchEvent() shape
        self.assertEqual(pub["action"], "publish")
        self.assertEqual(list(pub)[:3], ["Event", "Org", "Orgc"])
        self.assertNotIn("Attribute", pub["Event"])
        self.assertNotIn("Tag", pub["Event"])
        self.assertTrue(pub["Event"]["published"])
        self.assertEqual([x["Tag"]["name"] for x in pub["EventTag"]], ["tlp:green"])
        (pa,) = pub["Attribute"]
        self.assertEqual(pa["value"], URL)
        self.assertNotIn("Tag", pa)
        self.assertEqual([x["Tag"]["name"] for x in pa["AttributeTag"]],
                         ["tlp:amber", 'misp-galaxy:x="y/z"'])
        self.assertTrue(all(x["attribute_id"] == pa["id"] for x in pa["AttributeTag"]))
        self.assertIn(b"\\u00e9", praw)

    def test_unreachable_broker_never_blocks_rest(self):
        self.start_server("127.0.0.1:1")
        t0 = time.monotonic()
        e = self.ctl("event", {"info": "nobody listens"})
        self.ctl("attribute", {"event_id": e["id"], "type": "url", "value": URL})
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertLess(stop(self.server), 15)                     # bounded flush

    def test_bad_topic_override_is_rejected(self):
        r = subprocess.run([sys.executable, tms.SERVER, "--kafka-bootstrap", self.boot,
                            "--kafka-topic", "nosuch=x"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("NAME=TOPIC", r.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit("usage: test_misp_kafka.py KAFKA_MOCK_BINARY [unittest args]")
    MOCK = sys.argv.pop(1)
    unittest.main()
