/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for export/watch.h: the file is written at start, rewritten
 * within debounce (+ the once-a-second floor) of a store change, and a
 * failing path counts errors while the other file keeps working.
 */
#include "export/watch.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/time.h"
#include "fixture_store.h"

static bool file_has(const char *path, const char *needle)
{
	char buf[4096];
	FILE *fp = fopen(path, "r");
	size_t n = 0;

	if (!fp)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

/* Wait up to 5 s for path to hold needle; the seconds it took, or -1. */
static double wait_for(const char *path, const char *needle)
{
	double t0 = iocb_time_mono_s();
	struct timespec ms10 = {0, 10 * 1000000};

	while (iocb_time_mono_s() - t0 < 5) {
		if (file_has(path, needle))
			return iocb_time_mono_s() - t0;
		nanosleep(&ms10, NULL);
	}
	return -1;
}

static void test_watch_rewrites_on_change(void **state)
{
	char dir[] = "/tmp/iocb-watch-XXXXXX", zeek[128], bad[128];
	struct iocb_store *s = fixture_store_open(false);
	struct iocb_export_job jobs[2] = {
		{.name = "zeek", .format = iocb_export_format_find("zeek"), .path = zeek},
		{.name = "bad", .format = iocb_export_format_find("values"), .path = bad},
	};
	struct iocb_export_watch_opts o = {.jobs = jobs, .njobs = 2, .debounce_ms = 100, .retry_ms = 60000};
	struct iocb_export_watch *w;
	struct iocb_export_job_stats js;
	struct iocb_err err;
	struct fixture_attr t;
	double took;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(zeek, sizeof(zeek), "%s/misp.intel", dir);
	snprintf(bad, sizeof(bad), "%s/missing/dir/values.txt", dir);
	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "first.example", NULL, -1, 1, true));
	assert_int_equal(iocb_export_watch_start(&w, s, &o, &err), IOCB_OK);
	assert_true(wait_for(zeek, "first.example\tIntel::DOMAIN") >= 0);
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "domain", "second.example", NULL, -1, 1, true));
	took = wait_for(zeek, "second.example\tIntel::DOMAIN");
	assert_true(took >= 0);
	assert_true(took < 2.5); /* debounce 0.1 s, once a second at most */
	/* the counters follow the rename */
	for (int i = 0; i < 100 && (iocb_export_watch_stats(w, 0, &js), js.writes < 2); i++)
		usleep(10000);
	assert_true(js.writes >= 2);
	assert_int_equal(js.errors, 0);
	assert_int_equal(js.entries, 2);
	assert_true(js.last_write_us > 0);
	iocb_export_watch_stats(w, 1, &js);
	assert_int_equal(js.writes, 0);
	assert_true(js.errors >= 1);
	iocb_export_watch_stop(w);
	unlink(zeek);
	rmdir(dir);
	iocb_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_rewrites_on_change),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
