#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Publish -> matchable latency probe for `iocbus run` (bench/bench_run.sh, issue #4 (b)).

Binds an XPUB socket (the daemon's misp.zmq points at it) and waits for the daemon's
subscription, then, one attribute at a time: builds a `misp_json_attribute` add frame in
MISP's exact compact shape with a fresh uuid and a unique domain value, takes t0, sends
it, and polls GET /v1/lookup?value=V on one keep-alive HTTP connection until the answer
has a match; latency = time of the answer that matched - t0. Samples are paced at
--rate; with --load R, filler attributes at R msg/s are sent from the same socket between
samples (the daemon has one ZeroMQ endpoint), counted in the load figure.

Prints one line: `latency samples=N p50_ms=… p90_ms=… p99_ms=… max_ms=… mean_ms=…
poll_rtt_us=… polls_per_sample=… load_msgs=… timeouts=…` (poll_rtt_us is the mean time
of one lookup round trip: the resolution of the measurement), and writes every sample
(ms) to --samples-out when given.
"""
import argparse
import http.client
import sys
import time
import uuid

import zmq

FRAME = ('misp_json_attribute {"Attribute":{"id":"%d","event_id":"%d","object_id":"0",'
         '"object_relation":null,"category":"Network activity","type":"domain","value1":"%s",'
         '"value2":"","to_ids":true,"uuid":"%s","timestamp":"%d","distribution":"5",'
         '"sharing_group_id":"0","comment":"","deleted":false,"disable_correlation":false,'
         '"first_seen":null,"last_seen":null,"value":"%s","Sighting":[]},"Event":{"id":"%d",'
         '"date":"2024-10-21","info":"latency probe","uuid":"%s","published":false,'
         '"analysis":"1","threat_level_id":"2","org_id":"1","orgc_id":"2","distribution":"1",'
         '"sharing_group_id":"0","Orgc":{"id":"2","uuid":"aa490ba1-79d0-49eb-b242-8efa1dccfb33",'
         '"name":"EXAMPLE-CERT"}},"action":"add"}')


def pct(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zmq-port", type=int, required=True)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=200.0, help="samples per second")
    ap.add_argument("--load", type=float, default=0.0, help="background msg/s")
    ap.add_argument("--timeout", type=float, default=2.0, help="per-sample give-up, s")
    ap.add_argument("--wait", type=float, default=60.0, help="wait for the subscriber, s")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--samples-out")
    a = ap.parse_args()

    ctx = zmq.Context()
    pub = ctx.socket(zmq.XPUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.setsockopt(zmq.LINGER, 2000)
    pub.bind("tcp://127.0.0.1:%d" % a.zmq_port)
    if not pub.poll(int(a.wait * 1000)):
        sys.exit("latency_probe: no subscriber within %.0f s" % a.wait)
    pub.recv()                                   # the subscription
    conn = http.client.HTTPConnection("127.0.0.1", a.http_port, timeout=10)
    ev_uuid = str(uuid.uuid4())
    ts = int(time.time())
    base = 700000000 + (a.seed % 1000) * 100000

    def frame(i, value):
        return (FRAME % (base + i, 900000 + i // 100, value, uuid.uuid4(), ts, value,
                         900000 + i // 100, ev_uuid)).encode()

    def lookup(value):
        conn.request("GET", "/v1/lookup?value=" + value)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit("latency_probe: /v1/lookup answered %d: %r" % (r.status, body[:200]))
        return b'"matches":[{' in body

    # warm the connection and check the endpoint answers a miss
    if lookup("warmup.s%d.probe.example" % a.seed):
        sys.exit("latency_probe: the warm-up value matched")
    lat, polls, rtt_total, timeouts, load_sent, filler = [], 0, 0.0, 0, 0, 0
    interval = 1.0 / a.rate
    start = time.perf_counter()
    for i in range(a.samples):
        due = start + i * interval
        if a.load > 0:                           # background until this sample is due
            want = int((due - start) * a.load)
            while load_sent < want:
                v = "bg%d.s%d.probe.example" % (filler, a.seed)
                pub.send(frame(10000000 + filler, v))
                filler += 1
                load_sent += 1
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        value = "lat%d.s%d.probe.example" % (i, a.seed)
        f = frame(i, value)
        t0 = time.perf_counter()
        pub.send(f)
        while True:
            p0 = time.perf_counter()
            hit = lookup(value)
            p1 = time.perf_counter()
            polls += 1
            rtt_total += p1 - p0
            if hit:
                lat.append((p1 - t0) * 1000.0)
                break
            if p1 - t0 > a.timeout:
                timeouts += 1
                break
    lat_sorted = sorted(lat)
    if a.samples_out:
        with open(a.samples_out, "w") as fh:
            fh.write("\n".join("%.4f" % x for x in lat) + "\n")
    print("latency samples=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f "
          "poll_rtt_us=%.1f polls_per_sample=%.2f load_msgs=%d timeouts=%d wall_s=%.2f"
          % (len(lat), pct(lat_sorted, 50), pct(lat_sorted, 90), pct(lat_sorted, 99),
             lat_sorted[-1] if lat_sorted else float("nan"),
             sum(lat) / len(lat) if lat else float("nan"),
             rtt_total / polls * 1e6 if polls else float("nan"),
             polls / max(1, a.samples), load_sent, timeouts, time.perf_counter() - start),
          flush=True)
    pub.close()
    ctx.term()
    return 0 if not timeouts else 1


if __name__ == "__main__":
    sys.exit(main())
