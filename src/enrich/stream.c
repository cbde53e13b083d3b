/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enrichment streams: input files cut into blocks of whole lines, enriched
 * by workers, written in input order. See iocb_enrich_stream() in enrich.h.
 *
 * Blocks. The calling thread read(2)s each input into the input buffer of a
 * slot and hands the slot over once it holds whole lines: when the buffer
 * is full, when the input pauses (a short read with nothing more ready, so a
 * slow pipe is not held back for a megabyte), or at the end. The partial
 * line after the last '\n' moves to the front of the next slot. A buffer
 * holds at least max_line + 1 bytes, so a line the engine may enrich always
 * fits whole; a line that outgrows the buffer without a '\n' is longer than
 * max_line and is handed over in pieces as "raw" slots, copied unchanged to
 * the reject output (or the output), so no line is ever held whole past the
 * buffer size. Files are concatenated: a line left open at the end of one
 * file is closed by a '\n' when the next input opens. Line numbers run on
 * across inputs (the messages of a reject name the global line number).
 *
 * Threads. With one thread nothing is started: the caller reads, enriches
 * and writes each slot in turn. With N threads there is a ring of 2N+2
 * slots and N workers, each with its own struct iocb_enrich and output
 * buffers. A slot goes FREE -> FILLING (reader) -> READY -> BUSY (a worker)
 * -> FREE. Slots carry a sequence number; workers claim them in sequence
 * order, and a worker writes its slot's output only when the slot's turn
 * has come (all earlier slots written), so the output keeps the input order
 * without an output queue. Deadlock freedom: the reader never waits while
 * holding a slot it has not handed over, and the oldest unwritten slot is
 * always claimed before any later one, so its worker never waits for a turn.
 *
 * Memory. Slots are reused, never queued beyond the ring: the reader
 * blocks when the next slot is still busy (backpressure). A worker feeds
 * the engine sub-blocks of about 256 KiB and writes what it has as soon as
 * its output passes four times the slot size (waiting for its turn if need
 * be), so an input whose events gain many enrichments does not grow the
 * output buffer with the block. Four times: enrichment rarely more than
 * doubles a log, and below the mark workers never wait mid-block, so
 * ordinary input keeps all workers busy. Bound: slots * max(block_size,
 * max_line + 1) of input plus per worker four times that of output, plus
 * one sub-block's output.
 *
 * Locks: one mutex (stream.mu) guards slot states, the counters and the
 * stop flag; nothing else is held with it and no I/O happens under it.
 */
#include "enrich/enrich.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/log.h"

#define STREAM_BLOCK_DEFAULT ((size_t)1 << 20)
#define STREAM_SUB ((size_t)256 << 10)       /* input per iocb_enrich_block() call */
#define STREAM_OUT_SLACK ((size_t)1 << 30)   /* one sub-block's output past the flush point, at most */
#define STREAM_MAX_THREADS 256u
#define STREAM_MAX_LINE ((size_t)1 << 40)    /* beyond this max_line is not a buffer size */

enum slot_kind {
	SLOT_LINES = 0, /* whole lines to enrich */
	SLOT_RAW,       /* a piece of a too-long line, copied unchanged */
};

enum slot_state { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY, SLOT_BUSY };

struct slot {
	char *in;              /* stream.cap bytes; owned */
	size_t len;            /* bytes handed over */
	enum slot_kind kind;   /* what the bytes are */
	enum slot_state state; /* under stream.mu */
	uint64_t seq;          /* position in the output */
	uint64_t line_no;      /* LINES: number of the first line; RAW: of the long line */
	bool ends_long;        /* RAW: this piece ends the long line: count it as a reject */
	uint64_t long_bytes;   /* RAW with ends_long: the long line's size, terminator included */
};

struct stream;

struct worker {
	struct stream *s;       /* borrowed */
	struct iocb_enrich *e;  /* owned; used by this worker's thread only */
	struct iocb_buf out;    /* enriched lines waiting for the slot's turn */
	struct iocb_buf rej;    /* rejected lines (when there is a reject output) */
	pthread_t tid;          /* threaded mode */
	bool started;           /* tid is a running thread to join */
};

struct stream {
	const struct iocb_enrich_opts *o;          /* borrowed */
	const struct iocb_enrich_stream_opts *so;  /* borrowed */
	size_t cap;             /* bytes of a slot's input buffer (> max_line) */
	size_t soft;            /* a worker writes out once a buffer holds this much */
	struct slot *slots;     /* ring; owned */
	size_t nslots;
	struct worker *w;       /* owned */
	unsigned nw;
	bool threaded;          /* workers run on their own threads */

	/* The reader (calling thread) only. */
	struct slot *cur;       /* slot being filled */
	size_t len;             /* bytes in cur->in */
	size_t scanned;         /* bytes of cur->in searched for '\n' (each byte once: a line
				 * trickling in through a pipe costs linear time) */
	size_t last_nl;         /* offset after the last '\n' in the scanned bytes, 0 if none */
	uint64_t line_no;       /* number of the first line in cur */
	bool long_mode;         /* cur continues a line longer than max_line */
	uint64_t long_line;     /* its number */
	uint64_t long_bytes;    /* its bytes handed over so far */
	size_t nbad;            /* inputs that could not be opened or read */
	struct iocb_err bad;    /* the first of them */

	/* Shared: under mu. */
	pthread_mutex_t mu;
	pthread_cond_t more;    /* workers: slot submitted, turn moved, eof or stop */
	pthread_cond_t freed;   /* reader: a slot became free, or stop */
	uint64_t nacquired;     /* slots taken by the reader (next sequence number) */
	uint64_t nsubmitted;    /* slots handed over */
	uint64_t nclaimed;      /* slots taken by workers */
	uint64_t turn;          /* sequence number allowed to write */
	bool eof;               /* the reader is done */
	bool stop;              /* an output or engine failure: everyone stops */
	struct iocb_err err;    /* why we stopped */
};

/* ------------------------------------------------------------ helpers */

static uint64_t count_nl(const char *p, size_t n)
{
	uint64_t c = 0;
	size_t i = 0;

	/*
	 * 16 bytes a step (gcc -O2 leaves the plain byte loop scalar): per-lane
	 * byte counters, summed with psadbw before they can wrap; no popcount,
	 * which baseline x86-64 lacks.
	 */
#ifdef __SSE2__
	const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
	while (i + 16 <= n) {
		__m128i acc = zero;
		for (unsigned k = 0; k < 255 && i + 16 <= n; k++, i += 16)
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), nl));
		__m128i sum = _mm_sad_epu8(acc, zero);
		c += (uint64_t)_mm_cvtsi128_si64(sum) + (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(sum, sum));
	}
#endif
	for (; i < n; i++)
		c += p[i] == '\n';
	return c;
}

/* Write everything (EINTR, short writes; a non-blocking descriptor is waited on). 0 or an errno. */
static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};

			if (poll(&pf, 1, -1) < 0 && errno != EINTR)
				return errno;
			continue;
		}
		if (k < 0)
			return errno;
		if (k == 0)
			return EIO;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Stop everything with rc and a message (the first failure wins). Any thread; takes mu. */
static int fail(struct stream *s, int rc, const char *fmt, ...) IOCB_PRINTF(3, 4);

static int fail(struct stream *s, int rc, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&s->mu);
	if (!s->stop) {
		s->stop = true;
		va_start(ap, fmt);
		iocb_err_vset(&s->err, rc, fmt, ap);
		va_end(ap);
	}
	pthread_cond_broadcast(&s->more);
	pthread_cond_broadcast(&s->freed);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static bool stopped(struct stream *s)
{
	bool v;

	pthread_mutex_lock(&s->mu);
	v = s->stop;
	pthread_mutex_unlock(&s->mu);
	return v;
}

/* ------------------------------------------------------------ workers */

/* Where raw pieces of a too-long line go; -1 = dropped (hits only, no reject output). */
static int raw_fd(const struct stream *s)
{
	if (s->so->rej_fd >= 0)
		return s->so->rej_fd;
	return s->o->hits_only ? -1 : s->so->out_fd;
}

/* Block until slot `seq` may write. False when the stream stops. Takes mu. */
static bool wait_turn(struct stream *s, uint64_t seq)
{
	bool ok;

	pthread_mutex_lock(&s->mu);
	while (s->turn != seq && !s->stop)
		pthread_cond_wait(&s->more, &s->mu);
	ok = !s->stop;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

/* Write what the worker holds. Only the holder of the turn calls it. */
static int flush(struct stream *s, struct worker *w)
{
	int e;

	if (w->out.len) {
		e = write_all(s->so->out_fd, w->out.ptr, w->out.len);
		if (e)
			return fail(s, IOCB_EIO, "output: write failed: %s", strerror(e));
		iocb_buf_reset(&w->out);
	}
	if (w->rej.len) {
		e = write_all(s->so->rej_fd, w->rej.ptr, w->rej.len);
		if (e)
			return fail(s, IOCB_EIO, "reject output: write failed: %s", strerror(e));
		iocb_buf_reset(&w->rej);
	}
	return IOCB_OK;
}

/* End of the next sub-block starting at off: after a '\n', about STREAM_SUB bytes on. */
static size_t sub_end(const char *in, size_t off, size_t len)
{
	const char *nl;

	if (len - off <= STREAM_SUB)
		return len;
	nl = memrchr(in + off, '\n', STREAM_SUB);
	if (!nl)
		nl = memchr(in + off + STREAM_SUB, '\n', len - off - STREAM_SUB);
	return nl ? (size_t)(nl - in) + 1 : len;
}

/* Enrich a LINES slot; writes early (taking the turn, *turn = true) when the output grows large. */
static int run_lines(struct stream *s, struct worker *w, const struct slot *sl, bool *turn)
{
	struct iocb_buf *rej = s->so->rej_fd >= 0 ? &w->rej : NULL;
	uint64_t line = sl->line_no;
	size_t off = 0;
	int rc;

	while (off < sl->len) {
		size_t end = sub_end(sl->in, off, sl->len);

		uint64_t lines0 = iocb_enrich_stats(w->e)->lines;
		rc = iocb_enrich_block(w->e, sl->in + off, end - off, line, &w->out, rej);
		if (rc < 0)
			return fail(s, rc, "line %llu and after: enriched output does not fit in %zu bytes (%s)",
				    (unsigned long long)line, w->out.max, iocb_rc_str(rc));
		if (end < sl->len)
			line += iocb_enrich_stats(w->e)->lines - lines0; /* the engine counted them */
		off = end;
		if (w->out.len < s->soft && w->rej.len < s->soft)
			continue;
		if (!*turn && !wait_turn(s, sl->seq))
			return IOCB_EIO;
		*turn = true;
		rc = flush(s, w);
		if (rc < 0)
			return rc;
	}
	return IOCB_OK;
}

/* Process one slot from READY/BUSY to FREE: enrich, wait for the turn, write, pass the turn on. */
static int process(struct stream *s, struct worker *w, struct slot *sl)
{
	bool turn = false;
	int rc = IOCB_OK;

	if (sl->kind == SLOT_LINES)
		rc = run_lines(s, w, sl, &turn);
	else if (sl->ends_long)
		iocb_enrich_count_reject(w->e, IOCB_REJ_TOO_LONG, sl->line_no, sl->long_bytes);
	if (rc < 0)
		return rc;
	if (!turn && !wait_turn(s, sl->seq))
		return IOCB_EIO;
	rc = flush(s, w);
	if (rc < 0)
		return rc;
	if (sl->kind == SLOT_RAW && sl->len && raw_fd(s) >= 0) {
		int e = write_all(raw_fd(s), sl->in, sl->len);

		if (e)
			return fail(s, IOCB_EIO, "%s: write failed: %s", s->so->rej_fd >= 0 ? "reject output" : "output",
				    strerror(e));
	}
	pthread_mutex_lock(&s->mu);
	sl->state = SLOT_FREE;
	s->turn++;
	pthread_cond_broadcast(&s->more);
	pthread_cond_signal(&s->freed);
	pthread_mutex_unlock(&s->mu);
	return IOCB_OK;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct stream *s = w->s;

	iocb_store_reader_register();
	for (;;) {
		struct slot *sl;

		pthread_mutex_lock(&s->mu);
		while (!s->stop && !s->eof && s->nclaimed == s->nsubmitted)
			pthread_cond_wait(&s->more, &s->mu);
		if (s->stop || s->nclaimed == s->nsubmitted) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		sl = &s->slots[s->nclaimed % s->nslots];
		s->nclaimed++;
		sl->state = SLOT_BUSY;
		pthread_mutex_unlock(&s->mu);
		if (process(s, w, sl) < 0)
			break;
	}
	iocb_store_reader_unregister();
	return NULL;
}

/* ------------------------------------------------------------ reader */

/* The next slot in sequence, once free; NULL when the stream stops. */
static struct slot *acquire(struct stream *s)
{
	struct slot *sl;

	pthread_mutex_lock(&s->mu);
	sl = &s->slots[s->nacquired % s->nslots];
	while (sl->state != SLOT_FREE && !s->stop)
		pthread_cond_wait(&s->freed, &s->mu);
	if (s->stop) {
		pthread_mutex_unlock(&s->mu);
		return NULL;
	}
	sl->state = SLOT_FILLING;
	sl->seq = s->nacquired++;
	pthread_mutex_unlock(&s->mu);
	return sl;
}

/*
 * Hand [0, upto) of the current slot over and continue in the next slot
 * with the rest. The rest is copied out of the old slot after it was
 * handed over: workers only read a slot, and only the reader refills one.
 */
static int hand_over(struct stream *s, size_t upto)
{
	struct slot *c = s->cur, *next;
	size_t rest = s->len - upto;
	int rc;

	c->len = upto;
	if (s->threaded) {
		pthread_mutex_lock(&s->mu);
		c->state = SLOT_READY;
		s->nsubmitted++;
		pthread_cond_broadcast(&s->more);
		pthread_mutex_unlock(&s->mu);
	} else {
		c->state = SLOT_BUSY;
		rc = process(s, &s->w[0], c);
		if (rc < 0)
			return rc;
	}
	next = acquire(s);
	if (!next)
		return IOCB_EIO;
	memmove(next->in, c->in + upto, rest);
	s->cur = next;
	s->len = rest;
	s->scanned = 0;
	s->last_nl = 0;
	return IOCB_OK;
}

/*
 * `n` new bytes were appended to the current slot. Hand over whole lines
 * when the slot is full or `now` (the input paused or ended), and pieces of
 * a too-long line as soon as they arrive.
 */
static int feed(struct stream *s, size_t n, bool now)
{
	int rc;

	s->len += n;
	for (;;) {
		struct slot *c = s->cur;
		const char *nl;

		if (s->long_mode) {
			size_t upto;

			if (!s->len)
				return IOCB_OK;
			nl = memchr(c->in, '\n', s->len);
			upto = nl ? (size_t)(nl - c->in) + 1 : s->len;
			s->long_bytes += upto;
			c->kind = SLOT_RAW;
			c->line_no = s->long_line;
			c->ends_long = nl != NULL;
			c->long_bytes = s->long_bytes;
			if (nl) {
				s->long_mode = false;
				s->line_no = s->long_line + 1;
			}
			rc = hand_over(s, upto);
			if (rc < 0)
				return rc;
			continue;
		}
		if (s->scanned < s->len) {
			nl = memrchr(c->in + s->scanned, '\n', s->len - s->scanned);
			if (nl)
				s->last_nl = (size_t)(nl - c->in) + 1;
			s->scanned = s->len;
		}
		if (s->len < s->cap && !now)
			return IOCB_OK;
		if (s->last_nl) {
			size_t split = s->last_nl;

			c->kind = SLOT_LINES;
			c->line_no = s->line_no;
			s->line_no += count_nl(c->in, split);
			rc = hand_over(s, split);
			if (rc < 0)
				return rc;
			s->scanned = s->len; /* what follows the last '\n' has none */
		}
		/* What is left is part of one line. */
		if (s->len <= s->o->max_line)
			return IOCB_OK;
		s->long_mode = true;
		s->long_line = s->line_no;
		s->long_bytes = 0;
	}
}

static void bad_input(struct stream *s, const char *path, const char *what, int e)
{
	s->nbad++;
	iocb_log(IOCB_LOG_WARN, "enrich", "\"input skipped\" path=\"%s\" error=\"%s: %s\"", path, what, strerror(e));
	if (s->nbad == 1)
		iocb_err_set(&s->bad, IOCB_EIO, "%s: %s: %s", path, what, strerror(e));
}

/* True if more input can be read at once (so a short read is not a pause). */
static bool input_ready(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) > 0;
}

static int read_input(struct stream *s, const char *path)
{
	bool is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int rc = IOCB_OK;

	if (fd < 0) {
		bad_input(s, path, "cannot open", errno);
		return IOCB_OK;
	}
	/* A line the previous input left open ends here: concatenated files keep their lines apart. */
	if (s->long_mode || (s->len && s->cur->in[s->len - 1] != '\n')) {
		s->cur->in[s->len] = '\n';
		rc = feed(s, 1, false);
	}
	while (rc == IOCB_OK) {
		size_t room = s->cap - s->len;
		ssize_t n = read(fd, s->cur->in + s->len, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* A non-blocking descriptor we inherited (stdin): wait for it. */
			struct pollfd pf = {.fd = fd, .events = POLLIN};

			if (poll(&pf, 1, -1) >= 0 || errno == EINTR)
				continue;
		}
		if (n < 0) {
			bad_input(s, path, "read failed", errno);
			break;
		}
		if (n == 0)
			break;
		rc = feed(s, (size_t)n, (size_t)n < room && !input_ready(fd));
	}
	if (!is_stdin)
		close(fd);
	return rc;
}

/* After the last input: hand over what is left, and count a long line the input ended in. */
static int finish(struct stream *s)
{
	int rc = feed(s, 0, true);

	if (rc < 0)
		return rc;
	if (s->long_mode) {
		struct slot *c = s->cur;

		c->kind = SLOT_RAW;
		c->line_no = s->long_line;
		c->ends_long = true;
		c->long_bytes = s->long_bytes;
		s->long_mode = false;
		return hand_over(s, 0);
	}
	if (!s->len)
		return IOCB_OK;
	s->cur->kind = SLOT_LINES;
	s->cur->line_no = s->line_no;
	return hand_over(s, s->len);
}

/* ------------------------------------------------------------ set-up */

static void stream_fini(struct stream *s, const struct iocb_enrich_map *m, struct iocb_enrich_stats *total)
{
	for (unsigned i = 0; i < s->nw; i++) {
		struct worker *w = &s->w[i];

		if (w->started)
			pthread_join(w->tid, NULL);
		if (w->e && total)
			iocb_enrich_stats_add(total, iocb_enrich_stats(w->e), m);
		iocb_enrich_free(w->e);
		iocb_buf_fini(&w->out);
		iocb_buf_fini(&w->rej);
	}
	for (size_t i = 0; i < s->nslots; i++)
		free(s->slots[i].in);
	free(s->w);
	free(s->slots);
	pthread_cond_destroy(&s->freed);
	pthread_cond_destroy(&s->more);
	pthread_mutex_destroy(&s->mu);
}

static int stream_init(struct stream *s, const struct iocb_enrich_opts *o, const struct iocb_enrich_stream_opts *so,
		       struct iocb_err *err)
{
	unsigned threads = so->threads ? so->threads : 1;
	size_t block = so->block_size ? so->block_size : STREAM_BLOCK_DEFAULT;

	/* First, so that stream_fini() can always destroy them. */
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->more, NULL);
	pthread_cond_init(&s->freed, NULL);
	if (threads > STREAM_MAX_THREADS)
		threads = STREAM_MAX_THREADS;
	if (o->max_line >= STREAM_MAX_LINE)
		return iocb_err_set(err, IOCB_EINVAL, "enrich: max_line %zu is too large to size a block", o->max_line);
	s->o = o;
	s->so = so;
	s->cap = block > o->max_line ? block : o->max_line + 1;
	s->soft = 4 * s->cap;
	s->threaded = threads > 1;
	s->nw = threads;
	s->nslots = s->threaded ? 2 * (size_t)threads + 2 : 1;
	s->line_no = 1;
	s->w = calloc(s->nw, sizeof(*s->w));
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	if (!s->w || !s->slots) {
		s->nw = 0;
		s->nslots = 0;
		return iocb_err_set(err, IOCB_ENOMEM, "enrich: out of memory for %u workers", threads);
	}
	for (size_t i = 0; i < s->nslots; i++) {
		s->slots[i].in = malloc(s->cap);
		if (!s->slots[i].in)
			return iocb_err_set(err, IOCB_ENOMEM, "enrich: out of memory for %zu blocks of %zu bytes",
					    s->nslots, s->cap);
	}
	for (unsigned i = 0; i < s->nw; i++) {
		struct worker *w = &s->w[i];

		w->s = s;
		iocb_buf_init(&w->out, s->soft + STREAM_OUT_SLACK);
		iocb_buf_init(&w->rej, s->soft + s->cap);
		w->e = iocb_enrich_new(o);
		if (!w->e)
			return iocb_err_set(err, IOCB_ENOMEM, "enrich: out of memory for worker %u", i);
	}
	return IOCB_OK;
}

int iocb_enrich_stream(const struct iocb_enrich_opts *opts, const struct iocb_enrich_stream_opts *so,
		       struct iocb_enrich_stats *total, struct iocb_err *err)
{
	struct stream s;
	int rc;

	memset(&s, 0, sizeof(s));
	rc = stream_init(&s, opts, so, err);
	if (rc < 0)
		goto out;
	if (s.threaded) {
		for (unsigned i = 0; i < s.nw; i++) {
			int e = pthread_create(&s.w[i].tid, NULL, worker_main, &s.w[i]);

			if (e) {
				rc = fail(&s, IOCB_ENOMEM, "enrich: cannot start worker thread %u: %s", i, strerror(e));
				break;
			}
			s.w[i].started = true;
		}
	} else {
		/* The caller's thread runs the engine itself. */
		iocb_store_reader_register();
	}
	s.cur = rc < 0 ? NULL : acquire(&s);
	for (size_t i = 0; s.cur && i < so->ninputs && !stopped(&s); i++)
		if (read_input(&s, so->inputs[i]) < 0)
			break;
	if (s.cur && !stopped(&s))
		rc = finish(&s);
	pthread_mutex_lock(&s.mu);
	s.eof = true;
	pthread_cond_broadcast(&s.more);
	pthread_mutex_unlock(&s.mu);
	for (unsigned i = 0; i < s.nw; i++)
		if (s.w[i].started) {
			pthread_join(s.w[i].tid, NULL);
			s.w[i].started = false;
		}
	if (!s.threaded)
		iocb_store_reader_unregister();
	/* Whatever failed stopped the stream and left its message in s.err. */
	if (s.stop) {
		rc = s.err.rc;
		if (err)
			*err = s.err;
	} else if (rc == IOCB_OK && s.nbad) {
		rc = iocb_err_set(err, IOCB_EIO, "%s (%zu input%s skipped)", s.bad.msg, s.nbad, s.nbad == 1 ? "" : "s");
	}
out:
	stream_fini(&s, opts->map, total);
	return rc;
}
