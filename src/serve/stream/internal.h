/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the indicator stream (stream.h): the state shared by stream.c
 * (producer, listener, delivery reports, thread), sync.c (baseline walks
 * and resends) and keyset.c (bounded sets of attribute uuids).
 *
 * Lock: `mu` guards every field marked (mu), and every call that produces,
 * so that the order of produce calls per key is the order of the changes.
 * Taken by the listener (under the store's writer lock), by the delivery
 * report callback and by the stream thread; never held while waiting for
 * anything (no poll, no store writer lock, no grace period).
 */
#ifndef IOCB_SERVE_STREAM_INTERNAL_H
#define IOCB_SERVE_STREAM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "core/buf.h"
#include "core/log.h"
#include "serve/stream/stream.h"
#include "store/store.h"

#define IOCB_STREAM__MOD "stream"
#define IOCB_STREAM__UUID_LEN 36                /* canonical uuid text, the message key */
#define IOCB_STREAM__SET_MAX ((size_t)1 << 20)  /* keys in the resend and the touched sets */
#define IOCB_STREAM__STALE_MAX ((size_t)16 << 20) /* keys read back from the topic (32 bytes each) */
#define IOCB_STREAM__MSG_MAX ((size_t)4 << 20)  /* one rendered Indicator (values are <= 64 KiB) */

/* A set of 16-byte attribute uuids: open addressing, grows to `max` keys. */
struct iocb_stream__kset {
	uint8_t (*slot)[16]; /* cap slots; all-zero = empty */
	size_t cap;          /* power of two, 0 before the first add */
	size_t n;            /* keys held (the nil uuid included) */
	size_t max;          /* most keys it may hold */
	bool has_nil;        /* the nil uuid (all zero) is held */
};

void iocb_stream__kset_init(struct iocb_stream__kset *k, size_t max);
void iocb_stream__kset_fini(struct iocb_stream__kset *k);
/* Empty it, keeping its memory. */
void iocb_stream__kset_clear(struct iocb_stream__kset *k);
/* 1 added, 0 already there, IOCB_ELIMIT full (unchanged). */
int iocb_stream__kset_add(struct iocb_stream__kset *k, const uint8_t u[16]);
bool iocb_stream__kset_has(const struct iocb_stream__kset *k, const uint8_t u[16]);
/* Copy every key to out (n keys, k->n at most). Returns how many. */
size_t iocb_stream__kset_list(const struct iocb_stream__kset *k, uint8_t (*out)[16]);


struct iocb_stream {
	struct iocb_store *store;       /* borrowed */
	char *topic;                    /* owned copy */
	rd_kafka_conf_t *conf;          /* owned: the template a producer is (re)created from */
	rd_kafka_t *rk;                 /* owned: the producer; replaced only by the stream thread, under mu */
	rd_kafka_topic_t *rkt;          /* owned: topic on rk (same rule) */
	int listen_h;                   /* store listener handle, -1 when not registered */
	pthread_t thread;               /* the stream thread */
	bool thread_started;            /* thread is joinable */
	atomic_bool stop;               /* iocb_stream_stop() asked the thread to end */
	atomic_bool fatal;              /* the producer raised a fatal error: recreate it */
	atomic_uint_fast64_t delivered; /* delivery reports: delivered (no lock: one per message) */
	size_t outq_soft;               /* walks wait while librdkafka holds more than this (room for live changes) */

	pthread_mutex_t mu;
	struct iocb_buf msg;            /* (mu) the message being rendered */
	struct iocb_buf scratch;        /* (mu) the renderer's pattern scratch */
	bool tracking;                  /* (mu) a walk is running: the listener notes keys in touched */
	struct iocb_stream__kset touched; /* (mu) keys changed since the running walk began */
	struct iocb_stream__kset resend;  /* (mu) keys whose current state must be sent again */
	bool resync;                    /* (mu) a full republish is needed */
	bool stale_done;                /* stream thread: the topic was read for stale keys (first baseline) */
	struct iocb_stream_stats st;    /* (mu) counters; in_flight is read from rk */
	struct iocb_ratelimit rl;       /* (mu) warnings */
};

/* How iocb_stream__publish() reacts to a refused produce. */
enum iocb_stream__on_refuse {
	IOCB_STREAM__MARK,  /* put the key in the resend set (the listener: never block) */
	IOCB_STREAM__RETRY, /* return IOCB_EAGAIN for queue full (a walk: wait and try again) */
};

/*
 * Produce the state of key u: record `a`'s Indicator when `a` is live,
 * else (a NULL, not to_ids, not expressible) a tombstone when `tomb`.
 * Under mu. Returns IOCB_OK (produced or nothing to produce), IOCB_EAGAIN
 * (queue full with IOCB_STREAM__RETRY), IOCB_EIO (refused; with MARK the
 * key is in the resend set).
 */
int iocb_stream__publish(struct iocb_stream *st, const uint8_t u[16], const struct iocb_store_attr *a, bool tomb,
			 enum iocb_stream__on_refuse how);
/* Whether a is live (to_ids and expressible). Renders into st->msg. Under mu. */
bool iocb_stream__live(struct iocb_stream *st, const struct iocb_store_attr *a);
/* Put u in the resend set; a full set schedules a resync (and counts a lost tombstone). Under mu. */
void iocb_stream__mark(struct iocb_stream *st, const uint8_t u[16], bool tombstone);

/*
 * The stream thread's rounds (sync.c). Each walks keys and sends their
 * current state, skipping keys the listener changed since the round began.
 * Return early when stop is set. Stream thread, a registered store reader,
 * outside any read-side section and without mu.
 */
void iocb_stream__baseline(struct iocb_stream *st);
/*
 * The keys of the topic that carry a value somewhere, read from the
 * beginning up to the high watermarks of now (stale.c). Into out (bounded
 * by its max). IOCB_OK, or IOCB_EIO / IOCB_ECANCELED (logged) when the
 * topic could not be read whole. Stream thread, without mu.
 */
int iocb_stream__topic_keys(struct iocb_stream *st, struct iocb_stream__kset *out);
void iocb_stream__resend(struct iocb_stream *st);

#endif
