/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for export/surisock.h: the answer parser and the command
 * bytes against exports.md §3.3, then the live feed against an in-process
 * socket stand-in (surisock_fake.c): an add becomes one dataset-add line,
 * a removal a dataset-remove retried through busy answers, an item another
 * record still holds is not removed, and a full queue forces a reload
 * (dataset-clear, then every item) instead of losing changes.
 */
#include "export/surisock.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture_store.h"
#include "surisock_fake.h"

#define ADD_EVIL "{\"command\":\"dataset-add\",\"arguments\":{\"setname\":\"doms\",\"settype\":\"string\"," \
		 "\"datavalue\":\"ZXZpbC5jb20=\"}}"

static int parse(const char *text, struct iocb_surisock_reply *r)
{
	return iocb_surisock_reply_parse(text, strlen(text), r);
}

static void test_reply_parse(void **state)
{
	struct iocb_surisock_reply r;
	static const char *const bad[] = {
		"", "[]", "{}", "{\"return\":\"MAYBE\"}", "{\"return\":1}", "{\"return\":\"OK\"}{\"return\":\"OK\"}",
		"{\"return\":\"OK\"", "{\"message\":\"data added\"}\n", "data added",
	};

	(void)state;
	assert_int_equal(parse("{\"return\":\"OK\"}\n", &r), IOCB_OK);
	assert_true(r.ok);
	assert_string_equal(r.message, "");
	assert_int_equal(parse("{\"message\":\"data is busy, try again\",\"return\":\"OK\"}", &r),
			 IOCB_OK);
	assert_true(r.ok && iocb_surisock_reply_busy(&r));
	assert_int_equal(parse("{\"message\": \"set not found or wrong type\", \"return\": \"NOK\"}", &r),
			 IOCB_OK);
	assert_false(r.ok);
	assert_false(iocb_surisock_reply_busy(&r));
	assert_string_equal(r.message, "set not found or wrong type");
	/* a structured message (dataset-dump, iface-list...) is skipped */
	assert_int_equal(parse("{\"message\":{\"a\":[1,2]},\"return\":\"OK\"}", &r), IOCB_OK);
	assert_true(r.ok);
	assert_string_equal(r.message, "");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &r), IOCB_EPARSE);
		assert_false(r.ok);
	}
}

static void test_command_bytes(void **state)
{
	struct iocb_buf b;

	(void)state;
	iocb_buf_init(&b, 4096);
	/* exactly what `suricatasc -c "dataset-add myset string Z29vZ2xlLmNvbQ=="` sends (§3.3), plus the '\n' */
	assert_int_equal(iocb_surisock_command(&b, "dataset-add", "myset", "string", IOCB_STR_LIT("Z29vZ2xlLmNvbQ==")),
			 IOCB_OK);
	assert_string_equal(b.ptr, "{\"command\":\"dataset-add\",\"arguments\":{\"setname\":\"myset\",\"settype\":\"string\","
				   "\"datavalue\":\"Z29vZ2xlLmNvbQ==\"}}\n");
	iocb_buf_reset(&b);
	assert_int_equal(iocb_surisock_command(&b, "dataset-clear", "s\"1", "ip", IOCB_STR_NULL), IOCB_OK);
	assert_string_equal(b.ptr, "{\"command\":\"dataset-clear\",\"arguments\":{\"setname\":\"s\\\"1\",\"settype\":\"ip\"}}\n");
	iocb_buf_reset(&b);
	assert_int_equal(iocb_surisock_command(&b, "version", NULL, NULL, IOCB_STR_NULL), IOCB_OK);
	assert_string_equal(b.ptr, "{\"command\":\"version\"}\n");
	iocb_buf_fini(&b);
}

static const struct iocb_misp_type *dom_types[1];

static struct iocb_surisock *start(struct iocb_store *s, struct surisock_fake *f, size_t queue_cap)
{
	struct iocb_surisock_set set = {.name = "doms", .type = IOCB_EXPORT_DS_STRING};
	struct iocb_surisock_opts o = {.path = f->path, .sets = &set, .nsets = 1, .queue_cap = queue_cap,
				       .timeout_ms = 2000};
	struct iocb_surisock *k;
	struct iocb_err err;

	dom_types[0] = iocb_misp_type_find(iocb_str_c("domain"));
	set.sel.types = dom_types;
	set.sel.ntypes = 1;
	assert_int_equal(iocb_surisock_start(&k, s, &o, &err), IOCB_OK);
	assert_true(surisock_fake_wait(f, "\"version\"", 1, 5));
	return k;
}

static void remove_attr(struct iocb_store *s, uint64_t n)
{
	char uuid[37];
	struct iocb_err err;

	fixture_uuid(uuid, 0xa, n);
	assert_int_equal(iocb_store_remove(s, iocb_str_c(uuid), &err), IOCB_OK);
}

static void test_live_add_remove_busy(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct surisock_fake f;
	struct iocb_surisock_stats st;
	struct iocb_surisock *k;
	struct fixture_attr t;

	(void)state;
	assert_true(surisock_fake_start(&f, 2));
	k = start(s, &f, 0);
	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "evil.com", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "domain", "evil.com", NULL, -1, 2, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "ip-dst", "192.0.2.1", NULL, -1, 1, true)); /* not selected */
	assert_true(surisock_fake_wait(&f, ADD_EVIL, 2, 5));
	/* attribute 2 still holds evil.com: no removal */
	remove_attr(s, 1);
	fixture_store_upsert(s, fixture_attr_make(&t, 4, "domain", "marker.example", NULL, -1, 1, true));
	assert_true(surisock_fake_wait(&f, "bWFya2VyLmV4YW1wbGU=", 1, 5));
	assert_int_equal(surisock_fake_count(&f, "dataset-remove"), 0);
	remove_attr(s, 2);
	assert_true(surisock_fake_wait(&f, "dataset-remove", 3, 5)); /* busy, busy, removed */
	iocb_surisock_stats(k, &st);
	assert_int_equal(st.retries[0], 2);
	assert_int_equal(st.nok[0], 0);
	assert_true(st.connected);
	assert_int_equal(st.version_major, 7);
	assert_int_equal(surisock_fake_count(&f, "192.0.2.1"), 0);
	/* the first connect reloads: clear before any add */
	assert_non_null(strstr(f.lines[1], "\"dataset-clear\""));
	iocb_surisock_stop(k);
	surisock_fake_stop(&f);
	iocb_store_free(s);
}

static void test_overflow_reloads(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct surisock_fake f;
	struct iocb_surisock_stats st;
	struct iocb_surisock *k;
	struct fixture_attr t;
	char v[64];

	(void)state;
	assert_true(surisock_fake_start(&f, 0));
	k = start(s, &f, 16);
	assert_true(surisock_fake_wait(&f, "dataset-clear", 1, 5));
	atomic_store(&f.hold, true); /* Suricata stalls: the ring fills */
	for (unsigned i = 0; i < 100; i++) {
		snprintf(v, sizeof(v), "d%03u.example", i);
		fixture_store_upsert(s, fixture_attr_make(&t, 10 + i, "domain", v, NULL, -1, 1, true));
	}
	iocb_surisock_stats(k, &st);
	assert_true(st.overflows > 0);
	assert_true(st.queued <= 16);
	atomic_store(&f.hold, false);
	/* a second reload (after the connect's) clears and adds all 100 */
	assert_true(surisock_fake_wait(&f, "dataset-clear", 2, 10));
	assert_true(surisock_fake_wait(&f, "ZDA5OS5leGFtcGxl", 1, 10)); /* d099.example */
	assert_true(surisock_fake_wait(&f, "ZDAwMC5leGFtcGxl", 1, 10)); /* d000.example */
	iocb_surisock_stats(k, &st);
	assert_true(st.resyncs >= 2);
	iocb_surisock_stop(k);
	surisock_fake_stop(&f);
	iocb_store_free(s);
}

/* Rule reloads without sets: merged, then at most one per reload_min_s. */
static void test_rule_reloads(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct surisock_fake f;
	struct iocb_surisock_opts o = {.reload_min_s = 0.3};
	struct iocb_surisock_stats st;
	struct iocb_surisock *k;
	struct iocb_err err;

	(void)state;
	assert_true(surisock_fake_start(&f, 0));
	o.path = f.path;
	assert_int_equal(iocb_surisock_start(&k, s, &o, &err), IOCB_OK);
	assert_true(surisock_fake_wait(&f, "\"version\"", 1, 5));
	iocb_surisock_reload_rules(k);
	assert_true(surisock_fake_wait(&f, "ruleset-reload-nonblocking", 1, 5));
	iocb_surisock_reload_rules(k); /* within 0.3 s: waits, then goes once */
	iocb_surisock_reload_rules(k);
	usleep(100000);
	assert_int_equal(surisock_fake_count(&f, "ruleset-reload-nonblocking"), 1);
	assert_true(surisock_fake_wait(&f, "ruleset-reload-nonblocking", 2, 5));
	usleep(400000);
	assert_int_equal(surisock_fake_count(&f, "ruleset-reload-nonblocking"), 2);
	iocb_surisock_stats(k, &st);
	assert_int_equal(st.reloads, 2);
	iocb_surisock_stop(k);
	surisock_fake_stop(&f);
	iocb_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_parse),
		cmocka_unit_test(test_command_bytes),
		cmocka_unit_test(test_live_add_remove_busy),
		cmocka_unit_test(test_overflow_reloads),
		cmocka_unit_test(test_rule_reloads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
