/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The log pipeline of `iocbus run`: inputs -> enrich -> outputs, at least once.
 *
 * Module `pipe`. This header is what the daemon sees; the pieces (inputs,
 * outputs, queues, spool, checkpoints) talk through src/pipe/internal.h.
 *
 *   file tail ─┐                                   ┌─► queue ─► stdout / file
 *   stdin ─────┤ input thread: read whole lines,   ├─► queue ─► Elasticsearch _bulk
 *   tcp ───────┤ enrich them (its own worker),     └─► queue ─► Kafka producer
 *   kafka ─────┘ hand a batch to every output          │ memory up to queue_bytes,
 *                                                      │ then the on-disk spool,
 *                                                      │ then backpressure
 *
 * At least once. A batch is acknowledged to its input only when every
 * output has settled it: delivered (Elasticsearch: every item 2xx or 409 on
 * create), dead-lettered (item 400/404), or written to that output's spool
 * (which is replayed after a restart). An input commits its position (file
 * checkpoint, Kafka offsets) only up to the oldest batch not yet
 * acknowledged, so `kill -9` at any point replays, never loses.
 *
 * The pipeline lives as long as the daemon: a SIGHUP reload does not touch
 * it (changes to inputs, outputs or pipeline need a restart; enrichment
 * always reads the live store, so intel changes apply at once).
 */
#ifndef IOCB_PIPE_PIPE_H
#define IOCB_PIPE_PIPE_H

#include <stdbool.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/rc.h"
#include "store/store.h"

struct iocb_enrich_wl; /* enrich/enrich.h */

struct iocb_pipe;
struct iocb_pipe_recent;
struct iocb_sightings;
struct iocb_quality_decay;

/* Optional parts of iocb_pipe_start_with(); all zero = iocb_pipe_start(). */
struct iocb_pipe_hooks {
	struct iocb_sightings *sightings; /* sightings.from_matches: every match becomes a sighting of the matched
					     attribute, source "iocbus/<input name>", deduplicated in memory per
					     attribute, input and window (sightings.h iocb_sightings_matches_*);
					     borrowed, must outlive the pipe; NULL = off */
	double sightings_window_s;        /* that window (sightings.from_matches_window); <= 0 = 300 s */
	struct iocb_pipe_recent *recent;  /* the status page's last matches: every hit is pushed there
					     (iocb_pipe_recent_push); borrowed, must outlive the pipe; NULL = off */
	const struct iocb_enrich_wl *wl;  /* warninglists (enrich.h): suppressed hits counted, flagged ones named;
					     borrowed, must outlive the pipe; NULL = off */
	const struct iocb_quality_decay *decay; /* decaying models for misp.decay_score (quality/decay.h);
						   borrowed, must outlive the pipe; NULL = no scores */
};

/* ------------------------------------------------------------ last matches (recent.c) */

/* One hit of the log pipeline, as the status page lists it. Strings are cut to their arrays (UTF-8 kept whole). */
struct iocb_pipe_match {
	int64_t time_us;       /* wall clock of the enrichment */
	char input[64];        /* the input's name */
	char field[128];       /* the event field that matched */
	char value[256];       /* the attribute's value */
	char event_info[256];  /* its event's info ("" without an event) */
	char tlp[24];          /* its TLP level ("amber"), "" without a tlp: tag */
	char type[32];         /* its MISP type */
	uint64_t event_id;     /* its event's id, 0 unknown */
};

/*
 * A bounded ring of the last `cap` matches, newest overwriting oldest:
 * written by the enrichment threads (one short mutex hold per hit, no
 * allocation), read by the HTTP thread. Fixed memory: cap * sizeof(struct
 * iocb_pipe_match) (about 800 bytes each).
 */
struct iocb_pipe_recent;
/* cap 0 = 50; at most 1000. */
struct iocb_pipe_recent *iocb_pipe_recent_new(unsigned cap);
void iocb_pipe_recent_free(struct iocb_pipe_recent *r);
/* Record a hit of attr (inside the store's read lock, as enrich's on_hit is). Any thread. */
void iocb_pipe_recent_note(struct iocb_pipe_recent *r, const char *input, const struct iocb_store_attr *attr,
			   const char *field, int64_t now_us);
/* Copy up to max entries, newest first, into out; returns how many. Any thread. */
size_t iocb_pipe_recent_get(struct iocb_pipe_recent *r, struct iocb_pipe_match *out, size_t max);
/* Entries kept at most. */
unsigned iocb_pipe_recent_cap(const struct iocb_pipe_recent *r);
/* Hits recorded since creation. */
uint64_t iocb_pipe_recent_total(struct iocb_pipe_recent *r);

/* ------------------------------------------------------------ for the status page (metrics.c) */

/* Counters of one input or output, read with relaxed loads (same values as /metrics). */
struct iocb_pipe_item_status {
	const char *name;        /* borrowed from the pipe's configuration */
	const char *type;        /* "file", "elasticsearch", ... */
	uint64_t lines, events, matched, errors;      /* inputs */
	uint64_t delivered, retried, dead_letters;    /* outputs (retried: whole requests and bulk items) */
	uint64_t queue_bytes, queue_batches, spool_bytes, spool_segments, in_flight;
	bool up;                 /* outputs: the last request succeeded */
};
/* Fill up to max inputs (outputs) of p into out; returns how many. p may be NULL (0). Any thread. */
size_t iocb_pipe_inputs_status(struct iocb_pipe *p, struct iocb_pipe_item_status *out, size_t max);
size_t iocb_pipe_outputs_status(struct iocb_pipe *p, struct iocb_pipe_item_status *out, size_t max);

/*
 * Build and start the pipeline of cfg->inputs / cfg->outputs (nothing to do
 * and *out = NULL when there are no inputs). Field maps are built here, so
 * a bad field spec fails start-up with its location. Replays each output's
 * spool first. `store` and `cfg` are borrowed and must outlive the pipe.
 */
int iocb_pipe_start(struct iocb_store *store, const struct iocb_config *cfg, struct iocb_pipe **out,
		    struct iocb_err *err) IOCB_MUST_USE;
/* The same with hooks (may be NULL). */
int iocb_pipe_start_with(struct iocb_store *store, const struct iocb_config *cfg, const struct iocb_pipe_hooks *hooks,
			 struct iocb_pipe **out, struct iocb_err *err) IOCB_MUST_USE;

/*
 * Stop (main thread): inputs stop reading; outputs deliver what is queued
 * for up to pipeline.shutdown_timeout, then write the rest to their spool;
 * inputs commit their final positions; everything is joined and freed.
 * NULL is a no-op.
 */
void iocb_pipe_stop(struct iocb_pipe *p);

/* True when every input has ended (stdin at EOF) and every output is idle: `iocbus run` may exit. */
bool iocb_pipe_finished(struct iocb_pipe *p);

/*
 * Append the Prometheus text of the pipeline (families listed in
 * docs/METRICS.md: iocbus_input_*, iocbus_output_*, iocbus_spool_*).
 * Any thread. All or nothing (core/prom.h): past out's cap nothing is
 * appended and IOCB_ELIMIT is returned; else IOCB_OK (also for p NULL).
 */
int iocb_pipe_metrics_render(struct iocb_pipe *p, struct iocb_buf *out);

/* False when an output has been failing for longer than its retry_max (for /healthz). */
bool iocb_pipe_healthy(struct iocb_pipe *p);

#endif
