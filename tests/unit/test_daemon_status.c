/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The status page's data (src/daemon/status.c, src/pipe/recent.c): TLP
 * ranks and masking of the last matches, escaping of hostile values in the
 * JSON, the matches ring (bounded, newest first), and the history rings
 * (one point per step, increases, resets, series cap, one hour kept).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/buf.h"
#include "daemon/internal.h"
#include "json/json.h"
#include "pipe/pipe.h"

static void test_tlp_rank(void **state)
{
	(void)state;
	assert_int_equal(iocb_daemon__tlp_rank(""), 0);
	assert_int_equal(iocb_daemon__tlp_rank(NULL), 0);
	assert_int_equal(iocb_daemon__tlp_rank("clear"), 0);
	assert_int_equal(iocb_daemon__tlp_rank("WHITE"), 0);
	assert_int_equal(iocb_daemon__tlp_rank("green"), 1);
	assert_int_equal(iocb_daemon__tlp_rank("amber"), 2);
	assert_int_equal(iocb_daemon__tlp_rank("amber+strict"), 3);
	assert_int_equal(iocb_daemon__tlp_rank("red"), 4);
	assert_int_equal(iocb_daemon__tlp_rank("ex:chr"), 4); /* unknown: most restrictive */
	assert_int_equal(iocb_daemon__tlp_config_rank(IOCB_CONFIG_TLP_GREEN), 1);
	assert_int_equal(iocb_daemon__tlp_config_rank(IOCB_CONFIG_TLP_WHITE), 0);
	assert_int_equal(iocb_daemon__tlp_config_rank(IOCB_CONFIG_TLP_RED), 4);
}

static void match(struct iocb_pipe_match *m, const char *value, const char *info, const char *tlp)
{
	memset(m, 0, sizeof(*m));
	m->time_us = 1700000000123456;
	snprintf(m->input, sizeof(m->input), "logs");
	snprintf(m->field, sizeof(m->field), "source.ip");
	snprintf(m->value, sizeof(m->value), "%s", value);
	snprintf(m->event_info, sizeof(m->event_info), "%s", info);
	snprintf(m->tlp, sizeof(m->tlp), "%s", tlp);
	m->event_id = 7;
}

/* The matches array alone, as a JSON object {"matches":[...]}, NUL-terminated in b. */
static void render(struct iocb_buf *b, const struct iocb_pipe_match *m, size_t n, int max_rank)
{
	struct iocb_jw w;
	struct iocb_err err = {0};

	iocb_buf_init(b, 1 << 20);
	iocb_jw_init(&w, b);
	iocb_jw_obj(&w);
	iocb_daemon__status_matches_json(&w, m, n, max_rank);
	iocb_jw_obj_end(&w);
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	assert_int_equal(iocb_buf_putc(b, '\0'), IOCB_OK);
	assert_int_equal(iocb_json_validate(b->ptr, b->len - 1, 16, &err), IOCB_OK);
}

static void test_masking(void **state)
{
	struct iocb_pipe_match m[5];
	struct iocb_buf b;

	(void)state;
	match(&m[0], "198.51.100.1", "green op", "green");
	match(&m[1], "198.51.100.2", "amber op", "amber");
	match(&m[2], "198.51.100.3", "no tlp op", "");
	match(&m[3], "198.51.100.4", "red op", "red");
	match(&m[4], "198.51.100.5", "custom op", "ex:chr");
	render(&b, m, 5, iocb_daemon__tlp_config_rank(IOCB_CONFIG_TLP_GREEN));
	assert_non_null(strstr(b.ptr, "\"value\":\"198.51.100.1\",\"event_id\":7,\"event_info\":\"green op\","
				      "\"tlp\":\"green\",\"masked\":false"));
	assert_non_null(strstr(b.ptr, "\"value\":null,\"event_id\":7,\"event_info\":null,\"tlp\":\"amber\",\"masked\":true"));
	assert_non_null(strstr(b.ptr, "\"value\":\"198.51.100.3\""));
	/* what is masked is not in the answer at all */
	assert_null(strstr(b.ptr, "198.51.100.2"));
	assert_null(strstr(b.ptr, "amber op"));
	assert_null(strstr(b.ptr, "198.51.100.4"));
	assert_null(strstr(b.ptr, "red op"));
	assert_null(strstr(b.ptr, "198.51.100.5"));
	assert_non_null(strstr(b.ptr, "\"time\":1700000000.123,\"input\":\"logs\",\"field\":\"source.ip\""));
	iocb_buf_fini(&b);
	/* max_tlp red: everything shown; clear: green is masked too */
	render(&b, m, 5, iocb_daemon__tlp_config_rank(IOCB_CONFIG_TLP_RED));
	assert_null(strstr(b.ptr, "\"masked\":true"));
	iocb_buf_fini(&b);
	render(&b, m, 5, iocb_daemon__tlp_config_rank(IOCB_CONFIG_TLP_CLEAR));
	assert_null(strstr(b.ptr, "198.51.100.1"));
	assert_non_null(strstr(b.ptr, "198.51.100.3"));
	iocb_buf_fini(&b);
}

static void test_escaping(void **state)
{
	struct iocb_pipe_match m;
	struct iocb_buf b;

	(void)state;
	match(&m, "\"</script><img src=x onerror=alert(1)>\\\n\x01", "line\r\nbreak \xff bad utf-8", "");
	render(&b, &m, 1, 1);
	/* quotes, backslashes and controls escaped; invalid UTF-8 replaced; the JSON is valid (checked in render) */
	assert_non_null(strstr(b.ptr, "\"value\":\"\\\"</script><img src=x onerror=alert(1)>\\\\\\n\\u0001\""));
	assert_non_null(strstr(b.ptr, "line\\r\\nbreak \xef\xbf\xbd bad"));
	for (size_t i = 0; i < b.len - 1; i++)
		assert_true((unsigned char)b.ptr[i] >= 0x20);
	iocb_buf_fini(&b);
}

static void test_script_safe(void **state)
{
	struct iocb_buf b;
	struct iocb_err err = {0};
	static const char in[] = "{\"v\":\"</script><b>&amp;\xe2\x80\xa8x\xe2\x80\xa9\xe2\x80\xa7\"}";

	(void)state;
	iocb_buf_init(&b, 1024);
	assert_int_equal(iocb_buf_append(&b, "keep<", 5), IOCB_OK); /* before `from`: untouched */
	assert_int_equal(iocb_buf_append(&b, in, sizeof(in) - 1), IOCB_OK);
	assert_int_equal(iocb_daemon__json_script_safe(&b, 5), IOCB_OK);
	assert_string_equal(b.ptr, "keep<{\"v\":\"\\u003c/script\\u003e\\u003cb\\u003e\\u0026amp;\\u2028x\\u2029"
				   "\xe2\x80\xa7\"}");
	assert_int_equal(b.len, strlen(b.ptr));
	assert_int_equal(iocb_json_validate(b.ptr + 5, b.len - 5, 4, &err), IOCB_OK);
	iocb_buf_fini(&b);
	/* nothing to change; and past the cap */
	iocb_buf_init(&b, 16);
	assert_int_equal(iocb_buf_append(&b, "{\"a\":1}", 7), IOCB_OK);
	assert_int_equal(iocb_daemon__json_script_safe(&b, 0), IOCB_OK);
	assert_string_equal(b.ptr, "{\"a\":1}");
	iocb_buf_reset(&b);
	assert_int_equal(iocb_buf_append(&b, "\"<<<<\"", 6), IOCB_OK);
	assert_int_equal(iocb_daemon__json_script_safe(&b, 0), IOCB_ELIMIT);
	iocb_buf_fini(&b);
}

static void test_recent_ring(void **state)
{
	struct iocb_pipe_recent *r = iocb_pipe_recent_new(3);
	struct iocb_pipe_match out[10];

	(void)state;
	assert_int_equal(iocb_pipe_recent_get(r, out, 10), 0);
	assert_int_equal(iocb_pipe_recent_cap(r), 3);
	iocb_pipe_recent_free(r);
	r = iocb_pipe_recent_new(0);
	assert_int_equal(iocb_pipe_recent_cap(r), 50);
	iocb_pipe_recent_free(r);
	r = iocb_pipe_recent_new(100000);
	assert_int_equal(iocb_pipe_recent_cap(r), 1000);
	iocb_pipe_recent_free(r);
	assert_int_equal(iocb_pipe_recent_get(NULL, out, 10), 0);
}

static void sample(struct iocb_daemon__sample *s, const char *name, bool input, uint64_t a, uint64_t b)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->input = input;
	s->v[0] = a;
	s->v[1] = b;
}

static char *history(struct iocb_daemon__status *st)
{
	struct iocb_buf b;
	struct iocb_jw w;

	iocb_buf_init(&b, 1 << 22);
	iocb_jw_init(&w, &b);
	iocb_jw_obj(&w);
	iocb_daemon__status_history_json(st, &w);
	iocb_jw_obj_end(&w);
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	assert_int_equal(iocb_buf_putc(&b, '\0'), IOCB_OK);
	return b.ptr;
}

static void test_history(void **state)
{
	struct iocb_daemon__status *st = iocb_daemon__status_new(IOCB_CONFIG_TLP_GREEN, 5);
	struct iocb_daemon__sample s[2];
	int64_t t = 1700000000000000, step = (int64_t)IOCB_DAEMON__STATUS_STEP_S * 1000000;
	char *j;

	(void)state;
	sample(&s[0], "logs", true, 100, 10);
	assert_true(iocb_daemon__status_sample(st, t, s, 1));
	/* not due yet; a new source is made known (charted with zeros) */
	sample(&s[1], "zmq", false, 5, 0);
	assert_false(iocb_daemon__status_sample(st, t + step / 2, s, 2));
	j = history(st);
	assert_non_null(strstr(j, "\"step_s\":10,\"max_points\":360,\"end\":1700000000.000,"));
	assert_non_null(strstr(j, "\"inputs\":[{\"name\":\"logs\",\"events\":[100],\"matched\":[10]}]"));
	assert_non_null(strstr(j, "\"sources\":[{\"name\":\"zmq\",\"updates\":[0]}]"));
	free(j);
	sample(&s[0], "logs", true, 150, 11);
	sample(&s[1], "zmq", false, 12, 0);
	assert_true(iocb_daemon__status_sample(st, t + step, s, 2));
	/* a counter that went down (a new generation) counts from 0 */
	sample(&s[1], "zmq", false, 3, 0);
	assert_true(iocb_daemon__status_sample(st, t + 2 * step, s, 2));
	j = history(st);
	assert_non_null(strstr(j, "\"events\":[100,50,0],\"matched\":[10,1,0]"));
	assert_non_null(strstr(j, "\"updates\":[0,12,3]"));
	free(j);
	/* an hour and more: the ring keeps the last 360 points */
	for (int i = 3; i < 400; i++) {
		sample(&s[0], "logs", true, 150 + (uint64_t)i, 11);
		assert_true(iocb_daemon__status_sample(st, t + i * step, s, 1));
	}
	j = history(st);
	{
		const char *e = strstr(j, "\"events\":[");
		size_t commas = 0;
		assert_non_null(e);
		for (const char *p = e; *p != ']'; p++)
			commas += *p == ',';
		assert_int_equal(commas + 1, IOCB_DAEMON__STATUS_POINTS);
	}
	free(j);
	{
		struct iocb_buf b;
		struct iocb_pipe_recent *r = iocb_pipe_recent_new(5);

		iocb_buf_init(&b, 1 << 16);
		assert_int_equal(iocb_daemon__status_metrics(st, r, &b), IOCB_OK);
		assert_int_equal(iocb_buf_putc(&b, '\0'), IOCB_OK);
		assert_non_null(strstr(b.ptr, "\niocbus_status_history_points_total 400\n"));
		assert_non_null(strstr(b.ptr, "\niocbus_status_matches_total 0\n"));
		iocb_buf_fini(&b);
		iocb_pipe_recent_free(r);
	}
	iocb_daemon__status_free(st);
}

static void test_series_cap(void **state)
{
	struct iocb_daemon__status *st = iocb_daemon__status_new(IOCB_CONFIG_TLP_GREEN, 5);
	struct iocb_daemon__sample *s = calloc(IOCB_DAEMON__STATUS_SERIES + 5, sizeof(*s));
	char *j, name[32];

	(void)state;
	for (size_t i = 0; i < IOCB_DAEMON__STATUS_SERIES + 5; i++) {
		snprintf(name, sizeof(name), "feed:%zu", i);
		sample(&s[i], name, false, i, 0);
	}
	assert_true(iocb_daemon__status_sample(st, 1, s, IOCB_DAEMON__STATUS_SERIES + 5));
	j = history(st);
	snprintf(name, sizeof(name), "\"feed:%d\"", IOCB_DAEMON__STATUS_SERIES - 1);
	assert_non_null(strstr(j, name));
	snprintf(name, sizeof(name), "\"feed:%d\"", IOCB_DAEMON__STATUS_SERIES);
	assert_null(strstr(j, name));
	free(j);
	free(s);
	iocb_daemon__status_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tlp_rank),     cmocka_unit_test(test_masking),    cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_script_safe),
		cmocka_unit_test(test_recent_ring), cmocka_unit_test(test_history),    cmocka_unit_test(test_series_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
