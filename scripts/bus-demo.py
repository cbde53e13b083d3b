#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Show the Threat Bus compatible bus of `iocbus run` (issue #13): the MISP test
server (tests/servers/misp_server.py, REST + ZeroMQ) stands in for MISP; two
zmq-apps (tests/servers/zmq_app.py), one per Threat Bus generation, subscribe
to the bus, receive each MISP change as ADD/REMOVE, and one sends a sighting
that reaches the MISP test server's sightings through the `sightings:` queue.
Usage: scripts/bus-demo.py [IOCBUS_BINARY]
Exits 0 when every step was seen, 1 when one was not, 3 when this iocbus
build has no `bus:` section (check-config refuses it)."""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
sys.path.insert(0, os.path.join(ROOT, "tests/servers"))
if len(sys.argv) > 1:
    os.environ["IOCB_BIN"] = os.path.abspath(sys.argv[1])
import harness  # noqa: E402
import zmq_app  # noqa: E402

harness.BIN = os.environ.get("IOCB_BIN", harness.BIN)


def bus_config(misp, tmp):
    """misp (ZeroMQ + API) + store + bus + sightings, ports chosen free (keys as in docs/CONFIGURATION.md)."""
    return {
        "misp": misp.misp_config(zmq=True),
        "store": {"path": os.path.join(tmp, "store")},
        "bus": {"host": "127.0.0.1", "manage": harness.free_port(),
                "pub": harness.free_port(), "sub": harness.free_port()},
        "sightings": {"state_dir": os.path.join(tmp, "sightings"), "max_per_second": 1000},
    }


def supported(cfg, tmp):
    """True when this build's check-config accepts the bus: and sightings: sections."""
    path = os.path.join(tmp, "check.yaml")
    with open(path, "w") as f:
        json.dump(cfg, f)
    r = subprocess.run([harness.BIN, "check-config", path], capture_output=True, text=True)
    if r.returncode != 0:
        print("  skipped: this iocbus build refuses the bus:/sightings: sections (%s)"
              % (r.stderr.strip().splitlines() or ["?"])[-1])
        return False
    return True


def running(d, manage_port):
    """True when the daemon runs the bus (its iocbus_bus_* metrics, else its manage socket answers);
    False, saying so, when this build parses bus: but `iocbus run` does not start it."""
    if any(n.startswith("iocbus_bus_") for n, _, _ in d.metrics()):
        return True
    probe = zmq_app.ZmqApp("127.0.0.1", manage_port, timeout=3)
    try:
        probe.manage({"action": "heartbeat", "topic": "x" * 32})
        return True     # answers without metrics: the demo's steps will say what fails
    except zmq_app.Timeout:
        print("  skipped: this iocbus build accepts bus: but `iocbus run` does not start the bus yet")
        return False
    finally:
        probe.close()


def expect(app, what, op, needle, t0):
    """The next intel frame of `app` must be `op` and carry `needle`; prints it with its delay."""
    m = app.recv(timeout=10)
    while m.kind not in ("intel", "indicator"):
        m = app.recv(timeout=10)
    body = m.body
    shown = body.get("pattern") if "pattern" in body else body.get("data", {}).get("indicator")
    ok = m.operation == op and needle in m.raw
    print("  %-8s %-28s %-6s %-70s %6.1f ms%s" % (app.generation, what, m.operation, str(shown)[:70],
                                                   (time.monotonic() - t0) * 1000, "" if ok else "  <- UNEXPECTED"))
    return m if ok else None


def main():
    failed = 0
    with tempfile.TemporaryDirectory(prefix="iocbus-bus-demo-") as tmp, harness.Misp(heartbeat=10) as misp:
        cfg = bus_config(misp, tmp)
        if not supported(cfg, tmp):
            return 3
        with harness.Iocbus(cfg, workdir=tmp) as d:
            b = cfg["bus"]
            if not running(d, b["manage"]):
                return 3
            print("iocbus run is up with bus: manage :%d, pub :%d, sub :%d (MISP test server REST :%d, ZeroMQ :%d)"
                  % (b["manage"], b["pub"], b["sub"], misp.rest_port, misp.zmq_port))
            apps = []
            for topic in ("stix2/indicator", "threatbus/intel"):
                app = zmq_app.ZmqApp("127.0.0.1", b["manage"], timeout=10)
                r = app.subscribe(topic, snapshot_days=0)
                app.wait_pub_connected()
                app.start_heartbeats(5.0)
                apps.append(app)
                print("  zmq-app %-8s subscribed to %-16s p2p topic %s" % (app.generation, topic, r["topic"]))
            time.sleep(0.3)  # the SUB sockets' subscriptions reach the bus's PUB
            ev = misp.control("event", info="iocbus bus demo", tags=["tlp:green"])
            t0 = time.monotonic()
            attr = misp.control("attribute", event_id=ev["id"], type="domain", value="bus-demo.example")
            for app in apps:
                failed += expect(app, "add domain bus-demo.example", "ADD", "bus-demo.example", t0) is None
            t0 = time.monotonic()
            misp.control("attribute/edit", id=attr["id"], value="bus-demo2.example")
            for app in apps:  # a changed value: the old one goes, the new one comes
                failed += expect(app, "edit value (old one)", "REMOVE", "bus-demo.example", t0) is None
                failed += expect(app, "edit value (new one)", "ADD", "bus-demo2.example", t0) is None
            # the STIX app saw it: a sighting of that indicator goes back to MISP
            t0 = time.monotonic()
            frame = apps[0].send_sighting("indicator--" + attr["uuid"], source="zeek@bus-demo")
            print("  zmq-app 2021 sends %s…" % frame[:110])
            seen = []
            try:
                harness.wait_until(lambda: seen.extend(s for s in misp.control("sightings")
                                                       if s["source"] == "zeek@bus-demo") or seen,
                                   timeout=15, interval=0.05, what="the sighting in MISP")
                s = seen[0]
                print("  MISP test server has the sighting after %.0f ms: attribute %s, source %s, type %s"
                      % ((time.monotonic() - t0) * 1000, s["attribute_id"], s["source"], s["type"]))
            except AssertionError as e:
                print("  no sighting reached MISP: %s" % e)
                failed += 1
            t0 = time.monotonic()
            misp.control("attribute/soft-delete", id=attr["id"])
            for app in apps:
                failed += expect(app, "soft-delete", "REMOVE", "bus-demo2.example", t0) is None
            print("/metrics (bus and sightings):")
            for name, labels, v in d.metrics():
                if name.startswith(("iocbus_bus_", "iocbus_sightings_")) and v:
                    lab = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
                    print("  %s%s %.15g" % (name, "{%s}" % lab if lab else "", v))
            for app in apps:
                app.stop_heartbeats()
                app.unsubscribe()
                app.close()
            rc = d.term()
            print("iocbus run stopped on SIGTERM, exit %d" % rc)
            failed += rc != 0
    print("bus demo: %s" % ("every step seen" if not failed else "%d step(s) NOT seen" % failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
