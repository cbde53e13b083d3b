// SPDX-License-Identifier: Apache-2.0
/* Unit tests of src/sightings' pure pieces: batching, request bodies, verdicts, rate limiter, dedup. */
#include "sightings/internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json/json.h"

#define U1 "ea59f686-082e-4f8b-9a30-b4767a075c12"
#define U2 "0b7f2a8e-5d1c-4c47-9a8e-3f6d2b1c9e01"

static struct iocb_sightings__rec rec(const char *uuid, const char *source, unsigned type, int64_t ts)
{
	struct iocb_sightings__rec r;
	memset(&r, 0, sizeof(r));
	memcpy(r.uuid, uuid, IOCB_SIGHTINGS_UUID_LEN);
	r.type = (uint8_t)type;
	r.timestamp = ts;
	r.source_len = (uint8_t)strlen(source);
	memcpy(r.source, source, r.source_len);
	return r;
}

static void test_same_batch(void **state)
{
	struct iocb_sightings__rec a = rec(U1, "zeek@sensor-1", 0, 1729510000);
	struct iocb_sightings__rec b = rec(U2, "zeek@sensor-1", 0, 1729510000);
	assert_true(iocb_sightings__same_batch(&a, &b));
	b = rec(U2, "zeek@sensor-2", 0, 1729510000);
	assert_false(iocb_sightings__same_batch(&a, &b));
	b = rec(U2, "zeek@sensor-1", 1, 1729510000);
	assert_false(iocb_sightings__same_batch(&a, &b));
	b = rec(U2, "zeek@sensor-1", 0, 1729510001);
	assert_false(iocb_sightings__same_batch(&a, &b));
}

static void test_body_single_matches_fixture(void **state)
{
	/* tests/fixtures/misp/rest/derived/sightings-add-request-by-uuid-threatbus.json, compact. */
	struct iocb_sightings__rec r = rec(U1, "zeek@sensor-1", 0, 1729510000);
	struct iocb_buf b;
	iocb_buf_init(&b, 0);
	assert_int_equal(iocb_sightings__body(&r, 1, &b), IOCB_OK);
	assert_string_equal(b.ptr, "{\"id\":\"" U1 "\",\"source\":\"zeek@sensor-1\",\"type\":\"0\",\"timestamp\":1729510000}");
	iocb_buf_fini(&b);
}

/* "key:type,key:type," of a flat JSON object, in order. */
static void shape(const char *doc, size_t len, char *out, size_t cap)
{
	struct iocb_json_parser p;
	struct iocb_json_tok key, val;
	size_t o = 0;
	out[0] = 0;
	iocb_json_init(&p, doc, len, 8, false);
	assert_int_equal(iocb_json_next(&p, &val, NULL), IOCB_OK);
	assert_int_equal(val.type, IOCB_JSON_OBJ);
	while (iocb_json_next_member(&p, &key, &val, NULL) == 1)
		o += (size_t)snprintf(out + o, cap - o, "%.*s:%d,", IOCB_STR_FMT(key.s), (int)val.type);
}

static void test_body_shape_is_the_fixture_shape(void **state)
{
	/* Same keys, same JSON types, same order as what Threat Bus sends (the fixture). */
	char doc[4096], want[256], got[256];
	FILE *f = fopen(IOCB_FIXTURES_DIR "/misp/rest/derived/sightings-add-request-by-uuid-threatbus.json", "r");
	assert_non_null(f);
	size_t len = fread(doc, 1, sizeof(doc), f);
	fclose(f);
	shape(doc, len, want, sizeof(want));
	struct iocb_sightings__rec r[2] = {rec(U1, "zeek@sensor-1", 0, 1729510000), rec(U2, "zeek@sensor-1", 0, 1729510000)};
	struct iocb_buf b;
	iocb_buf_init(&b, 0);
	assert_int_equal(iocb_sightings__body(r, 2, &b), IOCB_OK);
	shape(b.ptr, b.len, got, sizeof(got));
	assert_string_equal(got, want);
	iocb_buf_fini(&b);
}

static void test_body_batch(void **state)
{
	struct iocb_sightings__rec r[2] = {rec(U1, "a\"b", 2, 5), rec(U2, "a\"b", 2, 5)};
	struct iocb_buf b;
	iocb_buf_init(&b, 0);
	assert_int_equal(iocb_sightings__body(r, 2, &b), IOCB_OK);
	assert_string_equal(b.ptr, "{\"id\":\"" U1 "|" U2 "\",\"source\":\"a\\\"b\",\"type\":\"2\",\"timestamp\":5}");
	assert_int_equal(iocb_json_validate(b.ptr, b.len, 8, NULL), IOCB_OK);
	iocb_buf_fini(&b);
}

static void test_judge(void **state)
{
	const char *ok = "{\n    \"Sighting\": {\n        \"id\": \"58\", \"source\": \"iocbus\", \"type\": \"0\"\n    }\n}";
	const char *nomatch =
		"{\"message\":\"Could not add the Sighting. Reason: No valid attributes found that match the criteria.\"}";
	assert_int_equal(iocb_sightings__judge(200, ok, strlen(ok)), IOCB_SIGHTINGS__SENT);
	assert_int_equal(iocb_sightings__judge(200, nomatch, strlen(nomatch)), IOCB_SIGHTINGS__REJECTED);
	assert_int_equal(iocb_sightings__judge(503, ok, strlen(ok)), IOCB_SIGHTINGS__RETRY);
	assert_int_equal(iocb_sightings__judge(403, nomatch, strlen(nomatch)), IOCB_SIGHTINGS__RETRY);
	assert_int_equal(iocb_sightings__judge(200, "<html>", 6), IOCB_SIGHTINGS__RETRY);
	assert_int_equal(iocb_sightings__judge(200, "{}", 2), IOCB_SIGHTINGS__RETRY);
	assert_int_equal(iocb_sightings__judge(200, "[1]", 3), IOCB_SIGHTINGS__RETRY);
}

static void test_rate_limiter(void **state)
{
	struct iocb_sightings__rl rl;
	iocb_sightings__rl_init(&rl, 100, 0.0);
	assert_true(iocb_sightings__rl_take(&rl, 100, 0.0) == 0);   /* a full burst */
	double w = iocb_sightings__rl_take(&rl, 50, 0.0);
	assert_true(w > 0.49 && w < 0.51);                           /* 50 more need half a second */
	assert_true(iocb_sightings__rl_take(&rl, 50, 0.5) == 0);
	assert_true(iocb_sightings__rl_take(&rl, 1000, 10.0) == 0);  /* a batch past the burst is capped */
	iocb_sightings__rl_init(&rl, 0, 0.0);
	assert_true(iocb_sightings__rl_take(&rl, 1e9, 0.0) == 0);    /* 0 = unlimited */
}

static void test_dedup(void **state)
{
	struct iocb_sightings__dedup *d = calloc(1, sizeof(*d));
	struct iocb_sightings__rec a = rec(U1, "s", 0, 1), a2 = rec(U1, "s", 0, 99), b = rec(U1, "s", 1, 1),
				   c = rec(U1, "t", 0, 1);
	assert_false(iocb_sightings__dedup_hit(d, &a, 10.0, 60, NULL));
	assert_true(iocb_sightings__dedup_hit(d, &a2, 20.0, 60, NULL));    /* same attribute/source/type, any ts */
	assert_false(iocb_sightings__dedup_hit(d, &b, 20.0, 60, NULL));    /* other type */
	assert_false(iocb_sightings__dedup_hit(d, &c, 20.0, 60, NULL));    /* other source */
	assert_false(iocb_sightings__dedup_hit(d, &a, 71.0, 60, NULL));    /* window passed */
	assert_true(iocb_sightings__dedup_hit(d, &a, 72.0, 60, NULL));
	assert_false(iocb_sightings__dedup_hit(d, &a, 72.0, 0, NULL));     /* 0 = off */
	/* undo gives back what a miss replaced */
	struct iocb_sightings__dedup_undo u;
	struct iocb_sightings__rec e = rec(U2, "s", 0, 1);
	assert_false(iocb_sightings__dedup_hit(d, &e, 100.0, 60, &u));
	d->key[u.slot] = u.key;
	d->seen[u.slot] = u.seen;
	assert_false(iocb_sightings__dedup_hit(d, &e, 101.0, 60, NULL));
	free(d);
}

/* Every counter under its name; all or nothing past the buffer's cap. */
static void test_metrics_render(void **state)
{
	struct iocb_sightings_stats st = {.received = 11, .sent = 7, .failed = 3, .rejected = 2, .queued = 4,
					  .deduplicated = 5, .requests = 9, .bad = 6, .matches = 8,
					  .matches_deduplicated = 1000, .matches_dropped = 12};
	const char *want[] = {
		"iocbus_sightings_received_total 11\n",
		"iocbus_sightings_sent_total 7\n",
		"iocbus_sightings_failed_total 3\n",
		"iocbus_sightings_requests_total 9\n",
		"iocbus_sightings_rejected_total 2\n",
		"# TYPE iocbus_sightings_queued gauge\niocbus_sightings_queued 4\n",
		"iocbus_sightings_bad_total 6\n",
		"iocbus_sightings_deduplicated_total{window=\"queue\"} 5\n",
		"iocbus_sightings_deduplicated_total{window=\"from_matches\"} 1000\n",
		"iocbus_sightings_from_matches_total 8\n",
		"iocbus_sightings_from_matches_dropped_total 12\n",
	};
	struct iocb_buf b;
	iocb_buf_init(&b, 0);
	assert_int_equal(iocb_sightings_metrics_render(&st, &b), IOCB_OK);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(b.ptr, want[i]))
			fail_msg("missing %s in:\n%s", want[i], b.ptr);
	size_t full = b.len;
	iocb_buf_fini(&b);
	iocb_buf_init(&b, full - 1);
	assert_int_equal(iocb_buf_append_c(&b, "x"), IOCB_OK);
	assert_int_equal(iocb_sightings_metrics_render(&st, &b), IOCB_ELIMIT);
	assert_int_equal(b.len, 1);
	iocb_buf_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_batch),   cmocka_unit_test(test_body_single_matches_fixture),
		cmocka_unit_test(test_body_shape_is_the_fixture_shape), cmocka_unit_test(test_body_batch),   cmocka_unit_test(test_judge),
		cmocka_unit_test(test_rate_limiter), cmocka_unit_test(test_dedup), cmocka_unit_test(test_metrics_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
