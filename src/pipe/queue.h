/* SPDX-License-Identifier: Apache-2.0 */
/* Core-private part of the output queue (the outputs' part is in internal.h). */
#ifndef IOCB_PIPE_QUEUE_H
#define IOCB_PIPE_QUEUE_H

#include "pipe/internal.h"
#include "pipe/spool.h"

/* A queue for `out` holding up to max_bytes in memory, then `spool` (owned; may be NULL). */
struct iocb_pq *iocb_pq_new(struct iocb_pipe *p, struct iocb_pout *out, uint64_t max_bytes, struct iocb_spool *spool);
/* No more pushes will come: pops return NULL once memory is empty (the spool stays for the next start). */
void iocb_pq_close(struct iocb_pq *q);
/* Wake every waiter (the pipe started stopping). */
void iocb_pq_wake(struct iocb_pq *q);
/* After the output joined: spill what it never popped (it stopped at the deadline), so every batch settles. */
void iocb_pq_spill_rest(struct iocb_pq *q);
/* After the output joined. Frees the spool too. */
void iocb_pq_free(struct iocb_pq *q);
/* True when nothing is queued in memory and nothing unread is in the spool. */
bool iocb_pq_idle(struct iocb_pq *q);

/*
 * pipe.c: settle a batch replayed from a spool without delivering it (shutdown):
 * its segment is kept on disk for the next start.
 */
void iocb_pbatch_settle_undelivered_(struct iocb_pbatch *b);

/* pipe.c: the pipe is stopping / its shutdown deadline (monotonic seconds). */
bool iocb_pipe_stopping_(const struct iocb_pipe *p);
double iocb_pipe_deadline_(const struct iocb_pipe *p);

/* pipe.c: pthread_cond_timedwait for `s` seconds (CLOCK_REALTIME condvars). */
void iocb_pipe_cv_wait(pthread_cond_t *cv, pthread_mutex_t *mu, double s);
/* pipe.c: mkdir -p with mode 0700; errors name `what` (a config key) and the directory. */
int iocb_pipe_mkdir_p(const char *dir, const char *what, struct iocb_err *err) IOCB_MUST_USE;

/* pipe.c, for metrics.c: the pipe's inputs and outputs (fixed after start). */
struct iocb_pipe_view {
	size_t nins, nouts;
	struct iocb_pin *const *ins;
	struct iocb_pout *const *outs;
};
void iocb_pipe_view_(struct iocb_pipe *p, struct iocb_pipe_view *v);

#endif
