# SPDX-License-Identifier: Apache-2.0
"""The MISP-compatible read API of `iocbus run` (issue #14 §2), against the MISP
test server holding the same data:

- the exact request PyMISP 2.4's search(controller='attributes', ...) sends
  (its header order, `json.dumps` body with PyMISP's key order and 0 for every
  unset boolean) gets the same attributes, field by field, from iocbus as from
  the MISP test server; so do elastiMISPstash's pull body and other filters;
- elastiMISPstash's Logstash ruby filter, run with Debian's ruby and Net::HTTP
  (its request, then its tag and Event.info collection), reads the same tags and
  event infos from both;
- the URL form /attributes/restSearch/value:..., GET with parameters;
- PyMISP's connect sequence (getVersion, getPyMISPVersion, users/view/me);
- MISP's error answers byte for byte (403 missing and wrong key, 405 bad JSON,
  400 GET without parameters, 404 unknown returnFormat), plus 413 past 1 MiB;
- the keys never appear in the log, the metrics or `config dump`, and the API is
  404 without keys;
- with 100 k attributes, single-value searches answer within 1 s (worst seen
  0.05 s) while 3 walks of the whole store are stalled by clients that stop
  reading and 2 more stream to a client that reads them whole (a walk built in
  one go made them wait 1.7 s).

Fields iocbus does not store (tag ids and colours, the event's owner org and
analysis) are compared by JSON type only: docs/DROPINS.md lists them."""
import http.client
import json
import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Iocbus, Misp, wait_until  # noqa: E402

KEY = "Kq3v8Zb1xYt6Wm2Np9Rs4Lf7Hc0Jd5Ge8Ua2Bo1X"      # iocbus's API key (keys_file)
KEY2 = "Zz9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2H1g"     # a second one (keys_env)
ENV = "IOCB_E2E_MISP_API_KEYS"
RUBY = "/usr/bin/ruby"

# Paths whose values iocbus does not keep: compared by JSON type only.
TYPE_ONLY = {("Event", "org_id"), ("Event", "analysis"), ("Tag", "id"), ("Tag", "colour"),
             ("Event", "Tag", "id"), ("Event", "Tag", "colour")}

# elastiMISPstash's ruby filter (rubyfilter.conf), as a script: its Net::HTTP request
# (headers and body exactly), then what the filter does with the answer. http:, not
# https: with VERIFY_NONE, is the one line the drop-in changes.
RUBY_FILTER = r'''
require 'net/http'
require 'uri'
require 'json'
uri = URI.parse(ARGV[0])
http = Net::HTTP.new(uri.host, uri.port)
request = Net::HTTP::Post.new(uri.request_uri)
request["Authorization"] = ARGV[1]
request["Accept"] = "application/json"
request["Content-Type"] = "application/json"
request.body = {"returnFormat" => "json", "includeEventTags" => "yes", "value" => ARGV[2]}.to_json
response = http.request(request)
out = {"code" => response.code.to_i, "tags" => [], "eventinfo" => [], "body" => response.body}
if response.code == "200"
  JSON.parse(response.body)["response"]["Attribute"].each do |e|
    e["Tag"].each { |t| out["tags"] << t["name"] }
    out["eventinfo"] << e["Event"]["info"]
  end
  out["tags"] = out["tags"].uniq
  out["eventinfo"] = out["eventinfo"].uniq
end
puts out.to_json
'''


# Two walks of every ip-dst attribute, each read to its end; prints the attribute counts.
WALKER = r'''
import http.client, json, sys
for _ in range(2):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
    c.request("POST", "/attributes/restSearch", body='{"type":"ip-dst"}',
              headers={"Authorization": sys.argv[2], "Content-Type": "application/json"})
    print(len(json.loads(c.getresponse().read())["response"]["Attribute"]))
'''


def pymisp_body(**kw):
    """The body PyMISP 2.4.x's search(controller='attributes', ...) posts: its query
    dict in its own key order, None dropped, json.dumps with default separators."""
    q = {"returnFormat": kw.get("return_format", "json"), "page": kw.get("page"),
         "limit": kw.get("limit"), "value": kw.get("value"), "type": kw.get("type_attribute"),
         "category": None, "org": kw.get("org"), "tags": kw.get("tags"), "quickFilter": None,
         "from": None, "to": None, "eventid": kw.get("eventid"), "withAttachments": 0,
         "metadata": 0, "uuid": None}
    if kw.get("timestamp") is not None:
        q["timestamp"] = kw["timestamp"]
    q["published"] = kw.get("published")
    q["enforceWarninglist"] = 0
    if kw.get("to_ids") is not None:
        q["to_ids"] = kw["to_ids"]
    q.update({"deleted": None, "includeEventUuid": int(bool(kw.get("include_event_uuid"))),
              "includeEventTags": int(bool(kw.get("include_event_tags"))), "event_timestamp": None,
              "sgReferenceOnly": 0, "eventinfo": None, "searchall": None, "requested_attributes": None,
              "includeContext": int(bool(kw.get("include_context"))), "headerless": 0,
              "includeSightings": 0, "includeDecayScore": 0, "includeCorrelations": 0,
              "object_name": None, "excludeDecayed": 0, "sharinggroup": None})
    return json.dumps({k: v for k, v in q.items() if v is not None})


def raw_request(port, head_lines, body=b""):
    """Send exactly these bytes (HTTP/1.1, one request) and read the answer."""
    req = ("\r\n".join(head_lines) + "\r\n\r\n").encode() + body
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        try:
            s.sendall(req)
        except (BrokenPipeError, ConnectionResetError):
            # A refusal before the body is read (413 on an announced large
            # Content-Length) closes the connection while we still send: the
            # answer is already in our receive buffer.
            pass
        r = http.client.HTTPResponse(s)
        r.begin()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        s.close()


def pymisp_post(port, key, body):
    """PyMISP's request through requests 2.x: session headers in requests' order
    (User-Agent, Accept-Encoding, Accept, Connection) updated by PyMISP
    (Authorization, content-type), then Content-Length."""
    b = body.encode()
    return raw_request(port, [
        "POST /attributes/restSearch HTTP/1.1", "Host: 127.0.0.1:%d" % port,
        "User-Agent: PyMISP 2.4.198 - Python 3.11.2", "Accept-Encoding: gzip, deflate",
        "Accept: application/json", "Connection: keep-alive", "Authorization: %s" % key,
        "content-type: application/json", "Content-Length: %d" % len(b)], b)


def post(port, key, body, path="/attributes/restSearch", method="POST", ctype="application/json"):
    b = body.encode() if isinstance(body, str) else body
    head = ["%s %s HTTP/1.1" % (method, path), "Host: t", "Accept: application/json", "Connection: close"]
    if key is not None:
        head.append("Authorization: %s" % key)
    if b or method == "POST":
        head += ["Content-Type: %s" % ctype, "Content-Length: %d" % len(b)]
    return raw_request(port, head, b)


class MispApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.misp = Misp()
        m = cls.misp
        e1 = m.control("event", info="Phishing wave delivering loader (example)", orgc="EXAMPLE-CERT",
                       tags=["tlp:amber", 'misp-galaxy:threat-actor="Sofacy"'], timestamp=1729500000)
        e2 = m.control("event", info="Scanner list", tags=["tlp:red"], timestamp=1729600000)
        m.attribute(e1, "ip-dst", "203.0.113.77", tags=["tlp:amber", "Feed-abuse.ch"], comment="C2 server",
                    timestamp=1729500000)
        m.attribute(e1, "ip-src", "198.51.100.0/24", comment="scanning range", timestamp=1729500060)
        m.attribute(e1, "domain|ip", "c2.evil-update.example|203.0.113.5", tags=["Feed-x"], timestamp=1729500120)
        m.attribute(e1, "domain", "evil-update.example", tags=["Feed-x"], timestamp=1729500180)
        m.attribute(e2, "ip-dst", "192.0.2.10", timestamp=1729600060)
        m.attribute(e2, "url", "http://evil-update.example/x", to_ids=False, timestamp=1729600120)
        m.attribute(e2, "domain", "evil-update.example", category="Payload delivery", timestamp=1729600180)
        m.control("event/publish", id=e1["id"])
        m.control("event/publish", id=e2["id"])
        cls.values = ["203.0.113.77", "198.51.100.0/24", "203.0.113.5", "evil-update.example",
                      "192.0.2.10", "http://evil-update.example/x"]
        cls.tmp = __import__("tempfile").TemporaryDirectory(prefix="iocbus-mispapi-")
        keyfile = os.path.join(cls.tmp.name, "keys")
        with open(keyfile, "w") as f:
            f.write("# iocbus MISP API keys\n%s\n\n" % KEY)
        os.chmod(keyfile, 0o600)
        os.environ[ENV] = KEY2
        cls.d = Iocbus({"misp": m.misp_config(), "store": {"match_non_ids": True},
                        "http": {"misp_api": {"keys_file": keyfile, "keys_env": ENV}}})
        for v in cls.values:
            wait_until(lambda v=v: cls.d.hits(v) >= 1, what="%s pulled" % v)

    @classmethod
    def tearDownClass(cls):
        cls.d.close()
        cls.misp.close()
        cls.tmp.cleanup()

    # ---- comparing answers -----------------------------------------------------
    def compare(self, ours, theirs, path=()):
        """Field by field: same keys in the same order, same values (type only for TYPE_ONLY)."""
        if isinstance(theirs, dict):
            self.assertIsInstance(ours, dict, path)
            self.assertEqual(list(ours), list(theirs), "keys of %s" % (path,))
            for k in theirs:
                self.compare(ours[k], theirs[k], path + (k,))
        elif isinstance(theirs, list):
            self.assertIsInstance(ours, list, path)
            self.assertEqual(len(ours), len(theirs), "length of %s" % (path,))
            for a, b in zip(ours, theirs):
                self.compare(a, b, path)
        elif tuple(p for p in path if p != "Attribute")[-3:] in TYPE_ONLY or \
                tuple(p for p in path if p != "Attribute")[-2:] in TYPE_ONLY:
            self.assertEqual(type(ours), type(theirs), path)
        else:
            self.assertEqual(ours, theirs, path)

    def same_answer(self, ours, theirs, ordered=False):
        """Two 200 answers: MISP's envelope, the same attributes (by uuid unless ordered)."""
        self.assertEqual(ours[0], 200, ours[2][:300])
        self.assertEqual(theirs[0], 200, theirs[2][:300])
        for a in (ours, theirs):
            self.assertTrue(a[2].startswith(b'{"response": {"Attribute": [') and a[2].endswith(b"]}}\n"))
            self.assertEqual(a[1]["content-type"], "application/json; charset=UTF-8")
        o = json.loads(ours[2])["response"]["Attribute"]
        t = json.loads(theirs[2])["response"]["Attribute"]
        if not ordered:
            o.sort(key=lambda a: a["uuid"])
            t.sort(key=lambda a: a["uuid"])
        self.compare(o, t)
        return o

    def both(self, body, key_ours=KEY, **kw):
        return (post(self.d.port, key_ours, body, **kw), post(self.misp.rest_port, self.misp.key, body, **kw))

    # ---- the tests ---------------------------------------------------------------
    def test_pymisp_requests(self):
        cases = [dict(value="203.0.113.77"), dict(value="evil-update.example", include_event_tags=True),
                 dict(value="203.0.113.5", include_context=True, include_event_tags=True),
                 dict(value="198.51.100.0/24", to_ids=True, include_event_uuid=True),
                 dict(value="198.51.100.7"), dict(type_attribute="ip-dst", to_ids=True),
                 dict(tags={"OR": ["tlp:amber"], "NOT": ["Feed-x"]}, include_event_tags=True),
                 dict(org="EXAMPLE-CERT", timestamp=1729500100), dict(eventid="2", published=True),
                 dict(value="http://evil-update.example/x", to_ids=0)]
        for kw in cases:
            with self.subTest(**{k: str(v) for k, v in kw.items()}):
                body = pymisp_body(**kw)
                ours = pymisp_post(self.d.port, KEY, body)
                theirs = pymisp_post(self.misp.rest_port, self.misp.key, body)
                got = self.same_answer(ours, theirs)
                if "value" in kw and kw["value"] != "198.51.100.7":
                    self.assertTrue(got, "no attribute for %r" % kw)
        # no containment, as MISP: an address inside a stored CIDR finds nothing
        self.assertEqual(json.loads(pymisp_post(self.d.port, KEY, pymisp_body(value="198.51.100.7"))[2]),
                         {"response": {"Attribute": []}})
        # by value: MISP's headers, with X-Result-Count
        st, hd, _ = pymisp_post(self.d.port, KEY, pymisp_body(value="evil-update.example"))
        self.assertEqual((hd["x-result-count"], hd["x-export-module-used"], hd["x-response-format"]),
                         ("2", "json", "json"))

    def test_filters_and_walks(self):
        pull = {"returnFormat": "json", "type": "ip-%", "tags": "Feed-%", "to_ids": "yes",
                "includeEventTags": "yes", "includeContext": "yes"}
        for body in [pull, dict(pull, type="domain"), {"request": {"value": "%.example", "includeEventTags": 1}},
                     {"value": "!203.0.113.%", "type": ["domain", "domain|ip", "ip-src"]},
                     {"value": "EVIL-UPDATE.EXAMPLE||192.0.2.10"}, {"tags": "!tlp:red", "category": "Network%"},
                     {"timestamp": [1729600100, 1729500100]}, {"deleted": 1}, {"tags": ["Feed-x", "tlp:red"]},
                     {"returnFormat": "json", "value": "203.0.113.77", "unknownParameter": {"x": [1]}}, {},
                     {"value": "", "type": ""}]:
            with self.subTest(body=json.dumps(body)):
                self.same_answer(*self.both(json.dumps(body)))
        # an empty body (or another content type) is MISP's unfiltered search
        self.same_answer(*self.both(""))
        self.same_answer(*self.both('{"value":"192.0.2.10"}', ctype="text/plain"))
        # paging by value, ordered by id as MISP's "order": "Attribute.id ASC" pages
        for page in (1, 2, 3):
            body = {"value": ["evil-update.example", "203.0.113.5", "192.0.2.10"], "limit": 2, "page": page,
                    "order": "Attribute.id ASC"}
            ours, theirs = self.both(json.dumps(body))
            self.same_answer(ours, theirs, ordered=True)
            self.assertEqual(ours[1]["x-result-count"], theirs[1]["x-result-count"])
        # a walk with a limit: as many as asked for
        ours = post(self.d.port, KEY, json.dumps({"type": "%", "limit": 3, "page": 2}))
        self.assertEqual(len(json.loads(ours[2])["response"]["Attribute"]), 3)

    def test_url_forms(self):
        for path, method in [("/attributes/restSearch/value:evil-update.example", "POST"),
                             ("/attributes/restSearch/json/value:203.0.113.77/includeEventTags:1", "GET"),
                             ("/attributes/restSearch/returnFormat:json/type:domain", "GET"),
                             ("/attributes/restSearch?value=192.0.2.10&includeContext=1", "GET")]:
            with self.subTest(path=path):
                ours, theirs = self.both("", path=path, method=method)
                self.assertTrue(json.loads(ours[2])["response"]["Attribute"])
                self.same_answer(ours, theirs)

    def test_ruby_filter(self):
        if not os.access(RUBY, os.X_OK):
            self.skipTest("Debian's ruby is not installed")
        for value in ["evil-update.example", "c2.evil-update.example", "203.0.113.77", "nothing.example"]:
            out = []
            for url, key in [("http://127.0.0.1:%d/attributes/restSearch" % self.d.port, KEY),
                             ("%s/attributes/restSearch" % self.misp.url, self.misp.key)]:
                p = subprocess.run([RUBY, "-e", RUBY_FILTER, url, key, value], capture_output=True, timeout=30)
                self.assertEqual(p.returncode, 0, p.stderr.decode()[-2000:])
                out.append(json.loads(p.stdout))
            with self.subTest(value=value):
                self.assertEqual(out[0]["code"], 200)
                self.assertEqual((out[0]["tags"], out[0]["eventinfo"]), (out[1]["tags"], out[1]["eventinfo"]))
                ours = json.loads(out[0]["body"])["response"]["Attribute"]
                theirs = json.loads(out[1]["body"])["response"]["Attribute"]
                self.compare(sorted(ours, key=lambda a: a["uuid"]), sorted(theirs, key=lambda a: a["uuid"]))
        # the ruby filter's request in the MISP test server's log: headers and body as Net::HTTP sent them
        reqs = self.misp.control("requests")
        self.assertIn('{"returnFormat":"json","includeEventTags":"yes","value":"nothing.example"}',
                      [r["body"] for r in reqs])

    def test_errors_as_misp(self):
        cases = [(None, '{"value":"x"}', "POST", "/attributes/restSearch"),
                 ("Y" * 40, '{"value":"x"}', "POST", "/attributes/restSearch"),
                 ("short", '{"value":"x"}', "POST", "/attributes/restSearch/json"),
                 (True, '{"value":', "POST", "/attributes/restSearch"),
                 (True, '[1,2]', "POST", "/attributes/restSearch"),
                 (True, "", "GET", "/attributes/restSearch"),
                 (True, '{"returnFormat":"bogus"}', "POST", "/attributes/restSearch")]
        for key, body, method, path in cases:
            with self.subTest(key=str(key)[:6], body=body, method=method):
                ours = post(self.d.port, KEY if key is True else key, body, path=path, method=method)
                theirs = post(self.misp.rest_port, self.misp.key if key is True else key, body, path=path,
                              method=method)
                self.assertEqual(ours[0], theirs[0], ours[2])
                self.assertEqual(ours[2], theirs[2])
                self.assertEqual(ours[1]["content-type"], theirs[1]["content-type"])
        # X-MISP-AUTH wins over Authorization; comma-separated keys are tried in turn
        st = raw_request(self.d.port, ["POST /attributes/restSearch HTTP/1.1", "Host: t", "X-MISP-AUTH: " + KEY2,
                                       "Authorization: nope", "Content-Type: application/json",
                                       "Content-Length: 2"], b"{}")[0]
        self.assertEqual(st, 200)
        self.assertEqual(post(self.d.port, "Basic abc, %s" % KEY, '{"value":"192.0.2.10"}')[0], 200)
        # past the 1 MiB body cap: 413 (after the key is checked)
        big = '{"value":"%s"}' % ("a" * (1 << 20))
        self.assertEqual(post(self.d.port, KEY, big)[0], 413)
        self.assertEqual(post(self.d.port, None, big)[0], 403)
        self.assertEqual(post(self.d.port, KEY, "{}", method="PUT")[0], 405)
        # keys in no log line, metric or dump
        log = self.d.log()
        for k in (KEY, KEY2, "Y" * 40):
            self.assertNotIn(k, log)
        st, metrics = self.d.get("/metrics")
        self.assertNotIn(KEY.encode(), metrics)
        dump = subprocess.run([BIN, "config", "dump", self.d.config_path], capture_output=True,
                              env=dict(os.environ), timeout=30)
        self.assertEqual(dump.returncode, 0, dump.stderr)
        self.assertNotIn(KEY.encode(), dump.stdout + dump.stderr)
        self.assertNotIn(KEY2.encode(), dump.stdout + dump.stderr)
        self.assertIn(b"keys_file:", dump.stdout)
        self.assertGreaterEqual(self.d.metric("iocbus_mispapi_auth_failures_total"), 3)
        self.assertGreaterEqual(self.d.metric("iocbus_mispapi_requests_total", status="413"), 1)

    def test_pymisp_connect_sequence(self):
        """PyMISP(url, key) reads these before anything else and refuses to start without User/Role/
        UserSetting/Organisation; describeTypes stays 404 (PyMISP then uses its bundled copy)."""
        head = ["Host: t", "User-Agent: PyMISP 2.4.198 - Python 3.11.2", "Accept: application/json",
                "Authorization: " + KEY, "content-type: application/json"]
        for path, keys in [("/servers/getVersion", {"version", "pymisp_recommended_version", "perm_sighting"}),
                           ("/servers/getPyMISPVersion.json", {"version"}),
                           ("/users/view/me", {"User", "Role", "UserSetting", "Organisation"})]:
            ours = raw_request(self.d.port, ["GET %s HTTP/1.1" % path] + head)
            theirs = raw_request(self.misp.rest_port, ["GET %s HTTP/1.1" % path] + head[:3] +
                                 ["Authorization: " + self.misp.key, head[4]])
            self.assertEqual((ours[0], theirs[0]), (200, 200), path)
            o, t = json.loads(ours[2]), json.loads(theirs[2])
            self.assertLessEqual(keys, set(o))
            self.assertEqual(set(o), set(t), path)
            self.assertEqual(raw_request(self.d.port, ["GET %s HTTP/1.1" % path, "Host: t"])[0], 403)
        self.assertEqual(raw_request(self.d.port, ["GET /attributes/describeTypes.json HTTP/1.1"] + head)[0], 404)

    def test_metrics_count_attributes(self):
        before = self.d.metric("iocbus_mispapi_attributes_total")
        post(self.d.port, KEY, '{"value":"evil-update.example"}')
        self.assertEqual(self.d.metric("iocbus_mispapi_attributes_total"), before + 2)


class MispApiWalkTest(unittest.TestCase):
    """A walk streams: a client that reads slowly (or goes away) holds only its own
    connection; the endpoint answers the others at once."""
    N = 100000

    def test_slow_walk_reader_does_not_stall(self):
        with __import__("tempfile").TemporaryDirectory(prefix="iocbus-mispapi-walk-") as tmp:
            intel = os.path.join(tmp, "intel.json")
            with open(intel, "w") as f:
                f.write('{"response": {"Attribute": [')
                for i in range(self.N):
                    f.write('%s{"uuid":"00000000-0000-4000-8000-%012d","type":"ip-dst","category":"Network activity",'
                            '"value":"10.%d.%d.%d","to_ids":true,"timestamp":"1700000000","event_id":"1",'
                            '"Event":{"uuid":"eeeeeeee-0000-4000-8000-000000000001","id":"1","info":"walk"}}'
                            % ("," if i else "", i + 1, i >> 16 & 255, i >> 8 & 255, i & 255))
                f.write("]}}")
            cfg = {"intel": [intel], "http": {"misp_api": {"keys": KEY, "max_attributes": self.N}}}
            with Iocbus(cfg) as d:
                last = "10.%d.%d.%d" % ((self.N - 1) >> 16 & 255, (self.N - 1) >> 8 & 255, (self.N - 1) & 255)
                wait_until(lambda: d.hits(last) == 1, timeout=120, what="intel loaded")
                slow = []
                for _ in range(3):   # three walks of the whole store, read 4 KiB each then left waiting
                    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
                    body = b'{"type":"ip-dst"}'
                    s.sendall(b"POST /attributes/restSearch HTTP/1.1\r\nHost: t\r\nAuthorization: " + KEY.encode() +
                              b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                    self.assertIn(b"200", s.recv(4096))
                    slow.append(s)
                # meanwhile two walks read to their end by another process (not a thread: decoding
                # 100 k items holds the GIL for seconds): every attribute once
                walker = subprocess.Popen([sys.executable, "-c", WALKER, str(d.port), KEY], stdout=subprocess.PIPE)
                time = __import__("time")
                worst, i = 0.0, 0
                while walker.poll() is None or i < 20:
                    t0 = time.monotonic()
                    st, _, b = post(d.port, KEY, '{"value":"10.0.0.%d"}' % (i % 200))
                    worst = max(worst, time.monotonic() - t0)
                    self.assertEqual((st, len(json.loads(b)["response"]["Attribute"])), (200, 1))
                    i += 1
                self.assertEqual(walker.wait(timeout=60), 0)
                self.assertEqual(walker.stdout.read().split(), [str(self.N).encode()] * 2)
                self.assertLess(worst, 1.0, "a single-value search waited %.2f s beside walks" % worst)
                print("# %d single-value searches beside 3 stalled walks and 2 full ones: worst %.3f s" % (i, worst))
                for s in slow:      # the stalled ones dropped mid-answer
                    s.close()
                # a walk that matches nothing: each empty step yields (suspend, resume) and it still ends
                st, hd, b = post(d.port, KEY, '{"value":"nomatch%"}')
                self.assertEqual((st, b), (200, b'{"response": {"Attribute": []}}\n'))
                self.assertNotIn("x-result-count", hd)
                self.assertEqual(d.metric("iocbus_mispapi_truncated_total"), 0)
                self.assertEqual(d.get("/healthz")[0], 200)


class MispApiOffTest(unittest.TestCase):
    def test_max_attributes(self):
        with Misp() as m:
            ev = m.control("event", info="cap")
            for i in range(3):
                m.attribute(ev, "ip-dst", "192.0.2.%d" % (i + 1))
            with Iocbus({"misp": m.misp_config(), "http": {"misp_api": {"keys": KEY, "max_attributes": 2}}}) as d:
                wait_until(lambda: d.hits("192.0.2.3") == 1)
                count = lambda body: len(json.loads(post(d.port, KEY, body)[2])["response"]["Attribute"])
                self.assertEqual(count('{"type":"ip-dst","limit":2}'), 2)    # a limit cuts as asked
                self.assertEqual(d.metric("iocbus_mispapi_truncated_total"), 0)
                self.assertEqual(count('{"type":"ip-dst"}'), 2)              # the cap cuts, and counts it
                self.assertEqual(d.metric("iocbus_mispapi_truncated_total"), 1)
                self.assertEqual(count('{"value":["192.0.2.1","192.0.2.2","192.0.2.3"]}'), 2)
                self.assertEqual(d.metric("iocbus_mispapi_truncated_total"), 2)
                self.assertEqual(count('{"type":"ip-dst","limit":2,"page":2}'), 1)

    def test_off_without_keys(self):
        with Misp() as m:
            with Iocbus({"misp": m.misp_config()}) as d:
                st, _, _ = post(d.port, m.key, '{"value":"x"}')
                self.assertEqual(st, 404)
                self.assertIsNone(d.metric("iocbus_mispapi_requests_total"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
