/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Elasticsearch output's thread, life cycle and set-up from the
 * configuration (the design is in es.h; the requests are in es_req.c).
 */
#include "pipe/outputs/es.h"

#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "httpc/httpc.h"

#define MOD "pipe"

/* ------------------------------------------------------------------ thread */

static void on_push(void *ctx)
{
	struct iocb_pipe__es_out *o = ctx;

	curl_multi_wakeup(o->multi);
}

static bool filling_full(const struct iocb_pipe__es_out *o)
{
	const struct iocb_pipe__es_req *r = o->filling;

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
static double probe_outage(struct iocb_pipe__es_out *o, double now)
{
	struct iocb_pipe__es_req *first = NULL;

	if (o->nsending)
		return 1e9;
	for (struct iocb_pipe__es_req *r = o->active; r; r = r->next)
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
static void start_ready(struct iocb_pipe__es_out *o, double now)
{
	for (struct iocb_pipe__es_req *r = o->active; r; r = r->next) {
		if (r->sending || r->not_before > now)
			continue;
		if (iocb_pipe__es_start_transfer(o, r) < 0) {
			/* Out of memory in curl: leave it waiting and try again shortly. */
			r->not_before = now + 0.1;
		}
	}
}

static void collect_done(struct iocb_pipe__es_out *o)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(o->multi, &left)) != NULL) {
		struct iocb_pipe__es_req *r;
		void *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		r = priv;
		if (!r)
			continue;
		iocb_pipe__es_active_remove(o, r);
		iocb_pipe__es_on_done(o, r, msg->data.result);
	}
}

/* Past the shutdown deadline: abort transfers, spool (or drop, without a spool) every held batch once, free everything. */
static void abandon(struct iocb_pipe__es_out *o)
{
	struct iocb_pipe__es_req *r, *n;
	struct iocb_pipe__queue_tally t = {0};

	for (r = o->active; r; r = n) {
		n = r->next;
		if (r->sending)
			curl_multi_remove_handle(o->multi, r->easy);
		iocb_pipe__es_req_destroy(r);
	}
	o->active = o->active_tail = NULL;
	o->nactive = o->nsending = 0;
	if (o->filling) {
		iocb_pipe__es_req_destroy(o->filling);
		o->filling = NULL;
	}
	for (struct iocb_pipe__es_batch *eb = o->held.next, *en; eb != &o->held; eb = en) {
		en = eb->next;
		(void)iocb_pipe__queue_spill_tally(o->out->q, eb->b, &t);
		free(eb);
	}
	o->held.prev = o->held.next = &o->held;
	iocb_pipe__queue_tally_log(o->out->q, &t);
}

static void *es_main(void *arg)
{
	struct iocb_pipe__es_out *o = arg;
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
				o->filling = iocb_pipe__es_req_get(o);
			iocb_pipe__es_req_add_batch(o, o->filling, b);
		}
		now = iocb_time_mono_s();
		if (o->filling && o->filling->nitems && o->nactive < o->max_in_flight &&
		    (filling_full(o) || now - o->filling->first_at >= o->flush_interval || iocb_pipe__queue_closed(q)))
			iocb_pipe__es_flush_filling(o);
		probe_wait = probe_outage(o, now);
		start_ready(o, now);
		curl_multi_perform(o->multi, &running);
		collect_done(o);
		iocb_pipe__es_update_in_flight(o);
		if (iocb_pipe__queue_closed(q) && o->nactive == 0 && !(o->filling && o->filling->nitems))
			break;

		/* Sleep until a socket, a push, the flush deadline, a retry time, or the shutdown deadline. */
		now = iocb_time_mono_s();
		if (o->filling && o->filling->nitems && o->nactive < o->max_in_flight) {
			double d = o->filling->first_at + o->flush_interval - now;
			wait = d < wait ? d : wait;
		}
		for (struct iocb_pipe__es_req *r = o->active; r; r = r->next)
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
	iocb_pipe__es_update_in_flight(o);
	return NULL;
}

/* ------------------------------------------------------------- life cycle */

static void es_free(struct iocb_pipe__es_out *o)
{
	if (!o)
		return;
	/* Only an empty filling request can be left here: the thread settled or spilled every batch. */
	if (o->filling)
		iocb_pipe__es_req_destroy(o->filling);
	while (o->free_reqs) {
		struct iocb_pipe__es_req *r = o->free_reqs;
		o->free_reqs = r->next;
		iocb_pipe__es_req_destroy(r);
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
	struct iocb_pipe__es_out *o = out->impl;
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
	struct iocb_pipe__es_out *o = out->impl;

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

/* One bulk URL per host, and the host alone for logs. b is scratch. */
static int set_hosts(struct iocb_pipe__es_out *o, struct iocb_buf *b, struct iocb_err *err)
{
	const struct iocb_config_output *c = o->cfg;

	o->nhosts = c->nhosts;
	o->urls = iocb_xcalloc(c->nhosts, sizeof(*o->urls));
	o->host_names = iocb_xcalloc(c->nhosts, sizeof(*o->host_names));
	o->host_down_until = iocb_xcalloc(c->nhosts, sizeof(*o->host_down_until));
	o->host_fails = iocb_xcalloc(c->nhosts, sizeof(*o->host_fails));
	for (size_t i = 0; i < c->nhosts; i++) {
		if (iocb_pipe__es_bulk_url(b, c->hosts[i], c->index, c->pipeline) < 0)
			return iocb_err_set(err, IOCB_ECONFIG, "%s: outputs[%s]: hosts[%zu]: URL too long",
					    c->where ? c->where : "?", c->name, i);
		o->urls[i] = iocb_xstrdup(b->ptr);
		o->host_names[i] = iocb_pipe__es_host_for_log(c->hosts[i]);
	}
	return IOCB_OK;
}

/*
 * Headers: shared by every transfer of this output (curl only reads them).
 * b is scratch and ends up holding the Authorization header: the caller
 * wipes it.
 */
static int set_headers(struct iocb_pipe__es_out *o, struct iocb_buf *b, struct iocb_err *err)
{
	const struct iocb_config_output *c = o->cfg;
	const char *where = c->where ? c->where : "?";
	bool ok = true;

	o->hdr_plain = slist_add(o->hdr_plain, "Content-Type: application/x-ndjson", &ok);
	o->hdr_plain = slist_add(o->hdr_plain, "Expect:", &ok);
	iocb_buf_reset(b);
	if (iocb_pipe__es_auth_header(b, c->username, iocb_secret_str(&c->password), iocb_secret_str(&c->api_key),
				      iocb_secret_str(&c->bearer)) < 0)
		return iocb_err_set(err, IOCB_ECONFIG, "%s: outputs[%s]: credentials too long", where, c->name);
	if (b->len)
		o->hdr_plain = slist_add(o->hdr_plain, b->ptr, &ok);
	o->hdr_gzip = slist_add(o->hdr_gzip, "Content-Encoding: gzip", &ok);
	for (struct curl_slist *s = o->hdr_plain; s; s = s->next)
		o->hdr_gzip = slist_add(o->hdr_gzip, s->data, &ok);
	if (!ok)
		return iocb_err_set(err, IOCB_ENOMEM, "%s: outputs[%s]: out of memory", where, c->name);
	return IOCB_OK;
}

int iocb_pipe__output_es_init(struct iocb_pipe__output *out, struct iocb_err *err)
{
	const struct iocb_config_output *c = out->cfg;
	const char *where = c->where ? c->where : "?";
	struct iocb_pipe__es_out *o;
	struct iocb_buf b;
	const char *why;
	int rc = IOCB_OK;

	if (iocb_httpc_global_init(&why) != IOCB_OK)
		return iocb_err_set(err, IOCB_EIO, "%s: outputs[%s]: curl_global_init: %s", where, c->name, why);
	if (!c->hosts || c->nhosts == 0)
		return iocb_err_set(err, IOCB_ECONFIG, "%s: outputs[%s]: elasticsearch needs hosts", where, c->name);
	if (c->compression_level > 12)
		return iocb_err_set(err, IOCB_ECONFIG, "%s: outputs[%s]: compression_level %u is out of 0..12", where,
				    c->name, c->compression_level);

	o = iocb_xcalloc(1, sizeof(*o));
	o->out = out;
	o->cfg = c;
	o->held.prev = o->held.next = &o->held;
	o->create = c->data_stream || c->action == IOCB_CONFIG_ES_CREATE;
	o->ids = c->document_id == IOCB_CONFIG_DOC_ID_HASH;
	o->flush_bytes = c->flush_bytes ? c->flush_bytes : 5u << 20;
	o->flush_events = c->flush_events ? c->flush_events : 10000;
	o->flush_interval = c->flush_interval_s > 0 ? c->flush_interval_s : 1.0;
	o->max_in_flight = c->max_in_flight ? c->max_in_flight : 1;
	o->rl.interval_s = 10;
	o->rl_err.interval_s = 10;
	iocb_buf_init(&b, 64 << 10);
	rc = set_hosts(o, &b, err);
	if (rc < 0)
		goto fail;

	if (c->compression_level > 0) {
		o->gz = libdeflate_alloc_compressor((int)c->compression_level);
		if (!o->gz) {
			rc = iocb_err_set(err, IOCB_EIO, "%s: outputs[%s]: libdeflate_alloc_compressor failed", where, c->name);
			goto fail;
		}
	}

	rc = set_headers(o, &b, err);
	if (rc < 0)
		goto fail;

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
