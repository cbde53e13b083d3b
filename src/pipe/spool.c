/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The on-disk spool of one output; format and rules in core.h.
 *
 * Why segments: deleting a whole file is the cheapest way to give space
 * back, and a torn record after a crash only ever costs the tail of the
 * newest segment. Why no read cursor on disk: a cursor would need its own
 * fsync per delivery; replaying a partly delivered segment after a crash is
 * allowed (at least once) and rare.
 */
#include "pipe/core.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/log.h"
#include "core/mem.h"

#define SPOOL_MAGIC "IOCBSPL1"
#define SPOOL_HDR 24
#define SPOOL_SEG_MAX (64u << 20)       /* a new segment starts past this */
#define SPOOL_REC_MAX (1ull << 30)      /* larger lengths are corruption */

struct seg {
	uint64_t no;
	uint64_t size;         /* bytes written */
	uint64_t read_off;     /* next record to read */
	uint64_t outstanding;  /* batches read and not settled */
	bool dead;             /* rest unreadable (torn or corrupt): treat as read to the end */
};

struct iocb_pipe__spool {
	char *dir;
	uint64_t max_bytes;
	bool fsync;
	struct iocb_pipe__output_metrics *m;
	pthread_mutex_t mu;
	struct seg *segs;      /* oldest first */
	size_t nsegs, cap;
	uint64_t total;        /* bytes of all segments on disk */
	int wfd;               /* the newest segment, open for appends; -1 none */
	int rfd;               /* read handle of segs[rseg_no]; -1 none */
	uint64_t rfd_no;
	uint64_t next_no;
};

static void seg_path(const struct iocb_pipe__spool *s, uint64_t no, char *out, size_t n)
{
	snprintf(out, n, "%s/seg-%016" PRIx64 ".spool", s->dir, no);
}

/* XXH32 over ids then data; 0 if the state cannot be allocated (then the record reads as damaged). */
static uint32_t rec_sum(const unsigned char *ids, size_t idlen, const char *data, size_t len)
{
	XXH32_state_t *h = XXH32_createState();
	uint32_t v;

	if (!h)
		return 0;
	XXH32_reset(h, 0);
	if (idlen)
		XXH32_update(h, ids, idlen);
	XXH32_update(h, data, len);
	v = XXH32_digest(h);
	XXH32_freeState(h);
	return v;
}

static void publish(struct iocb_pipe__spool *s)
{
	IOCB_M_SET(s->m->spool_bytes, (int64_t)s->total);
	IOCB_M_SET(s->m->spool_segments, (int64_t)s->nsegs);
}

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	return x->no < y->no ? -1 : x->no > y->no;
}

int iocb_pipe__spool_open(const char *dir, uint64_t max_bytes, bool fsync, struct iocb_pipe__output_metrics *m,
		    struct iocb_pipe__spool **out, struct iocb_err *err)
{
	struct iocb_pipe__spool *s;
	DIR *d;
	struct dirent *de;
	int rc;

	*out = NULL;
	rc = iocb_pipe__mkdir_p(dir, "spool directory", err);
	if (rc < 0)
		return rc;
	d = opendir(dir);
	if (!d)
		return iocb_err_set(err, IOCB_EIO, "%s: %s", dir, strerror(errno));
	s = iocb_xcalloc(1, sizeof(*s));
	s->dir = iocb_xstrdup(dir);
	s->max_bytes = max_bytes;
	s->fsync = fsync;
	s->m = m;
	s->wfd = s->rfd = -1;
	s->next_no = 1;
	pthread_mutex_init(&s->mu, NULL);
	while ((de = readdir(d))) {
		uint64_t no;
		char path[4200], tail[8];
		struct stat st;

		if (sscanf(de->d_name, "seg-%16" SCNx64 ".spoo%1s", &no, tail) != 2 || strcmp(tail, "l") != 0)
			continue;
		seg_path(s, no, path, sizeof(path));
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (s->nsegs == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 16;
			s->segs = iocb_xrealloc(s->segs, s->cap * sizeof(*s->segs));
		}
		s->segs[s->nsegs++] = (struct seg){.no = no, .size = (uint64_t)st.st_size};
		s->total += (uint64_t)st.st_size;
		if (no >= s->next_no)
			s->next_no = no + 1;
	}
	closedir(d);
	if (s->nsegs)
		qsort(s->segs, s->nsegs, sizeof(*s->segs), seg_cmp);
	if (s->total)
		iocb_log(IOCB_LOG_INFO, "pipe", "\"spool has batches to replay\" dir=\"%s\" segments=%zu bytes=%" PRIu64,
			 dir, s->nsegs, s->total);
	publish(s);
	*out = s;
	return IOCB_OK;
}

void iocb_pipe__spool_close(struct iocb_pipe__spool *s)
{
	if (!s)
		return;
	if (s->wfd >= 0)
		close(s->wfd);
	if (s->rfd >= 0)
		close(s->rfd);
	pthread_mutex_destroy(&s->mu);
	free(s->segs);
	free(s->dir);
	free(s);
}

/* Under mu: the segment to append to, opening a new one when needed. */
static int writer_locked(struct iocb_pipe__spool *s, uint64_t need)
{
	char path[4200];
	struct seg *last = s->nsegs ? &s->segs[s->nsegs - 1] : NULL;

	if (s->wfd >= 0 && last && last->size + need <= SPOOL_SEG_MAX)
		return IOCB_OK;
	if (s->wfd >= 0) {
		close(s->wfd);
		s->wfd = -1;
	}
	seg_path(s, s->next_no, path, sizeof(path));
	s->wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (s->wfd < 0) {
		iocb_log(IOCB_LOG_ERROR, "pipe", "\"cannot create spool segment\" path=\"%s\" error=\"%s\"", path,
			 strerror(errno));
		return IOCB_EIO;
	}
	if (s->nsegs == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->segs = iocb_xrealloc(s->segs, s->cap * sizeof(*s->segs));
	}
	s->segs[s->nsegs++] = (struct seg){.no = s->next_no};
	s->next_no++;
	return IOCB_OK;
}

int iocb_pipe__spool_append(struct iocb_pipe__spool *s, const struct iocb_pipe__batch *b, bool force)
{
	unsigned char hdr[SPOOL_HDR];
	uint32_t len = (uint32_t)b->len, nlines = b->nlines, flags = b->ids ? 1 : 0, sum;
	size_t idlen = b->ids ? (size_t)b->nlines * IOCB_PIPE_ID_LEN : 0;
	uint64_t need = SPOOL_HDR + idlen + b->len;
	struct iovec iov[3];
	ssize_t w;
	int rc;

	if (b->len >= SPOOL_REC_MAX)
		return IOCB_ELIMIT;
	sum = rec_sum(b->ids, idlen, b->data, b->len);
	memcpy(hdr, SPOOL_MAGIC, 8);
	memcpy(hdr + 8, &len, 4);
	memcpy(hdr + 12, &nlines, 4);
	memcpy(hdr + 16, &flags, 4);
	memcpy(hdr + 20, &sum, 4);
	iov[0] = (struct iovec){hdr, SPOOL_HDR};
	iov[1] = (struct iovec){b->ids, idlen};
	iov[2] = (struct iovec){b->data, b->len};

	pthread_mutex_lock(&s->mu);
	if (!force && s->max_bytes && s->total + need > s->max_bytes) {
		rc = IOCB_ELIMIT;
		goto out;
	}
	rc = writer_locked(s, need);
	if (rc < 0)
		goto out;
	/* One writev: a crash tears at most this record, which the reader detects. */
	w = writev(s->wfd, iov, 3);
	if (w != (ssize_t)need) {
		iocb_log(IOCB_LOG_ERROR, "pipe", "\"spool write failed\" dir=\"%s\" error=\"%s\"", s->dir,
			 w < 0 ? strerror(errno) : "short write");
		/* The segment may now end in a torn record: never append after it. */
		close(s->wfd);
		s->wfd = -1;
		if (w > 0) {
			s->segs[s->nsegs - 1].size += (uint64_t)w;
			s->total += (uint64_t)w;
		}
		rc = IOCB_EIO;
		goto out;
	}
	if (s->fsync && fdatasync(s->wfd) < 0)
		iocb_log(IOCB_LOG_WARN, "pipe", "\"spool fdatasync failed\" dir=\"%s\" error=\"%s\"", s->dir,
			 strerror(errno));
	s->segs[s->nsegs - 1].size += need;
	s->total += need;
	IOCB_M_ADD(s->m->spooled, 1);
	rc = IOCB_OK;
out:
	publish(s);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static bool unread_locked(const struct iocb_pipe__spool *s)
{
	for (size_t i = 0; i < s->nsegs; i++)
		if (!s->segs[i].dead && s->segs[i].read_off < s->segs[i].size)
			return true;
	return false;
}

bool iocb_pipe__spool_has_unread(struct iocb_pipe__spool *s)
{
	bool r;

	pthread_mutex_lock(&s->mu);
	r = unread_locked(s);
	pthread_mutex_unlock(&s->mu);
	return r;
}

/* Under mu: delete segment i when it is read to its end, nothing read from it is outstanding, and it is not being appended to. */
static void maybe_delete_locked(struct iocb_pipe__spool *s, size_t i)
{
	struct seg *g = &s->segs[i];
	char path[4200];

	if (g->outstanding || (!g->dead && g->read_off < g->size))
		return;
	if (i == s->nsegs - 1 && s->wfd >= 0) {
		close(s->wfd); /* the next append starts a new segment */
		s->wfd = -1;
	}
	if (s->rfd >= 0 && s->rfd_no == g->no) {
		close(s->rfd);
		s->rfd = -1;
	}
	seg_path(s, g->no, path, sizeof(path));
	if (g->dead) {
		/* Keep what could not be read for a human to look at; it no longer counts as spool. */
		char kept[4300];

		snprintf(kept, sizeof(kept), "%s.damaged", path);
		if (rename(path, kept) < 0 && errno != ENOENT)
			iocb_log(IOCB_LOG_WARN, "pipe", "\"cannot rename damaged spool segment\" path=\"%s\" error=\"%s\"",
				 path, strerror(errno));
	} else if (unlink(path) < 0 && errno != ENOENT) {
		iocb_log(IOCB_LOG_WARN, "pipe", "\"cannot delete spool segment\" path=\"%s\" error=\"%s\"", path,
			 strerror(errno));
	}
	s->total -= g->size;
	memmove(g, g + 1, (s->nsegs - i - 1) * sizeof(*g));
	s->nsegs--;
}

static void mark_dead_locked(struct iocb_pipe__spool *s, size_t i, const char *why)
{
	iocb_log(IOCB_LOG_WARN, "pipe", "\"spool segment damaged, rest skipped\" dir=\"%s\" segment=%" PRIu64
		 " offset=%" PRIu64 " why=\"%s\"", s->dir, s->segs[i].no, s->segs[i].read_off, why);
	IOCB_M_ADD(s->m->errors, 1);
	s->segs[i].dead = true;
}

struct iocb_pipe__batch *iocb_pipe__spool_read(struct iocb_pipe__spool *s)
{
	struct iocb_pipe__batch *b = NULL;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->nsegs && !b; i++) {
		struct seg *g = &s->segs[i];
		unsigned char hdr[SPOOL_HDR];
		uint32_t len, nlines, flags, sum;
		size_t idlen;
		char path[4200];

		if (g->dead || g->read_off >= g->size) {
			size_t n = s->nsegs;

			maybe_delete_locked(s, i);
			if (s->nsegs < n)
				i--;
			continue;
		}
		if (s->rfd < 0 || s->rfd_no != g->no) {
			if (s->rfd >= 0)
				close(s->rfd);
			seg_path(s, g->no, path, sizeof(path));
			s->rfd = open(path, O_RDONLY | O_CLOEXEC);
			s->rfd_no = g->no;
			if (s->rfd < 0) {
				mark_dead_locked(s, i, strerror(errno));
				i--; /* revisit: retired below once nothing read from it is outstanding */
				continue;
			}
		}
		if (g->size - g->read_off < SPOOL_HDR ||
		    pread(s->rfd, hdr, SPOOL_HDR, (off_t)g->read_off) != SPOOL_HDR || memcmp(hdr, SPOOL_MAGIC, 8) != 0) {
			mark_dead_locked(s, i, "bad record header (torn write?)");
			i--;
			continue;
		}
		memcpy(&len, hdr + 8, 4);
		memcpy(&nlines, hdr + 12, 4);
		memcpy(&flags, hdr + 16, 4);
		memcpy(&sum, hdr + 20, 4);
		idlen = (flags & 1) ? (size_t)nlines * IOCB_PIPE_ID_LEN : 0;
		if (g->size - g->read_off - SPOOL_HDR < (uint64_t)len + idlen) {
			mark_dead_locked(s, i, "record longer than the segment (torn write?)");
			i--;
			continue;
		}
		b = iocb_xcalloc(1, sizeof(*b));
		b->data = iocb_xmalloc(len ? len : 1);
		b->ids = idlen ? iocb_xmalloc(idlen) : NULL;
		if ((idlen && pread(s->rfd, b->ids, idlen, (off_t)(g->read_off + SPOOL_HDR)) != (ssize_t)idlen) ||
		    (len && pread(s->rfd, b->data, len, (off_t)(g->read_off + SPOOL_HDR + idlen)) != (ssize_t)len) ||
		    rec_sum(b->ids, idlen, b->data, len) != sum) {
			free(b->data);
			free(b->ids);
			free(b);
			b = NULL;
			mark_dead_locked(s, i, "checksum mismatch");
			i--;
			continue;
		}
		b->len = len;
		b->nlines = nlines;
		b->spool = s;
		b->spool_seg = g->no;
		b->pending = 1;
		b->created_us = iocb_time_real_us();
		g->read_off += SPOOL_HDR + idlen + len;
		g->outstanding++;
		IOCB_M_ADD(s->m->replayed, 1);
	}
	publish(s);
	pthread_mutex_unlock(&s->mu);
	return b;
}

void iocb_pipe__spool_release(struct iocb_pipe__spool *s, uint64_t seg)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->nsegs; i++) {
		if (s->segs[i].no != seg)
			continue;
		if (s->segs[i].outstanding)
			s->segs[i].outstanding--;
		maybe_delete_locked(s, i);
		break;
	}
	publish(s);
	pthread_mutex_unlock(&s->mu);
}
