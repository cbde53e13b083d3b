/* SPDX-License-Identifier: Apache-2.0 */
/* Capped growable buffer (see buf.h). */
#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/mem.h"

void iocb_buf_init(struct iocb_buf *b, size_t max)
{
	b->ptr = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : SIZE_MAX - 1;
}

void iocb_buf_fini(struct iocb_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

void iocb_buf_trim(struct iocb_buf *b, size_t keep)
{
	if (b->cap > keep) {
		free(b->ptr);
		b->ptr = NULL;
		b->cap = 0;
	}
	iocb_buf_reset(b);
}

int iocb_buf_reserve(struct iocb_buf *b, size_t n)
{
	size_t need, ncap;

	if (n > b->max - b->len)
		return IOCB_ELIMIT;
	need = b->len + n;
	if (need <= b->cap && b->ptr)
		return IOCB_OK;
	ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 4 ? need : ncap * 2;
	if (ncap > b->max)
		ncap = b->max;
	b->ptr = iocb_xrealloc(b->ptr, ncap + 1);
	b->cap = ncap;
	return IOCB_OK;
}

int iocb_buf__append_grow(struct iocb_buf *b, const void *p, size_t n)
{
	int rc = iocb_buf_reserve(b, n);

	if (rc < 0)
		return rc;
	if (n)
		memcpy(b->ptr + b->len, p, n);
	b->len += n;
	b->ptr[b->len] = '\0';
	return IOCB_OK;
}

int iocb_buf_append_str(struct iocb_buf *b, struct iocb_str s)
{
	return iocb_buf_append(b, s.ptr, s.len);
}

int iocb_buf_append_c(struct iocb_buf *b, const char *cstr)
{
	return iocb_buf_append(b, cstr, strlen(cstr));
}

int iocb_buf_printf(struct iocb_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	int rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return IOCB_EINVAL;
	rc = iocb_buf_reserve(b, (size_t)n);
	if (rc < 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return IOCB_OK;
}

int iocb_buf_append_base64(struct iocb_buf *out, const void *src, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = src;
	size_t i;
	int rc = iocb_buf_reserve(out, (len + 2) / 3 * 4);

	if (rc < 0)
		return rc;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], tab[v & 63]};
		memcpy(out->ptr + out->len, q, 4);
		out->len += 4;
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)s[i] << 16;
		char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], '=', '='};
		memcpy(out->ptr + out->len, q, 4);
		out->len += 4;
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], '='};
		memcpy(out->ptr + out->len, q, 4);
		out->len += 4;
	}
	out->ptr[out->len] = '\0';
	return IOCB_OK;
}
