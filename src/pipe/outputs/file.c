/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stdout and file outputs: append each batch's lines, then settle it.
 * A write error (disk full) is retried with backoff, never skipped: the
 * batch stays unsettled, so its input does not move past it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "pipe/drivers.h"

struct out_file {
	pthread_t thread;
	bool started;
	int fd;
	bool own_fd;
};

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *file_main(void *arg)
{
	struct iocb_pipe__output *o = arg;
	struct out_file *f = o->impl;
	unsigned attempt = 0;

	for (;;) {
		struct iocb_pipe__batch *b = iocb_pipe__queue_pop(o->q, 0.25);
		double t0;

		if (!b) {
			if (iocb_pipe__queue_closed(o->q))
				break;
			continue;
		}
		t0 = iocb_time_mono_s();
		/* A failed write may have written part of the batch: the retry writes it all again (at least once). */
		while (write_all(f->fd, b->data, b->len) < 0 || (o->cfg->fsync && fdatasync(f->fd) < 0)) {
			int e = errno;

			IOCB_M_ADD(o->m.retries[0], 1);
			IOCB_M_SET(o->m.up, 0);
			if (!IOCB_M_GET(o->m.failing_since_us))
				IOCB_M_SET(o->m.failing_since_us, iocb_time_real_us());
			iocb_log(IOCB_LOG_ERROR, "pipe", "\"output write failed, retrying\" output=\"%s\" error=\"%s\"",
				 o->cfg->name, strerror(e));
			if (iocb_pipe__queue_shutdown_left(o->q) <= 0) {
				iocb_pipe__queue_spill(o->q, b);
				b = NULL;
				break;
			}
			double wait = iocb_pipe__backoff(0.1, 5, attempt++), end = iocb_time_mono_s() + wait;
			while (iocb_time_mono_s() < end && iocb_pipe__queue_shutdown_left(o->q) > 0)
				iocb_time_sleep_s(0.02);
		}
		if (!b)
			continue;
		attempt = 0;
		IOCB_M_SET(o->m.up, 1);
		IOCB_M_SET(o->m.failing_since_us, 0);
		IOCB_M_ADD(o->m.events, b->nlines);
		IOCB_M_ADD(o->m.bytes, b->len);
		IOCB_M_ADD(o->m.bytes_sent, b->len);
		IOCB_M_ADD(o->m.batches, 1);
		IOCB_M_ADD(o->m.requests, 1);
		iocb_pipe__output_observe_latency(&o->m, iocb_time_mono_s() - t0);
		iocb_pipe__batch_settle(b);
	}
	/* Closed and empty, or past the deadline with nothing held: done. */
	return NULL;
}

static int file_start(struct iocb_pipe__output *o, struct iocb_err *err)
{
	struct out_file *f = o->impl;
	int rc = pthread_create(&f->thread, NULL, file_main, o);

	if (rc != 0)
		return iocb_err_set(err, IOCB_EIO, "outputs[%s]: thread: %s", o->cfg->name, strerror(rc));
	f->started = true;
	return IOCB_OK;
}

static void file_join(struct iocb_pipe__output *o)
{
	struct out_file *f = o->impl;

	if (!f)
		return;
	if (f->started)
		pthread_join(f->thread, NULL);
	if (f->own_fd)
		close(f->fd);
	free(f);
	o->impl = NULL;
}

static const struct iocb_pipe__output_ops file_ops = {"file", file_start, file_join};
static const struct iocb_pipe__output_ops stdout_ops = {"stdout", file_start, file_join};

int iocb_pipe__output_file_init(struct iocb_pipe__output *o, struct iocb_err *err)
{
	struct out_file *f = iocb_xcalloc(1, sizeof(*f));

	if (o->cfg->type == IOCB_CONFIG_OUT_STDOUT) {
		f->fd = 1;
		o->ops = &stdout_ops;
	} else {
		f->fd = open(o->cfg->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (f->fd < 0) {
			int e = errno;

			free(f);
			return iocb_err_set(err, IOCB_EIO, "%s: outputs[%s]: %s: %s", o->cfg->where ? o->cfg->where : "?",
					    o->cfg->name, o->cfg->path, strerror(e));
		}
		f->own_fd = true;
		o->ops = &file_ops;
	}
	o->impl = f;
	return IOCB_OK;
}
