/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CIDR containment: which stored prefixes contain an address.
 *
 * Why this shape. The obvious alternative, a hash probe per prefix length
 * present, costs one cache miss per length: with MISP data that spans /8 to
 * /31 that is 20+ probes per lookup, too slow for 5 M lookups/s. Prefixes
 * are laminar (two prefixes are either nested or disjoint), so they cut the
 * address space into at most 2N+1 elementary intervals, and every address in
 * an interval is contained in the same chain of prefixes. We keep the sorted
 * interval starts in a flat array (u32 for IPv4, with a 65,537-entry index on
 * the top 16 bits so a lookup binary-searches a handful of entries; u128 for
 * IPv6), the deepest covering prefix per interval, and a parent link per
 * prefix. A lookup finds its interval, walks the parent chain to get the set
 * of prefix lengths containing it, and probes the value table for each
 * (masked network, length): only for lengths that actually contain it.
 *
 * The structure is immutable and rebuilt by the writer (O(N) merge of the
 * sorted base with the sorted delta; ~a few ms per 100 k prefixes) at commit
 * when anything changed. Prefixes added since are kept in a small
 * append-only delta that readers scan linearly; when it grows past 64 + N/4
 * the writer rebuilds early so the scan stays short. Removals need no
 * rebuild for correctness: the value-table probe finds nothing.
 */
#include "store/internal.h"

#include <stdlib.h>
#include <urcu.h>

#include "core/mem.h"

typedef unsigned __int128 u128;

u128 iocb_store__ip_to_u128(const uint8_t *a, bool v6)
{
	u128 v = 0;
	for (unsigned i = 0; i < (v6 ? 16u : 4u); i++)
		v = v << 8 | a[i];
	return v;
}

void iocb_store__u128_to_ip(u128 v, bool v6, uint8_t *out)
{
	for (int i = (v6 ? 15 : 3); i >= 0; i--) {
		out[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline u128 hostmask(bool v6, unsigned plen)
{
	unsigned bits = v6 ? 128 : 32;
	if (plen >= bits)
		return 0;
	if (plen == 0)
		return v6 ? ~(u128)0 : (u128)0xffffffffu;
	return ((u128)1 << (bits - plen)) - 1;
}

u128 iocb_store__mask(u128 v, bool v6, unsigned plen)
{
	return v & ~hostmask(v6, plen);
}

void iocb_store__cidrset_free(struct store_cidrset *cs)
{
	if (!cs)
		return;
	free(cs->b4);
	free(cs->b6);
	free(cs->deep);
	free(cs->parent);
	free(cs->plen);
	free(cs->net);
	free(cs->top);
	free(cs);
}

void iocb_store__cidr_free(struct store_cidr *c)
{
	iocb_store__cidrset_free(c->set);
	free(c->delta);
	c->set = NULL;
	c->delta = NULL;
}

/* ------------------------------------------------------------ read side */

static uint32_t find4(const struct store_cidrset *cs, uint32_t a)
{
	uint32_t h = a >> 16, lo = cs->top[h], hi = cs->top[h + 1];
	/* last i in [lo, hi) with b4[i] <= a; bounds[lo-1] < h<<16 <= a otherwise */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (cs->b4[mid] <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

static uint32_t find6(const struct store_cidrset *cs, u128 a)
{
	uint32_t lo = 0, hi = cs->nb;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (cs->b6[mid] <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

void iocb_store__cidr_candidates(const struct store_cidr *c, bool v6, u128 a, unsigned maxplen, uint64_t bits[3])
{
	/* delta first: the writer publishes a new base before emptying the delta */
	const struct store_cidrdelta *d = ST_LOAD(&c->delta);
	const struct store_cidrset *cs = ST_LOAD(&c->set);

	bits[0] = bits[1] = bits[2] = 0;
	if (cs && cs->nb) {
		uint32_t i = v6 ? find6(cs, a) : find4(cs, (uint32_t)a);
		for (int32_t nd = cs->deep[i]; nd >= 0; nd = cs->parent[nd]) {
			unsigned pl = cs->plen[nd];
			if (pl <= maxplen)
				bits[pl / 64] |= (uint64_t)1 << (pl % 64);
		}
	}
	if (d) {
		uint32_t n = ST_LOAD(&d->n);
		for (uint32_t j = 0; j < n; j++) {
			unsigned pl = d->e[j].plen;
			if (pl <= maxplen && iocb_store__mask(a, v6, pl) == d->e[j].net)
				bits[pl / 64] |= (uint64_t)1 << (pl % 64);
		}
	}
}

/* ------------------------------------------------------------ build */

struct pfx {
	u128 net;      /* masked network */
	unsigned plen; /* prefix */
};

static int pfx_cmp(const void *a, const void *b)
{
	const struct pfx *x = a, *y = b;
	if (x->net != y->net)
		return x->net < y->net ? -1 : 1;
	return (int)x->plen - (int)y->plen;
}

/* Build from sorted, unique prefixes. */
static struct store_cidrset *build(const struct pfx *p, uint32_t n, bool v6)
{
	struct store_cidrset *cs = iocb_xcalloc(1, sizeof(*cs));
	u128 maxaddr = v6 ? ~(u128)0 : (u128)0xffffffffu;
	u128 *pos = iocb_xmalloc(((size_t)n * 2 + 1) * sizeof(*pos));
	int32_t *stack = iocb_xmalloc(((size_t)n + 1) * sizeof(*stack));
	uint32_t nb = 0, sp = 0;

	cs->v6 = v6;
	cs->nnodes = n;
	cs->deep = iocb_xmalloc(((size_t)n * 2 + 1) * sizeof(*cs->deep));
	cs->parent = iocb_xmalloc(((size_t)n + 1) * sizeof(*cs->parent));
	cs->plen = iocb_xmalloc((size_t)n + 1);
	cs->net = iocb_xmalloc(((size_t)n + 1) * sizeof(*cs->net));

#define EMIT(at, node)                                                  \
	do {                                                            \
		if (nb && pos[nb - 1] == (at)) {                        \
			cs->deep[nb - 1] = (node);                      \
		} else {                                                \
			pos[nb] = (at);                                 \
			cs->deep[nb++] = (node);                        \
		}                                                       \
	} while (0)
#define END(k) (p[k].net | hostmask(v6, p[k].plen))
#define POP()                                                           \
	do {                                                            \
		int32_t t_ = stack[--sp];                               \
		if (END(t_) != maxaddr)                                 \
			EMIT(END(t_) + 1, sp ? stack[sp - 1] : -1);     \
	} while (0)

	EMIT((u128)0, -1);
	for (uint32_t k = 0; k < n; k++) {
		while (sp && END(stack[sp - 1]) < p[k].net)
			POP();
		cs->parent[k] = sp ? stack[sp - 1] : -1;
		cs->plen[k] = (uint8_t)p[k].plen;
		cs->net[k] = p[k].net;
		stack[sp++] = (int32_t)k;
		EMIT(p[k].net, (int32_t)k);
	}
	while (sp)
		POP();
#undef EMIT
#undef END
#undef POP

	cs->nb = nb;
	if (v6) {
		cs->b6 = pos;
	} else {
		cs->b4 = iocb_xmalloc((size_t)nb * sizeof(*cs->b4));
		for (uint32_t i = 0; i < nb; i++)
			cs->b4[i] = (uint32_t)pos[i];
		free(pos);
		cs->top = iocb_xmalloc(65537 * sizeof(*cs->top));
		uint32_t i = 0;
		for (uint32_t h = 0; h <= 65536; h++) {
			while (i < nb && (cs->b4[i] >> 16) < h)
				i++;
			cs->top[h] = i;
		}
	}
	free(stack);
	return cs;
}

static struct store_cidrdelta *delta_new(uint32_t cap)
{
	struct store_cidrdelta *d = iocb_xmalloc(sizeof(*d) + cap * sizeof(d->e[0]));
	d->n = 0;
	d->cap = cap;
	return d;
}

void iocb_store__cidr_rebuild(struct iocb_store *s, bool v6, bool force)
{
	struct store_cidr *c = &s->cidr[v6];
	struct store_cidrset *old = c->set;
	struct store_cidrdelta *od = c->delta;
	uint32_t nbase = old ? old->nnodes : 0, nd = od ? od->n : 0, n = 0;
	struct pfx *p;
	uint8_t addr[16];

	if (!force && !nd && !c->dirty && old)
		return;
	p = iocb_xmalloc(((size_t)nbase + nd + 1) * sizeof(*p));
	for (uint32_t i = 0; i < nbase; i++) {
		p[n].net = old->net[i];
		p[n++].plen = old->plen[i];
	}
	for (uint32_t i = 0; i < nd; i++) {
		p[n].net = od->e[i].net;
		p[n++].plen = od->e[i].plen;
	}
	if (nd)
		qsort(p, n, sizeof(*p), pfx_cmp);
	/* dedupe, and drop prefixes no longer indexed */
	uint32_t w = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (w && p[w - 1].net == p[i].net && p[w - 1].plen == p[i].plen)
			continue;
		if (c->dirty) {
			iocb_store__u128_to_ip(p[i].net, v6, addr);
			if (!iocb_store__vt_has_ip(s, v6, p[i].plen, addr))
				continue;
		}
		p[w++] = p[i];
	}
	struct store_cidrset *cs = build(p, w, v6);
	free(p);
	ST_STORE(&c->set, cs);
	ST_STORE(&c->delta, delta_new(64));
	c->dirty = false;
	if (old)
		iocb_store__retire(s, old, 0, ST_RT_CIDR);
	if (od)
		iocb_store__retire(s, od, 0, ST_RT_FREE);
}

void iocb_store__cidr_added(struct iocb_store *s, bool v6, u128 net, unsigned plen)
{
	struct store_cidr *c = &s->cidr[v6];
	struct store_cidrdelta *d = c->delta;

	if (!d) {
		d = delta_new(64);
		ST_STORE(&c->delta, d);
	}
	if (d->n == d->cap) {
		struct store_cidrdelta *nd = delta_new(d->cap * 2);
		memcpy(nd->e, d->e, d->n * sizeof(d->e[0]));
		nd->n = d->n;
		ST_STORE(&c->delta, nd);
		iocb_store__retire(s, d, 0, ST_RT_FREE);
		d = nd;
	}
	d->e[d->n].net = net;
	d->e[d->n].plen = (uint8_t)plen;
	ST_STORE(&d->n, d->n + 1);
	if (d->n >= 64 + (c->set ? c->set->nnodes : 0) / 4)
		iocb_store__cidr_rebuild(s, v6, false);
}
