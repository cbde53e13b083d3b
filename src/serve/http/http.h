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
 *   GET /               the status page (status.c, docs/STATUS.md): one HTML
 *                       page with its CSS and script inline, ETag-cached
 *   GET /v1/status      200, the JSON object handlers->status writes
 *   /attributes/restSearch[/json][/k:v...]
 *                       GET or POST: the MISP-compatible read API (mispapi.h),
 *                       only when opts.misp_api_keys is set (else 404); the
 *                       only route that reads a request body (at most 1 MiB,
 *                       else 413); with it PyMISP's connect sequence
 *                       GET /servers/getVersion, /servers/getPyMISPVersion.json,
 *                       /users/view/me, under the same MISP keys
 *   anything else       404; methods other than GET/HEAD: 405
 *
 * With opts.auth every route except /healthz and the MISP API (/attributes/...,
 * which has its own keys) needs `Authorization: Bearer` or `Basic`
 * credentials (auth.h); otherwise 401 with WWW-Authenticate.
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

struct iocb_http_auth;
struct iocb_render_quality; /* serve/render/render.h */

struct iocb_http_opts {
	const char *host;          /* listen address, e.g. "127.0.0.1" or "::1" */
	uint16_t port;             /* 0 = any free port */
	unsigned max_connections;  /* default 64 */
	double idle_timeout_s;     /* close after this long without traffic; 0 = 10 s; rounded up to whole s */
	double header_timeout_s;   /* a request head must be in this long after accept / the last answer; 0 = 5 s */
	/* issue #16 */
	const struct iocb_http_auth *auth; /* http.auth, borrowed (outlives the endpoint); NULL = no authentication */
	const struct iocb_render_quality *quality; /* warninglist names in /v1/lookup (render.h), borrowed, must
						      outlive the endpoint; NULL = none */
	/* The MISP-compatible read API (mispapi.h): accepted keys, one per line; NULL or "" = off (404). */
	const char *misp_api_keys;
	uint64_t misp_api_max_attributes; /* cap of one answer; 0 = 100000 */
	bool match_non_ids;               /* the API answers to_ids=false attributes (store.match_non_ids) */
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
	/*
	 * issue #16 status page: append the /v1/status JSON object (docs/STATUS.md) to out;
	 * leave it empty on failure (500). HTTP thread, same rules as metrics.
	 * NULL: /v1/status answers 404.
	 */
	void (*status)(void *ud, struct iocb_buf *out);
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
