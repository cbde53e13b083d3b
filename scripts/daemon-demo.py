#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Show `iocbus run` following a MISP: the MISP test server
(tests/servers/misp_server.py) stands in for MISP, the bundled example feed
is followed too. Adds, edits and deletes an attribute through MISP and
prints how long /v1/lookup took to follow each change, then a few /metrics
lines. Usage: scripts/daemon-demo.py [IOCBUS_BINARY]"""
import os
import sys
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
            return rc


if __name__ == "__main__":
    sys.exit(main())
