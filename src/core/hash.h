/* SPDX-License-Identifier: Apache-2.0 */
/* 64-bit hashing for tables (xxHash's XXH3, from Debian's libxxhash). */
#ifndef IOCB_CORE_HASH_H
#define IOCB_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t iocb_hash64(const void *p, size_t n, uint64_t seed);

#endif
