/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the export formats share inside src/export (not part of export.h):
 * a capped, sorted, de-duplicated set of output lines. A format appends
 * one line's bytes to `text` during the store walk, then closes the line
 * with iocb_export__line_end(); after the walk iocb_export__lines_write()
 * sorts the lines bytewise and writes each distinct line once, so two
 * exports of the same store are byte-identical (readers that reload on a
 * change, and diffs, see a change only when there is one).
 */
#ifndef IOCB_EXPORT_INTERNAL_H
#define IOCB_EXPORT_INTERNAL_H

#include "core/buf.h"
#include "export/export.h"

#define IOCB_EXPORT__DEFAULT_MAX ((size_t)1 << 30)

struct iocb_export__lines {
	struct iocb_buf text; /* line bytes, each line followed by '\n' */
	struct iocb_buf ents; /* private: where each line starts */
};

/* Empty set holding at most `max` bytes (0 = IOCB_EXPORT__DEFAULT_MAX) of text (and as much index). */
void iocb_export__lines_init(struct iocb_export__lines *l, size_t max);
void iocb_export__lines_fini(struct iocb_export__lines *l);
/* Close the line whose bytes start at text offset `start` (its '\n' is added). IOCB_ENOMEM, IOCB_ELIMIT. */
int iocb_export__line_end(struct iocb_export__lines *l, size_t start) IOCB_MUST_USE;
/* Forget a line being built at `start` (it cannot be written after all). */
void iocb_export__line_drop(struct iocb_export__lines *l, size_t start);
/* Sort, then write each distinct line once; *written counts them. IOCB_EIO, IOCB_ENOMEM. */
int iocb_export__lines_write(struct iocb_export__lines *l, struct iocb_export_sink *k, uint64_t *written,
			     struct iocb_err *err) IOCB_MUST_USE;
/*
 * The common shape of a format's run(): walk the store with fn (ud is
 * passed through), then write `header` (may be NULL) and the lines. Maps a
 * walk's IOCB_ELIMIT to a message naming the cap.
 */
int iocb_export__walk_write(struct iocb_store *s, struct iocb_export__lines *l, iocb_store_each_cb fn, void *ud,
			    const char *header, struct iocb_export_sink *k, struct iocb_export_stats *st,
			    struct iocb_err *err) IOCB_MUST_USE;

#endif
