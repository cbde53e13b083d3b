#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Self-test of tests/servers/feed_server.py (static MISP feed server).

Starts the server per test on an ephemeral loopback port over a copy of
examples/intel/feed, with bounded timeouts only.
"""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "feed_server.py")
FEED = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "intel", "feed"))
EVENT = "cc219755-21fd-5404-a1dc-0e212576ebfb"
TIMEOUT = 5.0


class FeedServerTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="iocb-feed-srv-")
        self.dir = os.path.join(self.tmp, "feed")
        shutil.copytree(FEED, self.dir)
        self.proc = subprocess.Popen([sys.executable, SERVER, "--dir", self.dir],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.assertTrue(line.startswith("READY port="), line)
        self.port = int(line.split("=", 1)[1])

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=TIMEOUT)
        self.proc.stdout.close()
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def req(self, path, method="GET", headers=None, body=None):
        r = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), method=method,
                                   headers=headers or {}, data=body)
        try:
            with urllib.request.urlopen(r, timeout=TIMEOUT) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def control_requests(self):
        st, _, body = self.req("/_control/requests")
        self.assertEqual(st, 200)
        return json.loads(body)

    def test_serves_manifest_with_sha1_etag(self):
        with open(os.path.join(self.dir, "manifest.json"), "rb") as f:
            data = f.read()
        st, h, body = self.req("/manifest.json")
        self.assertEqual(st, 200)
        self.assertEqual(body, data)
        self.assertEqual(h["ETag"], '"%s"' % hashlib.sha1(data).hexdigest())
        self.assertEqual(h["Content-Type"], "application/json")
        self.assertEqual(int(h["Content-Length"]), len(data))
        json.loads(body)

    def test_if_none_match_gives_304_until_the_file_changes(self):
        _, h, _ = self.req("/%s.json" % EVENT)
        etag = h["ETag"]
        st, h2, body = self.req("/%s.json" % EVENT, headers={"If-None-Match": etag})
        self.assertEqual((st, body), (304, b""))
        self.assertEqual(h2["ETag"], etag)
        st, _, _ = self.req("/%s.json" % EVENT, headers={"If-None-Match": 'W/%s, "x"' % etag})
        self.assertEqual(st, 304)
        st, _, _ = self.req("/%s.json" % EVENT, headers={"If-None-Match": '"other"'})
        self.assertEqual(st, 200)
        with open(os.path.join(self.dir, "%s.json" % EVENT), "ab") as f:
            f.write(b"\n")
        st, h3, _ = self.req("/%s.json" % EVENT, headers={"If-None-Match": etag})
        self.assertEqual(st, 200)
        self.assertNotEqual(h3["ETag"], etag)

    def test_missing_and_unsafe_names_are_404(self):
        for p in ("/nope.json", "/../feed/manifest.json", "/.hidden", "/a/b.json", "/"):
            st, _, _ = self.req(p)
            self.assertEqual(st, 404, p)
        st, _, _ = self.req("/manifest.json", method="POST", body=b"{}")
        self.assertEqual(st, 405)

    def test_fail_control_and_request_log(self):
        st, _, _ = self.req("/_control/fail", "POST", body=json.dumps({"count": 2, "status": 502}).encode())
        self.assertEqual(st, 200)
        self.assertEqual(self.req("/manifest.json")[0], 502)
        self.assertEqual(self.req("/manifest.json", headers={"If-None-Match": '"x"'})[0], 502)
        self.assertEqual(self.req("/manifest.json")[0], 200)
        log = self.control_requests()
        self.assertEqual([(r["path"], r["status"]) for r in log],
                         [("/manifest.json", 502), ("/manifest.json", 502), ("/manifest.json", 200)])
        self.assertEqual([r["if_none_match"] for r in log], [None, '"x"', None])
        self.assertEqual(self.req("/_control/fail", "POST", body=b'{"count":-1}')[0], 400)
        self.assertEqual(self.req("/_control/fail", "POST", body=b'not json')[0], 400)
        self.assertEqual(self.req("/_control/reset", "POST", body=b"")[0], 200)
        self.assertEqual(self.control_requests(), [])

    def test_exits_on_sigterm(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=TIMEOUT), 0)

    def test_exits_on_stdin_eof(self):
        self.proc.stdin.close()
        self.assertEqual(self.proc.wait(timeout=TIMEOUT), 0)


if __name__ == "__main__":
    unittest.main()
