/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the MISP document parsers (src/misp/misp.h): shapes, field
 * types, key order, update actions, and bad input (skipped with a reason and
 * a location, never fatal to what was already delivered).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "misp/misp.h"

#define MAXREC 64

struct rec {
	char uuid[64];
	char type[48];
	char part0[128];
	char part1[128];
	int prefix0;
	bool indicator, to_ids, deleted;
	enum iocb_misp_action action;
	uint64_t id, event_id, orgc_id, ts;
	int64_t first_seen;
	size_t ntags, nevtags;
	bool evtags_known;
	char evinfo[64];
	char tag0[64];
};

struct sink {
	struct rec r[MAXREC];
	size_t n;
	size_t nevents;
	enum iocb_misp_action last_event_action;
	char last_event_uuid[64];
	size_t skips[IOCB_SKIP__COUNT];
	char last_skip[400];
};

static void cp(char *dst, size_t cap, struct iocb_str s)
{
	snprintf(dst, cap, "%.*s", (int)s.len, s.ptr ? s.ptr : "");
}

static int on_attr(void *ud, const struct iocb_misp_attr *a)
{
	struct sink *s = ud;
	struct rec *r;

	assert_true(s->n < MAXREC);
	r = &s->r[s->n++];
	memset(r, 0, sizeof(*r));
	cp(r->uuid, sizeof(r->uuid), a->uuid);
	snprintf(r->type, sizeof(r->type), "%s", a->type ? a->type->name : "");
	if (a->nparts > 0)
		cp(r->part0, sizeof(r->part0), a->part[0]);
	if (a->nparts > 1)
		cp(r->part1, sizeof(r->part1), a->part[1]);
	r->prefix0 = a->prefix[0];
	r->indicator = a->indicator;
	r->to_ids = a->to_ids;
	r->deleted = a->deleted;
	r->action = a->action;
	r->id = a->id;
	r->event_id = a->event_id;
	r->orgc_id = a->event->orgc_id;
	r->ts = a->timestamp;
	r->first_seen = a->first_seen_us;
	r->ntags = a->ntags;
	r->nevtags = a->event->ntags;
	r->evtags_known = a->event->tags_known;
	cp(r->evinfo, sizeof(r->evinfo), a->event->info);
	if (a->ntags)
		cp(r->tag0, sizeof(r->tag0), a->tags[0].name);
	return 0;
}

static int on_event(void *ud, const struct iocb_misp_event *e, enum iocb_misp_action act)
{
	struct sink *s = ud;

	s->nevents++;
	s->last_event_action = act;
	cp(s->last_event_uuid, sizeof(s->last_event_uuid), e->uuid);
	return 0;
}

static void on_skip(void *ud, enum iocb_misp_skip r, const char *detail)
{
	struct sink *s = ud;

	s->skips[r]++;
	snprintf(s->last_skip, sizeof(s->last_skip), "%s", detail);
}

static int parse(struct sink *s, const char *doc, struct iocb_err *err)
{
	struct iocb_misp_handlers h = {on_attr, on_event, on_skip, s, NULL, NULL};

	memset(s, 0, sizeof(*s));
	return iocb_misp_parse(doc, strlen(doc), "test.json", &h, NULL, NULL, err);
}

#define A(fields) "{\"uuid\":\"11111111-1111-4111-8111-111111111111\"," fields "}"

static void test_restsearch_types_and_order(void **state)
{
	struct sink s;
	(void)state;
	/* Ints as numbers, booleans as "1", Tag absent, unknown keys, Event first. */
	const char *doc = "{\"response\":{\"Attribute\":["
			  "{\"Event\":{\"orgc_id\":7,\"id\":\"9\",\"info\":\"E\",\"uuid\":\"e\"},\"zzz\":[1,{\"a\":2}],"
			  "\"value\":\"Example.COM.\",\"type\":\"domain\",\"to_ids\":\"1\",\"id\":12,"
			  "\"timestamp\":1700000000,\"uuid\":\"aaaaaaaa-1111-4111-8111-111111111111\"},"
			  "{\"uuid\":\"bbbbbbbb-1111-4111-8111-111111111111\",\"type\":\"ip-src\",\"value\":\"10.1.2.3/8\","
			  "\"to_ids\":true,\"first_seen\":\"2024-10-21T08:00:00.000000+00:00\"}"
			  "]}}";
	assert_int_equal(parse(&s, doc, NULL), IOCB_OK);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.r[0].part0, "example.com");
	assert_true(s.r[0].to_ids);
	assert_int_equal(s.r[0].id, 12);
	assert_int_equal(s.r[0].event_id, 9);
	assert_int_equal(s.r[0].orgc_id, 7);
	assert_int_equal(s.r[0].ts, 1700000000);
	assert_int_equal(s.r[0].ntags, 0);
	assert_string_equal(s.r[0].evinfo, "E");
	assert_int_equal(s.r[0].action, IOCB_ACT_NONE);
	assert_int_equal(s.r[1].prefix0, 8);
	assert_int_equal(s.r[1].first_seen, 1729497600000000LL);
}

static void test_bad_items_are_skipped(void **state)
{
	struct sink s;
	(void)state;
	const char *doc = "{\"response\":{\"Attribute\":["
			  "{\"uuid\":\"u1\",\"type\":\"no-such-type\",\"value\":\"x\"},"
			  "{\"uuid\":\"u2\",\"type\":\"ip-dst\",\"value\":\"999.1.1.1\"},"
			  "{\"uuid\":\"u3\",\"type\":\"text\",\"value\":\"hello\"},"
			  "{\"type\":\"ip-dst\",\"value\":\"1.2.3.4\"},"
			  "{\"uuid\":\"u5\",\"type\":\"ip-dst\",\"value\":\"1.2.3.5\",\"to_ids\":\"maybe\"},"
			  "{\"uuid\":\"u6\",\"type\":\"ip-dst\",\"value\":\"1.2.3.6\",\"deleted\":true},"
			  "42,"
			  "{\"uuid\":\"u8\",\"type\":\"ip-dst\",\"value\":\"1.2.3.8\"}"
			  "]}}";
	assert_int_equal(parse(&s, doc, NULL), IOCB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.r[0].uuid, "u8");
	assert_int_equal(s.skips[IOCB_SKIP_UNKNOWN_TYPE], 1);
	assert_int_equal(s.skips[IOCB_SKIP_INVALID_VALUE], 1);
	assert_int_equal(s.skips[IOCB_SKIP_NOT_INDICATOR], 1);
	assert_int_equal(s.skips[IOCB_SKIP_MISSING_FIELD], 1);
	assert_int_equal(s.skips[IOCB_SKIP_BAD_SHAPE], 2);
	assert_int_equal(s.skips[IOCB_SKIP_DELETED], 1);
}

static void test_broken_json_keeps_what_came_before(void **state)
{
	struct sink s;
	struct iocb_err err = {0};
	(void)state;
	const char *doc = "{\"response\":{\"Attribute\":["
			  "{\"uuid\":\"u1\",\"type\":\"ip-dst\",\"value\":\"1.2.3.4\"},"
			  "{\"uuid\":\"u2\",\"type\":\"ip-dst\",\"value\":\"1.2.3.5\"},"
			  "{\"uuid\":\"u3\",\"type\":\"ip-dst\",\"val";
	assert_int_equal(parse(&s, doc, &err), IOCB_EPARSE);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.skips[IOCB_SKIP_NOT_JSON], 1);
	assert_non_null(strstr(err.msg, "test.json"));
	assert_non_null(strstr(err.msg, "byte "));
}

static void test_oversized_value(void **state)
{
	struct sink s;
	struct iocb_misp_handlers h = {on_attr, on_event, on_skip, &s, NULL, NULL};
	struct iocb_misp_limits lim;
	size_t big = 200000;
	char *doc = malloc(big + 200);
	(void)state;

	iocb_misp_limits_default(&lim);
	memset(&s, 0, sizeof(s));
	int n = snprintf(doc, 200, "{\"Attribute\":[{\"uuid\":\"u1\",\"type\":\"url\",\"value\":\"");
	memset(doc + n, 'a', big);
	strcpy(doc + n + big, "\"},{\"uuid\":\"u2\",\"type\":\"url\",\"value\":\"http://x.example/\"}]}");
	assert_int_equal(iocb_misp_parse(doc, strlen(doc), "big", &h, &lim, NULL, NULL), IOCB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.r[0].uuid, "u2");
	assert_int_equal(s.skips[IOCB_SKIP_BAD_SHAPE] + s.skips[IOCB_SKIP_TOO_LARGE], 1);
	free(doc);
}

static void test_deep_nesting_is_limited(void **state)
{
	struct sink s;
	struct iocb_err err = {0};
	char doc[2100];
	(void)state;

	memset(doc, '[', 1000);
	memset(doc + 1000, ']', 1000);
	doc[2000] = '\0';
	assert_int_equal(parse(&s, doc, &err), IOCB_ELIMIT);
	assert_int_equal(s.n, 0);
}

static void test_notifications(void **state)
{
	struct sink s;
	(void)state;
	/* Attribute before Event; tags attribute-level only; action edit. */
	assert_int_equal(parse(&s,
			       "{\"Attribute\":{\"uuid\":\"u1\",\"type\":\"ip-dst\",\"value1\":\"203.0.113.9\","
			       "\"value2\":\"\",\"to_ids\":false,\"Tag\":[{\"name\":\"tlp:red\",\"local\":true}]},"
			       "\"Event\":{\"orgc_id\":\"2\",\"info\":\"I\",\"Orgc\":{\"name\":\"O\"}},\"action\":\"edit\"}",
			       NULL),
			 IOCB_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].action, IOCB_ACT_EDIT);
	assert_false(s.r[0].to_ids);
	assert_true(s.r[0].indicator);
	assert_int_equal(s.r[0].orgc_id, 2);
	assert_string_equal(s.r[0].tag0, "tlp:red");
	assert_false(s.r[0].evtags_known);

	/* Sanitised soft delete: type comment, value "deleted" -> delivered, not an indicator. */
	assert_int_equal(parse(&s,
			       "{\"Attribute\":{\"uuid\":\"u1\",\"type\":\"comment\",\"value\":\"deleted\","
			       "\"deleted\":true},\"action\":\"soft-delete\"}",
			       NULL),
			 IOCB_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].action, IOCB_ACT_SOFT_DELETE);
	assert_false(s.r[0].indicator);

	/* Hard delete: Attribute only, composite value from value1/value2. */
	assert_int_equal(parse(&s,
			       "{\"Attribute\":{\"uuid\":\"u2\",\"type\":\"domain|ip\",\"value1\":\"a.example\","
			       "\"value2\":\"192.0.2.1\"},\"action\":\"delete\"}",
			       NULL),
			 IOCB_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].action, IOCB_ACT_DELETE);
	assert_string_equal(s.r[0].part0, "a.example");
	assert_string_equal(s.r[0].part1, "192.0.2.1");

	/* Event delete: only the event callback. */
	assert_int_equal(parse(&s, "{\"Event\":{\"id\":\"3\",\"uuid\":\"ev-uuid\"},\"action\":\"delete\"}", NULL),
			 IOCB_OK);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.nevents, 1);
	assert_int_equal(s.last_event_action, IOCB_ACT_DELETE);
	assert_string_equal(s.last_event_uuid, "ev-uuid");
}

static void test_event_tags_after_attributes(void **state)
{
	struct sink s;
	(void)state;
	/* "Attribute" comes before the event's "Tag": tags must still reach the attributes. */
	assert_int_equal(parse(&s,
			       "{\"Event\":{\"uuid\":\"e1\",\"Attribute\":[{\"uuid\":\"u1\",\"type\":\"md5\","
			       "\"value\":\"D41D8CD98F00B204E9800998ECF8427E\"}],\"info\":\"late\","
			       "\"Tag\":[{\"name\":\"tlp:green\"},{\"name\":\"x\"}],"
			       "\"Object\":[{\"id\":\"5\",\"Attribute\":[{\"uuid\":\"u2\",\"type\":\"sha1\","
			       "\"value\":\"da39a3ee5e6b4b0d3255bfef95601890afd80709\"}]}]}}",
			       NULL),
			 IOCB_OK);
	assert_int_equal(s.nevents, 1);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.r[0].part0, "d41d8cd98f00b204e9800998ecf8427e");
	assert_true(s.r[0].evtags_known);
	assert_int_equal(s.r[0].nevtags, 2);
	assert_string_equal(s.r[0].evinfo, "late");
	assert_string_equal(s.r[1].uuid, "u2");
}

static void test_zmq_frames(void **state)
{
	struct sink s;
	struct iocb_misp_handlers h = {on_attr, on_event, on_skip, &s, NULL, NULL};
	struct iocb_str topic;
	struct iocb_err err = {0};
	const char *hb = "misp_json_self {\"status\": \"alive\", \"uptime\": 60}";
	const char *nospace = "misp_json_attribute";
	const char *attr = "misp_json_attribute {\"Attribute\":{\"uuid\":\"u\",\"type\":\"url\",\"value\":"
			   "\"http://a.example/x\"},\"action\":\"add\"}";
	(void)state;

	memset(&s, 0, sizeof(s));
	assert_int_equal(iocb_misp_parse_zmq_frame(hb, strlen(hb), &topic, &h, NULL, NULL, &err), IOCB_OK);
	assert_true(iocb_str_eq_c(topic, "misp_json_self"));
	assert_int_equal(s.n, 0);
	assert_int_equal(iocb_misp_parse_zmq_frame(nospace, strlen(nospace), &topic, &h, NULL, NULL, &err),
			 IOCB_EPARSE);
	assert_int_equal(s.skips[IOCB_SKIP_BAD_SHAPE], 1);
	assert_int_equal(iocb_misp_parse_zmq_frame(attr, strlen(attr), &topic, &h, NULL, NULL, &err), IOCB_OK);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].action, IOCB_ACT_ADD);
}

/*
 * A 1 GiB document: one attribute whose value is 1 GiB long, then a normal
 * one. The huge value is skipped without being copied (scratch memory stays
 * capped) and the next attribute still loads.
 */
static void test_one_gigabyte_document(void **state)
{
	const char *head = "{\"Attribute\":[{\"uuid\":\"u1\",\"type\":\"url\",\"value\":\"";
	const char *tail = "\"},{\"uuid\":\"u2\",\"type\":\"domain\",\"value\":\"ok.example\"}]}";
	size_t big = (size_t)1 << 30, hl = strlen(head), tl = strlen(tail), len = hl + big + tl;
	struct sink s;
	struct iocb_misp_handlers h = {on_attr, on_event, on_skip, &s, NULL, NULL};
	char *doc;
	(void)state;

	doc = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(doc != MAP_FAILED);
	memcpy(doc, head, hl);
	memset(doc + hl, 'a', big);
	memcpy(doc + hl + big, tail, tl);
	memset(&s, 0, sizeof(s));
	assert_int_equal(iocb_misp_parse(doc, len, "1g.json", &h, NULL, NULL, NULL), IOCB_OK);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.r[0].part0, "ok.example");
	assert_int_equal(s.skips[IOCB_SKIP_BAD_SHAPE], 1);
	assert_non_null(strstr(s.last_skip, "too large"));
	munmap(doc, len);
}

static void test_callback_can_stop(void **state)
{
	(void)state;
	/* Not JSON at all: one NOT_JSON skip, error returned, nothing delivered. */
	struct sink s;
	struct iocb_err err = {0};
	assert_int_equal(parse(&s, "this is not json", &err), IOCB_EPARSE);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.skips[IOCB_SKIP_NOT_JSON], 1);
	/* A scalar document is valid JSON of the wrong shape. */
	assert_int_equal(parse(&s, "42", &err), IOCB_OK);
	assert_int_equal(s.skips[IOCB_SKIP_BAD_SHAPE], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restsearch_types_and_order),
		cmocka_unit_test(test_bad_items_are_skipped),
		cmocka_unit_test(test_broken_json_keeps_what_came_before),
		cmocka_unit_test(test_oversized_value),
		cmocka_unit_test(test_deep_nesting_is_limited),
		cmocka_unit_test(test_notifications),
		cmocka_unit_test(test_event_tags_after_attributes),
		cmocka_unit_test(test_zmq_frames),
		cmocka_unit_test(test_callback_can_stop),
		cmocka_unit_test(test_one_gigabyte_document),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
