/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the exports (export/export.h): the "values" format over a
 * memory store filled by hand (fixture_store.h), written through the
 * atomic file sink into a temporary directory.
 */
#include "export/export.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture_store.h"

struct fix {
	char dir[64];          /* temporary directory */
	char path[128];        /* the export file in it */
	struct iocb_store *s;  /* the store */
};

/*
 * ip-dst 198.51.100.7 twice (events 1 and 2), ip-dst 203.0.113.0/24,
 * ip-dst 192.0.2.1 not for IDS, domain evil.example, ip-dst|port
 * 192.0.2.9|443, filename with a line break.
 */
static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct fixture_attr t;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/iocb-export-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/ip.txt", f->dir);
	f->s = fixture_store_open(false);
	fixture_store_upsert(f->s, fixture_attr_make(&t, 1, "ip-dst", "198.51.100.7", NULL, -1, 1, true));
	fixture_store_upsert(f->s, fixture_attr_make(&t, 2, "ip-dst", "198.51.100.7", NULL, -1, 2, true));
	fixture_store_upsert(f->s, fixture_attr_make(&t, 3, "ip-dst", "203.0.113.0/24", NULL, 24, 1, true));
	fixture_store_upsert(f->s, fixture_attr_make(&t, 4, "ip-dst", "192.0.2.1", NULL, -1, 1, false));
	fixture_store_upsert(f->s, fixture_attr_make(&t, 5, "domain", "evil.example", NULL, -1, 1, true));
	fixture_store_upsert(f->s, fixture_attr_make(&t, 6, "ip-dst|port", "192.0.2.9", "443", -1, 1, true));
	fixture_store_upsert(f->s, fixture_attr_make(&t, 7, "filename", "two\nlines.exe", NULL, -1, 1, true));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	DIR *d = opendir(f->dir);
	struct dirent *e;
	char p[512];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(f->dir);
	iocb_store_free(f->s);
	free(f);
	return 0;
}

/* The file's whole content (static buffer), "" if absent. */
static const char *slurp(const char *path)
{
	static char buf[4096];
	FILE *fp = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (fp) {
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
	return buf;
}

/* Files in the directory (only the export file once an export is over: no temporary left). */
static int nfiles(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Export with `o` into f->path through the format table, as the CLI does; returns run's rc. */
static int export_values(struct fix *f, const struct iocb_export_opts *o, struct iocb_export_stats *st)
{
	const struct iocb_export_format *fmt = iocb_export_format_find("values");
	struct iocb_export_sink k;
	struct iocb_err err;
	int rc;

	assert_non_null(fmt);
	assert_int_equal(iocb_export_sink_path(&k, f->path, &err), IOCB_OK);
	rc = fmt->run(f->s, o, &k, st, &err);
	if (rc == IOCB_OK)
		assert_int_equal(iocb_export_sink_commit(&k, &err), IOCB_OK);
	else
		iocb_export_sink_abort(&k);
	return rc;
}

/* One MISP type: its distinct values, sorted, to_ids only; the file replaced whole. */
static void test_values_type(void **state)
{
	struct fix *f = *state;
	const struct iocb_misp_type *types[] = {iocb_misp_type_find(IOCB_STR_LIT("ip-dst"))};
	struct iocb_export_opts o = {.types = types, .ntypes = 1};
	struct iocb_export_stats st;

	assert_int_equal(export_values(f, &o, &st), IOCB_OK);
	assert_string_equal(slurp(f->path), "198.51.100.7\n203.0.113.0/24\n");
	assert_int_equal(st.records, 7);
	assert_int_equal(st.selected, 3);
	assert_int_equal(st.written, 2);
	assert_int_equal(st.skipped, 0);
	assert_int_equal(nfiles(f->dir), 1);

	o.non_ids = true;
	assert_int_equal(export_values(f, &o, &st), IOCB_OK);
	assert_string_equal(slurp(f->path), "192.0.2.1\n198.51.100.7\n203.0.113.0/24\n");
	assert_int_equal(nfiles(f->dir), 1);
}

/* No type filter: every type, composites as MISP shows them; a value with a line break is skipped. */
static void test_values_all(void **state)
{
	struct fix *f = *state;
	struct iocb_export_opts o = {0};
	struct iocb_export_stats st;

	assert_int_equal(export_values(f, &o, &st), IOCB_OK);
	assert_string_equal(slurp(f->path), "192.0.2.9|443\n198.51.100.7\n203.0.113.0/24\nevil.example\n");
	assert_int_equal(st.selected, 6);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(st.written, 4);
}

/* Past max_bytes the export fails and the previous file stays as it was, with no temporary left. */
static void test_values_cap_keeps_old_file(void **state)
{
	struct fix *f = *state;
	struct iocb_export_opts o = {0};
	struct iocb_export_stats st;

	assert_int_equal(export_values(f, &o, &st), IOCB_OK);
	o.max_bytes = 16;
	assert_int_equal(export_values(f, &o, &st), IOCB_ELIMIT);
	assert_string_equal(slurp(f->path), "192.0.2.9|443\n198.51.100.7\n203.0.113.0/24\nevil.example\n");
	assert_int_equal(nfiles(f->dir), 1);
}

/* A borrowed fd (stdout, a pipe) is written as is and never closed. */
static void test_sink_fd(void **state)
{
	struct fix *f = *state;
	const struct iocb_misp_type *types[] = {iocb_misp_type_find(IOCB_STR_LIT("domain"))};
	struct iocb_export_opts o = {.types = types, .ntypes = 1};
	struct iocb_export_stats st;
	struct iocb_export_sink k;
	struct iocb_err err;
	int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	iocb_export_sink_fd(&k, fd);
	assert_int_equal(iocb_export_values(f->s, &o, &k, &st, &err), IOCB_OK);
	assert_int_equal(iocb_export_sink_commit(&k, &err), IOCB_OK);
	assert_int_equal(write(fd, "end\n", 4), 4); /* still open */
	close(fd);
	assert_string_equal(slurp(f->path), "evil.example\nend\n");
	assert_null(iocb_export_format_find("nope"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_values_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_values_cap_keeps_old_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sink_fd, setup, teardown),
	};
	int rc;

	iocb_store_reader_register();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	iocb_store_reader_unregister();
	return rc;
}
