/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The indicator stream (src/serve/stream) into librdkafka's mock cluster,
 * in process:
 *   1. the baseline of a store of N attributes (default 1 M): records/s and
 *      delivered messages/s, with a writer upserting and committing one
 *      edit every 5 ms meanwhile (the longest upsert+commit is how long the
 *      baseline held intake);
 *   2. live changes: M edits through the store listener, until delivered.
 *
 *   bench_stream [N [M]]
 *
 * Not run by ctest. Figures in docs/BUS.md ("Indicator updates to Kafka").
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "core/log.h"
#include "core/time.h"
#include "serve/stream/stream.h"
#include "store/store.h"

static const char *const types[] = {"domain", "ip-dst", "md5", "url"};

/* Attribute i (edit number gen) into s. */
static void put(struct iocb_store *s, uint64_t i, unsigned gen)
{
	static const struct iocb_misp_tag etags[2] = {{IOCB_STR_LIT("tlp:amber"), false, false},
						      {IOCB_STR_LIT("misp-galaxy:threat-actor=\"APT-X\""), false, false}};
	char uuid[37], evuuid[37], val[96];
	struct iocb_misp_event ev = {0};
	struct iocb_misp_attr a = {0};
	struct iocb_err err;
	uint64_t e = i / 10;

	snprintf(uuid, sizeof(uuid), "0000000a-0000-4000-8000-%012llx", (unsigned long long)(i & 0xffffffffffffULL));
	snprintf(evuuid, sizeof(evuuid), "0000000e-0000-4000-8000-%012llx", (unsigned long long)(e & 0xffffffffffffULL));
	a.type = iocb_misp_type_find(iocb_str_c(types[i % 4]));
	switch (i % 4) {
	case 0:
		snprintf(val, sizeof(val), "host%llu-%u.example.com", (unsigned long long)i, gen);
		break;
	case 1:
		snprintf(val, sizeof(val), "10.%u.%u.%u", (unsigned)(i >> 16) & 255, (unsigned)(i >> 8) & 255,
			 (unsigned)(i + gen) & 255);
		break;
	case 2:
		snprintf(val, sizeof(val), "%016llx%08x%08x", (unsigned long long)i * 0x9e3779b97f4a7c15ULL, gen,
			 (unsigned)i);
		break;
	default:
		snprintf(val, sizeof(val), "http://host%llu.example.net/path/%u/index.php", (unsigned long long)i, gen);
		break;
	}
	ev.uuid = iocb_str_c(evuuid);
	ev.id = e + 1;
	ev.info = IOCB_STR_LIT("OSINT - Campaign report with a typical length of title text");
	ev.threat_level_id = 2;
	ev.analysis = 2;
	ev.timestamp = 1700000000 + e;
	ev.tags = etags;
	ev.ntags = 2;
	ev.tags_known = true;
	a.uuid = iocb_str_c(uuid);
	a.id = i + 1;
	a.event_id = ev.id;
	a.category = iocb_str_c(a.type->default_category);
	a.value = a.part[0] = iocb_str_c(val);
	a.nparts = 1;
	a.prefix[0] = a.prefix[1] = -1;
	a.to_ids = true;
	a.timestamp = 1700000000 + i + gen;
	a.first_seen_us = a.last_seen_us = INT64_MIN;
	a.event = &ev;
	if (iocb_store_upsert(s, &a, 0, 1700000000, &err) < 0) {
		fprintf(stderr, "upsert: %s\n", err.msg);
		exit(1);
	}
}

static void commit(struct iocb_store *s)
{
	struct iocb_err err;

	if (iocb_store_commit(s, &err) < 0) {
		fprintf(stderr, "commit: %s\n", err.msg);
		exit(1);
	}
}

/* m edits of the n records (a commit every 1000), generation gen0 on; returns seconds. */
static double edits(struct iocb_store *s, uint64_t n, uint64_t m, unsigned gen0)
{
	double t0 = iocb_time_mono_s();

	for (uint64_t i = 0; i < m; i++) {
		put(s, i % n, gen0 + (unsigned)(i / n));
		if (i % 1000 == 999)
			commit(s);
	}
	commit(s);
	return iocb_time_mono_s() - t0;
}

struct writer {
	struct iocb_store *s;
	uint64_t n;          /* records in the store */
	atomic_bool stop;
	double max_s;        /* longest upsert + commit */
	unsigned count;      /* edits made */
};

/* One edit and a commit every 5 ms, as the live feed would, timing each. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;

	iocb_store_reader_register();
	while (!atomic_load(&w->stop)) {
		double t0 = iocb_time_mono_s(), d;
		put(w->s, (w->count * 7919ULL) % w->n, 1000 + w->count);
		commit(w->s);
		d = iocb_time_mono_s() - t0;
		if (d > w->max_s)
			w->max_s = d;
		w->count++;
		nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
	}
	iocb_store_reader_unregister();
	return NULL;
}

static void wait_delivered(struct iocb_stream *st, uint64_t want, struct iocb_stream_stats *ss)
{
	for (;;) {
		iocb_stream_stats(st, ss);
		if (ss->baseline_done && ss->delivered >= want && ss->in_flight == 0 && ss->pending == 0)
			return;
		nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
	}
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000, m = argc > 2 ? strtoull(argv[2], NULL, 10) : 200000;
	struct iocb_store_opts so;
	struct iocb_store *s;
	struct iocb_err err;
	char errstr[512];
	rd_kafka_conf_t *mconf = rd_kafka_conf_new();
	rd_kafka_t *mrk;
	rd_kafka_mock_cluster_t *mc;
	struct iocb_kv kv[2];
	struct iocb_stream *st;
	struct iocb_stream_stats ss;
	struct writer w = {0};
	pthread_t wt;
	double t0, t1;

	iocb_log_set_level(IOCB_LOG_INFO); /* the stream's "baseline published" line has the snapshot's time */
	iocb_store_opts_default(&so);
	so.expected_attrs = n;
	if (iocb_store_open(&so, &s, &err) < 0) {
		fprintf(stderr, "store: %s\n", err.msg);
		return 1;
	}
	iocb_store_reader_register();
	t0 = iocb_time_mono_s();
	for (uint64_t i = 0; i < n; i++)
		put(s, i, 0);
	commit(s);
	printf("load %llu records %.2f s\n", (unsigned long long)n, iocb_time_mono_s() - t0);
	t1 = edits(s, n, m, 1000000);
	printf("no stream: %llu edits upserted in %.2f s (%.0f/s)\n", (unsigned long long)m, t1, m / t1);

	(void)rd_kafka_conf_set(mconf, "log_level", "3", errstr, sizeof(errstr));
	mrk = rd_kafka_new(RD_KAFKA_PRODUCER, mconf, errstr, sizeof(errstr));
	mc = mrk ? rd_kafka_mock_cluster_new(mrk, 1) : NULL;
	if (!mc || rd_kafka_mock_topic_create(mc, "indicators", 4, 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "mock cluster: %s\n", errstr);
		return 1;
	}
	kv[0] = (struct iocb_kv){"bootstrap.servers", (char *)rd_kafka_mock_cluster_bootstraps(mc)};
	kv[1] = (struct iocb_kv){"log_level", "3"};

	w.s = s;
	w.n = n;
	t0 = iocb_time_mono_s();
	if (iocb_stream_start(&(struct iocb_stream_opts){.topic = "indicators", .config = kv, .nconfig = 2, .store = s},
			      &st, &err) < 0) {
		fprintf(stderr, "stream: %s\n", err.msg);
		return 1;
	}
	pthread_create(&wt, NULL, writer_main, &w);
	do {
		nanosleep(&(struct timespec){0, 1000 * 1000}, NULL);
		iocb_stream_stats(st, &ss);
	} while (!ss.baseline_done);
	atomic_store(&w.stop, true);
	pthread_join(wt, NULL);
	wait_delivered(st, n, &ss);
	t1 = iocb_time_mono_s();
	printf("baseline %llu records walked in %.2f s (%.0f records/s); %llu messages delivered in %.2f s (%.0f msg/s)\n",
	       (unsigned long long)ss.baseline_records, ss.baseline_seconds, ss.baseline_records / ss.baseline_seconds,
	       (unsigned long long)ss.delivered, t1 - t0, ss.delivered / (t1 - t0));
	printf("during the baseline: %u edits, longest upsert+commit %.1f ms\n", w.count, w.max_s * 1e3);

	{
		uint64_t before = ss.delivered;
		t0 = iocb_time_mono_s();
		t1 = edits(s, n, m, 2000000);
		wait_delivered(st, before + m, &ss);
		printf("live: %llu edits upserted in %.2f s (%.0f/s with the listener); all delivered after %.2f s "
		       "(%.0f msg/s); queue_full %llu resent %llu\n",
		       (unsigned long long)m, t1, m / t1, iocb_time_mono_s() - t0,
		       m / (iocb_time_mono_s() - t0), (unsigned long long)ss.queue_full, (unsigned long long)ss.resent);
	}
	iocb_stream_stop(st);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(mrk);
	iocb_store_free(s);
	return 0;
}
