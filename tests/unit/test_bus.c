/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the Threat Bus compatible zmq-app endpoint (serve/bus/bus.h):
 * the pure management request parser, then the endpoint on 127.0.0.1 with
 * ephemeral ports, spoken to with plain libzmq sockets so what is checked is
 * the bytes on the wire. Every receive has a deadline; the waits for
 * ZeroMQ's slow joiner poll with a bound instead of sleeping blindly.
 */
#include "serve/bus/bus.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "core/time.h"
#include "fixture_zmq.h"

static void *g_ctx;

/* ---- the parser ---------------------------------------------------------- */

static enum iocb_bus_verdict parse(const char *s, struct iocb_bus_request *rq)
{
	return iocb_bus_parse_request(s, strlen(s), rq);
}

static void test_parse(void **state)
{
	(void)state;
	struct iocb_bus_request rq;

	/* 2021+: days, a string or a list */
	assert_int_equal(parse("{\"action\":\"subscribe\",\"topic\":\"stix2/indicator\",\"snapshot\":30}", &rq),
			 IOCB_BUS_REQ_OK);
	assert_int_equal(rq.action, IOCB_BUS_SUBSCRIBE);
	assert_int_equal(rq.gen, IOCB_BUS_GEN_2021);
	assert_int_equal(rq.ntopics, 1);
	assert_string_equal(rq.topics[0], "stix2/indicator");
	assert_int_equal(rq.snapshot, 30);
	assert_int_equal(parse("{\"snapshot\":0,\"topic\":[\"stix2/indicator\",\"stix2/sighting\"],"
			       "\"action\":\"subscribe\",\"x\":[1,{}]}",
			       &rq),
			 IOCB_BUS_REQ_OK);
	assert_int_equal(rq.ntopics, 2);
	assert_string_equal(rq.topics[1], "stix2/sighting");
	/* 2020.12: seconds, escapes decoded */
	assert_int_equal(parse("{\"action\":\"subscribe\",\"topic\":\"threatbus\\/intel\",\"snapshot\":86400}", &rq),
			 IOCB_BUS_REQ_OK);
	assert_int_equal(rq.gen, IOCB_BUS_GEN_2020);
	assert_string_equal(rq.topics[0], "threatbus/intel");
	assert_int_equal(rq.snapshot, 86400);
	assert_int_equal(parse("{\"action\":\"heartbeat\",\"topic\":\"abc\"}", &rq), IOCB_BUS_REQ_OK);
	assert_int_equal(rq.action, IOCB_BUS_HEARTBEAT);
	assert_int_equal(parse("{\"action\":\"heartbea\\u0074\",\"topic\":\"abc\"}", &rq), IOCB_BUS_REQ_OK);
	assert_int_equal(rq.action, IOCB_BUS_HEARTBEAT);
	assert_int_equal(parse("{\"action\":\"unsubscribe\",\"topic\":\"abc\"}", &rq), IOCB_BUS_REQ_OK);
	assert_int_equal(rq.action, IOCB_BUS_UNSUBSCRIBE);

	/* "unknown request": unknown action, missing field, not an object */
	static const char *const unknown[] = {
		"{\"action\":\"publish\",\"topic\":\"x\"}",
		"{\"topic\":\"x\"}",
		"{\"action\":\"heartbeat\"}",
		"{\"action\":\"subscribe\",\"topic\":\"stix2/indicator\"}",
		"{\"action\":\"subscribe\",\"snapshot\":1}",
		"[1,2]",
		"\"subscribe\"",
		"{\"action\":3,\"topic\":\"x\"}",
	};
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		assert_int_equal(parse(unknown[i], &rq), IOCB_BUS_REQ_UNKNOWN);
	/* "error": not JSON, a non-integer or negative snapshot, bad topics */
	static const char *const error[] = {
		"",
		"not json",
		"{\"action\":\"subscribe\"",
		"{\"action\":\"subscribe\",\"topic\":\"stix2/indicator\",\"snapshot\":1.5}",
		"{\"action\":\"subscribe\",\"topic\":\"stix2/indicator\",\"snapshot\":-1}",
		"{\"action\":\"subscribe\",\"topic\":\"stix2/indicator\",\"snapshot\":\"30\"}",
		"{\"action\":\"subscribe\",\"topic\":[],\"snapshot\":1}",
		"{\"action\":\"subscribe\",\"topic\":[1],\"snapshot\":1}",
		"{\"action\":\"subscribe\",\"topic\":\"a\\u0000b\",\"snapshot\":1}",
		"{\"action\":\"subscribe\",\"topic\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"],\"snapshot\":1}",
		("{\"action\":\"subscribe\",\"topic\":\"0123456789012345678901234567890123456789012345678901234567890123"
		 "4\",\"snapshot\":1}"),
		"{\"action\":\"heartbeat\",\"topic\":[\"abc\"]}",
		"{\"action\":\"heartbeat\",\"topic\":{}}",
		"{\"action\":\"heartbeat\",\"topic\":\"abc\"} x",
	};
	for (size_t i = 0; i < sizeof(error) / sizeof(error[0]); i++) {
		print_message("error case %zu\n", i);
		assert_int_equal(parse(error[i], &rq), IOCB_BUS_REQ_ERROR);
	}
}

/* ---- the endpoint -------------------------------------------------------- */

struct sighting_log {
	pthread_mutex_t mu;
	unsigned n;
	enum iocb_bus_gen gen;
	char last[512];
};

static void on_sighting(void *ud, enum iocb_bus_gen gen, const char *json, size_t len)
{
	struct sighting_log *l = ud;
	pthread_mutex_lock(&l->mu);
	l->n++;
	l->gen = gen;
	snprintf(l->last, sizeof(l->last), "%.*s", (int)len, json);
	pthread_mutex_unlock(&l->mu);
}

struct fx {
	struct iocb_bus *bus;
	uint16_t manage, pub, sub;
	struct sighting_log sl;
};

static struct fx *start(double hb, unsigned max_subs)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct iocb_err err = {0};
	pthread_mutex_init(&f->sl.mu, NULL);
	struct iocb_bus_opts o = {.host = "127.0.0.1", .manage_port = 0, .pub_port = 0, .sub_port = 0,
				  .heartbeat_timeout_s = hb, .max_subscribers = max_subs,
				  .max_request_bytes = 1024, .on_sighting = on_sighting, .ud = &f->sl};
	assert_int_equal(iocb_bus_start(&o, &f->bus, &err), IOCB_OK);
	iocb_bus_ports(f->bus, &f->manage, &f->pub, &f->sub);
	assert_true(f->manage && f->pub && f->sub);
	return f;
}

static void stop(struct fx *f)
{
	iocb_bus_stop(f->bus);
	pthread_mutex_destroy(&f->sl.mu);
	free(f);
}

static void *sock(int type, uint16_t port)
{
	return fixture_zmq_sock(g_ctx, type, port);
}

#define recv_within fixture_zmq_recv_within

/* One management round trip on a fresh REQ socket; the reply in out. */
static void manage_raw(struct fx *f, const char *req, size_t len, char *out, size_t cap)
{
	void *s = sock(ZMQ_REQ, f->manage);
	assert_true(zmq_send(s, req, len, 0) >= 0);
	assert_true(recv_within(s, out, cap, 5000) >= 0);
	zmq_close(s);
}

static void manage(struct fx *f, const char *req, char *out, size_t cap)
{
	manage_raw(f, req, strlen(req), out, cap);
}

/* Subscribe; checks the whole reply byte for byte and returns the p2p topic. */
static void subscribe(struct fx *f, const char *topic_json, unsigned snapshot, char p2p[33])
{
	char req[256], rep[512], want[512];
	snprintf(req, sizeof(req), "{\"action\":\"subscribe\",\"topic\":%s,\"snapshot\":%u}", topic_json, snapshot);
	manage(f, req, rep, sizeof(rep));
	assert_int_equal(strncmp(rep, "{\"topic\":\"", 10), 0);
	memcpy(p2p, rep + 10, 32);
	p2p[32] = 0;
	for (int i = 0; i < 32; i++)
		assert_true(p2p[i] >= 'a' && p2p[i] <= 'z');
	snprintf(want, sizeof(want),
		 "{\"topic\":\"%s\",\"pub_endpoint\":\"127.0.0.1:%u\",\"sub_endpoint\":\"127.0.0.1:%u\","
		 "\"pub_port\":%u,\"sub_port\":%u,\"status\":\"success\"}",
		 p2p, f->pub, f->sub, f->pub, f->sub);
	assert_string_equal(rep, want);
}

static void test_management(void **state)
{
	(void)state;
	struct fx *f = start(0, 0);
	char a[33], b[33], req[128], rep[512];
	struct iocb_bus_stats st;

	subscribe(f, "\"threatbus/intel\"", 86400, a);            /* 2020.12: seconds */
	subscribe(f, "[\"stix2/indicator\",\"stix2/sighting\"]", 30, b); /* 2021+: days */
	assert_string_not_equal(a, b);
	iocb_bus_stats(f->bus, &st);
	assert_int_equal(st.subscribers, 2);
	assert_int_equal(st.subscribers_by_topic[IOCB_BUS_TOPIC_TB_INTEL], 1);
	assert_int_equal(st.subscribers_by_topic[IOCB_BUS_TOPIC_STIX2_INDICATOR], 1);
	assert_int_equal(st.subscribers_by_topic[IOCB_BUS_TOPIC_STIX2_SIGHTING], 1);

	snprintf(req, sizeof(req), "{\"action\":\"heartbeat\",\"topic\":\"%s\"}", a);
	manage(f, req, rep, sizeof(rep));
	assert_string_equal(rep, "{\"status\":\"success\"}");
	snprintf(req, sizeof(req), "{\"action\":\"unsubscribe\",\"topic\":\"%s\"}", a);
	manage(f, req, rep, sizeof(rep));
	assert_string_equal(rep, "{\"status\":\"success\"}");
	/* gone: both now "error", as Threat Bus answers an unknown p2p topic */
	manage(f, req, rep, sizeof(rep));
	assert_string_equal(rep, "{\"status\":\"error\"}");
	snprintf(req, sizeof(req), "{\"action\":\"heartbeat\",\"topic\":\"%s\"}", a);
	manage(f, req, rep, sizeof(rep));
	assert_string_equal(rep, "{\"status\":\"error\"}");

	manage(f, "{\"action\":\"publish\",\"topic\":\"x\"}", rep, sizeof(rep));
	assert_string_equal(rep, "{\"status\":\"unknown request\"}");
	manage(f, "{\"action\":\"subscribe\",\"topic\":\"stix2/indicator\"}", rep, sizeof(rep));
	assert_string_equal(rep, "{\"status\":\"unknown request\"}");
	manage(f, "not json", rep, sizeof(rep));
	assert_string_equal(rep, "{\"status\":\"error\"}");
	manage(f, "{\"action\":\"subscribe\",\"topic\":\"stix2/indicator\",\"snapshot\":1.5}", rep, sizeof(rep));
	assert_string_equal(rep, "{\"status\":\"error\"}");

	/* over max_request_bytes (1024 here): "error", counted */
	char big[2048];
	int n = snprintf(big, sizeof(big), "{\"action\":\"heartbeat\",\"topic\":\"%s\",\"pad\":\"", b);
	memset(big + n, 'x', sizeof(big) - (size_t)n - 3);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	manage_raw(f, big, strlen(big), rep, sizeof(rep));
	assert_string_equal(rep, "{\"status\":\"error\"}");

	iocb_bus_stats(f->bus, &st);
	assert_int_equal(st.subscribers, 1);
	assert_int_equal(st.subscribers_by_topic[IOCB_BUS_TOPIC_TB_INTEL], 0);
	assert_int_equal(st.subscribes, 2);
	assert_int_equal(st.unsubscribes, 1);
	assert_int_equal(st.heartbeats, 1);
	assert_int_equal(st.oversized, 1);
	assert_int_equal(st.bad_requests, 7);
	stop(f);
}

static void test_table_cap(void **state)
{
	(void)state;
	struct fx *f = start(0, 1);
	char a[33], rep[512];
	struct iocb_bus_stats st;
	subscribe(f, "\"stix2/indicator\"", 0, a);
	manage(f, "{\"action\":\"subscribe\",\"topic\":\"stix2/indicator\",\"snapshot\":0}", rep, sizeof(rep));
	assert_string_equal(rep, "{\"status\":\"error\"}");
	iocb_bus_stats(f->bus, &st);
	assert_int_equal(st.table_full, 1);
	stop(f);
}

static void test_expiry(void **state)
{
	(void)state;
	struct fx *f = start(0.5, 0);
	char a[33], b[33], req[128], rep[512];
	struct iocb_bus_stats st;
	subscribe(f, "\"threatbus\"", 0, a);
	subscribe(f, "\"stix2/indicator\"", 0, b);
	/* b heartbeats every 50 ms, a never: after 1 s only a is gone */
	snprintf(req, sizeof(req), "{\"action\":\"heartbeat\",\"topic\":\"%s\"}", b);
	for (int i = 0; i < 20; i++) {
		manage(f, req, rep, sizeof(rep));
		assert_string_equal(rep, "{\"status\":\"success\"}");
		iocb_time_sleep_s(0.05);
	}
	snprintf(req, sizeof(req), "{\"action\":\"heartbeat\",\"topic\":\"%s\"}", a);
	manage(f, req, rep, sizeof(rep));
	assert_string_equal(rep, "{\"status\":\"error\"}");
	iocb_bus_stats(f->bus, &st);
	assert_int_equal(st.heartbeats_missed, 1);
	assert_int_equal(st.subscribers, 1);
	assert_int_equal(st.subscribers_by_topic[IOCB_BUS_TOPIC_THREATBUS], 0);
	stop(f);
}

/* Publish probes until s sees one (ZeroMQ's slow joiner), then drain. */
static void wait_joined(struct fx *f, void *s, enum iocb_bus_gen gen)
{
	char buf[256];
	for (int i = 0; i < 100; i++) {
		assert_int_equal(iocb_bus_publish(f->bus, IOCB_BUS_KIND_INTEL, gen, "{}", 2), IOCB_OK);
		if (recv_within(s, buf, sizeof(buf), 50) >= 0)
			break;
		assert_true(i < 99);
	}
	while (recv_within(s, buf, sizeof(buf), 100) >= 0)
		;
}

static void test_publish(void **state)
{
	(void)state;
	struct fx *f = start(0, 0);
	char a[33], b[33], c[33], buf[512], want[512];
	struct iocb_bus_stats st;
	subscribe(f, "\"threatbus/intel\"", 0, a);
	subscribe(f, "\"threatbus\"", 0, b);
	subscribe(f, "\"stix2/indicator\"", 0, c);
	void *sa = sock(ZMQ_SUB, f->pub), *sb = sock(ZMQ_SUB, f->pub), *sc = sock(ZMQ_SUB, f->pub);
	zmq_setsockopt(sa, ZMQ_SUBSCRIBE, a, 32);
	zmq_setsockopt(sb, ZMQ_SUBSCRIBE, b, 32);
	zmq_setsockopt(sc, ZMQ_SUBSCRIBE, c, 32);
	wait_joined(f, sa, IOCB_BUS_GEN_2020);
	wait_joined(f, sb, IOCB_BUS_GEN_2020);
	wait_joined(f, sc, IOCB_BUS_GEN_2021);
	while (recv_within(sa, buf, sizeof(buf), 100) >= 0 || recv_within(sb, buf, sizeof(buf), 0) >= 0 ||
	       recv_within(sc, buf, sizeof(buf), 0) >= 0)
		;

	/* b unsubscribes: its socket must see nothing more */
	char req[128], rep[128];
	snprintf(req, sizeof(req), "{\"action\":\"unsubscribe\",\"topic\":\"%s\"}", b);
	manage(f, req, rep, sizeof(rep));
	assert_string_equal(rep, "{\"status\":\"success\"}");

	const char *intel = "{\"ts\":\"2026-12-05 02:00:00\",\"id\":\"x\",\"data\":{\"indicator\":[\"1.2.3.4\"],"
			    "\"intel_type\":\"ADDR\"},\"operation\":\"ADD\"}";
	const char *ind = "{\"type\":\"indicator\",\"x_threatbus_update\":\"REMOVE\"}";
	assert_int_equal(iocb_bus_publish(f->bus, IOCB_BUS_KIND_INTEL, IOCB_BUS_GEN_2020, intel, strlen(intel)),
			 IOCB_OK);
	assert_int_equal(iocb_bus_publish(f->bus, IOCB_BUS_KIND_INTEL, IOCB_BUS_GEN_2021, ind, strlen(ind)),
			 IOCB_OK);
	assert_int_equal(iocb_bus_publish(f->bus, IOCB_BUS_KIND__N, IOCB_BUS_GEN_2021, ind, strlen(ind)),
			 IOCB_EINVAL);

	snprintf(want, sizeof(want), "%sintel %s", a, intel);
	assert_true(recv_within(sa, buf, sizeof(buf), 5000) >= 0);
	assert_string_equal(buf, want);
	snprintf(want, sizeof(want), "%sindicator %s", c, ind);
	assert_true(recv_within(sc, buf, sizeof(buf), 5000) >= 0);
	assert_string_equal(buf, want);
	/* one each: a 2020.12 subscriber gets no 2021+ frame and the reverse */
	assert_int_equal(recv_within(sa, buf, sizeof(buf), 200), -1);
	assert_int_equal(recv_within(sc, buf, sizeof(buf), 10), -1);
	assert_int_equal(recv_within(sb, buf, sizeof(buf), 10), -1);

	iocb_bus_stats(f->bus, &st);
	assert_true(st.out[IOCB_BUS_GEN_2020][IOCB_BUS_KIND_INTEL] >= 3);
	assert_int_equal(st.drops, 0);
	zmq_close(sa);
	zmq_close(sb);
	zmq_close(sc);
	stop(f);
}

static void test_publish_bounds(void **state)
{
	(void)state;
	struct iocb_bus *bus;
	struct iocb_err err = {0};
	struct iocb_bus_stats st;
	struct iocb_bus_opts o = {.manage_port = 0, .pub_port = 0, .sub_port = 0, .queue_max = 4, .max_frame_bytes = 16};
	assert_int_equal(iocb_bus_start(&o, &bus, &err), IOCB_OK);
	char big[17] = "0123456789abcdef";
	assert_int_equal(iocb_bus_publish(bus, IOCB_BUS_KIND_INTEL, IOCB_BUS_GEN_2021, big, 17), IOCB_ELIMIT);
	/* the caller never blocks: past the bound, EAGAIN and a drop */
	int again = 0;
	for (int i = 0; i < 10000; i++)
		again += iocb_bus_publish(bus, IOCB_BUS_KIND_INTEL, IOCB_BUS_GEN_2021, "{}", 2) == IOCB_EAGAIN;
	iocb_bus_stats(bus, &st);
	assert_int_equal(st.drops, (uint64_t)again + 1);
	iocb_bus_stop(bus);
}

static void test_sighting(void **state)
{
	(void)state;
	struct fx *f = start(0, 0);
	void *p = sock(ZMQ_PUB, f->sub);
	const char *s20 = "threatbus/sighting {\"ts\":\"2026-12-05 02:00:00\",\"intel\":\"x\",\"context\":{}}";
	const char *s21 = "stix2/sighting {\"type\":\"sighting\",\"sighting_of_ref\":\"indicator--x\"}";
	unsigned n = 0;
	for (int i = 0; i < 200 && n == 0; i++) {
		assert_true(zmq_send(p, s20, strlen(s20), 0) >= 0);
		iocb_time_sleep_s(0.02);
		pthread_mutex_lock(&f->sl.mu);
		n = f->sl.n;
		pthread_mutex_unlock(&f->sl.mu);
	}
	assert_true(n > 0);
	iocb_time_sleep_s(0.1); /* the probes still in flight */
	pthread_mutex_lock(&f->sl.mu);
	assert_int_equal(f->sl.gen, IOCB_BUS_GEN_2020);
	assert_string_equal(f->sl.last, s20 + strlen("threatbus/sighting "));
	n = f->sl.n;
	pthread_mutex_unlock(&f->sl.mu);
	assert_true(zmq_send(p, "threatbus/snapshotenvelope {}", 29, 0) >= 0);
	assert_true(zmq_send(p, s21, strlen(s21), 0) >= 0);
	for (int i = 0; i < 250; i++) {
		pthread_mutex_lock(&f->sl.mu);
		unsigned m = f->sl.n;
		pthread_mutex_unlock(&f->sl.mu);
		if (m > n)
			break;
		iocb_time_sleep_s(0.02);
	}
	pthread_mutex_lock(&f->sl.mu);
	assert_int_equal(f->sl.n, n + 1);
	assert_int_equal(f->sl.gen, IOCB_BUS_GEN_2021);
	assert_string_equal(f->sl.last, s21 + strlen("stix2/sighting "));
	pthread_mutex_unlock(&f->sl.mu);
	struct iocb_bus_stats st;
	iocb_bus_stats(f->bus, &st);
	assert_int_equal(st.frames_ignored, 1);
	zmq_close(p);
	stop(f);
}

static void test_stop_prompt(void **state)
{
	(void)state;
	struct fx *f = start(0, 0);
	char a[33];
	subscribe(f, "\"stix2/indicator\"", 0, a);
	void *s = sock(ZMQ_SUB, f->pub);
	double t0 = iocb_time_mono_s();
	stop(f);
	double dt = iocb_time_mono_s() - t0;
	print_message("stop took %.1f ms\n", dt * 1000);
	assert_true(dt < 0.1);
	zmq_close(s);
}

static void test_bad_opts(void **state)
{
	(void)state;
	struct iocb_bus *bus = (void *)1;
	struct iocb_err err = {0};
	struct iocb_bus_opts o = {.host = "0.0.0.0", .manage_port = 0, .pub_port = 0, .sub_port = 0};
	/* a wildcard bind without the address apps connect to: never echo 0.0.0.0 */
	assert_int_equal(iocb_bus_start(&o, &bus, &err), IOCB_EINVAL);
	assert_null(bus);
	assert_non_null(strstr(err.msg, "advertise_host"));
	o.host = "127.0.0.1";
	o.pub_port = 70000;
	assert_int_equal(iocb_bus_start(&o, &bus, &err), IOCB_EINVAL);
	/* port in use */
	struct iocb_bus *b1;
	o.pub_port = 0;
	assert_int_equal(iocb_bus_start(&o, &b1, &err), IOCB_OK);
	uint16_t m;
	iocb_bus_ports(b1, &m, NULL, NULL);
	o.manage_port = m;
	assert_int_equal(iocb_bus_start(&o, &bus, &err), IOCB_EIO);
	assert_null(bus);
	iocb_bus_stop(b1);
	iocb_bus_stop(NULL);
}

static void test_advertise(void **state)
{
	(void)state;
	struct iocb_bus *bus;
	struct iocb_err err = {0};
	struct iocb_bus_opts o = {.host = "0.0.0.0", .advertise_host = "bus.example", .manage_port = 0,
				  .pub_port = 0, .sub_port = 0};
	assert_int_equal(iocb_bus_start(&o, &bus, &err), IOCB_OK);
	struct fx f = {.bus = bus};
	iocb_bus_ports(bus, &f.manage, &f.pub, &f.sub);
	char rep[512], want[128];
	manage(&f, "{\"action\":\"subscribe\",\"topic\":\"threatbus/intel\",\"snapshot\":0}", rep, sizeof(rep));
	snprintf(want, sizeof(want), "\"pub_endpoint\":\"bus.example:%u\",\"sub_endpoint\":\"bus.example:%u\"",
		 f.pub, f.sub);
	assert_non_null(strstr(rep, want));
	iocb_bus_stop(bus);
}

static int setup(void **state)
{
	(void)state;
	g_ctx = zmq_ctx_new();
	return g_ctx ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	zmq_ctx_term(g_ctx);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_management),
		cmocka_unit_test(test_table_cap),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_publish),
		cmocka_unit_test(test_publish_bounds),
		cmocka_unit_test(test_sighting),
		cmocka_unit_test(test_stop_prompt),
		cmocka_unit_test(test_bad_opts),
		cmocka_unit_test(test_advertise),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
