/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MISP-compatible read API, serving half (mispapi.h): authentication,
 * MISP's error bodies, and running a restSearch against the store.
 *
 * A query runs one of two ways:
 * - by value (plain values, the elastiMISPstash and PyMISP lookups): each
 *   value is looked up in the store's index with iocbus's normalisation,
 *   the hits filtered by the other parameters, sorted by attribute id and
 *   paged, all inside one read-side section that is bounded (at most
 *   IOCB_MISPAPI_MAX_TERMS lookups of IOCB_MISPAPI_MAX_HITS hits), and the
 *   answer built in one capped buffer with X-Result-Count;
 * - by walking the store (no value, or one with '%' or '!'): the answer is
 *   streamed while the client reads it. Each call of MHD's content reader
 *   walks a bounded number of uuid-table slots (iocb_store_walk(), its own
 *   read-side section per step, so commits go on), renders the matches
 *   into a buffer of about WALK_CHUNK bytes and hands them out; a call that
 *   found nothing within its budget suspends and at once resumes the
 *   connection, which makes MHD serve the other connections before coming
 *   back. So one request matching a million records never holds the one
 *   HTTP thread or the store for more than one step, and its memory is the
 *   chunk, not the answer. The walk has no X-Result-Count (the count is
 *   known only at the end) and no stable order across pages when the
 *   store's table is rebuilt meanwhile (docs/DROPINS.md).
 * The API keys are compared in constant time and never logged.
 */
#include "serve/http/mispapi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "core/mem.h"
#include "core/prom.h"
#include "json/json.h"
#include "serve/render/render.h"

/* Hits taken per looked-up value (attributes sharing one value past it are left out). */
#define IOCB_MISPAPI_MAX_HITS 1024
/* Cap of a by-value answer (at most 100 x 1024 items). */
#define IOCB_MISPAPI_MAX_ANSWER ((size_t)256 * 1024 * 1024)
/* A walk hands out about this much per content-reader call... */
#define WALK_CHUNK ((size_t)64 * 1024)
/* ...from at most WALK_STEPS steps of WALK_SLOTS uuid-table slots. */
#define WALK_SLOTS 1024
#define WALK_STEPS 16
/* One rendered item larger than this is left out (a value or comment of megabytes). */
#define WALK_BUF_MAX ((size_t)4 * 1024 * 1024)

#define CT_MISP "application/json; charset=UTF-8"
#define MSG_AUTH "Authentication failed. Please make sure you pass the API key of an API enabled user along in the Authorization header."
#define MSG_JSON "Invalid JSON input. Make sure that the JSON input is a correctly formatted JSON string. This request has been blocked to avoid an unfiltered request."
#define MSG_GET "Restsearch queries using GET and no parameters are not allowed. If you have passed parameters via a JSON body, make sure you use POST requests."
#define MSG_FORMAT "Invalid output format."

/* Statuses counted in iocbus_mispapi_requests_total. */
static const unsigned statuses[] = {200, 400, 403, 404, 405, 413, 500};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]))

struct iocb_mispapi {
	char *keys;                      /* accepted keys, '\n'-separated; wiped on free */
	size_t keys_len;
	uint64_t max_attributes;         /* cap of one answer */
	bool non_ids;                    /* store.match_non_ids: to_ids=false attributes are answered */
	struct iocb_store_hit *hits;     /* by-value scratch, IOCB_MISPAPI_MAX_HITS */
	uint64_t requests[NSTATUS];      /* HTTP thread: answers by status */
	uint64_t auth_failures;          /* HTTP thread: missing or wrong key */
	uint64_t attributes;             /* HTTP thread: attributes sent */
	uint64_t truncated;              /* HTTP thread: answers cut at max_attributes or an item cap */
};

/* A walk being streamed: owned by MHD's response, freed by walk_free(). */
struct walk {
	struct iocb_mispapi *m;
	struct iocb_store *store;
	struct MHD_Connection *c;
	struct iocb_mispapi_query q;
	struct iocb_render_misp_opts ro;
	struct iocb_store_cursor cur;
	struct iocb_buf out;             /* rendered, not yet handed out: [off, len) */
	size_t off;
	uint64_t skip;                   /* matches still to skip (page) */
	uint64_t left;                   /* matches still to send (limit, max_attributes) */
	bool first;                      /* no item written yet */
	bool walked;                     /* the walk is over */
	bool done;                       /* the tail is in out */
	bool capped;                     /* left counts max_attributes, not a limit */
	bool over;                       /* a match was found past left: the answer is cut there */
};

/* ------------------------------------------------------------ new / free / metrics */

struct iocb_mispapi *iocb_mispapi_new(const char *keys, uint64_t max_attributes, bool non_ids)
{
	struct iocb_mispapi *m;

	if (!keys || !*keys)
		return NULL;
	m = iocb_xcalloc(1, sizeof(*m));
	m->keys_len = strlen(keys);
	m->keys = iocb_xstrndup(keys, m->keys_len);
	m->max_attributes = max_attributes ? max_attributes : 100000;
	m->non_ids = non_ids;
	m->hits = iocb_xcalloc(IOCB_MISPAPI_MAX_HITS, sizeof(*m->hits));
	return m;
}

void iocb_mispapi_free(struct iocb_mispapi *m)
{
	if (!m)
		return;
	explicit_bzero(m->keys, m->keys_len);
	free(m->keys);
	free(m->hits);
	free(m);
}

int iocb_mispapi_metrics(const struct iocb_mispapi *m, struct iocb_buf *out)
{
	struct iocb_prom p;
	char st[8];
	const char *lbl[] = {"status", st, NULL};

	iocb_prom_begin(&p, out);
	iocb_prom_head(&p, "iocbus_mispapi_requests_total", "counter",
		       "MISP-compatible API (restSearch) answers, by HTTP status.");
	for (size_t i = 0; i < NSTATUS; i++) {
		snprintf(st, sizeof(st), "%u", statuses[i]);
		iocb_prom_u64(&p, "iocbus_mispapi_requests_total", lbl, m->requests[i]);
	}
	iocb_prom_head(&p, "iocbus_mispapi_auth_failures_total", "counter",
		       "MISP-compatible API requests refused for a missing or unknown key (403).");
	iocb_prom_u64(&p, "iocbus_mispapi_auth_failures_total", NULL, m->auth_failures);
	iocb_prom_head(&p, "iocbus_mispapi_attributes_total", "counter",
		       "Attributes sent in MISP-compatible API answers.");
	iocb_prom_u64(&p, "iocbus_mispapi_attributes_total", NULL, m->attributes);
	iocb_prom_head(&p, "iocbus_mispapi_truncated_total", "counter",
		       "MISP-compatible API answers cut at http.misp_api.max_attributes (or an item too large to send).");
	iocb_prom_u64(&p, "iocbus_mispapi_truncated_total", NULL, m->truncated);
	return iocb_prom_end(&p, "mispapi");
}

static void count(struct iocb_mispapi *m, unsigned status)
{
	for (size_t i = 0; i < NSTATUS; i++)
		if (statuses[i] == status)
			m->requests[i]++;
}

/* ------------------------------------------------------------ responses */

static enum MHD_Result queue(struct iocb_mispapi *m, struct MHD_Connection *c, unsigned status,
			     struct MHD_Response *r, const char *result_count)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	ret = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CT_MISP);
	if (ret == MHD_YES && status == 200 && result_count) {
		/* MISP's restSearch headers (misp.md §3.4); X-Result-Count "" when not known up front. */
		if (*result_count)
			ret = MHD_add_response_header(r, "X-Result-Count", result_count);
		if (ret == MHD_YES)
			ret = MHD_add_response_header(r, "X-Export-Module-Used", "json");
		if (ret == MHD_YES)
			ret = MHD_add_response_header(r, "X-Response-Format", "json");
		if (ret == MHD_YES)
			ret = MHD_add_response_header(r, "X-Skipped-Elements-Count", "0");
	}
	if (ret == MHD_YES)
		ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	if (ret == MHD_YES)
		count(m, status);
	return ret;
}

/* Hand body (ownership of body->ptr passes on) to MHD. */
static enum MHD_Result respond_buf(struct iocb_mispapi *m, struct MHD_Connection *c, unsigned status,
				   struct iocb_buf *body, const char *result_count)
{
	struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(body->len, body->ptr, free);

	if (!r)
		free(body->ptr);
	body->ptr = NULL;
	body->len = body->cap = 0;
	return queue(m, c, status, r, result_count);
}

/*
 * CakePHP's error body {"name":msg,"message":msg,"url":path}: compact, with
 * '/' escaped as "\/" (json_encode without JSON_UNESCAPED_SLASHES).
 */
static enum MHD_Result respond_error(struct iocb_mispapi *m, struct MHD_Connection *c, unsigned status,
				     const char *msg, const char *path)
{
	struct iocb_buf raw, b;
	struct iocb_jw w;
	int rc;

	iocb_buf_init(&raw, 64 * 1024);
	iocb_jw_init(&w, &raw);
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "name");
	iocb_jw_cstr(&w, msg);
	iocb_jw_key(&w, "message");
	iocb_jw_cstr(&w, msg);
	iocb_jw_key(&w, "url");
	iocb_jw_cstr(&w, path);
	iocb_jw_obj_end(&w);
	rc = iocb_jw_rc(&w);
	iocb_buf_init(&b, 128 * 1024);
	for (size_t i = 0; rc == IOCB_OK && i < raw.len; i++)
		rc = raw.ptr[i] == '/' ? iocb_buf_append_c(&b, "\\/") : iocb_buf_putc(&b, raw.ptr[i]);
	iocb_buf_fini(&raw);
	if (rc < 0) {
		iocb_buf_fini(&b);
		return MHD_NO;
	}
	return respond_buf(m, c, status, &b, NULL);
}

/* ------------------------------------------------------------ auth */

/* Constant-time membership of k (klen bytes) in the key list. */
static bool key_known(const struct iocb_mispapi *m, const char *k, size_t klen)
{
	bool found = false;
	const char *p = m->keys, *end = m->keys + m->keys_len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		unsigned diff = n != klen;

		for (size_t i = 0; i < klen; i++)
			diff |= (unsigned char)k[i] ^ (unsigned char)(i < n ? p[i] : 0);
		found |= diff == 0;
		p += n + 1;
	}
	return found;
}

/*
 * MISP's __loginByAuthKey: X-MISP-AUTH wins over Authorization; the value
 * may list keys separated by ','; values starting "Basic" are skipped; a
 * key must be 40 alphanumerics.
 */
static bool authorised(const struct iocb_mispapi *m, struct MHD_Connection *c)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-MISP-AUTH");

	if (!h)
		h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	while (h && *h) {
		const char *comma = strchr(h, ',');
		size_t n = comma ? (size_t)(comma - h) : strlen(h);
		const char *k = h;
		size_t klen = n, ok = 0;

		while (klen && (*k == ' ' || *k == '\t')) {
			k++;
			klen--;
		}
		while (klen && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
			klen--;
		for (size_t i = 0; i < klen; i++)
			ok += (k[i] >= '0' && k[i] <= '9') || ((k[i] | 0x20) >= 'a' && (k[i] | 0x20) <= 'z');
		if (klen == 40 && ok == 40 && strncmp(k, "Basic", 5) != 0 && key_known(m, k, klen))
			return true;
		h = comma ? comma + 1 : NULL;
	}
	return false;
}

/* ------------------------------------------------------------ by value */

struct found {
	const struct iocb_store_attr *a;
	uint64_t id;
};

static int cmp_found(const void *x, const void *y)
{
	const struct found *a = x, *b = y;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return (uintptr_t)a->a < (uintptr_t)b->a ? -1 : (uintptr_t)a->a > (uintptr_t)b->a;
}

/* Matches before the page asked for: limit * (page - 1), saturated. */
static uint64_t page_skip(const struct iocb_mispapi_query *q)
{
	if (q->page - 1 > UINT64_MAX / q->limit)
		return UINT64_MAX;
	return q->limit * (q->page - 1);
}

/* The prefix length a query value names ("10.0.0.0/8" -> 8), or -1. */
static int query_prefix(struct iocb_str v)
{
	const char *slash = memchr(v.ptr, '/', v.len);
	int n = 0;

	if (!slash)
		return -1;
	for (const char *p = slash + 1; p < v.ptr + v.len && *p >= '0' && *p <= '9' && n < 1000; p++)
		n = n * 10 + (*p - '0');
	return n;
}

/* Collect the matching records of every value into f (deduplicated, by id). Inside the read lock. */
static size_t collect(struct iocb_mispapi *m, const struct iocb_store *s, const struct iocb_mispapi_query *q,
		      struct found *f)
{
	size_t nf = 0, out = 0;

	for (size_t i = 0; i < q->value.n; i++) {
		int plen = query_prefix(q->value.v[i]);
		size_t n = iocb_store_lookup_any(s, q->value.v[i], m->hits, IOCB_MISPAPI_MAX_HITS);

		if (n > IOCB_MISPAPI_MAX_HITS) {
			n = IOCB_MISPAPI_MAX_HITS;
			m->truncated++;
		}
		for (size_t k = 0; k < n; k++) {
			struct iocb_store_attr_view av;

			/* MISP matches values, it does not contain them: a stored CIDR answers only its own spelling. */
			if (m->hits[k].prefix >= 0 && m->hits[k].prefix != plen)
				continue;
			if (!iocb_mispapi_match(q, m->hits[k].attr))
				continue;
			iocb_store_attr_view(m->hits[k].attr, &av);
			f[nf].a = m->hits[k].attr;
			f[nf++].id = av.id;
		}
	}
	qsort(f, nf, sizeof(*f), cmp_found);
	for (size_t i = 0; i < nf; i++)
		if (out == 0 || f[out - 1].a != f[i].a)
			f[out++] = f[i];
	return out;
}

static enum MHD_Result by_value(struct iocb_mispapi *m, struct iocb_store *s, struct MHD_Connection *c,
				const struct iocb_mispapi_query *q, const char *path)
{
	struct found *f = iocb_xcalloc(q->value.n * IOCB_MISPAPI_MAX_HITS, sizeof(*f));
	struct iocb_render_misp_opts ro = {q->include_event_tags, q->include_context, q->include_event_uuid};
	struct iocb_buf b;
	struct iocb_jw w;
	size_t nf, from = 0, to;
	char cnt[24];
	int rc;

	iocb_buf_init(&b, IOCB_MISPAPI_MAX_ANSWER);
	rc = iocb_buf_append_c(&b, "{\"response\": {\"Attribute\": [");
	iocb_store_reader_register();
	iocb_store_read_lock();
	nf = collect(m, s, q, f);
	to = nf;
	if (q->limit) {
		uint64_t skip = page_skip(q);

		from = skip >= nf ? nf : (size_t)skip;
		to = nf - from > q->limit ? from + (size_t)q->limit : nf;
	}
	if (to - from > m->max_attributes) {
		to = from + (size_t)m->max_attributes;
		m->truncated++;
	}
	for (size_t i = from; i < to && rc == IOCB_OK; i++) {
		if (i > from)
			rc = iocb_buf_putc(&b, ',');
		iocb_jw_init(&w, &b);
		iocb_render_misp_attribute(&w, f[i].a, &ro);
		if (rc == IOCB_OK)
			rc = iocb_jw_rc(&w);
	}
	iocb_store_read_unlock();
	iocb_store_reader_unregister();
	free(f);
	if (rc == IOCB_OK)
		rc = iocb_buf_append_c(&b, "]}}\n");
	if (rc < 0) {
		iocb_buf_fini(&b);
		return respond_error(m, c, 500, "Response too large.", path);
	}
	m->attributes += to - from;
	/* __iteratedFetch's quirk: a full page reports one more than it holds. */
	snprintf(cnt, sizeof(cnt), "%zu", (to - from) + (q->limit && to - from == q->limit ? 1 : 0));
	return respond_buf(m, c, 200, &b, cnt);
}

/* ------------------------------------------------------------ walking */

/* iocb_store_walk() callback: 1 = stop here (out is full; this record comes again). */
static int walk_fn(void *ud, const struct iocb_store_attr *a)
{
	struct walk *wk = ud;
	struct iocb_store_attr_view av;
	struct iocb_jw w;
	size_t mark = wk->out.len;

	if (wk->out.len >= WALK_CHUNK)
		return 1;
	if (!wk->m->non_ids) {
		iocb_store_attr_view(a, &av);
		if (!av.to_ids)
			return 0;
	}
	if (!iocb_mispapi_value_match(&wk->q, a) || !iocb_mispapi_match(&wk->q, a))
		return 0;
	if (wk->skip) {
		wk->skip--;
		return 0;
	}
	if (wk->left == 0) {
		wk->over = true; /* one match past the limit or the cap: the walk is over */
		return 1;
	}
	if (!wk->first && iocb_buf_putc(&wk->out, ',') < 0)
		return 1;
	iocb_jw_init(&w, &wk->out);
	iocb_render_misp_attribute(&w, a, &wk->ro);
	if (iocb_jw_rc(&w) < 0) {
		iocb_buf_trim(&wk->out, mark);
		if (mark > wk->off)
			return 1; /* send what is there, then this record again */
		wk->m->truncated++;
		return 0; /* alone it does not fit: left out */
	}
	wk->first = false;
	wk->left--;
	wk->m->attributes++;
	return 0;
}

/* Walk up to WALK_STEPS steps, or until a chunk is ready. */
static void walk_some(struct walk *wk)
{
	iocb_store_reader_register();
	for (int i = 0; i < WALK_STEPS && !wk->walked && wk->out.len - wk->off < WALK_CHUNK; i++) {
		int rc = iocb_store_walk(wk->store, &wk->cur, WALK_SLOTS, walk_fn, wk);

		if (rc == 1 && wk->over)
			wk->walked = true;
		else if (rc != IOCB_EAGAIN && rc != 1)
			wk->walked = true; /* IOCB_OK: done; an error ends the answer where it is */
		if (rc == 1)
			break;
	}
	iocb_store_reader_unregister();
	if (wk->walked && !wk->done) {
		/* cut at max_attributes (a limit cuts as asked) */
		if (wk->over && wk->capped)
			wk->m->truncated++;
		if (iocb_buf_append_c(&wk->out, "]}}\n") == IOCB_OK)
			wk->done = true;
	}
}

/* MHD's content reader: hands out what is rendered, walking on when it runs out. */
static ssize_t walk_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct walk *wk = cls;
	size_t n;

	(void)pos;
	if (wk->off == wk->out.len) {
		if (wk->done)
			return MHD_CONTENT_READER_END_OF_STREAM;
		iocb_buf_reset(&wk->out);
		wk->off = 0;
		walk_some(wk);
		if (wk->out.len == 0) {
			/* Nothing within this call's budget: let MHD serve the others first. */
			MHD_suspend_connection(wk->c);
			MHD_resume_connection(wk->c);
			return 0;
		}
	}
	n = wk->out.len - wk->off < max ? wk->out.len - wk->off : max;
	memcpy(buf, wk->out.ptr + wk->off, n);
	wk->off += n;
	return (ssize_t)n;
}

static void walk_free(void *cls)
{
	struct walk *wk = cls;

	iocb_mispapi_query_fini(&wk->q);
	iocb_buf_fini(&wk->out);
	free(wk);
}

/* Takes q (its pool) whatever happens. */
static enum MHD_Result by_walk(struct iocb_mispapi *m, struct iocb_store *s, struct MHD_Connection *c,
			       struct iocb_mispapi_query *q)
{
	struct walk *wk = iocb_xcalloc(1, sizeof(*wk));
	struct MHD_Response *r;

	wk->m = m;
	wk->store = s;
	wk->c = c;
	wk->q = *q;
	memset(q, 0, sizeof(*q));
	wk->ro = (struct iocb_render_misp_opts){wk->q.include_event_tags, wk->q.include_context,
						 wk->q.include_event_uuid};
	wk->first = true;
	wk->left = m->max_attributes;
	wk->capped = true;
	if (wk->q.limit) {
		wk->skip = page_skip(&wk->q);
		if (wk->q.limit <= wk->left) {
			wk->left = wk->q.limit;
			wk->capped = false;
		}
	}
	iocb_buf_init(&wk->out, WALK_BUF_MAX);
	if (iocb_buf_append_c(&wk->out, "{\"response\": {\"Attribute\": [") < 0) {
		walk_free(wk);
		return MHD_NO;
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, WALK_CHUNK, walk_read, wk, walk_free);
	if (!r)
		walk_free(wk);
	return queue(m, c, 200, r, "");
}

/* ------------------------------------------------------------ the route */

/*
 * What PyMISP's constructor reads before anything else (misp.md §3.6): the
 * version, and the user it runs as, which must have User, Role, UserSetting
 * and Organisation or PyMISP refuses to start. iocbus answers as a
 * read-only user of a MISP 2.5.1; describeTypes stays 404, on which PyMISP
 * takes its bundled copy.
 */
static const struct {
	const char *path;
	const char *body;
} fixed[] = {
	{"/servers/getVersion", "{\"version\":\"2.5.1\",\"pymisp_recommended_version\":\"2.5.1\",\"perm_sync\":false,"
				"\"perm_sighting\":false,\"perm_galaxy_editor\":false,\"perm_analyst_data\":false,"
				"\"uuid\":\"-\",\"request_encoding\":[],\"filter_sightings\":true}"},
	{"/servers/getPyMISPVersion.json", "{\"version\":\"2.5.1\"}"},
	{"/users/view/me", "{\"User\":{\"id\":\"1\",\"org_id\":\"1\",\"email\":\"iocbus@localhost\",\"role_id\":\"1\","
			   "\"disabled\":false,\"termsaccepted\":true,\"change_pw\":\"0\",\"autoalert\":false,"
			   "\"contactalert\":false},\"Role\":{\"id\":\"1\",\"name\":\"iocbus read-only\",\"perm_add\":false,"
			   "\"perm_modify\":false,\"perm_modify_org\":false,\"perm_publish\":false,\"perm_sync\":false,"
			   "\"perm_admin\":false,\"perm_auth\":true,\"perm_site_admin\":false,\"perm_tagger\":false,"
			   "\"perm_sighting\":false,\"perm_full\":false},\"UserSetting\":[],\"Organisation\":{\"id\":\"1\","
			   "\"name\":\"iocbus\",\"uuid\":\"\",\"local\":true}}"},
};

/* The fixed answer for url ("<path>" or "<path>.json"), or NULL. */
static const char *fixed_answer(const char *url)
{
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		size_t n = strlen(fixed[i].path);
		if (strncmp(url, fixed[i].path, n) == 0 && (url[n] == '\0' || strcmp(url + n, ".json") == 0))
			return fixed[i].body;
	}
	return NULL;
}

bool iocb_mispapi_route(const char *url)
{
	static const char base[] = "/attributes/restSearch";

	if (fixed_answer(url))
		return true;
	if (strncmp(url, base, sizeof(base) - 1) != 0)
		return false;
	url += sizeof(base) - 1;
	return *url == '\0' || *url == '/' || strcmp(url, ".json") == 0;
}

/* GET's query arguments as a JSON object {"k":"v",...}, parsed like a body. */
struct qargs {
	struct iocb_jw w;
	size_t n;
};

static enum MHD_Result add_qarg(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
				const char *value, size_t value_size)
{
	struct qargs *a = cls;

	(void)kind;
	iocb_jw_key_str(&a->w, iocb_str_make(key, key_size));
	iocb_jw_str(&a->w, iocb_str_make(value ? value : "", value ? value_size : 0));
	a->n++;
	return MHD_YES;
}

/* Whether the request's Content-Type is application/json (MISP parses the body only then). */
static bool json_body(struct MHD_Connection *c)
{
	const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = 16;

	return ct && strncasecmp(ct, "application/json", n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

int iocb_mispapi_serve(struct iocb_mispapi *m, struct iocb_store *store, struct MHD_Connection *c,
		       const char *method, const char *url, const struct iocb_buf *body, bool too_large)
{
	const char *named = url + strlen("/attributes/restSearch");
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	struct iocb_mispapi_query q;
	struct iocb_str b = iocb_str_make("", 0);
	struct iocb_buf qb;
	struct iocb_err err = {0};
	struct qargs qa;
	enum MHD_Result ret;
	int rc;

	if (!authorised(m, c)) {
		m->auth_failures++;
		return respond_error(m, c, 403, MSG_AUTH, url);
	}
	if (!get && strcmp(method, "POST") != 0)
		return respond_error(m, c, 405, "Method Not Allowed", url);
	if (fixed_answer(url)) {
		struct iocb_buf fb;

		iocb_buf_init(&fb, 4096);
		if (iocb_buf_append_c(&fb, fixed_answer(url)) < 0) {
			iocb_buf_fini(&fb);
			return MHD_NO;
		}
		return respond_buf(m, c, 200, &fb, NULL);
	}
	if (too_large)
		return respond_error(m, c, 413, "Request body too large.", url);
	/* The named parameters: /attributes/restSearch[/json][.json]/k:v/k:v */
	if (strcmp(named, ".json") == 0)
		named = "";
	if (*named == '/')
		named++;
	if (strncmp(named, "json", 4) == 0 && (named[4] == '\0' || named[4] == '/'))
		named += named[4] ? 5 : 4;
	iocb_buf_init(&qb, IOCB_MISPAPI_MAX_BODY + 64 * 1024);
	if (get) {
		iocb_jw_init(&qa.w, &qb);
		qa.n = 0;
		iocb_jw_obj(&qa.w);
		(void)MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, add_qarg, &qa);
		iocb_jw_obj_end(&qa.w);
		if (qa.n == 0 && !*named) {
			iocb_buf_fini(&qb);
			return respond_error(m, c, 400, MSG_GET, url);
		}
		if (iocb_jw_rc(&qa.w) == IOCB_OK)
			b = iocb_buf_str(&qb);
	} else if (body && json_body(c)) {
		b = iocb_buf_str(body);
	}
	rc = iocb_mispapi_query_parse(&q, b, iocb_str_c(named), (int64_t)time(NULL), &err);
	iocb_buf_fini(&qb);
	if (rc == IOCB_ELIMIT)
		ret = respond_error(m, c, 400, err.msg, url);
	else if (rc < 0)
		ret = respond_error(m, c, 405, MSG_JSON, url);
	else if (q.format != IOCB_MISPAPI_FMT_JSON)
		ret = respond_error(m, c, 404, MSG_FORMAT, url);
	else if (iocb_mispapi_indexed(&q))
		ret = by_value(m, store, c, &q, url);
	else
		return by_walk(m, store, c, &q); /* takes q */
	iocb_mispapi_query_fini(&q);
	return ret;
}
