/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to src/quality/warninglist*.c: the builder's staging vectors and
 * the built tables. warninglist.c parses and loads; wl_tables.c builds the
 * shared tables, interns sets of lists and matches.
 */
#ifndef IOCB_QUALITY_WL_INTERNAL_H
#define IOCB_QUALITY_WL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "quality/warninglist.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* One text entry staged by the builder: bytes pool[off..off+len) of list `list`. */
struct iocb_wl__item {
	uint32_t list; /* list index */
	uint32_t off;  /* offset in the builder's pool */
	uint32_t len;  /* length in bytes */
};

/* One cidr entry: network (host bits cleared) and prefix length. */
struct iocb_wl__net {
	uint32_t list;     /* list index */
	uint8_t v6;        /* 1 for IPv6 */
	uint8_t len;       /* prefix length, 0..32 / 0..128 */
	uint8_t addr[16];  /* network address, network order (first 4 bytes for v4) */
};

/* One regex entry. */
struct iocb_wl__re {
	uint32_t list;     /* list index */
	pcre2_code *code;  /* compiled pattern (owned) */
};

/* A growable vector of fixed-size elements. */
struct iocb_wl__vec {
	void *v;     /* elements */
	size_t n;    /* used */
	size_t cap;  /* allocated */
};

/* Open-addressing table of byte keys (in the pool) -> set id. */
struct iocb_wl__slot {
	uint32_t hash;  /* high half of the key's hash; 0 marks an empty slot (forced non-zero) */
	uint32_t off;   /* key offset in the pool */
	uint16_t len;   /* key length (entries are at most IOCB_WL_MAX_ENTRY bytes) */
	uint16_t set;   /* interned set of lists */
};
struct iocb_wl__table {
	struct iocb_wl__slot *slots; /* power-of-two array */
	size_t mask;                 /* slots - 1 */
	size_t n;                    /* keys */
};

/* Interned sets of lists: id -> [n, list0, list1, ...] (ascending). */
#define IOCB_WL__CHUNK 256         /* set pointers per chunk: chunks never move, so readers need no lock */
struct iocb_wl__sets {
	pthread_mutex_t mu;          /* serialises interning (readers never take it) */
	uint16_t **chunk[(IOCB_WL_MAX_SETS + 1) / IOCB_WL__CHUNK + 1]; /* id -> chunk[id / 256][id % 256] */
	_Atomic uint32_t count;      /* ids below are published */
	uint32_t *slots;             /* hash slots: id + 1, 0 = empty; only under mu (grows) */
	size_t mask;                 /* slots - 1 */
	_Atomic uint64_t overflow;   /* sets refused: the id space was full */
};

/* The Aho-Corasick automaton of every substring entry, as a complete DFA. */
struct iocb_wl__ac {
	uint8_t cls[256];    /* byte -> class (0: a byte no entry has) */
	uint32_t nclass;     /* classes, including 0 */
	uint32_t nstate;     /* states; 0 is the root */
	uint32_t *delta;     /* nstate x nclass next states */
	uint16_t *out;       /* per state: set of lists with an entry ending here */
};

struct iocb_wl_builder {
	struct iocb_wl__vec lists;    /* struct iocb_wl_list with heap strings */
	struct iocb_wl__vec pool;     /* char: entry bytes */
	struct iocb_wl__vec items[3]; /* struct iocb_wl__item per STRING, SUBSTRING, HOSTNAME */
	struct iocb_wl__vec nets;     /* struct iocb_wl__net */
	struct iocb_wl__vec res;      /* struct iocb_wl__re */
};

struct iocb_wl {
	struct iocb_wl_list *lists;   /* nlists lists (strings owned) */
	size_t nlists;                /* lists */
	size_t entries;               /* entries over every list */
	char *pool;                   /* key bytes of the tables */
	struct iocb_wl__table str;    /* string entries */
	struct iocb_wl__table host;   /* hostname entries */
	struct iocb_wl__table net;    /* cidr entries: key = v6, len, addr[16] */
	uint64_t lens[2][3];          /* bit per prefix length present (v4: 0..32, v6: 0..128) */
	struct iocb_wl__ac ac;        /* substring entries */
	struct iocb_wl__re *res;      /* regex entries */
	size_t nres;                  /* regex entries */
	struct iocb_wl__sets sets;    /* interned sets */
	uint16_t *single;             /* per list: the set {list} */
};

/* Vector helpers (abort on OOM). */
void *iocb_wl__vec_push(struct iocb_wl__vec *v, size_t esz);
/* Append n bytes (a char vector). */
void iocb_wl__vec_append(struct iocb_wl__vec *v, const void *p, size_t n);
void iocb_wl__vec_free(struct iocb_wl__vec *v);

/* Sets: init / free / intern a sorted list array / union of two ids. 0 when full. */
void iocb_wl__sets_init(struct iocb_wl__sets *s);
void iocb_wl__sets_fini(struct iocb_wl__sets *s);
uint16_t iocb_wl__sets_intern(struct iocb_wl__sets *s, const uint16_t *lists, size_t n);
uint16_t iocb_wl__sets_union(struct iocb_wl__sets *s, uint16_t a, uint16_t b);

/* Build w's tables from the builder's staged entries (wl_tables.c). */
int iocb_wl__build(struct iocb_wl *w, struct iocb_wl_builder *b, struct iocb_err *err) IOCB_MUST_USE;
void iocb_wl__tables_free(struct iocb_wl *w);

#endif
