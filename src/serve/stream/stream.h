/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The indicator stream: every store change, published to a Kafka topic as
 * the STIX 2.1 Indicator the bus sends (iocb_render_stix_indicator()),
 * keyed by attribute uuid, so that a compacted topic holds the current set
 * of live indicators and any number of consumers, in any language, can
 * rebuild it by replaying from the beginning (issue #13 §3; docs/BUS.md
 * "Indicator updates to Kafka").
 *
 * Live. A record is live when it has to_ids set and STIX can express it.
 * A change that makes a key live, or edits a live one, produces its
 * Indicator under the same key; one that ends it (a removal, to_ids off, a
 * value STIX cannot express) produces a tombstone (NULL value). Records
 * that never were live produce nothing.
 *
 * Baseline. At start the stream registers a store listener and then
 * publishes every record the store holds once (live ones as Indicators,
 * the others as tombstones), while live changes flow: a restart therefore
 * republishes the baseline, which compaction folds away. The first
 * baseline also reads the topic back and sends a tombstone for every key
 * with a value there that the store no longer holds (deleted while no
 * stream ran). Per key, a baseline copy never
 * overtakes a live change: a key changed since the walk began is skipped
 * by the walk (the listener already sent its newer state).
 *
 * No silent loss. The listener runs under the store's writer lock and never
 * blocks: when librdkafka's queue is full (or refuses for another reason)
 * the key goes to a bounded resend set, and the stream thread later sends
 * the key's current state (Indicator or tombstone). A failed delivery does
 * the same. When the resend set is full, a full republish (a new baseline)
 * is scheduled; a tombstone that found the set full is counted as lost
 * (iocbus_stream_tombstones_lost_total). The producer is idempotent
 * (enable.idempotence=true, acks=all, forced), and a producer that failed
 * for good is recreated, followed by a full republish.
 *
 * Threads: one stream thread (baseline, resends, delivery reports), the
 * listener on the store's writer threads. Depends on store, render, kafka,
 * json, core.
 */
#ifndef IOCB_SERVE_STREAM_STREAM_H
#define IOCB_SERVE_STREAM_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/rc.h"
#include "store/store.h"

struct iocb_stream;

struct iocb_stream_opts {
	const char *topic;            /* Kafka topic (required); copied */
	const struct iocb_kv *config; /* librdkafka properties, in order (bootstrap.servers required);
					 enable.idempotence, acks, delivery.report.only.error are forced */
	size_t nconfig;               /* how many */
	struct iocb_store *store;     /* borrowed; must outlive the stream */
};

struct iocb_stream_stats {
	uint64_t indicators;        /* Indicator messages handed to librdkafka */
	uint64_t tombstones;        /* tombstones handed to librdkafka */
	uint64_t delivered;         /* delivery reports: delivered */
	uint64_t failed;            /* delivery reports: failed (the key is resent) */
	uint64_t queue_full;        /* produce refused, librdkafka's queue full (the key is resent) */
	uint64_t produce_errors;    /* produce refused for another reason (the key is resent) */
	uint64_t resent;            /* keys republished from the resend set */
	uint64_t unexpressible;     /* changes to to_ids records STIX cannot express (no message) */
	uint64_t baselines;         /* full republishes finished (the one at start included) */
	uint64_t baseline_records;  /* records the last finished one walked */
	double baseline_seconds;    /* how long it took */
	uint64_t tombstones_lost;   /* tombstones that found the resend set full: possibly missing */
	uint64_t producer_restarts; /* producers recreated after a fatal error */
	uint64_t pending;           /* gauge: keys waiting to be resent */
	uint64_t in_flight;         /* gauge: messages in librdkafka without a delivery report */
	bool baseline_done;         /* gauge: the first baseline finished */
	bool resync_pending;        /* gauge: a full republish is scheduled or running */
};

/*
 * Create the producer, register the store listener and start the stream
 * thread, which begins with the baseline. On success *out is the caller's
 * (iocb_stream_stop); on failure nothing runs and err says why
 * (IOCB_ECONFIG for a bad property or topic, IOCB_ELIMIT when the store
 * has no listener slot left, IOCB_EIO when the thread cannot start). Errors
 * never echo a property that looks like a secret. Any thread.
 */
int iocb_stream_start(const struct iocb_stream_opts *o, struct iocb_stream **out, struct iocb_err *err) IOCB_MUST_USE;

/*
 * Unregister the listener, stop the thread, and wait up to 10 s for the
 * messages still in librdkafka to be delivered (what is left is logged and
 * comes again with the next start's baseline). Frees st. NULL is a no-op.
 * Any thread but a store writer's listener.
 */
void iocb_stream_stop(struct iocb_stream *st);

/* A copy of the counters. Any thread. */
void iocb_stream_stats(const struct iocb_stream *st, struct iocb_stream_stats *out);

/*
 * Append the iocbus_stream_* families (docs/METRICS.md) for st to out
 * through core/prom.h: all or nothing; IOCB_ELIMIT at out's cap. Any thread.
 */
int iocb_stream_metrics_render(const struct iocb_stream_stats *st, struct iocb_buf *out) IOCB_MUST_USE;

#endif
