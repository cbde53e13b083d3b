/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TCP log input of `iocbus run`: newline-delimited JSON from any number of
 * senders (Filebeat/Vector/rsyslog "tcp" outputs, `nc`), on host:port.
 *
 * One thread owns a listening socket (bound at init, so a taken port fails
 * start-up with a clear error) and every connection, all non-blocking in one
 * epoll set polled with a 100 ms timeout (so a stop is seen at once). Each
 * connection has its own line assembler (lines.h): a line split across
 * reads is joined, a line longer than max_line is dropped in pieces and
 * counted ("peer:line" names it) while the connection goes on, and a last
 * line without '\n' counts as a line when the sender closes. Whole lines of
 * all connections go into one block of at most pipeline.batch_bytes, handed
 * on when full or after pipeline.batch_interval_s.
 *
 * Backpressure: iocb_pipe__submit() blocks while the outputs are full, and
 * while it blocks nothing is read, so the kernel's socket buffers fill up and
 * TCP flow control slows the senders down; nothing is dropped.
 *
 * Limits: at most max_connections at once (one more is accepted and closed
 * at once, counted in errors, warned about at most every 10 s); a
 * connection silent for idle_timeout_s is closed (a begun line is dropped:
 * the sender never finished it). Memory: each connection holds at most
 * max_line + 1 bytes of a begun line, plus one read buffer and one block for
 * the input.
 *
 * There is no position to commit: what was read but not acked when the
 * process dies is gone (the sender has no way to replay it), which is why
 * file inputs are preferred where at-least-once matters.
 */
#include "pipe/drivers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "pipe/lines.h"

#define MOD "pipe"
#define TCP_POLL_MS 100                /* longest epoll wait: how soon a stop is seen */
#define TCP_READ ((size_t)64 << 10)    /* bytes per read(), per connection and wake-up */
#define TCP_EVENTS 64                  /* events per epoll_wait */
#define TCP_BACKLOG 128
#define TCP_IDLE_SCAN_S 1.0            /* idle connections are looked for this often */
#define TCP_PEER_LEN 64                /* "[ipv6]:port" */

struct tcp_in;

struct tcp_conn {
	struct tcp_in *t;            /* the input (for the assembler's callbacks) */
	int fd;                      /* -1 = free slot */
	char peer[TCP_PEER_LEN];     /* "address:port" for messages */
	struct iocb_pipe__lines lines;    /* its begun line */
	double last_mono;            /* monotonic time of the last byte read */
};

struct tcp_in {
	struct iocb_pipe__input *in;         /* borrowed: the input this implements */
	pthread_t thread;            /* the input thread */
	bool thread_started;         /* pthread_create succeeded (join must wait) */
	int lfd;                     /* owned: listening socket */
	int ep;                      /* owned: epoll instance */
	char addr[TCP_PEER_LEN];     /* the bound address, "127.0.0.1:port" */
	unsigned max_conns;          /* cfg->max_connections (at least 1) */
	double idle_s;               /* cfg->idle_timeout_s, 0 = never */
	double batch_interval_s;     /* a partial block waits at most this */
	struct tcp_conn *conns;      /* owned: max_conns slots */
	unsigned nopen;              /* slots in use */
	struct iocb_pipe__block block;    /* input thread: whole lines of every connection */
	char *rbuf;                  /* owned: TCP_READ bytes */
	double last_scan;            /* monotonic time of the last idle scan */
	struct iocb_ratelimit rl_refuse; /* "too many connections" */
	struct iocb_ratelimit rl_err;    /* read errors */
};

/* A sockaddr as "a.b.c.d:port" or "[v6]:port". */
static void addr_str(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(out, cap, "%s:%u", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(out, cap, "[%s]:%u", host, port);
	} else {
		snprintf(out, cap, "unknown");
	}
}

/* ---------------------------------------------------------------- blocks */

static int tcp_submit(struct tcp_in *t)
{
	struct iocb_pipe__input_pos pos = {0, 0, NULL};
	int rc;

	if (t->block.len == 0)
		return IOCB_OK;
	rc = iocb_pipe__submit(t->in, t->block.buf, t->block.len, &pos);
	iocb_pipe__block_clear(&t->block);
	return rc;
}

static int tcp_on_line(void *ctx, const char *p, size_t len, uint64_t end)
{
	struct tcp_conn *c = ctx;
	struct tcp_in *t = c->t;
	int rc;

	(void)end;
	if (iocb_pipe__block_full_for(&t->block, len)) {
		rc = tcp_submit(t);
		if (rc < 0)
			return rc;
	}
	iocb_pipe__block_add(&t->block, p, len, iocb_time_mono_s());
	if (t->block.len >= t->block.batch_bytes)
		return tcp_submit(t);
	return IOCB_OK;
}

static void tcp_on_long(void *ctx, uint64_t start, uint64_t line_no, uint64_t bytes, uint64_t end)
{
	struct tcp_conn *c = ctx;
	char where[TCP_PEER_LEN + 24];

	(void)start;
	(void)end;
	snprintf(where, sizeof(where), "%s:%" PRIu64, c->peer, line_no);
	iocb_pipe__input_reject(c->t->in, IOCB_REJ_TOO_LONG, where, bytes);
}

static const struct iocb_pipe__lines_cb *conn_cb(struct tcp_conn *c, struct iocb_pipe__lines_cb *cb)
{
	cb->line = tcp_on_line;
	cb->too_long = tcp_on_long;
	cb->ctx = c;
	return cb;
}

/* ------------------------------------------------------------ connections */

static void conn_close(struct tcp_in *t, struct tcp_conn *c, const char *why)
{
	iocb_log(IOCB_LOG_DEBUG, MOD, "\"tcp connection closed\" input=\"%s\" peer=%s reason=%s lines=%" PRIu64,
		 t->in->cfg->name, c->peer, why, c->lines.line_no - 1);
	epoll_ctl(t->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	iocb_pipe__lines_fini(&c->lines);
	t->nopen--;
	IOCB_M_SUB(t->in->m.open_connections, 1);
}

static void tcp_accept(struct tcp_in *t)
{
	for (;;) {
		struct sockaddr_storage ss = {0};
		socklen_t sl = sizeof(ss);
		int fd = accept4(t->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct tcp_conn *c = NULL;
		struct epoll_event ev;
		uint64_t suppressed;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				IOCB_M_ADD(t->in->m.errors, 1);
				if (iocb_log_enabled(IOCB_LOG_WARN, MOD) && iocb_ratelimit_ok(&t->rl_err, &suppressed))
					iocb_log_(IOCB_LOG_WARN, MOD,
						  "\"tcp accept failed\" input=\"%s\" error=\"%s\" suppressed=%" PRIu64,
						  t->in->cfg->name, strerror(errno), suppressed);
			}
			return;
		}
		for (unsigned i = 0; i < t->max_conns && c == NULL; i++)
			if (t->conns[i].fd < 0)
				c = &t->conns[i];
		if (c == NULL) {
			char peer[TCP_PEER_LEN];

			addr_str(&ss, peer, sizeof(peer));
			close(fd);
			IOCB_M_ADD(t->in->m.errors, 1);
			if (iocb_log_enabled(IOCB_LOG_WARN, MOD) && iocb_ratelimit_ok(&t->rl_refuse, &suppressed))
				iocb_log_(IOCB_LOG_WARN, MOD,
					  "\"tcp connection refused: max_connections reached\" input=\"%s\" peer=%s "
					  "max_connections=%u suppressed=%" PRIu64,
					  t->in->cfg->name, peer, t->max_conns, suppressed);
			continue;
		}
		c->t = t;
		c->fd = fd;
		addr_str(&ss, c->peer, sizeof(c->peer));
		iocb_pipe__lines_init(&c->lines, (size_t)t->in->max_line);
		c->last_mono = iocb_time_mono_s();
		ev.events = EPOLLIN | EPOLLRDHUP;
		ev.data.ptr = c;
		if (epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			IOCB_M_ADD(t->in->m.errors, 1);
			close(fd);
			c->fd = -1;
			iocb_pipe__lines_fini(&c->lines);
			continue;
		}
		t->nopen++;
		IOCB_M_ADD(t->in->m.connections, 1);
		IOCB_M_ADD(t->in->m.open_connections, 1);
		iocb_log(IOCB_LOG_DEBUG, MOD, "\"tcp connection\" input=\"%s\" peer=%s open=%u", t->in->cfg->name,
			 c->peer, t->nopen);
	}
}

/* Read once from c. <0 when the pipe stops. */
static int conn_read(struct tcp_in *t, struct tcp_conn *c)
{
	struct iocb_pipe__lines_cb cb;
	ssize_t got = read(c->fd, t->rbuf, TCP_READ);
	int rc;

	if (got > 0) {
		c->last_mono = iocb_time_mono_s();
		return iocb_pipe__lines_feed(&c->lines, t->rbuf, (size_t)got, conn_cb(c, &cb));
	}
	if (got == 0) {
		/* The sender closed: its last line counts even without '\n'. */
		rc = iocb_pipe__lines_finish(&c->lines, conn_cb(c, &cb));
		conn_close(t, c, "eof");
		return rc < 0 ? rc : IOCB_OK;
	}
	if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
		return IOCB_OK;
	{
		uint64_t suppressed;

		IOCB_M_ADD(t->in->m.errors, 1);
		if (iocb_log_enabled(IOCB_LOG_WARN, MOD) && iocb_ratelimit_ok(&t->rl_err, &suppressed))
			iocb_log_(IOCB_LOG_WARN, MOD,
				  "\"tcp read failed, begun line dropped\" input=\"%s\" peer=%s error=\"%s\" "
				  "suppressed=%" PRIu64,
				  t->in->cfg->name, c->peer, strerror(errno), suppressed);
	}
	conn_close(t, c, "error");
	return IOCB_OK;
}

static void idle_scan(struct tcp_in *t, double now)
{
	if (t->idle_s <= 0 || now - t->last_scan < TCP_IDLE_SCAN_S)
		return;
	t->last_scan = now;
	for (unsigned i = 0; i < t->max_conns; i++) {
		struct tcp_conn *c = &t->conns[i];

		if (c->fd >= 0 && now - c->last_mono >= t->idle_s) {
			iocb_log(IOCB_LOG_INFO, MOD, "\"tcp connection idle, closed\" input=\"%s\" peer=%s idle_s=%.0f",
				 t->in->cfg->name, c->peer, now - c->last_mono);
			conn_close(t, c, "idle");
		}
	}
}

static void *tcp_thread(void *arg)
{
	struct tcp_in *t = arg;
	struct iocb_pipe__input *in = t->in;
	struct epoll_event evs[TCP_EVENTS];
	int rc = IOCB_OK;

	iocb_pipe__input_thread_enter(in);
	t->last_scan = iocb_time_mono_s();
	while (rc == IOCB_OK && !iocb_pipe__input_stopping(in)) {
		int n;
		double now;

		iocb_pipe__input_poll_acks(in);
		n = epoll_wait(t->ep, evs, TCP_EVENTS, TCP_POLL_MS);
		if (n < 0 && errno != EINTR) {
			iocb_log(IOCB_LOG_ERROR, MOD, "\"tcp epoll_wait failed\" input=\"%s\" error=\"%s\"", in->cfg->name,
				 strerror(errno));
			IOCB_M_ADD(in->m.errors, 1);
			break;
		}
		for (int i = 0; i < n && rc == IOCB_OK; i++) {
			struct tcp_conn *c = evs[i].data.ptr;

			if (c == NULL)
				tcp_accept(t);
			else if (c->fd >= 0)
				rc = conn_read(t, c);
		}
		if (rc < 0)
			break;
		now = iocb_time_mono_s();
		if (iocb_pipe__block_due(&t->block, t->batch_interval_s, now))
			rc = tcp_submit(t);
		idle_scan(t, now);
	}
	/* Stopping: begun lines and the unsubmitted block cannot be handed on any more. */
	for (unsigned i = 0; i < t->max_conns; i++)
		if (t->conns[i].fd >= 0)
			conn_close(t, &t->conns[i], "stop");
	if (!iocb_pipe__input_drain(in))
		iocb_log(IOCB_LOG_WARN, MOD, "\"tcp input stopped with batches not acknowledged\" input=\"%s\"",
			 in->cfg->name);
	iocb_pipe__input_thread_leave(in);
	return NULL;
}

/* ---------------------------------------------------------------- ops */

static int tcp_start(struct iocb_pipe__input *in, struct iocb_err *err)
{
	struct tcp_in *t = in->impl;
	int rc = pthread_create(&t->thread, NULL, tcp_thread, t);

	if (rc != 0)
		return iocb_err_set(err, IOCB_EIO, "tcp input \"%s\": cannot start thread: %s", in->cfg->name,
				    strerror(rc));
	t->thread_started = true;
	return IOCB_OK;
}

static void tcp_free(struct tcp_in *t)
{
	if (t == NULL)
		return;
	if (t->conns != NULL)
		for (unsigned i = 0; i < t->max_conns; i++)
			if (t->conns[i].fd >= 0)
				close(t->conns[i].fd);
	if (t->conns != NULL)
		for (unsigned i = 0; i < t->max_conns; i++)
			iocb_pipe__lines_fini(&t->conns[i].lines);
	if (t->lfd >= 0)
		close(t->lfd);
	if (t->ep >= 0)
		close(t->ep);
	iocb_pipe__block_fini(&t->block);
	free(t->conns);
	free(t->rbuf);
	free(t);
}

static void tcp_join(struct iocb_pipe__input *in)
{
	struct tcp_in *t = in->impl;

	if (t == NULL)
		return;
	if (t->thread_started)
		pthread_join(t->thread, NULL);
	tcp_free(t);
	in->impl = NULL;
}

static void tcp_acked(struct iocb_pipe__input *in, const struct iocb_pipe__input_pos *pos)
{
	(void)in;
	(void)pos; /* nothing to commit: a sender cannot replay */
}

static const struct iocb_pipe__input_ops tcp_ops = {
	.kind = "tcp",
	.start = tcp_start,
	.join = tcp_join,
	.acked = tcp_acked,
};

/* Bind and listen on host:port; the bound address goes to t->addr. */
static int tcp_listen(struct tcp_in *t, struct iocb_err *err)
{
	const struct iocb_config_input *ic = t->in->cfg;
	const char *host = ic->host && ic->host[0] ? ic->host : "127.0.0.1";
	const char *where = ic->where ? ic->where : "config";
	struct addrinfo hints, *res = NULL;
	char port[8];
	int grc, last_errno = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", (unsigned)ic->port);
	grc = getaddrinfo(host, port, &hints, &res);
	if (grc != 0)
		return iocb_err_set(err, IOCB_ECONFIG, "%s: tcp input \"%s\": cannot resolve host \"%s\": %s", where,
				    ic->name, host, gai_strerror(grc));
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		int one = 1;
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);

		if (fd < 0) {
			last_errno = errno;
			continue;
		}
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
		    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, TCP_BACKLOG) != 0) {
			last_errno = errno;
			close(fd);
			continue;
		}
		t->lfd = fd;
		break;
	}
	freeaddrinfo(res);
	if (t->lfd < 0)
		return iocb_err_set(err, IOCB_EIO, "%s: tcp input \"%s\": cannot listen on %s:%s: %s", where, ic->name,
				    host, port, strerror(last_errno));
	{
		struct sockaddr_storage ss = {0};
		socklen_t sl = sizeof(ss);

		if (getsockname(t->lfd, (struct sockaddr *)&ss, &sl) == 0)
			addr_str(&ss, t->addr, sizeof(t->addr));
		else
			snprintf(t->addr, sizeof(t->addr), "%s:%s", host, port);
	}
	return IOCB_OK;
}

int iocb_pipe__input_tcp_init(struct iocb_pipe__input *in, struct iocb_err *err)
{
	const struct iocb_config *cfg = iocb_pipe__config(in->pipe);
	struct tcp_in *t = iocb_xcalloc(1, sizeof(*t));
	struct epoll_event ev;
	int rc;

	t->in = in;
	t->lfd = -1;
	t->ep = -1;
	t->max_conns = in->cfg->max_connections > 0 ? in->cfg->max_connections : 64;
	t->idle_s = in->cfg->idle_timeout_s;
	t->batch_interval_s = cfg->pipeline.batch_interval_s;
	t->rl_refuse.interval_s = 10.0;
	t->rl_err.interval_s = 10.0;
	t->conns = iocb_xcalloc(t->max_conns, sizeof(*t->conns));
	for (unsigned i = 0; i < t->max_conns; i++)
		t->conns[i].fd = -1;
	iocb_pipe__block_init(&t->block, (size_t)cfg->pipeline.batch_bytes, (size_t)in->max_line);
	t->rbuf = iocb_xmalloc(TCP_READ);
	rc = tcp_listen(t, err);
	if (rc < 0)
		goto fail;
	t->ep = epoll_create1(EPOLL_CLOEXEC);
	if (t->ep < 0) {
		rc = iocb_err_set(err, IOCB_EIO, "tcp input \"%s\": epoll_create1: %s", in->cfg->name, strerror(errno));
		goto fail;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL; /* the listening socket */
	if (epoll_ctl(t->ep, EPOLL_CTL_ADD, t->lfd, &ev) != 0) {
		rc = iocb_err_set(err, IOCB_EIO, "tcp input \"%s\": epoll_ctl: %s", in->cfg->name, strerror(errno));
		goto fail;
	}
	iocb_log(IOCB_LOG_INFO, MOD, "\"tcp input %s listening on %s\" input=\"%s\" address=%s max_connections=%u",
		 in->cfg->name, t->addr, in->cfg->name, t->addr, t->max_conns);
	in->impl = t;
	in->ops = &tcp_ops;
	return IOCB_OK;
fail:
	tcp_free(t);
	return rc;
}
