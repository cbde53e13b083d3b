#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Show the drop-in endpoints of `iocbus run` (issue #14): Logstash's memcached
client (ruby-dalli, get_multi over the binary protocol, as the `memcached`
filter calls it) looks up indicators of the example data on the memcached
endpoint, and the Zeek Intel file of `exports:` is rewritten when a MISP change
lands over ZeroMQ (MISP: tests/servers/misp_server.py). Then Dalli hits the new
indicator too, with no cron and no TTL.
Usage: scripts/dropins-demo.py [IOCBUS_BINARY]
Exits 0 when every step was seen, 1 when one was not, 3 when ruby/ruby-dalli
is missing or this build has no `memcached:`/`exports:` section."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests/e2e"))
if len(sys.argv) > 1:
    os.environ["IOCB_BIN"] = os.path.abspath(sys.argv[1])
import harness  # noqa: E402

harness.BIN = os.environ.get("IOCB_BIN", harness.BIN)

# What the Logstash filter does per event: one get_multi of the event's keys (binary GETKQ... NOOP).
DALLI = """
require "dalli"
require "json"
c = Dalli::Client.new([ARGV[0]], expires_in: 130, namespace: "misp", socket_timeout: 1)
c.alive!
t = Time.now
r = c.get_multi(ARGV[1..])
puts JSON.generate({"hits" => r, "ms" => (Time.now - t) * 1000})
"""


def dalli(port, keys):
    r = subprocess.run(["ruby", "-e", DALLI, "127.0.0.1:%d" % port] + keys, capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return json.loads(r.stdout)


def show_lookup(port, keys):
    """Print one Dalli get_multi; returns its hits."""
    out = dalli(port, keys)
    print("  Dalli get_multi %s  (%.1f ms, namespace misp)" % (keys, out["ms"]))
    for k in keys:
        print("    %-34s %s" % (k, out["hits"].get(k, "(miss)")))
    return out["hits"]


def intel_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f if not line.startswith("#")]
    except FileNotFoundError:
        return []


def main():
    if not shutil.which("ruby") or subprocess.run(["ruby", "-e", 'require "dalli"'],
                                                  capture_output=True).returncode != 0:
        print("  skipped: ruby and ruby-dalli (Logstash's memcached client) are not installed")
        return 3
    failed = 0
    with tempfile.TemporaryDirectory(prefix="iocbus-dropins-demo-") as tmp, harness.Misp(heartbeat=10) as misp:
        zeek = os.path.join(tmp, "misp.intel")
        cfg = {
            "misp": misp.misp_config(zmq=True),
            "intel": [os.path.join(ROOT, "examples/intel/restsearch.json"), os.path.join(ROOT, "examples/intel/feed")],
            "memcached": {"port": harness.free_port(), "namespace": "misp", "value": "json"},
            "exports": [{"name": "zeek", "format": "zeek", "path": zeek, "misp_url": misp.url,
                         "debounce": "200ms"}],
        }
        check = os.path.join(tmp, "check.yaml")
        with open(check, "w") as f:
            json.dump(cfg, f)
        r = subprocess.run([harness.BIN, "check-config", check], capture_output=True, text=True)
        if r.returncode != 0:
            print("  skipped: this build refuses the memcached:/exports: sections (%s)"
                  % (r.stderr.strip().splitlines() or ["?"])[-1])
            return 3
        port = cfg["memcached"]["port"]
        with harness.Iocbus(cfg, workdir=tmp) as d:
            harness.wait_until(lambda: intel_lines(zeek), timeout=15, what="the first Zeek Intel file")
            print("iocbus run is up: memcached :%d (value: json), Zeek Intel %s (%d lines), MISP test server"
                  " REST :%d, ZeroMQ :%d" % (port, os.path.basename(zeek), len(intel_lines(zeek)),
                                              misp.rest_port, misp.zmq_port))
            hits = show_lookup(port, ["domain-stealer-panel.example", "ip-dst-203.0.113.77", "domain-nosuch.example"])
            failed += "domain-stealer-panel.example" not in hits or "ip-dst-203.0.113.77" not in hits
            failed += "domain-nosuch.example" in hits

            before = set(intel_lines(zeek))
            ino = os.stat(zeek).st_ino
            t0 = time.monotonic()
            ev = misp.control("event", info="iocbus drop-ins demo", tags=["tlp:green"])
            misp.control("attribute", event_id=ev["id"], type="domain", value="dropins-demo.example")
            print("  MISP: new event %s with domain dropins-demo.example (published over ZeroMQ)" % ev["id"])
            try:
                harness.wait_until(lambda: any("dropins-demo.example" in line for line in intel_lines(zeek)),
                                   timeout=15, interval=0.02, what="the new indicator in the Zeek Intel file")
                new = [line for line in intel_lines(zeek) if line not in before]
                print("  Zeek Intel file rewritten after %.0f ms (new inode: %s), added:"
                      % ((time.monotonic() - t0) * 1000, os.stat(zeek).st_ino != ino))
                for line in new:
                    print("    " + line.replace("\t", " | "))
            except AssertionError as e:
                print("  the Zeek Intel file did not change: %s" % e)
                failed += 1
            hits = show_lookup(port, ["domain-dropins-demo.example"])
            failed += "domain-dropins-demo.example" not in hits
            rc = d.term()
            print("iocbus run stopped on SIGTERM, exit %d" % rc)
            failed += rc != 0
    print("drop-ins demo: %s" % ("every step seen" if not failed else "%d step(s) NOT seen" % failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
