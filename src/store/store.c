/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's write side: open/close, records, events, upsert/remove,
 * expiry, commit, interning, metadata and stats. See internal.h for the
 * memory layout and concurrency model, index.c for the value index and
 * lookups, cidr.c for prefix containment, persist.c for LMDB.
 *
 * An upsert builds one immutable record (~0.3-0.5 us: uuid parse, event
 * resolve, interning, one slab allocation, one or two index updates),
 * publishes it, and retires the record it replaces. Retired memory is freed
 * in iocb_store_commit() after synchronize_rcu(), which is why commit is
 * meant to be called per batch.
 *
 * Event removal flips the event handle's `dead` byte, which every lookup
 * checks, so the whole event disappears for readers in one store; the
 * attributes themselves are unlinked by one scan of the uuid table in the
 * next commit (no per-event attribute list: that would cost ~12 bytes per
 * attribute for an operation MISP performs rarely).
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <urcu.h>

#include "core/mem.h"
#include "store/internal.h"

/*
 * ThreadSanitizer cannot see liburcu's grace periods (liburcu is not
 * instrumented), so it would report every free after synchronize_rcu() as
 * racing with the readers' earlier loads. Model the grace period for it:
 * each read-side unlock releases a sync object, and the writer acquires it
 * after synchronize_rcu(). No code is generated in other builds.
 */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define ST_TSAN 1
#endif
#ifdef ST_TSAN
#include <sanitizer/tsan_interface.h>
static char tsan_grace; /* address used only as a TSan sync object */
#define TSAN_RELEASE() __tsan_release(&tsan_grace)
#define TSAN_ACQUIRE() __tsan_acquire(&tsan_grace)
#else
#define TSAN_RELEASE() ((void)0)
#define TSAN_ACQUIRE() ((void)0)
#endif

/* ------------------------------------------------------------ small helpers */

/* hex digit value + 1, 0 for a non-hex byte */
static const uint8_t hexv[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9,
	['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16, ['A'] = 11,
	['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

bool iocb_store__uuid_parse(struct iocb_str u, uint8_t out[16])
{
	/* byte i of the uuid starts at text offset pos[i] (36-char form) */
	static const uint8_t pos[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
	const unsigned char *p = (const unsigned char *)u.ptr;
	unsigned bad = 0;

	if (u.len == 36) {
		if (p[8] != '-' || p[13] != '-' || p[18] != '-' || p[23] != '-')
			return false;
		for (unsigned i = 0; i < 16; i++) {
			unsigned hi = hexv[p[pos[i]]], lo = hexv[p[pos[i] + 1]];
			bad |= (hi == 0) | (lo == 0);
			out[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
		}
		return !bad;
	}
	if (u.len == 32) {
		for (unsigned i = 0; i < 16; i++) {
			unsigned hi = hexv[p[2 * i]], lo = hexv[p[2 * i + 1]];
			bad |= (hi == 0) | (lo == 0);
			out[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
		}
		return !bad;
	}
	return false;
}

void iocb_store__uuid_format(const uint8_t u[16], char out[37])
{
	static const char hx[] = "0123456789abcdef";
	size_t o = 0;
	for (unsigned i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hx[u[i] >> 4];
		out[o++] = hx[u[i] & 15];
	}
	out[o] = '\0';
}

void iocb_store__retire(struct iocb_store *s, void *p, size_t size, enum st_retire_kind kind)
{
	if (s->nretired == s->capretired) {
		s->capretired = s->capretired ? s->capretired * 2 : 256;
		s->retired = iocb_xrealloc(s->retired, s->capretired * sizeof(*s->retired));
	}
	s->retired[s->nretired].p = p;
	s->retired[s->nretired].size = (uint32_t)size;
	s->retired[s->nretired].kind = (uint8_t)kind;
	s->nretired++;
}

static void free_retired(struct iocb_store *s)
{
	for (size_t i = 0; i < s->nretired; i++) {
		struct store_retired *r = &s->retired[i];
		switch (r->kind) {
		case ST_RT_SLAB:
			iocb_store__slab_free(&s->slab, r->p, r->size);
			break;
		case ST_RT_CIDR:
			iocb_store__cidrset_free(r->p);
			break;
		default:
			free(r->p);
			break;
		}
	}
	s->nretired = 0;
	if (s->capretired > 4096) {
		free(s->retired);
		s->retired = NULL;
		s->capretired = 0;
	}
}

/* Writer-only table lookup with a key test. */
typedef bool (*wmatch_cb)(const void *key, uint64_t v);

static uint64_t wfind(const struct store_tab *t, uint64_t h, wmatch_cb match, const void *key)
{
	uint64_t i = st_home(t, h), tag = h & 0xffff;
	for (;;) {
		uint64_t v = t->slots[i];
		if (v == 0)
			return UINT64_MAX;
		if (v != ST_TOMB && (v >> 48) == tag && match(key, v))
			return i;
		i = st_next(t, i);
	}
}

static void wdel(struct store_tab *t, uint64_t i)
{
	ST_STORE(&t->slots[i], ST_TOMB);
	t->used--;
	t->tombs++;
}

static inline void *slot_ptr(uint64_t v)
{
	return (void *)(uintptr_t)(v & ST_PTR_MASK);
}

/* ------------------------------------------------------------ interning */

static uint64_t str_hash(const void *p, size_t n)
{
	return iocb_hash64(p, n, 0x737472);
}

static bool str_match(const void *key, uint64_t v)
{
	const struct iocb_str *k = key;
	const struct store_istr *is = slot_ptr(v);
	return is->len == k->len && memcmp(is->s, k->ptr, k->len) == 0;
}

static uint64_t str_rehash(const void *ctx, uint64_t v)
{
	const struct store_istr *is = slot_ptr(v);
	(void)ctx;
	return str_hash(is->s, is->len);
}

static void str_publish(struct iocb_store *s, uint32_t id, struct store_istr *is)
{
	struct store_istr **chunk = s->strs[id / ST_STR_CHUNK];
	if (!chunk) {
		chunk = iocb_xcalloc(ST_STR_CHUNK, sizeof(*chunk));
		ST_STORE(&s->strs[id / ST_STR_CHUNK], chunk);
	}
	ST_STORE(&chunk[id % ST_STR_CHUNK], is);
}

static struct store_istr *istr_new(struct iocb_str str, uint32_t id)
{
	struct store_istr *is = iocb_xmalloc(sizeof(*is) + str.len + 1);
	is->len = (uint32_t)str.len;
	is->id = id;
	if (str.len)
		memcpy(is->s, str.ptr, str.len);
	is->s[str.len] = '\0';
	return is;
}

static void intern_put(struct iocb_store *s, uint32_t id, struct iocb_str str, uint64_t h)
{
	struct store_istr *is = istr_new(str, id);
	s->str_bytes += sizeof(*is) + str.len + 1 + 12;
	str_publish(s, id, is);
	iocb_store__tab_insert(s, &s->stab, h, ST_TAG(h) | (uint64_t)(uintptr_t)is, str_rehash, false);
}

uint32_t iocb_store__intern(struct iocb_store *s, struct iocb_str str)
{
	uint64_t h, i;

	if (str.len == 0)
		return 0;
	if (str.len > 65535)
		str.len = 65535;
	h = str_hash(str.ptr, str.len);
	i = wfind(s->stab, h, str_match, &str);
	if (i != UINT64_MAX)
		return ((struct store_istr *)slot_ptr(s->stab->slots[i]))->id;
	if (s->nstrs >= (uint32_t)ST_STR_CHUNK * ST_STR_CHUNKS)
		return 0; /* table full: degrade to "" rather than fail the attribute */
	uint32_t id = s->nstrs++;
	intern_put(s, id, str, h);
	s->dict_dirty = true;
	return id;
}

void iocb_store__intern_restore(struct iocb_store *s, uint32_t id, struct iocb_str str)
{
	if (id == 0 || id >= (uint32_t)ST_STR_CHUNK * ST_STR_CHUNKS ||
	    (s->strs[id / ST_STR_CHUNK] && s->strs[id / ST_STR_CHUNK][id % ST_STR_CHUNK]))
		return;
	intern_put(s, id, str, str_hash(str.ptr, str.len));
	if (id >= s->nstrs)
		s->nstrs = id + 1;
}

static int type_index(struct iocb_store *s, const struct iocb_misp_type *t)
{
	for (unsigned i = 0; i < s->ntypes; i++)
		if (s->types[i] == t)
			return (int)i;
	/* a different pointer with the same name (tests, reloads): same type */
	for (unsigned i = 0; i < s->ntypes; i++)
		if (strcmp(s->types[i]->name, t->name) == 0)
			return (int)i;
	if (s->ntypes >= 256)
		return -1;
	unsigned i = s->ntypes;
	s->type_mc[i][0] = (uint8_t)t->mc[0];
	s->type_mc[i][1] = (uint8_t)t->mc[1];
	ST_STORE(&s->types[i], t);
	s->ntypes++;
	s->dict_dirty = true;
	return (int)i;
}

int iocb_store__type_restore(struct iocb_store *s, unsigned idx, struct iocb_str name)
{
	const struct iocb_misp_type *t = iocb_misp_type_find(name);
	if (!t || idx >= 256)
		return IOCB_ENOTFOUND;
	s->type_mc[idx][0] = (uint8_t)t->mc[0];
	s->type_mc[idx][1] = (uint8_t)t->mc[1];
	ST_STORE(&s->types[idx], t);
	if (idx >= s->ntypes)
		s->ntypes = idx + 1;
	return IOCB_OK;
}

/* ------------------------------------------------------------ events */

static uint64_t u64_hash(uint64_t v, uint64_t seed)
{
	return iocb_hash64(&v, sizeof(v), seed);
}
static bool ev_uuid_match(const void *key, uint64_t v)
{
	const struct iocb_store_event *e = slot_ptr(v);
	return e->meta->has_uuid && memcmp(e->meta->uuid, key, 16) == 0;
}
static bool ev_id_match(const void *key, uint64_t v)
{
	const struct iocb_store_event *e = slot_ptr(v);
	return e->meta->id == *(const uint64_t *)key;
}
static bool ev_sid_match(const void *key, uint64_t v)
{
	const struct iocb_store_event *e = slot_ptr(v);
	return e->sid == *(const uint64_t *)key;
}
static uint64_t ev_uuid_rehash(const void *ctx, uint64_t v)
{
	(void)ctx;
	return iocb_hash64(((const struct iocb_store_event *)slot_ptr(v))->meta->uuid, 16, 1);
}
static uint64_t ev_id_rehash(const void *ctx, uint64_t v)
{
	(void)ctx;
	return u64_hash(((const struct iocb_store_event *)slot_ptr(v))->meta->id, 2);
}
static uint64_t ev_sid_rehash(const void *ctx, uint64_t v)
{
	(void)ctx;
	return u64_hash(((const struct iocb_store_event *)slot_ptr(v))->sid, 3);
}

static struct iocb_store_event *event_find(struct iocb_store *s, const uint8_t *uuid, uint64_t id)
{
	uint64_t i;
	if (uuid) {
		i = wfind(s->etab_uuid, iocb_hash64(uuid, 16, 1), ev_uuid_match, uuid);
		if (i != UINT64_MAX)
			return slot_ptr(s->etab_uuid->slots[i]);
	}
	if (id) {
		i = wfind(s->etab_id, u64_hash(id, 2), ev_id_match, &id);
		if (i != UINT64_MAX) {
			struct iocb_store_event *e = slot_ptr(s->etab_id->slots[i]);
			/* a different uuid with the same id is a different event */
			if (!uuid || !e->meta->has_uuid || memcmp(e->meta->uuid, uuid, 16) == 0)
				return e;
		}
	}
	return NULL;
}

struct iocb_store_event *iocb_store__event_by_sid(struct iocb_store *s, uint64_t sid)
{
	uint64_t i = wfind(s->etab_sid, u64_hash(sid, 3), ev_sid_match, &sid);
	return i == UINT64_MAX ? NULL : slot_ptr(s->etab_sid->slots[i]);
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
			i = wfind(s->etab_id, u64_hash(old->id, 2), ev_id_match, &old->id);
			if (i != UINT64_MAX && slot_ptr(s->etab_id->slots[i]) == e)
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
		i = wfind(s->etab_uuid, iocb_hash64(m->uuid, 16, 1), ev_uuid_match, m->uuid);
		if (i != UINT64_MAX && slot_ptr(s->etab_uuid->slots[i]) == e)
			wdel(s->etab_uuid, i);
	}
	if (m->id) {
		i = wfind(s->etab_id, u64_hash(m->id, 2), ev_id_match, &m->id);
		if (i != UINT64_MAX && slot_ptr(s->etab_id->slots[i]) == e)
			wdel(s->etab_id, i);
	}
	i = wfind(s->etab_sid, u64_hash(e->sid, 3), ev_sid_match, &e->sid);
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

static void dirty_attr(struct iocb_store *s, const uint8_t u[16])
{
	if (!s->p)
		return;
	if (s->ndirty_attrs == s->capdirty_attrs) {
		s->capdirty_attrs = s->capdirty_attrs ? s->capdirty_attrs * 2 : 1024;
		s->dirty_attrs = iocb_xrealloc(s->dirty_attrs, s->capdirty_attrs * 16);
	}
	memcpy(s->dirty_attrs[s->ndirty_attrs++], u, 16);
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
 * Serialise every field of `ev` that event_upsert() reads into s->evkey.
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
static struct iocb_store_event *event_upsert(struct iocb_store *s, const struct iocb_misp_event *ev)
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

/* ------------------------------------------------------------ records */

static void count_attr(struct iocb_store *s, const struct iocb_store_attr *r, int d)
{
	s->st.attrs += (uint64_t)(int64_t)d;
	s->st.by_source[r->source] += (uint64_t)(int64_t)d;
	s->st.by_type[s->types[r->type]->id & 255] += (uint64_t)(int64_t)d;
	if (!(r->flags & ST_F_TO_IDS))
		s->st.non_ids += (uint64_t)(int64_t)d;
	r->ev->nattrs += (uint32_t)d;
}

void iocb_store__load_attr(struct iocb_store *s, struct iocb_store_attr *r)
{
	iocb_store__utab_insert(s, r);
	iocb_store__index_attr(s, r);
	count_attr(s, r, 1);
}

/* Binary IP for part p, masked to its prefix. Returns false if not an IP. */
static bool part_ip(struct iocb_str text, int prefix, uint8_t out[16], bool *v6, uint8_t *plen)
{
	int pl;
	if (!iocb_store__parse_ip(text, out, v6, &pl))
		return false;
	if (pl < 0)
		pl = prefix;
	if (pl < 0 || pl >= (*v6 ? 128 : 32)) {
		*plen = ST_NOPLEN;
		return true;
	}
	*plen = (uint8_t)pl;
	iocb_store__u128_to_ip(iocb_store__mask(iocb_store__ip_to_u128(out, *v6), *v6, (unsigned)pl), *v6, out);
	return true;
}

static int attr_build(struct iocb_store *s, const struct iocb_misp_attr *a, const uint8_t uuid[16], unsigned source,
		      uint64_t now, struct iocb_store_event *ev, struct iocb_store_attr **out, struct iocb_err *err)
{
	struct iocb_store_attr h;
	struct iocb_str p0 = a->part[0], p1 = a->nparts > 1 ? a->part[1] : IOCB_STR_NULL, comment = a->comment;
	uint8_t ip[2][16];
	size_t iplen[2] = {0, 0}, vlen, ntags = 0, sz;
	int ti = type_index(s, a->type);

	if (ti < 0)
		return iocb_err_set(err, IOCB_ELIMIT, "store: more than 256 attribute types");
	if (!p0.len && a->nparts <= 1)
		p0 = a->value;
	vlen = p1.len || a->nparts > 1 ? p0.len + 1 + p1.len : p0.len;
	if (vlen > 65535)
		return iocb_err_set(err, IOCB_ELIMIT, "store: attribute %.*s: value longer than 65535 bytes",
				    IOCB_STR_FMT(a->uuid));
	if (comment.len > 65535) {
		comment.len = 65535;
		while (comment.len && ((unsigned char)comment.ptr[comment.len] & 0xc0) == 0x80)
			comment.len--;
	}
	memset(&h, 0, sizeof(h));
	h.ev = ev;
	h.id = a->id;
	h.timestamp = a->timestamp;
	memcpy(h.uuid, uuid, 16);
	h.updated = now > UINT32_MAX ? UINT32_MAX : (uint32_t)now;
	h.category = iocb_store__intern(s, a->category);
	h.value_len = (uint16_t)vlen;
	h.part1_off = (p1.len || a->nparts > 1) ? (uint16_t)(p0.len + 1) : 0;
	h.comment_len = (uint16_t)comment.len;
	h.type = (uint8_t)ti;
	h.source = (uint8_t)source;
	h.flags = a->to_ids ? ST_F_TO_IDS : 0;
	if (a->first_seen_us != INT64_MIN)
		h.flags |= ST_F_FS;
	if (a->last_seen_us != INT64_MIN)
		h.flags |= ST_F_LS;
	h.plen[0] = h.plen[1] = ST_NOPLEN;
	for (unsigned p = 0; p < 2; p++) {
		bool v6;
		if (s->type_mc[ti][p] != IOCB_MC_IP || !(p ? p1 : p0).len)
			continue;
		if (!part_ip(p ? p1 : p0, a->prefix[p], ip[p], &v6, &h.plen[p]))
			continue;
		iplen[p] = v6 ? 16 : 4;
		h.flags |= (uint8_t)(p ? ST_F_IP1 : ST_F_IP0);
		if (v6)
			h.flags |= (uint8_t)(p ? ST_F_V6_1 : ST_F_V6_0);
	}
	for (size_t i = 0; i < a->ntags; i++)
		if (!(a->tags[i].inherited && a->event && a->event->tags_known))
			ntags++;
	if (ntags > 65535)
		ntags = 65535;
	h.ntags = (uint16_t)ntags;

	sz = st_attr_size(&h);
	struct iocb_store_attr *r = iocb_store__slab_alloc(&s->slab, sz);
	uint8_t *d = (uint8_t *)(r + 1);
	memcpy(r, &h, sizeof(h));
	memcpy(d, ip[0], iplen[0]);
	d += iplen[0];
	memcpy(d, ip[1], iplen[1]);
	d += iplen[1];
	if (p0.len)
		memcpy(d, p0.ptr, p0.len);
	d += p0.len;
	if (h.part1_off) {
		*d++ = '|';
		if (p1.len)
			memcpy(d, p1.ptr, p1.len);
		d += p1.len;
	}
	*d++ = '\0';
	if (comment.len)
		memcpy(d, comment.ptr, comment.len);
	d += comment.len;
	*d++ = '\0';
	for (size_t i = 0, k = 0; i < a->ntags && k < ntags; i++) {
		if (a->tags[i].inherited && a->event && a->event->tags_known)
			continue;
		uint32_t id = iocb_store__intern(s, a->tags[i].name);
		memcpy(d, &id, 4);
		d += 4;
		k++;
	}
	if (h.flags & ST_F_FS) {
		memcpy(d, &a->first_seen_us, 8);
		d += 8;
	}
	if (h.flags & ST_F_LS)
		memcpy(d, &a->last_seen_us, 8);
	*out = r;
	return IOCB_OK;
}

/* Writer: unlink record r (in utab slot i) from every index and retire it. */
static void attr_unlink(struct iocb_store *s, uint64_t slot, struct iocb_store_attr *r)
{
	iocb_store__reindex(s, r, NULL);
	iocb_store__utab_set(s, slot, NULL);
	count_attr(s, r, -1);
	dirty_attr(s, r->uuid);
	iocb_store__retire(s, r, st_attr_size(r), ST_RT_SLAB);
}

/* ------------------------------------------------------------ open / free */

void iocb_store_opts_default(struct iocb_store_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->map_size = (size_t)8 << 30;
	o->durable = true;
}

int iocb_store_open(const struct iocb_store_opts *opts, struct iocb_store **out, struct iocb_err *err)
{
	struct iocb_store *s = iocb_xcalloc(1, sizeof(*s));
	int rc;

	s->opts = *opts;
	if (!s->opts.map_size)
		s->opts.map_size = (size_t)8 << 30;
	pthread_mutex_init(&s->wlock, NULL);
	pthread_mutex_init(&s->cmu, NULL);
	s->noev.store = s;
	/* composites and headroom: ~1.15 value entries per attribute */
	s->vtab = iocb_store__tab_new(opts->expected_attrs + opts->expected_attrs / 7);
	s->utab = iocb_store__tab_new(opts->expected_attrs);
	s->etab_uuid = iocb_store__tab_new(opts->expected_attrs / 8);
	s->etab_id = iocb_store__tab_new(opts->expected_attrs / 8);
	s->etab_sid = iocb_store__tab_new(opts->expected_attrs / 8);
	s->stab = iocb_store__tab_new(1024);
	s->nstrs = 1; /* id 0 is the empty string */
	s->next_sid = 1;
	if (opts->path) {
		rc = iocb_store__persist_open(s, err);
		if (rc < 0) {
			iocb_store_free(s);
			return rc;
		}
	}
	iocb_store__cidr_rebuild(s, false, true);
	iocb_store__cidr_rebuild(s, true, true);
	free_retired(s);
	*out = s;
	return IOCB_OK;
}

void iocb_store_free(struct iocb_store *s)
{
	if (!s)
		return;
	synchronize_rcu();
	TSAN_ACQUIRE();
	iocb_store__persist_close(s);
	free_retired(s);
	for (unsigned c = 0; c < ST_STR_CHUNKS && s->strs[c]; c++) {
		for (unsigned j = 0; j < ST_STR_CHUNK; j++)
			free(s->strs[c][j]);
		free(s->strs[c]);
	}
	for (struct store_meta_kv *kv = s->meta, *next; kv; kv = next) {
		next = kv->next;
		free(kv->key);
		free(kv->val);
		free(kv);
	}
	iocb_store__cidr_free(&s->cidr[0]);
	iocb_store__cidr_free(&s->cidr[1]);
	free(s->vtab);
	free(s->utab);
	free(s->etab_uuid);
	free(s->etab_id);
	free(s->etab_sid);
	free(s->stab);
	free(s->retired);
	free(s->dead);
	free(s->dirty_attrs);
	free(s->dirty_events);
	free(s->scratch);
	free(s->evkey);
	iocb_store__slab_fini(&s->slab);
	pthread_mutex_destroy(&s->wlock);
	pthread_mutex_destroy(&s->cmu);
	free(s);
}

/* ------------------------------------------------------------ writing */

static int remove_locked(struct iocb_store *s, const uint8_t u[16])
{
	uint64_t slot;
	struct iocb_store_attr *r = (struct iocb_store_attr *)iocb_store__utab_find(s, u, &slot);
	if (!r)
		return IOCB_ENOTFOUND;
	bool visible = !r->ev->dead;
	attr_unlink(s, slot, r);
	return visible ? IOCB_OK : IOCB_ENOTFOUND;
}

static int upsert(struct iocb_store *s, const struct iocb_misp_attr *a, unsigned source, uint64_t now, bool only_newer,
		  struct iocb_err *err);

int iocb_store_upsert(struct iocb_store *s, const struct iocb_misp_attr *a, unsigned source, uint64_t now,
		      struct iocb_err *err)
{
	return upsert(s, a, source, now, false, err);
}

int iocb_store_upsert_newer(struct iocb_store *s, const struct iocb_misp_attr *a, unsigned source, uint64_t now,
			    struct iocb_err *err)
{
	return upsert(s, a, source, now, true, err);
}

static int upsert(struct iocb_store *s, const struct iocb_misp_attr *a, unsigned source, uint64_t now, bool only_newer,
		  struct iocb_err *err)
{
	uint8_t u[16];
	struct iocb_store_attr *r = NULL, *old;
	struct iocb_store_event *ev = NULL;
	uint64_t slot;
	int rc;

	if (!a->uuid.len || !iocb_store__uuid_parse(a->uuid, u))
		return iocb_err_set(err, IOCB_EINVAL, "store: attribute without a valid uuid");
	if (!a->type)
		return iocb_err_set(err, IOCB_EINVAL, "store: attribute %.*s without a type", IOCB_STR_FMT(a->uuid));
	if (source >= IOCB_STORE_MAX_SOURCES)
		return iocb_err_set(err, IOCB_EINVAL, "store: source id %u out of range", source);
	pthread_mutex_lock(&s->wlock);
	if (a->deleted || a->action == IOCB_ACT_DELETE || a->action == IOCB_ACT_SOFT_DELETE) {
		(void)remove_locked(s, u);
		rc = IOCB_OK;
		goto out;
	}
	/* One probe serves the staleness check and the replacement below (attr_build
	 * and the event upsert do not touch the uuid table). */
	old = (struct iocb_store_attr *)iocb_store__utab_find(s, u, &slot);
	if (only_newer && a->timestamp && old && old->timestamp > a->timestamp) {
		rc = IOCB_EEXIST;
		goto out;
	}
	if (a->event) {
		struct iocb_misp_event evc = *a->event;
		if (!evc.id)
			evc.id = a->event_id;
		ev = event_upsert(s, &evc);
	}
	if (!ev)
		ev = &s->noev;
	rc = attr_build(s, a, u, source, now, ev, &r, err);
	if (rc < 0)
		goto out;
	if (old) {
		iocb_store__reindex(s, old, r);
		iocb_store__utab_set(s, slot, r);
		count_attr(s, old, -1);
		iocb_store__retire(s, old, st_attr_size(old), ST_RT_SLAB);
	} else {
		iocb_store__utab_insert(s, r);
		iocb_store__index_attr(s, r);
	}
	count_attr(s, r, 1);
	dirty_attr(s, u);
out:
	pthread_mutex_unlock(&s->wlock);
	return rc;
}

int iocb_store_remove(struct iocb_store *s, struct iocb_str attr_uuid, struct iocb_err *err)
{
	uint8_t u[16];
	int rc;
	if (!iocb_store__uuid_parse(attr_uuid, u))
		return iocb_err_set(err, IOCB_EINVAL, "store: invalid uuid '%.*s'", IOCB_STR_FMT(attr_uuid));
	pthread_mutex_lock(&s->wlock);
	rc = remove_locked(s, u);
	pthread_mutex_unlock(&s->wlock);
	return rc;
}

int iocb_store_event_upsert(struct iocb_store *s, const struct iocb_misp_event *ev, struct iocb_err *err)
{
	struct iocb_store_event *e;
	pthread_mutex_lock(&s->wlock);
	s->evcache = NULL;
	e = event_upsert(s, ev);
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

/* Writer: one pass over the uuid table removing what `pred` selects. */
static size_t sweep(struct iocb_store *s, bool (*pred)(const struct iocb_store *, const struct iocb_store_attr *, uint64_t),
		    uint64_t now)
{
	struct store_tab *t = s->utab; /* removals never resize */
	size_t n = 0;
	for (uint64_t i = 0; i < t->n; i++) {
		uint64_t v = t->slots[i];
		if (v == 0 || v == ST_TOMB)
			continue;
		struct iocb_store_attr *r = slot_ptr(v);
		if (pred(s, r, now)) {
			if (!r->ev->dead)
				n++;
			attr_unlink(s, i, r);
		}
	}
	return n;
}

static bool is_dead(const struct iocb_store *s, const struct iocb_store_attr *r, uint64_t now)
{
	(void)s;
	(void)now;
	return r->ev->dead;
}

static bool is_expired(const struct iocb_store *s, const struct iocb_store_attr *r, uint64_t now)
{
	uint32_t ex = s->opts.expiry_s[r->source];
	return r->ev->dead || (ex && (uint64_t)r->updated + ex <= now);
}

struct pred_ctx {
	iocb_store_pred pred;
	void *ud;
};

int iocb_store_remove_if(struct iocb_store *s, iocb_store_pred pred, void *ud, size_t *removed, struct iocb_err *err)
{
	struct store_tab *t;
	size_t n = 0;

	(void)err;
	pthread_mutex_lock(&s->wlock);
	t = s->utab; /* removals never resize */
	for (uint64_t i = 0; i < t->n; i++) {
		uint64_t v = t->slots[i];
		if (v == 0 || v == ST_TOMB)
			continue;
		struct iocb_store_attr *r = slot_ptr(v);
		if (r->ev->dead || !pred(ud, r))
			continue;
		n++;
		attr_unlink(s, i, r);
	}
	pthread_mutex_unlock(&s->wlock);
	if (removed)
		*removed = n;
	return IOCB_OK;
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

int iocb_store_expire(struct iocb_store *s, uint64_t now, size_t *removed, struct iocb_err *err)
{
	size_t n = 0;
	bool any = false;
	(void)err;
	for (unsigned i = 0; i < IOCB_STORE_MAX_SOURCES; i++)
		any |= s->opts.expiry_s[i] != 0;
	if (any) {
		pthread_mutex_lock(&s->wlock);
		n = sweep(s, is_expired, now);
		pthread_mutex_unlock(&s->wlock);
	}
	if (removed)
		*removed = n;
	return IOCB_OK;
}

int iocb_store_commit(struct iocb_store *s, struct iocb_err *err)
{
	struct iocb_err local = {0};
	int rc = IOCB_OK;
	bool changed, wrote = false;

	if (!err)
		err = &local; /* the message is kept for iocb_store_stats() */

	pthread_mutex_lock(&s->wlock);
	/* A commit with nothing to write is not counted: an idle source must not look busy. */
	changed = s->ndirty_attrs || s->ndirty_events || s->ndead || s->nretired;
	if (s->ndead) {
		(void)sweep(s, is_dead, 0);
		for (size_t i = 0; i < s->ndead; i++) {
			iocb_store__retire(s, s->dead[i]->meta, st_evmeta_size(s->dead[i]->meta), ST_RT_SLAB);
			iocb_store__retire(s, s->dead[i], sizeof(*s->dead[i]), ST_RT_SLAB);
		}
		s->ndead = 0;
		ST_STORE(&s->dead_pending, 0); /* the dead events' attributes are unlinked */
	}
	iocb_store__cidr_rebuild(s, false, false);
	iocb_store__cidr_rebuild(s, true, false);
	if (s->p) {
		rc = iocb_store__persist_commit(s, &wrote, err);
		pthread_mutex_lock(&s->cmu);
		if (rc < 0) {
			s->st.commit_errors++;
			s->st.commit_failing = true;
			snprintf(s->st.commit_error, sizeof(s->st.commit_error), "%.*s", (int)sizeof(s->st.commit_error) - 1, err->msg);
		} else {
			s->st.commit_failing = false;
			s->st.commit_error[0] = '\0';
		}
		pthread_mutex_unlock(&s->cmu);
		if (rc < 0)
			goto out; /* dirty lists kept: the next commit retries */
	}
	s->ndirty_attrs = 0;
	s->ndirty_events = 0;
	if (s->nretired) {
		synchronize_rcu();
		TSAN_ACQUIRE();
		free_retired(s);
	}
	if (changed || wrote)
		s->st.commits++;
out:
	pthread_mutex_unlock(&s->wlock);
	return rc;
}

/* ------------------------------------------------------------ meta */

#define META_RESERVED "iocb.store."

static struct store_meta_kv *meta_find(struct iocb_store *s, const char *key)
{
	for (struct store_meta_kv *kv = s->meta; kv; kv = kv->next)
		if (strcmp(kv->key, key) == 0)
			return kv;
	return NULL;
}

void iocb_store__meta_put(struct iocb_store *s, const char *key, struct iocb_str value, bool dirty)
{
	struct store_meta_kv *kv = meta_find(s, key);
	if (!kv) {
		kv = iocb_xcalloc(1, sizeof(*kv));
		kv->key = iocb_xstrdup(key);
		kv->next = s->meta;
		s->meta = kv;
	}
	free(kv->val);
	kv->val = iocb_xmalloc(value.len + 1);
	if (value.len)
		memcpy(kv->val, value.ptr, value.len);
	kv->val[value.len] = '\0';
	kv->len = value.len;
	kv->dirty = dirty;
}

int iocb_store_meta_set(struct iocb_store *s, const char *key, struct iocb_str value, struct iocb_err *err)
{
	size_t kl = key ? strlen(key) : 0;
	if (kl == 0 || kl > 255)
		return iocb_err_set(err, IOCB_EINVAL, "store: meta key must be 1..255 bytes");
	if (strncmp(key, META_RESERVED, sizeof(META_RESERVED) - 1) == 0)
		return iocb_err_set(err, IOCB_EINVAL, "store: meta key prefix '%s' is reserved", META_RESERVED);
	if (value.len > (1u << 20))
		return iocb_err_set(err, IOCB_ELIMIT, "store: meta value over 1 MiB");
	pthread_mutex_lock(&s->wlock);
	iocb_store__meta_put(s, key, value, s->p != NULL);
	pthread_mutex_unlock(&s->wlock);
	return IOCB_OK;
}

int iocb_store_meta_get(struct iocb_store *s, const char *key, char *out, size_t cap, size_t *out_len)
{
	int rc = IOCB_OK;
	pthread_mutex_lock(&s->wlock);
	struct store_meta_kv *kv = meta_find(s, key);
	if (!kv) {
		rc = IOCB_ENOTFOUND;
	} else {
		if (out_len)
			*out_len = kv->len;
		if (kv->len > cap)
			rc = IOCB_ELIMIT;
		else if (kv->len)
			memcpy(out, kv->val, kv->len);
		if (rc == IOCB_OK && kv->len < cap)
			out[kv->len] = '\0';
	}
	pthread_mutex_unlock(&s->wlock);
	return rc;
}

/* ------------------------------------------------------------ readers, stats */

void iocb_store_reader_register(void)
{
	rcu_register_thread();
}
void iocb_store_reader_unregister(void)
{
	rcu_unregister_thread();
}
void iocb_store_read_lock(void)
{
	rcu_read_lock();
}
void iocb_store_read_unlock(void)
{
	TSAN_RELEASE();
	rcu_read_unlock();
}

static uint64_t tab_bytes(const struct store_tab *t)
{
	return sizeof(*t) + (t->n + t->fmask + 1) * 8;
}

bool iocb_store_commit_failing(const struct iocb_store *cs, char *reason, size_t cap)
{
	struct iocb_store *s = (struct iocb_store *)cs;
	bool failing;

	pthread_mutex_lock(&s->cmu);
	failing = s->st.commit_failing;
	if (reason && cap)
		snprintf(reason, cap, "%s", s->st.commit_error);
	pthread_mutex_unlock(&s->cmu);
	return failing;
}

void iocb_store_stats(const struct iocb_store *cs, struct iocb_store_stats *out)
{
	struct iocb_store *s = (struct iocb_store *)cs;
	pthread_mutex_lock(&s->wlock);
	*out = s->st;
	out->mem_bytes = s->slab.reserved + tab_bytes(s->vtab) + tab_bytes(s->utab) + tab_bytes(s->etab_uuid) +
			 tab_bytes(s->etab_id) + tab_bytes(s->etab_sid) + tab_bytes(s->stab) + s->str_bytes +
			 s->st.events * sizeof(struct iocb_store_event);
	for (unsigned f = 0; f < 2; f++) {
		const struct store_cidrset *c = s->cidr[f].set;
		if (c)
			out->mem_bytes += (uint64_t)c->nb * (f ? 20 : 8) + (uint64_t)c->nnodes * 21 + (c->top ? 65537 * 4 : 0);
	}
	pthread_mutex_unlock(&s->wlock);
}
