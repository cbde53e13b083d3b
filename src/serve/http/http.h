/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP endpoint of `iocbus run`, on libmicrohttpd's own polling thread
 * (epoll), which registers with the store's RCU around each lookup request.
 *
 *   GET /metrics        Prometheus text format 0.0.4, from handlers->metrics
 *   GET /healthz        200 "ok\n" or 503 with the reason, from handlers->health
 *   GET /v1/lookup?value=V[&value=W...]
 *                       200, one iocb_render_lookup_json() object per value,
 *                       one per line: the bytes `iocbus lookup` prints, except
 *                       that at most 32 matches are written per value (then
 *                       "truncated":true; the CLI writes up to 1024), so many
 *                       slow clients cannot pin large bodies;
 *                       400 without a value or with more than 100 values;
 *                       values are URL-decoded (a bare '+' is a space: send
 *                       %2B); the request target is capped at 8 KiB (414)
 *   anything else       404; methods other than GET/HEAD: 405
 *
 * Binds to opts.host (numeric IPv4/IPv6, loopback by default in the
 * config); at most opts.max_connections connections (more wait in the
 * listen backlog until one closes). A connection is closed after
 * opts.idle_timeout_s without traffic, and when its request head is not
 * complete opts.header_timeout_s after it was accepted or after its
 * previous request was answered, however slowly it trickles in (slowloris).
 * Request URLs over 8 KiB are refused by MHD's memory limit. Every
 * response is built in a bounded buffer. /metrics appends the endpoint's
 * own families (iocbus_http_*) to what handlers->metrics writes.
 *
 * Threads: libmicrohttpd's one internal thread runs every handler; a
 * second thread of this module enforces the header deadline.
 */
#ifndef IOCB_SERVE_HTTP_HTTP_H
#define IOCB_SERVE_HTTP_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/rc.h"
#include "store/store.h"

struct iocb_http_opts {
	const char *host;          /* listen address, e.g. "127.0.0.1" or "::1" */
	uint16_t port;             /* 0 = any free port */
	unsigned max_connections;  /* default 64 */
	double idle_timeout_s;     /* close after this long without traffic; 0 = 10 s; rounded up to whole s */
	double header_timeout_s;   /* a request head must be in this long after accept / the last answer; 0 = 5 s */
};

struct iocb_http_handlers {
	/*
	 * Append the whole /metrics body to out. On the HTTP thread (MHD's),
	 * which is a store RCU reader only during /v1/lookup: the handlers must
	 * not look the store up (iocb_store_stats() takes no read lock: fine).
	 */
	void (*metrics)(void *ud, struct iocb_buf *out);
	/* true = healthy; append a short text body (one line) to out either way. */
	bool (*health)(void *ud, struct iocb_buf *out);
	void *ud;
	/* The decay score of a record's marks for /v1/lookup (issue #15); NULL = no scores. Called with ud. */
	double (*score)(void *ud, const struct iocb_store_quality *q, int64_t now);
};

struct iocb_httpd;

/*
 * Start serving. `store` is borrowed (lookups). *bound_port (may be NULL)
 * gets the port actually bound. On success *out is owned by the caller.
 */
int iocb_http_start(const struct iocb_http_opts *opts, struct iocb_store *store,
		     const struct iocb_http_handlers *h, struct iocb_httpd **out, uint16_t *bound_port,
		     struct iocb_err *err) IOCB_MUST_USE;
/* Stop, join the thread, free. NULL is a no-op. */
void iocb_http_stop(struct iocb_httpd *d);

#endif
