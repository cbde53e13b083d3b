# SPDX-License-Identifier: Apache-2.0
"""The HTTP endpoint of `iocbus run` under connection pressure (issue #11
item 2) and with NUL bytes in lookup values (item 7), through the daemon and
its `http` configuration section:

- max_connections (2) idle keep-alive clients that got their answer, then
  2,000 concurrent connections: once they have all closed, /healthz answers
  within 2 s (the endpoint used to stop accepting for good at the limit);
- 100 clients sending their request head one byte every 5 s fill the
  endpoint: /healthz answers within 2 s of http.header_timeout passing, the
  slow clients are closed, and iocbus_http_header_timeouts_total counts them;
- /v1/lookup?value=203.0.113.1%00garbage does not match 203.0.113.1."""
import os
import resource
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Iocbus, Misp, wait_until  # noqa: E402

MAXCONN = 100  # the slow-header case: one slot per slow client
IDLE_MAXCONN = 2  # the smallest wedge: two idle keep-alive clients
HEADER_TIMEOUT = 6.0
GRACE = 2.0
FLOOD = 2000
HEAD = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"


def need_fds(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < n:
        if hard != resource.RLIM_INFINITY and hard < n:
            raise AssertionError("needs %d descriptors; the hard limit is %d (ulimit -Hn)" % (n, hard))
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))


def healthz_within(port, limit):
    """Seconds /healthz took to answer 200 "ok", or None past `limit` seconds."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=limit)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        buf = b""
        while b"\r\n\r\nok" not in buf:
            left = t0 + limit - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                return None
            if not chunk:
                return None
            buf += chunk
        return time.monotonic() - t0
    finally:
        s.close()


class HttpPressureTest(unittest.TestCase):
    def setUp(self):
        need_fds(FLOOD + 512)
        self.misp = Misp()
        self.addCleanup(self.misp.close)
        ev = self.misp.control("event", info="http")
        self.misp.attribute(ev, "ip-dst", "203.0.113.1")

    def start(self, maxconn):
        cfg = {"misp": self.misp.misp_config(),
               "http": {"max_connections": maxconn, "idle_timeout": "30s",
                        "header_timeout": "%gs" % HEADER_TIMEOUT}}
        self.d = Iocbus(cfg)
        self.addCleanup(self.d.close)
        wait_until(lambda: self.d.hits("203.0.113.1") == 1, what="intel pulled")

    def test_limit_then_flood(self):
        self.start(IDLE_MAXCONN)
        idle = []
        for _ in range(IDLE_MAXCONN):
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
            s.sendall(HEAD)
            buf = b""
            while not (b"\r\n\r\nok" in buf and buf.endswith(b"\n")):  # "ok pull=up\n"
                chunk = s.recv(4096)
                self.assertTrue(chunk, "keep-alive /healthz not answered")
                buf += chunk
            idle.append(s)
        flood = []
        try:
            for _ in range(FLOOD):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                flood.append(s)
                if s.connect_ex(("127.0.0.1", self.d.port)) in (0, 115):  # 115: EINPROGRESS
                    try:
                        s.send(HEAD)
                    except OSError:
                        pass
        finally:
            for s in flood + idle:
                s.close()
        took = healthz_within(self.d.port, 2.0)
        self.assertIsNotNone(took, "/healthz did not answer within 2 s after %d idle and %d flood clients closed"
                             % (IDLE_MAXCONN, FLOOD))
        print("# /healthz answered %.3f s after the clients closed" % took)

    def test_slow_headers(self):
        self.start(MAXCONN)
        slow = [socket.create_connection(("127.0.0.1", self.d.port), timeout=10) for _ in range(MAXCONN)]
        try:
            for s in slow:
                s.sendall(HEAD[:1])
            t0 = time.monotonic()
            # The endpoint is full: this probe waits in the backlog until the deadline frees it.
            probe = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            probe.settimeout(HEADER_TIMEOUT + GRACE)
            answer = b""
            sent = 1
            while b"\r\n\r\nok" not in answer and time.monotonic() - t0 < HEADER_TIMEOUT + GRACE:
                if time.monotonic() - t0 >= 5.0 * sent:
                    for s in slow:  # the next byte, 5 s after the previous one
                        try:
                            s.send(HEAD[sent:sent + 1])
                        except OSError:
                            pass
                    sent += 1
                probe.settimeout(max(0.01, min(5.0 * sent, HEADER_TIMEOUT + GRACE) - (time.monotonic() - t0)))
                try:
                    chunk = probe.recv(4096)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                answer += chunk
            took = time.monotonic() - t0
            probe.close()
            self.assertIn(b"\r\n\r\nok", answer, "/healthz did not answer within %.0f s of header_timeout" % GRACE)
            print("# /healthz answered %.3f s after the slow clients filled the endpoint" % took)
            # Every slow client was closed by the server, although it kept sending.
            for s in slow:
                s.settimeout(GRACE)
                try:
                    self.assertEqual(s.recv(4096), b"")
                except ConnectionResetError:
                    pass
        finally:
            for s in slow:
                s.close()
        wait_until(lambda: self.d.metric("iocbus_http_header_timeouts_total") == MAXCONN,
                   what="header timeouts counted")

    def test_lookup_nul(self):
        self.start(MAXCONN)
        st, body = self.d.get("/v1/lookup?value=203.0.113.1%00garbage")
        self.assertEqual(st, 200)
        self.assertEqual(body, b'{"value":"203.0.113.1\\u0000garbage","matches":[]}\n')
        self.assertEqual(self.d.hits("203.0.113.1"), 1)


if __name__ == "__main__":
    unittest.main()
