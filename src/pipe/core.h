/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Core-private part of the log pipeline: what pipe.c, queue.c, spool.c and
 * metrics.c share and no driver sees (the drivers' contract is internal.h).
 * The spool's unit test and fuzzer include it too.
 *
 * The spool of an output is a directory of append-only segment files
 * `seg-<16 hex>.spool`, each a sequence of records
 *     "IOCBSPL1" | u32 data_len | u32 nlines | u32 flags (1 = ids) | u32 xxh32(ids + data)
 *     | ids (nlines * 16 bytes, when flags & 1) | data (whole lines)
 * in host byte order (the spool never leaves the machine). A record is
 * written with one write() (a crash leaves at most a torn last record, which
 * the reader detects by length or checksum and skips with a warning).
 * Segments are read oldest first; a segment is deleted once it is read to
 * its end and every batch read from it was settled. A restart replays every
 * segment still present, so a batch delivered just before a crash may be
 * delivered again (at least once).
 *
 * Thread-safe (one mutex, a leaf).
 */
#ifndef IOCB_PIPE_CORE_H
#define IOCB_PIPE_CORE_H

#include "pipe/internal.h"

/* ==================================================================== spool */

/* Open or create `dir` (mode 0700) and index the segments already in it. */
int iocb_pipe__spool_open(const char *dir, uint64_t max_bytes, bool fsync, struct iocb_pipe__output_metrics *m,
		    struct iocb_pipe__spool **out, struct iocb_err *err) IOCB_MUST_USE;
void iocb_pipe__spool_close(struct iocb_pipe__spool *s);

/*
 * Append b's lines. IOCB_ELIMIT when it would pass max_bytes (unless
 * `force`: shutdown spills always write), IOCB_EIO on a write error (logged).
 */
int iocb_pipe__spool_append(struct iocb_pipe__spool *s, const struct iocb_pipe__batch *b, bool force) IOCB_MUST_USE;

/* True when a record is waiting to be read. */
bool iocb_pipe__spool_has_unread(struct iocb_pipe__spool *s);

/* Read the oldest unread record as a new batch (pending = 1, in = NULL), or NULL. */
struct iocb_pipe__batch *iocb_pipe__spool_read(struct iocb_pipe__spool *s);

/* A batch read from segment `seg` was settled. */
void iocb_pipe__spool_release(struct iocb_pipe__spool *s, uint64_t seg);

/* ==================================================================== queue */

/* The outputs' part of the queue is in internal.h. */
/* A queue for `out` holding up to max_bytes in memory, then `spool` (owned; may be NULL). */
struct iocb_pipe__queue *iocb_pipe__queue_new(struct iocb_pipe *p, struct iocb_pipe__output *out, uint64_t max_bytes,
					      struct iocb_pipe__spool *spool);
/* No more pushes will come: pops return NULL once memory is empty (the spool stays for the next start). */
void iocb_pipe__queue_close(struct iocb_pipe__queue *q);
/* Wake every waiter (the pipe started stopping). */
void iocb_pipe__queue_wake(struct iocb_pipe__queue *q);
/* After the output joined: spill what it never popped (it stopped at the deadline), so every batch settles. */
void iocb_pipe__queue_spill_rest(struct iocb_pipe__queue *q);
/* After the output joined. Frees the spool too. */
void iocb_pipe__queue_free(struct iocb_pipe__queue *q);
/* True when nothing is queued in memory and nothing unread is in the spool. */
bool iocb_pipe__queue_idle(struct iocb_pipe__queue *q);

/*
 * pipe.c: settle a batch replayed from a spool without delivering it (shutdown):
 * its segment is kept on disk for the next start.
 */
void iocb_pipe__batch_settle_undelivered(struct iocb_pipe__batch *b);

/* pipe.c: the pipe is stopping / its shutdown deadline (monotonic seconds). */
bool iocb_pipe__stopping(const struct iocb_pipe *p);
double iocb_pipe__deadline(const struct iocb_pipe *p);

/* pipe.c: pthread_cond_timedwait for `s` seconds (CLOCK_REALTIME condvars). */
void iocb_pipe__cv_wait(pthread_cond_t *cv, pthread_mutex_t *mu, double s);
/* pipe.c: mkdir -p with mode 0700; errors name `what` (a config key) and the directory. */
int iocb_pipe__mkdir_p(const char *dir, const char *what, struct iocb_err *err) IOCB_MUST_USE;

/* pipe.c, for metrics.c: the pipe's inputs and outputs (fixed after start). */
struct iocb_pipe__view {
	size_t nins, nouts;
	struct iocb_pipe__input *const *ins;
	struct iocb_pipe__output *const *outs;
};
void iocb_pipe__view_get(struct iocb_pipe *p, struct iocb_pipe__view *v);

#endif
