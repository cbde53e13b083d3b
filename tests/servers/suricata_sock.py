#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Test double of the server side of Suricata's unix-command socket.

Written from the protocol as exports.md §3.3 describes it (what
`suricatasc` speaks to Suricata), for the dataset commands iocbus sends:

- the client opens with `{"version": "0.1"|"0.2"}`; the server answers
  `{"return": "OK"}` (a newline after it in 0.2) or closes on anything else;
- then one compact JSON command per line, `{"command": ..., "arguments": {...}}`,
  each answered before the next is read: a read that holds more than one
  command is refused and the connection closed (Suricata cannot parse two
  commands in one read), as is a command line over 4095 bytes;
- answers are compact JSON `{"message": ..., "return": "OK"|"NOK"}` + "\\n"
  (no newline in 0.1), with Suricata's message texts.

Sets are declared up front (`--set name:type`), as a suricata.yaml would;
a command on an unknown set or with another type answers `set not found or
wrong type`. Values are checked as Suricata decodes them: strict padded
base64 for `string`, 32/64 hex for md5/sha256, an IPv4 dotted quad for
`ipv4`, IPv4 or IPv6 for `ip` (an IPv4-mapped IPv6 address stored as the
IPv4 one). `--busy N` answers the first N `dataset-remove`s of each item
with `data is busy, try again` (return OK) without removing it.
`--version` sets what `version` answers; `dataset-clear` and
`dataset-lookup` exist from 7.0 on, as in Suricata; the rule reload commands
answer `done`.

Every command is appended to `--log FILE` as one JSON line:
`{"t": <time.time()>, "command": ..., "arguments": {...}, "return": ..., "message": ...}`.
Prints `READY socket=<path>` once listening; exits on SIGTERM/SIGINT or
when stdin reaches EOF.
"""
import argparse
import base64
import binascii
import ipaddress
import json
import os
import signal
import socket
import sys
import threading
import time

MAX_LINE = 4095
TYPES = ("string", "md5", "sha256", "ipv4", "ip")


def decode(settype, value):
    """The stored form of value, or None when Suricata would refuse it."""
    try:
        if settype == "string":
            raw = base64.b64decode(value.encode("ascii"), validate=True)
            return raw if raw else None
        if settype in ("md5", "sha256"):
            n = 32 if settype == "md5" else 64
            if len(value) != n:
                return None
            return binascii.unhexlify(value)
        if settype == "ipv4":
            return ipaddress.IPv4Address(value).packed
        addr = ipaddress.ip_address(value)
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        return addr.packed
    except (ValueError, binascii.Error, UnicodeEncodeError):
        return None


class State:
    def __init__(self, sets, busy, version, log):
        self.lock = threading.Lock()
        self.sets = {name: (t, set()) for name, t in sets}
        self.busy = busy
        self.busy_seen = {}
        self.version = version
        self.major = int(version.split(".")[0]) if version[:1].isdigit() else 0
        self.log = open(log, "a", buffering=1) if log else None
        self.reloads = 0

    def answer(self, msg):
        cmd = msg.get("command")
        args = msg.get("arguments") or {}
        if not isinstance(cmd, str):
            return "NOK", "Invalid command"
        if cmd == "version":
            return "OK", self.version
        if cmd in ("dataset-add", "dataset-remove", "dataset-lookup"):
            return self.dataset(cmd, args)
        if cmd == "dataset-clear" and self.major >= 7:
            return self.clear(args)
        if cmd == "dataset-dump":
            return "OK", "datasets dump done"
        if cmd in ("ruleset-reload-nonblocking", "ruleset-reload-rules", "reload-rules"):
            self.reloads += 1
            return "OK", "done"
        return "NOK", "Unknown command"

    def check(self, args, need_value):
        if not isinstance(args.get("setname"), str):
            return "setname is not a string"
        if not isinstance(args.get("settype"), str):
            return "settype is not a string"
        if need_value and not isinstance(args.get("datavalue"), str):
            return "datavalue is not string"
        if args["settype"] not in TYPES:
            return "unknown settype"
        s = self.sets.get(args["setname"])
        if not s or s[0] != args["settype"]:
            return "set not found or wrong type"
        return None

    def dataset(self, cmd, args):
        bad = self.check(args, True)
        if bad:
            return "NOK", bad
        settype, items = self.sets[args["setname"]]
        v = decode(settype, args["datavalue"])
        if cmd == "dataset-add":
            if v is None:
                return "NOK", "failed to add data"
            if v in items:
                return "OK", "data already in set"
            items.add(v)
            return "OK", "data added"
        if cmd == "dataset-lookup":
            return ("OK", "item found in set") if v in items else ("NOK", "item not found in set")
        key = (args["setname"], v)
        if v in items and self.busy_seen.get(key, 0) < self.busy:
            self.busy_seen[key] = self.busy_seen.get(key, 0) + 1
            return "OK", "data is busy, try again"
        if v is None or v not in items:
            return "NOK", "failed to remove data"
        items.discard(v)
        self.busy_seen.pop(key, None)
        return "OK", "data removed"

    def clear(self, args):
        bad = self.check(args, False)
        if bad:
            return "NOK", bad
        self.sets[args["setname"]][1].clear()
        return "OK", "dataset cleared"

    def handle(self, msg):
        with self.lock:
            ret, message = self.answer(msg)
            if self.log:
                self.log.write(json.dumps({"t": time.time(), "command": msg.get("command"),
                                           "arguments": msg.get("arguments"), "return": ret,
                                           "message": message}) + "\n")
        return ret, message


def reply(conn, obj, newline):
    data = json.dumps(obj, separators=(",", ":")) + ("\n" if newline else "")
    conn.sendall(data.encode())


def read_hello(conn):
    """The version message: a whole JSON object, with or without a newline."""
    buf = b""
    while len(buf) <= MAX_LINE:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        buf += chunk
        try:
            return json.loads(buf.decode())
        except ValueError:
            continue
    return None


def serve(conn, state):
    with conn:
        hello = read_hello(conn)
        if not isinstance(hello, dict) or hello.get("version") not in ("0.1", "0.2"):
            return
        newline = hello["version"] == "0.2"
        reply(conn, {"return": "OK"}, newline)
        buf = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
            if len(buf) > MAX_LINE + 1:
                return
            if newline and not buf.endswith(b"\n"):
                continue
            if buf.strip().count(b"\n"):
                sys.stderr.write("suricata_sock: two commands in one read, closing\n")
                return
            try:
                msg = json.loads(buf.decode())
            except ValueError:
                if newline:
                    return
                continue
            buf = b""
            if not isinstance(msg, dict):
                reply(conn, {"message": "Invalid command", "return": "NOK"}, newline)
                continue
            ret, message = state.handle(msg)
            reply(conn, {"message": message, "return": ret}, newline)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--set", action="append", default=[], help="name:type")
    ap.add_argument("--busy", type=int, default=0)
    ap.add_argument("--version", default="7.0.2 RELEASE")
    ap.add_argument("--log")
    ap.add_argument("--no-stdin-watch", action="store_true")
    a = ap.parse_args()
    sets = []
    for s in a.set:
        name, _, t = s.partition(":")
        if t not in TYPES:
            ap.error("bad --set %s" % s)
        sets.append((name, t))
    state = State(sets, a.busy, a.version, a.log)
    if os.path.exists(a.socket):
        os.unlink(a.socket)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(a.socket)
    srv.listen(8)

    def stop(*_):
        try:
            os.unlink(a.socket)
        except OSError:
            pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not a.no_stdin_watch:
        threading.Thread(target=lambda: (sys.stdin.read(), stop()), daemon=True).start()
    print("READY socket=%s" % a.socket, flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, state), daemon=True).start()


if __name__ == "__main__":
    main()
