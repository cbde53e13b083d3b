/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP endpoint of `iocbus run` (see http.h for the routes).
 *
 * libmicrohttpd runs its own single polling thread (MHD_USE_INTERNAL_POLLING_THREAD
 * with its epoll backend). An earlier version drove MHD in external mode from
 * a poll(..., -1) loop of ours; at http.max_connections MHD takes the listen
 * socket out of its epoll set and puts it back only at the start of its next
 * run, which that loop never made once the connections had gone: the
 * endpoint stopped accepting for good. MHD's own loop re-arms the listen
 * socket on every turn, so reaching the limit now only delays new clients
 * until a connection closes.
 *
 * Every MHD callback runs on that one thread, so the lookup scratch needs no
 * lock. The thread is MHD's, with no start or exit hook for us, so it
 * registers as a store RCU reader around each /v1/lookup request only
 * (registration is a mutex and a list insert: cheap next to a request) and
 * holds the read lock only around each single lookup, so a writer's grace
 * period never waits for more than one lookup. A slow handler delays every
 * other connection: the handlers are in-memory and bounded (at most 100
 * lookups of at most IOCB_HTTP_MAX_HITS hits, one metrics rendering), so
 * one thread is plenty for a scrape endpoint.
 *
 * Two clocks bound a connection. MHD's connection timeout (idle_timeout)
 * closes one that sends and reads nothing for that long; any byte resets
 * it, so on its own it cannot stop a client that trickles its request
 * head a byte every few seconds (slowloris), and max_connections such
 * clients would shut everyone else out for as long as they like. So each
 * connection also gets a header deadline (header_timeout) from when it is
 * accepted, and again from the end of each answered request on a kept-alive
 * connection: the whole next request head must be in by then. MHD has no
 * timer of its own for that, so a small sweeper thread of ours keeps one
 * slot per connection (fd and deadline, filled from MHD's connection
 * notifications under `lock`) and shutdown()s the socket of a connection
 * past its deadline; MHD then sees end-of-file and closes it on its thread.
 * MHD reports a connection closed before it closes the fd, and the slot is
 * cleared under the same lock, so the sweeper never touches a reused fd.
 *
 * Requests are bounded before they reach us: MHD refuses a request that
 * does not fit in its per-connection memory pool, and we refuse a request
 * target longer than IOCB_HTTP_MAX_URI itself (the URI log callback sees the
 * raw target before MHD parses it). Every response body is built in a
 * capped iocb_buf and handed to MHD without a copy.
 */
#include "serve/http/http.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/prom.h"
#include "core/time.h"
#include "json/json.h"
#include "serve/http/mispapi.h"
#include "serve/render/render.h"
#include "serve/http/status.h"

/*
 * Hits written per looked-up value; past it the object says "truncated":true.
 * (`iocbus lookup` uses 1024: the bytes are the same up to 32 hits.)
 */
#define IOCB_HTTP_MAX_HITS 32
/* Values per /v1/lookup request, and bytes per value (after URL decoding). */
#define IOCB_HTTP_MAX_VALUES 100
#define IOCB_HTTP_MAX_VALUE ((size_t)64 * 1024)
/* Longest request target (path and query, raw) we serve; longer gets 414. */
#define IOCB_HTTP_MAX_URI ((size_t)8 * 1024)
/*
 * MHD's per-connection pool: holds the request line, headers and the
 * parsed arguments, so it also bounds the whole request head.
 */
#define IOCB_HTTP_CONN_MEMORY ((size_t)32 * 1024)
/* Defaults of http.idle_timeout and http.header_timeout, in seconds. */
#define IOCB_HTTP_IDLE_TIMEOUT 10.0
#define IOCB_HTTP_HEADER_TIMEOUT 5.0
/*
 * Caps on response bodies. MHD keeps each until the client has read it, so
 * max_connections slow readers can pin that many: a lookup answer (at most
 * 100 x 32 hits, normally a few MiB) gets 16 MiB, the one /metrics
 * exposition 64 MiB. Past the cap the answer is a 500.
 */
#define IOCB_HTTP_MAX_LOOKUP_BODY ((size_t)16 * 1024 * 1024)
#define IOCB_HTTP_MAX_METRICS_BODY ((size_t)64 * 1024 * 1024)
/* MHD diagnostics logged per second at most, after start. */
#define IOCB_HTTP_LOG_PER_SEC 10

#define CT_JSON "application/json"
#define CT_NDJSON "application/x-ndjson"
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

/* One open connection, for the header deadline (see the file comment). */
struct conn_slot {
	int fd;          /* the connection's socket, owned by MHD; -1: slot free */
	double deadline; /* monotonic second by which its request head must be in; 0: none (answering) */
	struct iocb_buf *body; /* MHD thread only: the request body of a MISP API request, or NULL */
	bool body_too_large;   /* MHD thread only: that body went past IOCB_MISPAPI_MAX_BODY */
};

struct iocb_httpd {
	struct MHD_Daemon *mhd;            /* the daemon; owned, stopped in iocb_http_stop() */
	struct iocb_store *store;          /* borrowed: lookups */
	struct iocb_http_handlers h;      /* copy of the caller's handlers */
	const struct iocb_render_quality *quality; /* opts->quality: warninglist names in lookups, or NULL */
	double header_timeout;             /* seconds a request head may take (http.header_timeout) */
	int started;                       /* atomic: MHD is up, its messages go to the log, not start_err */
	struct iocb_store_hit *hits;       /* HTTP thread only: lookup scratch, IOCB_HTTP_MAX_HITS */
	struct iocb_mispapi *mispapi;      /* the MISP-compatible API, NULL when off (no keys) */
	char addr[INET6_ADDRSTRLEN + 16];  /* "host:port" or "[v6]:port", for logs */
	char start_err[256];               /* first MHD message during start, for the error report */
	time_t log_sec;                    /* HTTP thread only: second of the current log window */
	unsigned log_count;                /* HTTP thread only: MHD messages logged in that second */
	const struct iocb_http_auth *auth; /* http.auth, borrowed; NULL = none (issue #16) */
	uint64_t auth_counts[IOCB_HTTP_AUTH__N]; /* HTTP thread only: auth results (issue #16) */

	pthread_mutex_t lock;              /* guards the fields below */
	pthread_cond_t cond;               /* lock: signalled when a deadline is armed or on stop */
	struct conn_slot *slots;           /* lock: one per possible connection (max_connections) */
	unsigned nslots;                   /* number of slots, fixed at start */
	unsigned nconns;                   /* lock: slots in use */
	uint64_t header_timeouts;          /* lock: connections closed for a late request head */
	double wake_at;                    /* lock: deadline the sweeper sleeps until; 0: none */
	struct iocb_ratelimit timeout_log; /* sweeper only: header timeout warnings */
	bool stop;                         /* lock: the sweeper must exit */
	bool lock_init;                    /* lock and cond were initialised */
	pthread_t sweeper;                 /* enforces the header deadlines */
	bool sweeper_started;              /* sweeper must be joined */
};

/* Values of the `value` arguments of one /v1/lookup request (views into MHD's pool). */
struct lookup_args {
	struct iocb_str v[IOCB_HTTP_MAX_VALUES]; /* the first IOCB_HTTP_MAX_VALUES values, in order */
	size_t n;                                /* values seen, may exceed IOCB_HTTP_MAX_VALUES */
	bool too_long;                           /* one value exceeded IOCB_HTTP_MAX_VALUE */
};

/* ------------------------------------------------------------ logging */

/* MHD's diagnostics: captured for the error report while starting, then logged (rate-limited). */
IOCB_PRINTF(2, 0)
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct iocb_httpd *d = cls;
	char msg[256];
	size_t n;
	time_t now;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (msg[i] == '"' || msg[i] == '\\' || (unsigned char)msg[i] < 0x20)
			msg[i] = '\'';
	if (!__atomic_load_n(&d->started, __ATOMIC_ACQUIRE)) {
		/* The first message names the cause (bind: address in use...). */
		if (!d->start_err[0])
			snprintf(d->start_err, sizeof(d->start_err), "%s", msg);
		return;
	}
	now = time(NULL);
	if (now != d->log_sec) {
		d->log_sec = now;
		d->log_count = 0;
	}
	if (d->log_count++ < IOCB_HTTP_LOG_PER_SEC)
		iocb_log(IOCB_LOG_WARN, "http", "\"libmicrohttpd\" detail=\"%s\"", msg);
}

/*
 * Sees the raw request target before MHD parses it. Its return value becomes
 * the request's context pointer: we use it to carry the target's length
 * (plus one, so it is never NULL; the handler adds SEEN_HEADERS) to the
 * access handler without allocating, which could leak if MHD later drops
 * the request before the handler runs.
 */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	return (void *)(uintptr_t)(strlen(uri) + 1);
}

/* ------------------------------------------------------------ header deadlines */

/* Start (arm) or stop the header clock of a slot. With d->lock held. */
static void set_deadline_locked(struct iocb_httpd *d, struct conn_slot *sl, bool arm)
{
	sl->deadline = arm ? iocb_time_mono_s() + d->header_timeout : 0;
	/* Deadlines are armed in time order, so the sweeper rarely needs waking. */
	if (arm && (d->wake_at == 0 || sl->deadline < d->wake_at))
		pthread_cond_signal(&d->cond);
}

/* The same for connection c, from an MHD callback (on the MHD thread). */
static void set_deadline(struct iocb_httpd *d, struct MHD_Connection *c, bool arm)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_slot *sl = ci ? ci->socket_context : NULL;

	if (!sl)
		return;
	pthread_mutex_lock(&d->lock);
	set_deadline_locked(d, sl, arm);
	pthread_mutex_unlock(&d->lock);
}

/* Drop a slot's request body (MHD thread). */
static void free_body(struct conn_slot *sl)
{
	if (sl->body) {
		iocb_buf_fini(sl->body);
		free(sl->body);
		sl->body = NULL;
	}
	sl->body_too_large = false;
}

/*
 * MHD's connection notifications: a new connection takes a slot with its
 * header clock running; a closed one frees it. MHD calls CLOSED before it
 * closes the socket, which is what keeps the sweeper off reused fds.
 */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct iocb_httpd *d = cls;
	struct conn_slot *sl = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!sl)
			return;
		free_body(sl);
		pthread_mutex_lock(&d->lock);
		sl->fd = -1;
		sl->deadline = 0;
		d->nconns--;
		pthread_mutex_unlock(&d->lock);
		*socket_context = NULL;
		return;
	}
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci)
		return;
	pthread_mutex_lock(&d->lock);
	/* MHD admits at most nslots connections, so a slot is always free. */
	for (unsigned i = 0; i < d->nslots && !sl; i++)
		if (d->slots[i].fd < 0)
			sl = &d->slots[i];
	if (sl) {
		sl->fd = ci->connect_fd;
		d->nconns++;
		set_deadline_locked(d, sl, true);
	}
	pthread_mutex_unlock(&d->lock);
	*socket_context = sl;
}

/* A request is over (answered, or the connection is going): the next request head's clock starts. */
static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls, enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	(void)req_cls;
	(void)toe;
	if (ci && ci->socket_context)
		free_body(ci->socket_context);
	set_deadline(cls, c, true);
}

/* The sweeper thread: shuts down the connections whose request head is late. */
static void *sweep(void *arg)
{
	struct iocb_httpd *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stop) {
		double now = iocb_time_mono_s(), next = 0;
		uint64_t dropped = 0, suppressed = 0;

		for (unsigned i = 0; i < d->nslots; i++) {
			struct conn_slot *sl = &d->slots[i];
			if (sl->fd < 0 || sl->deadline == 0)
				continue;
			if (sl->deadline <= now) {
				/* MHD reads end-of-file and closes the connection on its own thread. */
				(void)shutdown(sl->fd, SHUT_RDWR);
				sl->deadline = 0;
				dropped++;
			} else if (next == 0 || sl->deadline < next) {
				next = sl->deadline;
			}
		}
		d->header_timeouts += dropped;
		if (dropped && iocb_ratelimit_ok(&d->timeout_log, &suppressed))
			iocb_log(IOCB_LOG_WARN, "http",
				 "\"connections closed: request head not complete within http.header_timeout\" "
				 "addr=%s closed=%" PRIu64 " header_timeout=%.3f suppressed=%" PRIu64,
				 d->addr, dropped, d->header_timeout, suppressed);
		d->wake_at = next;
		if (next == 0) {
			pthread_cond_wait(&d->cond, &d->lock);
		} else {
			struct timespec ts;
			ts.tv_sec = (time_t)next;
			ts.tv_nsec = (long)((next - floor(next)) * 1e9);
			if (ts.tv_nsec > 999999999L)
				ts.tv_nsec = 999999999L;
			(void)pthread_cond_timedwait(&d->cond, &d->lock, &ts);
		}
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

/* ------------------------------------------------------------ responses */

/*
 * Queue body (ownership of body->ptr passes to MHD whatever happens) with
 * status and content type. Returns what MHD_queue_response() returned.
 */
static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *ctype, struct iocb_buf *body,
			       bool allow_hdr)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (body->len)
		r = MHD_create_response_from_buffer_with_free_callback(body->len, body->ptr, free);
	else
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!r || !body->len)
		free(body->ptr);
	body->ptr = NULL;
	body->len = body->cap = 0;
	if (!r)
		return MHD_NO;
	ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (ret == MHD_YES)
		ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (ret == MHD_YES && allow_hdr)
		ret = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (ret == MHD_YES)
		ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* {"error":"<msg>"} with the given status. */
static enum MHD_Result respond_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	struct iocb_buf b;
	struct iocb_jw w;

	iocb_buf_init(&b, 1024);
	iocb_jw_init(&w, &b);
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "error");
	iocb_jw_cstr(&w, msg);
	iocb_jw_obj_end(&w);
	if (iocb_jw_rc(&w) == IOCB_OK && iocb_buf_putc(&b, '\n') == IOCB_OK)
		return respond(c, status, CT_JSON, &b, status == MHD_HTTP_METHOD_NOT_ALLOWED);
	iocb_buf_fini(&b);
	return MHD_NO;
}

/* ------------------------------------------------------------ routes */

/* The endpoint's own families, after the handler's. */
static int append_metrics(struct iocb_httpd *d, struct iocb_buf *b)
{
	struct iocb_prom p;
	unsigned conns;
	uint64_t timeouts;

	pthread_mutex_lock(&d->lock);
	conns = d->nconns;
	timeouts = d->header_timeouts;
	pthread_mutex_unlock(&d->lock);
	iocb_prom_begin(&p, b);
	iocb_prom_head(&p, "iocbus_http_connections", "gauge", "Open connections to the HTTP endpoint.");
	iocb_prom_u64(&p, "iocbus_http_connections", NULL, conns);
	iocb_prom_head(&p, "iocbus_http_header_timeouts_total", "counter",
		       "Connections closed because the request head was not complete within http.header_timeout.");
	iocb_prom_u64(&p, "iocbus_http_header_timeouts_total", NULL, timeouts);
	iocb_http__auth_metrics(&p, d->auth, d->auth_counts);
	return iocb_prom_end(&p, "http");
}

static enum MHD_Result route_metrics(struct iocb_httpd *d, struct MHD_Connection *c)
{
	struct iocb_buf b;

	iocb_buf_init(&b, IOCB_HTTP_MAX_METRICS_BODY);
	if (d->h.metrics)
		d->h.metrics(d->h.ud, &b);
	/*
	 * The handler reports failure with an empty body: renderers are all or
	 * nothing (core/prom.h) and the daemon empties the body when one did
	 * not fit (a real exposition always has the daemon's own families).
	 */
	if (d->h.metrics && b.len == 0) {
		iocb_buf_fini(&b);
		return respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics exposition too large");
	}
	if (append_metrics(d, &b) < 0 || (d->mispapi && iocb_mispapi_metrics(d->mispapi, &b) < 0)) {
		iocb_buf_fini(&b);
		return respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics exposition too large");
	}
	return respond(c, MHD_HTTP_OK, CT_METRICS, &b, false);
}

static enum MHD_Result route_health(struct iocb_httpd *d, struct MHD_Connection *c)
{
	struct iocb_buf b;
	bool ok = true;
	int rc = IOCB_OK;

	iocb_buf_init(&b, (size_t)64 * 1024);
	if (d->h.health)
		ok = d->h.health(d->h.ud, &b);
	if (b.len == 0)
		rc = iocb_buf_append_c(&b, ok ? "ok" : "unhealthy");
	if (rc == IOCB_OK && b.ptr[b.len - 1] != '\n')
		rc = iocb_buf_putc(&b, '\n');
	if (rc < 0) {
		iocb_buf_fini(&b);
		return respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "health text too long");
	}
	return respond(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, CT_TEXT, &b, false);
}

/* MHD_get_connection_values_n iterator: collect every `value` argument. */
static enum MHD_Result collect_value(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
				     const char *value, size_t value_size)
{
	struct lookup_args *a = cls;

	if (key_size != 5 || memcmp(key, "value", 5) != 0)
		return MHD_YES;
	/* "?value" without '=' comes as NULL: the same as an empty value. */
	if (!value)
		value_size = 0;
	if (value_size > IOCB_HTTP_MAX_VALUE)
		a->too_long = true;
	if (a->n < IOCB_HTTP_MAX_VALUES)
		a->v[a->n] = iocb_str_make(value ? value : "", value_size);
	a->n++;
	return MHD_YES;
}

static enum MHD_Result route_lookup(struct iocb_httpd *d, struct MHD_Connection *c)
{
	struct lookup_args a;
	struct iocb_buf b;
	struct iocb_jw w;
	int rc = IOCB_OK;

	a.n = 0;
	a.too_long = false;
	if (MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, collect_value, &a) < 0)
		return MHD_NO;
	if (a.n == 0)
		return respond_error(c, MHD_HTTP_BAD_REQUEST, "missing value parameter");
	if (a.n > IOCB_HTTP_MAX_VALUES)
		return respond_error(c, MHD_HTTP_BAD_REQUEST, "more than 100 values");
	if (a.too_long)
		return respond_error(c, MHD_HTTP_BAD_REQUEST, "value longer than 65536 bytes");

	iocb_buf_init(&b, IOCB_HTTP_MAX_LOOKUP_BODY);
	/* MHD's thread has no exit hook for us: it is a reader for this request only. */
	iocb_store_reader_register();
	for (size_t i = 0; i < a.n && rc == IOCB_OK; i++) {
		iocb_jw_init(&w, &b);
		iocb_store_read_lock();
		struct iocb_render_quality rq = {.score = d->h.score, .ud = d->h.ud};
		if (d->quality) { /* warninglist names */
			rq.names = d->quality->names;
			rq.names_ud = d->quality->names_ud;
		}
		(void)iocb_render_lookup_json_q(d->store, &w, a.v[i], d->hits, IOCB_HTTP_MAX_HITS, &rq);
		iocb_store_read_unlock();
		rc = iocb_jw_rc(&w);
		if (rc == IOCB_OK)
			rc = iocb_buf_putc(&b, '\n');
	}
	iocb_store_reader_unregister();
	if (rc < 0) {
		iocb_buf_fini(&b);
		return respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "response too large");
	}
	return respond(c, MHD_HTTP_OK, CT_NDJSON, &b, false);
}

/*
 * The MISP API's request head is in: start a fresh body for it in the
 * connection's slot. An announced body past the cap is answered (after
 * authentication) with 413 at once; MHD then closes the connection.
 */
static enum MHD_Result mispapi_head(struct iocb_httpd *d, struct MHD_Connection *c, const char *url,
				    const char *method)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct conn_slot *sl = ci ? ci->socket_context : NULL;

	if (!sl)
		return respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "no connection slot");
	free_body(sl);
	if (cl && strtoull(cl, NULL, 10) > IOCB_MISPAPI_MAX_BODY)
		return (enum MHD_Result)iocb_mispapi_serve(d->mispapi, d->store, c, method, url, NULL, true);
	return MHD_YES;
}

/* A piece of the MISP API's request body, or (none left) the answer. */
static enum MHD_Result mispapi_body(struct iocb_httpd *d, struct MHD_Connection *c, const char *url,
				    const char *method, const char *data, size_t *size)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_slot *sl = ci ? ci->socket_context : NULL;

	if (!sl)
		return MHD_NO;
	if (*size) {
		if (!sl->body) {
			sl->body = iocb_xcalloc(1, sizeof(*sl->body));
			iocb_buf_init(sl->body, IOCB_MISPAPI_MAX_BODY);
		}
		/* Past the cap the rest is read and dropped: the answer is a 413 either way. */
		if (!sl->body_too_large && iocb_buf_append_str(sl->body, iocb_str_make(data, *size)) < 0)
			sl->body_too_large = true;
		*size = 0;
		return MHD_YES;
	}
	return (enum MHD_Result)iocb_mispapi_serve(d->mispapi, d->store, c, method, url, sl->body,
						   sl->body_too_large);
}

/* Set in the request context once the access handler has seen the request's headers. */
#define SEEN_HEADERS ((uintptr_t)1 << (sizeof(uintptr_t) * 8 - 1))

/* True when the request announces a body (a GET or HEAD should not have one). */
static bool has_body(struct MHD_Connection *c)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
	       (cl && strcmp(cl, "0") != 0);
}

/*
 * The access handler. MHD calls it once the headers are in, then once per
 * chunk of body, then once more with the request complete. A response
 * queued on the first call is an "early" one, after which MHD closes the
 * connection (it will not read a body we did not want), so only requests we
 * refuse outright (wrong method, GET with a body, target too long) are
 * answered there; the routes answer on the last call and keep-alive works.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	struct iocb_httpd *d = cls;
	uintptr_t ctx = (uintptr_t)*req_cls;
	size_t uri_len = (size_t)(ctx & ~SEEN_HEADERS);
	bool get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	enum { R_NONE, R_METRICS, R_HEALTH, R_LOOKUP, R_PAGE, R_STATUS, R_MISPAPI } route = R_NONE;
	enum MHD_Result ret;

	if (strcmp(url, "/metrics") == 0)
		route = R_METRICS;
	else if (strcmp(url, "/healthz") == 0)
		route = R_HEALTH;
	else if (strcmp(url, "/v1/lookup") == 0)
		route = R_LOOKUP;
	/* issue #16 status page: the status page and its JSON */
	else if (strcmp(url, "/") == 0)
		route = R_PAGE;
	else if (strcmp(url, "/v1/status") == 0)
		route = R_STATUS;
	else if (d->mispapi && iocb_mispapi_route(url))
		route = R_MISPAPI;
	if (!(ctx & SEEN_HEADERS)) {
		*req_cls = (void *)(ctx | SEEN_HEADERS);
		/* The head is in: the header clock stops until this request is answered. */
		set_deadline(d, c, false);
		if (uri_len == 0 || uri_len - 1 > IOCB_HTTP_MAX_URI)
			return respond_error(c, MHD_HTTP_URI_TOO_LONG, "request target longer than 8192 bytes");
		/* issue #16 status page: http.auth before anything else is said about the request; the
		 * MISP API's paths authenticate with MISP's keys instead (mispapi.c) */
		if (d->auth && route != R_MISPAPI && iocb_http__auth_applies(url) && !iocb_http__auth_gate(d->auth, c, d->auth_counts, &ret))
			return ret;
		if (route == R_MISPAPI)
			return mispapi_head(d, c, url, method);
		/* HEAD runs the GET handler; MHD sends its headers without the body. */
		if (!get && route == R_NONE)
			return respond_error(c, MHD_HTTP_NOT_FOUND, "not found");
		if (!get)
			return respond_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		if (has_body(c))
			return respond_error(c, MHD_HTTP_BAD_REQUEST, "request body not allowed");
		return MHD_YES;
	}
	if (route == R_MISPAPI)
		return mispapi_body(d, c, url, method, upload_data, upload_data_size);
	/* Not reached with a body (refused above); never answer twice. */
	if (*upload_data_size != 0)
		return MHD_NO;
	switch (route) {
	case R_METRICS:
		return route_metrics(d, c);
	case R_HEALTH:
		return route_health(d, c);
	case R_LOOKUP:
		return route_lookup(d, c);
	case R_PAGE:
		return iocb_http__route_page(c);
	case R_STATUS:
		return iocb_http__route_status(&d->h, c);
	case R_MISPAPI:
	case R_NONE:
		break;
	}
	return respond_error(c, MHD_HTTP_NOT_FOUND, "not found");
}

/* ------------------------------------------------------------ start / stop */

/* Parse a numeric host and port into ss. */
static int parse_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, struct iocb_err *err)
{
	struct addrinfo hints, *res = NULL;
	int g;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	g = getaddrinfo(host, NULL, &hints, &res);
	if (g != 0 || !res || res->ai_addrlen > sizeof(*ss)) {
		if (res)
			freeaddrinfo(res);
		return iocb_err_set(err, IOCB_EINVAL, "http.host '%s' is not a numeric IPv4 or IPv6 address", host);
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	return IOCB_OK;
}

void iocb_http_stop(struct iocb_httpd *d)
{
	if (!d)
		return;
	/* Joins MHD's thread and closes every connection, idle or not, without waiting for clients. */
	if (d->mhd)
		MHD_stop_daemon(d->mhd);
	if (d->sweeper_started) {
		pthread_mutex_lock(&d->lock);
		d->stop = true;
		pthread_cond_signal(&d->cond);
		pthread_mutex_unlock(&d->lock);
		pthread_join(d->sweeper, NULL);
	}
	if (d->lock_init) {
		pthread_cond_destroy(&d->cond);
		pthread_mutex_destroy(&d->lock);
	}
	for (unsigned i = 0; d->slots && i < d->nslots; i++)
		free_body(&d->slots[i]);
	free(d->slots);
	free(d->hits);
	iocb_mispapi_free(d->mispapi);
	free(d);
}

/* Seconds of a duration option, or its default when unset (0). */
static double or_default(double v, double def)
{
	return v > 0 ? v : def;
}

int iocb_http_start(const struct iocb_http_opts *opts, struct iocb_store *store, const struct iocb_http_handlers *h,
		     struct iocb_httpd **out, uint16_t *bound_port, struct iocb_err *err)
{
	struct iocb_httpd *d;
	struct sockaddr_storage ss = {0};
	const union MHD_DaemonInfo *info;
	const char *host = opts->host && opts->host[0] ? opts->host : "127.0.0.1";
	/* Suspend/resume: a long MISP API walk yields to the other connections (mispapi.c). */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
			 MHD_ALLOW_SUSPEND_RESUME;
	unsigned maxconn = opts->max_connections ? opts->max_connections : 64;
	double idle = ceil(or_default(opts->idle_timeout_s, IOCB_HTTP_IDLE_TIMEOUT));
	pthread_condattr_t ca;
	uint16_t port;
	int rc;

	*out = NULL;
	d = iocb_xcalloc(1, sizeof(*d));
	d->store = store;
	if (h)
		d->h = *h;
	d->header_timeout = or_default(opts->header_timeout_s, IOCB_HTTP_HEADER_TIMEOUT);
	d->auth = opts->auth;
	d->quality = opts->quality;
	d->timeout_log.interval_s = 10;
	d->nslots = maxconn;
	d->slots = iocb_xcalloc(maxconn, sizeof(*d->slots));
	for (unsigned i = 0; i < maxconn; i++)
		d->slots[i].fd = -1;
	d->hits = iocb_xcalloc(IOCB_HTTP_MAX_HITS, sizeof(*d->hits));
	d->mispapi = iocb_mispapi_new(opts->misp_api_keys, opts->misp_api_max_attributes, opts->match_non_ids);
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
	d->lock_init = true;
	rc = parse_addr(host, opts->port, &ss, err);
	if (rc < 0)
		goto fail;
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) != MHD_YES) {
		rc = iocb_err_set(err, IOCB_EUNSUPPORTED, "libmicrohttpd was built without epoll support");
		goto fail;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, d,
				  MHD_OPTION_EXTERNAL_LOGGER, mhd_log, d,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_CONNECTION_LIMIT, maxconn,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(idle < UINT_MAX ? idle : UINT_MAX),
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, IOCB_HTTP_CONN_MEMORY,
				  MHD_OPTION_URI_LOG_CALLBACK, on_uri, d,
				  MHD_OPTION_NOTIFY_CONNECTION, on_connection, d,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
				  MHD_OPTION_END);
	if (!d->mhd) {
		rc = iocb_err_set(err, IOCB_EIO, "cannot listen on %s port %u: %s", host, (unsigned)opts->port,
				  d->start_err[0] ? d->start_err : "libmicrohttpd failed to start");
		goto fail;
	}
	__atomic_store_n(&d->started, 1, __ATOMIC_RELEASE);
	info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_BIND_PORT);
	port = info && info->port ? info->port : opts->port;
	if (port == 0) {
		rc = iocb_err_set(err, IOCB_EIO, "cannot tell which port %s was bound to", host);
		goto fail;
	}
	/* Written before the sweeper starts, which logs it. */
	snprintf(d->addr, sizeof(d->addr), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host, (unsigned)port);
	rc = pthread_create(&d->sweeper, NULL, sweep, d);
	if (rc != 0) {
		rc = iocb_err_set(err, IOCB_EIO, "cannot start the HTTP sweeper thread: %s", strerror(rc));
		goto fail;
	}
	d->sweeper_started = true;
	iocb_log(IOCB_LOG_INFO, "http", "\"http listening\" addr=%s max_connections=%u idle_timeout=%.0f header_timeout=%.3f auth=%s",
		 d->addr, maxconn, idle, d->header_timeout,
		 !d->auth ? "none" : iocb_http_auth_has_bearer(d->auth) && iocb_http_auth_has_basic(d->auth) ? "bearer,basic"
		 : iocb_http_auth_has_bearer(d->auth) ? "bearer" : "basic");
	if (bound_port)
		*bound_port = port;
	*out = d;
	return IOCB_OK;
fail:
	iocb_http_stop(d);
	return rc;
}
