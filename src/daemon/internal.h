/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to module `daemon` (no other module includes this): the pieces
 * of `iocbus run` that decide or compose something without threads, so
 * tests/unit/test_daemon.c can check them directly. daemon.c calls them
 * from the main thread (reload decisions) and the HTTP thread (/healthz,
 * /metrics, under gen_mu); none of them keeps state.
 */
#ifndef IOCB_DAEMON_INTERNAL_H
#define IOCB_DAEMON_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/rc.h"
#include "sources/sources.h"

/* What /healthz reports, gathered by the caller under gen_mu. */
struct iocb_daemon__health {
	bool running;                         /* a generation is started and SIGTERM not seen */
	const struct iocb_sources_sync *sync; /* the generation's sources; read only when running */
	int outputs;                          /* log pipeline: -1 none, 0 failing, 1 up */
	const char *store_failing;            /* why the store's commits fail; NULL when they do not */
	bool bus;                             /* the zmq-app bus runs (` bus=up`) */
};

/*
 * Append the /healthz line: "ok", "degraded" (store commits failing) or
 * "stopping", then when running " <source>=up|down" per source,
 * " outputs=up|failing", " bus=up" and " store=failing (<why>)", and '\n'. Returns
 * h->running (200 or 503). A full buffer truncates the line (the HTTP
 * module caps it).
 */
bool iocb_daemon__health_render(const struct iocb_daemon__health *h, struct iocb_buf *out);

/* The daemon's own /metrics counters. */
struct iocb_daemon__counters {
	uint64_t reloads_ok;     /* SIGHUP reloads applied */
	uint64_t reloads_failed; /* SIGHUP reloads rejected (bad file, a source that cannot start) */
	uint64_t refiltered;     /* attributes removed by filter changes */
	int64_t started_us;      /* wall clock at start (µs) */
};

/*
 * Append iocbus_config_reloads_total, iocbus_filter_removed_total and
 * iocbus_start_time_seconds. All or nothing (core/prom.h): IOCB_OK or IOCB_ELIMIT.
 */
int iocb_daemon__counters_render(const struct iocb_daemon__counters *c, struct iocb_buf *out);

/* Same filter list and options (a reorder counts as a change: rare, and the reconcile is safe). */
bool iocb_daemon__filters_equal(const struct iocb_config *a, const struct iocb_config *b);

/* Whether a reload changes store or http settings, which apply only on restart (a warning is logged). */
bool iocb_daemon__restart_settings_changed(const struct iocb_config *old, const struct iocb_config *ng);

/*
 * Whether `path` can be read again on SIGHUP: IOCB_OK, or IOCB_ECONFIG
 * with err->msg when it is not a regular file (a pipe, `-c <(...)`, was
 * used up at start and would read as an empty file; a FIFO would block the
 * main thread). A path stat() cannot reach is left to the loader's message.
 */
int iocb_daemon__reloadable(const char *path, struct iocb_err *err) IOCB_MUST_USE;

/* ---- services.c: the bus, the sightings queue, the Kafka stream (issue #13) ---- */

struct iocb_bus;
struct iocb_bus_curve;
struct iocb_mc_server;
struct iocb_sightings;
struct iocb_store;
struct iocb_stream;

/* What `bus:`, `bus.kafka` and `sightings:` started; zero = nothing. Main thread starts and stops; read by the HTTP thread. */
struct iocb_daemon__services {
	struct iocb_sightings *sightings;  /* `sightings:` queue, or NULL */
	struct iocb_bus *bus;              /* `bus:` endpoint, or NULL */
	struct iocb_bus_curve *curve;      /* `bus.curve` keys, or NULL; outlives the bus */
	struct iocb_stream *stream;        /* `bus.kafka` indicator stream, or NULL */
	struct iocb_daemon__intake *intake; /* bus sightings -> queue, off the bus thread; with `sightings:` */
	struct iocb_daemon__exports *exports; /* `exports[]` files kept current, or NULL (exports.c) */
	struct iocb_mc_server *mc;         /* `memcached:` lookup endpoint, or NULL */
};

/* ---- exports.c: `exports[]` ---- */
struct iocb_daemon__exports;
/* Start the export thread when `exports` lists files (*out NULL otherwise). IOCB_ECONFIG: a bad format/type. */
int iocb_daemon__exports_start(struct iocb_daemon__exports **out, const struct iocb_config *c,
			       struct iocb_store *store, struct iocb_err *err) IOCB_MUST_USE;
/* Stop and free; NULL is a no-op. */
void iocb_daemon__exports_stop(struct iocb_daemon__exports *x);
/* Append iocbus_export_* (per `export` label); nothing for NULL. */
int iocb_daemon__exports_metrics(struct iocb_daemon__exports *x, struct iocb_buf *out);

/*
 * Start the sightings queue (when `sightings:`), then the bus (when `bus:`),
 * with store as its change feed and snapshot source, then the Kafka stream
 * (when `bus.kafka`). On failure what was started is stopped and err->msg
 * says why.
 */
int iocb_daemon__services_start(struct iocb_daemon__services *sv, const struct iocb_config *c,
				struct iocb_store *store, struct iocb_err *err) IOCB_MUST_USE;
/* Stop the stream, the bus, then the queue (undelivered sightings stay on disk). Idempotent. */
void iocb_daemon__services_stop(struct iocb_daemon__services *sv);
/* Append iocbus_bus_*, iocbus_stream_* and iocbus_sightings_* for what runs. All or nothing per module. */
int iocb_daemon__services_metrics(struct iocb_daemon__services *sv, struct iocb_buf *out);
/*
 * intake.c: the bus thread's sighting frames, copied into a bounded list
 * (push never blocks; past 65,536 frames or 64 MiB they are dropped and
 * counted) and committed to q in batches by the intake thread. Stop
 * commits what was pushed, then frees. Metrics: iocbus_sightings_bus_dropped_total.
 */
struct iocb_daemon__intake;
int iocb_daemon__intake_start(struct iocb_sightings *q, struct iocb_daemon__intake **out,
			      struct iocb_err *err) IOCB_MUST_USE;
void iocb_daemon__intake_push(struct iocb_daemon__intake *in, int gen, const char *json, size_t len);
void iocb_daemon__intake_stop(struct iocb_daemon__intake *in);
int iocb_daemon__intake_metrics(const struct iocb_daemon__intake *in, struct iocb_buf *out);

/* ---- warninglists.c: `quality.warninglists` (issue #15) ---- */
struct iocb_daemon__wl;
struct iocb_enrich_wl;
/*
 * Load the lists, register the store quality callback and requalify the
 * store, start the watcher (quality.warninglists.watch). *out is NULL when
 * the section is absent. Main thread; on failure the caller still stops *out.
 */
int iocb_daemon__wl_start(struct iocb_daemon__wl **out, const struct iocb_config *c, struct iocb_store *store,
			  struct iocb_err *err) IOCB_MUST_USE;
/* SIGHUP: load the lists and policies of c, swap them in, requalify (a failed load keeps the old). Main thread. */
int iocb_daemon__wl_reload(struct iocb_daemon__wl *x, const struct iocb_config *c);
/* What enrich calls (names of flagged lists, suppressed counts); NULL for NULL. */
const struct iocb_enrich_wl *iocb_daemon__wl_hooks(const struct iocb_daemon__wl *x);
/* What /v1/lookup calls for list names; NULL for NULL. */
const struct iocb_render_quality *iocb_daemon__wl_render(const struct iocb_daemon__wl *x);
/* Stop the watcher, unregister, free. After the pipeline stopped; NULL is a no-op. */
void iocb_daemon__wl_stop(struct iocb_daemon__wl *x);
/* Append iocbus_quality_warninglist_*; nothing for NULL. HTTP thread. */
int iocb_daemon__wl_metrics(struct iocb_daemon__wl *x, struct iocb_buf *out);

/* Whether a reload changes `bus`, `sightings` (or the MISP client sightings use): restart only. */
bool iocb_daemon__services_changed(const struct iocb_config *old, const struct iocb_config *ng);

/* ---- status.c: the status page's data (issue #16, docs/STATUS.md) ---- */

struct iocb_jw;
struct iocb_pipe;
struct iocb_pipe_match;
struct iocb_pipe_recent;
struct iocb_store_stats;
struct iocb_bus_stats;

#define IOCB_DAEMON__STATUS_STEP_S 10   /* seconds per history point */
#define IOCB_DAEMON__STATUS_POINTS 360  /* points per series: one hour */
#define IOCB_DAEMON__STATUS_SERIES 64   /* series at most (inputs and sources); more are not charted */

/* What one history series adds at a sample: a name and up to two cumulative counters. */
struct iocb_daemon__sample {
	char name[80];   /* input or source name */
	bool input;      /* an input (events, matched) or a source (updates) */
	uint64_t v[2];   /* cumulative: input events, matched; source updates, unused */
};

/*
 * The status page's state: per-series rings of per-step deltas (fixed
 * memory: IOCB_DAEMON__STATUS_SERIES x 2 x IOCB_DAEMON__STATUS_POINTS x 4
 * bytes, about 180 KiB) and the settings the JSON names. The main thread
 * samples, the HTTP thread renders; `mu` guards the rings.
 */
struct iocb_daemon__status;
struct iocb_daemon__status *iocb_daemon__status_new(int max_tlp, double refresh_s);
void iocb_daemon__status_free(struct iocb_daemon__status *st);
/*
 * Record one sample at wall time now_us when a step has passed since the
 * last point (the first call records at once): per series the counters'
 * increase since the previous sample (a counter that went down, e.g. a new
 * source generation, counts from 0). Returns true when a point was added.
 */
bool iocb_daemon__status_sample(struct iocb_daemon__status *st, int64_t now_us,
				const struct iocb_daemon__sample *s, size_t n);
/* Write "history":{...} (key included) into w. */
void iocb_daemon__status_history_json(struct iocb_daemon__status *st, struct iocb_jw *w);

/* TLP rank of a tag level: clear/white 0, green 1, amber 2, amber+strict 3, red 4; "" 0; anything else 4. */
int iocb_daemon__tlp_rank(const char *tlp);
/* Rank of an enum iocb_config_tlp value. */
int iocb_daemon__tlp_config_rank(int level);
/*
 * Write "matches":[...] (key included): newest first, each
 * {"time","input","field","type","value","event_id","event_info","tlp","masked"};
 * value and event_info are null and masked true when the match's TLP rank
 * exceeds max_rank.
 */
void iocb_daemon__status_matches_json(struct iocb_jw *w, const struct iocb_pipe_match *m, size_t n, int max_rank);

/* Everything /v1/status shows but the history and the matches, gathered by daemon.c. */
struct iocb_daemon__status_view {
	const char *health;                    /* "ok", "degraded", "stopping" */
	int64_t now_us, started_us;            /* wall clock */
	struct iocb_sources_sync *sync;        /* the generation's sources (gen_mu held), or NULL */
	struct iocb_pipe *pipe;                /* the log pipeline (gen_mu held), or NULL */
	const struct iocb_store_stats *store;  /* a snapshot */
	const struct iocb_bus_stats *bus;      /* a snapshot, or NULL without `bus:` */
	uint64_t queue_max, spool_max;         /* pipeline.queue_bytes and spool_max: each output's caps */
};
/*
 * Append iocbus_status_matches_total (hits recorded for the page; nothing
 * without the ring) and iocbus_status_history_points_total (points recorded; nothing
 * without st). All or nothing: IOCB_OK or IOCB_ELIMIT.
 */
int iocb_daemon__status_metrics(struct iocb_daemon__status *st, struct iocb_pipe_recent *recent,
				struct iocb_buf *out);
/*
 * Make the JSON text b->ptr[from..len) safe inside an HTML <script> or
 * attribute as well: '<', '>', '&' become \u003c, \u003e, \u0026 and
 * U+2028/U+2029 become \u2028/\u2029 (JavaScript line terminators before
 * ES2019). Only valid where these can occur only inside strings, which is
 * true of any JSON the writer produced. IOCB_ELIMIT past b's cap.
 */
int iocb_daemon__json_script_safe(struct iocb_buf *b, size_t from) IOCB_MUST_USE;
/* Write the whole /v1/status object into w (st may be NULL: no history, no matches). */
void iocb_daemon__status_json(struct iocb_daemon__status *st, struct iocb_pipe_recent *recent,
			      const struct iocb_daemon__status_view *v, struct iocb_jw *w);

/* ---- quality.c: decay and expiry (issue #15 §2) ---- */

struct iocb_quality_decay;
struct iocb_store;
struct iocb_store_stats;

/* What `quality.decay` / `quality.expire_after` started. Main thread starts and stops; counters read by HTTP. */
struct iocb_daemon__quality {
	struct iocb_quality_decay *decay; /* owned; NULL before start */
	struct iocb_store *store;         /* borrowed; NULL when nothing is active */
	int handle;                       /* store quality callback, -1 = none */
	double interval_s;                /* sweep period */
	pthread_t thr;                    /* the sweep thread, when running */
	pthread_mutex_t mu;               /* guards stop */
	pthread_cond_t cv;                /* wakes the sweep thread to stop */
	bool stop, running;
	uint64_t sweeps, expired_total, back_total, expired_now; /* atomics: /metrics */
};

/*
 * Build the decay object; when it has models or maximum ages, register its
 * store callback, requalify the stored records, mark those already expired
 * (before any listener: call before the bus starts) and start the sweep
 * thread. Main thread.
 */
int iocb_daemon__quality_start(struct iocb_daemon__quality *q, const struct iocb_config *c, struct iocb_store *s,
			       struct iocb_err *err) IOCB_MUST_USE;
/* One sweep at `now` (the thread's body; tests call it directly). */
int iocb_daemon__quality_sweep(struct iocb_daemon__quality *q, int64_t now);
/* Stop the thread, unregister the callback, free the decay object (after the pipeline stopped). Idempotent. */
void iocb_daemon__quality_stop(struct iocb_daemon__quality *q);
/* iocbus_quality_decay_* and iocbus_quality_expired_*: all or nothing (core/prom.h). */
int iocb_daemon__quality_metrics(const struct iocb_daemon__quality *q, const struct iocb_store_stats *st,
				 struct iocb_buf *out);

#endif
