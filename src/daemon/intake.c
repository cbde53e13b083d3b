/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sightings from the bus into the durable queue, off the bus thread.
 *
 * Committing each frame on the bus thread (iocb_sightings_from_bus(): one
 * LMDB commit, one fsync) capped intake near 1,000 sightings/s and held the
 * bus thread, and with it every subscriber's indicators, for the length of
 * each commit. So the bus thread only copies a frame into a bounded list
 * (iocb_daemon__intake_push, never blocks), and the intake thread parses
 * what has gathered (iocb_sightings_parse_bus) and commits it with
 * iocb_sightings_add_many(), up to INTAKE_BATCH at a time: one fsync per
 * batch.
 *
 * What this trades: a frame is durable once its batch commits (the
 * `received` counter says so), a few milliseconds after it arrived. A
 * kill -9 in between loses what is in the list. ZeroMQ PUB/SUB has no
 * acknowledgement, so an app cannot tell that apart from a frame lost in
 * its own socket; a clean stop commits the list. A full list (a flood
 * past INTAKE_MAX_FRAMES or INTAKE_MAX_BYTES) drops and counts.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/counter.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/prom.h"
#include "core/time.h"
#include "daemon/internal.h"
#include "sightings/sightings.h"

#define MOD "daemon"
#define INTAKE_MAX_FRAMES 65536
#define INTAKE_MAX_BYTES ((size_t)64 << 20)
#define INTAKE_BATCH 4096
#define LOG_EVERY_NS (10LL * 1000000000) /* a refused frame is logged at most this often */

struct frame {
	struct frame *next;
	int gen;
	size_t len;
	char json[];
};

struct iocb_daemon__intake {
	struct iocb_sightings *q;          /* borrowed */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct frame *head, **tail;        /* mu */
	size_t n, bytes;                   /* mu */
	bool stop;                         /* mu */
	pthread_t th;
	uint64_t dropped;                  /* atomic: frames the full list refused */
	uint64_t lost;                     /* atomic: parsed sightings a failed commit did not keep */
	int64_t logged_ns;                 /* intake thread: last refusal logged */
	struct iocb_sightings_bus_item *parsed; /* intake thread: INTAKE_BATCH */
	struct iocb_sightings_item *items;      /* intake thread: INTAKE_BATCH views into parsed[] */
};

static void log_limited(struct iocb_daemon__intake *in, const char *what, const struct iocb_err *err)
{
	int64_t now = iocb_time_mono_ns();

	if (in->logged_ns && now - in->logged_ns < LOG_EVERY_NS)
		return;
	in->logged_ns = now;
	iocb_log(IOCB_LOG_WARN, MOD, "\"%s\" error=\"%s\"", what, err->msg);
}

static void commit(struct iocb_daemon__intake *in, size_t n)
{
	struct iocb_err err = {0};

	if (n && iocb_sightings_add_many(in->q, in->items, n, &err) < 0) {
		IOCB_M_ADD(in->lost, n);
		log_limited(in, "sightings from the bus not queued", &err);
	}
}

/* Parse and commit a taken list; frees it. */
static void drain(struct iocb_daemon__intake *in, struct frame *f)
{
	size_t k = 0;

	while (f) {
		struct frame *next = f->next;
		struct iocb_err err = {0};

		if (iocb_sightings_parse_bus(f->gen, f->json, f->len, &in->parsed[k], &err) == IOCB_OK) {
			in->items[k] = in->parsed[k].item; /* its views point into parsed[k], which stays put */
			if (++k == INTAKE_BATCH) {
				commit(in, k);
				k = 0;
			}
		} else {
			/* Let the queue count it as `bad` (it parses again, fails, queues nothing). */
			struct iocb_err again = {0};
			int counted = iocb_sightings_from_bus(in->q, f->gen, f->json, f->len, &again);
			(void)counted; /* the same refusal as err's */
			log_limited(in, "sighting from the bus refused", &err);
		}
		free(f);
		f = next;
	}
	commit(in, k);
}

static void *intake_main(void *arg)
{
	struct iocb_daemon__intake *in = arg;

	for (;;) {
		struct frame *list;
		bool stop;

		pthread_mutex_lock(&in->mu);
		while (!in->stop && !in->head)
			pthread_cond_wait(&in->cv, &in->mu);
		list = in->head;
		stop = in->stop;
		in->head = NULL;
		in->tail = &in->head;
		in->n = in->bytes = 0;
		pthread_mutex_unlock(&in->mu);
		drain(in, list);
		if (stop && !list)
			return NULL;
	}
}

int iocb_daemon__intake_start(struct iocb_sightings *q, struct iocb_daemon__intake **out, struct iocb_err *err)
{
	struct iocb_daemon__intake *in = iocb_xcalloc(1, sizeof(*in));

	in->q = q;
	in->tail = &in->head;
	in->parsed = iocb_xcalloc(INTAKE_BATCH, sizeof(*in->parsed));
	in->items = iocb_xcalloc(INTAKE_BATCH, sizeof(*in->items));
	pthread_mutex_init(&in->mu, NULL);
	pthread_cond_init(&in->cv, NULL);
	if (pthread_create(&in->th, NULL, intake_main, in) != 0) {
		pthread_cond_destroy(&in->cv);
		pthread_mutex_destroy(&in->mu);
		free(in->parsed);
		free(in->items);
		free(in);
		return iocb_err_set(err, IOCB_EIO, "sightings: cannot start the bus intake thread");
	}
	*out = in;
	return IOCB_OK;
}

void iocb_daemon__intake_push(struct iocb_daemon__intake *in, int gen, const char *json, size_t len)
{
	/* Copied outside the lock, so the intake thread's take never waits for a memcpy. */
	struct frame *f = iocb_xmalloc(sizeof(*f) + len);
	bool full;

	f->next = NULL;
	f->gen = gen;
	f->len = len;
	memcpy(f->json, json, len);
	pthread_mutex_lock(&in->mu);
	full = in->n >= INTAKE_MAX_FRAMES || in->bytes + len > INTAKE_MAX_BYTES;
	if (!full) {
		in->n++;
		in->bytes += len;
		*in->tail = f;
		in->tail = &f->next;
		pthread_cond_signal(&in->cv);
	}
	pthread_mutex_unlock(&in->mu);
	if (full) {
		free(f);
		IOCB_M_ADD(in->dropped, 1);
	}
}

void iocb_daemon__intake_stop(struct iocb_daemon__intake *in)
{
	if (!in)
		return;
	pthread_mutex_lock(&in->mu);
	in->stop = true;
	pthread_cond_signal(&in->cv);
	pthread_mutex_unlock(&in->mu);
	pthread_join(in->th, NULL); /* it commits what was pushed before the stop */
	pthread_cond_destroy(&in->cv);
	pthread_mutex_destroy(&in->mu);
	free(in->parsed);
	free(in->items);
	free(in);
}

int iocb_daemon__intake_metrics(const struct iocb_daemon__intake *in, struct iocb_buf *out)
{
	struct iocb_prom p;

	iocb_prom_begin(&p, out);
	iocb_prom_head(&p, "iocbus_sightings_bus_dropped_total", "counter",
		       "Sighting frames from the bus dropped before the queue: hand-off full, or the commit failed.");
	iocb_prom_u64(&p, "iocbus_sightings_bus_dropped_total", NULL, IOCB_M_GET(in->dropped) + IOCB_M_GET(in->lost));
	return iocb_prom_end(&p, "sightings intake");
}
