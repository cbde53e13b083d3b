# SPDX-License-Identifier: Apache-2.0
"""Warnings for settings that weaken security (issue #11 item 7).

TLS verification off (misp.api `ssl: false` with an https host,
Elasticsearch `tls_verify: false`, Kafka
`enable.ssl.certificate.verification: false`) and listeners without
authentication on a non-loopback address (http, `tcp` inputs, the bus
without `bus.curve`) are each
warned about once: `iocbus run` at start and not again on SIGHUP, and
`iocbus check-config`. The loopback, verified configuration gets none.
Listeners are checked through check-config, so the test binds loopback only.
"""
import copy
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Iocbus, free_port, report, wait_until  # noqa: E402

TLS = "TLS certificate verification is off"
OPEN = "listener without authentication on a non-loopback address"


def base(tmp):
    dead = free_port()
    src = os.path.join(tmp, "in.ndjson")
    open(src, "w").close()
    return {
        "misp": {"api": {"host": "https://127.0.0.1:%d" % dead, "key": "k" * 40, "timeout": 1}},
        "inputs": [{"name": "tail", "type": "file", "path": src},
                   {"name": "tcpin", "type": "tcp", "host": "127.0.0.1", "port": 0}],
        "outputs": [{"name": "es", "type": "elasticsearch", "index": "i",
                     "hosts": ["https://127.0.0.1:%d" % dead]},
                    {"name": "kout", "type": "kafka", "topic": "t",
                     "kafka": {"bootstrap.servers": "127.0.0.1:%d" % dead}}],
        "bus": {"host": "127.0.0.1", "manage": 0, "pub": 0, "sub": 0},
    }


def insecure_tls(cfg):
    c = copy.deepcopy(cfg)
    c["misp"]["api"]["ssl"] = False
    c["outputs"][0]["tls_verify"] = False
    c["outputs"][1]["kafka"]["enable.ssl.certificate.verification"] = "false"
    return c


def lines(text, what):
    return [l for l in text.splitlines() if what in l]


def check_config(tmp, cfg, name):
    d = Iocbus(cfg, workdir=tmp, start=False)
    path = os.path.join(tmp, name)
    os.replace(d.config_path, path)
    p = subprocess.run([BIN, "check-config", path], capture_output=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError("check-config failed: %r" % p.stderr[-500:])
    return p.stderr.decode()


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="iocbus-exposure-") as tmp:
        # the daemon: three TLS warnings at start, none repeated by a reload, none for loopback
        with Iocbus(insecure_tls(base(tmp)), workdir=tmp) as d:
            d.hup()
            wait_until(lambda: '"reloaded"' in d.log() or "reload rejected" in d.log(), 20, what="the reload done")
            d.term()
            log = d.log()
        tls = lines(log, TLS)
        for where in ("misp.api", "outputs[es]", "outputs[kout]"):
            n = len([l for l in tls if 'where="%s"' % where in l])
            if n != 1:
                failures.append("iocbus run: %d TLS warnings for %s, want 1" % (n, where))
        if lines(log, OPEN):
            failures.append("iocbus run: listener warning for loopback listeners")
        os.unlink(os.path.join(tmp, "iocbus.log"))
        with Iocbus(base(tmp), workdir=tmp) as d:
            d.term()
            log = d.log()
        if lines(log, TLS) or lines(log, OPEN):
            failures.append("iocbus run, verified and loopback: %s" % (lines(log, TLS) + lines(log, OPEN)))

        # check-config: the listener warnings (nothing is bound)
        cfg = insecure_tls(base(tmp))
        cfg["inputs"][1]["host"] = "0.0.0.0"
        # beyond loopback without http.auth the load refuses it unless allow_no_auth (test_run_http_auth.py)
        cfg["http"] = {"host": "::", "port": free_port(), "allow_no_auth": True}
        cfg["bus"].update(host="0.0.0.0", advertise_host="192.0.2.7")
        err = check_config(tmp, cfg, "open.yaml")
        if len(lines(err, TLS)) != 3:
            failures.append("check-config: %d TLS warnings, want 3:\n%s" % (len(lines(err, TLS)), err))
        opened = lines(err, OPEN)
        if len(opened) != 3 or not any('where="inputs[tcpin]"' in l for l in opened) or \
                not any('where="http"' in l for l in opened) or not any('where="bus"' in l for l in opened):
            failures.append("check-config: listener warnings %r" % opened)
        # the bus with CURVE is authenticated wherever it listens (check-config reads the key files)
        key, clients = os.path.join(tmp, "bus.key"), os.path.join(tmp, "clients")
        subprocess.run([BIN, "bus", "keygen", key], check=True, capture_output=True, timeout=30)
        with open(clients, "w") as f:
            f.write(subprocess.run([BIN, "bus", "keygen", key + "2"], check=True, capture_output=True,
                                   text=True, timeout=30).stdout)
        cfg["bus"]["curve"] = {"secret_key_file": key, "clients_file": clients}
        err = check_config(tmp, cfg, "curve.yaml")
        if any('where="bus"' in l for l in lines(err, OPEN)):
            failures.append("check-config: bus with curve warned about: %r" % lines(err, OPEN))
        cfg = base(tmp)
        cfg["http"] = {"host": "::1", "port": free_port()}
        cfg["inputs"][1]["host"] = "127.0.0.2"
        cfg["bus"]["host"] = "::1"
        err = check_config(tmp, cfg, "closed.yaml")
        if lines(err, TLS) or lines(err, OPEN):
            failures.append("check-config, verified and loopback: %r" % err)
    report(failures, "each exposure warned once; none for loopback and verified TLS")


if __name__ == "__main__":
    main()
