/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bus snapshot benchmark (issue #13: "Snapshot of 1 M indicators to a new
 * subscriber in <= 5 s, without stalling live updates"). Not a ctest test.
 *
 *   bench_bus_snapshot [attrs] [generation 2020|2021] [live_per_s]
 * defaults: 1000000 to_ids domains in 1000 events, 2021 (STIX), 1000/s.
 *
 * A memory store is filled, a bus started on it (127.0.0.1, ephemeral
 * ports), then a C SUB client subscribes with a snapshot covering every
 * record and reads frames until it holds every attribute. Meanwhile a writer
 * thread upserts new attributes at live_per_s, each followed by a commit,
 * and a second client (subscribed earlier, no snapshot) counts the live
 * frames it receives. Prints "name value unit" lines: the snapshot time and
 * rate, the slowest upsert+commit during it (the walk must not hold the
 * writers), and live frames sent / received during the snapshot.
 */
#include "serve/bus/bus.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "core/time.h"
#include "store/store.h"

struct attr_buf {
	struct iocb_misp_attr a;
	struct iocb_misp_event ev;
	char uuid[37], evuuid[37], value[64];
};

static void make(struct attr_buf *t, uint64_t n, uint64_t ts)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->uuid, sizeof(t->uuid), "aaaaaaaa-0000-4000-8000-%012llx", (unsigned long long)n);
	snprintf(t->evuuid, sizeof(t->evuuid), "eeeeeeee-0000-4000-8000-%012llx", (unsigned long long)(n % 1000));
	snprintf(t->value, sizeof(t->value), "host-%llu.bench.example", (unsigned long long)n);
	t->a.uuid = iocb_str_c(t->uuid);
	t->a.id = n + 1;
	t->a.type = iocb_misp_type_find(iocb_str_c("domain"));
	t->a.category = iocb_str_c("Network activity");
	t->a.value = iocb_str_c(t->value);
	t->a.part[0] = t->a.value;
	t->a.nparts = 1;
	t->a.prefix[0] = t->a.prefix[1] = -1;
	t->a.to_ids = true;
	t->a.timestamp = ts;
	t->a.first_seen_us = t->a.last_seen_us = INT64_MIN;
	t->a.event = &t->ev;
	t->ev.uuid = iocb_str_c(t->evuuid);
	t->ev.id = n % 1000 + 1;
	t->ev.info = iocb_str_c("benchmark event");
	t->ev.threat_level_id = 2;
	t->ev.analysis = -1;
}

struct writer {
	struct iocb_store *st;
	uint64_t first, per_s;
	int stop;
	uint64_t written;
	double worst_s;
};

static void *write_live(void *arg)
{
	struct writer *w = arg;
	struct attr_buf t;
	struct iocb_err err;
	double t0 = iocb_time_mono_s();
	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		double due = t0 + (double)w->written / (double)w->per_s, now = iocb_time_mono_s();
		if (due > now) {
			iocb_time_sleep_s(due - now);
			continue;
		}
		make(&t, w->first + w->written, (uint64_t)time(NULL));
		double a = iocb_time_mono_s();
		if (iocb_store_upsert(w->st, &t.a, 0, 1000, &err) != IOCB_OK || iocb_store_commit(w->st, &err) != IOCB_OK) {
			fprintf(stderr, "write: %s\n", err.msg);
			exit(1);
		}
		double d = iocb_time_mono_s() - a;
		w->worst_s = d > w->worst_s ? d : w->worst_s;
		w->written++;
	}
	return NULL;
}

static void *client(void *ctx, int type, uint16_t port)
{
	char ep[64];
	void *s = zmq_socket(ctx, type);
	snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%u", port);
	zmq_connect(s, ep);
	return s;
}

/* Subscribe on the management socket; the p2p topic into p2p; a SUB socket on it. */
static void *subscribe(void *ctx, uint16_t manage, uint16_t pub, const char *topic, unsigned snapshot, char p2p[33])
{
	char req[160], rep[512];
	void *m = client(ctx, ZMQ_REQ, manage);
	snprintf(req, sizeof(req), "{\"action\":\"subscribe\",\"topic\":\"%s\",\"snapshot\":%u}", topic, snapshot);
	zmq_send(m, req, strlen(req), 0);
	int n = zmq_recv(m, rep, sizeof(rep) - 1, 0);
	zmq_close(m);
	if (n < 42 || strncmp(rep, "{\"topic\":\"", 10) != 0) {
		fprintf(stderr, "subscribe failed\n");
		exit(1);
	}
	memcpy(p2p, rep + 10, 32);
	p2p[32] = 0;
	void *s = client(ctx, ZMQ_SUB, pub);
	zmq_setsockopt(s, ZMQ_SUBSCRIBE, p2p, 32);
	return s;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	bool v2020 = argc > 2 && strcmp(argv[2], "2020") == 0;
	uint64_t per_s = argc > 3 ? strtoull(argv[3], NULL, 10) : 1000;
	struct iocb_store_opts so;
	struct iocb_store *st;
	struct iocb_bus *bus;
	struct iocb_err err;
	struct attr_buf t;
	uint16_t manage, pub;
	char p2p[33], live_p2p[33];
	static char buf[1 << 16];
	const char *topic = v2020 ? "threatbus/intel" : "stix2/indicator";

	iocb_store_opts_default(&so);
	so.expected_attrs = (size_t)n + 1000000;
	if (iocb_store_open(&so, &st, &err) != IOCB_OK)
		return fprintf(stderr, "store: %s\n", err.msg), 1;
	uint64_t now = (uint64_t)time(NULL);
	double t0 = iocb_time_mono_s();
	for (uint64_t i = 0; i < n; i++) {
		make(&t, i, now - 60);
		if (iocb_store_upsert(st, &t.a, 0, 1000, &err) != IOCB_OK)
			return fprintf(stderr, "upsert: %s\n", err.msg), 1;
	}
	if (iocb_store_commit(st, &err) != IOCB_OK)
		return 1;
	printf("load %.3f s\n", iocb_time_mono_s() - t0);

	struct iocb_bus_opts o = {.host = "127.0.0.1", .manage_port = 0, .pub_port = 0, .sub_port = 0, .store = st};
	if (iocb_bus_start(&o, &bus, &err) != IOCB_OK)
		return fprintf(stderr, "bus: %s\n", err.msg), 1;
	iocb_bus_ports(bus, &manage, &pub, NULL);
	void *ctx = zmq_ctx_new();
	void *live = subscribe(ctx, manage, pub, topic, 0, live_p2p);
	iocb_time_sleep_s(0.3); /* the live client joins before the clock starts */

	struct writer w = {.st = st, .first = n + 10, .per_s = per_s};
	pthread_t th;
	pthread_create(&th, NULL, write_live, &w);
	t0 = iocb_time_mono_s();
	/* 2020.12 asks in seconds, 2021+ in days: both cover the records' timestamps */
	void *snap = subscribe(ctx, manage, pub, topic, v2020 ? 86400 : 1, p2p);
	uint64_t got = 0, live_got = 0;
	double first = 0;
	zmq_pollitem_t it[2] = {{snap, 0, ZMQ_POLLIN, 0}, {live, 0, ZMQ_POLLIN, 0}};
	while (got < n) {
		if (zmq_poll(it, 2, 10000) <= 0) {
			fprintf(stderr, "stalled at %llu frames\n", (unsigned long long)got);
			break;
		}
		while (zmq_recv(snap, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0) {
			if (!got)
				first = iocb_time_mono_s() - t0;
			got++;
		}
		while (zmq_recv(live, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
			live_got++;
	}
	double took = iocb_time_mono_s() - t0;
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	/* the live client's last frames */
	while (zmq_poll(&it[1], 1, 500) > 0 && zmq_recv(live, buf, sizeof(buf), 0) >= 0)
		live_got++;
	struct iocb_bus_stats bs;
	iocb_bus_stats(bus, &bs);
	printf("snapshot_frames %llu (of %llu)\n", (unsigned long long)got, (unsigned long long)n);
	printf("snapshot_first_frame %.3f s\n", first);
	printf("snapshot_time %.3f s (subscribe to the last snapshot frame, held live frames included)\n", took);
	printf("snapshot_rate %.0f frames/s\n", (double)got / took);
	printf("live_written %llu at %llu/s\n", (unsigned long long)w.written, (unsigned long long)per_s);
	printf("live_received_by_other_client %llu\n", (unsigned long long)live_got);
	printf("worst_upsert_commit %.1f ms\n", w.worst_s * 1e3);
	printf("stale_marks %llu drops %llu\n", (unsigned long long)bs.stale_marks,
	       (unsigned long long)(bs.drops + bs.drops_subscriber));
	zmq_close(snap);
	zmq_close(live);
	iocb_bus_stop(bus);
	zmq_ctx_term(ctx);
	iocb_store_free(st);
	return 0;
}
