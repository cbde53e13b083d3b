/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to src/enrich: the compiled field map.
 *
 * Every path the scanner may meet is one entry of an open-addressing table
 * keyed by a hash of the dotted path text.
 */
#ifndef IOCB_ENRICH_INTERNAL_H
#define IOCB_ENRICH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "enrich/enrich.h"

#define IOCB_ENRICH_MAX_PATH 255
#define IOCB_ENRICH_MAX_FIELDS 512

/*
 * Path hash. It must be the same whether "id.orig_h" arrives as one flat key
 * or as {"id":{"orig_h":..}}, so the scanner hashes the dotted path text it
 * has assembled, not the key sequence; paths are short, so hashing the
 * whole path eight bytes at a time is cheaper than a byte-wise running hash.
 */
static inline uint64_t iocb_enrich__hash(const char *p, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (n) {
		w = 0;
		memcpy(&w, p, n);
		h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
		h ^= h >> 29;
	}
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h ? h : 1; /* 0 marks an empty slot */
}

/* Roles of a path (an entry may have several). */
#define IOCB_EF_FIELD 0x1u  /* a mapped field: its values are looked up */
#define IOCB_EF_PREFIX 0x2u /* some mapped path goes through it: descend */
#define IOCB_EF_PAIR 0x4u   /* a port or host paired with a field */
#define IOCB_EF_MARKER 0x8u /* a key that tells which log format a line is (auto) */

struct iocb_enrich__field {
	char *path;                 /* owned */
	enum iocb_enrich_kind kind;
	char *pair;                 /* owned; paired port (IP) or host (URI) path, or NULL */
	int pair_slot;              /* index of the pair's value slot per line, -1 if none */
	unsigned presets;           /* bit per preset */
};

struct iocb_enrich__entry {
	uint64_t hash;              /* iocb_enrich__hash() of the path; 0 = empty slot */
	const char *path;           /* borrowed from a field or from the map's strings */
	uint16_t len;
	uint8_t flags;              /* IOCB_EF_* */
	uint8_t marker;             /* preset bit(s) a marker key stands for */
	int16_t field;              /* field index when FIELD, else -1 */
	int16_t pair_slot;          /* pair slot when PAIR, else -1 */
};

struct iocb_enrich_map {
	struct iocb_enrich__field *fields;
	size_t nfields;
	size_t npairs;              /* distinct pair paths */
	struct iocb_enrich__entry *tab;
	size_t mask;                /* table size - 1 (power of two) */
	char **strings;             /* prefix paths owned by the map */
	size_t nstrings;
	bool auto_detect;           /* preset auto: classify lines by marker keys */
	enum iocb_enrich_preset preset;
};

/* Find the entry for a path with hash h = iocb_enrich__hash(path, len); NULL if none. */
static inline const struct iocb_enrich__entry *iocb_enrich__find(const struct iocb_enrich_map *m, uint64_t h,
								 const char *path, size_t len)
{
	size_t i = (size_t)h & m->mask;

	for (;;) {
		const struct iocb_enrich__entry *e = &m->tab[i];

		if (e->hash == 0)
			return NULL;
		if (e->hash == h && e->len == len && memcmp(e->path, path, len) == 0)
			return e;
		i = (i + 1) & m->mask;
	}
}

#endif
