/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dead letters: events an output refused for good, one JSON object per line,
 * with the event as a JSON string (it may not even be valid JSON: that can
 * be why it was refused).
 *
 * A file has a size cap (pipeline.dead_letter_max_bytes), so an output that
 * refuses everything cannot fill the disk: a letter that would take the file
 * past it rotates the file (path -> path.1 -> path.2 ..., at most
 * pipeline.dead_letter_max_files kept; the letters of the oldest, deleted,
 * are counted as dropped), or, with no rotated files allowed, is dropped and
 * counted. The disk used is at most max_bytes * (max_files + 1). stderr has
 * no cap.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "json/json.h"
#include "pipe/internal.h"

#define DLQ_MAX_LINE (64u << 20)

struct iocb_pipe__dlq {
	int fd;              /* 2 (stderr) when no file */
	bool own;            /* fd is our file (not stderr) */
	char *path;          /* the file, NULL for stderr */
	uint64_t max_bytes;  /* size cap of one file; 0 = none */
	unsigned max_files;  /* rotated files kept (path.1 .. path.N) */
	uint64_t size;       /* bytes in the current file; under mu */
	uint64_t *dropped;   /* counter of letters dropped past the cap (the output's metrics) */
	pthread_mutex_t mu;  /* serialises writers: buf, fd, size */
	struct iocb_buf buf; /* the letter being written */
	struct iocb_ratelimit rl;      /* write failures */
	struct iocb_ratelimit rl_drop; /* drops past the cap */
};

int iocb_pipe__dlq_open(const char *path, uint64_t max_bytes, unsigned max_files, uint64_t *dropped,
		   struct iocb_pipe__dlq **out, struct iocb_err *err)
{
	struct iocb_pipe__dlq *d = iocb_xcalloc(1, sizeof(*d));

	*out = NULL;
	d->fd = 2;
	d->dropped = dropped;
	if (path) {
		struct stat st;

		d->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (d->fd < 0) {
			int e = errno;

			free(d);
			return iocb_err_set(err, IOCB_EIO, "dead-letter file %s: %s", path, strerror(e));
		}
		d->own = true;
		d->path = iocb_xstrdup(path);
		d->max_bytes = max_bytes;
		d->max_files = max_files;
		if (fstat(d->fd, &st) == 0)
			d->size = (uint64_t)st.st_size;
	}
	pthread_mutex_init(&d->mu, NULL);
	iocb_buf_init(&d->buf, DLQ_MAX_LINE);
	d->rl.interval_s = 5;
	d->rl_drop.interval_s = 5;
	*out = d;
	return IOCB_OK;
}

void iocb_pipe__dlq_close(struct iocb_pipe__dlq *d)
{
	if (!d)
		return;
	if (d->own)
		close(d->fd);
	iocb_buf_fini(&d->buf);
	pthread_mutex_destroy(&d->mu);
	free(d->path);
	free(d);
}

/* Letters (lines) in a file about to be deleted, so that they are counted as dropped. */
static uint64_t count_lines(const char *path)
{
	char buf[65536];
	uint64_t n = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	while ((r = read(fd, buf, sizeof(buf))) > 0 || (r < 0 && errno == EINTR))
		for (ssize_t i = 0; i < r; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

/* "path.i" (path alone for i == 0) into out. */
static void numbered(char *out, size_t cap, const char *path, unsigned i)
{
	if (i)
		snprintf(out, cap, "%s.%u", path, i);
	else
		snprintf(out, cap, "%s", path);
}

/*
 * Rotate: delete path.N (its letters counted as dropped), move path.i to
 * path.i+1 and path to path.1, open a new path. Under d->mu. Returns false
 * if no new file could be opened (the letter is then dropped).
 */
static bool rotate(struct iocb_pipe__dlq *d)
{
	size_t cap = strlen(d->path) + 16;
	char *from = iocb_xmalloc(cap), *to = iocb_xmalloc(cap);
	uint64_t gone;
	int fd;

	numbered(to, cap, d->path, d->max_files);
	gone = count_lines(to);
	if (unlink(to) == 0 && gone)
		IOCB_M_ADD(*d->dropped, gone);
	for (unsigned i = d->max_files; i > 0; i--) {
		numbered(from, cap, d->path, i - 1);
		numbered(to, cap, d->path, i);
		(void)rename(from, to); /* a missing older file is fine */
	}
	free(from);
	free(to);
	fd = open(d->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	close(d->fd);
	d->fd = fd;
	d->size = 0;
	iocb_log(IOCB_LOG_INFO, "pipe", "\"dead-letter file rotated\" file=\"%s\" kept=%u dropped_letters=%" PRIu64,
		 d->path, d->max_files, gone);
	return true;
}

/* Room for `len` more bytes, rotating if allowed; false: drop the letter (counted). Under d->mu. */
static bool make_room(struct iocb_pipe__dlq *d, const char *output, size_t len)
{
	uint64_t suppressed;

	if (!d->own || !d->max_bytes || d->size + len <= d->max_bytes)
		return true;
	if (len <= d->max_bytes && d->max_files && rotate(d))
		return true;
	IOCB_M_ADD(*d->dropped, 1);
	if (iocb_ratelimit_ok(&d->rl_drop, &suppressed))
		iocb_log(IOCB_LOG_WARN, "pipe", "\"dead letter dropped: the file is at its size cap\" file=\"%s\" "
			 "output=\"%s\" max_bytes=%" PRIu64 " max_files=%u suppressed=%" PRIu64,
			 d->path, output, d->max_bytes, d->max_files, suppressed);
	return false;
}

void iocb_pipe__dlq_write(struct iocb_pipe__dlq *d, const char *output, int status, const char *reason,
			  const char *line, size_t len)
{
	char t[IOCB_TIME_ISO_MAX];
	int rc = 0;
	uint64_t suppressed;

	iocb_time_iso8601_us(t, sizeof(t), iocb_time_real_us(), IOCB_TIME_MS_Z);
	if (len && line[len - 1] == '\n')
		len--;
	pthread_mutex_lock(&d->mu);
	iocb_buf_reset(&d->buf);
	{
		struct iocb_jw w;

		iocb_jw_init(&w, &d->buf);
		iocb_jw_obj(&w);
		iocb_jw_key(&w, "@timestamp");
		iocb_jw_cstr(&w, t);
		iocb_jw_key(&w, "output");
		iocb_jw_cstr(&w, output);
		iocb_jw_key(&w, "status");
		iocb_jw_i64(&w, status);
		iocb_jw_key(&w, "reason");
		iocb_jw_cstr(&w, reason ? reason : "");
		iocb_jw_key(&w, "event");
		iocb_jw_str(&w, (struct iocb_str){line, len});
		iocb_jw_obj_end(&w);
		rc = iocb_jw_rc(&w) ? -1 : iocb_buf_putc(&d->buf, '\n');
	}
	if (rc == 0 && !make_room(d, output, d->buf.len)) {
		pthread_mutex_unlock(&d->mu);
		return;
	}
	if (rc == 0) {
		size_t off = 0;

		while (off < d->buf.len) {
			ssize_t w = write(d->fd, d->buf.ptr + off, d->buf.len - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = -1;
				break;
			}
			off += (size_t)w;
		}
		d->size += off;
	}
	if (rc != 0 && iocb_ratelimit_ok(&d->rl, &suppressed))
		iocb_log(IOCB_LOG_ERROR, "pipe", "\"dead-letter write failed\" file=\"%s\" output=\"%s\" error=\"%s\" "
			 "suppressed=%" PRIu64, d->path ? d->path : "stderr", output, strerror(errno), suppressed);
	pthread_mutex_unlock(&d->mu);
}
