/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Dead letters: events an output refused for good, one JSON object per line,
 * with the event as a JSON string (it may not even be valid JSON: that can
 * be why it was refused).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "json/json.h"
#include "pipe/internal.h"

#define DLQ_MAX_LINE (64u << 20)

struct iocb_pdlq {
	int fd;            /* 2 (stderr) when no file */
	bool own;
	char *path;
	pthread_mutex_t mu;
	struct iocb_buf buf;
	struct iocb_ratelimit rl;
};

int iocb_pdlq_open(const char *path, struct iocb_pdlq **out, struct iocb_err *err)
{
	struct iocb_pdlq *d = iocb_xcalloc(1, sizeof(*d));

	*out = NULL;
	d->fd = 2;
	if (path) {
		d->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (d->fd < 0) {
			int e = errno;

			free(d);
			return iocb_err_set(err, IOCB_EIO, "dead-letter file %s: %s", path, strerror(e));
		}
		d->own = true;
		d->path = iocb_xstrdup(path);
	}
	pthread_mutex_init(&d->mu, NULL);
	iocb_buf_init(&d->buf, DLQ_MAX_LINE);
	d->rl.interval_s = 5;
	*out = d;
	return IOCB_OK;
}

void iocb_pdlq_close(struct iocb_pdlq *d)
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

void iocb_pdlq_write(struct iocb_pdlq *d, const char *output, int status, const char *reason, const char *line,
		     size_t len)
{
	char ts[40];
	struct timespec now;
	struct tm tm;
	int rc = 0;
	uint64_t suppressed;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (len && line[len - 1] == '\n')
		len--;
	pthread_mutex_lock(&d->mu);
	iocb_buf_reset(&d->buf);
	{
		struct iocb_jw w;
		char t[64];

		snprintf(t, sizeof(t), "%s.%03ldZ", ts, now.tv_nsec / 1000000);
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
	}
	if (rc != 0 && iocb_ratelimit_ok(&d->rl, &suppressed))
		iocb_log(IOCB_LOG_ERROR, "pipe", "\"dead-letter write failed\" file=\"%s\" output=\"%s\" error=\"%s\" "
			 "suppressed=%" PRIu64, d->path ? d->path : "stderr", output, strerror(errno), suppressed);
	pthread_mutex_unlock(&d->mu);
}
