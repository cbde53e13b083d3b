/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to src/store: record layouts, the open-addressing table, the CIDR
 * index, the slab allocator and the persistence hooks. No other module
 * includes this file.
 *
 * Memory model (why the structures look like this). The store must hold
 * 1 M attributes in <= 150 bytes each including indexes, so:
 *   - an attribute is ONE allocation: a 64-byte header followed by the
 *     binary IP part(s), the value text ("a|b" for composites; the parts are
 *     slices of it), the comment and the tag ids. uuid is 16 binary bytes;
 *     type, category, tag names and org names are small interned ids;
 *   - records come from a size-class slab (8-byte granularity, no per-block
 *     header) instead of malloc (16-byte granularity + 8-byte header);
 *   - indexes are open-addressing tables of 8-byte slots (48-bit pointer +
 *     16-bit hash tag), sized for a load factor <= 0.8 with non-power-of-two
 *     sizes (multiply-shift range reduction) so growth wastes little;
 *   - event metadata lives once per event (struct iocb_store_event + an
 *     immutable struct store_evmeta), attributes point to the event;
 *   - there is no per-event list of attributes: removing an event marks it
 *     dead (readers skip its attributes at once) and the attributes are
 *     swept out of the indexes in the next commit by one scan.
 *
 * Concurrency. Everything below is written only by the thread holding
 * s->wlock; readers run lock-free inside an RCU read-side section and only
 * ever load (acquire) slots and pointers that the writer published with
 * release stores after fully initialising what they point to. Memory the
 * writer unlinks goes to the retire list, freed after synchronize_rcu() in
 * commit.
 */
#ifndef IOCB_STORE_INTERNAL_H
#define IOCB_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/hash.h"
#include "store/store.h"

/* ------------------------------------------------------------ atomics */

#define ST_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ST_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ST_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)

/* ------------------------------------------------------------ slab */

#define IOCB_STORE__SLAB_MAX 1024 /* blocks above this size use malloc */
#define IOCB_STORE__SLAB_CHUNK (256 * 1024)

/*
 * Size-class allocator for records and value vectors. Writer-only (under
 * wlock, or in commit after the grace period). Freed blocks are pushed on
 * a per-class free list through their first 8 bytes; chunks are returned
 * to the system only when the store is freed.
 */
struct store_slab {
	void *free[IOCB_STORE__SLAB_MAX / 8 + 1]; /* free list per 8-byte size class */
	char *cur;                                /* bump pointer in the current chunk */
	size_t left;                              /* bytes left in the current chunk */
	void **chunks;                            /* every chunk, for the final free */
	size_t nchunks, capchunks;                /* chunk vector size / capacity */
	size_t in_use;                            /* bytes handed out and not freed */
	size_t reserved;                          /* bytes in chunks + large blocks */
};

void *iocb_store__slab_alloc(struct store_slab *sl, size_t n);
void iocb_store__slab_free(struct store_slab *sl, void *p, size_t n);
void iocb_store__slab_fini(struct store_slab *sl);

/* ------------------------------------------------------------ records */

#define ST_NOPLEN 0xff /* prefix byte: not a CIDR */

enum {
	ST_F_TO_IDS = 1 << 0, /* to_ids */
	ST_F_FS = 1 << 1,     /* first_seen present */
	ST_F_LS = 1 << 2,     /* last_seen present */
	ST_F_IP0 = 1 << 3,    /* part 0 has a binary IP */
	ST_F_IP1 = 1 << 4,    /* part 1 has a binary IP */
	ST_F_V6_0 = 1 << 5,   /* part 0's IP is v6 (16 bytes, else 4) */
	ST_F_V6_1 = 1 << 6,   /* part 1's IP is v6 */
	ST_F_Q = 1 << 7,      /* a quality block (struct store_quality) follows the header */
};

/*
 * The quality marks of a record (store.h struct iocb_store_quality), kept
 * right after the header and only when they differ from the defaults, so a
 * record without marks pays nothing and the hot path's expiry test reads
 * the bytes next to the header it already loaded. Instants are 32-bit
 * epoch seconds (UINT32_MAX = never): 28 bytes instead of 45.
 */
struct store_quality {
	uint32_t expires_at;    /* UINT32_MAX = never */
	uint32_t decay_from;    /* 0 = none */
	uint32_t last_sighting; /* 0 = none */
	uint32_t expiration;    /* type-2 sighting instant, 0 = none */
	float base_score;       /* negative = no model */
	uint16_t model;         /* model index + 1 */
	uint16_t wl_set;        /* warninglist set id */
	uint8_t wl_action;      /* enum iocb_store_wl_action */
	uint8_t gone;           /* not live, and announced to the listeners as removed (quality sweep):
				   the listeners and the walks do not see the record until it is live again */
	uint8_t pad_[2];
};
_Static_assert(sizeof(struct store_quality) == 28, "quality block size");

/*
 * Event handle: stable for the life of the event, so attributes can point
 * at it while its metadata is replaced copy-on-write. Readers read `meta`
 * and `dead`; the rest is the writer's.
 */
struct iocb_store_event {
	struct store_evmeta *meta; /* current metadata (RCU-published); NULL for the store's
				      "no event" handle that event-less attributes point to */
	const struct iocb_store *store; /* owning store: views find interned strings through it */
	uint8_t dead;              /* set (release) when the event is removed */
	uint32_t nattrs;           /* writer: attributes pointing here */
	uint64_t sid;              /* writer: store-local id, the LMDB key */
};

/* Immutable event metadata; pointer-free so it is persisted byte for byte. */
struct store_evmeta {
	uint8_t uuid[16];           /* binary uuid (valid if has_uuid) */
	uint64_t id;                /* MISP event id, 0 if unknown */
	uint64_t orgc_id;           /* creator org id, 0 if unknown */
	uint64_t timestamp;         /* Event.timestamp */
	uint64_t publish_timestamp; /* Event.publish_timestamp */
	uint32_t orgc_name;         /* interned string id, 0 = empty */
	uint32_t orgc_uuid;         /* interned string id, 0 = empty */
	uint16_t info_len;          /* bytes of info text (after the tags) */
	uint16_t ntags;             /* tag ids following the header */
	uint8_t has_uuid;           /* uuid is known */
	uint8_t published;          /* Event.published */
	int8_t threat_level_id;     /* 0 if unknown */
	uint8_t date_len;           /* bytes of date text (after info) */
	uint32_t pad_;              /* keeps the size a multiple of 8 */
	/* uint32_t tags[ntags]; char info[info_len]; char date[date_len]; */
};

/*
 * Immutable attribute record. Layout after the header:
 *   ip0 (4 or 16 bytes, if ST_F_IP0), ip1 (if ST_F_IP1),   network order, masked
 *   value text + NUL ("p0|p1" for composites; parts are slices of it),
 *   comment + NUL, tag ids (uint32, unaligned), first_seen, last_seen (int64, unaligned).
 * Everything after `ev` is pointer-free and is what persist.c writes.
 */
struct iocb_store_attr {
	struct iocb_store_event *ev; /* event handle; s->noev if the attribute has no event */
	uint64_t id;            /* MISP attribute id, 0 if unknown */
	uint64_t timestamp;     /* Attribute.timestamp */
	uint8_t uuid[16];       /* binary uuid */
	uint32_t updated;       /* epoch seconds of the last upsert (expiry) */
	uint32_t category;      /* interned string id */
	uint16_t value_len;     /* bytes of value text */
	uint16_t part1_off;     /* offset of part 1 in the value; 0 = one part */
	uint16_t comment_len;   /* bytes of comment */
	uint16_t ntags;         /* tag ids */
	uint8_t type;           /* index into s->types */
	uint8_t source;         /* source id 0..63 */
	uint8_t flags;          /* ST_F_* */
	uint8_t plen[2];        /* CIDR prefix per part or ST_NOPLEN */
	uint8_t pad_[3];        /* header is 64 bytes */
};

_Static_assert(sizeof(struct iocb_store_attr) == 64, "attribute header size");
_Static_assert(sizeof(struct store_evmeta) % 8 == 0, "evmeta alignment");

static inline size_t st_qlen(const struct iocb_store_attr *r)
{
	return (r->flags & ST_F_Q) ? sizeof(struct store_quality) : 0;
}
static inline const struct store_quality *st_quality(const struct iocb_store_attr *r)
{
	return (const struct store_quality *)(const void *)(r + 1);
}
/* The record is hidden from listeners and walks (store.h iocb_store_quality_sweep()). */
static inline bool st_gone(const struct iocb_store_attr *r)
{
	return (r->flags & ST_F_Q) && st_quality(r)->gone;
}
static inline size_t st_iplen(const struct iocb_store_attr *r, unsigned p)
{
	unsigned has = p ? ST_F_IP1 : ST_F_IP0, v6 = p ? ST_F_V6_1 : ST_F_V6_0;
	if (!(r->flags & has))
		return 0;
	return (r->flags & v6) ? 16 : 4;
}
static inline const uint8_t *st_ip(const struct iocb_store_attr *r, unsigned p)
{
	const uint8_t *d = (const uint8_t *)(r + 1) + st_qlen(r);
	return p ? d + st_iplen(r, 0) : d;
}
static inline const char *st_value(const struct iocb_store_attr *r)
{
	return (const char *)(r + 1) + st_qlen(r) + st_iplen(r, 0) + st_iplen(r, 1);
}
static inline unsigned st_nparts(const struct iocb_store_attr *r)
{
	return r->part1_off ? 2 : 1;
}
static inline struct iocb_str st_part(const struct iocb_store_attr *r, unsigned p)
{
	const char *v = st_value(r);
	if (!r->part1_off)
		return iocb_str_make(v, p ? 0 : r->value_len);
	if (p == 0)
		return iocb_str_make(v, (size_t)r->part1_off - 1);
	return iocb_str_make(v + r->part1_off, (size_t)(r->value_len - r->part1_off));
}
static inline const char *st_comment(const struct iocb_store_attr *r)
{
	return st_value(r) + r->value_len + 1;
}
static inline const uint8_t *st_tags(const struct iocb_store_attr *r)
{
	return (const uint8_t *)st_comment(r) + r->comment_len + 1;
}
static inline size_t st_attr_size(const struct iocb_store_attr *r)
{
	size_t n = sizeof(*r) + st_qlen(r) + st_iplen(r, 0) + st_iplen(r, 1) + r->value_len + 1u + r->comment_len + 1u +
		   4u * r->ntags;
	if (r->flags & ST_F_FS)
		n += 8;
	if (r->flags & ST_F_LS)
		n += 8;
	return n;
}
static inline size_t st_evmeta_size(const struct store_evmeta *m)
{
	return sizeof(*m) + 4u * m->ntags + m->info_len + m->date_len;
}
static inline uint32_t st_rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* ------------------------------------------------------------ table */

/*
 * Open-addressing hash table of 8-byte slots, linear probing. A slot is 0
 * (empty), ST_TOMB (deleted) or (hash tag << 48 | pointer | flags): the
 * pointer is 8-aligned so its low 3 bits carry flags (ST_SL_VEC: the
 * pointer is a struct store_vec, ST_SL_PART1: the entry is the record's
 * part 1). The table does not know its keys: callers compare candidates.
 * Readers probe with acquire loads; the writer stores with release.
 */
#define ST_TOMB ((uint64_t)1)
#define ST_SL_VEC ((uint64_t)1)
#define ST_SL_PART1 ((uint64_t)2)
#define ST_PTR_MASK ((uint64_t)0x0000fffffffffff8ULL)
#define ST_TAG(h) ((uint64_t)((h)&0xffffu) << 48)

struct store_tab {
	uint64_t n;       /* number of slots */
	uint64_t used;    /* writer: live entries */
	uint64_t tombs;   /* writer: tombstones */
	uint64_t *filter; /* presence filter, fmask + 1 words after the slots (see st_filter_*) */
	uint64_t fmask;
	uint64_t slots[]; /* the slots */
};

/*
 * Presence filter: two bits per inserted hash in one 64-bit word, about 8
 * bits per slot. A lookup whose bits are not both set cannot be in the
 * table, so it ends in this small array (which stays in the CPU cache)
 * instead of a random read of the large slot array: enrichment looks up
 * mostly values that are absent. Removals leave their bits (false
 * positives only cost a probe) until the next rebuild. The writer sets the
 * bits before it publishes the slot.
 */
static inline uint64_t st_filter_bits(uint64_t h)
{
	return ((uint64_t)1 << ((h >> 16) & 63)) | ((uint64_t)1 << ((h >> 22) & 63));
}

static inline bool st_filter_maybe(const struct store_tab *t, uint64_t h)
{
	uint64_t b = st_filter_bits(h);
	return (__atomic_load_n(&t->filter[(h >> 28) & t->fmask], __ATOMIC_ACQUIRE) & b) == b;
}

static inline void st_filter_add(struct store_tab *t, uint64_t h)
{
	uint64_t *w = &t->filter[(h >> 28) & t->fmask];
	__atomic_store_n(w, __atomic_load_n(w, __ATOMIC_RELAXED) | st_filter_bits(h), __ATOMIC_RELEASE);
}

/* Rehash callback: the hash of a live slot value (writer, on resize). */
typedef uint64_t (*iocb_store__rehash_cb)(const void *ctx, uint64_t slot);

static inline uint64_t st_home(const struct store_tab *t, uint64_t h)
{
	return (uint64_t)(((unsigned __int128)h * t->n) >> 64);
}
static inline uint64_t st_next(const struct store_tab *t, uint64_t i)
{
	return i + 1 == t->n ? 0 : i + 1;
}
static inline void *st_slot_ptr(uint64_t v)
{
	return (void *)(uintptr_t)(v & ST_PTR_MASK);
}

/* Key test for st_wfind(): does live slot value v hold `key`? */
typedef bool (*iocb_store__wmatch_cb)(const void *key, uint64_t v);

/*
 * Writer-only table lookup with a key test (the writer's tables: strings,
 * events). Returns the slot index, UINT64_MAX if absent.
 */
static inline uint64_t st_wfind(const struct store_tab *t, uint64_t h, iocb_store__wmatch_cb match, const void *key)
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

struct store_tab *iocb_store__tab_new(uint64_t entries);
/* Slots needed for `entries` at the target load factor. */
uint64_t iocb_store__tab_size_for(uint64_t entries);
/*
 * Writer: put `v` in a free slot for hash h (the caller checked the key is
 * absent). Grows (or cleans tombstones) first when needed, publishing a new
 * table in *tp and retiring the old one through `retire`. Returns the slot
 * index in the (possibly new) table.
 */
uint64_t iocb_store__tab_insert(struct iocb_store *s, struct store_tab **tp, uint64_t h, uint64_t v,
				iocb_store__rehash_cb rehash, bool rcu);

/* ------------------------------------------------------------ vectors */

/* Several attributes sharing one (class, value): immutable, replaced copy-on-write. */
struct store_vec {
	uint32_t n;      /* entries */
	uint32_t pad_;
	uint64_t e[];    /* attribute pointer | ST_SL_PART1 */
};

/* ------------------------------------------------------------ interning */

#define ST_STR_CHUNK 4096
#define ST_STR_CHUNKS 1024 /* at most 4 M interned strings */

/* An interned string: immutable, never freed before the store. */
struct store_istr {
	uint32_t len;   /* bytes */
	uint32_t id;    /* its id */
	char s[];       /* text + NUL */
};

/* ------------------------------------------------------------ CIDR */

/*
 * Immutable containment index for one address family, rebuilt by the
 * writer from the set of prefixes present (cidr.c). `bounds` are the start
 * addresses of the elementary intervals the prefixes cut the address space
 * into; deep[i] is the longest prefix covering interval i (-1 for none) and
 * node parent links give every shorter prefix containing it. The index only
 * says which prefix lengths contain an address; hits come from probing the
 * value table with the masked network, so prefixes removed since the last
 * rebuild simply find nothing.
 */
struct store_cidrset {
	uint32_t nb;             /* bounds */
	uint32_t nnodes;         /* prefixes */
	bool v6;                 /* family */
	uint32_t *b4;            /* v4 bounds (host order) */
	unsigned __int128 *b6;   /* v6 bounds */
	int32_t *deep;           /* per bound: deepest covering node, -1 */
	int32_t *parent;         /* per node: containing node, -1 */
	uint8_t *plen;           /* per node: prefix length */
	unsigned __int128 *net;  /* per node: network (writer: for rebuilds), sorted */
	uint32_t *top;           /* v4: 65537 entries, first bound index per /16 */
};

/* Prefixes added since the last rebuild: append-only, readers see [0, n). */
struct store_cidrdelta {
	uint32_t n;              /* published entries (release) */
	uint32_t cap;            /* capacity */
	struct {
		unsigned __int128 net; /* masked network */
		uint8_t plen;          /* prefix */
	} e[];
};

struct store_cidr {
	struct store_cidrset *set;     /* RCU-published base */
	struct store_cidrdelta *delta; /* RCU-published delta */
	bool dirty;                    /* writer: a prefix vanished since the rebuild */
};

/* Writer: note a newly indexed prefix (may rebuild). */
void iocb_store__cidr_added(struct iocb_store *s, bool v6, unsigned __int128 net, unsigned plen);
/* Writer: rebuild if there is a delta or a removal (commit; open). */
void iocb_store__cidr_rebuild(struct iocb_store *s, bool v6, bool force);
void iocb_store__cidr_free(struct store_cidr *c);
/* Reader: bitmap (3 x 64 bits, bit = plen) of prefixes that may contain addr, plen <= maxplen. */
void iocb_store__cidr_candidates(const struct store_cidr *c, bool v6, unsigned __int128 a, unsigned maxplen,
				 uint64_t bits[3]);

/* ------------------------------------------------------------ retire */

enum st_retire_kind {
	ST_RT_FREE,   /* free(p) */
	ST_RT_SLAB,   /* slab free of `size` bytes */
	ST_RT_CIDR,   /* iocb_store__cidrset_free */
};

struct store_retired {
	void *p;       /* the memory */
	uint32_t size; /* slab size */
	uint8_t kind;  /* enum st_retire_kind */
};

void iocb_store__retire(struct iocb_store *s, void *p, size_t size, enum st_retire_kind kind);
void iocb_store__cidrset_free(struct store_cidrset *cs);

/* ------------------------------------------------------------ persistence */

struct store_persist; /* persist.c */

/* Attribute key in the dirty list: uuid. Event key: sid. */
struct store_meta_kv {
	char *key;                 /* NUL-terminated */
	char *val;                 /* value bytes */
	size_t len;                /* value length */
	bool dirty;                /* to write at the next commit */
	struct store_meta_kv *next;
};

/* Writer: set a meta value (dirty: write it at the next commit). */
void iocb_store__meta_put(struct iocb_store *s, const char *key, struct iocb_str value, bool dirty);
int iocb_store__persist_open(struct iocb_store *s, struct iocb_err *err);
/* Writer: write what changed in one LMDB transaction; *wrote says whether there was anything. */
int iocb_store__persist_commit(struct iocb_store *s, bool *wrote, struct iocb_err *err);
void iocb_store__persist_close(struct iocb_store *s);

/* ------------------------------------------------------------ the store */

struct iocb_store {
	struct iocb_store_opts opts;        /* copy of the options */
	pthread_mutex_t wlock;              /* the writer lock */

	struct store_tab *vtab;             /* (class, value) -> attrs (RCU) */
	struct store_tab *utab;             /* attribute uuid -> attr (RCU) */
	uint64_t utab_rebuilds;             /* utab replaced by a rebuild (release store; iocb_store_walk) */
	struct store_tab *etab_uuid;        /* writer: event uuid -> handle */
	struct store_tab *etab_id;          /* writer: event id -> handle */
	struct store_tab *etab_sid;         /* writer: sid -> handle (persistence) */
	uint64_t next_sid;                  /* writer: next event sid */

	struct store_cidr cidr[2];          /* [0] v4, [1] v6 */
	struct iocb_store_event noev;            /* the handle of attributes without an event (sid 0) */

	const struct iocb_misp_type *types[256]; /* interned types (published entries) */
	uint8_t type_mc[256][2];            /* class per part per interned type */
	unsigned ntypes;                    /* writer */

	struct store_istr **strs[ST_STR_CHUNKS]; /* id -> string, chunked, published */
	uint32_t nstrs;                     /* writer: next string id (0 = "") */
	struct store_tab *stab;             /* writer: string -> id */

	struct store_slab slab;             /* records and vectors */

	struct store_retired *retired;      /* waiting for a grace period */
	size_t nretired, capretired;

	uint32_t dead_pending;              /* removed events not yet swept (readers check event
					       handles only when non-zero, saving a cache miss) */
	struct iocb_store_event **dead;          /* removed events awaiting the sweep */
	size_t ndead, capdead;

	/* persistence dirty lists (writer) */
	uint8_t (*dirty_attrs)[16];         /* attribute uuids changed since commit */
	size_t ndirty_attrs, capdirty_attrs;
	uint64_t *dirty_events;             /* event sids changed since commit */
	size_t ndirty_events, capdirty_events;
	bool dict_dirty;                    /* new strings or types to persist */
	uint32_t dict_saved_strs;           /* strings already persisted */
	unsigned dict_saved_types;          /* types already persisted */
	struct store_meta_kv *meta;         /* metadata key/values */
	struct store_persist *p;            /* LMDB state, NULL for memory-only */

	struct iocb_store_stats st;         /* writer-maintained counters (read under wlock) */
	pthread_mutex_t cmu;                /* also guards st.commit_* (written under both locks), so
					       that iocb_store_commit_failing() never waits for a commit */
	uint64_t str_bytes;                 /* interned strings' memory */
	uint8_t *scratch;                   /* writer: event metadata being built */
	size_t scratch_cap;                 /* its capacity */
	struct {
		iocb_store_change_cb fn;    /* NULL: free slot */
		void *ud;
	} listeners[IOCB_STORE_MAX_LISTENERS]; /* writer lock */
	unsigned nlisteners;                /* writer lock: slots in use (skips the loop when 0) */
	struct {
		iocb_store_quality_fn fn;   /* NULL: free slot */
		void *ud;
	} quality[IOCB_STORE_MAX_QUALITY];  /* writer lock: quality callbacks (quality.c) */
	unsigned nquality;                  /* writer lock: slots in use */
	struct iocb_store_event *evcache;   /* writer: result of the last iocb_store__event_upsert() */
	uint8_t *evkey;                     /* writer: serialised input of that call */
	size_t evkey_len, evkey_cap;
};

/* ------------------------------------------------------------ shared helpers */

/*
 * Writer: tell the listeners of one change (store.h iocb_store_listen()).
 * A record announced gone by the quality sweep is absent for them: its
 * side of the change is NULL (an expired record coming back is an insert,
 * one expiring is a removal, a change between two gone versions is
 * nothing).
 */
static inline void iocb_store__notify(struct iocb_store *s, const struct iocb_store_attr *old,
				      const struct iocb_store_attr *nw)
{
	if (!s->nlisteners)
		return;
	if (old && st_gone(old))
		old = NULL;
	if (nw && st_gone(nw))
		nw = NULL;
	if (!old && !nw)
		return;
	for (unsigned i = 0; i < IOCB_STORE_MAX_LISTENERS; i++)
		if (s->listeners[i].fn)
			s->listeners[i].fn(s->listeners[i].ud, old, nw);
}

static inline struct store_istr *st_str(const struct iocb_store *s, uint32_t id)
{
	struct store_istr **chunk = ST_LOAD(&s->strs[id / ST_STR_CHUNK]);
	return ST_LOAD(&chunk[id % ST_STR_CHUNK]);
}
static inline struct iocb_str st_str_view(const struct iocb_store *s, uint32_t id)
{
	struct store_istr *is;
	if (id == 0)
		return iocb_str_make("", 0);
	is = st_str(s, id);
	return iocb_str_make(is->s, is->len);
}

uint32_t iocb_store__intern(struct iocb_store *s, struct iocb_str str);
/* Restore string `id` from persistence (open only). */
void iocb_store__intern_restore(struct iocb_store *s, uint32_t id, struct iocb_str str);
int iocb_store__type_restore(struct iocb_store *s, unsigned idx, struct iocb_str name);

/*
 * Writer (event.c): find or create the event for `ev` and merge its fields
 * in; repeated calls with the same input return the cached handle. NULL
 * when ev carries neither uuid nor id.
 */
struct iocb_store_event *iocb_store__event_upsert(struct iocb_store *s, const struct iocb_misp_event *ev);
/* Writer (attr.c): unlink and retire every attribute of a removed (dead) event. */
void iocb_store__sweep_dead(struct iocb_store *s);

uint64_t iocb_store__value_hash(enum iocb_match_class mc, const void *key, size_t len, unsigned fam, unsigned plen);
/* Writer: index an attribute record (all parts) / unindex it. */
void iocb_store__index_attr(struct iocb_store *s, struct iocb_store_attr *r);
/* Writer: insert a freshly loaded record (open) into the uuid table and indexes. */
void iocb_store__load_attr(struct iocb_store *s, struct iocb_store_attr *r);
struct iocb_store_event *iocb_store__event_by_sid(struct iocb_store *s, uint64_t sid);
void iocb_store__load_event(struct iocb_store *s, uint64_t sid, struct store_evmeta *m);

/* Reader: all hits for an IP key (fam, plen or ST_NOPLEN, masked address). */
size_t iocb_store__probe_ip(const struct iocb_store *s, bool v6, unsigned plen, const uint8_t *addr,
			    struct iocb_store_hit *out, size_t max, size_t n);
/* Reader: exact-address + containing-prefix lookup, prefixes limited to <= maxplen. */
size_t iocb_store__lookup_ip(const struct iocb_store *s, const uint8_t *addr, bool v6, unsigned maxplen, bool exact,
			     struct iocb_store_hit *out, size_t max, size_t n);

/*
 * quality.c. Writer: the record to publish for r (freshly built, not yet
 * published, no marks) given the record it replaces (old, may be NULL):
 * runs the quality callbacks and returns r itself when the marks are the
 * defaults, else a copy of r with the quality block (r is then freed).
 */
struct iocb_store_attr *iocb_store__qualify(struct iocb_store *s, struct iocb_store_attr *r,
					    const struct iocb_store_attr *old, uint64_t now);
/*
 * Writer: re-run the callbacks for the live record r in utab slot `slot`
 * (an event's tags changed); replace it when its marks changed (listeners
 * see (r, new)). Returns whether it was replaced.
 */
bool iocb_store__requalify_one(struct iocb_store *s, uint64_t slot, struct iocb_store_attr *r);
/* Whether two versions of a record differ in what listeners see: everything but `updated` and the marks. */
bool iocb_store__attr_same(const struct iocb_store_attr *old, const struct iocb_store_attr *nw);
/*
 * attr.c. Writer: publish nw in place of old (utab slot `slot`): reindex,
 * retire, persist, and tell the listeners when `announce`, or when the
 * record becomes gone or comes back (quality marks alone are not a change
 * listeners render: a sighting must not republish an indicator).
 */
void iocb_store__replace(struct iocb_store *s, uint64_t slot, struct iocb_store_attr *old, struct iocb_store_attr *nw,
			 bool announce);

/* index.c */
const struct iocb_store_attr *iocb_store__utab_find(const struct iocb_store *s, const uint8_t u[16], uint64_t *slot);
void iocb_store__utab_insert(struct iocb_store *s, struct iocb_store_attr *r);
/* Writer: replace the record in utab slot i (same uuid) or delete it (r == NULL). */
void iocb_store__utab_set(struct iocb_store *s, uint64_t i, struct iocb_store_attr *r);
/*
 * Writer: move the index entries of `old` (may be NULL) to `nw` (may be
 * NULL). Parts present in both with the same key are swapped in place, so a
 * reader looking the value up during an update sees the old or the new
 * record, never neither.
 */
void iocb_store__reindex(struct iocb_store *s, const struct iocb_store_attr *old, const struct iocb_store_attr *nw);
/* Writer: is any attribute indexed under this IP key? */
bool iocb_store__vt_has_ip(const struct iocb_store *s, bool v6, unsigned plen, const uint8_t *addr);
/* Text uuid (36 chars with dashes or 32 hex) to binary. */
bool iocb_store__uuid_parse(struct iocb_str u, uint8_t out[16]);
void iocb_store__uuid_format(const uint8_t u[16], char out[37]);
/* "addr" or "addr/plen" -> binary; plen -1 without a slash. */
bool iocb_store__parse_ip(struct iocb_str v, uint8_t addr[16], bool *v6, int *plen);

unsigned __int128 iocb_store__ip_to_u128(const uint8_t *a, bool v6);
void iocb_store__u128_to_ip(unsigned __int128 v, bool v6, uint8_t *out);
unsigned __int128 iocb_store__mask(unsigned __int128 v, bool v6, unsigned plen);

#endif
