// SPDX-License-Identifier: Apache-2.0
/*
 * The queue and the sender thread. The queue is one LMDB named db "queue"
 * keyed by a big-endian u64 sequence (so a cursor walks it in add order);
 * on open the next sequence follows the last key found, so a restart
 * resumes what is on disk. add() commits before returning; the sender
 * deletes a batch only after MISP's verdict (sent or rejected).
 * Locks: `mu` guards the counters, the dedup cache, `seq` and `stop`;
 * LMDB transactions are never held across a request. The from_matches
 * handoff has its own leaf lock `pmu` and a flusher thread that commits
 * what the pipeline's inputs hand over (started on first use).
 */
#include "sightings/sightings.h"

#include <errno.h>
#include <stddef.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/backoff.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/time.h"
#include "httpc/httpc.h"
#include "sightings/internal.h"

#define MOD "sightings"

struct iocb_sightings {
	struct iocb_sightings_opts o;
	char *base_url, *api_key, *ca_file;
	MDB_env *env;
	MDB_dbi dbi;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thr;
	bool started;
	bool stop;
	uint64_t seq;
	struct iocb_sightings_stats st;
	struct iocb_sightings__dedup *dedup;
	/* from_matches handoff (iocb_sightings__offer): `pmu` guards these; leaf lock, never held with `mu`. */
	pthread_mutex_t pmu;
	pthread_cond_t pcv;
	pthread_t fthr;                  /* the flusher, started on the first offer */
	bool fstarted, fstop;
	struct iocb_sightings__rec *pend; /* IOCB_SIGHTINGS__HANDOFF_MAX, allocated on the first offer */
	size_t npend;
};

void iocb_sightings_opts_default(struct iocb_sightings_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->verify = true;
	o->map_size = (size_t)256 << 20;
	o->batch_max = 500;
	o->max_per_second = 1000;
	o->backoff_initial_s = 0.5;
	o->backoff_max_s = 30;
	o->timeout_s = 30;
	o->connect_timeout_s = 10;
}

static void key_of(uint64_t seq, unsigned char k[8])
{
	for (int i = 7; i >= 0; i--) {
		k[i] = (unsigned char)seq;
		seq >>= 8;
	}
}

static uint64_t seq_of(const MDB_val *k)
{
	uint64_t s = 0;
	const unsigned char *p = k->mv_data;
	for (size_t i = 0; i < 8 && i < k->mv_size; i++)
		s = s << 8 | p[i];
	return s;
}

static bool stopping(void *ud)
{
	struct iocb_sightings *q = ud;
	pthread_mutex_lock(&q->mu);
	bool s = q->stop;
	pthread_mutex_unlock(&q->mu);
	return s;
}

/* Wait up to s seconds or until stop. Returns true when stopping. */
static bool nap(struct iocb_sightings *q, double s)
{
	struct timespec dl = iocb_time_deadline(CLOCK_MONOTONIC, s);
	pthread_mutex_lock(&q->mu);
	if (!q->stop)
		pthread_cond_timedwait(&q->cv, &q->mu, &dl);
	bool st = q->stop;
	pthread_mutex_unlock(&q->mu);
	return st;
}

/* Read the first run of same-batch records (at most max). OUT: keys (seqs) and recs. */
static size_t read_batch(struct iocb_sightings *q, struct iocb_sightings__rec *recs, uint64_t *seqs, size_t max)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	size_t n = 0;
	if (mdb_txn_begin(q->env, NULL, MDB_RDONLY, &txn) != 0)
		return 0;
	if (mdb_cursor_open(txn, q->dbi, &cur) != 0)
		goto out;
	MDB_val k, v;
	for (int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST); r == 0 && n < max;
	     r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		struct iocb_sightings__rec rec;
		memset(&rec, 0, sizeof(rec));
		memcpy(&rec, v.mv_data, v.mv_size < sizeof(rec) ? v.mv_size : sizeof(rec));
		if (n && !iocb_sightings__same_batch(&recs[0], &rec))
			break;
		recs[n] = rec;
		seqs[n++] = seq_of(&k);
	}
out:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

static int delete_batch(struct iocb_sightings *q, const uint64_t *seqs, size_t n)
{
	MDB_txn *txn;
	int r = mdb_txn_begin(q->env, NULL, 0, &txn);
	if (r != 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		unsigned char kb[8];
		key_of(seqs[i], kb);
		MDB_val k = {8, kb};
		r = mdb_del(txn, q->dbi, &k, NULL);
		if (r == MDB_NOTFOUND)
			r = 0;
	}
	if (r != 0) {
		mdb_txn_abort(txn);
		return r;
	}
	return mdb_txn_commit(txn);
}

static void *sender(void *arg)
{
	struct iocb_sightings *q = arg;
	struct iocb_sightings__rec *recs = iocb_xcalloc(q->o.batch_max, sizeof(*recs));
	uint64_t *seqs = iocb_xcalloc(q->o.batch_max, sizeof(*seqs));
	struct iocb_httpc_client *c = NULL;
	struct iocb_httpc_opts ho;
	struct iocb_httpc_resp resp;
	struct iocb_buf body;
	struct iocb_sightings__rl rl;
	unsigned attempt = 0;
	iocb_httpc_resp_init(&resp);
	iocb_buf_init(&body, 0);
	iocb_sightings__rl_init(&rl, q->o.max_per_second, iocb_time_mono_s());
	iocb_httpc_opts_default(&ho);
	ho.base_url = q->base_url;
	ho.api_key = q->api_key;
	ho.verify = q->o.verify;
	ho.ca_file = q->ca_file;
	ho.timeout_s = q->o.timeout_s;
	ho.connect_timeout_s = q->o.connect_timeout_s;
	ho.max_body = (size_t)1 << 20;
	ho.abort_cb = stopping;
	ho.abort_ud = q;
	struct iocb_err err;
	if (iocb_httpc_client_new(&ho, &c, &err) != IOCB_OK) {
		iocb_log(IOCB_LOG_ERROR, MOD, "\"http client\" err=\"%s\"", err.msg);
		goto out;
	}
	/* A batch never exceeds one second's worth, or the limiter's burst cap would let it through whole. */
	size_t bmax = q->o.batch_max;
	if (q->o.max_per_second > 0 && (double)bmax > q->o.max_per_second)
		bmax = q->o.max_per_second >= 1 ? (size_t)q->o.max_per_second : 1;
	while (!stopping(q)) {
		size_t n = read_batch(q, recs, seqs, bmax);
		if (n == 0) {
			pthread_mutex_lock(&q->mu);
			if (!q->stop && q->st.queued == 0) {
				struct timespec dl = iocb_time_deadline(CLOCK_MONOTONIC, 1.0);
				pthread_cond_timedwait(&q->cv, &q->mu, &dl);
			}
			pthread_mutex_unlock(&q->mu);
			continue;
		}
		double wait = iocb_sightings__rl_take(&rl, (double)n, iocb_time_mono_s());
		if (wait > 0) {
			if (nap(q, wait))
				break;
			continue;
		}
		iocb_buf_reset(&body);
		if (iocb_sightings__body(recs, n, &body) != IOCB_OK)
			break;
		int rc = iocb_httpc_request(c, "POST", "/sightings/add", body.ptr, body.len, NULL, &resp, &err);
		enum iocb_sightings__verdict v = rc == IOCB_OK ? iocb_sightings__judge(resp.status, resp.body.ptr, resp.body.len)
							      : IOCB_SIGHTINGS__RETRY;
		long status = resp.status;
		iocb_httpc_resp_done(&resp);
		pthread_mutex_lock(&q->mu);
		q->st.requests++;
		if (v == IOCB_SIGHTINGS__RETRY)
			q->st.failed++;
		pthread_mutex_unlock(&q->mu);
		if (v == IOCB_SIGHTINGS__RETRY) {
			if (rc == IOCB_OK)
				iocb_log(IOCB_LOG_WARN, MOD, "\"MISP refused a batch, will retry\" status=%ld n=%zu", status, n);
			else
				iocb_log(IOCB_LOG_WARN, MOD, "\"request failed, will retry\" err=\"%s\"", err.msg);
			if (nap(q, iocb_backoff_delay(q->o.backoff_initial_s, q->o.backoff_max_s, attempt++, 0.2)))
				break;
			continue;
		}
		attempt = 0;
		int r = delete_batch(q, seqs, n);
		if (r != 0) {
			iocb_log(IOCB_LOG_ERROR, MOD, "\"queue delete failed\" err=\"%s\"", mdb_strerror(r));
			if (nap(q, 1.0))
				break;
			continue;
		}
		pthread_mutex_lock(&q->mu);
		if (v == IOCB_SIGHTINGS__SENT)
			q->st.sent += n;
		else
			q->st.rejected += n;
		q->st.queued = q->st.queued >= n ? q->st.queued - n : 0;
		pthread_mutex_unlock(&q->mu);
		if (v == IOCB_SIGHTINGS__REJECTED)
			iocb_log(IOCB_LOG_WARN, MOD, "\"MISP rejected sightings (no matching attribute?)\" n=%zu", n);
	}
out:
	iocb_buf_fini(&body);
	iocb_httpc_resp_fini(&resp);
	iocb_httpc_client_free(c);
	free(recs);
	free(seqs);
	return NULL;
}

static int open_queue(struct iocb_sightings *q, struct iocb_err *err)
{
	if (mkdir(q->o.state_dir, 0700) != 0 && errno != EEXIST)
		return iocb_err_set(err, IOCB_EIO, "sightings: mkdir %s: %s", q->o.state_dir, strerror(errno));
	int r = mdb_env_create(&q->env);
	if (r == 0)
		r = mdb_env_set_maxdbs(q->env, 2);
	if (r == 0)
		r = mdb_env_set_mapsize(q->env, q->o.map_size);
	if (r == 0)
		r = mdb_env_open(q->env, q->o.state_dir, MDB_NOTLS, 0600);
	MDB_txn *txn = NULL;
	if (r == 0)
		r = mdb_txn_begin(q->env, NULL, 0, &txn);
	if (r == 0)
		r = mdb_dbi_open(txn, "queue", MDB_CREATE, &q->dbi);
	if (r == 0) {
		MDB_stat ms;
		MDB_cursor *cur;
		MDB_val k, v;
		r = mdb_stat(txn, q->dbi, &ms);
		if (r == 0)
			q->st.queued = ms.ms_entries;
		if (r == 0)
			r = mdb_cursor_open(txn, q->dbi, &cur);
		if (r == 0) {
			if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0)
				q->seq = seq_of(&k) + 1;
			mdb_cursor_close(cur);
		}
	}
	if (r == 0) {
		r = mdb_txn_commit(txn);
		txn = NULL;
	}
	if (txn)
		mdb_txn_abort(txn);
	if (r != 0)
		return iocb_err_set(err, IOCB_EIO, "sightings: queue %s: %s", q->o.state_dir, mdb_strerror(r));
	return IOCB_OK;
}

int iocb_sightings_new(const struct iocb_sightings_opts *opts, struct iocb_sightings **out, struct iocb_err *err)
{
	*out = NULL;
	if (!opts->base_url || !opts->api_key || !opts->state_dir)
		return iocb_err_set(err, IOCB_EINVAL, "sightings: base_url, api_key and state_dir are required");
	struct iocb_sightings *q = iocb_xcalloc(1, sizeof(*q));
	q->o = *opts;
	if (q->o.batch_max == 0)
		q->o.batch_max = 1;
	if (q->o.backoff_initial_s <= 0)
		q->o.backoff_initial_s = 0.5;
	if (q->o.backoff_max_s < q->o.backoff_initial_s)
		q->o.backoff_max_s = q->o.backoff_initial_s;
	if (q->o.map_size == 0)
		q->o.map_size = (size_t)256 << 20;
	q->base_url = iocb_xstrdup(opts->base_url);
	q->api_key = iocb_xstrdup(opts->api_key);
	q->ca_file = opts->ca_file ? iocb_xstrdup(opts->ca_file) : NULL;
	q->o.state_dir = iocb_xstrdup(opts->state_dir);
	q->dedup = iocb_xcalloc(1, sizeof(*q->dedup));
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_mutex_init(&q->pmu, NULL);
	pthread_cond_init(&q->pcv, &ca);
	pthread_condattr_destroy(&ca);
	int rc = open_queue(q, err);
	if (rc != IOCB_OK)
		goto fail;
	if (pthread_create(&q->thr, NULL, sender, q) != 0) {
		rc = iocb_err_set(err, IOCB_EIO, "sightings: cannot start the sender thread");
		goto fail;
	}
	q->started = true;
	*out = q;
	return IOCB_OK;
fail:
	iocb_sightings_free(q);
	return rc;
}

static void rec_of(const struct iocb_sightings_item *it, struct iocb_sightings__rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	memcpy(rec->uuid, it->attr_uuid.ptr, IOCB_SIGHTINGS_UUID_LEN);
	rec->type = (uint8_t)it->type;
	rec->timestamp = it->timestamp;
	rec->source_len = (uint8_t)it->source.len;
	if (it->source.len)
		memcpy(rec->source, it->source.ptr, it->source.len);
}

int iocb_sightings_add_many(struct iocb_sightings *q, const struct iocb_sightings_item *items, size_t n,
			    struct iocb_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (items[i].attr_uuid.len != IOCB_SIGHTINGS_UUID_LEN || items[i].source.len > IOCB_SIGHTINGS_SOURCE_MAX ||
		    items[i].type > 2)
			return iocb_err_set(err, IOCB_EINVAL, "sightings: item %zu: bad uuid, source or type", i);
	if (n == 0)
		return IOCB_OK;
	struct iocb_sightings__dedup_undo *undo = iocb_xcalloc(n, sizeof(*undo));
	size_t nundo = 0, put = 0, dup = 0;
	int rc = IOCB_OK;
	double now = iocb_time_mono_s();
	MDB_txn *txn = NULL;
	pthread_mutex_lock(&q->mu);
	/* Under the lock: the sequence order is the commit order, so the sender never skips a key. */
	int r = mdb_txn_begin(q->env, NULL, 0, &txn);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct iocb_sightings__rec rec;
		rec_of(&items[i], &rec);
		if (iocb_sightings__dedup_hit(q->dedup, &rec, now, q->o.dedup_window_s, &undo[nundo])) {
			dup++;
			continue;
		}
		if (q->o.dedup_window_s > 0)
			nundo++;
		unsigned char kb[8];
		key_of(q->seq + put, kb);
		MDB_val k = {8, kb};
		MDB_val v = {offsetof(struct iocb_sightings__rec, source) + rec.source_len, &rec};
		r = mdb_put(txn, q->dbi, &k, &v, MDB_APPEND);
		if (r == 0)
			put++;
	}
	if (r == 0 && put)
		r = mdb_txn_commit(txn);
	else if (txn)
		mdb_txn_abort(txn);
	if (r != 0) {
		/* Nothing was stored: forget the keys this call entered into the window (newest first). */
		while (nundo--) {
			q->dedup->key[undo[nundo].slot] = undo[nundo].key;
			q->dedup->seen[undo[nundo].slot] = undo[nundo].seen;
		}
		rc = iocb_err_set(err, r == MDB_MAP_FULL ? IOCB_ELIMIT : IOCB_EIO, "sightings: queue put: %s",
				  mdb_strerror(r));
		goto out;
	}
	q->seq += put;
	q->st.received += n;
	q->st.queued += put;
	q->st.deduplicated += dup;
	if (put)
		pthread_cond_signal(&q->cv);
out:
	pthread_mutex_unlock(&q->mu);
	free(undo);
	return rc;
}

int iocb_sightings_add(struct iocb_sightings *q, struct iocb_str attr_uuid, struct iocb_str source, unsigned type,
		       int64_t timestamp, struct iocb_err *err)
{
	struct iocb_sightings_item it = {attr_uuid, source, type, timestamp};
	return iocb_sightings_add_many(q, &it, 1, err);
}

/* The flusher: commit what the from_matches objects handed over, one add_many per wake-up. */
static void *flusher(void *arg)
{
	struct iocb_sightings *q = arg;
	struct iocb_sightings__rec *recs = iocb_xcalloc(IOCB_SIGHTINGS__HANDOFF_MAX, sizeof(*recs));
	struct iocb_sightings_item *items = iocb_xcalloc(IOCB_SIGHTINGS__HANDOFF_MAX, sizeof(*items));
	for (;;) {
		pthread_mutex_lock(&q->pmu);
		while (!q->npend && !q->fstop) {
			struct timespec dl = iocb_time_deadline(CLOCK_MONOTONIC, 1.0);
			pthread_cond_timedwait(&q->pcv, &q->pmu, &dl);
		}
		size_t n = q->npend;
		memcpy(recs, q->pend, n * sizeof(*recs));
		q->npend = 0;
		bool stop = q->fstop;
		pthread_mutex_unlock(&q->pmu);
		for (size_t i = 0; i < n; i++)
			items[i] = (struct iocb_sightings_item){{recs[i].uuid, IOCB_SIGHTINGS_UUID_LEN},
								{recs[i].source, recs[i].source_len},
								recs[i].type,
								recs[i].timestamp};
		struct iocb_err err;
		int rc = n ? iocb_sightings_add_many(q, items, n, &err) : IOCB_OK;
		pthread_mutex_lock(&q->mu);
		if (rc == IOCB_OK)
			q->st.matches += n;
		else
			q->st.matches_dropped += n;
		pthread_mutex_unlock(&q->mu);
		if (rc != IOCB_OK)
			iocb_log(IOCB_LOG_ERROR, MOD, "\"from_matches sightings dropped\" n=%zu err=\"%s\"", n, err.msg);
		if (stop)
			break;
	}
	free(recs);
	free(items);
	return NULL;
}

size_t iocb_sightings__offer(struct iocb_sightings *q, const struct iocb_sightings__rec *recs, size_t n,
			     uint64_t dedup)
{
	size_t take = 0;
	pthread_mutex_lock(&q->pmu);
	if (!q->fstarted && !q->fstop && n) {
		q->pend = iocb_xcalloc(IOCB_SIGHTINGS__HANDOFF_MAX, sizeof(*q->pend));
		q->fstarted = pthread_create(&q->fthr, NULL, flusher, q) == 0;
		if (!q->fstarted)
			iocb_log(IOCB_LOG_ERROR, MOD, "\"cannot start the from_matches flusher\"");
	}
	if (q->fstarted) {
		take = IOCB_SIGHTINGS__HANDOFF_MAX - q->npend;
		take = take < n ? take : n;
		memcpy(q->pend + q->npend, recs, take * sizeof(*recs));
		q->npend += take;
		if (take)
			pthread_cond_signal(&q->pcv);
	}
	pthread_mutex_unlock(&q->pmu);
	pthread_mutex_lock(&q->mu);
	q->st.matches_deduplicated += dedup;
	q->st.matches_dropped += n - take;
	pthread_mutex_unlock(&q->mu);
	return take;
}

int iocb_sightings_from_bus(struct iocb_sightings *q, int gen, const char *json, size_t len, struct iocb_err *err)
{
	struct iocb_sightings_bus_item b;
	int rc = iocb_sightings_parse_bus(gen, json, len, &b, err);
	if (rc != IOCB_OK) {
		pthread_mutex_lock(&q->mu);
		q->st.bad++;
		pthread_mutex_unlock(&q->mu);
		return rc;
	}
	return iocb_sightings_add_many(q, &b.item, 1, err);
}

void iocb_sightings_stats(struct iocb_sightings *q, struct iocb_sightings_stats *out)
{
	pthread_mutex_lock(&q->mu);
	*out = q->st;
	pthread_mutex_unlock(&q->mu);
}

void iocb_sightings_free(struct iocb_sightings *q)
{
	if (!q)
		return;
	/* The flusher first: it commits what was handed over while the queue is open. */
	pthread_mutex_lock(&q->pmu);
	q->fstop = true;
	pthread_cond_broadcast(&q->pcv);
	bool flushing = q->fstarted;
	pthread_mutex_unlock(&q->pmu);
	if (flushing)
		pthread_join(q->fthr, NULL);
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	if (q->started)
		pthread_join(q->thr, NULL);
	if (q->env)
		mdb_env_close(q->env);
	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->pcv);
	pthread_mutex_destroy(&q->pmu);
	free(q->pend);
	free(q->base_url);
	if (q->api_key) {
		explicit_bzero(q->api_key, strlen(q->api_key));
		free(q->api_key);
	}
	free(q->ca_file);
	free((char *)q->o.state_dir);
	free(q->dedup);
	free(q);
}
