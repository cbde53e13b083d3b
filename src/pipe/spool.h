/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One output's on-disk spool (core-private: queue.c and pipe.c use it).
 *
 * A directory of append-only segment files `seg-<16 hex>.spool`, each a
 * sequence of records
 *     "IOCBSPL1" | u32 data_len | u32 nlines | u32 flags (1 = ids) | u32 xxh32(ids + data)
 *     | ids (nlines * 16 bytes, when flags & 1) | data (whole lines)
 * in host byte order (the spool never leaves the machine). A record is
 * written with one write() (a crash leaves at most a torn last record, which
 * the reader detects by length or checksum and skips with a warning).
 * Segments are read oldest first; a segment is deleted once it is read to
 * its end and every batch read from it was settled. A restart replays every
 * segment still present, so a batch delivered just before a crash may be
 * delivered again (at least once).
 *
 * Thread-safe (one mutex, a leaf).
 */
#ifndef IOCB_PIPE_SPOOL_H
#define IOCB_PIPE_SPOOL_H

#include "pipe/internal.h"

/* Open or create `dir` (mode 0700) and index the segments already in it. */
int iocb_spool_open(const char *dir, uint64_t max_bytes, bool fsync, struct iocb_pout_metrics *m,
		    struct iocb_spool **out, struct iocb_err *err) IOCB_MUST_USE;
void iocb_spool_close(struct iocb_spool *s);

/*
 * Append b's lines. IOCB_ELIMIT when it would pass max_bytes (unless
 * `force`: shutdown spills always write), IOCB_EIO on a write error (logged).
 */
int iocb_spool_append(struct iocb_spool *s, const struct iocb_pbatch *b, bool force) IOCB_MUST_USE;

/* True when a record is waiting to be read. */
bool iocb_spool_has_unread(struct iocb_spool *s);

/* Read the oldest unread record as a new batch (pending = 1, in = NULL), or NULL. */
struct iocb_pbatch *iocb_spool_read(struct iocb_spool *s);

/* A batch read from segment `seg` was settled. */
void iocb_spool_release(struct iocb_spool *s, uint64_t seg);

#endif
