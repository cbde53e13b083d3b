/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sightings back to MISP: a durable queue (LMDB in a state directory) and
 * one sender thread that POSTs batches to MISP's /sightings/add.
 *
 * Contract:
 *   - iocb_sightings_add() returns IOCB_OK only after the sighting is
 *     committed to the queue (fsynced by LMDB); a sighting is deleted from
 *     the queue only after MISP confirmed it (HTTP 200 with a `Sighting`)
 *     or rejected it for good (HTTP 200 with `message`, e.g. no attribute
 *     matches: counted `rejected`, never retried). 5xx, 4xx and transport
 *     errors are retried with core/backoff.h delays. So a MISP outage or a
 *     kill -9 loses nothing; a kill -9 between MISP's answer and the
 *     delete can send that one batch again (at most one batch doubled).
 *   - Batching: MISP takes one `id` list ("uuid|uuid|...") with one
 *     source/type/timestamp per request (misp.md §3.5), so a batch is the
 *     run of queued sightings, in order, sharing (source, type, timestamp),
 *     at most batch_max long.
 *   - Rate limit: at most max_per_second sightings per second (token bucket,
 *     burst one second's worth; a batch is cut to max_per_second).
 *   - Dedup: the same (attribute, source, type) is queued once per
 *     dedup_window_s (0 = off); later ones are counted `deduplicated`.
 *   - The API key goes only to the HTTP client (Authorization header) and
 *     never into logs or errors.
 */
#ifndef IOCB_SIGHTINGS_SIGHTINGS_H
#define IOCB_SIGHTINGS_SIGHTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/rc.h"
#include "core/str.h"

#define IOCB_SIGHTINGS_UUID_LEN 36
#define IOCB_SIGHTINGS_SOURCE_MAX 255   /* MISP's varchar(255) */

struct iocb_sightings_opts {
	const char *base_url;      /* MISP base URL (required) */
	const char *api_key;       /* MISP API key (required); never logged */
	bool verify;               /* TLS verification, default true */
	const char *ca_file;       /* CA bundle or NULL */
	const char *state_dir;     /* directory of the LMDB queue (required, created if missing) */
	size_t map_size;           /* LMDB map size, default 256 MiB */
	unsigned batch_max;        /* sightings per request, default 500 */
	double max_per_second;     /* default 1000; 0 = unlimited */
	double dedup_window_s;     /* default 0 = off */
	double backoff_initial_s;  /* default 0.5 */
	double backoff_max_s;      /* default 30 */
	double timeout_s;          /* whole request, default 30 */
	double connect_timeout_s;  /* default 10 */
};

struct iocb_sightings_stats {
	uint64_t received;      /* iocb_sightings_add() calls accepted (queued or deduplicated) */
	uint64_t sent;          /* sightings MISP confirmed */
	uint64_t failed;        /* requests that failed and will be retried */
	uint64_t rejected;      /* sightings MISP refused with a `message` (dropped) */
	uint64_t queued;        /* sightings on disk now */
	uint64_t deduplicated;  /* sightings dropped by the dedup window */
	uint64_t requests;      /* POSTs made */
	uint64_t bad;           /* bus frames iocb_sightings_from_bus() refused (malformed, no usable ref) */
	uint64_t matches;               /* from_matches: sightings handed to the queue (also in received) */
	uint64_t matches_deduplicated;  /* from_matches: matches dropped by the in-memory window */
	uint64_t matches_dropped;       /* from_matches: dropped because the handoff was full or LMDB failed */
};

struct iocb_sightings;

/* Defaults above. Any thread. */
void iocb_sightings_opts_default(struct iocb_sightings_opts *o);

/*
 * Open (or resume) the queue in opts->state_dir and start the sender
 * thread. Copies what it needs from opts. OUT: *out, owned by the caller.
 */
int iocb_sightings_new(const struct iocb_sightings_opts *opts, struct iocb_sightings **out,
		       struct iocb_err *err) IOCB_MUST_USE;

/*
 * Queue one sighting of attribute `attr_uuid` (36 chars) with `source`
 * (at most 255 bytes), `type` 0 (sighting), 1 (false positive) or
 * 2 (expiration), `timestamp` in epoch seconds. Returns IOCB_OK once it is
 * durable (or deduplicated); IOCB_EINVAL for bad arguments; IOCB_EIO when
 * LMDB failed (e.g. the map is full: IOCB_ELIMIT). Any thread.
 */
int iocb_sightings_add(struct iocb_sightings *q, struct iocb_str attr_uuid, struct iocb_str source,
		       unsigned type, int64_t timestamp, struct iocb_err *err) IOCB_MUST_USE;

/* One sighting for iocb_sightings_add_many() (views borrowed for the call). */
struct iocb_sightings_item {
	struct iocb_str attr_uuid; /* 36 chars */
	struct iocb_str source;    /* at most 255 bytes */
	unsigned type;             /* 0, 1 or 2 */
	int64_t timestamp;         /* epoch seconds */
};

/*
 * iocb_sightings_add() for n sightings in one LMDB commit (one fsync): all
 * are durable, or none is (then the error says why and nothing is counted).
 * IOCB_EINVAL when any item is invalid (nothing queued). Any thread.
 */
int iocb_sightings_add_many(struct iocb_sightings *q, const struct iocb_sightings_item *items, size_t n,
			    struct iocb_err *err) IOCB_MUST_USE;

/*
 * Sightings from the bus (docs/BUS.md "Sightings"): the JSON of a frame an
 * app sent on `threatbus/sighting` (gen 0, Threat Bus 2020.12:
 * {"ts":"2020-10-05 13:58:55[.ffffff][+hh:mm]","intel":"<attr uuid>",
 *  "context":{"source":"...",...},"ioc":[...]|null}) or `stix2/sighting`
 * (gen 1, 2021+: a STIX 2.1 Sighting with sighting_of_ref
 * "indicator--<attr uuid>", x_threatbus_source, created / last_seen).
 * The sighting type is 0 unless the app sets `x_misp_sighting_type`
 * (gen 1: a property of the Sighting; gen 0: a key of `context`) to 0, 1
 * or 2 (number or string).
 */
#define IOCB_SIGHTINGS_BUS_MAX ((size_t)1 << 20) /* largest frame body parsed (VAST puts whole events in the context) */

/* What one bus frame says. item's views point into uuid[] / source[], so the struct must not be copied. */
struct iocb_sightings_bus_item {
	struct iocb_sightings_item item;           /* the sighting (views into the two buffers below) */
	char uuid[IOCB_SIGHTINGS_UUID_LEN + 1];    /* attribute uuid, lower case, NUL-terminated */
	char source[IOCB_SIGHTINGS_SOURCE_MAX + 1]; /* source, JSON escapes decoded, NUL-terminated */
};

/*
 * Parse one bus frame body of generation `gen` (0 or 1) into *out. Pure.
 * Returns IOCB_OK; IOCB_ELIMIT when len > IOCB_SIGHTINGS_BUS_MAX or the JSON
 * nests deeper than 64; IOCB_EPARSE when it is not JSON or not the shape
 * (err says which field and why: no ref, a ref that is no
 * "indicator--<uuid>", a time that is no RFC 3339 / str(datetime) time in
 * 1970..9999, a field of the wrong type, a duplicated field, a source past
 * 255 bytes, a type not 0..2); IOCB_EINVAL for a gen other than 0 or 1.
 * Any thread.
 */
int iocb_sightings_parse_bus(int gen, const char *json, size_t len, struct iocb_sightings_bus_item *out,
			     struct iocb_err *err) IOCB_MUST_USE;

/*
 * Parse a bus frame (above) and queue it (iocb_sightings_add()). A frame
 * that does not parse is counted `bad` and its error returned (the caller,
 * the bus's on_sighting callback, logs it rate-limited); nothing is queued.
 * Any thread.
 */
int iocb_sightings_from_bus(struct iocb_sightings *q, int gen, const char *json, size_t len,
			    struct iocb_err *err) IOCB_MUST_USE;

/*
 * sightings.from_matches: every match the log pipeline makes becomes a
 * sighting of the matched attribute, source "iocbus/<input name>", type 0,
 * timestamp the time the pipeline batch was enriched. One object per
 * pipeline input thread (not shared, so no lock per match):
 *   - note() (per match, on the hot path) keeps a match only when its
 *     attribute was not kept within window_s by this object: a 65,536-slot
 *     direct-mapped table of (attribute uuid) -> last kept time, 1 MiB, so
 *     at most one sighting per attribute, input and window (a slot collision
 *     can let one more through; dedup never drops a first sighting);
 *   - flush() (per pipeline batch) hands the kept ones to the queue's
 *     flusher thread, which commits them with one iocb_sightings_add_many()
 *     per wake-up; nothing on the pipeline's threads touches LMDB. The
 *     handoff holds at most 8,192 sightings; past that they are counted
 *     matches_dropped. A kill -9 loses what is in the handoff (at most
 *     about one flusher wake-up's worth); a clean stop commits it.
 */
struct iocb_sightings_matches;

/* A from_matches object for input `input` (copied) feeding q (which must outlive it). window_s <= 0 = 300. */
struct iocb_sightings_matches *iocb_sightings_matches_new(struct iocb_sightings *q, const char *input,
							  double window_s);
/* Flush and free. NULL is a no-op. Its thread. */
void iocb_sightings_matches_free(struct iocb_sightings_matches *m);
/* One match of attribute attr_uuid (36 chars, as the store writes it) at wall time now_s. Its thread. */
void iocb_sightings_matches_note(struct iocb_sightings_matches *m, const char *attr_uuid, int64_t now_s);
/* Hand what note() kept to the queue (never blocks on I/O). Its thread. */
void iocb_sightings_matches_flush(struct iocb_sightings_matches *m);

/* A snapshot of the counters. Any thread. */
void iocb_sightings_stats(struct iocb_sightings *q, struct iocb_sightings_stats *out);

/*
 * Append the Prometheus text of `st` (families iocbus_sightings_*, listed in
 * docs/METRICS.md "Sightings"). All or nothing (core/prom.h): IOCB_ELIMIT
 * and nothing appended past out's cap; else IOCB_OK. Any thread.
 */
int iocb_sightings_metrics_render(const struct iocb_sightings_stats *st, struct iocb_buf *out) IOCB_MUST_USE;

/*
 * Stop the sender (an in-flight request is aborted within about a second)
 * and close the queue; undelivered sightings stay on disk. NULL is a no-op.
 */
void iocb_sightings_free(struct iocb_sightings *q);

#endif
