/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dalli's shortened keys. Dalli (3.x, Logstash's client; KeyManager) sends
 * a key longer than 250 characters, namespace included, as
 *   key[0, P] + ":md5:" + md5_hex(key)
 * with P = 212 characters (213 with a namespace): a long URL arrives as its
 * first ~200 characters and the digest of the whole key. The store indexes
 * whole values only, so this module keeps a side index of the values long
 * enough to be shortened: hash of their first PREFIX bytes -> record uuid.
 * A shortened key yields the value's first PREFIX bytes (after its
 * "<ns>:" and "<type>-" head), the candidates under that hash are checked
 * against the key's prefix and digest, and the value that matches is looked
 * up as if it had been sent whole. Values shorter than MIN_LEN are never
 * shortened and cost nothing here.
 *
 * The same listener keeps a second, tiny summary: per MISP type, how many
 * stored value parts begin with that type's name and '-' (a domain
 * "link-login.example" begins with the type "link"). A key "link-x" is
 * looked up as "x" and, only when that misses and such values exist, as
 * "link-x" too: most misses then cost one lookup instead of two. 1 KiB in
 * all, whatever the store holds.
 *
 * Concurrency: the index is written by the store's change listener (the
 * writer's thread) and once by the start-up walk; readers (server threads)
 * copy candidate uuids out under a read lock, then resolve them through the
 * store (iocb_store_get) inside the store's read section, so a stale entry
 * (a record removed or changed meanwhile) only fails the digest check.
 */
#include "serve/memcached/internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/md5.h"
#include "core/mem.h"
#include "misp/misp.h"
#include "store/store.h"

#define PREFIX 128u       /* bytes of a value's start that are hashed */
#define HEAD_MAX 84u      /* "<ns>:<type>-" of at most this many characters still leaves PREFIX bytes */
#define MIN_LEN (IOCB_MC_KEY_MAX + 1u - HEAD_MAX) /* shorter values are never shortened: not indexed */
#define SHORT_TAIL 37u    /* ":md5:" + 32 hex */
#define CANDIDATES 8
#define SEED 0x6d63643564ULL
#define TYPED_MAX 256u    /* type ids counted; a type past it is always looked up both ways */

struct slot {
	uint64_t h; /* 0 = empty */
	uint8_t uuid[16];
};

struct iocb_mc_digest {
	struct iocb_store *store;
	int listener;
	pthread_rwlock_t lk; /* guards t, cap, n */
	struct slot *t;
	size_t cap, n;       /* cap: 0 or a power of two; n <= cap / 2 */
	int32_t typed[TYPED_MAX]; /* per type id: value parts "<type name>-…" stored (atomics) */
};

static uint64_t prefix_hash(const char *p)
{
	uint64_t h = iocb_hash64(p, PREFIX, SEED);
	return h ? h : 1;
}

/* File (h, uuid) unless already filed; true when it was added. */
static bool put(struct slot *t, size_t cap, uint64_t h, const uint8_t uuid[16])
{
	size_t i = h & (cap - 1);

	while (t[i].h) {
		if (t[i].h == h && memcmp(t[i].uuid, uuid, 16) == 0)
			return false; /* already there (the start-up walk and the listener may both add it) */
		i = (i + 1) & (cap - 1);
	}
	t[i].h = h;
	memcpy(t[i].uuid, uuid, 16);
	return true;
}

/* Under the write lock. */
static void add(struct iocb_mc_digest *d, uint64_t h, const uint8_t uuid[16])
{
	if ((d->n + 1) * 2 > d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct slot *t = iocb_xcalloc(cap, sizeof *t);
		for (size_t i = 0; i < d->cap; i++)
			if (d->t[i].h)
				(void)put(t, cap, d->t[i].h, d->t[i].uuid);
		free(d->t);
		d->t = t;
		d->cap = cap;
	}
	if (put(d->t, d->cap, h, uuid))
		d->n++;
}

/* Under the write lock: linear probing's backward-shift delete. */
static void del(struct iocb_mc_digest *d, uint64_t h, const uint8_t uuid[16])
{
	size_t m = d->cap - 1, i;

	if (!d->cap)
		return;
	for (i = h & m; d->t[i].h; i = (i + 1) & m)
		if (d->t[i].h == h && memcmp(d->t[i].uuid, uuid, 16) == 0)
			break;
	if (!d->t[i].h)
		return;
	for (size_t j = (i + 1) & m; d->t[j].h; j = (j + 1) & m) {
		size_t home = d->t[j].h & m;
		/* j's entry may move into the hole at i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			d->t[i] = d->t[j];
			i = j;
		}
	}
	d->t[i].h = 0;
	d->n--;
}

/* Count a value part that begins with "<type name>-" (+1 or -1). */
static void count_typed(struct iocb_mc_digest *d, struct iocb_str part, int delta)
{
	const struct iocb_misp_type *t = NULL;

	iocb_mc__strip_type(part, &t);
	if (t && t->id < TYPED_MAX)
		__atomic_fetch_add(&d->typed[t->id], delta, __ATOMIC_RELAXED);
}

/* Add or remove the entries of a record's long parts, and its count of typed-looking parts. */
static void record(struct iocb_mc_digest *d, const struct iocb_store_attr *a, bool insert)
{
	struct iocb_store_attr_view v;
	uint8_t u[16];
	bool locked = false;

	iocb_store_attr_view(a, &v);
	for (unsigned p = 0; p < v.nparts && p < 2; p++) {
		count_typed(d, v.part[p], insert ? 1 : -1);
		if (v.part[p].len < MIN_LEN)
			continue;
		if (!locked) {
			iocb_store_attr_uuid(a, u);
			pthread_rwlock_wrlock(&d->lk);
			locked = true;
		}
		if (insert)
			add(d, prefix_hash(v.part[p].ptr), u);
		else
			del(d, prefix_hash(v.part[p].ptr), u);
	}
	if (locked)
		pthread_rwlock_unlock(&d->lk);
}

static void on_change(void *ud, const struct iocb_store_attr *old, const struct iocb_store_attr *nw)
{
	if (old)
		record(ud, old, false);
	if (nw)
		record(ud, nw, true);
}

static int walk_one(void *ud, const struct iocb_store_attr *a)
{
	record(ud, a, true);
	return 0;
}

/* The start-up walk, on a thread of its own: iocb_store_each() wants a registered reader. */
static void *walk(void *arg)
{
	struct iocb_mc_digest *d = arg;
	int rc;

	iocb_store_reader_register();
	rc = iocb_store_each(d->store, walk_one, d);
	iocb_store_reader_unregister();
	return rc == IOCB_OK ? arg : NULL;
}

int iocb_mc_digest_open(struct iocb_store *s, struct iocb_mc_digest **out, struct iocb_err *err)
{
	struct iocb_mc_digest *d = iocb_xcalloc(1, sizeof *d);
	pthread_t thr;
	void *res = NULL;

	*out = NULL;
	d->store = s;
	pthread_rwlock_init(&d->lk, NULL);
	/* Listen first, then walk: a change during the walk is seen by one or both (entries are deduplicated). */
	d->listener = iocb_store_listen(s, on_change, d);
	if (d->listener < 0) {
		iocb_mc_digest_close(d);
		return iocb_err_set(err, IOCB_ELIMIT, "memcached: no store listener left for the long-key index");
	}
	if (pthread_create(&thr, NULL, walk, d) != 0 || (pthread_join(thr, &res), res == NULL)) {
		iocb_mc_digest_close(d);
		return iocb_err_set(err, IOCB_ENOMEM, "memcached: cannot walk the store for the long-key index");
	}
	*out = d;
	return IOCB_OK;
}

void iocb_mc_digest_close(struct iocb_mc_digest *d)
{
	if (!d)
		return;
	if (d->listener >= 0)
		iocb_store_unlisten(d->store, d->listener);
	pthread_rwlock_destroy(&d->lk);
	free(d->t);
	free(d);
}

void iocb_mc_digest_stats(struct iocb_mc_digest *d, uint64_t *values, uint64_t *bytes)
{
	*values = *bytes = 0;
	if (!d)
		return;
	pthread_rwlock_rdlock(&d->lk);
	*values = d->n;
	*bytes = d->cap * sizeof(struct slot);
	pthread_rwlock_unlock(&d->lk);
}

bool iocb_mc__typed_values(const struct iocb_mc_digest *d, const struct iocb_misp_type *t, struct iocb_str key)
{
	size_t type_len;

	/* No summary, or a type it does not count: look both ways. */
	if (!d || !t || t->id >= TYPED_MAX)
		return true;
	type_len = strlen(t->name);
	/*
	 * The count is over normalised values: a key whose normal form may not
	 * begin with the same type name (an upper-case name, "AS"; non-ASCII
	 * that becomes punycode, "xn--link-…") is looked up both ways too.
	 */
	for (size_t i = 0; i < key.len; i++)
		if ((unsigned char)key.ptr[i] >= 0x80 || (i < type_len && key.ptr[i] >= 'A' && key.ptr[i] <= 'Z'))
			return true;
	return __atomic_load_n(&d->typed[t->id], __ATOMIC_RELAXED) > 0;
}

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Dalli's form "<prefix>:md5:<32 lower-case hex>": the prefix and the 16 digest bytes. */
static bool parse_short(struct iocb_str key, struct iocb_str *pre, uint8_t md[16])
{
	const char *t;

	if (key.len < SHORT_TAIL + PREFIX)
		return false;
	t = key.ptr + key.len - SHORT_TAIL;
	if (memcmp(t, ":md5:", 5) != 0)
		return false;
	for (int i = 0; i < 16; i++) {
		int hi = unhex(t[5 + 2 * i]), lo = unhex(t[6 + 2 * i]);
		if (hi < 0 || lo < 0)
			return false;
		md[i] = (uint8_t)(hi << 4 | lo);
	}
	*pre = (struct iocb_str){key.ptr, key.len - SHORT_TAIL};
	return true;
}

/* The uuids filed under h (at most CANDIDATES). */
static size_t candidates(struct iocb_mc_digest *d, uint64_t h, uint8_t (*u)[16])
{
	size_t n = 0;

	pthread_rwlock_rdlock(&d->lk);
	for (size_t i = d->cap ? h & (d->cap - 1) : 0; d->cap && d->t[i].h && n < CANDIDATES; i = (i + 1) & (d->cap - 1))
		if (d->t[i].h == h)
			memcpy(u[n++], d->t[i].uuid, 16);
	pthread_rwlock_unlock(&d->lk);
	return n;
}

/* The part of a candidate whose whole key head+part has digest md; IOCB_STR_NULL if none. */
static struct iocb_str verify(const struct iocb_store *s, const uint8_t uuid[16], struct iocb_str head,
			      struct iocb_str vp, const uint8_t md[16])
{
	char txt[37];
	const struct iocb_store_attr *a;
	struct iocb_store_attr_view v;

	iocb_misp_uuid_format(uuid, txt);
	a = iocb_store_get(s, (struct iocb_str){txt, 36});
	if (!a)
		return IOCB_STR_NULL;
	iocb_store_attr_view(a, &v);
	for (unsigned p = 0; p < v.nparts && p < 2; p++) {
		struct iocb_md5 m;
		uint8_t got[16];
		if (v.part[p].len < vp.len || memcmp(v.part[p].ptr, vp.ptr, vp.len) != 0)
			continue;
		iocb_md5_init(&m);
		iocb_md5_update(&m, head.ptr, head.len);
		iocb_md5_update(&m, v.part[p].ptr, v.part[p].len);
		iocb_md5_final(&m, got);
		if (memcmp(got, md, 16) == 0)
			return v.part[p];
	}
	return IOCB_STR_NULL;
}

struct iocb_str iocb_mc__digest_resolve(struct iocb_mc_digest *d, struct iocb_str ns, struct iocb_str key,
					size_t *head_len)
{
	struct iocb_str pre, rest;
	uint8_t md[16], u[CANDIDATES][16];
	size_t start[2], off = 0;

	if (!d || !parse_short(key, &pre, md))
		return IOCB_STR_NULL;
	if (ns.len && pre.len > ns.len && pre.ptr[ns.len] == ':' && memcmp(pre.ptr, ns.ptr, ns.len) == 0)
		off = ns.len + 1;
	rest = (struct iocb_str){pre.ptr + off, pre.len - off};
	/* The value starts after "<type>-" (elastiMISPstash's keys) or right after the namespace (bare). */
	start[0] = off + (rest.len - iocb_mc__strip_type(rest, NULL).len);
	start[1] = off;
	for (int k = 0; k < 2; k++) {
		struct iocb_str head = {pre.ptr, start[k]}, vp = {pre.ptr + start[k], pre.len - start[k]};
		size_t n;
		if ((k == 1 && start[1] == start[0]) || vp.len < PREFIX)
			continue;
		n = candidates(d, prefix_hash(vp.ptr), u);
		for (size_t i = 0; i < n; i++) {
			struct iocb_str v = verify(d->store, u[i], head, vp, md);
			if (v.len) {
				*head_len = head.len;
				return v;
			}
		}
	}
	return IOCB_STR_NULL;
}
