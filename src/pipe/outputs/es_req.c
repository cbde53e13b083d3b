/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Elasticsearch output's requests: holders of popped batches, framing
 * lines into a request, compressing, sending on the multi handle, and the
 * judgement of each answer (retry, split, dead-letter, delivered). The
 * design is in es.h; the thread that drives these is in es.c.
 */
#include "pipe/outputs/es.h"

#include <inttypes.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#ifndef IOCB_VERSION
#define IOCB_VERSION "0"
#endif

#define MOD "pipe"
#define FREE_REQS_MAX 4               /* idle request objects kept for reuse (buffers, easy handle) */
#define RESP_MIN_CAP (64u << 20)      /* response bodies: at least this much ... */
#define RESP_PER_ITEM (8u << 10)      /* ... or this per item, whichever is more */

/* ------------------------------------------------------------------ batches */

static void held_link(struct iocb_pipe__es_out *o, struct iocb_pipe__es_batch *eb)
{
	eb->prev = o->held.prev;
	eb->next = &o->held;
	o->held.prev->next = eb;
	o->held.prev = eb;
}

static void held_unlink(struct iocb_pipe__es_batch *eb)
{
	eb->prev->next = eb->next;
	eb->next->prev = eb->prev;
}

/* One line of eb is settled (delivered or dead-lettered); the last one settles the batch. */
static void line_done(struct iocb_pipe__es_out *o, struct iocb_pipe__es_batch *eb)
{
	if (--eb->left > 0)
		return;
	held_unlink(eb);
	iocb_pipe__batch_settle(eb->b);
	IOCB_M_ADD(o->out->m.batches, 1);
	free(eb);
}

static void item_delivered(struct iocb_pipe__es_out *o, const struct iocb_pipe__es_doc *it)
{
	IOCB_M_ADD(o->out->m.events, 1);
	IOCB_M_ADD(o->out->m.bytes, it->len);
	line_done(o, it->eb);
}

static void item_dead(struct iocb_pipe__es_out *o, const struct iocb_pipe__es_doc *it, int status, const char *reason)
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
	struct iocb_pipe__es_req *r = ud;
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
static unsigned pick_host(struct iocb_pipe__es_out *o)
{
	double now = iocb_time_mono_s();
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

static void host_failed(struct iocb_pipe__es_out *o, unsigned h)
{
	h %= (unsigned)o->nhosts;
	o->host_down_until[h] = iocb_time_mono_s() + iocb_pipe__backoff(o->cfg->retry_initial_s, o->cfg->retry_max_s,
								   o->host_fails[h]++);
}

static void host_ok(struct iocb_pipe__es_out *o, unsigned h)
{
	h %= (unsigned)o->nhosts;
	o->host_down_until[h] = 0;
	o->host_fails[h] = 0;
}

struct iocb_pipe__es_req *iocb_pipe__es_req_get(struct iocb_pipe__es_out *o)
{
	struct iocb_pipe__es_req *r = o->free_reqs;

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

void iocb_pipe__es_req_destroy(struct iocb_pipe__es_req *r)
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
static void req_put(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r)
{
	if (o->nfree >= FREE_REQS_MAX) {
		iocb_pipe__es_req_destroy(r);
		return;
	}
	r->next = o->free_reqs;
	o->free_reqs = r;
	o->nfree++;
}

static void req_add_item(struct iocb_pipe__es_req *r, struct iocb_pipe__es_batch *eb, size_t off, size_t len,
			 uint32_t line)
{
	if (r->nitems == r->cap_items) {
		r->cap_items = r->cap_items ? r->cap_items * 2 : 1024;
		r->items = iocb_xrealloc(r->items, r->cap_items * sizeof(*r->items));
	}
	r->items[r->nitems++] = (struct iocb_pipe__es_doc){eb, off, (uint32_t)len, line};
}

/* Frame one line into the body (action line + source). */
static void frame_line(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r, const struct iocb_pipe__batch *b,
		       size_t off, size_t len, uint32_t line)
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
void iocb_pipe__es_req_add_batch(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r, struct iocb_pipe__batch *b)
{
	struct iocb_pipe__es_batch *eb = iocb_xcalloc(1, sizeof(*eb));
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
		r->first_at = iocb_time_mono_s();
	if (eb->left == 0) {
		/* Nothing to send (an empty batch): settled at once. */
		eb->left = 1;
		line_done(o, eb);
	}
}

/* Build a request holding items[0..n) (a retry of some items, or half of a split). */
static struct iocb_pipe__es_req *req_from_items(struct iocb_pipe__es_out *o, const struct iocb_pipe__es_doc *items,
						 size_t n, unsigned attempt)
{
	struct iocb_pipe__es_req *r = iocb_pipe__es_req_get(o);

	for (size_t i = 0; i < n; i++) {
		frame_line(o, r, items[i].eb->b, items[i].off, items[i].len, items[i].line);
		req_add_item(r, items[i].eb, items[i].off, items[i].len, items[i].line);
	}
	r->attempt = attempt;
	return r;
}

static void compress(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r)
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

static void active_push(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r)
{
	r->next = NULL;
	if (o->active_tail)
		o->active_tail->next = r;
	else
		o->active = r;
	o->active_tail = r;
	o->nactive++;
}

void iocb_pipe__es_active_remove(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r)
{
	struct iocb_pipe__es_req **pp = &o->active, *prev = NULL;

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

void iocb_pipe__es_update_in_flight(struct iocb_pipe__es_out *o)
{
	/* A filling request counts too: it holds batches the queue no longer shows. */
	IOCB_M_SET(o->out->m.in_flight, (int64_t)(o->nactive + (o->filling && o->filling->nitems ? 1 : 0)));
}

/* The filling request is complete: compress it and queue it to be sent now. */
void iocb_pipe__es_flush_filling(struct iocb_pipe__es_out *o)
{
	struct iocb_pipe__es_req *r = o->filling;

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

int iocb_pipe__es_start_transfer(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r)
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
	r->started = iocb_time_mono_s();
	o->nsending++;
	return 0;
}

static void mark_failing(struct iocb_pipe__es_out *o)
{
	IOCB_M_SET(o->out->m.up, 0);
	if (!IOCB_M_GET(o->out->m.failing_since_us))
		IOCB_M_SET(o->out->m.failing_since_us, iocb_time_real_us());
}

static void mark_ok(struct iocb_pipe__es_out *o)
{
	int64_t since = IOCB_M_GET(o->out->m.failing_since_us);

	IOCB_M_SET(o->out->m.up, 1);
	if (since) {
		IOCB_M_SET(o->out->m.failing_since_us, 0);
		iocb_log(IOCB_LOG_INFO, MOD, "\"elasticsearch output recovered\" output=\"%s\" failing_s=%.1f", o->cfg->name,
			 (double)(iocb_time_real_us() - since) / 1e6);
	}
}

/* Put r back in the active list to be tried again after a backoff. */
static void retry_later(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r, unsigned slot)
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
	if (slot == 0 && o->nhosts > 1 && o->host_down_until[r->host] <= iocb_time_mono_s())
		wait = 0;
	else
		wait = iocb_pipe__backoff(o->cfg->retry_initial_s, o->cfg->retry_max_s, r->attempt - 1);
	r->not_before = iocb_time_mono_s() + wait;
	active_push(o, r);
}

static void warn_limited(struct iocb_pipe__es_out *o, struct iocb_ratelimit *rl, enum iocb_log_level lvl,
			 const char *what, long status, const char *detail, const struct iocb_pipe__es_req *r)
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
static void wake_after_outage(struct iocb_pipe__es_out *o)
{
	double now = iocb_time_mono_s();

	for (struct iocb_pipe__es_req *w = o->active; w; w = w->next)
		if (!w->sending && w->after_transport_error && w->not_before > now) {
			w->not_before = now;
			w->attempt = 0;
			w->after_transport_error = false;
		}
}

/* The response of a 2xx request: settle, retry or dead-letter each item. */
static void judge_items(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r, long status)
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
		struct iocb_pipe__es_req *nr;

		warn_limited(o, &o->rl, IOCB_LOG_WARN, "bulk items refused, retrying them", retry_status, o->reason, r);
		nr = req_from_items(o, r->items, nretry, r->attempt + 1);
		compress(o, nr);
		nr->not_before = iocb_time_mono_s() + iocb_pipe__backoff(o->cfg->retry_initial_s, o->cfg->retry_max_s,
								      r->attempt);
		active_push(o, nr);
	}
	req_put(o, r);
}

/* A transfer finished (or failed): decide. r is no longer in the active list. */
void iocb_pipe__es_on_done(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r, CURLcode cc)
{
	long status = 0;
	double lat = iocb_time_mono_s() - r->started;

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
			struct iocb_pipe__es_req *a = req_from_items(o, r->items, h, 0);
			struct iocb_pipe__es_req *b = req_from_items(o, r->items + h, r->nitems - h, 0);

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
