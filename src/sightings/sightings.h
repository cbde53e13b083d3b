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

/* A snapshot of the counters. Any thread. */
void iocb_sightings_stats(struct iocb_sightings *q, struct iocb_sightings_stats *out);

/*
 * Stop the sender (an in-flight request is aborted within about a second)
 * and close the queue; undelivered sightings stay on disk. NULL is a no-op.
 */
void iocb_sightings_free(struct iocb_sightings *q);

#endif
