/* SPDX-License-Identifier: Apache-2.0 */
/* XXH3 from libxxhash (see hash.h). */
#include "core/hash.h"

#include <xxhash.h>

uint64_t iocb_hash64(const void *p, size_t n, uint64_t seed)
{
	return XXH3_64bits_withSeed(p, n, seed);
}
