# SPDX-License-Identifier: Apache-2.0
"""At least once, proven (issue #5 item 4): `iocbus run` from a file or TCP input into the
Elasticsearch test server (tests/servers/es_server.py) while Elasticsearch goes down, answers
429, drops connections, and while iocbus itself is killed with SIGKILL and restarted. Every
input event must reach the server. Lines carry a unique `seq`; the output uses
`document_id: hash` with `action: create`, so a replay is refused as a 409 duplicate and the
server's document count equals the number of distinct events exactly.

Everything on loopback, bounded in time; run with IOCB_BIN set by ctest (tests/e2e/e2e.cmake)."""
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Es, Iocbus, wait_until  # noqa: E402

INDEX = "logs-iocbus"


def event(i):
    # Every tenth event carries an address an intel file matches, so enrichment runs too.
    ip = "198.51.100.7" if i % 10 == 0 else "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
    return json.dumps({"@timestamp": "2026-11-23T12:00:00Z", "seq": i, "source": {"ip": ip},
                       "destination": {"ip": "10.9.9.9", "port": 443}}, separators=(",", ":"))


def write_events(path, start, n, chunk=500, pause=0.0):
    with open(path, "a") as f:
        for k in range(start, start + n, chunk):
            f.write("".join(event(i) + "\n" for i in range(k, min(start + n, k + chunk))))
            f.flush()
            if pause:
                time.sleep(pause)


INTEL = {"response": {"Attribute": [{
    "id": "1", "event_id": "1", "uuid": "5f1b0d6e-0000-4000-8000-000000000001", "type": "ip-src",
    "category": "Network activity", "to_ids": True, "value": "198.51.100.7", "timestamp": "1700000000",
    "Event": {"id": "1", "info": "pipe test", "uuid": "5f1b0d6e-0000-4000-8000-0000000000e1",
              "orgc_id": "1", "org_id": "1"}}]}}


class PipeCase(unittest.TestCase):
    def setUp(self):
        self.es = Es()
        self.addCleanup(self.es.close)
        self.dir = self.enterContext_tmp()
        self.log_file = os.path.join(self.dir, "events.ndjson")
        open(self.log_file, "w").close()
        self.intel = os.path.join(self.dir, "intel.json")
        with open(self.intel, "w") as f:
            json.dump(INTEL, f)

    def enterContext_tmp(self):
        import tempfile
        t = tempfile.TemporaryDirectory(prefix="iocbus-pipe-")
        self.addCleanup(t.cleanup)
        return t.name

    def config(self, inputs=None, **out_kw):
        out = self.es.output_config(index=INDEX, document_id="hash", action="create", **out_kw)
        return {
            "intel": [self.intel],
            "inputs": inputs or [{"name": "logs", "type": "file", "path": self.log_file,
                                  "poll_interval": "20ms"}],
            "outputs": [out],
            "pipeline": {"state_dir": os.path.join(self.dir, "state"), "batch_interval": "20ms",
                         "queue_bytes": "64KiB", "shutdown_timeout": "2s"},
        }

    def count(self):
        return self.es.control("stats")["docs"].get(INDEX, 0)

    def check_all(self, n, timeout=60):
        wait_until(lambda: self.count() >= n, timeout=timeout, interval=0.2,
                   what="%d documents in Elasticsearch (have %d)" % (n, self.count()))
        docs = self.es.docs(INDEX)
        seqs = sorted(d["_source"]["seq"] for d in docs)
        self.assertEqual(seqs, list(range(n)), "every event exactly once in the index")
        hit = [d for d in docs if d["_source"]["seq"] == 0][0]["_source"]
        self.assertTrue(hit["misp"]["hit"], "event 0 was enriched")
        self.assertEqual(hit["threat"]["enrichments"][0]["indicator"]["ip"], "198.51.100.7")


class TestAtLeastOnce(PipeCase):
    def test_outage_spools_and_delivers_everything(self):
        """Elasticsearch down while events keep coming: memory queue (64 KiB) overflows into the
        spool, nothing is lost, and everything arrives once it is back."""
        n = 20000
        # Small requests, two at a time: the output holds at most 1000 events, the rest must queue and spool.
        with Iocbus(self.config(flush_events=500, max_in_flight=2), workdir=self.dir) as d:
            write_events(self.log_file, 0, 2000)
            wait_until(lambda: self.count() >= 2000, timeout=30, what="first events delivered")
            self.es.control("down")
            write_events(self.log_file, 2000, n - 2000, pause=0.01)
            wait_until(lambda: (d.metric("iocbus_spool_written_batches_total", output="es") or 0) > 0,
                       timeout=30, what="batches spooled during the outage")
            wait_until(lambda: (d.metric("iocbus_output_retries_total", output="es", status="transport") or 0) > 0,
                       timeout=30, what="transport retries counted")
            self.assertEqual(d.metric("iocbus_output_up", output="es"), 0)
            self.es.control("up")
            self.check_all(n)
            wait_until(lambda: d.metric("iocbus_output_events_total", output="es") >= n, what="events counted")
            wait_until(lambda: d.metric("iocbus_spool_segments", output="es") == 0, timeout=20,
                       what="spool emptied after delivery")
            self.assertEqual(d.metric("iocbus_input_events_total", input="logs"), n)
            self.assertGreaterEqual(d.metric("iocbus_input_matched_total", input="logs"), n // 10)
            self.assertEqual(d.metric("iocbus_output_lost_total", output="es"), 0)

    def test_delivery_resumes_soon_after_an_outage(self):
        """A first backoff of up to 30 s (retry_initial) after a refused connection, yet delivery
        resumes within seconds of Elasticsearch coming back: while nothing answers, the waiting
        request is tried every 5 s, and a success releases everything else that waits."""
        n = 3000
        with Iocbus(self.config(retry_initial="30s", retry_max="60s", flush_events=500, max_in_flight=1),
                    workdir=self.dir) as d:
            write_events(self.log_file, 0, 1000)
            wait_until(lambda: self.count() >= 1000, timeout=30, what="first events delivered")
            self.es.control("down")
            write_events(self.log_file, 1000, n - 1000)
            wait_until(lambda: (d.metric("iocbus_output_retries_total", output="es", status="transport") or 0) >= 2,
                       timeout=30, what="failed attempts while down")
            time.sleep(2)
            self.es.control("up")
            t0 = time.monotonic()
            self.check_all(n, timeout=40)
            self.assertLess(time.monotonic() - t0, 9, "delivery resumed within about the 5 s probe interval")

    def test_429_5xx_drops_and_item_retries(self):
        """Whole-request 429 and 503, connections dropped without an answer, and per-item 429/503:
        all retried with backoff until delivered; counted by status. One fault at a time (the
        server keeps one pending fault of each kind), each with fresh events behind it."""
        phases = [("reject", {"count": 4, "status": 429}, "iocbus_output_retries_total", "429", 4),
                  ("reject", {"count": 2, "status": 503}, "iocbus_output_retries_total", "503", 2),
                  # libcurl itself resends a request whose reused connection died, so a drop may never
                  # reach our retry counter: the server's own count says the drops happened
                  ("drop", {"count": 2}, None, None, 2),
                  ("item_errors", {"count": 50, "status": 429}, "iocbus_output_item_retries_total", "429", 50),
                  ("item_errors", {"count": 20, "status": 503}, "iocbus_output_item_retries_total", "503", 20)]
        per = 1500
        with Iocbus(self.config(), workdir=self.dir) as d:
            for k, (action, body, metric, status, want) in enumerate(phases):
                self.es.control(action, **body)
                write_events(self.log_file, k * per, per)
                if metric is None:
                    wait_until(lambda: self.es.control("stats")["dropped"] >= want, timeout=30,
                               what="%d connections dropped" % want)
                    continue
                wait_until(lambda: (d.metric(metric, output="es", status=status) or 0) >= want, timeout=30,
                           what="%s{status=%s} >= %d" % (metric, status, want))
            self.check_all(len(phases) * per)
            self.assertIsNone(d.metric("iocbus_output_dead_letter_total", output="es"))
            self.assertEqual(d.metric("iocbus_output_events_total", output="es"), len(phases) * per)
            self.assertEqual(self.es.control("stats")["dropped"], 2)

    def test_kill9_mid_stream_then_restart(self):
        """SIGKILL while Elasticsearch is slow and batches are in flight: the restart resumes from the
        checkpoint (only settled batches were committed) and replays the rest; hash ids make the
        replays 409 duplicates, so the index holds each event once."""
        n = 30000
        write_events(self.log_file, 0, n)
        # One request of 1000 events at a time, each answered after 0.5 s: about 15 s for everything.
        self.es.control("slow", seconds=0.5, count=1000)
        d = Iocbus(self.config(flush_events=1000, max_in_flight=1), workdir=self.dir)
        try:
            wait_until(lambda: self.count() >= 3000, timeout=30, what="some events delivered before the kill")
            self.assertLess(self.count(), n, "the kill must come mid-stream")
            d.kill9()
            self.es.control("slow", seconds=0.01, count=1)  # replaces the pending slowness
            d.start()
            self.check_all(n)
            wait_until(lambda: d.metric("iocbus_output_events_total", output="es") is not None, what="metrics")
        finally:
            d.close()
        with open(os.path.join(self.dir, "state", "logs.checkpoint")) as f:
            self.assertEqual(json.load(f)["offset"], os.path.getsize(self.log_file))

    def test_tcp_events_survive_restart_in_the_spool(self):
        """TCP cannot replay: events accepted while Elasticsearch is down are spooled; a SIGTERM during
        the outage leaves them on disk and the next start delivers them."""
        n = 5000
        # At stop, what the output still holds is spilled to the spool after shutdown_timeout (2 s).
        cfg = self.config(inputs=[{"name": "tcp", "type": "tcp", "port": 0}], flush_events=500, max_in_flight=2)
        cfg["pipeline"]["batch_bytes"] = "16KiB"
        with Iocbus(cfg, workdir=self.dir) as d:
            port = int(wait_until(lambda: _tcp_port(d.log()), what="tcp port logged"))
            self.es.control("down")
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall("".join(event(i) + "\n" for i in range(n)).encode())
            wait_until(lambda: d.metric("iocbus_input_events_total", input="tcp") == n, timeout=30,
                       what="all TCP events read")
            wait_until(lambda: (d.metric("iocbus_spool_written_batches_total", output="es") or 0) > 0,
                       timeout=30, what="batches spooled")
            self.assertEqual(d.term(), 0)
            self.assertEqual(self.count(), 0)
            self.es.control("up")
            d.start()
            self.check_all(n)
            self.assertGreater(d.metric("iocbus_spool_replayed_batches_total", output="es"), 0)


def _tcp_port(log):
    for line in log.splitlines():
        if "listening" in line and "tcp" in line:
            for part in line.replace('"', " ").split():
                if part.count(":") == 1 and part.rsplit(":", 1)[1].isdigit():
                    return int(part.rsplit(":", 1)[1])
    return None


if __name__ == "__main__":
    unittest.main(verbosity=2)
