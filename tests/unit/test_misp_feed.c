/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of src/misp/feed.c through misp.h: the one feed-manifest
 * parser (iocb_misp_parse_manifest: entries with their metadata, skipped
 * members, strictness) and the feed-directory walker (manifest metadata
 * as fallback, broken parts skipped, its index of the manifest growing and
 * failing to grow). realloc and free are
 * wrapped at link time (-Wl,--wrap, see misp_feed.cmake) so a test can make
 * a growth fail and see whether the block it was asked to grow is freed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "misp/misp.h"

/* ------------------------------------------------------------ allocation faults */

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
void __real_free(void *p);
void __wrap_free(void *p);

static bool fail_growth;        /* make realloc of an existing block fail */
static void *failed_block;      /* the block a failed realloc was asked to grow */
static bool failed_block_freed; /* ... and whether it was freed afterwards */

void *__wrap_realloc(void *p, size_t n)
{
	if (fail_growth && p) {
		failed_block = p;
		return NULL;
	}
	return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
	if (p && p == failed_block)
		failed_block_freed = true;
	__real_free(p);
}

/* ------------------------------------------------------------ manifest */

#define U1 "aaaaaaaa-0000-4000-8000-000000000001"
#define U2 "AAAAAAAA-0000-4000-8000-000000000002"

struct got {
	size_t n;                /* entries */
	char uuid[4][40];        /* their uuids */
	char info[4][40];        /* Event.info */
	char tag0[4][40];        /* first tag */
	char orgc[4][40];        /* Orgc.name */
	uint64_t ts[4];          /* timestamp */
	bool has_ts[4];          /* has_timestamp */
	size_t skips;            /* skipped members */
	char last_skip[300];     /* the last skip's detail */
	int stop_at;             /* return an error at this entry (1-based), 0 never */
};

static void cp(char *dst, size_t cap, struct iocb_str s)
{
	snprintf(dst, cap, "%.*s", (int)s.len, s.ptr ? s.ptr : "");
}

static int on_entry(void *ud, const struct iocb_misp_manifest_entry *e)
{
	struct got *g = ud;
	uint8_t u[16];

	assert_true(iocb_misp_uuid_parse(e->uuid, u));
	assert_memory_equal(u, e->uuid_bin, 16);
	assert_true(iocb_str_eq(e->ev->uuid, e->uuid));
	if (g->n < 4) {
		cp(g->uuid[g->n], sizeof(g->uuid[0]), e->uuid);
		cp(g->info[g->n], sizeof(g->info[0]), e->ev->info);
		cp(g->orgc[g->n], sizeof(g->orgc[0]), e->ev->orgc_name);
		if (e->ev->ntags)
			cp(g->tag0[g->n], sizeof(g->tag0[0]), e->ev->tags[0].name);
		g->ts[g->n] = e->ev->timestamp;
		g->has_ts[g->n] = e->has_timestamp;
	}
	g->n++;
	return g->stop_at && (int)g->n == g->stop_at ? IOCB_EIO : IOCB_OK;
}

static void on_skip(void *ud, enum iocb_misp_skip r, const char *detail)
{
	struct got *g = ud;

	assert_int_equal(r, IOCB_SKIP_BAD_SHAPE);
	g->skips++;
	snprintf(g->last_skip, sizeof(g->last_skip), "%s", detail);
}

static int manifest(const char *doc, struct got *g, struct iocb_misp_stats *st, struct iocb_err *err)
{
	int stop_at = g->stop_at;

	memset(g, 0, sizeof(*g));
	g->stop_at = stop_at;
	memset(st, 0, sizeof(*st));
	return iocb_misp_parse_manifest(doc, strlen(doc), "m.json", on_entry, on_skip, g, NULL, st, err);
}

static void test_manifest_entries(void **state)
{
	struct iocb_misp_stats st;
	struct iocb_err err = {0};
	struct got g = {0};

	(void)state;
	assert_int_equal(manifest("{\"" U1 "\":{\"info\":\"one\",\"Tag\":[{\"name\":\"tlp:white\"}],"
				  "\"Orgc\":{\"name\":\"ORG\"},\"timestamp\":\"17\"},"
				  "\"not-a-uuid\":{\"timestamp\":1},"
				  "\"" U2 "\":{\"info\":\"two\",\"timestamp\":null},"
				  "\"aaaaaaaa-0000-4000-8000-000000000003\":[1]}",
				  &g, &st, &err),
			 IOCB_OK);
	assert_int_equal(g.n, 2);
	assert_string_equal(g.uuid[0], U1);
	assert_string_equal(g.info[0], "one");
	assert_string_equal(g.tag0[0], "tlp:white");
	assert_string_equal(g.orgc[0], "ORG");
	assert_int_equal(g.ts[0], 17);
	assert_true(g.has_ts[0]);
	/* spelled as in the manifest; null is not a timestamp */
	assert_string_equal(g.uuid[1], U2);
	assert_false(g.has_ts[1]);
	assert_int_equal(g.skips, 2);
	assert_int_equal(st.skipped[IOCB_SKIP_BAD_SHAPE], 2);
	assert_non_null(strstr(g.last_skip, "m.json: byte "));
	assert_non_null(strstr(g.last_skip, "not an object"));

	/* a timestamp that is not a decimal integer, and the last one counts */
	assert_int_equal(manifest("{\"" U1 "\":{\"timestamp\":\"5\",\"timestamp\":1.5},\"" U2
				  "\":{\"timestamp\":{},\"timestamp\":6}}",
				  &g, &st, &err),
			 IOCB_OK);
	assert_int_equal(g.n, 2);
	assert_false(g.has_ts[0]);
	assert_true(g.has_ts[1]);
	assert_int_equal(g.ts[1], 6);
}

static void test_manifest_strict(void **state)
{
	static const char *const bad[] = {
		"", "[]", "{\"" U1 "\":{}", "{\"" U1 "\":{}} x", "{\"" U1 "\":{}}{}", "<html>502</html>",
	};
	struct iocb_misp_stats st;
	struct got g = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct iocb_err err = {0};
		int rc = manifest(bad[i], &g, &st, &err);
		if (rc != IOCB_EPARSE || !strstr(err.msg, "m.json: byte ") || st.skipped[IOCB_SKIP_NOT_JSON] != 1)
			fail_msg("case %zu (%s): rc %d msg '%s'", i, bad[i], rc, err.msg);
		assert_int_equal(g.skips, 0); /* a broken document is an error, not a skipped member */
	}

	/* a callback's error stops the parse and comes back as is */
	struct iocb_err err = {0};
	g.stop_at = 1;
	assert_int_equal(manifest("{\"" U1 "\":{},\"" U2 "\":{}}", &g, &st, &err), IOCB_EIO);
	assert_int_equal(g.n, 1);
	assert_int_equal(st.skipped[IOCB_SKIP_NOT_JSON], 0);
}

/* ------------------------------------------------------------ feed directory */

static size_t attrs;

static int count_attr(void *ud, const struct iocb_misp_attr *a)
{
	(void)ud;
	(void)a;
	attrs++;
	return 0;
}

/* A feed directory whose manifest lists n events; event file i exists when i % 50 == 0. */
static void make_feed(char *dir, size_t n)
{
	char path[300];
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputc('{', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\"aaaaaaaa-0000-4000-8000-%012zu\":{\"info\":\"e%zu\",\"timestamp\":\"1\"}", i ? "," : "",
			i, i);
	fputc('}', f);
	fclose(f);
	for (size_t i = 0; i < n; i += 50) {
		snprintf(path, sizeof(path), "%s/aaaaaaaa-0000-4000-8000-%012zu.json", dir, i);
		f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f, "{\"Event\":{\"Attribute\":[{\"uuid\":\"u%zu\",\"type\":\"domain\",\"value\":\"e%zu.example\"}]}}",
			i, i);
		fclose(f);
	}
}

static void rm_feed(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* What a feed-directory walk delivered. */
struct walk {
	size_t n;                        /* attributes */
	char part0[64];                  /* the first one's value */
	char evinfo[64];                 /* and its Event.info */
	bool evtags_known;               /* and whether its event's tags were known */
	size_t skips[IOCB_SKIP__COUNT];  /* skips per reason */
};

static int walk_attr(void *ud, const struct iocb_misp_attr *a)
{
	struct walk *w = ud;

	if (!w->n++) {
		cp(w->part0, sizeof(w->part0), a->part[0]);
		cp(w->evinfo, sizeof(w->evinfo), a->event->info);
		w->evtags_known = a->event->tags_known;
	}
	return 0;
}

static void walk_skip(void *ud, enum iocb_misp_skip r, const char *detail)
{
	struct walk *w = ud;

	(void)detail;
	w->skips[r]++;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_feed_dir_with_broken_parts(void **state)
{
	char dir[] = "/tmp/iocb-feed-XXXXXX";
	struct walk w = {0};
	struct iocb_misp_handlers h = {.on_attr = walk_attr, .on_skip = walk_skip, .ud = &w};
	struct iocb_err err = {0};

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "manifest.json",
		   "{\"aaaaaaaa-0000-4000-8000-000000000001\":{\"info\":\"good\",\"Tag\":[{\"name\":\"tlp:white\"}],"
		   "\"Orgc\":{\"name\":\"ORG\"},\"timestamp\":\"1\"},"
		   "\"aaaaaaaa-0000-4000-8000-000000000002\":{\"info\":\"missing\"},"
		   "\"aaaaaaaa-0000-4000-8000-000000000003\":{\"info\":\"broken\"},"
		   "\"not-a-uuid\":{}}");
	write_file(dir, "aaaaaaaa-0000-4000-8000-000000000001.json",
		   "{\"Event\":{\"Attribute\":[{\"uuid\":\"u1\",\"type\":\"domain\",\"value\":\"good.example\"}]}}");
	write_file(dir, "aaaaaaaa-0000-4000-8000-000000000003.json", "{\"Event\":{\"Attribute\":[{\"uuid\":\"u9\"");

	assert_int_equal(iocb_misp_parse_feed_dir(dir, &h, NULL, NULL, &err), IOCB_OK);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.part0, "good.example");
	/* Event metadata comes from the manifest when the file lacks it. */
	assert_string_equal(w.evinfo, "good");
	assert_true(w.evtags_known);
	assert_int_equal(w.skips[IOCB_SKIP_IO], 1);
	assert_int_equal(w.skips[IOCB_SKIP_NOT_JSON], 1);
	assert_int_equal(w.skips[IOCB_SKIP_BAD_SHAPE], 1);
	rm_feed(dir);
}

/* More events than the index's first allocation: it grows, every listed event is tried. */
static void test_feed_dir_index_grows(void **state)
{
	char dir[] = "/tmp/iocb-misp-feed-XXXXXX";
	struct iocb_misp_handlers h = {.on_attr = count_attr};
	struct iocb_misp_stats st = {0};
	struct iocb_err err = {0};

	(void)state;
	make_feed(dir, 300);
	attrs = 0;
	assert_int_equal(iocb_misp_parse_feed_dir(dir, &h, NULL, &st, &err), IOCB_OK);
	assert_int_equal(attrs, 6);
	assert_int_equal(st.events, 6);
	assert_int_equal(st.skipped[IOCB_SKIP_IO], 294);
	rm_feed(dir);
}

/*
 * The index of a feed directory's manifest fails to grow: the walk fails
 * with IOCB_ENOMEM, nothing is delivered, and the index built so far is
 * freed (it leaked when the failed realloc's NULL overwrote the pointer).
 */
static void test_feed_dir_failed_growth_frees_index(void **state)
{
	char dir[] = "/tmp/iocb-misp-feed-XXXXXX";
	struct iocb_misp_handlers h = {.on_attr = count_attr};
	struct iocb_misp_stats st = {0};
	struct iocb_err err = {0};
	int rc;

	(void)state;
	make_feed(dir, 100);
	attrs = 0;
	failed_block = NULL;
	failed_block_freed = false;
	fail_growth = true;
	rc = iocb_misp_parse_feed_dir(dir, &h, NULL, &st, &err);
	fail_growth = false;
	assert_int_equal(rc, IOCB_ENOMEM);
	assert_non_null(strstr(err.msg, "out of memory"));
	assert_int_equal(attrs, 0);
	assert_non_null(failed_block);
	assert_true(failed_block_freed);
	rm_feed(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_entries),
		cmocka_unit_test(test_manifest_strict),
		cmocka_unit_test(test_feed_dir_with_broken_parts),
		cmocka_unit_test(test_feed_dir_index_grows),
		cmocka_unit_test(test_feed_dir_failed_growth_frees_index),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
