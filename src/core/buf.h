/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A growable byte buffer with a hard cap.
 *
 * Every buffer fed by input has a maximum size chosen by its creator from the
 * configuration; appends past it fail with IOCB_ELIMIT and leave the buffer
 * unchanged, so one oversized message cannot exhaust memory. The data is kept
 * NUL-terminated for convenience (the NUL is not counted in len).
 */
#ifndef IOCB_CORE_BUF_H
#define IOCB_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/rc.h"
#include "core/str.h"

struct iocb_buf {
	char *ptr;  /* data, NUL-terminated once anything was appended; owned */
	size_t len; /* bytes used */
	size_t cap; /* bytes allocated (excluding the NUL slot) */
	size_t max; /* hard cap on len; 0 means SIZE_MAX */
};

/* Initialise an empty buffer with cap `max` (0 = unlimited). No allocation. */
void iocb_buf_init(struct iocb_buf *b, size_t max);
/* Release memory; the buffer may be re-initialised. */
void iocb_buf_fini(struct iocb_buf *b);
/* Forget the contents, keep the memory. */
static inline void iocb_buf_reset(struct iocb_buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = '\0';
}

/*
 * Forget the contents; give the memory back too when more than `keep`
 * bytes are allocated, so one oversized message does not pin its buffer
 * for the life of a long-lived owner.
 */
void iocb_buf_trim(struct iocb_buf *b, size_t keep);

/* Make room for `n` more bytes. IOCB_ELIMIT past max. */
int iocb_buf_reserve(struct iocb_buf *b, size_t n) IOCB_MUST_USE;
/* The growing path of iocb_buf_append() (internal). */
int iocb_buf__append_grow(struct iocb_buf *b, const void *p, size_t n) IOCB_MUST_USE;

/*
 * Append n bytes. Inline when they fit the allocation (cap <= max always):
 * the JSON writer and the renderers call this for every token.
 */
IOCB_MUST_USE static inline int iocb_buf_append(struct iocb_buf *b, const void *p, size_t n)
{
	if (IOCB_LIKELY(b->ptr && n <= b->cap - b->len)) {
		if (n) /* p may be NULL then */
			memcpy(b->ptr + b->len, p, n);
		b->len += n;
		b->ptr[b->len] = '\0';
		return IOCB_OK;
	}
	return iocb_buf__append_grow(b, p, n);
}

IOCB_MUST_USE static inline int iocb_buf_putc(struct iocb_buf *b, char c)
{
	if (IOCB_LIKELY(b->ptr && b->len < b->cap)) {
		b->ptr[b->len++] = c;
		b->ptr[b->len] = '\0';
		return IOCB_OK;
	}
	return iocb_buf__append_grow(b, &c, 1);
}

int iocb_buf_append_str(struct iocb_buf *b, struct iocb_str s) IOCB_MUST_USE;
int iocb_buf_append_c(struct iocb_buf *b, const char *cstr) IOCB_MUST_USE;
int iocb_buf_printf(struct iocb_buf *b, const char *fmt, ...) IOCB_PRINTF(2, 3) IOCB_MUST_USE;
/* Append standard base64 (RFC 4648 alphabet, with padding) of src[0, len). IOCB_ELIMIT. */
int iocb_buf_append_base64(struct iocb_buf *b, const void *src, size_t len) IOCB_MUST_USE;

static inline struct iocb_str iocb_buf_str(const struct iocb_buf *b)
{
	return iocb_str_make(b->ptr, b->len);
}

#endif
