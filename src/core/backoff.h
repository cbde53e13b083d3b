/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retry delays: exponential backoff with jitter, one rule for every retry
 * loop (the pipeline's outputs, the MISP REST pull).
 *
 * The n-th retry of a failure streak (attempt 0 is the first retry) waits
 *
 *     cap   = min(max_s, initial_s * 2^attempt)
 *     delay = cap * (1 - jitter * u),  u uniform in [0, 1)
 *
 * and never less than 1 ms. So a delay is never longer than the schedule
 * and never longer than max_s (the "longest backoff" the configuration
 * names), and `jitter` says how far below it a delay may fall:
 *   - IOCB_BACKOFF_FULL_JITTER (1.0): uniform in (0, cap] - many clients
 *     retrying against one server (Elasticsearch requests, hosts) spread
 *     out instead of arriving together;
 *   - a small fraction (0.2): a single client whose waits should stay
 *     close to the schedule (the MISP pull: a wait there is also the pause
 *     before the next request, so a near-zero one would hammer the server).
 * The random numbers come from a per-thread xorshift64 generator seeded
 * once from the clock and the thread, so two threads (or two retries in
 * the same microsecond) do not draw the same jitter.
 * Any thread, no lock.
 */
#ifndef IOCB_CORE_BACKOFF_H
#define IOCB_CORE_BACKOFF_H

/* jitter = 1: full jitter, uniform in (0, cap]. */
#define IOCB_BACKOFF_FULL_JITTER 1.0
/* The shortest delay returned, in seconds. */
#define IOCB_BACKOFF_MIN_S 0.001

/*
 * The delay in seconds before retry number `attempt` (0 = first) of a
 * failure streak, by the rule above. initial_s > 0, max_s >= initial_s;
 * jitter in [0, 1] (clamped). Attempts past 30 count as 30.
 */
double iocb_backoff_delay(double initial_s, double max_s, unsigned attempt, double jitter);

/* A uniform double in [0, 1) from this thread's generator (the one the jitter uses). */
double iocb_backoff_rand01(void);

#endif
