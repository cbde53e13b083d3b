# SPDX-License-Identifier: Apache-2.0
"""The shutdown log says what happened to undelivered events (issue #11 item 7).

An Elasticsearch and a Kafka output point at loopback ports where nothing
listens, so nothing is delivered before the 1 s shutdown deadline. Without
`state_dir` the log used to say "events lost at shutdown: no spool" and then
"undelivered batches spooled". Now, per output, one line says the events
were dropped and why, and nothing claims they were spooled; with a
`state_dir` one line says they were kept in the spool and nothing was
dropped.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Iocbus, free_port, report, wait_until  # noqa: E402

N = 40


def run(tmp, state_dir):
    src = os.path.join(tmp, "in-%s.ndjson" % bool(state_dir))
    with open(src, "w") as f:
        f.write("".join('{"n":%d}\n' % i for i in range(N)))
    dead = free_port()
    cfg = {
        "inputs": [{"name": "tail", "type": "file", "path": src}],
        "outputs": [
            {"name": "es", "type": "elasticsearch", "index": "logs", "hosts": ["http://127.0.0.1:%d" % dead],
             "retry_max": "1s"},
            {"name": "kout", "type": "kafka", "topic": "t", "kafka": {"bootstrap.servers": "127.0.0.1:%d" % dead}},
        ],
        "pipeline": {"shutdown_timeout": "1s", "batch_interval": "10ms"},
    }
    if state_dir:
        cfg["pipeline"]["state_dir"] = state_dir
    with Iocbus(cfg, workdir=tmp) as d:
        wait_until(lambda: d.metric("iocbus_input_events_total", input="tail") == N, 15, what="file read")
        rc = d.term()
        log = d.log()
        os.unlink(d.log_path)
    return rc, [l for l in log.splitlines() if "shutdown" in l or "spool" in l or "dropped" in l], log


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="iocbus-shutlog-") as tmp:
        rc, lines, log = run(tmp, None)
        text = "\n".join(lines)
        for out in ("es", "kout"):
            if not any("undelivered events dropped: no spool" in l and 'output="%s"' % out in l for l in lines):
                failures.append("no state_dir: no line saying %s's events were dropped" % out)
        if "spooled" in text or "kept in the spool" in text:
            failures.append("no state_dir: the log claims batches were spooled")
        if "events lost at shutdown" in text or "events dropped at shutdown" in text:
            failures.append("no state_dir: per-batch loss lines next to the summary")
        rc2, lines2, log2 = run(tmp, os.path.join(tmp, "state"))
        text2 = "\n".join(lines2)
        for out in ("es", "kout"):
            if not any("kept in the spool" in l and 'output="%s"' % out in l for l in lines2):
                failures.append("state_dir: no line saying %s's batches were kept in the spool" % out)
        if "dropped" in text2:
            failures.append("state_dir: the log says events were dropped")
        if rc or rc2:
            failures.append("exit codes %r %r" % (rc, rc2))
    report(failures, "\n" + text + "\n" + text2,
           "---- shutdown lines without state_dir ----\n%s\n---- with state_dir ----\n%s" % (text, text2))


if __name__ == "__main__":
    main()
