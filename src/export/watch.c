/* SPDX-License-Identifier: Apache-2.0 */
/* Export files rewritten on store changes (watch.h). */
#include "export/watch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/time.h"

#define WATCH_TICK_NS (50 * 1000000LL) /* how often the thread looks at the flag and the stop request */

struct iocb_export_watch {
	struct iocb_store *s;
	struct iocb_export_watch_opts o;
	struct iocb_export_job jobs[IOCB_EXPORT_WATCH_MAX];
	int listener;
	pthread_t thread;
	atomic_bool stop;
	atomic_int_fast64_t first_change_ns; /* monotonic time of the first pending change; 0 = none */
	atomic_int_fast64_t last_change_ns;  /* of the latest one */
	pthread_mutex_t mu;                  /* guards st */
	struct iocb_export_job_stats st[IOCB_EXPORT_WATCH_MAX];
};

/* The store listener: under the writer lock, so only two atomic stores. */
static void on_change(void *ud, const struct iocb_store_attr *old, const struct iocb_store_attr *nw)
{
	struct iocb_export_watch *w = ud;
	int64_t now = iocb_time_mono_ns();
	int_fast64_t zero = 0;

	(void)old;
	(void)nw;
	atomic_store_explicit(&w->last_change_ns, now, memory_order_relaxed);
	atomic_compare_exchange_strong(&w->first_change_ns, &zero, now);
}

/* Write job i's file once; true on success. */
static bool write_job(struct iocb_export_watch *w, size_t i)
{
	const struct iocb_export_job *j = &w->jobs[i];
	struct iocb_export_stats st = {0};
	struct iocb_export_sink k;
	struct iocb_err err = {0};
	bool ok = iocb_export_sink_path(&k, j->path, &err) == IOCB_OK &&
		  j->format->run(w->s, &j->sel, &k, &st, &err) == IOCB_OK;

	if (ok)
		ok = iocb_export_sink_commit(&k, &err) == IOCB_OK;
	else
		iocb_export_sink_abort(&k);
	pthread_mutex_lock(&w->mu);
	if (ok) {
		w->st[i].writes++;
		w->st[i].entries = st.written;
		w->st[i].skipped = st.skipped;
		w->st[i].removals = st.removals;
		w->st[i].last_write_us = iocb_time_real_us();
	} else {
		w->st[i].errors++;
	}
	pthread_mutex_unlock(&w->mu);
	if (!ok)
		iocb_log(IOCB_LOG_WARN, "export", "\"export not written, the old file stays\" name=%s path=\"%s\" err=\"%s\"",
			 j->name, j->path, err.msg);
	return ok;
}

/* Write every file; true when all succeeded. notify: call on_written for each file written. */
static bool write_all(struct iocb_export_watch *w, bool notify)
{
	bool ok = true;

	for (size_t i = 0; i < w->o.njobs; i++) {
		bool one = write_job(w, i);

		if (one && notify && w->o.on_written)
			w->o.on_written(w->o.ud, i);
		ok &= one;
	}
	return ok;
}

/* True when pending changes are due for a write at `now`. */
static bool due(const struct iocb_export_watch *w, int64_t now, int64_t first, int64_t last_write)
{
	int64_t last = atomic_load_explicit(&w->last_change_ns, memory_order_relaxed);

	if (now - last_write < (int64_t)w->o.min_interval_ms * 1000000)
		return false;
	return now - last >= (int64_t)w->o.debounce_ms * 1000000 ||
	       now - first >= (int64_t)w->o.max_delay_ms * 1000000;
}

static void *watch_main(void *arg)
{
	struct iocb_export_watch *w = arg;
	struct timespec tick = {0, WATCH_TICK_NS};
	int64_t last_write = iocb_time_mono_ns();
	int64_t retry_at = 0;

	iocb_store_reader_register();
	if (!write_all(w, false))
		retry_at = last_write + (int64_t)w->o.retry_ms * 1000000;
	while (!atomic_load(&w->stop)) {
		int64_t now = iocb_time_mono_ns();
		int64_t first = atomic_load(&w->first_change_ns);

		if ((first && due(w, now, first, last_write)) || (retry_at && now >= retry_at)) {
			/* Clear before the walk: a change during it is seen next time. */
			atomic_store(&w->first_change_ns, 0);
			last_write = now;
			retry_at = write_all(w, true) ? 0 : now + (int64_t)w->o.retry_ms * 1000000;
		}
		nanosleep(&tick, NULL);
	}
	iocb_store_reader_unregister();
	return NULL;
}

int iocb_export_watch_start(struct iocb_export_watch **out, struct iocb_store *s,
			    const struct iocb_export_watch_opts *o, struct iocb_err *err)
{
	struct iocb_export_watch *w;

	*out = NULL;
	if (!o->njobs || o->njobs > IOCB_EXPORT_WATCH_MAX)
		return iocb_err_set(err, IOCB_EINVAL, "exports: 1 to %d files", IOCB_EXPORT_WATCH_MAX);
	w = calloc(1, sizeof(*w));
	if (!w)
		return iocb_err_set(err, IOCB_ENOMEM, "exports: out of memory");
	w->s = s;
	w->o = *o;
	memcpy(w->jobs, o->jobs, o->njobs * sizeof(*o->jobs));
	w->o.jobs = w->jobs;
	w->o.debounce_ms = o->debounce_ms ? o->debounce_ms : 1000;
	w->o.max_delay_ms = o->max_delay_ms ? o->max_delay_ms : 10 * w->o.debounce_ms;
	w->o.min_interval_ms = o->min_interval_ms ? o->min_interval_ms : 1000;
	w->o.retry_ms = o->retry_ms ? o->retry_ms : 30000;
	pthread_mutex_init(&w->mu, NULL);
	w->listener = iocb_store_listen(s, on_change, w);
	if (w->listener < 0) {
		pthread_mutex_destroy(&w->mu);
		free(w);
		return iocb_err_set(err, IOCB_ELIMIT, "exports: no store listener slot left");
	}
	if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
		iocb_store_unlisten(s, w->listener);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return iocb_err_set(err, IOCB_EIO, "exports: cannot start the thread");
	}
	*out = w;
	return IOCB_OK;
}

void iocb_export_watch_stop(struct iocb_export_watch *w)
{
	if (!w)
		return;
	iocb_store_unlisten(w->s, w->listener);
	atomic_store(&w->stop, true);
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

void iocb_export_watch_stats(struct iocb_export_watch *w, size_t i, struct iocb_export_job_stats *out)
{
	pthread_mutex_lock(&w->mu);
	*out = w->st[i];
	pthread_mutex_unlock(&w->mu);
}
