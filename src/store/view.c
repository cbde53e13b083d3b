/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Read-only views of records and the snapshot walk over them. Everything
 * here runs on reader threads inside the RCU read lock and only reads. Output shapes (the lookup JSON
 * and the like) are not the store's business: src/serve/render/ builds
 * them from these views.
 *
 * A record reaches its store (interned strings, type table) through its
 * event handle: every attribute has one, event-less attributes point to
 * the store's own "no event" handle, so the public accessors need no store
 * argument and records carry no extra pointer.
 */
#include "store/store.h"

#include <stdlib.h>

#include "store/internal.h"

void iocb_store_attr_view(const struct iocb_store_attr *a, struct iocb_store_attr_view *out)
{
	const struct iocb_store_event *e = a->ev;
	const struct iocb_store *s = e->store;
	const uint8_t *tail;

	memset(out, 0, sizeof(*out));
	iocb_store__uuid_format(a->uuid, out->uuid);
	out->id = a->id;
	out->type = ST_LOAD(&s->types[a->type]);
	out->category = st_str_view(s, a->category);
	out->value = iocb_str_make(st_value(a), a->value_len);
	out->nparts = st_nparts(a);
	for (unsigned p = 0; p < 2; p++) {
		out->part[p] = st_part(a, p);
		out->prefix[p] = a->plen[p] == ST_NOPLEN ? -1 : a->plen[p];
	}
	out->comment = iocb_str_make(st_comment(a), a->comment_len);
	out->to_ids = (a->flags & ST_F_TO_IDS) != 0;
	out->timestamp = a->timestamp;
	tail = st_tags(a) + 4u * a->ntags;
	out->first_seen_us = INT64_MIN;
	out->last_seen_us = INT64_MIN;
	if (a->flags & ST_F_FS) {
		memcpy(&out->first_seen_us, tail, 8);
		tail += 8;
	}
	if (a->flags & ST_F_LS)
		memcpy(&out->last_seen_us, tail, 8);
	out->source = a->source;
	out->updated = a->updated;
	out->ntags = a->ntags;
	out->event = ST_LOAD(&e->meta) ? e : NULL;
}

void iocb_store_attr_uuid(const struct iocb_store_attr *a, uint8_t out[16])
{
	memcpy(out, a->uuid, 16);
}

struct iocb_str iocb_store_attr_tag(const struct iocb_store_attr *a, size_t i)
{
	if (i >= a->ntags)
		return IOCB_STR_NULL;
	return st_str_view(a->ev->store, st_rd32(st_tags(a) + 4 * i));
}

/* "tlp:amber" -> "amber"; empty when the tag is no TLP tag. */
static struct iocb_str tlp_level(struct iocb_str tag)
{
	if (tag.len > 4 && (tag.ptr[0] | 32) == 't' && (tag.ptr[1] | 32) == 'l' && (tag.ptr[2] | 32) == 'p' &&
	    tag.ptr[3] == ':')
		return iocb_str_make(tag.ptr + 4, tag.len - 4);
	return IOCB_STR_NULL;
}

static const struct store_evmeta *evmeta(const struct iocb_store_event *pub)
{
	const struct iocb_store_event *e = pub;
	return ST_LOAD(&e->meta);
}

/*
 * The tags read in place: the bus feed asks this for every change it
 * renders, and two whole views (uuids formatted) cost more than the scan.
 */
struct iocb_str iocb_store_attr_tlp(const struct iocb_store_attr *a)
{
	const struct store_evmeta *m = evmeta(a->ev);
	struct iocb_str t;

	for (size_t i = 0; i < a->ntags; i++) {
		t = tlp_level(iocb_store_attr_tag(a, i));
		if (t.len)
			return t;
	}
	for (size_t i = 0; m && i < m->ntags; i++) {
		t = tlp_level(st_str_view(a->ev->store, st_rd32((const uint8_t *)(m + 1) + 4 * i)));
		if (t.len)
			return t;
	}
	return IOCB_STR_NULL;
}

void iocb_store_event_view(const struct iocb_store_event *pub, struct iocb_store_event_view *out)
{
	const struct iocb_store_event *e = pub;
	const struct store_evmeta *m = evmeta(pub);
	const struct iocb_store *s = e->store;
	const char *text;

	memset(out, 0, sizeof(*out));
	if (!m)
		return;
	if (m->has_uuid)
		iocb_store__uuid_format(m->uuid, out->uuid);
	out->id = m->id;
	text = (const char *)(m + 1) + 4u * m->ntags;
	out->info = iocb_str_make(text, m->info_len);
	out->date = iocb_str_make(text + m->info_len, m->date_len);
	out->threat_level_id = m->threat_level_id;
	out->orgc_id = m->orgc_id;
	out->orgc_name = st_str_view(s, m->orgc_name);
	out->orgc_uuid = st_str_view(s, m->orgc_uuid);
	out->timestamp = m->timestamp;
	out->publish_timestamp = m->publish_timestamp;
	out->published = m->published != 0;
	out->ntags = m->ntags;
}

struct iocb_str iocb_store_event_tag(const struct iocb_store_event *pub, size_t i)
{
	const struct iocb_store_event *e = pub;
	const struct store_evmeta *m = evmeta(pub);
	if (!m || i >= m->ntags)
		return IOCB_STR_NULL;
	return st_str_view(e->store, st_rd32((const uint8_t *)(m + 1) + 4 * i));
}

/* ------------------------------------------------------------ iteration */

int iocb_store_each(struct iocb_store *s, iocb_store_each_cb fn, void *ud)
{
	const struct iocb_store_attr **recs = NULL;
	size_t n = 0, seen = 0;
	int rc = IOCB_OK;

	/*
	 * The snapshot: the records live at one instant, taken under the writer
	 * lock so no update is half-applied. The read-side section starts
	 * before the lock is released, so no record taken can be freed (freeing
	 * waits for a grace period) before the walk ends. Order matters: a
	 * commit holds the writer lock while it waits for readers, so the lock
	 * is never requested from inside a read-side section.
	 */
	pthread_mutex_lock(&s->wlock);
	const struct store_tab *t = s->utab;
	if (t->used) {
		recs = malloc(t->used * sizeof(*recs));
		if (!recs) {
			pthread_mutex_unlock(&s->wlock);
			return IOCB_ENOMEM;
		}
	}
	for (uint64_t i = 0; i < t->n && seen < t->used; i++) {
		uint64_t v = t->slots[i];
		if (v == 0 || v == ST_TOMB)
			continue;
		seen++;
		const struct iocb_store_attr *r = (const struct iocb_store_attr *)(uintptr_t)(v & ST_PTR_MASK);
		if (!r->ev->dead && !st_gone(r))
			recs[n++] = r;
	}
	iocb_store_read_lock();
	pthread_mutex_unlock(&s->wlock);
	for (size_t i = 0; i < n && rc == IOCB_OK; i++)
		rc = fn(ud, recs[i]);
	iocb_store_read_unlock();
	free(recs);
	return rc;
}

int iocb_store_walk(const struct iocb_store *s, struct iocb_store_cursor *c, size_t max_slots, iocb_store_each_cb fn,
		    void *ud)
{
	int rc = IOCB_EAGAIN;

	iocb_store_read_lock();
	/* Rebuilds count before the table is loaded: a rebuild after the load is seen next call. */
	uint64_t gen = ST_LOAD(&s->utab_rebuilds);
	const struct store_tab *t = ST_LOAD(&s->utab);
	if (!c->started || gen != c->rebuilds) {
		if (c->started)
			c->restarts++;
		c->started = true;
		c->rebuilds = gen;
		c->slot = 0;
	}
	uint64_t end = c->slot + max_slots < c->slot || c->slot + max_slots > t->n ? t->n : c->slot + max_slots;
	for (; c->slot < end; c->slot++) {
		uint64_t v = ST_LOAD(&t->slots[c->slot]);
		if (v == 0 || v == ST_TOMB)
			continue;
		const struct iocb_store_attr *r = st_slot_ptr(v);
		if (ST_LOAD(&r->ev->dead) || st_gone(r))
			continue;
		int frc = fn(ud, r);
		if (frc != 0) {
			rc = frc; /* c->slot stays: the next call sees this record again */
			goto out;
		}
	}
	if (c->slot >= t->n)
		rc = IOCB_OK;
out:
	iocb_store_read_unlock();
	return rc;
}
