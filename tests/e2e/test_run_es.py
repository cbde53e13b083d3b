# SPDX-License-Identifier: Apache-2.0
"""`iocbus run` with the Elasticsearch `_bulk` output (src/pipe/outputs/es.c).

A file input feeds one elasticsearch output pointed at tests/servers/es_server.py,
the contract double of reference/elastic.md §4. Covered: delivery of N events
gzip-compressed with `_id`s from document_id: hash; Basic / ApiKey / Bearer
right and wrong (wrong credentials are retried and logged without the secret,
nothing is lost: a restart with the right ones delivers everything from the
spool); per-item 400 and 404 dead-lettered with the event and the reason;
per-item 429/503 and whole-request 503 retried; 409 on create counted as a
delivered duplicate; 413 split down to requests that fit, and one event too
large alone dead-lettered with 413; a whole-request 400 dead-lettered;
failover from a host that refuses connections (then skipped for its
backoff); TLS (ca_file, verification failing without it, tls_verify: false)
through a TLS proxy in front of the double; a request still in flight at the shutdown deadline aborted, its
batches spooled and delivered after the restart; data streams with `create`
(and `index` refused per item). Outage / kill -9 scenarios are in the lead's
pipeline tests.
"""
import base64
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Es, Iocbus, wait_until  # noqa: E402


def event(i, pad=0, marker=""):
    e = {"@timestamp": "2026-11-23T10:00:%02d.000Z" % (i % 60), "n": i,
         "source": {"ip": "198.51.100.%d" % (i % 250)}, "message": "event %d%s" % (i, marker)}
    if pad:
        e["pad"] = "x" * pad
    return json.dumps(e, separators=(",", ":"))


def at_least(d, name, n, timeout=30, **labels):
    return wait_until(lambda: (d.metric(name, **labels) or 0) >= n, timeout=timeout,
                      what="%s%r >= %d" % (name, labels, n))


def dead_letters(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


class EsOutputTest(unittest.TestCase):
    server_args = ()

    def setUp(self):
        self.es = Es(self.server_args)
        self.addCleanup(self.es.close)
        self.d = None

    def tearDown(self):
        if self.d is not None:
            self.d.close()

    def run_daemon(self, lines, output=None, pipeline=None, start=True, workdir=None):
        """Write `lines` to a file and start `iocbus run` reading it into one es output."""
        self.d = Iocbus({}, start=False, workdir=workdir)
        wd = self.d.workdir
        self.input = os.path.join(wd, "in.log")
        with open(self.input, "w") as f:
            for line in lines:
                f.write(line + "\n")
        o = self.es.output_config(**(output or {}))
        self.dead_path = os.path.join(wd, "dead.ndjson")
        o.setdefault("dead_letter", self.dead_path)
        p = {"state_dir": os.path.join(wd, "state"), "shutdown_timeout": "2s"}
        p.update(pipeline or {})
        self.d.write_config({"inputs": [{"name": "f", "type": "file", "path": self.input}],
                             "outputs": [o], "pipeline": p})
        if start:
            self.d.start()
        return self.d

    def count(self, index="logs-iocbus"):
        return len(self.es.docs(index))


class DeliveryTest(EsOutputTest):
    def test_gzip_with_ids(self):
        n = 5000
        # small input batches, so that flush_events (whole batches) makes several requests
        d = self.run_daemon([event(i) for i in range(n)],
                            {"document_id": "hash", "flush_events": 1000, "compression_level": 6},
                            pipeline={"batch_bytes": "16KiB"})
        wait_until(lambda: self.count() == n, timeout=60, what="%d documents" % n)
        at_least(d, "iocbus_output_events_total", n, output="es")
        docs = self.es.docs("logs-iocbus")
        self.assertEqual(sorted(x["_source"]["n"] for x in docs), list(range(n)))
        self.assertTrue(all(re.fullmatch(r"[0-9a-f]{32}", x["_id"]) for x in docs))
        self.assertEqual(len({x["_id"] for x in docs}), n)
        reqs = [r for r in self.es.control("requests")["requests"] if "_bulk" in r["path"]]
        self.assertGreaterEqual(len(reqs), 5)
        for r in reqs:
            h = {k.lower(): v for k, v in r["headers"].items()}
            self.assertEqual(h.get("content-encoding"), "gzip")
            self.assertEqual(h.get("content-type"), "application/x-ndjson")
            self.assertIn("/logs-iocbus/_bulk?filter_path=errors,items.*.error,items.*.status", r["path"])
            self.assertLess(r["body_bytes"], r["decoded_bytes"] / 3)
        self.assertGreater(d.metric("iocbus_output_bytes_total", output="es"),
                           d.metric("iocbus_output_sent_bytes_total", output="es") * 3)
        at_least(d, "iocbus_input_acked_batches_total", d.metric("iocbus_input_batches_total", input="f"), input="f")
        self.assertEqual(d.metric("iocbus_output_in_flight", output="es"), 0)
        self.assertEqual(d.term(), 0)

    def test_plain_pipeline_param(self):
        n = 300
        d = self.run_daemon([event(i) for i in range(n)], {"compression_level": 0, "pipeline": "_none"})
        wait_until(lambda: self.count() == n, timeout=30, what="%d documents" % n)
        reqs = [r for r in self.es.control("requests")["requests"] if "_bulk" in r["path"]]
        self.assertTrue(reqs)
        for r in reqs:
            h = {k.lower(): v for k, v in r["headers"].items()}
            self.assertNotIn("content-encoding", h)
            self.assertTrue(r["path"].endswith("&pipeline=_none"))
            self.assertEqual(r["body_bytes"], r["decoded_bytes"])
        self.assertEqual(d.term(), 0)

    def append(self, lines):
        with open(self.input, "a") as f:
            for line in lines:
                f.write(line + "\n")

    def test_item_errors_dead_letter(self):
        # the server keeps one item_errors rule at a time: 400 first, then 404 on lines appended later
        n = 200
        lines = [event(i, marker=" BAD400" if i == 17 else "") for i in range(n)]
        self.es.control("item_errors", count=1, status=400, match="BAD400")
        d = self.run_daemon(lines)
        wait_until(lambda: len(dead_letters(self.dead_path)) == 1, timeout=30, what="1 dead letter")
        wait_until(lambda: self.count() == n - 1, timeout=30, what="%d documents" % (n - 1))
        self.es.control("item_errors", count=1, status=404, match="BAD404")
        more = [event(i, marker=" BAD404" if i == n + 5 else "") for i in range(n, n + 10)]
        self.append(more)
        wait_until(lambda: len(dead_letters(self.dead_path)) == 2, timeout=30, what="2 dead letters")
        wait_until(lambda: self.count() == n + 10 - 2, timeout=30, what="%d documents" % (n + 8))
        dl = {x["status"]: x for x in dead_letters(self.dead_path)}
        self.assertEqual(set(dl), {400, 404})
        self.assertEqual(dl[400]["event"], lines[17])
        self.assertEqual(dl[400]["output"], "es")
        self.assertTrue(dl[400]["reason"].startswith("mapper_parsing_exception: "), dl[400]["reason"])
        self.assertEqual(dl[404]["event"], more[5])
        self.assertTrue(dl[404]["reason"].startswith("index_not_found_exception: "), dl[404]["reason"])
        at_least(d, "iocbus_output_dead_letter_total", 1, output="es", status="400")
        at_least(d, "iocbus_output_dead_letter_total", 1, output="es", status="404")
        at_least(d, "iocbus_output_events_total", n + 8, output="es")
        # every batch settled: the input moved past them
        at_least(d, "iocbus_input_acked_batches_total", d.metric("iocbus_input_batches_total", input="f"), input="f")
        self.assertEqual(d.term(), 0)

    def test_retries(self):
        n = 300
        lines = [event(i, marker=" SLOW" if i % 50 == 0 else "") for i in range(n)]
        self.es.control("item_errors", count=3, status=429, match="SLOW")
        self.es.control("reject", count=2, status=503)
        d = self.run_daemon(lines)
        wait_until(lambda: self.count() == n, timeout=30, what="%d documents" % n)
        at_least(d, "iocbus_output_retries_total", 2, output="es", status="503")
        at_least(d, "iocbus_output_item_retries_total", 3, output="es", status="429")
        # then shard trouble on two items of lines appended later
        self.es.control("item_errors", count=2, status=503, match="SHARD")
        self.append([event(i, marker=" SHARD" if i % 5 == 0 else "") for i in range(n, n + 10)])
        wait_until(lambda: self.count() == n + 10, timeout=30, what="%d documents" % (n + 10))
        at_least(d, "iocbus_output_item_retries_total", 2, output="es", status="503")
        at_least(d, "iocbus_output_events_total", n + 10, output="es")
        self.assertEqual(sorted(x["_source"]["n"] for x in self.es.docs("logs-iocbus")), list(range(n + 10)))
        self.assertEqual(dead_letters(self.dead_path), [])
        self.assertEqual(d.metric("iocbus_output_up", output="es"), 1)
        self.assertEqual(d.term(), 0)

    def test_shutdown_spills_in_flight(self):
        # a request still waiting for its answer at the shutdown deadline is aborted and its batches
        # spooled (once each); the restart delivers them. With ids, a document stored twice is one document.
        n = 300
        self.es.control("slow", seconds=20, count=1)
        d = self.run_daemon([event(i) for i in range(n)], {"document_id": "hash", "timeout": "60s"},
                            pipeline={"shutdown_timeout": "1s"})
        at_least(d, "iocbus_output_in_flight", 1, output="es")
        self.assertEqual(d.metric("iocbus_output_events_total", output="es"), 0)
        self.assertEqual(d.term(timeout=15), 0)
        self.assertIn("undelivered batches kept in the spool", d.log())
        d.start()
        wait_until(lambda: self.count() == n, timeout=30, what="%d documents after the restart" % n)
        at_least(d, "iocbus_output_events_total", n, output="es")
        self.assertEqual(sorted(x["_source"]["n"] for x in self.es.docs("logs-iocbus")), list(range(n)))
        self.assertEqual(d.term(), 0)

    def test_transport_failover(self):
        # the first host refuses connections: requests fail over to the second, and the dead host is
        # then skipped for its backoff instead of costing every other request a failed connect
        n = 3000
        d = self.run_daemon([event(i) for i in range(n)], {"hosts": ["http://127.0.0.1:9", self.es.url],
                                                          "flush_events": 100, "retry_initial": "2s",
                                                          "retry_max": "5s"},
                            pipeline={"batch_bytes": "8KiB"})
        wait_until(lambda: self.count() == n, timeout=30, what="%d documents" % n)
        bulk = self.es.control("stats")["bulk_requests"]
        self.assertGreaterEqual(bulk, 10)
        self.assertLessEqual(d.metric("iocbus_output_retries_total", output="es", status="transport"), 3)
        self.assertEqual(d.term(), 0)

    def test_create_duplicates(self):
        # identical lines get the same _id (hash of the line): the second create is a 409, delivered
        lines = [event(i) for i in range(50)]
        lines += lines[:10]
        d = self.run_daemon(lines, {"action": "create", "document_id": "hash", "flush_events": 1000})
        at_least(d, "iocbus_output_events_total", 60, output="es")
        self.assertEqual(self.count(), 50)
        self.assertEqual(d.metric("iocbus_output_duplicates_total", output="es"), 10)
        self.assertEqual(dead_letters(self.dead_path), [])
        st = self.es.control("stats")
        self.assertEqual(st["items_by_status"].get("409"), 10)
        self.assertEqual(d.term(), 0)

    def test_413_split(self):
        self.es.control("max_content_length", size="16kb")
        n = 400   # ~150 bytes each: ~60 kB bodies, split down to < 16 kB
        lines = [event(i) for i in range(n)]
        lines.insert(123, event(9999, pad=20000))  # too large even alone
        d = self.run_daemon(lines, {"compression_level": 0, "flush_events": 10000})
        wait_until(lambda: self.count() == n, timeout=60, what="%d documents" % n)
        wait_until(lambda: len(dead_letters(self.dead_path)) == 1, timeout=30, what="the large event dead-lettered")
        dl = dead_letters(self.dead_path)[0]
        self.assertEqual(dl["status"], 413)
        self.assertEqual(dl["event"], lines[123])
        at_least(d, "iocbus_output_splits_total", 2, output="es")
        at_least(d, "iocbus_output_dead_letter_total", 1, output="es", status="413")
        self.assertEqual(sorted(x["_source"]["n"] for x in self.es.docs("logs-iocbus")), list(range(n)))
        self.assertEqual(d.term(), 0)

    def test_whole_400_dead_letter(self):
        # a whole-request 400 dead-letters every line of the request with the body's reason
        n = 5
        self.es.control("reject", count=1, status=400)
        d = self.run_daemon([event(i) for i in range(n)])
        wait_until(lambda: len(dead_letters(self.dead_path)) == n, timeout=30, what="%d dead letters" % n)
        dl = dead_letters(self.dead_path)
        self.assertEqual({x["status"] for x in dl}, {400})
        self.assertEqual(sorted(x["event"] for x in dl), sorted(event(i) for i in range(n)))
        self.assertTrue(dl[0]["reason"].startswith("illegal_state_exception"), dl[0]["reason"])
        at_least(d, "iocbus_output_dead_letter_total", n, output="es", status="400")
        self.assertEqual(self.count(), 0)
        self.assertEqual(d.term(), 0)


class DataStreamTest(EsOutputTest):
    server_args = ("--data-stream", "logs-ds-*")

    def test_data_stream_create(self):
        n = 500
        d = self.run_daemon([event(i) for i in range(n)], {"index": "logs-ds-iocbus", "data_stream": True})
        wait_until(lambda: len(self.es.docs("logs-ds-iocbus")) == n, timeout=30, what="%d documents" % n)
        docs = self.es.docs("logs-ds-iocbus")
        self.assertTrue(all(x["_index"].startswith(".ds-logs-ds-iocbus-") for x in docs))
        self.assertEqual(dead_letters(self.dead_path), [])
        self.assertEqual(d.metric("iocbus_output_dead_letter_total", output="es"), None)
        self.assertEqual(d.term(), 0)

    def test_index_action_refused(self):
        # `index` into a data stream: ES answers item 400, dead-lettered with its reason
        d = self.run_daemon([event(i) for i in range(3)], {"index": "logs-ds-x", "action": "index"})
        wait_until(lambda: len(dead_letters(self.dead_path)) == 3, timeout=30, what="3 dead letters")
        self.assertIn("only write ops with an op_type of create are allowed in data streams",
                      dead_letters(self.dead_path)[0]["reason"])
        self.assertEqual(d.term(), 0)


class TlsProxy:
    """TLS in front of the ES double (which speaks plain HTTP): a self-signed certificate for
    127.0.0.1 made with openssl, one thread per direction per connection, on loopback."""

    def __init__(self, target_port):
        self.dir = tempfile.TemporaryDirectory(prefix="iocbus-tls-")
        self.cert = os.path.join(self.dir.name, "cert.pem")
        key = os.path.join(self.dir.name, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", self.cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(self.cert, key)
        self.target = target_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = "https://127.0.0.1:%d" % self.port
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(30)
            t = self.ctx.wrap_socket(c, server_side=True)
        except (OSError, ssl.SSLError):
            c.close()   # the client refused our certificate
            return
        u = socket.create_connection(("127.0.0.1", self.target), timeout=30)

        def pump(a, b):
            try:
                while True:
                    data = a.recv(65536)
                    if not data:
                        break
                    b.sendall(data)
            except OSError:
                pass
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        th = threading.Thread(target=pump, args=(u, t), daemon=True)
        th.start()
        pump(t, u)
        th.join(30)
        t.close()
        u.close()

    def close(self):
        self.closed = True
        self.sock.close()
        self.dir.cleanup()


class TlsTest(EsOutputTest):
    def setUp(self):
        super().setUp()
        self.proxy = TlsProxy(self.es.port)
        self.addCleanup(self.proxy.close)

    def test_ca_file(self):
        n = 100
        d = self.run_daemon([event(i) for i in range(n)], {"hosts": [self.proxy.url], "ca_file": self.proxy.cert})
        wait_until(lambda: self.count() == n, timeout=30, what="%d documents over TLS" % n)
        self.assertEqual(d.term(), 0)

    def test_verification_fails_without_ca(self):
        d = self.run_daemon([event(i) for i in range(10)], {"hosts": [self.proxy.url]})
        at_least(d, "iocbus_output_retries_total", 2, output="es", status="transport")
        self.assertEqual(self.count(), 0)
        self.assertIn("certificate", d.log())
        self.assertEqual(d.term(), 0)

    def test_verify_off(self):
        n = 20
        d = self.run_daemon([event(i) for i in range(n)], {"hosts": [self.proxy.url], "tls_verify": False})
        wait_until(lambda: self.count() == n, timeout=30, what="%d documents over TLS" % n)
        self.assertEqual(d.term(), 0)


USER, PASSWORD = "elastic", "s3cr3t-Pa55w0rd"
KEY_ID, KEY = "VuaCfGcBCdbkQm-e5aOx", "ui2lp2axTNmsyakw9tvNnw"
TOKEN = "AAEAAWVsYXN0aWMvZmxlZXQtc2VydmVyL3Rva2VuLTE2MjM"


class AuthTest(EsOutputTest):
    server_args = ("--user", "%s:%s" % (USER, PASSWORD), "--api-key", "%s:%s" % (KEY_ID, KEY),
                   "--bearer", TOKEN)

    def deliver(self, creds, n=100):
        d = self.run_daemon([event(i) for i in range(n)], creds)
        wait_until(lambda: self.count() == n, timeout=30, what="%d documents" % n)
        self.assertEqual(d.term(), 0)
        d.close()
        self.d = None
        self.es.control("reset")

    def test_right_credentials(self):
        self.deliver({"username": USER, "password": PASSWORD})
        self.deliver({"api_key": "%s:%s" % (KEY_ID, KEY)})
        self.deliver({"api_key": base64.b64encode(("%s:%s" % (KEY_ID, KEY)).encode()).decode()})
        self.deliver({"bearer": TOKEN})

    def check_wrong(self, wrong, right, secret):
        n = 50
        d = self.run_daemon([event(i) for i in range(n)], wrong)
        at_least(d, "iocbus_output_retries_total", 2, output="es", status="401")
        self.assertEqual(self.count(), 0)
        self.assertEqual(d.metric("iocbus_output_up", output="es"), 0)
        self.assertIsNone(d.metric("iocbus_output_dead_letter_total", output="es"))
        log = d.log()
        self.assertIn("401", log)
        self.assertNotIn(secret, log)
        # stop (the undelivered batches go to the spool), fix the credentials, start again: nothing lost
        self.assertEqual(d.term(), 0)
        o = dict(d.config["outputs"][0])
        for k in ("username", "password", "api_key", "bearer"):
            o.pop(k, None)
        o.update(right)
        c = dict(d.config)
        c["outputs"] = [o]
        d.write_config(c)
        d.start()
        wait_until(lambda: self.count() == n, timeout=30, what="%d documents after the fix" % n)
        self.assertEqual(sorted(x["_source"]["n"] for x in self.es.docs("logs-iocbus")), list(range(n)))
        self.assertNotIn(secret, d.log())
        self.assertEqual(d.term(), 0)

    def test_wrong_password(self):
        self.check_wrong({"username": USER, "password": "wrong-Secret-123"}, {"username": USER, "password": PASSWORD},
                         "wrong-Secret-123")

    def test_wrong_api_key(self):
        self.check_wrong({"api_key": "%s:%s" % (KEY_ID, "badKeyValue987")}, {"api_key": "%s:%s" % (KEY_ID, KEY)},
                         "badKeyValue987")

    def test_wrong_bearer(self):
        self.check_wrong({"bearer": "wrongTokenXYZ"}, {"bearer": TOKEN}, "wrongTokenXYZ")

    def test_no_credentials(self):
        n = 10
        d = self.run_daemon([event(i) for i in range(n)])
        at_least(d, "iocbus_output_retries_total", 1, output="es", status="401")
        self.assertEqual(self.count(), 0)
        self.assertEqual(d.term(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
