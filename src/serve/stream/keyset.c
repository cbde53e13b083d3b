/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded sets of attribute uuids for the indicator stream (internal.h):
 * the keys to send again and the keys changed during a walk. Open
 * addressing with linear probing over 16-byte keys; the all-zero uuid marks
 * an empty slot and is kept as a flag. Only adds and whole clears, so no
 * deletion markers are needed. The load stays at most one half.
 */
#include "serve/stream/internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/mem.h"

#define KSET_MIN_CAP 1024

static const uint8_t nil_uuid[16];

void iocb_stream__kset_init(struct iocb_stream__kset *k, size_t max)
{
	memset(k, 0, sizeof(*k));
	k->max = max;
}

void iocb_stream__kset_fini(struct iocb_stream__kset *k)
{
	free(k->slot);
	memset(k, 0, sizeof(*k));
}

void iocb_stream__kset_clear(struct iocb_stream__kset *k)
{
	if (k->slot)
		memset(k->slot, 0, k->cap * sizeof(*k->slot));
	k->n = 0;
	k->has_nil = false;
}

static size_t find_slot(uint8_t (*slot)[16], size_t cap, const uint8_t u[16])
{
	size_t i = (size_t)iocb_hash64(u, 16, 0) & (cap - 1);

	while (memcmp(slot[i], nil_uuid, 16) != 0 && memcmp(slot[i], u, 16) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

static void grow(struct iocb_stream__kset *k)
{
	size_t ncap = k->cap ? k->cap * 2 : KSET_MIN_CAP;
	uint8_t (*ns)[16] = iocb_xcalloc(ncap, sizeof(*ns));

	for (size_t i = 0; i < k->cap; i++)
		if (memcmp(k->slot[i], nil_uuid, 16) != 0)
			memcpy(ns[find_slot(ns, ncap, k->slot[i])], k->slot[i], 16);
	free(k->slot);
	k->slot = ns;
	k->cap = ncap;
}

bool iocb_stream__kset_has(const struct iocb_stream__kset *k, const uint8_t u[16])
{
	if (memcmp(u, nil_uuid, 16) == 0)
		return k->has_nil;
	if (!k->cap)
		return false;
	return memcmp(k->slot[find_slot(k->slot, k->cap, u)], u, 16) == 0;
}

int iocb_stream__kset_add(struct iocb_stream__kset *k, const uint8_t u[16])
{
	size_t i;

	if (iocb_stream__kset_has(k, u))
		return 0;
	if (k->n >= k->max)
		return IOCB_ELIMIT;
	k->n++;
	if (memcmp(u, nil_uuid, 16) == 0) {
		k->has_nil = true;
		return 1;
	}
	if ((k->n + 1) * 2 > k->cap)
		grow(k);
	i = find_slot(k->slot, k->cap, u);
	memcpy(k->slot[i], u, 16);
	return 1;
}

size_t iocb_stream__kset_list(const struct iocb_stream__kset *k, uint8_t (*out)[16])
{
	size_t n = 0;

	if (k->has_nil)
		memset(out[n++], 0, 16);
	for (size_t i = 0; i < k->cap; i++)
		if (memcmp(k->slot[i], nil_uuid, 16) != 0)
			memcpy(out[n++], k->slot[i], 16);
	return n;
}
