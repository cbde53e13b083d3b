/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of module `kafka` (src/kafka/): building a librdkafka
 * configuration (defaults, the user's properties, forced keys and their
 * aliases, the broker rule, error texts that never echo a secret) and
 * noting offsets. No broker is contacted; the rebalance and commit helpers
 * run against the mock cluster in the e2e tests (test_run_kafka.py,
 * test_run_pipe_kafka.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "kafka/kafka.h"

static const char *get(rd_kafka_conf_t *c, const char *key, char *buf, size_t cap)
{
	size_t n = cap;

	assert_int_equal(rd_kafka_conf_get(c, key, buf, &n), RD_KAFKA_CONF_OK);
	return buf;
}

struct seen {
	int calls;          /* on_forced calls */
	char last_key[64];  /* the last forced key the user set */
	char last_val[64];  /* and its value */
};

static void on_forced(void *ud, const struct iocb_kafka_forced *f, const char *user_value)
{
	struct seen *s = ud;

	s->calls++;
	snprintf(s->last_key, sizeof(s->last_key), "%s", f->key);
	snprintf(s->last_val, sizeof(s->last_val), "%s", user_value);
}

static const char *const defaults[] = {"client.id", "iocbus", "linger.ms", "5", NULL};
static const struct iocb_kafka_forced forced[] = {
	{"acks", "all", false},
	{"request.required.acks", "all", true},
	{"enable.idempotence", "true", false},
};

/* Rule: defaults, then the user's properties (overriding defaults), then the forced values; forced keys the user set are reported and ignored. */
static void test_conf_build_order(void **state)
{
	struct iocb_kv props[] = {
		{"bootstrap.servers", "127.0.0.1:9"}, {"linger.ms", "50"}, {"acks", "1"}, {"request.required.acks", "0"},
	};
	struct seen s = {0};
	struct iocb_kafka_conf_spec spec = {.where = "pipeline.yml:3:5", .label = "kafka input \"k\"", .defaults = defaults,
					    .props = props, .nprops = 4, .forced = forced, .nforced = 3,
					    .on_forced = on_forced, .opaque = &s};
	struct iocb_err err = {0};
	rd_kafka_conf_t *c = NULL;
	char buf[256];

	(void)state;
	assert_int_equal(iocb_kafka_conf_build(&spec, &c, &err), IOCB_OK);
	assert_non_null(c);
	assert_string_equal(get(c, "client.id", buf, sizeof(buf)), "iocbus");
	assert_string_equal(get(c, "linger.ms", buf, sizeof(buf)), "50");
	assert_string_equal(get(c, "enable.idempotence", buf, sizeof(buf)), "true");
	/* librdkafka spells acks=all as -1. */
	assert_string_equal(get(c, "acks", buf, sizeof(buf)), "-1");
	assert_int_equal(s.calls, 2);
	assert_string_equal(s.last_key, "request.required.acks");
	assert_string_equal(s.last_val, "0");
	rd_kafka_conf_destroy(c);
}

/* Rule: a broker list is required; the error says where, in the user's spelling of the key. */
static void test_conf_build_needs_brokers(void **state)
{
	struct iocb_kv props[] = {{"client.id", "x"}};
	struct iocb_kafka_conf_spec spec = {.where = "f.yml:1:1", .label = "kafka output \"o\"", .props = props, .nprops = 1};
	struct iocb_err err = {0};
	rd_kafka_conf_t *c = (rd_kafka_conf_t *)&err;

	(void)state;
	assert_int_equal(iocb_kafka_conf_build(&spec, &c, &err), IOCB_ECONFIG);
	assert_null(c);
	assert_string_equal(err.msg, "f.yml:1:1: kafka output \"o\": kafka.bootstrap.servers is required");
	spec.where = "misp.kafka.config";
	spec.label = NULL;
	assert_int_equal(iocb_kafka_conf_build(&spec, &c, &err), IOCB_ECONFIG);
	assert_string_equal(err.msg, "misp.kafka.config: bootstrap.servers is required");
	/* Any of the three broker keys will do. */
	props[0] = (struct iocb_kv){"test.mock.num.brokers", "1"};
	assert_int_equal(iocb_kafka_conf_build(&spec, &c, &err), IOCB_OK);
	rd_kafka_conf_destroy(c);
}

/* Rule: errors carry the caller's prefix and librdkafka's text (the secret-name rule is core's, tested there). */
static void test_conf_set_errors(void **state)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	struct iocb_err err = {0};

	(void)state;
	assert_int_equal(iocb_kafka_conf_set(c, "misp.kafka.config", "no.such.key", "1", &err), IOCB_ECONFIG);
	assert_true(strncmp(err.msg, "misp.kafka.config: ", 19) == 0);
	assert_non_null(strstr(err.msg, "no.such.key"));
	assert_int_equal(iocb_kafka_conf_set(c, "p: l: kafka", "enable.idempotence", "maybe", &err), IOCB_ECONFIG);
	assert_true(strncmp(err.msg, "p: l: kafka: ", 13) == 0);
	rd_kafka_conf_destroy(c);
	assert_true(iocb_kafka_conf_true("TRUE") && iocb_kafka_conf_true("1") && iocb_kafka_conf_true("On"));
	assert_false(iocb_kafka_conf_true("false") || iocb_kafka_conf_true("") || iocb_kafka_conf_true("2"));
}

/* Rule: the noted offset is the next one to read, never moves back, one entry per partition. */
static void test_offsets_note(void **state)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_topic_partition_t *tp;

	(void)state;
	iocb_kafka_offsets_note(&l, "t", 0, 10);
	iocb_kafka_offsets_note(&l, "t", 0, 4);
	iocb_kafka_offsets_note(&l, "t", 1, 0);
	iocb_kafka_offsets_note(&l, "u", 0, 7);
	iocb_kafka_offsets_note(&l, "t", 0, 11);
	assert_non_null(l);
	assert_int_equal(l->cnt, 3);
	tp = rd_kafka_topic_partition_list_find(l, "t", 0);
	assert_int_equal(tp->offset, 12);
	assert_int_equal(rd_kafka_topic_partition_list_find(l, "t", 1)->offset, 1);
	assert_int_equal(rd_kafka_topic_partition_list_find(l, "u", 0)->offset, 8);
	rd_kafka_topic_partition_list_destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conf_build_order),
		cmocka_unit_test(test_conf_build_needs_brokers),
		cmocka_unit_test(test_conf_set_errors),
		cmocka_unit_test(test_offsets_note),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
