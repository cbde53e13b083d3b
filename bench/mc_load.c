/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Load generator for the memcached endpoint benchmark (bench/bench_memcached.sh):
 * CONNS connections (one thread each), each sending pipelined binary batches
 * the way Logstash's Dalli get_multi does (BATCH GETKQ + NOOP in one write),
 * waiting for the NOOP answer, for SECONDS. A key is a hit candidate
 * "ip-dst-10.<i>" (i < NHIT, as bench_memcached.sh loads) with probability
 * HITPCT %, else a miss "domain-m<r>.miss.example". Prints one JSON line:
 * batches, keys, hits, keys/s, p50/p99 batch round trip in microseconds.
 *
 *   mc_load PORT CONNS SECONDS BATCH NHIT HITPCT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXLAT 4000000

struct worker {
	pthread_t t;
	int port, batch, nhit, hitpct;
	double seconds;
	uint64_t batches, keys, hits, seed;
	uint32_t *lat;
	size_t nlat;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t put_req(uint8_t *p, uint8_t op, const char *key)
{
	size_t kl = strlen(key);
	memset(p, 0, 24);
	p[0] = 0x80;
	p[1] = op;
	p[2] = (uint8_t)(kl >> 8);
	p[3] = (uint8_t)kl;
	p[10] = (uint8_t)(kl >> 8);
	p[11] = (uint8_t)kl;
	memcpy(p + 24, key, kl);
	return 24 + kl;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Read answers until the NOOP's; count GETKQ hits. */
static int read_batch(int fd, struct worker *w)
{
	uint8_t h[24], body[4096];

	for (;;) {
		uint32_t bl;
		if (read_full(fd, h, 24) < 0)
			return -1;
		bl = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
		if (bl > sizeof body || read_full(fd, body, bl) < 0)
			return -1;
		if (h[1] == 0x0a)
			return 0;
		if (h[1] == 0x0d && h[6] == 0 && h[7] == 0)
			w->hits++;
	}
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w->port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	uint8_t req[65536];
	double end;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		perror("connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	end = now() + w->seconds;
	while (now() < end) {
		size_t n = 0;
		double t0 = now();
		for (int i = 0; i < w->batch; i++) {
			char key[64];
			w->seed = w->seed * 6364136223846793005ULL + 1442695040888963407ULL;
			uint32_t r = (uint32_t)(w->seed >> 33);
			if ((int)(r % 100) < w->hitpct) {
				uint32_t k = r / 100 % (uint32_t)w->nhit;
				snprintf(key, sizeof key, "ip-dst-10.%u.%u.%u", k >> 16 & 255, k >> 8 & 255, k & 255);
			} else {
				snprintf(key, sizeof key, "domain-m%u.miss.example", r);
			}
			n += put_req(req + n, 0x0d, key);
		}
		n += put_req(req + n, 0x0a, "");
		if (send(fd, req, n, MSG_NOSIGNAL) != (ssize_t)n || read_batch(fd, w) < 0) {
			fprintf(stderr, "connection failed\n");
			exit(1);
		}
		if (w->nlat < MAXLAT)
			w->lat[w->nlat++] = (uint32_t)((now() - t0) * 1e6);
		w->batches++;
		w->keys += (uint64_t)w->batch;
	}
	close(fd);
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int conns;
	struct worker *w;
	uint64_t batches = 0, keys = 0, hits = 0;
	uint32_t *all;
	size_t nall = 0;
	double secs;

	if (argc != 7) {
		fprintf(stderr, "usage: mc_load PORT CONNS SECONDS BATCH NHIT HITPCT\n");
		return 2;
	}
	conns = atoi(argv[2]);
	secs = atof(argv[3]);
	w = calloc((size_t)conns, sizeof *w);
	for (int i = 0; i < conns; i++) {
		w[i] = (struct worker){.port = atoi(argv[1]), .batch = atoi(argv[4]), .nhit = atoi(argv[5]),
				       .hitpct = atoi(argv[6]), .seconds = secs, .seed = (uint64_t)i * 7919 + 1};
		w[i].lat = malloc(sizeof(uint32_t) * MAXLAT);
		pthread_create(&w[i].t, NULL, run, &w[i]);
	}
	all = malloc(sizeof(uint32_t) * MAXLAT * (size_t)conns);
	for (int i = 0; i < conns; i++) {
		pthread_join(w[i].t, NULL);
		batches += w[i].batches;
		keys += w[i].keys;
		hits += w[i].hits;
		memcpy(all + nall, w[i].lat, w[i].nlat * sizeof(uint32_t));
		nall += w[i].nlat;
	}
	qsort(all, nall, sizeof *all, cmp_u32);
	printf("{\"batches\": %llu, \"keys\": %llu, \"hits\": %llu, \"keys_per_s\": %.0f, \"p50_us\": %u, "
	       "\"p99_us\": %u}\n",
	       (unsigned long long)batches, (unsigned long long)keys, (unsigned long long)hits, (double)keys / secs,
	       nall ? all[nall / 2] : 0, nall ? all[nall * 99 / 100] : 0);
	return 0;
}
