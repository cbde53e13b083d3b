/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Line assembly and line blocks for the byte-stream inputs; see lines.h.
 *
 * The begun line's buffer grows by doubling up to max_line + 1 and is freed
 * again once a line it held was handed on while it is larger than
 * PLINES_KEEP: a TCP input has one assembler per connection, and a burst of
 * long lines on each should not pin max_line bytes per idle connection.
 */
#include "pipe/lines.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define PLINES_MIN_CAP 256
#define PLINES_KEEP ((size_t)64 << 10)
#define PLINES_MAX_LINE ((size_t)1 << 40) /* beyond this max_line is not a buffer size */

void iocb_pipe__lines_init(struct iocb_pipe__lines *l, size_t max_line)
{
	memset(l, 0, sizeof(*l));
	if (max_line == 0)
		max_line = 1;
	if (max_line > PLINES_MAX_LINE)
		max_line = PLINES_MAX_LINE;
	l->max_line = max_line;
	l->line_no = 1;
}

void iocb_pipe__lines_fini(struct iocb_pipe__lines *l)
{
	free(l->part);
	l->part = NULL;
	l->part_len = 0;
	l->part_cap = 0;
}

void iocb_pipe__lines_reset(struct iocb_pipe__lines *l, uint64_t offset)
{
	l->part_len = 0;
	l->dropping = false;
	l->dropped = 0;
	l->offset = offset;
	l->line_start = offset;
}

/* Make room for `need` bytes in part; need <= max_line + 1 by the callers' checks. */
static void part_reserve(struct iocb_pipe__lines *l, size_t need)
{
	size_t cap;

	assert(need <= l->max_line + 1);
	if (need <= l->part_cap)
		return;
	cap = l->part_cap ? l->part_cap : PLINES_MIN_CAP;
	while (cap < need)
		cap *= 2;
	if (cap > l->max_line + 1)
		cap = l->max_line + 1;
	l->part = iocb_xrealloc(l->part, cap);
	l->part_cap = cap;
}

static void part_done(struct iocb_pipe__lines *l)
{
	l->part_len = 0;
	if (l->part_cap > PLINES_KEEP)
		iocb_pipe__lines_fini(l);
}

/* The begun line ended at l->offset: start the next one. */
static void next_line(struct iocb_pipe__lines *l)
{
	l->line_no++;
	l->line_start = l->offset;
}

int iocb_pipe__lines_feed(struct iocb_pipe__lines *l, const char *data, size_t n, const struct iocb_pipe__lines_cb *cb)
{
	const char *p = data;
	const char *end = data + n;
	int rc = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t k;

		if (nl == NULL) {
			/* The rest begins or continues a line: keep it, or count it once too long. */
			k = (size_t)(end - p);
			l->offset += k;
			if (l->dropping) {
				l->dropped += k;
			} else if (l->part_len + k > l->max_line) {
				l->dropping = true;
				l->dropped = l->part_len + k;
				part_done(l);
			} else {
				part_reserve(l, l->part_len + k);
				memcpy(l->part + l->part_len, p, k);
				l->part_len += k;
			}
			return 0;
		}
		k = (size_t)(nl - p) + 1; /* with the '\n' */
		l->offset += k;
		if (l->dropping) {
			if (cb->too_long)
				cb->too_long(cb->ctx, l->line_start, l->line_no, l->dropped + k, l->offset);
			l->dropping = false;
			l->dropped = 0;
		} else if (l->part_len > 0) {
			if (l->part_len + k - 1 > l->max_line) {
				if (cb->too_long)
					cb->too_long(cb->ctx, l->line_start, l->line_no, l->part_len + k, l->offset);
			} else {
				part_reserve(l, l->part_len + k);
				memcpy(l->part + l->part_len, p, k);
				rc = cb->line(cb->ctx, l->part, l->part_len + k, l->offset);
			}
			part_done(l);
		} else if (k - 1 > l->max_line) {
			if (cb->too_long)
				cb->too_long(cb->ctx, l->line_start, l->line_no, k, l->offset);
		} else {
			rc = cb->line(cb->ctx, p, k, l->offset);
		}
		next_line(l);
		if (rc < 0)
			return rc;
		p = nl + 1;
	}
	return 0;
}

int iocb_pipe__lines_finish(struct iocb_pipe__lines *l, const struct iocb_pipe__lines_cb *cb)
{
	int rc = 0;

	if (l->dropping) {
		if (cb->too_long)
			cb->too_long(cb->ctx, l->line_start, l->line_no, l->dropped, l->offset);
		l->dropping = false;
		l->dropped = 0;
		next_line(l);
	} else if (l->part_len > 0) {
		/* part_len <= max_line, so the '\n' fits within max_line + 1. */
		part_reserve(l, l->part_len + 1);
		l->part[l->part_len] = '\n';
		rc = cb->line(cb->ctx, l->part, l->part_len + 1, l->offset);
		part_done(l);
		next_line(l);
	}
	return rc;
}

/* ------------------------------------------------------------------ blocks */

void iocb_pipe__block_init(struct iocb_pipe__block *b, size_t batch_bytes, size_t max_line)
{
	memset(b, 0, sizeof(*b));
	if (batch_bytes == 0)
		batch_bytes = 1;
	if (max_line == 0)
		max_line = 1;
	if (max_line > PLINES_MAX_LINE)
		max_line = PLINES_MAX_LINE;
	b->batch_bytes = batch_bytes;
	b->cap = batch_bytes > max_line ? batch_bytes : max_line + 1;
	b->buf = iocb_xmalloc(b->cap);
}

void iocb_pipe__block_fini(struct iocb_pipe__block *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = 0;
	b->cap = 0;
	b->nlines = 0;
}

void iocb_pipe__block_add(struct iocb_pipe__block *b, const char *p, size_t len, double now)
{
	assert(b->len + len <= b->cap);
	if (b->len == 0)
		b->first_mono = now;
	memcpy(b->buf + b->len, p, len);
	b->len += len;
	b->nlines++;
}

bool iocb_pipe__block_due(const struct iocb_pipe__block *b, double interval_s, double now)
{
	if (b->len == 0)
		return false;
	return b->len >= b->batch_bytes || now - b->first_mono >= interval_s;
}
