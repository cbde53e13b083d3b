/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The value index: (match class, normalised value) -> attribute(s), and the
 * read-side lookups over it.
 *
 * Keys are not stored: a slot points at an attribute record (plus a bit
 * saying which part) and the key is that part of the record. Text classes
 * key on the part's text; the IP class keys on the binary address masked to
 * its prefix, with the family and prefix length folded into the hash seed,
 * so an exact address, 10.0.0.0/8 and 10.0.0.0/16 are three keys and
 * iocb_store_lookup_ip() needs no text formatting. When several attributes
 * share a key the slot points to an immutable vector instead, replaced
 * copy-on-write on every change.
 *
 * Readers (lookups) do loads only: the slot, the record, and the event
 * handle's `dead` byte. No counters, no reference counts.
 */
#include "store/internal.h"

#include <arpa/inet.h>
#include <urcu.h>

struct st_key {
	enum iocb_match_class mc; /* class */
	const void *p;            /* text, or masked binary address */
	size_t len;               /* bytes (4/16 for IP) */
	unsigned plen;            /* IP: prefix or ST_NOPLEN */
	uint64_t h;               /* hash */
};

uint64_t iocb_store__value_hash(enum iocb_match_class mc, const void *key, size_t len, unsigned fam, unsigned plen)
{
	uint64_t seed = (uint64_t)mc | (uint64_t)fam << 8 | (uint64_t)plen << 16;
	return iocb_hash64(key, len, seed * 0x9e3779b97f4a7c15ULL);
}

static inline bool ref_match(const struct iocb_store *s, const struct iocb_store_attr *r, unsigned p,
			     const struct st_key *k)
{
	if (s->type_mc[r->type][p] != k->mc)
		return false;
	if (k->mc == IOCB_MC_IP) {
		size_t l = st_iplen(r, p);
		return l == k->len && r->plen[p] == k->plen && memcmp(st_ip(r, p), k->p, l) == 0;
	}
	struct iocb_str t = st_part(r, p);
	return t.len == k->len && memcmp(t.ptr, k->p, t.len) == 0;
}

static inline const struct iocb_store_attr *ref_attr(uint64_t ref)
{
	return (const struct iocb_store_attr *)(uintptr_t)(ref & ST_PTR_MASK);
}
static inline unsigned ref_part(uint64_t ref)
{
	return (ref & ST_SL_PART1) ? 1 : 0;
}
/* The first attribute reference behind a slot value (reader or writer). */
static inline uint64_t slot_first(uint64_t v)
{
	if (v & ST_SL_VEC) {
		const struct store_vec *vec = (const struct store_vec *)(uintptr_t)(v & ST_PTR_MASK);
		return vec->e[0];
	}
	return v & (ST_PTR_MASK | ST_SL_PART1);
}

/* ------------------------------------------------------------ read side */

static inline size_t emit(const struct iocb_store *s, uint64_t ref, enum iocb_match_class mc, int prefix,
			  struct iocb_store_hit *out, size_t max, size_t n, bool check_dead)
{
	const struct iocb_store_attr *r = ref_attr(ref);
	if (!(r->flags & ST_F_TO_IDS) && !s->opts.match_non_ids)
		return n;
	if (check_dead && ST_LOAD(&r->ev->dead))
		return n;
	if (n < max) {
		out[n].attr = r;
		out[n].mc = mc;
		out[n].part = ref_part(ref);
		out[n].prefix = prefix;
	}
	return n + 1;
}

/* Reader: append the hits for key k to out[n..]; returns the new total. */
static size_t probe(const struct iocb_store *s, const struct st_key *k, int prefix, struct iocb_store_hit *out,
		    size_t max, size_t n)
{
	const struct store_tab *t = ST_LOAD(&s->vtab);
	if (!st_filter_maybe(t, k->h))
		return n;
	uint64_t i = st_home(t, k->h), tag = k->h & 0xffff;
	/* Event handles are only looked at while a removed event awaits its sweep. */
	bool check_dead = ST_LOAD(&s->dead_pending) != 0;

	for (;;) {
		uint64_t v = ST_LOAD(&t->slots[i]);
		if (v == 0)
			return n;
		if (v != ST_TOMB && (v >> 48) == tag) {
			uint64_t first = slot_first(v);
			if (ref_match(s, ref_attr(first), ref_part(first), k)) {
				if (!(v & ST_SL_VEC))
					return emit(s, first, k->mc, prefix, out, max, n, check_dead);
				const struct store_vec *vec = (const struct store_vec *)(uintptr_t)(v & ST_PTR_MASK);
				for (uint32_t j = 0; j < vec->n; j++)
					n = emit(s, vec->e[j], k->mc, prefix, out, max, n, check_dead);
				return n;
			}
		}
		i = st_next(t, i);
	}
}

size_t iocb_store__probe_ip(const struct iocb_store *s, bool v6, unsigned plen, const uint8_t *addr,
			    struct iocb_store_hit *out, size_t max, size_t n)
{
	struct st_key k = {IOCB_MC_IP, addr, v6 ? 16 : 4, plen, 0};
	k.h = iocb_store__value_hash(IOCB_MC_IP, addr, k.len, v6, plen);
	return probe(s, &k, plen == ST_NOPLEN ? -1 : (int)plen, out, max, n);
}

size_t iocb_store__lookup_ip(const struct iocb_store *s, const uint8_t *addr, bool v6, unsigned maxplen, bool exact,
			     struct iocb_store_hit *out, size_t max, size_t n)
{
	unsigned __int128 a = iocb_store__ip_to_u128(addr, v6);
	uint64_t bits[3];
	uint8_t net[16];

	if (exact)
		n = iocb_store__probe_ip(s, v6, ST_NOPLEN, addr, out, max, n);
	iocb_store__cidr_candidates(&s->cidr[v6], v6, a, maxplen, bits);
	for (int w = 2; w >= 0; w--) {
		while (bits[w]) {
			unsigned plen = (unsigned)w * 64 + 63 - (unsigned)__builtin_clzll(bits[w]);
			bits[w] &= ~((uint64_t)1 << (plen % 64));
			iocb_store__u128_to_ip(iocb_store__mask(a, v6, plen), v6, net);
			n = iocb_store__probe_ip(s, v6, plen, net, out, max, n);
		}
	}
	return n;
}

size_t iocb_store_lookup_ip(const struct iocb_store *s, const uint8_t *addr, bool v6, struct iocb_store_hit *out,
			    size_t max)
{
	return iocb_store__lookup_ip(s, addr, v6, v6 ? 128 : 32, true, out, max, 0);
}

/* Parse "addr" or "addr/plen" (already normalised, but be tolerant). */
static bool parse_ip(struct iocb_str v, uint8_t addr[16], bool *v6, int *plen)
{
	char buf[64];
	size_t alen = v.len;
	const char *slash = v.len ? memchr(v.ptr, '/', v.len) : NULL;

	*plen = -1;
	if (slash) {
		uint64_t p;
		alen = (size_t)(slash - v.ptr);
		if (!iocb_str_to_u64(iocb_str_make(slash + 1, v.len - alen - 1), &p) || p > 128)
			return false;
		*plen = (int)p;
	}
	/* inet_pton stops at a NUL: "1.2.3.4\0x" is not 1.2.3.4. */
	if (alen == 0 || alen >= sizeof(buf) || memchr(v.ptr, '\0', alen))
		return false;
	memcpy(buf, v.ptr, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*v6 = false;
		return *plen <= 32;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*v6 = true;
		return true;
	}
	return false;
}

bool iocb_store__parse_ip(struct iocb_str v, uint8_t addr[16], bool *v6, int *plen)
{
	return parse_ip(v, addr, v6, plen);
}

size_t iocb_store_lookup(const struct iocb_store *s, enum iocb_match_class mc, struct iocb_str value,
			 struct iocb_store_hit *out, size_t max)
{
	if (mc == IOCB_MC_IP) {
		uint8_t a[16];
		bool v6;
		int plen;
		if (!parse_ip(value, a, &v6, &plen))
			return 0;
		if (plen < 0 || plen == (v6 ? 128 : 32))
			return iocb_store_lookup_ip(s, a, v6, out, max);
		/* A CIDR: the attributes carrying exactly this prefix. */
		iocb_store__u128_to_ip(iocb_store__mask(iocb_store__ip_to_u128(a, v6), v6, (unsigned)plen), v6, a);
		return iocb_store__probe_ip(s, v6, (unsigned)plen, a, out, max, 0);
	}
	if (mc <= IOCB_MC_NONE || mc >= IOCB_MC__COUNT || mc == IOCB_MC_PORT || value.len == 0)
		return 0;
	struct st_key k = {mc, value.ptr, value.len, ST_NOPLEN, 0};
	k.h = iocb_store__value_hash(mc, value.ptr, value.len, 0, ST_NOPLEN);
	return probe(s, &k, -1, out, max, 0);
}

/* ------------------------------------------------------------ uuid table */

static inline uint64_t uuid_hash(const uint8_t u[16])
{
	return iocb_hash64(u, 16, 0x75756964);
}

const struct iocb_store_attr *iocb_store__utab_find(const struct iocb_store *s, const uint8_t u[16], uint64_t *slot)
{
	const struct store_tab *t = ST_LOAD(&s->utab);
	uint64_t h = uuid_hash(u), i = st_home(t, h), tag = h & 0xffff;

	for (;;) {
		uint64_t v = ST_LOAD(&t->slots[i]);
		if (v == 0)
			return NULL;
		if (v != ST_TOMB && (v >> 48) == tag) {
			const struct iocb_store_attr *r = ref_attr(v);
			if (memcmp(r->uuid, u, 16) == 0) {
				if (slot)
					*slot = i;
				return r;
			}
		}
		i = st_next(t, i);
	}
}

static uint64_t rehash_uuid(const void *ctx, uint64_t v)
{
	(void)ctx;
	return uuid_hash(ref_attr(v)->uuid);
}

void iocb_store__utab_insert(struct iocb_store *s, struct iocb_store_attr *r)
{
	uint64_t h = uuid_hash(r->uuid);
	const struct store_tab *before = s->utab;
	iocb_store__tab_insert(s, &s->utab, h, ST_TAG(h) | (uint64_t)(uintptr_t)r, rehash_uuid, true);
	/* Slots moved: a resumable walk (iocb_store_walk) must start over. */
	if (s->utab != before)
		ST_STORE(&s->utab_rebuilds, s->utab_rebuilds + 1);
}

/* Writer: replace the record in slot i (same uuid) or delete it (r == NULL). */
void iocb_store__utab_set(struct iocb_store *s, uint64_t i, struct iocb_store_attr *r)
{
	struct store_tab *t = s->utab;
	if (r) {
		ST_STORE(&t->slots[i], ST_TAG(uuid_hash(r->uuid)) | (uint64_t)(uintptr_t)r);
	} else {
		ST_STORE(&t->slots[i], ST_TOMB);
		t->used--;
		t->tombs++;
	}
}

/* ------------------------------------------------------------ write side */

static bool key_of(const struct iocb_store *s, const struct iocb_store_attr *r, unsigned p, struct st_key *k)
{
	if (p >= st_nparts(r))
		return false;
	k->mc = (enum iocb_match_class)s->type_mc[r->type][p];
	if (k->mc == IOCB_MC_NONE || k->mc == IOCB_MC_PORT || k->mc >= IOCB_MC__COUNT)
		return false;
	if (k->mc == IOCB_MC_IP) {
		k->len = st_iplen(r, p);
		if (!k->len)
			return false;
		k->p = st_ip(r, p);
		k->plen = r->plen[p];
		k->h = iocb_store__value_hash(IOCB_MC_IP, k->p, k->len, k->len == 16, k->plen);
		return true;
	}
	struct iocb_str t = st_part(r, p);
	if (!t.len)
		return false;
	k->p = t.ptr;
	k->len = t.len;
	k->plen = ST_NOPLEN;
	k->h = iocb_store__value_hash(k->mc, t.ptr, t.len, 0, ST_NOPLEN);
	return true;
}

static bool key_eq(const struct st_key *a, const struct st_key *b)
{
	return a->mc == b->mc && a->len == b->len && a->plen == b->plen && a->h == b->h &&
	       memcmp(a->p, b->p, a->len) == 0;
}

static uint64_t rehash_value(const void *ctx, uint64_t v)
{
	uint64_t first = slot_first(v);
	struct st_key k = {IOCB_MC_NONE, NULL, 0, 0, 0};
	bool ok = key_of(ctx, ref_attr(first), ref_part(first), &k);
	(void)ok;
	return k.h;
}

/* Writer: slot index of key k, or UINT64_MAX. */
static uint64_t vt_find(const struct iocb_store *s, const struct st_key *k)
{
	const struct store_tab *t = s->vtab;
	uint64_t i = st_home(t, k->h), tag = k->h & 0xffff;
	for (;;) {
		uint64_t v = t->slots[i];
		if (v == 0)
			return UINT64_MAX;
		if (v != ST_TOMB && (v >> 48) == tag) {
			uint64_t first = slot_first(v);
			if (ref_match(s, ref_attr(first), ref_part(first), k))
				return i;
		}
		i = st_next(t, i);
	}
}

static struct store_vec *vec_new(struct iocb_store *s, uint32_t n)
{
	struct store_vec *v = iocb_store__slab_alloc(&s->slab, sizeof(*v) + n * sizeof(uint64_t));
	v->n = n;
	v->pad_ = 0;
	return v;
}
static size_t vec_size(const struct store_vec *v)
{
	return sizeof(*v) + v->n * sizeof(uint64_t);
}
static void vec_retire(struct iocb_store *s, struct store_vec *v)
{
	iocb_store__retire(s, v, vec_size(v), ST_RT_SLAB);
}

static inline uint64_t mkref(const struct iocb_store_attr *r, unsigned p)
{
	return (uint64_t)(uintptr_t)r | (p ? ST_SL_PART1 : 0);
}

static void count_part(struct iocb_store *s, const struct st_key *k, int d)
{
	s->st.by_class[k->mc] += (uint64_t)(int64_t)d;
	if (k->mc == IOCB_MC_IP && k->plen != ST_NOPLEN) {
		if (k->len == 16)
			s->st.cidrs_v6 += (uint64_t)(int64_t)d;
		else
			s->st.cidrs_v4 += (uint64_t)(int64_t)d;
	}
}

static void vt_add(struct iocb_store *s, const struct st_key *k, uint64_t ref)
{
	uint64_t i = vt_find(s, k);
	uint64_t tag = ST_TAG(k->h);

	count_part(s, k, 1);
	if (i == UINT64_MAX) {
		iocb_store__tab_insert(s, &s->vtab, k->h, tag | ref, rehash_value, true);
		if (k->plen != ST_NOPLEN) {
			bool v6 = k->len == 16;
			iocb_store__cidr_added(s, v6, iocb_store__ip_to_u128(k->p, v6), k->plen);
		}
		return;
	}
	uint64_t v = s->vtab->slots[i];
	struct store_vec *nv;
	if (!(v & ST_SL_VEC)) {
		nv = vec_new(s, 2);
		nv->e[0] = v & (ST_PTR_MASK | ST_SL_PART1);
		nv->e[1] = ref;
	} else {
		struct store_vec *ov = (struct store_vec *)(uintptr_t)(v & ST_PTR_MASK);
		nv = vec_new(s, ov->n + 1);
		memcpy(nv->e, ov->e, ov->n * sizeof(uint64_t));
		nv->e[ov->n] = ref;
		vec_retire(s, ov);
	}
	ST_STORE(&s->vtab->slots[i], tag | (uint64_t)(uintptr_t)nv | ST_SL_VEC);
}

static void vt_del(struct iocb_store *s, const struct st_key *k, uint64_t ref)
{
	uint64_t i = vt_find(s, k);
	uint64_t tag = ST_TAG(k->h);

	if (i == UINT64_MAX)
		return;
	uint64_t v = s->vtab->slots[i];
	if (!(v & ST_SL_VEC)) {
		if ((v & (ST_PTR_MASK | ST_SL_PART1)) != ref)
			return;
		ST_STORE(&s->vtab->slots[i], ST_TOMB);
		s->vtab->used--;
		s->vtab->tombs++;
		if (k->plen != ST_NOPLEN)
			s->cidr[k->len == 16].dirty = true;
		count_part(s, k, -1);
		return;
	}
	struct store_vec *ov = (struct store_vec *)(uintptr_t)(v & ST_PTR_MASK);
	uint32_t j;
	for (j = 0; j < ov->n && ov->e[j] != ref; j++)
		;
	if (j == ov->n)
		return;
	count_part(s, k, -1);
	if (ov->n == 2) {
		ST_STORE(&s->vtab->slots[i], tag | ov->e[1 - j]);
	} else {
		struct store_vec *nv = vec_new(s, ov->n - 1);
		memcpy(nv->e, ov->e, j * sizeof(uint64_t));
		memcpy(nv->e + j, ov->e + j + 1, (ov->n - j - 1) * sizeof(uint64_t));
		ST_STORE(&s->vtab->slots[i], tag | (uint64_t)(uintptr_t)nv | ST_SL_VEC);
	}
	vec_retire(s, ov);
}

/* Replace oldref by newref under key k (readers see one or the other, never neither). */
static void vt_swap(struct iocb_store *s, const struct st_key *k, uint64_t oldref, uint64_t newref)
{
	uint64_t i = vt_find(s, k);
	uint64_t tag = ST_TAG(k->h);

	if (i == UINT64_MAX) {
		count_part(s, k, -1); /* vt_add counts it again */
		vt_add(s, k, newref);
		return;
	}
	uint64_t v = s->vtab->slots[i];
	if (!(v & ST_SL_VEC)) {
		if ((v & (ST_PTR_MASK | ST_SL_PART1)) == oldref) {
			ST_STORE(&s->vtab->slots[i], tag | newref);
			return;
		}
		count_part(s, k, -1); /* vt_add counts it again */
		vt_add(s, k, newref);
		return;
	}
	struct store_vec *ov = (struct store_vec *)(uintptr_t)(v & ST_PTR_MASK);
	struct store_vec *nv = vec_new(s, ov->n);
	bool found = false;
	for (uint32_t j = 0; j < ov->n; j++) {
		nv->e[j] = ov->e[j];
		if (ov->e[j] == oldref) {
			nv->e[j] = newref;
			found = true;
		}
	}
	if (!found) {
		iocb_store__slab_free(&s->slab, nv, vec_size(nv));
		count_part(s, k, -1);
		vt_add(s, k, newref);
		return;
	}
	ST_STORE(&s->vtab->slots[i], tag | (uint64_t)(uintptr_t)nv | ST_SL_VEC);
	vec_retire(s, ov);
}

/*
 * Writer: move the index entries of `old` (may be NULL) to `nw` (may be
 * NULL). Parts present in both with the same key are swapped in place, so a
 * reader looking the value up during an update sees the old or the new
 * record, never neither.
 */
void iocb_store__reindex(struct iocb_store *s, const struct iocb_store_attr *old, const struct iocb_store_attr *nw)
{
	struct st_key ko[2], kn;
	bool has_old[2] = {false, false};

	for (unsigned q = 0; old && q < 2; q++)
		has_old[q] = key_of(s, old, q, &ko[q]);
	for (unsigned p = 0; nw && p < 2; p++) {
		if (!key_of(s, nw, p, &kn))
			continue;
		int found = -1;
		for (unsigned q = 0; q < 2 && found < 0; q++)
			if (has_old[q] && key_eq(&ko[q], &kn))
				found = (int)q;
		if (found >= 0) {
			vt_swap(s, &kn, mkref(old, (unsigned)found), mkref(nw, p));
			has_old[found] = false;
		} else {
			vt_add(s, &kn, mkref(nw, p));
		}
	}
	for (unsigned q = 0; q < 2; q++)
		if (has_old[q])
			vt_del(s, &ko[q], mkref(old, q));
}

void iocb_store__index_attr(struct iocb_store *s, struct iocb_store_attr *r)
{
	iocb_store__reindex(s, NULL, r);
}

/* Writer: is any attribute indexed under this IP key? */
bool iocb_store__vt_has_ip(const struct iocb_store *s, bool v6, unsigned plen, const uint8_t *addr)
{
	struct st_key k = {IOCB_MC_IP, addr, v6 ? 16 : 4, plen, 0};
	k.h = iocb_store__value_hash(IOCB_MC_IP, addr, k.len, v6, plen);
	return vt_find(s, &k) != UINT64_MAX;
}

/* ------------------------------------------------------------ get */


const struct iocb_store_attr *iocb_store_get(const struct iocb_store *s, struct iocb_str uuid)
{
	uint8_t u[16];
	const struct iocb_store_attr *r;

	if (!iocb_store__uuid_parse(uuid, u))
		return NULL;
	r = iocb_store__utab_find(s, u, NULL);
	if (r && ST_LOAD(&r->ev->dead))
		return NULL;
	return r;
}
