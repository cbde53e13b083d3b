/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sorted line set every line-oriented format writes through
 * (internal.h). The walk only copies (it holds up the store's commits);
 * the sort and the disk come after it.
 */
#include "export/internal.h"

#include <stdlib.h>
#include <string.h>

#define LINES_WRITE_CHUNK ((size_t)64 * 1024)

/* One collected line: text[off, off + len) of the text buffer, followed by '\n'. */
struct entry {
	size_t off;
	size_t len; /* bytes, without the '\n' */
};

void iocb_export__lines_init(struct iocb_export__lines *l, size_t max)
{
	if (!max)
		max = IOCB_EXPORT__DEFAULT_MAX;
	iocb_buf_init(&l->text, max);
	iocb_buf_init(&l->ents, max);
}

void iocb_export__lines_fini(struct iocb_export__lines *l)
{
	iocb_buf_fini(&l->text);
	iocb_buf_fini(&l->ents);
}

int iocb_export__line_end(struct iocb_export__lines *l, size_t start)
{
	struct entry e = {.off = start, .len = l->text.len - start};
	int rc = iocb_buf_putc(&l->text, '\n');

	if (rc == IOCB_OK)
		rc = iocb_buf_append(&l->ents, &e, sizeof(e));
	return rc;
}

void iocb_export__line_drop(struct iocb_export__lines *l, size_t start)
{
	l->text.len = start; /* bytes past len are free space: nothing else to undo */
	if (l->text.ptr)
		l->text.ptr[start] = '\0';
}

static int entry_cmp(const void *pa, const void *pb, void *ud)
{
	const struct entry *a = pa, *b = pb;
	const char *text = ud;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(text + a->off, text + b->off, n);

	if (c)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

static bool entry_eq(const char *text, const struct entry *a, const struct entry *b)
{
	return a->len == b->len && memcmp(text + a->off, text + b->off, a->len) == 0;
}

void iocb_export__lines_sort(struct iocb_export__lines *l)
{
	struct entry *ents = (struct entry *)(void *)l->ents.ptr;
	size_t n = l->ents.len / sizeof(*ents), m = 0;

	if (!n)
		return;
	qsort_r(ents, n, sizeof(*ents), entry_cmp, l->text.ptr);
	for (size_t i = 0; i < n; i++)
		if (!m || !entry_eq(l->text.ptr, &ents[m - 1], &ents[i]))
			ents[m++] = ents[i];
	l->ents.len = m * sizeof(*ents);
}

size_t iocb_export__lines_n(const struct iocb_export__lines *l)
{
	return l->ents.len / sizeof(struct entry);
}

struct iocb_str iocb_export__lines_at(const struct iocb_export__lines *l, size_t i)
{
	const struct entry *e = (const struct entry *)(const void *)l->ents.ptr + i;

	return iocb_str_make(l->text.ptr + e->off, e->len);
}

int iocb_export__lines_write(struct iocb_export__lines *l, struct iocb_export_sink *k, uint64_t *written,
			     struct iocb_err *err)
{
	struct entry *ents = (struct entry *)(void *)l->ents.ptr;
	size_t n = l->ents.len / sizeof(*ents);
	struct iocb_buf out;
	int rc = IOCB_OK;

	if (n)
		qsort_r(ents, n, sizeof(*ents), entry_cmp, l->text.ptr);
	iocb_buf_init(&out, 0);
	for (size_t i = 0; i < n && rc == IOCB_OK; i++) {
		if (i && entry_eq(l->text.ptr, &ents[i - 1], &ents[i]))
			continue;
		rc = iocb_buf_append(&out, l->text.ptr + ents[i].off, ents[i].len + 1);
		(*written)++;
		if (rc == IOCB_OK && out.len >= LINES_WRITE_CHUNK) {
			rc = iocb_export_sink_write(k, out.ptr, out.len, err);
			iocb_buf_reset(&out);
		}
	}
	if (rc == IOCB_OK && out.len)
		rc = iocb_export_sink_write(k, out.ptr, out.len, err);
	else if (rc == IOCB_ENOMEM)
		iocb_err_set(err, rc, "export: out of memory");
	iocb_buf_fini(&out);
	return rc;
}

int iocb_export__walk_write(struct iocb_store *s, struct iocb_export__lines *l, iocb_store_each_cb fn, void *ud,
			    const char *header, struct iocb_export_sink *k, struct iocb_export_stats *st,
			    struct iocb_err *err)
{
	int rc = iocb_store_each(s, fn, ud);

	if (rc == IOCB_ELIMIT)
		return iocb_err_set(err, rc, "export: the selected entries exceed %zu bytes", l->text.max);
	if (rc < 0)
		return iocb_err_set(err, rc, "export: %s", iocb_rc_str(rc));
	if (header)
		rc = iocb_export_sink_write(k, header, strlen(header), err);
	if (rc == IOCB_OK)
		rc = iocb_export__lines_write(l, k, &st->written, err);
	return rc;
}
