// SPDX-License-Identifier: Apache-2.0
/*
 * sightings.from_matches (sightings.h): a per-input-thread window in memory
 * in front of the durable queue. The pipeline matches up to about a million
 * events a second; one LMDB commit per match would cap it at a few
 * thousand. So a match costs a hash and a table probe here, a kept one a
 * copy into a small pending array, and the array goes to the queue's
 * flusher thread once per pipeline batch (iocb_sightings__offer).
 */
#include "sightings/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/mem.h"

#define PEND_MAX 512 /* kept matches buffered before a handoff (flushed early when full) */

struct iocb_sightings_matches {
	struct iocb_sightings *q;             /* the queue (borrowed) */
	double window_s;                      /* one sighting per attribute per window */
	uint64_t seed;                        /* hash seed: the source, so inputs never share keys */
	struct iocb_sightings__rec tmpl;      /* source and type of every sighting made here */
	struct iocb_sightings__dedup *d;      /* uuid -> last kept time */
	struct iocb_sightings__rec pend[PEND_MAX]; /* kept, not yet handed off */
	size_t npend;
	uint64_t dedup;                       /* dropped by the window since the last handoff */
};

struct iocb_sightings_matches *iocb_sightings_matches_new(struct iocb_sightings *q, const char *input,
							  double window_s)
{
	struct iocb_sightings_matches *m = iocb_xcalloc(1, sizeof(*m));
	char src[IOCB_SIGHTINGS_SOURCE_MAX + 1];
	int n = snprintf(src, sizeof(src), "iocbus/%s", input ? input : "");
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(src) ? (size_t)n : IOCB_SIGHTINGS_SOURCE_MAX;
	m->q = q;
	m->window_s = window_s > 0 ? window_s : 300;
	m->tmpl.type = 0;
	m->tmpl.source_len = (uint8_t)len;
	memcpy(m->tmpl.source, src, len);
	m->seed = iocb_hash64(src, len, 0x5167);
	m->d = iocb_xcalloc(1, sizeof(*m->d));
	return m;
}

void iocb_sightings_matches_flush(struct iocb_sightings_matches *m)
{
	if (!m->npend && !m->dedup)
		return;
	(void)iocb_sightings__offer(m->q, m->pend, m->npend, m->dedup);
	m->npend = 0;
	m->dedup = 0;
}

void iocb_sightings_matches_note(struct iocb_sightings_matches *m, const char *attr_uuid, int64_t now_s)
{
	uint64_t h = iocb_hash64(attr_uuid, IOCB_SIGHTINGS_UUID_LEN, m->seed) | 1;
	if (iocb_sightings__window_hit(m->d, h, (double)now_s, m->window_s, NULL)) {
		m->dedup++;
		return;
	}
	if (m->npend == PEND_MAX)
		iocb_sightings_matches_flush(m);
	struct iocb_sightings__rec *r = &m->pend[m->npend++];
	memcpy(r, &m->tmpl, sizeof(*r));
	memcpy(r->uuid, attr_uuid, IOCB_SIGHTINGS_UUID_LEN);
	r->timestamp = now_s;
}

void iocb_sightings_matches_free(struct iocb_sightings_matches *m)
{
	if (!m)
		return;
	iocb_sightings_matches_flush(m);
	free(m->d);
	free(m);
}
