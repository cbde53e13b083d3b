/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stdin log input of `iocbus run`: newline-delimited events read from fd 0
 * until EOF (`zcat eve.json.gz | iocbus run -c ...`).
 *
 * One thread polls fd 0 with a 100 ms timeout (so a stop is seen even when
 * nothing arrives), reads into a bounded buffer, cuts whole lines with the
 * shared assembler (lines.h) and hands them on in blocks of at most
 * pipeline.batch_bytes, or after pipeline.batch_interval_s. At EOF a final
 * line without '\n' counts as a line; the input then waits for every batch
 * to be acknowledged and marks itself ended, so `iocbus run` exits once the
 * outputs are idle. There is nothing to resume: no checkpoint.
 */
#include "pipe/drivers.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "pipe/lines.h"

#define MOD "pipe"
#define STDIN_POLL_MS 100          /* longest wait in poll(): how soon a stop is seen */
#define STDIN_READ ((size_t)64 << 10) /* bytes per read() */

struct stdin_in {
	struct iocb_pipe__input *in;         /* borrowed: the input this implements */
	pthread_t thread;            /* the input thread */
	bool thread_started;         /* pthread_create succeeded (join must wait) */
	int fd;                      /* 0 (a field so tests could point it elsewhere) */
	double batch_interval_s;     /* a partial block waits at most this */
	struct iocb_pipe__lines lines;    /* input thread: the stream's line assembler */
	struct iocb_pipe__block block;    /* input thread: whole lines not submitted yet */
	char *rbuf;                  /* owned: STDIN_READ bytes */
	uint64_t nbatches;           /* submitted so far (debug log at the end) */
};

/* Hand the block on. IOCB_ECANCELED when the pipe stops. */
static int stdin_submit(struct stdin_in *s)
{
	struct iocb_pipe__input_pos pos = {0, 0, NULL};
	int rc;

	if (s->block.len == 0)
		return IOCB_OK;
	rc = iocb_pipe__submit(s->in, s->block.buf, s->block.len, &pos);
	iocb_pipe__block_clear(&s->block);
	if (rc == IOCB_OK)
		s->nbatches++;
	return rc;
}

static int stdin_on_line(void *ctx, const char *p, size_t len, uint64_t end)
{
	struct stdin_in *s = ctx;
	int rc;

	(void)end;
	if (iocb_pipe__block_full_for(&s->block, len)) {
		rc = stdin_submit(s);
		if (rc < 0)
			return rc;
	}
	iocb_pipe__block_add(&s->block, p, len, iocb_time_mono_s());
	if (s->block.len >= s->block.batch_bytes)
		return stdin_submit(s);
	return IOCB_OK;
}

static void stdin_on_long(void *ctx, uint64_t start, uint64_t line_no, uint64_t bytes, uint64_t end)
{
	struct stdin_in *s = ctx;
	char where[64];

	(void)start;
	(void)end;
	snprintf(where, sizeof(where), "stdin:%" PRIu64, line_no);
	iocb_pipe__input_reject(s->in, IOCB_REJ_TOO_LONG, where, bytes);
}

static void *stdin_thread(void *arg)
{
	struct stdin_in *s = arg;
	struct iocb_pipe__input *in = s->in;
	const struct iocb_pipe__lines_cb cb = {.line = stdin_on_line, .too_long = stdin_on_long, .ctx = s};
	bool eof = false;
	int rc = IOCB_OK;

	iocb_pipe__input_thread_enter(in);
	while (!iocb_pipe__input_stopping(in)) {
		struct pollfd pfd = {.fd = s->fd, .events = POLLIN, .revents = 0};
		int n;

		iocb_pipe__input_poll_acks(in);
		n = poll(&pfd, 1, STDIN_POLL_MS);
		if (n < 0 && errno != EINTR) {
			iocb_log(IOCB_LOG_ERROR, MOD, "\"stdin poll failed\" input=\"%s\" error=\"%s\"", in->cfg->name,
				 strerror(errno));
			IOCB_M_ADD(in->m.errors, 1);
			eof = true;
			break;
		}
		if (n > 0) {
			ssize_t got = read(s->fd, s->rbuf, STDIN_READ);

			if (got == 0) {
				eof = true;
				break;
			}
			if (got < 0) {
				if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
					continue;
				iocb_log(IOCB_LOG_ERROR, MOD, "\"stdin read failed\" input=\"%s\" error=\"%s\"",
					 in->cfg->name, strerror(errno));
				IOCB_M_ADD(in->m.errors, 1);
				eof = true;
				break;
			}
			rc = iocb_pipe__lines_feed(&s->lines, s->rbuf, (size_t)got, &cb);
			if (rc < 0)
				break;
		}
		if (iocb_pipe__block_due(&s->block, s->batch_interval_s, iocb_time_mono_s())) {
			rc = stdin_submit(s);
			if (rc < 0)
				break;
		}
	}
	if (eof) {
		rc = iocb_pipe__lines_finish(&s->lines, &cb);
		if (rc == IOCB_OK)
			rc = stdin_submit(s);
	}
	if (!iocb_pipe__input_drain(in))
		iocb_log(IOCB_LOG_WARN, MOD, "\"stdin input stopped with batches not acknowledged\" input=\"%s\"",
			 in->cfg->name);
	iocb_log(IOCB_LOG_INFO, MOD, "\"stdin input done\" input=\"%s\" eof=%s batches=%" PRIu64, in->cfg->name,
		 eof ? "true" : "false", s->nbatches);
	if (eof && rc == IOCB_OK)
		iocb_pipe__input_mark_ended(in);
	iocb_pipe__input_thread_leave(in);
	return NULL;
}

static int stdin_start(struct iocb_pipe__input *in, struct iocb_err *err)
{
	struct stdin_in *s = in->impl;
	int rc = pthread_create(&s->thread, NULL, stdin_thread, s);

	if (rc != 0)
		return iocb_err_set(err, IOCB_EIO, "stdin input \"%s\": cannot start thread: %s", in->cfg->name,
				    strerror(rc));
	s->thread_started = true;
	return IOCB_OK;
}

static void stdin_join(struct iocb_pipe__input *in)
{
	struct stdin_in *s = in->impl;

	if (s == NULL)
		return;
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	iocb_pipe__lines_fini(&s->lines);
	iocb_pipe__block_fini(&s->block);
	free(s->rbuf);
	free(s);
	in->impl = NULL;
}

static void stdin_acked(struct iocb_pipe__input *in, const struct iocb_pipe__input_pos *pos)
{
	(void)in;
	(void)pos; /* nothing to commit: stdin cannot be replayed */
}

static const struct iocb_pipe__input_ops stdin_ops = {
	.kind = "stdin",
	.start = stdin_start,
	.join = stdin_join,
	.acked = stdin_acked,
};

int iocb_pipe__input_stdin_init(struct iocb_pipe__input *in, struct iocb_err *err)
{
	const struct iocb_config *cfg = iocb_pipe__config(in->pipe);
	struct stdin_in *s = iocb_xcalloc(1, sizeof(*s));

	(void)err;
	s->in = in;
	s->fd = STDIN_FILENO;
	s->batch_interval_s = cfg->pipeline.batch_interval_s;
	iocb_pipe__lines_init(&s->lines, (size_t)in->max_line);
	iocb_pipe__block_init(&s->block, (size_t)cfg->pipeline.batch_bytes, (size_t)in->max_line);
	s->rbuf = iocb_xmalloc(STDIN_READ);
	in->impl = s;
	in->ops = &stdin_ops;
	return IOCB_OK;
}
