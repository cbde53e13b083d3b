/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exports kept current: one thread that rewrites a set of export files
 * (each a format, a path and a selection) when the store changes. One store
 * listener for all of them (the store allows IOCB_STORE_MAX_LISTENERS): it
 * only raises a flag and notes the time of the first change, as a listener
 * runs inside every writer's critical section. The thread writes every file
 * at start, then, once changes are pending, waits until none came for
 * `debounce_ms` (or the first is max_delay_ms old) and at least
 * min_interval_ms passed since the last write (Zeek sees a change by inode
 * or whole-second mtime), and rewrites every file atomically (export.h's
 * sink). A failed write leaves the old file, counts an error and is retried
 * at the next change or after retry_ms.
 * Threads: start/stop from one controlling thread; stats from any thread.
 */
#ifndef IOCB_EXPORT_WATCH_H
#define IOCB_EXPORT_WATCH_H

#include <stdint.h>

#include "export/export.h"

#define IOCB_EXPORT_WATCH_MAX 16

struct iocb_export_job {
	const char *name;                /* for logs and metrics (borrowed, outlives the watch) */
	const struct iocb_export_format *format;
	const char *path;                /* the file replaced (borrowed) */
	struct iocb_export_opts sel;     /* selection and format options (pointers borrowed) */
};

struct iocb_export_watch_opts {
	const struct iocb_export_job *jobs; /* borrowed; copied */
	size_t njobs;                       /* <= IOCB_EXPORT_WATCH_MAX */
	uint32_t debounce_ms;               /* quiet time after a change before rewriting; 0 = 1000 */
	uint32_t max_delay_ms;              /* rewrite at the latest this long after the first change; 0 = 10 * debounce */
	uint32_t min_interval_ms;           /* between two writes of the files; 0 = 1000 */
	uint32_t retry_ms;                  /* after a failed write; 0 = 30000 */
	/* Called on the watch thread after each successful rewrite of job i that a store change
	 * caused (not the write at start); NULL = none. Must not block. */
	void (*on_written)(void *ud, size_t job);
	void *ud;                           /* for on_written */
};

/* Per job; read with iocb_export_watch_stats(). */
struct iocb_export_job_stats {
	uint64_t writes;          /* files written */
	uint64_t errors;          /* failed writes (the old file stayed) */
	uint64_t entries;         /* lines in the last file written */
	uint64_t skipped;         /* records the last write could not carry */
	uint64_t removals;        /* zeek with removals: meta.remove T lines in the last file */
	int64_t last_write_us;    /* wall clock of the last successful write; 0 = none */
};

struct iocb_export_watch;

/*
 * Register the listener and start the thread, which writes every file at
 * once. The store must outlive the watch. IOCB_EINVAL, IOCB_ELIMIT (no
 * listener slot), IOCB_ENOMEM, IOCB_EIO (thread).
 */
int iocb_export_watch_start(struct iocb_export_watch **out, struct iocb_store *s,
			    const struct iocb_export_watch_opts *o, struct iocb_err *err) IOCB_MUST_USE;
/* Unregister, stop the thread (a write in progress finishes), free. NULL is a no-op. */
void iocb_export_watch_stop(struct iocb_export_watch *w);
/* Job i's counters (i < njobs). Any thread. */
void iocb_export_watch_stats(struct iocb_export_watch *w, size_t i, struct iocb_export_job_stats *out);

#endif
