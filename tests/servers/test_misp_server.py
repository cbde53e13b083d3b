#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Self-test of tests/servers/misp_server.py against ../shared/reference/misp.md.

Starts the server as a subprocess on ephemeral loopback ports for each test case,
subscribes to its ZeroMQ PUB socket before acting, and uses bounded waits only.
"""
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "misp_server.py")
KEY = "IocbusTestKey000000000000000000000000001"
NOPERM = "IocbusNoSightingKey000000000000000000002"
AUTH_FAILED = ("Authentication failed. Please make sure you pass the API key of an "
               "API enabled user along in the Authorization header.")
INVALID_JSON = ("Invalid JSON input. Make sure that the JSON input is a correctly "
                "formatted JSON string. This request has been blocked to avoid an "
                "unfiltered request.")
WAIT = 5.0


class Base(unittest.TestCase):
    """Starts a server per test; helpers only."""
    heartbeat = 30.0
    extra_args = []

    def setUp(self):
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, "--heartbeat", str(self.heartbeat)] + self.extra_args,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.assertTrue(line.startswith("READY "), line)
        f = dict(kv.split("=", 1) for kv in line.split()[1:])
        self.rest, self.zport = int(f["rest"]), int(f["zmq"])
        self.assertEqual(f["key"], KEY)
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"misp_json")
        self.sub.connect("tcp://127.0.0.1:%d" % self.zport)
        self._sync_subscription()

    def tearDown(self):
        self.sub.close()
        self.ctx.term()
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc.stdout.close()

    # ---- helpers ---------------------------------------------------------------
    def _sync_subscription(self):
        """Defeat the slow joiner: create throwaway events until one message arrives."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            self.ctl("org", {"name": "sync-probe"})           # no ZMQ message
            e = self.ctl("event", {"info": "sync-probe"})
            if self.sub.poll(200):
                self.sub.recv()
                self.ctl("event/delete", {"id": e["id"]})
                self.recv("misp_json_event")
                self.drain()
                return
            self.ctl("event/delete", {"id": e["id"]})
        self.fail("subscription never became active")

    def drain(self):
        while self.sub.poll(100):
            self.sub.recv()

    def recv(self, topic, timeout=WAIT):
        self.assertTrue(self.sub.poll(int(timeout * 1000)), "no frame for " + topic)
        frame = self.sub.recv()
        t, _, body = frame.partition(b" ")
        self.assertEqual(t.decode(), topic, frame[:200])
        # compact, unescaped slashes, no newline (reference §1.3)
        self.assertNotIn(b"\n", body)
        msg = json.loads(body)
        self.assertEqual(body.decode(), json.dumps(msg, separators=(",", ":"),
                                                   ensure_ascii=False))
        return msg

    def assert_quiet(self, ms=300):
        self.assertFalse(self.sub.poll(ms), "unexpected extra frame")

    def ctl(self, action, body=None):
        req = urllib.request.Request("http://127.0.0.1:%d/_control/%s" % (self.rest, action),
                                     data=json.dumps(body or {}).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=WAIT) as r:
            return json.loads(r.read())

    def http(self, path, body=None, headers=None, method="POST", raw=None):
        h = {"Accept": "application/json", "Content-Type": "application/json"}
        h.update(headers if headers is not None else {"Authorization": KEY})
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.rest, path), data=data,
                                     headers=h, method=method)
        try:
            with urllib.request.urlopen(req, timeout=WAIT) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def search(self, filters, headers=None):
        h = {"Authorization": KEY}
        h.update(headers or {})
        st, hd, body = self.http("/attributes/restSearch", {"request": filters}, headers=h)
        self.assertEqual(st, 200, body)
        return hd, body, json.loads(body)["response"]["Attribute"]

    def seed(self, n=5, ts0=1729500000):
        e = self.ctl("event", {"info": "seed", "orgc": "EXAMPLE-CERT", "tags": ["tlp:amber"]})
        attrs = [self.ctl("attribute", {"event_id": e["id"], "type": "ip-dst",
                                        "value": "203.0.113.%d" % i, "timestamp": ts0 + i,
                                        "to_ids": i % 2 == 0})
                 for i in range(n)]
        return e, attrs

class MispServerTest(Base):
    # ---- REST ------------------------------------------------------------------
    def test_auth(self):
        exp = ('{"name":"%s","message":"%s","url":"\\/attributes\\/restSearch"}'
               % (AUTH_FAILED, AUTH_FAILED)).encode()
        for headers in ({}, {"Authorization": "x" * 40}, {"Authorization": "short"},
                        {"Authorization": KEY, "X-MISP-AUTH": "y" * 40},
                        {"Authorization": "Basic " + KEY}):
            st, hd, body = self.http("/attributes/restSearch", {"returnFormat": "json"},
                                     headers=headers)
            self.assertEqual(st, 403, headers)
            self.assertEqual(body, exp)
            self.assertEqual(hd["Content-Type"], "application/json; charset=UTF-8")
        # X-MISP-AUTH wins over Authorization; comma-separated lists are tried in turn
        for headers in ({"Authorization": "bad", "X-MISP-AUTH": KEY},
                        {"Authorization": "z" * 40 + ", " + KEY}):
            st, _, body = self.http("/attributes/restSearch", {"returnFormat": "json"},
                                    headers=headers)
            self.assertEqual(st, 200, body)

    def test_envelope_and_shape(self):
        _, body, _ = self.search({"returnFormat": "json"})
        self.assertEqual(body, b'{"response": {"Attribute": []}}\n')
        e, attrs = self.seed(1)
        self.ctl("attribute/tag", {"id": attrs[0]["id"], "tag": "Feed-x"})
        hd, body, items = self.search({"returnFormat": "json"})
        self.assertTrue(body.startswith(b'{"response": {"Attribute": [{"id":"'))
        self.assertTrue(body.endswith(b"]}}\n"))
        a = items[0]
        self.assertEqual(list(a)[:17], ["id", "event_id", "object_id", "object_relation",
                                        "category", "type", "to_ids", "uuid", "timestamp",
                                        "distribution", "sharing_group_id", "comment",
                                        "deleted", "disable_correlation", "first_seen",
                                        "last_seen", "value"])
        self.assertNotIn("value1", a)
        self.assertEqual(a["id"], attrs[0]["id"])
        self.assertIsInstance(a["timestamp"], str)
        self.assertIs(a["to_ids"], True)
        self.assertEqual(set(a["Event"]), {"org_id", "distribution", "publish_timestamp",
                                           "id", "info", "orgc_id", "uuid"})
        self.assertEqual([t["name"] for t in a["Tag"]], ["Feed-x"])
        self.assertEqual(hd["X-Export-Module-Used"], "json")
        self.assertEqual(hd["X-Response-Format"], "json")
        # includeEventTags appends inherited event tags; includeContext replaces Event
        _, _, items = self.search({"returnFormat": "json", "includeEventTags": "yes",
                                   "includeContext": 1})
        tags = items[0]["Tag"]
        self.assertEqual(tags[1], {"id": tags[1]["id"], "name": "tlp:amber",
                                   "colour": "#0088cc", "numerical_value": None,
                                   "inherited": 1})
        ev = items[0]["Event"]
        self.assertEqual(ev["Orgc"]["name"], "EXAMPLE-CERT")
        self.assertEqual([t["name"] for t in ev["Tag"]], ["tlp:amber"])
        self.assertEqual(ev["uuid"], e["uuid"])

    def test_paging_and_result_count(self):
        self.seed(5)
        hd, _, items = self.search({"returnFormat": "json"})
        self.assertEqual((len(items), hd["X-Result-Count"]), (5, "5"))
        got = []
        for page, (n, count) in enumerate([(2, "3"), (2, "3"), (1, "1"), (0, "0")], 1):
            hd, _, items = self.search({"returnFormat": "json", "limit": 2, "page": page,
                                        "order": "Attribute.id ASC"})
            self.assertEqual((len(items), hd["X-Result-Count"]), (n, count), page)
            got += [a["value"] for a in items]
        self.assertEqual(got, ["203.0.113.%d" % i for i in range(5)])
        # page defaults to 1; null limit/page mean no paging
        hd, _, items = self.search({"returnFormat": "json", "limit": 3})
        self.assertEqual((len(items), hd["X-Result-Count"]), (3, "4"))
        hd, _, items = self.search({"returnFormat": "json", "limit": None, "page": None})
        self.assertEqual(len(items), 5)

    def test_filters(self):
        self.seed(5, ts0=1729500000)
        vals = lambda f: [a["value"] for a in self.search(dict(returnFormat="json", **f))[2]]
        self.assertEqual(vals({"timestamp": 1729500003}), ["203.0.113.3", "203.0.113.4"])
        self.assertEqual(vals({"timestamp": "1729500003"}), ["203.0.113.3", "203.0.113.4"])
        self.assertEqual(vals({"timestamp": [1729500003, 1729500001]}),
                         ["203.0.113.1", "203.0.113.2", "203.0.113.3"])
        self.assertEqual(vals({"to_ids": "yes"}), ["203.0.113.0", "203.0.113.2",
                                                    "203.0.113.4"])
        self.assertEqual(vals({"to_ids": 0}), ["203.0.113.1", "203.0.113.3"])
        self.assertEqual(len(vals({"type": "ip-%"})), 5)
        self.assertEqual(vals({"type": ["domain", "md5"]}), [])
        self.assertEqual(vals({"value": "203.0.113.1"}), ["203.0.113.1"])
        self.assertEqual(vals({"tags": ["tlp:amber"]}), vals({}))     # event tag, OR
        self.assertEqual(vals({"tags": ["tlp:red", "nope"]}), [])
        self.assertEqual(vals({"tags": ["!tlp:amber"]}), [])
        a = self.search({"returnFormat": "json", "value": "203.0.113.2"})[2][0]
        self.ctl("attribute/soft-delete", {"id": a["id"]})
        self.assertNotIn("203.0.113.2", vals({}))
        self.assertEqual(vals({"deleted": 1}), ["203.0.113.2"])
        self.assertEqual(len(vals({"deleted": [0, 1]})), 5)
        # CakePHP named parameters (/attributes/restSearch[/json]/k:v/k:v), GET or POST
        st, _, body = self.http("/attributes/restSearch/json/value:203.0.113.4/to_ids:1", method="GET")
        self.assertEqual([a["value"] for a in json.loads(body)["response"]["Attribute"]], ["203.0.113.4"])
        st, _, body = self.http("/attributes/restSearch/type:ip-dst/value:203.0.113.1", {})
        self.assertEqual([a["value"] for a in json.loads(body)["response"]["Attribute"]], ["203.0.113.1"])

    def test_rest_errors(self):
        st, _, body = self.http("/attributes/restSearch", raw=b"{not json")
        self.assertEqual(st, 405)
        self.assertTrue(json.loads(body)["message"].startswith("Invalid JSON input."))
        st, _, _ = self.http("/attributes/restSearch", method="GET")
        self.assertEqual(st, 400)
        st, _, body = self.http("/attributes/restSearch", {"returnFormat": "bogus"})
        self.assertEqual((st, json.loads(body)["message"]), (404, "Invalid output format."))
        # injected outage: next 2 requests fail with 503, then service resumes
        self.ctl("fail", {"count": 2, "status": 503})
        for _ in range(2):
            self.assertEqual(self.http("/servers/getVersion", method="GET")[0], 503)
        st, _, body = self.http("/servers/getVersion", method="GET")
        self.assertEqual(st, 200)
        v = json.loads(body)
        self.assertEqual((v["version"], v["perm_sighting"]), ("2.5.1", True))
        # the rest of PyMISP's connect sequence, and GET restSearch with parameters
        st, _, body = self.http("/servers/getPyMISPVersion.json", method="GET")
        self.assertEqual((st, json.loads(body)), (200, {"version": "2.5.1"}))
        st, _, body = self.http("/attributes/restSearch?type=ip-dst", method="GET")
        self.assertEqual((st, body), (200, b'{"response": {"Attribute": []}}\n'))
        st, _, body = self.http("/users/view/me", method="GET")
        self.assertEqual((st, sorted(json.loads(body))),
                         (200, ["Organisation", "Role", "User", "UserSetting"]))
        st, _, body = self.http("/attributes/describeTypes.json", method="GET")
        self.assertEqual(st, 200)
        self.assertIn("result", json.loads(body))

    def test_sightings(self):
        _, attrs = self.seed(2)
        self.drain()
        fail = "Could not add the Sighting. Reason: "
        st, _, body = self.http("/sightings/add", {"value": "192.0.2.1"})
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body),
                         {"message": fail + "No valid attributes found that match the criteria."})
        st, _, body = self.http("/sightings/add", {"source": "x"})
        self.assertEqual(json.loads(body), {"message": fail + "No valid attributes found."})
        st, _, body = self.http("/sightings/add", {"value": "203.0.113.0", "type": "7"})
        self.assertTrue(json.loads(body)["message"].startswith(fail + "Invalid type"))
        st, _, body = self.http("/sightings/add", {"value": "203.0.113.0"},
                                headers={"Authorization": NOPERM})
        self.assertEqual(st, 403)
        self.assertEqual(json.loads(body)["message"],
                         "You do not have permission to use this functionality.")
        self.assert_quiet(200)
        st, _, body = self.http("/sightings/add",
                                {"request": {"id": attrs[1]["uuid"], "source": " iocbus ",
                                             "type": "1", "timestamp": 1729510000}},
                                headers={"Authorization": KEY, "User-Agent": "PyMISP 2.5"})
        self.assertEqual(st, 200)
        self.assertNotIn(b"\n", body)                   # compact for PyMISP
        sg = json.loads(body)["Sighting"]
        self.assertEqual((sg["attribute_id"], sg["source"], sg["type"], sg["date_sighting"]),
                         (attrs[1]["id"], "iocbus", "1", "1729510000"))
        msg = self.recv("misp_json_sighting")
        self.assertEqual(msg["action"], "add")
        self.assertEqual(msg["Sighting"]["Attribute"]["uuid"], attrs[1]["uuid"])
        st, _, body = self.http("/sightings/add", {"values": ["203.0.113.0"]})
        self.assertIn(b"\n", body)                      # pretty for other clients
        self.recv("misp_json_sighting")
        rec = self.ctl("sightings")
        self.assertEqual([(r["attribute_id"], r["source"], r["type"], r["org_id"]) for r in rec],
                         [(attrs[1]["id"], "iocbus", "1", "1"), (attrs[0]["id"], "", "0", "1")])

    # ---- ZeroMQ ----------------------------------------------------------------
    def test_zmq_actions(self):
        e = self.ctl("event", {"info": "zmq", "orgc": "EXAMPLE-CERT", "tags": ["tlp:green"]})
        m = self.recv("misp_json_event")
        self.assertEqual((m["action"], m["Event"]["uuid"], m["Orgc"]["name"]),
                         ("add", e["uuid"], "EXAMPLE-CERT"))
        self.assertEqual(m["EventTag"][0]["Tag"]["name"], "tlp:green")

        a = self.ctl("attribute", {"event_id": e["id"], "type": "domain|ip",
                                   "value": "evil.example|198.51.100.7", "timestamp": 1000})
        m = self.recv("misp_json_attribute")
        self.assertEqual(list(m), ["Attribute", "Event", "action"])
        self.assertEqual(m["action"], "add")
        at = m["Attribute"]
        self.assertEqual(list(at), ["id", "event_id", "object_id", "object_relation",
                                    "category", "type", "value1", "value2", "to_ids", "uuid",
                                    "timestamp", "distribution", "sharing_group_id", "comment",
                                    "deleted", "disable_correlation", "first_seen",
                                    "last_seen", "value", "Sighting"])   # no Tag key
        self.assertEqual((at["value1"], at["value2"], at["value"], at["timestamp"]),
                         ("evil.example", "198.51.100.7", "evil.example|198.51.100.7", "1000"))
        self.assertEqual(at["Sighting"], [])
        self.assertEqual(m["Event"]["Orgc"]["name"], "EXAMPLE-CERT")
        self.assertNotIn("Tag", m["Event"])               # event tags never in this message

        self.ctl("attribute/edit", {"id": a["id"], "to_ids": False})
        m = self.recv("misp_json_attribute")
        self.assertEqual((m["action"], m["Attribute"]["to_ids"]), ("edit", False))
        ts = int(m["Attribute"]["timestamp"])
        self.assertGreater(ts, 1000)

        # non-local tag: misp_json_tag then attribute edit with a bumped timestamp
        self.ctl("attribute/tag", {"id": a["id"], "tag": "tlp:amber"})
        m = self.recv("misp_json_tag")
        self.assertEqual(m["action"], "attached to attribute")
        self.assertEqual((m["Tag"]["name"], m["Tag"]["attribute_id"], m["Tag"]["event_id"]),
                         ("tlp:amber", a["id"], e["id"]))
        m = self.recv("misp_json_attribute")
        self.assertEqual(m["action"], "edit")
        self.assertGreater(int(m["Attribute"]["timestamp"]), ts)
        ts = int(m["Attribute"]["timestamp"])
        self.assertEqual(m["Attribute"]["Tag"], [{"id": m["Attribute"]["Tag"][0]["id"],
                                                  "name": "tlp:amber", "colour": "#0088cc",
                                                  "exportable": True, "local": False}])
        # local tag: only misp_json_tag
        self.ctl("attribute/tag", {"id": a["id"], "tag": "internal", "local": True})
        self.assertEqual(self.recv("misp_json_tag")["action"], "attached to attribute")
        self.assert_quiet()
        self.ctl("attribute/untag", {"id": a["id"], "tag": "tlp:amber"})
        self.assertEqual(self.recv("misp_json_tag")["action"], "detached from attribute")
        m = self.recv("misp_json_attribute")
        self.assertEqual(m["action"], "edit")
        self.assertGreater(int(m["Attribute"]["timestamp"]), ts)
        ts = int(m["Attribute"]["timestamp"])
        self.assertEqual([t["name"] for t in m["Attribute"]["Tag"]], ["internal"])

        self.ctl("attribute/soft-delete", {"id": a["id"]})
        m = self.recv("misp_json_attribute")
        self.assertEqual((m["action"], m["Attribute"]["deleted"]), ("soft-delete", True))
        self.assertGreater(int(m["Attribute"]["timestamp"]), ts)
        self.assertIn("Event", m)

        self.ctl("attribute/delete", {"id": a["id"]})
        m = self.recv("misp_json_attribute")
        self.assertEqual(list(m), ["Attribute", "action"])      # no Event/Tag/Sighting
        self.assertEqual(m["action"], "delete")
        self.assertIn("value1", m["Attribute"])
        self.assertNotIn("Tag", m["Attribute"])

        b = self.ctl("attribute", {"event_id": e["id"], "type": "url",
                                   "value": "http://evil.example/gate.php"})
        m = self.recv("misp_json_attribute")
        self.assertEqual(m["Attribute"]["value"], "http://evil.example/gate.php")
        self.ctl("event/publish", {"id": e["id"]})
        m = self.recv("misp_json")
        self.assertNotIn("action", m)
        self.assertIs(m["Event"]["published"], True)
        self.assertEqual([x["uuid"] for x in m["Event"]["Attribute"]], [b["uuid"]])
        self.assertEqual(m["Event"]["Orgc"]["name"], "EXAMPLE-CERT")
        self.assert_quiet()                                      # no attribute messages

        self.ctl("event/delete", {"uuid": e["uuid"]})
        m = self.recv("misp_json_event")
        self.assertEqual((m["action"], m["Event"]["uuid"]), ("delete", e["uuid"]))
        self.assertEqual(list(m), ["Event", "action"])
        self.assert_quiet()                                      # only that message
        self.assertEqual(self.search({"returnFormat": "json"})[2], [])

    def test_event_tags_restore_keys_requests(self):
        e = self.ctl("event", {"info": "t"})
        self.recv("misp_json_event")
        a = self.ctl("attribute", {"event_id": e["id"], "type": "md5", "value": "a" * 32})
        self.recv("misp_json_attribute")
        self.ctl("event/tag", {"uuid": e["uuid"], "tag": "Feed-y"})
        m = self.recv("misp_json_tag")
        self.assertEqual((m["action"], m["Tag"]["name"], m["Tag"]["event_id"], m["Tag"]["local"]),
                         ("attached to event", "Feed-y", e["id"], False))
        self.assertNotIn("attribute_id", m["Tag"])
        self.assert_quiet()
        self.assertEqual(len(self.search({"returnFormat": "json", "tags": "Feed-%"})[2]), 1)
        self.ctl("event/untag", {"id": e["id"], "tag": "Feed-y"})
        self.assertEqual(self.recv("misp_json_tag")["action"], "detached from event")
        self.assertEqual(self.search({"returnFormat": "json", "tags": "Feed-%"})[2], [])
        # restore of a soft-deleted attribute is an edit with deleted:false
        self.ctl("attribute/soft-delete", {"uuid": a["uuid"]})
        self.recv("misp_json_attribute")
        self.ctl("attribute/edit", {"uuid": a["uuid"], "deleted": False})
        m = self.recv("misp_json_attribute")
        self.assertEqual((m["action"], m["Attribute"]["deleted"]), ("edit", False))
        # new org + key without perm_sighting; recorded requests
        o = self.ctl("org", {"name": "OTHER"})
        k = "K" * 40
        self.ctl("key", {"key": k, "org_id": o["id"], "perm_sighting": False})
        st, _, body = self.http("/servers/getVersion", method="GET",
                                headers={"X-MISP-AUTH": k})
        self.assertEqual((st, json.loads(body)["perm_sighting"]), (200, False))
        self.assertEqual(self.http("/sightings/add", {"value": "a" * 32},
                                   headers={"X-MISP-AUTH": k})[0], 403)
        reqs = self.ctl("requests")
        self.assertEqual([(r["method"], r["path"]) for r in reqs[-2:]],
                         [("GET", "/servers/getVersion"), ("POST", "/sightings/add")])

    def test_wire_is_compact_and_unescaped(self):
        e = self.ctl("event", {"info": "Ünïcode / slash"})
        self.sub.poll(int(WAIT * 1000))
        frame = self.sub.recv()
        self.assertTrue(frame.startswith(b'misp_json_event {"Event":{"id":"'))
        self.assertIn("Ünïcode / slash".encode(), frame)
        self.assertEqual(json.loads(frame.split(b" ", 1)[1])["Event"]["id"], e["id"])


FIXTURES = os.path.normpath(os.path.join(HERE, "..", "fixtures", "misp"))


def shape(obj):
    """Key order and JSON types, recursively (lists reduced to their first element)."""
    if isinstance(obj, dict):
        return [(k, shape(v)) for k, v in obj.items()]
    if isinstance(obj, list):
        return ["list", shape(obj[0]) if obj else None]
    return type(obj).__name__


class FixtureShapeTest(Base):
    """Messages have the same keys, key order and JSON types as the fixtures."""

    def fixture(self, rel):
        with open(os.path.join(FIXTURES, rel), encoding="utf-8") as fh:
            return json.load(fh)

    def test_zmq_shapes(self):
        e = self.ctl("event", {"info": "f", "orgc": "EXAMPLE-CERT", "tags": ["x"]})
        got = self.recv("misp_json_event")
        self.assertEqual(shape(got["Event"]),
                         shape(self.fixture("zmq/misp_json_event-edit.json")["Event"]))
        self.assertEqual(shape({k: v for k, v in got.items() if k != "EventTag"}),
                         shape({k: v for k, v in self.fixture(
                             "zmq/misp_json_event-edit.json").items() if k != "EventTag"}))
        a = self.ctl("attribute", {"event_id": e["id"], "type": "ip-dst", "value": "192.0.2.9",
                                   "comment": "c", "tags": ["tlp:amber"]})
        self.assertEqual(shape(self.recv("misp_json_attribute")),
                         shape(self.fixture("zmq/misp_json_attribute-add-tagged.json")))
        self.ctl("attribute/untag", {"id": a["id"], "tag": "tlp:amber"})
        self.assertEqual(shape(self.recv("misp_json_tag")),
                         shape(self.fixture("zmq/misp_json_tag-attached-to-attribute.json")))
        self.recv("misp_json_attribute")
        self.http("/sightings/add", {"value": "192.0.2.9"})
        self.assertEqual(shape(self.recv("misp_json_sighting")),
                         shape(self.fixture("zmq/misp_json_sighting-add.json")))
        self.ctl("attribute/soft-delete", {"id": a["id"]})
        self.assertEqual(shape(self.recv("misp_json_attribute")),
                         shape(self.fixture("zmq/misp_json_attribute-soft-delete.json")))
        self.ctl("attribute/delete", {"id": a["id"]})
        self.assertEqual(shape(self.recv("misp_json_attribute")),
                         shape(self.fixture("zmq/misp_json_attribute-delete.json")))
        self.ctl("event/delete", {"id": e["id"]})
        self.assertEqual(shape(self.recv("misp_json_event")),
                         shape(self.fixture("zmq/misp_json_event-delete.json")))

    def test_rest_shapes(self):
        e = self.ctl("event", {"info": "f", "orgc": "EXAMPLE-CERT", "tags": ["tlp:amber"]})
        self.ctl("attribute", {"event_id": e["id"], "type": "ip-dst", "value": "192.0.2.9",
                               "comment": "c", "tags": ["Feed-x"]})
        for req, fx in (({}, "restSearch-response-default.json"),
                        ({"includeEventTags": 1, "includeContext": 1},
                         "restSearch-response-includeContext-includeEventTags.json")):
            item = self.search(dict(returnFormat="json", **req))[2][0]
            want = self.fixture("rest/derived/" + fx)["response"]["Attribute"][0]
            self.assertEqual(shape({k: v for k, v in item.items() if k != "Tag"}),
                             shape({k: v for k, v in want.items() if k != "Tag"}), fx)
            self.assertEqual(shape(item["Tag"][0]), shape(want["Tag"][0]), fx)
            if req:
                self.assertEqual(shape(item["Tag"][-1]), shape(want["Tag"][-1]), fx)
        _, _, body = self.http("/sightings/add", {"value": "192.0.2.9"})
        self.assertEqual(shape(json.loads(body)),
                         shape(self.fixture("rest/derived/sightings-add-response.json")))
        _, _, body = self.http("/servers/getVersion", method="GET")
        self.assertEqual(shape(json.loads(body)),
                         shape(self.fixture("rest/derived/getVersion-response.json")))


class SightingsAddTest(Base):
    """`/sightings/add` against misp.md §3.5 and §6, the request/response fixtures, and the
    outage, refusal and delay modes of the control plane."""
    FAIL = "Could not add the Sighting. Reason: "
    SG_KEYS = ["id", "attribute_id", "event_id", "org_id", "date_sighting", "uuid",
               "source", "type"]

    def rest_fixture(self, name):
        with open(os.path.join(HERE, "..", "fixtures", "misp", "rest", "derived", name)) as f:
            return json.load(f)

    def post(self, body, path="/sightings/add", **kw):
        st, hd, raw = self.http(path, body, **kw)
        return st, hd, json.loads(raw)

    def assert_sighting(self, body, attr, source, typ, ts=None):
        """200 body = the last sighting: exactly the fixture's keys, in its order,
        every value a string."""
        self.assertEqual(list(body), ["Sighting"])
        sg = body["Sighting"]
        self.assertEqual(list(sg), list(self.rest_fixture("sightings-add-response.json")
                                        ["Sighting"]))
        self.assertEqual(list(sg), self.SG_KEYS)
        self.assertTrue(all(isinstance(v, str) for v in sg.values()), sg)
        self.assertRegex(sg["uuid"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                     r"[0-9a-f]{12}$")
        self.assertEqual((sg["attribute_id"], sg["event_id"], sg["org_id"], sg["source"],
                          sg["type"]), (attr["id"], attr["event_id"], "1", source, typ))
        if ts is not None:
            self.assertEqual(sg["date_sighting"], str(ts))
        return sg

    def recorded(self):
        return [(r["attribute_id"], r["source"], r["type"], r["date_sighting"])
                for r in self.ctl("sightings")]

    def test_request_fixtures(self):
        e = self.ctl("event", {"info": "sightings", "orgc": "EXAMPLE-CERT"})
        e2 = self.ctl("event", {"info": "other"})
        by_uuid = self.rest_fixture("sightings-add-request-by-uuid-threatbus.json")
        a_uuid = self.ctl("attribute", {"event_id": e["id"], "type": "ip-dst",
                                        "value": "198.51.100.20", "uuid": by_uuid["id"]})
        a_ip = self.ctl("attribute", {"event_id": e["id"], "type": "ip-dst",
                                      "value": "203.0.113.77"})
        a_dom = self.ctl("attribute", {"event_id": e2["id"], "type": "domain",
                                       "value": "EVIL-Update.example", "to_ids": False})
        a_gone = self.ctl("attribute", {"event_id": e2["id"], "type": "ip-src",
                                        "value": "203.0.113.77"})
        self.ctl("attribute/soft-delete", {"id": a_gone["id"]})
        a_fp = self.ctl("attribute", {"event_id": e["id"], "type": "domain|ip",
                                      "value": "fp.example|203.0.113.5"})
        # Threat Bus 2022.05: the attribute uuid in `id`
        st, hd, body = self.post(by_uuid)
        self.assertEqual((st, hd["Content-Type"]), (200, "application/json; charset=UTF-8"))
        self.assert_sighting(body, a_uuid, "zeek@sensor-1", "0", 1729510000)
        # `values`: matched against value1/value2 of every visible attribute, any to_ids,
        # soft-deleted included, case-insensitively; N hits = N sightings, the last answered
        st, _, body = self.post(self.rest_fixture("sightings-add-request-by-values.json"))
        self.assertEqual(st, 200)
        self.assert_sighting(body, a_gone, "iocbus", "0", 1729510000)
        # `value` matching value2 of a composite, type "1", no timestamp: now
        t0 = int(time.time())
        st, _, body = self.post(self.rest_fixture("sightings-add-request-false-positive.json"))
        sg = self.assert_sighting(body, a_fp, "analyst triage", "1")
        self.assertTrue(t0 <= int(sg["date_sighting"]) <= int(time.time()), sg)
        self.assertEqual(self.recorded(),
                         [(a_uuid["id"], "zeek@sensor-1", "0", "1729510000"),
                          (a_ip["id"], "iocbus", "0", "1729510000"),
                          (a_dom["id"], "iocbus", "0", "1729510000"),
                          (a_gone["id"], "iocbus", "0", "1729510000"),
                          (a_fp["id"], "analyst triage", "1", sg["date_sighting"])])
        # one misp_json_sighting per saved sighting
        self.drain_until(5, "misp_json_sighting")
        # no match: HTTP 200 and the failure body, nothing recorded
        st, _, body = self.post({"values": ["192.0.2.200"], "source": "x"})
        self.assertEqual((st, body), (200, self.rest_fixture(
            "sightings-add-response-no-match.json")))
        self.assertEqual(len(self.recorded()), 5)
        self.assert_quiet(200)

    def drain_until(self, n, topic):
        got = 0
        while got < n:
            self.assertTrue(self.sub.poll(int(WAIT * 1000)), "only %d %s" % (got, topic))
            t, _, _ = self.sub.recv().partition(b" ")
            got += t.decode() == topic

    def test_ids_types_and_dates(self):
        _, attrs = self.seed(3)
        a0, a1, a2 = attrs
        # "1|2": several numeric ids; an unknown one among them is skipped
        st, _, body = self.post({"id": "%s|%s|999" % (a0["id"], a2["id"]), "source": "s"})
        self.assert_sighting(body, a2, "s", "0")
        # /sightings/add/{uuid}, wrapped in {"Sighting": …}, date + time instead of timestamp
        st, _, body = self.post({"Sighting": {"source": "p", "date": "2024-10-21",
                                              "time": "11:26:40"}},
                                path="/sightings/add/" + a1["uuid"])
        self.assert_sighting(body, a1, "p", "0", 1729510000)
        # `uuid` field; source trimmed and cut at 255
        st, _, body = self.post({"request": {"uuid": a1["uuid"], "source": " %s " % ("x" * 300)}})
        self.assert_sighting(body, a1, "x" * 255, "0")
        # type 2 (expiration): only the string "2" deletes this org's earlier type 2
        # sightings of the attribute (PHP === '2'); the int 2 adds beside them
        def expirations():
            return [r[3] for r in self.recorded() if r[0] == a0["id"] and r[2] == "2"]
        for typ, ts, left in (("2", 100, ["100"]), ("2", 200, ["200"]),
                              (2, 300, ["200", "300"]), ("2", 400, ["400"])):
            st, _, body = self.post({"id": a0["id"], "type": typ, "timestamp": ts})
            self.assert_sighting(body, a0, "", "2", ts)
            self.assertEqual(expirations(), left, (typ, ts))

    def test_errors(self):
        self.seed(1)
        # every failure reason is HTTP 200 with {"message": …}
        for body, reason in (({"id": "999"}, "No valid attributes found that match the criteria."),
                             ({"values": []}, "No valid attributes found."),
                             ({"source": "only"}, "No valid attributes found."),
                             ({"value": "203.0.113.0", "type": "3"},
                              "Invalid type, please change it before you POST 1000000 "
                              "sightings."),
                             ({"value": "203.0.113.0", "type": "x"},
                              "Invalid type, please change it before you POST 1000000 "
                              "sightings.")):
            st, _, got = self.post(body)
            self.assertEqual((st, got), (200, {"message": self.FAIL + reason}), body)
        # auth: 403 with the CakePHP body for this url
        st, _, raw = self.http("/sightings/add", {"value": "203.0.113.0"}, headers={})
        self.assertEqual((st, raw), (403, ('{"name":"%s","message":"%s","url":'
                                           '"\\/sightings\\/add"}' % (AUTH_FAILED, AUTH_FAILED))
                                     .encode()))
        # invalid JSON: 405
        st, _, got = self.post(None, raw=b"{not json")
        self.assertEqual((st, got["message"]), (405, INVALID_JSON))
        self.assertEqual(self.recorded(), [])

    def test_outage_status(self):
        _, attrs = self.seed(1)
        self.assertEqual(self.ctl("sightings/outage", {"seconds": 1.5, "status": 502}),
                         {"mode": "status", "seconds": 1.5, "status": 502})
        t0 = time.monotonic()
        st, hd, raw = self.http("/sightings/add", {"value": "203.0.113.0"})
        self.assertEqual(st, 502)
        self.assertTrue(hd["Content-Type"].startswith("text/html"), hd)
        self.assertIn(b"502 Service Unavailable", raw)
        # other endpoints and the control plane keep answering
        self.assertEqual(self.http("/servers/getVersion", method="GET")[0], 200)
        self.assertEqual(self.recorded(), [])
        self.assertEqual([r["path"] for r in self.ctl("requests")][-2:],
                         ["/sightings/add", "/servers/getVersion"])
        time.sleep(max(0.0, 1.6 - (time.monotonic() - t0)))
        st, _, body = self.post({"value": "203.0.113.0"})
        self.assert_sighting(body, attrs[0], "", "0")
        self.assertEqual(len(self.recorded()), 1)
        with self.assertRaises(urllib.error.HTTPError) as cm:
            self.ctl("sightings/outage", {"seconds": 1, "status": 200})
        self.assertEqual(cm.exception.code, 400)

    def test_outage_refuse(self):
        _, attrs = self.seed(1)
        self.assertEqual(self.ctl("sightings/outage", {"seconds": 1.5, "mode": "refuse"})["mode"],
                         "refuse")
        t0 = time.monotonic()
        refused = 0
        while time.monotonic() - t0 < 1.0:
            try:
                self.http("/sightings/add", {"value": "203.0.113.0"})
            except urllib.error.URLError as e:
                self.assertIsInstance(e.reason, ConnectionRefusedError)
                refused += 1
            time.sleep(0.1)
        self.assertGreater(refused, 5)
        deadline = time.monotonic() + WAIT
        while True:                     # back on the same port
            try:
                st, _, raw = self.http("/sightings/add", {"value": "203.0.113.0"})
                break
            except urllib.error.URLError:
                self.assertLess(time.monotonic(), deadline, "never listened again")
                time.sleep(0.1)
        self.assertGreaterEqual(time.monotonic() - t0, 1.4)
        self.assert_sighting(json.loads(raw), attrs[0], "", "0")
        self.assertEqual(len(self.recorded()), 1)

    def test_delay(self):
        self.seed(1)
        self.assertEqual(self.ctl("sightings/delay", {"seconds": 0.6}), {"seconds": 0.6})
        t0 = time.monotonic()
        self.assertEqual(self.post({"value": "203.0.113.0"})[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.6)
        t0 = time.monotonic()           # only sightings are slow
        self.http("/servers/getVersion", method="GET")
        self.assertLess(time.monotonic() - t0, 0.5)
        self.ctl("sightings/delay", {"seconds": 0})
        t0 = time.monotonic()
        self.post({"value": "203.0.113.0"})
        self.assertLess(time.monotonic() - t0, 0.5)


class HeartbeatTest(Base):
    heartbeat = 0.5

    def _sync_subscription(self):
        pass                                # heartbeats arrive by themselves

    def test_heartbeat(self):
        first = self.recv("misp_json_self", timeout=5)
        second = self.recv("misp_json_self", timeout=5)
        for hb in (first, second):
            self.assertEqual(list(hb), ["status", "uptime"])
            self.assertIsInstance(hb["uptime"], int)
            self.assertIn("still alive", hb["status"])
        self.assertGreaterEqual(second["uptime"], first["uptime"])


class LifecycleTest(Base):
    def _sync_subscription(self):
        pass

    def test_sigterm(self):
        self.proc.terminate()
        self.assertEqual(self.proc.wait(timeout=5), 0)

    def test_stdin_eof(self):
        self.proc.stdin.close()
        self.assertEqual(self.proc.wait(timeout=5), 0)

    def test_control_shutdown(self):
        self.assertEqual(self.ctl("shutdown"), {"ok": True})
        self.assertEqual(self.proc.wait(timeout=5), 0)


class ZmqStopStartTest(Base):
    heartbeat = 0.5

    def _sync_subscription(self):
        self.recv("misp_json_self", timeout=5)      # heartbeats prove the subscription

    def _resync(self, info):
        """After a restart: throwaway events until one arrives (reconnect + slow joiner)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            self.ctl("event", {"info": info})
            while self.sub.poll(200):
                t, _, body = self.sub.recv().partition(b" ")
                if t == b"misp_json_event" and json.loads(body)["Event"]["info"] == info:
                    return
        self.fail("no message after zmq/start")

    def test_stop_drops_and_start_rebinds(self):
        self.assertEqual(self.ctl("zmq/stop")["zmq"], "stopped")
        self.assertEqual(self.ctl("zmq/stop")["zmq"], "stopped")     # idempotent
        self.drain()
        self.ctl("event", {"info": "while-down"})
        self.assertFalse(self.sub.poll(1500), "frame or heartbeat while stopped")
        r = self.ctl("zmq/start")
        self.assertEqual((r["zmq"], r["port"]), ("started", self.zport))
        self.assertGreaterEqual(r["dropped"], 1)
        seen = []
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline and "after" not in seen:
            self.ctl("event", {"info": "after"})
            while self.sub.poll(200):
                t, _, body = self.sub.recv().partition(b" ")
                if t == b"misp_json_event":
                    seen.append(json.loads(body)["Event"]["info"])
        self.assertIn("after", seen)
        self.assertNotIn("while-down", seen)                        # never delivered
        self.recv("misp_json_self", timeout=5)                      # heartbeats resume
        # the REST side never stopped
        self.assertEqual(self.http("/servers/getVersion", method="GET")[0], 200)


class EventTagsAtCreationTest(Base):
    def test_event_tags_from_creation(self):
        e = self.ctl("event", {"info": "white", "tags": ["tlp:white",
                                                         {"name": "internal", "local": True}]})
        m = self.recv("misp_json_event")
        self.assertEqual([(t["Tag"]["name"], t["local"]) for t in m["EventTag"]],
                         [("tlp:white", False), ("internal", True)])
        self.ctl("attribute", {"event_id": e["id"], "type": "domain", "value": "w.example"})
        self.recv("misp_json_attribute")
        _, _, items = self.search({"returnFormat": "json", "tags": "tlp:white",
                                   "includeEventTags": 1, "includeContext": 1})
        self.assertEqual([a["value"] for a in items], ["w.example"])
        self.assertEqual([t["name"] for t in items[0]["Tag"] if t.get("inherited")],
                         ["tlp:white", "internal"])
        self.assertEqual([t["name"] for t in items[0]["Event"]["Tag"]],
                         ["tlp:white", "internal"])


GEN = os.path.join(HERE, "..", "..", "bench", "gen_misp.py")
PRELOAD = None


def preload_file():
    """A small (1,500 attributes) gen_misp.py restSearch file with inherited event tags, objects, odd
    comments and CIDRs (made once per test run)."""
    global PRELOAD
    if PRELOAD is None:
        import tempfile
        fd, PRELOAD = tempfile.mkstemp(prefix="misp_preload.", suffix=".json")
        os.close(fd)
        subprocess.run([sys.executable, GEN, "--attributes", "1500", "--events", "150",
                        "--seed", "7", "--include-event-tags", "--object-fraction", "0.2",
                        "--odd-comment-fraction", "0.05", "--quiet", "-o", PRELOAD],
                       check=True, timeout=60)
    return PRELOAD


@unittest.skipUnless(os.path.exists(GEN), "bench/gen_misp.py not found")
class PreloadFastPathTest(Base):
    """--preload, and the fast restSearch path byte for byte against the general one."""

    def setUp(self):
        self.extra_args = ["--preload", preload_file()]
        super().setUp()

    def both(self, f):
        """(body, X-Result-Count) by both paths; asserts they agree and fast was taken."""
        hf, bf, _ = self.search(f, {"X-Test-Search-Path": "fast"})
        hg, bg, _ = self.search(f, {"X-Test-Search-Path": "general"})
        self.assertEqual(hf["X-Test-Search-Path"], "fast", f)
        self.assertEqual(hg["X-Test-Search-Path"], "general", f)
        self.assertEqual(hf["X-Result-Count"], hg["X-Result-Count"], f)
        self.assertEqual(bf, bg, f)
        # and the default (no test header) is the fast path's answer, MISP's headers only
        h, b, _ = self.search(f)
        self.assertEqual(b, bf)
        self.assertNotIn("X-Test-Search-Path", h)
        return bf, int(hf["X-Result-Count"])

    def shapes(self):
        for ctx in (None, 0, 1, "yes"):
            for inh in (None, 1):
                for euu in (None, 1):
                    f = {"returnFormat": "json"}
                    for k, v in (("includeContext", ctx), ("includeEventTags", inh),
                                 ("includeEventUuid", euu)):
                        if v is not None:
                            f[k] = v
                    yield f

    def test_preloaded_state(self):
        with open(preload_file(), encoding="utf-8") as fh:
            want = json.load(fh)["response"]["Attribute"]
        _, body, items = self.search({"returnFormat": "json", "includeEventTags": 1})
        self.assertEqual(len(items), len(want))
        # same items as the file (the file encodes non-ASCII as \\uXXXX, MISP raw)
        self.assertEqual(items, want)
        self.assertEqual(body, b'{"response": {"Attribute": ['
                         + b",".join(json.dumps(i, separators=(",", ":"), ensure_ascii=False)
                                     .encode() for i in want) + b"]}}\n")
        # event tags became real event tags: the general path's filters see them
        tagged = [a for a in want if any(t["name"] == "tlp:red" for t in a.get("Tag", []))]
        self.assertTrue(any(t.get("inherited") and t["name"] == "tlp:red"
                            for a in tagged for t in a["Tag"]))
        got = self.search({"returnFormat": "json", "tags": "tlp:red"})[2]
        self.assertEqual(len(got), len(tagged))
        # new ids continue after the preloaded ones; control actions work on them
        e = self.ctl("event", {"info": "after preload"})
        self.assertGreater(int(e["id"]), max(int(a["event_id"]) for a in want))
        a = self.ctl("attribute", {"event_id": want[0]["event_id"], "type": "domain",
                                   "value": "new.example"})
        self.assertGreater(int(a["id"]), max(int(a["id"]) for a in want))

    def test_fast_equals_general(self):
        ts = sorted(int(a["timestamp"]) for a in self.search({"returnFormat": "json"})[2])
        mid = ts[len(ts) // 2]
        for f in self.shapes():
            self.both(f)
        base = {"returnFormat": "json", "includeContext": 1, "includeEventTags": 1,
                "order": "Attribute.id ASC"}
        for extra in ({"timestamp": mid}, {"timestamp": str(mid)},
                      {"timestamp": [ts[10], mid]}, {"attribute_timestamp": mid},
                      {"timestamp": ts[-1] + 1}, {"deleted": [0, 1]}, {"deleted": 1},
                      {"deleted": "only"}, {"deleted": 0}, {"deleted": []}, {"order": "id"},
                      {"order": None, "limit": None, "page": None}, {"timestamp": "bogus"},
                      {"to_ids": None, "tags": [], "type": ""}):
            self.both(dict(base, **extra))
        # paging: every page, with the count+1 quirk, concatenates to the whole
        whole = json.loads(self.both(base)[0])["response"]["Attribute"]
        got, page = [], 1
        while True:
            body, count = self.both(dict(base, limit=700, page=page, deleted=[0, 1]))
            items = json.loads(body)["response"]["Attribute"]
            self.assertEqual(count, len(items) + (1 if len(items) == 700 else 0))
            got += items
            if len(items) < 700:
                break
            page += 1
        self.assertEqual([a["id"] for a in got], [a["id"] for a in whole])
        self.both(dict(base, limit=700, page=99))
        self.both(dict(base, limit=100, page=3, timestamp=mid))
        # filters the fast path does not implement go to the general path
        hd, _, _ = self.search({"returnFormat": "json", "type": "ip-dst"},
                               {"X-Test-Search-Path": "auto"})
        self.assertEqual(hd["X-Test-Search-Path"], "general")
        for f in ({"to_ids": 1}, {"order": "Attribute.id DESC"}, {"order": "timestamp"}):
            st, _, _ = self.http("/attributes/restSearch", dict(returnFormat="json", **f),
                                 headers={"Authorization": KEY,
                                          "X-Test-Search-Path": "fast"})
            self.assertEqual(st, 400, f)

    def test_fast_equals_general_after_mutations(self):
        items = self.search({"returnFormat": "json"})[2]
        base = {"returnFormat": "json", "includeContext": 1, "includeEventTags": 1,
                "limit": 500, "page": 1, "deleted": [0, 1]}
        self.both(base)                                  # fill the caches first
        a0, a1, a2, a3 = items[0], items[1], items[2], items[-1]
        self.ctl("attribute/edit", {"id": a0["id"], "comment": "edited \u2028 / ü"})
        self.ctl("attribute/soft-delete", {"id": a1["id"]})
        self.ctl("attribute/tag", {"id": a2["id"], "tag": "Feed-new"})
        self.ctl("event/tag", {"id": a0["event_id"], "tag": "tlp:green"})
        self.ctl("attribute/delete", {"id": a3["id"]})
        self.ctl("attribute", {"event_id": a0["event_id"], "type": "ip-dst",
                               "value": "198.51.100.1", "timestamp": 1})
        e = self.ctl("event", {"info": "new", "tags": ["tlp:white"]})
        self.ctl("attribute", {"event_id": e["id"], "type": "url",
                               "value": "http://x.example/a"})
        for f in self.shapes():
            self.both(f)
        self.both(base)
        self.both(dict(base, limit=None, page=None))
        self.both(dict(base, deleted=None, timestamp=1))
        body, _ = self.both({"returnFormat": "json", "deleted": 1})
        self.assertEqual([a["id"] for a in json.loads(body)["response"]["Attribute"]],
                         [a1["id"]])
        self.ctl("event/delete", {"id": a0["event_id"]})
        self.both(base)
        self.both(dict(base, limit=None))


def tearDownModule():
    if PRELOAD:
        os.unlink(PRELOAD)


if __name__ == "__main__":
    unittest.main(verbosity=2)
