# SPDX-License-Identifier: Apache-2.0
"""`iocbus run` log inputs (issue #5): file tail, stdin and TCP into a file output.

Without intelligence every event is a miss and is written byte for byte, so
the output file shows exactly which lines went through and how often:
  - file: appended lines (a line written in two pieces included) arrive once;
    rename rotation (the old file written after the rename, and after the
    new file appeared) loses and duplicates nothing; copytruncate restarts at 0; a restart
    after SIGTERM resumes at the checkpoint with no duplicate; after
    kill -9, nothing is lost (duplicates allowed); a checkpoint for a file
    rotated while iocbus was down finishes the rotated file first;
  - stdin: every line, a last one without '\\n' included, then `iocbus run`
    exits by itself;
  - tcp: two clients interleaved, a line over max_line dropped and counted
    while its connection goes on, a last line without '\\n' at close,
    max_connections enforced (one more is closed at once and counted), a
    silent connection closed after idle_timeout; a stuck output pushes back
    on the sender through TCP flow control and nothing is lost.
Every wait is a bounded poll on a condition; every test has a 30 s alarm.
"""
import json
import os
import re
import select
import signal
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Iocbus, wait_until  # noqa: E402

WAIT = 15.0
TEST_LIMIT_S = 30
_N = re.compile(rb'"n":(\d+)')


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout("test took longer than %d s" % TEST_LIMIT_S)


def ev(n, pad=""):
    return '{"n":%d,"msg":"line %d%s"}\n' % (n, n, pad)


def append(path, text, mode="a"):
    with open(path, mode) as f:
        f.write(text)
        f.flush()


class InputsTest(unittest.TestCase):
    def setUp(self):
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(TEST_LIMIT_S)
        self.d = None

    def tearDown(self):
        signal.alarm(0)

    # ------------------------------------------------------------ helpers

    def start(self, inputs, workdir=None, out=None, **pipeline):
        """iocbus with `inputs` and one file output (`out`, default out.ndjson in its workdir)."""
        d = Iocbus({}, start=False, workdir=workdir)
        self.out = out or os.path.join(d.workdir, "out.ndjson")
        pipe = {"state_dir": os.path.join(d.workdir, "state"), "batch_interval": "50ms"}
        pipe.update(pipeline)
        d.write_config({"inputs": inputs, "outputs": [{"name": "out", "type": "file", "path": self.out}],
                        "pipeline": pipe})
        d.start(wait_live=False)
        return d

    def output(self):
        try:
            with open(self.out, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def numbers(self):
        """The "n" of every event in the output, in order (robust to a line cut by kill -9)."""
        return [int(m) for m in _N.findall(self.output())]

    def wait_lines(self, count, what):
        wait_until(lambda: self.output().count(b"\n") >= count, WAIT, what=what)
        # nothing more arrives shortly after (no duplicates still in flight)
        time.sleep(0.3)

    def m(self, d, name, **labels):
        return d.metric(name, **labels) or 0

    def tcp_port(self, d, name):
        def find():
            m = re.search(r"tcp input %s listening on \S+:(\d+)" % re.escape(name), d.log())
            return m and int(m.group(1))
        return wait_until(find, WAIT, what="tcp listening line")

    # ---------------------------------------------------------------- file

    def test_file_tail_appends(self):
        with Iocbus({}, start=False) as base:
            path = os.path.join(base.workdir, "eve.json")
            append(path, "".join(ev(i) for i in range(3)), "w")
            with self.start([{"name": "f", "type": "file", "path": path}], workdir=base.workdir) as d:
                self.wait_lines(3, "the first 3 lines")
                append(path, "".join(ev(i) for i in range(3, 100)))
                append(path, '{"n":100,"msg":"split ')   # a line in two writes: held until its '\n'
                time.sleep(0.5)
                self.assertEqual(self.output().count(b"\n"), 100)
                append(path, 'in two"}\n')
                self.wait_lines(101, "101 lines")
                expect = "".join(ev(i) for i in range(100)) + '{"n":100,"msg":"split in two"}\n'
                self.assertEqual(self.output().decode(), expect)
                self.assertEqual(self.m(d, "iocbus_input_position_bytes", input="f"), len(expect.encode()))

    def test_file_rename_rotation(self):
        with Iocbus({}, start=False) as base:
            path = os.path.join(base.workdir, "eve.json")
            with self.start([{"name": "f", "type": "file", "path": path, "poll_interval": "50ms"}],
                            workdir=base.workdir) as d:
                wait_until(lambda: "waiting for file" in d.log(), WAIT, what="missing file logged")
                w = open(path, "a")
                w.write("".join(ev(i) for i in range(50)))
                w.flush()
                self.wait_lines(50, "50 lines of the first file")
                os.rename(path, path + ".1")
                w.write("".join(ev(i) for i in range(50, 60)))   # the writer still has the old file
                w.flush()
                time.sleep(0.2)
                append(path, "".join(ev(i) for i in range(60, 100)), "w")
                # logrotate's `create`: the new file exists before the writer reopens; what it
                # still writes to the old file is read too (until the old file is quiet)
                time.sleep(0.5)
                w.write("".join(ev(i) for i in range(1000, 1005)))
                w.close()
                self.wait_lines(105, "105 lines across the rotation")
                self.assertEqual(d.log().count("waiting for file"), 1)
                got = self.numbers()
                self.assertEqual(sorted(got), list(range(100)) + list(range(1000, 1005)))
                # the old file first, then the new one
                self.assertEqual(got, list(range(60)) + list(range(1000, 1005)) + list(range(60, 100)))
                self.assertEqual(self.m(d, "iocbus_input_rotations_total", input="f"), 1)
                # and the new file keeps being followed
                append(path, ev(100))
                wait_until(lambda: 100 in self.numbers(), WAIT, what="line after the rotation")

    def test_file_copytruncate(self):
        with Iocbus({}, start=False) as base:
            path = os.path.join(base.workdir, "eve.json")
            append(path, "".join(ev(i, pad="x" * 40) for i in range(50)), "w")
            with self.start([{"name": "f", "type": "file", "path": path, "poll_interval": "50ms"}],
                            workdir=base.workdir) as d:
                self.wait_lines(50, "50 lines")
                with open(path, "rb") as src, open(path + ".1", "wb") as dst:
                    dst.write(src.read())
                with open(path, "r+") as f:
                    f.truncate(0)
                wait_until(lambda: self.m(d, "iocbus_input_truncations_total", input="f") == 1, WAIT,
                           what="truncation seen")
                append(path, "".join(ev(i) for i in range(50, 70)))
                self.wait_lines(70, "70 lines")
                self.assertEqual(self.numbers(), list(range(70)))

    def test_file_checkpoint_resume_after_sigterm(self):
        with Iocbus({}, start=False) as base:
            path = os.path.join(base.workdir, "eve.json")
            append(path, "".join(ev(i) for i in range(100)), "w")
            inputs = [{"name": "f", "type": "file", "path": path}]
            d = self.start(inputs, workdir=base.workdir)
            try:
                self.wait_lines(100, "100 lines")
                self.assertEqual(d.term(), 0)
            finally:
                d.close()
            with open(os.path.join(base.workdir, "state", "f.checkpoint")) as f:
                cp = json.load(f)
            self.assertEqual(cp["offset"], os.path.getsize(path))
            self.assertEqual(cp["ino"], os.stat(path).st_ino)
            append(path, "".join(ev(i) for i in range(100, 150)))   # written while iocbus is down
            with self.start(inputs, workdir=base.workdir):
                self.wait_lines(150, "150 lines")
                self.assertEqual(self.numbers(), list(range(150)))

    def test_file_nothing_lost_after_kill9(self):
        with Iocbus({}, start=False) as base:
            path = os.path.join(base.workdir, "eve.json")
            inputs = [{"name": "f", "type": "file", "path": path}]
            append(path, "", "w")
            d = self.start(inputs, workdir=base.workdir)
            try:
                for i in range(0, 3000, 100):
                    append(path, "".join(ev(j) for j in range(i, i + 100)))
                    time.sleep(0.02)
                wait_until(lambda: len(self.numbers()) >= 1000, WAIT, what="some lines out")
                d.kill9()
            finally:
                d.close()
            append(path, "".join(ev(j) for j in range(3000, 3100)))
            with self.start(inputs, workdir=base.workdir):
                wait_until(lambda: set(range(3100)) <= set(self.numbers()), WAIT, what="every line at least once")

    def test_file_checkpoint_of_rotated_file(self):
        """Rotated while down: the rest of eve.json.1 first (from the checkpoint), then the new file from 0."""
        with Iocbus({}, start=False) as base:
            path = os.path.join(base.workdir, "eve.json")
            append(path, "".join(ev(i) for i in range(20)), "w")
            inputs = [{"name": "f", "type": "file", "path": path}]
            d = self.start(inputs, workdir=base.workdir)
            try:
                self.wait_lines(20, "20 lines")
                self.assertEqual(d.term(), 0)
            finally:
                d.close()
            append(path, "".join(ev(i) for i in range(20, 30)))
            os.rename(path, path + ".1")
            append(path, "".join(ev(i) for i in range(30, 40)), "w")
            with self.start(inputs, workdir=base.workdir) as d2:
                self.wait_lines(40, "40 lines")
                self.assertEqual(self.numbers(), list(range(40)))
                self.assertIn("finishing the rotated file first", d2.log())

    def test_file_checkpoint_file_gone_or_truncated(self):
        """Rotated while down and the old file deleted: the new file from 0 (loss logged). Truncated
        while down (same inode, smaller than the checkpoint): from 0."""
        with Iocbus({}, start=False) as base:
            path = os.path.join(base.workdir, "eve.json")
            append(path, "".join(ev(i) for i in range(20)), "w")
            inputs = [{"name": "f", "type": "file", "path": path}]
            for step, count in (("gone", 20), ("truncated", 40)):
                d = self.start(inputs, workdir=base.workdir)
                try:
                    self.wait_lines(count, "%d lines before the stop (%s)" % (count, step))
                    self.assertEqual(d.term(), 0)
                finally:
                    d.close()
                if step == "gone":
                    os.rename(path, path + ".1")
                    append(path, "".join(ev(i) for i in range(20, 40)), "w")
                    os.unlink(path + ".1")
                else:
                    with open(path, "r+") as f:
                        f.truncate(0)
                    append(path, "".join(ev(i) for i in range(40, 45)))
            with self.start(inputs, workdir=base.workdir) as d:
                self.wait_lines(45, "45 lines")
                self.assertEqual(self.numbers(), list(range(45)))
                self.assertEqual(self.m(d, "iocbus_input_truncations_total", input="f"), 1)
                self.assertIn("the rest of it is lost", d.log())

    def test_file_start_at_end(self):
        with Iocbus({}, start=False) as base:
            path = os.path.join(base.workdir, "eve.json")
            append(path, "".join(ev(i) for i in range(10)) + '{"n":99,"being":"wri', "w")
            with self.start([{"name": "f", "type": "file", "path": path, "start_at": "end"}],
                            workdir=base.workdir) as d:
                wait_until(lambda: "reading file" in d.log(), WAIT, what="file opened")
                append(path, 'tten"}\n' + ev(10))   # the line begun before the start is read whole
                self.wait_lines(2, "the appended lines")
                self.assertEqual(self.output(), b'{"n":99,"being":"written"}\n' + ev(10).encode())

    def test_file_long_line_dropped(self):
        with Iocbus({}, start=False) as base:
            path = os.path.join(base.workdir, "eve.json")
            append(path, ev(0) + '{"n":999,"big":"' + "y" * 5000 + '"}\n' + ev(1), "w")
            with self.start([{"name": "f", "type": "file", "path": path, "max_line": 1000}],
                            workdir=base.workdir) as d:
                self.wait_lines(2, "2 lines")
                self.assertEqual(self.numbers(), [0, 1])
                wait_until(lambda: self.m(d, "iocbus_input_rejects_total", input="f", reason="too_long") == 1,
                           WAIT, what="too_long counted")
                self.assertRegex(d.log(), r'where="[^"]*eve\.json:%d"' % len(ev(0)))

    # --------------------------------------------------------------- stdin

    def test_stdin(self):
        d = self.start([{"name": "in", "type": "stdin"}])
        try:
            d.proc.stdin.write(("".join(ev(i) for i in range(50)) + '{"n":50,"last":true}').encode())
            d.proc.stdin.close()
            rc = d.proc.wait(WAIT)
            self.assertEqual(rc, 0)
            out = self.output().decode()
            self.assertEqual(out, "".join(ev(i) for i in range(50)) + '{"n":50,"last":true}\n')
        finally:
            d.close()

    # ----------------------------------------------------------------- tcp

    def test_tcp_two_clients_long_line_and_close(self):
        with self.start([{"name": "t", "type": "tcp", "port": 0, "max_line": 200}]) as d:
            port = self.tcp_port(d, "t")
            a = socket.create_connection(("127.0.0.1", port), timeout=5)
            b = socket.create_connection(("127.0.0.1", port), timeout=5)
            a.sendall(ev(0).encode() + b'{"n":1,"msg":"spl')
            b.sendall(ev(100).encode())
            b.sendall(b'{"n":999,"big":"' + b"z" * 1000)       # too long, in pieces
            time.sleep(0.2)
            b.sendall(b"z" * 1000 + b'"}\n' + ev(101).encode())  # ... and the connection goes on
            a.sendall(b'it"}\n' + ev(2).encode())
            b.sendall(b'{"n":102,"no_newline":1}')
            b.close()                                          # its last line counts
            self.wait_lines(6, "6 lines")
            got = self.numbers()
            self.assertEqual(sorted(got), [0, 1, 2, 100, 101, 102])
            self.assertEqual([n for n in got if n < 100], [0, 1, 2])        # per-connection order kept
            self.assertEqual([n for n in got if n >= 100], [100, 101, 102])
            self.assertIn(b'{"n":1,"msg":"split"}\n', self.output())
            self.assertIn(b'{"n":102,"no_newline":1}\n', self.output())
            wait_until(lambda: self.m(d, "iocbus_input_rejects_total", input="t", reason="too_long") == 1,
                       WAIT, what="too_long counted")
            self.assertRegex(d.log(), r'where="127\.0\.0\.1:\d+:2"')
            a.sendall(ev(3).encode())
            a.close()
            wait_until(lambda: 3 in self.numbers(), WAIT, what="the other client still served")
            self.assertEqual(self.m(d, "iocbus_input_connections_total", input="t"), 2)
            wait_until(lambda: self.m(d, "iocbus_input_open_connections", input="t") == 0, WAIT,
                       what="connections closed")

    def test_tcp_max_connections(self):
        with self.start([{"name": "t", "type": "tcp", "port": 0, "max_connections": 2}]) as d:
            port = self.tcp_port(d, "t")
            a = socket.create_connection(("127.0.0.1", port), timeout=5)
            b = socket.create_connection(("127.0.0.1", port), timeout=5)
            wait_until(lambda: self.m(d, "iocbus_input_open_connections", input="t") == 2, WAIT,
                       what="2 connections open")
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            self.assertEqual(c.recv(1), b"")     # accepted and closed at once
            c.close()
            wait_until(lambda: self.m(d, "iocbus_input_errors_total", input="t") == 1, WAIT,
                       what="refused connection counted")
            self.assertIn("max_connections reached", d.log())
            a.sendall(ev(0).encode())
            b.sendall(ev(1).encode())
            self.wait_lines(2, "2 lines")
            self.assertEqual(sorted(self.numbers()), [0, 1])
            a.close()
            wait_until(lambda: self.m(d, "iocbus_input_open_connections", input="t") == 1, WAIT,
                       what="a slot freed")
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(ev(2).encode())
            c.close()
            wait_until(lambda: 2 in self.numbers(), WAIT, what="a new connection after a slot freed")
            b.close()

    def test_tcp_backpressure(self):
        """Output stuck (a FIFO nobody reads), no spool: the input stops reading, the sender blocks;
        once the output moves again every line arrives, once and in order."""
        with Iocbus({}, start=False) as base:
            fifo = os.path.join(base.workdir, "out.fifo")
            os.mkfifo(fifo)
            rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            total = 20000
            lines = [ev(i, pad="p" * 1000).encode() for i in range(total)]
            try:
                with self.start([{"name": "t", "type": "tcp", "port": 0}], workdir=base.workdir, out=fifo,
                                queue_bytes="64KiB", spool_max=0) as d:
                    port = self.tcp_port(d, "t")
                    c = socket.create_connection(("127.0.0.1", port), timeout=5)
                    c.setblocking(False)
                    sent, pending = 0, b""
                    while sent < total or pending:
                        if not pending:
                            pending = lines[sent]
                            sent += 1
                        try:
                            pending = pending[c.send(pending):]
                        except BlockingIOError:
                            if not select.select([], [c], [], 1.5)[1]:
                                break           # blocked for 1.5 s: pushed back
                    self.assertLess(sent, total, "the sender was never pushed back")
                    c.setblocking(True)
                    rest = pending + b"".join(lines[sent:])
                    sender = threading.Thread(target=c.sendall, args=(rest,), daemon=True)
                    sender.start()
                    got = bytearray()
                    want = sum(len(x) for x in lines)
                    end = time.monotonic() + 25
                    while len(got) < want and time.monotonic() < end:
                        if select.select([rfd], [], [], 0.5)[0]:
                            try:
                                got += os.read(rfd, 1 << 20)
                            except BlockingIOError:
                                pass
                    sender.join(5)
                    c.close()
                    self.assertEqual(len(got), want)
                    self.assertEqual([int(m) for m in _N.findall(bytes(got))], list(range(total)))
                    self.assertGreater(self.m(d, "iocbus_input_blocked_seconds_total", input="t"), 0)
            finally:
                os.close(rfd)

    def test_tcp_idle_timeout(self):
        with self.start([{"name": "t", "type": "tcp", "port": 0, "idle_timeout": "1s"}]) as d:
            port = self.tcp_port(d, "t")
            a = socket.create_connection(("127.0.0.1", port), timeout=5)
            a.sendall(ev(0).encode() + b'{"n":1,"never":"finished')
            self.wait_lines(1, "the whole line")
            self.assertEqual(a.recv(1), b"")     # closed by iocbus after 1 s of silence
            a.close()
            self.assertIn("tcp connection idle, closed", d.log())
            self.assertEqual(self.numbers(), [0])  # the begun line is dropped
            self.assertEqual(self.m(d, "iocbus_input_open_connections", input="t"), 0)


if __name__ == "__main__":
    unittest.main()
