/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus text exposition (format 0.0.4): the one writer every /metrics
 * renderer uses (sources, pipeline, daemon, HTTP endpoint).
 *
 * Error policy, the same everywhere: the first append that fails (the
 * buffer's cap is reached) marks the render failed; everything after it is
 * skipped, and iocb_prom_end() rolls the buffer back to where the render
 * began, logs once, and returns the error. A render is therefore all or
 * nothing - a cut exposition would read as counters dropping to zero - and
 * the caller that serves the page answers 500 for a failed one (the
 * daemon's metrics callback empties the body, which the HTTP endpoint
 * answers with 500).
 *
 * Label values are escaped as the format requires (\\, \", \n). Names,
 * label keys and HELP texts are the program's own constants and are
 * written as given. A family's samples must be contiguous: write its
 * header (iocb_prom_head, or lazily through struct iocb_prom_fam) and then
 * all its samples. Single-threaded per struct iocb_prom.
 */
#ifndef IOCB_CORE_PROM_H
#define IOCB_CORE_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/rc.h"

struct iocb_prom {
	struct iocb_buf *out; /* destination (borrowed) */
	size_t start;         /* out->len when the render began: the rollback point */
	int rc;               /* first append error, sticky; IOCB_OK while all fits */
};

/* A family whose header is written with its first sample, so a family without samples is left out. */
struct iocb_prom_fam {
	const char *name; /* metric name */
	const char *type; /* "counter", "gauge", "histogram" */
	const char *help; /* # HELP text (no backslash or newline) */
	bool started;     /* header already written */
};

/* Begin a render appending to out. */
void iocb_prom_begin(struct iocb_prom *p, struct iocb_buf *out);
/*
 * End a render. On failure, out is rolled back to where iocb_prom_begin()
 * found it, an error naming `what` and the cap is logged, and the error
 * (IOCB_ELIMIT) is returned; else IOCB_OK.
 */
int iocb_prom_end(struct iocb_prom *p, const char *what);

/* "# HELP name help\n# TYPE name type\n". */
void iocb_prom_head(struct iocb_prom *p, const char *name, const char *type, const char *help);
/*
 * A sample's start: `name`, then `{k="v",...}` from `labels` (NULL-terminated
 * key/value pairs; NULL or empty = no braces), then a space. Values escaped.
 */
void iocb_prom_sample(struct iocb_prom *p, const char *name, const char *const *labels);
/* Whole samples: the start above, the value, "\n". Doubles as "%.*f" with `decimals` digits. */
void iocb_prom_u64(struct iocb_prom *p, const char *name, const char *const *labels, uint64_t v);
void iocb_prom_i64(struct iocb_prom *p, const char *name, const char *const *labels, int64_t v);
void iocb_prom_f(struct iocb_prom *p, const char *name, const char *const *labels, int decimals, double v);
/* The same, under family f (its header first if not yet written). */
void iocb_prom_fam_u64(struct iocb_prom *p, struct iocb_prom_fam *f, const char *const *labels, uint64_t v);
void iocb_prom_fam_i64(struct iocb_prom *p, struct iocb_prom_fam *f, const char *const *labels, int64_t v);
void iocb_prom_fam_f(struct iocb_prom *p, struct iocb_prom_fam *f, const char *const *labels, int decimals,
		     double v);
/*
 * Families of one unlabelled sample each, read from a stats struct of
 * uint64_t counters: for each row, its header and the uint64_t at
 * `off` bytes into `stats` (the bus's and the sightings' counters).
 */
struct iocb_prom_row {
	const char *name, *type, *help;
	size_t off; /* offsetof() the uint64_t in the stats struct */
};
void iocb_prom_rows(struct iocb_prom *p, const struct iocb_prom_row *rows, size_t n, const void *stats);
/* Append a label value escaped (for callers composing a sample by hand). */
void iocb_prom_escape(struct iocb_prom *p, const char *s);

#endif
