/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the log pipeline: the contract between the core (pipe.c, queue.c,
 * spool.c, dlq.c, metrics.c) and the drivers (inputs/<type>.c,
 * outputs/<type>.c, listed in drivers.h / drivers.c).
 *
 * Names: everything shared between the files of src/pipe is
 * iocb_pipe__<piece>_* (input, output, batch, queue, dlq, spool, lines,
 * block, es); only pipe.h's daemon-facing API is iocb_pipe_*. Headers:
 * this one is what every driver sees; core.h is the core's own (queue
 * construction, spool, the pipe's internals); drivers.h lists the drivers;
 * lines.h and outputs/es_bulk.h are pure pieces a unit test or fuzzer uses
 * alone; outputs/es.h is private to the two files of the Elasticsearch
 * output.
 *
 * Ownership and threads
 * ---------------------
 * - An input runs its own thread. It reads bytes, cuts them into blocks of
 *   whole lines and calls iocb_pipe__submit() with each block and the
 *   position the block ends at. submit enriches the lines on the calling
 *   thread (the input thread is a registered store reader), builds one
 *   struct iocb_pipe__batch and pushes it to every output's queue; it blocks
 *   while a queue and its spool are full (backpressure) and returns
 *   IOCB_ECANCELED when the pipe stops.
 * - An output runs its own thread. It pops batches from its queue
 *   (iocb_pipe__queue_pop), delivers them, and calls
 *   iocb_pipe__batch_settle() once per batch when every line is delivered or dead-lettered. At shutdown a batch
 *   it could not deliver goes to iocb_pipe__queue_spill() (spool, then settled).
 * - When every output settled a batch, its input is told (through the ack
 *   ring, on the input's own thread: struct iocb_pipe__input_ops.acked) in
 *   submission order, so an input only ever commits a prefix.
 *
 * Lock order: a queue's mutex, the ack ring's mutex and the dead-letter
 * writer's mutex are leaves; none is held while calling out.
 */
#ifndef IOCB_PIPE_INTERNAL_H
#define IOCB_PIPE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/backoff.h"
#include "core/buf.h"
#include "core/counter.h"
#include "core/rc.h"
#include "core/time.h"
#include "enrich/enrich.h"
#include "pipe/pipe.h"
#include "store/store.h"

#define IOCB_PIPE_MAX_INPUTS 32
#define IOCB_PIPE_MAX_OUTPUTS 8
#define IOCB_PIPE_ID_LEN 16     /* bytes of a line id (XXH3-128 of the input line) */
#define IOCB_PIPE_STATUS_MAX 600 /* per-status counters: index = HTTP status, 0 = transport error */

struct iocb_pipe__input;
struct iocb_pipe__output;
struct iocb_pipe__spool;
struct iocb_sightings_matches;

/* ================================================================== batches */

/*
 * Whole enriched lines from one input, immutable once pushed. Every holder
 * (each output's queue or thread, the spool reader) settles it once.
 */
struct iocb_pipe__batch {
	char *data;                  /* owned: lines, each ending in '\n' */
	size_t len;
	uint32_t nlines;
	unsigned char *ids;          /* owned: nlines * IOCB_PIPE_ID_LEN, or NULL (document_id: none
				      * and no kafka key id): the id of line i is ids + i * ID_LEN */
	struct iocb_pipe__input *in;         /* origin input; NULL for a batch replayed from a spool */
	uint64_t seq;                /* origin's ack-ring sequence */
	struct iocb_pipe__spool *spool;    /* replayed batches: the spool it came from ... */
	uint64_t spool_seg;          /* ... and its segment number */
	int pending;                 /* atomic: holders that have not settled it */
	int64_t created_us;          /* wall clock when built */
};

/* Hex of line i's id into hex[33] (NUL-terminated). Requires b->ids. */
void iocb_pipe__batch_id_hex(const struct iocb_pipe__batch *b, uint32_t i, char hex[2 * IOCB_PIPE_ID_LEN + 1]);

/*
 * Settle one holder's share (any thread). The last one acks the origin
 * input (or releases the spool segment) and frees the batch.
 */
void iocb_pipe__batch_settle(struct iocb_pipe__batch *b);

/* =================================================================== queues */

/*
 * One output's queue: a FIFO of batches in memory up to pipeline.queue_bytes,
 * past that appended to the output's spool (a batch spooled is settled at
 * once: the spool holds it durably), and past spool_max (or without a
 * spool) push blocks. Pop prefers memory, then the spool's oldest segment.
 */
struct iocb_pipe__queue;

/*
 * Take one reference of b (the caller's batch counted this holder in
 * b->pending already). Blocks while full, adding the time waited to
 * *blocked_us (may be NULL) as it goes, so /metrics shows a long block
 * while it lasts; returns IOCB_ECANCELED when the pipe
 * stops while blocked (the batch was then spooled if a spool exists, else
 * settled as lost, counted in iocb_pipe__output_metrics.lost).
 */
int iocb_pipe__queue_push(struct iocb_pipe__queue *q, struct iocb_pipe__batch *b, int64_t *blocked_us) IOCB_MUST_USE;

/*
 * Next batch for the output (its thread), waiting up to timeout_s (0 = do
 * not wait). NULL on timeout, or when the queue is closed and empty
 * (iocb_pipe__queue_closed() tells which). The caller owns one share of the batch.
 */
struct iocb_pipe__batch *iocb_pipe__queue_pop(struct iocb_pipe__queue *q, double timeout_s);

/* True once iocb_pipe_stop() closed the queue (no more pushes) and it is empty. */
bool iocb_pipe__queue_closed(struct iocb_pipe__queue *q);

/* Seconds left before the shutdown deadline; a large number while running. */
double iocb_pipe__queue_shutdown_left(struct iocb_pipe__queue *q);

/*
 * Called on every push (from the pushing thread, no lock held) so an output
 * waiting in another poll (curl_multi_poll, rd_kafka_poll) can wake up.
 */
void iocb_pipe__queue_set_notify(struct iocb_pipe__queue *q, void (*fn)(void *ctx), void *ctx);

/*
 * Write b to the spool (at shutdown, or an output that gives up on memory) and
 * settle it. Without a spool that takes it, its events are dropped: counted in
 * iocbus_output_lost_total and logged with the reason.
 */
void iocb_pipe__queue_spill(struct iocb_pipe__queue *q, struct iocb_pipe__batch *b);

/* What one output's shutdown spill did with its batches, for one summary line. */
struct iocb_pipe__queue_tally {
	size_t kept;          /* batches now in the spool, delivered after the next start */
	size_t lost;          /* batches dropped: no spool would take them */
	uint64_t lost_events; /* events in those */
};
/* iocb_pipe__queue_spill() that adds to *t instead of logging; returns true if b was kept. */
bool iocb_pipe__queue_spill_tally(struct iocb_pipe__queue *q, struct iocb_pipe__batch *b,
				  struct iocb_pipe__queue_tally *t);
/* Log the summary of t: kept and dropped batches, each line only when there are some. */
void iocb_pipe__queue_tally_log(const struct iocb_pipe__queue *q, const struct iocb_pipe__queue_tally *t);

/* ============================================================ dead letters */

/*
 * Append-only NDJSON file of events an output could not deliver for good:
 *   {"@timestamp":"...","output":"es","status":400,"reason":"mapper_parsing_exception: ...",
 *    "event":"<the line, as a JSON string>"}
 * Thread-safe; write errors are logged (rate-limited) and counted.
 */
struct iocb_pipe__dlq;
/*
 * Open the dead-letter file `path` (NULL: stderr) with a cap of max_bytes per
 * file (0 = none) and max_files rotated files kept; letters dropped past the
 * cap are added to *dropped (an output metric).
 */
int iocb_pipe__dlq_open(const char *path, uint64_t max_bytes, unsigned max_files, uint64_t *dropped,
		   struct iocb_pipe__dlq **out, struct iocb_err *err) IOCB_MUST_USE;
void iocb_pipe__dlq_close(struct iocb_pipe__dlq *d);
void iocb_pipe__dlq_write(struct iocb_pipe__dlq *d, const char *output, int status, const char *reason,
			  const char *line, size_t len);

/* ================================================================= metrics */

/* Counters of one input; written by its thread (and the core), read by /metrics. IOCB_M_* access. */
struct iocb_pipe__input_metrics {
	uint64_t lines;              /* lines read (including blank and rejected) */
	uint64_t events;             /* JSON objects handed on */
	uint64_t bytes;              /* bytes read */
	uint64_t matched;            /* events enriched */
	uint64_t expired_hits;       /* store hits skipped because the indicator expired (quality) */
	uint64_t rejects[IOCB_REJ__COUNT]; /* lines passed through unenriched, per reason */
	uint64_t batches;            /* batches submitted */
	uint64_t acked;              /* batches every output settled */
	uint64_t errors;             /* read errors, broker errors, refused connections */
	uint64_t connections;        /* tcp: accepted in total */
	int64_t open_connections;    /* tcp: open now */
	uint64_t rotations;          /* file: rotations followed */
	uint64_t truncations;        /* file: truncations seen */
	int64_t blocked_us;          /* time spent waiting for outputs (backpressure), µs */
	uint64_t position;           /* file: committed offset; kafka: unused */
};

/* Counters of one output. */
struct iocb_pipe__output_metrics {
	uint64_t events;             /* lines delivered */
	uint64_t bytes;              /* their bytes (uncompressed) */
	uint64_t bytes_sent;         /* bytes on the wire (compressed) */
	uint64_t batches;            /* batches settled */
	uint64_t requests;           /* bulk requests / produce calls completed */
	uint64_t duplicates;         /* Elasticsearch: 409 on create, counted as delivered */
	uint64_t splits;             /* Elasticsearch: 413 splits */
	uint64_t retries[IOCB_PIPE_STATUS_MAX];      /* whole-request retries by status (0 = transport) */
	uint64_t item_retries[IOCB_PIPE_STATUS_MAX]; /* per-item retries by status */
	uint64_t dead[IOCB_PIPE_STATUS_MAX];         /* lines dead-lettered by status */
	uint64_t dead_dropped;       /* dead letters dropped past the file's size cap (or rotated away) */
	uint64_t errors;             /* other errors (dead-letter write failures, broker errors) */
	uint64_t lost;               /* lines dropped at shutdown with no spool to hold them */
	int64_t up;                  /* 1 when the last request succeeded */
	int64_t in_flight;           /* requests / messages outstanding */
	int64_t queue_bytes;         /* bytes queued in memory */
	int64_t queue_batches;
	int64_t spool_bytes;         /* bytes in the spool */
	int64_t spool_segments;
	uint64_t spooled;            /* batches written to the spool */
	uint64_t replayed;           /* batches read back from the spool */
	int64_t failing_since_us;    /* wall clock of the first failure of the current run, 0 ok */
	/* request latency histogram (seconds): le = 0.005 .. 30, +Inf */
	uint64_t lat_bucket[13];
	uint64_t lat_count;
	uint64_t lat_sum_us;
};

/* Bucket bounds of the latency histogram, in seconds (12 finite + Inf). */
extern const double iocb_pipe__output_lat_bounds[12];

/* Count one request's latency into m (any thread that owns the output). */
void iocb_pipe__output_observe_latency(struct iocb_pipe__output_metrics *m, double seconds);

/* =================================================================== inputs */

/*
 * Where a batch ends, for the input to commit once acked: file (a = inode,
 * b = offset after the batch's last line), kafka (ext = its own
 * per-partition offsets, freed by the input in `acked`), tcp/stdin unused.
 */
struct iocb_pipe__input_pos {
	uint64_t a, b;
	void *ext;
};

struct iocb_pipe__input_ops {
	const char *kind;                                 /* "file", "stdin", "tcp", "kafka" */
	/* Start the input's thread (it calls iocb_pipe__input_thread_enter/leave). */
	int (*start)(struct iocb_pipe__input *in, struct iocb_err *err);
	/* Join the thread and free the implementation's state (after the pipe stopped). */
	void (*join)(struct iocb_pipe__input *in);
	/*
	 * A batch every output settled, in submission order, called on the
	 * input's own thread from iocb_pipe__submit() or iocb_pipe__input_poll_acks().
	 */
	void (*acked)(struct iocb_pipe__input *in, const struct iocb_pipe__input_pos *pos);
};

struct iocb_pipe__input {
	const struct iocb_config_input *cfg; /* borrowed from the pipe's config */
	struct iocb_pipe *pipe;
	const struct iocb_pipe__input_ops *ops;
	struct iocb_pipe__input_metrics m;
	void *impl;                          /* the implementation's state */
	uint64_t max_line;                   /* resolved: cfg->max_line or enrich.max_line */
	char *state_path;                    /* "<state_dir>/<name>.checkpoint", NULL without state_dir */
	/* core-private below */
	struct iocb_enrich_map *map_;
	struct iocb_enrich *enrich_;
	struct iocb_sightings_matches *matches_; /* from_matches, NULL when off; input thread only */
	int64_t batch_s_;                    /* wall seconds of the batch being enriched (the sightings' time) */
	struct iocb_buf out_;
	pthread_mutex_t mu_;
	pthread_cond_t cv_;
	struct iocb_pipe__input_pos *ring_;          /* outstanding batches, in submission order */
	bool *done_;
	size_t cap_, head_, count_;
	uint64_t next_seq_;
	bool left_;                          /* the thread left its read loop */
	bool ended_;                         /* input ended by itself (stdin EOF) */
};

/* The input thread, first and last thing: registers/unregisters the store reader, builds the worker. */
void iocb_pipe__input_thread_enter(struct iocb_pipe__input *in);
void iocb_pipe__input_thread_leave(struct iocb_pipe__input *in);

/*
 * Enrich and hand on a block of whole lines (each ending in '\n'; `len` may
 * be 0 with nlines 0 to just record a position). `pos` is copied into the
 * ack ring. Blocks for backpressure (time counted in m.blocked_us).
 * IOCB_ECANCELED when stopping: the batch was not handed on and pos->ext was
 * not taken (the caller frees it).
 */
int iocb_pipe__submit(struct iocb_pipe__input *in, const char *buf, size_t len,
		      const struct iocb_pipe__input_pos *pos) IOCB_MUST_USE;

/* Deliver pending acks (calls ops->acked in order). Input thread only; cheap when none. */
void iocb_pipe__input_poll_acks(struct iocb_pipe__input *in);

/* Count a line the input dropped itself (longer than max_line); logs it rate-limited with `where`. */
void iocb_pipe__input_reject(struct iocb_pipe__input *in, enum iocb_enrich_reject why, const char *where,
			     uint64_t bytes);

/* The pipe is stopping: leave the read loop. */
bool iocb_pipe__input_stopping(const struct iocb_pipe__input *in);

/*
 * After leaving the read loop: wait (bounded by the shutdown deadline plus
 * a margin) until every submitted batch is acked, delivering the acks.
 * Returns false if some were never acked (the position stays before them).
 */
bool iocb_pipe__input_drain(struct iocb_pipe__input *in);

/* The input ended by itself (stdin EOF): iocb_pipe_finished() may become true. */
void iocb_pipe__input_mark_ended(struct iocb_pipe__input *in);

/* Write `data` to `path` atomically (temp file, fsync, rename). For checkpoints. */
int iocb_pipe__write_state(const char *path, const char *data, size_t len, struct iocb_err *err) IOCB_MUST_USE;

/* An input driver's init (inputs/<type>.c, listed in drivers.c) sets in->ops and in->impl. */

/* ================================================================== outputs */

struct iocb_pipe__output_ops {
	const char *kind;                                   /* "stdout", "file", "elasticsearch", "kafka" */
	int (*start)(struct iocb_pipe__output *out, struct iocb_err *err); /* start its thread */
	/*
	 * Join after the queue was closed: the thread drains the queue until
	 * iocb_pipe__queue_closed() or the shutdown deadline (iocb_pipe__queue_shutdown_left() <= 0),
	 * spills what it still holds with iocb_pipe__queue_spill(), and exits.
	 */
	void (*join)(struct iocb_pipe__output *out);
};

struct iocb_pipe__output {
	const struct iocb_config_output *cfg; /* borrowed */
	struct iocb_pipe *pipe;
	const struct iocb_pipe__output_ops *ops;
	struct iocb_pipe__output_metrics m;
	struct iocb_pipe__queue *q;                   /* its queue (owned by the core) */
	struct iocb_pipe__dlq *dlq;               /* dead-letter file (owned by the core), never NULL */
	bool needs_ids;                      /* set by init: batches must carry line ids */
	void *impl;
};

/* An output driver's init (outputs/<type>.c, listed in drivers.c) sets out->ops, out->impl and needs_ids. */

/* =================================================================== misc */

/* The configuration the pipe runs on (pipeline.*, enrich.*); borrowed, immutable. */
const struct iocb_config *iocb_pipe__config(const struct iocb_pipe *p);

/* core/backoff.h's delay with full jitter: uniform in (0, min(max, initial * 2^attempt)], at least 1 ms. */
double iocb_pipe__backoff(double initial_s, double max_s, unsigned attempt);

#endif
