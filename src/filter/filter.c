/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attribute filters (see filter.h for the semantics).
 *
 * Specs are compiled once, when the configuration is loaded, into a form that
 * iocb_filter_pass() can evaluate per attribute on the hot path without
 * allocating or measuring strings:
 *   - the type whitelist becomes a bitset indexed by iocb_misp_type.id, so a
 *     type test is one load and a mask;
 *   - org entries are split into numbers (canonical decimal text, compared
 *     with Event.orgc_id or Event.org_id) and text views with their lengths
 *     (compared with Orgc.name exactly and Orgc.uuid case-insensitively);
 *   - tags become length-carrying views, so most mismatches are rejected on
 *     the length before any byte is compared.
 * A whitelist that is absent or empty is not compiled at all: it passes
 * everything. A filter with no active whitelist makes the whole list pass
 * everything, which is detected up front (pass_all).
 *
 * Everything here is immutable after iocb_filter_new(), so a filter may be
 * shared by any number of threads without locks.
 */
#include "filter/filter.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"

/* One compiled filter: an AND of up to three whitelists. */
struct compiled {
	bool use_orgs;            /* the orgs whitelist is active (present and non-empty) */
	bool use_types;           /* the types whitelist is active */
	bool use_tags;            /* the tags whitelist is active */
	uint64_t *org_ids;        /* numeric org entries */
	size_t norg_ids;          /* entries in org_ids */
	struct iocb_str *org_texts; /* non-numeric org entries (names or uuids), owned copies */
	size_t norg_texts;        /* entries in org_texts */
	uint64_t *type_bits;      /* bit i set = type id i whitelisted */
	size_t ntype_words;       /* words in type_bits: enough for every type id */
	struct iocb_str *tags;    /* tag names, owned copies */
	size_t ntags;             /* entries in tags */
};

struct iocb_filter {
	struct compiled *f;       /* n compiled filters, OR'ed */
	size_t n;
	bool pass_all;            /* n == 0 or some filter has no active whitelist */
	enum iocb_filter_org_field org_field; /* which event org id numeric entries compare with */
	bool event_tags;          /* event tags (and inherited tags) count for `tags` */
};

/* ------------------------------------------------------------- spec */

static void free_strv(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void iocb_filter_spec_fini(struct iocb_filter_spec *s)
{
	if (!s)
		return;
	free_strv(s->orgs, s->norgs);
	free_strv(s->types, s->ntypes);
	free_strv(s->tags, s->ntags);
	free(s->where);
	memset(s, 0, sizeof(*s));
}

/* ------------------------------------------------------------- suggestions */

#define MAX_SUGGEST_LEN IOCB_STR_DISTANCE_MAX /* names longer than this get no "did you mean" */
#define MAX_WORDS 8        /* words compared by same_words() */


/* Split s at '-' and '|' into at most MAX_WORDS views; false if more. */
static bool split_words(struct iocb_str s, struct iocb_str *w, size_t *nw)
{
	size_t start = 0;

	*nw = 0;
	for (size_t i = 0; i <= s.len; i++) {
		if (i < s.len && s.ptr[i] != '-' && s.ptr[i] != '|')
			continue;
		if (*nw == MAX_WORDS)
			return false;
		w[(*nw)++] = iocb_str_make(s.ptr + start, i - start);
		start = i + 1;
	}
	return true;
}

/*
 * True when a and b consist of the same words in another order
 * ("src-ip" and "ip-src", "ip|domain" and "domain|ip"): a common slip that
 * edit distance alone rates as far apart.
 */
static bool same_words(struct iocb_str a, struct iocb_str b)
{
	struct iocb_str wa[MAX_WORDS], wb[MAX_WORDS];
	bool used[MAX_WORDS] = {false};
	size_t na, nb;

	if (a.len != b.len || !split_words(a, wa, &na) || !split_words(b, wb, &nb) || na != nb || na < 2)
		return false;
	for (size_t i = 0; i < na; i++) {
		size_t j;

		for (j = 0; j < nb; j++)
			if (!used[j] && iocb_str_eq(wa[i], wb[j]))
				break;
		if (j == nb)
			return false;
		used[j] = true;
	}
	return true;
}

/*
 * The known type name closest to `name`, or NULL: a case-insensitive match
 * first, then the same words reordered, then the smallest edit distance
 * if it is at most 2 (ties go to the earlier table row).
 */
static const char *suggest_type(struct iocb_str name)
{
	size_t count = iocb_misp_type_count();
	const char *best = NULL;
	unsigned best_d = 3;

	if (name.len == 0 || name.len > MAX_SUGGEST_LEN)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		const struct iocb_misp_type *t = iocb_misp_type_get((uint16_t)i);

		if (t && iocb_str_eq_nocase(name, iocb_str_c(t->name)))
			return t->name;
	}
	for (size_t i = 0; i < count; i++) {
		const struct iocb_misp_type *t = iocb_misp_type_get((uint16_t)i);

		if (t && same_words(name, iocb_str_c(t->name)))
			return t->name;
	}
	for (size_t i = 0; i < count; i++) {
		const struct iocb_misp_type *t = iocb_misp_type_get((uint16_t)i);
		size_t tl;
		unsigned d;

		if (!t)
			continue;
		tl = strlen(t->name);
		if (tl > MAX_SUGGEST_LEN)
			continue;
		d = iocb_str_distance(name.ptr, name.len, t->name, tl, best_d - 1);
		if (d < best_d) {
			best_d = d;
			best = t->name;
		}
	}
	return best;
}

/* ------------------------------------------------------------- build */

/*
 * Canonical unsigned decimal: digits only, no leading zero unless the whole
 * text is "0", fits in 64 bits. "01" and " 1" stay text (see filter.h).
 */
static bool parse_org_id(const char *s, uint64_t *out)
{
	struct iocb_str v = iocb_str_c(s);

	if (v.len > 1 && v.ptr[0] == '0')
		return false;
	return iocb_str_to_u64(v, out);
}

/* Copy of a NUL-terminated config string as an owned view. */
static struct iocb_str own_str(const char *s)
{
	size_t n = strlen(s);

	return iocb_str_make(iocb_xstrndup(s, n), n);
}

static void compiled_fini(struct compiled *c)
{
	for (size_t i = 0; i < c->norg_texts; i++)
		free((char *)c->org_texts[i].ptr);
	for (size_t i = 0; i < c->ntags; i++)
		free((char *)c->tags[i].ptr);
	free(c->org_ids);
	free(c->org_texts);
	free(c->type_bits);
	free(c->tags);
}

/* Where a spec is, for messages: its config location, or its index. */
static const char *spec_where(const struct iocb_filter_spec *s, size_t idx, char *buf, size_t cap)
{
	if (s->where && s->where[0])
		return s->where;
	snprintf(buf, cap, "#%zu", idx + 1);
	return buf;
}

static int compile_one(const struct iocb_filter_spec *s, size_t idx, struct compiled *c, struct iocb_err *err)
{
	char wbuf[32];

	if (s->has_orgs && s->norgs > 0) {
		c->use_orgs = true;
		c->org_ids = iocb_xcalloc(s->norgs, sizeof(*c->org_ids));
		c->org_texts = iocb_xcalloc(s->norgs, sizeof(*c->org_texts));
		for (size_t i = 0; i < s->norgs; i++) {
			const char *o = s->orgs[i];
			uint64_t id;

			if (!o || !o[0])
				return iocb_err_set(err, IOCB_ECONFIG, "filter: empty entry in 'orgs' of filter at %s",
						    spec_where(s, idx, wbuf, sizeof(wbuf)));
			if (parse_org_id(o, &id))
				c->org_ids[c->norg_ids++] = id;
			else
				c->org_texts[c->norg_texts++] = own_str(o);
		}
	}

	if (s->has_types && s->ntypes > 0) {
		size_t count = iocb_misp_type_count();

		c->use_types = true;
		c->ntype_words = (count + 63) / 64;
		c->type_bits = iocb_xcalloc(c->ntype_words ? c->ntype_words : 1, sizeof(*c->type_bits));
		for (size_t i = 0; i < s->ntypes; i++) {
			struct iocb_str name = iocb_str_c(s->types[i]);
			const struct iocb_misp_type *t = name.len ? iocb_misp_type_find(name) : NULL;
			const char *hint;

			if (t && t->id < count) {
				c->type_bits[t->id / 64] |= UINT64_C(1) << (t->id % 64);
				continue;
			}
			hint = suggest_type(name);
			if (hint)
				return iocb_err_set(err, IOCB_ECONFIG,
						    "filter: unknown MISP type '%.*s' in filter at %s (did you mean '%s'?)",
						    (int)(name.len > 80 ? 80 : name.len), name.ptr ? name.ptr : "",
						    spec_where(s, idx, wbuf, sizeof(wbuf)), hint);
			return iocb_err_set(err, IOCB_ECONFIG, "filter: unknown MISP type '%.*s' in filter at %s",
					    (int)(name.len > 80 ? 80 : name.len), name.ptr ? name.ptr : "",
					    spec_where(s, idx, wbuf, sizeof(wbuf)));
		}
	}

	if (s->has_tags && s->ntags > 0) {
		c->use_tags = true;
		c->tags = iocb_xcalloc(s->ntags, sizeof(*c->tags));
		for (size_t i = 0; i < s->ntags; i++) {
			if (!s->tags[i] || !s->tags[i][0])
				return iocb_err_set(err, IOCB_ECONFIG, "filter: empty entry in 'tags' of filter at %s",
						    spec_where(s, idx, wbuf, sizeof(wbuf)));
			c->tags[c->ntags++] = own_str(s->tags[i]);
		}
	}
	return IOCB_OK;
}

int iocb_filter_new(const struct iocb_filter_spec *specs, size_t n, const struct iocb_filter_opts *opts,
		    struct iocb_filter **out, struct iocb_err *err)
{
	struct iocb_filter *f;
	int rc = IOCB_OK;

	assert(out);
	assert(specs || n == 0);
	*out = NULL;
	f = iocb_xcalloc(1, sizeof(*f));
	f->org_field = opts ? opts->org_field : IOCB_FILTER_ORGC;
	f->event_tags = opts ? opts->event_tags : true;
	f->n = n;
	f->pass_all = n == 0;
	if (n)
		f->f = iocb_xcalloc(n, sizeof(*f->f));
	for (size_t i = 0; i < n; i++) {
		struct compiled *c = &f->f[i];

		rc = compile_one(&specs[i], i, c, err);
		if (rc < 0)
			goto out;
		if (!c->use_orgs && !c->use_types && !c->use_tags)
			f->pass_all = true;
	}
	*out = f;
	f = NULL;
out:
	iocb_filter_free(f);
	return rc;
}

void iocb_filter_free(struct iocb_filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n && f->f; i++)
		compiled_fini(&f->f[i]);
	free(f->f);
	free(f);
}

size_t iocb_filter_count(const struct iocb_filter *f)
{
	return f ? f->n : 0;
}

/* ------------------------------------------------------------- pass */

static bool type_ok(const struct compiled *c, const struct iocb_misp_type *t)
{
	if (!t)
		return false;
	size_t w = t->id / 64;
	return w < c->ntype_words && (c->type_bits[w] >> (t->id % 64) & 1);
}

static bool org_ok(const struct iocb_filter *f, const struct compiled *c, const struct iocb_misp_event *ev)
{
	bool has_id;
	uint64_t id;

	if (!ev)
		return false;
	if (f->org_field == IOCB_FILTER_ORG) {
		has_id = ev->has_org_id;
		id = ev->org_id;
	} else {
		has_id = ev->has_orgc_id;
		id = ev->orgc_id;
	}
	if (has_id)
		for (size_t i = 0; i < c->norg_ids; i++)
			if (c->org_ids[i] == id)
				return true;
	/* Names and uuids always identify the creator org: the model carries no other. */
	if (ev->orgc_name.len || ev->orgc_uuid.len)
		for (size_t i = 0; i < c->norg_texts; i++)
			if (iocb_str_eq(c->org_texts[i], ev->orgc_name) || iocb_str_eq_nocase(c->org_texts[i], ev->orgc_uuid))
				return true;
	return false;
}

static bool tag_listed(const struct compiled *c, struct iocb_str name)
{
	for (size_t i = 0; i < c->ntags; i++)
		if (iocb_str_eq(c->tags[i], name))
			return true;
	return false;
}

static bool tag_ok(const struct iocb_filter *f, const struct compiled *c, const struct iocb_misp_attr *a)
{
	for (size_t i = 0; i < a->ntags; i++) {
		/* An inherited tag is an event tag that restSearch copied down. */
		if (a->tags[i].inherited && !f->event_tags)
			continue;
		if (tag_listed(c, a->tags[i].name))
			return true;
	}
	if (f->event_tags && a->event && a->event->tags_known)
		for (size_t i = 0; i < a->event->ntags; i++)
			if (tag_listed(c, a->event->tags[i].name))
				return true;
	return false;
}

bool iocb_filter_needs_owner_org(const struct iocb_filter *f)
{
	if (!f || f->pass_all || f->org_field != IOCB_FILTER_ORG)
		return false;
	for (size_t i = 0; i < f->n; i++)
		if (f->f[i].use_orgs && f->f[i].norg_ids)
			return true;
	return false;
}

bool iocb_filter_pass(const struct iocb_filter *f, const struct iocb_misp_attr *a)
{
	if (!f || f->pass_all)
		return true;
	for (size_t i = 0; i < f->n; i++) {
		const struct compiled *c = &f->f[i];

		/* Cheapest test first: the type is one bit. */
		if (c->use_types && !type_ok(c, a->type))
			continue;
		if (c->use_orgs && !org_ok(f, c, a->event))
			continue;
		if (c->use_tags && !tag_ok(f, c, a))
			continue;
		return true;
	}
	return false;
}
