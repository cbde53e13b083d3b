/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The memcached endpoint's server: `threads` workers, each a thread with
 * its own listening socket on the port (SO_REUSEPORT: the kernel spreads
 * connections) and its own epoll set, level triggered, non-blocking
 * sockets; a connection stays on its worker. Each connection has a bounded input
 * buffer (one request at most: a text line or a binary packet) and a
 * bounded output buffer; while answers wait to be written the connection
 * is not read (back-pressure instead of growth). Connections are never
 * closed for idleness (Dalli keeps them for ever), only on quit, a request
 * memcached would close on, a peer close or an I/O error.
 */
#include "serve/memcached/memcached.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/rc.h"
#include "store/store.h"

#define READ_CHUNK 16384u
#define OUT_HIGH (256u * 1024u)    /* stop parsing past this much pending output */
#define OUT_MAX (OUT_HIGH + IOCB_MC_VALUE_MAX + 4096u)
#define IN_MAX (IOCB_MC_BODY_MAX + 24u + IOCB_MC_LINE_MAX)
#define MAX_EVENTS 64

struct conn {
	int fd;
	struct iocb_mc_session s;
	struct iocb_buf in, out;
	size_t out_off; /* bytes of out already written */
	bool want_out;  /* registered for EPOLLOUT (and not EPOLLIN) */
	struct conn *prev, *next; /* the server's list, for stop */
};

struct worker {
	int lfd, ep, efd;
	uint16_t port;
	unsigned max_conns;
	struct iocb_mc_store_ctx ctx;
	struct conn *conns; /* open connections (server thread only) */
	pthread_t thr;
	struct iocb_mc_server_stats local; /* the thread's own */
	pthread_mutex_t mu;                /* guards pub */
	struct iocb_mc_server_stats pub;
};

static int listen_on(struct worker *m, const char *host, uint16_t port, struct iocb_err *err)
{
	struct addrinfo hints, *res = NULL;
	char ps[8];
	int grc, last = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(ps, sizeof ps, "%u", (unsigned)port);
	grc = getaddrinfo(host, ps, &hints, &res);
	if (grc != 0)
		return iocb_err_set(err, IOCB_ECONFIG, "memcached: cannot resolve host \"%s\": %s", host,
				    gai_strerror(grc));
	for (struct addrinfo *ai = res; ai && m->lfd < 0; ai = ai->ai_next) {
		int one = 1, fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			last = errno;
			continue;
		}
		/* SO_REUSEPORT: each worker has its own listening socket on the port; the kernel spreads connections. */
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
		    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
			last = errno;
			close(fd);
			continue;
		}
		m->lfd = fd;
	}
	freeaddrinfo(res);
	if (m->lfd < 0)
		return iocb_err_set(err, IOCB_EIO, "memcached: cannot listen on %s:%s: %s", host, ps, strerror(last));
	{
		struct sockaddr_storage sa;
		socklen_t sl = sizeof sa;
		if (getsockname(m->lfd, (struct sockaddr *)&sa, &sl) == 0)
			m->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
								  : ((struct sockaddr_in *)&sa)->sin_port);
	}
	return IOCB_OK;
}

static void conn_free(struct worker *m, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		m->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	epoll_ctl(m->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	iocb_mc_session_fini(&c->s);
	iocb_buf_fini(&c->in);
	iocb_buf_fini(&c->out);
	free(c);
	m->local.connections--;
}

static void accept_all(struct worker *m)
{
	for (;;) {
		int one = 1, fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = {.events = EPOLLIN};
		struct conn *c;

		if (fd < 0)
			return;
		/*
		 * As memcached: no Nagle delay. A client that pipelines a second
		 * batch before reading the first answer would otherwise wait for
		 * its own delayed ACK (40 ms) on every answer after the first.
		 */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (m->local.connections >= m->max_conns) {
			m->local.refused++;
			close(fd);
			continue;
		}
		c = iocb_xcalloc(1, sizeof *c);
		c->fd = fd;
		c->s.lookup = iocb_mc_store_lookup;
		c->s.lookup_ud = &m->ctx;
		c->s.stats = &m->local.mc;
		iocb_buf_init(&c->in, IN_MAX);
		iocb_buf_init(&c->out, OUT_MAX);
		ev.data.ptr = c;
		if (epoll_ctl(m->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			iocb_buf_fini(&c->in);
			iocb_buf_fini(&c->out);
			free(c);
			continue;
		}
		c->next = m->conns;
		if (m->conns)
			m->conns->prev = c;
		m->conns = c;
		m->local.accepted++;
		m->local.connections++;
	}
}

/* Parse what is buffered, drop what was consumed. < 0: close. */
static int process(struct conn *c)
{
	size_t used;
	int rc = iocb_mc_feed(&c->s, (const uint8_t *)c->in.ptr, c->in.len, &used, &c->out, OUT_HIGH);

	if (rc < 0)
		return rc;
	memmove(c->in.ptr, c->in.ptr + used, c->in.len - used);
	iocb_buf_trim(&c->in, c->in.len - used);
	return IOCB_OK;
}

/* Write pending output; switch interest between IN and OUT. Returns false to close. */
static bool flush(struct worker *m, struct conn *c)
{
	struct epoll_event ev = {.data.ptr = c};

	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.ptr + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0)
			return false;
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out.len) {
		iocb_buf_reset(&c->out);
		c->out_off = 0;
		if (c->s.close)
			return false;
	}
	if (c->want_out != (c->out.len > 0)) {
		c->want_out = c->out.len > 0;
		ev.events = c->want_out ? EPOLLOUT : EPOLLIN;
		if (epoll_ctl(m->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
			return false;
	}
	return true;
}

/* One readiness event of a connection. Returns false to close it. */
static bool on_conn(struct worker *m, struct conn *c, uint32_t events)
{
	if (events & EPOLLOUT) {
		if (!flush(m, c))
			return false;
		/* Output drained: answer what waited behind it before reading more. */
		if (!c->want_out && c->in.len > 0 && (process(c) < 0 || !flush(m, c)))
			return false;
		return true;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ssize_t n;
		if (iocb_buf_reserve(&c->in, READ_CHUNK) != IOCB_OK && c->in.cap == c->in.len)
			return false; /* cannot happen: a full request is always consumed */
		n = recv(c->fd, c->in.ptr + c->in.len, c->in.cap - c->in.len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n <= 0)
			return false;
		c->in.len += (size_t)n;
		if (process(c) < 0)
			return false;
		return flush(m, c);
	}
	return true;
}

static void publish(struct worker *m)
{
	pthread_mutex_lock(&m->mu);
	m->pub = m->local;
	pthread_mutex_unlock(&m->mu);
}

static void *run(void *arg)
{
	struct worker *m = arg;
	struct epoll_event evs[MAX_EVENTS];
	bool stop = false;

	iocb_store_reader_register();
	while (!stop) {
		int n = epoll_wait(m->ep, evs, MAX_EVENTS, 1000);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c == NULL)
				accept_all(m);
			else if (c == (struct conn *)&m->efd)
				stop = true;
			else if (!on_conn(m, c, evs[i].events))
				conn_free(m, c);
		}
		publish(m);
	}
	while (m->conns)
		conn_free(m, m->conns);
	publish(m);
	iocb_store_reader_unregister();
	return NULL;
}

struct iocb_mc_server {
	struct worker *w; /* n workers, each a thread with its own epoll set and listening socket */
	unsigned n;
	uint16_t port;
	char *ns;
	struct iocb_mc_digest *digest; /* shared by the workers */
};

static void worker_fini(struct worker *m)
{
	if (m->lfd >= 0)
		close(m->lfd);
	if (m->ep >= 0)
		close(m->ep);
	if (m->efd >= 0)
		close(m->efd);
	pthread_mutex_destroy(&m->mu);
}

static int worker_init(struct worker *m, const struct iocb_mc_opts *o, uint16_t port, unsigned max_conns,
		       struct iocb_str ns, struct iocb_err *err)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int rc;

	m->lfd = m->ep = m->efd = -1;
	pthread_mutex_init(&m->mu, NULL);
	m->max_conns = max_conns;
	m->ctx.store = o->store;
	m->ctx.ns = ns;
	m->ctx.value = o->value;
	rc = listen_on(m, o->host && o->host[0] ? o->host : "127.0.0.1", port, err);
	if (rc < 0)
		return rc;
	m->ep = epoll_create1(EPOLL_CLOEXEC);
	m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->ep < 0 || m->efd < 0 || epoll_ctl(m->ep, EPOLL_CTL_ADD, m->lfd, &ev) != 0)
		return iocb_err_set(err, IOCB_EIO, "memcached: %s", strerror(errno));
	ev.data.ptr = &m->efd;
	if (epoll_ctl(m->ep, EPOLL_CTL_ADD, m->efd, &ev) != 0)
		return iocb_err_set(err, IOCB_EIO, "memcached: %s", strerror(errno));
	return IOCB_OK;
}

static void server_free(struct iocb_mc_server *s, unsigned started)
{
	uint64_t one = 1;

	for (unsigned i = 0; i < started; i++)
		if (write(s->w[i].efd, &one, sizeof one) != (ssize_t)sizeof one)
			abort(); /* an eventfd write of 1 cannot fail */
	for (unsigned i = 0; i < started; i++)
		pthread_join(s->w[i].thr, NULL);
	for (unsigned i = 0; i < s->n; i++)
		worker_fini(&s->w[i]);
	free(s->w);
	iocb_mc_digest_close(s->digest);
	free(s->ns);
	free(s);
}

int iocb_mc_start(const struct iocb_mc_opts *o, struct iocb_mc_server **out, struct iocb_err *err)
{
	struct iocb_mc_server *s = iocb_xcalloc(1, sizeof *s);
	unsigned max = o->max_connections ? o->max_connections : 1024, started = 0;
	struct iocb_str ns = {NULL, 0};
	int rc = IOCB_OK;

	*out = NULL;
	s->n = o->threads ? o->threads : 1;
	s->w = iocb_xcalloc(s->n, sizeof *s->w);
	if (o->ns && o->ns[0]) {
		s->ns = iocb_xstrdup(o->ns);
		ns = (struct iocb_str){s->ns, strlen(s->ns)};
	}
	for (unsigned i = 0; i < s->n; i++)
		s->w[i].lfd = s->w[i].ep = s->w[i].efd = -1;
	rc = iocb_mc_digest_open(o->store, &s->digest, err);
	for (unsigned i = 0; i < s->n && rc == IOCB_OK; i++) {
		/* The first worker may take any free port (opts.port 0); the others join it. */
		rc = worker_init(&s->w[i], o, i ? s->port : o->port, (max + s->n - 1) / s->n, ns, err);
		s->w[i].ctx.digest = s->digest;
		if (i == 0)
			s->port = s->w[0].port;
	}
	while (rc == IOCB_OK && started < s->n) {
		if (pthread_create(&s->w[started].thr, NULL, run, &s->w[started]) != 0)
			rc = iocb_err_set(err, IOCB_EIO, "memcached: pthread_create failed");
		else
			started++;
	}
	if (rc < 0) {
		server_free(s, started);
		return rc;
	}
	*out = s;
	return IOCB_OK;
}

void iocb_mc_stop(struct iocb_mc_server *s)
{
	if (s)
		server_free(s, s->n);
}

uint16_t iocb_mc_port(const struct iocb_mc_server *s)
{
	return s->port;
}

void iocb_mc_server_stats(struct iocb_mc_server *s, struct iocb_mc_server_stats *out)
{
	memset(out, 0, sizeof *out);
	for (unsigned i = 0; i < s->n; i++) {
		struct worker *m = &s->w[i];
		pthread_mutex_lock(&m->mu);
		for (int c = 0; c < IOCB_MC_CMD__N; c++)
			out->mc.requests[c] += m->pub.mc.requests[c];
		out->mc.hits += m->pub.mc.hits;
		out->mc.misses += m->pub.mc.misses;
		out->connections += m->pub.connections;
		out->accepted += m->pub.accepted;
		out->refused += m->pub.refused;
		pthread_mutex_unlock(&m->mu);
	}
	iocb_mc_digest_stats(s->digest, &out->digest_values, &out->digest_bytes);
}
