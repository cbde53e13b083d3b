/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File log input of `iocbus run`: follows `path` the way `tail -F` does.
 *
 * One thread reads the file with read(2) into a bounded buffer, cuts whole
 * lines with the shared assembler (lines.h) and hands them on in blocks of
 * at most pipeline.batch_bytes (or after pipeline.batch_interval_s). At EOF
 * it looks again every poll_interval_s (sleeping in slices of at most
 * 100 ms so a stop is seen at once). Polling rather than inotify: it works
 * the same on every file system (NFS, overlay) and the cost of one read and
 * one stat per interval is nothing next to a log's volume.
 *
 * A line without '\n' at EOF is not a line yet: the writer may be in the
 * middle of it. It is kept (bounded by max_line) until its '\n' comes.
 *
 * Rotation. At EOF the thread stat()s `path`:
 *  - another dev/inode there: the file was renamed away (logrotate's
 *    default) or removed and re-created. The old descriptor is read to its
 *    end first, and "its end" means until it has not grown for
 *    FILE_ROTATE_QUIET_S: with logrotate's `create`, the new empty file
 *    appears before the writer was told to reopen (postrotate), and what it
 *    writes to the old file meanwhile must not be lost. Then a last line
 *    without '\n' counts as a line (nothing will complete it), and the new
 *    file is read from offset 0 (so the delay loses nothing there either);
 *  - the same inode, smaller than our offset: truncated in place
 *    (copytruncate); reading restarts at 0 and the begun line is forgotten;
 *  - nothing there: the old descriptor is kept until a new file appears.
 *
 * Checkpoint. Each batch carries pos = {inode, offset after its last line};
 * `acked` gets them in order, so the last one acked is a prefix of what the
 * outputs settled. It is written to in->state_path as
 *   {"path":"/var/log/suricata/eve.json","dev":2049,"ino":1234,"offset":5678}
 * at most once a second and at the end (iocb_pipe__write_state: temp file +
 * rename). On start, a checkpoint for the file now at `path` resumes at its
 * offset (0 if the file is now smaller: truncated). Files are matched by
 * inode (dev is kept for people and logs; it may change across a reboot).
 * A checkpoint for another inode means the file was rotated while we were
 * down: the directory is searched for that inode (eve.json.1) and the rest
 * of it is read first; if it is gone, that rest is lost (logged) and the
 * current file starts at 0. Without a checkpoint start_at decides: the
 * beginning, or the end of the file as it is when the input starts. A file
 * that does not exist yet is waited for (logged once) and then read from
 * its beginning.
 *
 * Threads: everything runs on the input thread, `acked` included (the core
 * calls it from iocb_pipe__submit / iocb_pipe__input_poll_acks on this thread).
 */
#include "pipe/drivers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
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
#include "pipe/lines.h"

#define MOD "pipe"
#define FILE_SLICE_S 0.1               /* longest sleep: how soon a stop is seen */
#define FILE_READ ((size_t)64 << 10)   /* bytes per read() */
#define FILE_CP_EVERY_S 1.0            /* checkpoint writes at most this often */
#define FILE_CP_MAX ((size_t)64 << 10) /* a checkpoint file larger than this is not ours */
#define FILE_ROTATE_QUIET_S 2.0        /* a rotated file is left once it did not grow for this long */
#define FILE_KNOWN 4                   /* recent files remembered for the dev of an acked inode */

struct file_id {
	uint64_t dev, ino;
};

struct file_in {
	struct iocb_pipe__input *in;         /* borrowed: the input this implements */
	pthread_t thread;            /* the input thread */
	bool thread_started;         /* pthread_create succeeded (join must wait) */
	const char *path;            /* borrowed: cfg->path */
	char *dir;                   /* owned: the directory of path (rotated files are searched there) */
	double poll_s;               /* growth/rotation check when idle */
	double batch_interval_s;     /* a partial block waits at most this */
	bool start_end;              /* no checkpoint: start at the end of the file */

	/* checkpoint read at init */
	bool cp_have;                /* a checkpoint was found and parsed */
	struct file_id cp_id;        /* its file */
	uint64_t cp_offset;          /* and offset */

	/* input thread only */
	bool opened_once;            /* the first file was opened (later ones start at 0) */
	bool missing_logged;         /* "waiting for file" was logged */
	int fd;                      /* the file being read, -1 none */
	char *cur_name;              /* owned: its name (path, or the rotated file's) */
	struct file_id cur;          /* its dev/inode */
	struct iocb_pipe__lines lines;    /* its assembler; lines.offset = read offset */
	struct iocb_pipe__lines_cb cb;    /* the assembler's callbacks (file_on_line, file_on_long) */
	struct iocb_pipe__block block;    /* whole lines not submitted yet */
	struct file_id block_id;     /* the file of the block's end position */
	uint64_t block_end;          /* offset after its last line (or dropped long line) */
	bool pos_dirty;              /* block_end moved since the last submit */
	uint64_t outstanding;        /* batches submitted and not acked yet */
	char *rbuf;                  /* owned: FILE_READ bytes */
	double last_data;            /* monotonic time of the last read that returned data */
	double rot_seen;             /* monotonic time `path` was first seen to be another file, 0 none */
	struct file_id known[FILE_KNOWN]; /* recently read files (a position carries only the inode) */
	unsigned nknown;

	/* committed position (from `acked`, or set directly by file_submit) */
	struct file_id done_id;      /* last acked file */
	uint64_t done_offset;        /* last acked offset */
	bool cp_dirty;               /* not written to state_path yet */
	double cp_written;           /* monotonic time of the last write */
	struct iocb_ratelimit rl;    /* read errors */
};

static void remember(struct file_in *f, struct file_id id)
{
	for (unsigned i = 0; i < f->nknown; i++)
		if (f->known[i].ino == id.ino && f->known[i].dev == id.dev)
			return;
	if (f->nknown < FILE_KNOWN) {
		f->known[f->nknown++] = id;
		return;
	}
	memmove(f->known, f->known + 1, sizeof(f->known[0]) * (FILE_KNOWN - 1));
	f->known[FILE_KNOWN - 1] = id;
}

/* The dev of a recently read inode (rotations stay on one file system; the current dev otherwise). */
static uint64_t dev_of(const struct file_in *f, uint64_t ino)
{
	for (unsigned i = f->nknown; i-- > 0;)
		if (f->known[i].ino == ino)
			return f->known[i].dev;
	return f->cur.dev;
}

/* ------------------------------------------------------------ checkpoint */

static void cp_write(struct file_in *f)
{
	struct iocb_pipe__input *in = f->in;
	struct iocb_buf b;
	struct iocb_jw w;
	struct iocb_err err;

	if (!f->cp_dirty || in->state_path == NULL)
		return;
	iocb_buf_init(&b, FILE_CP_MAX);
	iocb_jw_init(&w, &b);
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "path");
	iocb_jw_cstr(&w, f->path);
	iocb_jw_key(&w, "dev");
	iocb_jw_u64(&w, f->done_id.dev);
	iocb_jw_key(&w, "ino");
	iocb_jw_u64(&w, f->done_id.ino);
	iocb_jw_key(&w, "offset");
	iocb_jw_u64(&w, f->done_offset);
	iocb_jw_obj_end(&w);
	if (iocb_jw_rc(&w) == IOCB_OK && iocb_buf_putc(&b, '\n') == IOCB_OK &&
	    iocb_pipe__write_state(in->state_path, b.ptr, b.len, &err) == IOCB_OK) {
		f->cp_dirty = false;
	} else {
		IOCB_M_ADD(in->m.errors, 1);
		iocb_log(IOCB_LOG_WARN, MOD, "\"checkpoint not written\" input=\"%s\" path=\"%s\" error=\"%s\"",
			 in->cfg->name, in->state_path, iocb_jw_rc(&w) == IOCB_OK ? err.msg : "too long");
	}
	f->cp_written = iocb_time_mono_s();
	iocb_buf_fini(&b);
}

static void cp_maybe_write(struct file_in *f)
{
	if (f->cp_dirty && iocb_time_mono_s() - f->cp_written >= FILE_CP_EVERY_S)
		cp_write(f);
}

/* Parse a checkpoint; false when it is not one of ours. */
static bool cp_parse(struct file_in *f, const char *buf, size_t len)
{
	struct iocb_json_parser p;
	struct iocb_json_tok tok;
	bool have_dev = false, have_ino = false, have_off = false;
	int rc;

	iocb_json_init(&p, buf, len, 4, false);
	if (iocb_json_next(&p, &tok, NULL) != IOCB_OK || tok.type != IOCB_JSON_OBJ)
		return false;
	while ((rc = iocb_json_next_member(&p, &tok, NULL, NULL)) > 0) {
		uint64_t *dst = NULL;
		bool *seen = NULL;

		if (iocb_json_tok_eq(&tok, "dev")) {
			dst = &f->cp_id.dev;
			seen = &have_dev;
		} else if (iocb_json_tok_eq(&tok, "ino")) {
			dst = &f->cp_id.ino;
			seen = &have_ino;
		} else if (iocb_json_tok_eq(&tok, "offset")) {
			dst = &f->cp_offset;
			seen = &have_off;
		}
		if (dst == NULL) {
			if (iocb_json_skip_value(&p, NULL) != IOCB_OK)
				return false;
			continue;
		}
		if (iocb_json_next(&p, &tok, NULL) != IOCB_OK || tok.type != IOCB_JSON_NUM ||
		    !iocb_json_tok_u64(&tok, dst))
			return false;
		*seen = true;
	}
	return rc == 0 && have_dev && have_ino && have_off;
}

/* Read in->state_path if there is one. A broken checkpoint starts the file from its beginning. */
static void cp_load(struct file_in *f)
{
	struct iocb_pipe__input *in = f->in;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	if (in->state_path == NULL)
		return;
	fp = fopen(in->state_path, "rb");
	if (fp == NULL) {
		if (errno != ENOENT)
			iocb_log(IOCB_LOG_WARN, MOD,
				 "\"checkpoint unreadable, reading the file from its beginning\" input=\"%s\" "
				 "path=\"%s\" error=\"%s\"",
				 in->cfg->name, in->state_path, strerror(errno));
		if (errno != ENOENT)
			f->start_end = false;
		return;
	}
	buf = iocb_xmalloc(FILE_CP_MAX);
	len = fread(buf, 1, FILE_CP_MAX, fp);
	if (len < FILE_CP_MAX && !ferror(fp) && cp_parse(f, buf, len)) {
		f->cp_have = true;
		iocb_log(IOCB_LOG_INFO, MOD,
			 "\"resuming from checkpoint\" input=\"%s\" dev=%" PRIu64 " ino=%" PRIu64 " offset=%" PRIu64,
			 in->cfg->name, f->cp_id.dev, f->cp_id.ino, f->cp_offset);
	} else {
		iocb_log(IOCB_LOG_WARN, MOD,
			 "\"checkpoint is not valid, reading the file from its beginning\" input=\"%s\" path=\"%s\"",
			 in->cfg->name, in->state_path);
		f->start_end = false;
	}
	fclose(fp);
	free(buf);
}

/* ---------------------------------------------------------------- blocks */

/* Everything up to `offset` of file `id` was settled: the next checkpoint says so. */
static void commit(struct file_in *f, struct file_id id, uint64_t offset)
{
	f->done_id = id;
	f->done_offset = offset;
	f->cp_dirty = true;
	IOCB_M_SET(f->in->m.position, offset);
}

/*
 * Hand the block on with its end position. A block without lines that only
 * moves the position (a start at the end, a truncation, a dropped long line)
 * is committed at once when no batch is in flight, else submitted empty so
 * that it is committed after them, in order. IOCB_ECANCELED when stopping.
 */
static int file_submit(struct file_in *f)
{
	struct iocb_pipe__input_pos pos;
	int rc;

	if (f->block.len == 0) {
		if (!f->pos_dirty)
			return IOCB_OK;
		if (f->outstanding == 0) {
			/* Only a position, and nothing before it in flight: it is committed as it is. */
			commit(f, f->block_id, f->block_end);
			f->pos_dirty = false;
			return IOCB_OK;
		}
	}
	pos.a = f->block_id.ino;
	pos.b = f->block_end;
	pos.ext = NULL;
	f->outstanding++; /* before: submit may deliver this batch's ack itself */
	rc = iocb_pipe__submit(f->in, f->block.buf, f->block.len, &pos);
	if (rc < 0)
		f->outstanding--;
	iocb_pipe__block_clear(&f->block);
	f->pos_dirty = false;
	return rc;
}

static int file_on_line(void *ctx, const char *p, size_t len, uint64_t end)
{
	struct file_in *f = ctx;
	int rc;

	if (iocb_pipe__block_full_for(&f->block, len)) {
		rc = file_submit(f);
		if (rc < 0)
			return rc;
	}
	iocb_pipe__block_add(&f->block, p, len, iocb_time_mono_s());
	f->block_id = f->cur;
	f->block_end = end;
	f->pos_dirty = true;
	if (f->block.len >= f->block.batch_bytes)
		return file_submit(f);
	return IOCB_OK;
}

static void file_on_long(void *ctx, uint64_t start, uint64_t line_no, uint64_t bytes, uint64_t end)
{
	struct file_in *f = ctx;
	char where[PATH_MAX + 32];

	(void)line_no;
	snprintf(where, sizeof(where), "%s:%" PRIu64, f->cur_name ? f->cur_name : f->path, start);
	iocb_pipe__input_reject(f->in, IOCB_REJ_TOO_LONG, where, bytes);
	/* The position moves past it even though no line goes on. */
	f->block_id = f->cur;
	f->block_end = end;
	f->pos_dirty = true;
}

/* ------------------------------------------------------------------ files */

/*
 * Reading (re)starts at `offset` of the current file: everything read before
 * is in the block, so once the block is acked this is where to resume. Made
 * the block's end position, so that it is committed even when no line
 * follows (a start at the end, then a stop: the next start must not skip
 * what was written meanwhile).
 */
static void set_position(struct file_in *f, uint64_t offset)
{
	f->block_id = f->cur;
	f->block_end = offset;
	f->pos_dirty = true;
}

static void file_close(struct file_in *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->cur_name);
	f->cur_name = NULL;
}

/* Make `fd` (named `name`) the file being read, from `offset`. Takes fd. */
static void file_use(struct file_in *f, int fd, const char *name, const struct stat *st, uint64_t offset)
{
	file_close(f);
	f->fd = fd;
	f->cur_name = iocb_xstrdup(name);
	f->cur.dev = (uint64_t)st->st_dev;
	f->cur.ino = (uint64_t)st->st_ino;
	remember(f, f->cur);
	if (offset > 0 && lseek(fd, (off_t)offset, SEEK_SET) < 0)
		offset = 0;
	iocb_pipe__lines_reset(&f->lines, offset);
	set_position(f, offset);
	f->rot_seen = 0;
	f->opened_once = true;
	f->missing_logged = false;
	iocb_log(IOCB_LOG_INFO, MOD, "\"reading file\" input=\"%s\" file=\"%s\" ino=%" PRIu64 " offset=%" PRIu64,
		 f->in->cfg->name, name, f->cur.ino, offset);
}

/* Open `name`; fd and its stat, or -1 (errno set). */
static int open_stat(const char *name, struct stat *st)
{
	/* O_NONBLOCK: opening a FIFO must not wait for its writer (reads then say EAGAIN, as at EOF). */
	int fd = open(name, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/*
 * Find the file with the checkpoint's inode in path's directory: fd, or -1.
 * OUT: its name. The inode alone: one directory is one file system, and its
 * device number may change across reboots (LVM, overlay, btrfs).
 */
static int find_rotated(struct file_in *f, char **name_out, struct stat *st)
{
	DIR *d = opendir(f->dir);
	struct dirent *de;
	int fd = -1;

	*name_out = NULL;
	if (d == NULL)
		return -1;
	while (fd < 0) {
		struct stat s;
		char *name;
		size_t n;

		de = readdir(d);
		if (de == NULL)
			break;
		if (fstatat(dirfd(d), de->d_name, &s, 0) != 0 || !S_ISREG(s.st_mode))
			continue;
		if ((uint64_t)s.st_ino != f->cp_id.ino)
			continue;
		n = strlen(f->dir) + 1 + strlen(de->d_name) + 1;
		name = iocb_xmalloc(n);
		snprintf(name, n, "%s/%s", f->dir, de->d_name);
		fd = open_stat(name, st);
		/* It must still be the same file once open. */
		if (fd >= 0 && (uint64_t)st->st_ino != f->cp_id.ino) {
			close(fd);
			fd = -1;
		}
		if (fd >= 0)
			*name_out = name;
		else
			free(name);
	}
	closedir(d);
	return fd;
}

/* Start offset of a file we resume from the checkpoint: 0 when it is now smaller (truncated). */
static uint64_t resume_offset(struct file_in *f, const struct stat *st)
{
	if ((uint64_t)st->st_size < f->cp_offset) {
		IOCB_M_ADD(f->in->m.truncations, 1);
		iocb_log(IOCB_LOG_WARN, MOD,
			 "\"file smaller than its checkpoint: truncated, reading from 0\" input=\"%s\" size=%" PRIu64
			 " offset=%" PRIu64,
			 f->in->cfg->name, (uint64_t)st->st_size, f->cp_offset);
		return 0;
	}
	return f->cp_offset;
}

/*
 * start_at: end. The end of the last whole line, so that a line being
 * written at start-up is read whole instead of from its middle (only the
 * last FILE_READ bytes are looked at; past that, the file's size).
 */
static uint64_t end_offset(struct file_in *f, int fd, const struct stat *st)
{
	uint64_t size = (uint64_t)st->st_size;
	size_t n = size < FILE_READ ? (size_t)size : FILE_READ;
	ssize_t got;

	if (!S_ISREG(st->st_mode) || n == 0)
		return size;
	got = pread(fd, f->rbuf, n, (off_t)(size - n));
	if (got != (ssize_t)n)
		return size;
	for (size_t i = n; i-- > 0;)
		if (f->rbuf[i] == '\n')
			return size - n + i + 1;
	return size;
}

/* Open the first file (checkpoint, rotated file, or path). False while there is nothing to read. */
static bool file_open_first(struct file_in *f)
{
	struct stat st;
	int fd;

	if (f->cp_have) {
		char *name = NULL;

		f->cp_have = false; /* decided once, whatever happens below */
		fd = open_stat(f->path, &st);
		if (fd >= 0 && (uint64_t)st.st_ino == f->cp_id.ino) {
			if ((uint64_t)st.st_dev != f->cp_id.dev)
				iocb_log(IOCB_LOG_INFO, MOD,
					 "\"same inode on another device number (remounted?): taken as the same file\" "
					 "input=\"%s\" dev=%" PRIu64 " checkpoint_dev=%" PRIu64,
					 f->in->cfg->name, (uint64_t)st.st_dev, f->cp_id.dev);
			file_use(f, fd, f->path, &st, resume_offset(f, &st));
			return true;
		}
		if (fd >= 0)
			close(fd);
		fd = find_rotated(f, &name, &st);
		if (fd >= 0) {
			iocb_log(IOCB_LOG_INFO, MOD,
				 "\"finishing the rotated file first\" input=\"%s\" file=\"%s\" offset=%" PRIu64,
				 f->in->cfg->name, name, f->cp_offset);
			file_use(f, fd, name, &st, resume_offset(f, &st));
			free(name);
			return true;
		}
		iocb_log(IOCB_LOG_WARN, MOD,
			 "\"checkpointed file is gone, the rest of it is lost; reading the current file from 0\" "
			 "input=\"%s\" ino=%" PRIu64 " offset=%" PRIu64,
			 f->in->cfg->name, f->cp_id.ino, f->cp_offset);
		f->opened_once = true; /* whatever is at path now is new: from 0 */
	}
	fd = open_stat(f->path, &st);
	if (fd < 0) {
		if (!f->missing_logged) {
			iocb_log(IOCB_LOG_WARN, MOD, "\"waiting for file\" input=\"%s\" path=\"%s\" error=\"%s\"",
				 f->in->cfg->name, f->path, strerror(errno));
			f->missing_logged = true;
		}
		/* A file that appears later was written after we started: all of it is new. */
		f->opened_once = true;
		return false;
	}
	file_use(f, fd, f->path, &st, f->opened_once || !f->start_end ? 0 : end_offset(f, fd, &st));
	return true;
}

/* Read from the current file until EOF. 1 at EOF, 0 when more may come at once, <0 stopping. */
static int file_read_some(struct file_in *f)
{
	ssize_t got = read(f->fd, f->rbuf, FILE_READ);
	int rc;

	if (got == 0)
		return 1;
	if (got < 0) {
		uint64_t suppressed;

		if (errno == EINTR)
			return 0;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 1; /* a FIFO with nothing in it: idle as at EOF */
		IOCB_M_ADD(f->in->m.errors, 1);
		if (iocb_log_enabled(IOCB_LOG_WARN, MOD) && iocb_ratelimit_ok(&f->rl, &suppressed))
			iocb_log_(IOCB_LOG_WARN, MOD,
				  "\"file read failed\" input=\"%s\" file=\"%s\" error=\"%s\" suppressed=%" PRIu64,
				  f->in->cfg->name, f->cur_name, strerror(errno), suppressed);
		return 1;
	}
	f->last_data = iocb_time_mono_s();
	rc = iocb_pipe__lines_feed(&f->lines, f->rbuf, (size_t)got, &f->cb);
	return rc < 0 ? rc : 0;
}

/*
 * At EOF: was the file truncated or rotated? Returns 1 when there is
 * something new to read at once, 0 when not, <0 when stopping.
 */
static int file_check(struct file_in *f)
{
	struct stat st;
	double now, quiet;
	int rc;

	if (fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size < f->lines.offset) {
		IOCB_M_ADD(f->in->m.truncations, 1);
		iocb_log(IOCB_LOG_INFO, MOD, "\"file truncated, reading from 0\" input=\"%s\" file=\"%s\"",
			 f->in->cfg->name, f->cur_name);
		if (lseek(f->fd, 0, SEEK_SET) < 0) {
			IOCB_M_ADD(f->in->m.errors, 1);
			file_close(f);
			return 0;
		}
		iocb_pipe__lines_reset(&f->lines, 0);
		set_position(f, 0);
		return 1;
	}
	if (stat(f->path, &st) != 0)
		return 0; /* renamed away, not re-created yet: keep the old descriptor */
	if ((uint64_t)st.st_dev == f->cur.dev && (uint64_t)st.st_ino == f->cur.ino) {
		f->rot_seen = 0;
		return 0;
	}
	/* Rotated: keep reading the old file until it has been quiet for a while (see the file comment). */
	now = iocb_time_mono_s();
	if (f->rot_seen == 0) {
		f->rot_seen = now;
		iocb_log(IOCB_LOG_DEBUG, MOD, "\"rotation seen, finishing the old file\" input=\"%s\" file=\"%s\"",
			 f->in->cfg->name, f->cur_name);
	}
	quiet = now - (f->last_data > f->rot_seen ? f->last_data : f->rot_seen);
	if (quiet < FILE_ROTATE_QUIET_S)
		return 0;
	/* Finish the old file (it may have grown since our last read), then switch. */
	for (;;) {
		rc = file_read_some(f);
		if (rc < 0)
			return rc;
		if (rc == 1)
			break;
	}
	rc = iocb_pipe__lines_finish(&f->lines, &f->cb);
	if (rc < 0)
		return rc;
	IOCB_M_ADD(f->in->m.rotations, 1);
	iocb_log(IOCB_LOG_INFO, MOD, "\"file rotated\" input=\"%s\" file=\"%s\" old_ino=%" PRIu64 " size=%" PRIu64,
		 f->in->cfg->name, f->path, f->cur.ino, f->lines.offset);
	file_close(f);
	{
		int fd = open_stat(f->path, &st);
		if (fd < 0)
			return 0; /* gone again: file_open_first waits for it */
		file_use(f, fd, f->path, &st, 0);
	}
	return 1;
}

/* Idle for up to poll_s, keeping acks, partial blocks and the checkpoint moving. <0 when stopping. */
static int file_idle(struct file_in *f)
{
	double until = iocb_time_mono_s() + f->poll_s;

	for (;;) {
		double now = iocb_time_mono_s();
		double left = until - now;
		int rc;

		iocb_pipe__input_poll_acks(f->in);
		cp_maybe_write(f);
		if (iocb_pipe__input_stopping(f->in))
			return IOCB_ECANCELED;
		/* Idle: a partial block waits no longer; a lone position (dropped long lines) goes too. */
		if (iocb_pipe__block_due(&f->block, f->batch_interval_s, now) || (f->block.len == 0 && f->pos_dirty)) {
			rc = file_submit(f);
			if (rc < 0)
				return rc;
		}
		if (left <= 0)
			return IOCB_OK;
		iocb_time_sleep_s(left < FILE_SLICE_S ? left : FILE_SLICE_S);
	}
}

static void *file_thread(void *arg)
{
	struct file_in *f = arg;
	struct iocb_pipe__input *in = f->in;
	int rc = IOCB_OK;

	iocb_pipe__input_thread_enter(in);
	while (!iocb_pipe__input_stopping(in)) {
		iocb_pipe__input_poll_acks(in);
		cp_maybe_write(f);
		if (f->fd < 0 && !file_open_first(f)) {
			rc = file_idle(f);
			if (rc < 0)
				break;
			continue;
		}
		rc = file_read_some(f);
		if (rc < 0)
			break;
		if (rc == 0) {
			if (iocb_pipe__block_due(&f->block, f->batch_interval_s, iocb_time_mono_s())) {
				rc = file_submit(f);
				if (rc < 0)
					break;
			}
			continue;
		}
		rc = file_check(f);
		if (rc < 0)
			break;
		if (rc == 0) {
			rc = file_idle(f);
			if (rc < 0)
				break;
		}
	}
	if (!iocb_pipe__input_drain(in))
		iocb_log(IOCB_LOG_WARN, MOD,
			 "\"file input stopped with batches not acknowledged: they are read again next time\" "
			 "input=\"%s\"",
			 in->cfg->name);
	cp_write(f);
	iocb_log(IOCB_LOG_INFO, MOD, "\"file input stopped\" input=\"%s\" ino=%" PRIu64 " offset=%" PRIu64,
		 in->cfg->name, f->done_id.ino, f->done_offset);
	file_close(f);
	iocb_pipe__input_thread_leave(in);
	return NULL;
}

/* ---------------------------------------------------------------- ops */

static int file_start(struct iocb_pipe__input *in, struct iocb_err *err)
{
	struct file_in *f = in->impl;
	int rc = pthread_create(&f->thread, NULL, file_thread, f);

	if (rc != 0)
		return iocb_err_set(err, IOCB_EIO, "file input \"%s\": cannot start thread: %s", in->cfg->name,
				    strerror(rc));
	f->thread_started = true;
	return IOCB_OK;
}

static void file_join(struct iocb_pipe__input *in)
{
	struct file_in *f = in->impl;

	if (f == NULL)
		return;
	if (f->thread_started)
		pthread_join(f->thread, NULL);
	file_close(f);
	iocb_pipe__lines_fini(&f->lines);
	iocb_pipe__block_fini(&f->block);
	free(f->rbuf);
	free(f->dir);
	free(f);
	in->impl = NULL;
}

static void file_acked(struct iocb_pipe__input *in, const struct iocb_pipe__input_pos *pos)
{
	struct file_in *f = in->impl;
	struct file_id id = {dev_of(f, pos->a), pos->a};

	f->outstanding--;
	commit(f, id, pos->b);
}

static const struct iocb_pipe__input_ops file_ops = {
	.kind = "file",
	.start = file_start,
	.join = file_join,
	.acked = file_acked,
};

int iocb_pipe__input_file_init(struct iocb_pipe__input *in, struct iocb_err *err)
{
	const struct iocb_config *cfg = iocb_pipe__config(in->pipe);
	struct file_in *f;
	const char *slash;

	if (in->cfg->path == NULL || in->cfg->path[0] == '\0')
		return iocb_err_set(err, IOCB_ECONFIG, "%s: file input \"%s\" needs a path",
				    in->cfg->where ? in->cfg->where : "config", in->cfg->name);
	f = iocb_xcalloc(1, sizeof(*f));
	f->in = in;
	f->fd = -1;
	f->path = in->cfg->path;
	slash = strrchr(f->path, '/');
	if (slash == NULL)
		f->dir = iocb_xstrdup(".");
	else if (slash == f->path)
		f->dir = iocb_xstrdup("/");
	else
		f->dir = iocb_xstrndup(f->path, (size_t)(slash - f->path));
	f->poll_s = in->cfg->poll_interval_s > 0 ? in->cfg->poll_interval_s : 0.25;
	f->batch_interval_s = cfg->pipeline.batch_interval_s;
	f->start_end = in->cfg->start_at == IOCB_CONFIG_START_END;
	f->rl.interval_s = 10.0;
	iocb_pipe__lines_init(&f->lines, (size_t)in->max_line);
	iocb_pipe__block_init(&f->block, (size_t)cfg->pipeline.batch_bytes, (size_t)in->max_line);
	f->rbuf = iocb_xmalloc(FILE_READ);
	f->cb.line = file_on_line;
	f->cb.too_long = file_on_long;
	f->cb.ctx = f;
	cp_load(f);
	f->cp_written = iocb_time_mono_s();
	in->impl = f;
	in->ops = &file_ops;
	return IOCB_OK;
}
