/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the "suricata-dataset" export (export.h): golden files per
 * dataset type for a hand-filled store, and each file loaded back through a
 * model of Suricata 6/7's and 8's dataset readers (suricata_reader.h),
 * with values holding TABs, line breaks and non-ASCII bytes.
 */
#include "export/export.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "export_text.h"
#include "fixture_store.h"
#include "suricata_reader.h"

static const char long_ua_head[] = "Mozilla/5.0 ";

/* The store every test reads: two events' worth of mixed types. */
static struct iocb_store *store(void)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	char ua[800];

	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "evil.com", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "domain|ip", "c2.example", "192.0.2.1", -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "ip-dst", "2001:db8::1", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 4, "ip-src", "10.0.0.0/8", NULL, 8, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 5, "user-agent", "Tab\tUA \xc3\xa9\n2", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 6, "md5", "44d88612fea8a8f36de82e1278abb02f", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 7, "filename|sha256", "x.exe",
						  "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", -1, 1,
						  true));
	fixture_store_upsert(s, fixture_attr_make(&t, 8, "url", "http://evil.com/a?b=1", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 9, "domain", "not-ids.example", NULL, -1, 1, false));
	/* 800 bytes: base64 1068 characters, past the 1022 Suricata 6/7 read in one line */
	memset(ua, 'a', sizeof(ua) - 1);
	memcpy(ua, long_ua_head, sizeof(long_ua_head) - 1);
	ua[sizeof(ua) - 1] = '\0';
	(void)fixture_attr_make(&t, 10, "user-agent", "x", NULL, -1, 1, true);
	t.a.value = iocb_str_c(ua);
	t.a.part[0] = t.a.value;
	fixture_store_upsert(s, &t.a);
	return s;
}

static const char *export_ds(struct iocb_store *s, enum iocb_export_dataset ds, struct iocb_export_stats *st)
{
	struct iocb_export_opts o = {.dataset = ds};
	return export_text(s, "suricata-dataset", &o, st);
}

/* Both reader models load exactly `want` (n items, in file order) with no bad line. */
static void loads_as(const char *text, const char *type, const char *const *want, size_t n)
{
	struct suricata_read r;

	for (int v8 = 0; v8 <= 1; v8++) {
		suricata_reader_parse(text, type, v8, &r);
		assert_int_equal(r.bad, 0);
		assert_int_equal(r.n, n);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(r.len[i], strlen(want[i]));
			assert_memory_equal(r.items[i], want[i], r.len[i]);
		}
	}
}

static void test_dataset_string(void **state)
{
	static const char *const want[] = {"Tab\tUA \xc3\xa9\n2", "c2.example", "evil.com", "http://evil.com/a?b=1"};
	struct iocb_store *s = store();
	struct iocb_export_stats st;
	const char *text = export_ds(s, IOCB_EXPORT_DS_STRING, &st);

	(void)state;
	assert_string_equal(text, "VGFiCVVBIMOpCjI=\nYzIuZXhhbXBsZQ==\nZXZpbC5jb20=\naHR0cDovL2V2aWwuY29tL2E/Yj0x\n");
	assert_int_equal(st.selected, 9);
	assert_int_equal(st.written, 4);
	assert_int_equal(st.skipped, 5); /* ip-dst, ip-src, md5, filename|sha256, the 800-byte user agent */
	loads_as(text, "string", want, 4);
	iocb_store_free(s);
}

static void test_dataset_hashes_and_ips(void **state)
{
	static const char *const md5[] = {"44d88612fea8a8f36de82e1278abb02f"};
	static const char *const sha[] = {"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"};
	static const char *const ip[] = {"192.0.2.1", "2001:db8::1"};
	static const char *const ip4[] = {"192.0.2.1"};
	struct iocb_store *s = store();
	struct iocb_export_stats st;

	(void)state;
	loads_as(export_ds(s, IOCB_EXPORT_DS_MD5, &st), "md5", md5, 1);
	loads_as(export_ds(s, IOCB_EXPORT_DS_SHA256, &st), "sha256", sha, 1);
	assert_string_equal(export_ds(s, IOCB_EXPORT_DS_IP, &st), "192.0.2.1\n2001:db8::1\n");
	loads_as(export_ds(s, IOCB_EXPORT_DS_IP, &st), "ip", ip, 2); /* the CIDR is left out */
	loads_as(export_ds(s, IOCB_EXPORT_DS_IPV4, &st), "ipv4", ip4, 1);
	assert_int_equal(st.written, 1);
	iocb_store_free(s);
}

/* The reader models catch what Suricata gets wrong: a final line without '\n', short md5s, blanks, commas. */
static void test_dataset_reader_model(void **state)
{
	static const char *const evil[] = {"evil.com"};
	struct suricata_read r;

	(void)state;
	loads_as("ZXZpbC5jb20=\n", "string", evil, 1);
	suricata_reader_parse("ZXZpbC5jb20=", "string", 0, &r); /* 6/7 drop the last '=': not base64 */
	assert_int_equal(r.n, 0);
	assert_int_equal(r.bad, 1);
	suricata_reader_parse("44d88612fea8a8f36de82e1278abb02f", "md5", 0, &r); /* 32 bytes: "bad line len" */
	assert_int_equal(r.bad, 1);
	suricata_reader_parse("ZXZpbC5jb20=\n\n", "string", 1, &r); /* 8.0: the blank line is an item */
	assert_int_equal(r.n, 2);
	suricata_reader_parse("a,b,c\n", "string", 1, &r);
	assert_int_equal(r.n + r.bad, 0);
	suricata_reader_parse("ZXZpbC5jb20\n", "string", 0, &r); /* unpadded */
	assert_int_equal(r.bad, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dataset_string),
		cmocka_unit_test(test_dataset_hashes_and_ips),
		cmocka_unit_test(test_dataset_reader_model),
	};
	int rc;

	iocb_store_reader_register();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	iocb_store_reader_unregister();
	return rc;
}
