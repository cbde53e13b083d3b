# SPDX-License-Identifier: Apache-2.0
"""`iocbus run -c <(...)` reads its configuration once (issue #11 item 7).

The daemon used to read the file twice, once for the sources and once for
the pipeline's own copy, so with bash process substitution the second read
found an empty pipe and the pipeline section was silently lost. Here the
configuration comes through `<(cat cfg)` and through a FIFO; a stdin input
into a file output must deliver its lines and the daemon must stop by itself
once stdin ends (which only the pipeline does). A SIGHUP in between is
refused (the pipe was used up at start) instead of loading an empty file.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, report, wait_until  # noqa: E402

LINES = "".join('{"n":%d,"source":{"ip":"192.0.2.%d"}}\n' % (i, i) for i in range(20)).encode()


def run(tmp, how):
    out = os.path.join(tmp, "out-%s.ndjson" % how)
    cfg = {"http": {"enabled": False}, "logging": {"level": "info"},
           "inputs": [{"name": "in", "type": "stdin"}],
           "outputs": [{"name": "out", "type": "file", "path": out}],
           "pipeline": {"batch_interval": "10ms"}}
    path = os.path.join(tmp, "iocbus-%s.yaml" % how)
    with open(path, "w") as f:
        json.dump(cfg, f)
    writer = None
    if how == "fifo":
        fifo = os.path.join(tmp, "cfg.fifo")
        os.mkfifo(fifo)

        def write_once():
            with open(fifo, "w") as f:  # blocks until iocbus opens it; one writer, one read
                json.dump(cfg, f)
        writer = threading.Thread(target=write_once, daemon=True)
        writer.start()
        cmd = [BIN, "run", "-c", fifo]
    else:
        cmd = ["/bin/bash", "-c", 'exec "$0" run -c <(cat "$1")', BIN, path]
    logpath = os.path.join(tmp, "iocbus-%s.log" % how)
    with open(logpath, "wb") as logf:
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=logf, stderr=logf)
        try:
            half = len(LINES) // 2
            p.stdin.write(LINES[:half])
            p.stdin.flush()
            wait_until(lambda: os.path.exists(out) and open(out, "rb").read().count(b"\n") >= 10, 30,
                       what="the first lines delivered")
            # SIGHUP: the pipe was used up at start; the reload is refused, not read as an empty file.
            p.send_signal(signal.SIGHUP)
            wait_until(lambda: b"reload rejected" in open(logpath, "rb").read(), 30, what="the reload refused")
            p.stdin.write(LINES[half:])
            p.stdin.close()
            rc = p.wait(60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    log = open(logpath, "rb").read().decode("utf-8", "replace")
    got = open(out, "rb").read() if os.path.exists(out) else b""
    if writer:
        writer.join(5)
    return rc, got, log


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="iocbus-cfgpipe-") as tmp:
        for how in ("procsub", "fifo"):
            try:
                rc, got, log = run(tmp, how)
            except (subprocess.TimeoutExpired, AssertionError) as e:
                failures.append("%s: %s (pipeline not running?)" % (how, e))
                continue
            n = got.count(b"\n")
            if rc != 0 or n != 20:
                failures.append("%s: exit %d, %d of 20 lines delivered; log:\n%s" % (how, rc, n, log[-2000:]))
    report(failures, "the pipeline section is in force with -c <(...) and with a FIFO")


if __name__ == "__main__":
    main()
