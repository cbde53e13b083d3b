/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's memory primitives: the open-addressing RCU table and the
 * size-class slab.
 *
 * Table. Why not liburcu's cds_lfht: it chains nodes that each embed a
 * next pointer, the reverse hash and an rcu_head (>= 24 bytes per entry plus
 * the bucket array), and it is built for many concurrent writers, which we do
 * not have. With one writer, a flat array of 8-byte slots is enough: readers
 * probe it with acquire loads, the writer publishes fully built entries with
 * release stores, deletes with tombstones, and grows by building a new array
 * that is swapped in with rcu_assign_pointer(); the old array is retired and
 * freed after the next grace period. 16 bits of the hash ride in each slot so
 * a probe rarely touches a record that is not the one sought. Sizes are not
 * powers of two (multiply-shift maps the hash onto [0, n)), so the load factor
 * stays between ~0.53 and 0.8 instead of 0.4-0.8.
 *
 * Slab. Records are immutable and variable-sized (64 bytes + text), freed
 * one at a time after grace periods. glibc malloc spends 8 bytes of header
 * and rounds to 16; a free list per 8-byte class with blocks bump-allocated
 * from 256 KiB chunks spends nothing per block. Only the writer (holding the
 * writer lock, or in commit) allocates and frees, so the slab is unlocked.
 */
#include "store/internal.h"

#include <stdlib.h>
#include <urcu.h>

#include "core/mem.h"

/* ------------------------------------------------------------ slab */

void *iocb_store__slab_alloc(struct store_slab *sl, size_t n)
{
	size_t cls;
	void *p;

	n = (n + 7) & ~(size_t)7;
	sl->in_use += n;
	if (n > IOCB_STORE__SLAB_MAX) {
		sl->reserved += n;
		return iocb_xmalloc(n);
	}
	cls = n / 8;
	p = sl->free[cls];
	if (p) {
		sl->free[cls] = *(void **)p;
		return p;
	}
	if (sl->left < n) {
		if (sl->nchunks == sl->capchunks) {
			sl->capchunks = sl->capchunks ? sl->capchunks * 2 : 64;
			sl->chunks = iocb_xrealloc(sl->chunks, sl->capchunks * sizeof(*sl->chunks));
		}
		sl->cur = iocb_xmalloc(IOCB_STORE__SLAB_CHUNK);
		sl->chunks[sl->nchunks++] = sl->cur;
		sl->left = IOCB_STORE__SLAB_CHUNK;
		sl->reserved += IOCB_STORE__SLAB_CHUNK;
	}
	p = sl->cur;
	sl->cur += n;
	sl->left -= n;
	return p;
}

void iocb_store__slab_free(struct store_slab *sl, void *p, size_t n)
{
	if (!p)
		return;
	n = (n + 7) & ~(size_t)7;
	sl->in_use -= n;
	if (n > IOCB_STORE__SLAB_MAX) {
		sl->reserved -= n;
		free(p);
		return;
	}
	*(void **)p = sl->free[n / 8];
	sl->free[n / 8] = p;
}

void iocb_store__slab_fini(struct store_slab *sl)
{
	for (size_t i = 0; i < sl->nchunks; i++)
		free(sl->chunks[i]);
	free(sl->chunks);
	memset(sl, 0, sizeof(*sl));
}

/* ------------------------------------------------------------ table */

uint64_t iocb_store__tab_size_for(uint64_t entries)
{
	uint64_t n = entries + entries / 4 + 8; /* load 0.8 at `entries` */
	return n < 16 ? 16 : n;
}

struct store_tab *iocb_store__tab_new(uint64_t entries)
{
	uint64_t n = iocb_store__tab_size_for(entries);
	uint64_t words = 1;

	while (words * 8 < n)
		words <<= 1; /* at least 8 filter bits per slot */
	struct store_tab *t = iocb_xcalloc(1, sizeof(*t) + (n + words) * sizeof(uint64_t));
	t->n = n;
	t->filter = t->slots + n;
	t->fmask = words - 1;
	return t;
}

/* Place v in the first free slot of its probe sequence (no tombstones in a fresh table). */
static uint64_t place(struct store_tab *t, uint64_t h, uint64_t v)
{
	uint64_t i = st_home(t, h);
	for (;;) {
		uint64_t cur = t->slots[i];
		if (cur == 0 || cur == ST_TOMB) {
			if (cur == ST_TOMB)
				t->tombs--;
			st_filter_add(t, h);
			ST_STORE(&t->slots[i], v);
			t->used++;
			return i;
		}
		i = st_next(t, i);
	}
}

static struct store_tab *rebuild(struct iocb_store *s, struct store_tab *old, uint64_t entries,
				 iocb_store__rehash_cb rehash)
{
	struct store_tab *t = iocb_store__tab_new(entries);
	for (uint64_t i = 0; i < old->n; i++) {
		uint64_t v = old->slots[i];
		if (v == 0 || v == ST_TOMB)
			continue;
		place(t, rehash(s, v), v);
	}
	return t;
}

uint64_t iocb_store__tab_insert(struct iocb_store *s, struct store_tab **tp, uint64_t h, uint64_t v,
				iocb_store__rehash_cb rehash, bool rcu)
{
	struct store_tab *t = *tp;

	if ((t->used + t->tombs + 1) * 5 > t->n * 4) {
		/* Rebuild for 1.5x the live entries: grows a full table, shrinks one of tombstones. */
		uint64_t want = (t->used + 1) * 3 / 2;
		struct store_tab *nt = rebuild(s, t, want, rehash);
		if (rcu) {
			ST_STORE(&*tp, nt);
			iocb_store__retire(s, t, 0, ST_RT_FREE);
		} else {
			*tp = nt;
			free(t);
		}
		t = nt;
	}
	return place(t, h, v);
}
