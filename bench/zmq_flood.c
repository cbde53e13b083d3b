/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ZeroMQ flood publisher for the `iocbus run` throughput benchmark
 * (bench/bench_run.sh, issue #4 target (a)). Not a test.
 *
 *   zmq_flood --port PORT [--count N] [--rate MSG_S] [--type ip|domain|mixed|stamp]
 *             [--uuids K] [--seed S] [--marker VALUE] [--wait-timeout S] [--linger-ms MS]
 *             [--hold-s S]
 * (--hold-s: after sending, print the result line and stay connected S seconds
 * instead of closing, so a slow subscriber can drain; kill it when done)
 *
 * Binds an XPUB socket on tcp://127.0.0.1:PORT (MISP's publisher binds, the
 * subscriber connects) and builds N `misp_json_attribute` add frames in
 * MISP's exact compact shape (field set and order of
 * tests/fixtures/misp/zmq/misp_json_attribute-add-cidr-untagged.json:
 * value1/value2, `Sighting: []`, the Event with `Orgc`), each with its own
 * attribute id and uuid v4 and a unique value (ip-dst 10.x.y.z, or domains
 * fN.flood.example), 100 attributes per event. All frames are built before
 * the clock starts. It then waits until a subscription arrives on the XPUB
 * socket (the subscriber is connected and subscribed, so nothing is lost to
 * the slow-joiner window), sends every frame as fast as it can (or paced at
 * --rate) with SNDHWM 0 (unbounded: the publisher never drops) and
 * zmq_send_const (no copy), then one marker attribute (domain --marker,
 * default marker.zmq-flood.example), and waits up to --linger-ms for libzmq
 * to hand everything to the socket.
 *
 * --type stamp (the bus benchmark, bench/bench_bus.sh): domain values
 * t<19 digits>-<i>.s<seed>.bench.example whose digits are overwritten with
 * the CLOCK_REALTIME nanoseconds just before the frame is sent, so the send
 * time survives into the bus's STIX pattern and 2020.12 indicator
 * (bench/bus_sub.c reads it back). --uuids K: frame i is attribute i mod K
 * (same attribute id, uuid and event), so with K < N later frames are edits
 * that change the value; default every frame its own attribute.
 * Pacing (--rate): per frame up to 20,000/s, per 64 frames above.
 *
 * Output, one line on stdout (wall-clock epochs, so another process can
 * compare its own clock with them):
 *   zmq_flood sent=N marker=1 bytes=B build_s=X t_first=EPOCH t_last=EPOCH
 *             send_s=S rate=MSG_S flushed=yes|no
 * Exit status 0, or 1 on an error / when no subscriber came in time.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#define PER_EVENT 100u

struct frames {
	char *buf;       /* every frame, back to back */
	size_t *off;     /* frame i is buf[off[i] .. off[i + 1]) */
	size_t *stamp;   /* --type stamp: offsets of the two value copies' digits, 2 per frame; else NULL */
	size_t n;
};

#define STAMP_ZEROS "0000000000000000000" /* 19 digits: CLOCK_REALTIME ns until 2286 */

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* A random uuid v4 into out[37]. */
static void uuid4(uint64_t *rng, char out[37])
{
	uint64_t hi = xorshift(rng), lo = xorshift(rng);
	hi = (hi & ~(UINT64_C(0xF) << 12)) | (UINT64_C(4) << 12);
	lo = (lo & ~(UINT64_C(3) << 62)) | (UINT64_C(2) << 62);
	snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64, hi >> 32,
		 (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48, lo & UINT64_C(0xFFFFFFFFFFFF));
}

/* Append one attribute add frame; returns its length or 0 when it does not fit. */
static size_t frame(char *dst, size_t cap, uint64_t attr_id, uint64_t event_id, const char *type,
		    const char *value, const char *uuid, const char *event_uuid, long ts)
{
	int n = snprintf(
		dst, cap,
		"misp_json_attribute {\"Attribute\":{\"id\":\"%" PRIu64 "\",\"event_id\":\"%" PRIu64 "\","
		"\"object_id\":\"0\",\"object_relation\":null,\"category\":\"Network activity\",\"type\":\"%s\","
		"\"value1\":\"%s\",\"value2\":\"\",\"to_ids\":true,\"uuid\":\"%s\",\"timestamp\":\"%ld\","
		"\"distribution\":\"5\",\"sharing_group_id\":\"0\",\"comment\":\"\",\"deleted\":false,"
		"\"disable_correlation\":false,\"first_seen\":null,\"last_seen\":null,\"value\":\"%s\","
		"\"Sighting\":[]},\"Event\":{\"id\":\"%" PRIu64 "\",\"date\":\"2024-10-21\","
		"\"info\":\"zmq_flood synthetic event\",\"uuid\":\"%s\",\"published\":false,\"analysis\":\"1\","
		"\"threat_level_id\":\"2\",\"org_id\":\"1\",\"orgc_id\":\"2\",\"distribution\":\"1\","
		"\"sharing_group_id\":\"0\",\"Orgc\":{\"id\":\"2\",\"uuid\":\"aa490ba1-79d0-49eb-b242-8efa1dccfb33\","
		"\"name\":\"EXAMPLE-CERT\"}},\"action\":\"add\"}",
		attr_id, event_id, type, value, uuid, ts, value, event_id, event_uuid);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

/* --uuids K: attribute j's uuid and its event's from their own seeded streams, so repeats match. */
static void keyed_uuid(uint64_t seed, uint64_t key, char out[37])
{
	uint64_t rng = (seed * UINT64_C(0x9E3779B97F4A7C15)) ^ (key * UINT64_C(0xD1B54A32D192ED03) + 7);
	for (int i = 0; i < 4; i++)
		xorshift(&rng);
	uuid4(&rng, out);
}

/* Remember where the two copies of the stamp digits (value1, value) of a frame are. */
static int mark_stamp(struct frames *f, size_t i, const char *fr, size_t len)
{
	static const char pat[] = "\"t" STAMP_ZEROS "-";
	const char *a = memmem(fr, len, pat, sizeof(pat) - 1);
	const char *b = a ? memmem(a + 1, len - (size_t)(a + 1 - fr), pat, sizeof(pat) - 1) : NULL;
	if (!a || !b)
		return -1;
	f->stamp[2 * i] = (size_t)(a + 2 - f->buf);
	f->stamp[2 * i + 1] = (size_t)(b + 2 - f->buf);
	return 0;
}

static int build(struct frames *f, size_t n, const char *kind, uint64_t seed, const char *marker, uint64_t nuuids)
{
	size_t cap = (n + 1) * 1024 + 4096, used = 0;
	uint64_t rng = seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
	char uuid[37], euuid[37], value[128];
	long ts = (long)time(NULL);
	f->buf = malloc(cap);
	f->off = malloc((n + 2) * sizeof(*f->off));
	int stamp = strcmp(kind, "stamp") == 0;
	f->stamp = stamp ? calloc(2 * (n + 1), sizeof(*f->stamp)) : NULL;
	if (!f->buf || !f->off || (stamp && !f->stamp))
		return -1;
	euuid[0] = 0;
	for (size_t i = 0; i <= n; i++) {
		size_t j = nuuids && i < n ? (size_t)(i % nuuids) : i; /* the attribute this frame is */
		uint64_t id = seed * 100000000u + j + 1, ev = seed * 1000000u + j / PER_EVENT + 1;
		const char *type;
		if (nuuids) {
			keyed_uuid(seed, 2 * (uint64_t)(j / PER_EVENT) + 1, euuid);
			keyed_uuid(seed, 2 * (uint64_t)j, uuid);
		} else {
			if (i % PER_EVENT == 0 || i == n)
				uuid4(&rng, euuid);
			uuid4(&rng, uuid);
		}
		if (i == n) {
			type = "domain";
			snprintf(value, sizeof(value), "%s", marker);
		} else if (stamp) {
			type = "domain";
			snprintf(value, sizeof(value), "t" STAMP_ZEROS "-%zu.s%" PRIu64 ".bench.example", i, seed);
		} else if (strcmp(kind, "domain") == 0 || (strcmp(kind, "mixed") == 0 && (i & 1))) {
			type = "domain";
			snprintf(value, sizeof(value), "f%zu.s%" PRIu64 ".flood.example", i, seed);
		} else {
			type = "ip-dst";
			snprintf(value, sizeof(value), "10.%zu.%zu.%zu", (i >> 16) & 255, (i >> 8) & 255, i & 255);
		}
		f->off[i] = used;
		size_t len = frame(f->buf + used, cap - used, id, ev, type, value, uuid, euuid, ts);
		if (len == 0 || (stamp && i < n && mark_stamp(f, i, f->buf + used, len) != 0))
			return -1;
		used += len;
	}
	f->off[n + 1] = used;
	f->n = n + 1;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: zmq_flood --port PORT [--count N] [--rate MSG_S] [--type ip|domain|mixed|stamp]\n"
			"                 [--uuids K] [--seed S] [--marker VALUE] [--wait-timeout S] [--linger-ms MS]\n"
			"                 [--hold-s S]\n");
}

int main(int argc, char **argv)
{
	long port = 0, linger_ms = 120000;
	size_t count = 1000000;
	double rate = 0, wait_s = 60, hold_s = 0;
	uint64_t seed = 1, nuuids = 0;
	const char *kind = "ip", *marker = "marker.zmq-flood.example";
	/* options come in pairs: "--name value" */
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			usage();
			return 2;
		}
		if (strcmp(a, "--port") == 0)
			port = strtol(v, NULL, 10);
		else if (strcmp(a, "--count") == 0)
			count = (size_t)strtoull(v, NULL, 10);
		else if (strcmp(a, "--rate") == 0)
			rate = strtod(v, NULL);
		else if (strcmp(a, "--type") == 0)
			kind = v;
		else if (strcmp(a, "--uuids") == 0)
			nuuids = strtoull(v, NULL, 10);
		else if (strcmp(a, "--seed") == 0)
			seed = strtoull(v, NULL, 10);
		else if (strcmp(a, "--marker") == 0)
			marker = v;
		else if (strcmp(a, "--wait-timeout") == 0)
			wait_s = strtod(v, NULL);
		else if (strcmp(a, "--linger-ms") == 0)
			linger_ms = strtol(v, NULL, 10);
		else if (strcmp(a, "--hold-s") == 0)
			hold_s = strtod(v, NULL);
		else {
			usage();
			return 2;
		}
	}
	if (port <= 0 || port > 65535 || count > 16000000 || strlen(marker) > 100 ||
	    (strcmp(kind, "ip") != 0 && strcmp(kind, "domain") != 0 && strcmp(kind, "mixed") != 0 &&
	     strcmp(kind, "stamp") != 0)) {
		usage();
		return 2;
	}

	struct frames fr = {0};
	double b0 = mono_s();
	if (build(&fr, count, kind, seed, marker, nuuids) != 0) {
		fprintf(stderr, "zmq_flood: out of memory building %zu frames\n", count);
		return 1;
	}
	double build_s = mono_s() - b0;

	int rc = 1, hwm = 0, linger = (int)linger_ms;
	void *ctx = zmq_ctx_new();
	void *sock = zmq_socket(ctx, ZMQ_XPUB);
	char ep[64];
	snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%ld", port);
	if (!sock || zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0 ||
	    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 || zmq_bind(sock, ep) != 0) {
		fprintf(stderr, "zmq_flood: %s: %s\n", ep, zmq_strerror(errno));
		goto out;
	}
	fprintf(stderr, "zmq_flood: %zu frames (+1 marker), %.1f MB built in %.2f s; waiting for a subscriber on %s\n",
		count, (double)fr.off[fr.n] / 1e6, build_s, ep);

	/* A subscription message (first byte 1) means a subscriber is attached. */
	zmq_pollitem_t pi = {sock, 0, ZMQ_POLLIN, 0};
	double deadline = mono_s() + wait_s;
	for (;;) {
		double left = deadline - mono_s();
		if (left <= 0) {
			fprintf(stderr, "zmq_flood: no subscriber within %.0f s\n", wait_s);
			goto out;
		}
		if (zmq_poll(&pi, 1, (long)(left * 1000) + 1) > 0) {
			unsigned char sub[256];
			int n = zmq_recv(sock, sub, sizeof(sub), ZMQ_DONTWAIT);
			if (n > 0 && sub[0] == 1)
				break;
		}
	}

	double t_first = wall_s(), m0 = mono_s();
	size_t pace_mask = rate > 20000 ? 63 : 0;
	for (size_t i = 0; i < fr.n; i++) {
		if (rate > 0 && (i & pace_mask) == 0) {
			double due = m0 + (double)i / rate, now = mono_s();
			if (due > now) {
				struct timespec d = {(time_t)(due - now), (long)((due - now - (double)(time_t)(due - now)) * 1e9)};
				nanosleep(&d, NULL);
			}
		}
		if (fr.stamp && fr.stamp[2 * i]) {
			/* the send time, written just before the frame goes (never touched again: send_const) */
			char d[24];
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			snprintf(d, sizeof(d), "%019" PRIu64,
				 (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec);
			memcpy(fr.buf + fr.stamp[2 * i], d, 19);
			memcpy(fr.buf + fr.stamp[2 * i + 1], d, 19);
		}
		if (zmq_send_const(sock, fr.buf + fr.off[i], fr.off[i + 1] - fr.off[i], 0) < 0) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			fprintf(stderr, "zmq_flood: send: %s\n", zmq_strerror(errno));
			goto out;
		}
	}
	double send_s = mono_s() - m0, t_last = wall_s();
	if (hold_s > 0) {
		/*
		 * Stay connected while the subscriber drains: closing a TCP socket
		 * with unread input (the subscriber's ZMTP heartbeats) sends a
		 * reset, and the subscriber's kernel then drops what it had not read
		 * yet. MISP's publisher does not go away after a burst either.
		 */
		printf("zmq_flood sent=%zu marker=1 bytes=%zu build_s=%.3f t_first=%.6f t_last=%.6f send_s=%.4f rate=%.0f "
		       "flushed=held\n",
		       count, fr.off[fr.n], build_s, t_first, t_last, send_s, (double)fr.n / send_s);
		fflush(stdout);
		struct timespec ts = {(time_t)hold_s, (long)((hold_s - (double)(time_t)hold_s) * 1e9)};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		rc = 0;
		goto out;
	}
	zmq_close(sock); /* linger: libzmq keeps sending what is queued */
	sock = NULL;
	double f0 = mono_s();
	zmq_ctx_term(ctx); /* returns when the queue is flushed or the linger ran out */
	ctx = NULL;
	int flushed = (mono_s() - f0) * 1000 < (double)linger_ms;
	printf("zmq_flood sent=%zu marker=1 bytes=%zu build_s=%.3f t_first=%.6f t_last=%.6f send_s=%.4f rate=%.0f "
	       "flushed=%s\n",
	       count, fr.off[fr.n], build_s, t_first, t_last, send_s, (double)fr.n / send_s, flushed ? "yes" : "no");
	fflush(stdout);
	rc = 0;
out:
	if (sock)
		zmq_close(sock);
	if (ctx)
		zmq_ctx_term(ctx);
	free(fr.buf);
	free(fr.off);
	free(fr.stamp);
	return rc;
}
