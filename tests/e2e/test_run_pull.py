# SPDX-License-Identifier: Apache-2.0
"""End-to-end: the REST pull source of `iocbus run` against tests/servers/misp_server.py.

Each test starts its own MISP test server and daemon (ephemeral ports,
loopback only) and waits on conditions with deadlines, never on sleeps:
  - backfill: a first start loads every attribute page by page, within
    misp.pull.backfill, with the restSearch body the contract asks for;
  - incremental: with ZeroMQ off, an add, an edit and a soft-delete made in
    MISP reach the store through the periodic pull ("deleted":[0,1]);
  - reconcile: a hard delete (invisible to a timestamp query) is swept;
  - MISP down at start: injected 503s are counted and retried, then the
    attributes arrive;
  - wrong API key: 403s are counted, logged once, the key is never logged,
    the daemon keeps running and recovers once the key becomes valid;
  - restart with a persisted store: the second start catches up from the
    cursor ("timestamp" in the request body).
"""
import json
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

WRONG_KEY = "WrongKey00000000000000000000000000000042"


def pull_requests(misp):
    """restSearch requests the server recorded, bodies decoded."""
    out = []
    for r in misp.control("requests"):
        if r["path"].startswith("/attributes/restSearch"):
            out.append(json.loads(r["body"]) if r["body"].strip() else {})
    return out


class PullTest(unittest.TestCase):
    def setUp(self):
        self.misp = h.Misp()
        self.addCleanup(self.misp.close)
        self.event = self.misp.control("event", info="pull e2e", tags=["tlp:green"])

    def attr(self, value, type_="ip-dst", **kw):
        return self.misp.control("attribute", event_id=self.event["id"], type=type_, value=value, **kw)

    def daemon(self, pull, workdir=None, key=None, store=None):
        cfg = {"misp": self.misp.misp_config(pull=pull, key=key)}
        if store:
            cfg["store"] = {"path": store}
        d = h.Iocbus(cfg, workdir=workdir)
        self.addCleanup(d.close)
        return d

    def wait(self, d, fn, timeout=10.0, what="condition"):
        """h.wait_until, with the daemon's log tail on stderr when it times out."""
        try:
            return h.wait_until(fn, timeout, what=what)
        except AssertionError:
            sys.stderr.write("---- iocbus log (tail) ----\n%s\n" % d.log()[-4000:])
            raise

    def pull_metric(self, d, name, **labels):
        v = d.metric(name, source="pull", **labels)
        return 0 if v is None else v

    # ------------------------------------------------------------------ cases

    def test_backfill_pages(self):
        n = 23
        for i in range(n):
            self.attr("10.1.0.%d" % i)
        old = self.attr("10.1.1.1", timestamp=int(time.time()) - 10 * 86400)
        d = self.daemon({"page_size": 10, "interval": "0s", "backfill": "1d", "reconcile": "0s"})
        self.wait(d, lambda: all(d.hits("10.1.0.%d" % i) == 1 for i in range(n)), 20, what="backfill")
        self.wait(d, lambda: self.pull_metric(d, "iocbus_source_reconciles_total") >= 1, what="reconcile count")
        self.assertEqual(d.hits("10.1.1.1"), 0, "outside the backfill window: %r" % old)
        # 23 rows in pages of 10: 10, 10, 3.
        self.assertEqual(self.pull_metric(d, "iocbus_source_messages_total"), 3)
        self.assertEqual(self.pull_metric(d, "iocbus_updates_total", action="upsert"), n)
        self.assertEqual(self.pull_metric(d, "iocbus_source_up"), 1)
        reqs = pull_requests(self.misp)
        self.assertEqual([r["page"] for r in reqs], [1, 2, 3])
        for r in reqs:
            self.assertEqual(r["returnFormat"], "json")
            self.assertEqual(r["limit"], 10)
            self.assertEqual(r["order"], "Attribute.id ASC")
            self.assertEqual(r["includeContext"], 1)
            self.assertEqual(r["includeEventTags"], 1)
            self.assertLess(abs(r["timestamp"] - (time.time() - 86400)), 120)
            self.assertNotIn("deleted", r)   # a reconcile takes live attributes only
        self.assertIn('msg="pull done" kind=reconcile', d.log())

    def test_exact_multiple_costs_one_empty_page(self):
        for i in range(4):
            self.attr("10.2.0.%d" % i)
        d = self.daemon({"page_size": 2, "interval": "0s", "reconcile": "0s"})
        self.wait(d, lambda: self.pull_metric(d, "iocbus_source_reconciles_total") >= 1, what="first pull")
        self.assertEqual(d.hits("10.2.0.3"), 1)
        self.assertEqual([r["page"] for r in pull_requests(self.misp)], [1, 2, 3])

    def test_incremental_add_edit_soft_delete(self):
        keep = self.attr("10.3.0.1")
        edit = self.attr("edit-before.example", type_="domain")
        gone = self.attr("10.3.0.9")
        d = self.daemon({"interval": "1s", "reconcile": "0s"})
        self.wait(d, lambda: d.hits("10.3.0.9") == 1 and d.hits("edit-before.example") == 1, what="first pull")
        self.attr("10.3.0.2")
        self.misp.control("attribute/edit", id=edit["id"], value="edit-after.example")
        self.misp.control("attribute/soft-delete", id=gone["id"])
        self.wait(d, lambda: d.hits("10.3.0.2") == 1, 15, what="add pulled")
        self.wait(d, lambda: d.hits("edit-after.example") == 1, 15, what="edit pulled")
        self.wait(d, lambda: d.hits("10.3.0.9") == 0, 15, what="soft-delete pulled")
        self.assertEqual(d.hits("edit-before.example"), 0)
        self.assertEqual(d.hits("10.3.0.1"), 1, keep)
        self.assertGreaterEqual(self.pull_metric(d, "iocbus_updates_total", action="remove"), 1)
        incr = [r for r in pull_requests(self.misp) if "deleted" in r]
        self.assertTrue(incr, "no incremental request")
        for r in incr:
            self.assertEqual(r["deleted"], [0, 1])
            self.assertGreater(r["timestamp"], 0)

    def test_reconcile_sweeps_hard_delete(self):
        a = self.attr("10.4.0.1")
        self.attr("10.4.0.2")
        d = self.daemon({"interval": "1s", "reconcile": "2s"})
        self.wait(d, lambda: d.hits("10.4.0.1") == 1 and d.hits("10.4.0.2") == 1, what="first pull")
        before = self.pull_metric(d, "iocbus_source_reconciles_total")
        self.misp.control("attribute/delete", id=a["id"])
        self.wait(d, lambda: d.hits("10.4.0.1") == 0, 20, what="hard delete swept")
        self.assertEqual(d.hits("10.4.0.2"), 1)
        self.assertGreater(self.pull_metric(d, "iocbus_source_reconciles_total"), before)
        self.assertIn("reconcile removed attributes", d.log())

    def test_bad_page_never_sweeps(self):
        self.attr("10.8.0.1")
        self.attr("10.8.0.2")
        d = self.daemon({"interval": "0s", "reconcile": "1s", "retry_max": "1s"})
        self.wait(d, lambda: self.pull_metric(d, "iocbus_source_reconciles_total") >= 1, what="first reconcile")
        errors0 = self.pull_metric(d, "iocbus_source_errors_total")
        # HTTP 200 with MISP's error body: not a restSearch answer.
        self.misp.control("fail", count=3, status=200)
        self.wait(d, lambda: self.pull_metric(d, "iocbus_source_errors_total") >= errors0 + 3, 20,
                  what="broken pages counted")
        done = self.pull_metric(d, "iocbus_source_reconciles_total")
        self.wait(d, lambda: self.pull_metric(d, "iocbus_source_reconciles_total") > done, 20,
                  what="a reconcile after the broken pages")
        self.assertEqual(d.hits("10.8.0.1"), 1)
        self.assertEqual(d.hits("10.8.0.2"), 1)
        self.assertEqual(self.pull_metric(d, "iocbus_updates_total", action="remove"), 0)
        self.assertIn("broken restSearch page", d.log())

    def test_misp_down_at_start(self):
        self.attr("10.5.0.1")
        self.misp.control("fail", count=3, status=503)
        d = self.daemon({"interval": "1s", "reconcile": "0s", "retry_max": "2s"})
        self.wait(d, lambda: d.hits("10.5.0.1") == 1, 30, what="attributes after the outage")
        self.assertGreaterEqual(self.pull_metric(d, "iocbus_source_errors_total"), 3)
        self.wait(d, lambda: self.pull_metric(d, "iocbus_source_up") == 1, what="up again")
        self.assertIn("status=503", d.log())

    def test_wrong_key(self):
        self.attr("10.6.0.1")
        d = self.daemon({"interval": "1s", "reconcile": "0s", "retry_max": "1s"}, key=WRONG_KEY)
        self.wait(d, lambda: self.pull_metric(d, "iocbus_source_errors_total") >= 3, 30, what="403s counted")
        self.assertIsNone(d.proc.poll(), "daemon exited")
        self.assertIn(d.get("/healthz")[0], (200, 503))
        self.assertEqual(self.pull_metric(d, "iocbus_source_up"), 0)
        self.assertEqual(d.hits("10.6.0.1"), 0)
        log = d.log()
        self.assertEqual(log.count("authentication failed (check misp.api.key)"), 1, log[-2000:])
        # The key becomes valid: the retry succeeds, nothing restarts.
        self.misp.control("key", key=WRONG_KEY)
        self.wait(d, lambda: d.hits("10.6.0.1") == 1, 20, what="recovery with a valid key")
        log = d.log()
        self.assertNotIn(WRONG_KEY, log)
        self.assertNotIn(self.misp.key, log)

    def test_restart_catches_up_from_cursor(self):
        work = tempfile.TemporaryDirectory(prefix="iocbus-pull-")
        self.addCleanup(work.cleanup)
        self.attr("10.7.0.1")
        pull = {"interval": "0s", "reconcile": "0s"}
        d = self.daemon(pull, workdir=work.name, store=os.path.join(work.name, "store"))
        self.wait(d, lambda: d.hits("10.7.0.1") == 1, what="first start")
        self.wait(d, lambda: d.metric("iocbus_misp_cursor_timestamp_seconds") or 0, what="cursor")
        cursor = d.metric("iocbus_misp_cursor_timestamp_seconds")
        self.assertEqual(d.term(), 0)
        self.attr("10.7.0.2")          # made while the daemon is down
        n0 = len(pull_requests(self.misp))
        d.start()
        self.wait(d, lambda: d.hits("10.7.0.2") == 1, 20, what="catch-up after restart")
        self.assertEqual(d.hits("10.7.0.1"), 1)   # from the persisted store
        self.wait(d, lambda: self.pull_metric(d, "iocbus_source_catchups_total") >= 1, what="catch-up counted")
        first = pull_requests(self.misp)[n0]
        self.assertIn("timestamp", first)
        self.assertEqual(first["timestamp"], int(cursor))
        self.assertEqual(first["deleted"], [0, 1])
        self.assertIn('kind=catchup from=%d' % int(cursor), d.log())

    def test_idle_pull_writes_nothing(self):
        # Issue #11 item 7: an idle MISP made every incremental pull upsert its newest attribute again
        # and commit (its window starts at the cursor), which also kept the update age near zero.
        work = tempfile.TemporaryDirectory(prefix="iocbus-pull-")
        self.addCleanup(work.cleanup)
        for i in range(3):
            self.attr("10.8.0.%d" % i)
        d = self.daemon({"interval": "1s", "reconcile": "0s"}, workdir=work.name,
                        store=os.path.join(work.name, "store"))
        self.wait(d, lambda: all(d.hits("10.8.0.%d" % i) == 1 for i in range(3)), what="first load")
        pages = lambda: self.pull_metric(d, "iocbus_source_messages_total")  # noqa: E731
        # the first load and one incremental pull are over
        self.wait(d, lambda: pages() >= 2, what="an incremental pull")
        commits = d.metric("iocbus_store_commits_total")
        upserts = self.pull_metric(d, "iocbus_updates_total", action="upsert")
        age = self.pull_metric(d, "iocbus_source_last_update_age_seconds")
        n = pages()
        self.wait(d, lambda: pages() >= n + 4, 15, what="four idle pulls")
        self.assertEqual(self.pull_metric(d, "iocbus_updates_total", action="upsert"), upserts, "idle pull upserted")
        self.assertEqual(d.metric("iocbus_store_commits_total"), commits, "idle pull committed")
        self.assertGreaterEqual(self.pull_metric(d, "iocbus_updates_total", action="unchanged"), 4)
        self.assertGreater(self.pull_metric(d, "iocbus_source_last_update_age_seconds"), age + 2,
                           "the update age must keep growing while nothing changes")
        # and a change is still applied (and committed)
        self.attr("10.8.0.9")
        self.wait(d, lambda: d.hits("10.8.0.9") == 1, what="an add after the idle pulls")
        self.wait(d, lambda: d.metric("iocbus_store_commits_total") > commits, what="its commit")


if __name__ == "__main__":
    unittest.main(verbosity=2)
