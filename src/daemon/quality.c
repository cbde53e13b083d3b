/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Indicator decay and expiry in `iocbus run` (issue #15 §2): the decay
 * object built from `quality.decay` and `quality.expire_after`, its store
 * quality callback, and the sweep thread that announces expired
 * indicators to the store listeners (bus, Kafka stream, exports).
 *
 * Matching needs none of this thread: an expired indicator stops matching
 * at its instant (one comparison in the enrichment, src/enrich/match.c).
 * The sweep only tells the listeners, every quality.sweep_interval, and
 * persists the gone marks. Expired records stay stored and indexed, so
 * `iocbus lookup` and /v1/lookup still show them (docs/QUALITY.md says
 * why this beats unindexing them).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/prom.h"
#include "core/time.h"
#include "daemon/internal.h"
#include "quality/decay.h"
#include "store/store.h"

#define MOD "quality"

static void *sweep_main(void *arg)
{
	struct iocb_daemon__quality *q = arg;
	struct iocb_err err = {0};

	pthread_mutex_lock(&q->mu);
	while (!q->stop) {
		struct timespec dl = iocb_time_deadline(CLOCK_MONOTONIC, q->interval_s);
		(void)pthread_cond_timedwait(&q->cv, &q->mu, &dl);
		if (q->stop)
			break;
		pthread_mutex_unlock(&q->mu);
		(void)iocb_daemon__quality_sweep(q, iocb_time_real_us() / 1000000);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	(void)err;
	return NULL;
}

int iocb_daemon__quality_sweep(struct iocb_daemon__quality *q, int64_t now)
{
	struct iocb_store_sweep_stats st;
	struct iocb_err err = {0};
	int rc = iocb_store_quality_sweep(q->store, now, 0, &st, &err);
	if (rc < 0)
		return rc;
	__atomic_add_fetch(&q->sweeps, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&q->expired_total, st.expired, __ATOMIC_RELAXED);
	__atomic_add_fetch(&q->back_total, st.back, __ATOMIC_RELAXED);
	__atomic_store_n(&q->expired_now, st.expired_now, __ATOMIC_RELAXED);
	if (st.expired || st.suppressed || st.back) {
		iocb_log(IOCB_LOG_INFO, MOD, "\"sweep\" expired=%zu suppressed=%zu back=%zu expired_now=%zu", st.expired,
			 st.suppressed, st.back, st.expired_now);
		/* the gone marks survive a restart, so walks after it agree with what listeners heard */
		if (iocb_store_commit(q->store, &err) < 0)
			iocb_log(IOCB_LOG_WARN, MOD, "\"commit after sweep failed\" error=\"%s\"", err.msg);
	}
	return IOCB_OK;
}

int iocb_daemon__quality_start(struct iocb_daemon__quality *q, const struct iocb_config *c, struct iocb_store *s,
			       struct iocb_err *err)
{
	size_t changed = 0;
	int rc;

	memset(q, 0, sizeof(*q));
	q->handle = -1;
	rc = iocb_quality_decay_from_config(c, &q->decay, err);
	if (rc < 0)
		return rc;
	bool decay_on = iocb_quality_decay_active(q->decay);
	/*
	 * Warninglists mark records too (daemon/warninglists.c registers their
	 * callback, before this): a record a list suppresses stops being live
	 * like an expired one, and only the sweep tells the bus, the Kafka
	 * stream and the exports, so the sweep runs when either is on.
	 */
	if (!decay_on && !c->warninglists.present)
		return IOCB_OK;
	q->store = s;
	q->interval_s = c->quality.sweep_interval_s > 0 ? c->quality.sweep_interval_s : 60;
	if (decay_on) {
		q->handle = iocb_store_quality_add(s, iocb_quality_decay_apply, q->decay);
		if (q->handle < 0)
			return iocb_err_set(err, IOCB_ELIMIT, "quality: too many store quality callbacks");
		/* Records already stored (LMDB, intel) get their marks. */
		if ((rc = iocb_store_requalify(s, (uint64_t)(iocb_time_real_us() / 1000000), &changed, err)) < 0)
			return rc;
	}
	/* Before any listener: records already expired or suppressed are marked gone quietly;
	 * the bus and exports start from walks without them. */
	if ((rc = iocb_daemon__quality_sweep(q, iocb_time_real_us() / 1000000)) < 0)
		return rc;
	/* Persist the marks now (the next start finds them and replaces nothing) and free the
	 * replaced records: no reader runs yet, so the grace period is short. */
	if (changed && (rc = iocb_store_commit(s, err)) < 0)
		return rc;
	iocb_log(IOCB_LOG_INFO, MOD, "\"quality sweep on\" decay=%s models=%zu requalified=%zu expired=%" PRIu64
		 " sweep_interval_s=%.0f", decay_on ? "true" : "false", iocb_quality_decay_nmodels(q->decay), changed,
		 q->expired_now, q->interval_s);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if (pthread_create(&q->thr, NULL, sweep_main, q) != 0) {
		pthread_cond_destroy(&q->cv);
		pthread_mutex_destroy(&q->mu);
		return iocb_err_set(err, IOCB_EIO, "quality: cannot start the sweep thread");
	}
	q->running = true;
	return IOCB_OK;
}

void iocb_daemon__quality_stop(struct iocb_daemon__quality *q)
{
	if (q->running) {
		pthread_mutex_lock(&q->mu);
		q->stop = true;
		pthread_cond_signal(&q->cv);
		pthread_mutex_unlock(&q->mu);
		pthread_join(q->thr, NULL);
		pthread_cond_destroy(&q->cv);
		pthread_mutex_destroy(&q->mu);
		q->running = false;
	}
	if (q->handle >= 0 && q->store)
		iocb_store_quality_remove(q->store, q->handle);
	q->handle = -1;
	iocb_quality_decay_free(q->decay);
	q->decay = NULL;
}

int iocb_daemon__quality_metrics(const struct iocb_daemon__quality *q, const struct iocb_store_stats *st,
				 struct iocb_buf *out)
{
	static const char *const type_label[3][3] = {
		{"type", "0", NULL}, {"type", "1", NULL}, {"type", "2", NULL}};
	struct iocb_prom p;

	iocb_prom_begin(&p, out);
	iocb_prom_head(&p, "iocbus_quality_decay_models", "gauge", "Decaying models loaded (quality.decay.models).");
	iocb_prom_u64(&p, "iocbus_quality_decay_models", NULL, q->decay ? iocb_quality_decay_nmodels(q->decay) : 0);
	iocb_prom_head(&p, "iocbus_quality_expired", "gauge",
		       "Indicators expired at the last sweep (stored, shown by lookups, never matched).");
	iocb_prom_u64(&p, "iocbus_quality_expired", NULL, __atomic_load_n(&q->expired_now, __ATOMIC_RELAXED));
	iocb_prom_head(&p, "iocbus_quality_expired_total", "counter",
		       "Indicators the sweep found expired and announced as removed to the bus, stream and exports.");
	iocb_prom_u64(&p, "iocbus_quality_expired_total", NULL, __atomic_load_n(&q->expired_total, __ATOMIC_RELAXED));
	iocb_prom_head(&p, "iocbus_quality_expired_back_total", "counter",
		       "Expired indicators announced again after a sighting or a MISP update brought them back.");
	iocb_prom_u64(&p, "iocbus_quality_expired_back_total", NULL, __atomic_load_n(&q->back_total, __ATOMIC_RELAXED));
	iocb_prom_head(&p, "iocbus_quality_expired_sweeps_total", "counter", "Expiry sweeps run.");
	iocb_prom_u64(&p, "iocbus_quality_expired_sweeps_total", NULL, __atomic_load_n(&q->sweeps, __ATOMIC_RELAXED));
	iocb_prom_head(&p, "iocbus_quality_decay_sightings_total", "counter",
		       "MISP sightings applied to stored indicators, by type (0 sighting, 1 false positive, 2 expiration).");
	for (int t = 0; t < 3; t++)
		iocb_prom_u64(&p, "iocbus_quality_decay_sightings_total", type_label[t], st->sightings[t]);
	iocb_prom_head(&p, "iocbus_quality_decay_sightings_unknown_total", "counter",
		       "MISP sightings of attributes the store does not hold.");
	iocb_prom_u64(&p, "iocbus_quality_decay_sightings_unknown_total", NULL, st->sightings_unknown);
	return iocb_prom_end(&p, "quality");
}
