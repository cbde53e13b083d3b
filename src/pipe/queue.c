/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One output's queue: memory first, then the spool, then backpressure.
 *
 * Why this order: memory is cheapest while an output keeps up; the spool
 * keeps memory bounded through a long outage while inputs that cannot
 * replay (TCP, stdin) go on; backpressure is the last resort and reaches
 * the inputs (a file input stops reading, a TCP sender's window fills up).
 */
#include "pipe/core.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"

struct iocb_pipe__queue {
	struct iocb_pipe *pipe;
	struct iocb_pipe__output *out;
	struct iocb_pipe__spool *spool;      /* owned, may be NULL */
	uint64_t max_bytes;
	pthread_mutex_t mu;
	pthread_cond_t cv_pop;         /* something to pop, or closed */
	pthread_cond_t cv_push;        /* room, or stopping */
	struct iocb_pipe__batch **ring;     /* memory FIFO, grows */
	size_t cap, head, count;
	uint64_t bytes;
	bool closed;
	void (*notify)(void *ctx);
	void *notify_ctx;
};

struct iocb_pipe__queue *iocb_pipe__queue_new(struct iocb_pipe *p, struct iocb_pipe__output *out, uint64_t max_bytes,
					      struct iocb_pipe__spool *spool)
{
	struct iocb_pipe__queue *q = iocb_xcalloc(1, sizeof(*q));
	pthread_condattr_t ca;

	q->pipe = p;
	q->out = out;
	q->spool = spool;
	q->max_bytes = max_bytes;
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_cond_init(&q->cv_pop, &ca);
	pthread_cond_init(&q->cv_push, &ca);
	pthread_condattr_destroy(&ca);
	q->cap = 64;
	q->ring = iocb_xcalloc(q->cap, sizeof(*q->ring));
	return q;
}

void iocb_pipe__queue_spill_rest(struct iocb_pipe__queue *q)
{
	for (;;) {
		struct iocb_pipe__batch *b = NULL;

		pthread_mutex_lock(&q->mu);
		if (q->count) {
			b = q->ring[q->head];
			q->head = (q->head + 1) % q->cap;
			q->count--;
			q->bytes -= b->len;
		}
		pthread_mutex_unlock(&q->mu);
		if (!b)
			break;
		iocb_pipe__queue_spill(q, b);
	}
	IOCB_M_SET(q->out->m.queue_bytes, 0);
	IOCB_M_SET(q->out->m.queue_batches, 0);
}

void iocb_pipe__queue_free(struct iocb_pipe__queue *q)
{
	if (!q)
		return;
	iocb_pipe__queue_spill_rest(q);
	iocb_pipe__spool_close(q->spool);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv_pop);
	pthread_cond_destroy(&q->cv_push);
	free(q->ring);
	free(q);
}

void iocb_pipe__queue_set_notify(struct iocb_pipe__queue *q, void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&q->mu);
	q->notify = fn;
	q->notify_ctx = ctx;
	pthread_mutex_unlock(&q->mu);
}

static void notify(struct iocb_pipe__queue *q)
{
	void (*fn)(void *);
	void *ctx;

	pthread_mutex_lock(&q->mu);
	fn = q->notify;
	ctx = q->notify_ctx;
	pthread_mutex_unlock(&q->mu);
	if (fn)
		fn(ctx);
}

static void enqueue_locked(struct iocb_pipe__queue *q, struct iocb_pipe__batch *b)
{
	if (q->count == q->cap) {
		struct iocb_pipe__batch **n = iocb_xcalloc(q->cap * 2, sizeof(*n));

		for (size_t i = 0; i < q->count; i++)
			n[i] = q->ring[(q->head + i) % q->cap];
		free(q->ring);
		q->ring = n;
		q->head = 0;
		q->cap *= 2;
	}
	q->ring[(q->head + q->count) % q->cap] = b;
	q->count++;
	q->bytes += b->len;
	IOCB_M_SET(q->out->m.queue_bytes, (int64_t)q->bytes);
	IOCB_M_SET(q->out->m.queue_batches, (int64_t)q->count);
}

int iocb_pipe__queue_push(struct iocb_pipe__queue *q, struct iocb_pipe__batch *b, int64_t *blocked_us)
{
	bool spool_full = false;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		/* An empty queue always takes one batch, however large: progress over precision. */
		if (q->count == 0 || q->bytes + b->len <= q->max_bytes) {
			enqueue_locked(q, b);
			pthread_cond_signal(&q->cv_pop);
			pthread_mutex_unlock(&q->mu);
			notify(q);
			return IOCB_OK;
		}
		if (q->spool && !spool_full) {
			int rc;

			pthread_mutex_unlock(&q->mu);
			rc = iocb_pipe__spool_append(q->spool, b, false);
			if (rc == IOCB_OK) {
				iocb_pipe__batch_settle(b);
				notify(q);
				return IOCB_OK;
			}
			/* Full (or failing): wait for memory room, try the spool again now and then. */
			spool_full = true;
			pthread_mutex_lock(&q->mu);
			continue;
		}
		if (iocb_pipe__stopping(q->pipe)) {
			pthread_mutex_unlock(&q->mu);
			iocb_pipe__queue_spill(q, b);
			return IOCB_ECANCELED;
		}
		{
			int64_t t0 = iocb_time_real_us();

			iocb_pipe__cv_wait(&q->cv_push, &q->mu, 0.1);
			if (blocked_us)
				IOCB_M_ADD(*blocked_us, iocb_time_real_us() - t0);
		}
		spool_full = false;
	}
}

struct iocb_pipe__batch *iocb_pipe__queue_pop(struct iocb_pipe__queue *q, double timeout_s)
{
	double end = iocb_time_mono_s() + (timeout_s > 0 ? timeout_s : 0);
	struct iocb_pipe__batch *b;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		if (q->count) {
			b = q->ring[q->head];
			q->ring[q->head] = NULL;
			q->head = (q->head + 1) % q->cap;
			q->count--;
			q->bytes -= b->len;
			IOCB_M_SET(q->out->m.queue_bytes, (int64_t)q->bytes);
			IOCB_M_SET(q->out->m.queue_batches, (int64_t)q->count);
			pthread_cond_broadcast(&q->cv_push);
			pthread_mutex_unlock(&q->mu);
			return b;
		}
		/* A closed queue leaves the spool for the next start: shutdown should not wait for a backlog. */
		if (q->closed)
			break;
		if (q->spool) {
			pthread_mutex_unlock(&q->mu);
			b = iocb_pipe__spool_read(q->spool);
			if (b)
				return b;
			pthread_mutex_lock(&q->mu);
			if (q->count || q->closed)
				continue;
		}
		double left = end - iocb_time_mono_s();
		if (left <= 0)
			break;
		iocb_pipe__cv_wait(&q->cv_pop, &q->mu, left < 0.25 ? left : 0.25);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

bool iocb_pipe__queue_closed(struct iocb_pipe__queue *q)
{
	bool r;

	pthread_mutex_lock(&q->mu);
	r = q->closed && q->count == 0;
	pthread_mutex_unlock(&q->mu);
	return r;
}

bool iocb_pipe__queue_idle(struct iocb_pipe__queue *q)
{
	bool r;

	pthread_mutex_lock(&q->mu);
	r = q->count == 0;
	pthread_mutex_unlock(&q->mu);
	return r && (!q->spool || !iocb_pipe__spool_has_unread(q->spool));
}

double iocb_pipe__queue_shutdown_left(struct iocb_pipe__queue *q)
{
	if (!iocb_pipe__stopping(q->pipe))
		return 1e9;
	return iocb_pipe__deadline(q->pipe) - iocb_time_mono_s();
}

void iocb_pipe__queue_close(struct iocb_pipe__queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	pthread_cond_broadcast(&q->cv_pop);
	pthread_cond_broadcast(&q->cv_push);
	pthread_mutex_unlock(&q->mu);
	notify(q);
}

void iocb_pipe__queue_wake(struct iocb_pipe__queue *q)
{
	pthread_mutex_lock(&q->mu);
	pthread_cond_broadcast(&q->cv_pop);
	pthread_cond_broadcast(&q->cv_push);
	pthread_mutex_unlock(&q->mu);
	notify(q);
}

/* Why a spilled batch could not be kept, for the logs. */
static const char *lost_why(const struct iocb_pipe__queue *q)
{
	return q->spool ? "the spool refused them (full or failing)"
			: "no spool to keep them (pipeline.state_dir unset or spool_max 0)";
}

bool iocb_pipe__queue_spill_tally(struct iocb_pipe__queue *q, struct iocb_pipe__batch *b,
				  struct iocb_pipe__queue_tally *t)
{
	uint32_t n = b->nlines;

	if (b->spool) {
		/* Read from the spool and not delivered: it is still in its segment, which stays (outstanding). */
		iocb_pipe__batch_settle_undelivered(b);
		if (t)
			t->kept++;
		return true;
	}
	if (q->spool && iocb_pipe__spool_append(q->spool, b, true) == IOCB_OK) {
		iocb_pipe__batch_settle(b);
		if (t)
			t->kept++;
		return true;
	}
	IOCB_M_ADD(q->out->m.lost, n);
	iocb_pipe__batch_settle(b);
	if (t) {
		t->lost++;
		t->lost_events += n;
	} else {
		iocb_log(IOCB_LOG_ERROR, "pipe", "\"events dropped at shutdown: %s\" output=\"%s\" events=%u", lost_why(q),
			 q->out->cfg->name, n);
	}
	return false;
}

void iocb_pipe__queue_spill(struct iocb_pipe__queue *q, struct iocb_pipe__batch *b)
{
	(void)iocb_pipe__queue_spill_tally(q, b, NULL);
}

void iocb_pipe__queue_tally_log(const struct iocb_pipe__queue *q, const struct iocb_pipe__queue_tally *t)
{
	if (t->kept)
		iocb_log(IOCB_LOG_WARN, "pipe",
			 "\"shutdown deadline: undelivered batches kept in the spool for the next start\" output=\"%s\" "
			 "batches=%zu",
			 q->out->cfg->name, t->kept);
	if (t->lost)
		iocb_log(IOCB_LOG_ERROR, "pipe",
			 "\"shutdown deadline: undelivered events dropped: %s\" output=\"%s\" batches=%zu events=%" PRIu64,
			 lost_why(q), q->out->cfg->name, t->lost, t->lost_events);
}
