/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Publish -> matchable latency probe for `iocbus run` (bench/bench_run.sh,
 * issue #4 (b)); the C twin of latency_probe.py, with the same options and
 * output line, for a finer resolution than Python's http.client allows.
 *
 *   latency_probe --zmq-port P --http-port H [--samples N] [--rate R]
 *                 [--load L] [--timeout S] [--wait S] [--seed N]
 *                 [--poll-gap-us U] [--samples-out FILE]
 *
 * Binds an XPUB on 127.0.0.1:P (the daemon's misp.zmq points at it) and
 * waits for the subscription. Then, one sample at a time, paced at R/s:
 * builds a misp_json_attribute add frame in MISP's exact compact shape with
 * a unique domain value, takes t0, sends it, and polls GET /v1/lookup on one
 * keep-alive connection until the answer has a match; latency = time of that
 * answer - t0. Polls are U µs apart (default 50): back-to-back polling would
 * keep the daemon's HTTP thread busy on the very core whose intake we time.
 * With --load L, filler attributes at L msg/s go out from the same socket.
 * Prints one line:
 *   latency samples=N p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. mean_ms=..
 *   poll_rtt_us=.. polls_per_sample=.. load_msgs=.. timeouts=.. wall_s=..
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "bench_stats.h"

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	double now = mono();
	if (t <= now)
		return;
	struct timespec ts = {(time_t)(t - now), (long)(((t - now) - (double)(time_t)(t - now)) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One keep-alive HTTP/1.1 connection to the daemon. */
struct http {
	int fd;
	char buf[1 << 16];
};

static int http_connect(struct http *h, int port)
{
	struct sockaddr_in sa = {0};
	int one = 1;

	h->fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (h->fd < 0 || connect(h->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return -1;
	setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

/* GET /v1/lookup?value=V; 1 on a match, 0 on a miss, -1 on an error. */
static int http_lookup(struct http *h, const char *value)
{
	char req[512];
	int n = snprintf(req, sizeof(req), "GET /v1/lookup?value=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", value);
	size_t got = 0, need = 0;

	if (n <= 0 || (size_t)n >= sizeof(req) || send(h->fd, req, (size_t)n, 0) != n)
		return -1;
	for (;;) {
		ssize_t r = recv(h->fd, h->buf + got, sizeof(h->buf) - 1 - got, 0);
		if (r <= 0)
			return -1;
		got += (size_t)r;
		h->buf[got] = '\0';
		char *end = strstr(h->buf, "\r\n\r\n");
		if (!end)
			continue;
		if (!need) {
			const char *cl = strcasestr(h->buf, "Content-Length:");
			if (!cl || strncmp(h->buf, "HTTP/1.1 200", 12) != 0)
				return -1;
			need = (size_t)(end + 4 - h->buf) + strtoul(cl + 15, NULL, 10);
			if (need >= sizeof(h->buf))
				return -1;
		}
		if (got >= need)
			break;
	}
	return strstr(h->buf, "\"matches\":[{") != NULL;
}

static const char frame_fmt[] =
	"misp_json_attribute {\"Attribute\":{\"id\":\"%ld\",\"event_id\":\"%ld\",\"object_id\":\"0\","
	"\"object_relation\":null,\"category\":\"Network activity\",\"type\":\"domain\",\"value1\":\"%s\","
	"\"value2\":\"\",\"to_ids\":true,\"uuid\":\"%08lx-0000-4000-8000-%012lx\",\"timestamp\":\"%ld\","
	"\"distribution\":\"5\",\"sharing_group_id\":\"0\",\"comment\":\"\",\"deleted\":false,"
	"\"disable_correlation\":false,\"first_seen\":null,\"last_seen\":null,\"value\":\"%s\",\"Sighting\":[]},"
	"\"Event\":{\"id\":\"%ld\",\"date\":\"2024-10-21\",\"info\":\"latency probe\","
	"\"uuid\":\"%08lx-1111-4000-8000-000000000001\",\"published\":false,\"analysis\":\"1\","
	"\"threat_level_id\":\"2\",\"org_id\":\"1\",\"orgc_id\":\"2\",\"distribution\":\"1\","
	"\"sharing_group_id\":\"0\",\"Orgc\":{\"id\":\"2\",\"uuid\":\"aa490ba1-79d0-49eb-b242-8efa1dccfb33\","
	"\"name\":\"EXAMPLE-CERT\"}},\"action\":\"add\"}";

static int send_attr(void *pub, long seed, long i, const char *value, long ts)
{
	char f[2048];
	int n = snprintf(f, sizeof(f), frame_fmt, 700000000 + (seed % 1000) * 100000 + i, 900000 + i / 100, value,
			 (unsigned long)seed, (unsigned long)i, ts, value, 900000 + i / 100, (unsigned long)seed);
	return n > 0 && (size_t)n < sizeof(f) && zmq_send(pub, f, (size_t)n, 0) == n ? 0 : -1;
}

int main(int argc, char **argv)
{
	long zport = 0, hport = 0, samples = 2000, seed = (long)time(NULL), gap_us = 50;
	double rate = 200, load = 0, timeout = 2, wait_s = 60;
	const char *out_path = NULL;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--zmq-port"))
			zport = strtol(v, NULL, 10);
		else if (!strcmp(a, "--http-port"))
			hport = strtol(v, NULL, 10);
		else if (!strcmp(a, "--samples"))
			samples = strtol(v, NULL, 10);
		else if (!strcmp(a, "--rate"))
			rate = strtod(v, NULL);
		else if (!strcmp(a, "--load"))
			load = strtod(v, NULL);
		else if (!strcmp(a, "--timeout"))
			timeout = strtod(v, NULL);
		else if (!strcmp(a, "--wait"))
			wait_s = strtod(v, NULL);
		else if (!strcmp(a, "--seed"))
			seed = strtol(v, NULL, 10);
		else if (!strcmp(a, "--poll-gap-us"))
			gap_us = strtol(v, NULL, 10);
		else if (!strcmp(a, "--samples-out"))
			out_path = v;
		else {
			fprintf(stderr, "latency_probe: unknown option %s\n", a);
			return 2;
		}
	}
	if (zport <= 0 || hport <= 0 || samples <= 0 || samples > 10000000 || rate <= 0) {
		fprintf(stderr, "usage: latency_probe --zmq-port P --http-port H [--samples N] [--rate R] [--load L] "
				"[--timeout S] [--wait S] [--seed N] [--poll-gap-us U] [--samples-out FILE]\n");
		return 2;
	}

	void *ctx = zmq_ctx_new(), *pub = zmq_socket(ctx, ZMQ_XPUB);
	int hwm = 0, linger = 2000;
	char ep[64], sub[256], value[128];
	zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof(linger));
	snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%ld", zport);
	if (zmq_bind(pub, ep) != 0) {
		fprintf(stderr, "latency_probe: bind %s: %s\n", ep, zmq_strerror(errno));
		return 1;
	}
	zmq_pollitem_t it = {pub, 0, ZMQ_POLLIN, 0};
	if (zmq_poll(&it, 1, (long)(wait_s * 1000)) <= 0 || zmq_recv(pub, sub, sizeof(sub), 0) < 0) {
		fprintf(stderr, "latency_probe: no subscriber within %.0f s\n", wait_s);
		return 1;
	}
	struct http *h = calloc(1, sizeof(*h));
	double *lat = calloc((size_t)samples, sizeof(double));
	if (!h || !lat || http_connect(h, (int)hport) != 0) {
		fprintf(stderr, "latency_probe: cannot reach the daemon's HTTP port %ld\n", hport);
		return 1;
	}
	snprintf(value, sizeof(value), "warmup.s%ld.probe.example", seed);
	if (http_lookup(h, value) != 0) {
		fprintf(stderr, "latency_probe: warm-up lookup failed or matched\n");
		return 1;
	}
	long ts = (long)time(NULL), nlat = 0, timeouts = 0, polls = 0, load_sent = 0;
	double rtt_total = 0, start = mono(), interval = 1.0 / rate;
	for (long i = 0; i < samples; i++) {
		double due = start + (double)i * interval;
		if (load > 0) {
			long want = (long)((due - start) * load);
			while (load_sent < want) {
				snprintf(value, sizeof(value), "bg%ld.s%ld.probe.example", load_sent, seed);
				if (send_attr(pub, seed, 10000000 + load_sent, value, ts) != 0)
					return 1;
				load_sent++;
			}
		}
		sleep_until(due);
		snprintf(value, sizeof(value), "lat%ld.s%ld.probe.example", i, seed);
		double t0 = mono();
		if (send_attr(pub, seed, i, value, ts) != 0)
			return 1;
		for (;;) {
			double p0 = mono();
			int hit = http_lookup(h, value);
			double p1 = mono();
			if (hit < 0) {
				fprintf(stderr, "latency_probe: lookup failed\n");
				return 1;
			}
			polls++;
			rtt_total += p1 - p0;
			if (hit) {
				lat[nlat++] = (p1 - t0) * 1000.0;
				break;
			}
			if (p1 - t0 > timeout) {
				timeouts++;
				break;
			}
			sleep_until(p1 + (double)gap_us / 1e6);
		}
	}
	double wall = mono() - start, sum = 0;
	if (out_path) {
		FILE *f = fopen(out_path, "w");
		for (long i = 0; f && i < nlat; i++)
			fprintf(f, "%.4f\n", lat[i]);
		if (f)
			fclose(f);
	}
	for (long i = 0; i < nlat; i++)
		sum += lat[i];
	qsort(lat, (size_t)nlat, sizeof(double), bench_cmp_double);
	printf("latency samples=%ld p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f poll_rtt_us=%.1f "
	       "polls_per_sample=%.2f load_msgs=%ld timeouts=%ld wall_s=%.2f poll_gap_us=%ld\n",
	       nlat, bench_pct(lat, (size_t)nlat, 50), bench_pct(lat, (size_t)nlat, 90),
	       bench_pct(lat, (size_t)nlat, 99),
	       nlat ? lat[nlat - 1] : 0.0, nlat ? sum / (double)nlat : 0.0, polls ? rtt_total / (double)polls * 1e6 : 0.0,
	       (double)polls / (double)samples, load_sent, timeouts, wall, gap_us);
	fflush(stdout);
	close(h->fd);
	free(h);
	free(lat);
	zmq_close(pub);
	zmq_ctx_term(ctx);
	return timeouts ? 1 : 0;
}
