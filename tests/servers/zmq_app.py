#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A Threat Bus zmq-app client for tests (issue #13), both message generations.

Written from ../shared/reference/threatbus.md §3.1 (sockets, management protocol),
§1.3-1.4 (2020.12 and 2021+ message shapes) and exports.md §4.1/§4.4 (what the apps
require of the host, the STIX 2.1 Sighting). Loopback only; every wait is bounded.

Library:
    app = ZmqApp("127.0.0.1", 13370)
    sub = app.subscribe("stix2/indicator", snapshot_days=30)   # generation from the topic
    msg = app.recv(timeout=5)          # Message(kind, operation, body, topic, raw)
    app.send_sighting("indicator--…", source="zeek", created=time.time())
    app.start_heartbeats(5.0); app.stop_heartbeats()
    app.unsubscribe(); app.close()

CLI (one JSON line per received message on stdout; exits after --count messages or
--duration seconds, unsubscribing first):
    /usr/bin/python3 tests/servers/zmq_app.py --manage 127.0.0.1:13370 \\
        --topic stix2/indicator [--topic stix2/sighting] [--snapshot-days 30] \\
        [--generation auto|2020.12|2021] [--count N] [--duration S] [--heartbeat S] \\
        [--sighting REF[=SOURCE]] [--curve-server-key FILE --curve-client-cert FILE]
See tests/servers/README.md.
"""
import argparse
import datetime
import ipaddress
import json
import random
import re
import string
import sys
import threading
import time
import uuid as uuidlib

import zmq

GEN_2020 = "2020.12"
GEN_2021 = "2021"
TOPICS_2020 = ("threatbus/intel", "threatbus/sighting", "threatbus")
TOPICS_2021 = ("stix2/indicator", "stix2/sighting")
SUFFIXES = {GEN_2020: ("intel", "sighting", "snapshotrequest"),
            GEN_2021: ("indicator", "sighting", "snapshotrequest")}
P2P_RE = re.compile(r"^[a-z]{32}$")
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
STIX_ID_RE = re.compile(r"^(indicator|sighting)--" + UUID_RE + "$")
STIX_TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
CUSTOM_RE = re.compile(r"^[a-z][a-z0-9_]{2,249}$")
# Python's str(datetime): space separator, optional .ffffff and +HH:MM (§1.3)
TB_TS_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?([+-]\d\d:\d\d)?$")
STIX_INDICATOR_PROPS = {"type", "spec_version", "id", "created", "modified", "pattern",
                        "pattern_type", "pattern_version", "valid_from", "valid_until",
                        "name", "description", "indicator_types", "kill_chain_phases",
                        "created_by_ref", "revoked", "labels", "confidence", "lang",
                        "external_references", "object_marking_refs", "granular_markings",
                        "extensions"}


class ProtocolError(Exception):
    """The host answered or sent something the reference does not allow."""


class Timeout(Exception):
    """A bounded wait ran out."""


def generation_of(topics):
    """2020.12 for threatbus/* topics, 2021+ for stix2/* (issue #13 §1); mixed is an error."""
    gens = {GEN_2020 if t == "threatbus" or t.startswith("threatbus/") else
            GEN_2021 if t.startswith("stix2/") else None for t in topics}
    if len(gens) != 1 or None in gens:
        raise ValueError("topics of one generation expected: %r" % (topics,))
    return gens.pop()


def _loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tcp(host, port):
    if not _loopback(host):
        raise ProtocolError("not a loopback endpoint: %s:%s" % (host, port))
    return "tcp://%s:%s" % ("[%s]" % host if ":" in host else host, int(port))


def stix_now(t=None):
    """RFC 3339 UTC with milliseconds and Z, as stix2 prints `created`."""
    t = time.time() if t is None else t
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def tb_ts(t=None):
    """Threat Bus 2020.12 `ts`: str(datetime), here an aware UTC one."""
    t = time.time() if t is None else t
    return str(datetime.datetime.fromtimestamp(t, datetime.timezone.utc))


class Message:
    """One decoded bus → app frame. kind: intel|indicator|sighting|snapshotrequest;
    operation: ADD|REMOVE for intel/indicator (a 2021+ indicator without
    x_threatbus_update is an ADD), else None."""

    def __init__(self, kind, operation, body, topic, raw):
        self.kind, self.operation, self.body = kind, operation, body
        self.topic, self.raw = topic, raw

    def as_dict(self):
        return {"kind": self.kind, "operation": self.operation, "body": self.body}

    def __repr__(self):
        return "Message(%s %s %s)" % (self.kind, self.operation, self.raw[:120])


def check_intel_2020(o):
    """2020.12 Intel on the wire (§1.3)."""
    if not isinstance(o, dict) or sorted(o) != ["data", "id", "operation", "ts"]:
        raise ProtocolError("intel keys: %r" % (o,))
    if not isinstance(o["ts"], str) or not TB_TS_RE.match(o["ts"]):
        raise ProtocolError("intel ts is not str(datetime): %r" % (o["ts"],))
    if not isinstance(o["id"], str) or not o["id"]:
        raise ProtocolError("intel id: %r" % (o["id"],))
    if o["operation"] not in ("ADD", "REMOVE"):
        raise ProtocolError("intel operation: %r" % (o["operation"],))
    d = o["data"]
    if not isinstance(d, dict) or not isinstance(d.get("indicator"), list) \
            or len(d["indicator"]) not in (1, 2) \
            or not all(isinstance(x, str) for x in d["indicator"]):
        raise ProtocolError("intel data.indicator: %r" % (d,))
    it = d.get("intel_type")
    if isinstance(it, bool) or not isinstance(it, int) or not 1 <= it <= 47:
        raise ProtocolError("intel data.intel_type: %r" % (it,))
    return o["operation"]


def check_stix(o, typ):
    """What stix2.parse(allow_custom=True) needs (exports.md §4.1), for an Indicator or
    a Sighting; returns the operation of an Indicator."""
    if not isinstance(o, dict) or o.get("type") != typ:
        raise ProtocolError("not a STIX %s: %r" % (typ, o))
    if o.get("spec_version") != "2.1":
        raise ProtocolError("spec_version must be \"2.1\": %r" % (o.get("spec_version"),))
    if not isinstance(o.get("id"), str) or not STIX_ID_RE.match(o["id"]) \
            or not o["id"].startswith(typ + "--"):
        raise ProtocolError("bad id: %r" % (o.get("id"),))
    for k in ("created", "modified") + (("valid_from",) if typ == "indicator" else ()):
        if not isinstance(o.get(k), str) or not STIX_TS_RE.match(o[k]):
            raise ProtocolError("%s is not an RFC 3339 UTC timestamp: %r" % (k, o.get(k)))
    if typ == "sighting":
        if not isinstance(o.get("sighting_of_ref"), str) \
                or not STIX_ID_RE.match(o["sighting_of_ref"]):
            raise ProtocolError("sighting_of_ref: %r" % (o.get("sighting_of_ref"),))
        return None
    if not isinstance(o.get("pattern"), str) or not o["pattern"] \
            or not isinstance(o.get("pattern_type"), str):
        raise ProtocolError("indicator pattern/pattern_type: %r" % (o,))
    for k in o:
        if k not in STIX_INDICATOR_PROPS and not CUSTOM_RE.match(k):
            raise ProtocolError("custom property name: %r" % (k,))
    up = o.get("x_threatbus_update")
    if up not in (None, "REMOVE", "EDIT"):
        raise ProtocolError("x_threatbus_update: %r" % (up,))
    return "REMOVE" if up == "REMOVE" else "ADD"


def decode(frame, p2p, generation):
    """Split `<p2p><suffix> <json>` at the first space (§3.1) and check the body."""
    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("frame is not UTF-8")
    topic, sep, payload = text.partition(" ")
    if not sep or not topic.startswith(p2p):
        raise ProtocolError("frame topic: %r" % (text[:80],))
    kind = topic[len(p2p):]
    if kind not in SUFFIXES[generation]:
        raise ProtocolError("suffix %r is not one of %s" % (kind, SUFFIXES[generation]))
    try:
        body = json.loads(payload)
    except ValueError:
        raise ProtocolError("frame body is not JSON: %r" % (payload[:80],))
    op = None
    if kind == "intel":
        op = check_intel_2020(body)
    elif kind == "indicator":
        op = check_stix(body, "indicator")
    elif kind == "snapshotrequest":
        if not isinstance(body, dict) or body.get("snapshot_type") not in (1, 2) \
                or "snapshot_id" not in body or "snapshot" not in body:
            raise ProtocolError("snapshotrequest: %r" % (body,))
    elif generation == GEN_2021:
        check_stix(body, "sighting")
    elif not isinstance(body, dict) or not {"ts", "intel", "context"} <= set(body):
        raise ProtocolError("2020.12 sighting: %r" % (body,))
    return Message(kind, op, body, topic, text)


class ZmqApp:
    """One app: a management REQ socket, and after subscribe() a SUB socket connected
    to the host's PUB and a PUB socket connected to the host's bound SUB."""

    def __init__(self, host="127.0.0.1", manage_port=13370, timeout=5.0, curve=None,
                 ctx=None):
        """curve: None or (server_public_z85, client_public_z85, client_secret_z85),
        applied to all three sockets (iocbus's optional CURVE, issue #13 §1)."""
        _tcp(host, manage_port)
        self.host, self.manage_port, self.timeout, self.curve = host, manage_port, timeout, curve
        self.own_ctx = ctx is None
        self.ctx = ctx or zmq.Context()
        self.lock = threading.Lock()        # the REQ socket is shared with the heartbeat
        self.req = None
        self.sub = self.pub = self.pub_monitor = None
        self.p2p = self.generation = None
        self.reply = None
        self.heartbeats = []                # (monotonic time, status) per heartbeat sent
        self._hb_stop = threading.Event()
        self._hb_thread = None

    def _socket(self, kind):
        s = self.ctx.socket(kind)
        s.setsockopt(zmq.LINGER, 0)
        if self.curve:
            server, public, secret = (k.encode() if isinstance(k, str) else k
                                      for k in self.curve)
            s.curve_serverkey, s.curve_publickey, s.curve_secretkey = server, public, secret
        return s

    def manage(self, request, raw=False):
        """One management round trip; `request` is a dict (sent as JSON) or, with raw,
        bytes as they are. Raises Timeout after self.timeout (and resets the REQ socket,
        whose state machine would be stuck)."""
        data = request if raw else json.dumps(request).encode()
        with self.lock:
            if self.req is None:
                self.req = self._socket(zmq.REQ)
                self.req.connect(_tcp(self.host, self.manage_port))
            self.req.send(data)
            if not self.req.poll(int(self.timeout * 1000)):
                self.req.close()
                self.req = None
                raise Timeout("no management reply within %.1f s" % self.timeout)
            reply = self.req.recv()
        try:
            obj = json.loads(reply)
        except ValueError:
            raise ProtocolError("management reply is not JSON: %r" % (reply[:80],))
        if not isinstance(obj, dict) or not isinstance(obj.get("status"), str):
            raise ProtocolError("management reply without status: %r" % (obj,))
        return obj

    def subscribe(self, topic, snapshot_days=0, generation=None, snapshot=None):
        """Subscribe as an app of `generation` (default: from the topic) would: 2021+
        sends `snapshot` in days, 2020.12 in seconds (`snapshot` overrides the wire
        value). Reads only the reply fields that generation reads, connects SUB and PUB.
        Returns the reply."""
        topics = [topic] if isinstance(topic, str) else list(topic)
        gen = generation or generation_of(topics)
        if snapshot is None:
            snapshot = int(snapshot_days) * (86400 if gen == GEN_2020 else 1)
        r = self.manage({"action": "subscribe", "topic": topic, "snapshot": snapshot})
        if r["status"] != "success":
            raise ProtocolError("subscribe failed: %r" % (r,))
        p2p = r.get("topic")
        if not isinstance(p2p, str) or not P2P_RE.match(p2p):
            raise ProtocolError("p2p topic is not 32 letters a-z: %r" % (p2p,))
        if gen == GEN_2020:
            try:
                pub_host, pub_port = r["pub_endpoint"].rsplit(":", 1)
                sub_host, sub_port = r["sub_endpoint"].rsplit(":", 1)
            except (KeyError, AttributeError, ValueError):
                raise ProtocolError("2020.12 reply needs pub_endpoint/sub_endpoint host:port: "
                                    "%r" % (r,))
        else:
            pub_port, sub_port = r.get("pub_port"), r.get("sub_port")
            if not all(isinstance(p, int) and not isinstance(p, bool) and 0 < p < 65536
                       for p in (pub_port, sub_port)):
                raise ProtocolError("2021+ reply needs integer pub_port/sub_port: %r" % (r,))
            pub_host = sub_host = self.host
        self._close_data()
        self.p2p, self.generation, self.reply = p2p, gen, r
        self.sub = self._socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, p2p.encode())
        self.sub.connect(_tcp(pub_host, pub_port))
        self.pub = self._socket(zmq.PUB)
        self.pub_monitor = self.pub.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self.pub.connect(_tcp(sub_host, sub_port))
        return r

    def wait_pub_connected(self, timeout=None):
        """Wait until the PUB socket's handshake with the host's SUB is done, plus a
        short grace for the host's subscription to arrive: ZeroMQ drops what a PUB sends
        before that (the slow joiner)."""
        timeout = self.timeout if timeout is None else timeout
        if self.pub_monitor is None:
            return
        if not self.pub_monitor.poll(int(timeout * 1000)):
            raise Timeout("PUB never connected to the host's SUB")
        self.pub_monitor.recv_multipart()
        self.pub.disable_monitor()
        self.pub_monitor.close()
        self.pub_monitor = None
        time.sleep(0.1)

    def recv(self, timeout=None):
        """The next frame for this app, decoded and checked; Timeout if none came."""
        timeout = self.timeout if timeout is None else timeout
        if not self.sub.poll(int(timeout * 1000)):
            raise Timeout("no frame within %.1f s" % timeout)
        return decode(self.sub.recv(), self.p2p, self.generation)

    def recv_all(self, n, timeout=None):
        """Exactly n messages within `timeout` in total."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        out = []
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout("%d of %d messages" % (len(out), n))
            out.append(self.recv(left))
        return out

    def sighting_frame(self, ref, source, created=None, last_seen=None, context=None,
                       ioc=None, extra=None):
        """The frame an app of this generation sends. 2021+: a STIX 2.1 Sighting with
        sighting_of_ref = `ref` (an indicator id, "indicator--" added when missing),
        x_threatbus_source, created = modified; 2020.12: {"ts","intel","context","ioc"}
        with the source in context (what the 2020.12 MISP plugin reads). `extra` is
        merged into the object (e.g. a sighting-type property)."""
        if self.generation == GEN_2020:
            ctx = dict(context or {})
            ctx["source"] = source
            obj = {"ts": tb_ts(created), "intel": str(ref), "context": ctx,
                   "ioc": list(ioc) if ioc is not None else None}
            obj.update(extra or {})
            return "threatbus/sighting " + json.dumps(obj)
        ref = ref if ref.startswith("indicator--") else "indicator--" + ref
        now = stix_now(created)
        obj = {"type": "sighting", "spec_version": "2.1",
               "id": "sighting--%s" % uuidlib.uuid4(), "created": now, "modified": now}
        if last_seen is not None:
            obj["last_seen"] = stix_now(last_seen)
        obj["sighting_of_ref"] = ref
        if context is not None:
            obj["x_threatbus_sighting_context"] = context
        obj["x_threatbus_source"] = source
        obj.update(extra or {})
        check_stix(obj, "sighting")
        return "stix2/sighting " + json.dumps(obj)     # stix2's ", " / ": " separators

    def send_sighting(self, ref, source, **kw):
        frame = self.sighting_frame(ref, source, **kw)
        self.pub.send(frame.encode())
        return frame

    def send_snapshot_envelope(self, request, body):
        """Answer a forwarded snapshotrequest (exports.md §4.1)."""
        env = {"type": "snapshotenvelope", "snapshot_type": request["snapshot_type"],
               "snapshot_id": request["snapshot_id"], "body": body}
        frame = "threatbus/snapshotenvelope " + json.dumps(env)
        self.pub.send(frame.encode())
        return frame

    def heartbeat(self):
        r = self.manage({"action": "heartbeat", "topic": self.p2p})
        self.heartbeats.append((time.monotonic(), r["status"]))
        return r["status"]

    def start_heartbeats(self, interval=5.0):
        """One heartbeat every `interval` s on a thread (the VAST bridge: 5 s), results
        in self.heartbeats; a timeout is recorded as status "timeout"."""
        self.stop_heartbeats()
        self._hb_stop.clear()

        def run():
            while not self._hb_stop.wait(interval):
                try:
                    self.heartbeat()
                except (Timeout, ProtocolError) as e:
                    self.heartbeats.append((time.monotonic(), "timeout"
                                            if isinstance(e, Timeout) else "protocol"))
        self._hb_thread = threading.Thread(target=run, daemon=True)
        self._hb_thread.start()

    def stop_heartbeats(self):
        if self._hb_thread:
            self._hb_stop.set()
            self._hb_thread.join(self.timeout + 1)
            self._hb_thread = None

    def unsubscribe(self):
        r = self.manage({"action": "unsubscribe", "topic": self.p2p})
        return r["status"]

    def _close_data(self):
        for s in (self.sub, self.pub, self.pub_monitor):
            if s is not None:
                s.close()
        self.sub = self.pub = self.pub_monitor = None

    def close(self):
        self.stop_heartbeats()
        self._close_data()
        with self.lock:
            if self.req is not None:
                self.req.close()
                self.req = None
        if self.own_ctx:
            self.ctx.term()


def random_p2p():
    """A p2p topic as Threat Bus makes one (32 letters a-z), for fakes."""
    return "".join(random.choice(string.ascii_lowercase) for _ in range(32))


def _hostport(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]"), int(port)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manage", default="127.0.0.1:13370", type=_hostport,
                    help="host:port of the management REP socket (loopback only)")
    ap.add_argument("--topic", action="append", required=True,
                    help="repeat for a list (sent as a list when repeated)")
    ap.add_argument("--snapshot-days", type=int, default=0)
    ap.add_argument("--generation", choices=("auto", GEN_2020, GEN_2021), default="auto")
    ap.add_argument("--count", type=int, default=0, help="exit after N messages (0: none)")
    ap.add_argument("--duration", type=float, default=10.0, help="exit after S seconds")
    ap.add_argument("--heartbeat", type=float, default=5.0, help="interval, 0 = none")
    ap.add_argument("--sighting", action="append", default=[], metavar="REF[=SOURCE]",
                    help="send a sighting of REF once subscribed (source default zmq_app)")
    ap.add_argument("--timeout", type=float, default=5.0, help="management reply timeout")
    ap.add_argument("--curve-server-key", metavar="FILE",
                    help="the bus's public key file (zmq.auth certificate)")
    ap.add_argument("--curve-client-cert", metavar="FILE",
                    help="this app's secret certificate file (zmq.auth)")
    args = ap.parse_args()
    curve = None
    if args.curve_server_key or args.curve_client_cert:
        import zmq.auth
        server, _ = zmq.auth.load_certificate(args.curve_server_key)
        public, secret = zmq.auth.load_certificate(args.curve_client_cert)
        if secret is None:
            ap.error("--curve-client-cert needs a secret certificate")
        curve = (server, public, secret)
    host, port = args.manage
    app = ZmqApp(host, port, timeout=args.timeout, curve=curve)
    topic = args.topic[0] if len(args.topic) == 1 else args.topic
    rc = 0
    try:
        app.subscribe(topic, args.snapshot_days,
                      None if args.generation == "auto" else args.generation)
        print(json.dumps({"kind": "subscribed", "reply": app.reply,
                          "generation": app.generation}), flush=True)
        if args.heartbeat > 0:
            app.start_heartbeats(args.heartbeat)
        if args.sighting:
            app.wait_pub_connected()
            for s in args.sighting:
                ref, _, source = s.partition("=")
                app.send_sighting(ref, source or "zmq_app")
        deadline = time.monotonic() + args.duration
        n = 0
        while (args.count == 0 or n < args.count) and time.monotonic() < deadline:
            try:
                m = app.recv(min(0.5, max(0.0, deadline - time.monotonic())))
            except Timeout:
                continue
            print(json.dumps(m.as_dict()), flush=True)
            n += 1
        if args.count and n < args.count:
            sys.stderr.write("zmq_app: %d of %d messages\n" % (n, args.count))
            rc = 1
        app.stop_heartbeats()
        bad = [s for _, s in app.heartbeats if s != "success"]
        if bad:
            sys.stderr.write("zmq_app: heartbeat replies %s\n" % bad)
        st = app.unsubscribe()
        print(json.dumps({"kind": "unsubscribed", "status": st,
                          "heartbeats": [s for _, s in app.heartbeats]}), flush=True)
    except (ProtocolError, Timeout) as e:
        sys.stderr.write("zmq_app: %s\n" % e)
        rc = 2
    finally:
        app.close()
    return rc


if __name__ == "__main__":
    sys.exit(main())
