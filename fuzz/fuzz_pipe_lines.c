/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the line assembler of the byte-stream inputs (src/pipe/lines.h).
 *
 * The first two bytes choose max_line (1..256) and a seed for the read
 * sizes; the rest is the stream. It is fed in pseudo-random pieces (1 to
 * 300 bytes), then finished as at stdin EOF. Each line handed on also goes
 * through a line block as the inputs use it. Invariants (abort() on
 * violation), checked against a plain split of the stream on '\n':
 *  - the events (line or too-long, in order) are exactly those of the
 *    split: lines of at most max_line bytes (without '\n') handed on byte
 *    for byte with their end offsets, longer ones reported with their
 *    start, number and length; a final piece without '\n' gets one added;
 *  - the assembler never holds more than max_line + 1 bytes;
 *  - a block never holds more than its capacity, and an empty block takes
 *    any line handed on.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipe/lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz {
	const char *s;      /* the stream */
	size_t n;           /* its length */
	size_t max_line;
	size_t at;          /* reference: start of the next expected line */
	uint64_t line_no;   /* reference: its number */
	struct iocb_pipe__lines *l;
	struct iocb_pipe__block *b;
};

/* The reference's next line: [at, end) without '\n'; *nl tells whether a '\n' follows. */
static size_t ref_next(const struct fz *z, bool *nl)
{
	const char *p = memchr(z->s + z->at, '\n', z->n - z->at);

	*nl = p != NULL;
	return p ? (size_t)(p - z->s) : z->n;
}

static int on_line(void *ctx, const char *p, size_t len, uint64_t end)
{
	struct fz *z = ctx;
	bool nl;
	size_t e;

	if (z->at >= z->n)
		abort(); /* a line the reference does not have */
	e = ref_next(z, &nl);
	if (e - z->at > z->max_line || len != e - z->at + 1 || memcmp(p, z->s + z->at, e - z->at) != 0 ||
	    p[len - 1] != '\n')
		abort();
	if (end != (nl ? e + 1 : e))
		abort();
	if (z->l->part_cap > z->max_line + 1)
		abort();
	if (iocb_pipe__block_full_for(z->b, len))
		iocb_pipe__block_clear(z->b);
	if (z->b->len + len > z->b->cap)
		abort();
	iocb_pipe__block_add(z->b, p, len, 0.0);
	z->at = nl ? e + 1 : e;
	z->line_no++;
	return 0;
}

static void on_long(void *ctx, uint64_t start, uint64_t line_no, uint64_t bytes, uint64_t end)
{
	struct fz *z = ctx;
	bool nl;
	size_t e;

	if (z->at >= z->n)
		abort();
	e = ref_next(z, &nl);
	if (e - z->at <= z->max_line || start != z->at || line_no != z->line_no)
		abort();
	if (bytes != e - z->at + (nl ? 1 : 0) || end != (nl ? e + 1 : e))
		abort();
	z->at = nl ? e + 1 : e;
	z->line_no++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_pipe__lines l;
	struct iocb_pipe__block b;
	struct fz z;
	struct iocb_pipe__lines_cb cb = {.line = on_line, .too_long = on_long, .ctx = &z};
	uint32_t rnd;
	size_t off;

	if (size < 2)
		return 0;
	memset(&z, 0, sizeof(z));
	z.max_line = (size_t)data[0] + 1;
	rnd = (uint32_t)data[1] * 2654435761u + 1;
	z.s = (const char *)data + 2;
	z.n = size - 2;
	z.line_no = 1;
	z.l = &l;
	z.b = &b;
	iocb_pipe__lines_init(&l, z.max_line);
	iocb_pipe__block_init(&b, (size_t)(data[1] % 64) + 1, z.max_line);
	for (off = 0; off < z.n;) {
		size_t k;

		rnd = rnd * 1103515245u + 12345u;
		k = (size_t)(rnd >> 16) % 300 + 1;
		if (k > z.n - off)
			k = z.n - off;
		if (iocb_pipe__lines_feed(&l, z.s + off, k, &cb) != 0)
			abort();
		if (l.part_cap > z.max_line + 1 || l.offset != off + k)
			abort();
		off += k;
	}
	if (iocb_pipe__lines_finish(&l, &cb) != 0 || iocb_pipe__lines_pending(&l))
		abort();
	if (z.at != z.n)
		abort(); /* the reference has lines the assembler did not report */
	iocb_pipe__lines_fini(&l);
	iocb_pipe__block_fini(&b);
	return 0;
}
