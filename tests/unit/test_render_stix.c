/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the STIX 2.1 shapes of serve/render/render.h:
 *  - the pattern of every row of tests/golden/stix/patterns.tsv (MISP type,
 *    value, expected pattern or !unsupported / !invalid), and that the
 *    table of docs/BUS.md "STIX patterns" names each of its MISP types;
 *  - the Indicator object, parsed back with the JSON parser: ids, UTC
 *    timestamps with milliseconds, x_misp_* properties, the REMOVE marker;
 *  - the Threat Bus 2020.12 intel message.
 */
#include "serve/render/render.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "fixture_store.h"

#define GOLDEN IOCB_SOURCE_DIR "/tests/golden/stix/patterns.tsv"
#define BUS_MD IOCB_SOURCE_DIR "/docs/BUS.md"

/* docs/BUS.md, whole (it is small), for the check that its table names every golden type. */
static char *read_doc(void)
{
	FILE *f = fopen(BUS_MD, "r");
	static char doc[64 * 1024];
	size_t n;

	assert_non_null(f);
	n = fread(doc, 1, sizeof(doc) - 1, f);
	fclose(f);
	assert_true(n < sizeof(doc) - 1);
	doc[n] = '\0';
	return doc;
}

/* Is `type` in the doc as a code span, its '|' escaped as the Markdown table needs? */
static bool doc_names(const char *doc, const char *type)
{
	char want[160];
	size_t k = 0;

	want[k++] = '`';
	for (const char *p = type; *p && k < sizeof(want) - 3; p++) {
		if (*p == '|')
			want[k++] = '\\';
		want[k++] = *p;
	}
	want[k++] = '`';
	want[k] = '\0';
	return strstr(doc, want) != NULL;
}

static void test_golden_patterns(void **state)
{
	FILE *f = fopen(GOLDEN, "r");
	const char *doc = read_doc();
	char line[1024];
	struct iocb_buf b;
	unsigned rows = 0, fails = 0, lineno = 0;
	(void)state;

	assert_non_null(f);
	iocb_buf_init(&b, 4096);
	while (fgets(line, sizeof(line), f)) {
		char *type = line, *value, *want;
		const char *got;
		int rc;

		lineno++;
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		value = strchr(type, '\t');
		assert_non_null(value);
		*value++ = '\0';
		want = strchr(value, '\t');
		assert_non_null(want);
		*want++ = '\0';
		iocb_buf_reset(&b);
		rc = iocb_render_stix_pattern(&b, iocb_str_c(type), iocb_str_c(value));
		got = rc == IOCB_OK ? b.ptr : rc == IOCB_EUNSUPPORTED ? "!unsupported" : rc == IOCB_EINVAL ? "!invalid" : "!other";
		if (rc != IOCB_OK)
			assert_int_equal(b.len, 0); /* an error leaves out as it was */
		if (strcmp(got, want) != 0) {
			fprintf(stderr, "%s:%u: %s %s\n  want %s\n  got  %s\n", GOLDEN, lineno, type, value, want, got);
			fails++;
		}
		if (!doc_names(doc, type)) {
			fprintf(stderr, "%s:%u: MISP type %s is missing from the table in %s\n", GOLDEN, lineno, type, BUS_MD);
			fails++;
		}
		rows++;
	}
	fclose(f);
	iocb_buf_fini(&b);
	assert_true(rows >= 40);
	assert_int_equal(fails, 0);
}

/* An error keeps what was in out before the call; a success appends. */
static void test_pattern_appends(void **state)
{
	struct iocb_buf b;
	(void)state;

	iocb_buf_init(&b, 0);
	assert_int_equal(iocb_buf_append_c(&b, "x"), IOCB_OK);
	assert_int_equal(iocb_render_stix_pattern(&b, IOCB_STR_LIT("md5"), IOCB_STR_LIT("abc")), IOCB_EINVAL);
	assert_string_equal(b.ptr, "x");
	assert_int_equal(iocb_render_stix_pattern(&b, IOCB_STR_LIT("domain"), IOCB_STR_LIT("a.example")), IOCB_OK);
	assert_string_equal(b.ptr, "x[domain-name:value = 'a.example']");
	iocb_buf_fini(&b);
	/* the cap: IOCB_ELIMIT, out untouched */
	iocb_buf_init(&b, 16);
	assert_int_equal(iocb_render_stix_pattern(&b, IOCB_STR_LIT("domain"), IOCB_STR_LIT("long.long.example")),
			 IOCB_ELIMIT);
	assert_int_equal(b.len, 0);
	iocb_buf_fini(&b);
}

/* Top-level string member `key` of the JSON object in json, decoded into out; false if absent. */
static bool member(const char *json, const char *key, char *out, size_t cap)
{
	struct iocb_json_parser p;
	struct iocb_json_tok k, v;
	struct iocb_err err;
	size_t n;
	int rc;

	iocb_json_init(&p, json, strlen(json), 0, false);
	if (iocb_json_next(&p, &v, &err) != IOCB_OK || v.type != IOCB_JSON_OBJ)
		return false;
	while ((rc = iocb_json_next_member(&p, &k, &v, &err)) > 0) {
		if (iocb_json_tok_eq(&k, key)) {
			if (v.type == IOCB_JSON_STR) {
				assert_int_equal(iocb_json_unescape(&v, out, cap - 1, &n), IOCB_OK);
				out[n] = '\0';
			} else {
				n = v.type == IOCB_JSON_TRUE ? 4 : v.type == IOCB_JSON_FALSE ? 5 : 0;
				snprintf(out, cap, "%s", v.type == IOCB_JSON_TRUE ? "true" : v.type == IOCB_JSON_FALSE ? "false" : "<other>");
				if (v.type == IOCB_JSON_ARR || v.type == IOCB_JSON_OBJ) {
					size_t start = v.offset;
					assert_int_equal(iocb_json_skip(&p, &v, &err), IOCB_OK);
					snprintf(out, cap, "%.*s", (int)(p.pos - start), json + start);
				} else if (v.type == IOCB_JSON_NUM) {
					snprintf(out, cap, "%.*s", (int)v.s.len, v.s.ptr);
				}
			}
			return true;
		}
		if (iocb_json_skip(&p, &v, &err) != IOCB_OK)
			return false;
	}
	return false;
}

#define ASSERT_MEMBER(json, key, want)                                                                 \
	do {                                                                                           \
		char got_[512];                                                                        \
		assert_true(member((json), (key), got_, sizeof(got_)));                                \
		assert_string_equal(got_, (want));                                                     \
	} while (0)

static void test_indicator(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_store_hit h[1];
	struct iocb_buf b, scratch;
	struct iocb_jw w;
	struct iocb_err err;
	struct iocb_misp_tag atag[2] = {{IOCB_STR_LIT("malware:x"), false, false}, {IOCB_STR_LIT("tlp:amber"), false, false}};
	struct iocb_misp_tag etag = {IOCB_STR_LIT("tlp:green"), false, false};
	struct iocb_render_stix_opts opts = {0};
	char tmp[64];
	(void)state;

	fixture_attr_make(&t, 7, "ip-dst", "2001:db8::/32", NULL, 32, 5, true);
	t.a.tags = atag;
	t.a.ntags = 2;
	t.ev.tags = &etag;
	t.ev.ntags = 1;
	t.ev.tags_known = true;
	t.ev.info = IOCB_STR_LIT("it's \"quoted\"");
	t.a.last_seen_us = 1700000100500000LL;
	fixture_store_upsert(s, &t.a);
	iocb_buf_init(&b, 0);
	iocb_buf_init(&scratch, 4096);
	iocb_store_read_lock();
	assert_int_equal(iocb_store_lookup(s, IOCB_MC_IP, IOCB_STR_LIT("2001:db8::1"), h, 1), 1);
	iocb_jw_init(&w, &b);
	assert_int_equal(iocb_render_stix_indicator(&w, h[0].attr, &opts, &scratch), IOCB_OK);
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	assert_int_equal(iocb_json_validate(b.ptr, b.len, 0, &err), IOCB_OK);
	ASSERT_MEMBER(b.ptr, "type", "indicator");
	ASSERT_MEMBER(b.ptr, "spec_version", "2.1");
	ASSERT_MEMBER(b.ptr, "id", "indicator--0000000a-0000-4000-8000-000000000007");
	/* 1700000007 is 2023-11-14T22:13:27 UTC, whatever the local zone */
	ASSERT_MEMBER(b.ptr, "created", "2023-11-14T22:13:27.000Z");
	ASSERT_MEMBER(b.ptr, "modified", "2023-11-14T22:13:27.000Z");
	ASSERT_MEMBER(b.ptr, "valid_from", "2023-11-14T22:13:27.000Z");
	ASSERT_MEMBER(b.ptr, "valid_until", "2023-11-14T22:15:00.500Z");
	ASSERT_MEMBER(b.ptr, "pattern", "[ipv6-addr:value ISSUBSET '2001:db8::/32']");
	ASSERT_MEMBER(b.ptr, "pattern_type", "stix");
	ASSERT_MEMBER(b.ptr, "pattern_version", "2.1");
	ASSERT_MEMBER(b.ptr, "x_misp_type", "ip-dst");
	ASSERT_MEMBER(b.ptr, "x_misp_category", "Network activity");
	ASSERT_MEMBER(b.ptr, "x_misp_event_info", "it's \"quoted\"");
	ASSERT_MEMBER(b.ptr, "x_misp_event_uuid", "0000000e-0000-4000-8000-000000000005");
	ASSERT_MEMBER(b.ptr, "x_misp_tags", "[\"malware:x\",\"tlp:amber\",\"tlp:green\"]");
	ASSERT_MEMBER(b.ptr, "x_misp_tlp", "amber"); /* the attribute's tag wins */
	ASSERT_MEMBER(b.ptr, "x_misp_to_ids", "true");
	assert_false(member(b.ptr, "x_threatbus_update", tmp, sizeof(tmp)));
	/* custom properties after the spec ones, sorted by name */
	assert_true(strstr(b.ptr, "\"x_misp_category\"") > strstr(b.ptr, "\"valid_until\""));
	assert_true(strstr(b.ptr, "\"x_misp_type\"") > strstr(b.ptr, "\"x_misp_to_ids\""));

	/* removal: same id, the marker last, modified = the time given */
	iocb_buf_reset(&b);
	opts.remove = true;
	opts.modified_us = 1700000200123456LL;
	iocb_jw_init(&w, &b);
	assert_int_equal(iocb_render_stix_indicator(&w, h[0].attr, &opts, &scratch), IOCB_OK);
	ASSERT_MEMBER(b.ptr, "id", "indicator--0000000a-0000-4000-8000-000000000007");
	ASSERT_MEMBER(b.ptr, "modified", "2023-11-14T22:16:40.123Z");
	ASSERT_MEMBER(b.ptr, "created", "2023-11-14T22:13:27.000Z");
	ASSERT_MEMBER(b.ptr, "x_threatbus_update", "REMOVE");
	assert_non_null(strstr(b.ptr, ",\"x_threatbus_update\":\"REMOVE\"}"));
	iocb_store_read_unlock();
	iocb_store_free(s);
	iocb_buf_fini(&b);
	iocb_buf_fini(&scratch);
}

/* A record without an event, and one whose type STIX cannot express. */
static void test_indicator_no_event(void **state)
{
	struct iocb_store *s = fixture_store_open(true);
	struct fixture_attr t;
	struct iocb_store_hit h[1];
	struct iocb_buf b, scratch;
	struct iocb_jw w;
	char tmp[64];
	(void)state;

	fixture_store_upsert(s, fixture_attr_make(&t, 3, "domain", "o'neil.example", NULL, -1, 0, false));
	fixture_store_upsert(s, fixture_attr_make(&t, 4, "imphash", "d41d8cd98f00b204e9800998ecf8427e", NULL, -1, 0, true));
	iocb_buf_init(&b, 0);
	iocb_buf_init(&scratch, 4096);
	iocb_store_read_lock();
	assert_int_equal(iocb_store_lookup(s, IOCB_MC_DOMAIN, IOCB_STR_LIT("o'neil.example"), h, 1), 1);
	iocb_jw_init(&w, &b);
	assert_int_equal(iocb_render_stix_indicator(&w, h[0].attr, NULL, &scratch), IOCB_OK);
	ASSERT_MEMBER(b.ptr, "pattern", "[domain-name:value = 'o\\'neil.example']");
	ASSERT_MEMBER(b.ptr, "x_misp_to_ids", "false");
	ASSERT_MEMBER(b.ptr, "x_misp_tags", "[]");
	assert_false(member(b.ptr, "x_misp_event_uuid", tmp, sizeof(tmp)));
	assert_false(member(b.ptr, "x_misp_tlp", tmp, sizeof(tmp)));
	assert_false(member(b.ptr, "valid_until", tmp, sizeof(tmp)));
	assert_int_equal(iocb_store_lookup_any(s, IOCB_STR_LIT("d41d8cd98f00b204e9800998ecf8427e"), h, 1), 1);
	iocb_buf_reset(&b);
	iocb_jw_init(&w, &b);
	assert_int_equal(iocb_render_stix_indicator(&w, h[0].attr, NULL, &scratch), IOCB_EUNSUPPORTED);
	assert_int_equal(b.len, 0);
	iocb_store_read_unlock();
	iocb_store_free(s);
	iocb_buf_fini(&b);
	iocb_buf_fini(&scratch);
}

static void test_tb2020(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_store_hit h[1];
	struct iocb_buf b;
	struct iocb_jw w;
	(void)state;

	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain|ip", "evil.example", "198.51.100.7", -1, 5, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "ip-dst", "2001:db8::3", NULL, -1, 5, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 4, "domain|ip", "solo.example", NULL, -1, 5, true));
	iocb_buf_init(&b, 0);
	iocb_store_read_lock();
	assert_int_equal(iocb_store_lookup(s, IOCB_MC_DOMAIN, IOCB_STR_LIT("evil.example"), h, 1), 1);
	iocb_jw_init(&w, &b);
	assert_int_equal(iocb_render_tb2020_intel(&w, h[0].attr, false), IOCB_OK);
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	assert_string_equal(b.ptr, "{\"ts\":\"2023-11-14 22:13:21+00:00\",\"id\":\"0000000a-0000-4000-8000-000000000001\","
				   "\"data\":{\"indicator\":[\"evil.example\",\"198.51.100.7\"],\"intel_type\":12,"
				   "\"source\":\"MISP\"},\"operation\":\"ADD\"}");
	iocb_buf_reset(&b);
	assert_int_equal(iocb_store_lookup(s, IOCB_MC_IP, IOCB_STR_LIT("2001:db8::3"), h, 1), 1);
	iocb_jw_init(&w, &b);
	assert_int_equal(iocb_render_tb2020_intel(&w, h[0].attr, true), IOCB_OK);
	assert_string_equal(b.ptr, "{\"ts\":\"2023-11-14 22:13:23+00:00\",\"id\":\"0000000a-0000-4000-8000-000000000003\","
				   "\"data\":{\"indicator\":[\"2001:db8::3\"],\"intel_type\":2,\"source\":\"MISP\"},"
				   "\"operation\":\"REMOVE\"}");
	/* a composite type with a one-part value: refused, as Threat Bus drops it */
	iocb_buf_reset(&b);
	assert_int_equal(iocb_store_lookup(s, IOCB_MC_DOMAIN, IOCB_STR_LIT("solo.example"), h, 1), 1);
	iocb_jw_init(&w, &b);
	assert_int_equal(iocb_render_tb2020_intel(&w, h[0].attr, false), IOCB_EINVAL);
	assert_int_equal(b.len, 0);
	iocb_store_read_unlock();
	iocb_store_free(s);
	iocb_buf_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_patterns),
		cmocka_unit_test(test_pattern_appends),
		cmocka_unit_test(test_indicator),
		cmocka_unit_test(test_indicator_no_event),
		cmocka_unit_test(test_tb2020),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
