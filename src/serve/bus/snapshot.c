/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots answered from the store, on their own thread so a walk of a
 * million records never runs on the bus thread (which keeps live frames
 * and management requests moving) nor holds the store's writers.
 *
 * The bus thread queues a job (subscriber slot, generation, window); this
 * thread walks the store with iocb_store_walk() in slices of WALK_SLOTS
 * slots, each inside its own short read-side section (so commits are held
 * back for one slice at most, not the whole walk), renders every live
 * indicator in the window (to_ids, expressible in the generation, attribute
 * timestamp >= now - window; window 0 = all) as an ADD frame
 * "<p2p><suffix> <json>", and hands the frames to the bus thread in batches
 * of about 256 KiB over an inproc PUSH/PULL pair, then an end marker.
 * Handing over blocks on a small bound (BATCHES_IN_FLIGHT): when the
 * subscriber's pipe is full the bus thread stops taking batches, which
 * slows this thread and nothing else. A job the bus thread cancels
 * (snap_cancel: the subscriber left or went stale) is abandoned at the next
 * slice. Jobs run one at a time, in order.
 */
#include "serve/bus/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/counter.h"
#include "core/log.h"
#include "core/time.h"

#define MOD "bus"
#define WALK_SLOTS 2048
#define BATCHES_IN_FLIGHT 8
#define FULL 1 /* snap_row: the batch is full, flush and come back to this record */

struct snap_ctx {
	struct iocb_bus *b;
	const struct iocb_bus__job *job;
	uint64_t cutoff;         /* oldest attribute timestamp in the window; 0 = all */
	struct iocb_buf batch;   /* header + u32 length + frame ... */
	struct iocb_buf json, scratch;
	uint64_t rows;           /* frames in this job */
};

uint64_t iocb_bus__snap_request(struct iocb_bus *b, struct iocb_bus__sub *s, uint64_t window_s)
{
	uint64_t id = 0;
	pthread_mutex_lock(&b->job_mu);
	if (b->job_n < IOCB_BUS__MAX_JOBS) {
		struct iocb_bus__job *j = &b->jobs[(b->job_head + b->job_n) % IOCB_BUS__MAX_JOBS];
		id = ++b->next_job;
		j->id = id;
		j->slot = (unsigned)(s - b->subs);
		j->gen = s->gen;
		j->window_s = window_s;
		memcpy(j->p2p, s->p2p, sizeof(j->p2p));
		b->job_n++;
		pthread_cond_signal(&b->job_cv);
	}
	pthread_mutex_unlock(&b->job_mu);
	if (id)
		IOCB_M_ADD(b->st.snapshot_jobs, 1);
	return id;
}

/* Empty the batch but for room for its header (written at flush). */
static void batch_reset(struct snap_ctx *c)
{
	static const struct iocb_bus__batch_hdr zero;
	iocb_buf_reset(&c->batch);
	if (iocb_buf_append(&c->batch, &zero, sizeof(zero)) < 0)
		abort(); /* the batch has no cap */
}

static bool cancelled(struct snap_ctx *c)
{
	return IOCB_M_GET(c->b->stop) || __atomic_load_n(&c->b->snap_cancel, __ATOMIC_ACQUIRE) == c->job->id;
}

/* Send the batch (blocking in short steps: the backpressure); false when cancelled. */
static bool flush(struct snap_ctx *c, bool end)
{
	struct iocb_bus__batch_hdr h = {.job = c->job->id, .slot = c->job->slot, .end = end ? 1 : 0};
	if (!end && c->batch.len <= sizeof(h))
		return true;
	memcpy(c->batch.ptr, &h, sizeof(h));
	for (;;) {
		if (cancelled(c))
			return false;
		if (zmq_send(c->b->snap_push, c->batch.ptr, c->batch.len, 0) >= 0)
			break;
		if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
			return false;
	}
	batch_reset(c);
	return true;
}

static int snap_row(void *ud, const struct iocb_store_attr *a)
{
	struct snap_ctx *c = ud;
	struct iocb_store_attr_view v;
	const char *suffix = iocb_bus__suffix[c->job->gen][IOCB_BUS_KIND_INTEL];
	size_t sl = strlen(suffix);

	iocb_store_attr_view(a, &v);
	if (!v.to_ids || v.timestamp < c->cutoff)
		return 0;
	if (iocb_bus__render(c->job->gen, a, false, 0, &c->json, &c->scratch) != IOCB_OK)
		return 0; /* not expressible (or over the frame cap): never live */
	size_t fl = IOCB_BUS_P2P_LEN + sl + 1 + c->json.len;
	if (c->batch.len > sizeof(struct iocb_bus__batch_hdr) && c->batch.len + 4 + fl > IOCB_BUS__BATCH_BYTES)
		return FULL;
	uint32_t l32 = (uint32_t)fl;
	if (iocb_buf_append(&c->batch, &l32, 4) < 0 || iocb_buf_append(&c->batch, c->job->p2p, IOCB_BUS_P2P_LEN) < 0 ||
	    iocb_buf_append(&c->batch, suffix, sl) < 0 || iocb_buf_putc(&c->batch, ' ') < 0 ||
	    iocb_buf_append(&c->batch, c->json.ptr, c->json.len) < 0)
		return IOCB_ELIMIT; /* cannot happen: the batch has no cap */
	c->rows++;
	return 0;
}

static void run_job(struct snap_ctx *c)
{
	struct iocb_store_cursor cur = {0};
	int64_t t0 = iocb_time_mono_ns();
	int rc;

	if (c->job->window_s) {
		uint64_t now = (uint64_t)time(NULL);
		c->cutoff = c->job->window_s >= now ? 0 : now - c->job->window_s;
	} else {
		c->cutoff = 0;
	}
	c->rows = 0;
	batch_reset(c);
	do {
		if (cancelled(c))
			return;
		rc = iocb_store_walk(c->b->o.store, &cur, WALK_SLOTS, snap_row, c);
		if ((rc == FULL || c->batch.len >= IOCB_BUS__BATCH_BYTES) && !flush(c, false))
			return;
	} while (rc == IOCB_EAGAIN || rc == FULL);
	if (rc != IOCB_OK || !flush(c, false))
		return;
	if (!flush(c, true))
		return;
	iocb_log(IOCB_LOG_INFO, MOD, "\"snapshot sent\" topic=\"%s\" indicators=%llu seconds=%.3f restarts=%u",
		 c->job->p2p, (unsigned long long)c->rows, (double)(iocb_time_mono_ns() - t0) / 1e9, cur.restarts);
}

static void *snap_main(void *arg)
{
	struct iocb_bus *b = arg;
	struct snap_ctx c = {.b = b};
	struct iocb_bus__job job;

	iocb_buf_init(&c.batch, 0);
	iocb_buf_init(&c.json, b->o.max_frame_bytes);
	iocb_buf_init(&c.scratch, b->o.max_frame_bytes);
	iocb_store_reader_register();
	while (!IOCB_M_GET(b->stop)) {
		bool have = false;
		pthread_mutex_lock(&b->job_mu);
		if (!b->job_n) {
			struct timespec dl = iocb_time_deadline(CLOCK_MONOTONIC, 0.1);
			pthread_cond_timedwait(&b->job_cv, &b->job_mu, &dl);
		}
		if (b->job_n) {
			job = b->jobs[b->job_head];
			b->job_head = (b->job_head + 1) % IOCB_BUS__MAX_JOBS;
			b->job_n--;
			have = true;
		}
		pthread_mutex_unlock(&b->job_mu);
		if (have) {
			c.job = &job;
			run_job(&c);
		}
	}
	iocb_store_reader_unregister();
	iocb_buf_fini(&c.batch);
	iocb_buf_fini(&c.json);
	iocb_buf_fini(&c.scratch);
	return NULL;
}

int iocb_bus__snap_start(struct iocb_bus *b, struct iocb_err *err)
{
	char inproc[64];
	int hwm = BATCHES_IN_FLIGHT, one = 1, tmo = 50;

	if (!b->o.store)
		return IOCB_OK;
	b->snap_pull = zmq_socket(b->ctx, ZMQ_PULL);
	b->snap_push = zmq_socket(b->ctx, ZMQ_PUSH);
	if (!b->snap_pull || !b->snap_push)
		return iocb_err_set(err, IOCB_EIO, "bus: zmq_socket: %s", zmq_strerror(zmq_errno()));
	snprintf(inproc, sizeof(inproc), "inproc://iocb-bus-snap-%p", (void *)b);
	zmq_setsockopt(b->snap_push, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(b->snap_push, ZMQ_SNDTIMEO, &tmo, sizeof(tmo));
	zmq_setsockopt(b->snap_pull, ZMQ_RCVHWM, &one, sizeof(one));
	if (zmq_bind(b->snap_pull, inproc) != 0 || zmq_connect(b->snap_push, inproc) != 0)
		return iocb_err_set(err, IOCB_EIO, "bus: inproc snapshot queue: %s", zmq_strerror(zmq_errno()));
	if (pthread_create(&b->snap_th, NULL, snap_main, b) != 0)
		return iocb_err_set(err, IOCB_EIO, "bus: cannot start its snapshot thread");
	b->snap_started = true;
	return IOCB_OK;
}

void iocb_bus__snap_stop(struct iocb_bus *b)
{
	if (b->snap_started) {
		IOCB_M_SET(b->stop, 1);
		pthread_cond_signal(&b->job_cv);
		pthread_join(b->snap_th, NULL);
		b->snap_started = false;
	}
}
