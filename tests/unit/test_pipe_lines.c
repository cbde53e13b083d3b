/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the line assembler and line blocks of the byte-stream
 * inputs (src/pipe/lines.h): lines split across reads, too-long lines
 * dropped in pieces with bounded memory, CRLF kept, the final line, offsets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipe/lines.h"

#define MAX_EV 64

/* What the callbacks saw. */
struct rec {
	char out[4096];          /* every line handed on, concatenated */
	size_t out_len;
	uint64_t ends[MAX_EV];   /* end offset of each line */
	size_t nlines;
	uint64_t long_start[MAX_EV], long_no[MAX_EV], long_bytes[MAX_EV], long_end[MAX_EV];
	size_t nlong;
	size_t max_part_cap;     /* largest part buffer seen at a callback */
	int stop_after;          /* return -1 from the line callback after this many lines (0 = never) */
	struct iocb_pipe__lines *l;
};

static int on_line(void *ctx, const char *p, size_t len, uint64_t end)
{
	struct rec *r = ctx;

	assert_true(len > 0);
	assert_int_equal(p[len - 1], '\n');
	assert_null(memchr(p, '\n', len - 1));
	assert_true(r->out_len + len <= sizeof(r->out));
	memcpy(r->out + r->out_len, p, len);
	r->out_len += len;
	assert_true(r->nlines < MAX_EV);
	r->ends[r->nlines++] = end;
	if (r->l->part_cap > r->max_part_cap)
		r->max_part_cap = r->l->part_cap;
	if (r->stop_after > 0 && (int)r->nlines >= r->stop_after)
		return -1;
	return 0;
}

static void on_long(void *ctx, uint64_t start, uint64_t line_no, uint64_t bytes, uint64_t end)
{
	struct rec *r = ctx;

	assert_true(r->nlong < MAX_EV);
	r->long_start[r->nlong] = start;
	r->long_no[r->nlong] = line_no;
	r->long_bytes[r->nlong] = bytes;
	r->long_end[r->nlong] = end;
	r->nlong++;
}

static struct iocb_pipe__lines_cb make_cb(struct rec *r, struct iocb_pipe__lines *l)
{
	struct iocb_pipe__lines_cb cb = {.line = on_line, .too_long = on_long, .ctx = r};

	memset(r, 0, sizeof(*r));
	r->l = l;
	return cb;
}

/* Feed `s` in pieces of `step` bytes (0 = all at once). */
static void feed_steps(struct iocb_pipe__lines *l, const struct iocb_pipe__lines_cb *cb, const char *s, size_t step)
{
	size_t n = strlen(s);
	size_t off = 0;

	if (step == 0)
		step = n ? n : 1;
	while (off < n) {
		size_t k = n - off < step ? n - off : step;
		assert_int_equal(iocb_pipe__lines_feed(l, s + off, k, cb), 0);
		if (l->part_cap > ((struct rec *)cb->ctx)->max_part_cap)
			((struct rec *)cb->ctx)->max_part_cap = l->part_cap;
		off += k;
	}
}

static void test_whole_lines(void **state)
{
	struct iocb_pipe__lines l;
	struct rec r;
	struct iocb_pipe__lines_cb cb = make_cb(&r, &l);

	(void)state;
	iocb_pipe__lines_init(&l, 100);
	feed_steps(&l, &cb, "{\"a\":1}\n\n{\"b\":2}\n", 0);
	assert_int_equal(r.nlines, 3);
	assert_int_equal(r.out_len, 17);
	assert_memory_equal(r.out, "{\"a\":1}\n\n{\"b\":2}\n", 17);
	assert_int_equal(r.ends[0], 8);
	assert_int_equal(r.ends[1], 9);
	assert_int_equal(r.ends[2], 17);
	assert_false(iocb_pipe__lines_pending(&l));
	assert_int_equal(l.line_no, 4);
	iocb_pipe__lines_fini(&l);
}

/* Every way of cutting the input into reads gives the same lines and offsets. */
static void test_split_across_reads(void **state)
{
	static const char in[] = "alpha\nbe\nta gamma\n\nx\nlast-without-newline";
	struct rec whole;
	struct iocb_pipe__lines l;

	(void)state;
	for (size_t step = 0; step <= sizeof(in); step++) {
		struct rec r;
		struct iocb_pipe__lines_cb cb = make_cb(&r, &l);

		iocb_pipe__lines_init(&l, 64);
		feed_steps(&l, &cb, in, step);
		assert_int_equal(r.nlines, 5);
		assert_true(iocb_pipe__lines_pending(&l));
		assert_int_equal(l.part_len, strlen("last-without-newline"));
		if (step == 0)
			whole = r;
		assert_int_equal(r.out_len, whole.out_len);
		assert_memory_equal(r.out, whole.out, r.out_len);
		assert_memory_equal(r.ends, whole.ends, sizeof(r.ends[0]) * r.nlines);
		assert_int_equal(r.ends[4], strlen("alpha\nbe\nta gamma\n\nx\n"));
		assert_int_equal(iocb_pipe__lines_finish(&l, &cb), 0);
		assert_int_equal(r.nlines, 6);
		assert_int_equal(r.out_len, sizeof(in)); /* the '\n' added in place of the NUL */
		assert_memory_equal(r.out + r.out_len - 21, "last-without-newline\n", 21);
		assert_int_equal(r.ends[5], sizeof(in) - 1);
		assert_false(iocb_pipe__lines_pending(&l));
		assert_int_equal(r.nlong, 0);
		iocb_pipe__lines_fini(&l);
	}
}

/* A line longer than max_line is counted once, with its start, and never kept whole. */
static void test_long_line_dropped_in_pieces(void **state)
{
	char in[512];
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "short\n");
	memset(in + n, 'x', 300);
	n += 300;
	n += (size_t)snprintf(in + n, sizeof(in) - n, "\nok\n0123456789\n0123456789A\n");
	for (size_t step = 1; step <= 64; step += 3) {
		struct iocb_pipe__lines l;
		struct rec r;
		struct iocb_pipe__lines_cb cb = make_cb(&r, &l);
		char buf[sizeof(in)];

		memcpy(buf, in, n);
		buf[n] = '\0';
		iocb_pipe__lines_init(&l, 10);
		feed_steps(&l, &cb, buf, step);
		assert_int_equal(r.nlines, 3);
		assert_memory_equal(r.out, "short\nok\n0123456789\n", r.out_len);
		assert_int_equal(r.nlong, 2);
		assert_int_equal(r.long_start[0], 6);
		assert_int_equal(r.long_no[0], 2);
		assert_int_equal(r.long_bytes[0], 301);
		assert_int_equal(r.long_end[0], 307);
		assert_int_equal(r.long_no[1], 5);
		assert_int_equal(r.long_bytes[1], 12);
		assert_int_equal(r.long_end[1], n);
		/* Bounded memory: never more than max_line + 1 bytes held. */
		assert_true(r.max_part_cap <= 11);
		assert_true(l.part_cap <= 11);
		iocb_pipe__lines_fini(&l);
	}
}

static void test_exact_max_line(void **state)
{
	struct iocb_pipe__lines l;
	struct rec r;
	struct iocb_pipe__lines_cb cb = make_cb(&r, &l);

	(void)state;
	iocb_pipe__lines_init(&l, 4);
	feed_steps(&l, &cb, "abcd\nabcde\nab", 2);
	feed_steps(&l, &cb, "cd\nabc", 1);
	feed_steps(&l, &cb, "de\n", 0);
	assert_int_equal(r.nlines, 2);
	assert_memory_equal(r.out, "abcd\nabcd\n", 10);
	assert_int_equal(r.nlong, 2);
	assert_int_equal(r.long_bytes[0], 6);
	assert_int_equal(r.long_start[1], 16);
	assert_int_equal(r.long_bytes[1], 6);
	/* A final line of exactly max_line gets its '\n' within the bound. */
	feed_steps(&l, &cb, "wxyz", 1);
	assert_int_equal(iocb_pipe__lines_finish(&l, &cb), 0);
	assert_int_equal(r.nlines, 3);
	assert_memory_equal(r.out + 10, "wxyz\n", 5);
	assert_true(l.part_cap <= 5);
	iocb_pipe__lines_fini(&l);
}

static void test_crlf_kept(void **state)
{
	struct iocb_pipe__lines l;
	struct rec r;
	struct iocb_pipe__lines_cb cb = make_cb(&r, &l);

	(void)state;
	iocb_pipe__lines_init(&l, 2);
	feed_steps(&l, &cb, "a\r\nb\r", 0);
	feed_steps(&l, &cb, "\nc\r\r\n\r\n", 0);
	assert_int_equal(r.nlines, 3);
	assert_memory_equal(r.out, "a\r\nb\r\n\r\n", 8);
	/* "c\r\r" is 3 bytes before its '\n': the '\r's count. */
	assert_int_equal(r.nlong, 1);
	assert_int_equal(r.long_bytes[0], 4);
	iocb_pipe__lines_fini(&l);
}

static void test_finish(void **state)
{
	struct iocb_pipe__lines l;
	struct rec r;
	struct iocb_pipe__lines_cb cb = make_cb(&r, &l);

	(void)state;
	iocb_pipe__lines_init(&l, 8);
	assert_int_equal(iocb_pipe__lines_finish(&l, &cb), 0); /* nothing pending */
	assert_int_equal(r.nlines + r.nlong, 0);
	feed_steps(&l, &cb, "0123456789abc", 5); /* too long, no '\n' */
	assert_true(iocb_pipe__lines_pending(&l));
	assert_int_equal(iocb_pipe__lines_finish(&l, &cb), 0);
	assert_int_equal(r.nlong, 1);
	assert_int_equal(r.long_bytes[0], 13);
	assert_int_equal(r.long_start[0], 0);
	assert_false(iocb_pipe__lines_pending(&l));
	feed_steps(&l, &cb, "\r", 0); /* a final "\r" is a line of its own */
	assert_int_equal(iocb_pipe__lines_finish(&l, &cb), 0);
	assert_int_equal(r.nlines, 1);
	assert_memory_equal(r.out, "\r\n", 2);
	assert_int_equal(r.ends[0], 14);
	assert_int_equal(l.line_no, 3);
	iocb_pipe__lines_fini(&l);
}

static void test_reset_and_stop(void **state)
{
	struct iocb_pipe__lines l;
	struct rec r;
	struct iocb_pipe__lines_cb cb = make_cb(&r, &l);

	(void)state;
	iocb_pipe__lines_init(&l, 100);
	feed_steps(&l, &cb, "partial", 0);
	iocb_pipe__lines_reset(&l, 1000); /* a file opened at offset 1000: the begun line is forgotten */
	assert_false(iocb_pipe__lines_pending(&l));
	r.stop_after = 2;
	assert_int_equal(iocb_pipe__lines_feed(&l, "a\nb\nc\n", 6, &cb), -1);
	assert_int_equal(r.nlines, 2);
	assert_int_equal(r.ends[0], 1002);
	assert_int_equal(r.ends[1], 1004);
	iocb_pipe__lines_fini(&l);
}

static int count_line(void *ctx, const char *p, size_t len, uint64_t end)
{
	(void)p;
	(void)end;
	*(size_t *)ctx += len;
	return 0;
}

/* Big lines handed on through the part buffer release it afterwards. */
static void test_big_line_through_part(void **state)
{
	size_t n = 200000;
	char *big = malloc(n + 1);
	struct iocb_pipe__lines l;
	size_t got = 0;
	struct iocb_pipe__lines_cb cb = {.line = count_line, .too_long = NULL, .ctx = &got};

	(void)state;
	assert_non_null(big);
	memset(big, 'y', n);
	big[n] = '\n';
	iocb_pipe__lines_init(&l, 1 << 20);
	assert_int_equal(iocb_pipe__lines_feed(&l, big, 1000, &cb), 0);
	assert_int_equal(iocb_pipe__lines_feed(&l, big + 1000, n + 1 - 1000, &cb), 0);
	assert_int_equal(got, n + 1);
	assert_null(l.part); /* larger than the keep size: freed */
	assert_int_equal(l.part_cap, 0);
	iocb_pipe__lines_fini(&l);
	free(big);
}

static void test_block(void **state)
{
	struct iocb_pipe__block b;

	(void)state;
	iocb_pipe__block_init(&b, 10, 20);
	assert_int_equal(b.cap, 21);
	assert_false(iocb_pipe__block_full_for(&b, 21)); /* a line up to max_line + 1 fits an empty block */
	iocb_pipe__block_add(&b, "abcd\n", 5, 100.0);
	assert_false(iocb_pipe__block_due(&b, 0.2, 100.1));
	assert_true(iocb_pipe__block_due(&b, 0.2, 100.25));
	assert_false(iocb_pipe__block_full_for(&b, 5));
	assert_true(iocb_pipe__block_full_for(&b, 6));
	iocb_pipe__block_add(&b, "efgh\n", 5, 100.3);
	assert_int_equal(b.nlines, 2);
	assert_true(iocb_pipe__block_due(&b, 10.0, 100.3)); /* batch_bytes reached */
	assert_memory_equal(b.buf, "abcd\nefgh\n", 10);
	iocb_pipe__block_clear(&b);
	assert_false(iocb_pipe__block_due(&b, 0.0, 200.0));
	iocb_pipe__block_add(&b, "a\n", 2, 300.0);
	assert_true(iocb_pipe__block_due(&b, 0.2, 300.25));
	iocb_pipe__block_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_lines),
		cmocka_unit_test(test_split_across_reads),
		cmocka_unit_test(test_long_line_dropped_in_pieces),
		cmocka_unit_test(test_exact_max_line),
		cmocka_unit_test(test_crlf_kept),
		cmocka_unit_test(test_finish),
		cmocka_unit_test(test_reset_and_stop),
		cmocka_unit_test(test_big_line_through_part),
		cmocka_unit_test(test_block),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
