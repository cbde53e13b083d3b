/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for src/httpc: the libcurl client through httpc.h.
 *
 * Each test starts a tiny HTTP/1.1 server of its own on 127.0.0.1:0 (one
 * thread, one poll loop, canned answers chosen by the request path), so the
 * client is exercised over real sockets without any network:
 *
 *   /ok          200, ETag, X-Result-Count, Content-Type, Date, kept alive
 *   /etag        304 when If-None-Match matches the ETag, else 200
 *   /echo        200 whose body is the request as received (head + body)
 *   /gzip        200 with Content-Encoding: gzip (stored deflate block,
 *                built here, so zlib is not needed)
 *   /big         200 with a Content-Length past the client's max_body
 *   /bigchunk    200, chunked, no length: only the write callback sees the size
 *   /status/403  403 with MISP's body
 *   /hang        read the request and never answer
 *
 * Waits are bounded by the client's own timeouts; nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "httpc/httpc.h"

#define KEY "IocbusTestKey000000000000000000000000001"
#define MAX_CLIENTS 16
#define CLIENT_BUF 16384
#define BODY_CAP 1000 /* the client's max_body in these tests */

struct client {
	int fd;                 /* -1 = free slot */
	char buf[CLIENT_BUF];   /* bytes received and not yet handled */
	size_t len;             /* bytes in buf */
	bool hung;              /* /hang: never answer, keep the connection open */
};

struct server {
	int lfd;                     /* listening socket */
	int port;                    /* its port */
	int stop[2];                 /* pipe: teardown writes a byte */
	pthread_t th;                /* the server thread */
	pthread_mutex_t mu;          /* guards the fields below */
	int conns;                   /* connections accepted */
	int requests;                /* requests answered or swallowed */
	char last[CLIENT_BUF];       /* head and body of the last request */
	struct client cl[MAX_CLIENTS]; /* server thread only */
};

/* ------------------------------------------------------------ gzip, by hand */

static uint32_t crc32_of(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
	}
	return ~c;
}

/* gzip member holding `s` in one stored (uncompressed) deflate block. */
static size_t gzip_stored(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s), o = 0;
	uint32_t crc = crc32_of((const uint8_t *)s, n);
	static const uint8_t head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};

	assert_true(n < 65535 && 10 + 5 + n + 8 <= cap);
	memcpy(out, head, sizeof(head));
	o = sizeof(head);
	out[o++] = 0x01; /* BFINAL=1, BTYPE=00 (stored) */
	out[o++] = (uint8_t)(n & 0xff);
	out[o++] = (uint8_t)(n >> 8);
	out[o++] = (uint8_t)(~n & 0xff);
	out[o++] = (uint8_t)((~n >> 8) & 0xff);
	memcpy(out + o, s, n);
	o += n;
	for (int i = 0; i < 4; i++)
		out[o++] = (uint8_t)(crc >> (8 * i));
	for (int i = 0; i < 4; i++)
		out[o++] = (uint8_t)(n >> (8 * i));
	return o;
}

/* ------------------------------------------------------------ the server */

static void send_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		c += w;
		n -= (size_t)w;
	}
}

static void reply(int fd, const char *status, const char *extra, const void *body, size_t blen)
{
	char head[1024];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Length: %zu\r\n%s\r\n", status, blen,
			 extra ? extra : "");

	send_all(fd, head, (size_t)n);
	if (blen)
		send_all(fd, body, blen);
}

/* Answer one complete request `req` (head + body, NUL-terminated) on c. */
static void answer(struct server *s, struct client *c, const char *req, size_t reqlen)
{
	char path[256] = "";
	const char *sp = strchr(req, ' ');

	if (sp)
		sscanf(sp + 1, "%255s", path);
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';
	pthread_mutex_lock(&s->mu);
	s->requests++;
	memcpy(s->last, req, reqlen);
	s->last[reqlen] = '\0';
	pthread_mutex_unlock(&s->mu);

	if (strcmp(path, "/ok") == 0) {
		reply(c->fd, "200 OK",
		      "ETag: \"v1\"\r\nX-Result-Count: 6\r\nContent-Type: application/json; charset=UTF-8\r\n"
		      "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n",
		      "{\"ok\":true}", 11);
	} else if (strcmp(path, "/etag") == 0) {
		if (strstr(req, "\r\nIf-None-Match: \"v1\"\r\n"))
			reply(c->fd, "304 Not Modified", "ETag: \"v1\"\r\n", NULL, 0);
		else
			reply(c->fd, "200 OK", "ETag: \"v1\"\r\n", "fresh", 5);
	} else if (strcmp(path, "/echo") == 0) {
		reply(c->fd, "200 OK", "Content-Type: text/plain\r\n", req, reqlen);
	} else if (strcmp(path, "/gzip") == 0) {
		uint8_t gz[256];
		size_t n = gzip_stored("hello gzip world", gz, sizeof(gz));
		reply(c->fd, "200 OK", "Content-Encoding: gzip\r\n", gz, n);
	} else if (strcmp(path, "/big") == 0) {
		char big[4 * BODY_CAP];
		memset(big, 'x', sizeof(big));
		reply(c->fd, "200 OK", NULL, big, sizeof(big));
	} else if (strcmp(path, "/bigchunk") == 0) {
		char chunk[600];
		static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
		send_all(c->fd, head, sizeof(head) - 1);
		for (int i = 0; i < 4; i++) {
			int n = snprintf(chunk, sizeof(chunk), "200\r\n"); /* 0x200 = 512 bytes */
			memset(chunk + n, 'y', 512);
			memcpy(chunk + n + 512, "\r\n", 2);
			send_all(c->fd, chunk, (size_t)n + 514);
		}
		send_all(c->fd, "0\r\n\r\n", 5);
	} else if (strcmp(path, "/status/403") == 0) {
		static const char b[] = "{\"name\":\"Authentication failed.\",\"message\":\"Authentication failed.\","
					"\"url\":\"\\/status\\/403\"}";
		reply(c->fd, "403 Forbidden", "Content-Type: application/json\r\n", b, sizeof(b) - 1);
	} else if (strcmp(path, "/hang") == 0) {
		c->hung = true;
	} else {
		reply(c->fd, "404 Not Found", NULL, "nope", 4);
	}
}

/* Length of the first complete request in buf, or 0 if it is not all there. */
static size_t request_len(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	size_t head, body = 0;

	if (!end)
		return 0;
	head = (size_t)(end - buf) + 4;
	for (const char *p = buf; p < end; p++) {
		if ((size_t)(end - p) > 17 && strncasecmp(p, "\r\nContent-Length:", 17) == 0) {
			body = strtoul(p + 17, NULL, 10);
			break;
		}
	}
	return head + body <= len ? head + body : 0;
}

static void close_client(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	c->len = 0;
	c->hung = false;
}

static void *server_main(void *arg)
{
	struct server *s = arg;

	for (;;) {
		struct pollfd pf[MAX_CLIENTS + 2];
		int map[MAX_CLIENTS + 2];
		nfds_t n = 0;

		pf[n].fd = s->stop[0];
		pf[n++].events = POLLIN;
		pf[n].fd = s->lfd;
		pf[n++].events = POLLIN;
		for (int i = 0; i < MAX_CLIENTS; i++) {
			if (s->cl[i].fd < 0)
				continue;
			map[n] = i;
			pf[n].fd = s->cl[i].fd;
			pf[n++].events = POLLIN;
		}
		if (poll(pf, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[0].revents)
			break;
		if (pf[1].revents & POLLIN) {
			int fd = accept(s->lfd, NULL, NULL);
			int i = 0;
			while (i < MAX_CLIENTS && s->cl[i].fd >= 0)
				i++;
			if (fd >= 0 && i == MAX_CLIENTS)
				close(fd);
			else if (fd >= 0) {
				s->cl[i].fd = fd;
				pthread_mutex_lock(&s->mu);
				s->conns++;
				pthread_mutex_unlock(&s->mu);
			}
		}
		for (nfds_t k = 2; k < n; k++) {
			struct client *c = &s->cl[map[k]];
			if (!pf[k].revents)
				continue;
			ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len, 0);
			if (r <= 0) {
				close_client(c);
				continue;
			}
			c->len += (size_t)r;
			size_t rl;
			while (!c->hung && (rl = request_len(c->buf, c->len)) > 0) {
				char req[CLIENT_BUF];
				memcpy(req, c->buf, rl);
				req[rl] = '\0';
				memmove(c->buf, c->buf + rl, c->len - rl);
				c->len -= rl;
				answer(s, c, req, rl);
			}
			if (c->hung)
				c->len = 0;
			else if (c->len == sizeof(c->buf) - 1)
				close_client(c);
		}
	}
	return NULL;
}

static int server_start(void **state)
{
	struct server *s = calloc(1, sizeof(*s));
	struct sockaddr_in a = {0};
	socklen_t al = sizeof(a);
	int one = 1;

	assert_non_null(s);
	for (int i = 0; i < MAX_CLIENTS; i++)
		s->cl[i].fd = -1;
	pthread_mutex_init(&s->mu, NULL);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 16), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pipe(s->stop), 0);
	assert_int_equal(pthread_create(&s->th, NULL, server_main, s), 0);
	*state = s;
	return 0;
}

static int server_stop(void **state)
{
	struct server *s = *state;

	assert_int_equal(write(s->stop[1], "x", 1), 1);
	pthread_join(s->th, NULL);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (s->cl[i].fd >= 0)
			close(s->cl[i].fd);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	pthread_mutex_destroy(&s->mu);
	free(s);
	return 0;
}

/* ------------------------------------------------------------ helpers */

static struct iocb_httpc_client *client_for(struct server *s, double timeout_s)
{
	struct iocb_httpc_opts o;
	struct iocb_httpc_client *c = NULL;
	struct iocb_err err = {0};
	char base[64];

	snprintf(base, sizeof(base), "http://127.0.0.1:%d/", s->port);
	iocb_httpc_opts_default(&o);
	o.base_url = base;
	o.api_key = KEY;
	o.max_body = BODY_CAP;
	o.timeout_s = timeout_s;
	o.connect_timeout_s = timeout_s;
	assert_int_equal(iocb_httpc_client_new(&o, &c, &err), IOCB_OK);
	assert_non_null(c);
	return c;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int server_count(struct server *s, const int *field)
{
	pthread_mutex_lock(&s->mu);
	int v = *field;
	pthread_mutex_unlock(&s->mu);
	return v;
}

/* The error text must name the path and never a secret. */
static void assert_clean_error(const struct iocb_err *err, const char *path)
{
	assert_non_null(strstr(err->msg, path));
	assert_null(strstr(err->msg, KEY));
	assert_null(strstr(err->msg, "secretquery"));
	assert_null(strstr(err->msg, "pw123"));
	assert_null(strstr(err->msg, "bob"));
}

/* ------------------------------------------------------------ tests */

static void test_defaults(void **state)
{
	struct iocb_httpc_opts o;
	struct iocb_httpc_resp r;

	(void)state;
	iocb_httpc_opts_default(&o);
	assert_true(o.verify);
	assert_true(o.timeout_s == 30);
	assert_true(o.connect_timeout_s == 10);
	assert_int_equal(o.max_body, (size_t)1 << 30);
	assert_null(o.api_key);
	iocb_httpc_client_free(NULL);
	iocb_httpc_resp_init(&r);
	iocb_httpc_resp_fini(&r);
}

static void test_ok_headers(void **state)
{
	struct server *s = *state;
	struct iocb_httpc_client *c = client_for(s, 5);
	struct iocb_httpc_resp r;
	struct iocb_err err = {0};

	iocb_httpc_resp_init(&r);
	assert_int_equal(iocb_httpc_request(c, "GET", "/ok", NULL, 0, NULL, &r, &err), IOCB_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.etag, "\"v1\"");
	assert_true(r.has_result_count);
	assert_int_equal(r.result_count, 6);
	assert_string_equal(r.content_type, "application/json; charset=UTF-8");
	assert_int_equal(r.date, 784111777); /* the server's clock bounds the MISP cursor */
	assert_int_equal(r.body.len, 11);
	assert_string_equal(r.body.ptr, "{\"ok\":true}");

	pthread_mutex_lock(&s->mu);
	assert_non_null(strstr(s->last, "GET /ok HTTP/1.1\r\n"));
	assert_non_null(strstr(s->last, "\r\nAccept: application/json\r\n"));
	assert_non_null(strstr(s->last, "\r\nAuthorization: " KEY "\r\n"));
	assert_non_null(strstr(s->last, "\r\nAccept-Encoding: "));
	assert_non_null(strstr(s->last, "\r\nUser-Agent: iocbus/"));
	assert_null(strstr(s->last, "Content-Type"));
	pthread_mutex_unlock(&s->mu);

	/* A later response without those headers clears them. */
	assert_int_equal(iocb_httpc_request(c, "GET", "/echo", NULL, 0, NULL, &r, &err), IOCB_OK);
	assert_string_equal(r.etag, "");
	assert_false(r.has_result_count);
	assert_string_equal(r.content_type, "text/plain");
	iocb_httpc_resp_fini(&r);
	iocb_httpc_client_free(c);
}

static void test_post_body_and_keepalive(void **state)
{
	struct server *s = *state;
	struct iocb_httpc_client *c = client_for(s, 5);
	struct iocb_httpc_resp r;
	struct iocb_err err = {0};
	static const char body[] = "{\"returnFormat\":\"json\",\"page\":1}";

	iocb_httpc_resp_init(&r);
	assert_int_equal(iocb_httpc_request(c, "POST", "echo", body, sizeof(body) - 1, NULL, &r, &err), IOCB_OK);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body.ptr, "POST /echo HTTP/1.1\r\n"));
	assert_non_null(strstr(r.body.ptr, "\r\nContent-Type: application/json\r\n"));
	assert_null(strstr(r.body.ptr, "Expect:"));
	assert_true(r.body.len > sizeof(body) - 1);
	assert_memory_equal(r.body.ptr + r.body.len - (sizeof(body) - 1), body, sizeof(body) - 1);
	/* A GET after a POST is a GET again, and with no body. */
	assert_int_equal(iocb_httpc_request(c, "GET", "/echo", NULL, 0, NULL, &r, &err), IOCB_OK);
	assert_non_null(strstr(r.body.ptr, "GET /echo HTTP/1.1\r\n"));
	assert_null(strstr(r.body.ptr, "Content-Length"));
	assert_int_equal(iocb_httpc_request(c, "GET", "/ok", NULL, 0, NULL, &r, &err), IOCB_OK);
	/* Three requests, one connection. */
	assert_int_equal(server_count(s, &s->requests), 3);
	assert_int_equal(server_count(s, &s->conns), 1);
	iocb_httpc_resp_fini(&r);
	iocb_httpc_client_free(c);
}

static void test_not_modified(void **state)
{
	struct server *s = *state;
	struct iocb_httpc_client *c = client_for(s, 5);
	struct iocb_httpc_resp r;
	struct iocb_err err = {0};

	iocb_httpc_resp_init(&r);
	assert_int_equal(iocb_httpc_request(c, "GET", "/etag", NULL, 0, NULL, &r, &err), IOCB_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body.ptr, "fresh");
	assert_int_equal(iocb_httpc_request(c, "GET", "/etag", NULL, 0, "\"v1\"", &r, &err), IOCB_OK);
	assert_int_equal(r.status, 304);
	assert_int_equal(r.body.len, 0);
	assert_non_null(r.body.ptr);
	assert_string_equal(r.etag, "\"v1\"");
	/* A header value with a line break is refused, not sent. */
	assert_int_equal(iocb_httpc_request(c, "GET", "/etag", NULL, 0, "\"a\"\r\nX-Evil: 1", &r, &err), IOCB_EINVAL);
	iocb_httpc_resp_fini(&r);
	iocb_httpc_client_free(c);
}

static void test_gzip(void **state)
{
	struct server *s = *state;
	struct iocb_httpc_client *c = client_for(s, 5);
	struct iocb_httpc_resp r;
	struct iocb_err err = {0};

	iocb_httpc_resp_init(&r);
	assert_int_equal(iocb_httpc_request(c, "GET", "/gzip", NULL, 0, NULL, &r, &err), IOCB_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body.len, strlen("hello gzip world"));
	assert_string_equal(r.body.ptr, "hello gzip world");
	iocb_httpc_resp_fini(&r);
	iocb_httpc_client_free(c);
}

static void test_body_limit(void **state)
{
	struct server *s = *state;
	struct iocb_httpc_client *c = client_for(s, 5);
	struct iocb_httpc_resp r;
	struct iocb_err err = {0};

	iocb_httpc_resp_init(&r);
	/* Announced by Content-Length. */
	assert_int_equal(iocb_httpc_request(c, "GET", "/big?key=secretquery", NULL, 0, NULL, &r, &err), IOCB_ELIMIT);
	assert_int_equal(err.rc, IOCB_ELIMIT);
	assert_clean_error(&err, "GET /big");
	assert_true(r.body.len <= BODY_CAP);
	/* Only found while writing (chunked, no length). */
	memset(&err, 0, sizeof(err));
	assert_int_equal(iocb_httpc_request(c, "GET", "/bigchunk", NULL, 0, NULL, &r, &err), IOCB_ELIMIT);
	assert_clean_error(&err, "GET /bigchunk");
	assert_non_null(strstr(err.msg, "larger than"));
	assert_true(r.body.len <= BODY_CAP);
	/* The client is still usable afterwards. */
	assert_int_equal(iocb_httpc_request(c, "GET", "/ok", NULL, 0, NULL, &r, &err), IOCB_OK);
	assert_int_equal(r.status, 200);
	iocb_httpc_resp_fini(&r);
	iocb_httpc_client_free(c);
}

/*
 * Issue #11 item 7: after an oversized answer (or a gzip bomb) the body
 * buffer used to keep its size, up to max_body, for the life of a reused
 * response. Past keep_body it is given back after use; a small one is kept.
 */
static void test_body_memory_given_back(void **state)
{
	struct server *s = *state;
	struct iocb_httpc_opts o;
	struct iocb_httpc_client *c = NULL;
	struct iocb_httpc_resp r;
	struct iocb_err err = {0};
	char base[64], body[700];

	snprintf(base, sizeof(base), "http://127.0.0.1:%d/", s->port);
	iocb_httpc_opts_default(&o);
	assert_int_equal(o.keep_body, IOCB_HTTPC_KEEP_BODY);
	o.base_url = base;
	o.max_body = BODY_CAP;
	o.keep_body = 256;
	o.timeout_s = o.connect_timeout_s = 5;
	assert_int_equal(iocb_httpc_client_new(&o, &c, &err), IOCB_OK);
	iocb_httpc_resp_init(&r);
	memset(body, 'b', sizeof(body));

	/* A large answer, used, then done with: the memory goes back. */
	assert_int_equal(iocb_httpc_request(c, "POST", "/echo", body, sizeof(body), NULL, &r, &err), IOCB_OK);
	assert_true(r.body.len > sizeof(body));
	assert_true(r.body.cap > 256);
	iocb_httpc_resp_done(&r);
	assert_int_equal(r.body.len, 0);
	assert_int_equal(r.body.cap, 0);
	assert_null(r.body.ptr);

	/* Oversized, found while writing: the failed request gives it back itself. */
	assert_int_equal(iocb_httpc_request(c, "GET", "/bigchunk", NULL, 0, NULL, &r, &err), IOCB_ELIMIT);
	assert_int_equal(r.body.cap, 0);

	/* A small answer keeps its buffer for the next request. */
	assert_int_equal(iocb_httpc_request(c, "GET", "/ok", NULL, 0, NULL, &r, &err), IOCB_OK);
	assert_string_equal(r.body.ptr, "{\"ok\":true}");
	iocb_httpc_resp_done(&r);
	assert_true(r.body.cap > 0 && r.body.cap <= 256);
	assert_int_equal(r.body.len, 0);

	iocb_httpc_resp_fini(&r);
	iocb_httpc_client_free(c);
}

static void test_hang_times_out(void **state)
{
	struct server *s = *state;
	struct iocb_httpc_client *c = client_for(s, 1.0);
	struct iocb_httpc_resp r;
	struct iocb_err err = {0};
	char url[128];

	iocb_httpc_resp_init(&r);
	double t0 = mono();
	assert_int_equal(iocb_httpc_request(c, "POST", "/hang?apikey=secretquery", "{}", 2, NULL, &r, &err), IOCB_EIO);
	double dt = mono() - t0;
	assert_true(dt >= 0.5 && dt < 15.0); /* 1 s timeout; generous for loaded CI machines */
	assert_int_equal(r.status, 0);
	assert_clean_error(&err, "POST /hang");

	/* A full URL with userinfo: only its path is shown. */
	snprintf(url, sizeof(url), "http://bob:pw123@127.0.0.1:%d/hang?x=secretquery#frag", s->port);
	memset(&err, 0, sizeof(err));
	t0 = mono();
	assert_int_equal(iocb_httpc_request(c, "GET", url, NULL, 0, NULL, &r, &err), IOCB_EIO);
	assert_true(mono() - t0 < 15.0);
	assert_clean_error(&err, "GET /hang:");
	assert_null(strstr(err.msg, "127.0.0.1"));
	iocb_httpc_resp_fini(&r);
	iocb_httpc_client_free(c);
}

static void test_refused(void **state)
{
	struct iocb_httpc_opts o;
	struct iocb_httpc_client *c = NULL;
	struct iocb_httpc_resp r;
	struct iocb_err err = {0};
	struct sockaddr_in a = {0};
	socklen_t al = sizeof(a);
	char base[64];

	(void)state;
	/* A port that was free a moment ago and has no listener now. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", ntohs(a.sin_port));
	iocb_httpc_opts_default(&o);
	o.base_url = base;
	o.api_key = KEY;
	o.timeout_s = 3;
	o.connect_timeout_s = 3;
	assert_int_equal(iocb_httpc_client_new(&o, &c, &err), IOCB_OK);
	iocb_httpc_resp_init(&r);
	double t0 = mono();
	assert_int_equal(iocb_httpc_request(c, "POST", "/attributes/restSearch?k=secretquery", "{}", 2, NULL, &r, &err),
			 IOCB_EIO);
	assert_true(mono() - t0 < 15.0);
	assert_int_equal(r.status, 0);
	assert_clean_error(&err, "POST /attributes/restSearch:");
	iocb_httpc_resp_fini(&r);
	iocb_httpc_client_free(c);
}

static void test_status_is_not_an_error(void **state)
{
	struct server *s = *state;
	struct iocb_httpc_client *c = client_for(s, 5);
	struct iocb_httpc_resp r;
	struct iocb_err err = {0};

	iocb_httpc_resp_init(&r);
	assert_int_equal(iocb_httpc_request(c, "POST", "/status/403", "{}", 2, NULL, &r, &err), IOCB_OK);
	assert_int_equal(r.status, 403);
	assert_non_null(strstr(r.body.ptr, "Authentication failed."));
	assert_int_equal(iocb_httpc_request(c, "GET", "/missing", NULL, 0, NULL, &r, &err), IOCB_OK);
	assert_int_equal(r.status, 404);
	iocb_httpc_resp_fini(&r);
	iocb_httpc_client_free(c);
}

static void test_bad_options(void **state)
{
	struct iocb_httpc_opts o;
	struct iocb_httpc_client *c = NULL;
	struct iocb_httpc_resp r;
	struct iocb_err err = {0};

	(void)state;
	iocb_httpc_opts_default(&o);
	o.api_key = "abc\r\nX-Injected: 1";
	assert_int_equal(iocb_httpc_client_new(&o, &c, &err), IOCB_EINVAL);
	assert_null(c);
	assert_null(strstr(err.msg, "X-Injected"));
	/* No base URL: relative paths are refused, other schemes too. */
	o.api_key = NULL;
	assert_int_equal(iocb_httpc_client_new(&o, &c, &err), IOCB_OK);
	iocb_httpc_resp_init(&r);
	assert_int_equal(iocb_httpc_request(c, "GET", "/x", NULL, 0, NULL, &r, &err), IOCB_EINVAL);
	assert_int_equal(iocb_httpc_request(c, "GET", "file:///etc/passwd", NULL, 0, NULL, &r, &err), IOCB_EINVAL);
	iocb_httpc_resp_fini(&r);
	iocb_httpc_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test_setup_teardown(test_ok_headers, server_start, server_stop),
		cmocka_unit_test_setup_teardown(test_post_body_and_keepalive, server_start, server_stop),
		cmocka_unit_test_setup_teardown(test_not_modified, server_start, server_stop),
		cmocka_unit_test_setup_teardown(test_gzip, server_start, server_stop),
		cmocka_unit_test_setup_teardown(test_body_limit, server_start, server_stop),
		cmocka_unit_test_setup_teardown(test_body_memory_given_back, server_start, server_stop),
		cmocka_unit_test_setup_teardown(test_hang_times_out, server_start, server_stop),
		cmocka_unit_test(test_refused),
		cmocka_unit_test_setup_teardown(test_status_is_not_an_error, server_start, server_stop),
		cmocka_unit_test(test_bad_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
