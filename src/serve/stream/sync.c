/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stream thread's walks (internal.h): the baseline (every record the
 * store holds, at start and for each full republish) and the resend round
 * (the keys librdkafka refused or failed to deliver).
 *
 * Order per key. A walk reads a key's current record and produces it under
 * `mu` while the listener goes on producing live changes. Two things keep
 * a walk's copy from overtaking a newer live message of the same key:
 *  - `touched`: from the walk's start, the listener notes every key it
 *    handles, and the walk skips noted keys (the listener has sent their
 *    newer state, and will send any later one). The check and the produce
 *    are one critical section of mu, so a change is either noted before
 *    the check or produced after the walk's message. A key that finds
 *    touched full goes to the resend set instead: the resend round after
 *    the walk sends its current state last, whatever the walk sent.
 *  - a writer barrier after touched is cleared: the store calls listeners
 *    just before it swaps the record in, so a change noted before the
 *    clear may not be visible yet. The baseline's snapshot
 *    (iocb_store_each) and, for a resend round, iocb_store_stats() take the
 *    writer lock, after which every such swap is done.
 *
 * Intake is never held for long: the snapshot only copies uuids (16 bytes
 * each), and the records are then read in read-side sections of at most
 * CHUNK records, so a commit waits for one chunk, not for the walk. A walk
 * keeps librdkafka's queue at most half full (outq_soft), leaving the rest
 * to the listener, which never waits.
 */
#include "serve/stream/internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/time.h"

#define MOD IOCB_STREAM__MOD
#define CHUNK 256          /* records per read-side section */
#define FULL_WAIT_MS 10    /* poll while librdkafka's queue is over outq_soft or full */

struct uuid_vec {
	uint8_t (*u)[16]; /* keys */
	size_t n, cap;    /* used, allocated */
};

static int collect(void *ud, const struct iocb_store_attr *a)
{
	struct uuid_vec *v = ud;

	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 4096;
		v->u = iocb_xrealloc(v->u, v->cap * sizeof(*v->u));
	}
	iocb_store_attr_uuid(a, v->u[v->n++]);
	return 0;
}

/* Wait (serving delivery reports) while librdkafka holds more than outq_soft. */
static void throttle(struct iocb_stream *st)
{
	while (!atomic_load(&st->stop) && !atomic_load(&st->fatal) && (size_t)rd_kafka_outq_len(st->rk) > st->outq_soft)
		rd_kafka_poll(st->rk, FULL_WAIT_MS);
}

/* What a walk sends for an untouched key. */
enum walk_mode {
	WALK_STORE,  /* the baseline: held keys' state; a missing key was removed after the snapshot and the
			listener sent its tombstone, so nothing */
	WALK_RESEND, /* the resend set: the current state, a tombstone for a missing key */
	WALK_STALE,  /* keys read from the topic: a tombstone for a missing key, nothing for a held one
			(WALK_STORE sent it) */
};

/*
 * Send the state of keys[0..n) as `mode` says, skipping touched keys.
 * Returns how many keys were handled; fewer than n when stop or a fatal
 * error cut it.
 */
static size_t walk(struct iocb_stream *st, uint8_t (*keys)[16], size_t n, enum walk_mode mode)
{
	size_t i = 0;

	while (i < n && !atomic_load(&st->stop) && !atomic_load(&st->fatal)) {
		bool full = false;

		throttle(st);
		iocb_store_read_lock();
		for (size_t c = 0; c < CHUNK && i < n; c++) {
			char text[IOCB_STREAM__UUID_LEN + 1];
			const struct iocb_store_attr *a;
			int rc = IOCB_OK;

			pthread_mutex_lock(&st->mu);
			if (!iocb_stream__kset_has(&st->touched, keys[i])) {
				iocb_misp_uuid_format(keys[i], text);
				a = iocb_store_get(st->store, iocb_str_make(text, IOCB_STREAM__UUID_LEN));
				if (a ? mode != WALK_STALE : mode != WALK_STORE)
					rc = iocb_stream__publish(st, keys[i], a, true, IOCB_STREAM__RETRY);
			}
			pthread_mutex_unlock(&st->mu);
			if (rc == IOCB_EAGAIN) {
				full = true; /* this key again, after a poll */
				break;
			}
			i++;
		}
		iocb_store_read_unlock();
		rd_kafka_poll(st->rk, full ? FULL_WAIT_MS : 0);
	}
	return i;
}

/* Begin a walk: clear touched and start noting. Under mu. */
static void walk_begin(struct iocb_stream *st)
{
	iocb_stream__kset_clear(&st->touched);
	st->tracking = true;
}

/* End a walk: stop noting. Under mu. */
static void walk_end(struct iocb_stream *st)
{
	st->tracking = false;
}

/*
 * The keys the topic holds (stale.c), read before the baseline produces
 * anything, so that the read does not include this run's own baseline.
 * Once per stream: later baselines only republish (a removal while the
 * stream runs reaches the topic through the listener or the resend set).
 * *keys NULL when there is nothing to check (already done, or the topic
 * could not be read: logged, not tried again).
 */
static void stale_read(struct iocb_stream *st, uint8_t (**keys)[16], size_t *n)
{
	struct iocb_stream__kset ks;
	double t0 = iocb_time_mono_s();

	*keys = NULL;
	*n = 0;
	if (st->stale_done)
		return;
	iocb_stream__kset_init(&ks, IOCB_STREAM__STALE_MAX);
	if (iocb_stream__topic_keys(st, &ks) == IOCB_OK) {
		*keys = iocb_xmalloc((ks.n ? ks.n : 1) * sizeof(**keys));
		*n = iocb_stream__kset_list(&ks, *keys);
		iocb_log(IOCB_LOG_INFO, MOD, "\"topic read for stale keys\" topic=\"%s\" keys=%zu seconds=%.3f", st->topic,
			 *n, iocb_time_mono_s() - t0);
	} else if (!atomic_load(&st->stop)) {
		st->stale_done = true;
	}
	iocb_stream__kset_fini(&ks);
}

void iocb_stream__baseline(struct iocb_stream *st)
{
	struct uuid_vec v = {0};
	struct iocb_store_stats *sst = iocb_xmalloc(sizeof(*sst));
	double t0 = iocb_time_mono_s(), t_snap;
	uint8_t (*stale)[16];
	size_t done, nstale;
	int rc;

	stale_read(st, &stale, &nstale);
	/* Sized before the snapshot, so that the walk that holds commits back does not copy the vector. */
	iocb_store_stats(st->store, sst);
	v.cap = (size_t)sst->attrs + sst->attrs / 8 + 4096;
	v.u = iocb_xmalloc(v.cap * sizeof(*v.u));
	free(sst);
	pthread_mutex_lock(&st->mu);
	st->resync = false;
	walk_begin(st);
	pthread_mutex_unlock(&st->mu);
	/* The snapshot takes the writer lock after touched was cleared: the barrier (see the top). */
	rc = iocb_store_each(st->store, collect, &v);
	t_snap = iocb_time_mono_s() - t0;
	done = rc < 0 ? 0 : walk(st, v.u, v.n, WALK_STORE);
	/* Then the topic's keys the store does not hold (deleted while no stream ran) get their tombstones. */
	if (stale && rc == IOCB_OK && done == v.n && walk(st, stale, nstale, WALK_STALE) == nstale)
		st->stale_done = true;
	else if (stale)
		rc = IOCB_ECANCELED; /* cut short: the whole baseline again, the topic read again */
	pthread_mutex_lock(&st->mu);
	walk_end(st);
	if (rc < 0 || done < v.n) {
		st->resync = true; /* cut short (out of memory, stop, fatal error): all again */
	} else {
		st->st.baselines++;
		st->st.baseline_records = v.n;
		st->st.baseline_seconds = iocb_time_mono_s() - t0;
		st->st.baseline_done = true;
	}
	pthread_mutex_unlock(&st->mu);
	if (rc < 0 && rc != IOCB_ECANCELED)
		iocb_log(IOCB_LOG_ERROR, MOD, "\"baseline walk failed, trying again\" topic=\"%s\" error=%s", st->topic,
			 iocb_rc_str(rc));
	else if (rc == IOCB_OK && done == v.n)
		iocb_log(IOCB_LOG_INFO, MOD,
			 "\"baseline published\" topic=\"%s\" records=%zu seconds=%.3f snapshot_seconds=%.3f", st->topic,
			 v.n, iocb_time_mono_s() - t0, t_snap);
	free(v.u);
	free(stale);
}

void iocb_stream__resend(struct iocb_stream *st)
{
	struct iocb_store_stats *barrier = iocb_xmalloc(sizeof(*barrier));
	uint8_t (*keys)[16];
	size_t n, done;

	pthread_mutex_lock(&st->mu);
	keys = iocb_xmalloc((st->resend.n ? st->resend.n : 1) * sizeof(*keys));
	n = iocb_stream__kset_list(&st->resend, keys);
	iocb_stream__kset_clear(&st->resend);
	walk_begin(st);
	pthread_mutex_unlock(&st->mu);
	/* Takes the writer lock: every swap of a change noted before the clear is done (see the top). */
	iocb_store_stats(st->store, barrier);
	free(barrier);
	done = walk(st, keys, n, WALK_RESEND);
	pthread_mutex_lock(&st->mu);
	walk_end(st);
	st->st.resent += done;
	for (size_t i = done; i < n; i++)
		iocb_stream__mark(st, keys[i], false); /* cut short: keep the rest for later */
	pthread_mutex_unlock(&st->mu);
	free(keys);
}
