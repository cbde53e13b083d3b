/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ingest: apply parsed MISP documents to the store with exact update
 * semantics. Every source (files and feeds today; ZeroMQ, Kafka and REST
 * later) goes through here, so "what an add, edit, delete or filter miss
 * does to the store" is decided in one place:
 *
 *   snapshot row (restSearch, feed, published event)  -> upsert if it passes
 *                                                       the filter, else skip
 *   add / edit of an indicator that passes the filter -> upsert
 *   edit that fails the filter, or is no longer an
 *   indicator; soft-delete; delete                    -> remove by uuid
 *   event delete                                      -> remove the event
 *   event add / edit                                  -> refresh event metadata
 *   event tag attached / detached (misp_json_tag)     -> the stored event tags
 *                                                       change; after a detach
 *                                                       the event's attributes
 *                                                       are checked again
 *                                                       (iocb_ingest_refilter)
 *
 * An add, edit or snapshot row older (Attribute.timestamp) than the stored
 * version is ignored and counted as stale: Kafka partitions and REST pages
 * racing the live feed can deliver versions out of order.
 * Attributes with to_ids=false are stored (the store hides them from
 * lookups unless configured), so clearing to_ids needs no special case.
 * A message that does not carry its event's tags (ZeroMQ and Kafka
 * attribute messages) is filtered with the tags the store learned for that
 * event from event messages, REST rows or feeds.
 * One struct iocb_ingest is used by one thread at a time.
 */
#ifndef IOCB_INGEST_INGEST_H
#define IOCB_INGEST_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rc.h"
#include "filter/filter.h"
#include "misp/misp.h"
#include "store/store.h"

#define IOCB_INGEST_SAMPLES 5 /* skip messages kept per reason for reports */
/*
 * How far an Attribute.timestamp may be ahead of MISP's clock (the source's
 * clock, iocb_ingest_set_source_clock(), else the local one) before it is
 * counted as IOCB_SKIP_FUTURE_TIMESTAMP. Such attributes are applied as
 * usual but do not count in max_timestamp, so they never move the MISP
 * cursor: one attribute dated 2100 would otherwise make every later
 * catch-up start in the future. Five minutes covers clocks a little apart
 * and the second MISP takes between stamping and sending.
 */
#define IOCB_INGEST_FUTURE_SKEW_S 300

struct iocb_ingest_stats {
	struct iocb_misp_stats misp;          /* parser counters (attributes seen, skips by reason) */
	uint64_t upserts;                     /* attributes added or updated */
	uint64_t removes;                     /* attributes removed (found in the store) */
	uint64_t filtered;                    /* attributes that did not pass the filter */
	uint64_t event_removes;               /* events removed */
	uint64_t store_errors;                /* store calls that failed */
	uint64_t files;                       /* files or feed directories read */
	uint64_t bad_files;                   /* files that could not be read or were not JSON */
	uint64_t *by_type;                    /* upserts per MISP type id (iocb_misp_type_count() entries) */
	uint64_t by_action[IOCB_ACT_OTHER + 1]; /* attributes delivered per action (NONE = snapshot rows) */
	uint64_t tag_lookups;                 /* filter checks that used event tags from the store */
	uint64_t max_timestamp;               /* newest Attribute.timestamp delivered (MISP's clock), future
					       * ones (misp.skipped[IOCB_SKIP_FUTURE_TIMESTAMP]) left out */
	uint64_t tag_changes;                 /* event tags attached / detached and applied */
	uint64_t stale;                       /* updates older than the stored version, ignored */
	uint64_t unchanged;                   /* versions already stored, not written again (skip_unchanged) */
	uint64_t refiltered;                  /* attributes removed by iocb_ingest_refilter() */
	uint64_t sightings;                   /* MISP sightings applied to stored attributes (quality) */
	char samples[IOCB_SKIP__COUNT][IOCB_INGEST_SAMPLES][200]; /* first skip messages per reason */
	unsigned nsamples[IOCB_SKIP__COUNT];
	char last_error[512];                 /* last file-level error */
};

struct iocb_ingest;

/*
 * `store` and `filter` are borrowed and must outlive the ingest object;
 * `filter` may be NULL (pass all). `source` is the store source id.
 */
struct iocb_ingest *iocb_ingest_new(struct iocb_store *store, const struct iocb_filter *filter, unsigned source);
void iocb_ingest_free(struct iocb_ingest *in);

/*
 * Load a path: a MISP feed directory (has manifest.json) or a JSON file of
 * any shape iocb_misp_parse() knows ("-" = stdin). Applies to the store and
 * commits. Bad items are counted and skipped; returns IOCB_OK if the input
 * was read and scanned, or the file-level error (also counted).
 */
int iocb_ingest_path(struct iocb_ingest *in, const char *path, struct iocb_err *err) IOCB_MUST_USE;

/* Apply one JSON document already in memory (no commit: call iocb_store_commit). */
int iocb_ingest_doc(struct iocb_ingest *in, const char *buf, size_t len, const char *source_name,
		    struct iocb_err *err) IOCB_MUST_USE;

/*
 * Apply one ZeroMQ frame "<topic> <json>" (no commit). *topic (may be NULL)
 * gets the topic, a view into buf. Same rc as iocb_ingest_doc().
 */
int iocb_ingest_zmq_frame(struct iocb_ingest *in, const char *buf, size_t len, struct iocb_str *topic,
			  struct iocb_err *err) IOCB_MUST_USE;

/*
 * Observe every attribute this object upserts (after the store accepted it):
 * a reconcile collects the uuids it has seen. `a` is valid during the call.
 * NULL removes the observer.
 */
typedef void (*iocb_ingest_observer)(void *ud, const struct iocb_misp_attr *a);
void iocb_ingest_set_observer(struct iocb_ingest *in, iocb_ingest_observer fn, void *ud);

/*
 * Deliver soft-deleted rows of snapshots (restSearch with "deleted":[0,1])
 * so that they remove the attribute instead of being skipped; an
 * incremental pull needs this to see soft-deletes made during a gap.
 */
void iocb_ingest_set_keep_deleted(struct iocb_ingest *in, bool keep);

/*
 * MISP's clock, epoch seconds, for the documents applied next (the REST
 * pull passes each answer's Date header); 0 (the default) = the local
 * clock. Timestamps past it by IOCB_INGEST_FUTURE_SKEW_S are future ones.
 */
void iocb_ingest_set_source_clock(struct iocb_ingest *in, uint64_t now);

/*
 * Leave alone an add, edit or snapshot row whose uuid is stored with the
 * same Attribute.timestamp from this source: that version is applied
 * already (MISP stamps every change). Then nothing is written and it is
 * counted in `unchanged`, not `upserts`. The incremental pull sets it: its
 * window starts at the cursor, so it gets the newest attribute again each
 * time. A reconcile must not (its sweep and expiry go by the upsert time).
 */
void iocb_ingest_set_skip_unchanged(struct iocb_ingest *in, bool skip);

/*
 * Files iocb_ingest_path() reads that are at least `bytes` long are parsed
 * and applied on two threads, the caller's parsing while a second one
 * writes the store (pipeline.c); smaller files and feed directories on the
 * caller's thread alone. Default IOCB_INGEST_PIPELINE_MIN_BYTES; SIZE_MAX
 * keeps every file on one thread. Both paths give the same store and
 * counters (test_ingest compares them); only the observer runs on the
 * writer thread in the first.
 */
#define IOCB_INGEST_PIPELINE_MIN_BYTES ((size_t)1 << 20)
void iocb_ingest_set_pipeline_min(struct iocb_ingest *in, size_t bytes);

/*
 * Remove stored attributes the filter rejects, judged on what the store
 * keeps (type, attribute tags, creator org, event tags): every attribute
 * when event_id is 0 (a new filter), else those of MISP event `event_id`
 * (a tag was detached from it). Skipped, with IOCB_EUNSUPPORTED, when
 * iocb_filter_needs_owner_org(). No commit. *removed may be NULL.
 */
int iocb_ingest_refilter(struct iocb_ingest *in, uint64_t event_id, size_t *removed,
			 struct iocb_err *err) IOCB_MUST_USE;

/*
 * Called after a tag was attached to a stored event while a non-empty
 * filter is in force: attributes of that event the filter rejected before
 * may pass now, and only MISP can send them again (the daemon asks the REST
 * pull for the event). NULL removes the hook.
 */
typedef void (*iocb_ingest_event_hook)(void *ud, uint64_t event_id);
void iocb_ingest_set_event_tagged_hook(struct iocb_ingest *in, iocb_ingest_event_hook fn, void *ud);

/* Counters so far (owned by the ingest object). */
const struct iocb_ingest_stats *iocb_ingest_stats(const struct iocb_ingest *in);

#endif
