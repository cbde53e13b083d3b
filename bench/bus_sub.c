/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A C zmq-app subscriber for the bus benchmark (bench/bench_bus.sh, issue
 * #13 "Performance"). Not a test. A Python client tops out near 300 k
 * frames/s; this one only classifies frames, so the bus is what is measured.
 *
 *   bus_sub --manage HOST:PORT [--topic stix2/indicator|threatbus/intel]
 *           [--snapshot N] [--adds N] [--frames N] [--snapshot-rows N]
 *           [--silence S] [--snapshot-silence S] [--wait-first S] [--duration S]
 *           [--heartbeat S]
 *           [--samples-out FILE] [--label NAME]
 *
 * Speaks the management protocol as an app does (docs/BUS.md): REQ to the
 * manage port, {"action":"subscribe","topic":T,"snapshot":N} (N in days for
 * stix2/ topics, in seconds for threatbus ones, as each generation sends it),
 * reads the p2p topic and pub_port from the reply, connects a SUB socket
 * (RCVHWM 0: this side never drops) to HOST:pub_port subscribed to the p2p
 * topic, and sends a heartbeat every --heartbeat seconds (5, the VAST
 * bridge's period). Unsubscribes before it exits.
 *
 * Each frame "<p2p><suffix> <json>" is counted by kind: an intel frame is
 * ADD or REMOVE (2021+: "x_threatbus_update":"REMOVE" marks a removal;
 * 2020.12: "operation":"ADD"|"REMOVE"); anything else is "other".
 * Stamped frames: a value t<ns>-<i>....bench.example (zmq_flood --type stamp
 * puts its CLOCK_REALTIME send time there) appears in the STIX pattern and
 * in the 2020.12 indicator list; for an ADD, receive time - ns is one
 * publish-to-receive latency sample (same host, same clock), when the stamp
 * is later than the subscribe request. Snapshot rows are the intel frames
 * without a stamp (data loaded beforehand) or with a stamp older than the
 * subscribe request (live traffic that reached the store before: the
 * snapshot sends it again, and its age is no latency); the time of the last
 * one after the subscribe request is the snapshot's time to last frame.
 *
 * Stops at the first of: --adds N ADD frames, --frames N intel frames,
 * --snapshot-rows N snapshot rows, --silence S without a frame (after
 * the first), --snapshot-silence S without a snapshot row (after the
 * first; live frames may go on meanwhile), no frame within --wait-first S
 * (default 60), --duration S, SIGINT/SIGTERM. Prints one JSON line on stdout:
 *   {"label":..,"topic":..,"gen":"2021"|"2020.12","stop":"adds"|..,
 *    "frames":N,"add":N,"remove":N,"other":N,"stamped":N (live),"snapshot_rows":N,
 *    "t_subscribe":EPOCH,"t_first":EPOCH,"t_last":EPOCH,"t_last_snapshot_row":EPOCH,
 *    "snapshot_s":S,"recv_rate":FRAMES_PER_S,"lat_n":N,"lat_p50_ms":..,
 *    "lat_p90_ms":..,"lat_p99_ms":..,"lat_max_ms":..,"heartbeats":N,"heartbeat_errors":N,
 *    "cpu_s":CPU_SECONDS_OF_THIS_PROCESS}
 * Exit status 0, or 1 when the subscribe failed.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "bench_stats.h"

#define P2P_LEN 32
#define STAMP_TAIL ".bench.example"

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
	stop_sig = sig;
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this process (all its threads: libzmq's I/O thread included). */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
}

struct opts {
	const char *host, *topic, *samples_out, *label;
	long manage_port;
	unsigned long long snapshot;
	uint64_t adds, frames, snaprows;
	double silence, snap_silence, wait_first, duration, heartbeat;
	int gen2020;
};

struct counts {
	uint64_t frames, add, remove, other, stamped, snaprows, heartbeats, hb_errors;
	double t_first, t_last, t_last_snaprow;
	uint64_t t_sub_ns; /* stamps older than this are snapshot rows */
	double *lat; /* ms, ADD frames with a stamp */
	size_t nlat, caplat;
	int lat_oom;
};

static void lat_push(struct counts *c, double ms)
{
	if (c->nlat == c->caplat) {
		size_t cap = c->caplat ? c->caplat * 2 : 65536;
		double *p = realloc(c->lat, cap * sizeof(*p));
		if (!p) {
			c->lat_oom = 1;
			return;
		}
		c->lat = p;
		c->caplat = cap;
	}
	c->lat[c->nlat++] = ms;
}

/* The send time of a stamped value, or 0: finds ".bench.example", walks back to
 * the quote. */
static uint64_t find_stamp(const char *b, size_t n)
{
	const char *p = memmem(b, n, STAMP_TAIL, sizeof(STAMP_TAIL) - 1);
	if (!p)
		return 0;
	while (p > b && p[-1] != '\'' && p[-1] != '"')
		p--;
	if (*p != 't' || p + 20 > b + n)
		return 0;
	uint64_t v = 0;
	for (int i = 1; i <= 19; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	return v;
}

/* 1 = intel ADD, 2 = intel REMOVE, 0 = another kind of frame. JSON compact or with spaces. */
static int classify(const char *b, size_t n, int gen2020)
{
	static const char op[] = "\"operation\"", upd[] = "\"x_threatbus_update\"";
	if (n < P2P_LEN + 6)
		return 0;
	const char *s = b + P2P_LEN, *end = b + n;
	size_t left = n - P2P_LEN;
	if (!gen2020)
		return left >= 10 && memcmp(s, "indicator ", 10) == 0 ? (memmem(s, left, upd, sizeof(upd) - 1) ? 2 : 1) : 0;
	if (memcmp(s, "intel ", 6) != 0)
		return 0;
	const char *p = memmem(s, left, op, sizeof(op) - 1);
	if (!p)
		return 0;
	for (p += sizeof(op) - 1; p < end && (*p == ' ' || *p == ':' || *p == '"'); p++)
		;
	return end - p >= 6 && memcmp(p, "REMOVE", 6) == 0 ? 2 : 1;
}

static void on_frame(struct counts *c, const char *b, size_t n, int gen2020)
{
	double now = wall_s();
	int k = classify(b, n, gen2020);
	if (!c->frames && !c->other)
		c->t_first = now;
	c->t_last = now;
	if (k == 0) {
		c->other++;
		return;
	}
	c->frames++;
	if (k == 1)
		c->add++;
	else
		c->remove++;
	uint64_t ns = find_stamp(b, n);
	if (!ns || ns < c->t_sub_ns) {
		c->snaprows++;
		c->t_last_snaprow = now;
		return;
	}
	c->stamped++;
	if (k == 1) {
		uint64_t rx = wall_ns();
		lat_push(c, rx > ns ? (double)(rx - ns) / 1e6 : 0.0);
	}
}

/* A management request and its reply, bounded by timeout_ms. Returns the reply
 * length or -1. */
static int manage_call(void *req, const char *msg, char *reply, size_t cap, long timeout_ms)
{
	if (zmq_send(req, msg, strlen(msg), 0) < 0)
		return -1;
	zmq_pollitem_t pi = {req, 0, ZMQ_POLLIN, 0};
	if (zmq_poll(&pi, 1, timeout_ms) <= 0)
		return -1;
	int n = zmq_recv(req, reply, cap - 1, 0);
	if (n < 0)
		return -1;
	if ((size_t)n >= cap)
		n = (int)cap - 1;
	reply[n] = 0;
	return n;
}

/* The value after "key": in a flat JSON reply (compact or with spaces, as Python's json.dumps writes), or NULL. */
static const char *json_value(const char *reply, const char *key)
{
	char k[64];
	snprintf(k, sizeof(k), "\"%s\"", key);
	const char *p = strstr(reply, k);
	if (!p)
		return NULL;
	p += strlen(k);
	while (*p == ' ')
		p++;
	if (*p++ != ':')
		return NULL;
	while (*p == ' ')
		p++;
	return p;
}

/* Subscribe; fills p2p[33] and *pub_port. 0 on success. */
static int subscribe(void *req, const struct opts *o, char p2p[P2P_LEN + 1], long *pub_port)
{
	char msg[512], reply[4096];
	snprintf(msg, sizeof(msg), "{\"action\":\"subscribe\",\"topic\":\"%s\",\"snapshot\":%llu}", o->topic,
		 o->snapshot);
	if (manage_call(req, msg, reply, sizeof(reply), 10000) < 0) {
		fprintf(stderr, "bus_sub: no reply to subscribe\n");
		return -1;
	}
	const char *st = json_value(reply, "status"), *t = json_value(reply, "topic"), *p = json_value(reply, "pub_port");
	if (!st || strncmp(st, "\"success\"", 9) != 0 || !t || !p || *t != '"' || strlen(t) < P2P_LEN + 2 ||
	    t[1 + P2P_LEN] != '"') {
		fprintf(stderr, "bus_sub: subscribe refused: %s\n", reply);
		return -1;
	}
	memcpy(p2p, t + 1, P2P_LEN);
	p2p[P2P_LEN] = 0;
	*pub_port = strtol(p, NULL, 10);
	return *pub_port > 0 && *pub_port <= 65535 ? 0 : -1;
}

/* The reply to an outstanding heartbeat, when one is there. */
static void heartbeat_reply(void *req, struct counts *c, int *pending)
{
	char reply[256];
	int n = zmq_recv(req, reply, sizeof(reply) - 1, ZMQ_DONTWAIT);
	if (n < 0)
		return;
	reply[n < (int)sizeof(reply) ? n : (int)sizeof(reply) - 1] = 0;
	*pending = 0;
	const char *st = json_value(reply, "status");
	if (!st || strncmp(st, "\"success\"", 9) != 0)
		c->hb_errors++;
}

/* Receive until a stop condition; returns its name. */
static const char *receive(void *req, void *sub, const struct opts *o, const char *p2p, struct counts *c, double t_sub)
{
	static char buf[1 << 22];
	double next_hb = t_sub + o->heartbeat;
	int hb_pending = 0;
	for (;;) {
		double now = wall_s();
		if (stop_sig)
			return "signal";
		if (o->duration > 0 && now - t_sub >= o->duration)
			return "duration";
		if (c->frames + c->other == 0 && now - t_sub >= o->wait_first)
			return "wait-first";
		if (c->frames + c->other > 0 && o->silence > 0 && now - c->t_last >= o->silence)
			return "silence";
		if (c->snaprows > 0 && o->snap_silence > 0 && now - c->t_last_snaprow >= o->snap_silence)
			return "snapshot-silence";
		if (o->heartbeat > 0 && !hb_pending && now >= next_hb) {
			char msg[128];
			snprintf(msg, sizeof(msg), "{\"action\":\"heartbeat\",\"topic\":\"%s\"}", p2p);
			if (zmq_send(req, msg, strlen(msg), ZMQ_DONTWAIT) >= 0) {
				hb_pending = 1;
				c->heartbeats++;
			}
			next_hb = now + o->heartbeat;
		}
		zmq_pollitem_t pi[2] = {{sub, 0, ZMQ_POLLIN, 0}, {req, 0, ZMQ_POLLIN, 0}};
		if (zmq_poll(pi, 2, 20) < 0 && errno != EINTR)
			return "poll-error";
		if (pi[1].revents & ZMQ_POLLIN)
			heartbeat_reply(req, c, &hb_pending);
		/* drain what is there without polling per frame */
		for (int k = 0; k < 4096; k++) {
			int n = zmq_recv(sub, buf, sizeof(buf), ZMQ_DONTWAIT);
			if (n < 0)
				break;
			on_frame(c, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf), o->gen2020);
			if (o->adds && c->add >= o->adds)
				return "adds";
			if (o->frames && c->frames >= o->frames)
				return "frames";
			if (o->snaprows && c->snaprows >= o->snaprows)
				return "snapshot-rows";
		}
	}
}

static void report(const struct opts *o, const struct counts *c, const char *why, double t_sub)
{
	double span = c->t_last - c->t_first;
	double *v = c->lat;
	/* samples in arrival order (a time series), then sorted for the percentiles */
	if (o->samples_out && c->nlat) {
		FILE *f = fopen(o->samples_out, "w");
		for (size_t i = 0; f && i < c->nlat; i++)
			fprintf(f, "%.4f\n", v[i]);
		if (f)
			fclose(f);
	}
	if (c->nlat)
		qsort(v, c->nlat, sizeof(*v), bench_cmp_double);
	printf("{\"label\":\"%s\",\"topic\":\"%s\",\"gen\":\"%s\",\"stop\":\"%s\","
	       "\"frames\":%" PRIu64 ",\"add\":%" PRIu64 ",\"remove\":%" PRIu64 ",\"other\":%" PRIu64
	       ",\"stamped\":%" PRIu64 ",\"snapshot_rows\":%" PRIu64
	       ",\"t_subscribe\":%.6f,\"t_first\":%.6f,\"t_last\":%.6f"
	       ",\"t_last_snapshot_row\":%.6f,\"snapshot_s\":%.4f,\"recv_rate\":%.0f,"
	       "\"lat_n\":%zu"
	       ",\"lat_p50_ms\":%.3f,\"lat_p90_ms\":%.3f,\"lat_p99_ms\":%.3f,\"lat_"
	       "max_ms\":%.3f"
	       ",\"lat_oom\":%d,\"heartbeats\":%" PRIu64 ",\"heartbeat_errors\":%" PRIu64 ",\"cpu_s\":%.3f}\n",
	       o->label, o->topic, o->gen2020 ? "2020.12" : "2021", why, c->frames, c->add, c->remove, c->other,
	       c->stamped, c->snaprows, t_sub, c->t_first, c->t_last, c->t_last_snaprow,
	       c->snaprows ? c->t_last_snaprow - t_sub : 0.0, span > 0 ? (double)c->frames / span : 0.0, c->nlat,
	       bench_pct(v, c->nlat, 50), bench_pct(v, c->nlat, 90), bench_pct(v, c->nlat, 99),
	       c->nlat ? v[c->nlat - 1] : 0.0, c->lat_oom, c->heartbeats, c->hb_errors, cpu_s());
	fflush(stdout);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.topic = "stix2/indicator", .label = "sub", .wait_first = 60, .heartbeat = 5};
	const char *manage = NULL;
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return -1;
		if (strcmp(a, "--manage") == 0)
			manage = v;
		else if (strcmp(a, "--topic") == 0)
			o->topic = v;
		else if (strcmp(a, "--snapshot") == 0)
			o->snapshot = strtoull(v, NULL, 10);
		else if (strcmp(a, "--adds") == 0)
			o->adds = strtoull(v, NULL, 10);
		else if (strcmp(a, "--frames") == 0)
			o->frames = strtoull(v, NULL, 10);
		else if (strcmp(a, "--snapshot-rows") == 0)
			o->snaprows = strtoull(v, NULL, 10);
		else if (strcmp(a, "--silence") == 0)
			o->silence = strtod(v, NULL);
		else if (strcmp(a, "--snapshot-silence") == 0)
			o->snap_silence = strtod(v, NULL);
		else if (strcmp(a, "--wait-first") == 0)
			o->wait_first = strtod(v, NULL);
		else if (strcmp(a, "--duration") == 0)
			o->duration = strtod(v, NULL);
		else if (strcmp(a, "--heartbeat") == 0)
			o->heartbeat = strtod(v, NULL);
		else if (strcmp(a, "--samples-out") == 0)
			o->samples_out = v;
		else if (strcmp(a, "--label") == 0)
			o->label = v;
		else
			return -1;
	}
	static char host[256];
	const char *colon = manage ? strrchr(manage, ':') : NULL;
	if (!colon || (size_t)(colon - manage) >= sizeof(host) || strlen(o->topic) > 64 || strchr(o->topic, '"') ||
	    strlen(o->label) > 64 || strchr(o->label, '"'))
		return -1;
	memcpy(host, manage, (size_t)(colon - manage));
	host[colon - manage] = 0;
	o->host = host;
	o->manage_port = strtol(colon + 1, NULL, 10);
	o->gen2020 = strncmp(o->topic, "threatbus", 9) == 0;
	return o->manage_port > 0 && o->manage_port <= 65535 ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct counts c = {0};
	char ep[300], p2p[P2P_LEN + 1];
	long pub_port = 0;
	int rc = 1, zero = 0, linger = 0;

	if (parse_args(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: bus_sub --manage HOST:PORT [--topic T] [--snapshot N] [--adds N] [--frames N]\n"
				"               [--snapshot-rows N] [--silence S] [--snapshot-silence S] [--wait-first S]\n"
				"               [--duration S] [--heartbeat S] [--samples-out FILE] [--label NAME]\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	void *ctx = zmq_ctx_new();
	void *req = zmq_socket(ctx, ZMQ_REQ), *sub = zmq_socket(ctx, ZMQ_SUB);
	snprintf(ep, sizeof(ep), "tcp://%s:%ld", o.host, o.manage_port);
	if (!req || !sub || zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
	    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
	    zmq_setsockopt(sub, ZMQ_RCVHWM, &zero, sizeof(zero)) != 0 || zmq_connect(req, ep) != 0) {
		fprintf(stderr, "bus_sub: %s: %s\n", ep, zmq_strerror(errno));
		goto out;
	}
	double t_sub = wall_s();
	c.t_sub_ns = wall_ns();
	if (subscribe(req, &o, p2p, &pub_port) != 0)
		goto out;
	snprintf(ep, sizeof(ep), "tcp://%s:%ld", o.host, pub_port);
	if (zmq_connect(sub, ep) != 0 || zmq_setsockopt(sub, ZMQ_SUBSCRIBE, p2p, P2P_LEN) != 0) {
		fprintf(stderr, "bus_sub: %s: %s\n", ep, zmq_strerror(errno));
		goto out;
	}
	fprintf(stderr, "bus_sub %s: subscribed %s as %s, receiving from %s\n", o.label, o.topic, p2p, ep);
	const char *why = receive(req, sub, &o, p2p, &c, t_sub);
	report(&o, &c, why, t_sub);
	/* unsubscribe, best effort: a heartbeat reply may still be owed on the REQ
   * socket */
	char msg[128], reply[256];
	snprintf(msg, sizeof(msg), "{\"action\":\"unsubscribe\",\"topic\":\"%s\"}", p2p);
	zmq_close(req);
	req = zmq_socket(ctx, ZMQ_REQ);
	snprintf(ep, sizeof(ep), "tcp://%s:%ld", o.host, o.manage_port);
	if (req && zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof(linger)) == 0 && zmq_connect(req, ep) == 0)
		(void)manage_call(req, msg, reply, sizeof(reply), 2000);
	rc = 0;
out:
	if (req)
		zmq_close(req);
	if (sub)
		zmq_close(sub);
	zmq_ctx_term(ctx);
	free(c.lat);
	return rc;
}
