/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the feed source (src/sources/feed.c): the manifest index
 * (through the module's private internal.h, also what the fuzzer calls) and
 * the source itself on a local feed directory, run for real against an
 * in-memory store: first load, a changed event, a dropped event, another
 * source's copy of an event, a broken event file, and a restart.
 * Waits poll conditions with deadlines; the feed interval is 1 s (the
 * configuration's minimum), so the source tests take a few seconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/file.h"
#include "json/json.h"
#include "sources/internal.h"
#include "sources/sources.h"
#include "store/store.h"

/* ------------------------------------------------------------ manifest */

static int parse(const char *doc, size_t max, struct iocb_feed__manifest *m, struct iocb_err *err)
{
	return iocb_feed__manifest_parse(doc, strlen(doc), max, m, err);
}

static void test_manifest_example(void **state)
{
	struct iocb_file_map fm = {0};
	struct iocb_feed__manifest m;
	struct iocb_err err = {0};
	uint8_t u[16];

	(void)state;
	assert_int_equal(iocb_file_map(IOCB_SOURCE_DIR "/examples/intel/feed/manifest.json", 0, &fm, &err), IOCB_OK);
	assert_int_equal(iocb_feed__manifest_parse(fm.data, fm.len, 100, &m, &err), IOCB_OK);
	assert_int_equal(m.n, 3);
	assert_int_equal(m.skipped, 0);
	for (size_t i = 1; i < m.n; i++)
		assert_true(memcmp(m.v[i - 1].uuid, m.v[i].uuid, 16) < 0);
	assert_true(iocb_misp_uuid_parse(IOCB_STR_LIT("cc219755-21fd-5404-a1dc-0e212576ebfb"), u));
	const struct iocb_feed__entry *e = iocb_feed__manifest_find(&m, u);
	assert_non_null(e);
	assert_string_equal(e->name, "cc219755-21fd-5404-a1dc-0e212576ebfb");
	assert_int_equal(e->timestamp, 1732300500);
	u[15] ^= 1;
	assert_null(iocb_feed__manifest_find(&m, u));
	iocb_feed__manifest_fini(&m);
	iocb_file_unmap(&fm);
}

#define U1 "AAAAAAAA-0000-4000-8000-000000000001"
#define U2 "aaaaaaaa-0000-4000-8000-000000000002"

static void test_manifest_shapes(void **state)
{
	struct iocb_feed__manifest m;
	struct iocb_err err = {0};
	uint8_t u[16];

	(void)state;
	/* numbers and strings, upper-case uuid kept as spelled, duplicates keep the newest */
	assert_int_equal(parse(" {\"" U1 "\":{\"timestamp\":5,\"info\":\"x\",\"Tag\":[{}]},\"" U2
			       "\":{\"Orgc\":{\"timestamp\":\"9\"},\"timestamp\":\"7\"},\"" U1
			       "\":{\"timestamp\":\"6\"}} \n",
			       10, &m, &err),
			 IOCB_OK);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.skipped, 0);
	assert_true(iocb_misp_uuid_parse(IOCB_STR_LIT(U1), u));
	assert_int_equal(iocb_feed__manifest_find(&m, u)->timestamp, 6);
	assert_string_equal(iocb_feed__manifest_find(&m, u)->name, U1);
	assert_true(iocb_misp_uuid_parse(IOCB_STR_LIT(U2), u));
	assert_int_equal(iocb_feed__manifest_find(&m, u)->timestamp, 7);
	iocb_feed__manifest_fini(&m);

	/* bad members are skipped, counted, located; the rest stays */
	assert_int_equal(parse("{\"not-a-uuid\":{\"timestamp\":\"1\"},\"" U1 "\":[],\"" U2
			       "\":{\"timestamp\":\"12a\"},\"aaaaaaaa-0000-4000-8000-00000000000x\":{},"
			       "\"aaaaaaaa-0000-4000-8000-000000000003\":{\"timestamp\":-1},"
			       "\"aaaaaaaa-0000-4000-8000-000000000004\":{\"timestamp\":1.5},"
			       "\"aaaaaaaa-0000-4000-8000-000000000005\":{\"timestamp\":null},"
			       "\"aaaaaaaa\\u002d0000-4000-8000-000000000006\":{\"timestamp\":\"1\"},"
			       "\"aaaaaaaa-0000-4000-8000-000000000007\":{\"timestamp\":\"99999999999999999999999\"},"
			       "\"aaaaaaaa-0000-4000-8000-000000000008\":{\"timestamp\":\"8\"}}",
			       10, &m, &err),
			 IOCB_OK);
	assert_int_equal(m.n, 1);
	assert_int_equal(m.skipped, 9);
	assert_string_equal(m.v[0].name, "aaaaaaaa-0000-4000-8000-000000000008");
	assert_non_null(strstr(m.first_skip, "byte 1:"));
	iocb_feed__manifest_fini(&m);

	assert_int_equal(parse("{}", 10, &m, &err), IOCB_OK);
	assert_int_equal(m.n, 0);
	iocb_feed__manifest_fini(&m);
}

static void test_manifest_errors(void **state)
{
	static const struct {
		const char *doc;
		int rc;
		const char *where; /* expected in err.msg */
	} cases[] = {
		{"", IOCB_EPARSE, "byte"},
		{"[]", IOCB_EPARSE, "byte 0"},
		{"\"x\"", IOCB_EPARSE, "byte 0"},
		{"null", IOCB_EPARSE, "byte"},
		{"{", IOCB_EPARSE, "byte"},
		{"{\"" U1 "\":{\"timestamp\":\"1\"}", IOCB_EPARSE, "byte"},
		{"{\"" U1 "\":{\"timestamp\":\"1\"}}{}", IOCB_EPARSE, "byte"},
		{"{\"" U1 "\":{\"timestamp\":\"1\"}} x", IOCB_EPARSE, "byte"},
		{"{\"" U1 "\":{\"timestamp\":\"1\",}}", IOCB_EPARSE, "byte"},
		{"{\"" U1 "\":{\"timestamp\":\"1\xff\"}}", IOCB_EPARSE, "byte"},
		{"<html>502 Bad Gateway</html>", IOCB_EPARSE, "byte 0"},
	};
	struct iocb_feed__manifest m;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iocb_err err = {0};
		int rc = parse(cases[i].doc, 10, &m, &err);
		if (rc != cases[i].rc || !strstr(err.msg, cases[i].where))
			fail_msg("case %zu (%s): rc %d msg '%s'", i, cases[i].doc, rc, err.msg);
		assert_null(m.v);
		assert_int_equal(m.n, 0);
		iocb_feed__manifest_fini(&m);
	}
}

static void test_manifest_limits(void **state)
{
	struct iocb_feed__manifest m;
	struct iocb_err err = {0};
	struct iocb_buf b;
	struct iocb_jw w;

	(void)state;
	/* more events than the cap */
	iocb_buf_init(&b, 0);
	iocb_jw_init(&w, &b);
	iocb_jw_obj(&w);
	for (unsigned i = 0; i < 5000; i++) {
		char k[40];
		snprintf(k, sizeof(k), "aaaaaaaa-0000-4000-8000-%012u", i);
		iocb_jw_key(&w, k);
		iocb_jw_obj(&w);
		iocb_jw_key(&w, "timestamp");
		iocb_jw_cstr(&w, "1732300500");
		iocb_jw_obj_end(&w);
	}
	iocb_jw_obj_end(&w);
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	assert_int_equal(iocb_feed__manifest_parse(b.ptr, b.len, 5000, &m, &err), IOCB_OK);
	assert_int_equal(m.n, 5000);
	iocb_feed__manifest_fini(&m);
	assert_int_equal(iocb_feed__manifest_parse(b.ptr, b.len, 4999, &m, &err), IOCB_ELIMIT);
	assert_non_null(strstr(err.msg, "byte "));
	assert_null(m.v);
	iocb_feed__manifest_fini(&m);
	iocb_buf_fini(&b);

	/* nesting far past the cap, inside an entry */
	iocb_buf_init(&b, 0);
	assert_int_equal(iocb_buf_append_c(&b, "{\"" U1 "\":{\"timestamp\":\"1\",\"x\":"), IOCB_OK);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(iocb_buf_putc(&b, '['), IOCB_OK);
	assert_true(iocb_feed__manifest_parse(b.ptr, b.len, 10, &m, &err) < 0);
	assert_non_null(strstr(err.msg, "byte"));
	iocb_feed__manifest_fini(&m);
	iocb_buf_fini(&b);
}

/* Random corruption of the real manifest never crashes (ASan/UBSan watch). */
static void test_manifest_mutations(void **state)
{
	struct iocb_file_map fm = {0};
	struct iocb_err err = {0};
	unsigned seed = 12345;

	(void)state;
	assert_int_equal(iocb_file_map(IOCB_SOURCE_DIR "/examples/intel/feed/manifest.json", 0, &fm, &err), IOCB_OK);
	char *buf = malloc(fm.len);
	assert_non_null(buf);
	for (int iter = 0; iter < 3000; iter++) {
		struct iocb_feed__manifest m;
		size_t len = fm.len;
		memcpy(buf, fm.data, fm.len);
		seed = seed * 1103515245u + 12345u;
		if (iter % 3 == 0)
			len = (seed >> 8) % (fm.len + 1);
		for (int k = 0; k < 1 + iter % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[(seed >> 4) % fm.len] = (char)(seed >> 20);
		}
		int rc = iocb_feed__manifest_parse(buf, len, 2, &m, &err);
		assert_true(rc == IOCB_OK || rc == IOCB_EPARSE || rc == IOCB_ELIMIT);
		if (rc == IOCB_OK)
			assert_true(m.n <= 2);
		iocb_feed__manifest_fini(&m);
	}
	free(buf);
	iocb_file_unmap(&fm);
}

/* ------------------------------------------------------------ the source */

#define EV_A "11111111-1111-4111-8111-111111111111"
#define EV_B "22222222-2222-4222-8222-222222222222"
#define AT_A1 "a1a1a1a1-0000-4000-8000-000000000001"
#define AT_A2 "a1a1a1a1-0000-4000-8000-000000000002"
#define AT_B1 "b1b1b1b1-0000-4000-8000-000000000001"
#define EV_C "33333333-3333-4333-8333-333333333333"
#define AT_C1 "c3c3c3c3-0000-4000-8000-000000000001"
#define AT_M1 "c1c1c1c1-0000-4000-8000-000000000001" /* another source's attribute in event B */

struct feedfix {
	char dir[256];                /* the feed directory */
	char yaml[600];               /* configuration */
	struct iocb_config *cfg;      /* loaded from yaml */
	struct iocb_store *store;     /* memory store */
	struct iocb_sources_sync y;           /* sync state */
	struct iocb_source *src;      /* the running feed source */
};

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char tmp[512], path[512];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(tmp, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

/* {"Event":{uuid, info, timestamp, Attribute:[{uuid,type ip-dst,value}...]}} */
static void write_event(const char *dir, const char *ev, unsigned ts, const char *const *attrs, size_t n)
{
	struct iocb_buf b;
	struct iocb_jw w;
	char name[64], tss[24];

	snprintf(tss, sizeof(tss), "%u", ts);
	iocb_buf_init(&b, 0);
	iocb_jw_init(&w, &b);
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "Event");
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "uuid");
	iocb_jw_cstr(&w, ev);
	iocb_jw_key(&w, "info");
	iocb_jw_cstr(&w, "unit test event");
	iocb_jw_key(&w, "date");
	iocb_jw_cstr(&w, "2026-11-23");
	iocb_jw_key(&w, "timestamp");
	iocb_jw_cstr(&w, tss);
	iocb_jw_key(&w, "published");
	iocb_jw_bool(&w, true);
	iocb_jw_key(&w, "Attribute");
	iocb_jw_arr(&w);
	for (size_t i = 0; i < n; i++) {
		char value[32];
		snprintf(value, sizeof(value), "198.51.100.%zu", (size_t)(attrs[i][35] - '0') + (ev[0] == '1' ? 0 : 100));
		iocb_jw_obj(&w);
		iocb_jw_key(&w, "uuid");
		iocb_jw_cstr(&w, attrs[i]);
		iocb_jw_key(&w, "type");
		iocb_jw_cstr(&w, "ip-dst");
		iocb_jw_key(&w, "category");
		iocb_jw_cstr(&w, "Network activity");
		iocb_jw_key(&w, "value");
		iocb_jw_cstr(&w, value);
		iocb_jw_key(&w, "to_ids");
		iocb_jw_bool(&w, true);
		iocb_jw_key(&w, "timestamp");
		iocb_jw_cstr(&w, tss);
		iocb_jw_obj_end(&w);
	}
	iocb_jw_arr_end(&w);
	iocb_jw_obj_end(&w);
	iocb_jw_obj_end(&w);
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	snprintf(name, sizeof(name), "%s.json", ev);
	write_file(dir, name, b.ptr, b.len);
	iocb_buf_fini(&b);
}

/* manifest with events ev[i] at ts[i] */
static void write_manifest(const char *dir, const char *const *ev, const unsigned *ts, size_t n)
{
	struct iocb_buf b;
	struct iocb_jw w;

	iocb_buf_init(&b, 0);
	iocb_jw_init(&w, &b);
	iocb_jw_obj(&w);
	for (size_t i = 0; i < n; i++) {
		char tss[24];
		snprintf(tss, sizeof(tss), "%u", ts[i]);
		iocb_jw_key(&w, ev[i]);
		iocb_jw_obj(&w);
		iocb_jw_key(&w, "info");
		iocb_jw_cstr(&w, "unit test event");
		iocb_jw_key(&w, "timestamp");
		iocb_jw_cstr(&w, tss);
		iocb_jw_obj_end(&w);
	}
	iocb_jw_obj_end(&w);
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	write_file(dir, "manifest.json", b.ptr, b.len);
	iocb_buf_fini(&b);
}

static bool has_attr(struct iocb_store *s, const char *uuid, unsigned *source)
{
	const struct iocb_store_attr *a;
	struct iocb_store_attr_view v;
	bool found;

	iocb_store_read_lock();
	a = iocb_store_get(s, iocb_str_c(uuid));
	found = a != NULL;
	if (a && source) {
		iocb_store_attr_view(a, &v);
		*source = v.source;
	}
	iocb_store_read_unlock();
	return found;
}

static struct iocb_sources_sync_metrics *feed_metrics(struct feedfix *fx)
{
	for (size_t i = 0; i < iocb_sources_sync_metrics_count(&fx->y); i++) {
		struct iocb_sources_sync_metrics *m = iocb_sources_sync_metrics_get(&fx->y, i);
		if (strcmp(m->name, "feed:t") == 0)
			return m;
	}
	return NULL;
}

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Poll `cond` for up to 15 s. */
#define WAIT_FOR(cond)                                                                  \
	do {                                                                            \
		double end_ = now_mono() + 15;                                          \
		while (!(cond) && now_mono() < end_) {                                  \
			struct timespec d_ = {0, 20 * 1000 * 1000};                     \
			nanosleep(&d_, NULL);                                           \
		}                                                                       \
		if (!(cond))                                                            \
			fail_msg("timed out waiting for %s", #cond);                    \
	} while (0)

static void source_start(struct feedfix *fx)
{
	struct iocb_err err = {0};

	iocb_sources_sync_init(&fx->y, fx->store, NULL, fx->cfg);
	assert_int_equal(iocb_sources_feed_start(&fx->y, &fx->src, &err), IOCB_OK);
	assert_non_null(fx->src);
	assert_string_equal(fx->src->kind, "feeds");
}

static void source_stop(struct feedfix *fx)
{
	iocb_sources_sync_stop(&fx->y);
	fx->src->join(fx->src);
	fx->src = NULL;
	iocb_sources_sync_fini(&fx->y);
}

static uint64_t mget(struct feedfix *fx, int which)
{
	struct iocb_sources_sync_metrics *m = feed_metrics(fx);
	assert_non_null(m);
	return which == 0 ? IOCB_M_GET(m->messages) : which == 1 ? IOCB_M_GET(m->errors) : (uint64_t)IOCB_M_GET(m->up);
}

static void test_source_local(void **state)
{
	static const char *const evs[] = {EV_A, EV_B};
	static const char *const a_both[] = {AT_A1, AT_A2}, *const a_one[] = {AT_A1}, *const b_one[] = {AT_B1}, *const c_one[] = {AT_C1};
	struct iocb_store_opts so;
	struct iocb_err err = {0};
	struct feedfix fx;
	unsigned ts[2] = {100, 200}, src = 99;
	uint64_t msgs, errs;

	(void)state;
	memset(&fx, 0, sizeof(fx));
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/iocb-test-feed-XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	write_event(fx.dir, EV_A, 100, a_both, 2);
	write_event(fx.dir, EV_B, 200, b_one, 1);
	write_manifest(fx.dir, evs, ts, 2);
	snprintf(fx.yaml, sizeof(fx.yaml), "feeds:\n  - name: t\n    url: %s/\n    interval: 1s\n", fx.dir);
	assert_int_equal(iocb_config_load_string("t.yaml", fx.yaml, strlen(fx.yaml), &fx.cfg, &err), IOCB_OK);
	iocb_store_opts_default(&so);
	assert_int_equal(iocb_store_open(&so, &fx.store, &err), IOCB_OK);
	iocb_store_reader_register();

	/* another source holds an attribute of event B: the feed never removes it */
	{
		struct iocb_misp_event ev = {0};
		struct iocb_misp_attr a = {0};
		ev.uuid = IOCB_STR_LIT(EV_B);
		ev.analysis = -1;
		a.uuid = IOCB_STR_LIT(AT_M1);
		a.indicator = true;
		a.type = iocb_misp_type_find(IOCB_STR_LIT("domain"));
		a.value = a.part[0] = IOCB_STR_LIT("misp-only.example");
		a.prefix[0] = a.prefix[1] = -1;
		a.nparts = 1;
		a.to_ids = true;
		a.first_seen_us = a.last_seen_us = INT64_MIN;
		a.event = &ev;
		assert_int_equal(iocb_store_upsert(fx.store, &a, IOCB_SRCID_MISP, 1, &err), IOCB_OK);
		assert_int_equal(iocb_store_commit(fx.store, &err), IOCB_OK);
	}

	/* first load: manifest + 2 events */
	source_start(&fx);
	WAIT_FOR(has_attr(fx.store, AT_A1, NULL) && has_attr(fx.store, AT_A2, NULL) && has_attr(fx.store, AT_B1, &src));
	assert_int_equal(src, IOCB_SRCID_FEED0);
	WAIT_FOR(mget(&fx, 0) == 3);
	assert_int_equal(mget(&fx, 2), 1);
	assert_int_equal(mget(&fx, 1), 0);

	/* event A loses A2 and gets a new timestamp: only the manifest and A are read */
	write_event(fx.dir, EV_A, 101, a_one, 1);
	ts[0] = 101;
	write_manifest(fx.dir, evs, ts, 2);
	WAIT_FOR(!has_attr(fx.store, AT_A2, NULL));
	WAIT_FOR(mget(&fx, 0) == 5);
	assert_true(has_attr(fx.store, AT_A1, NULL));
	assert_true(has_attr(fx.store, AT_B1, NULL));

	/* a broken event file: counted, previous state kept, retried every round */
	errs = mget(&fx, 1);
	write_file(fx.dir, EV_A ".json", "{\"Event\":{\"uuid\":", 18);
	ts[0] = 102;
	write_manifest(fx.dir, evs, ts, 2);
	WAIT_FOR(mget(&fx, 1) >= errs + 2);
	assert_true(has_attr(fx.store, AT_A1, NULL));

	/* a missing event file too */
	errs = mget(&fx, 1);
	{
		char p[512];
		snprintf(p, sizeof(p), "%s/%s.json", fx.dir, EV_A);
		assert_int_equal(unlink(p), 0);
	}
	WAIT_FOR(mget(&fx, 1) >= errs + 1);
	assert_true(has_attr(fx.store, AT_A1, NULL));
	/* an event file that names another event: counted; what it added is swept */
	errs = mget(&fx, 1);
	msgs = mget(&fx, 0);
	{
		char p[512], q[512];
		write_event(fx.dir, EV_C, 102, c_one, 1);
		snprintf(p, sizeof(p), "%s/%s.json", fx.dir, EV_C);
		snprintf(q, sizeof(q), "%s/%s.json", fx.dir, EV_A);
		assert_int_equal(rename(p, q), 0);
	}
	/* read in two rounds (so the first one's sweep is done), refused both times */
	WAIT_FOR(mget(&fx, 0) >= msgs + 2);
	WAIT_FOR(mget(&fx, 1) >= errs + 2);
	WAIT_FOR(!has_attr(fx.store, AT_C1, NULL));
	assert_true(has_attr(fx.store, AT_A1, NULL));
	msgs = mget(&fx, 0);
	write_event(fx.dir, EV_A, 102, a_one, 1);
	WAIT_FOR(mget(&fx, 0) >= msgs + 1);

	/* event B dropped from the manifest: its feed attributes go, the other source's stays */
	write_manifest(fx.dir, evs, ts, 1);
	WAIT_FOR(!has_attr(fx.store, AT_B1, NULL));
	assert_true(has_attr(fx.store, AT_M1, &src));
	assert_int_equal(src, IOCB_SRCID_MISP);
	assert_true(has_attr(fx.store, AT_A1, NULL));

	/* a broken manifest: counted, nothing removed */
	errs = mget(&fx, 1);
	write_file(fx.dir, "manifest.json", "{\"" EV_A "\":", 40);
	WAIT_FOR(mget(&fx, 1) >= errs + 1);
	assert_true(has_attr(fx.store, AT_A1, NULL));
	source_stop(&fx);

	/* restart: B is listed again, A is not; the first sweep removes A (unlisted) */
	write_event(fx.dir, EV_B, 200, b_one, 1);
	write_manifest(fx.dir, evs + 1, ts + 1, 1);
	source_start(&fx);
	WAIT_FOR(has_attr(fx.store, AT_B1, NULL) && !has_attr(fx.store, AT_A1, NULL));
	assert_true(has_attr(fx.store, AT_M1, NULL));
	source_stop(&fx);

	iocb_store_reader_unregister();
	iocb_store_free(fx.store);
	iocb_config_free(fx.cfg);
	{
		char p[512];
		snprintf(p, sizeof(p), "%s/%s.json", fx.dir, EV_A);
		unlink(p);
		snprintf(p, sizeof(p), "%s/%s.json", fx.dir, EV_B);
		unlink(p);
		snprintf(p, sizeof(p), "%s/manifest.json", fx.dir);
		unlink(p);
		rmdir(fx.dir);
	}
}

static void test_source_none(void **state)
{
	struct iocb_config *cfg = iocb_config_default();
	struct iocb_store_opts so;
	struct iocb_store *s = NULL;
	struct iocb_source *src = (struct iocb_source *)1;
	struct iocb_err err = {0};
	struct iocb_sources_sync y;

	(void)state;
	iocb_store_opts_default(&so);
	assert_int_equal(iocb_store_open(&so, &s, &err), IOCB_OK);
	iocb_sources_sync_init(&y, s, NULL, cfg);
	assert_int_equal(iocb_sources_feed_start(&y, &src, &err), IOCB_OK);
	assert_null(src);
	assert_int_equal(iocb_sources_sync_metrics_count(&y), 0);
	iocb_sources_sync_fini(&y);
	iocb_store_free(s);
	iocb_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_example),  cmocka_unit_test(test_manifest_shapes),
		cmocka_unit_test(test_manifest_errors),   cmocka_unit_test(test_manifest_limits),
		cmocka_unit_test(test_manifest_mutations), cmocka_unit_test(test_source_none),
		cmocka_unit_test(test_source_local),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
