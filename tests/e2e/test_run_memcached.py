# SPDX-License-Identifier: Apache-2.0
"""`iocbus run` with `memcached:` (issue #14 §1): the memcached-protocol
lookup endpoint. Differential against Debian's memcached 1.6 (started on a
free loopback port with CAS off, `-C`, and pre-loaded with the same keys and
values): the same request bytes get the same response bytes on the read
paths (binary GETK/GETKQ/GET/GETQ/NOOP/VERSION batch, an unknown opcode,
text multi-key get, meta mg/mn, an oversized binary key); refused writes
answer memcached's own error class; real clients: ruby Dalli's get_multi as
Logstash's memcached filter calls it (binary protocol, namespace), and
pymemcache."""
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Iocbus, free_port, wait_until  # noqa: E402

LONG_URL = "https://login.example.net/" + "/".join("segment%03d" % i for i in range(24)) + "?session=abc"  # 307


def dalli_key(key, ns=None):
    """Dalli 3.x KeyManager: a key (namespace included) over 250 characters is shortened to its first
    212 characters (213 with a namespace) + ":md5:" + md5 hex of the whole."""
    full = "%s:%s" % (ns, key) if ns else key
    if len(full) <= 250:
        return full
    return full[:213 if ns else 212] + ":md5:" + hashlib.md5(full.encode()).hexdigest()


EV = {"uuid": "5f1e2d3c-0000-4000-8000-000000000001", "id": "1", "info": "memcached test"}
HIT_VALUE = b"['Feed-test']"
RUBY = """
require "dalli"
require "json"
c = Dalli::Client.new([ARGV[0]], expires_in: 130, namespace: "misp", socket_timeout: 1)
c.alive!
puts JSON.generate(c.get_multi(ARGV[1..]))
"""


def attr(n, typ, value, tags):
    return {"uuid": "00000000-0000-4000-8000-%012d" % n, "type": typ, "category": "Network activity",
            "value": value, "to_ids": True, "timestamp": "1700000000", "event_id": "1", "Event": EV,
            "Tag": [{"name": t} for t in tags]}


def bin_req(op, key=b"", extras=b"", value=b"", opaque=0):
    return struct.pack(">BBHBBHII8s", 0x80, op, len(key), len(extras), 0, 0, len(key) + len(extras) + len(value),
                       opaque, b"\0" * 8) + extras + key + value


def exchange(port, data, end=None, timeout=3.0):
    """Send data; read until the answer ends with `end` (None: until the peer closes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not (end and out.endswith(end)):
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out


class MemcachedEndpointTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="iocbus-mc-")
        intel = os.path.join(cls.dir.name, "intel.json")
        attrs = [attr(1, "domain", "evil.com", ["Feed-test", "tlp:white"]),
                 attr(2, "ip-dst", "198.51.100.0/24", ["Feed-net"]),
                 attr(3, "url", LONG_URL, ["Feed-url"])]
        with open(intel, "w") as f:
            json.dump({"response": {"Attribute": attrs}}, f)
        cls.port = free_port()
        cls.d = Iocbus({"intel": [intel], "memcached": {"port": cls.port, "namespace": "misp"}},
                       workdir=cls.dir.name)
        cls.ref_port = free_port()
        cls.ref = subprocess.Popen([shutil.which("memcached") or "/usr/bin/memcached", "-l", "127.0.0.1", "-p",
                                    str(cls.ref_port), "-U", "0", "-m", "16", "-C"]
                                   + (["-u", "root"] if os.geteuid() == 0 else []),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: exchange(cls.ref_port, b"version\r\n", b"\r\n", 1).startswith(b"VERSION"),
                   what="reference memcached up")
        for k, v in ((b"domain-evil.com", HIT_VALUE), (b"misp:domain-evil.com", HIT_VALUE),
                     (dalli_key("url-" + LONG_URL, "misp").encode(), b"['Feed-url']")):
            r = exchange(cls.ref_port, b"set %s 0 0 %d\r\n%s\r\n" % (k, len(v), v), b"\r\n")
            assert r == b"STORED\r\n", r
        wait_until(lambda: exchange(cls.port, b"version\r\n", b"\r\n", 1).startswith(b"VERSION"),
                   what="iocbus memcached endpoint up")

    @classmethod
    def tearDownClass(cls):
        cls.ref.terminate()
        cls.ref.wait(10)
        cls.d.close()
        cls.dir.cleanup()

    def same(self, data, end=None):
        """The bytes iocbus answers to data are memcached's; returns them."""
        got, want = exchange(self.port, data, end), exchange(self.ref_port, data, end)
        self.assertEqual(got, want)
        self.assertTrue(want)
        return got

    def test_binary_batch_same_bytes(self):
        req = (bin_req(0x0B) + bin_req(0x0D, b"domain-evil.com", opaque=1) + bin_req(0x0D, b"nosuch.example")
               + bin_req(0x0C, b"nosuch.example", opaque=2) + bin_req(0x0C, b"domain-evil.com")
               + bin_req(0x00, b"domain-evil.com") + bin_req(0x00, b"nosuch.example", opaque=3)
               + bin_req(0x09, b"nosuch.example") + bin_req(0x55, opaque=4) + bin_req(0x10, b"nosuchgroup")
               + bin_req(0x0A, opaque=0xBEEF))
        got = self.same(req, end=struct.pack(">I", 0xBEEF) + b"\0" * 8)
        self.assertIn(b"domain-evil.com" + HIT_VALUE, got)

    def test_long_url_as_memcached_holding_the_shortened_key(self):
        """Dalli's shortened key of a long URL hits as in a memcached holding that key, except that binary
        GETK/GETKQ answer under the whole key: Dalli files answers by the key they carry and the Logstash
        filter looks them up under the key it asked for, so memcached's own answer is a miss in Logstash."""
        whole = ("misp:url-" + LONG_URL).encode()
        k = dalli_key("url-" + LONG_URL, "misp").encode()
        self.assertEqual(len(k), 250)
        req = bin_req(0x0D, k) + bin_req(0x0D, k[:-1] + b"0") + bin_req(0x0C, k, opaque=5) + bin_req(0x0A, opaque=7)
        end = struct.pack(">I", 7) + b"\0" * 8
        got, want = exchange(self.port, req, end), exchange(self.ref_port, req, end)
        hdr = lambda key, opaque: (b"\x81" + req[1:2] + struct.pack(">H", len(key)) + b"\x04\0\0\0"
                                   + struct.pack(">II", 4 + len(key) + 12, opaque))
        self.assertEqual(want.count(k + b"['Feed-url']"), 2)
        self.assertEqual(got, want.replace(k + b"['Feed-url']", whole + b"['Feed-url']")
                         .replace(hdr(k, 0), hdr(whole, 0)).replace(hdr(k, 5)[:1] + b"\x0c" + hdr(k, 5)[2:],
                                                                  hdr(whole, 5)[:1] + b"\x0c" + hdr(whole, 5)[2:]))
        self.same(b"get " + k + b" " + k[:-1] + b"0\r\nmg " + k + b" v k\r\nmn\r\n", b"MN\r\n")  # text/meta: as sent

    def test_dalli_long_url(self):
        """ruby-dalli shortens a 307-character URL key (namespace and type prefix: 316) and still hits."""
        self.assertGreater(len("misp:url-" + LONG_URL), 250)
        keys = ["url-" + LONG_URL, LONG_URL, "url-" + LONG_URL + "x"]
        r = subprocess.run(["ruby", "-e", RUBY, "127.0.0.1:%d" % self.port] + keys, capture_output=True,
                           timeout=30, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"url-" + LONG_URL: "['Feed-url']", LONG_URL: "['Feed-url']"})
        self.assertEqual(self.d.metric("iocbus_memcached_long_key_values"), 1)

    def test_binary_oversized_key_closes(self):
        self.same(bin_req(0x0D, b"a" * 251) + bin_req(0x0A))

    def test_text_and_meta_same_bytes(self):
        got = self.same(b"get domain-evil.com nosuch.example misp:domain-evil.com\r\nget nosuch.example\r\n"
                        b"bogus\r\nversion\r\n", b"VERSION 1.6.18\r\n")
        self.assertIn(b"VALUE domain-evil.com 0 13\r\n" + HIT_VALUE, got)
        self.same(b"mg domain-evil.com v f k s\r\nmg domain-evil.com\r\nmg nosuch.example k Oabc\r\n"
                  b"mg nosuch.example v q\r\nmg domain-evil.com v q\r\nmn\r\n", b"MN\r\n")
        self.same(b"mg ZG9tYWluLWV2aWwuY29t b k v f\r\nmg bm9zdWNo b k\r\nmn\r\n", b"MN\r\n")  # base64 keys

    def test_writes_refused(self):
        got = exchange(self.port, b"set k 0 0 1 noreply\r\nx\r\ndelete k\r\nversion\r\n", b"VERSION 1.6.18\r\n")
        self.assertEqual(got, b"SERVER_ERROR read only\r\nSERVER_ERROR read only\r\nVERSION 1.6.18\r\n")
        got = exchange(self.port, bin_req(0x11, b"k", b"\0\0\0\1\0\0\0\x82", b"v") + bin_req(0x0A, opaque=9),
                       struct.pack(">I", 9) + b"\0" * 8)
        self.assertEqual(got[:8], b"\x81\x11\x00\x00\x00\x00\x00\x05")  # SETQ still answered: Not stored
        self.assertEqual(exchange(self.port, b"get k\r\n", b"END\r\n"), b"END\r\n")

    def test_dalli_get_multi(self):
        keys = ["domain-evil.com", "domain-EVIL.com.", "ip-dst-198.51.100.7", "evil.com", "domain-nosuch.example"]
        r = subprocess.run(["ruby", "-e", RUBY, "127.0.0.1:%d" % self.port] + keys, capture_output=True,
                           timeout=30, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"domain-evil.com": "['Feed-test']",
                                                "domain-EVIL.com.": "['Feed-test']",
                                                "ip-dst-198.51.100.7": "['Feed-net']", "evil.com": "['Feed-test']"})

    def test_pymemcache(self):
        r = subprocess.run(["/usr/bin/python3", "-c", """
import sys
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheServerError
c = Client(("127.0.0.1", int(sys.argv[1])), connect_timeout=2, timeout=2)
assert c.get("domain-evil.com") == b"['Feed-test']"
assert c.get("nosuch.example") is None
m = c.get_many(["domain-evil.com", "ip-dst-198.51.100.9", "nosuch.example"])
assert m == {"domain-evil.com": b"['Feed-test']", "ip-dst-198.51.100.9": b"['Feed-net']"}, m
try:
    c.set("k", "v", noreply=False)
    raise SystemExit("set accepted")
except MemcacheServerError as e:
    assert "read only" in str(e), e
print("ok")
""", str(self.port)], capture_output=True, timeout=30, text=True)
        self.assertEqual(r.stdout.strip(), "ok", r.stderr)

    def test_memccapable_read_paths(self):
        """libmemcached-tools' conformance cases that need no write (the rest set or flush first)."""
        for t in ("ascii version", "ascii stat", "binary version", "binary quit", "binary quitq", "binary noop",
                  "binary stat"):
            r = subprocess.run(["memccapable", "-h", "127.0.0.1", "-p", str(self.port), "-T", t],
                               capture_output=True, timeout=30, text=True)
            self.assertIn("All tests passed", r.stdout + r.stderr, t)

    def test_metrics(self):
        exchange(self.port, b"get domain-evil.com nosuch.example\r\n", b"END\r\n")
        self.assertGreaterEqual(self.d.metric("iocbus_memcached_hits_total"), 1)
        self.assertGreaterEqual(self.d.metric("iocbus_memcached_misses_total"), 1)
        self.assertGreaterEqual(self.d.metric("iocbus_memcached_requests_total", command="get"), 1)
        self.assertIsNotNone(self.d.metric("iocbus_memcached_connections"))


class MemcachedValueTemplatesTest(unittest.TestCase):
    """`memcached.value`: the alternatives to elastiMISPstash's bytes, read through Dalli as Logstash does."""

    def dalli(self, value, keys):
        with tempfile.TemporaryDirectory(prefix="iocbus-mcv-") as d:
            intel = os.path.join(d, "intel.json")
            with open(intel, "w") as f:
                json.dump({"response": {"Attribute": [attr(1, "domain", "evil.com", ["Feed-test", "tlp:amber"])]}},
                          f)
            port = free_port()
            daemon = Iocbus({"intel": [intel], "memcached": {"port": port, "namespace": "misp", "value": value}},
                            workdir=d)
            try:
                wait_until(lambda: exchange(port, b"version\r\n", b"\r\n", 1).startswith(b"VERSION"),
                           what="iocbus memcached endpoint up")
                r = subprocess.run(["ruby", "-e", RUBY, "127.0.0.1:%d" % port] + keys, capture_output=True,
                                   timeout=30, text=True)
            finally:
                daemon.close()
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def test_json(self):
        got = self.dalli("json", ["domain-evil.com", "domain-nosuch.example"])
        self.assertEqual(list(got), ["domain-evil.com"])
        self.assertEqual(json.loads(got["domain-evil.com"]),
                         {"tags": ["Feed-test", "tlp:amber"], "event_info": "memcached test", "tlp": "amber"})

    def test_event_info(self):
        self.assertEqual(self.dalli("event_info", ["domain-evil.com", "evil.com", "nosuch.example"]),
                         {"domain-evil.com": "memcached test", "evil.com": "memcached test"})


if __name__ == "__main__":
    unittest.main()
