/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bus's data plane against a real memory store and real ZeroMQ SUB
 * clients on 127.0.0.1 (serve/bus/bus.h with opts.store): every kind of
 * store change arrives once, as ADD/REMOVE, in both generations; a snapshot
 * returns exactly the records in its window; a subscriber that never reads
 * goes stale without slowing the store's writers or the other subscriber,
 * and is resynced once it reads again. Also the resumable store walk the
 * snapshots use, and the metrics rendering. Every receive has a deadline.
 */
#include "serve/bus/bus.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <zmq.h>

#include "core/time.h"
#include "fixture_zmq.h"
#include "fixture_store.h"

static void *g_ctx;

struct fx {
	struct iocb_store *st;
	struct iocb_bus *bus;
	uint16_t manage, pub, sub;
};

static struct fx *start(unsigned hwm)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct iocb_err err = {0};
	f->st = fixture_store_open(false);
	struct iocb_bus_opts o = {.host = "127.0.0.1", .manage_port = 0, .pub_port = 0, .sub_port = 0,
				  .store = f->st, .subscriber_hwm = hwm};
	assert_int_equal(iocb_bus_start(&o, &f->bus, &err), IOCB_OK);
	iocb_bus_ports(f->bus, &f->manage, &f->pub, &f->sub);
	return f;
}

static void stop(struct fx *f)
{
	iocb_bus_stop(f->bus);
	iocb_store_free(f->st);
	free(f);
}

static void *sock(int type, uint16_t port)
{
	return fixture_zmq_sock(g_ctx, type, port);
}

#define recv_within fixture_zmq_recv_within

/* An app: subscribed through the management socket, its SUB socket on its p2p topic. */
struct app {
	char p2p[33];
	void *sub;
	bool v2020;
};

/* rcvhwm/rcvbuf 0 = ZeroMQ's defaults (a small pair makes a slow reader). */
static void app_open(struct fx *f, struct app *a, const char *topic, unsigned snapshot, int rcvhwm, int rcvbuf)
{
	char req[256], rep[512];
	void *m = sock(ZMQ_REQ, f->manage);
	snprintf(req, sizeof(req), "{\"action\":\"subscribe\",\"topic\":\"%s\",\"snapshot\":%u}", topic, snapshot);
	assert_true(zmq_send(m, req, strlen(req), 0) >= 0);
	assert_true(recv_within(m, rep, sizeof(rep), 5000) > 0);
	zmq_close(m);
	assert_int_equal(strncmp(rep, "{\"topic\":\"", 10), 0);
	memcpy(a->p2p, rep + 10, 32);
	a->p2p[32] = 0;
	a->v2020 = strncmp(topic, "threatbus", 9) == 0;
	a->sub = zmq_socket(g_ctx, ZMQ_SUB);
	int zero = 0;
	zmq_setsockopt(a->sub, ZMQ_LINGER, &zero, sizeof(zero));
	if (rcvhwm)
		zmq_setsockopt(a->sub, ZMQ_RCVHWM, &rcvhwm, sizeof(rcvhwm));
	if (rcvbuf)
		zmq_setsockopt(a->sub, ZMQ_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	zmq_setsockopt(a->sub, ZMQ_SUBSCRIBE, a->p2p, 32);
	snprintf(req, sizeof(req), "tcp://127.0.0.1:%u", f->pub);
	assert_int_equal(zmq_connect(a->sub, req), 0);
}

/* Copy the JSON string after `key` (raw, escapes kept) into out; false if absent. */
static bool field(const char *json, const char *key, char *out, size_t cap)
{
	const char *p = strstr(json, key);
	if (!p)
		return false;
	p += strlen(key);
	const char *e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= cap)
		return false;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = 0;
	return true;
}

/*
 * The next data frame as "ADD <value>" / "REMOVE <value>", checking its prefix
 * and shape for the generation; "" when none arrives within ms. The value
 * is the 2020.12 indicator[0] or the STIX pattern.
 */
static void next(struct app *a, char *out, size_t cap, int ms)
{
	static char buf[1 << 16];
	char v[256];
	out[0] = 0;
	int n;
	do /* snapshot requests forwarded from other apps' subscribes are not data */
		n = recv_within(a->sub, buf, sizeof(buf), ms);
	while (n > 0 && strncmp(buf + 32, "snapshotrequest ", 16) == 0);
	if (n < 0)
		return;
	assert_int_equal(memcmp(buf, a->p2p, 32), 0);
	if (a->v2020) {
		assert_int_equal(strncmp(buf + 32, "intel {", 7), 0);
		assert_true(field(buf, "\"indicator\":[\"", v, sizeof(v)));
		bool rm = strstr(buf, "\"operation\":\"REMOVE\"") != NULL;
		assert_true(rm || strstr(buf, "\"operation\":\"ADD\"") != NULL);
		snprintf(out, cap, "%s %s", rm ? "REMOVE" : "ADD", v);
	} else {
		assert_int_equal(strncmp(buf + 32, "indicator {\"type\":\"indicator\"", 29), 0);
		assert_true(field(buf, "\"pattern\":\"[domain-name:value = '", v, sizeof(v)));
		v[strcspn(v, "'")] = 0;
		snprintf(out, cap, "%s %s", strstr(buf, "\"x_threatbus_update\":\"REMOVE\"") ? "REMOVE" : "ADD", v);
	}
}

/* Exactly these frames, in order, on both apps; then nothing more within 300 ms. */
static void expect(struct app *apps, int napps, const char *const *want, int n)
{
	char got[300];
	for (int k = 0; k < napps; k++) {
		for (int i = 0; i < n; i++) {
			next(&apps[k], got, sizeof(got), 5000);
			if (strcmp(got, want[i]) != 0)
				fail_msg("%s app, frame %d: got \"%s\", want \"%s\"", apps[k].v2020 ? "2020.12" : "2021", i,
					 got, want[i]);
		}
	}
	for (int k = 0; k < napps; k++) {
		next(&apps[k], got, sizeof(got), 300);
		if (got[0])
			fail_msg("an extra frame: %s", got);
	}
}

static void upsert(struct fx *f, uint64_t n, const char *value, uint64_t event, bool ids, bool deleted)
{
	struct fixture_attr t;
	fixture_attr_make(&t, n, "domain", value, NULL, -1, event, ids);
	t.a.deleted = deleted;
	fixture_store_upsert(f->st, &t.a);
}

static void commit(struct fx *f)
{
	struct iocb_err err;
	assert_int_equal(iocb_store_commit(f->st, &err), IOCB_OK);
}

static bool is_e(void *ud, const struct iocb_store_attr *a)
{
	(void)ud;
	struct iocb_store_attr_view v;
	iocb_store_attr_view(a, &v);
	return iocb_str_eq_c(v.value, "e.example");
}

static void test_every_change_once(void **state)
{
	(void)state;
	struct fx *f = start(0);
	struct app apps[2];
	struct iocb_err err;
	struct iocb_bus_stats st;
	struct fixture_attr t;
	char u[37];
	size_t removed;

	app_open(f, &apps[0], "threatbus/intel", 0, 0, 0);
	app_open(f, &apps[1], "stix2/indicator", 0, 0, 0);
	/* add; an edit that keeps the value (an ADD again); a new value (REMOVE old, ADD new) */
	upsert(f, 1, "a.example", 1, true, false);
	fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true);
	t.a.timestamp++;
	fixture_store_upsert(f->st, &t.a);
	upsert(f, 1, "a2.example", 1, true, false);
	expect(apps, 2, (const char *const[]){"ADD a.example", "ADD a.example", "REMOVE a.example", "ADD a2.example"},
	       4);
	/* to_ids off leaves the filter (REMOVE), on again (ADD); a soft delete (REMOVE) */
	upsert(f, 1, "a2.example", 1, false, false);
	upsert(f, 1, "a2.example", 1, true, false);
	upsert(f, 1, "a2.example", 1, true, true);
	expect(apps, 2, (const char *const[]){"REMOVE a2.example", "ADD a2.example", "REMOVE a2.example"}, 3);
	/* a delete */
	upsert(f, 2, "b.example", 1, true, false);
	fixture_uuid(u, 0xa, 2);
	assert_int_equal(iocb_store_remove(f->st, iocb_str_c(u), &err), IOCB_OK);
	expect(apps, 2, (const char *const[]){"ADD b.example", "REMOVE b.example"}, 2);
	/* an event delete: REMOVEs at the commit that sweeps it */
	upsert(f, 3, "c.example", 3, true, false);
	fixture_uuid(u, 0xe, 3);
	assert_int_equal(iocb_store_event_remove(f->st, iocb_str_c(u), 0, &removed, &err), IOCB_OK);
	commit(f);
	expect(apps, 2, (const char *const[]){"ADD c.example", "REMOVE c.example"}, 2);
	/* a remove_if sweep (reconcile, filter change) */
	upsert(f, 5, "e.example", 1, true, false);
	assert_int_equal(iocb_store_remove_if(f->st, is_e, NULL, &removed, &err), IOCB_OK);
	assert_int_equal(removed, 1);
	expect(apps, 2, (const char *const[]){"ADD e.example", "REMOVE e.example"}, 2);
	/* nothing for a non-to_ids record, nor for one no generation can express (counted) */
	upsert(f, 6, "f.example", 1, false, false);
	fixture_store_upsert(f->st, fixture_attr_make(&t, 7, "text", "free text", NULL, -1, 1, true));
	expect(apps, 2, NULL, 0);
	iocb_bus_stats(f->bus, &st);
	assert_int_equal(st.changes_skipped[IOCB_BUS_GEN_2020], 1);
	assert_int_equal(st.changes_skipped[IOCB_BUS_GEN_2021], 1);
	assert_int_equal(st.feed_out[IOCB_BUS_GEN_2021][0], 7);
	assert_int_equal(st.feed_out[IOCB_BUS_GEN_2021][1], 6);
	assert_int_equal(st.out[IOCB_BUS_GEN_2020][IOCB_BUS_KIND_INTEL], 13);
	assert_int_equal(st.drops_subscriber + st.stale_marks, 0);
	zmq_close(apps[0].sub);
	zmq_close(apps[1].sub);
	stop(f);
}

/* Upsert attribute n, a domain, with its timestamp set to `ts`. */
static void upsert_at(struct fx *f, uint64_t n, bool ids, uint64_t ts, const char *type, const char *value)
{
	struct fixture_attr t;
	fixture_attr_make(&t, n, type, value, NULL, -1, 1, ids);
	t.a.timestamp = ts;
	fixture_store_upsert(f->st, &t.a);
}

/* Receive until 500 ms of silence; the values seen (all ADDs) as one sorted string. */
static void collect(struct app *a, char *out, size_t cap)
{
	char got[300], list[32][300];
	int n = 0;
	size_t len = 0;
	for (;;) {
		next(a, got, sizeof(got), 500);
		if (!got[0])
			break;
		assert_int_equal(strncmp(got, "ADD ", 4), 0);
		assert_true(n < 32);
		memcpy(list[n++], got + 4, strlen(got + 4) + 1);
	}
	qsort(list, (size_t)n, sizeof(list[0]), (int (*)(const void *, const void *))strcmp);
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(list[i]);
		assert_true(len + l + 2 < cap);
		if (i)
			out[len++] = ',';
		memcpy(out + len, list[i], l + 1);
		len += l;
	}
}

static void test_snapshot_window(void **state)
{
	(void)state;
	struct fx *f = start(0);
	struct app a20, a21;
	struct iocb_bus_stats st;
	char got[1024];
	uint64_t now = (uint64_t)time(NULL);

	upsert_at(f, 1, true, now - 100, "domain", "in1.example");        /* in both windows */
	upsert_at(f, 2, true, now - 3000, "domain", "in21.example");      /* 2021's 1 day only */
	upsert_at(f, 3, true, now - 3 * 86400, "domain", "old.example");  /* in neither */
	upsert_at(f, 4, false, now - 100, "domain", "noids.example");     /* not to_ids */
	upsert_at(f, 5, true, now - 100, "text", "unexpressible");        /* no pattern, no IntelType */
	upsert_at(f, 6, true, now - 10, "domain", "in2.example");
	commit(f);
	/* 2020.12 asks in seconds (1000 s), 2021+ in days (1) */
	app_open(f, &a20, "threatbus/intel", 1000, 0, 0);
	app_open(f, &a21, "stix2/indicator", 1, 0, 0);
	collect(&a20, got, sizeof(got));
	assert_string_equal(got, "in1.example,in2.example");
	collect(&a21, got, sizeof(got));
	assert_string_equal(got, "in1.example,in2.example,in21.example");
	iocb_bus_stats(f->bus, &st);
	assert_int_equal(st.snapshot_requests, 2);
	assert_int_equal(st.snapshot_jobs, 2);
	assert_int_equal(st.snapshot_sent, 5);
	/* live changes follow the snapshot */
	upsert_at(f, 7, true, now, "domain", "live.example");
	collect(&a21, got, sizeof(got));
	assert_string_equal(got, "live.example");
	zmq_close(a20.sub);
	zmq_close(a21.sub);
	stop(f);
}

/* A reader thread: counts the frames of its app until `want` distinct attributes were added. */
struct reader {
	struct app *a;
	unsigned want;
	unsigned char *seen; /* per attribute number */
	unsigned distinct, frames;
	int ms;              /* give up after this much silence */
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	static __thread char buf[1 << 16];
	while (r->distinct < r->want) {
		int n = recv_within(r->a->sub, buf, sizeof(buf), r->ms);
		if (n < 0)
			break;
		r->frames++;
		const char *p = strstr(buf, "-0000-4000-8000-");
		if (!p || strstr(buf, "\"x_threatbus_update\""))
			continue;
		unsigned long k = strtoul(p + 16, NULL, 16);
		if (k < r->want && !r->seen[k]) {
			r->seen[k] = 1;
			r->distinct++;
		}
	}
	return NULL;
}

static void test_slow_subscriber_stale_then_resync(void **state)
{
	(void)state;
	enum { N = 20000 };
	struct fx *f = start(256);
	struct app slow, fast;
	struct iocb_bus_stats st;
	char v[64];
	struct fixture_attr t;
	pthread_t th;
	struct reader rf = {.a = &fast, .want = N, .seen = calloc(N, 1), .ms = 10000};
	struct reader rs = {.a = &slow, .want = N, .seen = calloc(N, 1), .ms = 10000};

	app_open(f, &slow, "stix2/indicator", 0, 16, 4096);
	app_open(f, &fast, "stix2/indicator", 0, 0, 0);
	/* Both joined before the writes: a first change reaches each. */
	upsert(f, N + 1, "first.example", 1, true, false);
	next(&fast, v, sizeof(v), 5000);
	assert_string_equal(v, "ADD first.example");
	next(&slow, v, sizeof(v), 5000);
	assert_string_equal(v, "ADD first.example");

	assert_int_equal(pthread_create(&th, NULL, read_all, &rf), 0);
	int64_t t0 = iocb_time_mono_ns(), worst = 0;
	for (unsigned i = 0; i < N; i++) {
		char val[64];
		snprintf(val, sizeof(val), "n%u.example", i);
		int64_t a = iocb_time_mono_ns();
		fixture_store_upsert(f->st, fixture_attr_make(&t, i, "domain", val, NULL, -1, 1, true));
		int64_t d = iocb_time_mono_ns() - a;
		worst = d > worst ? d : worst;
		if (i % 1000 == 999)
			commit(f);
	}
	double took = (double)(iocb_time_mono_ns() - t0) / 1e9;
	pthread_join(th, NULL);
	print_message("# %d writes in %.3f s, slowest %.1f ms; fast app got %u frames\n", N, took,
		      (double)worst / 1e6, rf.frames);
	/* The writers never wait for a subscriber: no write took long, all were quick. */
	assert_true(worst < 250 * 1000000LL);
	assert_true(took < 20.0);
	/* The other subscriber got every change. */
	assert_int_equal(rf.distinct, N);
	iocb_bus_stats(f->bus, &st);
	assert_true(st.stale_marks >= 1);
	assert_true(st.drops_subscriber >= 1);
	assert_int_equal(st.drops, 0);

	/* The slow app reads again: a resync snapshot brings it every live record. */
	rs.ms = 5000;
	read_all(&rs);
	iocb_bus_stats(f->bus, &st);
	print_message("# slow app: %u frames, %u distinct; resyncs %llu, dropped %llu\n", rs.frames, rs.distinct,
		      (unsigned long long)st.resyncs, (unsigned long long)st.drops_subscriber);
	assert_true(st.resyncs >= 1);
	assert_int_equal(rs.distinct, N);
	free(rf.seen);
	free(rs.seen);
	zmq_close(slow.sub);
	zmq_close(fast.sub);
	stop(f);
}

static void test_envelope_parse(void **state)
{
	(void)state;
	struct iocb_bus_envelope e;
	const char *ok = "{\"type\":\"snapshotenvelope\",\"snapshot_type\":2,\"snapshot_id\":\"ab\\u0063\","
			 "\"body\": {\"x\":[1,{\"y\":\"}\"}]} }";
	assert_int_equal(iocb_bus_parse_envelope(ok, strlen(ok), &e), IOCB_OK);
	assert_string_equal(e.snapshot_id, "abc");
	assert_int_equal(e.snapshot_type, 2);
	assert_int_equal(e.body_len, strlen("{\"x\":[1,{\"y\":\"}\"}]}"));
	assert_int_equal(memcmp(ok + e.body_off, "{\"x\":[1,{\"y\":\"}\"}]}", e.body_len), 0);
	static const char *const bad[] = {
		"",
		"[]",
		"{\"snapshot_type\":1,\"snapshot_id\":\"a\"}",                  /* no body */
		"{\"snapshot_type\":1,\"body\":{}}",                              /* no id */
		"{\"snapshot_type\":3,\"snapshot_id\":\"a\",\"body\":{}}",        /* bad type */
		"{\"snapshot_type\":1,\"snapshot_id\":\"a\",\"body\":[]}",        /* body not an object */
		"{\"snapshot_type\":1,\"snapshot_id\":\"a\\u0000\",\"body\":{}}", /* NUL in the id */
		"{\"snapshot_type\":1,\"snapshot_id\":\"a\",\"body\":{}} x",      /* trailing bytes */
		"{\"snapshot_type\":1,\"snapshot_id\":\"a\",\"body\":{}",         /* cut */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (iocb_bus_parse_envelope(bad[i], strlen(bad[i]), &e) != IOCB_EPARSE)
			fail_msg("accepted: %s", bad[i]);
}

/* A snapshot request reaches the other apps; an app's envelope reaches the requester. */
static void test_snapshot_forwarding(void **state)
{
	(void)state;
	struct fx *f = start(0);
	struct app other, req;
	struct iocb_bus_stats st;
	static char buf[4096];
	char id[80], want[512];

	app_open(f, &other, "stix2/indicator", 0, 0, 0);
	iocb_time_sleep_s(0.2); /* its SUB socket joins before the request is forwarded */
	app_open(f, &req, "threatbus/intel", 100, 0, 0);
	int n = recv_within(other.sub, buf, sizeof(buf), 5000);
	assert_true(n > 0);
	assert_int_equal(memcmp(buf, other.p2p, 32), 0);
	assert_true(field(buf, "\"snapshot_id\":\"", id, sizeof(id)));
	assert_int_equal(strlen(id), 36);
	snprintf(want, sizeof(want),
		 "%ssnapshotrequest {\"type\":\"snapshotrequest\",\"snapshot_type\":1,\"snapshot_id\":\"%s\","
		 "\"snapshot\":100}",
		 other.p2p, id);
	assert_string_equal(buf, want);

	/* the other app answers on the bus's SUB socket (PUB: resend until the subscription took) */
	void *pub = sock(ZMQ_PUB, f->sub);
	const char *body = "{\"ts\":\"2023-11-14 22:13:21+00:00\",\"id\":\"x\",\"data\":{\"indicator\":"
			   "[\"retro.example\"],\"intel_type\":12},\"operation\":\"ADD\"}";
	char env[512];
	snprintf(env, sizeof(env),
		 "threatbus/snapshotenvelope {\"type\":\"snapshotenvelope\",\"snapshot_type\":1,\"snapshot_id\":"
		 "\"%s\",\"body\":%s}",
		 id, body);
	n = -1;
	for (int i = 0; i < 50 && n < 0; i++) {
		assert_true(zmq_send(pub, env, strlen(env), 0) >= 0);
		n = recv_within(req.sub, buf, sizeof(buf), 100);
	}
	snprintf(want, sizeof(want), "%sintel %s", req.p2p, body);
	assert_string_equal(buf, want);
	/* an envelope nobody asked for is ignored */
	const char *stray = "threatbus/snapshotenvelope {\"snapshot_type\":1,\"snapshot_id\":\"nope\",\"body\":{}}";
	assert_true(zmq_send(pub, stray, strlen(stray), 0) >= 0);
	for (int i = 0; i < 100; i++) {
		iocb_bus_stats(f->bus, &st);
		if (st.frames_ignored)
			break;
		iocb_time_sleep_s(0.02);
	}
	assert_true(st.frames_ignored >= 1);
	assert_int_equal(st.snapshot_forwarded, 1);
	assert_true(st.envelopes_in >= 1);
	zmq_close(pub);
	zmq_close(other.sub);
	zmq_close(req.sub);
	stop(f);
}

/* ---- the resumable store walk ---------------------------------------------- */

struct walk_seen {
	unsigned char seen[4096];
	unsigned calls;
};

static int walk_row(void *ud, const struct iocb_store_attr *a)
{
	struct walk_seen *w = ud;
	struct iocb_store_attr_view v;
	iocb_store_attr_view(a, &v);
	unsigned long k = strtoul(v.uuid + 24, NULL, 16);
	if (k < sizeof(w->seen))
		w->seen[k]++;
	w->calls++;
	return w->calls == 7 ? 1 : 0; /* once: "my buffer is full" */
}

static void test_store_walk(void **state)
{
	(void)state;
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_store_cursor c = {0};
	struct walk_seen *w = calloc(1, sizeof(*w));
	int rc, stops = 0, calls = 0;
	char val[32];

	iocb_store_reader_register();
	for (unsigned i = 0; i < 100; i++) {
		snprintf(val, sizeof(val), "w%u.example", i);
		fixture_store_upsert(s, fixture_attr_make(&t, i, "domain", val, NULL, -1, 1, true));
	}
	do {
		rc = iocb_store_walk(s, &c, 16, walk_row, w);
		stops += rc == 1;
		if (++calls == 3) /* grow the table mid-walk: its slots move, the walk starts over */
			for (unsigned i = 100; i < 2000; i++) {
				snprintf(val, sizeof(val), "w%u.example", i);
				fixture_store_upsert(s, fixture_attr_make(&t, i, "domain", val, NULL, -1, 1, true));
			}
	} while (rc == IOCB_EAGAIN || rc == 1);
	assert_int_equal(rc, IOCB_OK);
	assert_int_equal(stops, 1);
	assert_true(c.restarts >= 1);
	for (unsigned i = 0; i < 2000; i++)
		if (!w->seen[i])
			fail_msg("record %u never seen", i);
	iocb_store_reader_unregister();
	free(w);
	iocb_store_free(s);
}

static void test_metrics_render(void **state)
{
	(void)state;
	struct iocb_bus_stats st = {0};
	struct iocb_buf out, small;
	st.subscribers = 3;
	st.stale_marks = 2;
	st.out[IOCB_BUS_GEN_2021][IOCB_BUS_KIND_INTEL] = 9;
	st.feed_out[IOCB_BUS_GEN_2020][1] = 4;
	iocb_buf_init(&out, 0);
	assert_int_equal(iocb_bus_metrics_render(&st, &out), IOCB_OK);
	assert_non_null(strstr(out.ptr, "# TYPE iocbus_bus_subscribers gauge\niocbus_bus_subscribers 3\n"));
	assert_non_null(strstr(out.ptr, "\niocbus_bus_stale_total 2\n"));
	assert_non_null(strstr(out.ptr, "\niocbus_bus_frames_out_total{generation=\"2021\",kind=\"indicator\"} 9\n"));
	assert_non_null(
		strstr(out.ptr, "\niocbus_bus_changes_published_total{generation=\"2020.12\",operation=\"REMOVE\"} 4\n"));
	assert_non_null(strstr(out.ptr, "iocbus_bus_subscribers_by_topic{topic=\"stix2/indicator\"} 0\n"));
	/* all or nothing */
	iocb_buf_init(&small, 100);
	assert_int_equal(iocb_buf_append_c(&small, "keep"), IOCB_OK);
	assert_int_equal(iocb_bus_metrics_render(&st, &small), IOCB_ELIMIT);
	assert_string_equal(small.ptr, "keep");
	iocb_buf_fini(&out);
	iocb_buf_fini(&small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_walk),
		cmocka_unit_test(test_metrics_render),
		cmocka_unit_test(test_envelope_parse),
		cmocka_unit_test(test_snapshot_forwarding),
		cmocka_unit_test(test_every_change_once),
		cmocka_unit_test(test_snapshot_window),
		cmocka_unit_test(test_slow_subscriber_stale_then_resync),
	};
	g_ctx = zmq_ctx_new();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	zmq_ctx_term(g_ctx);
	return rc;
}
