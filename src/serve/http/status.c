/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The status page's routes (GET /, GET /v1/status) and the endpoint-wide
 * authentication gate (http.auth), on the HTTP thread (see http.c).
 *
 * The page is one static HTML document with its CSS and script inline
 * (status_page.html, turned into status_page.c at build time), so it needs
 * nothing from outside and one request loads it; it then polls /v1/status.
 * Its ETag is a hash of its bytes: a browser revalidates (Cache-Control:
 * no-cache) and gets a 304 until iocbus is upgraded. The script writes every
 * value into the page with textContent, never as HTML, so the values of
 * indicators and event infos cannot inject markup; the JSON writer escapes
 * them for JSON, including '<', '>' and '&' for anyone who embeds it.
 */
#include "serve/http/status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hash.h"

#define CT_HTML "text/html; charset=utf-8"
#define CT_JSON "application/json"
/* /v1/status bodies: at most 4 MiB (50 matches of capped fields, a few hundred history points per series). */
#define IOCB_HTTP_MAX_STATUS_BODY ((size_t)4 * 1024 * 1024)

/* Headers every page answer carries: the page runs no third-party code and frames nothing. */
static enum MHD_Result page_headers(struct MHD_Response *r, const char *etag)
{
	enum MHD_Result ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");

	if (ret == MHD_YES)
		ret = MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	if (ret == MHD_YES)
		ret = MHD_add_response_header(r, "Content-Security-Policy",
					      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
					      "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
					      "form-action 'none'; frame-ancestors 'none'");
	if (ret == MHD_YES)
		ret = MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (ret == MHD_YES)
		ret = MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	return ret;
}

/* True when an If-None-Match list names etag (or is "*"). */
static bool etag_matches(const char *inm, const char *etag)
{
	return inm && (strcmp(inm, "*") == 0 || strstr(inm, etag) != NULL);
}

enum MHD_Result iocb_http__route_page(struct MHD_Connection *c)
{
	char etag[24];
	struct MHD_Response *r;
	enum MHD_Result ret;
	bool fresh;

	snprintf(etag, sizeof(etag), "\"%016" PRIx64 "\"",
		 iocb_hash64(iocb_http__status_page, iocb_http__status_page_len, 0));
	fresh = etag_matches(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH), etag);
	if (fresh)
		r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	else
		r = MHD_create_response_from_buffer(iocb_http__status_page_len, (void *)iocb_http__status_page,
						    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CT_HTML);
	if (ret == MHD_YES)
		ret = page_headers(r, etag);
	if (ret == MHD_YES)
		ret = MHD_queue_response(c, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* A JSON body (owned by MHD afterwards) with Cache-Control: no-store. */
static enum MHD_Result json_response(struct MHD_Connection *c, unsigned status, struct iocb_buf *b)
{
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(b->len, b->ptr, free);
	enum MHD_Result ret;

	if (!r) {
		iocb_buf_fini(b);
		return MHD_NO;
	}
	b->ptr = NULL;
	b->len = b->cap = 0;
	ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CT_JSON);
	if (ret == MHD_YES)
		ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (ret == MHD_YES)
		ret = MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (ret == MHD_YES)
		ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* {"error":"<msg>"} (msg is a literal without characters to escape). */
static enum MHD_Result json_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	struct iocb_buf b;

	iocb_buf_init(&b, 1024);
	if (iocb_buf_printf(&b, "{\"error\":\"%s\"}\n", msg) < 0) {
		iocb_buf_fini(&b);
		return MHD_NO;
	}
	return json_response(c, status, &b);
}

enum MHD_Result iocb_http__route_status(const struct iocb_http_handlers *h, struct MHD_Connection *c)
{
	struct iocb_buf b;

	if (!h->status)
		return json_error(c, MHD_HTTP_NOT_FOUND, "not found");
	iocb_buf_init(&b, IOCB_HTTP_MAX_STATUS_BODY);
	h->status(h->ud, &b);
	if (b.len == 0 || iocb_buf_putc(&b, '\n') < 0) {
		iocb_buf_fini(&b);
		return json_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "status too large");
	}
	return json_response(c, MHD_HTTP_OK, &b);
}

/* ------------------------------------------------------------ authentication */

bool iocb_http__auth_applies(const char *url)
{
	/*
	 * Liveness probes stay open. The MISP API's paths are exempted by the
	 * caller, exactly those iocb_mispapi_route() accepts when http.misp_api
	 * is on (they authenticate with MISP's keys: a client cannot send two
	 * Authorization headers); without it they are unknown paths, guarded.
	 */
	return strcmp(url, "/healthz") != 0;
}

bool iocb_http__auth_gate(const struct iocb_http_auth *a, struct MHD_Connection *c,
			  uint64_t counts[IOCB_HTTP_AUTH__N], enum MHD_Result *ret)
{
	const char *hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	enum iocb_http_auth_result res = iocb_http_auth_check(a, hdr);
	struct MHD_Response *r;
	static const char body[] = "{\"error\":\"authentication required\"}\n";
	char ch[128];

	counts[res]++;
	if (res == IOCB_HTTP_AUTH_OK)
		return true;
	*ret = MHD_NO;
	r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return false;
	*ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CT_JSON);
	if (*ret == MHD_YES)
		*ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	/* One challenge per scheme configured; a browser prompts for Basic. */
	if (*ret == MHD_YES && iocb_http_auth_has_bearer(a)) {
		snprintf(ch, sizeof(ch), "Bearer realm=\"%s\"", iocb_http_auth_realm(a));
		*ret = MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, ch);
	}
	if (*ret == MHD_YES && iocb_http_auth_has_basic(a)) {
		snprintf(ch, sizeof(ch), "Basic realm=\"%s\", charset=\"UTF-8\"", iocb_http_auth_realm(a));
		*ret = MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, ch);
	}
	if (*ret == MHD_YES)
		*ret = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, r);
	MHD_destroy_response(r);
	return false;
}

void iocb_http__auth_metrics(struct iocb_prom *p, const struct iocb_http_auth *a,
			     const uint64_t counts[IOCB_HTTP_AUTH__N])
{
	if (!a)
		return;
	iocb_prom_head(p, "iocbus_http_auth_requests_total", "counter",
		       "Requests checked by http.auth, by result (ok, missing, invalid, denied).");
	for (int i = 0; i < IOCB_HTTP_AUTH__N; i++) {
		const char *const l[] = {"result", iocb_http_auth_result_name((enum iocb_http_auth_result)i), NULL};
		iocb_prom_u64(p, "iocbus_http_auth_requests_total", l, counts[i]);
	}
	iocb_prom_head(p, "iocbus_http_auth_entries", "gauge", "Tokens and users loaded from the http.auth files.");
	iocb_prom_u64(p, "iocbus_http_auth_entries", NULL, iocb_http_auth_entries(a));
}
