/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bump allocator for per-message scratch memory.
 *
 * Parsers allocate unescaped strings and small arrays from an arena that the
 * caller resets after each message or batch; nothing is freed individually.
 * The total is capped so a hostile message fails with IOCB_ELIMIT instead of
 * growing without bound.
 */
#ifndef IOCB_CORE_ARENA_H
#define IOCB_CORE_ARENA_H

#include <stddef.h>

#include "core/rc.h"

struct iocb_arena_chunk;

struct iocb_arena {
	struct iocb_arena_chunk *head; /* current chunk; older chunks follow */
	size_t used;                   /* bytes handed out since the last reset */
	size_t max;                    /* cap on `used`; 0 = unlimited */
	size_t chunk_size;             /* default chunk size */
};

void iocb_arena_init(struct iocb_arena *a, size_t max);
void iocb_arena_fini(struct iocb_arena *a);
/* Forget everything allocated; keeps the first chunk for reuse. */
void iocb_arena_reset(struct iocb_arena *a);
/* 8-byte aligned memory or NULL when the cap is reached. */
void *iocb_arena_alloc(struct iocb_arena *a, size_t n);
/* Copy of [p, p+n) plus a NUL, or NULL when the cap is reached. */
char *iocb_arena_strndup(struct iocb_arena *a, const char *p, size_t n);

#endif
