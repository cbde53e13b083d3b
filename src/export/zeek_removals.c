/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Zeek removals (exports.md §2.4): Zeek keeps an Intel item when its line
 * leaves the file, so a removed indicator is written for a while as a
 * `meta.remove T` line, which Zeek's removal policy
 * (policy/frameworks/intel/removal, loaded by contrib/zeek/iocbus.zeek)
 * turns into Intel::remove() of that source's metadata.
 *
 * What was removed is found by difference, not by listening: the state
 * keeps the keys (indicator, type, meta.source: the first three fields as
 * written) of the last file; a key there and not in the new live set
 * becomes a tombstone, kept `keep_s` and dropped earlier if the key comes
 * back. At the first run the previous file on disk seeds the state, so
 * indicators removed while iocbus was down are removed in Zeek too.
 * The state belongs to one export job and is used by one thread at a time.
 */
#include "export/internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/file.h"

struct key {
	char *s;       /* the key bytes (owned) */
	size_t len;    /* bytes in s */
	int64_t since; /* tombs: epoch s of the removal */
};

struct keyset {
	struct key *k; /* sorted by bytes, distinct */
	size_t n, cap;
};

struct iocb_export_zeek_removals {
	double keep_s;       /* how long a tombstone is written */
	bool seeded;         /* prev holds a file's keys (ours, or the one on disk at start) */
	struct keyset prev;  /* live keys of the last file */
	struct keyset tombs; /* removed keys still written with meta.remove T */
};

static void keys_clear(struct keyset *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		free(ks->k[i].s);
	ks->n = 0;
}

static void keys_free(struct keyset *ks)
{
	keys_clear(ks);
	free(ks->k);
	memset(ks, 0, sizeof(*ks));
}

static int cmp_key(const void *pa, const void *pb)
{
	const struct key *a = pa, *b = pb;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->s, b->s, n);

	return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Append a copy of s (unsorted: sort with keys_sort). */
static int keys_add(struct keyset *ks, struct iocb_str s, int64_t since)
{
	if (ks->n == ks->cap) {
		size_t cap = ks->cap ? ks->cap * 2 : 256;
		struct key *k = realloc(ks->k, cap * sizeof(*k));
		if (!k)
			return IOCB_ENOMEM;
		ks->k = k;
		ks->cap = cap;
	}
	ks->k[ks->n].s = malloc(s.len ? s.len : 1);
	if (!ks->k[ks->n].s)
		return IOCB_ENOMEM;
	memcpy(ks->k[ks->n].s, s.ptr, s.len);
	ks->k[ks->n].len = s.len;
	ks->k[ks->n].since = since;
	ks->n++;
	return IOCB_OK;
}

static void keys_sort(struct keyset *ks)
{
	size_t m = 0;

	if (ks->n)
		qsort(ks->k, ks->n, sizeof(*ks->k), cmp_key);
	for (size_t i = 0; i < ks->n; i++) {
		if (m && cmp_key(&ks->k[m - 1], &ks->k[i]) == 0) {
			if (ks->k[i].since < ks->k[m - 1].since)
				ks->k[m - 1].since = ks->k[i].since; /* a repeated tombstone keeps its first time */
			free(ks->k[i].s);
			continue;
		}
		ks->k[m++] = ks->k[i];
	}
	ks->n = m;
}

static bool keys_has(const struct keyset *ks, struct iocb_str s)
{
	struct key probe = {.s = (char *)s.ptr, .len = s.len};

	return ks->n && bsearch(&probe, ks->k, ks->n, sizeof(*ks->k), cmp_key);
}

/* The key of a Zeek line: up to its third TAB; the whole line when it has fewer. */
static struct iocb_str line_key(struct iocb_str line)
{
	unsigned tabs = 0;

	for (size_t i = 0; i < line.len; i++)
		if (line.ptr[i] == '\t' && ++tabs == 3)
			return iocb_str_make(line.ptr, i);
	return line;
}

struct iocb_export_zeek_removals *iocb_export_zeek_removals_new(double keep_s)
{
	struct iocb_export_zeek_removals *r = calloc(1, sizeof(*r));

	if (r)
		r->keep_s = keep_s;
	return r;
}

void iocb_export_zeek_removals_free(struct iocb_export_zeek_removals *r)
{
	if (!r)
		return;
	keys_free(&r->prev);
	keys_free(&r->tombs);
	free(r);
}

/*
 * Seed from the file the export is about to replace: its live lines become
 * prev, its `T` lines tombstones from now. A file written without the
 * meta.remove column (removals were off) seeds prev alone. A missing or
 * unreadable file seeds nothing.
 */
static int seed(struct iocb_export_zeek_removals *r, const char *path, int64_t now)
{
	struct iocb_file_map m;
	const char *p, *end;
	int rc = IOCB_OK;

	if (!path || !path[0] || iocb_file_map(path, 0, &m, NULL) != IOCB_OK)
		return IOCB_OK;
	p = m.data;
	end = m.data ? m.data + m.len : NULL;
	while (p && p < end && rc == IOCB_OK) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct iocb_str line = iocb_str_make(p, nl ? (size_t)(nl - p) : (size_t)(end - p));

		p = nl ? nl + 1 : end;
		if (!line.len || line.ptr[0] == '#')
			continue;
		if (line.len > 2 && memcmp(line.ptr + line.len - 2, "\tT", 2) == 0)
			rc = keys_add(&r->tombs, line_key(line), now);
		else
			rc = keys_add(&r->prev, line_key(line), 0);
	}
	iocb_file_unmap(&m);
	keys_sort(&r->prev);
	keys_sort(&r->tombs);
	return rc;
}

/* Tombstone candidates: the tombs younger than keep, and every key of the last file (the caller
 * drops those live again). */
static int next_tombs(const struct iocb_export_zeek_removals *r, int64_t now, struct keyset *out)
{
	int rc = IOCB_OK;

	for (size_t i = 0; i < r->tombs.n && rc == IOCB_OK; i++) {
		const struct key *t = &r->tombs.k[i];

		if ((double)(now - t->since) < r->keep_s)
			rc = keys_add(out, iocb_str_make(t->s, t->len), t->since);
	}
	for (size_t i = 0; i < r->prev.n && rc == IOCB_OK; i++)
		rc = keys_add(out, iocb_str_make(r->prev.k[i].s, r->prev.k[i].len), now);
	return rc;
}

int iocb_export__zeek_removals_update(struct iocb_export_zeek_removals *r, const char *old_path,
				      const struct iocb_export__lines *l, int64_t now, struct iocb_buf *out)
{
	struct keyset live = {0}, tombs = {0};
	size_t n = iocb_export__lines_n(l);
	int rc = IOCB_OK;

	if (!r->seeded)
		rc = seed(r, old_path, now);
	r->seeded = true;
	for (size_t i = 0; i < n && rc == IOCB_OK; i++)
		rc = keys_add(&live, line_key(iocb_export__lines_at(l, i)), 0);
	keys_sort(&live);
	if (rc == IOCB_OK)
		rc = next_tombs(r, now, &tombs);
	keys_sort(&tombs);
	if (rc != IOCB_OK)
		goto out;
	keys_clear(&r->tombs);
	for (size_t i = 0; i < tombs.n && rc == IOCB_OK; i++) {
		struct iocb_str k = iocb_str_make(tombs.k[i].s, tombs.k[i].len);

		if (keys_has(&live, k))
			continue; /* back again */
		rc = keys_add(&r->tombs, k, tombs.k[i].since);
		if (rc == IOCB_OK)
			rc = iocb_buf_append_str(out, k);
		if (rc == IOCB_OK)
			rc = iocb_buf_append_c(out, "\t-\t-\tT\n");
	}
	keys_free(&r->prev);
	r->prev = live;
	live = (struct keyset){0};
out:
	keys_free(&live);
	keys_free(&tombs);
	return rc;
}

size_t iocb_export__zeek_removals_count(const struct iocb_export_zeek_removals *r)
{
	return r->tombs.n;
}
