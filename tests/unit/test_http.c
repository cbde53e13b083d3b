/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the HTTP endpoint (http.h) and the Prometheus rendering of
 * the sources' counters (iocb_sources_sync_metrics_render in sources.h).
 *
 * The endpoint is started on 127.0.0.1 with an ephemeral port over a memory
 * store filled by hand, and spoken to with raw sockets, so what is checked
 * is the bytes on the wire. Every socket has a receive timeout, so a server
 * that never answers fails the test instead of hanging it; nothing waits by
 * sleeping.
 */
#include "serve/http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "fixture_store.h"
#include "json/json.h"
#include "serve/render/render.h"
#include "sources/sources.h"
#include "store/store.h"

/* Hits per value in a /v1/lookup answer (http.c's IOCB_HTTP_MAX_HITS). */
#define HTTP_MAX_HITS 32

/* ------------------------------------------------------------ store fixture */

/*
 * fixture_attr_make() as the endpoint tests use it: one part, always in an
 * event, flagged an indicator, with a comment whose quotes the JSON must
 * escape.
 */
static const struct iocb_misp_attr *mk(struct fixture_attr *t, uint64_t n, const char *type, const char *p0,
				       int prefix, uint64_t event, bool to_ids)
{
	fixture_attr_make(t, n, type, p0, NULL, prefix, event, to_ids);
	t->a.indicator = true;
	t->a.comment = IOCB_STR_LIT("test \"comment\"");
	return &t->a;
}

/*
 * A memory store with: 2 ip-dst (one a /24), 1 domain, 1 url, 1 filename,
 * 1 non-IDS md5 (events 1 and 2), and 33 ip-dst 192.0.2.200 in event 3.
 */
static struct iocb_store *fill_store(void)
{
	struct iocb_store *s = fixture_store_open(false);
	struct iocb_err err;
	struct fixture_attr t;

	fixture_store_upsert(s, mk(&t, 1, "ip-dst", "198.51.100.7", -1, 1, true));
	fixture_store_upsert(s, mk(&t, 2, "ip-dst", "203.0.113.0/24", 24, 1, true));
	fixture_store_upsert(s, mk(&t, 3, "domain", "evil.example", -1, 2, true));
	fixture_store_upsert(s, mk(&t, 4, "url", "http://evil.example/x/y", -1, 2, true));
	fixture_store_upsert(s, mk(&t, 5, "filename", "a+b.exe", -1, 2, true));
	fixture_store_upsert(s, mk(&t, 6, "md5", "d41d8cd98f00b204e9800998ecf8427e", -1, 2, false));
	for (uint64_t i = 0; i < HTTP_MAX_HITS + 1; i++)
		fixture_store_upsert(s, mk(&t, 100 + i, "ip-dst", "192.0.2.200", -1, 3, true));
	assert_int_equal(iocb_store_commit(s, &err), IOCB_OK);
	return s;
}

/* ------------------------------------------------------------ handlers */

struct hctx {
	int metrics_calls;        /* atomic: times the metrics handler ran */
	int healthy;              /* atomic: what the health handler answers */
	int metrics_empty;        /* atomic: metrics handler appends nothing */
	struct iocb_sources_sync *sync;   /* atomic: when set, /metrics renders it */
};

static void h_metrics(void *ud, struct iocb_buf *out)
{
	struct hctx *c = ud;

	__atomic_fetch_add(&c->metrics_calls, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&c->metrics_empty, __ATOMIC_RELAXED))
		return;
	struct iocb_sources_sync *y = __atomic_load_n(&c->sync, __ATOMIC_ACQUIRE);
	if (y) {
		iocb_sources_sync_metrics_render(y, out);
		return;
	}
	assert_int_equal(iocb_buf_append_c(out, "# HELP t_x A test.\n# TYPE t_x gauge\nt_x 1\n"), IOCB_OK);
}

static bool h_health(void *ud, struct iocb_buf *out)
{
	struct hctx *c = ud;

	if (__atomic_load_n(&c->healthy, __ATOMIC_RELAXED)) {
		assert_int_equal(iocb_buf_append_c(out, "ok"), IOCB_OK);
		return true;
	}
	assert_int_equal(iocb_buf_append_c(out, "store: not open"), IOCB_OK);
	return false;
}

/* Per-group state: a store, a running endpoint, its port. */
struct fix {
	struct iocb_store *store;
	struct iocb_httpd *d;
	uint16_t port;
	struct hctx ctx;
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	struct iocb_http_opts o = {.host = "127.0.0.1", .port = 0, .max_connections = 16};
	struct iocb_err err;

	if (!f)
		return -1;
	*state = f;
	struct iocb_http_handlers h = {h_metrics, h_health, &f->ctx, NULL};
	f->ctx.healthy = 1;
	f->store = fill_store();
	if (iocb_http_start(&o, f->store, &h, &f->d, &f->port, &err) != IOCB_OK) {
		fprintf(stderr, "start: %s\n", err.msg);
		return -1;
	}
	iocb_store_reader_register();
	return f->port ? 0 : -1;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	iocb_http_stop(f->d);
	iocb_store_reader_unregister();
	iocb_store_free(f->store);
	free(f);
	return 0;
}

/* ------------------------------------------------------------ client */

struct resp {
	int status;              /* HTTP status, 0 if none could be read */
	char head[8192];         /* status line and headers, NUL-terminated */
	struct iocb_buf body;    /* body bytes */
};

static int connect_to(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct timeval tv = {10, 0};
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	}
	/* A bound on every read: a server that never answers fails the test. */
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		assert_true(k > 0);
		p += k;
		n -= (size_t)k;
	}
}

/* Split what was read into status, head and body. */
static void parse_resp(const char *raw, size_t n, struct resp *r)
{
	const char *end = memmem(raw, n, "\r\n\r\n", 4);

	r->status = 0;
	r->head[0] = '\0';
	iocb_buf_init(&r->body, 0);
	if (!end)
		return;
	size_t hl = (size_t)(end - raw) + 2;
	assert_true(hl < sizeof(r->head));
	memcpy(r->head, raw, hl);
	r->head[hl] = '\0';
	if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
		r->status = 0;
	assert_int_equal(iocb_buf_append(&r->body, end + 4, n - (size_t)(end - raw) - 4), IOCB_OK);
}

/* Send a whole raw request (it should say Connection: close) and read the answer to EOf-> */
static void raw_request(uint16_t port, const char *req, size_t reqlen, struct resp *r)
{
	struct iocb_buf in;
	char buf[16384];
	int fd = connect_to(AF_INET, port);

	iocb_buf_init(&in, 0);
	send_all(fd, req, reqlen);
	for (;;) {
		ssize_t k = recv(fd, buf, sizeof(buf), 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == ECONNRESET)
			break;
		assert_true(k >= 0); /* a timeout fails here */
		if (k == 0)
			break;
		assert_int_equal(iocb_buf_append(&in, buf, (size_t)k), IOCB_OK);
	}
	close(fd);
	parse_resp(in.ptr ? in.ptr : "", in.len, r);
	iocb_buf_fini(&in);
}

static void request(struct fix *f, const char *method, const char *target, struct resp *r)
{
	struct iocb_buf q;

	iocb_buf_init(&q, 0);
	assert_int_equal(iocb_buf_printf(&q, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", method, target),
			 IOCB_OK);
	raw_request(f->port, q.ptr, q.len, r);
	iocb_buf_fini(&q);
}

static void get(struct fix *f, const char *target, struct resp *r)
{
	request(f, "GET", target, r);
}

static void resp_fini(struct resp *r)
{
	iocb_buf_fini(&r->body);
}

/* Value of header `name` (case-insensitive), copied into out; false if absent. */
static bool header(const struct resp *r, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = strstr(r->head, "\r\n");

	while (p && p[2]) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *e = strstr(v, "\r\n");
			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)(e - v), v);
			return true;
		}
		p = strstr(p, "\r\n");
	}
	return false;
}

static void assert_header(const struct resp *r, const char *name, const char *want)
{
	char v[256];

	if (!header(r, name, v, sizeof(v)))
		fail_msg("no %s header in:\n%s", name, r->head);
	assert_string_equal(v, want);
}

static const char *body(const struct resp *r)
{
	return r->body.ptr ? r->body.ptr : "";
}

/* The line iocb_render_lookup_json writes for `raw` (what `iocbus lookup` prints), plus '\n'. */
static void expected_line(struct fix *f, const char *raw, size_t len, struct iocb_buf *out)
{
	struct iocb_store_hit *hits = calloc(HTTP_MAX_HITS, sizeof(*hits));
	struct iocb_jw w;

	assert_non_null(hits);
	iocb_jw_init(&w, out);
	iocb_store_read_lock();
	(void)iocb_render_lookup_json(f->store, &w, iocb_str_make(raw, len), hits, HTTP_MAX_HITS);
	iocb_store_read_unlock();
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	assert_int_equal(iocb_buf_putc(out, '\n'), IOCB_OK);
	free(hits);
}

/* ------------------------------------------------------------ lookup */

static void test_lookup_hit(void **state)
{
	struct fix *f = *state;
	struct resp r;
	struct iocb_buf want;

	get(f, "/v1/lookup?value=198.51.100.7", &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "application/x-ndjson");
	iocb_buf_init(&want, 0);
	expected_line(f, "198.51.100.7", 12, &want);
	assert_non_null(strstr(want.ptr, "\"uuid\":\"0000000a-0000-4000-8000-000000000001\""));
	assert_string_equal(body(&r), want.ptr);
	iocb_buf_fini(&want);
	resp_fini(&r);

	/* A CIDR hit: an address inside 203.0.113.0/24. */
	get(f, "/v1/lookup?value=203.0.113.9", &r);
	assert_int_equal(r.status, 200);
	iocb_buf_init(&want, 0);
	expected_line(f, "203.0.113.9", 11, &want);
	assert_non_null(strstr(want.ptr, "\"prefix\":24"));
	assert_string_equal(body(&r), want.ptr);
	iocb_buf_fini(&want);
	resp_fini(&r);

	/* More matches than the cap: the first 32, and "truncated":true. */
	get(f, "/v1/lookup?value=192.0.2.200", &r);
	assert_int_equal(r.status, 200);
	iocb_buf_init(&want, 0);
	expected_line(f, "192.0.2.200", 11, &want);
	assert_non_null(strstr(want.ptr, "],\"truncated\":true}\n"));
	assert_string_equal(body(&r), want.ptr);
	size_t n = 0;
	for (const char *p = body(&r); (p = strstr(p, "\"attribute\":")) != NULL; p++)
		n++;
	assert_int_equal(n, HTTP_MAX_HITS);
	iocb_buf_fini(&want);
	resp_fini(&r);
}

static void test_lookup_miss(void **state)
{
	struct fix *f = *state;
	struct resp r;

	get(f, "/v1/lookup?value=192.0.2.1", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(body(&r), "{\"value\":\"192.0.2.1\",\"matches\":[]}\n");
	resp_fini(&r);

	/* Non-IDS attributes are not returned (store default match_non_ids=false). */
	get(f, "/v1/lookup?value=d41d8cd98f00b204e9800998ecf8427e", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(body(&r), "{\"value\":\"d41d8cd98f00b204e9800998ecf8427e\",\"matches\":[]}\n");
	resp_fini(&r);

	/* An empty value is a value: looked up, nothing found. */
	get(f, "/v1/lookup?value=", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(body(&r), "{\"value\":\"\",\"matches\":[]}\n");
	resp_fini(&r);
}

static void test_lookup_two_values(void **state)
{
	struct fix *f = *state;
	struct resp r;
	struct iocb_buf want;

	get(f, "/v1/lookup?value=evil.example&other=1&value=192.0.2.1", &r);
	assert_int_equal(r.status, 200);
	iocb_buf_init(&want, 0);
	expected_line(f, "evil.example", 12, &want);
	assert_non_null(strstr(want.ptr, "\"type\":\"domain\""));
	expected_line(f, "192.0.2.1", 9, &want);
	/* Two lines, in the order of the query. */
	assert_string_equal(body(&r), want.ptr);
	iocb_buf_fini(&want);
	resp_fini(&r);
}

static void test_lookup_url_decoding(void **state)
{
	struct fix *f = *state;
	struct resp r;
	struct iocb_buf want;

	/* %2F, %3A: percent-decoded before the lookup. */
	get(f, "/v1/lookup?value=http%3A%2F%2Fevil.example%2Fx%2Fy", &r);
	assert_int_equal(r.status, 200);
	iocb_buf_init(&want, 0);
	expected_line(f, "http://evil.example/x/y", 23, &want);
	assert_non_null(strstr(want.ptr, "\"type\":\"url\""));
	assert_string_equal(body(&r), want.ptr);
	iocb_buf_fini(&want);
	resp_fini(&r);

	/* '+' in a query string is a space (form encoding): "a+b.exe" looks up "a b.exe"... */
	get(f, "/v1/lookup?value=a+b.exe", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(body(&r), "{\"value\":\"a b.exe\",\"matches\":[]}\n");
	resp_fini(&r);
	/* ... and a literal '+' must be sent as %2B. */
	get(f, "/v1/lookup?value=a%2Bb.exe", &r);
	assert_int_equal(r.status, 200);
	iocb_buf_init(&want, 0);
	expected_line(f, "a+b.exe", 7, &want);
	assert_non_null(strstr(want.ptr, "\"type\":\"filename\""));
	assert_string_equal(body(&r), want.ptr);
	iocb_buf_fini(&want);
	resp_fini(&r);

	/* %22 and %5C come back escaped in the JSON; %00 is a byte of the value. */
	get(f, "/v1/lookup?value=%22q%5C", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(body(&r), "{\"value\":\"\\\"q\\\\\",\"matches\":[]}\n");
	resp_fini(&r);
	get(f, "/v1/lookup?value=a%00b", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(body(&r), "{\"value\":\"a\\u0000b\",\"matches\":[]}\n");
	resp_fini(&r);
}

/*
 * Issue #11 item 7: a value with a NUL is not the value before it. MHD hands
 * over the decoded length, but the IP parse used to stop at the NUL.
 */
static void test_lookup_nul(void **state)
{
	static const char *const target[] = {
		"/v1/lookup?value=198.51.100.7%00garbage", "/v1/lookup?value=203.0.113.1%00garbage",
		"/v1/lookup?value=198.51.100.7%00",        "/v1/lookup?value=evil.example%00",
		"/v1/lookup?value=a%2Bb.exe%00",           "/v1/lookup?value=d41d8cd98f00b204e9800998ecf8427e%00",
	};
	static const char *const value[] = {
		"198.51.100.7\\u0000garbage", "203.0.113.1\\u0000garbage", "198.51.100.7\\u0000",
		"evil.example\\u0000",        "a+b.exe\\u0000",            "d41d8cd98f00b204e9800998ecf8427e\\u0000",
	};
	struct fix *f = *state;
	struct resp r;
	char want[256];

	for (size_t i = 0; i < sizeof(target) / sizeof(target[0]); i++) {
		get(f, target[i], &r);
		assert_int_equal(r.status, 200);
		snprintf(want, sizeof(want), "{\"value\":\"%s\",\"matches\":[]}\n", value[i]);
		assert_string_equal(body(&r), want);
		resp_fini(&r);
	}
	/* The same values without the NUL do match. */
	get(f, "/v1/lookup?value=198.51.100.7&value=203.0.113.1&value=evil.example", &r);
	assert_int_equal(r.status, 200);
	assert_null(strstr(body(&r), "\"matches\":[]"));
	resp_fini(&r);
}

static void test_lookup_bad_requests(void **state)
{
	struct fix *f = *state;
	struct resp r;
	struct iocb_buf q;

	get(f, "/v1/lookup", &r);
	assert_int_equal(r.status, 400);
	assert_header(&r, "Content-Type", "application/json");
	assert_string_equal(body(&r), "{\"error\":\"missing value parameter\"}\n");
	resp_fini(&r);

	get(f, "/v1/lookup?values=1.2.3.4&Value=1.2.3.4", &r);
	assert_int_equal(r.status, 400);
	resp_fini(&r);

	/* 100 values are served, 101 are refused. */
	iocb_buf_init(&q, 0);
	assert_int_equal(iocb_buf_append_c(&q, "/v1/lookup?value=10.0.0.0"), IOCB_OK);
	for (int i = 1; i < 100; i++)
		assert_int_equal(iocb_buf_printf(&q, "&value=10.0.0.%d", i), IOCB_OK);
	get(f, q.ptr, &r);
	assert_int_equal(r.status, 200);
	size_t lines = 0;
	for (size_t i = 0; i < r.body.len; i++)
		lines += r.body.ptr[i] == '\n';
	assert_int_equal(lines, 100);
	assert_non_null(strstr(body(&r), "{\"value\":\"10.0.0.99\",\"matches\":[]}\n"));
	resp_fini(&r);
	assert_int_equal(iocb_buf_append_c(&q, "&value=10.0.1.0"), IOCB_OK);
	get(f, q.ptr, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(body(&r), "{\"error\":\"more than 100 values\"}\n");
	resp_fini(&r);
	iocb_buf_fini(&q);
}

static void test_uri_limit(void **state)
{
	struct fix *f = *state;
	struct resp r;
	struct iocb_buf q;

	/* A target of exactly 8192 bytes is served... */
	iocb_buf_init(&q, 0);
	assert_int_equal(iocb_buf_append_c(&q, "/v1/lookup?value="), IOCB_OK);
	while (q.len < 8192)
		assert_int_equal(iocb_buf_putc(&q, 'a'), IOCB_OK);
	get(f, q.ptr, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, strlen("{\"value\":\"\",\"matches\":[]}\n") + 8192 - 17);
	resp_fini(&r);
	/* ... one more byte is refused with 414 ... */
	assert_int_equal(iocb_buf_putc(&q, 'a'), IOCB_OK);
	get(f, q.ptr, &r);
	assert_int_equal(r.status, 414);
	resp_fini(&r);
	/* ... and a request head beyond MHD's connection memory is refused by MHD itself. */
	while (q.len < 64 * 1024)
		assert_int_equal(iocb_buf_putc(&q, 'a'), IOCB_OK);
	get(f, q.ptr, &r);
	assert_true(r.status == 414 || r.status == 431 || r.status == 0);
	resp_fini(&r);
	iocb_buf_fini(&q);
}

/* ------------------------------------------------------------ routes */

static void test_not_found(void **state)
{
	struct fix *f = *state;
	static const char *const paths[] = {"/", "/nope", "/metrics/", "/v1/lookup/", "/healthz/x", "/v1"};
	struct resp r;

	for (size_t i = 0; i < IOCB_ARRAY_LEN(paths); i++) {
		get(f, paths[i], &r);
		assert_int_equal(r.status, 404);
		assert_header(&r, "Content-Type", "application/json");
		assert_string_equal(body(&r), "{\"error\":\"not found\"}\n");
		resp_fini(&r);
	}
}

static void test_method_not_allowed(void **state)
{
	struct fix *f = *state;
	static const char req[] = "POST /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
				  "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
	int before = __atomic_load_n(&f->ctx.metrics_calls, __ATOMIC_RELAXED);
	struct resp r;

	raw_request(f->port, req, sizeof(req) - 1, &r);
	assert_int_equal(r.status, 405);
	assert_header(&r, "Allow", "GET, HEAD");
	assert_string_equal(body(&r), "{\"error\":\"method not allowed\"}\n");
	resp_fini(&r);
	assert_int_equal(__atomic_load_n(&f->ctx.metrics_calls, __ATOMIC_RELAXED), before);

	/* A GET with a body is refused before the body is read. */
	static const char get_body[] = "GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
				       "Content-Length: 3\r\n\r\nabc";
	raw_request(f->port, get_body, sizeof(get_body) - 1, &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(body(&r), "{\"error\":\"request body not allowed\"}\n");
	resp_fini(&r);

	/* Unknown path: 404 whatever the method. */
	request(f, "POST", "/nope", &r);
	assert_int_equal(r.status, 404);
	resp_fini(&r);

	request(f, "DELETE", "/v1/lookup?value=1.2.3.4", &r);
	assert_int_equal(r.status, 405);
	resp_fini(&r);
	request(f, "PUT", "/healthz", &r);
	assert_int_equal(r.status, 405);
	resp_fini(&r);
}

static void test_head(void **state)
{
	struct fix *f = *state;
	struct resp r;

	request(f, "HEAD", "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Length", "3");
	assert_int_equal(r.body.len, 0);
	resp_fini(&r);

	request(f, "HEAD", "/v1/lookup?value=198.51.100.7", &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "application/x-ndjson");
	assert_int_equal(r.body.len, 0);
	resp_fini(&r);
}

static void test_healthz(void **state)
{
	struct fix *f = *state;
	struct resp r;

	get(f, "/healthz", &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "text/plain; charset=utf-8");
	assert_string_equal(body(&r), "ok\n");
	resp_fini(&r);

	__atomic_store_n(&f->ctx.healthy, 0, __ATOMIC_RELAXED);
	get(f, "/healthz", &r);
	__atomic_store_n(&f->ctx.healthy, 1, __ATOMIC_RELAXED);
	assert_int_equal(r.status, 503);
	assert_string_equal(body(&r), "store: not open\n");
	resp_fini(&r);
}

static size_t check_exposition(const char *text);
static void assert_line(const char *text, const char *line);

static void test_metrics_route(void **state)
{
	struct fix *f = *state;
	int before = __atomic_load_n(&f->ctx.metrics_calls, __ATOMIC_RELAXED);
	struct resp r;

	get(f, "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_header(&r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	/* The handler's families, then the endpoint's own (iocbus_http_*). */
	assert_true(strncmp(body(&r), "# HELP t_x A test.\n# TYPE t_x gauge\nt_x 1\n# HELP iocbus_http_connections ", 60) == 0);
	assert_line(body(&r), "iocbus_http_header_timeouts_total 0");
	assert_int_equal(check_exposition(body(&r)), 3);
	assert_int_equal(__atomic_load_n(&f->ctx.metrics_calls, __ATOMIC_RELAXED), before + 1);
	resp_fini(&r);

	/* A handler that produced nothing (the renderer's "did not fit") is a 500. */
	__atomic_store_n(&f->ctx.metrics_empty, 1, __ATOMIC_RELAXED);
	get(f, "/metrics", &r);
	__atomic_store_n(&f->ctx.metrics_empty, 0, __ATOMIC_RELAXED);
	assert_int_equal(r.status, 500);
	resp_fini(&r);
}

/* Several requests on one keep-alive connection, answered in order. */
static void test_keepalive(void **state)
{
	struct fix *f = *state;
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
				  "GET /v1/lookup?value=192.0.2.1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
	struct resp r;

	raw_request(f->port, req, sizeof(req) - 1, &r);
	assert_int_equal(r.status, 200);
	assert_false(header(&r, "Connection", (char[16]){0}, 16));
	/* The first response's body, then the second response whole. */
	if (!strstr(body(&r), "ok\nHTTP/1.1 200 OK\r\n") ||
	    !strstr(body(&r), "\r\n\r\n{\"value\":\"192.0.2.1\",\"matches\":[]}\n"))
		fail_msg("unexpected pipelined answer: %s", body(&r));
	resp_fini(&r);
}

/* A writer churns the store (upsert, remove, commit) while lookups are served. */
struct churn {
	struct iocb_store *store; /* the fixture's store */
	int done;                 /* atomic: the reader has finished */
	unsigned rounds;          /* rounds the writer ran */
};

static void *churn_main(void *arg)
{
	struct churn *c = arg;
	struct iocb_err err;
	struct fixture_attr t;

	/* Commit waits for an RCU grace period: it would hang if the HTTP thread sat in a read section. */
	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE) || c->rounds < 20) {
		const struct iocb_misp_attr *a = mk(&t, 500, "ip-dst", "192.0.2.77", -1, 4, true);
		if (iocb_store_upsert(c->store, a, 0, 1000, &err) != IOCB_OK ||
		    iocb_store_commit(c->store, &err) != IOCB_OK ||
		    iocb_store_remove(c->store, a->uuid, &err) != IOCB_OK || iocb_store_commit(c->store, &err) != IOCB_OK)
			return "store call failed";
		c->rounds++;
	}
	return NULL;
}

static void test_lookup_during_writes(void **state)
{
	struct fix *f = *state;
	struct churn c = {f->store, 0, 0};
	pthread_t th;
	void *ret = NULL;
	struct resp r;

	static const char miss[] = "{\"value\":\"192.0.2.77\",\"matches\":[]}\n";
	char bad[512] = "";

	assert_int_equal(pthread_create(&th, NULL, churn_main, &c), 0);
	/* No assertion until the writer is joined: a failed one would leave it running. */
	for (int i = 0; i < 50 && !bad[0]; i++) {
		get(f, "/v1/lookup?value=192.0.2.77&value=198.51.100.7", &r);
		/* Either state of the churned attribute, and the stable one. */
		if (r.status != 200 ||
		    (strncmp(body(&r), miss, sizeof(miss) - 1) != 0 &&
		     !strstr(body(&r), "0000000a-0000-4000-8000-0000000001f4")) ||
		    !strstr(body(&r), "0000000a-0000-4000-8000-000000000001"))
			snprintf(bad, sizeof(bad), "%d %s", r.status, body(&r));
		resp_fini(&r);
	}
	__atomic_store_n(&c.done, 1, __ATOMIC_RELEASE);
	assert_int_equal(pthread_join(th, &ret), 0);
	assert_null(ret);
	if (bad[0])
		fail_msg("unexpected answer: %s", bad);
}

/* ------------------------------------------------------------ start / stop */

static void test_bad_host(void **state)
{
	struct fix *f = *state;
	static const char *const hosts[] = {"localhost", "example.com", "256.1.1.1", "127.0.0.1:80", "[::1]", " "};
	struct iocb_http_opts o = {.port = 0, .max_connections = 4};
	struct iocb_http_handlers h = {h_metrics, h_health, &f->ctx, NULL};
	struct iocb_err err;

	for (size_t i = 0; i < IOCB_ARRAY_LEN(hosts); i++) {
		struct iocb_httpd *d = (struct iocb_httpd *)&err; /* must be reset to NULL */
		uint16_t port = 7;
		o.host = hosts[i];
		assert_int_equal(iocb_http_start(&o, f->store, &h, &d, &port, &err), IOCB_EINVAL);
		assert_null(d);
		assert_int_equal(port, 7);
		assert_non_null(strstr(err.msg, "not a numeric"));
		iocb_http_stop(d);
	}
	iocb_http_stop(NULL);
}

static void test_port_in_use(void **state)
{
	struct fix *f = *state;
	struct iocb_http_opts o = {.host = "127.0.0.1", .port = f->port, .max_connections = 4};
	struct iocb_httpd *d = NULL;
	struct iocb_err err;

	assert_int_equal(iocb_http_start(&o, f->store, NULL, &d, NULL, &err), IOCB_EIO);
	assert_null(d);
	assert_non_null(strstr(err.msg, "cannot listen on 127.0.0.1 port"));
	assert_non_null(strstr(err.msg, "in use"));
}

/* No handlers: /healthz says ok, /metrics is empty. IPv6 loopback when the host has it. */
static void test_ipv6_no_handlers(void **state)
{
	struct fix *f = *state;
	struct iocb_http_opts o = {.host = "::1", .port = 0, .max_connections = 4};
	struct iocb_httpd *d = NULL;
	struct iocb_err err;
	uint16_t port = 0;
	char buf[4096];
	size_t n = 0;
	ssize_t k;
	int fd;

	if (iocb_http_start(&o, f->store, NULL, &d, &port, &err) != IOCB_OK) {
		fprintf(stderr, "no IPv6 loopback here (%s); skipped\n", err.msg);
		skip();
	}
	assert_true(port != 0);
	fd = connect_to(AF_INET6, port);
	send_all(fd, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 53);
	while (n < sizeof(buf) - 1 && (k = recv(fd, buf + n, sizeof(buf) - 1 - n, 0)) > 0)
		n += (size_t)k;
	buf[n] = '\0';
	close(fd);
	assert_non_null(strstr(buf, "HTTP/1.1 200"));
	assert_non_null(strstr(buf, "\r\n\r\nok\n"));
	iocb_http_stop(d);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Stop returns at once although clients hold idle connections (the idle timeout is 10 s). */
static void test_stop_with_idle_connections(void **state)
{
	struct fix *f = *state;
	struct iocb_http_opts o = {.host = "127.0.0.1", .port = 0, .max_connections = 8};
	struct iocb_http_handlers h = {h_metrics, h_health, &f->ctx, NULL};
	struct iocb_httpd *d = NULL;
	struct iocb_err err;
	uint16_t port = 0;
	int idle[3];
	char buf[1024];
	size_t n = 0;
	ssize_t k;

	assert_int_equal(iocb_http_start(&o, f->store, &h, &d, &port, &err), IOCB_OK);
	/* idle[0]: a keep-alive connection the server has answered and now waits on. */
	idle[0] = connect_to(AF_INET, port);
	send_all(idle[0], "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 34);
	while (!memmem(buf, n, "\r\n\r\nok\n", 7)) {
		k = recv(idle[0], buf + n, sizeof(buf) - n, 0);
		assert_true(k > 0);
		n += (size_t)k;
	}
	/* idle[1]: half a request; idle[2]: nothing sent. */
	idle[1] = connect_to(AF_INET, port);
	send_all(idle[1], "GET /hea", 8);
	idle[2] = connect_to(AF_INET, port);

	double t0 = mono();
	iocb_http_stop(d);
	double dt = mono() - t0;
	assert_true(dt < 2.0);
	/* Every client sees its connection end (EOF or reset), not a timeout. */
	for (int i = 0; i < 3; i++) {
		k = recv(idle[i], buf, sizeof(buf), 0);
		assert_true(k == 0 || (k < 0 && errno == ECONNRESET));
		close(idle[i]);
	}
}

/* ------------------------------------------------------------ connection limit and deadlines */

/* Start a second endpoint over the fixture's store with the given limits. */
static struct iocb_httpd *start_limited(struct fix *f, unsigned maxconn, double idle_s, double header_s,
					uint16_t *port)
{
	struct iocb_http_opts o = {.host = "127.0.0.1",
				    .port = 0,
				    .max_connections = maxconn,
				    .idle_timeout_s = idle_s,
				    .header_timeout_s = header_s};
	struct iocb_http_handlers h = {h_metrics, h_health, &f->ctx, NULL};
	struct iocb_httpd *d = NULL;
	struct iocb_err err;

	if (iocb_http_start(&o, f->store, &h, &d, port, &err) != IOCB_OK)
		fail_msg("start: %s", err.msg);
	return d;
}

/* Make sure this process may hold n more descriptors (raise the soft limit up to the hard one). */
static void need_fds(rlim_t n)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n) {
		if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < n)
			fail_msg("this test needs %lu descriptors; the hard limit is %lu (ulimit -Hn)",
				 (unsigned long)n, (unsigned long)rl.rlim_max);
		rl.rlim_cur = n;
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
}

/* Connect, send a GET of `target` and read until `want` has arrived; at most `limit_s` seconds. */
static bool answered_within(uint16_t port, const char *target, const char *want, double limit_s, double *took)
{
	char req[256], buf[4096];
	size_t n = 0;
	double t0 = mono();
	int fd = connect_to(AF_INET, port);
	bool ok = false;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", target);
	send_all(fd, req, strlen(req));
	while (n < sizeof(buf) - 1) {
		double left = t0 + limit_s - mono();
		struct timeval tv;
		ssize_t k;
		if (left <= 0)
			break;
		tv.tv_sec = (time_t)left;
		tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6) + 1;
		assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
		k = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
		buf[n] = '\0';
		if (strstr(buf, want)) {
			ok = true;
			break;
		}
	}
	*took = mono() - t0;
	close(fd);
	return ok;
}

/*
 * Issue #11 item 2: max_connections idle keep-alive clients that got their
 * answer, then 2,000 concurrent connections; once all of them have closed,
 * /healthz answers within 2 s. (The external poll loop this replaced never
 * accepted again after the limit had been reached.)
 */
static void test_limit_recovers(void **state)
{
	enum { MAXCONN = 4, FLOOD = 2000 };
	struct fix *f = *state;
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int idle[MAXCONN], *flood = calloc(FLOOD, sizeof(int));
	uint16_t port = 0;
	char buf[1024];
	double took;
	/* Idle and header timeouts far beyond the test: only the limit is exercised. */
	struct iocb_httpd *d = start_limited(f, MAXCONN, 60, 60, &port);

	assert_non_null(flood);
	need_fds(FLOOD + 256);
	for (int i = 0; i < MAXCONN; i++) {
		size_t n = 0;
		idle[i] = connect_to(AF_INET, port);
		send_all(idle[i], req, sizeof(req) - 1);
		while (!memmem(buf, n, "\r\n\r\nok\n", 7)) {
			ssize_t k = recv(idle[i], buf + n, sizeof(buf) - n, 0);
			assert_true(k > 0);
			n += (size_t)k;
		}
	}
	/* The limit is reached: these wait in the listen backlog. */
	sa.sin_port = htons(port);
	for (int i = 0; i < FLOOD; i++) {
		flood[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		assert_true(flood[i] >= 0);
		if (connect(flood[i], (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EINPROGRESS)
			(void)send(flood[i], req, sizeof(req) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	for (int i = 0; i < FLOOD; i++)
		close(flood[i]);
	for (int i = 0; i < MAXCONN; i++)
		close(idle[i]);
	if (!answered_within(port, "/healthz", "\r\n\r\nok\n", 2.0, &took))
		fail_msg("/healthz did not answer within 2 s after the clients closed");
	fprintf(stderr, "# /healthz answered %.3f s after %d idle + %d flood clients closed\n", took, MAXCONN,
		FLOOD);
	/* And the endpoint goes on: the limit is free again. */
	assert_true(answered_within(port, "/healthz", "\r\n\r\nok\n", 2.0, &took));
	iocb_http_stop(d);
	free(flood);
}

/* 100 clients sending their request head one byte every 5 s, against an endpoint. */
struct trickle {
	uint16_t port;          /* the endpoint */
	int fd[100];            /* the slow clients; -1 once the server closed it */
	double closed_at[100];  /* seconds after the start when the server closed it */
	int probe;              /* a /healthz request, -1 once answered */
	char pbuf[2048];        /* what the probe read */
	size_t plen;            /* bytes in pbuf */
	double probe_at;        /* seconds after the start when /healthz answered */
};

/*
 * Issue #11 item 2: slowloris. Two endpoints with header_timeout 6 s and an
 * idle timeout (30 s) that the trickle keeps resetting: B (max_connections
 * 128) keeps answering /healthz during the attack; A (max_connections 100)
 * is full, so its /healthz waits, and must answer within 2 s of the header
 * deadline passing. Every slow client is closed by the server between its
 * second byte (5 s) and the deadline plus 2 s, however slowly it sends.
 */
static void test_slowloris(void **state)
{
	enum { SLOW = 100 };
	static const char head[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
	static const double deadline = 6.0, grace = 2.0;
	struct fix *f = *state;
	struct trickle *t = calloc(2, sizeof(*t));
	struct iocb_httpd *d[2];
	struct pollfd pfd[2 * (SLOW + 1)];
	size_t sent = 1;
	double t0, took;
	struct resp r;

	assert_non_null(t);
	need_fds(1024);
	d[0] = start_limited(f, SLOW, 30, deadline, &t[0].port);
	d[1] = start_limited(f, 128, 30, deadline, &t[1].port);
	for (int e = 0; e < 2; e++)
		for (int i = 0; i < SLOW; i++) {
			t[e].fd[i] = connect_to(AF_INET, t[e].port);
			send_all(t[e].fd[i], head, 1);
		}
	t0 = mono();
	/* B has room: it answers at once, attack or not. */
	if (!answered_within(t[1].port, "/healthz", "\r\n\r\nok\n", 2.0, &took))
		fail_msg("/healthz of an endpoint below its limit did not answer within 2 s during the attack");
	/* A is full: its probe waits in the backlog until the deadline frees it. */
	t[0].probe = connect_to(AF_INET, t[0].port);
	send_all(t[0].probe, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 53);
	t[1].probe = -1;
	for (;;) {
		double now = mono() - t0, wait = deadline + grace + 0.5 - now;
		nfds_t n = 0;
		int open = 0;
		if (wait <= 0)
			break;
		/* The next byte of every slow client, 5 s after the previous one. */
		if (now >= 5.0 * (double)sent && sent < sizeof(head) - 1) {
			for (int e = 0; e < 2; e++)
				for (int i = 0; i < SLOW; i++)
					if (t[e].fd[i] >= 0)
						(void)send(t[e].fd[i], head + sent, 1, MSG_NOSIGNAL);
			sent++;
		}
		if (5.0 * (double)sent - now < wait)
			wait = 5.0 * (double)sent - now;
		for (int e = 0; e < 2; e++) {
			for (int i = 0; i < SLOW; i++)
				if (t[e].fd[i] >= 0) {
					pfd[n++] = (struct pollfd){.fd = t[e].fd[i], .events = POLLIN};
					open++;
				}
			if (t[e].probe >= 0)
				pfd[n++] = (struct pollfd){.fd = t[e].probe, .events = POLLIN};
		}
		if (open == 0 && t[0].probe < 0)
			break;
		assert_true(poll(pfd, n, (int)(wait * 1000) + 1) >= 0);
		now = mono() - t0;
		for (nfds_t k = 0; k < n; k++) {
			if (!pfd[k].revents)
				continue;
			for (int e = 0; e < 2; e++) {
				if (pfd[k].fd == t[e].probe) {
					ssize_t got = recv(t[e].probe, t[e].pbuf + t[e].plen, sizeof(t[e].pbuf) - 1 - t[e].plen, 0);
					if (got > 0)
						t[e].plen += (size_t)got;
					t[e].pbuf[t[e].plen] = '\0';
					if (got <= 0 || strstr(t[e].pbuf, "\r\n\r\nok\n")) {
						t[e].probe_at = now;
						close(t[e].probe);
						t[e].probe = -1;
					}
				}
				for (int i = 0; i < SLOW; i++)
					if (pfd[k].fd == t[e].fd[i]) {
						char b[64];
						/* A slow client never gets an answer: any event is the server closing. */
						(void)recv(t[e].fd[i], b, sizeof(b), MSG_DONTWAIT);
						t[e].closed_at[i] = now;
						close(t[e].fd[i]);
						t[e].fd[i] = -1;
					}
			}
		}
	}
	fprintf(stderr, "# slowloris: full endpoint's /healthz answered after %.3f s (deadline %.1f s)\n",
		t[0].probe_at, deadline);
	if (t[0].probe >= 0 || !strstr(t[0].pbuf, "\r\n\r\nok\n"))
		fail_msg("/healthz of the full endpoint did not answer within %.0f s of the header deadline", grace);
	for (int e = 0; e < 2; e++)
		for (int i = 0; i < SLOW; i++) {
			if (t[e].fd[i] >= 0)
				fail_msg("slow client %d of endpoint %d still open %.1f s after the start", i, e,
					 deadline + grace);
			/* Its second byte (at 5 s) did not buy it more time, and it was not dropped before. */
			assert_true(t[e].closed_at[i] >= 5.0);
		}
	get(&(struct fix){.port = t[1].port}, "/metrics", &r);
	assert_int_equal(r.status, 200);
	assert_line(body(&r), "iocbus_http_header_timeouts_total 100");
	resp_fini(&r);
	iocb_http_stop(d[0]);
	iocb_http_stop(d[1]);
	free(t);
}

/* ------------------------------------------------------------ metrics rendering */

/* Count lines equal to `line` in text. */
static size_t count_line(const char *text, const char *line)
{
	size_t n = 0, l = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[l] == '\n')
			n++;
		p += l;
	}
	return n;
}

static void assert_line(const char *text, const char *line)
{
	if (count_line(text, line) != 1)
		fail_msg("expected exactly one line '%s' in:\n%s", line, text);
}

/*
 * Format check of a whole exposition: every line is a HELP, a TYPE or a
 * sample; HELP then TYPE once per family; a family's samples follow its
 * header contiguously and carry its name; every sample matches the regex.
 * Returns the number of families.
 */
static size_t check_exposition(const char *text)
{
	static const char sample_re[] =
		"^([a-zA-Z_:][a-zA-Z0-9_:]*)"
		"([{][a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\""
		"(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\")*[}])?"
		" (0|[1-9][0-9]*|-1|[0-9]+\\.[0-9]{3})$";
	static const char help_re[] = "^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) [^\\\\]+$";
	static const char type_re[] = "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$";
	regex_t rs, rh, rt;
	regmatch_t m[2];
	char fam[128] = "", seen[64][128];
	size_t nseen = 0;
	bool after_help = false, has_samples = true;
	const char *p = text;

	assert_int_equal(regcomp(&rs, sample_re, REG_EXTENDED), 0);
	assert_int_equal(regcomp(&rh, help_re, REG_EXTENDED), 0);
	assert_int_equal(regcomp(&rt, type_re, REG_EXTENDED), 0);
	assert_true(text[0] != '\0');
	assert_true(text[strlen(text) - 1] == '\n');
	while (*p) {
		const char *e = strchr(p, '\n');
		char line[1024], name[128];
		assert_non_null(e);
		assert_true((size_t)(e - p) < sizeof(line));
		memcpy(line, p, (size_t)(e - p));
		line[e - p] = '\0';
		p = e + 1;
		if (regexec(&rh, line, 2, m, 0) == 0) {
			assert_true(has_samples);
			snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
			for (size_t i = 0; i < nseen; i++)
				if (strcmp(seen[i], name) == 0)
					fail_msg("family %s has a second # HELP", name);
			assert_true(nseen < 64);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", name);
			snprintf(fam, sizeof(fam), "%s", name);
			after_help = true;
			has_samples = false;
			continue;
		}
		if (regexec(&rt, line, 2, m, 0) == 0) {
			snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
			if (!after_help || strcmp(name, fam) != 0)
				fail_msg("# TYPE %s not right after its # HELP", name);
			after_help = false;
			continue;
		}
		if (regexec(&rs, line, 2, m, 0) != 0)
			fail_msg("not a valid sample line: '%s'", line);
		snprintf(name, sizeof(name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
		if (after_help || strcmp(name, fam) != 0)
			fail_msg("sample '%s' outside its family (current %s)", line, fam);
		has_samples = true;
	}
	assert_true(has_samples);
	regfree(&rs);
	regfree(&rh);
	regfree(&rt);
	return nseen;
}

static void test_metrics_render(void **state)
{
	struct fix *f = *state;
	struct iocb_sources_sync y;
	struct iocb_sources_sync_metrics *zmq, *feed;
	struct iocb_buf out;
	int64_t now = iocb_time_real_us();

	iocb_sources_sync_init(&y, f->store, NULL, NULL);
	zmq = iocb_sources_sync_metrics_add(&y, "zmq");
	feed = iocb_sources_sync_metrics_add(&y, "feed:a\"b\\c\nd");
	assert_non_null(zmq);
	assert_non_null(feed);
	IOCB_M_SET(zmq->acts[IOCB_SA_ADD], 3);
	IOCB_M_SET(zmq->acts[IOCB_SA_UPSERT], 18446744073709551615ull);
	IOCB_M_SET(zmq->rejects[IOCB_SKIP_UNKNOWN_TYPE], 2);
	IOCB_M_SET(zmq->messages, 10);
	IOCB_M_SET(zmq->bytes, 1234);
	IOCB_M_SET(zmq->heartbeats, 7);
	IOCB_M_SET(zmq->reconnects, 1);
	IOCB_M_SET(zmq->up, 1);
	IOCB_M_SET(zmq->last_message_us, now - 2500000);
	IOCB_M_SET(feed->errors, 4);
	IOCB_M_SET(feed->acts[IOCB_SA_SNAPSHOT], 5);
	iocb_sources_sync_cursor_advance(&y, 1700000123);

	iocb_buf_init(&out, 0);
	iocb_sources_sync_metrics_render(&y, &out);
	const char *t = out.ptr;
	assert_non_null(t);

	assert_line(t, "iocbus_updates_total{source=\"zmq\",action=\"add\"} 3");
	assert_line(t, "iocbus_updates_total{source=\"zmq\",action=\"upsert\"} 18446744073709551615");
	assert_line(t, "iocbus_updates_total{source=\"zmq\",action=\"soft_delete\"} 0");
	assert_line(t, "iocbus_updates_total{source=\"feed:a\\\"b\\\\c\\nd\",action=\"snapshot\"} 5");
	assert_line(t, "iocbus_rejects_total{source=\"zmq\",reason=\"unknown_type\"} 2");
	assert_line(t, "iocbus_rejects_total{source=\"zmq\",reason=\"not_json\"} 0");
	assert_line(t, "iocbus_source_messages_total{source=\"zmq\"} 10");
	assert_line(t, "iocbus_source_bytes_total{source=\"zmq\"} 1234");
	assert_line(t, "iocbus_source_heartbeats_total{source=\"zmq\"} 7");
	assert_line(t, "iocbus_source_reconnects_total{source=\"zmq\"} 1");
	assert_line(t, "iocbus_source_errors_total{source=\"feed:a\\\"b\\\\c\\nd\"} 4");
	assert_line(t, "iocbus_source_catchups_total{source=\"zmq\"} 0");
	assert_line(t, "iocbus_source_reconciles_total{source=\"zmq\"} 0");
	assert_line(t, "iocbus_source_up{source=\"zmq\"} 1");
	assert_line(t, "iocbus_source_up{source=\"feed:a\\\"b\\\\c\\nd\"} 0");
	assert_line(t, "iocbus_misp_cursor_timestamp_seconds 1700000123");
	assert_line(t, "iocbus_store_attributes{type=\"ip-dst\"} 35");
	assert_line(t, "iocbus_store_attributes{type=\"domain\"} 1");
	assert_line(t, "iocbus_store_attributes{type=\"md5\"} 1");
	assert_null(strstr(t, "type=\"ip-src\""));
	assert_line(t, "iocbus_store_attributes_total 39");
	/* Event 4 outlives the attribute test_lookup_during_writes churned. */
	assert_line(t, "iocbus_store_events 4");
	assert_line(t, "iocbus_store_non_ids_attributes 1");
	assert_line(t, "iocbus_store_cidrs{family=\"ipv4\"} 1");
	assert_line(t, "iocbus_store_cidrs{family=\"ipv6\"} 0");
	assert_non_null(strstr(t, "\niocbus_store_commits_total "));
	assert_line(t, "# TYPE iocbus_updates_total counter");
	assert_line(t, "# TYPE iocbus_source_up gauge");
	assert_line(t, "# TYPE iocbus_store_attributes_total gauge");
	assert_line(t, "# TYPE iocbus_store_commits_total counter");
	assert_line(t, "iocbus_store_commit_errors_total 0");
	assert_line(t, "# TYPE iocbus_store_commit_errors_total counter");
	assert_non_null(strstr(t, "\niocbus_store_memory_bytes "));

	/* Ages: only sources that had one; no source updated yet, so no family at all. */
	const char *age = strstr(t, "\niocbus_source_last_message_age_seconds{source=\"zmq\"} ");
	assert_non_null(age);
	double a = strtod(strchr(age, '}') + 2, NULL);
	assert_true(a >= 2.5 && a < 60.0);
	assert_null(strstr(t, "iocbus_source_last_message_age_seconds{source=\"feed"));
	assert_null(strstr(t, "iocbus_source_last_update_age_seconds"));
	/* 21 families, the update age one being absent. */
	assert_int_equal(check_exposition(t), 20);

	IOCB_M_SET(feed->last_update_us, now - 1000);
	iocb_buf_reset(&out);
	iocb_sources_sync_metrics_render(&y, &out);
	t = out.ptr;
	assert_int_equal(check_exposition(t), 21);
	assert_line(t, "# HELP iocbus_source_last_update_age_seconds Seconds since the source last changed the store.");
	age = strstr(t, "\niocbus_source_last_update_age_seconds{source=\"feed:a\\\"b\\\\c\\nd\"} ");
	assert_non_null(age);
	assert_null(strstr(t, "iocbus_source_last_update_age_seconds{source=\"zmq\""));
	/* A stamp in the future (clock stepped back) reads 0, never negative. */
	IOCB_M_SET(zmq->last_message_us, now + 60000000);
	iocb_buf_reset(&out);
	iocb_sources_sync_metrics_render(&y, &out);
	assert_line(out.ptr, "iocbus_source_last_message_age_seconds{source=\"zmq\"} 0.000");
	iocb_buf_fini(&out);
	iocb_sources_sync_fini(&y);
}

/* No source registered: store families and the cursor only, still well-formed. */
static void test_metrics_render_no_sources(void **state)
{
	struct fix *f = *state;
	struct iocb_sources_sync y;
	struct iocb_buf out;

	iocb_sources_sync_init(&y, f->store, NULL, NULL);
	iocb_buf_init(&out, 0);
	iocb_sources_sync_metrics_render(&y, &out);
	assert_null(strstr(out.ptr, "source="));
	assert_line(out.ptr, "iocbus_misp_cursor_timestamp_seconds 0");
	assert_int_equal(check_exposition(out.ptr), 9);
	iocb_buf_fini(&out);
	iocb_sources_sync_fini(&y);
}

/* Past the buffer cap the rendering is rolled back: all or nothing. */
static void test_metrics_render_cap(void **state)
{
	struct fix *f = *state;
	struct iocb_sources_sync y;
	struct iocb_buf out;

	iocb_sources_sync_init(&y, f->store, NULL, NULL);
	assert_non_null(iocb_sources_sync_metrics_add(&y, "zmq"));
	iocb_buf_init(&out, 2000);
	assert_int_equal(iocb_buf_append_c(&out, "keep\n"), IOCB_OK);
	iocb_sources_sync_metrics_render(&y, &out);
	assert_int_equal(out.len, 5);
	assert_string_equal(out.ptr, "keep\n");
	iocb_buf_fini(&out);
	iocb_sources_sync_fini(&y);
}

/*
 * Issue #11 item 3: a store written before future timestamps were left out
 * of the cursor may hold one dated 2100; every catch-up from it would fetch
 * nothing. It is dropped at start (0: a full reconcile); a sane one is kept.
 */
static void test_sync_future_cursor_dropped(void **state)
{
	struct fix *f = *state;
	struct iocb_sources_sync y;
	struct iocb_err err = {0};

	assert_int_equal(iocb_store_meta_set(f->store, IOCB_SOURCES_SYNC_CURSOR_KEY, IOCB_STR_LIT("4102444800"), &err), IOCB_OK);
	iocb_sources_sync_init(&y, f->store, NULL, NULL);
	assert_int_equal(iocb_sources_sync_cursor(&y), 0);
	iocb_sources_sync_fini(&y);
	assert_int_equal(iocb_store_meta_set(f->store, IOCB_SOURCES_SYNC_CURSOR_KEY, IOCB_STR_LIT("1700000123"), &err), IOCB_OK);
	iocb_sources_sync_init(&y, f->store, NULL, NULL);
	assert_int_equal(iocb_sources_sync_cursor(&y), 1700000123);
	iocb_sources_sync_fini(&y);
	/* the store is shared by the group: leave it without a cursor */
	assert_int_equal(iocb_store_meta_set(f->store, IOCB_SOURCES_SYNC_CURSOR_KEY, IOCB_STR_LIT("0"), &err), IOCB_OK);
}

/* /metrics end to end with the real renderer. */
static void test_metrics_route_render(void **state)
{
	struct fix *f = *state;
	struct iocb_sources_sync y;
	struct resp r;

	iocb_sources_sync_init(&y, f->store, NULL, NULL);
	assert_non_null(iocb_sources_sync_metrics_add(&y, "pull"));
	__atomic_store_n(&f->ctx.sync, &y, __ATOMIC_RELEASE);
	get(f, "/metrics", &r);
	__atomic_store_n(&f->ctx.sync, NULL, __ATOMIC_RELEASE);
	assert_int_equal(r.status, 200);
	/* 21 families but the two ages (the source never received anything), then the endpoint's 2. */
	assert_int_equal(check_exposition(body(&r)), 21);
	assert_line(body(&r), "iocbus_source_up{source=\"pull\"} 0");
	resp_fini(&r);
	iocb_sources_sync_fini(&y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup_hit),
		cmocka_unit_test(test_lookup_miss),
		cmocka_unit_test(test_lookup_two_values),
		cmocka_unit_test(test_lookup_url_decoding),
		cmocka_unit_test(test_lookup_nul),
		cmocka_unit_test(test_lookup_bad_requests),
		cmocka_unit_test(test_uri_limit),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_healthz),
		cmocka_unit_test(test_metrics_route),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_lookup_during_writes),
		cmocka_unit_test(test_bad_host),
		cmocka_unit_test(test_port_in_use),
		cmocka_unit_test(test_ipv6_no_handlers),
		cmocka_unit_test(test_stop_with_idle_connections),
		cmocka_unit_test(test_limit_recovers),
		cmocka_unit_test(test_slowloris),
		cmocka_unit_test(test_metrics_render),
		cmocka_unit_test(test_metrics_render_no_sources),
		cmocka_unit_test(test_metrics_render_cap),
		cmocka_unit_test(test_sync_future_cursor_dropped),
		cmocka_unit_test(test_metrics_route_render),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
