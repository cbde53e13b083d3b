/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store quality hook (store.h "quality"): callbacks that compute a
 * record's marks (warninglist action, decay/expiry instants) when the
 * record is built, the compact block that carries them in the record, and
 * the writers that change them without an upsert: a sighting, a requalify
 * after a reload.
 *
 * The block sits right after the 64-byte header and only when the marks
 * differ from the defaults: a record no list and no model concerns costs
 * nothing, one that carries marks costs 28 bytes. It is part of the record
 * bytes, so LMDB persists it with the record (last_sighting and the type-2
 * expiration survive a restart; the rest is recomputed by
 * iocb_store_requalify() once the callbacks are registered). Stores written
 * before the hook never have ST_F_Q set and read as records without marks.
 */
#include "store/internal.h"

#include <stdlib.h>

#include "core/mem.h"

void iocb_store_quality_default(struct iocb_store_quality *q)
{
	memset(q, 0, sizeof(*q));
	q->expires_at = INT64_MAX;
	q->base_score = -1.0f;
}

static uint32_t to32(int64_t t, uint32_t if_never)
{
	if (t == INT64_MAX)
		return if_never;
	if (t <= 0)
		return 0;
	return t >= (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}

static int64_t from32(uint32_t t, int64_t if_max)
{
	return t == UINT32_MAX ? if_max : (int64_t)t;
}

static void unpack(const struct store_quality *b, struct iocb_store_quality *q)
{
	q->expires_at = from32(b->expires_at, INT64_MAX);
	q->decay_from = b->decay_from;
	q->last_sighting = b->last_sighting;
	q->expiration = b->expiration;
	q->base_score = b->base_score;
	q->model = b->model;
	q->wl_set = b->wl_set;
	q->wl_action = b->wl_action;
}

/* Pack q; false when it is the defaults (no block needed). */
static bool pack(const struct iocb_store_quality *q, struct store_quality *b)
{
	memset(b, 0, sizeof(*b));
	b->expires_at = to32(q->expires_at, UINT32_MAX);
	b->decay_from = to32(q->decay_from, UINT32_MAX);
	b->last_sighting = to32(q->last_sighting, UINT32_MAX);
	b->expiration = to32(q->expiration, UINT32_MAX);
	b->base_score = q->base_score < 0 ? -1.0f : q->base_score;
	b->model = q->model;
	b->wl_set = q->wl_set;
	b->wl_action = q->wl_action;
	return b->expires_at != UINT32_MAX || b->decay_from || b->last_sighting || b->expiration ||
	       b->base_score >= 0 || b->model || b->wl_set || b->wl_action;
}

void iocb_store_attr_quality(const struct iocb_store_attr *a, struct iocb_store_quality *out)
{
	iocb_store_quality_default(out);
	if (a->flags & ST_F_Q)
		unpack(st_quality(a), out);
}

static bool block_live(const struct store_quality *b, int64_t now)
{
	return b->wl_action != IOCB_STORE_WL_SUPPRESS && now < from32(b->expires_at, INT64_MAX);
}

bool iocb_store_attr_live(const struct iocb_store_attr *a, int64_t now)
{
	return !(a->flags & ST_F_Q) || block_live(st_quality(a), now);
}

/* ------------------------------------------------------------ writer */

/*
 * Run the callbacks for record r on q, which holds the marks r starts from
 * (its predecessor's, or the defaults). `edited`: r is a MISP update with a
 * newer timestamp, which lifts a type-2 expiration (MISP's own update
 * brings the indicator back).
 */
static void compute(struct iocb_store *s, const struct iocb_store_attr *r, bool edited, struct iocb_store_quality *q)
{
	q->expires_at = INT64_MAX;
	if (edited && q->expiration && (int64_t)r->timestamp > q->expiration)
		q->expiration = 0;
	for (unsigned i = 0; i < IOCB_STORE_MAX_QUALITY; i++)
		if (s->quality[i].fn)
			s->quality[i].fn(s->quality[i].ud, r, q);
	if (q->expiration && q->expiration < q->expires_at)
		q->expires_at = q->expiration;
}

/* A copy of r with block b (NULL: none), from the slab; r is untouched. */
static struct iocb_store_attr *with_block(struct iocb_store *s, const struct iocb_store_attr *r,
					  const struct store_quality *b)
{
	size_t body = st_attr_size(r) - sizeof(*r) - st_qlen(r);
	struct iocb_store_attr *n = iocb_store__slab_alloc(&s->slab, sizeof(*r) + (b ? sizeof(*b) : 0) + body);
	uint8_t *d = (uint8_t *)(n + 1);
	memcpy(n, r, sizeof(*r));
	n->flags = (uint8_t)(b ? (n->flags | ST_F_Q) : (n->flags & ~ST_F_Q));
	if (b) {
		memcpy(d, b, sizeof(*b));
		d += sizeof(*b);
	}
	memcpy(d, (const uint8_t *)(r + 1) + st_qlen(r), body);
	return n;
}

struct iocb_store_attr *iocb_store__qualify(struct iocb_store *s, struct iocb_store_attr *r,
					    const struct iocb_store_attr *old, uint64_t now)
{
	struct iocb_store_quality q;
	struct store_quality b;
	if (old)
		iocb_store_attr_quality(old, &q);
	else
		iocb_store_quality_default(&q);
	compute(s, r, old && r->timestamp > old->timestamp, &q);
	if (!pack(&q, &b))
		return r;
	/* still gone for the listeners while not live at the upsert's instant */
	b.gone = old && st_gone(old) && !block_live(&b, now > INT64_MAX ? INT64_MAX : (int64_t)now);
	struct iocb_store_attr *n = with_block(s, r, &b);
	iocb_store__slab_free(&s->slab, r, st_attr_size(r)); /* never published */
	return n;
}

/*
 * Writer: recompute r's marks (after `extra` adjusted its store-owned
 * ones); replace r when they changed. A gone record stays gone unless it
 * is live at `now` (< 0: unknown, it stays gone until the next sweep).
 */
static bool requalify(struct iocb_store *s, uint64_t slot, struct iocb_store_attr *r,
		      void (*extra)(struct iocb_store_quality *q, const void *arg), const void *arg, int64_t now,
		      bool announce)
{
	struct iocb_store_quality q;
	struct store_quality b;
	bool has;

	iocb_store_attr_quality(r, &q);
	if (extra)
		extra(&q, arg);
	compute(s, r, false, &q);
	has = pack(&q, &b);
	if (has)
		b.gone = st_gone(r) && (now < 0 || !block_live(&b, now));
	if (has == ((r->flags & ST_F_Q) != 0) && (!has || memcmp(st_quality(r), &b, sizeof(b)) == 0))
		return false;
	iocb_store__replace(s, slot, r, with_block(s, r, has ? &b : NULL), announce);
	return true;
}

bool iocb_store__requalify_one(struct iocb_store *s, uint64_t slot, struct iocb_store_attr *r)
{
	return requalify(s, slot, r, NULL, NULL, -1, true); /* the event changed: listeners hear of it */
}

int iocb_store_quality_add(struct iocb_store *s, iocb_store_quality_fn fn, void *ud)
{
	int h = IOCB_ELIMIT;
	pthread_mutex_lock(&s->wlock);
	for (unsigned i = 0; i < IOCB_STORE_MAX_QUALITY; i++) {
		if (!s->quality[i].fn) {
			s->quality[i].fn = fn;
			s->quality[i].ud = ud;
			s->nquality++;
			h = (int)i;
			break;
		}
	}
	pthread_mutex_unlock(&s->wlock);
	return h;
}

void iocb_store_quality_remove(struct iocb_store *s, int handle)
{
	if (handle < 0 || handle >= IOCB_STORE_MAX_QUALITY)
		return;
	pthread_mutex_lock(&s->wlock);
	if (s->quality[handle].fn) {
		s->quality[handle].fn = NULL;
		s->quality[handle].ud = NULL;
		s->nquality--;
	}
	pthread_mutex_unlock(&s->wlock);
}

int iocb_store_requalify(struct iocb_store *s, uint64_t now, size_t *changed, struct iocb_err *err)
{
	size_t n = 0;
	(void)err;
	pthread_mutex_lock(&s->wlock);
	struct store_tab *t = s->utab; /* replacements never resize it */
	for (uint64_t i = 0; i < t->n; i++) {
		uint64_t v = t->slots[i];
		if (v == 0 || v == ST_TOMB)
			continue;
		struct iocb_store_attr *r = st_slot_ptr(v);
		if (!r->ev->dead && requalify(s, i, r, NULL, NULL, now > INT64_MAX ? INT64_MAX : (int64_t)now, false))
			n++;
	}
	pthread_mutex_unlock(&s->wlock);
	if (changed)
		*changed = n;
	return IOCB_OK;
}

struct sighting {
	int type;
	int64_t ts;
};

static void apply_sighting(struct iocb_store_quality *q, const void *arg)
{
	const struct sighting *g = arg;
	if (g->type == 0) {
		if (g->ts > q->last_sighting)
			q->last_sighting = g->ts;
		if (q->expiration && g->ts >= q->expiration)
			q->expiration = 0;
	} else if (g->type == 2) {
		q->expiration = g->ts > 0 ? g->ts : 1;
	}
}

int iocb_store_sighting(struct iocb_store *s, struct iocb_str attr_uuid, int type, int64_t ts, struct iocb_err *err)
{
	uint8_t u[16];
	uint64_t slot;
	struct sighting g = {type, ts};
	int rc = IOCB_OK;

	if (!iocb_store__uuid_parse(attr_uuid, u))
		return iocb_err_set(err, IOCB_EINVAL, "store: invalid uuid '%.*s'", IOCB_STR_FMT(attr_uuid));
	if (type < 0 || type > 2)
		return iocb_err_set(err, IOCB_EINVAL, "store: sighting type %d (0..2)", type);
	pthread_mutex_lock(&s->wlock);
	struct iocb_store_attr *r = (struct iocb_store_attr *)iocb_store__utab_find(s, u, &slot);
	if (!r || r->ev->dead) {
		rc = IOCB_ENOTFOUND;
		s->st.sightings_unknown++;
		goto out;
	}
	s->st.sightings[type]++;
	if (type != 1)
		(void)requalify(s, slot, r, apply_sighting, &g, type == 0 ? ts : -1, false);
out:
	pthread_mutex_unlock(&s->wlock);
	return rc;
}

/* ------------------------------------------------------------ sweep */

/* Writer: r with its gone flag set to `gone` (r carries a block). */
static void set_gone(struct iocb_store *s, uint64_t slot, struct iocb_store_attr *r, bool gone)
{
	struct store_quality b;
	memcpy(&b, st_quality(r), sizeof(b));
	b.gone = gone;
	/* the notify wrapper turns (r, gone copy) into (r, NULL) and (gone r, copy) into (NULL, copy) */
	iocb_store__replace(s, slot, r, with_block(s, r, &b), false);
}

int iocb_store_quality_sweep(struct iocb_store *s, int64_t now, size_t chunk, struct iocb_store_sweep_stats *out,
			     struct iocb_err *err)
{
	struct iocb_store_sweep_stats st = {0};
	uint64_t i = 0;
	(void)err;
	if (!chunk)
		chunk = 16384;
	for (;;) {
		pthread_mutex_lock(&s->wlock);
		/* re-read each time: the table may have grown while the lock was free (a record may
		 * then be seen twice or not at all this pass; the next pass settles it) */
		struct store_tab *t = s->utab;
		uint64_t end = i + chunk < t->n ? i + chunk : t->n;
		for (; i < end; i++) {
			uint64_t v = t->slots[i];
			if (v == 0 || v == ST_TOMB)
				continue;
			struct iocb_store_attr *r = st_slot_ptr(v);
			if (!(r->flags & ST_F_Q) || r->ev->dead)
				continue;
			const struct store_quality *b = st_quality(r);
			bool live = block_live(b, now), expired = !(now < from32(b->expires_at, INT64_MAX));
			if (!live && !b->gone) {
				if (expired)
					st.expired++;
				else
					st.suppressed++;
				set_gone(s, i, r, true);
			} else if (live && b->gone) {
				st.back++;
				set_gone(s, i, r, false);
			}
			if (!live) {
				st.gone_now++;
				st.expired_now += expired;
			}
		}
		bool done = i >= t->n;
		pthread_mutex_unlock(&s->wlock);
		if (done)
			break;
	}
	if (out)
		*out = st;
	return IOCB_OK;
}
