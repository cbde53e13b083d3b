/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Warninglists: parsing one list, walking directories, the builder, the
 * accessors and the policy. The tables and matching are in wl_tables.c.
 *
 * Parsing is strict because a list that half loads is worse than one that
 * does not: a `cidr` list with one unparsable network would silently let
 * that range through. So one bad entry skips the whole list, with the file
 * and the entry's index or byte offset, and the other lists load.
 */
#include "quality/warninglist.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/file.h"
#include "core/mem.h"
#include "json/json.h"
#include "quality/wl_internal.h"

static const char *const type_names[] = {"string", "substring", "hostname", "cidr", "regex"};

const char *iocb_wl_type_name(enum iocb_wl_type t)
{
	return (unsigned)t < IOCB_ARRAY_LEN(type_names) ? type_names[t] : "?";
}

const char *iocb_wl_category_name(enum iocb_wl_category c)
{
	return c == IOCB_WL_CAT_KNOWN ? "known" : "false-positive";
}

const char *iocb_wl_action_name(enum iocb_wl_action a)
{
	static const char *const n[] = {"none", "ignore", "flag", "suppress"};
	return (unsigned)a < IOCB_ARRAY_LEN(n) ? n[a] : "?";
}

void *iocb_wl__vec_push(struct iocb_wl__vec *v, size_t esz)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		v->v = iocb_xrealloc(v->v, v->cap * esz);
	}
	return (char *)v->v + esz * v->n++;
}

void iocb_wl__vec_append(struct iocb_wl__vec *v, const void *p, size_t n)
{
	if (v->n + n > v->cap) {
		while (v->n + n > v->cap)
			v->cap = v->cap ? v->cap * 2 : 4096;
		v->v = iocb_xrealloc(v->v, v->cap);
	}
	memcpy((char *)v->v + v->n, p, n);
	v->n += n;
}

void iocb_wl__vec_free(struct iocb_wl__vec *v)
{
	free(v->v);
	memset(v, 0, sizeof(*v));
}

struct iocb_wl_builder *iocb_wl_builder_new(void)
{
	return iocb_xcalloc(1, sizeof(struct iocb_wl_builder));
}

static void list_fini(struct iocb_wl_list *l)
{
	free((char *)l->id);
	free((char *)l->name);
	free((char *)l->file);
}

void iocb_wl_builder_free(struct iocb_wl_builder *b)
{
	if (!b)
		return;
	struct iocb_wl_list *l = b->lists.v;
	for (size_t i = 0; i < b->lists.n; i++)
		list_fini(&l[i]);
	struct iocb_wl__re *r = b->res.v;
	for (size_t i = 0; i < b->res.n; i++)
		pcre2_code_free(r[i].code);
	iocb_wl__vec_free(&b->lists);
	iocb_wl__vec_free(&b->pool);
	for (size_t i = 0; i < 3; i++)
		iocb_wl__vec_free(&b->items[i]);
	iocb_wl__vec_free(&b->nets);
	iocb_wl__vec_free(&b->res);
	free(b);
}

/* ------------------------------------------------------------ entries */

/* "a.b/16", "10.0.0.1", "2001:db8::/32" -> network with host bits cleared. */
static bool parse_net(const char *s, size_t len, struct iocb_wl__net *n)
{
	char tmp[64];
	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = 0;
	char *slash = strchr(tmp, '/');
	long plen = -1;
	if (slash) {
		*slash = 0;
		char *end = NULL;
		if (!slash[1] || slash[1] < '0' || slash[1] > '9')
			return false;
		errno = 0;
		plen = strtol(slash + 1, &end, 10);
		if (errno || *end)
			return false;
	}
	memset(n->addr, 0, sizeof(n->addr));
	if (inet_pton(AF_INET, tmp, n->addr) == 1)
		n->v6 = 0;
	else if (inet_pton(AF_INET6, tmp, n->addr) == 1)
		n->v6 = 1;
	else
		return false;
	long max = n->v6 ? 128 : 32;
	if (plen < 0)
		plen = max;
	if (plen > max)
		return false;
	n->len = (uint8_t)plen;
	for (long bit = plen; bit < max; bit++)
		n->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	return true;
}

/* PHP's preg delimiters: "/re/i", "#re#", "(re)x" -> pattern and PCRE2 options. */
static int compile_regex(const char *s, size_t len, pcre2_code **out, char *why, size_t whycap)
{
	if (len < 2) {
		snprintf(why, whycap, "regex too short for delimiters");
		return IOCB_EINVAL;
	}
	char open = s[0], close = open;
	if (open == '(')
		close = ')';
	else if (open == '[')
		close = ']';
	else if (open == '{')
		close = '}';
	else if (open == '<')
		close = '>';
	if ((open >= 'a' && open <= 'z') || (open >= 'A' && open <= 'Z') || (open >= '0' && open <= '9') ||
	    open == '\\' || open == ' ') {
		snprintf(why, whycap, "regex must start with a delimiter such as '/'");
		return IOCB_EINVAL;
	}
	size_t end = len - 1;
	while (end > 0 && s[end] != close)
		end--;
	if (end == 0) {
		snprintf(why, whycap, "regex has no closing delimiter '%c'", close);
		return IOCB_EINVAL;
	}
	uint32_t opts = 0;
	for (size_t i = end + 1; i < len; i++) {
		switch (s[i]) {
		case 'i': opts |= PCRE2_CASELESS; break;
		case 'm': opts |= PCRE2_MULTILINE; break;
		case 's': opts |= PCRE2_DOTALL; break;
		case 'x': opts |= PCRE2_EXTENDED; break;
		case 'u': opts |= PCRE2_UTF; break;
		case 'U': opts |= PCRE2_UNGREEDY; break;
		case 'D': opts |= PCRE2_DOLLAR_ENDONLY; break;
		case 'A': opts |= PCRE2_ANCHORED; break;
		case '\n': break; /* PHP ignores a trailing newline */
		default:
			snprintf(why, whycap, "unknown regex modifier '%c'", s[i]);
			return IOCB_EINVAL;
		}
	}
	int code = 0;
	PCRE2_SIZE at = 0;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)(s + 1), end - 1, opts, &code, &at, NULL);
	if (!re) {
		PCRE2_UCHAR msg[160];
		if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", code);
		snprintf(why, whycap, "regex does not compile at offset %zu: %s", (size_t)at, (const char *)msg);
		return IOCB_EINVAL;
	}
	*out = re;
	return IOCB_OK;
}

/* Staged state of the list being parsed, rolled back on error. */
struct parse {
	struct iocb_wl_builder *b;  /* builder */
	struct iocb_wl_list l;      /* the list's metadata */
	uint32_t index;             /* its list index */
	bool has[5];                /* name, type, list, version, description seen */
	size_t list_off;            /* byte offset of `list`, read after `type` is known */
	size_t mark[6];             /* vector sizes at start: pool, items x3, nets, res */
	bool has_types;             /* `matching_attributes` seen */
};

static int add_entry(struct parse *p, const char *s, size_t len, size_t idx, char *why, size_t whycap)
{
	struct iocb_wl_builder *b = p->b;
	if (len == 0)
		return IOCB_OK; /* an empty entry would match everything as a substring: never meant */
	switch (p->l.type) {
	case IOCB_WL_CIDR: {
		struct iocb_wl__net n;
		if (!parse_net(s, len, &n)) {
			snprintf(why, whycap, "entry %zu: not an address or network: '%.*s'", idx, (int)(len > 60 ? 60 : len), s);
			return IOCB_EINVAL;
		}
		n.list = p->index;
		*(struct iocb_wl__net *)iocb_wl__vec_push(&b->nets, sizeof(n)) = n;
		break;
	}
	case IOCB_WL_REGEX: {
		pcre2_code *re = NULL;
		char sub[200];
		if (compile_regex(s, len, &re, sub, sizeof(sub)) < 0) {
			snprintf(why, whycap, "entry %zu: %s", idx, sub);
			return IOCB_EINVAL;
		}
		struct iocb_wl__re *r = iocb_wl__vec_push(&b->res, sizeof(*r));
		r->list = p->index;
		r->code = re;
		break;
	}
	default: {
		if (p->l.type == IOCB_WL_HOSTNAME) {
			/* MISP lower-cases hostname entries and trims their dots. */
			while (len && s[0] == '.')
				s++, len--;
			while (len && s[len - 1] == '.')
				len--;
			if (!len)
				return IOCB_OK;
		}
		if (b->pool.n + len > UINT32_MAX) {
			snprintf(why, whycap, "entry %zu: lists too large", idx);
			return IOCB_ELIMIT;
		}
		size_t off = b->pool.n;
		iocb_wl__vec_append(&b->pool, s, len);
		if (p->l.type == IOCB_WL_HOSTNAME)
			for (char *c = (char *)b->pool.v + off; c < (char *)b->pool.v + off + len; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
		unsigned k = p->l.type == IOCB_WL_STRING ? 0 : p->l.type == IOCB_WL_SUBSTRING ? 1 : 2;
		struct iocb_wl__item *it = iocb_wl__vec_push(&b->items[k], sizeof(*it));
		it->list = p->index;
		it->off = (uint32_t)off;
		it->len = (uint32_t)len;
	}
	}
	p->l.entries++;
	return IOCB_OK;
}

/* Read a string token into buf (decoding escapes); false if too long or bad. */
static bool tok_text(const struct iocb_json_tok *t, char *buf, size_t cap, const char **s, size_t *len)
{
	if (!t->escaped) {
		*s = t->s.ptr;
		*len = t->s.len;
		return t->s.len < cap;
	}
	*s = buf;
	return iocb_json_unescape(t, buf, cap, len) == IOCB_OK;
}

/* `list`: an array of strings, parsed from its '[' (base: its offset in the file). */
static int parse_list(struct parse *p, struct iocb_json_parser *jp, size_t base, char *why, size_t whycap,
		      struct iocb_err *jerr)
{
	struct iocb_json_tok t;
	int rc = iocb_json_next(jp, &t, jerr);
	if (rc < 0)
		return rc;
	if (t.type != IOCB_JSON_ARR) {
		snprintf(why, whycap, "byte %zu: `list` is not an array", base + t.offset);
		return IOCB_ETYPE;
	}
	char buf[IOCB_WL_MAX_ENTRY];
	for (size_t idx = 0;; idx++) {
		rc = iocb_json_next(jp, &t, jerr);
		if (rc < 0)
			return rc;
		if (t.type == IOCB_JSON_ARR_END)
			return IOCB_OK;
		if (t.type != IOCB_JSON_STR) {
			snprintf(why, whycap, "byte %zu: `list` entry %zu is not a string", base + t.offset, idx);
			return IOCB_ETYPE;
		}
		const char *s;
		size_t len;
		if (!tok_text(&t, buf, sizeof(buf), &s, &len)) {
			snprintf(why, whycap, "byte %zu: entry %zu is longer than %d bytes or badly escaped",
				 base + t.offset, idx, IOCB_WL_MAX_ENTRY - 1);
			return IOCB_ELIMIT;
		}
		rc = add_entry(p, s, len, idx, why, whycap);
		if (rc < 0)
			return rc;
	}
}

static int parse_types(struct parse *p, struct iocb_json_parser *jp, const struct iocb_json_tok *v, char *why,
		       size_t whycap, struct iocb_err *jerr)
{
	if (v->type != IOCB_JSON_ARR) {
		snprintf(why, whycap, "byte %zu: `matching_attributes` is not an array", v->offset);
		return IOCB_ETYPE;
	}
	bool any = false;
	for (;;) {
		struct iocb_json_tok t;
		int rc = iocb_json_next(jp, &t, jerr);
		if (rc < 0)
			return rc;
		if (t.type == IOCB_JSON_ARR_END)
			break;
		if (t.type != IOCB_JSON_STR) {
			snprintf(why, whycap, "byte %zu: `matching_attributes` entry is not a string", t.offset);
			return IOCB_ETYPE;
		}
		any = true;
		char buf[128];
		const char *s;
		size_t len;
		if (!tok_text(&t, buf, sizeof(buf), &s, &len))
			continue; /* longer than any MISP type: names none */
		if (len == 3 && memcmp(s, "ALL", 3) == 0) {
			p->l.all_types = true;
			continue;
		}
		/* A type iocbus does not know applies to nothing it stores: not an error. */
		const struct iocb_misp_type *mt = iocb_misp_type_find(iocb_str_make(s, len));
		if (mt && mt->id < 256)
			p->l.types[mt->id / 64] |= (uint64_t)1 << (mt->id % 64);
	}
	if (!any)
		p->l.all_types = true;
	return IOCB_OK;
}

static char *tok_dup(const struct iocb_json_tok *t)
{
	char buf[1024];
	const char *s;
	size_t len;
	if (!tok_text(t, buf, sizeof(buf), &s, &len))
		return NULL;
	return iocb_xstrndup(s, len);
}

/* One member of the top-level object. */
static int parse_member(struct parse *p, struct iocb_json_parser *jp, const struct iocb_json_tok *k,
			const struct iocb_json_tok *v, char *why, size_t whycap, struct iocb_err *jerr)
{
	if (iocb_json_tok_eq(k, "list")) {
		p->has[2] = true;
		p->list_off = v->offset;
		if (v->type != IOCB_JSON_ARR) {
			snprintf(why, whycap, "byte %zu: `list` is not an array", v->offset);
			return IOCB_ETYPE;
		}
		/* Validate now; its entries are stored in a second pass once `type` is known. */
		return iocb_json_skip(jp, v, jerr);
	}
	if (iocb_json_tok_eq(k, "matching_attributes")) {
		p->has_types = true;
		return parse_types(p, jp, v, why, whycap, jerr);
	}
	if (iocb_json_tok_eq(k, "version")) {
		if (v->type != IOCB_JSON_NUM || !iocb_json_tok_i64(v, &p->l.version)) {
			snprintf(why, whycap, "byte %zu: `version` is not an integer", v->offset);
			return IOCB_ETYPE;
		}
		p->has[3] = true;
		return IOCB_OK;
	}
	bool is_name = iocb_json_tok_eq(k, "name"), is_type = iocb_json_tok_eq(k, "type");
	bool is_desc = iocb_json_tok_eq(k, "description"), is_cat = iocb_json_tok_eq(k, "category");
	if (!is_name && !is_type && !is_desc && !is_cat)
		return iocb_json_skip(jp, v, jerr); /* the upstream schema grows: unknown keys are skipped */
	if (v->type != IOCB_JSON_STR) {
		snprintf(why, whycap, "byte %zu: `%.*s` is not a string", v->offset, IOCB_STR_FMT(k->s));
		return IOCB_ETYPE;
	}
	if (is_desc) {
		p->has[4] = true;
	} else if (is_name) {
		free((char *)p->l.name);
		p->l.name = tok_dup(v);
		if (!p->l.name || !p->l.name[0]) {
			snprintf(why, whycap, "byte %zu: `name` is empty or too long", v->offset);
			return IOCB_EINVAL;
		}
		p->has[0] = true;
	} else if (is_type) {
		size_t i = 0;
		while (i < IOCB_ARRAY_LEN(type_names) && !iocb_json_tok_eq(v, type_names[i]))
			i++;
		if (i == IOCB_ARRAY_LEN(type_names)) {
			snprintf(why, whycap, "byte %zu: unknown `type` '%.*s' (string, substring, hostname, cidr, regex)",
				 v->offset, (int)(v->s.len > 40 ? 40 : v->s.len), v->s.ptr);
			return IOCB_EINVAL;
		}
		p->l.type = (enum iocb_wl_type)i;
		p->has[1] = true;
	} else if (iocb_json_tok_eq(v, "known")) {
		p->l.category = IOCB_WL_CAT_KNOWN;
	} else if (iocb_json_tok_eq(v, "false-positive") || iocb_json_tok_eq(v, "false_positive")) {
		p->l.category = IOCB_WL_CAT_FALSE_POSITIVE;
	} else {
		snprintf(why, whycap, "byte %zu: unknown `category` (false-positive, known)", v->offset);
		return IOCB_EINVAL;
	}
	return IOCB_OK;
}

static bool selected(const struct iocb_wl_list *l, const struct iocb_wl_select *sel)
{
	if (!sel || sel->category[l->category])
		return true;
	for (size_t i = 0; i < sel->nids; i++)
		if (strcmp(sel->ids[i], l->id) == 0 || strcmp(sel->ids[i], l->name) == 0)
			return true;
	return false;
}

static void rollback(struct parse *p)
{
	struct iocb_wl_builder *b = p->b;
	struct iocb_wl__re *r = b->res.v;
	for (size_t i = p->mark[5]; i < b->res.n; i++)
		pcre2_code_free(r[i].code);
	b->pool.n = p->mark[0];
	for (size_t i = 0; i < 3; i++)
		b->items[i].n = p->mark[1 + i];
	b->nets.n = p->mark[4];
	b->res.n = p->mark[5];
}

static int parse_doc(struct parse *p, const char *buf, size_t len, char *why, size_t whycap)
{
	struct iocb_err jerr = {0};
	struct iocb_json_parser jp;
	struct iocb_json_tok k, v;
	iocb_json_init(&jp, buf, len, 16, false);
	int rc = iocb_json_next(&jp, &k, &jerr);
	if (rc == IOCB_OK && k.type != IOCB_JSON_OBJ) {
		snprintf(why, whycap, "byte %zu: not a JSON object", k.offset);
		return IOCB_ETYPE;
	}
	while (rc == IOCB_OK && (rc = iocb_json_next_member(&jp, &k, &v, &jerr)) > 0)
		rc = parse_member(p, &jp, &k, &v, why, whycap, &jerr);
	if (rc == IOCB_OK) {
		struct iocb_json_tok end;
		rc = iocb_json_next(&jp, &end, &jerr);
		rc = rc == IOCB_EEND ? IOCB_OK : rc;
	}
	if (rc < 0 && !why[0])
		snprintf(why, whycap, "%.380s", jerr.msg[0] ? jerr.msg : iocb_rc_str(rc));
	if (rc < 0)
		return rc;
	static const char *const req[] = {"name", "type", "list", "version", "description"};
	for (size_t i = 0; i < IOCB_ARRAY_LEN(req); i++)
		if (!p->has[i]) {
			snprintf(why, whycap, "missing `%s`", req[i]);
			return IOCB_EINVAL;
		}
	if (!p->has_types)
		p->l.all_types = true; /* MISP: no matching_attributes means ALL */
	return IOCB_OK;
}

int iocb_wl_builder_add_json(struct iocb_wl_builder *b, const char *id, const char *file, const char *buf,
			     size_t len, const struct iocb_wl_select *sel, bool *added, struct iocb_err *err)
{
	struct parse p = {.b = b, .index = (uint32_t)b->lists.n};
	char why[400] = "";
	int rc = IOCB_OK;
	if (added)
		*added = false;
	p.mark[0] = b->pool.n;
	for (size_t i = 0; i < 3; i++)
		p.mark[1 + i] = b->items[i].n;
	p.mark[4] = b->nets.n;
	p.mark[5] = b->res.n;
	p.l.id = iocb_xstrdup(id);
	p.l.file = iocb_xstrdup(file ? file : id);
	const struct iocb_wl_list *have = b->lists.v;
	for (size_t i = 0; i < b->lists.n; i++)
		if (strcmp(have[i].id, id) == 0) {
			rc = iocb_err_set(err, IOCB_EEXIST, "%s: a list named '%s' is already loaded (from %s)", p.l.file,
					  id, have[i].file);
			goto out;
		}
	if (b->lists.n >= IOCB_WL_MAX_LISTS) {
		rc = iocb_err_set(err, IOCB_ELIMIT, "%s: more than %d lists", p.l.file, IOCB_WL_MAX_LISTS);
		goto out;
	}
	rc = parse_doc(&p, buf, len, why, sizeof(why));
	if (rc == IOCB_OK && !selected(&p.l, sel))
		goto out;
	if (rc == IOCB_OK) {
		/* Second pass over `list`, now that `type` says how to read the entries. */
		struct iocb_err jerr = {0};
		struct iocb_json_parser jp;
		iocb_json_init(&jp, buf + p.list_off, len - p.list_off, 16, true);
		rc = parse_list(&p, &jp, p.list_off, why, sizeof(why), &jerr);
		if (rc < 0 && !why[0])
			snprintf(why, sizeof(why), "%.380s", jerr.msg);
	}
	if (rc < 0) {
		rollback(&p);
		iocb_err_set(err, rc, "%s: %s", p.l.file, why);
		goto out;
	}
	*(struct iocb_wl_list *)iocb_wl__vec_push(&b->lists, sizeof(p.l)) = p.l;
	memset(&p.l, 0, sizeof(p.l));
	if (added)
		*added = true;
out:
	list_fini(&p.l);
	return rc;
}

/* ------------------------------------------------------------ files */

static int add_file(struct iocb_wl_builder *b, const char *id, const char *path, const struct iocb_wl_select *sel,
		    iocb_wl_skip_cb skip, void *ud, struct iocb_wl_load_stats *st)
{
	struct iocb_file_map m = {0};
	struct iocb_err e = {0};
	bool added = false;
	st->files++;
	int rc = iocb_file_map(path, IOCB_WL_MAX_FILE, &m, &e);
	if (rc == IOCB_OK) {
		rc = iocb_wl_builder_add_json(b, id, path, m.data, m.len, sel, &added, &e);
		iocb_file_unmap(&m);
	}
	if (rc == IOCB_ELIMIT && b->lists.n >= IOCB_WL_MAX_LISTS)
		return rc;
	if (rc < 0) {
		st->skipped++;
		if (skip)
			skip(ud, path, e.msg);
		return IOCB_OK;
	}
	if (added) {
		const struct iocb_wl_list *l = b->lists.v;
		st->loaded++;
		st->entries += l[b->lists.n - 1].entries;
	}
	return IOCB_OK;
}

static bool is_dir(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool is_file(const char *p)
{
	struct stat sb;
	return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int dot_filter(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* A directory of <id>/list.json and <id>.json (schema.json, upstream's schema, is not a list). */
static int add_dir(struct iocb_wl_builder *b, const char *dir, const struct iocb_wl_select *sel,
		   iocb_wl_skip_cb skip, void *ud, struct iocb_wl_load_stats *st, struct iocb_err *err)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, dot_filter, alphasort);
	if (n < 0)
		return iocb_err_set(err, IOCB_EIO, "%s: %s", dir, strerror(errno));
	int rc = IOCB_OK;
	char path[4096];
	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		size_t nl = strlen(name);
		if (rc < 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s/list.json", dir, name) < (int)sizeof(path) && is_file(path)) {
			rc = add_file(b, name, path, sel, skip, ud, st);
			continue;
		}
		if (nl <= 5 || strcmp(name + nl - 5, ".json") != 0 || strcmp(name, "schema.json") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) || !is_file(path))
			continue;
		char id[256];
		snprintf(id, sizeof(id), "%.*s", (int)(nl - 5), name);
		rc = add_file(b, id, path, sel, skip, ud, st);
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	if (rc < 0)
		iocb_err_set(err, rc, "%s: more than %d lists", dir, IOCB_WL_MAX_LISTS);
	return rc;
}

int iocb_wl_builder_add_path(struct iocb_wl_builder *b, const char *path, const struct iocb_wl_select *sel,
			     iocb_wl_skip_cb skip, void *ud, struct iocb_wl_load_stats *st, struct iocb_err *err)
{
	struct iocb_wl_load_stats dummy = {0};
	if (!st)
		st = &dummy;
	if (is_dir(path)) {
		char lists[4096];
		if (snprintf(lists, sizeof(lists), "%s/lists", path) < (int)sizeof(lists) && is_dir(lists))
			return add_dir(b, lists, sel, skip, ud, st, err); /* a checkout of misp-warninglists */
		return add_dir(b, path, sel, skip, ud, st, err);
	}
	if (!is_file(path))
		return iocb_err_set(err, IOCB_ENOTFOUND, "%s: no such file or directory", path);
	/* One file: lists/<id>/list.json takes its directory's name, <id>.json its stem. */
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	char id[256];
	if (strcmp(base, "list.json") == 0 && base > path + 1) {
		const char *e = base - 1, *s = e;
		while (s > path && s[-1] != '/')
			s--;
		snprintf(id, sizeof(id), "%.*s", (int)(e - s), s);
	} else {
		size_t bl = strlen(base);
		if (bl > 5 && strcmp(base + bl - 5, ".json") == 0)
			bl -= 5;
		snprintf(id, sizeof(id), "%.*s", (int)bl, base);
	}
	int rc = add_file(b, id, path, sel, skip, ud, st);
	if (rc < 0)
		iocb_err_set(err, rc, "%s: more than %d lists", path, IOCB_WL_MAX_LISTS);
	return rc;
}

/* ------------------------------------------------------------ the built object */

int iocb_wl_builder_finish(struct iocb_wl_builder *b, struct iocb_wl **out, struct iocb_err *err)
{
	struct iocb_wl *w = iocb_xcalloc(1, sizeof(*w));
	iocb_wl__sets_init(&w->sets);
	w->nlists = b->lists.n;
	w->lists = b->lists.v;
	memset(&b->lists, 0, sizeof(b->lists));
	for (size_t i = 0; i < w->nlists; i++)
		w->entries += w->lists[i].entries;
	int rc = iocb_wl__build(w, b, err);
	iocb_wl_builder_free(b);
	if (rc < 0) {
		iocb_wl_free(w);
		return rc;
	}
	*out = w;
	return IOCB_OK;
}

void iocb_wl_free(struct iocb_wl *w)
{
	if (!w)
		return;
	iocb_wl__tables_free(w);
	for (size_t i = 0; i < w->nlists; i++)
		list_fini(&w->lists[i]);
	free(w->lists);
	iocb_wl__sets_fini(&w->sets);
	free(w);
}

size_t iocb_wl_count(const struct iocb_wl *w)
{
	return w ? w->nlists : 0;
}

const struct iocb_wl_list *iocb_wl_list_get(const struct iocb_wl *w, size_t i)
{
	return w && i < w->nlists ? &w->lists[i] : NULL;
}

size_t iocb_wl_entries(const struct iocb_wl *w)
{
	return w ? w->entries : 0;
}

/* ------------------------------------------------------------ policy */

void iocb_wl_policy_default(struct iocb_wl_policy *p)
{
	p->category[IOCB_WL_CAT_FALSE_POSITIVE] = IOCB_WL_ACT_SUPPRESS;
	p->category[IOCB_WL_CAT_KNOWN] = IOCB_WL_ACT_FLAG;
	p->all = IOCB_WL_ACT_NONE;
}

static enum iocb_wl_action list_action(const struct iocb_wl_list *l, const struct iocb_wl_policy *p)
{
	return p->all != IOCB_WL_ACT_NONE ? p->all : p->category[l->category];
}

enum iocb_wl_action iocb_wl_set_action(const struct iocb_wl *w, uint16_t id, const struct iocb_wl_policy *p)
{
	const uint16_t *ls;
	size_t n = iocb_wl_set_lists(w, id, &ls);
	enum iocb_wl_action a = IOCB_WL_ACT_NONE;
	for (size_t i = 0; i < n; i++) {
		enum iocb_wl_action la = list_action(&w->lists[ls[i]], p);
		if (la > a)
			a = la;
	}
	return a;
}

void iocb_wl_set_each_with(const struct iocb_wl *w, uint16_t id, const struct iocb_wl_policy *p,
			   enum iocb_wl_action act, void (*fn)(void *ud, size_t list), void *ud)
{
	const uint16_t *ls;
	size_t n = iocb_wl_set_lists(w, id, &ls);
	for (size_t i = 0; i < n; i++)
		if (list_action(&w->lists[ls[i]], p) == act)
			fn(ud, ls[i]);
}

void iocb_wl_set_names(const struct iocb_wl *w, uint16_t id, void (*emit)(void *ctx, struct iocb_str name), void *ctx)
{
	const uint16_t *ls;
	size_t n = iocb_wl_set_lists(w, id, &ls);
	for (size_t i = 0; i < n; i++)
		emit(ctx, iocb_str_c(w->lists[ls[i]].id));
}
