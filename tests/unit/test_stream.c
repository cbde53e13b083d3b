/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The indicator stream (src/serve/stream through stream.h) against
 * librdkafka's mock cluster, in process: a memory store, the stream, store
 * changes, and the topic read back from the beginning by a plain consumer.
 *
 * - the changes: add, edit, to_ids off, delete, event delete and the
 *   records that never were live, message by message (keys, values,
 *   tombstones);
 * - the baseline: a store filled before the start is published whole, and
 *   a new consumer that folds the topic (last value per key, a tombstone
 *   removes) holds exactly the store's live set, also with changes racing
 *   the baseline walk;
 * - no silent loss: with a 10-message librdkafka queue the listener's
 *   produce is refused often, and with the broker down deliveries fail;
 *   the folded topic still equals the live set afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "core/time.h"
#include "fixture_store.h"
#include "json/json.h"
#include "serve/render/render.h"
#include "serve/stream/stream.h"

#define TOPIC "iocb-indicators"
#define PARTS 3
#define WAIT_S 30.0

struct mock {
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	char boot[256];
};

static void mock_start(struct mock *m)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	assert_int_equal(rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)), RD_KAFKA_CONF_OK);
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	assert_non_null(m->rk);
	m->mc = rd_kafka_mock_cluster_new(m->rk, 1);
	assert_non_null(m->mc);
	assert_int_equal(rd_kafka_mock_topic_create(m->mc, TOPIC, PARTS, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
	snprintf(m->boot, sizeof(m->boot), "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
}

static void mock_stop(struct mock *m)
{
	rd_kafka_mock_cluster_destroy(m->mc);
	rd_kafka_destroy(m->rk);
}

/* Start a stream on s; extra: more key/value properties (NULL-terminated). */
static struct iocb_stream *stream_start(struct mock *m, struct iocb_store *s, const char *const *extra)
{
	struct iocb_kv kv[8];
	size_t n = 0;
	struct iocb_stream_opts o;
	struct iocb_stream *st = NULL;
	struct iocb_err err = {0};

	kv[n++] = (struct iocb_kv){"bootstrap.servers", m->boot};
	kv[n++] = (struct iocb_kv){"log_level", "3"};
	for (size_t i = 0; extra && extra[i]; i += 2)
		kv[n++] = (struct iocb_kv){(char *)extra[i], (char *)extra[i + 1]};
	o = (struct iocb_stream_opts){.topic = TOPIC, .config = kv, .nconfig = n, .store = s};
	if (iocb_stream_start(&o, &st, &err) != IOCB_OK)
		fail_msg("stream start: %s", err.msg);
	return st;
}

/* Wait until the first baseline is done and nothing is pending or in flight. */
static void wait_idle(struct iocb_stream *st)
{
	double end = iocb_time_mono_s() + WAIT_S;
	struct iocb_stream_stats ss;

	for (;;) {
		iocb_stream_stats(st, &ss);
		if (ss.baseline_done && !ss.resync_pending && ss.pending == 0 && ss.in_flight == 0)
			return;
		if (iocb_time_mono_s() > end)
			fail_msg("stream not idle: done=%d resync=%d pending=%llu in_flight=%llu", ss.baseline_done,
				 ss.resync_pending, (unsigned long long)ss.pending, (unsigned long long)ss.in_flight);
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
}

/* ------------------------------------------------------------ reading the topic back */

struct msg {
	char key[40];
	char *val; /* NULL: tombstone */
	int32_t part;
};

struct msgs {
	struct msg *m;
	size_t n, cap;
};

static void msgs_free(struct msgs *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->m[i].val);
	free(v->m);
	memset(v, 0, sizeof(*v));
}

/* Every message of the topic, partition by partition, each in offset order. */
static void read_topic(struct mock *m, struct msgs *out)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(PARTS);
	int64_t high[PARTS], pos[PARTS];
	double end = iocb_time_mono_s() + WAIT_S;
	rd_kafka_t *rk;

	memset(out, 0, sizeof(*out));
	assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", m->boot, errstr, sizeof(errstr)), 0);
	assert_int_equal(rd_kafka_conf_set(conf, "group.id", "test-stream-reader", errstr, sizeof(errstr)), 0);
	assert_int_equal(rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)), 0);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	assert_non_null(rk);
	for (int32_t p = 0; p < PARTS; p++) {
		int64_t low;
		assert_int_equal(rd_kafka_query_watermark_offsets(rk, TOPIC, p, &low, &high[p], 5000), 0);
		pos[p] = 0;
		rd_kafka_topic_partition_list_add(parts, TOPIC, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	}
	assert_int_equal(rd_kafka_assign(rk, parts), 0);
	for (;;) {
		bool all = true;
		for (int32_t p = 0; p < PARTS; p++)
			all = all && pos[p] >= high[p];
		if (all)
			break;
		assert_true(iocb_time_mono_s() < end);
		rd_kafka_message_t *km = rd_kafka_consumer_poll(rk, 100);
		if (!km)
			continue;
		if (!km->err) {
			struct msg *x;
			if (out->n == out->cap) {
				out->cap = out->cap ? out->cap * 2 : 256;
				out->m = realloc(out->m, out->cap * sizeof(*out->m));
				assert_non_null(out->m);
			}
			x = &out->m[out->n++];
			memset(x, 0, sizeof(*x));
			assert_true(km->key_len < sizeof(x->key));
			memcpy(x->key, km->key, km->key_len);
			x->part = km->partition;
			if (km->payload) {
				x->val = strndup(km->payload, km->len);
				assert_non_null(x->val);
			}
			pos[km->partition] = km->offset + 1;
		}
		rd_kafka_message_destroy(km);
	}
	rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}

/* The messages of one key, in order (a key stays in one partition). */
static size_t of_key(const struct msgs *v, const char *key, const struct msg **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->m[i].key, key) == 0) {
			if (n < max)
				out[n] = &v->m[i];
			n++;
		}
	for (size_t i = 1; i < n && i < max; i++)
		assert_int_equal(out[i]->part, out[0]->part);
	return n;
}

/* ------------------------------------------------------------ the live set */

struct kvset {
	char (*key)[40];
	char **val;
	size_t n, cap;
};

static void kvset_put(struct kvset *k, const char *key, const char *val)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->key[i], key) == 0) {
			free(k->val[i]);
			k->val[i] = val ? strdup(val) : NULL;
			return;
		}
	if (!val)
		return;
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 256;
		k->key = realloc(k->key, k->cap * sizeof(*k->key));
		k->val = realloc(k->val, k->cap * sizeof(*k->val));
		assert_true(k->key && k->val);
	}
	snprintf(k->key[k->n], sizeof(k->key[0]), "%s", key);
	k->val[k->n++] = strdup(val);
}

static size_t kvset_live(const struct kvset *k)
{
	size_t n = 0;
	for (size_t i = 0; i < k->n; i++)
		n += k->val[i] != NULL;
	return n;
}

static const char *kvset_get(const struct kvset *k, const char *key)
{
	for (size_t i = 0; i < k->n; i++)
		if (strcmp(k->key[i], key) == 0)
			return k->val[i];
	return NULL;
}

static void kvset_free(struct kvset *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->val[i]);
	free(k->key);
	free(k->val);
	memset(k, 0, sizeof(*k));
}

/* What a new consumer builds: the last value per key, a tombstone removing it. */
static void fold(const struct msgs *v, struct kvset *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < v->n; i++)
		kvset_put(out, v->m[i].key, v->m[i].val);
}

/* The store's live records (to_ids and a STIX pattern), rendered. */
static int live_one(void *ud, const struct iocb_store_attr *a)
{
	struct kvset *k = ud;
	struct iocb_store_attr_view v;
	struct iocb_buf b, scratch;
	struct iocb_jw w;
	const struct iocb_render_stix_opts o = {0};

	iocb_store_attr_view(a, &v);
	if (!v.to_ids)
		return 0;
	iocb_buf_init(&b, 1 << 20);
	iocb_buf_init(&scratch, 1 << 20);
	iocb_jw_init(&w, &b);
	if (iocb_render_stix_indicator(&w, a, &o, &scratch) == IOCB_OK) {
		assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
		kvset_put(k, v.uuid, b.ptr);
	}
	iocb_buf_fini(&b);
	iocb_buf_fini(&scratch);
	return 0;
}

/* The folded topic holds exactly the store's live set, value for value; expect_live records (ANY: any number). */
#define ANY ((size_t)-1)
static void assert_topic_is_live_set(struct mock *m, struct iocb_store *s, size_t expect_live)
{
	struct kvset want = {0}, got;
	struct msgs v;

	assert_int_equal(iocb_store_each(s, live_one, &want), IOCB_OK);
	read_topic(m, &v);
	fold(&v, &got);
	if (expect_live != ANY)
		assert_int_equal(kvset_live(&want), expect_live);
	assert_int_equal(kvset_live(&got), kvset_live(&want));
	for (size_t i = 0; i < want.n; i++) {
		const char *g = kvset_get(&got, want.key[i]);
		if (!g)
			fail_msg("key %s missing from the topic", want.key[i]);
		assert_string_equal(g, want.val[i]);
	}
	kvset_free(&want);
	kvset_free(&got);
	msgs_free(&v);
}

/* ------------------------------------------------------------ the tests */

static void commit(struct iocb_store *s)
{
	struct iocb_err err;

	if (iocb_store_commit(s, &err) != IOCB_OK)
		fail_msg("commit: %s", err.msg);
}

/* Each kind of change, message by message. */
static void test_changes(void **state)
{
	struct mock m;
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_stream *st;
	struct iocb_stream_stats ss;
	struct msgs v;
	const struct msg *km[8] = {0};
	char u[6][37], pat[200];
	size_t removed = 0;
	struct iocb_err err;
	(void)state;

	mock_start(&m);
	st = stream_start(&m, s, NULL);
	wait_idle(st);
	for (unsigned i = 0; i < 6; i++)
		fixture_uuid(u[i], 0xa, i + 1);
	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "one.example", NULL, -1, 0, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "two.example", NULL, -1, 0, true)); /* edit */
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "ip-dst", "198.51.100.7", NULL, -1, 0, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "ip-dst", "198.51.100.7", NULL, -1, 0, false)); /* to_ids off */
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "text", "not a pattern", NULL, -1, 0, true)); /* unexpressible */
	fixture_store_upsert(s, fixture_attr_make(&t, 4, "domain", "quiet.example", NULL, -1, 0, false)); /* not to_ids */
	fixture_store_upsert(s, fixture_attr_make(&t, 5, "md5", "d41d8cd98f00b204e9800998ecf8427e", NULL, -1, 9, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 6, "url", "http://e.example/x", NULL, -1, 9, true));
	assert_int_equal(iocb_store_remove(s, iocb_str_c(u[0]), &err), IOCB_OK);
	assert_int_equal(iocb_store_event_remove(s, IOCB_STR_NULL, 9, &removed, &err), IOCB_OK);
	assert_int_equal(removed, 2);
	commit(s); /* the event's attributes reach the listeners here */
	wait_idle(st);
	iocb_stream_stats(st, &ss);
	assert_int_equal(ss.indicators, 5);
	assert_int_equal(ss.tombstones, 4);
	assert_int_equal(ss.delivered, 9);
	assert_int_equal(ss.failed, 0);
	assert_true(ss.unexpressible >= 1);
	iocb_stream_stop(st);

	read_topic(&m, &v);
	assert_int_equal(v.n, 9);
	/* 1: add, edit (same key, the new value), delete */
	assert_int_equal(of_key(&v, u[0], km, 8), 3);
	assert_non_null(km[0]->val);
	assert_non_null(strstr(km[0]->val, "[domain-name:value = 'one.example']"));
	snprintf(pat, sizeof(pat), "\"id\":\"indicator--%s\"", u[0]);
	assert_non_null(strstr(km[0]->val, pat));
	assert_non_null(strstr(km[1]->val, "[domain-name:value = 'two.example']"));
	assert_null(strstr(km[1]->val, "x_threatbus_update"));
	assert_null(km[2]->val);
	/* 2: add, to_ids off */
	assert_int_equal(of_key(&v, u[1], km, 8), 2);
	assert_non_null(strstr(km[0]->val, "[ipv4-addr:value = '198.51.100.7']"));
	assert_null(km[1]->val);
	/* 3 (STIX cannot express it) and 4 (never to_ids): nothing */
	assert_int_equal(of_key(&v, u[2], km, 8), 0);
	assert_int_equal(of_key(&v, u[3], km, 8), 0);
	/* 5, 6: add, then the event delete */
	assert_int_equal(of_key(&v, u[4], km, 8), 2);
	assert_non_null(strstr(km[0]->val, "file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e'"));
	assert_null(km[1]->val);
	assert_int_equal(of_key(&v, u[5], km, 8), 2);
	assert_null(km[1]->val);
	msgs_free(&v);
	iocb_store_free(s);
	mock_stop(&m);
}

/* n attributes of every kind: live, not to_ids, unexpressible; in events of 10. */
static void fill(struct iocb_store *s, uint64_t first, uint64_t n)
{
	struct fixture_attr t;
	char val[64];

	for (uint64_t i = first; i < first + n; i++) {
		snprintf(val, sizeof(val), "h%llu.example", (unsigned long long)i);
		if (i % 7 == 3)
			fixture_attr_make(&t, i, "text", val, NULL, -1, 1 + i / 10, true);
		else
			fixture_attr_make(&t, i, "domain", val, NULL, -1, 1 + i / 10, i % 5 != 0);
		fixture_store_upsert(s, &t.a);
	}
}

/* Live records among fill(first, n). */
static size_t fill_live(uint64_t first, uint64_t n)
{
	size_t k = 0;
	for (uint64_t i = first; i < first + n; i++)
		k += i % 7 != 3 && i % 5 != 0;
	return k;
}

/* A store filled before the start: the baseline alone builds its live set. */
static void test_baseline(void **state)
{
	struct mock m;
	struct iocb_store *s = fixture_store_open(false);
	struct iocb_stream *st;
	struct iocb_stream_stats ss;
	(void)state;

	mock_start(&m);
	fill(s, 0, 1500);
	commit(s);
	st = stream_start(&m, s, NULL);
	wait_idle(st);
	iocb_stream_stats(st, &ss);
	assert_int_equal(ss.baselines, 1);
	assert_int_equal(ss.baseline_records, 1500);
	assert_int_equal(ss.indicators, fill_live(0, 1500));
	assert_int_equal(ss.tombstones, 1500 - fill_live(0, 1500)); /* clears what an earlier run left */
	assert_topic_is_live_set(&m, s, fill_live(0, 1500));
	iocb_stream_stop(st);
	iocb_store_free(s);
	mock_stop(&m);
}

/*
 * A restart after changes made while no stream ran: deletes (which only
 * reading the topic back can find) and to_ids turned off. The second
 * stream's baseline leaves the topic holding the live set.
 */
static void test_restart_tombstones_stale_keys(void **state)
{
	struct mock m;
	struct iocb_store *s = fixture_store_open(false);
	struct iocb_stream *st;
	struct iocb_stream_stats ss;
	struct fixture_attr t;
	struct iocb_err err;
	char u[37];
	size_t live;
	(void)state;

	mock_start(&m);
	fill(s, 0, 200);
	commit(s);
	st = stream_start(&m, s, NULL);
	wait_idle(st);
	iocb_stream_stop(st);
	for (uint64_t i = 1; i < 200; i += 3) { /* live or not, deleted while no stream runs */
		fixture_uuid(u, 0xa, i);
		assert_int_equal(iocb_store_remove(s, iocb_str_c(u), &err), IOCB_OK);
	}
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "domain", "h2.example", NULL, -1, 1, false));
	commit(s);
	st = stream_start(&m, s, NULL);
	wait_idle(st);
	iocb_stream_stats(st, &ss);
	assert_int_equal(ss.baseline_records, 200 - 67);
	iocb_stream_stop(st);
	live = 0;
	for (uint64_t i = 0; i < 200; i++)
		live += i % 3 != 1 && i != 2 && fill_live(i, 1);
	assert_topic_is_live_set(&m, s, live);
	iocb_store_free(s);
	mock_stop(&m);
}

/* Changes made while the baseline walks; reading the topic alone gives the live set. */
static void changes(struct iocb_store *s, uint64_t n, unsigned round)
{
	struct fixture_attr t;
	struct iocb_err err;
	char u[37], val[64];
	int rc;

	for (uint64_t i = 0; i < n; i++) {
		snprintf(val, sizeof(val), "edited%llu-%u.example", (unsigned long long)i, round);
		switch (i % 4) {
		case 0: /* edit (a new value under the same key) */
			fixture_store_upsert(s, fixture_attr_make(&t, i, "domain", val, NULL, -1, 1 + i / 10, true));
			break;
		case 1: /* to_ids flips */
			fixture_store_upsert(s, fixture_attr_make(&t, i, "domain", val, NULL, -1, 1 + i / 10, i % 3 == 0));
			break;
		case 2: /* delete */
			fixture_uuid(u, 0xa, i);
			rc = iocb_store_remove(s, iocb_str_c(u), &err);
			assert_true(rc == IOCB_OK || rc == IOCB_ENOTFOUND); /* an earlier round removed it */
			break;
		default: /* an unexpressible value replaces a live one */
			fixture_store_upsert(s, fixture_attr_make(&t, i, "text", val, NULL, -1, 1 + i / 10, true));
			break;
		}
	}
}

/*
 * A store of n records, a stream started on it (with the extra
 * properties), `rounds` rounds of changes racing the baseline walk, an
 * event delete and new records; then the folded topic must be the live
 * set. *ss gets the stream's counters.
 */
static void replay_after_changes(const char *const *extra, uint64_t n, unsigned rounds, struct iocb_stream_stats *ss)
{
	struct mock m;
	struct iocb_store *s = fixture_store_open(false);
	struct iocb_stream *st;
	size_t removed;
	struct iocb_err err;

	mock_start(&m);
	fill(s, 0, n);
	commit(s);
	st = stream_start(&m, s, extra);
	for (unsigned r = 0; r < rounds; r++)
		changes(s, n * 2 / 3, r);
	assert_int_equal(iocb_store_event_remove(s, IOCB_STR_NULL, 7, &removed, &err), IOCB_OK);
	fill(s, n, n / 6);
	commit(s);
	wait_idle(st);
	iocb_stream_stats(st, ss);
	iocb_stream_stop(st);
	assert_topic_is_live_set(&m, s, ANY);
	iocb_store_free(s);
	mock_stop(&m);
}

static void test_replay_during_baseline(void **state)
{
	struct iocb_stream_stats ss;
	(void)state;

	replay_after_changes(NULL, 3000, 4, &ss);
	assert_int_equal(ss.baselines, 1);
}

/* A 10-message queue: the listener's produce is refused; resends still converge. */
static void test_queue_full_resends(void **state)
{
	static const char *const small[] = {"queue.buffering.max.messages", "10", NULL};
	struct iocb_stream_stats ss;
	(void)state;

	replay_after_changes(small, 300, 1, &ss);
	assert_true(ss.queue_full > 0);
	assert_true(ss.resent > 0);
}

/* The broker goes away: deliveries time out, the keys are sent again once it is back. */
static void test_failed_delivery_resends(void **state)
{
	static const char *const fast[] = {"message.timeout.ms", "300", NULL};
	struct mock m;
	struct iocb_store *s = fixture_store_open(false);
	struct iocb_stream *st;
	struct iocb_stream_stats ss;
	double end;
	(void)state;

	mock_start(&m);
	st = stream_start(&m, s, fast);
	wait_idle(st);
	assert_int_equal(rd_kafka_mock_broker_set_down(m.mc, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
	fill(s, 0, 100);
	commit(s);
	end = iocb_time_mono_s() + WAIT_S;
	do {
		assert_true(iocb_time_mono_s() < end);
		nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
		iocb_stream_stats(st, &ss);
	} while (ss.failed == 0);
	assert_int_equal(rd_kafka_mock_broker_set_up(m.mc, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
	wait_idle(st);
	iocb_stream_stats(st, &ss);
	assert_true(ss.resent > 0);
	iocb_stream_stop(st);
	assert_topic_is_live_set(&m, s, fill_live(0, 100));
	iocb_store_free(s);
	mock_stop(&m);
}

static void test_metrics(void **state)
{
	struct iocb_stream_stats ss = {.indicators = 7, .tombstones = 2, .pending = 3, .baseline_done = true,
				       .baseline_seconds = 1.5};
	struct iocb_buf b;
	(void)state;

	iocb_buf_init(&b, 1 << 16);
	assert_int_equal(iocb_stream_metrics_render(&ss, &b), IOCB_OK);
	assert_non_null(strstr(b.ptr, "iocbus_stream_messages_total{kind=\"indicator\"} 7\n"));
	assert_non_null(strstr(b.ptr, "iocbus_stream_messages_total{kind=\"tombstone\"} 2\n"));
	assert_non_null(strstr(b.ptr, "iocbus_stream_pending_keys 3\n"));
	assert_non_null(strstr(b.ptr, "iocbus_stream_baseline_done 1\n"));
	assert_non_null(strstr(b.ptr, "iocbus_stream_baseline_seconds 1.500\n"));
	iocb_buf_fini(&b);
	iocb_buf_init(&b, 100);
	assert_int_equal(iocb_stream_metrics_render(&ss, &b), IOCB_ELIMIT);
	assert_int_equal(b.len, 0);
	iocb_buf_fini(&b);
}

static void test_start_errors(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct iocb_kv props[] = {{"bootstrap.servers", "127.0.0.1:1"}, {"no.such.property", "x"}};
	struct iocb_stream_opts o = {.topic = TOPIC, .config = props, .nconfig = 1, .store = s};
	struct iocb_stream *st = NULL;
	struct iocb_err err = {0};
	(void)state;

	o.topic = "";
	assert_int_equal(iocb_stream_start(&o, &st, &err), IOCB_ECONFIG);
	assert_null(st);
	o.topic = TOPIC;
	o.nconfig = 0;
	assert_int_equal(iocb_stream_start(&o, &st, &err), IOCB_ECONFIG); /* no broker list */
	assert_non_null(strstr(err.msg, "bootstrap.servers"));
	o.nconfig = 2;
	assert_int_equal(iocb_stream_start(&o, &st, &err), IOCB_ECONFIG);
	assert_non_null(strstr(err.msg, "bus.kafka.config"));
	assert_null(st);
	iocb_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_changes),
		cmocka_unit_test(test_baseline),
		cmocka_unit_test(test_restart_tombstones_stale_keys),
		cmocka_unit_test(test_replay_during_baseline),
		cmocka_unit_test(test_queue_full_resends),
		cmocka_unit_test(test_failed_delivery_resends),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_start_errors),
	};

	iocb_store_reader_register();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
