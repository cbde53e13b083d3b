#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Show `iocbus run` following a MISP: the MISP test server
(tests/servers/misp_server.py) stands in for MISP, the bundled example feed
is followed too. Adds, edits and deletes an attribute through MISP and
prints how long /v1/lookup took to follow each change, then a few /metrics
lines. Then the log pipeline: the example logs are tailed, enriched and
delivered to the Elasticsearch test server (tests/servers/es_server.py);
iocbus is killed with SIGKILL and restarted to show nothing is lost or
indexed twice. Usage: scripts/daemon-demo.py [IOCBUS_BINARY]"""
import glob
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
if len(sys.argv) > 1:
    os.environ["IOCB_BIN"] = os.path.abspath(sys.argv[1])
import harness  # noqa: E402

harness.BIN = os.environ.get("IOCB_BIN", harness.BIN)


def follow(d, what, value, want):
    t0 = time.monotonic()
    harness.wait_until(lambda: d.hits(value) == want, timeout=10, interval=0.0005, what=what)
    print("  %-44s /v1/lookup follows in %6.1f ms" % (what, (time.monotonic() - t0) * 1000))


def main():
    with harness.Misp(heartbeat=10) as misp:
        cfg = {
            "misp": misp.misp_config(zmq=True, pull={"interval": "0s", "reconcile": "1h"},
                                     filters=[{"types": ["ip-dst", "domain", "url", "sha256", "md5"]}]),
            "feeds": [{"name": "example", "url": os.path.join(ROOT, "examples/intel/feed"), "interval": "1h"}],
        }
        with harness.Iocbus(cfg) as d:
            print("iocbus run is up: http://127.0.0.1:%d  (MISP test server REST :%d, ZeroMQ :%d)"
                  % (d.port, misp.rest_port, misp.zmq_port))
            harness.wait_until(lambda: (d.metric("iocbus_store_attributes_total") or 0) > 0, what="feed loaded")
            print("  example feed loaded: %d attributes in the store" % d.metric("iocbus_store_attributes_total"))
            ev = misp.control("event", info="iocbus demo", tags=["tlp:white"])
            a = misp.control("attribute", event_id=ev["id"], type="ip-dst", value="203.0.113.50")
            follow(d, "add ip-dst 203.0.113.50", "203.0.113.50", 1)
            misp.control("attribute/edit", id=a["id"], value="203.0.113.51")
            follow(d, "edit value -> 203.0.113.51 (old one gone)", "203.0.113.50", 0)
            follow(d, "edit value -> 203.0.113.51 (new one there)", "203.0.113.51", 1)
            misp.control("attribute/soft-delete", id=a["id"])
            follow(d, "soft-delete", "203.0.113.51", 0)
            misp.control("attribute", event_id=ev["id"], type="domain", value="demo.example")
            follow(d, "add domain demo.example", "demo.example", 1)
            misp.control("event/delete", id=ev["id"])
            follow(d, "event delete", "demo.example", 0)
            hit = d.lookup("login-micros0ft.example")["matches"][0]
            print("  a feed indicator: login-micros0ft.example -> %s %s, event \"%s\""
                  % (hit["attribute"]["type"], hit["attribute"]["uuid"], hit["event"]["info"]))
            print("/metrics (excerpt):")
            for name, labels, v in d.metrics():
                if (name == "iocbus_updates_total" and v and labels.get("source") == "zmq") or \
                   name in ("iocbus_store_attributes_total", "iocbus_misp_cursor_timestamp_seconds") or \
                   (name == "iocbus_source_up"):
                    lab = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
                    print("  %s%s %.15g" % (name, "{%s}" % lab if lab else "", v))
            rc = d.term()
            print("iocbus run stopped on SIGTERM, exit %d" % rc)
            return rc or pipeline_demo()


def lines(paths):
    return sum(1 for p in paths for ln in open(p, "rb") if ln.strip())


def pipeline_demo():
    logs = sorted(glob.glob(os.path.join(ROOT, "examples/logs/*")))
    n = lines(logs)
    print()
    print("== iocbus run log pipeline: %d example log events -> enrich -> Elasticsearch test server" % n)
    with harness.Es() as es, tempfile.TemporaryDirectory(prefix="iocbus-demo-") as tmp:
        cfg = {
            "feeds": [{"name": "example", "url": os.path.join(ROOT, "examples/intel/feed"), "interval": "1h"}],
            "inputs": [{"name": os.path.basename(p).split(".")[0], "type": "file", "path": p} for p in logs],
            "outputs": [es.output_config(index="logs-iocbus-demo", document_id="hash", action="create")],
            "pipeline": {"state_dir": os.path.join(tmp, "state"), "batch_interval": "50ms"},
        }
        count = lambda: es.control("stats")["docs"].get("logs-iocbus-demo", 0)  # noqa: E731
        with harness.Iocbus(cfg, workdir=tmp) as d:
            t0 = time.monotonic()
            settled = lambda: (d.metric("iocbus_output_events_total", output="es") or 0) + \
                (d.metric("iocbus_output_dead_letter_total", output="es") or 0)  # noqa: E731
            harness.wait_until(lambda: settled() == n, timeout=20, what="every event settled")
            print("  %d documents in Elasticsearch after %.0f ms (gzip _bulk, _id = hash of the line)"
                  % (count(), (time.monotonic() - t0) * 1000))
            with open(os.path.join(tmp, "state", "es.dead.ndjson")) as f:
                dead = [json.loads(ln) for ln in f]
            print("  %d lines that are not JSON objects went to the dead-letter file with ES's reason, e.g. %d %s"
                  % (len(dead), dead[0]["status"], dead[0]["reason"]) if dead else "  no dead letters")
            hits = [x for x in es.docs("logs-iocbus-demo") if x["_source"].get("misp", {}).get("hit")]
            print("  %d enriched; e.g. %s" % (len(hits), json_brief(hits[0]["_source"]) if hits else "-"))
            d.kill9()
            print("  kill -9 iocbus, then restart: it resumes from its checkpoints (written at most once a second,")
            print("  so it may replay from further back: replays are refused as 409 duplicates, never indexed twice)")
            d.start()
            time.sleep(1.5)
            print("  documents now: %d; duplicates refused after the restart: %d"
                  % (count(), d.metric("iocbus_output_duplicates_total", output="es") or 0))
            for name, labels, v in d.metrics():
                if name in ("iocbus_input_events_total", "iocbus_output_events_total",
                            "iocbus_input_matched_total") and v:
                    print("  %s{%s} %.15g" % (name, ",".join('%s="%s"' % kv for kv in sorted(labels.items())), v))
            rc = d.term()
            print("iocbus run stopped on SIGTERM, exit %d" % rc)
            return rc


def json_brief(src):
    en = src["threat"]["enrichments"][0]
    return "%s=%s matched %s (event \"%s\")" % (en["matched"]["field"], en["matched"]["atomic"],
                                                 en["indicator"]["type"], ", ".join(src["misp"]["eventinfo"]))


if __name__ == "__main__":
    sys.exit(main())
