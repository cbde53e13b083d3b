/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's change listeners (iocb_store_listen()): every change reaches
 * each listener once, with the right (old, new) pair, and a re-sent
 * identical attribute reaches nobody. The bus and the Kafka stream build
 * their exactly-once publication on this.
 */
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fixture_store.h"

#define LOG_MAX 64

/* What a listener saw: one line per call, "+value", "~old>new" or "-value". */
struct seen {
	char log[LOG_MAX][80];
	unsigned n;
};

static void value_of(const struct iocb_store_attr *a, char *out, size_t cap)
{
	struct iocb_store_attr_view v;
	iocb_store_attr_view(a, &v);
	snprintf(out, cap, "%.*s%s", IOCB_STR_FMT(v.value), v.to_ids ? "" : "(noids)");
}

static void on_change(void *ud, const struct iocb_store_attr *old, const struct iocb_store_attr *nw)
{
	struct seen *s = ud;
	char a[36] = "", b[36] = "";
	if (s->n == LOG_MAX)
		fail_msg("too many changes");
	if (old)
		value_of(old, a, sizeof(a));
	if (nw)
		value_of(nw, b, sizeof(b));
	if (old && nw)
		snprintf(s->log[s->n++], sizeof(s->log[0]), "~%s>%s", a, b);
	else if (nw)
		snprintf(s->log[s->n++], sizeof(s->log[0]), "+%s", b);
	else
		snprintf(s->log[s->n++], sizeof(s->log[0]), "-%s", a);
}

static void expect(struct seen *s, const char *const *want, unsigned n)
{
	if (s->n != n) {
		for (unsigned i = 0; i < s->n; i++)
			print_message("seen[%u] %s\n", i, s->log[i]);
		fail_msg("%u changes seen, %u expected", s->n, n);
	}
	for (unsigned i = 0; i < n; i++)
		assert_string_equal(s->log[i], want[i]);
	s->n = 0;
}

static void commit(struct iocb_store *st)
{
	struct iocb_err err;
	if (iocb_store_commit(st, &err) != IOCB_OK)
		fail_msg("commit: %s", err.msg);
}

static bool is_b(void *ud, const struct iocb_store_attr *a)
{
	(void)ud;
	struct iocb_store_attr_view v;
	iocb_store_attr_view(a, &v);
	return iocb_str_eq_c(v.value, "b.example");
}

static void test_every_kind_of_change(void **state)
{
	struct iocb_store *st = fixture_store_open(false);
	struct fixture_attr t;
	struct seen s = {0}, s2 = {0};
	struct iocb_err err;
	size_t removed;
	char u[37];
	(void)state;

	int h = iocb_store_listen(st, on_change, &s);
	assert_true(h >= 0);
	int h2 = iocb_store_listen(st, on_change, &s2);
	assert_true(h2 >= 0 && h2 != h);

	/* insert; the same bytes again (a reconcile row, a duplicate message) is no change */
	fixture_store_upsert(st, fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true));
	fixture_store_upsert(st, fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true));
	expect(&s, (const char *const[]){"+a.example"}, 1);
	expect(&s2, (const char *const[]){"+a.example"}, 1);
	/* an edit: a new value, then to_ids off, then a new timestamp only */
	fixture_store_upsert(st, fixture_attr_make(&t, 1, "domain", "a2.example", NULL, -1, 1, true));
	fixture_store_upsert(st, fixture_attr_make(&t, 1, "domain", "a2.example", NULL, -1, 1, false));
	fixture_attr_make(&t, 1, "domain", "a2.example", NULL, -1, 1, false);
	t.a.timestamp++;
	fixture_store_upsert(st, &t.a);
	expect(&s, (const char *const[]){"~a.example>a2.example", "~a2.example>a2.example(noids)",
					 "~a2.example(noids)>a2.example(noids)"}, 3);
	/* new event metadata reaches the attribute: a change, though its own bytes are the same */
	fixture_attr_make(&t, 1, "domain", "a2.example", NULL, -1, 1, false);
	t.a.timestamp++;
	fixture_store_upsert(st, &t.a);
	s.n = 0;
	t.ev.info = iocb_str_c("renamed event");
	fixture_store_upsert(st, &t.a);
	expect(&s, (const char *const[]){"~a2.example(noids)>a2.example(noids)"}, 1);

	/* soft delete (the deleted flag) and delete by uuid */
	fixture_store_upsert(st, fixture_attr_make(&t, 2, "domain", "b.example", NULL, -1, 1, true));
	fixture_store_upsert(st, fixture_attr_make(&t, 3, "domain", "c.example", NULL, -1, 2, true));
	fixture_attr_make(&t, 3, "domain", "c.example", NULL, -1, 2, true);
	t.a.deleted = true;
	fixture_store_upsert(st, &t.a);
	fixture_store_upsert(st, fixture_attr_make(&t, 3, "domain", "c.example", NULL, -1, 2, true));
	fixture_uuid(u, 0xa, 3);
	assert_int_equal(iocb_store_remove(st, iocb_str_c(u), &err), IOCB_OK);
	assert_int_equal(iocb_store_remove(st, iocb_str_c(u), &err), IOCB_ENOTFOUND);
	expect(&s, (const char *const[]){"+b.example", "+c.example", "-c.example", "+c.example", "-c.example"}, 5);

	/* a sweep (reconcile, filter change) */
	assert_int_equal(iocb_store_remove_if(st, is_b, NULL, &removed, &err), IOCB_OK);
	assert_int_equal(removed, 1);
	expect(&s, (const char *const[]){"-b.example"}, 1);

	/* an event delete: its attributes leave at the commit that sweeps them, once each */
	fixture_store_upsert(st, fixture_attr_make(&t, 4, "domain", "d.example", NULL, -1, 3, true));
	fixture_store_upsert(st, fixture_attr_make(&t, 5, "domain", "e.example", NULL, -1, 3, true));
	s.n = 0;
	fixture_uuid(u, 0xe, 3);
	assert_int_equal(iocb_store_event_remove(st, iocb_str_c(u), 0, &removed, &err), IOCB_OK);
	assert_int_equal(removed, 2);
	assert_int_equal(s.n, 0);
	commit(st);
	assert_int_equal(s.n, 2);
	assert_true((strcmp(s.log[0], "-d.example") == 0 && strcmp(s.log[1], "-e.example") == 0) ||
		    (strcmp(s.log[0], "-e.example") == 0 && strcmp(s.log[1], "-d.example") == 0));
	s.n = 0;
	commit(st);
	assert_int_equal(s.n, 0);

	/* unlisten: the other listener goes on alone; slots are reused */
	iocb_store_unlisten(st, h);
	iocb_store_unlisten(st, h); /* twice is harmless */
	iocb_store_unlisten(st, 99);
	s2.n = 0;
	fixture_store_upsert(st, fixture_attr_make(&t, 6, "domain", "f.example", NULL, -1, 1, true));
	assert_int_equal(s.n, 0);
	expect(&s2, (const char *const[]){"+f.example"}, 1);
	iocb_store_unlisten(st, h2);
	iocb_store_free(st);
}

static void noop(void *ud, const struct iocb_store_attr *old, const struct iocb_store_attr *nw)
{
	(void)ud;
	(void)old;
	(void)nw;
}

static void test_listener_limit(void **state)
{
	struct iocb_store *st = fixture_store_open(false);
	(void)state;
	for (int i = 0; i < IOCB_STORE_MAX_LISTENERS; i++)
		assert_int_equal(iocb_store_listen(st, noop, NULL), i);
	assert_int_equal(iocb_store_listen(st, noop, NULL), IOCB_ELIMIT);
	iocb_store_unlisten(st, 2);
	assert_int_equal(iocb_store_listen(st, noop, NULL), 2);
	iocb_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_kind_of_change),
		cmocka_unit_test(test_listener_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
