#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A static HTTP server for a MISP-format feed directory (tests only).

Serves `manifest.json`, `<event uuid>.json` and any other regular file at the
top of --dir the way a web server in front of a MISP feed does
(../shared/reference/misp.md §5.1): MISP and iocbus fetch
`GET {url}/manifest.json` with `If-None-Match`, then `GET {url}/{uuid}.json`
for each new or changed event.

Run:  /usr/bin/python3 tests/servers/feed_server.py --dir DIR [--port 0] [--no-stdin-watch]
Listens on 127.0.0.1 only (port 0 = an ephemeral one) and prints
`READY port=<port>` on stdout once listening. Exits on SIGTERM/SIGINT or when
stdin reaches EOF (unless --no-stdin-watch), so a test that dies takes its
server with it.

Files are read from disk at every request, so a test changes the feed by
editing the directory. Each response:
  - 200 with the file, `Content-Type: application/json`, `Content-Length`,
    `ETag: "<sha1 hex of the body>"`;
  - 304 with no body when `If-None-Match` lists that ETag (or `*`; weak
    `W/"..."` forms compare equal);
  - 404 for a missing file, a name with `/`, `..` or a leading `.`;
  - 405 for methods other than GET/HEAD.

Test-only control plane (never counted in the request log):
  POST /_control/fail      body {"count": N, "status": S}: the next N feed
                           requests answer status S (default 503) with a
                           short JSON error body instead of the file.
                           {"count": 0} cancels.
  GET  /_control/requests  JSON list, oldest first, of every feed request:
                           {"path", "if_none_match" (header text or null),
                            "status" (what was answered)}.
  POST /_control/reset     clear the request log and any pending failures.
"""
import argparse
import hashlib
import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class State:
    """Shared between handler threads; every field under `lock`."""

    def __init__(self, root):
        self.root = root
        self.lock = threading.Lock()
        self.fail_count = 0
        self.fail_status = 503
        self.requests = []


def etag_matches(header, etag):
    if header is None:
        return False
    bare = etag.strip('"')
    for item in header.split(","):
        item = item.strip()
        if item == "*":
            return True
        if item.startswith("W/"):
            item = item[2:]
        if item.strip('"') == bare:
            return True
    return False


class Handler(BaseHTTPRequestHandler):
    server_version = "iocbus-feed-test/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    @property
    def state(self):
        return self.server.state

    def reply(self, status, body=b"", ctype="application/json", etag=None, head=False):
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        if etag:
            self.send_header("ETag", etag)
        self.end_headers()
        if body and not head and status != 304:
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > 1 << 20:
            return None
        return self.rfile.read(n) if n else b""

    def control(self, method, path):
        st = self.state
        if method == "GET" and path == "/_control/requests":
            with st.lock:
                body = json.dumps(st.requests).encode()
            return self.reply(200, body)
        if method == "POST" and path == "/_control/fail":
            raw = self.read_body()
            try:
                req = json.loads(raw or b"{}")
                count = int(req.get("count", 1))
                status = int(req.get("status", 503))
                if count < 0 or not 100 <= status <= 599:
                    raise ValueError("count >= 0, 100 <= status <= 599")
            except (ValueError, TypeError, AttributeError) as e:
                return self.reply(400, json.dumps({"error": str(e)}).encode())
            with st.lock:
                st.fail_count, st.fail_status = count, status
            return self.reply(200, b'{"ok":true}')
        if method == "POST" and path == "/_control/reset":
            self.read_body()
            with st.lock:
                st.requests.clear()
                st.fail_count = 0
            return self.reply(200, b'{"ok":true}')
        return self.reply(404, b'{"error":"unknown control"}')

    def serve(self, head):
        path = urlsplit(self.path).path
        if path.startswith("/_control/"):
            return self.control(self.command, path)
        st = self.state
        inm = self.headers.get("If-None-Match")
        status, body, etag = 404, b'{"error":"not found"}', None
        with st.lock:
            failing = st.fail_count > 0
            if failing:
                st.fail_count -= 1
                fail_status = st.fail_status
        name = path[1:]
        if failing:
            status, body = fail_status, json.dumps({"error": "injected failure"}).encode()
        elif name and "/" not in name and not name.startswith(".") and ".." not in name:
            full = os.path.join(st.root, name)
            try:
                with open(full, "rb") as f:
                    data = f.read()
            except OSError:
                data = None
            if data is not None:
                etag = '"%s"' % hashlib.sha1(data).hexdigest()
                if etag_matches(inm, etag):
                    status, body = 304, b""
                else:
                    status, body = 200, data
        with st.lock:
            st.requests.append({"path": path, "if_none_match": inm, "status": status})
        self.reply(status, body, etag=etag, head=head)

    def do_GET(self):
        self.serve(False)

    def do_HEAD(self):
        self.serve(True)

    def do_POST(self):
        path = urlsplit(self.path).path
        if path.startswith("/_control/"):
            return self.control("POST", path)
        self.read_body()
        self.reply(405, b'{"error":"method not allowed"}')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="feed directory (manifest.json + <uuid>.json)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--no-stdin-watch", action="store_true")
    args = ap.parse_args()

    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    srv.state = State(os.path.abspath(args.dir))
    stop = threading.Event()

    def shutdown(*_):
        stop.set()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    if not args.no_stdin_watch:
        def watch():
            try:
                # os.read, not sys.stdin: a daemon thread blocked in a buffered
                # read aborts the interpreter at exit
                while os.read(0, 4096):
                    pass
            except (OSError, ValueError):
                pass
            stop.set()
        threading.Thread(target=watch, daemon=True).start()

    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    print("READY port=%d" % srv.server_address[1], flush=True)
    while not stop.wait(0.2):
        pass
    srv.shutdown()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
