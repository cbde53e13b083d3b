# SPDX-License-Identifier: Apache-2.0
"""The load generators and the verdict of bench/soak.sh (issue #11): not a test, run by the script.

    soak_load.py writer  --file F --rate R --seconds S --stats OUT [--hit-value V] [--inject dup|loss]
    soak_load.py churn   --misp-port P --rate R --seconds S --pool K --hit-value V --state OUT
    soak_load.py lookups --port P --rate R --seconds S --hit-value V --stats OUT
    soak_load.py verify  --port P --churn-state F --timeout T
    soak_load.py report  --samples CSV --run JSON [--out MD]

Each generator paces itself against the clock (what falls behind is caught up, never skipped),
stops by itself after --seconds and writes its totals as JSON (atomically, also every second
for the writer so the script can read how far it got). `report` judges the run from the
samples, the generators' totals, the daemon's /metrics and the Elasticsearch test server's
`field_stats`, prints the summary table and exits 1 with one `FAIL:` line per problem.
Standard library only, plus tests/e2e/harness.py for the Prometheus parser."""
import argparse
import collections
import http.client
import json
import os
import random
import statistics
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "e2e"))
from harness import control, parse_metrics  # noqa: E402

TIMEOUT = 5.0          # seconds one HTTP exchange may take before it counts as failed


def dump(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def paced(rate, seconds, tick=0.1):
    """Yield (due_so_far, elapsed) every tick until seconds pass: due = rate * elapsed."""
    t0 = time.monotonic()
    while True:
        el = time.monotonic() - t0
        if el >= seconds:
            yield int(rate * seconds), seconds
            return
        yield int(rate * el), el
        time.sleep(tick)


# ------------------------------------------------------------------ writer

def line(seq, hit_value, extra=""):
    ip = hit_value if hit_value and seq % 20 == 0 else "10.%d.%d.%d" % (seq >> 16 & 255, seq >> 8 & 255, seq & 255)
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    return '{"@timestamp":"%sZ","seq":%d,"source":{"ip":"%s"},"message":"soak%s"}\n' % (ts, seq, ip, extra)


def cmd_writer(a):
    """Append lines with seq 0..N-1 to a tailed file at --rate. --inject (to prove the verdict
    can fail): `dup` writes one sequence twice with different bytes (a distinct document id even
    with `document_id: hash`), `loss` counts one sequence as written without writing it."""
    inject_at = int(a.rate * min(10, a.seconds / 4))
    n = 0
    last_dump = 0.0
    with open(a.file, "a") as f:
        for due, el in paced(a.rate, a.seconds):
            buf = []
            while n < due:
                if not (a.inject == "loss" and n == inject_at):
                    buf.append(line(n, a.hit_value))
                if a.inject == "dup" and n == inject_at:
                    buf.append(line(n, a.hit_value, " again"))
                n += 1
            f.write("".join(buf))
            f.flush()
            if el - last_dump >= 1.0 or el >= a.seconds:
                dump(a.stats, {"written": n, "seconds": round(el, 3), "inject": a.inject,
                               "inject_seq": inject_at if a.inject else None})
                last_dump = el
    print("writer: %d lines in %.0f s" % (n, a.seconds), file=sys.stderr)


# ------------------------------------------------------------------ MISP churn

def cmd_churn(a):
    """Adds, edits (value changes and comment changes), soft-deletes and deletes through the MISP
    test server's control plane, each published on its ZeroMQ socket. The live pool stays near
    --pool attributes, so the store does not grow; every value is unique, so a value once gone
    must stay gone. --hit-value is added first and never touched."""
    def misp(action, **body):
        return control(a.misp_port, action, body, what="MISP control")

    ev = misp("event", info="soak", tags=["tlp:white"])
    misp("attribute", event_id=ev["id"], type="ip-dst", value=a.hit_value, category="Network activity")
    ops = collections.Counter({"add": 1})
    live = collections.OrderedDict()        # id -> value
    gone = collections.deque(maxlen=1000)   # values that must no longer match
    errors = []
    counter = 0
    rnd = random.Random(11)
    cycle = ["add", "edit-value", "add", "edit-comment", "delete", "soft-delete"]
    k = 0

    def fresh(typ=None):
        nonlocal counter
        counter += 1
        typ = typ or ("ip-dst" if counter % 2 else "domain")
        if typ == "ip-dst":
            return typ, "100.%d.%d.%d" % (64 + (counter >> 16 & 63), counter >> 8 & 255, counter & 255)
        return typ, "soak-%d.example" % counter

    done = 0
    filled = False
    for due, _ in paced(a.rate, a.seconds):
        while done < due:
            done += 1
            op = cycle[k % len(cycle)]
            k += 1
            filled = filled or len(live) >= a.pool
            if (op != "add" and len(live) < 10) or (op in ("delete", "soft-delete") and not filled):
                op = "add"             # fill the pool first; then two adds and two removals in six hold it
            try:
                if op == "add":
                    typ, val = fresh()
                    r = misp("attribute", event_id=ev["id"], type=typ, value=val, to_ids=True)
                    live[r["id"]] = (typ, val)
                elif op == "edit-value":
                    aid = rnd.choice(list(live))
                    typ, old = live[aid]
                    _, val = fresh(typ)
                    misp("attribute/edit", id=aid, value=val)
                    live[aid] = (typ, val)
                    gone.append(old)
                elif op == "edit-comment":
                    misp("attribute/edit", id=rnd.choice(list(live)), comment="soak %d" % done)
                else:                                   # oldest first
                    aid, (_, val) = next(iter(live.items()))
                    misp("attribute/" + op, id=aid)
                    del live[aid]
                    gone.append(val)
                ops[op] += 1
            except (OSError, AssertionError, http.client.HTTPException) as e:
                errors.append("%s: %s" % (op, e))
    state = {"ops": dict(ops), "messages": sum(ops.values()), "errors": len(errors), "error_samples": errors[:10],
             "hit_value": a.hit_value, "live": [v for _, v in live.values()] + [a.hit_value], "gone": list(gone)}
    dump(a.state, state)
    print("churn: %s, %d errors" % (dict(ops), len(errors)), file=sys.stderr)


# ------------------------------------------------------------------ HTTP lookups

class Http:
    """One keep-alive connection, opened again after any error."""

    def __init__(self, port):
        self.port = port
        self.c = None

    def get(self, path, fresh=False):
        if fresh or self.c is None:
            if self.c is not None:
                self.c.close()
            self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            self.c.request("GET", path)
            r = self.c.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException):
            self.c.close()
            self.c = None
            raise


def lookup_matches(port, values, conn=None):
    """{value: number of matches} from /v1/lookup, up to 100 values a request."""
    h = conn or Http(port)
    out = {}
    for i in range(0, len(values), 100):
        part = values[i:i + 100]
        st, body = h.get("/v1/lookup?" + "&".join("value=" + urllib.parse.quote(v, safe="") for v in part))
        if st != 200:
            raise RuntimeError("lookup -> %d %r" % (st, body[:200]))
        for ln in body.decode().splitlines():
            o = json.loads(ln)
            out[o["value"]] = len(o["matches"])
    return out


def cmd_lookups(a):
    """At --rate, in turn: the permanent value on the keep-alive connection (must match), an
    absent value there (must not), /healthz on a new connection (must be 200), the permanent
    value on a new connection. Any error, timeout, other status or wrong answer is a failure."""
    keep, fresh = Http(a.port), Http(a.port)
    kinds = ["lookup-hit", "lookup-miss", "healthz", "lookup-new-conn"]
    ok, failed = collections.Counter(), collections.Counter()
    lat = []
    samples = []
    done = 0
    t0 = time.monotonic()
    for due, _ in paced(a.rate, a.seconds, tick=0.02):
        while done < due:
            kind = kinds[done % len(kinds)]
            done += 1
            t = time.monotonic()
            try:
                if kind == "healthz":
                    st, body = fresh.get("/healthz", fresh=True)
                    good = st == 200
                else:
                    v = a.hit_value if kind != "lookup-miss" else "soak-absent-%d.invalid" % done
                    n = lookup_matches(a.port, [v], keep if kind != "lookup-new-conn" else Http(a.port))[v]
                    good, st, body = (n >= 1) == (kind != "lookup-miss"), 200, b"%d matches" % n
            except (OSError, RuntimeError, ValueError, KeyError, http.client.HTTPException) as e:
                good, st, body = False, None, repr(e).encode()
            lat.append(time.monotonic() - t)
            (ok if good else failed)[kind] += 1
            if not good and len(samples) < 20:
                samples.append("t=%.1fs %s: status %s %r" % (t - t0, kind, st, body[:120]))
                print("lookups: FAILED %s" % samples[-1], file=sys.stderr)
    lat.sort()
    dump(a.stats, {"ok": sum(ok.values()), "failed": sum(failed.values()), "ok_by_kind": dict(ok),
                   "failed_by_kind": dict(failed), "failure_samples": samples,
                   "p50_ms": round(1000 * lat[len(lat) // 2], 2) if lat else 0,
                   "p99_ms": round(1000 * lat[int(len(lat) * 0.99)], 2) if lat else 0,
                   "max_ms": round(1000 * lat[-1], 2) if lat else 0})


# ------------------------------------------------------------------ churn verification

def cmd_verify(a):
    """After the churn: every live value must match and every gone one must not, within --timeout
    (the last messages may still be on their way). Prints the JSON result; exit 1 if not."""
    with open(a.churn_state) as f:
        st = json.load(f)
    end = time.monotonic() + a.timeout
    while True:
        try:
            got = lookup_matches(a.port, st["live"] + st["gone"])
            bad_live = [v for v in st["live"] if got.get(v, 0) < 1]
            bad_gone = [v for v in st["gone"] if got.get(v, 0) != 0]
            err = None
        except (OSError, RuntimeError, ValueError, http.client.HTTPException) as e:
            bad_live, bad_gone, err = st["live"], [], repr(e)
        if (not bad_live and not bad_gone) or time.monotonic() >= end:
            break
        time.sleep(0.5)
    res = {"live": len(st["live"]), "gone": len(st["gone"]), "live_missing": len(bad_live),
           "gone_present": len(bad_gone), "samples": (bad_live + bad_gone)[:10], "error": err}
    print(json.dumps(res))
    return 0 if not bad_live and not bad_gone and err is None else 1


# ------------------------------------------------------------------ report

def median(xs):
    return statistics.median(xs) if xs else 0


def metric(ms, name, **labels):
    return sum(v for n, lab, v in ms if n == name and all(lab.get(k) == x for k, x in labels.items()))


def cmd_report(a):
    with open(a.run) as f:
        run = json.load(f)
    rows = []
    with open(a.samples) as f:
        hdr = f.readline().strip().split(",")
        for ln in f:
            rows.append(dict(zip(hdr, ln.strip().split(","))))
    for r in rows:
        for k in ("t_s", "rss_kib", "fds", "threads"):
            r[k] = float(r[k])
    fails = []
    S, W = run["seconds"], run["warmup"]
    o0 = run["outage_start"]
    # baseline: the samples just after warm-up (up to 3, all before the outage); end: the last quarter
    base = [r for r in rows if W <= r["t_s"] < o0][:3]
    last = [r for r in rows if r["t_s"] >= 0.75 * S]
    if not base or not last:
        fails.append("too few samples to judge growth (%d after warm-up, %d in the last quarter): "
                     "run longer or sample more often" % (len(base), len(last)))
    tol_rss = max(run["rss_tol_pct"] / 100.0 * median([r["rss_kib"] for r in base]), run["rss_tol_mib"] * 1024.0)
    res = {}
    for key, tol, unit in (("rss_kib", tol_rss, "KiB"), ("fds", run["fd_tol"], ""), ("threads", run["thread_tol"], "")):
        allr = [r[key] for r in rows]
        b, e = median([r[key] for r in base]), median([r[key] for r in last])
        res[key] = {"first": allr[0] if allr else 0, "base": b, "max": max(allr) if allr else 0,
                    "last": allr[-1] if allr else 0, "end": e}
        if base and last and e > b + tol:
            fails.append("%s grew after warm-up: median of the last quarter %g%s > median after warm-up %g%s "
                         "+ tolerance %g%s" % (key, e, unit, b, unit, tol, unit))
    # RSS also against its level once the outage's backlog is through (up to 3 samples from
    # 30 s after the outage): the outage adds a step (queue, spool replay, heap glibc keeps),
    # a leak keeps climbing after it. Judged only when that level comes before the last quarter.
    o1 = o0 + run["outage_seconds"]
    post = [r for r in rows if o1 + 30 <= r["t_s"] < 0.75 * S][:3]
    rss_post = median([r["rss_kib"] for r in post]) if post else None
    tol_trend = max(run["rss_trend_pct"] / 100.0 * (rss_post or 0), run["rss_trend_mib"] * 1024.0)
    if post and last and res["rss_kib"]["end"] > rss_post + tol_trend:
        fails.append("rss_kib grew after the outage: median of the last quarter %gKiB > median from 30 s after the "
                     "outage %gKiB + tolerance %gKiB" % (res["rss_kib"]["end"], rss_post, tol_trend))
    es = run["es"]
    written = run["writer"]["written"]
    if run.get("daemon_exit"):
        fails.append("iocbus exited during the run: %s" % run["daemon_exit"])
    if es.get("missing", written) or es.get("distinct") != written:
        fails.append("lost events: %d of %d written are not in the index (samples: seq %s)"
                     % (es.get("missing", written), written, es.get("missing_values")))
    if es.get("duplicates"):
        fails.append("doubled events: %d extra documents (samples [seq, copies]: %s)"
                     % (es["duplicates"], es.get("duplicate_values")))
    if es.get("outside") or es.get("without_field"):
        fails.append("documents that no written line explains: %d with an unknown seq, %d without seq"
                     % (es.get("outside", 0), es.get("without_field", 0)))
    lk = run["lookups"]
    if lk["failed"] or not lk["ok"]:
        fails.append("lookups failed: %d of %d (%s); first: %s" % (lk["failed"], lk["ok"] + lk["failed"],
                                                                  lk["failed_by_kind"], lk["failure_samples"][:3]))
    if run.get("resume_seconds") is None:
        fails.append("no delivery within %d s of the end of the Elasticsearch outage" % run["resume_timeout"])
    ch, vf = run["churn"], run["verify"] or {"error": "no result from `verify`"}
    if ch["errors"]:
        fails.append("the MISP test server refused %d churn actions: %s" % (ch["errors"], ch["error_samples"][:3]))
    if vf.get("live_missing") or vf.get("gone_present") or vf.get("error"):
        fails.append("store out of step with MISP after the churn: %d live values missing, %d deleted/edited-away "
                     "values still matching (samples %s) %s" % (vf.get("live_missing", 0), vf.get("gone_present", 0),
                                                               vf.get("samples"), vf.get("error") or ""))
    ms = []
    try:
        with open(a.metrics) as f:
            ms = parse_metrics(f.read())
    except (OSError, ValueError) as e:
        fails.append("no final /metrics: %s" % e)
    zmq = {act: metric(ms, "iocbus_updates_total", source="zmq", action=act)
           for act in ("add", "edit", "soft_delete", "delete")}
    applied = sum(zmq.values())
    if ms and applied != ch["messages"]:
        fails.append("ZeroMQ: %d attribute messages published, %d applied (%s)" % (ch["messages"], applied, zmq))
    out_ev = metric(ms, "iocbus_output_events_total", output="es")
    dup409 = metric(ms, "iocbus_output_duplicates_total", output="es")

    def mib(k):
        return "%.1f" % (k / 1024.0)
    r, fd, th = res.get("rss_kib"), res.get("fds"), res.get("threads")
    t = []
    t.append("| what | figure |")
    t.append("|---|---|")
    t.append("| duration | %d s (warm-up %d s; samples every %d s; ES outage %d s from t=%d s; drain %.1f s) |"
             % (S, W, run["sample_every"], run["outage_seconds"], o0, run["drain_seconds"]))
    t.append("| file input | %d lines at %d/s; delivered %d distinct, %d duplicates, %d missing (es_server.py `field_stats`) |"
             % (written, run["rate"], es.get("distinct", 0), es.get("duplicates", 0), es.get("missing", written)))
    t.append("| output | %d events delivered (`iocbus_output_events_total`), %d refused by ES as already there (409, `iocbus_output_duplicates_total`) |"
             % (out_ev, dup409))
    t.append("| first delivery after the outage | %s |" % ("%.1f s" % run["resume_seconds"] if run.get("resume_seconds") is not None
                                                         else "none within %d s" % run["resume_timeout"]))
    t.append("| HTTP | %d ok, %d failed (%s); latency p50 %s ms, p99 %s ms, max %s ms |"
             % (lk["ok"], lk["failed"], ", ".join("%s %d" % kv for kv in sorted(lk["ok_by_kind"].items())),
                lk["p50_ms"], lk["p99_ms"], lk["max_ms"]))
    t.append("| ZeroMQ churn | %d messages published (%s); applied: %d (add %d, edit %d, soft_delete %d, delete %d) |"
             % (ch["messages"], ", ".join("%s %d" % kv for kv in sorted(ch["ops"].items())), applied,
                zmq["add"], zmq["edit"], zmq["soft_delete"], zmq["delete"]))
    t.append("| store vs MISP at the end | %d live values match, %d gone values do not (%s) |"
             % (vf.get("live", 0) - vf.get("live_missing", 0), vf.get("gone", 0) - vf.get("gone_present", 0),
                "ok" if not (vf.get("live_missing") or vf.get("gone_present")) else "MISMATCH"))
    if r:
        t.append("| RSS MiB first / after warm-up / max / last (last-quarter median, allowed) | %s / %s / %s / %s (%s, ≤ %s) |"
                 % (mib(r["first"]), mib(r["base"]), mib(r["max"]), mib(r["last"]), mib(r["end"]), mib(r["base"] + tol_rss)))
        t.append("| RSS MiB from 30 s after the outage (last-quarter median, allowed) | %s |"
                 % ("%s (%s, ≤ %s)" % (mib(rss_post), mib(r["end"]), mib(rss_post + tol_trend)) if post
                    else "not judged: the run is too short for a level between the outage and the last quarter"))
        t.append("| open fds first / after warm-up / max / last (last-quarter median, allowed) | %d / %g / %d / %d (%g, ≤ %g) |"
                 % (fd["first"], fd["base"], fd["max"], fd["last"], fd["end"], fd["base"] + run["fd_tol"]))
        t.append("| threads first / after warm-up / max / last (last-quarter median, allowed) | %d / %g / %d / %d (%g, ≤ %g) |"
                 % (th["first"], th["base"], th["max"], th["last"], th["end"], th["base"] + run["thread_tol"]))
    if rows and "es_rss_kib" in rows[-1]:
        t.append("| es_server.py RSS at the end (the test double keeps every document) | %s MiB |"
                 % mib(float(rows[-1]["es_rss_kib"] or 0)))
    t.append("| verdict | %s |" % ("PASS" if not fails else "FAIL (%d)" % len(fails)))
    text = "\n".join(t) + "\n"
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
            for x in fails:
                f.write("\nFAIL: %s" % x)
    for x in fails:
        print("FAIL: %s" % x)
    return 1 if fails else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("writer")
    w.add_argument("--file", required=True)
    w.add_argument("--rate", type=float, required=True)
    w.add_argument("--seconds", type=float, required=True)
    w.add_argument("--stats", required=True)
    w.add_argument("--hit-value", default="")
    w.add_argument("--inject", choices=("dup", "loss"))
    c = sub.add_parser("churn")
    c.add_argument("--misp-port", type=int, required=True)
    c.add_argument("--rate", type=float, required=True)
    c.add_argument("--seconds", type=float, required=True)
    c.add_argument("--pool", type=int, default=500)
    c.add_argument("--hit-value", required=True)
    c.add_argument("--state", required=True)
    lk = sub.add_parser("lookups")
    lk.add_argument("--port", type=int, required=True)
    lk.add_argument("--rate", type=float, required=True)
    lk.add_argument("--seconds", type=float, required=True)
    lk.add_argument("--hit-value", required=True)
    lk.add_argument("--stats", required=True)
    v = sub.add_parser("verify")
    v.add_argument("--port", type=int, required=True)
    v.add_argument("--churn-state", required=True)
    v.add_argument("--timeout", type=float, default=60)
    r = sub.add_parser("report")
    r.add_argument("--samples", required=True)
    r.add_argument("--run", required=True)
    r.add_argument("--metrics", required=True)
    r.add_argument("--out")
    a = p.parse_args()
    return {"writer": cmd_writer, "churn": cmd_churn, "lookups": cmd_lookups, "verify": cmd_verify,
            "report": cmd_report}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
