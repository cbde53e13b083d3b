/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the "zeek" export (export.h): the golden file for a hand
 * filled store, and every written file read back through a model of Zeek's
 * Intel file reader (zeek_reader.h), with values holding TABs, line breaks,
 * non-ASCII bytes and the reader's markers.
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

#include "export_text.h"
#include "fixture_store.h"
#include "zeek_reader.h"

static const char *export_zeek(struct iocb_store *s, const struct iocb_export_opts *o, struct iocb_export_stats *st)
{
	return export_text(s, "zeek", o, st);
}

static void add(struct iocb_store *s, uint64_t n, const char *type, const char *p0, const char *p1, int prefix)
{
	struct fixture_attr t;
	fixture_store_upsert(s, fixture_attr_make(&t, n, type, p0, p1, prefix, 1, true));
}

/* The golden file: the header, the type mapping, composites split, the URL scheme stripped. */
static void test_zeek_golden(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct iocb_export_opts o = {.misp_url = "https://misp.example/", .source_name = "misp1"};
	struct iocb_export_stats st;
	struct fixture_attr t;
	const char *src = "misp1 (0000000e-0000-4000-8000-000000000001)\t";
	char want[4096];

	(void)state;
	add(s, 1, "ip-dst", "1.2.3.4", NULL, -1);
	add(s, 2, "ip-src", "10.0.0.0/8", NULL, 8);
	add(s, 3, "domain|ip", "a.b.com", "192.0.2.1", -1);
	add(s, 4, "url", "http://evil.example/x?a=1", NULL, -1);
	add(s, 5, "filename|md5", "x.exe", "44d88612fea8a8f36de82e1278abb02f", -1);
	add(s, 6, "x509-fingerprint-sha1", "abcdef0123456789abcdef0123456789abcdef01", NULL, -1);
	add(s, 7, "text", "not an indicator", NULL, -1);
	add(s, 8, "uri", "/gate.php", NULL, -1);
	fixture_store_upsert(s, fixture_attr_make(&t, 9, "domain", "ignored.example", NULL, -1, 1, false));
	snprintf(want, sizeof(want),
		 "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n"
		 "1.2.3.4\tIntel::ADDR\t%stest event. comment-for-0000000a-0000-4000-8000-000000000001\thttps://misp.example/events/view/1\n"
		 "10.0.0.0/8\tIntel::SUBNET\t%stest event. comment-for-0000000a-0000-4000-8000-000000000002\thttps://misp.example/events/view/1\n"
		 "192.0.2.1\tIntel::ADDR\t%stest event. comment-for-0000000a-0000-4000-8000-000000000003\thttps://misp.example/events/view/1\n"
		 "44d88612fea8a8f36de82e1278abb02f\tIntel::FILE_HASH\t%stest event. comment-for-0000000a-0000-4000-8000-000000000005\thttps://misp.example/events/view/1\n"
		 "a.b.com\tIntel::DOMAIN\t%stest event. comment-for-0000000a-0000-4000-8000-000000000003\thttps://misp.example/events/view/1\n"
		 "abcdef0123456789abcdef0123456789abcdef01\tIntel::CERT_HASH\t%stest event. comment-for-0000000a-0000-4000-8000-000000000006\thttps://misp.example/events/view/1\n"
		 "evil.example/x?a=1\tIntel::URL\t%stest event. comment-for-0000000a-0000-4000-8000-000000000004\thttps://misp.example/events/view/1\n"
		 "x.exe\tIntel::FILE_NAME\t%stest event. comment-for-0000000a-0000-4000-8000-000000000005\thttps://misp.example/events/view/1\n",
		 src, src, src, src, src, src, src, src);
	assert_string_equal(export_zeek(s, &o, &st), want);
	assert_int_equal(st.records, 9);
	assert_int_equal(st.selected, 8);
	assert_int_equal(st.written, 8);
	assert_int_equal(st.skipped, 2); /* text, uri */
	iocb_store_free(s);
}

static const struct zeek_row *find_row(const struct zeek_read *r, const char *indicator)
{
	for (size_t i = 0; i < r->nrows; i++)
		if (strcmp(r->rows[i].indicator, indicator) == 0)
			return &r->rows[i];
	return NULL;
}

/* Values Zeek's reader would split or misread come back whole through its unescaping. */
static void test_zeek_escapes_round_trip(void **state)
{
	static const char *const names[] = {
		"tab\there.exe", "two\nlines\r.exe", "r\xc3\xa9sum\xc3\xa9.pdf.exe", "-", "(empty)", "#hash.exe",
		"back\\slash,comma.exe", "bell\x07.exe",
	};
	struct iocb_store *s = fixture_store_open(false);
	struct iocb_export_opts o = {0};
	struct iocb_export_stats st;
	struct zeek_read r;
	struct fixture_attr t;
	const char *text;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		fixture_attr_make(&t, i + 1, "filename", names[i], NULL, -1, 1, true);
		t.ev.info = IOCB_STR_LIT("info\twith tab, \xe2\x80\x94 and \\x41");
		t.a.comment = IOCB_STR_NULL;
		fixture_store_upsert(s, &t.a);
	}
	text = export_zeek(s, &o, &st);
	assert_null(strstr(text, "\t\t")); /* no empty field: unset is '-' */
	assert_int_equal(zeek_reader_parse(text, &r), 0);
	assert_int_equal(r.bad, 0);
	assert_int_equal(r.nrows, sizeof(names) / sizeof(names[0]));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct zeek_row *row = find_row(&r, names[i]);
		assert_non_null(row);
		assert_string_equal(row->type, "Intel::FILE_NAME");
		assert_string_equal(row->source, "MISP (0000000e-0000-4000-8000-000000000001)");
		assert_string_equal(row->desc, "info\twith tab, \xe2\x80\x94 and \\x41");
		assert_string_equal(row->url, ""); /* no misp_url: unset */
	}
	/* UTF-8 stays as bytes; the literal '-' is not the unset marker. */
	assert_non_null(strstr(text, "\nr\xc3\xa9sum\xc3\xa9.pdf.exe\t"));
	assert_non_null(strstr(text, "\n\\x2d\t"));
	iocb_store_free(s);
}

/* The reader model itself: MISP's own sample reads, and it does catch what Zeek rejects. */
static void test_zeek_reader_model(void **state)
{
	struct zeek_read r;

	(void)state;
	/* exports.md §2.1's sample (MISP's header, with do_notice / if_in), CRLF, no final newline. */
	assert_int_equal(zeek_reader_parse("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\tmeta.do_notice\tmeta.if_in\n"
					   "1.2.3.4\tIntel::ADDR\tsource1\tSending phishing email\thttp://source1.com/badhosts/1.2.3.4\tT\t-\r\n"
					   "\n# a comment\n"
					   "a.b.com\tIntel::DOMAIN\tsource2\tName used for data exfiltration\t-\tT\t-",
					   &r),
			 0);
	assert_int_equal(r.nrows, 2);
	assert_int_equal(r.bad, 0);
	assert_string_equal(r.rows[1].indicator, "a.b.com");
	assert_string_equal(r.rows[1].url, "");
	/* A raw TAB in a value (one field too many), an unset source, an unknown type: bad lines. */
	assert_int_equal(zeek_reader_parse("#fields\tindicator\tindicator_type\tmeta.source\n"
					   "tab\there\tIntel::FILE_NAME\ts\n"
					   "x\tIntel::DOMAIN\t-\n"
					   "x\tIntel::NOPE\ts\n"
					   "ok\tIntel::DOMAIN\ts\n",
					   &r),
			 0);
	assert_int_equal(r.nrows, 1);
	assert_int_equal(r.bad, 3);
	/* No header before data, or a required column missing: the file is rejected. */
	assert_int_equal(zeek_reader_parse("x\tIntel::DOMAIN\ts\n", &r), -1);
	assert_int_equal(zeek_reader_parse("#fields\tindicator\tindicator_type\n", &r), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zeek_golden),
		cmocka_unit_test(test_zeek_escapes_round_trip),
		cmocka_unit_test(test_zeek_reader_model),
	};
	int rc;

	iocb_store_reader_register();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	iocb_store_reader_unregister();
	return rc;
}
