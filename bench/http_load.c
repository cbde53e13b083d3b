/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keep-alive load for the MISP-compatible read API (bench/bench_mispapi.sh):
 * CONNS threads, each on one HTTP/1.1 connection, send PyMISP-shaped
 * single-value restSearch POSTs one after the other (as a script or a
 * Logstash ruby filter does) for DURATION seconds, values "10.a.b.c" drawn
 * from the first N, and check each answer is a 200 with a body. Prints one
 * JSON line: requests/s, hits (answers with an attribute), p50/p99/max µs.
 *
 *   http_load PORT KEY CONNS DURATION N [walk [BODY]]
 *
 * With "walk", one more connection first sends BODY (default: every ip-dst
 * attribute, a streamed walk of the whole store) and reads the answer as
 * fast as it can; the line then also has the walk's attributes, bytes and
 * seconds, and the other connections' latencies show what the walk costs
 * them.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LAT 4000000

static int port, nconns, nvals;
static double duration;
static const char *key;
static atomic_int stop;
static atomic_long hits;
static unsigned *lat; /* µs per request, all threads */
static atomic_long nlat;
static atomic_int walk_done; /* the walk's answer is read */
static const char *walk_body = "{\"returnFormat\": \"json\", \"type\": \"ip-dst\"}";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Attributes are counted by a key only MISP's attribute rows have (not Event, not Tag). */
#define MARK "\"disable_correlation\":"
#define MARKLEN (sizeof(MARK) - 1)

/* Count MARK in p[0..n), also across the previous piece: tail holds its last MARKLEN-1 bytes. */
static long count_marks(char *tail, size_t *tlen, const char *p, size_t n)
{
	char join[2 * MARKLEN];
	size_t k = n < MARKLEN - 1 ? n : MARKLEN - 1, jl = *tlen + k;
	long c = 0;

	memcpy(join, tail, *tlen);
	memcpy(join + *tlen, p, k);
	/* join is shorter than two marks and each side shorter than one: only a mark across the cut */
	if (memmem(join, jl, MARK, MARKLEN))
		c++;
	for (const char *q = p; (q = memmem(q, (size_t)(p + n - q), MARK, MARKLEN)); q += MARKLEN)
		c++;
	if (n >= MARKLEN - 1) {
		memcpy(tail, p + n - (MARKLEN - 1), MARKLEN - 1);
		*tlen = MARKLEN - 1;
	} else {
		size_t keep = *tlen + n > MARKLEN - 1 ? MARKLEN - 1 - n : *tlen;
		memmove(tail, tail + *tlen - keep, keep);
		memcpy(tail + keep, p, n);
		*tlen = keep + n;
	}
	return c;
}

/*
 * Read one response: headers, then a Content-Length body or a chunked one.
 * Returns the body length, sets *attrs to the number of attributes in it
 * and *status.
 */
static long read_response(int fd, char *buf, size_t cap, int *status, long *attrs)
{
	size_t have = 0, hdr_end = 0, body_at;
	long clen = -1, total = 0;
	int chunked = 0;
	char tail[MARKLEN];
	size_t tlen = 0;

	*attrs = 0;
	for (;;) {
		ssize_t n = read(fd, buf + have, cap - 1 - have);
		char *e;

		if (n <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		e = strstr(buf, "\r\n\r\n");
		if (e) {
			hdr_end = (size_t)(e - buf) + 4;
			break;
		}
	}
	*status = atoi(buf + 9);
	{
		char *cl = strcasestr(buf, "\r\ncontent-length:");
		if (cl && cl < buf + hdr_end)
			clen = atol(cl + 17);
		chunked = strcasestr(buf, "\r\ntransfer-encoding: chunked") != NULL;
	}
	body_at = hdr_end;
	if (!chunked) {
		while ((long)(have - body_at) < clen) {
			ssize_t n = read(fd, buf + have, cap - 1 - have);
			if (n <= 0)
				return -1;
			have += (size_t)n;
		}
		*attrs = count_marks(tail, &tlen, buf + body_at, have - body_at);
		return clen;
	}
	/* Chunked: parse chunk sizes, counting attributes across chunk boundaries too. */
	memmove(buf, buf + body_at, have - body_at);
	have -= body_at;
	for (;;) {
		char *crlf;
		long sz;

		while (!(crlf = memmem(buf, have, "\r\n", 2))) {
			ssize_t n = read(fd, buf + have, cap - 1 - have);
			if (n <= 0)
				return -1;
			have += (size_t)n;
		}
		sz = strtol(buf, NULL, 16);
		size_t off = (size_t)(crlf - buf) + 2;
		if (sz == 0) {
			/* the final CRLF */
			while (have < off + 2) {
				ssize_t n = read(fd, buf + have, cap - 1 - have);
				if (n <= 0)
					return -1;
				have += (size_t)n;
			}
			return total;
		}
		while (have < off + (size_t)sz + 2) {
			ssize_t n = read(fd, buf + have, cap - 1 - have);
			if (n <= 0)
				return -1;
			have += (size_t)n;
		}
		*attrs += count_marks(tail, &tlen, buf + off, (size_t)sz);
		total += sz;
		memmove(buf, buf + off + sz + 2, have - off - (size_t)sz - 2);
		have -= off + (size_t)sz + 2;
	}
}

static int send_req(int fd, const char *body)
{
	char req[2048];
	int n = snprintf(req, sizeof(req),
			 "POST /attributes/restSearch HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
			 "User-Agent: PyMISP 2.4.198 - Python 3.11.2\r\nAccept-Encoding: gzip, deflate\r\n"
			 "Accept: application/json\r\nConnection: keep-alive\r\nAuthorization: %s\r\n"
			 "content-type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			 port, key, strlen(body), body);

	return write(fd, req, (size_t)n) == n ? 0 : -1;
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u + 1;
	char *buf = malloc(1 << 20);
	int fd = dial();

	while (!atomic_load(&stop)) {
		char body[512];
		unsigned i = (unsigned)rand_r(&seed) % (unsigned)nvals;
		int status = 0;
		long attrs;
		double t0 = now_s();

		snprintf(body, sizeof(body),
			 "{\"returnFormat\": \"json\", \"value\": \"10.%u.%u.%u\", \"withAttachments\": 0, "
			 "\"metadata\": 0, \"enforceWarninglist\": 0, \"includeEventUuid\": 0, \"includeEventTags\": 1, "
			 "\"sgReferenceOnly\": 0, \"includeContext\": 0, \"headerless\": 0, \"includeSightings\": 0, "
			 "\"includeDecayScore\": 0, \"includeCorrelations\": 0, \"excludeDecayed\": 0}",
			 i >> 16 & 255, i >> 8 & 255, i & 255);
		if (send_req(fd, body) < 0 || read_response(fd, buf, 1 << 20, &status, &attrs) < 0 || status != 200) {
			fprintf(stderr, "request failed (status %d)\n", status);
			exit(1);
		}
		if (attrs)
			atomic_fetch_add(&hits, 1);
		long k = atomic_fetch_add(&nlat, 1);
		if (k < MAX_LAT)
			lat[k] = (unsigned)((now_s() - t0) * 1e6);
	}
	close(fd);
	free(buf);
	return NULL;
}

struct walk_res {
	long attrs, bytes;
	double secs;
};

static void *walker(void *arg)
{
	struct walk_res *r = arg;
	char *buf = malloc(8 << 20);
	int fd = dial(), status = 0;
	double t0 = now_s();

	if (send_req(fd, walk_body) < 0)
		exit(1);
	r->bytes = read_response(fd, buf, 8 << 20, &status, &r->attrs);
	r->secs = now_s() - t0;
	atomic_store(&walk_done, 1);
	if (r->bytes < 0 || status != 200) {
		fprintf(stderr, "walk failed (status %d)\n", status);
		exit(1);
	}
	close(fd);
	free(buf);
	return NULL;
}

static int cmp_u(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	pthread_t th[256], wt;
	struct walk_res wr = {0, 0, 0};
	int walk;
	double t0, el;
	long n;

	if (argc < 6) {
		fprintf(stderr, "usage: http_load PORT KEY CONNS DURATION N [walk]\n");
		return 2;
	}
	port = atoi(argv[1]);
	key = argv[2];
	nconns = atoi(argv[3]);
	duration = atof(argv[4]);
	nvals = atoi(argv[5]);
	walk = argc > 6 && strcmp(argv[6], "walk") == 0;
	if (walk && argc > 7)
		walk_body = argv[7];
	if (nconns < 1 || nconns > 256 || nvals < 1)
		return 2;
	lat = calloc(MAX_LAT, sizeof(*lat));
	if (walk)
		pthread_create(&wt, NULL, walker, &wr);
	t0 = now_s();
	for (int i = 0; i < nconns; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	while (now_s() - t0 < duration && !atomic_load(&walk_done))
		usleep(10000);
	atomic_store(&stop, 1);
	for (int i = 0; i < nconns; i++)
		pthread_join(th[i], NULL);
	el = now_s() - t0;
	if (walk)
		pthread_join(wt, NULL);
	n = atomic_load(&nlat);
	if (n > MAX_LAT)
		n = MAX_LAT;
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u);
	printf("{\"requests_per_s\": %.0f, \"requests\": %ld, \"hits\": %ld, \"p50_us\": %u, \"p99_us\": %u, "
	       "\"max_us\": %u",
	       (double)atomic_load(&nlat) / el, atomic_load(&nlat), atomic_load(&hits), n ? lat[n / 2] : 0,
	       n ? lat[n * 99 / 100] : 0, n ? lat[n - 1] : 0);
	if (walk)
		printf(", \"walk_attributes\": %ld, \"walk_bytes\": %ld, \"walk_s\": %.2f", wr.attrs, wr.bytes, wr.secs);
	printf("}\n");
	free(lat);
	return 0;
}
