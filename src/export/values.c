/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "values" export: distinct normalised values, one per line (export.h).
 *
 * The walk copies each selected value, with its '\n', into one capped
 * buffer and notes where it starts; after the walk (outside the store's
 * read-side section, so commits are not held up by the sort or the disk)
 * the entries are sorted and written, each distinct value once. Sorted
 * output makes two exports of the same store byte-identical, so readers
 * that reload on change (and diffs) see a change only when there is one.
 */
#include "export/export.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define VALUES_DEFAULT_MAX ((size_t)1 << 30)
#define VALUES_WRITE_CHUNK ((size_t)64 * 1024)

/* One collected value: text[off, off + len) of the collection buffer, followed by '\n'. */
struct entry {
	size_t off;   /* offset in the text buffer */
	uint32_t len; /* bytes, without the '\n' (values are at most 65535 bytes) */
};

struct collect {
	const struct iocb_export_opts *o; /* the selection */
	struct iocb_export_stats *st;     /* counters */
	struct iocb_buf text;             /* values, each followed by '\n' */
	struct iocb_buf ents;             /* struct entry[] */
};

static int collect_one(void *ud, const struct iocb_store_attr *a)
{
	struct collect *c = ud;
	struct iocb_store_attr_view v;
	struct entry e;
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
	e.off = c->text.len;
	e.len = (uint32_t)v.value.len;
	rc = iocb_buf_reserve(&c->text, v.value.len + 1);
	if (rc == IOCB_OK)
		rc = iocb_buf_append(&c->ents, &e, sizeof(e));
	if (rc < 0)
		return rc;
	/* Reserved above, so these cannot fail; checked all the same (gcc does not
	 * let a (void) cast discard a warn_unused_result value). */
	rc = iocb_buf_append_str(&c->text, v.value);
	if (rc == IOCB_OK)
		rc = iocb_buf_putc(&c->text, '\n');
	return rc;
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

/* Write the sorted entries, each distinct value once, in chunks of about VALUES_WRITE_CHUNK. */
static int write_sorted(const struct collect *c, struct iocb_export_sink *k, struct iocb_err *err)
{
	const struct entry *ents = (const struct entry *)(const void *)c->ents.ptr;
	size_t n = c->ents.len / sizeof(*ents);
	struct iocb_buf out;
	int rc = IOCB_OK;

	iocb_buf_init(&out, 0);
	for (size_t i = 0; i < n && rc == IOCB_OK; i++) {
		if (i && entry_eq(c->text.ptr, &ents[i - 1], &ents[i]))
			continue;
		rc = iocb_buf_append(&out, c->text.ptr + ents[i].off, (size_t)ents[i].len + 1);
		c->st->written++;
		if (rc == IOCB_OK && out.len >= VALUES_WRITE_CHUNK) {
			rc = iocb_export_sink_write(k, out.ptr, out.len, err);
			iocb_buf_reset(&out);
		}
	}
	if (rc == IOCB_OK && out.len)
		rc = iocb_export_sink_write(k, out.ptr, out.len, err);
	iocb_buf_fini(&out);
	return rc;
}

int iocb_export_values(struct iocb_store *s, const struct iocb_export_opts *o, struct iocb_export_sink *k,
		       struct iocb_export_stats *st, struct iocb_err *err)
{
	size_t max = o->max_bytes ? o->max_bytes : VALUES_DEFAULT_MAX;
	struct collect c = {.o = o, .st = st};
	int rc;

	memset(st, 0, sizeof(*st));
	iocb_buf_init(&c.text, max);
	iocb_buf_init(&c.ents, max);
	rc = iocb_store_each(s, collect_one, &c);
	if (rc == IOCB_ELIMIT) {
		iocb_err_set(err, rc, "export: the selected values exceed %zu bytes", max);
		goto out;
	}
	if (rc < 0) {
		iocb_err_set(err, rc, "export: %s", iocb_rc_str(rc));
		goto out;
	}
	if (c.ents.len)
		qsort_r(c.ents.ptr, c.ents.len / sizeof(struct entry), sizeof(struct entry), entry_cmp, c.text.ptr);
	rc = write_sorted(&c, k, err);
out:
	iocb_buf_fini(&c.text);
	iocb_buf_fini(&c.ents);
	return rc;
}
