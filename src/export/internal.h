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
/* Sort the lines bytewise and drop repeats, so that _n/_at read them in order (a later
 * _write writes the same lines). */
void iocb_export__lines_sort(struct iocb_export__lines *l);
size_t iocb_export__lines_n(const struct iocb_export__lines *l);
/* Line i (< _n) after _sort, without its '\n'; borrowed from l. */
struct iocb_str iocb_export__lines_at(const struct iocb_export__lines *l, size_t i);
/*
 * The common shape of a format's run(): walk the store with fn (ud is
 * passed through), then write `header` (may be NULL) and the lines. Maps a
 * walk's IOCB_ELIMIT to a message naming the cap.
 */
int iocb_export__walk_write(struct iocb_store *s, struct iocb_export__lines *l, iocb_store_each_cb fn, void *ud,
			    const char *header, struct iocb_export_sink *k, struct iocb_export_stats *st,
			    struct iocb_err *err) IOCB_MUST_USE;

/* ------------------------------------------------------------ zeek removals (zeek_removals.c) */

/*
 * Given the new live lines l (sorted, distinct, each ending in "\tF"), update r's tombstones and
 * append their lines ("<key>\t-\t-\tT\n", sorted) to out. old_path: the file being replaced,
 * read once to seed r at its first use (NULL: none). now: epoch s. IOCB_ENOMEM, IOCB_ELIMIT.
 */
int iocb_export__zeek_removals_update(struct iocb_export_zeek_removals *r, const char *old_path,
				      const struct iocb_export__lines *l, int64_t now, struct iocb_buf *out) IOCB_MUST_USE;
/* Tombstones written by the last update. */
size_t iocb_export__zeek_removals_count(const struct iocb_export_zeek_removals *r);

/* ------------------------------------------------------------ suricata (suricata.c) */

/* True when part i of the record seen as v is an item of dataset type ds (a CIDR, a hash of
 * another length, a string too long for one line are not). */
bool iocb_export__suricata_fits(enum iocb_export_dataset ds, const struct iocb_store_attr_view *v, unsigned i);
/* Append part p as dataset type ds encodes it (base64 for string, else as it is), no '\n'. */
int iocb_export__suricata_item(struct iocb_buf *b, enum iocb_export_dataset ds, struct iocb_str p) IOCB_MUST_USE;
/*
 * Walk the store and collect o's items (encoded, one a line, unsorted, maybe repeated) into l.
 * Same walk as the "suricata-dataset" format; for the socket's resync.
 */
int iocb_export__suricata_collect(struct iocb_store *s, const struct iocb_export_opts *o,
				  struct iocb_export__lines *l, struct iocb_export_stats *st) IOCB_MUST_USE;

#endif
