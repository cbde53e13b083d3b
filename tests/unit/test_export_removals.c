/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for Zeek removals (export.h's iocb_export_zeek_removals,
 * exports.md §2.4): with the state, the file gains the `meta.remove`
 * column; an indicator that leaves the store stays as a `T` line for
 * keep_s, goes back to a live `F` line when re-added, and a state started
 * over the previous file on disk (a restart) finds what was removed
 * meanwhile. Every file still reads under Zeek's reader rules.
 */
#include "export/export.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture_store.h"
#include "zeek_reader.h"

static char text[65536];

/* Export zeek to path with removals r; returns the file's text. */
static const char *write_zeek(struct iocb_store *s, const char *path, struct iocb_export_zeek_removals *r)
{
	struct iocb_export_opts o = {.removals = r, .source_name = "m"};
	struct iocb_export_stats st;
	struct iocb_export_sink k;
	struct iocb_err err;
	struct zeek_read zr;
	FILE *fp;
	size_t n;

	assert_int_equal(iocb_export_sink_path(&k, path, &err), IOCB_OK);
	assert_int_equal(iocb_export_zeek(s, &o, &k, &st, &err), IOCB_OK);
	assert_int_equal(iocb_export_sink_commit(&k, &err), IOCB_OK);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(text, 1, sizeof(text) - 1, fp);
	text[n] = '\0';
	fclose(fp);
	assert_int_equal(zeek_reader_parse(text, &zr), 0);
	assert_int_equal(zr.bad, 0);
	return text;
}

static void add(struct iocb_store *s, uint64_t n, const char *v)
{
	struct fixture_attr t;
	fixture_store_upsert(s, fixture_attr_make(&t, n, "domain", v, NULL, -1, 0, true));
}

static void del(struct iocb_store *s, uint64_t n)
{
	char uuid[37];
	struct iocb_err err;

	fixture_uuid(uuid, 0xa, n);
	assert_int_equal(iocb_store_remove(s, iocb_str_c(uuid), &err), IOCB_OK);
}

#define HDR "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\tmeta.remove\n"
#define LIVE(v, n) v "\tIntel::DOMAIN\tm\tcomment-for-0000000a-0000-4000-8000-00000000000" #n "\t-\tF\n"
#define GONE(v) v "\tIntel::DOMAIN\tm\t-\t-\tT\n"

static void test_removals(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct iocb_export_zeek_removals *r = iocb_export_zeek_removals_new(3600), *r2, *r0;
	char dir[] = "/tmp/iocb-zrm-XXXXXX", path[128];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/misp.intel", dir);
	add(s, 1, "a.example");
	add(s, 2, "b.example");
	assert_string_equal(write_zeek(s, path, r), HDR LIVE("a.example", 1) LIVE("b.example", 2));
	del(s, 1);
	assert_string_equal(write_zeek(s, path, r), HDR LIVE("b.example", 2) GONE("a.example"));
	/* written again while kept */
	assert_string_equal(write_zeek(s, path, r), HDR LIVE("b.example", 2) GONE("a.example"));
	add(s, 1, "a.example");
	assert_string_equal(write_zeek(s, path, r), HDR LIVE("a.example", 1) LIVE("b.example", 2));
	/* a restart: b removed while down; the new state reads the old file */
	del(s, 2);
	r2 = iocb_export_zeek_removals_new(3600);
	assert_string_equal(write_zeek(s, path, r2), HDR LIVE("a.example", 1) GONE("b.example"));
	/* the shortest keep still writes the tombstone once: the run that finds the removal */
	r0 = iocb_export_zeek_removals_new(0.000001);
	del(s, 1);
	assert_string_equal(write_zeek(s, path, r0), HDR GONE("a.example") GONE("b.example"));
	iocb_export_zeek_removals_free(r);
	iocb_export_zeek_removals_free(r2);
	iocb_export_zeek_removals_free(r0);
	unlink(path);
	rmdir(dir);
	iocb_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_removals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
