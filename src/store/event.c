/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's events: the handles attributes point to, their immutable
 * metadata (replaced copy-on-write), the writer's uuid/id/sid tables, and
 * event upsert, removal and access.
 *
 * Event removal flips the event handle's `dead` byte, which every lookup
 * checks, so the whole event disappears for readers in one store; the
 * attributes themselves are unlinked by one scan of the uuid table in the
 * next commit (no per-event attribute list: that would cost ~12 bytes per
 * attribute for an operation MISP performs rarely).
 */
#include "store/internal.h"

#include "core/mem.h"

static void wdel(struct store_tab *t, uint64_t i)
{
	ST_STORE(&t->slots[i], ST_TOMB);
	t->used--;
	t->tombs++;
}

static uint64_t u64_hash(uint64_t v, uint64_t seed)
{
	return iocb_hash64(&v, sizeof(v), seed);
}
static bool ev_uuid_match(const void *key, uint64_t v)
{
	const struct iocb_store_event *e = st_slot_ptr(v);
	return e->meta->has_uuid && memcmp(e->meta->uuid, key, 16) == 0;
}
static bool ev_id_match(const void *key, uint64_t v)
{
	const struct iocb_store_event *e = st_slot_ptr(v);
	return e->meta->id == *(const uint64_t *)key;
}
static bool ev_sid_match(const void *key, uint64_t v)
{
	const struct iocb_store_event *e = st_slot_ptr(v);
	return e->sid == *(const uint64_t *)key;
}
static uint64_t ev_uuid_rehash(const void *ctx, uint64_t v)
{
	(void)ctx;
	return iocb_hash64(((const struct iocb_store_event *)st_slot_ptr(v))->meta->uuid, 16, 1);
}
static uint64_t ev_id_rehash(const void *ctx, uint64_t v)
{
	(void)ctx;
	return u64_hash(((const struct iocb_store_event *)st_slot_ptr(v))->meta->id, 2);
}
static uint64_t ev_sid_rehash(const void *ctx, uint64_t v)
{
	(void)ctx;
	return u64_hash(((const struct iocb_store_event *)st_slot_ptr(v))->sid, 3);
}

static struct iocb_store_event *event_find(struct iocb_store *s, const uint8_t *uuid, uint64_t id)
{
	uint64_t i;
	if (uuid) {
		i = st_wfind(s->etab_uuid, iocb_hash64(uuid, 16, 1), ev_uuid_match, uuid);
		if (i != UINT64_MAX)
			return st_slot_ptr(s->etab_uuid->slots[i]);
	}
	if (id) {
		i = st_wfind(s->etab_id, u64_hash(id, 2), ev_id_match, &id);
		if (i != UINT64_MAX) {
			struct iocb_store_event *e = st_slot_ptr(s->etab_id->slots[i]);
			/* a different uuid with the same id is a different event */
			if (!uuid || !e->meta->has_uuid || memcmp(e->meta->uuid, uuid, 16) == 0)
				return e;
		}
	}
	return NULL;
}

struct iocb_store_event *iocb_store__event_by_sid(struct iocb_store *s, uint64_t sid)
{
	uint64_t i = st_wfind(s->etab_sid, u64_hash(sid, 3), ev_sid_match, &sid);
	return i == UINT64_MAX ? NULL : st_slot_ptr(s->etab_sid->slots[i]);
}

static void event_index(struct iocb_store *s, struct iocb_store_event *e, const struct store_evmeta *old)
{
	const struct store_evmeta *m = e->meta;
	if (m->has_uuid && !(old && old->has_uuid)) {
		uint64_t h = iocb_hash64(m->uuid, 16, 1);
		iocb_store__tab_insert(s, &s->etab_uuid, h, ST_TAG(h) | (uint64_t)(uintptr_t)e, ev_uuid_rehash, false);
	}
	if (m->id && !(old && old->id == m->id)) {
		uint64_t h, i;
		if (old && old->id) {
			i = st_wfind(s->etab_id, u64_hash(old->id, 2), ev_id_match, &old->id);
			if (i != UINT64_MAX && st_slot_ptr(s->etab_id->slots[i]) == e)
				wdel(s->etab_id, i);
		}
		h = u64_hash(m->id, 2);
		iocb_store__tab_insert(s, &s->etab_id, h, ST_TAG(h) | (uint64_t)(uintptr_t)e, ev_id_rehash, false);
	}
}

static void event_unindex(struct iocb_store *s, struct iocb_store_event *e)
{
	const struct store_evmeta *m = e->meta;
	uint64_t i;
	if (m->has_uuid) {
		i = st_wfind(s->etab_uuid, iocb_hash64(m->uuid, 16, 1), ev_uuid_match, m->uuid);
		if (i != UINT64_MAX && st_slot_ptr(s->etab_uuid->slots[i]) == e)
			wdel(s->etab_uuid, i);
	}
	if (m->id) {
		i = st_wfind(s->etab_id, u64_hash(m->id, 2), ev_id_match, &m->id);
		if (i != UINT64_MAX && st_slot_ptr(s->etab_id->slots[i]) == e)
			wdel(s->etab_id, i);
	}
	i = st_wfind(s->etab_sid, u64_hash(e->sid, 3), ev_sid_match, &e->sid);
	if (i != UINT64_MAX)
		wdel(s->etab_sid, i);
}

static void dirty_event(struct iocb_store *s, uint64_t sid)
{
	if (!s->p)
		return;
	if (s->ndirty_events == s->capdirty_events) {
		s->capdirty_events = s->capdirty_events ? s->capdirty_events * 2 : 256;
		s->dirty_events = iocb_xrealloc(s->dirty_events, s->capdirty_events * sizeof(uint64_t));
	}
	s->dirty_events[s->ndirty_events++] = sid;
}


static struct iocb_store_event *event_new(struct iocb_store *s, uint64_t sid, struct store_evmeta *m)
{
	struct iocb_store_event *e = iocb_store__slab_alloc(&s->slab, sizeof(*e));
	uint64_t h = u64_hash(sid, 3);
	memset(e, 0, sizeof(*e));
	e->sid = sid;
	e->store = s;
	e->meta = m;
	iocb_store__tab_insert(s, &s->etab_sid, h, ST_TAG(h) | (uint64_t)(uintptr_t)e, ev_sid_rehash, false);
	event_index(s, e, NULL);
	s->st.events++;
	return e;
}

void iocb_store__load_event(struct iocb_store *s, uint64_t sid, struct store_evmeta *m)
{
	event_new(s, sid, m);
	if (sid >= s->next_sid)
		s->next_sid = sid + 1;
}

/* Build the merged metadata of `old` (may be NULL) and `ev` into s->scratch. */
static size_t evmeta_build(struct iocb_store *s, const struct store_evmeta *old, const struct iocb_misp_event *ev,
			   const uint8_t *uuid)
{
	struct store_evmeta m;
	const uint8_t *otags = old ? (const uint8_t *)(old + 1) : NULL;
	struct iocb_str info, date;
	size_t ntags, sz;

	if (old)
		m = *old;
	else
		memset(&m, 0, sizeof(m));
	if (uuid) {
		memcpy(m.uuid, uuid, 16);
		m.has_uuid = 1;
	}
	if (ev->id)
		m.id = ev->id;
	if (ev->has_orgc_id)
		m.orgc_id = ev->orgc_id;
	if (ev->orgc_name.len)
		m.orgc_name = iocb_store__intern(s, ev->orgc_name);
	if (ev->orgc_uuid.len)
		m.orgc_uuid = iocb_store__intern(s, ev->orgc_uuid);
	if (ev->threat_level_id)
		m.threat_level_id = (int8_t)ev->threat_level_id;
	if (ev->timestamp)
		m.timestamp = ev->timestamp;
	if (ev->publish_timestamp)
		m.publish_timestamp = ev->publish_timestamp;
	if (ev->published || ev->info.len || ev->timestamp)
		m.published = ev->published;
	info = ev->info.len ? ev->info : (old ? iocb_str_make((const char *)otags + 4u * old->ntags, old->info_len) : IOCB_STR_NULL);
	if (info.len > 65535)
		info.len = 65535;
	date = ev->date.len ? ev->date
			    : (old ? iocb_str_make((const char *)otags + 4u * old->ntags + old->info_len, old->date_len)
				   : IOCB_STR_NULL);
	if (date.len > 255)
		date.len = 255;
	ntags = ev->tags_known ? ev->ntags : (old ? old->ntags : 0);
	if (ntags > 65535)
		ntags = 65535;
	m.info_len = (uint16_t)info.len;
	m.date_len = (uint8_t)date.len;
	m.ntags = (uint16_t)ntags;
	m.pad_ = 0;
	sz = sizeof(m) + 4 * ntags + info.len + date.len;
	if (s->scratch_cap < sz) {
		s->scratch_cap = sz * 2;
		s->scratch = iocb_xrealloc(s->scratch, s->scratch_cap);
	}
	uint8_t *d = s->scratch + sizeof(m);
	for (size_t i = 0; i < ntags; i++) {
		uint32_t id = ev->tags_known ? iocb_store__intern(s, ev->tags[i].name) : st_rd32(otags + 4 * i);
		memcpy(d + 4 * i, &id, 4);
	}
	d += 4 * ntags;
	/* info/date may point into the old record: memmove-safe since scratch is separate */
	if (info.len)
		memcpy(d, info.ptr, info.len);
	if (date.len)
		memcpy(d + info.len, date.ptr, date.len);
	memcpy(s->scratch, &m, sizeof(m));
	return sz;
}

/* Append n bytes to the event-input key being built. */
static void evkey_put(struct iocb_store *s, const void *p, size_t n)
{
	if (s->evkey_len + n > s->evkey_cap) {
		s->evkey_cap = (s->evkey_len + n) * 2;
		s->evkey = iocb_xrealloc(s->evkey, s->evkey_cap);
	}
	if (n)
		memcpy(s->evkey + s->evkey_len, p, n);
	s->evkey_len += n;
}

static void evkey_str(struct iocb_store *s, struct iocb_str v)
{
	evkey_put(s, &v.len, sizeof(v.len));
	evkey_put(s, v.ptr, v.len);
}

/*
 * Serialise every field of `ev` that iocb_store__event_upsert() reads into s->evkey.
 * Bulk loads deliver the attributes of one event back to back with the same
 * event context: when the serialisation equals the previous one, the result
 * (the handle) is the same and the merge (uuid parse, 4+ interning lookups,
 * metadata build) is skipped.
 */
static void evkey_build_at(struct iocb_store *s, const struct iocb_misp_event *ev, size_t at)
{
	uint8_t flags[4] = {ev->has_orgc_id, ev->published, ev->tags_known, (uint8_t)ev->threat_level_id};
	s->evkey_len = at;
	evkey_str(s, ev->uuid);
	evkey_put(s, &ev->id, 8);
	evkey_put(s, &ev->orgc_id, 8);
	evkey_put(s, &ev->timestamp, 8);
	evkey_put(s, &ev->publish_timestamp, 8);
	evkey_put(s, flags, sizeof(flags));
	evkey_str(s, ev->info);
	evkey_str(s, ev->orgc_name);
	evkey_str(s, ev->orgc_uuid);
	evkey_str(s, ev->date);
	evkey_put(s, &ev->ntags, sizeof(ev->ntags));
	for (size_t i = 0; ev->tags_known && i < ev->ntags; i++)
		evkey_str(s, ev->tags[i].name);
}

static struct iocb_store_event *event_upsert_slow(struct iocb_store *s, const struct iocb_misp_event *ev);

/*
 * Writer: find or create the event for `ev` and merge its fields in.
 * Returns NULL when ev carries neither uuid nor id.
 */
struct iocb_store_event *iocb_store__event_upsert(struct iocb_store *s, const struct iocb_misp_event *ev)
{
	size_t prev = s->evkey_len;
	if (s->evcache) {
		/* build the new key after the cached one and compare */
		evkey_build_at(s, ev, prev);
		if (s->evkey_len - prev == prev && memcmp(s->evkey, s->evkey + prev, prev) == 0) {
			s->evkey_len = prev;
			return s->evcache;
		}
		memmove(s->evkey, s->evkey + prev, s->evkey_len - prev);
		s->evkey_len -= prev;
	} else {
		evkey_build_at(s, ev, 0);
	}
	s->evcache = event_upsert_slow(s, ev);
	if (!s->evcache)
		s->evkey_len = 0;
	return s->evcache;
}

static struct iocb_store_event *event_upsert_slow(struct iocb_store *s, const struct iocb_misp_event *ev)
{
	uint8_t ubuf[16];
	const uint8_t *uuid = NULL;
	struct iocb_store_event *e;
	struct store_evmeta *m;
	size_t sz;

	if (ev->uuid.len && iocb_store__uuid_parse(ev->uuid, ubuf))
		uuid = ubuf;
	if (!uuid && !ev->id)
		return NULL;
	e = event_find(s, uuid, ev->id);
	sz = evmeta_build(s, e ? e->meta : NULL, ev, uuid);
	if (e && sz == st_evmeta_size(e->meta) && memcmp(s->scratch, e->meta, sz) == 0)
		return e;
	m = iocb_store__slab_alloc(&s->slab, sz);
	memcpy(m, s->scratch, sz);
	if (!e) {
		e = event_new(s, s->next_sid++, m);
	} else {
		struct store_evmeta *old = e->meta;
		ST_STORE(&e->meta, m);
		event_index(s, e, old);
		iocb_store__retire(s, old, st_evmeta_size(old), ST_RT_SLAB);
	}
	dirty_event(s, e->sid);
	return e;
}

/*
 * Writer: an event's metadata changed on its own (a tag added to the event,
 * new info): its attributes render differently (tags, TLP, event info), so
 * each is a change for the listeners, and their quality marks are
 * recomputed (a record whose marks change is replaced). One pass over the
 * uuid table: events change alone rarely (a tag on an event), and only when
 * someone listens or qualifies.
 */
static void notify_event_attrs(struct iocb_store *s, const struct iocb_store_event *e)
{
	const struct store_tab *t = s->utab;
	uint32_t left = e->nattrs;
	for (uint64_t i = 0; i < t->n && left; i++) {
		uint64_t v = t->slots[i];
		if (v == 0 || v == ST_TOMB)
			continue;
		struct iocb_store_attr *r = st_slot_ptr(v);
		if (r->ev == e) {
			/* event tags weigh in a record's quality (decay base score, lists) */
			if (!s->nquality || !iocb_store__requalify_one(s, i, r))
				iocb_store__notify(s, r, r);
			left--;
		}
	}
}

int iocb_store_event_upsert(struct iocb_store *s, const struct iocb_misp_event *ev, struct iocb_err *err)
{
	struct iocb_store_event *e;
	const struct store_evmeta *before = NULL;
	pthread_mutex_lock(&s->wlock);
	s->evcache = NULL;
	if (s->nlisteners || s->nquality) {
		uint8_t u[16];
		const struct iocb_store_event *old = event_find(s, ev->uuid.len && iocb_store__uuid_parse(ev->uuid, u) ? u : NULL,
								  ev->id);
		before = old ? old->meta : NULL;
	}
	e = iocb_store__event_upsert(s, ev);
	if (e && (s->nlisteners || s->nquality) && before && e->meta != before && e->nattrs)
		notify_event_attrs(s, e);
	pthread_mutex_unlock(&s->wlock);
	if (!e)
		return iocb_err_set(err, IOCB_EINVAL, "store: event without uuid or id");
	return IOCB_OK;
}

int iocb_store_event_remove(struct iocb_store *s, struct iocb_str event_uuid, uint64_t event_id, size_t *removed,
			    struct iocb_err *err)
{
	uint8_t u[16];
	struct iocb_store_event *e;
	int rc = IOCB_OK;

	if (removed)
		*removed = 0;
	if (event_uuid.len && !iocb_store__uuid_parse(event_uuid, u))
		return iocb_err_set(err, IOCB_EINVAL, "store: invalid event uuid '%.*s'", IOCB_STR_FMT(event_uuid));
	pthread_mutex_lock(&s->wlock);
	e = event_find(s, event_uuid.len ? u : NULL, event_uuid.len ? 0 : event_id);
	if (!e) {
		rc = IOCB_ENOTFOUND;
		goto out;
	}
	s->evcache = NULL;
	ST_STORE(&e->dead, 1); /* every attribute of the event vanishes here... */
	ST_STORE(&s->dead_pending, s->dead_pending + 1); /* ...for lookups starting from now */
	if (removed)
		*removed = e->nattrs;
	event_unindex(s, e);
	s->st.events--;
	dirty_event(s, e->sid);
	if (s->ndead == s->capdead) {
		s->capdead = s->capdead ? s->capdead * 2 : 16;
		s->dead = iocb_xrealloc(s->dead, s->capdead * sizeof(*s->dead));
	}
	s->dead[s->ndead++] = e;
out:
	pthread_mutex_unlock(&s->wlock);
	return rc;
}

int iocb_store_event_with(struct iocb_store *s, struct iocb_str event_uuid, uint64_t event_id,
			  void (*fn)(void *ud, const struct iocb_store_event *e), void *ud)
{
	uint8_t u[16];
	bool has_uuid = event_uuid.len && iocb_store__uuid_parse(event_uuid, u);
	struct iocb_store_event *e;

	pthread_mutex_lock(&s->wlock);
	e = event_find(s, has_uuid ? u : NULL, event_id);
	if (e && !e->dead)
		fn(ud, e);
	pthread_mutex_unlock(&s->wlock);
	return e && !e->dead ? IOCB_OK : IOCB_ENOTFOUND;
}
