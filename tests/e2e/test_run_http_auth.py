# SPDX-License-Identifier: Apache-2.0
"""http.auth through `iocbus run` and `iocbus check-config` (issue #16 §1):

- an endpoint beyond loopback without http.auth is refused by check-config
  and by run (exit 2, the reason named), unless http.allow_no_auth, which
  logs the listener warning; with http.auth there is no warning;
- a world-readable token file is refused by check-config and run;
- with a bearer token file and an htpasswd file (a SHA-crypt hash made here):
  /, /v1/status, /metrics and /v1/lookup answer 401 with WWW-Authenticate
  without or with wrong credentials, 200 with the token or the password;
  /healthz stays open; iocbus_http_auth_requests_total counts by result;
  the token and the password never appear in the log."""
import base64
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Iocbus, free_port, parse_metrics, report  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # noqa: E402  (Debian 12's Python 3.11 has it: a SHA-crypt hash as mkpasswd writes)

TOKEN = "e2e-token-0123456789abcdef"
PASSWORD = "pa55-word-e2e"
OPEN = "listener without authentication on a non-loopback address"


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def check_config(tmp, cfg):
    path = os.path.join(tmp, "check.yaml")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.run([BIN, "check-config", path], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def run_refused(tmp, cfg):
    """`iocbus run` with cfg must exit by itself (2) before serving: returns (code, output)."""
    path = os.path.join(tmp, "run.yaml")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.run([BIN, "run", "-c", path], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr


def get(port, path, headers=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="iocbus-auth-") as tmp:
        tokens, users = os.path.join(tmp, "tokens"), os.path.join(tmp, "users")
        write(tokens, "# status page\n%s\n" % TOKEN)
        write(users, "ops:%s\n" % crypt.crypt(PASSWORD, "$6$e2esaltsalt$"))
        port = free_port()

        # beyond loopback: refused without auth, warned with allow_no_auth, silent with auth
        cfg = {"http": {"host": "0.0.0.0", "port": port}}
        rc, out = check_config(tmp, cfg)
        if rc != 2 or "beyond loopback" not in out or "allow_no_auth" not in out:
            failures.append("check-config without auth beyond loopback: rc %d %r" % (rc, out[-300:]))
        rc, out = run_refused(tmp, cfg)
        if rc != 2 or "beyond loopback" not in out:
            failures.append("run without auth beyond loopback: rc %d %r" % (rc, out[-300:]))
        cfg["http"]["allow_no_auth"] = True
        rc, out = check_config(tmp, cfg)
        if rc != 0 or OPEN not in out:
            failures.append("check-config with allow_no_auth: rc %d, want 0 and the warning: %r" % (rc, out[-300:]))
        cfg["http"] = {"host": "0.0.0.0", "port": port, "auth": {"token_file": tokens}}
        rc, out = check_config(tmp, cfg)
        if rc != 0 or OPEN in out:
            failures.append("check-config with auth: rc %d, want 0 and no warning: %r" % (rc, out[-300:]))
        os.chmod(tokens, 0o644)
        rc, out = check_config(tmp, cfg)
        if rc != 2 or "chmod 600" not in out or TOKEN in out:
            failures.append("check-config, world-readable token file: rc %d %r" % (rc, out[-300:]))
        rc, out = run_refused(tmp, cfg)
        if rc != 2 or "chmod 600" not in out or TOKEN in out:
            failures.append("run, world-readable token file: rc %d %r" % (rc, out[-300:]))
        os.chmod(tokens, 0o600)

        # the daemon on loopback with both schemes
        bearer = {"Authorization": "Bearer " + TOKEN}
        basic = {"Authorization": "Basic " + base64.b64encode(("ops:" + PASSWORD).encode()).decode()}
        wrong = {"Authorization": "Bearer " + TOKEN[:-1] + "X"}
        with Iocbus({"http": {"auth": {"token_file": tokens, "users_file": users, "realm": "e2e"}}},
                    workdir=tmp) as d:
            for path in ("/", "/v1/status", "/metrics", "/v1/lookup?value=x"):
                for h in (None, wrong):
                    st, hdrs, _ = get(d.port, path, h)
                    if st != 401 or 'Bearer realm="e2e"' not in hdrs.get("WWW-Authenticate", ""):
                        failures.append("%s with %r: %d %r" % (path, h, st, hdrs.get("WWW-Authenticate")))
                for h in (bearer, basic):
                    st, _, _ = get(d.port, path, h)
                    if st != 200:
                        failures.append("%s with %s: %d, want 200" % (path, h["Authorization"][:6], st))
            st, _, body = get(d.port, "/healthz")
            if st != 200:
                failures.append("/healthz without credentials: %d" % st)
            st, _, body = get(d.port, "/metrics", bearer)
            m = parse_metrics(body.decode())
            want = {"ok": 9, "missing": 4, "denied": 4}
            for res, n in want.items():
                v = sum(val for name, labels, val in m
                        if name == "iocbus_http_auth_requests_total" and labels.get("result") == res)
                if v != n:
                    failures.append("iocbus_http_auth_requests_total{result=%s} = %r, want %d" % (res, v, n))
            d.term()
            log = d.log()
            if TOKEN in log or PASSWORD in log:
                failures.append("a secret is in the log")
            if "auth=bearer,basic" not in log:
                failures.append("the start line does not say which schemes are on")
    report(failures, "http.auth: required beyond loopback, 401 with challenges, bearer and basic, /healthz open")


if __name__ == "__main__":
    main()
