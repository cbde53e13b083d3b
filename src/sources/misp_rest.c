/* SPDX-License-Identifier: Apache-2.0 */
/*
 * REST pull source: MISP's POST /attributes/restSearch into the store.
 *
 * One thread, one HTTP client (one kept-alive connection), one struct
 * iocb_ingest for the life of the source (its counters are cumulative, which
 * is what iocb_sources_sync_publish() copies into /metrics). A pull is a sequence
 * of pages ("order":"Attribute.id ASC", limit = misp.pull.page_size); each
 * page is applied and committed before the next is asked for, so the pull
 * holds at most one page in memory and backpressure is simply "the next
 * request waits".
 *
 * Three kinds of pull share that loop:
 *   - catch-up (start-up with a cursor, or requested by another source)
 *     and incremental (every misp.pull.interval): "timestamp": from and
 *     "deleted": [0,1], with the ingest keeping soft-deleted rows so they
 *     remove the attribute;
 *   - reconcile (start-up without a cursor, then every misp.pull.reconcile):
 *     every live attribute, then a mark-and-sweep: the ingest's observer
 *     records each upserted uuid in a set, and afterwards every MISP-source
 *     record neither seen nor upserted since the reconcile started is
 *     removed (hard deletes leave no trace a timestamp query could find).
 *     A reconcile that did not see every page never sweeps.
 *
 * Failures never end the thread. A request that fails (unreachable,
 * timeout, 403, 5xx, oversized) is retried - the same page, the pull still
 * running and its range still pinned by iocb_sources_sync_pull_begin() - after an
 * exponential backoff with jitter. A 200 page that cannot be parsed ends
 * that attempt; the pull starts again from page 1 after the backoff.
 * Retrying inside the running pull (rather than ending it with
 * iocb_sources_sync_pull_end(false) and taking the re-queued catch-up) keeps the
 * backoff meaningful: a pending catch-up makes iocb_sources_sync_sleep() return at
 * once, so a re-queued pull would be retried in a tight loop.
 * Only a stop ends a pull unfinished; its range is then re-queued.
 *
 * The last successful reconcile's wall time is persisted in the store's
 * metadata (PULL_META_RECONCILED, same transaction as the sweep), so a
 * daemon restarted more often than misp.pull.reconcile still reconciles.
 */
#include "sources/sources.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "httpc/httpc.h"
#include "json/json.h"

#define MOD "pull"
#define PULL_PATH "/attributes/restSearch"
#define PULL_META_RECONCILED "misp.pull.reconciled" /* epoch seconds of the last successful reconcile */
#define PULL_SETTLE_S 0.5       /* wait after a catch-up request before the first page */
#define PULL_BACKOFF_MIN_S 1.0  /* first retry delay */
#define PULL_JITTER 0.2         /* a retry delay is up to 20 % shorter than its schedule */
#define PULL_IDLE_MAX_S 3600.0  /* longest idle sleep when nothing is scheduled */
#define PULL_REQ_MAX (1u << 20) /* request body cap (parameters are short) */

enum pull_kind {
	PULL_CATCHUP = 0,     /* start-up from the cursor or requested by a source */
	PULL_INCREMENTAL,     /* periodic, from the cursor */
	PULL_RECONCILE,       /* everything, then sweep */
	PULL_EVENTS,          /* the attributes of some events again (a tag was attached) */
};

static const char *const kind_names[] = {"catchup", "incremental", "reconcile", "events"};

/* restSearch parameters the pull sets itself; misp.pull.params cannot override them. */
static const char *const own_params[] = {"returnFormat", "limit",   "page",           "order",
					 "timestamp",    "deleted", "includeContext", "includeEventTags"};

static bool own_param(const char *key)
{
	for (size_t k = 0; k < IOCB_ARRAY_LEN(own_params); k++)
		if (strcmp(key, own_params[k]) == 0)
			return true;
	return false;
}

/* Open-addressing set of 16-byte attribute uuids (the reconcile's marks). */
struct uuid_set {
	uint8_t (*slots)[16]; /* cap slots; all-zero = empty */
	size_t cap;           /* power of two, or 0 before the first insert */
	size_t n;             /* uuids stored in slots */
	bool has_zero;        /* the nil uuid was inserted (it cannot live in a slot) */
};

struct pull_source {
	struct iocb_source base;      /* first member: what the daemon holds */
	struct iocb_sources_sync *y;          /* borrowed: shared sync state */
	const struct iocb_config *cfg; /* borrowed: y->cfg */
	struct iocb_sources_sync_metrics *m;  /* owned by y: our counters ("pull") */
	struct iocb_ingest *in;       /* owned: applies pages (source IOCB_SRCID_MISP) */
	struct iocb_httpc_client *http; /* owned: one kept-alive connection to misp.api.host */
	uint64_t event_ids[64];       /* PULL_EVENTS: the events being fetched again */
	size_t nevent_ids;            /* how many */
	pthread_t thread;             /* the pull thread */
	bool thread_started;          /* pthread_create succeeded (join must wait) */
	unsigned limit;               /* page size */
	double retry_max_s;           /* longest backoff */

	/* pull thread only */
	unsigned attempt;             /* retries in the current failure streak; 0 = none */
	bool auth_streak;             /* in a run of 403s (logged once per run) */
	bool woken;                   /* this pull's backoff was cut short by a pending catch-up */
	double next_incremental;      /* monotonic time the next incremental pull is due */
	double next_reconcile;        /* monotonic time the next reconcile is due */
	struct iocb_buf req;          /* request body scratch */
	struct iocb_httpc_resp resp;   /* response scratch (body memory reused page to page, up to keep_body) */
	struct uuid_set seen;         /* reconcile marks */
	uint64_t sweep_start;         /* reconcile: epoch seconds it started (sweep predicate) */
};

/* ------------------------------------------------------------ uuid set */

/* Canonical uuid text (either case, dashes optional) to 16 bytes. */
static bool uuid_bin(struct iocb_str s, uint8_t out[16])
{
	unsigned n = 0;

	for (size_t i = 0; i < s.len; i++) {
		char c = s.ptr[i];
		unsigned v;
		if (c == '-')
			continue;
		if (c >= '0' && c <= '9')
			v = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = (unsigned)(c - 'A' + 10);
		else
			return false;
		if (n == 32)
			return false;
		if (n % 2 == 0)
			out[n / 2] = (uint8_t)(v << 4);
		else
			out[n / 2] |= (uint8_t)v;
		n++;
	}
	return n == 32;
}

static bool uuid_zero(const uint8_t u[16])
{
	static const uint8_t z[16];

	return memcmp(u, z, 16) == 0;
}

static size_t uuid_hash(const uint8_t u[16])
{
	uint64_t a, b;

	memcpy(&a, u, 8);
	memcpy(&b, u + 8, 8);
	a ^= b * 0x9E3779B97F4A7C15ull;
	a ^= a >> 31;
	a *= 0xBF58476D1CE4E5B9ull;
	a ^= a >> 29;
	return (size_t)a;
}

/* Slot of u, or of the empty slot where it would go. cap > 0. */
static size_t set_slot(const struct uuid_set *s, const uint8_t u[16])
{
	size_t mask = s->cap - 1, i = uuid_hash(u) & mask;

	while (!uuid_zero(s->slots[i]) && memcmp(s->slots[i], u, 16) != 0)
		i = (i + 1) & mask;
	return i;
}

static void set_add(struct uuid_set *s, const uint8_t u[16])
{
	if (uuid_zero(u)) {
		s->has_zero = true;
		return;
	}
	/* Keep the load at most 1/2: probes stay short. */
	if (2 * (s->n + 1) > s->cap) {
		struct uuid_set g = {NULL, s->cap ? 2 * s->cap : 1024, 0, s->has_zero};
		g.slots = iocb_xcalloc(g.cap, 16);
		for (size_t i = 0; i < s->cap; i++) {
			if (!uuid_zero(s->slots[i])) {
				memcpy(g.slots[set_slot(&g, s->slots[i])], s->slots[i], 16);
				g.n++;
			}
		}
		free(s->slots);
		*s = g;
	}
	size_t i = set_slot(s, u);
	if (uuid_zero(s->slots[i])) {
		memcpy(s->slots[i], u, 16);
		s->n++;
	}
}

static bool set_has(const struct uuid_set *s, const uint8_t u[16])
{
	if (uuid_zero(u))
		return s->has_zero;
	return s->cap > 0 && !uuid_zero(s->slots[set_slot(s, u)]);
}

static void set_clear(struct uuid_set *s)
{
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* Ingest observer (pull thread): mark an upserted attribute as seen. */
static void observe_upsert(void *ud, const struct iocb_misp_attr *a)
{
	struct pull_source *p = ud;
	uint8_t u[16];

	if (uuid_bin(a->uuid, u))
		set_add(&p->seen, u);
}

/* Sweep predicate (under the store's writer lock): MISP records not seen and not touched since the start. */
static bool sweep_pred(void *ud, const struct iocb_store_attr *a)
{
	struct pull_source *p = ud;
	struct iocb_store_attr_view v;
	uint8_t u[16];

	iocb_store_attr_view(a, &v);
	if (v.source != IOCB_SRCID_MISP || v.updated >= p->sweep_start)
		return false;
	/* A uuid we cannot read cannot have been marked either: keep it rather than guess. */
	if (!uuid_bin(iocb_str_c(v.uuid), u))
		return false;
	return !set_has(&p->seen, u);
}

/* ------------------------------------------------------------ backoff */

/*
 * Wait before a retry: iocb_backoff_delay() from 1 s doubling up to
 * retry_max, each wait at most 20 % shorter (core/backoff.h). A catch-up
 * request cuts the wait short once per pull (the request stays pending
 * until this pull ends, and a pending request makes every later wait
 * return at once). Returns false when stopping.
 */
static bool backoff_wait(struct pull_source *p)
{
	double d, t0;

	d = iocb_backoff_delay(PULL_BACKOFF_MIN_S, p->retry_max_s, p->attempt, PULL_JITTER);
	if (p->attempt < 30)
		p->attempt++;
	iocb_log(IOCB_LOG_DEBUG, MOD, "\"retrying\" in_s=%.2f", d);
	t0 = iocb_time_mono_s();
	if (!iocb_sources_sync_sleep(p->y, d, !p->woken))
		return false;
	if (iocb_time_mono_s() - t0 < d - 0.001)
		p->woken = true;
	return true;
}

/* A request failed at the transport or HTTP level. */
static void request_failed(struct pull_source *p, long status, const struct iocb_err *err)
{
	IOCB_M_ADD(p->m->errors, 1);
	IOCB_M_SET(p->m->up, 0);
	if (status == 403) {
		if (!p->auth_streak)
			iocb_log(IOCB_LOG_ERROR, MOD,
				 "\"authentication failed (check misp.api.key)\" status=403 path=\"" PULL_PATH "\"");
		else
			iocb_log(IOCB_LOG_DEBUG, MOD, "\"authentication failed again\" status=403");
		p->auth_streak = true;
		return;
	}
	p->auth_streak = false;
	if (status > 0)
		iocb_log(IOCB_LOG_WARN, MOD, "\"request failed\" status=%ld path=\"" PULL_PATH "\"", status);
	else
		iocb_log(IOCB_LOG_WARN, MOD, "\"request failed\" error=\"%s\"", err->msg);
}

/* ------------------------------------------------------------ one page */

/* The restSearch body for one page. */
static int build_request(struct pull_source *p, enum pull_kind kind, uint64_t from, unsigned page)
{
	struct iocb_jw w;

	iocb_buf_reset(&p->req);
	iocb_jw_init(&w, &p->req);
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "returnFormat");
	iocb_jw_cstr(&w, "json");
	iocb_jw_key(&w, "limit");
	iocb_jw_u64(&w, p->limit);
	iocb_jw_key(&w, "page");
	iocb_jw_u64(&w, page);
	iocb_jw_key(&w, "order");
	iocb_jw_cstr(&w, "Attribute.id ASC");
	iocb_jw_key(&w, "includeContext");
	iocb_jw_u64(&w, 1);
	iocb_jw_key(&w, "includeEventTags");
	iocb_jw_u64(&w, 1);
	if (from > 0) {
		iocb_jw_key(&w, "timestamp");
		iocb_jw_u64(&w, from);
	}
	if (kind == PULL_EVENTS) {
		iocb_jw_key(&w, "eventid");
		iocb_jw_arr(&w);
		for (size_t i = 0; i < p->nevent_ids; i++)
			iocb_jw_u64(&w, p->event_ids[i]);
		iocb_jw_arr_end(&w);
	}
	if (kind != PULL_RECONCILE && kind != PULL_EVENTS) {
		iocb_jw_key(&w, "deleted");
		iocb_jw_arr(&w);
		iocb_jw_u64(&w, 0);
		iocb_jw_u64(&w, 1);
		iocb_jw_arr_end(&w);
	}
	for (size_t i = 0; i < p->cfg->pull.nparams; i++) {
		const struct iocb_kv *kv = &p->cfg->pull.params[i];
		if (own_param(kv->key))
			continue; /* warned at start: paging and the window are ours */
		iocb_jw_key(&w, kv->key);
		iocb_jw_cstr(&w, kv->value ? kv->value : "");
	}
	iocb_jw_obj_end(&w);
	return iocb_jw_rc(&w);
}

/*
 * Rows of a restSearch page, counted exactly: the items of the Attribute
 * array of {"response": {"Attribute": [...]}} (also {"response": [...]}, an
 * empty result on some versions, and PyMISP's {"Attribute": [...]}). The
 * ingest's counters are no row count (skips are counted per reason and
 * some reasons are per document), so the page is scanned once more with
 * the pull parser, which only skips. A body without that array is not a
 * restSearch answer: IOCB_EPARSE (a reconcile must never sweep on it).
 */
static int count_array(struct iocb_json_parser *jp, uint64_t *rows, struct iocb_err *err)
{
	struct iocb_json_tok t;
	int rc;

	for (;;) {
		rc = iocb_json_next(jp, &t, err);
		if (rc < 0)
			return rc;
		if (t.type == IOCB_JSON_ARR_END)
			return IOCB_OK;
		rc = iocb_json_skip(jp, &t, err);
		if (rc < 0)
			return rc;
		(*rows)++;
	}
}

static int count_rows(const char *buf, size_t len, uint64_t *rows, struct iocb_err *err)
{
	struct iocb_json_parser jp;
	struct iocb_json_tok t, v;
	bool found = false;
	int rc;

	*rows = 0;
	iocb_json_init(&jp, buf, len, 0, false);
	rc = iocb_json_next(&jp, &t, err);
	if (rc < 0)
		return rc;
	if (t.type != IOCB_JSON_OBJ)
		return iocb_err_set(err, IOCB_EPARSE, "restSearch answer is not a JSON object");
	while ((rc = iocb_json_next_member(&jp, &t, &v, err)) > 0) {
		if (!found && iocb_json_tok_eq(&t, "Attribute") && v.type == IOCB_JSON_ARR) {
			rc = count_array(&jp, rows, err);
			found = true;
		} else if (!found && iocb_json_tok_eq(&t, "response") && v.type == IOCB_JSON_ARR) {
			rc = count_array(&jp, rows, err);
			found = true;
		} else if (!found && iocb_json_tok_eq(&t, "response") && v.type == IOCB_JSON_OBJ) {
			struct iocb_json_tok k, kv;
			while ((rc = iocb_json_next_member(&jp, &k, &kv, err)) > 0) {
				if (!found && iocb_json_tok_eq(&k, "Attribute") && kv.type == IOCB_JSON_ARR) {
					rc = count_array(&jp, rows, err);
					found = true;
				} else {
					rc = iocb_json_skip(&jp, &kv, err);
				}
				if (rc < 0)
					break;
			}
		} else {
			rc = iocb_json_skip(&jp, &v, err);
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	if (!found)
		return iocb_err_set(err, IOCB_EPARSE, "restSearch answer without a response.Attribute array");
	return IOCB_OK;
}

/* Commit a page, retrying with backoff until it sticks. false when stopping. */
static bool commit_page(struct pull_source *p)
{
	for (;;) {
		struct iocb_err err = {0};
		if (iocb_sources_sync_commit(p->y, &err) == IOCB_OK)
			return true;
		IOCB_M_ADD(p->m->errors, 1);
		if (!backoff_wait(p))
			return false;
	}
}

/* What one page did, for the end-of-pull log line. */
struct pull_totals {
	unsigned pages;   /* pages applied */
	uint64_t rows;    /* rows in them */
};

enum page_result {
	PAGE_MORE = 0,    /* applied; ask for the next page */
	PAGE_LAST,        /* applied; the pull is complete */
	PAGE_RESTART,     /* the body was broken: start the pull again after a backoff */
	PAGE_STOP,        /* stopping */
};

/* Fetch (retrying transport and HTTP failures), apply and commit one page. */
static enum page_result pull_page(struct pull_source *p, enum pull_kind kind, uint64_t from, unsigned page,
				  struct pull_totals *tot)
{
	struct iocb_err err = {0};
	uint64_t rows = 0;
	int rc;

	rc = build_request(p, kind, from, page);
	if (rc < 0) {
		/* Only oversized configured params can do this; retrying will not help, but stopping would lose data. */
		iocb_log(IOCB_LOG_ERROR, MOD, "\"request body too large (misp.pull.params)\" rc=%s", iocb_rc_str(rc));
		return backoff_wait(p) ? PAGE_RESTART : PAGE_STOP;
	}
	for (;;) {
		if (iocb_sources_sync_stopping(p->y))
			return PAGE_STOP;
		memset(&err, 0, sizeof(err));
		rc = iocb_httpc_request(p->http, "POST", PULL_PATH, p->req.ptr, p->req.len, NULL, &p->resp, &err);
		if (rc == IOCB_OK && p->resp.status == 200)
			break;
		request_failed(p, rc == IOCB_OK ? p->resp.status : 0, &err);
		if (!backoff_wait(p))
			return PAGE_STOP;
	}
	if (p->auth_streak)
		iocb_log(IOCB_LOG_INFO, MOD, "\"authentication works again\"");
	p->auth_streak = false;
	IOCB_M_ADD(p->m->messages, 1);
	IOCB_M_ADD(p->m->bytes, p->resp.body.len);
	IOCB_M_SET(p->m->last_message_us, iocb_time_real_us());

	memset(&err, 0, sizeof(err));
	/* MISP's own clock bounds the cursor (0 without a Date header: the local clock does). */
	iocb_ingest_set_source_clock(p->in, p->resp.date);
	rc = iocb_ingest_doc(p->in, p->resp.body.ptr, p->resp.body.len, "restSearch", &err);
	if (rc == IOCB_OK)
		rc = count_rows(p->resp.body.ptr, p->resp.body.len, &rows, &err);
	iocb_httpc_resp_done(&p->resp); /* an outsized page must not stay allocated until the next pull */
	/* Whatever was applied before a break is kept and committed. */
	iocb_sources_sync_publish(p->y, p->m, iocb_ingest_stats(p->in), true);
	if (!commit_page(p))
		return PAGE_STOP;
	if (rc < 0) {
		IOCB_M_ADD(p->m->errors, 1);
		IOCB_M_SET(p->m->up, 0);
		iocb_log(IOCB_LOG_WARN, MOD, "\"broken restSearch page; the pull starts again\" kind=%s page=%u error=\"%s\"",
			 kind_names[kind], page, err.msg);
		return backoff_wait(p) ? PAGE_RESTART : PAGE_STOP;
	}
	IOCB_M_SET(p->m->up, 1);
	p->attempt = 0;
	tot->pages++;
	tot->rows += rows;
	/*
	 * The end: a page short of `limit` rows. X-Result-Count (MISP reports
	 * limit+1 for a full page, the exact count for a short one, counted
	 * before warninglist/decay skips) also keeps going when skips made a
	 * full page look short. A full last page costs one more, empty request.
	 * A page longer than `limit` means the server ignored paging and sent
	 * everything at once.
	 */
	if (rows > p->limit)
		return PAGE_LAST;
	if (rows == p->limit || (p->resp.has_result_count && p->resp.result_count >= p->limit))
		return PAGE_MORE;
	return PAGE_LAST;
}

/* ------------------------------------------------------------ one pull */

/* Epoch seconds now. */
static uint64_t wall_s(void)
{
	return (uint64_t)time(NULL);
}

/*
 * Run one pull to its end. The caller has pinned the range
 * (iocb_sources_sync_pull_begin / iocb_sources_sync_take_catchup) and ends it with the
 * result. Returns false only when stopping.
 */
static bool pull_run(struct pull_source *p, enum pull_kind kind, uint64_t from, bool settle)
{
	const struct iocb_ingest_stats *st = iocb_ingest_stats(p->in);
	struct pull_totals tot;
	uint64_t up0, rm0;
	double t0 = iocb_time_mono_s();
	enum page_result r;
	size_t swept = 0;

	p->woken = false;
	/* A reconnected ZeroMQ subscription needs a moment before the REST answer is taken. */
	if (settle && !iocb_sources_sync_sleep(p->y, PULL_SETTLE_S, true))
		return false;
restart:
	memset(&tot, 0, sizeof(tot));
	up0 = st->upserts;
	rm0 = st->removes;
	iocb_ingest_set_keep_deleted(p->in, kind != PULL_RECONCILE && kind != PULL_EVENTS);
	/* A window from the cursor gets the newest attribute again every time: an idle MISP must cost no write. */
	iocb_ingest_set_skip_unchanged(p->in, kind == PULL_CATCHUP || kind == PULL_INCREMENTAL);
	if (kind == PULL_RECONCILE) {
		set_clear(&p->seen);
		p->sweep_start = wall_s();
		iocb_ingest_set_observer(p->in, observe_upsert, p);
	}
	iocb_log(IOCB_LOG_DEBUG, MOD, "\"pull started\" kind=%s from=%" PRIu64, kind_names[kind], from);
	unsigned page = 1;
	do {
		r = pull_page(p, kind, from, page++, &tot);
	} while (r == PAGE_MORE);
	iocb_ingest_set_observer(p->in, NULL, NULL);
	if (r == PAGE_RESTART)
		goto restart;
	if (r == PAGE_STOP) {
		set_clear(&p->seen);
		return false;
	}

	if (kind == PULL_RECONCILE) {
		struct iocb_err err = {0};
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%" PRIu64, p->sweep_start);
		bool sweep_ok = iocb_store_remove_if(p->y->store, sweep_pred, p, &swept, &err) == IOCB_OK;
		p->m->own_removes += swept;
		iocb_sources_sync_publish(p->y, p->m, iocb_ingest_stats(p->in), false); /* acts[remove] includes them */
		if (!sweep_ok) {
			IOCB_M_ADD(p->m->errors, 1);
			iocb_log(IOCB_LOG_ERROR, MOD, "\"reconcile sweep failed\" error=\"%s\"", err.msg);
		} else if (iocb_store_meta_set(p->y->store, PULL_META_RECONCILED, iocb_str_make(buf, (size_t)n), &err) < 0) {
			iocb_log(IOCB_LOG_WARN, MOD, "\"cannot record the reconcile time\" error=\"%s\"", err.msg);
		}
		set_clear(&p->seen);
		if (!commit_page(p))
			return false;
		if (swept)
			iocb_log(IOCB_LOG_INFO, MOD, "\"reconcile removed attributes MISP no longer has\" removed=%zu", swept);
		/* A failed sweep is not counted (nor recorded as done); the next reconcile sweeps. */
		if (sweep_ok)
			IOCB_M_ADD(p->m->reconciles, 1);
	} else if (kind == PULL_CATCHUP) {
		IOCB_M_ADD(p->m->catchups, 1);
	}
	iocb_log(IOCB_LOG_INFO, MOD,
		 "\"pull done\" kind=%s from=%" PRIu64 " pages=%u rows=%" PRIu64 " upserts=%" PRIu64 " removes=%" PRIu64
		 " swept=%zu seconds=%.3f",
		 kind_names[kind], from, tot.pages, tot.rows, st->upserts - up0, st->removes - rm0, swept,
		 iocb_time_mono_s() - t0);
	return true;
}

/* ------------------------------------------------------------ schedule */

/*
 * Start of a reconcile's window (misp.pull.backfill, 0 = all): the first pull
 * and every reconcile fetch attributes changed this recently, so the sweep
 * also retires what has aged out of the window, as elastiMISPstash's TTL did.
 */
static uint64_t backfill_from(const struct pull_source *p)
{
	double b = p->cfg->pull.backfill_s;
	uint64_t now = wall_s();

	if (b <= 0 || b >= (double)now)
		return 0;
	return now - (uint64_t)b;
}

/* When the next reconcile is due, from the persisted time of the last one. */
static void schedule_reconcile(struct pull_source *p, bool just_done)
{
	double r = p->cfg->pull.reconcile_s;
	char buf[32];
	size_t n = 0;
	uint64_t last = 0, now = wall_s();

	if (r <= 0) {
		p->next_reconcile = 0;
		return;
	}
	if (!just_done && iocb_store_meta_get(p->y->store, PULL_META_RECONCILED, buf, sizeof(buf), &n) == IOCB_OK &&
	    iocb_str_to_u64(iocb_str_make(buf, n), &last) && last <= now) {
		double left = r - (double)(now - last);
		p->next_reconcile = iocb_time_mono_s() + (left > 0 ? left : 0);
		return;
	}
	p->next_reconcile = iocb_time_mono_s() + r;
}

/*
 * End the running pull. After a complete one, commit once more: the pages'
 * commits persisted the cursor pinned at the pull's start, and with no other
 * source committing it would stay there until the next pull.
 */
static void pull_finish(struct pull_source *p, bool ok)
{
	struct iocb_err err = {0};

	iocb_sources_sync_pull_end(p->y, ok);
	if (ok && iocb_sources_sync_commit(p->y, &err) < 0)
		IOCB_M_ADD(p->m->errors, 1);
}

/*
 * A pull of our own, its range pinned at `pin` with iocb_sources_sync_pull_begin()
 * (a stop re-queues a catch-up from there). `from` is the request's window.
 * False when stopping.
 */
static bool pull_pinned(struct pull_source *p, enum pull_kind kind, uint64_t from, uint64_t pin)
{
	iocb_sources_sync_pull_begin(p->y, pin);
	bool ok = pull_run(p, kind, from, false);
	pull_finish(p, ok);
	return ok;
}

/* misp.api.host for logs: its password, if any, as "***" (iocb_str_redact_url()). */
static void log_started(const struct pull_source *p, bool incremental)
{
	char host[512];

	(void)iocb_str_redact_url(p->cfg->api.host, host, sizeof(host));
	iocb_log(IOCB_LOG_INFO, MOD, "\"started\" host=\"%s\" page_size=%u interval_s=%g reconcile_s=%g", host,
		 p->limit, incremental ? p->cfg->pull.interval_s : 0.0, p->cfg->pull.reconcile_s);
}

static void *pull_main(void *arg)
{
	struct pull_source *p = arg;
	const struct iocb_config *cfg = p->cfg;
	bool incremental = cfg->pull.present && cfg->pull.interval_s > 0;
	uint64_t from;

	iocb_store_reader_register();
	log_started(p, incremental);

	/* Start-up: no cursor -> everything (within backfill) as a reconcile; else catch up. */
	from = iocb_sources_sync_cursor(p->y);
	if (from == 0) {
		uint64_t b = backfill_from(p);
		if (!pull_pinned(p, PULL_RECONCILE, b, b))
			goto out;
		schedule_reconcile(p, true);
	} else {
		if (!pull_pinned(p, PULL_CATCHUP, from, from))
			goto out;
		schedule_reconcile(p, false);
	}
	p->next_incremental = iocb_time_mono_s() + cfg->pull.interval_s;

	while (!iocb_sources_sync_stopping(p->y)) {
		double now = iocb_time_mono_s(), wait = PULL_IDLE_MAX_S;

		p->nevent_ids = iocb_sources_sync_take_event_refresh(p->y, p->event_ids, IOCB_ARRAY_LEN(p->event_ids));
		if (p->nevent_ids) {
			/* A failure is not retried: the next reconcile covers these events. */
			if (!pull_pinned(p, PULL_EVENTS, 0, iocb_sources_sync_cursor(p->y)) && iocb_sources_sync_stopping(p->y))
				break;
			continue;
		}
		if (iocb_sources_sync_take_catchup(p->y, &from)) {
			bool ok = pull_run(p, PULL_CATCHUP, from, true);
			pull_finish(p, ok);
			if (!ok)
				break;
			continue;
		}
		if (incremental && now >= p->next_incremental) {
			from = iocb_sources_sync_cursor(p->y);
			if (!pull_pinned(p, PULL_INCREMENTAL, from, from))
				break;
			p->next_incremental = iocb_time_mono_s() + cfg->pull.interval_s;
			continue;
		}
		if (cfg->pull.reconcile_s > 0 && now >= p->next_reconcile) {
			/*
			 * Everything is fetched, but what the cursor already covers is
			 * applied: only rows past it could be lost by a crash half-way.
			 */
			if (!pull_pinned(p, PULL_RECONCILE, backfill_from(p), iocb_sources_sync_cursor(p->y)))
				break;
			schedule_reconcile(p, true);
			continue;
		}
		if (incremental && p->next_incremental - now < wait)
			wait = p->next_incremental - now;
		if (cfg->pull.reconcile_s > 0 && p->next_reconcile - now < wait)
			wait = p->next_reconcile - now;
		if (!iocb_sources_sync_sleep(p->y, wait, true))
			break;
	}
out:
	IOCB_M_SET(p->m->up, 0);
	iocb_log(IOCB_LOG_INFO, MOD, "\"stopped\"");
	iocb_store_reader_unregister();
	return NULL;
}

/* ------------------------------------------------------------ start / join */

/* httpc abort callback: a stop (or reload) cuts an in-flight request short. */
static bool stop_requested(void *ud)
{
	return iocb_sources_sync_stopping(ud);
}


static void pull_free(struct pull_source *p)
{
	if (!p)
		return;
	iocb_httpc_client_free(p->http);
	iocb_ingest_free(p->in);
	iocb_httpc_resp_fini(&p->resp);
	iocb_buf_fini(&p->req);
	set_clear(&p->seen);
	free(p);
}

static void pull_join(struct iocb_source *src)
{
	struct pull_source *p = (struct pull_source *)src;

	if (p->thread_started)
		pthread_join(p->thread, NULL);
	pull_free(p);
}

int iocb_sources_pull_start(struct iocb_sources_sync *y, struct iocb_source **out, struct iocb_err *err)
{
	const struct iocb_config *cfg = y->cfg;
	struct pull_source *p = NULL;
	struct iocb_httpc_opts o;
	int rc = IOCB_OK;

	*out = NULL;
	if (!cfg || !cfg->api.present)
		return iocb_err_set(err, IOCB_ECONFIG, "pull: misp.api is not configured");
	if (!cfg->api.host || !cfg->api.host[0])
		return iocb_err_set(err, IOCB_ECONFIG, "pull: misp.api.host is not set");
	p = iocb_xcalloc(1, sizeof(*p));
	p->base.kind = "pull";
	p->base.join = pull_join;
	p->y = y;
	p->cfg = cfg;
	p->limit = cfg->pull.page_size ? cfg->pull.page_size : 5000;
	p->retry_max_s = cfg->pull.retry_max_s > 0 ? cfg->pull.retry_max_s : 60;
	iocb_buf_init(&p->req, PULL_REQ_MAX);
	iocb_httpc_resp_init(&p->resp);

	iocb_httpc_opts_default(&o);
	o.base_url = cfg->api.host;
	o.api_key = iocb_secret_str(&cfg->api.key);
	o.verify = cfg->api.ssl_verify;
	o.ca_file = cfg->api.ca_file;
	o.abort_cb = stop_requested;
	o.abort_ud = p->y;
	if (cfg->api.timeout_s > 0)
		o.timeout_s = cfg->api.timeout_s;
	if (o.connect_timeout_s > o.timeout_s)
		o.connect_timeout_s = o.timeout_s;
	rc = iocb_httpc_client_new(&o, &p->http, err);
	if (rc < 0) {
		iocb_err_prefix(err, "pull");
		goto out;
	}
	if (!o.api_key)
		iocb_log(IOCB_LOG_WARN, MOD, "\"misp.api has no key; MISP will answer 403\"");
	for (size_t i = 0; i < cfg->pull.nparams; i++)
		if (own_param(cfg->pull.params[i].key))
			iocb_log(IOCB_LOG_WARN, MOD, "\"misp.pull.params key ignored: the pull sets it\" key=\"%s\"",
				 cfg->pull.params[i].key);
	p->in = iocb_ingest_new(y->store, y->filter, IOCB_SRCID_MISP);
	p->m = iocb_sources_sync_metrics_add(y, "pull");
	if (!p->m) {
		rc = iocb_err_set(err, IOCB_ELIMIT, "pull: too many sources for the metrics table");
		goto out;
	}
	if (pthread_create(&p->thread, NULL, pull_main, p) != 0) {
		rc = iocb_err_set(err, IOCB_EIO, "pull: cannot start the thread");
		goto out;
	}
	p->thread_started = true;
	*out = &p->base;
	p = NULL;
out:
	pull_free(p);
	return rc;
}
