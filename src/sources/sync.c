/* SPDX-License-Identifier: Apache-2.0 */
/* Shared state of the live MISP sources (see sync.h). */
#include "sources/sources.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"

const char *iocb_sources_sync_act_name(enum iocb_sources_sync_act a)
{
	static const char *const names[IOCB_SA__COUNT] = {
		"add", "edit", "soft_delete", "delete", "snapshot", "upsert",
		"remove", "filtered", "event_delete", "stale", "unchanged",
	};
	return (unsigned)a < IOCB_SA__COUNT ? names[a] : "?";
}

void iocb_sources_sync_init(struct iocb_sources_sync *y, struct iocb_store *store, const struct iocb_filter *filter,
		    const struct iocb_config *cfg)
{
	pthread_condattr_t ca;
	char buf[32];
	size_t n = 0;
	uint64_t c = 0;

	memset(y, 0, sizeof(*y));
	y->store = store;
	y->filter = filter;
	y->cfg = cfg;
	pthread_mutex_init(&y->mu_, NULL);
	pthread_mutex_init(&y->commit_mu_, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&y->cv_, &ca);
	pthread_condattr_destroy(&ca);
	if (iocb_store_meta_get(store, IOCB_SOURCES_SYNC_CURSOR_KEY, buf, sizeof(buf), &n) == IOCB_OK &&
	    !iocb_str_to_u64(iocb_str_make(buf, n), &c)) {
		iocb_log(IOCB_LOG_WARN, "sync", "\"stored cursor is not a number; starting without one\"");
		c = 0;
	}
	/*
	 * A store written before future timestamps were left out may hold a
	 * cursor in the future (one attribute dated 2100 did it). Every
	 * catch-up from it would fetch nothing, and when it went wrong is not
	 * known: start over with a full reconcile, as on a first start.
	 */
	if (c > (uint64_t)time(NULL) + IOCB_INGEST_FUTURE_SKEW_S) {
		iocb_log(IOCB_LOG_WARN, "sync",
			 "\"stored cursor is in the future; dropped, a full reconcile runs instead\" cursor=%" PRIu64, c);
		c = 0;
	}
	y->cursor_ = c;
	y->persisted_ = c;
}

void iocb_sources_sync_fini(struct iocb_sources_sync *y)
{
	for (size_t i = 0; i < y->nmetrics_; i++)
		free(y->metrics_[i]);
	pthread_cond_destroy(&y->cv_);
	pthread_mutex_destroy(&y->mu_);
	pthread_mutex_destroy(&y->commit_mu_);
	memset(y, 0, sizeof(*y));
}

struct iocb_sources_sync_metrics *iocb_sources_sync_metrics_add(struct iocb_sources_sync *y, const char *name)
{
	struct iocb_sources_sync_metrics *m;

	if (y->nmetrics_ == IOCB_SOURCES_SYNC_MAX_SOURCES)
		return NULL;
	m = iocb_xcalloc(1, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", name);
	y->metrics_[y->nmetrics_++] = m;
	return m;
}

size_t iocb_sources_sync_metrics_count(const struct iocb_sources_sync *y)
{
	return y->nmetrics_;
}

struct iocb_sources_sync_metrics *iocb_sources_sync_metrics_get(const struct iocb_sources_sync *y, size_t i)
{
	return i < y->nmetrics_ ? y->metrics_[i] : NULL;
}

void iocb_sources_sync_publish(struct iocb_sources_sync *y, struct iocb_sources_sync_metrics *m, const struct iocb_ingest_stats *st,
		       bool advance_cursor)
{
	uint64_t before = IOCB_M_GET(m->acts[IOCB_SA_UPSERT]) + IOCB_M_GET(m->acts[IOCB_SA_REMOVE]) +
			  IOCB_M_GET(m->acts[IOCB_SA_EVENT_DELETE]);

	IOCB_M_SET(m->acts[IOCB_SA_ADD], st->by_action[IOCB_ACT_ADD]);
	IOCB_M_SET(m->acts[IOCB_SA_EDIT], st->by_action[IOCB_ACT_EDIT]);
	IOCB_M_SET(m->acts[IOCB_SA_SOFT_DELETE], st->by_action[IOCB_ACT_SOFT_DELETE]);
	IOCB_M_SET(m->acts[IOCB_SA_DELETE], st->by_action[IOCB_ACT_DELETE]);
	IOCB_M_SET(m->acts[IOCB_SA_SNAPSHOT], st->by_action[IOCB_ACT_NONE]);
	IOCB_M_SET(m->acts[IOCB_SA_UPSERT], st->upserts);
	IOCB_M_SET(m->acts[IOCB_SA_REMOVE], st->removes + m->own_removes);
	IOCB_M_SET(m->acts[IOCB_SA_FILTERED], st->filtered);
	IOCB_M_SET(m->acts[IOCB_SA_EVENT_DELETE], st->event_removes);
	IOCB_M_SET(m->acts[IOCB_SA_STALE], st->stale);
	IOCB_M_SET(m->acts[IOCB_SA_UNCHANGED], st->unchanged);
	for (unsigned r = 0; r < IOCB_SKIP__COUNT; r++)
		IOCB_M_SET(m->rejects[r], st->misp.skipped[r] + m->own_rejects[r]);
	if (st->upserts + st->removes + m->own_removes + st->event_removes != before)
		IOCB_M_SET(m->last_update_us, iocb_time_real_us());
	if (advance_cursor)
		iocb_sources_sync_cursor_advance(y, st->max_timestamp);
}

uint64_t iocb_sources_sync_cursor(const struct iocb_sources_sync *y)
{
	return __atomic_load_n(&y->cursor_, __ATOMIC_ACQUIRE);
}

void iocb_sources_sync_cursor_advance(struct iocb_sources_sync *y, uint64_t ts)
{
	uint64_t cur = __atomic_load_n(&y->cursor_, __ATOMIC_RELAXED);

	while (ts > cur && !__atomic_compare_exchange_n(&y->cursor_, &cur, ts, true, __ATOMIC_RELEASE,
							__ATOMIC_RELAXED))
		;
}

void iocb_sources_sync_cursor_reset(struct iocb_sources_sync *y)
{
	__atomic_store_n(&y->cursor_, 0, __ATOMIC_RELEASE);
}

int iocb_sources_sync_commit(struct iocb_sources_sync *y, struct iocb_err *err)
{
	char buf[32];
	uint64_t safe;
	int rc = IOCB_OK, n;

	pthread_mutex_lock(&y->commit_mu_);
	safe = iocb_sources_sync_cursor(y);
	pthread_mutex_lock(&y->mu_);
	/* Never persist past the start of a gap that has not been caught up yet. */
	if (y->catchup_pending_ && y->catchup_from_ < safe)
		safe = y->catchup_from_;
	if (y->running_from_ && y->running_from_ < safe)
		safe = y->running_from_;
	bool write = safe != y->persisted_;
	pthread_mutex_unlock(&y->mu_);
	if (write) {
		n = snprintf(buf, sizeof(buf), "%" PRIu64, safe);
		rc = iocb_store_meta_set(y->store, IOCB_SOURCES_SYNC_CURSOR_KEY, iocb_str_make(buf, (size_t)n), err);
	}
	if (rc == IOCB_OK)
		rc = iocb_store_commit(y->store, err);
	if (rc == IOCB_OK && write) {
		pthread_mutex_lock(&y->mu_);
		y->persisted_ = safe;
		pthread_mutex_unlock(&y->mu_);
	}
	pthread_mutex_unlock(&y->commit_mu_);
	if (rc < 0)
		iocb_log(IOCB_LOG_ERROR, "sync", "\"store commit failed\" error=\"%s\"", err ? err->msg : "?");
	return rc;
}

void iocb_sources_sync_request_catchup(struct iocb_sources_sync *y, uint64_t from, const char *why)
{
	if (!y->cfg || !y->cfg->api.present) {
		iocb_log(IOCB_LOG_WARN, "sync", "\"gap in the live feed; no misp.api to catch up from\" why=\"%s\"", why);
		return;
	}
	pthread_mutex_lock(&y->mu_);
	if (!y->catchup_pending_ || from < y->catchup_from_)
		y->catchup_from_ = from;
	y->catchup_pending_ = true;
	pthread_cond_broadcast(&y->cv_);
	pthread_mutex_unlock(&y->mu_);
	iocb_log(IOCB_LOG_INFO, "sync", "\"catch-up requested\" why=\"%s\" from=%" PRIu64, why, from);
}

bool iocb_sources_sync_take_catchup(struct iocb_sources_sync *y, uint64_t *from)
{
	bool got;

	pthread_mutex_lock(&y->mu_);
	got = y->catchup_pending_;
	if (got) {
		*from = y->catchup_from_;
		/* 0 means "everything"; keep it distinct from "none running" */
		y->running_from_ = y->catchup_from_ ? y->catchup_from_ : 1;
		y->catchup_pending_ = false;
	}
	pthread_mutex_unlock(&y->mu_);
	return got;
}

void iocb_sources_sync_pull_begin(struct iocb_sources_sync *y, uint64_t from)
{
	pthread_mutex_lock(&y->mu_);
	y->running_from_ = from ? from : 1;
	pthread_mutex_unlock(&y->mu_);
}

void iocb_sources_sync_pull_end(struct iocb_sources_sync *y, bool ok)
{
	pthread_mutex_lock(&y->mu_);
	if (!ok && y->running_from_) {
		uint64_t from = y->running_from_ == 1 ? 0 : y->running_from_;
		if (!y->catchup_pending_ || from < y->catchup_from_)
			y->catchup_from_ = from;
		y->catchup_pending_ = true;
	}
	y->running_from_ = 0;
	pthread_mutex_unlock(&y->mu_);
}

void iocb_sources_sync_request_event_refresh(struct iocb_sources_sync *y, uint64_t event_id)
{
	bool dropped = false;

	if (!y->cfg || !y->cfg->api.present || event_id == 0)
		return;
	pthread_mutex_lock(&y->mu_);
	size_t i;
	for (i = 0; i < y->nevents_ && y->events_[i] != event_id; i++)
		;
	if (i == y->nevents_) {
		if (y->nevents_ < IOCB_SOURCES_SYNC_MAX_EVENT_REFRESH)
			y->events_[y->nevents_++] = event_id;
		else
			dropped = true;
	}
	pthread_cond_broadcast(&y->cv_);
	pthread_mutex_unlock(&y->mu_);
	if (dropped)
		iocb_log(IOCB_LOG_WARN, "sync", "\"too many events waiting for a refresh; the next reconcile covers it\" "
			 "event_id=%" PRIu64, event_id);
}

size_t iocb_sources_sync_take_event_refresh(struct iocb_sources_sync *y, uint64_t *ids, size_t max)
{
	size_t n;

	pthread_mutex_lock(&y->mu_);
	n = y->nevents_ < max ? y->nevents_ : max;
	memcpy(ids, y->events_, n * sizeof(*ids));
	memmove(y->events_, y->events_ + n, (y->nevents_ - n) * sizeof(*ids));
	y->nevents_ -= n;
	pthread_mutex_unlock(&y->mu_);
	return n;
}

void iocb_sources_sync_stop(struct iocb_sources_sync *y)
{
	__atomic_store_n(&y->stop_, 1, __ATOMIC_RELEASE);
	pthread_mutex_lock(&y->mu_);
	pthread_cond_broadcast(&y->cv_);
	pthread_mutex_unlock(&y->mu_);
}

bool iocb_sources_sync_stopping(const struct iocb_sources_sync *y)
{
	return __atomic_load_n(&y->stop_, __ATOMIC_ACQUIRE) != 0;
}

bool iocb_sources_sync_sleep(struct iocb_sources_sync *y, double seconds, bool wake_on_catchup)
{
	struct timespec ts;
	double end = iocb_time_mono_s() + (seconds > 0 ? seconds : 0);

	pthread_mutex_lock(&y->mu_);
	while (!iocb_sources_sync_stopping(y) && !(wake_on_catchup && (y->catchup_pending_ || y->nevents_))) {
		double left = end - iocb_time_mono_s();
		if (left <= 0)
			break;
		ts = iocb_time_deadline(CLOCK_MONOTONIC, left);
		int rc = pthread_cond_timedwait(&y->cv_, &y->mu_, &ts);
		if (rc != 0 && rc != ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&y->mu_);
	return !iocb_sources_sync_stopping(y);
}
