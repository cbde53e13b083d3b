/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's dictionaries: interned strings (category, tag and org names
 * become small ids, stored once), the restore of the attribute type table
 * (its writer, type_index(), sits in attr.c beside the upsert that calls
 * it), and uuid text to binary and back. Writer-only, except that readers resolve published
 * ids through st_str() (internal.h).
 */
#include "store/internal.h"

#include <stdlib.h>

#include "core/mem.h"

/* ------------------------------------------------------------ uuids */


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
	iocb_misp_uuid_format(u, out);
}

/* ------------------------------------------------------------ interning */

static uint64_t str_hash(const void *p, size_t n)
{
	return iocb_hash64(p, n, 0x737472);
}

static bool str_match(const void *key, uint64_t v)
{
	const struct iocb_str *k = key;
	const struct store_istr *is = st_slot_ptr(v);
	return is->len == k->len && memcmp(is->s, k->ptr, k->len) == 0;
}

static uint64_t str_rehash(const void *ctx, uint64_t v)
{
	const struct store_istr *is = st_slot_ptr(v);
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
	i = st_wfind(s->stab, h, str_match, &str);
	if (i != UINT64_MAX)
		return ((struct store_istr *)st_slot_ptr(s->stab->slots[i]))->id;
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

