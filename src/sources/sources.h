/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sync: the state the live MISP sources of `iocbus run` share.
 *
 * Module `sources`: the live intake of `iocbus run`. This header is its
 * contract: the shared state (struct iocb_sources_sync, functions iocb_sources_sync_*) and
 * one start function per source below (misp_zmq.c, misp_kafka.c,
 * misp_rest.c, feed.c).
 *
 * Sources (ZeroMQ, Kafka, REST pull, feeds) each run one
 * thread of their own. A source reads its input, applies it to the store
 * through its own struct iocb_ingest (the store serialises writers), and at
 * the end of each batch calls iocb_sources_sync_commit(). There is no queue between
 * reading and applying: a source busy applying does not read, so
 * backpressure reaches the transport (libzmq's RCVHWM, Kafka fetches, the
 * next HTTP page) and nothing accepted is dropped in between.
 *
 * The MISP cursor is the newest Attribute.timestamp (MISP's clock) applied
 * from any MISP source, never past MISP's clock plus
 * IOCB_INGEST_FUTURE_SKEW_S: attributes dated further ahead are stored but
 * left out (ingest.h), and a persisted cursor found in the future at start
 * is dropped (a full reconcile, as on a first start). It is persisted in
 * the store's metadata ("misp.cursor") in the same LMDB transaction as the
 * data it covers.
 * When a source sees a gap (ZeroMQ reconnect, missing heartbeat) it asks
 * for a REST catch-up from the cursor it had *before* the gap; until that
 * catch-up has been applied and committed, the persisted cursor does not
 * move past that point, so a crash in between still catches up after the
 * restart.
 *
 * A struct iocb_sources_sync lives for one configuration generation: a reload stops
 * every source (iocb_sources_sync_stop() then each source's join), builds a new one
 * and starts them again; the cursor carries over through the store.
 *
 * Thread safety: every function may be called from any thread once
 * iocb_sources_sync_init() returned, except init/fini and iocb_sources_sync_metrics_add(),
 * which the daemon calls before sources start / after they stopped.
 */
#ifndef IOCB_SOURCES_SOURCES_H
#define IOCB_SOURCES_SOURCES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/counter.h"
#include "core/rc.h"
#include "core/time.h"
#include "filter/filter.h"
#include "ingest/ingest.h"
#include "misp/misp.h"
#include "store/store.h"

/* Store source ids: per-source expiry and the reconcile's sweep use them. */
enum {
	IOCB_SRCID_INTEL = 0, /* `intel:` files loaded at start, `iocbus load` */
	IOCB_SRCID_MISP = 1,  /* ZeroMQ, Kafka and REST pull: one MISP instance */
	IOCB_SRCID_FEED0 = 2, /* feeds[i] is IOCB_SRCID_FEED0 + i */
};

/* Persisted metadata key of the MISP cursor (decimal epoch seconds). */
#define IOCB_SOURCES_SYNC_CURSOR_KEY "misp.cursor"

#define IOCB_SOURCES_SYNC_MAX_SOURCES 40
#define IOCB_SOURCES_SYNC_MAX_EVENT_REFRESH 256 /* events waiting for a REST refresh at most */

/* What a source did, as counted in /metrics (iocbus_updates_total{action=...}). */
enum iocb_sources_sync_act {
	IOCB_SA_ADD = 0,      /* attribute messages with action add */
	IOCB_SA_EDIT,         /* ... edit */
	IOCB_SA_SOFT_DELETE,  /* ... soft-delete */
	IOCB_SA_DELETE,       /* ... delete */
	IOCB_SA_SNAPSHOT,     /* rows without an action: restSearch, feeds, published events */
	IOCB_SA_UPSERT,       /* store upserts that resulted */
	IOCB_SA_REMOVE,       /* store removals that resulted (attributes found and removed) */
	IOCB_SA_FILTERED,     /* attributes the filter rejected */
	IOCB_SA_EVENT_DELETE, /* events removed */
	IOCB_SA_STALE,        /* versions older than the stored one, ignored */
	IOCB_SA_UNCHANGED,    /* versions already stored, not written again (pull windows) */
	IOCB_SA__COUNT
};
const char *iocb_sources_sync_act_name(enum iocb_sources_sync_act a); /* "add", "soft_delete", ... */

/*
 * Counters of one source. Written by the source's thread, read by the HTTP
 * thread: access every field with the IOCB_M_* macros (relaxed atomics).
 */
struct iocb_sources_sync_metrics {
	char name[80];                  /* "zmq", "kafka", "pull", "feed:<name>"; set at registration */
	uint64_t messages;              /* frames, Kafka messages, HTTP pages, feed files read */
	uint64_t bytes;                 /* their bytes */
	uint64_t acts[IOCB_SA__COUNT];  /* see enum iocb_sources_sync_act */
	uint64_t rejects[IOCB_SKIP__COUNT]; /* skipped items by reason (misp parser's reasons) */
	uint64_t errors;                /* transport errors: HTTP failures, broker errors, bad frames */
	uint64_t reconnects;            /* ZeroMQ reconnects, Kafka rebalances */
	uint64_t catchups;              /* pull: catch-ups run; zmq: catch-ups requested */
	uint64_t reconciles;            /* pull: full reconciles completed */
	uint64_t heartbeats;            /* zmq: misp_json_self frames */
	int64_t last_update_us;         /* wall clock (µs) of the last batch that applied something; 0 never */
	int64_t last_message_us;        /* wall clock (µs) of the last message of any kind; 0 never */
	int64_t up;                     /* 1 connected / last request succeeded, 0 not */
	/* source thread only (plain fields): items it skipped before the ingest
	 * saw them (oversized frames...); iocb_sources_sync_publish() adds them to rejects */
	uint64_t own_rejects[IOCB_SKIP__COUNT];
	uint64_t own_removes;           /* removals of the source's own sweeps (iocb_store_remove_if),
					 * added to acts[remove] by iocb_sources_sync_publish() */
};

/*
 * A running source, as the daemon holds it. Each source module's start
 * function returns one (embedded as the first member of its own struct).
 */
struct iocb_source {
	const char *kind;                       /* "zmq", "kafka", "pull", "feeds" */
	void (*join)(struct iocb_source *src);  /* after iocb_sources_sync_stop(): wait for the thread, free */
};

struct iocb_sources_sync {
	struct iocb_store *store;         /* borrowed */
	const struct iocb_filter *filter; /* borrowed, may be NULL; fixed for this generation */
	const struct iocb_config *cfg;    /* borrowed; fixed for this generation */

	/* private: use the functions below */
	uint64_t cursor_;                 /* atomic */
	int stop_;                        /* atomic */
	pthread_mutex_t mu_;
	pthread_cond_t cv_;
	bool catchup_pending_;            /* under mu_ */
	uint64_t catchup_from_;           /* under mu_: min `from` of pending requests */
	uint64_t running_from_;           /* under mu_: `from` of the catch-up in progress, 0 none */
	uint64_t persisted_;              /* under mu_: cursor value last written to meta */
	uint64_t events_[IOCB_SOURCES_SYNC_MAX_EVENT_REFRESH]; /* under mu_: MISP event ids to fetch again */
	size_t nevents_;                  /* under mu_ */
	pthread_mutex_t commit_mu_;       /* one commit at a time (meta + store) */
	struct iocb_sources_sync_metrics *metrics_[IOCB_SOURCES_SYNC_MAX_SOURCES];
	size_t nmetrics_;
};

/* Loads the persisted cursor (0 if none). Borrowed pointers must outlive the sync. */
void iocb_sources_sync_init(struct iocb_sources_sync *y, struct iocb_store *store, const struct iocb_filter *filter,
		    const struct iocb_config *cfg);
void iocb_sources_sync_fini(struct iocb_sources_sync *y);

/* Register a source's counters (daemon thread, before sources start). NULL when full. */
struct iocb_sources_sync_metrics *iocb_sources_sync_metrics_add(struct iocb_sources_sync *y, const char *name);
size_t iocb_sources_sync_metrics_count(const struct iocb_sources_sync *y);
struct iocb_sources_sync_metrics *iocb_sources_sync_metrics_get(const struct iocb_sources_sync *y, size_t i);

/*
 * Copy an ingest object's counters into m (the source calls this after each
 * batch) and advance the cursor to st->max_timestamp when `advance_cursor`
 * (MISP sources; feeds use their own clock and pass false).
 */
void iocb_sources_sync_publish(struct iocb_sources_sync *y, struct iocb_sources_sync_metrics *m, const struct iocb_ingest_stats *st,
		       bool advance_cursor);

/* The cursor: newest MISP Attribute.timestamp applied; 0 = none (first start). */
uint64_t iocb_sources_sync_cursor(const struct iocb_sources_sync *y);
void iocb_sources_sync_cursor_advance(struct iocb_sources_sync *y, uint64_t ts);
/*
 * Forget the cursor for this generation (daemon, before sources start): the
 * pull source then starts with a full reconcile, as on a first start. A
 * reload that changes the filter does this, so attributes the new filter
 * lets through are fetched and those it rejects are swept.
 */
void iocb_sources_sync_cursor_reset(struct iocb_sources_sync *y);

/*
 * Commit the store, writing first the cursor as far as it is safe
 * (min of the cursor and any pending or running catch-up's `from`).
 * Serialised. Errors are logged and returned; the store keeps the changes
 * pending and the next commit retries.
 */
int iocb_sources_sync_commit(struct iocb_sources_sync *y, struct iocb_err *err) IOCB_MUST_USE;

/*
 * Ask the pull source for a catch-up of everything with Attribute.timestamp
 * >= from (pass the cursor as it was before the gap; 0 = full). `why` is
 * logged. Without an API configured the request is logged and dropped.
 */
void iocb_sources_sync_request_catchup(struct iocb_sources_sync *y, uint64_t from, const char *why);
/*
 * Pull source: take the pending request, if any (*from gets its start); the
 * request becomes the running one until iocb_sources_sync_catchup_done().
 */
bool iocb_sources_sync_take_catchup(struct iocb_sources_sync *y, uint64_t *from);
/*
 * Pull source: a pull of its own (periodic incremental from the cursor, a
 * reconcile) pins the persisted cursor at `from` in the same way while it
 * runs. Pages come in Attribute.id order, not timestamp order, so a pull
 * half done must not let the persisted cursor pass its start.
 */
void iocb_sources_sync_pull_begin(struct iocb_sources_sync *y, uint64_t from);
/*
 * End the running pull or catch-up: applied and committed (ok), or failed
 * (!ok: its range is queued again as a catch-up request, so the retry
 * covers it).
 */
void iocb_sources_sync_pull_end(struct iocb_sources_sync *y, bool ok);

/*
 * Ask the pull source to fetch MISP event `event_id`'s attributes again
 * (a tag attached to it may let attributes the filter rejected pass now).
 * Duplicates are merged; past IOCB_SOURCES_SYNC_MAX_EVENT_REFRESH pending ids the
 * request is dropped with a warning (the next reconcile covers it). Without
 * an API configured nothing happens.
 */
void iocb_sources_sync_request_event_refresh(struct iocb_sources_sync *y, uint64_t event_id);
/* Pull source: take up to max pending event ids into ids; returns how many. */
size_t iocb_sources_sync_take_event_refresh(struct iocb_sources_sync *y, uint64_t *ids, size_t max);

/* Stop: every source's wait returns and its loop ends. */
void iocb_sources_sync_stop(struct iocb_sources_sync *y);
bool iocb_sources_sync_stopping(const struct iocb_sources_sync *y);
/*
 * Sleep up to `seconds`, returning early on stop, or on a catch-up or
 * event refresh request when `wake_on_catchup`. Returns false when stopping.
 */
bool iocb_sources_sync_sleep(struct iocb_sources_sync *y, double seconds, bool wake_on_catchup);

/*
 * Append the Prometheus text exposition (format 0.0.4) of this generation:
 * per source (label source="<metrics name>") iocbus_updates_total{action},
 * iocbus_rejects_total{reason}, iocbus_source_messages_total,
 * iocbus_source_bytes_total, iocbus_source_errors_total,
 * iocbus_source_reconnects_total, iocbus_source_catchups_total,
 * iocbus_source_reconciles_total, iocbus_source_heartbeats_total,
 * iocbus_source_up, iocbus_source_last_update_age_seconds and
 * iocbus_source_last_message_age_seconds (absent until the first one);
 * iocbus_misp_cursor_timestamp_seconds; and from the store
 * iocbus_store_attributes{type} (types with at least one attribute),
 * iocbus_store_attributes_total, iocbus_store_events,
 * iocbus_store_non_ids_attributes, iocbus_store_cidrs{family},
 * iocbus_store_memory_bytes, iocbus_store_commits_total,
 * iocbus_store_commit_errors_total. Every family has
 * # HELP and # TYPE lines. Any thread (reads counters with relaxed loads).
 * All or nothing (core/prom.h): past out's cap nothing is appended and
 * IOCB_ELIMIT is returned; else IOCB_OK.
 */
int iocb_sources_sync_metrics_render(struct iocb_sources_sync *y, struct iocb_buf *out);

/* ============================================================ ZeroMQ
 * ZeroMQ source: a SUB socket on MISP's publisher (misp.zmq), subscribed to
 * "misp_json" (every misp_json_* topic, the misp_json_self heartbeat
 * included). One thread receives frames, applies them through its own
 * struct iocb_ingest (source IOCB_SRCID_MISP) in batches, and commits each
 * batch with iocb_sources_sync_commit().
 *
 * Never stop, never miss:
 *   - libzmq reconnects by itself; a socket monitor sees the reconnect,
 *     which requests a REST catch-up from the cursor held when the
 *     connection dropped (iocb_sources_sync_request_catchup);
 *   - no message at all (heartbeats included) for heartbeat_timeout also
 *     requests a catch-up, once per silence;
 *   - a backlog (every batch full) of a second or more may have made MISP's
 *     publisher drop frames (its SNDHWM is 1000, and nothing tells us): once
 *     drained, a catch-up from the cursor held when the backlog began;
 *   - a frame larger than max_message, not JSON, multi-part or of an
 *     unknown shape is counted (rejects by reason) and skipped, with a
 *     rate-limited warning giving its topic and byte offset; intake goes on.
 * Metrics: messages, bytes, heartbeats, reconnects, catchups, up, acts,
 * rejects, last_message_us, last_update_us.
 */
/* Start the source on y->cfg->zmq. *out is joined by the daemon. */
int iocb_sources_zmq_start(struct iocb_sources_sync *y, struct iocb_source **out, struct iocb_err *err) IOCB_MUST_USE;

/* ============================================================ Kafka
 * Kafka source: a librdkafka high-level consumer on misp.kafka.topics, with
 * misp.kafka.config passed through verbatim. One thread polls, applies each
 * message through its own struct iocb_ingest (source IOCB_SRCID_MISP) and
 * commits each batch with iocb_sources_sync_commit(); only then are the batch's
 * offsets stored (enable.auto.offset.store is forced off), so a committed
 * offset always covers updates that are durable in the store. Defaults when
 * not configured: group.id "iocbus", auto.offset.reset "earliest".
 * Oversized, non-JSON or unknown-shape messages are counted and skipped
 * (their offsets are still stored). Broker errors are counted, logged
 * (rate-limited) and retried by librdkafka; the thread never exits on them.
 * Shutdown stores and commits the applied offsets synchronously.
 */
int iocb_sources_kafka_start(struct iocb_sources_sync *y, struct iocb_source **out, struct iocb_err *err) IOCB_MUST_USE;

/* ============================================================ REST pull
 * REST pull source: POST /attributes/restSearch on misp.api, paged
 * (misp.pull.page_size, "order":"Attribute.id ASC"), with includeContext and
 * includeEventTags so event tags and orgs reach the filter, applied through
 * its own struct iocb_ingest (source IOCB_SRCID_MISP).
 *
 * Runs whenever misp.api is configured:
 *   - at start: no cursor -> a full pull (within misp.pull.backfill) done as
 *     a reconcile; a cursor -> a catch-up from it;
 *   - catch-ups requested by other sources (iocb_sources_sync_take_catchup), and
 *     with misp.pull present an incremental pull every interval, both with
 *     "timestamp": from and "deleted": [0,1] (soft-deletes made during a gap
 *     remove the attribute);
 *   - a full reconcile every misp.pull.reconcile: every attribute is fetched
 *     again; afterwards the MISP-source attributes neither seen nor updated
 *     since the reconcile started are removed (hard deletes the cursor
 *     cannot see).
 * Each page is applied and committed (iocb_sources_sync_commit) before the next is
 * asked for; iocb_sources_sync_pull_begin/_end pin the persisted cursor meanwhile.
 * MISP unreachable, 5xx, 403 (logged without the key) or a broken body:
 * retried with exponential backoff and jitter up to retry_max, while the
 * other sources keep running; a page that cannot be parsed ends that pull
 * (counted) and it is retried.
 */
int iocb_sources_pull_start(struct iocb_sources_sync *y, struct iocb_source **out, struct iocb_err *err) IOCB_MUST_USE;

/* ============================================================ Feeds
 * Feed source: follows the MISP-format feeds of y->cfg->feeds (manifest.json
 * plus <event uuid>.json, over http(s) or in a local directory). One thread
 * serves every feed, each on its own interval, feed i as store source
 * IOCB_SRCID_FEED0 + i, through the misp.filter list.
 *   - HTTP: the manifest and each event are fetched with If-None-Match
 *     (304 = unchanged); local: files are re-read when their mtime or size
 *     changed.
 *   - Only events new or changed in the manifest (timestamp) are fetched.
 *     After an event is applied, its attributes from this feed that the new
 *     version no longer has are removed; an event dropped from the manifest
 *     loses this feed's attributes (never another source's).
 *   - Failures (unreachable, 4xx/5xx, broken JSON) are counted and logged;
 *     the previous state stays and the feed is tried again next interval.
 * Metrics per feed, named "feed:<name>".
 */
/* NULL *out (and IOCB_OK) when no feeds are configured. */
int iocb_sources_feed_start(struct iocb_sources_sync *y, struct iocb_source **out, struct iocb_err *err) IOCB_MUST_USE;

#endif
