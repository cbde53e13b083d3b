/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP(S) client on libcurl's easy interface (see httpc.h for the contract).
 *
 * One CURL easy handle per client: libcurl keeps the connection cache in
 * the handle, so consecutive requests to the same host reuse one kept-alive
 * connection (a REST pull asks for page after page). Options that never
 * change (TLS, timeouts, protocols, callbacks) are set once in new(); the
 * method, URL, body and headers are set per request.
 *
 * Secrets: the API key lives only in the prebuilt `Authorization:` header
 * line, which is wiped on free. Error texts are built from the method, the
 * path of the URL (query string, fragment, scheme, userinfo and host cut
 * off) and libcurl's message; a libcurl message that happens to contain the
 * key or the query is replaced by the generic text of its error code.
 *
 * Bounds: the response body goes into a struct iocb_buf capped at
 * opts.max_body, whose memory is given back after use (failure, or
 * iocb_httpc_resp_done()) once it grew past opts.keep_body; the write callback returns 0 past it, which aborts the
 * transfer (CURLE_WRITE_ERROR), and the request fails with IOCB_ELIMIT.
 * CURLOPT_MAXFILESIZE rejects an announced oversized Content-Length early.
 */
#include "httpc/httpc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/mem.h"
#include "core/str.h"

#ifndef IOCB_VERSION
#define IOCB_VERSION "0"
#endif

#define HTTPC_DEFAULT_UA "iocbus/" IOCB_VERSION
#define HTTPC_MAX_URL 8192        /* longest URL we build (base + path) */
#define HTTPC_MAX_PATH_SHOWN 200  /* longest path quoted in an error text */

struct iocb_httpc_client {
	CURL *curl;                    /* the easy handle; holds the kept-alive connection */
	char *base_url;                /* base without trailing '/', "" if none; owned */
	char *auth_line;               /* "Authorization: <key>" or NULL; owned, wiped on free */
	const char *api_key;           /* points into auth_line (for scrubbing error texts), or NULL */
	size_t max_body;               /* body cap in bytes */
	size_t keep_body;              /* body memory a response keeps between requests */
	struct iocb_buf url;           /* scratch: the URL of the current request */
	char errbuf[CURL_ERROR_SIZE];  /* libcurl's detailed error text of the last transfer */
	bool (*abort_cb)(void *ud);    /* see iocb_httpc_opts; NULL = never abort */
	void *abort_ud;                /* its argument */
};

/* CURLOPT_XFERINFOFUNCTION: a non-zero return aborts the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct iocb_httpc_client *c = ud;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return c->abort_cb && c->abort_cb(c->abort_ud) ? 1 : 0;
}

/* What the callbacks of one transfer write to. */
struct xfer {
	struct iocb_httpc_resp *resp;   /* the caller's response */
	bool too_big;                  /* the body passed max_body */
};

/*
 * curl_global_init is not thread-safe before 7.84 and must run once per
 * process: pthread_once is the only process-wide state here, and its result
 * is written once inside the once-routine and only read afterwards.
 */
static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int iocb_httpc_global_init(const char **reason)
{
	pthread_once(&global_once, global_init);
	if (reason)
		*reason = global_rc == CURLE_OK ? NULL : curl_easy_strerror(global_rc);
	return global_rc == CURLE_OK ? IOCB_OK : IOCB_EIO;
}

void iocb_httpc_opts_default(struct iocb_httpc_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->verify = true;
	o->timeout_s = 30;
	o->connect_timeout_s = 10;
	o->max_body = (size_t)1 << 30;
	o->keep_body = IOCB_HTTPC_KEEP_BODY;
	o->user_agent = NULL;
}

void iocb_httpc_resp_init(struct iocb_httpc_resp *r)
{
	memset(r, 0, sizeof(*r));
	iocb_buf_init(&r->body, 0);
}

void iocb_httpc_resp_fini(struct iocb_httpc_resp *r)
{
	iocb_buf_fini(&r->body);
	memset(r, 0, sizeof(*r));
}

void iocb_httpc_resp_done(struct iocb_httpc_resp *r)
{
	iocb_buf_trim(&r->body, r->keep_body);
}

/* Reset a response for reuse, keeping the body's memory up to keep; its cap becomes max. */
static void resp_reset(struct iocb_httpc_resp *r, size_t max, size_t keep)
{
	r->keep_body = keep;
	iocb_buf_trim(&r->body, keep);
	r->body.max = max;
	r->status = 0;
	r->etag[0] = '\0';
	r->has_result_count = false;
	r->result_count = 0;
	r->content_type[0] = '\0';
	r->date = 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;

	if (iocb_buf_append(&x->resp->body, ptr, n) < 0) {
		x->too_big = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	return n;
}

/* Copy a header value into a fixed field; one that does not fit is dropped (a cut ETag would lie). */
static void copy_field(char *dst, size_t cap, struct iocb_str v)
{
	if (v.len >= cap) {
		dst[0] = '\0';
		return;
	}
	memcpy(dst, v.ptr, v.len);
	dst[v.len] = '\0';
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	struct iocb_httpc_resp *r = x->resp;
	size_t n = size * nmemb;
	struct iocb_str line = iocb_str_make(ptr, n);
	const char *colon;
	struct iocb_str name, value;

	/* A new status line (interim 1xx, proxy CONNECT): forget earlier headers. */
	if (iocb_str_starts_with(line, IOCB_STR_LIT("HTTP/"))) {
		r->etag[0] = '\0';
		r->content_type[0] = '\0';
		r->has_result_count = false;
		r->result_count = 0;
		r->date = 0;
		return n;
	}
	colon = memchr(ptr, ':', n);
	if (!colon)
		return n;
	name = iocb_str_trim(iocb_str_make(ptr, (size_t)(colon - ptr)));
	value = iocb_str_trim(iocb_str_make(colon + 1, n - (size_t)(colon - ptr) - 1));
	if (iocb_str_eq_nocase(name, IOCB_STR_LIT("ETag"))) {
		copy_field(r->etag, sizeof(r->etag), value);
	} else if (iocb_str_eq_nocase(name, IOCB_STR_LIT("Content-Type"))) {
		copy_field(r->content_type, sizeof(r->content_type), value);
	} else if (iocb_str_eq_nocase(name, IOCB_STR_LIT("Date"))) {
		char d[64];
		copy_field(d, sizeof(d), value);
		time_t t = d[0] ? curl_getdate(d, NULL) : -1;
		r->date = t > 0 ? (uint64_t)t : 0;
	} else if (iocb_str_eq_nocase(name, IOCB_STR_LIT("X-Result-Count"))) {
		uint64_t v;
		if (iocb_str_to_u64(value, &v)) {
			r->has_result_count = true;
			r->result_count = v;
		}
	}
	return n;
}

static bool is_full_url(const char *path)
{
	return strncasecmp(path, "http://", 7) == 0 || strncasecmp(path, "https://", 8) == 0;
}

/*
 * The part of a URL or path that may appear in messages: the path alone.
 * Scheme, userinfo and host of a full URL, the query and the fragment are
 * cut off. Returns a view into `path`.
 */
static struct iocb_str shown_path(const char *path)
{
	const char *p = path;
	size_t n;

	if (is_full_url(p)) {
		p = strstr(p, "://") + 3;
		p += strcspn(p, "/?#"); /* skip userinfo@host:port */
	}
	n = strcspn(p, "?#");
	if (n > HTTPC_MAX_PATH_SHOWN)
		n = HTTPC_MAX_PATH_SHOWN;
	if (n == 0)
		return IOCB_STR_LIT("/");
	return iocb_str_make(p, n);
}

static bool contains(const char *hay, const char *needle, size_t nlen)
{
	return nlen > 0 && memmem(hay, strlen(hay), needle, nlen) != NULL;
}

/* libcurl's message for a failed transfer, unless it quotes something secret. */
static const char *curl_text(struct iocb_httpc_client *c, CURLcode cc, const char *path)
{
	const char *q = strpbrk(path, "?#");
	const char *at;

	if (!c->errbuf[0])
		return curl_easy_strerror(cc);
	if (c->api_key && contains(c->errbuf, c->api_key, strlen(c->api_key)))
		return curl_easy_strerror(cc);
	if (q && contains(c->errbuf, q, strlen(q)))
		return curl_easy_strerror(cc);
	/* userinfo of a full URL: "user:pass@" */
	if (is_full_url(path)) {
		const char *auth = strstr(path, "://") + 3;
		size_t alen = strcspn(auth, "/?#");
		at = memchr(auth, '@', alen);
		if (at && contains(c->errbuf, auth, (size_t)(at - auth)))
			return curl_easy_strerror(cc);
	}
	return c->errbuf;
}

int iocb_httpc_client_new(const struct iocb_httpc_opts *opts, struct iocb_httpc_client **out, struct iocb_err *err)
{
	struct iocb_httpc_client *c = NULL;
	size_t blen;
	const char *why;
	int rc = IOCB_OK;

	*out = NULL;
	if (iocb_httpc_global_init(&why) != IOCB_OK)
		return iocb_err_set(err, IOCB_EIO, "http client: curl_global_init: %s", why);
	c = iocb_xcalloc(1, sizeof(*c));
	iocb_buf_init(&c->url, HTTPC_MAX_URL);
	c->max_body = opts->max_body ? opts->max_body : (size_t)1 << 30;
	c->keep_body = opts->keep_body ? opts->keep_body : IOCB_HTTPC_KEEP_BODY;
	blen = opts->base_url ? strlen(opts->base_url) : 0;
	while (blen > 0 && opts->base_url[blen - 1] == '/')
		blen--;
	c->base_url = iocb_xstrndup(opts->base_url ? opts->base_url : "", blen);
	if (opts->api_key) {
		size_t klen = strlen(opts->api_key);
		if (memchr(opts->api_key, '\r', klen) || memchr(opts->api_key, '\n', klen)) {
			rc = iocb_err_set(err, IOCB_EINVAL, "http client: the API key contains a line break");
			goto out;
		}
		size_t n = sizeof("Authorization: ") - 1 + klen + 1;
		c->auth_line = iocb_xmalloc(n);
		snprintf(c->auth_line, n, "Authorization: %s", opts->api_key);
		c->api_key = c->auth_line + sizeof("Authorization: ") - 1;
	}
	c->curl = curl_easy_init();
	if (!c->curl) {
		rc = iocb_err_set(err, IOCB_EIO, "http client: curl_easy_init failed");
		goto out;
	}

	CURL *h = c->curl;
	double t = opts->timeout_s > 0 ? opts->timeout_s : 30;
	double ct = opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 10;
	CURLcode cc = CURLE_OK;
	/* Options that hold for every request; any failure here is a build/config problem. */
	cc |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	cc |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	cc |= curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	cc |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	cc |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(t * 1000));
	cc |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(ct * 1000));
	cc |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	cc |= curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	cc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, opts->verify ? 1L : 0L);
	cc |= curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, opts->verify ? 2L : 0L);
	if (opts->ca_file && opts->ca_file[0])
		cc |= curl_easy_setopt(h, CURLOPT_CAINFO, opts->ca_file);
	cc |= curl_easy_setopt(h, CURLOPT_USERAGENT, opts->user_agent ? opts->user_agent : HTTPC_DEFAULT_UA);
	cc |= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_body);
	cc |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	cc |= curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	cc |= curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	c->abort_cb = opts->abort_cb;
	c->abort_ud = opts->abort_ud;
	if (c->abort_cb) {
		cc |= curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		cc |= curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
		cc |= curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	if (cc != CURLE_OK) {
		rc = iocb_err_set(err, IOCB_EIO, "http client: libcurl rejected an option (needs libcurl >= 7.85)");
		goto out;
	}
	*out = c;
	c = NULL;
out:
	iocb_httpc_client_free(c);
	return rc;
}

void iocb_httpc_client_free(struct iocb_httpc_client *c)
{
	if (!c)
		return;
	if (c->curl)
		curl_easy_cleanup(c->curl);
	if (c->auth_line) {
		explicit_bzero(c->auth_line, strlen(c->auth_line));
		free(c->auth_line);
	}
	free(c->base_url);
	iocb_buf_fini(&c->url);
	free(c);
}

static int build_url(struct iocb_httpc_client *c, const char *path)
{
	int rc;

	iocb_buf_reset(&c->url);
	if (is_full_url(path))
		return iocb_buf_append_c(&c->url, path);
	rc = iocb_buf_append_c(&c->url, c->base_url);
	if (rc == IOCB_OK && path[0] != '/')
		rc = iocb_buf_putc(&c->url, '/');
	if (rc == IOCB_OK)
		rc = iocb_buf_append_c(&c->url, path);
	return rc;
}

/* Append one header line to the list; false on allocation failure. */
static bool add_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *n = curl_slist_append(*list, line);

	if (!n)
		return false;
	*list = n;
	return true;
}

int iocb_httpc_request(struct iocb_httpc_client *c, const char *method, const char *path, const char *body,
		      size_t body_len, const char *if_none_match, struct iocb_httpc_resp *resp, struct iocb_err *err)
{
	struct curl_slist *hdrs = NULL;
	struct xfer x = {resp, false};
	struct iocb_str shown = shown_path(path);
	char inm[300];
	CURL *h = c->curl;
	CURLcode cc = CURLE_OK;
	long status = 0;
	int rc = IOCB_OK;

	resp_reset(resp, c->max_body, c->keep_body);
	c->errbuf[0] = '\0';
	if (build_url(c, path) < 0) {
		rc = iocb_err_set(err, IOCB_ELIMIT, "%s %.*s: URL longer than %d bytes", method, IOCB_STR_FMT(shown),
				  HTTPC_MAX_URL);
		goto out;
	}
	if (!c->base_url[0] && !is_full_url(path)) {
		rc = iocb_err_set(err, IOCB_EINVAL, "%s %.*s: no base URL for a relative path", method,
				  IOCB_STR_FMT(shown));
		goto out;
	}

	bool ok = add_header(&hdrs, "Accept: application/json");
	/* No "Expect: 100-continue" round trip for large bodies. */
	ok = ok && add_header(&hdrs, "Expect:");
	if (body)
		ok = ok && add_header(&hdrs, "Content-Type: application/json");
	if (c->auth_line)
		ok = ok && add_header(&hdrs, c->auth_line);
	if (if_none_match && if_none_match[0]) {
		if (strpbrk(if_none_match, "\r\n") || strlen(if_none_match) > sizeof(inm) - 32) {
			rc = iocb_err_set(err, IOCB_EINVAL, "%s %.*s: bad If-None-Match value", method,
					  IOCB_STR_FMT(shown));
			goto out;
		}
		snprintf(inm, sizeof(inm), "If-None-Match: %s", if_none_match);
		ok = ok && add_header(&hdrs, inm);
	}
	if (!ok) {
		rc = iocb_err_set(err, IOCB_ENOMEM, "%s %.*s: out of memory", method, IOCB_STR_FMT(shown));
		goto out;
	}

	/* Per-request options; every one is set each time so nothing leaks from the last request. */
	bool head = strcmp(method, "HEAD") == 0;
	cc |= curl_easy_setopt(h, CURLOPT_URL, c->url.ptr);
	cc |= curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	cc |= curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	cc |= curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	cc |= curl_easy_setopt(h, CURLOPT_NOBODY, head ? 1L : 0L);
	if (body || strcmp(method, "POST") == 0) {
		cc |= curl_easy_setopt(h, CURLOPT_POST, 1L);
		cc |= curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
		cc |= curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
	} else if (!head) {
		cc |= curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	bool custom = strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 && !head;
	cc |= curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, custom ? method : NULL);
	if (cc != CURLE_OK) {
		rc = iocb_err_set(err, IOCB_EINVAL, "%s %.*s: cannot set up the request", method, IOCB_STR_FMT(shown));
		goto out;
	}

	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	resp->status = status;
	if (x.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		rc = iocb_err_set(err, IOCB_ELIMIT, "%s %.*s: response body larger than %zu bytes", method,
				  IOCB_STR_FMT(shown), c->max_body);
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = iocb_err_set(err, IOCB_EIO, "%s %.*s: %s", method, IOCB_STR_FMT(shown), curl_text(c, cc, path));
		goto out;
	}
	/* Callers may treat the body as a C string even when it is empty. */
	if (!resp->body.ptr && iocb_buf_reserve(&resp->body, 0) == IOCB_OK)
		resp->body.ptr[0] = '\0';
out:
	/* A failed transfer's partial body is of no use; an oversized one may be up to max_body. */
	if (rc < 0)
		iocb_httpc_resp_done(resp);
	/* The handle must not keep pointers into this call's stack or the caller's body. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	curl_slist_free_all(hdrs);
	return rc;
}
