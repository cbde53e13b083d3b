/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Elasticsearch output: `_bulk` requests on libcurl's multi interface, one
 * thread per output (reference/elastic.md §4).
 *
 * Shape. The thread pops whole batches from its queue into the request
 * being filled, framing each line into the body as it comes (one memcpy per
 * line into a buffer that is reused), until flush_bytes or flush_events is
 * reached or flush_interval has passed since its first batch. Then the body
 * is gzip-compressed once (libdeflate) and the request joins the active
 * list; at most max_in_flight requests are active (sending or waiting for a
 * retry), so a slow or dead cluster stops the popping and the queue spills
 * to its spool instead of this thread's memory growing. curl_multi_poll
 * waits for sockets, timers, and pushes (the queue's notify callback calls
 * curl_multi_wakeup).
 *
 * Settling. Each popped batch gets a holder (struct es_batch) counting its
 * lines not yet delivered or dead-lettered; a request's items point at
 * holders, so retried items (a new request with just those lines) and the
 * two halves of a 413 split keep their batches alive. When a holder's count
 * reaches zero the batch is settled. At the shutdown deadline every
 * transfer is aborted and every holder's batch is spilled once (a batch
 * partly delivered is spooled whole: at least once, never lost).
 *
 * Judgement (es_bulk.h, elastic.md §4.3): transport errors, 429 and 5xx
 * retry the whole request with backoff, forever, the next attempt on the
 * next host; 401/403 likewise with an error log; 413 splits; 400 dead-letters
 * every line; 2xx is walked per item: 409 on create counts as a delivered
 * duplicate, 429/5xx items are retried, other 4xx items dead-lettered.
 * Credentials live only in the curl header list; nothing logs them.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "pipe/outputs/es_bulk.h"
#include "pipe/drivers.h"

#ifndef IOCB_VERSION
#define IOCB_VERSION "0"
#endif

#define MOD "pipe"
#define FREE_REQS_MAX 4               /* idle request objects kept for reuse (buffers, easy handle) */
#define RESP_MIN_CAP (64u << 20)      /* response bodies: at least this much ... */
#define RESP_PER_ITEM (8u << 10)      /* ... or this per item, whichever is more */

/* One popped batch, held until all its lines are delivered or dead-lettered. */
struct es_batch {
	struct iocb_pipe__batch *b;       /* our share of it */
	uint32_t left;               /* lines not settled yet */
	struct es_batch *prev, *next; /* in es_out.held */
};

/* One document of a request. */
struct es_item {
	struct es_batch *eb;         /* its batch's holder */
	size_t off;                  /* line start in eb->b->data */
	uint32_t len;                /* line length including its '\n' */
	uint32_t line;               /* line index in the batch (for its id) */
};

struct es_out;

/* One bulk request: filling, waiting (to start or to retry) or sending. */
struct es_req {
	struct es_out *o;
	CURL *easy;                  /* kept across reuse (its options stay set) */
	struct es_item *items;       /* owned */
	size_t nitems, cap_items;
	struct iocb_buf body;        /* NDJSON, uncompressed */
	unsigned char *gz;           /* owned: compressed body, or NULL when sent plain */
	size_t gz_len, gz_cap;
	bool gzipped;                /* gz holds this body */
	struct iocb_buf resp;        /* response body (capped) */
	struct iocb_pipe__es_item *res;    /* owned: per-item results, cap_res entries */
	size_t cap_res;
	unsigned attempt;            /* failed attempts so far (backoff exponent) */
	unsigned host;               /* host index of the current/next attempt */
	double not_before;           /* monotonic: earliest start */
	double first_at;             /* monotonic: first batch added (filling) */
	double started;              /* monotonic: transfer started */
	bool sending;
	bool after_transport_error;  /* waiting out a backoff because no answer came */
	char curl_err[CURL_ERROR_SIZE];
	struct es_req *next;         /* in es_out.active or es_out.free_reqs */
};

struct es_out {
	struct iocb_pipe__output *out;
	const struct iocb_config_output *cfg;
	pthread_t thread;
	bool started;
	CURLM *multi;
	struct curl_slist *hdr_plain; /* Content-Type, Expect, Authorization */
	struct curl_slist *hdr_gzip;  /* the same plus Content-Encoding: gzip */
	char **urls;                 /* owned: bulk URL per host */
	char **host_names;           /* owned: host per URL without userinfo/path, for logs */
	size_t nhosts;
	unsigned next_host;          /* round robin */
	double *host_down_until;     /* owned: per host, monotonic time before which it is skipped */
	unsigned *host_fails;        /* owned: per host, transport failures in a row */
	struct libdeflate_compressor *gz; /* NULL = no compression */
	bool create;                 /* action create (data streams, action: create) */
	bool ids;                    /* document_id: hash */
	uint64_t flush_bytes;
	unsigned flush_events;
	double flush_interval;
	unsigned max_in_flight;
	struct es_batch held;        /* sentinel of the list of held batches */
	struct es_req *filling;      /* the request being filled, or NULL */
	struct es_req *active;       /* FIFO: waiting and sending requests */
	struct es_req *active_tail;
	size_t nactive;
	size_t nsending;
	double last_probe;            /* monotonic: last early retry while the cluster did not answer */
	struct es_req *free_reqs;
	size_t nfree;
	struct iocb_ratelimit rl;    /* warnings (transport, parse) */
	struct iocb_ratelimit rl_err; /* errors (auth, unexpected status) */
	char reason[IOCB_PIPE_ES_REASON_MAX];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_once_rc;

static void curl_global(void)
{
	curl_once_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ------------------------------------------------------------------ batches */

static void held_link(struct es_out *o, struct es_batch *eb)
{
	eb->prev = o->held.prev;
	eb->next = &o->held;
	o->held.prev->next = eb;
	o->held.prev = eb;
}

static void held_unlink(struct es_batch *eb)
{
	eb->prev->next = eb->next;
	eb->next->prev = eb->prev;
}

/* One line of eb is settled (delivered or dead-lettered); the last one settles the batch. */
static void line_done(struct es_out *o, struct es_batch *eb)
{
	if (--eb->left > 0)
		return;
	held_unlink(eb);
	iocb_pipe__batch_settle(eb->b);
	IOCB_M_ADD(o->out->m.batches, 1);
	free(eb);
}

static void item_delivered(struct es_out *o, const struct es_item *it)
{
	IOCB_M_ADD(o->out->m.events, 1);
	IOCB_M_ADD(o->out->m.bytes, it->len);
	line_done(o, it->eb);
}

static void item_dead(struct es_out *o, const struct es_item *it, int status, const char *reason)
{
	const char *line = it->eb->b->data + it->off;
	size_t len = it->len;

	if (len > 0 && line[len - 1] == '\n')
		len--;
	iocb_pipe__dlq_write(o->out->dlq, o->cfg->name, status, reason, line, len);
	IOCB_M_ADD(o->out->m.dead[iocb_pipe__es_status_slot(status)], 1);
	line_done(o, it->eb);
}

/* ----------------------------------------------------------------- requests */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct es_req *r = ud;
	size_t n = size * nmemb;

	/* Past the cap the transfer fails (CURLE_WRITE_ERROR) and is retried like a transport error. */
	if (iocb_buf_append(&r->resp, ptr, n) < 0)
		return 0;
	return n;
}

/*
 * Round robin over the hosts, skipping one that failed at the transport
 * level until its own backoff passed (so a black-holed node does not cost
 * a connect timeout every nhosts requests). With every host down, the one
 * that comes back first.
 */
static unsigned pick_host(struct es_out *o)
{
	double now = iocb_pipe__mono();
	unsigned best = o->next_host % (unsigned)o->nhosts;

	for (size_t k = 0; k < o->nhosts; k++) {
		unsigned h = (o->next_host + (unsigned)k) % (unsigned)o->nhosts;

		if (o->host_down_until[h] <= now) {
			o->next_host = h + 1;
			return h;
		}
		if (o->host_down_until[h] < o->host_down_until[best])
			best = h;
	}
	o->next_host = best + 1;
	return best;
}

static void host_failed(struct es_out *o, unsigned h)
{
	h %= (unsigned)o->nhosts;
	o->host_down_until[h] = iocb_pipe__mono() + iocb_pipe__backoff(o->cfg->retry_initial_s, o->cfg->retry_max_s,
								   o->host_fails[h]++);
}

static void host_ok(struct es_out *o, unsigned h)
{
	h %= (unsigned)o->nhosts;
	o->host_down_until[h] = 0;
	o->host_fails[h] = 0;
}

static struct es_req *req_get(struct es_out *o)
{
	struct es_req *r = o->free_reqs;

	if (r) {
		o->free_reqs = r->next;
		o->nfree--;
	} else {
		r = iocb_xcalloc(1, sizeof(*r));
		r->o = o;
		iocb_buf_init(&r->body, 0);
		iocb_buf_init(&r->resp, RESP_MIN_CAP);
	}
	r->nitems = 0;
	iocb_buf_reset(&r->body);
	iocb_buf_reset(&r->resp);
	r->gzipped = false;
	r->gz_len = 0;
	r->attempt = 0;
	r->host = pick_host(o);
	r->not_before = 0;
	r->after_transport_error = false;
	r->first_at = 0;
	r->sending = false;
	r->next = NULL;
	return r;
}

static void req_destroy(struct es_req *r)
{
	if (r->easy)
		curl_easy_cleanup(r->easy);
	free(r->items);
	free(r->gz);
	free(r->res);
	iocb_buf_fini(&r->body);
	iocb_buf_fini(&r->resp);
	free(r);
}

/* Keep a few idle requests (and their buffers, up to the usual size) for reuse. */
static void req_put(struct es_out *o, struct es_req *r)
{
	if (o->nfree >= FREE_REQS_MAX) {
		req_destroy(r);
		return;
	}
	r->next = o->free_reqs;
	o->free_reqs = r;
	o->nfree++;
}

static void req_add_item(struct es_req *r, struct es_batch *eb, size_t off, size_t len, uint32_t line)
{
	if (r->nitems == r->cap_items) {
		r->cap_items = r->cap_items ? r->cap_items * 2 : 1024;
		r->items = iocb_xrealloc(r->items, r->cap_items * sizeof(*r->items));
	}
	r->items[r->nitems++] = (struct es_item){eb, off, (uint32_t)len, line};
}

/* Frame one line into the body (action line + source). */
static void frame_line(struct es_out *o, struct es_req *r, const struct iocb_pipe__batch *b, size_t off, size_t len,
		       uint32_t line)
{
	char hex[2 * IOCB_PIPE_ID_LEN + 1];
	const char *id = NULL;

	if (o->ids && b->ids && line < b->nlines) {
		iocb_pipe__batch_id_hex(b, line, hex);
		id = hex;
	}
	/* The body has no cap (its size is bounded by flush_bytes plus one batch), so this cannot fail. */
	if (iocb_pipe__es_body_append(&r->body, o->create, id, b->data + off, len) < 0)
		abort();
}

/* Add every line of a popped batch to the filling request. */
static void req_add_batch(struct es_out *o, struct es_req *r, struct iocb_pipe__batch *b)
{
	struct es_batch *eb = iocb_xcalloc(1, sizeof(*eb));
	size_t off = 0;
	uint32_t line = 0;

	eb->b = b;
	held_link(o, eb);
	while (off < b->len) {
		const char *nl = memchr(b->data + off, '\n', b->len - off);
		size_t len = nl ? (size_t)(nl - (b->data + off)) + 1 : b->len - off;

		/* Blank lines are not documents; the input normally drops them already. */
		if (!(len == 1 || (len == 2 && b->data[off] == '\r'))) {
			frame_line(o, r, b, off, len, line);
			req_add_item(r, eb, off, len, line);
			eb->left++;
		}
		off += len;
		line++;
	}
	if (r->nitems && r->first_at == 0)
		r->first_at = iocb_pipe__mono();
	if (eb->left == 0) {
		/* Nothing to send (an empty batch): settled at once. */
		eb->left = 1;
		line_done(o, eb);
	}
}

/* Build a request holding items[0..n) (a retry of some items, or half of a split). */
static struct es_req *req_from_items(struct es_out *o, const struct es_item *items, size_t n, unsigned attempt)
{
	struct es_req *r = req_get(o);

	for (size_t i = 0; i < n; i++) {
		frame_line(o, r, items[i].eb->b, items[i].off, items[i].len, items[i].line);
		req_add_item(r, items[i].eb, items[i].off, items[i].len, items[i].line);
	}
	r->attempt = attempt;
	return r;
}

static void compress(struct es_out *o, struct es_req *r)
{
	size_t bound, n;

	r->gzipped = false;
	if (!o->gz)
		return;
	bound = libdeflate_gzip_compress_bound(o->gz, r->body.len);
	if (bound > r->gz_cap) {
		free(r->gz);
		r->gz = iocb_xmalloc(bound);
		r->gz_cap = bound;
	}
	n = libdeflate_gzip_compress(o->gz, r->body.ptr, r->body.len, r->gz, r->gz_cap);
	if (n == 0)
		return; /* cannot happen with the bound; then it goes plain */
	r->gz_len = n;
	r->gzipped = true;
}

static void active_push(struct es_out *o, struct es_req *r)
{
	r->next = NULL;
	if (o->active_tail)
		o->active_tail->next = r;
	else
		o->active = r;
	o->active_tail = r;
	o->nactive++;
}

static void active_remove(struct es_out *o, struct es_req *r)
{
	struct es_req **pp = &o->active, *prev = NULL;

	while (*pp && *pp != r) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = r->next;
	if (o->active_tail == r)
		o->active_tail = prev;
	r->next = NULL;
	o->nactive--;
}

static void update_in_flight(struct es_out *o)
{
	/* A filling request counts too: it holds batches the queue no longer shows. */
	IOCB_M_SET(o->out->m.in_flight, (int64_t)(o->nactive + (o->filling && o->filling->nitems ? 1 : 0)));
}

/* The filling request is complete: compress it and queue it to be sent now. */
static void flush_filling(struct es_out *o)
{
	struct es_req *r = o->filling;

	o->filling = NULL;
	if (!r)
		return;
	if (r->nitems == 0) {
		req_put(o, r);
		return;
	}
	compress(o, r);
	r->not_before = 0;
	active_push(o, r);
}

static int start_transfer(struct es_out *o, struct es_req *r)
{
	CURL *e = r->easy;
	CURLMcode mc;

	if (!e) {
		e = curl_easy_init();
		if (!e)
			return -1;
		r->easy = e;
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
		curl_easy_setopt(e, CURLOPT_USERAGENT, "iocbus/" IOCB_VERSION);
		curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(o->cfg->timeout_s > 0 ? o->cfg->timeout_s * 1000 : 60000));
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
				 (long)(o->cfg->timeout_s > 0 && o->cfg->timeout_s < 10 ? o->cfg->timeout_s * 1000 : 10000));
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, o->cfg->tls_verify ? 1L : 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, o->cfg->tls_verify ? 2L : 0L);
		if (o->cfg->ca_file)
			curl_easy_setopt(e, CURLOPT_CAINFO, o->cfg->ca_file);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
		curl_easy_setopt(e, CURLOPT_PRIVATE, r);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_err);
		/*
		 * Bigger buffers than curl's 64/16 KiB: curl sends one upload buffer
		 * per transfer and per curl_multi_perform, so a 5 MiB body would
		 * otherwise take ~80 turns of the loop.
		 */
		curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 256L << 10);
		/* Never follow redirects: a bulk body must not be replayed somewhere else. */
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	}
	r->curl_err[0] = '\0';
	iocb_buf_reset(&r->resp);
	{
		size_t cap = r->nitems * (size_t)RESP_PER_ITEM;
		r->resp.max = cap > RESP_MIN_CAP ? cap : RESP_MIN_CAP;
	}
	curl_easy_setopt(e, CURLOPT_URL, o->urls[r->host % o->nhosts]);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->gzipped ? o->hdr_gzip : o->hdr_plain);
	if (r->gzipped) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)r->gz);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->gz_len);
	} else {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body.ptr);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body.len);
	}
	mc = curl_multi_add_handle(o->multi, e);
	if (mc != CURLM_OK)
		return -1;
	r->sending = true;
	r->started = iocb_pipe__mono();
	o->nsending++;
	return 0;
}

static void mark_failing(struct es_out *o)
{
	IOCB_M_SET(o->out->m.up, 0);
	if (!IOCB_M_GET(o->out->m.failing_since_us))
		IOCB_M_SET(o->out->m.failing_since_us, iocb_pipe__now_us());
}

static void mark_ok(struct es_out *o)
{
	int64_t since = IOCB_M_GET(o->out->m.failing_since_us);

	IOCB_M_SET(o->out->m.up, 1);
	if (since) {
		IOCB_M_SET(o->out->m.failing_since_us, 0);
		iocb_log(IOCB_LOG_INFO, MOD, "\"elasticsearch output recovered\" output=\"%s\" failing_s=%.1f", o->cfg->name,
			 (double)(iocb_pipe__now_us() - since) / 1e6);
	}
}

/* Put r back in the active list to be tried again after a backoff. */
static void retry_later(struct es_out *o, struct es_req *r, unsigned slot)
{
	double wait;

	IOCB_M_ADD(o->out->m.retries[slot], 1);
	mark_failing(o);
	r->attempt++;
	r->after_transport_error = slot == 0;
	if (slot == 0)
		host_failed(o, r->host);
	r->host = pick_host(o);
	/* A transport error with another host up: fail over at once. */
	if (slot == 0 && o->nhosts > 1 && o->host_down_until[r->host] <= iocb_pipe__mono())
		wait = 0;
	else
		wait = iocb_pipe__backoff(o->cfg->retry_initial_s, o->cfg->retry_max_s, r->attempt - 1);
	r->not_before = iocb_pipe__mono() + wait;
	active_push(o, r);
}

static void warn_limited(struct es_out *o, struct iocb_ratelimit *rl, enum iocb_log_level lvl, const char *what,
			 long status, const char *detail, const struct es_req *r)
{
	uint64_t suppressed;

	if (!iocb_log_enabled(lvl, MOD) || !iocb_ratelimit_ok(rl, &suppressed))
		return;
	iocb_log_(lvl, MOD,
		  "\"%s\" output=\"%s\" host=\"%s\" status=%ld items=%zu attempt=%u detail=\"%s\" suppressed=%" PRIu64,
		  what, o->cfg->name, o->host_names[r->host % o->nhosts], status, r->nitems, r->attempt + 1, detail,
		  suppressed);
}

/*
 * A request just succeeded: requests still sitting out a backoff because
 * the cluster did not answer (up to retry_max, 60 s) go now. Without this,
 * after an outage the oldest batches wait out their backoff while newer
 * ones are delivered, and the inputs' ack rings fill up behind them.
 * Backoffs after an answer (429, 5xx) are kept: the cluster asked for them.
 */
static void wake_after_outage(struct es_out *o)
{
	double now = iocb_pipe__mono();

	for (struct es_req *w = o->active; w; w = w->next)
		if (!w->sending && w->after_transport_error && w->not_before > now) {
			w->not_before = now;
			w->attempt = 0;
			w->after_transport_error = false;
		}
}

/* The response of a 2xx request: settle, retry or dead-letter each item. */
static void judge_items(struct es_out *o, struct es_req *r, long status)
{
	struct iocb_pipe__es_resp resp;
	struct iocb_err err;
	size_t nretry = 0;
	int retry_status = 0;
	int rc;

	if (r->nitems > r->cap_res) {
		free(r->res);
		r->cap_res = r->nitems;
		r->res = iocb_xmalloc(r->cap_res * sizeof(*r->res));
	}
	rc = iocb_pipe__es_parse_response(r->resp.ptr ? r->resp.ptr : "", r->resp.len, r->nitems, r->res, &resp, &err);
	if (rc < 0) {
		warn_limited(o, &o->rl, IOCB_LOG_WARN, "bad bulk response, retrying the request", status, err.msg, r);
		retry_later(o, r, iocb_pipe__es_status_slot(status));
		return;
	}
	mark_ok(o);
	wake_after_outage(o);
	if (!resp.detailed) {
		for (size_t i = 0; i < r->nitems; i++)
			item_delivered(o, &r->items[i]);
		req_put(o, r);
		return;
	}
	for (size_t i = 0; i < r->nitems; i++) {
		const struct iocb_pipe__es_item *it = &r->res[i];

		switch (iocb_pipe__es_item_outcome(it->status, o->create)) {
		case IOCB_PIPE_ES_ITEM_OK:
			item_delivered(o, &r->items[i]);
			break;
		case IOCB_PIPE_ES_ITEM_DUPLICATE:
			IOCB_M_ADD(o->out->m.duplicates, 1);
			item_delivered(o, &r->items[i]);
			break;
		case IOCB_PIPE_ES_ITEM_DEAD:
			iocb_pipe__es_item_reason(it, o->reason, sizeof(o->reason));
			item_dead(o, &r->items[i], it->status, o->reason);
			break;
		case IOCB_PIPE_ES_ITEM_RETRY:
			IOCB_M_ADD(o->out->m.item_retries[iocb_pipe__es_status_slot(it->status)], 1);
			/* Compact the retried items to the front of items[] (i >= nretry always). */
			r->items[nretry++] = r->items[i];
			retry_status = it->status;
			iocb_pipe__es_item_reason(it, o->reason, 256);
			break;
		}
	}
	if (nretry) {
		struct es_req *nr;

		warn_limited(o, &o->rl, IOCB_LOG_WARN, "bulk items refused, retrying them", retry_status, o->reason, r);
		nr = req_from_items(o, r->items, nretry, r->attempt + 1);
		compress(o, nr);
		nr->not_before = iocb_pipe__mono() + iocb_pipe__backoff(o->cfg->retry_initial_s, o->cfg->retry_max_s,
								      r->attempt);
		active_push(o, nr);
	}
	req_put(o, r);
}

/* A transfer finished (or failed): decide. r is no longer in the active list. */
static void on_done(struct es_out *o, struct es_req *r, CURLcode cc)
{
	long status = 0;
	double lat = iocb_pipe__mono() - r->started;

	curl_multi_remove_handle(o->multi, r->easy);
	r->sending = false;
	o->nsending--;
	IOCB_M_ADD(o->out->m.requests, 1);
	IOCB_M_ADD(o->out->m.bytes_sent, r->gzipped ? r->gz_len : r->body.len);
	iocb_pipe__output_observe_latency(&o->out->m, lat);
	if (cc == CURLE_OK)
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK || status == 0) {
		warn_limited(o, &o->rl, IOCB_LOG_WARN, "bulk request failed, retrying", 0,
			     r->curl_err[0] ? r->curl_err : curl_easy_strerror(cc), r);
		retry_later(o, r, 0);
		return;
	}
	/* Any HTTP answer means the node is reachable. */
	host_ok(o, r->host);
	switch (iocb_pipe__es_verdict(status)) {
	case IOCB_PIPE_ES_ITEMS:
		judge_items(o, r, status);
		return;
	case IOCB_PIPE_ES_RETRY:
		iocb_pipe__es_error_reason(r->resp.ptr ? r->resp.ptr : "", r->resp.len, status, o->reason, 256);
		warn_limited(o, &o->rl, IOCB_LOG_WARN, "bulk request refused, retrying", status, o->reason, r);
		retry_later(o, r, iocb_pipe__es_status_slot(status));
		return;
	case IOCB_PIPE_ES_RETRY_ALERT:
		/* Authentication or configuration: nothing a retry fixes by itself, but the data is kept. */
		iocb_pipe__es_error_reason(r->resp.ptr ? r->resp.ptr : "", r->resp.len, status, o->reason, 256);
		warn_limited(o, &o->rl_err, IOCB_LOG_ERROR, "bulk request refused (check credentials/config), retrying",
			     status, o->reason, r);
		retry_later(o, r, iocb_pipe__es_status_slot(status));
		return;
	case IOCB_PIPE_ES_SPLIT:
		mark_ok(o);
		if (r->nitems <= 1) {
			for (size_t i = 0; i < r->nitems; i++)
				item_dead(o, &r->items[i], 413, "request_entity_too_large: this event alone exceeds "
								 "http.max_content_length");
			req_put(o, r);
			return;
		}
		{
			size_t h = r->nitems / 2;
			struct es_req *a = req_from_items(o, r->items, h, 0);
			struct es_req *b = req_from_items(o, r->items + h, r->nitems - h, 0);

			IOCB_M_ADD(o->out->m.splits, 1);
			compress(o, a);
			compress(o, b);
			active_push(o, a);
			active_push(o, b);
		}
		req_put(o, r);
		return;
	case IOCB_PIPE_ES_DEAD:
		mark_ok(o);
		iocb_pipe__es_error_reason(r->resp.ptr ? r->resp.ptr : "", r->resp.len, status, o->reason, sizeof(o->reason));
		warn_limited(o, &o->rl, IOCB_LOG_WARN, "bulk request rejected, dead-lettering its events", status,
			     o->reason, r);
		for (size_t i = 0; i < r->nitems; i++)
			item_dead(o, &r->items[i], (int)status, o->reason);
		req_put(o, r);
		return;
	}
}

/* ------------------------------------------------------------------ thread */

static void on_push(void *ctx)
{
	struct es_out *o = ctx;

	curl_multi_wakeup(o->multi);
}

static bool filling_full(const struct es_out *o)
{
	const struct es_req *r = o->filling;

	return r && (r->body.len >= o->flush_bytes || r->nitems >= o->flush_events);
}

#define ES_PROBE_S 5.0 /* while nothing answers, one waiting request is tried this often */

/*
 * While every request waits out a backoff after a transport error (the
 * cluster is down), try the one due first every ES_PROBE_S instead of
 * letting backoffs grow to retry_max: a refused connection costs nothing,
 * and its success (wake_after_outage) releases the rest. So delivery
 * resumes within about ES_PROBE_S of the cluster coming back, as
 * Logstash's health checks do, with the request itself as the probe.
 * Returns the seconds until the next probe (or a large number).
 */
static double probe_outage(struct es_out *o, double now)
{
	struct es_req *first = NULL;

	if (o->nsending)
		return 1e9;
	for (struct es_req *r = o->active; r; r = r->next)
		if (r->after_transport_error && r->not_before > now && (!first || r->not_before < first->not_before))
			first = r;
	if (!first)
		return 1e9;
	if (now - o->last_probe < ES_PROBE_S)
		return o->last_probe + ES_PROBE_S - now;
	o->last_probe = now;
	first->not_before = now;
	return ES_PROBE_S;
}

/* Start every waiting request whose time has come. */
static void start_ready(struct es_out *o, double now)
{
	for (struct es_req *r = o->active; r; r = r->next) {
		if (r->sending || r->not_before > now)
			continue;
		if (start_transfer(o, r) < 0) {
			/* Out of memory in curl: leave it waiting and try again shortly. */
			r->not_before = now + 0.1;
		}
	}
}

static void collect_done(struct es_out *o)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(o->multi, &left)) != NULL) {
		struct es_req *r;
		void *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		r = priv;
		if (!r)
			continue;
		active_remove(o, r);
		on_done(o, r, msg->data.result);
	}
}

/* Past the shutdown deadline: abort transfers, spool (or drop, without a spool) every held batch once, free everything. */
static void abandon(struct es_out *o)
{
	struct es_req *r, *n;
	struct iocb_pipe__queue_tally t = {0};

	for (r = o->active; r; r = n) {
		n = r->next;
		if (r->sending)
			curl_multi_remove_handle(o->multi, r->easy);
		req_destroy(r);
	}
	o->active = o->active_tail = NULL;
	o->nactive = o->nsending = 0;
	if (o->filling) {
		req_destroy(o->filling);
		o->filling = NULL;
	}
	for (struct es_batch *eb = o->held.next, *en; eb != &o->held; eb = en) {
		en = eb->next;
		(void)iocb_pipe__queue_spill_tally(o->out->q, eb->b, &t);
		free(eb);
	}
	o->held.prev = o->held.next = &o->held;
	iocb_pipe__queue_tally_log(o->out->q, &t);
}

static void *es_main(void *arg)
{
	struct es_out *o = arg;
	struct iocb_pipe__queue *q = o->out->q;

	for (;;) {
		double now, wait = 1.0, left, probe_wait;
		int running = 0;

		left = iocb_pipe__queue_shutdown_left(q);
		if (left <= 0) {
			abandon(o);
			break;
		}
		/*
		 * Fill: whole batches until the request is full. With every slot
		 * busy the full request waits and nothing more is popped, so at
		 * most max_in_flight + 1 requests are held and the queue (then the
		 * spool) absorbs the rest.
		 */
		while (!filling_full(o)) {
			struct iocb_pipe__batch *b = iocb_pipe__queue_pop(q, 0);

			if (!b)
				break;
			if (!o->filling)
				o->filling = req_get(o);
			req_add_batch(o, o->filling, b);
		}
		now = iocb_pipe__mono();
		if (o->filling && o->filling->nitems && o->nactive < o->max_in_flight &&
		    (filling_full(o) || now - o->filling->first_at >= o->flush_interval || iocb_pipe__queue_closed(q)))
			flush_filling(o);
		probe_wait = probe_outage(o, now);
		start_ready(o, now);
		curl_multi_perform(o->multi, &running);
		collect_done(o);
		update_in_flight(o);
		if (iocb_pipe__queue_closed(q) && o->nactive == 0 && !(o->filling && o->filling->nitems))
			break;

		/* Sleep until a socket, a push, the flush deadline, a retry time, or the shutdown deadline. */
		now = iocb_pipe__mono();
		if (o->filling && o->filling->nitems && o->nactive < o->max_in_flight) {
			double d = o->filling->first_at + o->flush_interval - now;
			wait = d < wait ? d : wait;
		}
		for (struct es_req *r = o->active; r; r = r->next)
			if (!r->sending && r->not_before - now < wait)
				wait = r->not_before - now;
		if (probe_wait < wait)
			wait = probe_wait;
		if (left < wait)
			wait = left;
		if (iocb_pipe__queue_closed(q) && wait > 0.05)
			wait = 0.05;
		if (wait > 0)
			curl_multi_poll(o->multi, NULL, 0, (int)(wait * 1000) + 1, NULL);
	}
	update_in_flight(o);
	return NULL;
}

/* ------------------------------------------------------------- life cycle */

static void es_free(struct es_out *o)
{
	if (!o)
		return;
	/* Only an empty filling request can be left here: the thread settled or spilled every batch. */
	if (o->filling)
		req_destroy(o->filling);
	while (o->free_reqs) {
		struct es_req *r = o->free_reqs;
		o->free_reqs = r->next;
		req_destroy(r);
	}
	if (o->multi)
		curl_multi_cleanup(o->multi);
	curl_slist_free_all(o->hdr_plain);
	curl_slist_free_all(o->hdr_gzip);
	for (size_t i = 0; i < o->nhosts; i++) {
		free(o->urls ? o->urls[i] : NULL);
		free(o->host_names ? o->host_names[i] : NULL);
	}
	free(o->urls);
	free(o->host_names);
	free(o->host_down_until);
	free(o->host_fails);
	if (o->gz)
		libdeflate_free_compressor(o->gz);
	free(o);
}

static int es_start(struct iocb_pipe__output *out, struct iocb_err *err)
{
	struct es_out *o = out->impl;
	int rc;

	iocb_pipe__queue_set_notify(out->q, on_push, o);
	rc = pthread_create(&o->thread, NULL, es_main, o);
	if (rc != 0) {
		iocb_pipe__queue_set_notify(out->q, NULL, NULL);
		return iocb_err_set(err, IOCB_EIO, "outputs[%s]: thread: %s", o->cfg->name, strerror(rc));
	}
	o->started = true;
	return IOCB_OK;
}

static void es_join(struct iocb_pipe__output *out)
{
	struct es_out *o = out->impl;

	if (!o)
		return;
	if (o->started) {
		curl_multi_wakeup(o->multi);
		pthread_join(o->thread, NULL);
		iocb_pipe__queue_set_notify(out->q, NULL, NULL);
	}
	/* The thread spilled or settled every batch before leaving; only buffers remain. */
	es_free(o);
	out->impl = NULL;
}

static const struct iocb_pipe__output_ops es_ops = {"elasticsearch", es_start, es_join};

static struct curl_slist *slist_add(struct curl_slist *l, const char *h, bool *ok)
{
	struct curl_slist *n = curl_slist_append(l, h);

	if (!n) {
		*ok = false;
		return l;
	}
	return n;
}

/* Which Authorization scheme iocb_pipe__es_auth_header() picks (for the start-up log line; never the value). */
static const char *auth_kind(const struct iocb_config_output *c)
{
	const char *k = iocb_secret_str(&c->api_key), *b = iocb_secret_str(&c->bearer);

	if (k && *k)
		return "apikey";
	if (b && *b)
		return "bearer";
	return c->username && *c->username ? "basic" : "none";
}

int iocb_pipe__output_es_init(struct iocb_pipe__output *out, struct iocb_err *err)
{
	const struct iocb_config_output *c = out->cfg;
	const char *where = c->where ? c->where : "?";
	struct es_out *o;
	struct iocb_buf b;
	bool ok = true;
	int rc = IOCB_OK;

	pthread_once(&curl_once, curl_global);
	if (curl_once_rc != CURLE_OK)
		return iocb_err_set(err, IOCB_EIO, "%s: outputs[%s]: curl_global_init: %s", where, c->name,
				    curl_easy_strerror(curl_once_rc));
	if (!c->hosts || c->nhosts == 0)
		return iocb_err_set(err, IOCB_ECONFIG, "%s: outputs[%s]: elasticsearch needs hosts", where, c->name);
	if (c->compression_level > 12)
		return iocb_err_set(err, IOCB_ECONFIG, "%s: outputs[%s]: compression_level %u is out of 0..12", where,
				    c->name, c->compression_level);

	o = iocb_xcalloc(1, sizeof(*o));
	o->out = out;
	o->cfg = c;
	o->held.prev = o->held.next = &o->held;
	o->create = c->data_stream || (c->action && strcmp(c->action, "create") == 0);
	o->ids = c->document_id && strcmp(c->document_id, "hash") == 0;
	o->flush_bytes = c->flush_bytes ? c->flush_bytes : 5u << 20;
	o->flush_events = c->flush_events ? c->flush_events : 10000;
	o->flush_interval = c->flush_interval_s > 0 ? c->flush_interval_s : 1.0;
	o->max_in_flight = c->max_in_flight ? c->max_in_flight : 1;
	o->rl.interval_s = 10;
	o->rl_err.interval_s = 10;
	o->nhosts = c->nhosts;
	o->urls = iocb_xcalloc(c->nhosts, sizeof(*o->urls));
	o->host_names = iocb_xcalloc(c->nhosts, sizeof(*o->host_names));
	o->host_down_until = iocb_xcalloc(c->nhosts, sizeof(*o->host_down_until));
	o->host_fails = iocb_xcalloc(c->nhosts, sizeof(*o->host_fails));
	iocb_buf_init(&b, 64 << 10);
	for (size_t i = 0; i < c->nhosts; i++) {
		rc = iocb_pipe__es_bulk_url(&b, c->hosts[i], c->index, c->pipeline);
		if (rc < 0) {
			rc = iocb_err_set(err, IOCB_ECONFIG, "%s: outputs[%s]: hosts[%zu]: URL too long", where, c->name, i);
			goto fail;
		}
		o->urls[i] = iocb_xstrdup(b.ptr);
		o->host_names[i] = iocb_pipe__es_host_for_log(c->hosts[i]);
	}

	if (c->compression_level > 0) {
		o->gz = libdeflate_alloc_compressor((int)c->compression_level);
		if (!o->gz) {
			rc = iocb_err_set(err, IOCB_EIO, "%s: outputs[%s]: libdeflate_alloc_compressor failed", where, c->name);
			goto fail;
		}
	}

	/* Headers: shared by every transfer of this output (curl only reads them). */
	o->hdr_plain = slist_add(o->hdr_plain, "Content-Type: application/x-ndjson", &ok);
	o->hdr_plain = slist_add(o->hdr_plain, "Expect:", &ok);
	iocb_buf_reset(&b);
	rc = iocb_pipe__es_auth_header(&b, c->username, iocb_secret_str(&c->password), iocb_secret_str(&c->api_key),
				 iocb_secret_str(&c->bearer));
	if (rc < 0) {
		rc = iocb_err_set(err, IOCB_ECONFIG, "%s: outputs[%s]: credentials too long", where, c->name);
		goto fail;
	}
	if (b.len)
		o->hdr_plain = slist_add(o->hdr_plain, b.ptr, &ok);
	o->hdr_gzip = slist_add(o->hdr_gzip, "Content-Encoding: gzip", &ok);
	for (struct curl_slist *s = o->hdr_plain; s; s = s->next)
		o->hdr_gzip = slist_add(o->hdr_gzip, s->data, &ok);
	if (!ok) {
		rc = iocb_err_set(err, IOCB_ENOMEM, "%s: outputs[%s]: out of memory", where, c->name);
		goto fail;
	}

	o->multi = curl_multi_init();
	if (!o->multi) {
		rc = iocb_err_set(err, IOCB_EIO, "%s: outputs[%s]: curl_multi_init failed", where, c->name);
		goto fail;
	}
	curl_multi_setopt(o->multi, CURLMOPT_MAXCONNECTS, (long)(o->max_in_flight * o->nhosts + 1));

	if (b.ptr)
		explicit_bzero(b.ptr, b.cap);
	iocb_buf_fini(&b);
	out->ops = &es_ops;
	out->impl = o;
	out->needs_ids = o->ids;
	iocb_log(IOCB_LOG_INFO, MOD,
		 "\"elasticsearch output\" output=\"%s\" host=\"%s\" hosts=%zu index=\"%s\" action=%s ids=%s gzip=%u "
		 "max_in_flight=%u auth=%s",
		 c->name, o->host_names[0], o->nhosts, c->index ? c->index : "", o->create ? "create" : "index",
		 o->ids ? "hash" : "none", c->compression_level, o->max_in_flight,
		 auth_kind(c));
	return IOCB_OK;
fail:
	if (b.ptr)
		explicit_bzero(b.ptr, b.cap);
	iocb_buf_fini(&b);
	es_free(o);
	return rc;
}
