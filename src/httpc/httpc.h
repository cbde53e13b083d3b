/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP(S) client for the MISP REST API and MISP feeds, on libcurl's easy
 * interface (one connection kept alive per client).
 *
 * Contract:
 *   - TLS verification is on unless opts.verify is false; opts.ca_file
 *     replaces the system CA bundle.
 *   - The API key goes only into the `Authorization` header. It never
 *     appears in errors or logs: messages name the method, the URL path
 *     (never a query string or userinfo) and the status or curl error.
 *   - Every response body is bounded by opts.max_body: a larger one fails
 *     with IOCB_ELIMIT and the transfer is aborted.
 *   - opts.timeout_s bounds a whole request (connect + transfer), so a
 *     server that accepts and then hangs cannot block a source for ever.
 *   - gzip/deflate responses are decoded (Accept-Encoding is sent).
 *
 * A client is used by one thread at a time. Different clients are
 * independent (curl_global_init runs once, thread-safely, in new()).
 * Other libcurl users in the process (the Elasticsearch output drives
 * curl's multi interface itself) call iocb_httpc_global_init() first, so
 * libcurl is initialised in exactly one place.
 */
#ifndef IOCB_HTTPC_HTTPC_H
#define IOCB_HTTPC_HTTPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/rc.h"

struct iocb_httpc_opts {
	const char *base_url;   /* "https://misp.example" (no trailing slash needed); paths are appended */
	const char *api_key;    /* sent as `Authorization: <key>`; NULL = no auth header (feeds) */
	bool verify;            /* verify the TLS peer and host name (default true) */
	const char *ca_file;    /* CA bundle path, or NULL for the system one */
	double timeout_s;       /* whole request, default 30 */
	double connect_timeout_s; /* default 10 */
	size_t max_body;        /* largest response body accepted, default 1 GiB */
	size_t keep_body;       /* body memory a response keeps between requests, default
				 * IOCB_HTTPC_KEEP_BODY: a larger buffer is freed after use */
	const char *user_agent; /* default "iocbus/<version>" */
	/*
	 * Optional: polled (about every second, and on progress) during a
	 * transfer; returning true aborts it with IOCB_EIO ("aborted"), so a
	 * stopping daemon need not wait for timeout_s. Called on the requesting
	 * thread.
	 */
	bool (*abort_cb)(void *ud);
	void *abort_ud;
};

/* Default keep_body: a restSearch page of usual size is reused page to page, an outsized one is not kept. */
#define IOCB_HTTPC_KEEP_BODY ((size_t)8 << 20)

void iocb_httpc_opts_default(struct iocb_httpc_opts *o);

/*
 * Initialise libcurl for the process (curl_global_init) the first time any
 * thread calls it, under pthread_once; later calls return the first result.
 * Returns IOCB_OK, or IOCB_EIO with *reason (static text, may be NULL) set
 * to curl's message. Any thread. Nothing undoes it (curl_global_cleanup is
 * never called: sources and outputs may still run at exit).
 */
int iocb_httpc_global_init(const char **reason) IOCB_MUST_USE;

struct iocb_httpc_client;

/* Copies what it needs from opts. On success *out is owned by the caller. */
int iocb_httpc_client_new(const struct iocb_httpc_opts *opts, struct iocb_httpc_client **out,
			 struct iocb_err *err) IOCB_MUST_USE;
void iocb_httpc_client_free(struct iocb_httpc_client *c);

struct iocb_httpc_resp {
	long status;             /* HTTP status; 0 when no response was received */
	struct iocb_buf body;    /* response body (decoded); owned, freed by iocb_httpc_resp_fini */
	char etag[256];          /* ETag header, verbatim with quotes; "" if none */
	bool has_result_count;   /* X-Result-Count header present (MISP restSearch) */
	uint64_t result_count;   /* its value */
	char content_type[128];  /* Content-Type header; "" if none */
	uint64_t date;           /* Date header, epoch seconds (the server's clock); 0 if none or unreadable */
	size_t keep_body;        /* the client's keep_body, set by iocb_httpc_request() */
};

void iocb_httpc_resp_init(struct iocb_httpc_resp *r);
void iocb_httpc_resp_fini(struct iocb_httpc_resp *r);
/*
 * The caller is done with the body: forget it, and free its memory when it
 * grew past keep_body (one oversized or gzip-bomb answer would otherwise
 * hold up to max_body for as long as the response is reused). A failed
 * request does this itself.
 */
void iocb_httpc_resp_done(struct iocb_httpc_resp *r);

/*
 * One request. `path` is appended to base_url ("/attributes/restSearch"),
 * or is a full http(s) URL used as is. `body` (may be NULL) is sent with
 * `Content-Type: application/json`; every request sends
 * `Accept: application/json`. `if_none_match` (may be NULL) adds that header
 * (a 304 then arrives as status 304 with an empty body).
 * Returns IOCB_OK whenever an HTTP response was received, whatever its
 * status (the caller judges 4xx/5xx); IOCB_EIO for connection failures and
 * timeouts, IOCB_ELIMIT for an oversized body, with err->msg saying which.
 * `resp` is reset first.
 */
int iocb_httpc_request(struct iocb_httpc_client *c, const char *method, const char *path, const char *body,
		      size_t body_len, const char *if_none_match, struct iocb_httpc_resp *resp,
		      struct iocb_err *err) IOCB_MUST_USE;

#endif
