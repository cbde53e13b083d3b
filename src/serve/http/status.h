/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to module `http`: the status page routes and the authentication
 * gate (status.c), called from http.c's on_request() on the HTTP thread.
 */
#ifndef IOCB_SERVE_HTTP_STATUS_H
#define IOCB_SERVE_HTTP_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "core/prom.h"
#include "serve/http/auth.h"
#include "serve/http/http.h"

/* The page's bytes (generated from status_page.html at build time: status_page.c). */
extern const char iocb_http__status_page[];
extern const size_t iocb_http__status_page_len;

/* GET /: the page, with ETag (If-None-Match answers 304) and Cache-Control: no-cache. */
enum MHD_Result iocb_http__route_page(struct MHD_Connection *c);
/* GET /v1/status: h->status's JSON (500 when it wrote nothing). */
enum MHD_Result iocb_http__route_status(const struct iocb_http_handlers *h, struct MHD_Connection *c);

/* Whether the endpoint-wide auth applies to url: everything but /healthz and the MISP API (/attributes/...). */
bool iocb_http__auth_applies(const char *url);
/*
 * Check the request's Authorization header against a, counting the result
 * in counts[]. true: go on. false: a 401 (with WWW-Authenticate) was queued
 * and *ret holds what MHD_queue_response() returned.
 */
bool iocb_http__auth_gate(const struct iocb_http_auth *a, struct MHD_Connection *c,
			  uint64_t counts[IOCB_HTTP_AUTH__N], enum MHD_Result *ret);
/* iocbus_http_auth_requests_total{result} (nothing when a is NULL). */
void iocb_http__auth_metrics(struct iocb_prom *p, const struct iocb_http_auth *a,
			     const uint64_t counts[IOCB_HTTP_AUTH__N]);

#endif
