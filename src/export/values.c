/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "values" export: distinct normalised values, one per line (export.h).
 * The walk copies each selected value into the shared line set
 * (internal.h), which sorts and de-duplicates after the walk.
 */
#include "export/internal.h"

#include <string.h>

struct collect {
	const struct iocb_export_opts *o; /* the selection */
	struct iocb_export_stats *st;     /* counters */
	struct iocb_export__lines lines;  /* the values */
};

static int collect_one(void *ud, const struct iocb_store_attr *a)
{
	struct collect *c = ud;
	struct iocb_store_attr_view v;
	size_t start = c->lines.text.len;
	int rc;

	iocb_store_attr_view(a, &v);
	c->st->records++;
	if (!iocb_export_selected(c->o, &v))
		return IOCB_OK;
	c->st->selected++;
	if (memchr(v.value.ptr, '\n', v.value.len) || memchr(v.value.ptr, '\r', v.value.len)) {
		c->st->skipped++;
		return IOCB_OK;
	}
	rc = iocb_buf_append_str(&c->lines.text, v.value);
	if (rc == IOCB_OK)
		rc = iocb_export__line_end(&c->lines, start);
	return rc;
}

int iocb_export_values(struct iocb_store *s, const struct iocb_export_opts *o, struct iocb_export_sink *k,
		       struct iocb_export_stats *st, struct iocb_err *err)
{
	struct collect c = {.o = o, .st = st};
	int rc;

	memset(st, 0, sizeof(*st));
	iocb_export__lines_init(&c.lines, o->max_bytes);
	rc = iocb_export__walk_write(s, &c.lines, collect_one, &c, NULL, k, st, err);
	iocb_export__lines_fini(&c.lines);
	return rc;
}
