/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Line assembly for the byte-stream inputs (file tail, stdin, TCP).
 *
 * A stream arrives in reads of any size; the pipeline wants whole lines,
 * each ending in '\n', in blocks of at most pipeline.batch_bytes. Two small
 * pieces do that, both free of threads and of the pipe so they can be unit
 * tested and fuzzed alone:
 *
 * - struct iocb_pipe__lines cuts one stream into lines. A line that lies inside
 *   one read is handed on straight from the read buffer; only the begun line
 *   at the end of a read is copied (into `part`, grown on demand and never
 *   past max_line + 1 bytes). A line longer than max_line is not kept: its
 *   bytes are counted as they pass and it is reported once, when it ends, so
 *   memory stays bounded whatever the input. Bytes are kept as they are
 *   ('\r' of CRLF stays part of the line). A final line without '\n' is
 *   handed on only by iocb_pipe__lines_finish() (stdin EOF, TCP close), with a
 *   '\n' added; a file tail never calls it, since the line may still grow.
 * - struct iocb_pipe__block collects whole lines (from one stream, or from many
 *   TCP connections) into one block of bounded size for iocb_pipe__submit().
 *
 * Offsets: the assembler counts the bytes fed, so an input that feeds a
 * file from offset N (iocb_pipe__lines_reset(l, N)) gets file offsets back: the
 * offset just past each line (its checkpoint) and the offset where a
 * too-long line began (its location in the warning).
 *
 * Thread: an object belongs to the thread that feeds it.
 */
#ifndef IOCB_PIPE_LINES_H
#define IOCB_PIPE_LINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rc.h"

/*
 * What the assembler reports. `line` gets one whole line [p, p + len) with
 * p[len - 1] == '\n' (borrowed: valid during the call only) and `end` the
 * stream offset just past it. A negative return stops the feed, which
 * returns that code (the input is stopping); the assembler is then only
 * good for iocb_pipe__lines_fini(). `too_long` gets a line longer than max_line
 * when it ends: `start` is its offset, `line_no` its 1-based number,
 * `bytes` its length including the '\n' if there was one, `end` the offset
 * just past it.
 */
struct iocb_pipe__lines_cb {
	int (*line)(void *ctx, const char *p, size_t len, uint64_t end);
	void (*too_long)(void *ctx, uint64_t start, uint64_t line_no, uint64_t bytes, uint64_t end);
	void *ctx;
};

struct iocb_pipe__lines {
	char *part;          /* owned: the begun line (no '\n' yet), or NULL */
	size_t part_len;     /* its bytes */
	size_t part_cap;     /* bytes allocated, at most max_line + 1 */
	size_t max_line;     /* longest line kept, without its '\n' */
	bool dropping;       /* the begun line passed max_line: counted, not kept */
	uint64_t dropped;    /* bytes of that line so far */
	uint64_t line_start; /* stream offset of the begun line */
	uint64_t offset;     /* stream offset of the next byte fed */
	uint64_t line_no;    /* number of the begun line, from 1 */
};

/* Initialise for lines of at most max_line bytes (without '\n'; 0 is taken as 1). No allocation. */
void iocb_pipe__lines_init(struct iocb_pipe__lines *l, size_t max_line);

/* Release the begun line's memory. */
void iocb_pipe__lines_fini(struct iocb_pipe__lines *l);

/* Forget the begun line and start again at stream offset `offset` (a truncated or new file). */
void iocb_pipe__lines_reset(struct iocb_pipe__lines *l, uint64_t offset);

/*
 * Feed the next `n` bytes of the stream: calls cb->line for every line they
 * complete, cb->too_long for every too-long line they end. Returns 0, or
 * the first negative value cb->line returned.
 */
int iocb_pipe__lines_feed(struct iocb_pipe__lines *l, const char *data, size_t n, const struct iocb_pipe__lines_cb *cb);

/*
 * End of stream: a begun line is handed on with a '\n' added (or reported
 * too long). Returns what cb->line returned, or 0. The assembler is empty
 * afterwards (and at the same offset).
 */
int iocb_pipe__lines_finish(struct iocb_pipe__lines *l, const struct iocb_pipe__lines_cb *cb);

/* True when a begun line (kept or being dropped) is pending. */
static inline bool iocb_pipe__lines_pending(const struct iocb_pipe__lines *l)
{
	return l->part_len > 0 || l->dropping;
}

/* ------------------------------------------------------------------ blocks */

/*
 * A block of whole lines on its way to iocb_pipe__submit(). Its buffer holds
 * max(batch_bytes, max_line + 1) bytes, so any line the assembler hands on
 * fits into an empty block; a block is due once it holds batch_bytes, or
 * the next line would take it past that, or its first line waited for
 * batch_interval.
 */
struct iocb_pipe__block {
	char *buf;           /* owned: cap bytes */
	size_t len;          /* bytes of whole lines held */
	size_t cap;          /* bytes allocated */
	size_t batch_bytes;  /* flush size */
	uint32_t nlines;     /* lines held */
	double first_mono;   /* monotonic time the first line went in (valid when len > 0) */
};

/* Allocate the buffer (aborts on failure: the size is bounded by configuration). */
void iocb_pipe__block_init(struct iocb_pipe__block *b, size_t batch_bytes, size_t max_line);
void iocb_pipe__block_fini(struct iocb_pipe__block *b);

/* True when a line of `len` bytes does not fit without passing batch_bytes (and the block is not empty). */
static inline bool iocb_pipe__block_full_for(const struct iocb_pipe__block *b, size_t len)
{
	return b->len > 0 && (b->len + len > b->batch_bytes || b->len + len > b->cap);
}

/* Append one whole line; the caller checked iocb_pipe__block_full_for() first. `now` is the monotonic time. */
void iocb_pipe__block_add(struct iocb_pipe__block *b, const char *p, size_t len, double now);

/* True when the block is due: batch_bytes reached, or it waited `interval_s` since its first line. */
bool iocb_pipe__block_due(const struct iocb_pipe__block *b, double interval_s, double now);

/* Empty the block (after it was submitted). */
static inline void iocb_pipe__block_clear(struct iocb_pipe__block *b)
{
	b->len = 0;
	b->nlines = 0;
}

#endif
