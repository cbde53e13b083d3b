/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the MISP-compatible read API's pure half
 * (serve/http/mispapi.h) and of MISP's attribute shape
 * (iocb_render_misp_attribute): the request bodies PyMISP and
 * elastiMISPstash send, MISP's casts ("no" is true, "0" is false), the
 * error cases, the per-record filter, and the rendered bytes.
 */
#include "serve/http/mispapi.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "fixture_store.h"
#include "serve/render/render.h"

#define NOW 1800000000

static int parse(struct iocb_mispapi_query *q, const char *body, const char *named)
{
	struct iocb_err err = {0};

	return iocb_mispapi_query_parse(q, iocb_str_c(body), iocb_str_c(named), NOW, &err);
}

static bool term_is(const struct iocb_mispapi_terms *t, size_t i, const char *s)
{
	return i < t->n && iocb_str_eq_c(t->v[i], s);
}

/* PyMISP 2.4 search(controller='attributes', value=..., type_attribute=..., to_ids=True). */
static void test_parse_pymisp(void **state)
{
	struct iocb_mispapi_query q;
	(void)state;

	assert_int_equal(parse(&q, "{\"returnFormat\": \"json\", \"page\": null, \"limit\": null, \"value\": "
				   "\"203.0.113.77\", \"type\": \"ip-dst\", \"tags\": {\"OR\": [\"tlp:amber\", \"tlp:red\"]}, "
				   "\"from\": 1728900000.0, \"withAttachments\": 0, \"to_ids\": true, "
				   "\"includeEventUuid\": 0, \"includeEventTags\": 0, \"includeContext\": 0, "
				   "\"excludeDecayed\": 0}", ""), IOCB_OK);
	assert_int_equal(q.format, IOCB_MISPAPI_FMT_JSON);
	assert_true(term_is(&q.value, 0, "203.0.113.77") && q.value.n == 1);
	assert_true(term_is(&q.type, 0, "ip-dst"));
	assert_true(term_is(&q.tags_or, 0, "tlp:amber") && term_is(&q.tags_or, 1, "tlp:red"));
	assert_int_equal(q.to_ids, 1);
	assert_int_equal(q.published, -1);
	assert_false(q.include_event_tags || q.include_context || q.include_event_uuid);
	assert_int_equal(q.limit, 0);
	assert_int_equal(q.page, 1);
	assert_string_equal(q.from, "2024-10-14");
	assert_true(iocb_mispapi_indexed(&q));
	iocb_mispapi_query_fini(&q);
}

/* elastiMISPstash's pull and its ruby filter's lookup; MISP's casts. */
static void test_parse_casts(void **state)
{
	struct iocb_mispapi_query q;
	(void)state;

	assert_int_equal(parse(&q, "{\"returnFormat\":\"json\",\"type\":\"ip-%\",\"tags\":\"Feed-%\",\"to_ids\":\"yes\","
				   "\"includeEventTags\":\"yes\",\"includeContext\":\"yes\"}", ""), IOCB_OK);
	assert_true(term_is(&q.type, 0, "ip-%") && term_is(&q.tags_or, 0, "Feed-%"));
	assert_true(q.to_ids == 1 && q.include_event_tags && q.include_context);
	assert_false(iocb_mispapi_indexed(&q));
	iocb_mispapi_query_fini(&q);
	/* DboSource::boolean: "no" and "false" are true; "exclude", "0", "" false. PHP empty(): "0" is off. */
	assert_int_equal(parse(&q, "{\"to_ids\":\"no\",\"published\":\"exclude\",\"includeEventTags\":\"0\"}", ""),
			 IOCB_OK);
	assert_true(q.to_ids == 1 && q.published == 0 && !q.include_event_tags);
	iocb_mispapi_query_fini(&q);
	assert_int_equal(parse(&q, "{\"to_ids\":\"false\",\"published\":0,\"includeContext\":\"no\"}", ""), IOCB_OK);
	assert_true(q.to_ids == 1 && q.published == 0 && q.include_context);
	iocb_mispapi_query_fini(&q);
	/* "||" splits a string (not a list item); '!' negates; NOT dicts; values trimmed. */
	assert_int_equal(parse(&q, "{\"value\":\" a.example || b.example \",\"type\":[\"x||y\"],"
				   "\"category\":{\"NOT\":[\"Payload delivery\"]},\"tags\":[\"!tlp:red\",\"tlp:%\"]}", ""),
			 IOCB_OK);
	assert_true(term_is(&q.value, 0, "a.example") && term_is(&q.value, 1, "b.example") && q.value.n == 2);
	assert_true(term_is(&q.type, 0, "x||y") && q.type.n == 1);
	assert_true(term_is(&q.category, 0, "!Payload delivery"));
	assert_true(term_is(&q.tags_not, 0, "tlp:red") && term_is(&q.tags_or, 0, "tlp:%"));
	iocb_mispapi_query_fini(&q);
	/* Empty values filter nothing (MISP skips them). */
	assert_int_equal(parse(&q, "{\"value\":\"\",\"type\":[\"\",\" \"],\"tags\":\"!\"}", ""), IOCB_OK);
	assert_true(q.value.n == 0 && q.type.n == 0 && q.tags_not.n == 0 && q.tags_or.n == 0);
	iocb_mispapi_query_fini(&q);
}

static void test_parse_times_paging(void **state)
{
	struct iocb_mispapi_query q;
	(void)state;

	assert_int_equal(parse(&q, "{\"timestamp\":\"1d\",\"last\":\"12h\",\"event_timestamp\":[\"1700000100\",1700000000],"
				   "\"limit\":\"50\",\"page\":3}", ""), IOCB_OK);
	assert_true(q.timestamp.set && !q.timestamp.has_to && q.timestamp.from == NOW - 86400);
	assert_true(q.publish_ts.set && q.publish_ts.from == NOW - 43200);
	assert_true(q.event_ts.has_to && q.event_ts.from == 1700000000 && q.event_ts.to == 1700000100);
	assert_true(q.limit == 50 && q.page == 3);
	iocb_mispapi_query_fini(&q);
	/* Unparseable time: now+1 (matches nothing); limit 0 is no limit. */
	assert_int_equal(parse(&q, "{\"timestamp\":\"yesterday\",\"limit\":0}", ""), IOCB_OK);
	assert_true(q.timestamp.from == NOW + 1 && q.limit == 0);
	iocb_mispapi_query_fini(&q);
}

static void test_parse_wrapper_named_errors(void **state)
{
	struct iocb_mispapi_query q;
	struct iocb_buf b;
	(void)state;

	/* {"request":{...}}: only the wrapped object is read. */
	assert_int_equal(parse(&q, "{\"value\":\"outer\",\"request\":{\"value\":\"inner\",\"unknownParam\":[1,{}]}}", ""),
			 IOCB_OK);
	assert_true(term_is(&q.value, 0, "inner") && q.value.n == 1);
	iocb_mispapi_query_fini(&q);
	/* Named parameters add to the body; escapes are decoded. */
	assert_int_equal(parse(&q, "{\"type\":\"d\\u006fmain\"}", "value:evil.example/returnFormat:json"), IOCB_OK);
	assert_true(term_is(&q.type, 0, "domain") && term_is(&q.value, 0, "evil.example"));
	assert_int_equal(q.format, IOCB_MISPAPI_FMT_JSON);
	iocb_mispapi_query_fini(&q);
	assert_int_equal(parse(&q, "{\"returnFormat\":\"csv\"}", ""), IOCB_OK);
	assert_int_equal(q.format, IOCB_MISPAPI_FMT_OTHER);
	iocb_mispapi_query_fini(&q);
	/* An empty body is an unfiltered search, as in MISP. */
	assert_int_equal(parse(&q, "  ", ""), IOCB_OK);
	assert_true(q.empty && q.value.n == 0);
	iocb_mispapi_query_fini(&q);
	/* Not JSON, not an object, trailing bytes: MISP's 405. */
	assert_int_equal(parse(&q, "{\"value\":", ""), IOCB_EPARSE);
	iocb_mispapi_query_fini(&q);
	assert_int_equal(parse(&q, "[\"value\"]", ""), IOCB_EPARSE);
	iocb_mispapi_query_fini(&q);
	assert_int_equal(parse(&q, "{} x", ""), IOCB_EPARSE);
	iocb_mispapi_query_fini(&q);
	/* More terms than the cap: IOCB_ELIMIT (a 400). */
	iocb_buf_init(&b, 0);
	assert_int_equal(iocb_buf_append_c(&b, "{\"value\":["), IOCB_OK);
	for (int i = 0; i <= IOCB_MISPAPI_MAX_TERMS; i++)
		assert_int_equal(iocb_buf_printf(&b, "%s\"v%d\"", i ? "," : "", i), IOCB_OK);
	assert_int_equal(iocb_buf_append_c(&b, "]}"), IOCB_OK);
	assert_int_equal(parse(&q, b.ptr, ""), IOCB_ELIMIT);
	iocb_mispapi_query_fini(&q);
	iocb_buf_fini(&b);
}

static void test_like(void **state)
{
	(void)state;
	assert_true(iocb_mispapi_like(iocb_str_c("ip-%"), iocb_str_c("ip-dst|port"), false));
	assert_true(iocb_mispapi_like(iocb_str_c("%.EXAMPLE"), iocb_str_c("a.b.example"), true));
	assert_false(iocb_mispapi_like(iocb_str_c("%.EXAMPLE"), iocb_str_c("a.b.example"), false));
	assert_true(iocb_mispapi_like(iocb_str_c("a%b%c"), iocb_str_c("aXbYbZc"), false));
	assert_false(iocb_mispapi_like(iocb_str_c("a%b%c"), iocb_str_c("aXbYbZ"), false));
	assert_true(iocb_mispapi_like(iocb_str_c("%"), iocb_str_c(""), false));
	assert_false(iocb_mispapi_like(iocb_str_c("tlp:red"), iocb_str_c("tlp:red2"), false));
}

/* The filter over real store records: tags on the event count, NOT excludes both scopes. */
static void test_match(void **state)
{
	struct iocb_store *s = fixture_store_open(true);
	struct fixture_attr t;
	struct iocb_misp_tag atag = {IOCB_STR_LIT("Feed-abuse.ch"), false, false};
	struct iocb_misp_tag etag = {IOCB_STR_LIT("tlp:red"), false, false};
	struct iocb_store_hit h[4];
	struct iocb_mispapi_query q;
	const struct iocb_store_attr *ip, *dom;
	(void)state;

	fixture_attr_make(&t, 1, "ip-dst", "203.0.113.77", NULL, -1, 3, true);
	t.a.tags = &atag;
	t.a.ntags = 1;
	fixture_store_upsert(s, &t.a);
	fixture_attr_make(&t, 2, "domain|ip", "c2.evil.example", "203.0.113.5", -1, 4, false);
	t.ev.tags = &etag;
	t.ev.ntags = 1;
	t.ev.tags_known = true;
	fixture_store_upsert(s, &t.a);
	iocb_store_read_lock();
	assert_int_equal(iocb_store_lookup_any(s, IOCB_STR_LIT("203.0.113.77"), h, 4), 1);
	ip = h[0].attr;
	assert_int_equal(iocb_store_lookup_any(s, IOCB_STR_LIT("c2.evil.example"), h, 4), 1);
	dom = h[0].attr;

	assert_int_equal(parse(&q, "{\"type\":\"ip-%\",\"tags\":\"Feed-%\",\"to_ids\":\"yes\"}", ""), IOCB_OK);
	assert_true(iocb_mispapi_match(&q, ip));
	assert_false(iocb_mispapi_match(&q, dom));
	iocb_mispapi_query_fini(&q);
	/* value1 OR value2, case-insensitive, '%' LIKE, '!' negation */
	assert_int_equal(parse(&q, "{\"value\":\"203.0.113.5\"}", ""), IOCB_OK);
	assert_true(iocb_mispapi_value_match(&q, dom));
	assert_false(iocb_mispapi_value_match(&q, ip));
	iocb_mispapi_query_fini(&q);
	assert_int_equal(parse(&q, "{\"value\":\"%.EVIL.example\"}", ""), IOCB_OK);
	assert_true(iocb_mispapi_value_match(&q, dom));
	iocb_mispapi_query_fini(&q);
	assert_int_equal(parse(&q, "{\"value\":\"!203.0.113.%\"}", ""), IOCB_OK);
	assert_false(iocb_mispapi_value_match(&q, dom) || iocb_mispapi_value_match(&q, ip));
	iocb_mispapi_query_fini(&q);
	/* An event tag satisfies OR; NOT on the event's tag excludes its attributes; tags are case-sensitive. */
	assert_int_equal(parse(&q, "{\"tags\":[\"tlp:red\"]}", ""), IOCB_OK);
	assert_true(iocb_mispapi_match(&q, dom) && !iocb_mispapi_match(&q, ip));
	iocb_mispapi_query_fini(&q);
	assert_int_equal(parse(&q, "{\"tags\":{\"NOT\":[\"tlp:red\"]}}", ""), IOCB_OK);
	assert_true(!iocb_mispapi_match(&q, dom) && iocb_mispapi_match(&q, ip));
	iocb_mispapi_query_fini(&q);
	assert_int_equal(parse(&q, "{\"tags\":\"TLP:RED\"}", ""), IOCB_OK);
	assert_false(iocb_mispapi_match(&q, dom));
	iocb_mispapi_query_fini(&q);
	/* eventid (id or uuid), org, timestamp, deleted */
	assert_int_equal(parse(&q, "{\"eventid\":\"4\"}", ""), IOCB_OK);
	assert_true(iocb_mispapi_match(&q, dom) && !iocb_mispapi_match(&q, ip));
	iocb_mispapi_query_fini(&q);
	assert_int_equal(parse(&q, "{\"eventid\":\"0000000E-0000-4000-8000-000000000003\",\"timestamp\":1700000001}", ""),
			 IOCB_OK);
	assert_true(iocb_mispapi_match(&q, ip) && !iocb_mispapi_match(&q, dom));
	iocb_mispapi_query_fini(&q);
	assert_int_equal(parse(&q, "{\"timestamp\":1700000002}", ""), IOCB_OK);
	assert_true(!iocb_mispapi_match(&q, ip) && iocb_mispapi_match(&q, dom));
	iocb_mispapi_query_fini(&q);
	assert_int_equal(parse(&q, "{\"deleted\":\"only\"}", ""), IOCB_OK);
	assert_false(iocb_mispapi_match(&q, ip));
	iocb_mispapi_query_fini(&q);
	iocb_store_read_unlock();
	iocb_store_free(s);
}

/* A quality callback: attribute id 1001 expired at 1750000000, 1002 suppressed (a warninglist). */
static void mark(void *ud, const struct iocb_store_attr *a, struct iocb_store_quality *q)
{
	struct iocb_store_attr_view av;

	(void)ud;
	iocb_store_attr_view(a, &av);
	if (av.id == 1001)
		q->expires_at = 1750000000;
	if (av.id == 1002)
		q->wl_action = IOCB_STORE_WL_SUPPRESS;
}

/* Expired and suppressed records are not answered (live at the request's time). */
static void test_quality(void **state)
{
	struct iocb_store *s = fixture_store_open(true);
	struct fixture_attr t;
	struct iocb_store_hit h[4];
	struct iocb_mispapi_query q;
	struct iocb_err err = {0};
	const struct iocb_store_attr *a[3];
	(void)state;

	assert_true(iocb_store_quality_add(s, mark, NULL) >= 0);
	for (uint64_t i = 1; i <= 3; i++) {
		char v[32];
		snprintf(v, sizeof(v), "192.0.2.%u", (unsigned)i);
		fixture_store_upsert(s, fixture_attr_make(&t, i, "ip-dst", v, NULL, -1, 1, true));
	}
	iocb_store_read_lock();
	for (unsigned i = 0; i < 3; i++) {
		char v[32];
		snprintf(v, sizeof(v), "192.0.2.%u", i + 1);
		assert_int_equal(iocb_store_lookup_any(s, iocb_str_c(v), h, 4), 1);
		a[i] = h[0].attr;
	}
	assert_int_equal(iocb_mispapi_query_parse(&q, iocb_str_c("{}"), iocb_str_c(""), 1740000000, &err), IOCB_OK);
	assert_true(iocb_mispapi_match(&q, a[0]) && !iocb_mispapi_match(&q, a[1]) && iocb_mispapi_match(&q, a[2]));
	iocb_mispapi_query_fini(&q);
	assert_int_equal(iocb_mispapi_query_parse(&q, iocb_str_c("{}"), iocb_str_c(""), 1750000000, &err), IOCB_OK);
	assert_true(!iocb_mispapi_match(&q, a[0]) && iocb_mispapi_match(&q, a[2]));
	iocb_mispapi_query_fini(&q);
	iocb_store_read_unlock();
	iocb_store_free(s);
}

/* MISP's restSearch item, byte for byte: key order, strings for integers, inherited tags. */
static void test_render(void **state)
{
	struct iocb_store *s = fixture_store_open(true);
	struct fixture_attr t;
	struct iocb_misp_tag atag = {IOCB_STR_LIT("misp-galaxy:x=\"y\""), false, false};
	struct iocb_misp_tag etag = {IOCB_STR_LIT("tlp:amber"), false, false};
	struct iocb_render_misp_opts o = {false, false, false};
	struct iocb_store_hit h[1];
	struct iocb_buf b;
	struct iocb_jw w;
	(void)state;

	fixture_attr_make(&t, 1, "ip-src", "198.51.100.0/24", NULL, 24, 3, true);
	t.a.tags = &atag;
	t.a.ntags = 1;
	t.ev.tags = &etag;
	t.ev.ntags = 1;
	t.ev.tags_known = true;
	t.ev.orgc_id = 2;
	t.ev.has_orgc_id = true;
	t.ev.orgc_name = IOCB_STR_LIT("EXAMPLE-CERT");
	t.ev.publish_timestamp = 1729510500;
	t.ev.date = IOCB_STR_LIT("2024-10-21");
	t.ev.published = true;
	t.a.last_seen_us = 1700000000000000LL;
	fixture_store_upsert(s, &t.a);
	iocb_buf_init(&b, 0);
	iocb_store_read_lock();
	assert_int_equal(iocb_store_lookup_any(s, IOCB_STR_LIT("198.51.100.0/24"), h, 1), 1);
	iocb_jw_init(&w, &b);
	iocb_render_misp_attribute(&w, h[0].attr, &o);
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	assert_string_equal(b.ptr,
		"{\"id\":\"1001\",\"event_id\":\"3\",\"object_id\":\"0\",\"object_relation\":null,"
		"\"category\":\"Network activity\",\"type\":\"ip-src\",\"to_ids\":true,"
		"\"uuid\":\"0000000a-0000-4000-8000-000000000001\",\"timestamp\":\"1700000001\",\"distribution\":\"5\","
		"\"sharing_group_id\":\"0\",\"comment\":\"comment-for-0000000a-0000-4000-8000-000000000001\","
		"\"deleted\":false,\"disable_correlation\":false,\"first_seen\":null,"
		"\"last_seen\":\"2023-11-14T22:13:20.000000+00:00\",\"value\":\"198.51.100.0/24\","
		"\"Event\":{\"org_id\":\"2\",\"distribution\":\"1\",\"publish_timestamp\":\"1729510500\",\"id\":\"3\","
		"\"info\":\"test event\",\"orgc_id\":\"2\",\"uuid\":\"0000000e-0000-4000-8000-000000000003\"},"
		"\"Tag\":[{\"id\":\"0\",\"name\":\"misp-galaxy:x=\\\"y\\\"\",\"colour\":\"#ffffff\",\"numerical_value\":null,"
		"\"is_galaxy\":true,\"local\":false}]}");
	/* includeEventTags + includeContext + includeEventUuid */
	o = (struct iocb_render_misp_opts){true, true, true};
	iocb_buf_reset(&b);
	iocb_jw_init(&w, &b);
	iocb_render_misp_attribute(&w, h[0].attr, &o);
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	assert_non_null(strstr(b.ptr, "\"value\":\"198.51.100.0/24\",\"event_uuid\":\"0000000e-0000-4000-8000-000000000003\","
				      "\"Event\":{\"id\":\"3\",\"orgc_id\":\"2\",\"org_id\":\"2\",\"date\":\"2024-10-21\","
				      "\"threat_level_id\":\"2\",\"info\":\"test event\",\"published\":true,"));
	assert_non_null(strstr(b.ptr, "\"extends_uuid\":\"\",\"Tag\":[{\"local\":false,\"id\":\"0\",\"name\":\"tlp:amber\","
				      "\"colour\":\"#ffffff\",\"numerical_value\":null}],\"Orgc\":{\"id\":\"2\","
				      "\"name\":\"EXAMPLE-CERT\",\"uuid\":\"\",\"local\":false}},"));
	assert_non_null(strstr(b.ptr, "\"is_galaxy\":true,\"local\":false},{\"id\":\"0\",\"name\":\"tlp:amber\","
				      "\"colour\":\"#ffffff\",\"numerical_value\":null,\"inherited\":1}]}"));
	iocb_store_read_unlock();
	iocb_buf_fini(&b);
	iocb_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_pymisp),
		cmocka_unit_test(test_parse_casts),
		cmocka_unit_test(test_parse_times_paging),
		cmocka_unit_test(test_parse_wrapper_named_errors),
		cmocka_unit_test(test_like),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_quality),
		cmocka_unit_test(test_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
