/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Counters read by /metrics while their owner thread writes them.
 *
 * A counter is a plain integer field (uint64_t, int64_t or a narrower
 * type) in a module's metrics struct. Its writer updates it and any thread
 * reads it through these macros: relaxed atomics, because a scrape needs
 * each value untorn, not ordered against the others. Reads are therefore a
 * consistent value of each counter, not a snapshot of the whole set.
 * Any thread, no lock.
 */
#ifndef IOCB_CORE_COUNTER_H
#define IOCB_CORE_COUNTER_H

/* field += n; returns nothing useful (the old value, ignored). */
#define IOCB_M_ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
/* field -= n (gauges that go down: queue depths, connections). */
#define IOCB_M_SUB(field, n) __atomic_fetch_sub(&(field), (n), __ATOMIC_RELAXED)
/* field = v (gauges and timestamps). */
#define IOCB_M_SET(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELAXED)
/* The current value of field. */
#define IOCB_M_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

#endif
