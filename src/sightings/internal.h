/* SPDX-License-Identifier: Apache-2.0 */
/* Pure pieces of the sightings module, shared with its unit test only. */
#ifndef IOCB_SIGHTINGS_INTERNAL_H
#define IOCB_SIGHTINGS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "sightings/sightings.h"

/* One queued sighting as stored (the LMDB value). */
struct iocb_sightings__rec {
	char uuid[IOCB_SIGHTINGS_UUID_LEN];
	uint8_t type;
	uint8_t source_len;
	int64_t timestamp;
	char source[IOCB_SIGHTINGS_SOURCE_MAX];
};

/* True when a and b can share one /sightings/add request. */
bool iocb_sightings__same_batch(const struct iocb_sightings__rec *a, const struct iocb_sightings__rec *b);

/*
 * Append the /sightings/add body for recs[0..n) (all same_batch):
 * {"id":"u1|u2|...","source":"...","type":"0","timestamp":N}.
 */
int iocb_sightings__body(const struct iocb_sightings__rec *recs, size_t n, struct iocb_buf *out) IOCB_MUST_USE;

enum iocb_sightings__verdict {
	IOCB_SIGHTINGS__SENT,     /* 200 + Sighting */
	IOCB_SIGHTINGS__REJECTED, /* 200 + message: drop, do not retry */
	IOCB_SIGHTINGS__RETRY,    /* anything else */
};
/* Judge MISP's answer (status, body). */
enum iocb_sightings__verdict iocb_sightings__judge(long status, const char *body, size_t len);

/* Token bucket: rate per second, burst = max(rate, 1). rate 0 = unlimited. */
struct iocb_sightings__rl {
	double rate;
	double tokens;
	double last;
};
void iocb_sightings__rl_init(struct iocb_sightings__rl *rl, double rate, double now);
/* Seconds to wait before n tokens are there (0 = take them now, and they are taken). */
double iocb_sightings__rl_take(struct iocb_sightings__rl *rl, double n, double now);

/* Direct-mapped dedup cache: a colliding key evicts (so dedup is best effort beyond its size). */
#define IOCB_SIGHTINGS__DEDUP_SLOTS 65536
struct iocb_sightings__dedup {
	uint64_t key[IOCB_SIGHTINGS__DEDUP_SLOTS];
	double seen[IOCB_SIGHTINGS__DEDUP_SLOTS];
};
/* What a miss overwrote, so a failed commit can put it back. */
struct iocb_sightings__dedup_undo {
	size_t slot;
	uint64_t key;
	double seen;
};
/*
 * True when (uuid, source, type) was seen within window_s of now (then it is
 * a duplicate). A miss records it; `undo` (may be NULL) gets what it replaced.
 */
/* The same for a precomputed key h (non-zero): the from_matches window. */
bool iocb_sightings__window_hit(struct iocb_sightings__dedup *d, uint64_t h, double now, double window_s,
				struct iocb_sightings__dedup_undo *undo);
bool iocb_sightings__dedup_hit(struct iocb_sightings__dedup *d, const struct iocb_sightings__rec *r, double now,
			       double window_s, struct iocb_sightings__dedup_undo *undo);

/*
 * Hand n records to the queue's flusher thread (started on first use),
 * which commits them with iocb_sightings_add_many(); `dedup` matches the
 * caller's window dropped since its last offer are counted. What does not
 * fit the handoff (IOCB_SIGHTINGS__HANDOFF_MAX) is counted dropped. Returns
 * how many were taken. Never does I/O. Any thread.
 */
#define IOCB_SIGHTINGS__HANDOFF_MAX 8192
size_t iocb_sightings__offer(struct iocb_sightings *q, const struct iocb_sightings__rec *recs, size_t n,
			     uint64_t dedup);

#endif
