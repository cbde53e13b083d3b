/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the Elasticsearch _bulk protocol functions
 * (src/pipe/outputs/es_bulk.h): body framing, URL, base64, response parsing of
 * real-shaped answers (filter_path trimmed and full), garbage and truncated
 * answers, item count mismatches, and the retry/dead-letter judgement.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipe/outputs/es_bulk.h"

static void test_action_line(void **state)
{
	char b[IOCB_PIPE_ES_ACTION_MAX];
	size_t n;

	(void)state;
	n = iocb_pipe__es_action_line(b, false, NULL);
	assert_int_equal(n, strlen("{\"index\":{}}\n"));
	assert_memory_equal(b, "{\"index\":{}}\n", n);
	n = iocb_pipe__es_action_line(b, true, NULL);
	assert_memory_equal(b, "{\"create\":{}}\n", n);
	n = iocb_pipe__es_action_line(b, true, "0123456789abcdef0123456789abcdef");
	assert_int_equal(n, strlen("{\"create\":{\"_id\":\"0123456789abcdef0123456789abcdef\"}}\n"));
	assert_memory_equal(b, "{\"create\":{\"_id\":\"0123456789abcdef0123456789abcdef\"}}\n", n);
	assert_true(n <= IOCB_PIPE_ES_ACTION_MAX);
	n = iocb_pipe__es_action_line(b, false, "00ff");
	assert_memory_equal(b, "{\"index\":{\"_id\":\"00ff\"}}\n", n);
}

static void test_body(void **state)
{
	struct iocb_buf body;

	(void)state;
	iocb_buf_init(&body, 0);
	assert_int_equal(iocb_pipe__es_body_append(&body, false, NULL, "{\"a\":1}\n", 8), IOCB_OK);
	assert_int_equal(iocb_pipe__es_body_append(&body, false, NULL, "{\"b\":2}", 7), IOCB_OK); /* no '\n' */
	assert_string_equal(body.ptr, "{\"index\":{}}\n{\"a\":1}\n{\"index\":{}}\n{\"b\":2}\n");
	iocb_buf_reset(&body);
	assert_int_equal(iocb_pipe__es_body_append(&body, true, "aa", "{}\n", 3), IOCB_OK);
	assert_string_equal(body.ptr, "{\"create\":{\"_id\":\"aa\"}}\n{}\n");
	iocb_buf_fini(&body);

	/* A capped body refuses and stays as it was. */
	iocb_buf_init(&body, 30);
	assert_int_equal(iocb_pipe__es_body_append(&body, false, NULL, "{\"a\":1}\n", 8), IOCB_OK);
	assert_int_equal(iocb_pipe__es_body_append(&body, false, NULL, "{\"a\":1}\n", 8), IOCB_ELIMIT);
	assert_int_equal(body.len, 21);
	iocb_buf_fini(&body);
}

static void test_url(void **state)
{
	struct iocb_buf u;

	(void)state;
	iocb_buf_init(&u, 4096);
	assert_int_equal(iocb_pipe__es_bulk_url(&u, "http://127.0.0.1:9200/", "logs-x", NULL), IOCB_OK);
	assert_string_equal(u.ptr, "http://127.0.0.1:9200/logs-x/_bulk?filter_path=errors,items.*.error,items.*.status");
	assert_int_equal(iocb_pipe__es_bulk_url(&u, "https://es:9200", "<logs-{now/d}>", "my pipe&x=1"), IOCB_OK);
	assert_string_equal(u.ptr, "https://es:9200/%3Clogs-%7Bnow%2Fd%7D%3E/_bulk?filter_path=errors,items.*.error,"
				   "items.*.status&pipeline=my%20pipe%26x%3D1");
	assert_int_equal(iocb_pipe__es_bulk_url(&u, "http://h", NULL, "_none"), IOCB_OK);
	assert_string_equal(u.ptr, "http://h/_bulk?filter_path=errors,items.*.error,items.*.status&pipeline=_none");
	iocb_buf_fini(&u);
	iocb_buf_init(&u, 10);
	assert_int_equal(iocb_pipe__es_bulk_url(&u, "http://127.0.0.1:9200", "x", NULL), IOCB_ELIMIT);
	iocb_buf_fini(&u);
}

static void test_base64(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="},
		{"elastic:changeme", "ZWxhc3RpYzpjaGFuZ2VtZQ=="},
		{"VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw", "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="},
	};
	struct iocb_buf b;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		iocb_buf_init(&b, 0);
		assert_int_equal(iocb_pipe__es_base64(&b, cases[i].in, strlen(cases[i].in)), IOCB_OK);
		assert_int_equal(b.len, strlen(cases[i].out));
		if (b.len)
			assert_string_equal(b.ptr, cases[i].out);
		iocb_buf_fini(&b);
	}
}

static void test_auth_header(void **state)
{
	struct iocb_buf b;

	(void)state;
	iocb_buf_init(&b, 0);
	assert_int_equal(iocb_pipe__es_auth_header(&b, "elastic", "changeme", NULL, NULL), IOCB_OK);
	assert_string_equal(b.ptr, "Authorization: Basic ZWxhc3RpYzpjaGFuZ2VtZQ==");
	iocb_buf_reset(&b);
	/* id:key is encoded; the encoded form is sent as is; api_key wins over the others. */
	assert_int_equal(iocb_pipe__es_auth_header(&b, "u", "p", "VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw", "tok"),
			 IOCB_OK);
	assert_string_equal(b.ptr, "Authorization: ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==");
	iocb_buf_reset(&b);
	assert_int_equal(iocb_pipe__es_auth_header(&b, NULL, NULL, "VnVhQ2ZHY0JDZGJr", NULL), IOCB_OK);
	assert_string_equal(b.ptr, "Authorization: ApiKey VnVhQ2ZHY0JDZGJr");
	iocb_buf_reset(&b);
	assert_int_equal(iocb_pipe__es_auth_header(&b, "u", "p", "", "tok"), IOCB_OK);
	assert_string_equal(b.ptr, "Authorization: Bearer tok");
	iocb_buf_reset(&b);
	assert_int_equal(iocb_pipe__es_auth_header(&b, "u", NULL, NULL, NULL), IOCB_OK);
	assert_string_equal(b.ptr, "Authorization: Basic dTo=");
	iocb_buf_reset(&b);
	assert_int_equal(iocb_pipe__es_auth_header(&b, NULL, "p", NULL, NULL), IOCB_OK);
	assert_int_equal(b.len, 0);
	iocb_buf_fini(&b);
	iocb_buf_init(&b, 20);
	assert_int_equal(iocb_pipe__es_auth_header(&b, NULL, NULL, NULL, "a-rather-long-token-value"), IOCB_ELIMIT);
	iocb_buf_fini(&b);
}

static void test_host_for_log(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"http://127.0.0.1:9200", "http://127.0.0.1:9200"},
		{"https://elastic:s3cret@es.example:9243/prefix/?x=1", "https://es.example:9243"},
		{"es.example:9200/", "es.example:9200"},
		{"http://user@h", "http://h"},
		{"", ""},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = iocb_pipe__es_host_for_log(cases[i].in);
		assert_string_equal(s, cases[i].out);
		free(s);
	}
}

static int parse(const char *body, size_t expected, struct iocb_pipe__es_item *items, struct iocb_pipe__es_resp *r)
{
	return iocb_pipe__es_parse_response(body, strlen(body), expected, items, r, NULL);
}

static void test_parse_ok_trimmed(void **state)
{
	struct iocb_pipe__es_item items[3];
	struct iocb_pipe__es_resp r;

	(void)state;
	/* What filter_path=errors,items.*.error,items.*.status leaves of a good answer. */
	assert_int_equal(parse("{\"errors\":false,\"items\":[{\"index\":{\"status\":201}},{\"index\":{\"status\":201}},"
			       "{\"index\":{\"status\":200}}]}",
			       3, items, &r),
			 IOCB_OK);
	assert_true(r.has_errors);
	assert_false(r.errors);
	assert_false(r.detailed); /* counted only */
	assert_int_equal(r.nitems, 3);
	/* Count mismatch, both ways. */
	assert_int_equal(parse("{\"errors\":false,\"items\":[{\"index\":{\"status\":201}}]}", 3, items, &r), IOCB_EINVAL);
	assert_int_equal(parse("{\"errors\":false,\"items\":[{\"index\":{\"status\":201}},{\"index\":{\"status\":201}}]}",
			       1, items, &r),
			 IOCB_EINVAL);
	assert_int_equal(parse("{\"errors\":false,\"items\":[]}", 0, NULL, &r), IOCB_OK);
	/* errors:true but items past the expected count: a mismatch, nothing written past items[0]. */
	assert_int_equal(parse("{\"errors\":true,\"items\":[{\"index\":{\"status\":201}},{\"index\":{\"status\":400,"
			       "\"error\":{\"type\":\"x\",\"reason\":\"y\"}}}]}",
			       1, items, &r),
			 IOCB_EINVAL);
}

static void test_parse_full(void **state)
{
	/* A full (unfiltered) ES answer, key order as ES writes it. */
	static const char body[] =
		"{\"errors\":false,\"took\":3,\"items\":[{\"index\":{\"_index\":\"logs\",\"_id\":\"x1\",\"_version\":1,"
		"\"result\":\"created\",\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},\"_seq_no\":0,"
		"\"_primary_term\":1,\"status\":201}},{\"create\":{\"_index\":\".ds-logs-2026.11.23-000001\",\"_id\":\"x2\","
		"\"_version\":1,\"result\":\"created\",\"_shards\":{\"total\":2,\"successful\":1,\"failed\":0},"
		"\"_seq_no\":1,\"_primary_term\":1,\"status\":201}}]}";
	/* items before errors, as some proxies reorder: every item is walked. */
	static const char reordered[] =
		"{\"took\":3,\"items\":[{\"index\":{\"_index\":\"logs\",\"status\":201}},{\"index\":{\"status\":400,"
		"\"error\":{\"type\":\"mapper_parsing_exception\",\"reason\":\"bad\",\"caused_by\":{\"type\":\"x\","
		"\"reason\":\"y\",\"caused_by\":{\"type\":\"z\"}}},\"_id\":\"q\"}}],\"errors\":true}";
	struct iocb_pipe__es_item items[2];
	struct iocb_pipe__es_resp r;
	char reason[IOCB_PIPE_ES_REASON_MAX];

	(void)state;
	assert_int_equal(parse(body, 2, items, &r), IOCB_OK);
	assert_false(r.errors);
	assert_int_equal(r.nitems, 2);
	assert_int_equal(parse(reordered, 2, items, &r), IOCB_OK);
	assert_true(r.detailed);
	assert_true(r.errors);
	assert_int_equal(items[0].status, 201);
	assert_int_equal(items[1].status, 400);
	iocb_pipe__es_item_reason(&items[1], reason, sizeof(reason));
	assert_string_equal(reason, "mapper_parsing_exception: bad");
}

static void test_parse_mixed_errors(void **state)
{
	static const char body[] =
		"{\"errors\":true,\"items\":["
		"{\"create\":{\"status\":201}},"
		"{\"create\":{\"error\":{\"type\":\"version_conflict_engine_exception\",\"reason\":\"[a1]: version conflict, "
		"document already exists (current version [1])\",\"index_uuid\":\"u\",\"shard\":\"0\",\"index\":\"logs\"},"
		"\"status\":409}},"
		"{\"create\":{\"status\":400,\"error\":{\"type\":\"mapper_parsing_exception\",\"reason\":\"failed to parse "
		"field [n] of type [long] in document with id 'x'. Preview of field's value: '\\\"abc\\\"'\","
		"\"caused_by\":{\"type\":\"illegal_argument_exception\",\"reason\":\"For input string: \\\"abc\\\"\"}}}},"
		"{\"create\":{\"status\":404,\"error\":{\"type\":\"index_not_found_exception\",\"reason\":\"no such index "
		"[x] and [require_alias] request flag is [true] and [x] is not an alias\"}}},"
		"{\"create\":{\"status\":429,\"error\":{\"type\":\"es_rejected_execution_exception\",\"reason\":\"rejected "
		"execution of coordinating operation\"}}},"
		"{\"create\":{\"status\":503,\"error\":{\"type\":\"unavailable_shards_exception\",\"reason\":\"[logs][0] "
		"primary shard is not active \\u00e9\"}}}"
		"]}";
	static const enum iocb_pipe__es_item_outcome want[] = {
		IOCB_PIPE_ES_ITEM_OK,   IOCB_PIPE_ES_ITEM_DUPLICATE, IOCB_PIPE_ES_ITEM_DEAD,
		IOCB_PIPE_ES_ITEM_DEAD, IOCB_PIPE_ES_ITEM_RETRY,     IOCB_PIPE_ES_ITEM_RETRY};
	static const int status[] = {201, 409, 400, 404, 429, 503};
	struct iocb_pipe__es_item items[6];
	struct iocb_pipe__es_resp r;
	char reason[IOCB_PIPE_ES_REASON_MAX];

	(void)state;
	assert_int_equal(parse(body, 6, items, &r), IOCB_OK);
	assert_true(r.errors);
	assert_true(r.detailed);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(items[i].status, status[i]);
		assert_int_equal(iocb_pipe__es_item_outcome(items[i].status, true), want[i]);
	}
	/* 409 on index (not create) is a real conflict: dead. */
	assert_int_equal(iocb_pipe__es_item_outcome(409, false), IOCB_PIPE_ES_ITEM_DEAD);
	iocb_pipe__es_item_reason(&items[2], reason, sizeof(reason));
	assert_string_equal(reason, "mapper_parsing_exception: failed to parse field [n] of type [long] in document "
				    "with id 'x'. Preview of field's value: '\"abc\"'");
	iocb_pipe__es_item_reason(&items[5], reason, sizeof(reason));
	assert_string_equal(reason, "unavailable_shards_exception: [logs][0] primary shard is not active \xc3\xa9");
	assert_int_equal(items[0].type.type, IOCB_JSON_NONE);
	iocb_pipe__es_item_reason(&items[0], reason, sizeof(reason));
	assert_string_equal(reason, "");
	/* Reasons are cut to the buffer, always NUL-terminated. */
	iocb_pipe__es_item_reason(&items[3], reason, 12);
	assert_string_equal(reason, "index_not_f");
	iocb_pipe__es_item_reason(&items[2], reason, 1);
	assert_string_equal(reason, "");
	/* An unpaired surrogate escape (the scanner lets it through) decodes to a placeholder. */
	assert_int_equal(parse("{\"errors\":true,\"items\":[{\"index\":{\"status\":400,\"error\":{\"type\":\"x\","
			       "\"reason\":\"\\ud800!\"}}}]}",
			       1, items, &r),
			 IOCB_OK);
	iocb_pipe__es_item_reason(&items[0], reason, sizeof(reason));
	assert_string_equal(reason, "x: ?!");
}

static void test_parse_garbage(void **state)
{
	static const char *const bad[] = {
		"",
		"   ",
		"<html><body>502 Bad Gateway</body></html>",
		"[]",
		"{}",
		"{\"errors\":false}",
		"{\"errors\":false,\"items\":{}}",
		"{\"errors\":true,\"items\":[{\"index\":{\"status\":201}},",
		"{\"errors\":true,\"items\":[{\"index\":{\"status\":201}}]",
		"{\"errors\":true,\"items\":[{\"index\":{\"status\":201}}]}}",
		"{\"errors\":true,\"items\":[{\"index\":{\"status\":201}}]} x",
		"{\"errors\":true,\"items\":[1]}",
		"{\"errors\":true,\"items\":[{}]}",
		"{\"errors\":true,\"items\":[{\"index\":5}]}",
		"{\"errors\":true,\"items\":[{\"index\":{}}]}",
		"{\"errors\":true,\"items\":[{\"index\":{\"status\":\"201\"}}]}",
		"{\"errors\":false,\"items\":[{\"index\":{\"status\":201}",
		"{\"errors\":false,\"items\":[{\"index\":{\"status\":201\xff}}]}",
	};
	struct iocb_pipe__es_item items[1];
	struct iocb_pipe__es_resp r;
	struct iocb_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = iocb_pipe__es_parse_response(bad[i], strlen(bad[i]), 1, items, &r, &err);
		if (rc == IOCB_OK)
			fail_msg("case %zu accepted: %s", i, bad[i]);
		assert_true(rc == IOCB_EPARSE || rc == IOCB_EINVAL || rc == IOCB_ELIMIT);
		assert_true(err.msg[0] != '\0');
	}
	/* Deep nesting is capped, not a stack overflow. */
	{
		size_t n = 100000;
		char *deep = malloc(n * 2 + 64);
		size_t o = 0;
		o += (size_t)sprintf(deep, "{\"errors\":true,\"items\":[{\"index\":{\"status\":400,\"x\":");
		for (size_t i = 0; i < n; i++)
			deep[o++] = '[';
		for (size_t i = 0; i < n; i++)
			deep[o++] = ']';
		o += (size_t)sprintf(deep + o, "}}]}");
		assert_true(iocb_pipe__es_parse_response(deep, o, 1, items, &r, NULL) < 0);
		free(deep);
	}
}

static void test_error_reason(void **state)
{
	char out[IOCB_PIPE_ES_REASON_MAX];
	static const char e400[] =
		"{\"error\":{\"root_cause\":[{\"type\":\"illegal_argument_exception\",\"reason\":\"The bulk request must be "
		"terminated by a newline [\\\\n]\"}],\"type\":\"illegal_argument_exception\",\"reason\":\"The bulk request must "
		"be terminated by a newline [\\\\n]\"},\"status\":400}";
	static const char e406[] = "{\"error\":\"Content-Type header is missing\",\"status\":406}";

	(void)state;
	iocb_pipe__es_error_reason(e400, strlen(e400), 400, out, sizeof(out));
	assert_string_equal(out, "illegal_argument_exception: The bulk request must be terminated by a newline [\\n]");
	iocb_pipe__es_error_reason(e406, strlen(e406), 406, out, sizeof(out));
	assert_string_equal(out, "Content-Type header is missing");
	iocb_pipe__es_error_reason("", 0, 413, out, sizeof(out));
	assert_string_equal(out, "HTTP 413");
	iocb_pipe__es_error_reason("<html>", 6, 502, out, sizeof(out));
	assert_string_equal(out, "HTTP 502");
	iocb_pipe__es_error_reason("{\"error\":{\"type\":\"t\"", 20, 400, out, sizeof(out));
	assert_string_equal(out, "t");
	iocb_pipe__es_error_reason("", 0, 413, out, 4);
	assert_string_equal(out, "HTT");
}

static void test_verdict(void **state)
{
	(void)state;
	assert_int_equal(iocb_pipe__es_verdict(200), IOCB_PIPE_ES_ITEMS);
	assert_int_equal(iocb_pipe__es_verdict(201), IOCB_PIPE_ES_ITEMS);
	assert_int_equal(iocb_pipe__es_verdict(0), IOCB_PIPE_ES_RETRY);
	assert_int_equal(iocb_pipe__es_verdict(429), IOCB_PIPE_ES_RETRY);
	assert_int_equal(iocb_pipe__es_verdict(500), IOCB_PIPE_ES_RETRY);
	assert_int_equal(iocb_pipe__es_verdict(502), IOCB_PIPE_ES_RETRY);
	assert_int_equal(iocb_pipe__es_verdict(503), IOCB_PIPE_ES_RETRY);
	assert_int_equal(iocb_pipe__es_verdict(401), IOCB_PIPE_ES_RETRY_ALERT);
	assert_int_equal(iocb_pipe__es_verdict(403), IOCB_PIPE_ES_RETRY_ALERT);
	assert_int_equal(iocb_pipe__es_verdict(406), IOCB_PIPE_ES_RETRY_ALERT);
	assert_int_equal(iocb_pipe__es_verdict(413), IOCB_PIPE_ES_SPLIT);
	assert_int_equal(iocb_pipe__es_verdict(400), IOCB_PIPE_ES_DEAD);
	assert_int_equal(iocb_pipe__es_item_outcome(200, false), IOCB_PIPE_ES_ITEM_OK);
	assert_int_equal(iocb_pipe__es_item_outcome(201, true), IOCB_PIPE_ES_ITEM_OK);
	assert_int_equal(iocb_pipe__es_item_outcome(400, false), IOCB_PIPE_ES_ITEM_DEAD);
	assert_int_equal(iocb_pipe__es_item_outcome(404, false), IOCB_PIPE_ES_ITEM_DEAD);
	assert_int_equal(iocb_pipe__es_item_outcome(413, false), IOCB_PIPE_ES_ITEM_DEAD);
	assert_int_equal(iocb_pipe__es_item_outcome(429, false), IOCB_PIPE_ES_ITEM_RETRY);
	assert_int_equal(iocb_pipe__es_item_outcome(500, false), IOCB_PIPE_ES_ITEM_RETRY);
	assert_int_equal(iocb_pipe__es_item_outcome(503, true), IOCB_PIPE_ES_ITEM_RETRY);
	assert_int_equal(iocb_pipe__es_status_slot(0), 0);
	assert_int_equal(iocb_pipe__es_status_slot(503), 503);
	assert_int_equal(iocb_pipe__es_status_slot(700), 0);
	assert_int_equal(iocb_pipe__es_status_slot(-1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_action_line),      cmocka_unit_test(test_body),
		cmocka_unit_test(test_url),              cmocka_unit_test(test_base64),
		cmocka_unit_test(test_auth_header),      cmocka_unit_test(test_host_for_log),
		cmocka_unit_test(test_parse_ok_trimmed), cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_mixed_errors), cmocka_unit_test(test_parse_garbage),
		cmocka_unit_test(test_error_reason),     cmocka_unit_test(test_verdict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
