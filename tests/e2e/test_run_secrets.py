# SPDX-License-Identifier: Apache-2.0
"""Secrets never leave iocbus (issue #11 item 6).

One configuration holds every kind of secret iocbus knows: the MISP API key,
the ZeroMQ password, Kafka SASL properties (misp.kafka, inputs[].kafka,
outputs[].kafka), Elasticsearch credentials, and passwords and API keys
inside URLs (misp.api.host, feeds[].url, outputs[].hosts). `config dump`,
`check-config` and a short `iocbus run` at debug level against loopback
ports where nothing listens must not print any of them; the run must have
got as far as logging the failing URLs, so the test cannot pass by silence.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import BIN, Iocbus, free_port, report, wait_until  # noqa: E402

SECRETS = {name: "Sx%s-%s-9c1" % (name, "q7") for name in (
    "apikey", "zmqpw", "mispsasl", "mispoauth", "hostpw", "feedpw", "feedq", "insasl", "inoauth",
    "espw", "esurlpw", "outsasl", "outoauth")}


def config(tmp, zmq):
    dead = free_port()  # nothing listens here
    s = SECRETS
    misp = {
        "api": {"host": "http://misp:%s@127.0.0.1:%d" % (s["hostpw"], dead), "key": s["apikey"], "timeout": 1},
        "pull": {"interval": "1s", "retry_max": "1s"},
    }
    if zmq:
        misp["zmq"] = {"host": "127.0.0.1", "port": dead, "username": "z", "password": s["zmqpw"]}
    else:
        misp["kafka"] = {"topics": ["t"], "config": {
            "bootstrap.servers": "127.0.0.1:%d" % dead, "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanisms": "PLAIN", "sasl.username": "u", "sasl.password": s["mispsasl"],
            "sasl.oauthbearer.config": "principal=p secret=" + s["mispoauth"]}}
    log = os.path.join(tmp, "events.ndjson")
    with open(log, "w") as f:
        f.write('{"source":{"ip":"192.0.2.1"}}\n')
    kafka_in = {"bootstrap.servers": "127.0.0.1:%d" % dead, "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanisms": "PLAIN", "sasl.username": "u", "sasl.password": s["insasl"],
                "sasl.oauthbearer.config": "principal=p secret=" + s["inoauth"]}
    kafka_out = dict(kafka_in, **{"sasl.password": s["outsasl"],
                                  "sasl.oauthbearer.config": "principal=p secret=" + s["outoauth"]})
    return {
        "misp": misp,
        "feeds": [{"name": "f", "interval": "1s",
                   "url": "http://fu:%s@127.0.0.1:%d/feed/?apikey=%s" % (s["feedpw"], dead, s["feedq"])}],
        "inputs": [{"name": "file", "type": "file", "path": log},
                   {"name": "k", "type": "kafka", "topics": ["logs"], "kafka": kafka_in}],
        "outputs": [{"name": "es", "type": "elasticsearch", "index": "logs", "timeout": "1s",
                     "retry_max": "1s", "username": "elastic", "password": s["espw"],
                     "hosts": ["http://eu:%s@127.0.0.1:%d" % (s["esurlpw"], dead)]},
                    {"name": "ko", "type": "kafka", "topic": "out", "kafka": kafka_out}],
    }


def leaked(text):
    return sorted(k for k, v in SECRETS.items() if v in text)


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="iocbus-secrets-") as tmp:
        for zmq in (True, False):
            d = Iocbus(config(tmp, zmq), workdir=tmp, start=False, log_level="debug")
            for cmd in (["config", "dump", d.config_path], ["check-config", d.config_path]):
                p = subprocess.run([BIN] + cmd, capture_output=True, timeout=30)
                out = (p.stdout + p.stderr).decode("utf-8", "replace")
                if p.returncode != 0:
                    failures.append("%s exited %d: %s" % (cmd[0], p.returncode, out[-500:]))
                if leaked(out):
                    failures.append("%s (zmq=%s) printed %s" % (" ".join(cmd[:2]), zmq, leaked(out)))
                if cmd[0] == "config" and "misp:***@127.0.0.1" not in out:
                    failures.append("config dump lost the redacted host: %s" % out[:300])

        # The daemon, at debug level, with every source and output failing against a dead port;
        # in both log formats (issue #16: JSON lines go through the same redaction).
        for fmt, host, feed in (("text", 'host="http://127.0.0.1', "feed=f"),
                                ("json", '"host":"http://127.0.0.1', '"feed":"f"')):
            cfg = dict(config(tmp, False), logging={"level": "debug", "format": fmt})
            with Iocbus(cfg, workdir=tempfile.mkdtemp(dir=tmp)) as d:
                wait_until(lambda: host in d.log() and feed in d.log(), 20,
                           what="the failing Elasticsearch host and feed in the %s log" % fmt)
                wait_until(lambda: "misp_rest" in d.log() or "pull" in d.log(), 10, what="the pull logging")
                d.term()
                log = d.log()
            if leaked(log):
                failures.append("iocbus run (logging.format %s) logged %s" % (fmt, leaked(log)))
    report(failures, "no secret in config dump, check-config or the daemon's log (%d bytes)" % len(log),
           "---- log tail ----\n" + log[-3000:])


if __name__ == "__main__":
    main()
