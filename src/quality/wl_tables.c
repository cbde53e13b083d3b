/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Warninglists: the shared tables, the interned sets of lists, matching.
 *
 * Every list of a type shares one table, so the cost of a check does not
 * grow with the number of lists: a value on no list (nearly every value)
 * costs one probe per table, one per parent domain, one per CIDR prefix
 * length present, one pass of the substring automaton and the regexes.
 * A key on several lists maps to the interned set of them (union at build).
 *
 * Sets are interned once and never change, so a reader resolves an id with
 * one array read and no lock: a new set is written in full before the count
 * that publishes it is stored (release), readers load the count (acquire).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/mem.h"
#include "quality/wl_internal.h"

/* ------------------------------------------------------------ sets */

static const uint16_t *set_get(const struct iocb_wl__sets *s, uint32_t id)
{
	return s->chunk[id / IOCB_WL__CHUNK][id % IOCB_WL__CHUNK];
}

static void set_put(struct iocb_wl__sets *s, uint32_t id, uint16_t *c)
{
	uint16_t ***ch = &s->chunk[id / IOCB_WL__CHUNK];
	if (!*ch)
		*ch = iocb_xcalloc(IOCB_WL__CHUNK, sizeof(**ch));
	(*ch)[id % IOCB_WL__CHUNK] = c;
}

static uint64_t set_hash(const uint16_t *lists, size_t n)
{
	return iocb_hash64(lists, n * sizeof(*lists), 0x77);
}

void iocb_wl__sets_init(struct iocb_wl__sets *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	set_put(s, 0, iocb_xcalloc(1, sizeof(uint16_t))); /* the empty set: n = 0 */
	s->slots = iocb_xcalloc(64, sizeof(*s->slots));
	s->mask = 63;
	atomic_store(&s->count, 1);
}

void iocb_wl__sets_fini(struct iocb_wl__sets *s)
{
	if (!s->slots)
		return;
	uint32_t n = atomic_load(&s->count);
	for (uint32_t i = 0; i < n; i++)
		free((void *)set_get(s, i));
	for (size_t i = 0; i < IOCB_ARRAY_LEN(s->chunk); i++)
		free(s->chunk[i]);
	free(s->slots);
	pthread_mutex_destroy(&s->mu);
}

/* Double the hash slots when half full (under mu; readers never read them). */
static void sets_grow(struct iocb_wl__sets *s, uint32_t count)
{
	if ((size_t)count * 2 < s->mask + 1)
		return;
	size_t n = (s->mask + 1) * 2;
	uint32_t *slots = iocb_xcalloc(n, sizeof(*slots));
	for (uint32_t id = 1; id < count; id++) {
		const uint16_t *c = set_get(s, id);
		size_t i = set_hash(c + 1, c[0]) & (n - 1);
		while (slots[i])
			i = (i + 1) & (n - 1);
		slots[i] = id + 1;
	}
	free(s->slots);
	s->slots = slots;
	s->mask = n - 1;
}

uint16_t iocb_wl__sets_intern(struct iocb_wl__sets *s, const uint16_t *lists, size_t n)
{
	if (n == 0)
		return 0;
	uint64_t h = set_hash(lists, n);
	uint16_t id = 0;
	pthread_mutex_lock(&s->mu);
	size_t i = h & s->mask;
	for (; s->slots[i]; i = (i + 1) & s->mask) {
		const uint16_t *c = set_get(s, s->slots[i] - 1);
		if (c[0] == n && memcmp(c + 1, lists, n * sizeof(*lists)) == 0) {
			id = (uint16_t)(s->slots[i] - 1);
			goto out;
		}
	}
	uint32_t next = atomic_load_explicit(&s->count, memory_order_relaxed);
	if (next > IOCB_WL_MAX_SETS) {
		atomic_fetch_add(&s->overflow, 1);
		goto out;
	}
	uint16_t *c = iocb_xmalloc((n + 1) * sizeof(*c));
	c[0] = (uint16_t)n;
	memcpy(c + 1, lists, n * sizeof(*lists));
	set_put(s, next, c);
	s->slots[i] = next + 1;
	atomic_store_explicit(&s->count, next + 1, memory_order_release);
	sets_grow(s, next + 1);
	id = (uint16_t)next;
out:
	pthread_mutex_unlock(&s->mu);
	return id;
}

size_t iocb_wl_set_lists(const struct iocb_wl *w, uint16_t id, const uint16_t **out)
{
	static const uint16_t none[1] = {0};
	*out = none;
	if (!w || id == 0 || id >= atomic_load_explicit(&w->sets.count, memory_order_acquire))
		return 0;
	const uint16_t *c = set_get(&w->sets, id);
	*out = c + 1;
	return c[0];
}

uint64_t iocb_wl_sets_overflow(const struct iocb_wl *w)
{
	return w ? atomic_load(&w->sets.overflow) : 0;
}

uint16_t iocb_wl__sets_union(struct iocb_wl__sets *s, uint16_t a, uint16_t b)
{
	if (a == 0 || a == b)
		return b;
	if (b == 0)
		return a;
	const uint16_t *x = set_get(s, a), *y = set_get(s, b);
	uint16_t *m = iocb_xmalloc(((size_t)x[0] + y[0]) * sizeof(*m));
	size_t i = 1, j = 1, n = 0;
	while (i <= x[0] || j <= y[0]) {
		if (j > y[0] || (i <= x[0] && x[i] < y[j]))
			m[n++] = x[i++];
		else if (i > x[0] || y[j] < x[i])
			m[n++] = y[j++];
		else
			m[n++] = x[i++], j++;
	}
	uint16_t id = iocb_wl__sets_intern(s, m, n);
	free(m);
	return id;
}

/* ------------------------------------------------------------ byte-key tables */

/* Slots keep the high half for comparisons; the low bits pick the slot. */
static uint64_t key_hash(const void *k, size_t n)
{
	uint64_t h = iocb_hash64(k, n, 0x5eed);
	return h >> 32 ? h : h | (uint64_t)1 << 32;
}

static void table_init(struct iocb_wl__table *t, size_t keys)
{
	size_t n = 16;
	while (n < keys * 2)
		n *= 2;
	t->slots = iocb_xcalloc(n, sizeof(*t->slots));
	t->mask = n - 1;
	t->n = 0;
}

/* Insert key pool[off..off+len) for list `list`; a key already there gets the union. */
static void table_add(struct iocb_wl *w, struct iocb_wl__table *t, uint32_t off, uint32_t len, uint32_t list)
{
	const char *k = w->pool + off;
	uint64_t h = key_hash(k, len);
	size_t i = h & t->mask;
	for (; t->slots[i].hash; i = (i + 1) & t->mask) {
		struct iocb_wl__slot *s = &t->slots[i];
		if (s->hash == (uint32_t)(h >> 32) && s->len == len && memcmp(w->pool + s->off, k, len) == 0) {
			s->set = iocb_wl__sets_union(&w->sets, s->set, w->single[list]);
			return;
		}
	}
	t->slots[i] = (struct iocb_wl__slot){.hash = (uint32_t)(h >> 32), .off = off, .len = (uint16_t)len,
					     .set = w->single[list]};
	t->n++;
}

static uint16_t table_get(const struct iocb_wl *w, const struct iocb_wl__table *t, const void *k, size_t len)
{
	if (!t->n)
		return 0;
	uint64_t h = key_hash(k, len);
	for (size_t i = h & t->mask; t->slots[i].hash; i = (i + 1) & t->mask) {
		const struct iocb_wl__slot *s = &t->slots[i];
		if (s->hash == (uint32_t)(h >> 32) && s->len == len && memcmp(w->pool + s->off, k, len) == 0)
			return s->set;
	}
	return 0;
}

/* ------------------------------------------------------------ substring automaton */

/* Trie of the substring entries, then BFS failure links folded into a complete DFA. */
static int ac_build(struct iocb_wl *w, const struct iocb_wl__item *it, size_t n, const char *pool,
		    struct iocb_err *err)
{
	struct iocb_wl__ac *ac = &w->ac;
	size_t total = 1;
	for (size_t i = 0; i < n; i++) {
		total += it[i].len;
		for (uint32_t j = 0; j < it[i].len; j++)
			ac->cls[(uint8_t)pool[it[i].off + j]] = 1;
	}
	ac->nclass = 1;
	for (size_t c = 0; c < 256; c++)
		ac->cls[c] = ac->cls[c] ? (uint8_t)ac->nclass++ : 0;
	if (ac->nclass > 255 || total > UINT32_MAX || total * ac->nclass > IOCB_WL_MAX_AC_CELLS)
		return iocb_err_set(err, IOCB_ELIMIT, "substring lists too large: %zu states x %u byte classes > %zu",
				    total, ac->nclass, (size_t)IOCB_WL_MAX_AC_CELLS);
	uint32_t nc = ac->nclass;
	ac->delta = iocb_xcalloc(total * nc, sizeof(*ac->delta));
	ac->out = iocb_xcalloc(total, sizeof(*ac->out));
	uint32_t *fail = iocb_xcalloc(total, sizeof(*fail));
	uint32_t *queue = iocb_xmalloc(total * sizeof(*queue));
	ac->nstate = 1;
	for (size_t i = 0; i < n; i++) {
		uint32_t s = 0;
		for (uint32_t j = 0; j < it[i].len; j++) {
			uint32_t *d = &ac->delta[(size_t)s * nc + ac->cls[(uint8_t)pool[it[i].off + j]]];
			if (!*d)
				*d = ac->nstate++;
			s = *d;
		}
		ac->out[s] = iocb_wl__sets_union(&w->sets, ac->out[s], w->single[it[i].list]);
	}
	/* BFS: a missing edge goes where the failure state's edge goes; outputs inherit the failure's. */
	size_t qh = 0, qt = 0;
	for (uint32_t c = 1; c < nc; c++)
		if (ac->delta[c])
			queue[qt++] = ac->delta[c];
	while (qh < qt) {
		uint32_t s = queue[qh++];
		ac->out[s] = iocb_wl__sets_union(&w->sets, ac->out[s], ac->out[fail[s]]);
		for (uint32_t c = 1; c < nc; c++) {
			uint32_t *d = &ac->delta[(size_t)s * nc + c];
			uint32_t f = ac->delta[(size_t)fail[s] * nc + c];
			if (*d) {
				fail[*d] = f;
				queue[qt++] = *d;
			} else {
				*d = f;
			}
		}
	}
	free(fail);
	free(queue);
	return IOCB_OK;
}

/* ------------------------------------------------------------ build */

static int build_text(struct iocb_wl *w, struct iocb_wl_builder *b, struct iocb_err *err)
{
	const struct iocb_wl__item *str = b->items[0].v, *sub = b->items[1].v, *host = b->items[2].v;
	table_init(&w->str, b->items[0].n);
	for (size_t i = 0; i < b->items[0].n; i++)
		table_add(w, &w->str, str[i].off, str[i].len, str[i].list);
	table_init(&w->host, b->items[2].n);
	for (size_t i = 0; i < b->items[2].n; i++)
		table_add(w, &w->host, host[i].off, host[i].len, host[i].list);
	return b->items[1].n ? ac_build(w, sub, b->items[1].n, w->pool, err) : IOCB_OK;
}

int iocb_wl__build(struct iocb_wl *w, struct iocb_wl_builder *b, struct iocb_err *err)
{
	w->single = iocb_xcalloc(w->nlists ? w->nlists : 1, sizeof(*w->single));
	for (size_t i = 0; i < w->nlists; i++) {
		uint16_t l = (uint16_t)i;
		w->single[i] = iocb_wl__sets_intern(&w->sets, &l, 1);
	}
	/* The pool takes the text entries, then one 18-byte key per network. */
	size_t text = b->pool.n, nn = b->nets.n;
	if (text + nn * 18 > UINT32_MAX)
		return iocb_err_set(err, IOCB_ELIMIT, "warninglists too large (%zu bytes of entries)", text + nn * 18);
	w->pool = iocb_xmalloc(text + nn * 18 + 1);
	if (text)
		memcpy(w->pool, b->pool.v, text);
	int rc = build_text(w, b, err);
	if (rc < 0)
		return rc;
	const struct iocb_wl__net *nets = b->nets.v;
	table_init(&w->net, nn);
	for (size_t i = 0; i < nn; i++) {
		char *k = w->pool + text + i * 18;
		k[0] = (char)nets[i].v6;
		k[1] = (char)nets[i].len;
		memcpy(k + 2, nets[i].addr, 16);
		w->lens[nets[i].v6][nets[i].len / 64] |= (uint64_t)1 << (nets[i].len % 64);
		table_add(w, &w->net, (uint32_t)(text + i * 18), 18, nets[i].list);
	}
	w->nres = b->res.n;
	w->res = b->res.v;
	memset(&b->res, 0, sizeof(b->res));
	return IOCB_OK;
}

void iocb_wl__tables_free(struct iocb_wl *w)
{
	free(w->str.slots);
	free(w->host.slots);
	free(w->net.slots);
	free(w->ac.delta);
	free(w->ac.out);
	for (size_t i = 0; i < w->nres; i++)
		pcre2_code_free(w->res[i].code);
	free(w->res);
	free(w->pool);
	free(w->single);
}

/* ------------------------------------------------------------ matching */

/* Lists hit so far: a bitmap over list indices, cleared on the first hit only. */
struct acc {
	uint64_t bits[IOCB_WL_MAX_LISTS / 64]; /* list i hit */
	size_t words;                          /* words in use */
	bool any;                              /* bits were cleared */
};

static void acc_add(const struct iocb_wl *w, struct acc *a, uint16_t set)
{
	const uint16_t *ls;
	size_t n = iocb_wl_set_lists(w, set, &ls);
	if (!n)
		return;
	if (!a->any) {
		memset(a->bits, 0, a->words * sizeof(a->bits[0]));
		a->any = true;
	}
	for (size_t i = 0; i < n; i++)
		a->bits[ls[i] / 64] |= (uint64_t)1 << (ls[i] % 64);
}

/* MISP's host of a value: after "//" up to the next '/', else up to the first '/'; dots trimmed. */
static struct iocb_str value_host(struct iocb_str v)
{
	const char *p = v.ptr, *end = v.ptr + v.len;
	const char *ss = v.len >= 2 ? memmem(p, v.len, "//", 2) : NULL;
	if (ss) {
		/* explode('/')[2]: the segment after the first "//" only when it starts the value's second slash. */
		const char *first = memchr(p, '/', v.len);
		if (first == ss)
			p = ss + 2;
	}
	const char *slash = memchr(p, '/', (size_t)(end - p));
	if (slash)
		end = slash;
	while (end > p && end[-1] == '.')
		end--;
	return iocb_str_make(p, (size_t)(end - p));
}

static void match_host(const struct iocb_wl *w, struct iocb_str v, struct acc *a)
{
	struct iocb_str h = value_host(v);
	while (h.len) {
		acc_add(w, a, table_get(w, &w->host, h.ptr, h.len));
		const char *dot = memchr(h.ptr, '.', h.len);
		if (!dot)
			break;
		h.len -= (size_t)(dot + 1 - h.ptr);
		h.ptr = dot + 1;
	}
}

static void match_net(const struct iocb_wl *w, struct iocb_str v, struct acc *a)
{
	if (!w->net.n || v.len == 0 || v.len >= 64)
		return;
	char tmp[64];
	memcpy(tmp, v.ptr, v.len);
	tmp[v.len] = 0;
	unsigned vlen = 0;
	char *slash = strchr(tmp, '/');
	if (slash) {
		char *e = NULL;
		*slash = 0;
		unsigned long l = strtoul(slash + 1, &e, 10);
		if (!slash[1] || *e || l > 128)
			return;
		vlen = (unsigned)l;
	}
	uint8_t addr[16] = {0};
	int v6 = 0;
	if (inet_pton(AF_INET, tmp, addr) != 1) {
		if (inet_pton(AF_INET6, tmp, addr) != 1)
			return;
		v6 = 1;
	}
	unsigned max = v6 ? 128 : 32;
	if (!slash)
		vlen = max;
	if (vlen > max)
		return;
	/* Each prefix length present, up to the value's own: mask and probe. */
	uint8_t key[18];
	key[0] = (uint8_t)v6;
	for (unsigned len = 0; len <= vlen; len++) {
		if (!(w->lens[v6][len / 64] >> (len % 64) & 1))
			continue;
		key[1] = (uint8_t)len;
		memset(key + 2, 0, 16);
		memcpy(key + 2, addr, len / 8);
		if (len % 8)
			key[2 + len / 8] = (uint8_t)(addr[len / 8] & (0xff00u >> (len % 8)));
		acc_add(w, a, table_get(w, &w->net, key, sizeof(key)));
	}
}

static void match_sub(const struct iocb_wl *w, struct iocb_str v, struct acc *a)
{
	const struct iocb_wl__ac *ac = &w->ac;
	if (!ac->nstate)
		return;
	uint32_t s = 0;
	for (size_t i = 0; i < v.len; i++) {
		s = ac->delta[(size_t)s * ac->nclass + ac->cls[(uint8_t)v.ptr[i]]];
		if (ac->out[s])
			acc_add(w, a, ac->out[s]);
	}
}

static void match_re(const struct iocb_wl *w, struct iocb_str v, struct acc *a)
{
	if (!w->nres)
		return;
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	if (!md)
		return;
	for (size_t i = 0; i < w->nres; i++)
		if (pcre2_match(w->res[i].code, (PCRE2_SPTR)(v.ptr ? v.ptr : ""), v.len, 0, 0, md, NULL) >= 0)
			acc_add(w, a, w->single[w->res[i].list]);
	pcre2_match_data_free(md);
}

static bool applies(const struct iocb_wl_list *l, const struct iocb_misp_type *t)
{
	return !t || l->all_types || (t->id < 256 && (l->types[t->id / 64] >> (t->id % 64) & 1));
}

uint16_t iocb_wl_match(struct iocb_wl *w, const struct iocb_misp_type *type, struct iocb_str value)
{
	if (!w || !w->nlists)
		return 0;
	struct acc a;
	a.words = (w->nlists + 63) / 64;
	a.any = false;
	/* MISP explodes a composite value on '|' and tests each part. */
	bool split = type && type->composite;
	const char *p = value.ptr, *end = value.ptr + value.len;
	for (;;) {
		const char *bar = split ? memchr(p, '|', (size_t)(end - p)) : NULL;
		struct iocb_str part = iocb_str_make(p, bar ? (size_t)(bar - p) : (size_t)(end - p));
		acc_add(w, &a, table_get(w, &w->str, part.ptr, part.len));
		if (w->host.n)
			match_host(w, part, &a);
		match_net(w, part, &a);
		match_sub(w, part, &a);
		match_re(w, part, &a);
		if (!bar)
			break;
		p = bar + 1;
	}
	if (!a.any)
		return 0;
	uint16_t lists[IOCB_WL_MAX_LISTS];
	size_t n = 0;
	for (size_t wd = 0; wd < a.words; wd++)
		for (uint64_t b = a.bits[wd]; b; b &= b - 1) {
			size_t i = wd * 64 + (size_t)__builtin_ctzll(b);
			if (applies(&w->lists[i], type))
				lists[n++] = (uint16_t)i;
		}
	return iocb_wl__sets_intern(&w->sets, lists, n);
}
