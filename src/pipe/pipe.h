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

struct iocb_pipe;
struct iocb_sightings;
struct iocb_quality_decay;

/* Optional parts of iocb_pipe_start_with(); all zero = iocb_pipe_start(). */
struct iocb_pipe_hooks {
	struct iocb_sightings *sightings; /* sightings.from_matches: every match becomes a sighting of the matched
					     attribute, source "iocbus/<input name>", deduplicated in memory per
					     attribute, input and window (sightings.h iocb_sightings_matches_*);
					     borrowed, must outlive the pipe; NULL = off */
	double sightings_window_s;        /* that window (sightings.from_matches_window); <= 0 = 300 s */
	const struct iocb_quality_decay *decay; /* decaying models for misp.decay_score (quality/decay.h);
						   borrowed, must outlive the pipe; NULL = no scores */
};

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
