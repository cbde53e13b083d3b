/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's attribute records: build, upsert, remove, expire and the
 * commit's sweep of removed events.
 *
 * An upsert builds one immutable record (~0.3-0.5 us: uuid parse, event
 * resolve, interning, one slab allocation, one or two index updates),
 * publishes it, and retires the record it replaces (freed by the next
 * iocb_store_commit()).
 */
#include "store/internal.h"

#include "core/mem.h"

/* ------------------------------------------------------------ records */

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

/*
 * The index of type t in s->types, adding it if new; -1 when 256 types are
 * taken. Kept beside its only caller (not in intern.c with the other
 * dictionaries) so that it inlines into the upsert path.
 */
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
	iocb_store__notify(s, r, NULL);
	iocb_store__reindex(s, r, NULL);
	iocb_store__utab_set(s, slot, NULL);
	count_attr(s, r, -1);
	dirty_attr(s, r->uuid);
	iocb_store__retire(s, r, st_attr_size(r), ST_RT_SLAB);
}

void iocb_store__replace(struct iocb_store *s, uint64_t slot, struct iocb_store_attr *old, struct iocb_store_attr *nw,
			 bool announce)
{
	if (announce || st_gone(old) != st_gone(nw))
		iocb_store__notify(s, old, nw);
	iocb_store__reindex(s, old, nw);
	iocb_store__utab_set(s, slot, nw);
	count_attr(s, old, -1);
	count_attr(s, nw, 1);
	dirty_attr(s, nw->uuid);
	iocb_store__retire(s, old, st_attr_size(old), ST_RT_SLAB);
}

/* ------------------------------------------------------------ writing */

/*
 * Whether replacing old by nw changes nothing a reader can see: the same
 * bytes but for `updated` (the expiry clock), the same event handle, and
 * that event's metadata unchanged by this upsert (old_meta is the handle's
 * metadata before it). A reconcile re-sends every attribute: without this
 * each would reach the listeners as a change.
 */
bool iocb_store__attr_same(const struct iocb_store_attr *old, const struct iocb_store_attr *nw)
{
	struct iocb_store_attr a = *old, b = *nw;
	size_t body = st_attr_size(old) - sizeof(*old) - st_qlen(old);
	if (body != st_attr_size(nw) - sizeof(*nw) - st_qlen(nw))
		return false;
	a.updated = b.updated = 0;
	a.flags &= (uint8_t)~ST_F_Q;
	b.flags &= (uint8_t)~ST_F_Q;
	return memcmp(&a, &b, sizeof(a)) == 0 &&
	       memcmp((const uint8_t *)(old + 1) + st_qlen(old), (const uint8_t *)(nw + 1) + st_qlen(nw), body) == 0;
}

static bool attr_same(const struct iocb_store_attr *old, const struct iocb_store_attr *nw,
		      const struct store_evmeta *old_meta)
{
	if (old->ev != nw->ev || ST_LOAD(&nw->ev->meta) != old_meta)
		return false;
	return iocb_store__attr_same(old, nw) && st_gone(old) == st_gone(nw);
}

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
	const struct store_evmeta *old_meta;
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
	old_meta = old ? ST_LOAD(&old->ev->meta) : NULL;
	if (a->event) {
		struct iocb_misp_event evc = *a->event;
		if (!evc.id)
			evc.id = a->event_id;
		ev = iocb_store__event_upsert(s, &evc);
	}
	if (!ev)
		ev = &s->noev;
	rc = attr_build(s, a, u, source, now, ev, &r, err);
	if (rc < 0)
		goto out;
	if (s->nquality || (old && (old->flags & ST_F_Q)))
		r = iocb_store__qualify(s, r, old, now);
	if (!old || !attr_same(old, r, old_meta))
		iocb_store__notify(s, old, r);
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
		struct iocb_store_attr *r = st_slot_ptr(v);
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
		struct iocb_store_attr *r = st_slot_ptr(v);
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

void iocb_store__sweep_dead(struct iocb_store *s)
{
	(void)sweep(s, is_dead, 0);
}
