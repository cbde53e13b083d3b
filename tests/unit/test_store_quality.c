/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store quality hook (store.h "quality"): callbacks compute a record's
 * marks at upsert, event tag change, requalify and sighting; the hot path's
 * iocb_store_attr_live(); sightings of type 0, 1 and 2; listeners see a
 * change of marks as an edit; marks persist in LMDB, and a version 1 store
 * (written before the hook) still opens.
 */
#include "store/store.h"

#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture_store.h"

/*
 * A toy model: domains decay `life` seconds after the later of their
 * timestamp and last sighting, base score 50 + the number of event tags;
 * ip-dst values are "on a warninglist" and suppressed; other types carry
 * nothing.
 */
struct toy {
	int64_t life;
	unsigned calls;
};

static void toy_quality(void *ud, const struct iocb_store_attr *a, struct iocb_store_quality *q)
{
	struct toy *t = ud;
	struct iocb_store_attr_view v;
	iocb_store_attr_view(a, &v);
	t->calls++;
	if (strcmp(v.type->name, "domain") == 0) {
		struct iocb_store_event_view ev = {0};
		if (v.event)
			iocb_store_event_view(v.event, &ev);
		q->decay_from = (int64_t)v.timestamp > q->last_sighting ? (int64_t)v.timestamp : q->last_sighting;
		q->expires_at = q->decay_from + t->life;
		q->base_score = 50.0f + (float)ev.ntags;
		q->model = 1;
	} else if (strcmp(v.type->name, "ip-dst") == 0) {
		q->wl_set = 7;
		q->wl_action = IOCB_STORE_WL_SUPPRESS;
	}
}

static int changes;

static void on_change(void *ud, const struct iocb_store_attr *old, const struct iocb_store_attr *nw)
{
	(void)ud;
	(void)old;
	(void)nw;
	changes++;
}

static const struct iocb_store_attr *get(struct iocb_store *s, uint64_t n)
{
	char u[37];
	fixture_uuid(u, 0xa, n);
	const struct iocb_store_attr *a = iocb_store_get(s, iocb_str_c(u));
	assert_non_null(a);
	return a;
}

static int sight(struct iocb_store *s, uint64_t n, int type, int64_t ts)
{
	char u[37];
	struct iocb_err err;
	fixture_uuid(u, 0xa, n);
	return iocb_store_sighting(s, iocb_str_c(u), type, ts, &err);
}

/* A memory store with the toy callback registered; the caller is a registered reader. */
static struct iocb_store *open_toy(struct toy *toy)
{
	struct iocb_store *s = fixture_store_open(false);
	iocb_store_reader_register();
	assert_true(iocb_store_quality_add(s, toy_quality, toy) >= 0);
	return s;
}

static void test_marks_and_live(void **state)
{
	struct toy toy = {100, 0};
	struct iocb_store *s = open_toy(&toy);
	struct fixture_attr t;
	struct iocb_store_quality q;
	(void)state;

	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "ip-dst", "192.0.2.1", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "md5", "d41d8cd98f00b204e9800998ecf8427e", NULL, -1, 1, true));
	assert_int_equal(toy.calls, 3);
	iocb_store_read_lock();
	/* the domain: timestamp 1700000001, expires 100 s later */
	iocb_store_attr_quality(get(s, 1), &q);
	assert_int_equal(q.decay_from, 1700000001);
	assert_int_equal(q.expires_at, 1700000101);
	assert_true(q.base_score == 50.0f);
	assert_int_equal(q.model, 1);
	assert_true(iocb_store_attr_live(get(s, 1), 1700000100));
	assert_false(iocb_store_attr_live(get(s, 1), 1700000101));
	assert_true(iocb_store_quality_live(&q, 1700000100));
	/* the suppressed IP never lives, but its value is still found (lookups for people show it) */
	iocb_store_attr_quality(get(s, 2), &q);
	assert_int_equal(q.wl_action, IOCB_STORE_WL_SUPPRESS);
	assert_int_equal(q.wl_set, 7);
	assert_int_equal(q.expires_at, INT64_MAX);
	assert_false(iocb_store_attr_live(get(s, 2), 0));
	struct iocb_store_hit hit;
	assert_int_equal(iocb_store_lookup(s, IOCB_MC_IP, iocb_str_c("192.0.2.1"), &hit, 1), 1);
	/* the md5: defaults, always live */
	iocb_store_attr_quality(get(s, 3), &q);
	assert_int_equal(q.expires_at, INT64_MAX);
	assert_true(q.base_score < 0);
	assert_int_equal(q.model, 0);
	assert_true(iocb_store_attr_live(get(s, 3), INT64_MAX - 1));
	iocb_store_read_unlock();
	iocb_store_free(s);
	iocb_store_reader_unregister();
}

static void test_sightings(void **state)
{
	struct toy toy = {100, 0};
	struct iocb_store *s = open_toy(&toy);
	struct fixture_attr t;
	struct iocb_store_quality q;
	(void)state;

	assert_true(iocb_store_listen(s, on_change, NULL) >= 0);
	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true));
	changes = 0;

	/* type 0 restarts the decay from the sighting; marks alone are no change for the listeners
	 * (a sighting must not republish the indicator to the bus, the stream and the exports) */
	assert_int_equal(sight(s, 1, 0, 1700000500), IOCB_OK);
	assert_int_equal(changes, 0);
	iocb_store_read_lock();
	iocb_store_attr_quality(get(s, 1), &q);
	assert_int_equal(q.last_sighting, 1700000500);
	assert_int_equal(q.expires_at, 1700000600);
	iocb_store_read_unlock();
	/* an older type-0 sighting changes nothing; nor does a false positive */
	assert_int_equal(sight(s, 1, 0, 1700000400), IOCB_OK);
	assert_int_equal(sight(s, 1, 1, 1700000550), IOCB_OK);
	assert_int_equal(changes, 0);

	/* type 2 expires at its instant, whatever the model says */
	assert_int_equal(sight(s, 1, 2, 1700000510), IOCB_OK);
	iocb_store_read_lock();
	assert_true(iocb_store_attr_live(get(s, 1), 1700000509));
	assert_false(iocb_store_attr_live(get(s, 1), 1700000510));
	iocb_store_read_unlock();
	/* a re-sent identical attribute keeps the expiration (and the sighting) */
	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true));
	iocb_store_read_lock();
	iocb_store_attr_quality(get(s, 1), &q);
	assert_int_equal(q.expiration, 1700000510);
	assert_int_equal(q.last_sighting, 1700000500);
	iocb_store_read_unlock();
	/* a later type-0 sighting brings it back */
	assert_int_equal(sight(s, 1, 0, 1700000520), IOCB_OK);
	iocb_store_read_lock();
	iocb_store_attr_quality(get(s, 1), &q);
	assert_int_equal(q.expiration, 0);
	assert_int_equal(q.expires_at, 1700000620);
	iocb_store_read_unlock();
	/* expired again at once (ts 0), then MISP updates the attribute with a newer timestamp */
	assert_int_equal(sight(s, 1, 2, 0), IOCB_OK);
	iocb_store_read_lock();
	assert_false(iocb_store_attr_live(get(s, 1), 2));
	iocb_store_read_unlock();
	fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true);
	t.a.timestamp = 1700000700;
	fixture_store_upsert(s, &t.a);
	iocb_store_read_lock();
	iocb_store_attr_quality(get(s, 1), &q);
	assert_int_equal(q.expiration, 0);
	assert_int_equal(q.decay_from, 1700000700);
	assert_true(iocb_store_attr_live(get(s, 1), 1700000799));
	iocb_store_read_unlock();

	/* unknown attribute, bad type */
	assert_int_equal(sight(s, 99, 0, 1), IOCB_ENOTFOUND);
	assert_int_equal(sight(s, 1, 3, 1), IOCB_EINVAL);
	iocb_store_free(s);
	iocb_store_reader_unregister();
}

static void test_event_tags_and_requalify(void **state)
{
	struct toy toy = {100, 0};
	struct iocb_store *s = open_toy(&toy);
	struct fixture_attr t;
	struct iocb_store_quality q;
	struct iocb_err err;
	struct iocb_misp_tag tags[2] = {{.name = IOCB_STR_LIT("tlp:green")}, {.name = IOCB_STR_LIT("x:y")}};
	size_t n;
	(void)state;

	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "domain", "b.example", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "md5", "d41d8cd98f00b204e9800998ecf8427e", NULL, -1, 1, true));
	/* two tags on the event: the base score of both domains follows */
	struct iocb_misp_event ev = t.ev;
	ev.tags = tags;
	ev.ntags = 2;
	ev.tags_known = true;
	assert_true(iocb_store_listen(s, on_change, NULL) >= 0);
	changes = 0;
	assert_int_equal(iocb_store_event_upsert(s, &ev, &err), IOCB_OK);
	assert_int_equal(changes, 3); /* each attribute of the event, requalified or not */
	changes = 0;
	iocb_store_read_lock();
	iocb_store_attr_quality(get(s, 1), &q);
	assert_true(q.base_score == 52.0f);
	iocb_store_attr_quality(get(s, 2), &q);
	assert_true(q.base_score == 52.0f);
	iocb_store_read_unlock();

	/* a model reload: the two domains change, the md5 does not; marks alone are no listener change */
	toy.life = 1000;
	assert_int_equal(iocb_store_requalify(s, 0, &n, &err), IOCB_OK);
	assert_int_equal(n, 2);
	assert_int_equal(changes, 0);
	assert_int_equal(iocb_store_requalify(s, 0, &n, &err), IOCB_OK);
	assert_int_equal(n, 0);
	iocb_store_read_lock();
	iocb_store_attr_quality(get(s, 2), &q);
	assert_int_equal(q.expires_at, 1700000002 + 1000);
	iocb_store_read_unlock();
	assert_int_equal(iocb_store_commit(s, &err), IOCB_OK);
	iocb_store_free(s);
	iocb_store_reader_unregister();
}

/* ------------------------------------------------------------ sweep */

struct log {
	int add, edit, del;
};

static void on_log(void *ud, const struct iocb_store_attr *old, const struct iocb_store_attr *nw)
{
	struct log *l = ud;
	if (old && nw)
		l->edit++;
	else if (nw)
		l->add++;
	else
		l->del++;
}

static int count_cb(void *ud, const struct iocb_store_attr *a)
{
	(void)a;
	(*(int *)ud)++;
	return 0;
}

static int walked(struct iocb_store *s)
{
	int n = 0;
	assert_int_equal(iocb_store_each(s, count_cb, &n), IOCB_OK);
	return n;
}

static void test_sweep(void **state)
{
	struct toy toy = {100, 0};
	struct iocb_store *s = open_toy(&toy);
	struct fixture_attr t;
	struct log l = {0};
	struct iocb_store_sweep_stats st;
	struct iocb_err err;
	char u[37];
	(void)state;

	assert_true(iocb_store_listen(s, on_log, &l) >= 0);
	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "md5", "d41d8cd98f00b204e9800998ecf8427e", NULL, -1, 1, true));
	assert_int_equal(l.add, 2);
	/* not yet expired (expires at 1700000101): nothing */
	assert_int_equal(iocb_store_quality_sweep(s, 1700000100, 1, &st, &err), IOCB_OK);
	assert_int_equal(st.expired + st.back + st.gone_now, 0);
	/* expired: announced as removed once, gone from walks, still found by value */
	assert_int_equal(iocb_store_quality_sweep(s, 1700000101, 1, &st, &err), IOCB_OK);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.expired_now, 1);
	assert_int_equal(l.del, 1);
	assert_int_equal(walked(s), 1);
	assert_int_equal(iocb_store_quality_sweep(s, 1700000200, 0, &st, &err), IOCB_OK);
	assert_int_equal(st.expired, 0);
	assert_int_equal(st.gone_now, 1);
	assert_int_equal(l.del, 1);
	iocb_store_read_lock();
	struct iocb_store_hit h;
	assert_int_equal(iocb_store_lookup(s, IOCB_MC_DOMAIN, iocb_str_c("a.example"), &h, 1), 1);
	iocb_store_read_unlock();
	/* the same attribute again while still expired: nothing for the listeners */
	l = (struct log){0};
	assert_int_equal(iocb_store_upsert(s, fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true), 0,
					   1700000300, &err), IOCB_OK);
	fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, false); /* an edit, still expired */
	assert_int_equal(iocb_store_upsert(s, &t.a, 0, 1700000300, &err), IOCB_OK);
	assert_int_equal(l.add + l.edit + l.del, 0);
	/* a type-0 sighting brings it back: an insert for the listeners, in walks again */
	fixture_uuid(u, 0xa, 1);
	assert_int_equal(iocb_store_sighting(s, iocb_str_c(u), 0, 1700000300, &err), IOCB_OK);
	assert_int_equal(l.add, 1);
	assert_int_equal(walked(s), 2);
	/* a type-2 sighting: expired at once, announced by the next sweep */
	assert_int_equal(iocb_store_sighting(s, iocb_str_c(u), 2, 1700000301, &err), IOCB_OK);
	assert_int_equal(iocb_store_quality_sweep(s, 1700000301, 0, &st, &err), IOCB_OK);
	assert_int_equal(st.expired, 1);
	assert_int_equal(l.del, 1);
	/* MISP updates it (newer timestamp) at a time it is live: back at once */
	fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true);
	t.a.timestamp = 1700000400;
	assert_int_equal(iocb_store_upsert(s, &t.a, 0, 1700000401, &err), IOCB_OK);
	assert_int_equal(l.add, 2);
	/* expired again, then deleted: the listeners heard of the removal once */
	assert_int_equal(iocb_store_quality_sweep(s, 1700000500, 0, &st, &err), IOCB_OK);
	assert_int_equal(l.del, 2);
	assert_int_equal(iocb_store_remove(s, iocb_str_c(u), &err), IOCB_OK);
	assert_int_equal(l.del, 2);
	assert_int_equal(iocb_store_commit(s, &err), IOCB_OK);
	iocb_store_free(s);
	iocb_store_reader_unregister();
}

/* ------------------------------------------------------------ persistence */

static void set_format(const char *dir, const char *ver)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {17, (void *)"iocb.store.format"}, v = {strlen(ver), (void *)ver};
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	if (ver[0])
		assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	else
		assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	if (!ver[0])
		assert_memory_equal(v.mv_data, "2", 1);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

static void test_persist(void **state)
{
	char tmpl[] = "/tmp/iocb-quality-XXXXXX";
	char *dir = mkdtemp(tmpl);
	struct toy toy = {100, 0};
	struct fixture_attr t;
	struct iocb_store_quality q;
	struct iocb_err err;
	(void)state;

	assert_non_null(dir);
	iocb_store_reader_register();
	/* a version 1 store (no marks anywhere) opens, and is then version 2 */
	struct iocb_store *s = fixture_store_open_path(dir);
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "md5", "d41d8cd98f00b204e9800998ecf8427e", NULL, -1, 1, true));
	assert_int_equal(iocb_store_commit(s, &err), IOCB_OK);
	iocb_store_free(s);
	set_format(dir, "1");
	s = fixture_store_open_path(dir);
	iocb_store_free(s);
	set_format(dir, "");

	s = fixture_store_open_path(dir);
	assert_true(iocb_store_quality_add(s, toy_quality, &toy) >= 0);
	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true));
	assert_int_equal(sight(s, 1, 0, 1700000500), IOCB_OK);
	assert_int_equal(iocb_store_commit(s, &err), IOCB_OK);
	iocb_store_free(s);

	/* reopened without callbacks: the marks as persisted, last_sighting included */
	s = fixture_store_open_path(dir);
	iocb_store_read_lock();
	iocb_store_attr_quality(get(s, 1), &q);
	assert_int_equal(q.last_sighting, 1700000500);
	assert_int_equal(q.expires_at, 1700000600);
	struct iocb_store_attr_view v;
	iocb_store_attr_view(get(s, 1), &v);
	assert_true(iocb_str_eq_c(v.value, "a.example"));
	iocb_store_attr_view(get(s, 3), &v);
	assert_true(iocb_str_eq_c(v.value, "d41d8cd98f00b204e9800998ecf8427e"));
	iocb_store_read_unlock();
	/* with the callbacks again, requalify keeps the sighting and recomputes the rest */
	toy.life = 10;
	assert_true(iocb_store_quality_add(s, toy_quality, &toy) >= 0);
	size_t n;
	assert_int_equal(iocb_store_requalify(s, 0, &n, &err), IOCB_OK);
	assert_int_equal(n, 1);
	iocb_store_read_lock();
	iocb_store_attr_quality(get(s, 1), &q);
	assert_int_equal(q.expires_at, 1700000510);
	iocb_store_read_unlock();
	iocb_store_free(s);
	iocb_store_reader_unregister();
	fixture_rmtree(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marks_and_live),
		cmocka_unit_test(test_sightings),
		cmocka_unit_test(test_event_tags_and_requalify),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_persist),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
