# SPDX-License-Identifier: Apache-2.0
"""End-to-end harness for `iocbus run` (issue #4).

Starts the real pieces on loopback with ephemeral ports and bounded waits:
  Misp       tests/servers/misp_server.py (REST + ZeroMQ PUB + control plane)
  KafkaMock  tests/servers/kafka_mock (librdkafka's mock cluster)
  Iocbus     `iocbus run -c <config>` with an HTTP endpoint on a free port

Every process gets its stdin on a pipe, so it dies with the test runner.
Binaries come from the environment that tests/e2e/e2e.cmake sets:
IOCB_BIN (iocbus) and IOCB_KAFKA_MOCK (kafka_mock); by hand they default
to build/dev. Configs are written as JSON, which is YAML.

    with Misp() as misp, Iocbus({"misp": misp.misp_config(zmq=True)}) as d:
        a = misp.control("attribute", event_id=e["id"], type="ip-dst", value="10.0.0.1")
        wait_until(lambda: d.hits("10.0.0.1") == 1, what="add applied")
        assert d.metric("iocbus_updates_total", source="zmq", action="add") >= 1
"""
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("IOCB_BIN") or os.path.join(ROOT, "build/dev/src/cli/iocbus")
KAFKA_MOCK = os.environ.get("IOCB_KAFKA_MOCK") or os.path.join(ROOT, "build/dev/tests/servers/kafka_mock")
PY = "/usr/bin/python3"
MISP_SERVER = os.path.join(ROOT, "tests/servers/misp_server.py")
ES_SERVER = os.path.join(ROOT, "tests/servers/es_server.py")


def free_port():
    """A port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(fn, timeout=10.0, interval=0.02, what="condition"):
    """Poll fn() until it returns a truthy value; return it, or fail after timeout seconds."""
    end = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = fn()
            if v:
                return v
        except (OSError, http.client.HTTPException, ValueError) as e:
            last_exc = e
        if time.monotonic() >= end:
            raise AssertionError("timed out after %.1fs waiting for %s%s" %
                                 (timeout, what, " (last error: %r)" % last_exc if last_exc else ""))
        time.sleep(interval)


def _read_ready(proc, prefix, timeout):
    """Read stdout lines until one starts with prefix; return it."""
    end = time.monotonic() + timeout
    buf = b""
    while time.monotonic() < end:
        r, _, _ = select.select([proc.stdout], [], [], 0.1)
        if r:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            buf += chunk
            for line in buf.split(b"\n"):
                if line.startswith(prefix.encode()):
                    return line.decode()
        if proc.poll() is not None:
            break
    raise AssertionError("process did not print %r within %.0fs (exit %r, output %r)" %
                         (prefix, timeout, proc.poll(), buf[-500:]))


def _stop(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return proc.returncode if proc else None
    proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(5)


def control(port, action, body, query="", what="control"):
    """POST /_control/<action><query> with a JSON body to a test server (MISP or Elasticsearch)
    on 127.0.0.1:port; returns the decoded answer, raises AssertionError on a non-2xx status."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("POST", "/_control/" + action + query, json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        if r.status >= 300:
            raise AssertionError("%s %s -> %d %s" % (what, action, r.status, data[:300]))
        return json.loads(data) if data else None
    finally:
        c.close()


class ServerProcess:
    """A test server child with stdin and stdout on pipes (it exits when its stdin closes):
    subclasses set self.proc; close() stops it and releases the pipes."""

    proc = None

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        _stop(self.proc)
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Misp(ServerProcess):
    """The MISP test server. control() drives it; misp_config() is the matching `misp:` section."""

    def __init__(self, heartbeat=10, kafka_bootstrap=None, kafka_topics=(), args=(), logdir=None):
        cmd = [PY, MISP_SERVER, "--rest-port", "0", "--zmq-port", "0", "--heartbeat", str(heartbeat)]
        if kafka_bootstrap:
            cmd += ["--kafka-bootstrap", kafka_bootstrap]
            for t in kafka_topics:
                cmd += ["--kafka-topic", t]
        cmd += list(args)
        self.log = tempfile.NamedTemporaryFile(prefix="misp-", suffix=".log", dir=logdir, delete=False)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        line = _read_ready(self.proc, "READY", 30)
        kv = dict(p.split("=", 1) for p in line.split()[1:])
        self.rest_port = int(kv["rest"])
        self.zmq_port = int(kv["zmq"])
        self.key = kv["key"]
        self.url = "http://127.0.0.1:%d" % self.rest_port

    def control(self, action, **body):
        """POST /_control/<action> with a JSON body; returns the decoded answer (raises on non-2xx)."""
        return control(self.rest_port, action, body)

    def attribute(self, event, typ, value, **kw):
        """Add an attribute to `event` (a control-plane event row) through MISP."""
        return self.control("attribute", event_id=event["id"], type=typ, value=value, **kw)

    def misp_config(self, zmq=False, api=True, pull=None, key=None, filters=None, heartbeat_timeout=None):
        """A `misp:` section pointing at this server."""
        m = {}
        if api:
            m["api"] = {"host": self.url, "key": key or self.key, "ssl": False, "timeout": 10}
        if zmq:
            m["zmq"] = {"host": "127.0.0.1", "port": self.zmq_port}
            if heartbeat_timeout is not None:
                m["zmq"]["heartbeat_timeout"] = heartbeat_timeout
        if pull is not None:
            m["pull"] = pull
        if filters is not None:
            m["filter"] = filters
        return m

    def close(self):
        super().close()
        self.log.close()
        if not os.environ.get("IOCB_KEEP_LOGS"):
            os.unlink(self.log.name)


class Es(ServerProcess):
    """The Elasticsearch _bulk test server (tests/servers/es_server.py). control() drives its
    fault injection; the control port stays up while the ES port is `down`."""

    def __init__(self, args=()):
        self.proc = subprocess.Popen([PY, ES_SERVER, "--port", "0", "--control-port", "0"] + list(args),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line = _read_ready(self.proc, "READY", 30)
        kv = dict(p.split("=", 1) for p in line.split()[1:])
        self.port = int(kv["port"])
        self.control_port = int(kv["control"])
        self.url = "http://127.0.0.1:%d" % self.port

    def control(self, action, query="", **body):
        """POST /_control/<action> on the control port; returns the decoded answer."""
        return control(self.control_port, action, body, query, what="es control")

    def docs(self, index=None):
        """Every stored document ({_index,_id,_source,...}), of `index` when given."""
        return self.control("docs", query="?index=" + index if index else "")["docs"]

    def output_config(self, name="es", index="logs-iocbus", **kw):
        """An `outputs[]` entry for this server (fast retries for tests)."""
        o = {"name": name, "type": "elasticsearch", "hosts": [self.url], "index": index,
             "retry_initial": "50ms", "retry_max": "500ms", "flush_interval": "100ms", "timeout": "10s"}
        o.update(kw)
        return o


def check_attribute_lifecycle(misp, d, a, b):
    """Drive MISP through an attribute's life and check /v1/lookup follows each step: a is
    an ip-dst 192.0.2.1 attribute already matchable, b a domain gone.example one. The same
    sequence for every live source (ZeroMQ, Kafka)."""
    misp.control("attribute/edit", id=a["id"], value="192.0.2.2")
    wait_until(lambda: d.hits("192.0.2.2") == 1, what="edited value")
    if d.hits("192.0.2.1") != 0:
        raise AssertionError("old value still matches after the edit")
    misp.control("attribute/edit", id=a["id"], to_ids=False)
    wait_until(lambda: d.hits("192.0.2.2") == 0, what="to_ids off")
    misp.control("attribute/edit", id=a["id"], to_ids=True)
    wait_until(lambda: d.hits("192.0.2.2") == 1, what="to_ids on again")
    misp.control("attribute/soft-delete", id=a["id"])
    wait_until(lambda: d.hits("192.0.2.2") == 0, what="soft-delete")
    misp.control("attribute/delete", id=b["id"])
    wait_until(lambda: d.hits("gone.example") == 0, what="delete")


class KafkaMock(ServerProcess):
    """librdkafka's mock cluster; .bootstrap is HOST:PORT. topics like "misp_attribute:1"."""

    def __init__(self, topics=("misp_attribute:1",), brokers=1):
        self.proc = subprocess.Popen([KAFKA_MOCK, str(brokers)] + list(topics), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE)
        line = _read_ready(self.proc, "READY", 30)
        self.bootstrap = line.split("bootstraps=", 1)[1].strip()


_METRIC = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text -> list of (name, {labels}, float). Raises ValueError on a malformed line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _METRIC.match(line)
        if not m:
            raise ValueError("bad metrics line: %r" % line)
        labels = dict(_LABEL.findall(m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


class Iocbus:
    """`iocbus run` with `config` (a dict); HTTP on a free port. Restartable with the same files."""

    def __init__(self, config, workdir=None, start=True, log_level="info"):
        self.tmp = None
        if workdir is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="iocbus-e2e-")
            workdir = self.tmp.name
        self.workdir = workdir
        self.config_path = os.path.join(workdir, "iocbus.yaml")
        self.log_path = os.path.join(workdir, "iocbus.log")
        self.port = free_port()
        self.proc = None
        self.write_config(config, log_level)
        if start:
            self.start()

    def write_config(self, config, log_level="info"):
        """Write config (dict) as the file `iocbus run` reads; HTTP and logging filled in."""
        c = json.loads(json.dumps(config))
        c.setdefault("http", {})
        c["http"].setdefault("port", self.port)
        c.setdefault("logging", {"level": log_level})
        self.config = c
        with open(self.config_path + ".tmp", "w") as f:
            json.dump(c, f, indent=1)
        os.replace(self.config_path + ".tmp", self.config_path)

    def start(self, timeout=20, wait_live=True):
        """Start and wait for /healthz; with wait_live, also until the ZeroMQ subscriber is connected
        (a PUB drops what it sends before the subscription arrives, so tests act after that)."""
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BIN, "run", "-c", self.config_path], stdin=subprocess.PIPE,
                                     stdout=self.logf, stderr=self.logf)
        wait_until(lambda: self.proc.poll() is not None or self._healthz_status() is not None, timeout,
                   what="iocbus /healthz")
        if self.proc.poll() is not None:
            raise AssertionError("iocbus run exited %d:\n%s" % (self.proc.returncode, self.log()[-3000:]))
        if wait_live and "zmq" in self.config.get("misp", {}):
            try:
                wait_until(lambda: self.metric("iocbus_source_up", source="zmq") == 1, timeout,
                           what="ZeroMQ subscriber connected")
            except AssertionError as e:
                raise AssertionError("%s; exit %r; log tail:\n%s" % (e, self.proc.poll(), self.log()[-3000:]))
            # libzmq sends the subscription right after connecting; give it a moment to land
            time.sleep(0.2)

    def _healthz_status(self):
        try:
            return self.get("/healthz")[0]
        except OSError:
            return None

    def get(self, path, timeout=10):
        """GET path -> (status, body bytes)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def lookup(self, value):
        """/v1/lookup for one value -> the decoded object {"value","matches"[, "truncated"]}."""
        st, body = self.get("/v1/lookup?value=" + urllib.parse.quote(value, safe=""))
        if st != 200:
            raise AssertionError("lookup %r -> %d %r" % (value, st, body[:200]))
        return json.loads(body.splitlines()[0])

    def hits(self, value):
        return len(self.lookup(value)["matches"])

    def metrics(self):
        st, body = self.get("/metrics")
        if st != 200:
            raise AssertionError("/metrics -> %d" % st)
        return parse_metrics(body.decode())

    def metric(self, name, **labels):
        """Sum of the samples of `name` whose labels include `labels`; None if there is none."""
        vals = [v for n, l, v in self.metrics() if n == name and all(l.get(k) == str(x) for k, x in labels.items())]
        return sum(vals) if vals else None

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def term(self, timeout=20):
        """SIGTERM; returns the exit code."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError("iocbus did not stop within %ds after SIGTERM" % timeout)
        self._close_io()
        return rc

    def _close_io(self):
        for f in (self.logf, self.proc.stdin):
            if f and not f.closed:
                f.close()

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)
        self._close_io()

    def restart(self):
        if self.proc and self.proc.poll() is None:
            self.term()
        self.start()

    def close(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.term()
            except AssertionError:
                pass
        if self.proc is not None:
            self._close_io()
        if self.tmp:
            self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None and self.proc is not None:
            sys.stderr.write("---- iocbus log (tail) ----\n%s\n" % self.log()[-4000:])
        self.close()


def report(failures, ok_text, detail=""):
    """End a script-style test: print the failures (and detail) and exit 1, or print ok_text."""
    if failures:
        print("\n".join(failures))
        if detail:
            print(detail)
        sys.exit(1)
    print("ok: " + ok_text)
