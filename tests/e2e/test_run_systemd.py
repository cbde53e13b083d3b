# SPDX-License-Identifier: Apache-2.0
"""`iocbus run` under systemd's eyes (issue #16 §2).

A Python datagram socket in the abstract namespace stands in for systemd's
NOTIFY_SOCKET, with WATCHDOG_USEC set. It checks that:
- STATUS= lines come during start and READY=1 only once the HTTP endpoint
  and the bus listeners accept connections (they are connected to the
  moment READY=1 arrives);
- WATCHDOG=1 arrives every half interval, never a whole interval apart;
- SIGHUP gives RELOADING=1 then READY=1; SIGTERM gives STOPPING=1, exit 0.
The same run logs with `logging.format: json`: every stderr line is a JSON
object with time, level, module and message, and the MISP API key (the
API points at a dead port, so errors are logged) never appears. A second
short run with JOURNAL_STREAM naming its stderr logs `<N>` priority
prefixes and no timestamps.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, free_port, report, wait_until  # noqa: E402

WATCHDOG_US = 600000
SECRET = "SxTopSecretKey-q7-9c1"


def connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return True
    except OSError:
        return False


class Manager:
    """The systemd side of sd_notify: one datagram per message, with its arrival time."""

    def __init__(self):
        self.name = "iocbus-test-%d-%d" % (os.getpid(), time.monotonic_ns() % 100000)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.msgs = []  # (monotonic time, text)

    def recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        self.msgs.append((time.monotonic(), data.decode()))
        return data.decode()

    def wait_for(self, field, timeout, on_msg=None):
        """Receive until a message holds the line `field`; returns it (None on timeout)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            m = self.recv(max(0.01, end - time.monotonic()))
            if m is None:
                continue
            if on_msg:
                on_msg(m)
            if field in m.split("\n"):
                return m
        return None


def config(tmp, ports):
    return {
        "misp": {"api": {"host": "http://127.0.0.1:%d" % free_port(), "key": SECRET, "timeout": 1},
                 "pull": {"interval": "1s", "retry_max": "1s"}},
        "store": {"path": os.path.join(tmp, "store")},
        "http": {"host": "127.0.0.1", "port": ports["http"]},
        "bus": {"host": "127.0.0.1", "manage": ports["manage"], "pub": ports["pub"], "sub": ports["sub"]},
        "logging": {"level": "debug", "format": "json"},
    }


def notify_run(tmp, failures):
    ports = {k: free_port() for k in ("http", "manage", "pub", "sub")}
    path = os.path.join(tmp, "iocbus.yaml")
    with open(path, "w") as f:
        json.dump(config(tmp, ports), f)
    mgr = Manager()
    env = dict(os.environ, NOTIFY_SOCKET="@" + mgr.name, WATCHDOG_USEC=str(WATCHDOG_US))
    env.pop("JOURNAL_STREAM", None)
    log = open(os.path.join(tmp, "run.log"), "wb")
    proc = subprocess.Popen([BIN, "run", "-c", path], stdout=log, stderr=log, env=env)
    try:
        not_listening = []

        def check_listeners(m):
            if "READY=1" in m.split("\n"):
                not_listening.extend(k for k, p in ports.items() if not connects(p))

        ready = mgr.wait_for("READY=1", 30, check_listeners)
        if ready is None:
            failures.append("no READY=1 within 30 s; got %r" % [m for _, m in mgr.msgs])
            return
        if not_listening:
            failures.append("READY=1 before these listeners accepted connections: %s" % not_listening)
        before = [m for _, m in mgr.msgs[:-1]]
        if not any(l.startswith("STATUS=") for m in before for l in m.split("\n")):
            failures.append("no STATUS= line before READY=1: %r" % before)
        if "STATUS=running" not in ready.split("\n"):
            failures.append("READY=1 without STATUS=running: %r" % ready)
        # Watchdog: pings for 2 s, every WATCHDOG_USEC/2, never WATCHDOG_USEC apart.
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.0:
            mgr.recv(0.5)
        pings = [t for t, m in mgr.msgs if m == "WATCHDOG=1" and t >= t0 - 0.5]
        gaps = [b - a for a, b in zip(pings, pings[1:])]
        half = WATCHDOG_US / 2e6
        if len(pings) < 4:
            failures.append("%d WATCHDOG=1 in 2 s with WATCHDOG_USEC=%d" % (len(pings), WATCHDOG_US))
        elif max(gaps) >= WATCHDOG_US / 1e6 or min(gaps) < half * 0.8:
            failures.append("watchdog gaps %s, want about %.2f s and under %.2f s"
                            % (["%.3f" % g for g in gaps], half, WATCHDOG_US / 1e6))
        # Reload: RELOADING=1, then READY=1 again.
        n = len(mgr.msgs)
        proc.send_signal(signal.SIGHUP)
        if mgr.wait_for("READY=1", 20) is None:
            failures.append("no READY=1 after SIGHUP")
        elif not any("RELOADING=1" in m.split("\n") for _, m in mgr.msgs[n:]):
            failures.append("no RELOADING=1 before READY=1 on SIGHUP: %r" % [m for _, m in mgr.msgs[n:]])
        # Stop: STOPPING=1 while the process still runs its shutdown, then exit 0.
        proc.send_signal(signal.SIGTERM)
        if mgr.wait_for("STOPPING=1", 20) is None:
            failures.append("no STOPPING=1 after SIGTERM")
        rc = proc.wait(30)
        if rc != 0:
            failures.append("exit %d after SIGTERM" % rc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
    check_json_log(os.path.join(tmp, "run.log"), failures)


def check_json_log(path, failures):
    with open(path, "rb") as f:
        raw = f.read()
    if SECRET.encode() in raw:
        failures.append("the API key appears in the JSON log")
    lines = raw.decode("utf-8").splitlines()
    if len(lines) < 5:
        failures.append("only %d log lines" % len(lines))
    for l in lines:
        try:
            o = json.loads(l)
        except ValueError:
            failures.append("not a JSON line: %r" % l[:200])
            continue
        if not all(isinstance(o.get(k), str) for k in ("time", "level", "module", "message")):
            failures.append("JSON line without time/level/module/message: %r" % l[:200])
    text = "\n".join(lines)
    # The run got as far as failing to reach the API, so silence cannot pass the secret check.
    if '"module":"misp' not in text and '"module":"pull' not in text and "127.0.0.1" not in text:
        failures.append("the JSON log shows no attempt to reach the MISP API")
    if not any('"message":"running"' in l for l in lines):
        failures.append('no {"message":"running"} line in the JSON log')


def journal_run(tmp, failures):
    path = os.path.join(tmp, "journal.yaml")
    with open(path, "w") as f:
        json.dump({"http": {"host": "127.0.0.1", "port": free_port()}, "logging": {"level": "info"}}, f)
    logpath = os.path.join(tmp, "journal.log")
    log = open(logpath, "wb")
    st = os.fstat(log.fileno())
    env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
    env.pop("NOTIFY_SOCKET", None)
    proc = subprocess.Popen([BIN, "run", "-c", path], stdout=log, stderr=log, env=env)
    try:
        wait_until(lambda: b"running" in open(logpath, "rb").read() or proc.poll() is not None, 20,
                   what="journal run started")
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
    lines = open(logpath).read().splitlines()
    bad = [l for l in lines if not (l[:3] in ("<3>", "<4>", "<6>", "<7>") and "ts=" not in l)]
    if not lines or bad:
        failures.append("journal lines without a <N> prefix or with ts=: %r" % (bad or lines)[:3])
    if not any(l.startswith("<6>level=info module=daemon msg=\"running\"") for l in lines):
        failures.append("no '<6>level=info ... running' line: %r" % lines[:5])


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="iocbus-systemd-") as tmp:
        notify_run(tmp, failures)
        journal_run(tmp, failures)
    report(failures, "systemd: READY=1 after the listeners, watchdog pings, RELOADING/STOPPING; JSON and journal logs")


if __name__ == "__main__":
    main()
