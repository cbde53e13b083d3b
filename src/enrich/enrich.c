/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enrichment engine: scan a line, collect mapped values, look them up,
 * splice the result into the original bytes. See enrich.h.
 *
 * A line goes through three stages, each bounded by the line's size:
 *   scan   one pass of the pull parser; values of mapped fields become
 *          candidates (offsets into the line), paired ports/hosts and the
 *          spans of existing top-level `threat` / `misp` members are noted;
 *   match  candidates are normalised per kind and looked up in the store;
 *   write  a miss is copied; a hit is the line with a few byte ranges
 *          replaced or inserted (never a re-serialisation of the event).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enrich/internal.h"
#include "json/json.h"
#include "json/scan.h"
#include "misp/misp.h"

#define MAX_CANDS 1024          /* mapped values looked up per line at most */
#define VAL_CAP 65536           /* longest value looked up (the store caps values there) */
#define NORM_CAP (2 * VAL_CAP + 64)
#define TMP_HITS 64             /* store hits examined per lookup */
#define MAX_TAGS 256            /* distinct tags written per event */
#define SCRATCH_MAX ((size_t)64 << 20)

enum { SP_THREAT = 0, SP_MISP = 1 };

struct cand {
	uint32_t off;      /* value bytes: string contents (escapes undecoded) or number text */
	uint32_t len;
	uint16_t field;
	bool escaped;
};

struct pairval {
	uint32_t off, len;
	bool escaped;
	bool set;
};

struct span {
	uint32_t start, end;
};

/* A top-level "threat" or "misp" member of the event. */
struct special {
	bool present;
	bool is_obj;
	uint32_t val_off, val_end;  /* its value */
	size_t kept0, nkept;        /* members we keep: e->kept[kept0 .. kept0+nkept) */
	size_t old0, nold;          /* threat only: existing enrichments: e->old[old0 ..) */
};

struct mhit {
	const struct iocb_store_attr *attr;
	uint16_t field;
	uint8_t mc;
	uint8_t part;
	int prefix;
	size_t atom_off, atom_len; /* matched.atomic, in e->atom */
};

struct spanv {
	struct span *v;
	size_t n, cap;
};

struct iocb_enrich {
	const struct iocb_enrich_opts *o;
	const struct iocb_enrich_map *m;
	struct iocb_enrich_stats st;
	uint64_t line_no;

	/* per line */
	const char *line;
	size_t len;
	struct cand cands[MAX_CANDS];
	size_t ncands;
	bool cands_dropped;
	struct pairval *pairs;
	unsigned markers;
	struct special sp[2];
	struct spanv kept, old, dels;
	uint32_t obj_close;
	unsigned top_members;
	uint32_t prev_end;
	char path[IOCB_ENRICH_MAX_PATH + 1];
	unsigned depth_cap;             /* JSON nesting allowed */
	struct iocb_json_lexerr lerr;   /* where the scan failed */

	/* match */
	char *val;                      /* decoded candidate value */
	char *norm;                     /* normalised / composed lookup key */
	char *hostbuf;                  /* decoded pair host */
	struct iocb_store_hit tmp[TMP_HITS];
	struct mhit *hits;
	size_t nhits;
	struct iocb_buf atom;

	/* write */
	struct iocb_buf enr, mis, misv, thr, ins;
	struct iocb_buf lout;           /* the current line's output when it differs from the input */
	char occurred[96];
};

static const char *const reject_names[IOCB_REJ__COUNT] = {"not_json", "truncated", "too_long", "not_object"};

const char *iocb_enrich_reject_name(enum iocb_enrich_reject r)
{
	return (unsigned)r < IOCB_REJ__COUNT ? reject_names[r] : "unknown";
}

void iocb_enrich_opts_default(struct iocb_enrich_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->match_type = "indicator_match_rule";
	o->provider = "misp";
	o->max_line = (size_t)1 << 20;
	o->max_hits = 32;
	o->max_depth = 64;
}

/* ------------------------------------------------------------ stats */

int iocb_enrich_stats_init(struct iocb_enrich_stats *s, const struct iocb_enrich_map *m)
{
	memset(s, 0, sizeof(*s));
	s->by_field = calloc(m->nfields ? m->nfields : 1, sizeof(uint64_t));
	s->by_type = calloc(iocb_misp_type_count(), sizeof(uint64_t));
	if (!s->by_field || !s->by_type) {
		iocb_enrich_stats_fini(s);
		return IOCB_ENOMEM;
	}
	return IOCB_OK;
}

void iocb_enrich_stats_fini(struct iocb_enrich_stats *s)
{
	free(s->by_field);
	free(s->by_type);
	s->by_field = NULL;
	s->by_type = NULL;
}

void iocb_enrich_stats_add(struct iocb_enrich_stats *dst, const struct iocb_enrich_stats *src,
			   const struct iocb_enrich_map *m)
{
	dst->lines += src->lines;
	dst->blank += src->blank;
	dst->events += src->events;
	dst->matched += src->matched;
	dst->marked += src->marked;
	dst->hits += src->hits;
	dst->hits_dropped += src->hits_dropped;
	dst->lookups += src->lookups;
	dst->bytes_in += src->bytes_in;
	dst->bytes_out += src->bytes_out;
	for (int i = 0; i < IOCB_REJ__COUNT; i++)
		dst->rejected[i] += src->rejected[i];
	for (int i = 0; i < IOCB_PRESET__COUNT; i++)
		dst->by_preset[i] += src->by_preset[i];
	for (size_t i = 0; i < m->nfields; i++)
		dst->by_field[i] += src->by_field[i];
	for (size_t i = 0; i < iocb_misp_type_count(); i++)
		dst->by_type[i] += src->by_type[i];
	/* Workers see blocks out of order: keep the earliest line's message. */
	if (src->first_reject[0] && (!dst->first_reject[0] || src->first_reject_line < dst->first_reject_line)) {
		memcpy(dst->first_reject, src->first_reject, sizeof(dst->first_reject));
		dst->first_reject_line = src->first_reject_line;
	}
}

const struct iocb_enrich_stats *iocb_enrich_stats(const struct iocb_enrich *e)
{
	return &e->st;
}

static void note_reject(struct iocb_enrich *e, enum iocb_enrich_reject r, const char *detail)
{
	e->st.rejected[r]++;
	if (!e->st.first_reject[0]) {
		e->st.first_reject_line = e->line_no;
		snprintf(e->st.first_reject, sizeof(e->st.first_reject), "line %llu: %s%s%s",
			 (unsigned long long)e->line_no, reject_names[r], detail ? ": " : "", detail ? detail : "");
	}
}

void iocb_enrich_count_reject(struct iocb_enrich *e, enum iocb_enrich_reject r, uint64_t line_no, uint64_t bytes)
{
	e->line_no = line_no;
	e->st.lines++;
	e->st.bytes_in += bytes;
	note_reject(e, r, NULL);
}

/* ------------------------------------------------------------ life */

struct iocb_enrich *iocb_enrich_new(const struct iocb_enrich_opts *opts)
{
	struct iocb_enrich *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->o = opts;
	e->m = opts->map;
	e->depth_cap = opts->max_depth ? opts->max_depth : 64;
	if (e->depth_cap > 256)
		e->depth_cap = 256; /* the scanner recurses once per level */
	if (e->depth_cap < 4)
		e->depth_cap = 4;
	e->pairs = calloc(e->m->npairs ? e->m->npairs : 1, sizeof(*e->pairs));
	e->val = malloc(VAL_CAP);
	e->norm = malloc(NORM_CAP);
	e->hostbuf = malloc(VAL_CAP);
	e->hits = calloc(opts->max_hits ? opts->max_hits : 1, sizeof(*e->hits));
	iocb_buf_init(&e->atom, SCRATCH_MAX);
	iocb_buf_init(&e->enr, SCRATCH_MAX);
	iocb_buf_init(&e->mis, SCRATCH_MAX);
	iocb_buf_init(&e->misv, SCRATCH_MAX);
	iocb_buf_init(&e->lout, SCRATCH_MAX);
	iocb_buf_init(&e->thr, SCRATCH_MAX);
	iocb_buf_init(&e->ins, SCRATCH_MAX);
	if (!e->pairs || !e->val || !e->norm || !e->hostbuf || !e->hits ||
	    iocb_enrich_stats_init(&e->st, e->m) < 0) {
		iocb_enrich_free(e);
		return NULL;
	}
	return e;
}

void iocb_enrich_free(struct iocb_enrich *e)
{
	if (!e)
		return;
	iocb_enrich_stats_fini(&e->st);
	free(e->pairs);
	free(e->val);
	free(e->norm);
	free(e->hostbuf);
	free(e->hits);
	free(e->kept.v);
	free(e->old.v);
	free(e->dels.v);
	iocb_buf_fini(&e->atom);
	iocb_buf_fini(&e->enr);
	iocb_buf_fini(&e->mis);
	iocb_buf_fini(&e->misv);
	iocb_buf_fini(&e->lout);
	iocb_buf_fini(&e->thr);
	iocb_buf_fini(&e->ins);
	free(e);
}

static int spanv_push(struct spanv *v, size_t start, size_t end)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? 2 * v->cap : 16;
		struct span *nv = realloc(v->v, cap * sizeof(*nv));
		if (!nv)
			return IOCB_ENOMEM;
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n].start = (uint32_t)start;
	v->v[v->n].end = (uint32_t)end;
	v->n++;
	return IOCB_OK;
}

/* ------------------------------------------------------------ scan */

/*
 * The scanner: recursive descent over the line with the json module's
 * lexical primitives (json/scan.h), so it accepts exactly what the pull
 * parser accepts but makes no tokens; values no mapped path goes through
 * are validated and skipped in one tight loop. Each function takes the index
 * of its first byte and returns the index past what it consumed, or -1 with
 * e->lerr set.
 */
#define LEX_FAIL(e, at, what) (iocb_json__fail(&(e)->lerr, (at), (what)), (ptrdiff_t)-1)

static ptrdiff_t rd_obj(struct iocb_enrich *e, size_t i, size_t plen, unsigned depth);

static void note_value(struct iocb_enrich *e, const struct iocb_enrich__entry *ent, size_t off, size_t len,
		       bool escaped)
{
	if (ent->flags & IOCB_EF_FIELD) {
		if (e->ncands == MAX_CANDS) {
			e->cands_dropped = true;
		} else {
			struct cand *c = &e->cands[e->ncands++];
			c->off = (uint32_t)off;
			c->len = (uint32_t)len;
			c->field = (uint16_t)ent->field;
			c->escaped = escaped;
		}
	}
	if ((ent->flags & IOCB_EF_PAIR) && !e->pairs[ent->pair_slot].set) {
		struct pairval *pv = &e->pairs[ent->pair_slot];
		pv->off = (uint32_t)off;
		pv->len = (uint32_t)len;
		pv->escaped = escaped;
		pv->set = true;
	}
}

/* A value at b[i] (not whitespace) under path entry `ent` (NULL: nothing mapped below). */
static ptrdiff_t rd_value(struct iocb_enrich *e, size_t i, const struct iocb_enrich__entry *ent, size_t plen,
			  unsigned depth)
{
	const char *b = e->line;
	size_t n = e->len, j;
	bool escaped;

	if (i >= n)
		return LEX_FAIL(e, i, "unexpected end of input, expected a value");
	if (!ent) {
		if (iocb_json_lex_skip(b, i, n, e->depth_cap - depth, &j, &e->lerr) < 0)
			return -1;
		return (ptrdiff_t)j;
	}
	e->markers |= ent->marker;
	switch (b[i]) {
	case '{':
		if (!(ent->flags & IOCB_EF_PREFIX))
			break;
		if (depth >= e->depth_cap)
			return LEX_FAIL(e, i, iocb_json__depth_msg);
		return rd_obj(e, i + 1, plen, depth + 1);
	case '[':
		if (depth >= e->depth_cap)
			return LEX_FAIL(e, i, iocb_json__depth_msg);
		/* Arrays keep their path: each element is looked up (or descended into). */
		i = iocb_json_lex_ws(b, i + 1, n);
		if (i < n && b[i] == ']')
			return (ptrdiff_t)(i + 1);
		for (;;) {
			ptrdiff_t r = rd_value(e, i, ent, plen, depth + 1);
			if (r < 0)
				return r;
			i = iocb_json_lex_ws(b, (size_t)r, n);
			if (i >= n)
				return LEX_FAIL(e, i, "unexpected end of input");
			if (b[i] == ']')
				return (ptrdiff_t)(i + 1);
			if (b[i] != ',')
				return LEX_FAIL(e, i, "expected ',' or ']'");
			i = iocb_json_lex_ws(b, i + 1, n);
		}
	case '"':
		if (iocb_json_lex_str(b, i, n, &j, &escaped, &e->lerr) < 0)
			return -1;
		note_value(e, ent, i + 1, j - i - 2, escaped);
		return (ptrdiff_t)j;
	case 't':
	case 'f':
	case 'n':
		break;
	default:
		if (iocb_json_lex_num(b, i, n, &j, &e->lerr) < 0)
			return -1;
		note_value(e, ent, i, j - i, false);
		return (ptrdiff_t)j;
	}
	if (iocb_json_lex_skip(b, i, n, e->depth_cap - depth, &j, &e->lerr) < 0)
		return -1;
	return (ptrdiff_t)j;
}

/* Is the key at b[i] (a string, already lexed to j) one of `names`? Escapes decoded. */
static bool key_is(struct iocb_enrich *e, size_t i, size_t j, bool escaped, const char *name)
{
	struct iocb_json_tok t = {.type = IOCB_JSON_KEY, .s = {e->line + i + 1, j - i - 2}, .escaped = escaped};

	return iocb_json_tok_eq(&t, name);
}

/* An existing top-level "threat" / "misp" value at b[i]: note what we keep and what we replace. */
static ptrdiff_t rd_special(struct iocb_enrich *e, size_t i, int which)
{
	static const char *const misp_ours[] = {"hit", "tag", "eventinfo", "attributes"};
	const char *b = e->line;
	size_t n = e->len, j, k;
	unsigned dl = e->depth_cap - 1; /* the value is at depth 2 */
	struct special *s = &e->sp[which];
	bool escaped;

	s->present = true;
	s->val_off = (uint32_t)i;
	s->kept0 = e->kept.n;
	s->old0 = e->old.n;
	if (i >= n || b[i] != '{') {
		if (iocb_json_lex_skip(b, i, n, dl, &j, &e->lerr) < 0)
			return -1;
		s->val_end = (uint32_t)j;
		return (ptrdiff_t)j;
	}
	s->is_obj = true;
	i = iocb_json_lex_ws(b, i + 1, n);
	if (i < n && b[i] == '}')
		goto done;
	for (;;) {
		size_t mstart = i;
		bool ours = false;

		if (i >= n || b[i] != '"')
			return LEX_FAIL(e, i, i >= n ? "unexpected end of input, expected a key" : "expected a string key");
		if (iocb_json_lex_str(b, i, n, &j, &escaped, &e->lerr) < 0)
			return -1;
		if (which == SP_THREAT) {
			ours = key_is(e, i, j, escaped, "enrichments");
		} else {
			for (size_t m = 0; m < sizeof(misp_ours) / sizeof(misp_ours[0]) && !ours; m++)
				ours = key_is(e, i, j, escaped, misp_ours[m]);
		}
		i = iocb_json_lex_ws(b, j, n);
		if (i >= n || b[i] != ':')
			return LEX_FAIL(e, i, "expected ':' after key");
		i = iocb_json_lex_ws(b, i + 1, n);
		if (ours && which == SP_THREAT && i < n && b[i] == '[') {
			/* Keep the existing enrichments as they are: ours are appended after them. */
			i = iocb_json_lex_ws(b, i + 1, n);
			if (i < n && b[i] == ']') {
				j = i + 1;
			} else {
				for (;;) {
					if (iocb_json_lex_skip(b, i, n, dl - 2, &k, &e->lerr) < 0)
						return -1;
					if (spanv_push(&e->old, i, k) < 0)
						return LEX_FAIL(e, i, "out of memory");
					i = iocb_json_lex_ws(b, k, n);
					if (i < n && b[i] == ']')
						break;
					if (i >= n || b[i] != ',')
						return LEX_FAIL(e, i, i >= n ? "unexpected end of input" : "expected ',' or ']'");
					i = iocb_json_lex_ws(b, i + 1, n);
				}
				j = i + 1;
			}
		} else {
			if (iocb_json_lex_skip(b, i, n, dl - 1, &j, &e->lerr) < 0)
				return -1;
			/* A single enrichment object (not an array) becomes the first element. */
			if (ours && which == SP_THREAT && b[i] == '{' && spanv_push(&e->old, i, j) < 0)
				return LEX_FAIL(e, i, "out of memory");
			if (!ours && spanv_push(&e->kept, mstart, j) < 0)
				return LEX_FAIL(e, i, "out of memory");
		}
		i = iocb_json_lex_ws(b, j, n);
		if (i < n && b[i] == '}')
			break;
		if (i >= n || b[i] != ',')
			return LEX_FAIL(e, i, i >= n ? "unexpected end of input" : "expected ',' or '}'");
		i = iocb_json_lex_ws(b, i + 1, n);
	}
done:
	s->val_end = (uint32_t)(i + 1);
	s->nkept = e->kept.n - s->kept0;
	s->nold = e->old.n - s->old0;
	return (ptrdiff_t)(i + 1);
}

/* The members of an object whose '{' was at b[i-1], at path e->path[0..plen). */
static ptrdiff_t rd_obj(struct iocb_enrich *e, size_t i, size_t plen, unsigned depth)
{
	const char *b = e->line;
	size_t n = e->len, j;
	bool escaped;

	i = iocb_json_lex_ws(b, i, n);
	if (i < n && b[i] == '}')
		goto close;
	for (;;) {
		const struct iocb_enrich__entry *ent = NULL;
		size_t nlen = plen, klen;
		bool ok = true;
		ptrdiff_t r;

		if (i >= n || b[i] != '"')
			return LEX_FAIL(e, i, i >= n ? "unexpected end of input, expected a key" : "expected a string key");
		if (iocb_json_lex_str(b, i, n, &j, &escaped, &e->lerr) < 0)
			return -1;
		/* The dotted path: flat keys ("id.orig_h") and nested objects read the same. */
		klen = j - i - 2;
		if (plen)
			e->path[nlen++] = '.';
		if (nlen >= IOCB_ENRICH_MAX_PATH) {
			ok = false;
		} else if (!escaped) {
			if (nlen + klen > IOCB_ENRICH_MAX_PATH) {
				ok = false;
			} else {
				memcpy(e->path + nlen, b + i + 1, klen);
				nlen += klen;
			}
		} else {
			struct iocb_json_tok t = {.type = IOCB_JSON_KEY, .s = {b + i + 1, klen}, .escaped = true};
			size_t dl;
			if (iocb_json_unescape(&t, e->path + nlen, IOCB_ENRICH_MAX_PATH - nlen, &dl) < 0)
				ok = false;
			else
				nlen += dl;
		}
		if (ok)
			ent = iocb_enrich__find(e->m, iocb_enrich__hash(e->path, nlen), e->path, nlen);
		i = iocb_json_lex_ws(b, j, n);
		if (i >= n || b[i] != ':')
			return LEX_FAIL(e, i, "expected ':' after key");
		i = iocb_json_lex_ws(b, i + 1, n);
		if (depth > 1) {
			r = rd_value(e, i, ent, nlen, depth);
		} else {
			/* Top level: existing threat / misp members are merged into, duplicates deleted. */
			int which = -1;
			if (ok && nlen == 6 && memcmp(e->path, "threat", 6) == 0)
				which = SP_THREAT;
			else if (ok && nlen == 4 && memcmp(e->path, "misp", 4) == 0)
				which = SP_MISP;
			if (which >= 0 && e->sp[which].present) {
				r = rd_value(e, i, NULL, nlen, depth);
				if (r >= 0 && spanv_push(&e->dels, e->prev_end, (size_t)r) < 0)
					return LEX_FAIL(e, i, "out of memory");
			} else if (which >= 0) {
				r = rd_special(e, i, which);
			} else {
				r = rd_value(e, i, ent, nlen, depth);
			}
			if (r >= 0) {
				e->prev_end = (uint32_t)r;
				e->top_members++;
			}
		}
		if (r < 0)
			return r;
		i = iocb_json_lex_ws(b, (size_t)r, n);
		if (i < n && b[i] == '}')
			break;
		if (i >= n || b[i] != ',')
			return LEX_FAIL(e, i, i >= n ? "unexpected end of input" : "expected ',' or '}'");
		i = iocb_json_lex_ws(b, i + 1, n);
	}
close:
	if (depth == 1)
		e->obj_close = (uint32_t)i;
	return (ptrdiff_t)(i + 1);
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* Scan the line. Returns 0, or 1 + reject reason. */
static int scan_line(struct iocb_enrich *e)
{
	const char *b = e->line;
	size_t n = e->len, i, j;
	ptrdiff_t r;
	char msg[200];

	e->ncands = 0;
	e->cands_dropped = false;
	e->markers = 0;
	memset(e->sp, 0, sizeof(e->sp));
	e->kept.n = e->old.n = e->dels.n = 0;
	e->top_members = 0;
	e->prev_end = 0;
	for (size_t k = 0; k < e->m->npairs; k++)
		e->pairs[k].set = false;

	i = iocb_json_lex_ws(b, 0, n);
	if (i < n && b[i] == '{') {
		r = rd_obj(e, i + 1, 0, 1);
	} else if (iocb_json_lex_skip(b, i, n, e->depth_cap, &j, &e->lerr) == 0) {
		r = (ptrdiff_t)j;
		if (iocb_json_lex_ws(b, j, n) == n) {
			note_reject(e, IOCB_REJ_NOT_OBJECT, NULL);
			return 1 + IOCB_REJ_NOT_OBJECT;
		}
	} else {
		r = -1;
	}
	if (r >= 0) {
		i = iocb_json_lex_ws(b, (size_t)r, n);
		if (i == n)
			return 0;
		iocb_json__fail(&e->lerr, i, "unexpected data after the JSON value");
	}
	/* Truncated: the scanner ran out of input (a cut line) rather than met a wrong byte. */
	bool cut = e->lerr.at >= n || strstr(e->lerr.what, "end of input") || strstr(e->lerr.what, "unterminated");
	enum iocb_enrich_reject why = cut ? IOCB_REJ_TRUNCATED : IOCB_REJ_NOT_JSON;
	snprintf(msg, sizeof(msg), "byte %zu: %s", e->lerr.at, e->lerr.what);
	note_reject(e, why, msg);
	return 1 + (int)why;
}

/* ------------------------------------------------------------ match */

static int add_hit(struct iocb_enrich *e, const struct iocb_store_hit *h, const struct cand *c, const char *atom,
		   size_t atom_len)
{
	for (size_t i = 0; i < e->nhits; i++)
		if (e->hits[i].attr == h->attr && e->hits[i].field == c->field)
			return IOCB_OK;
	if (e->nhits >= e->o->max_hits) {
		e->st.hits_dropped++;
		return IOCB_OK;
	}
	struct mhit *m = &e->hits[e->nhits];
	m->attr = h->attr;
	m->field = c->field;
	m->mc = (uint8_t)h->mc;
	m->part = (uint8_t)h->part;
	m->prefix = h->prefix;
	m->atom_off = e->atom.len;
	m->atom_len = atom_len;
	if (iocb_buf_append(&e->atom, atom, atom_len) < 0)
		return IOCB_ENOMEM;
	e->nhits++;
	return IOCB_OK;
}

static bool parse_port(const char *s, size_t n, uint64_t *out)
{
	return iocb_str_to_u64(iocb_str_make(s, n), out) && *out <= 65535;
}

/* An ip|port indicator must agree with the event's paired port, when there is one. */
static bool port_agrees(struct iocb_enrich *e, const struct cand *c, const struct iocb_store_hit *h)
{
	const struct iocb_enrich__field *f = &e->m->fields[c->field];
	struct iocb_store_attr_view v;
	uint64_t want, got;

	iocb_store_attr_view(h->attr, &v);
	if (!v.type || !v.type->composite || v.type->mc[1] != IOCB_MC_PORT || h->part != 0 || v.nparts < 2)
		return true;
	if (f->pair_slot < 0 || !e->pairs[f->pair_slot].set)
		return true;
	const struct pairval *pv = &e->pairs[f->pair_slot];
	if (!parse_port(e->line + pv->off, pv->len, &got) || !parse_port(v.part[1].ptr, v.part[1].len, &want))
		return true;
	return got == want;
}

enum filt { F_NONE, F_PORT, F_PARENT };

static bool parent_type_ok(const struct iocb_store_hit *h)
{
	struct iocb_store_attr_view v;

	iocb_store_attr_view(h->attr, &v);
	return h->part == 0 && v.type &&
	       (strcmp(v.type->name, "domain") == 0 || strcmp(v.type->name, "domain|ip") == 0);
}

static int take_hits(struct iocb_enrich *e, const struct cand *c, size_t n, enum filt filt, const char *atom,
		     size_t atom_len)
{
	if (n > TMP_HITS)
		n = TMP_HITS;
	for (size_t i = 0; i < n; i++) {
		const struct iocb_store_hit *h = &e->tmp[i];
		if (filt == F_PORT && !port_agrees(e, c, h))
			continue;
		if (filt == F_PARENT && !parent_type_ok(h))
			continue;
		int rc = add_hit(e, h, c, atom, atom_len);
		if (rc < 0)
			return rc;
	}
	return IOCB_OK;
}

static int lookup_str(struct iocb_enrich *e, const struct cand *c, enum iocb_match_class mc, const char *key,
		      size_t klen, enum filt filt, const char *atom, size_t atom_len)
{
	size_t n;

	if (klen == 0)
		return IOCB_OK;
	e->st.lookups++;
	n = iocb_store_lookup(e->o->store, mc, iocb_str_make(key, klen), e->tmp, TMP_HITS);
	return n ? take_hits(e, c, n, filt, atom, atom_len) : IOCB_OK;
}

/* Dotted-quad IPv4 exactly as inet_pton accepts it (no leading zeros), without the copy. */
static bool parse_ip4(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0;

	for (int k = 0; k < 4; k++) {
		unsigned v = 0, digits = 0;
		if (k && (i >= n || s[i++] != '.'))
			return false;
		while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i++] - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && s[i - digits] == '0'))
			return false;
		out[k] = (uint8_t)v;
	}
	return i == n;
}

/* Parse an address (brackets, an IPv6 zone and surrounding blanks tolerated). */
static bool parse_ip(const char *s, size_t n, uint8_t addr[16], bool *v6)
{
	char buf[64];

	if (n >= 7 && n <= 15 && parse_ip4(s, n, addr)) {
		*v6 = false;
		return true;
	}
	while (n && (*s == ' ' || *s == '['))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == ']'))
		n--;
	const char *pct = memchr(s, '%', n);
	if (pct)
		n = (size_t)(pct - s);
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (memchr(buf, ':', n)) {
		*v6 = true;
		return inet_pton(AF_INET6, buf, addr) == 1;
	}
	*v6 = false;
	return inet_pton(AF_INET, buf, addr) == 1;
}

static int lookup_ip_bytes(struct iocb_enrich *e, const struct cand *c, const uint8_t *addr, bool v6, const char *atom,
			   size_t atom_len)
{
	size_t n;
	int rc;

	e->st.lookups++;
	n = iocb_store_lookup_ip(e->o->store, addr, v6, e->tmp, TMP_HITS);
	rc = n ? take_hits(e, c, n, F_PORT, atom, atom_len) : IOCB_OK;
	if (rc == IOCB_OK && v6 && memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		/* An IPv4-mapped address also matches the IPv4 indicator. */
		e->st.lookups++;
		n = iocb_store_lookup_ip(e->o->store, addr + 12, false, e->tmp, TMP_HITS);
		rc = n ? take_hits(e, c, n, F_PORT, atom, atom_len) : IOCB_OK;
	}
	return rc;
}

static int lookup_norm(struct iocb_enrich *e, const struct cand *c, enum iocb_norm norm, enum iocb_match_class mc,
		       const char *v, size_t n, enum filt filt)
{
	size_t olen;

	if (iocb_misp_normalize(norm, iocb_str_make(v, n), e->norm, NORM_CAP, &olen, NULL) < 0)
		return IOCB_OK;
	return lookup_str(e, c, mc, e->norm, olen, filt, v, n);
}

/* Already in MISP's normal form: lower-case LDH labels, no leading/trailing or empty labels. */
static bool domain_is_normal(const char *v, size_t n)
{
	if (n == 0 || n > 253 || v[0] == '.' || v[n - 1] == '.' || v[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = v[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		      (ch == '.' && v[i + 1] != '.')))
			return false;
	}
	return memchr(v, '.', n) != NULL;
}

static int lookup_domain(struct iocb_enrich *e, const struct cand *c, const char *v, size_t n)
{
	size_t olen;
	int rc;

	if (domain_is_normal(v, n) && n < NORM_CAP) {
		memcpy(e->norm, v, n); /* the common case skips the normaliser's copy and IDN checks */
		olen = n;
	} else if (iocb_misp_normalize(IOCB_NORM_DOMAIN, iocb_str_make(v, n), e->norm, NORM_CAP, &olen, NULL) < 0) {
		return IOCB_OK;
	}
	rc = lookup_str(e, c, IOCB_MC_DOMAIN, e->norm, olen, F_NONE, v, n);
	if (rc < 0 || !e->o->parent_domains)
		return rc;
	/* Parents with at least two labels: a.b.example.com -> b.example.com, example.com. */
	for (size_t i = 0; i < olen; i++) {
		if (e->norm[i] != '.')
			continue;
		const char *suf = e->norm + i + 1;
		size_t sl = olen - i - 1;
		if (!memchr(suf, '.', sl))
			break;
		rc = lookup_str(e, c, IOCB_MC_DOMAIN, suf, sl, F_PARENT, v, n);
		if (rc < 0)
			return rc;
	}
	return IOCB_OK;
}

/* An IP, or a host name with an optional :port. */
static int lookup_host(struct iocb_enrich *e, const struct cand *c, const char *v, size_t n)
{
	uint8_t addr[16];
	bool v6;

	if (parse_ip(v, n, addr, &v6))
		return lookup_ip_bytes(e, c, addr, v6, v, n);
	if (n && v[0] == '[') {
		const char *rb = memchr(v, ']', n);
		if (rb && parse_ip(v + 1, (size_t)(rb - v - 1), addr, &v6))
			return lookup_ip_bytes(e, c, addr, v6, v, n);
		return IOCB_OK;
	}
	const char *colon = memchr(v, ':', n);
	size_t hn = n;
	if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - v) - 1))
		hn = (size_t)(colon - v);
	if (hn < n && parse_ip(v, hn, addr, &v6))
		return lookup_ip_bytes(e, c, addr, v6, v, n);
	return lookup_domain(e, c, v, hn);
}

static const char *find_scheme_end(const char *v, size_t n)
{
	size_t lim = n < 32 ? n : 32;

	for (size_t i = 1; i + 2 < lim; i++) {
		char ch = v[i];
		if (ch == ':' && v[i + 1] == '/' && v[i + 2] == '/')
			return v + i + 3;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '+' ||
		      ch == '-' || ch == '.'))
			return NULL;
	}
	return NULL;
}

static int lookup_url(struct iocb_enrich *e, const struct cand *c, const char *v, size_t n)
{
	int rc = lookup_str(e, c, IOCB_MC_URL, v, n, F_NONE, v, n);
	const char *rest = find_scheme_end(v, n);

	/* A URL indicator written without its scheme ("evil.example/x") still matches. */
	if (rc == IOCB_OK && rest && rest < v + n)
		rc = lookup_str(e, c, IOCB_MC_URL, rest, n - (size_t)(rest - v), F_NONE, v, n);
	return rc;
}

static const char *decode(struct iocb_enrich *e, char *buf, uint32_t off, uint32_t len, bool escaped, size_t *out)
{
	struct iocb_json_tok t = {.type = IOCB_JSON_STR, .s = {e->line + off, len}, .escaped = escaped};

	if (!escaped) {
		*out = len;
		return e->line + off;
	}
	if (iocb_json_unescape(&t, buf, VAL_CAP, out) < 0)
		return NULL;
	return buf;
}

/* A request path: on its own (MISP `uri`), and as http://host/path with the paired host. */
static int lookup_uri(struct iocb_enrich *e, const struct cand *c, const char *v, size_t n)
{
	const struct iocb_enrich__field *f = &e->m->fields[c->field];
	int rc;

	if (find_scheme_end(v, n))
		return lookup_url(e, c, v, n);
	rc = lookup_str(e, c, IOCB_MC_URL, v, n, F_NONE, v, n);
	if (rc < 0 || n == 0 || v[0] != '/' || f->pair_slot < 0 || !e->pairs[f->pair_slot].set)
		return rc;
	const struct pairval *pv = &e->pairs[f->pair_slot];
	size_t hl;
	const char *host = decode(e, e->hostbuf, pv->off, pv->len, pv->escaped, &hl);
	if (!host || hl == 0 || hl + n + 8 > NORM_CAP)
		return rc;
	/* "http://" + host + path; the schemeless form is the tail of the same buffer. */
	memcpy(e->norm, "http://", 7);
	memcpy(e->norm + 7, host, hl);
	memcpy(e->norm + 7 + hl, v, n);
	size_t full = 7 + hl + n;
	rc = lookup_str(e, c, IOCB_MC_URL, e->norm, full, F_NONE, e->norm, full);
	if (rc == IOCB_OK)
		rc = lookup_str(e, c, IOCB_MC_URL, e->norm + 7, full - 7, F_NONE, e->norm, full);
	return rc;
}

/* "Name <a@b>" and "<a@b>" -> a@b */
static int lookup_email(struct iocb_enrich *e, const struct cand *c, const char *v, size_t n)
{
	const char *lt = memchr(v, '<', n);
	const char *s = v;
	size_t sn = n;

	if (lt) {
		const char *gt = memchr(lt, '>', n - (size_t)(lt - v));
		if (!gt)
			return IOCB_OK;
		s = lt + 1;
		sn = (size_t)(gt - s);
	}
	while (sn && *s == ' ')
		s++, sn--;
	while (sn && s[sn - 1] == ' ')
		sn--;
	if (!memchr(s, '@', sn))
		return IOCB_OK;
	size_t olen;
	if (iocb_misp_normalize(IOCB_NORM_LOWER, iocb_str_make(s, sn), e->norm, NORM_CAP, &olen, NULL) < 0)
		return IOCB_OK;
	return lookup_str(e, c, IOCB_MC_EMAIL, e->norm, olen, F_NONE, v, n);
}

static int lookup_hex(struct iocb_enrich *e, const struct cand *c, enum iocb_match_class mc, const char *v, size_t n)
{
	if (n > NORM_CAP)
		return IOCB_OK;
	for (size_t i = 0; i < n; i++) {
		char ch = v[i];
		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch + 32);
		else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return IOCB_OK; /* not a hex digest: nothing can match */
		e->norm[i] = ch;
	}
	return lookup_str(e, c, mc, e->norm, n, F_NONE, v, n);
}

static int match_cand(struct iocb_enrich *e, const struct cand *c)
{
	const struct iocb_enrich__field *f = &e->m->fields[c->field];
	size_t n;
	const char *v = decode(e, e->val, c->off, c->len, c->escaped, &n);
	uint8_t addr[16];
	bool v6;

	if (!v || n == 0)
		return IOCB_OK;
	switch (f->kind) {
	case IOCB_EK_IP:
		if (!parse_ip(v, n, addr, &v6))
			return IOCB_OK;
		return lookup_ip_bytes(e, c, addr, v6, v, n);
	case IOCB_EK_HOST:
		return lookup_host(e, c, v, n);
	case IOCB_EK_DOMAIN:
		return lookup_domain(e, c, v, n);
	case IOCB_EK_URL:
		return lookup_url(e, c, v, n);
	case IOCB_EK_URI:
		return lookup_uri(e, c, v, n);
	case IOCB_EK_HASH:
		return lookup_hex(e, c, IOCB_MC_HASH, v, n);
	case IOCB_EK_TLS_FP:
		return lookup_norm(e, c, IOCB_NORM_LOWER, IOCB_MC_TLS_FP, v, n, F_NONE);
	case IOCB_EK_X509:
		return lookup_norm(e, c, IOCB_NORM_X509, IOCB_MC_X509, v, n, F_NONE);
	case IOCB_EK_EMAIL:
		return lookup_email(e, c, v, n);
	case IOCB_EK_USER_AGENT:
		return lookup_str(e, c, IOCB_MC_USER_AGENT, v, n, F_NONE, v, n);
	case IOCB_EK_ASN:
		return lookup_norm(e, c, IOCB_NORM_ASN, IOCB_MC_ASN, v, n, F_NONE);
	case IOCB_EK_MAC:
		return lookup_norm(e, c, IOCB_NORM_MAC, IOCB_MC_MAC, v, n, F_NONE);
	case IOCB_EK_FILENAME:
		return lookup_str(e, c, IOCB_MC_FILENAME, v, n, F_NONE, v, n);
	default:
		return IOCB_OK;
	}
}

/* Which preset this line is, from its marker keys (auto); IOCB_PRESET_AUTO if unclear. */
static enum iocb_enrich_preset line_preset(const struct iocb_enrich *e)
{
	switch (e->markers) {
	case 1u << IOCB_PRESET_ECS:
		return IOCB_PRESET_ECS;
	case 1u << IOCB_PRESET_SURICATA:
		return IOCB_PRESET_SURICATA;
	case 1u << IOCB_PRESET_ZEEK:
		return IOCB_PRESET_ZEEK;
	default:
		return IOCB_PRESET_AUTO;
	}
}

static int match_line(struct iocb_enrich *e)
{
	enum iocb_enrich_preset lp = IOCB_PRESET_AUTO;
	int rc;

	e->nhits = 0;
	iocb_buf_reset(&e->atom);
	if (e->m->auto_detect) {
		lp = line_preset(e);
		e->st.by_preset[lp]++;
	} else {
		e->st.by_preset[e->m->preset]++;
	}
	for (size_t i = 0; i < e->ncands; i++) {
		const struct cand *c = &e->cands[i];
		if (e->m->auto_detect && lp != IOCB_PRESET_AUTO && !(e->m->fields[c->field].presets & (1u << lp)))
			continue;
		rc = match_cand(e, c);
		if (rc < 0)
			return rc;
	}
	return IOCB_OK;
}

/* ------------------------------------------------------------ write */

static void iso_time(char *out, size_t cap, int64_t sec, int ms)
{
	struct tm tm;
	time_t t = (time_t)sec;

	if (!gmtime_r(&t, &tm)) {
		snprintf(out, cap, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static void iso_time_us(char *out, size_t cap, int64_t us)
{
	int64_t sec = us / 1000000, rem = us % 1000000;

	if (rem < 0) {
		rem += 1000000;
		sec--;
	}
	iso_time(out, cap, sec, (int)(rem / 1000));
}

static void set_occurred(struct iocb_enrich *e)
{
	struct timespec ts;

	if (e->o->occurred) {
		snprintf(e->occurred, sizeof(e->occurred), "%s", e->o->occurred);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	iso_time(e->occurred, sizeof(e->occurred), (int64_t)ts.tv_sec, (int)(ts.tv_nsec / 1000000));
}

static bool starts_tlp(struct iocb_str t)
{
	return t.len > 4 && (t.ptr[0] | 32) == 't' && (t.ptr[1] | 32) == 'l' && (t.ptr[2] | 32) == 'p' && t.ptr[3] == ':';
}

static struct iocb_str find_tlp(const struct iocb_store_attr *a, const struct iocb_store_attr_view *av,
				const struct iocb_store_event_view *ev)
{
	for (size_t i = 0; i < av->ntags; i++) {
		struct iocb_str t = iocb_store_attr_tag(a, i);
		if (starts_tlp(t))
			return iocb_str_make(t.ptr + 4, t.len - 4);
	}
	for (size_t i = 0; ev && i < ev->ntags; i++) {
		struct iocb_str t = iocb_store_event_tag(av->event, i);
		if (starts_tlp(t))
			return iocb_str_make(t.ptr + 4, t.len - 4);
	}
	return IOCB_STR_NULL;
}

/* The ECS leaves an attribute's parts go to. */
struct leaves {
	struct iocb_str ip, url_domain, url_full, file_name, hash, imphash, email, mac;
	char hash_algo[32];
	uint64_t port, asn;
	bool has_port, has_asn;
};

static void hash_algo(const struct iocb_misp_type *t, char *out, size_t cap)
{
	const char *bar = strchr(t->name, '|');

	snprintf(out, cap, "%s", bar ? bar + 1 : t->name);
}

static void collect_leaves(const struct iocb_store_attr_view *av, struct leaves *l)
{
	memset(l, 0, sizeof(*l));
	for (unsigned i = 0; i < av->nparts && i < 2; i++) {
		struct iocb_str v = av->part[i];
		switch (av->type->mc[i]) {
		case IOCB_MC_IP:
			if (av->prefix[i] < 0)
				l->ip = v;
			break;
		case IOCB_MC_PORT:
			l->has_port = iocb_str_to_u64(v, &l->port);
			break;
		case IOCB_MC_DOMAIN:
			l->url_domain = v;
			break;
		case IOCB_MC_URL:
			l->url_full = v;
			break;
		case IOCB_MC_FILENAME:
			l->file_name = v;
			break;
		case IOCB_MC_HASH:
			hash_algo(av->type, l->hash_algo, sizeof(l->hash_algo));
			if (strcmp(l->hash_algo, "imphash") == 0)
				l->imphash = v;
			else
				l->hash = v;
			break;
		case IOCB_MC_EMAIL:
			l->email = v;
			break;
		case IOCB_MC_ASN:
			l->has_asn = iocb_str_to_u64(v, &l->asn);
			break;
		case IOCB_MC_MAC:
			l->mac = v;
			break;
		default:
			break;
		}
	}
}

static const char *stix_type(enum iocb_match_class mc, struct iocb_str part)
{
	switch (mc) {
	case IOCB_MC_IP:
		return memchr(part.ptr, ':', part.len) ? "ipv6-addr" : "ipv4-addr";
	case IOCB_MC_DOMAIN:
		return "domain-name";
	case IOCB_MC_URL:
		return "url";
	case IOCB_MC_HASH:
	case IOCB_MC_FILENAME:
		return "file";
	case IOCB_MC_EMAIL:
		return "email-addr";
	case IOCB_MC_X509:
		return "x509-certificate";
	case IOCB_MC_ASN:
		return "autonomous-system";
	case IOCB_MC_MAC:
		return "mac-addr";
	default:
		return NULL;
	}
}

static void jw_str_or_null(struct iocb_jw *w, struct iocb_str s)
{
	if (s.len)
		iocb_jw_str(w, s);
	else
		iocb_jw_null(w);
}

static void write_indicator(struct iocb_enrich *e, struct iocb_jw *w, const struct mhit *h,
			    const struct iocb_store_attr_view *av, const struct iocb_store_event_view *ev)
{
	struct leaves l;
	char ts[96];
	const char *type = stix_type((enum iocb_match_class)h->mc, av->part[h->part]);

	collect_leaves(av, &l);
	iocb_jw_key(w, "indicator");
	iocb_jw_obj(w);
	if (type) {
		iocb_jw_key(w, "type");
		iocb_jw_cstr(w, type);
	}
	iocb_jw_key(w, "name");
	iocb_jw_str(w, av->value);
	if (l.ip.len) {
		iocb_jw_key(w, "ip");
		iocb_jw_str(w, l.ip);
	}
	if (l.has_port) {
		iocb_jw_key(w, "port");
		iocb_jw_u64(w, l.port);
	}
	if (l.has_asn) {
		iocb_jw_key(w, "as");
		iocb_jw_obj(w);
		iocb_jw_key(w, "number");
		iocb_jw_u64(w, l.asn);
		iocb_jw_obj_end(w);
	}
	if (l.email.len) {
		iocb_jw_key(w, "email");
		iocb_jw_obj(w);
		iocb_jw_key(w, "address");
		iocb_jw_str(w, l.email);
		iocb_jw_obj_end(w);
	}
	if (l.file_name.len || l.hash.len || l.imphash.len) {
		iocb_jw_key(w, "file");
		iocb_jw_obj(w);
		if (l.file_name.len) {
			iocb_jw_key(w, "name");
			iocb_jw_str(w, l.file_name);
		}
		if (l.hash.len) {
			iocb_jw_key(w, "hash");
			iocb_jw_obj(w);
			iocb_jw_key(w, l.hash_algo);
			iocb_jw_str(w, l.hash);
			iocb_jw_obj_end(w);
		}
		if (l.imphash.len) {
			iocb_jw_key(w, "pe");
			iocb_jw_obj(w);
			iocb_jw_key(w, "imphash");
			iocb_jw_str(w, l.imphash);
			iocb_jw_obj_end(w);
		}
		iocb_jw_obj_end(w);
	}
	if (l.mac.len) {
		iocb_jw_key(w, "mac");
		iocb_jw_str(w, l.mac);
	}
	if (l.url_domain.len || l.url_full.len) {
		iocb_jw_key(w, "url");
		iocb_jw_obj(w);
		if (l.url_domain.len) {
			iocb_jw_key(w, "domain");
			iocb_jw_str(w, l.url_domain);
		}
		if (l.url_full.len) {
			iocb_jw_key(w, "full");
			iocb_jw_str(w, l.url_full);
		}
		iocb_jw_obj_end(w);
	}
	if (ev && ev->info.len) {
		iocb_jw_key(w, "description");
		iocb_jw_str(w, ev->info);
	}
	iocb_jw_key(w, "provider");
	if (ev && ev->orgc_name.len)
		iocb_jw_str(w, ev->orgc_name);
	else
		iocb_jw_cstr(w, e->o->provider ? e->o->provider : "misp");
	if (e->o->misp_url && ev && ev->id) {
		char ref[512];
		size_t ul = strlen(e->o->misp_url);
		while (ul && e->o->misp_url[ul - 1] == '/')
			ul--;
		snprintf(ref, sizeof(ref), "%.*s/events/view/%llu", (int)ul, e->o->misp_url, (unsigned long long)ev->id);
		iocb_jw_key(w, "reference");
		iocb_jw_cstr(w, ref);
	}
	struct iocb_str tlp = find_tlp(h->attr, av, ev);
	if (tlp.len && tlp.len < 32) {
		char up[32];
		for (size_t i = 0; i < tlp.len; i++)
			up[i] = (tlp.ptr[i] >= 'a' && tlp.ptr[i] <= 'z') ? (char)(tlp.ptr[i] - 32) : tlp.ptr[i];
		iocb_jw_key(w, "marking");
		iocb_jw_obj(w);
		iocb_jw_key(w, "tlp");
		iocb_jw_str(w, iocb_str_make(up, tlp.len));
		iocb_jw_obj_end(w);
	}
	if (av->first_seen_us != INT64_MIN) {
		iso_time_us(ts, sizeof(ts), av->first_seen_us);
		iocb_jw_key(w, "first_seen");
		iocb_jw_cstr(w, ts);
	}
	if (av->last_seen_us != INT64_MIN) {
		iso_time_us(ts, sizeof(ts), av->last_seen_us);
		iocb_jw_key(w, "last_seen");
		iocb_jw_cstr(w, ts);
	}
	if (av->timestamp) {
		iso_time(ts, sizeof(ts), (int64_t)av->timestamp, 0);
		iocb_jw_key(w, "modified_at");
		iocb_jw_cstr(w, ts);
	}
	iocb_jw_obj_end(w);
}

static bool str_seen(const struct iocb_str *set, size_t n, struct iocb_str s)
{
	for (size_t i = 0; i < n; i++)
		if (iocb_str_eq(set[i], s))
			return true;
	return false;
}

/* Build e->enr ("[...]" of our enrichments) and e->mis (the misp members, no braces). */
static int build_hit_texts(struct iocb_enrich *e)
{
	struct iocb_jw w;
	struct iocb_str tags[MAX_TAGS], infos[64];
	size_t ntags = 0, ninfos = 0;

	set_occurred(e);
	iocb_buf_reset(&e->enr);
	iocb_jw_init(&w, &e->enr);
	iocb_jw_arr(&w);
	for (size_t i = 0; i < e->nhits; i++) {
		const struct mhit *h = &e->hits[i];
		struct iocb_store_attr_view av;
		struct iocb_store_event_view evv, *ev = NULL;

		iocb_store_attr_view(h->attr, &av);
		if (av.event) {
			iocb_store_event_view(av.event, &evv);
			ev = &evv;
		}
		iocb_jw_obj(&w);
		write_indicator(e, &w, h, &av, ev);
		iocb_jw_key(&w, "matched");
		iocb_jw_obj(&w);
		iocb_jw_key(&w, "atomic");
		iocb_jw_str(&w, iocb_str_make(e->atom.ptr + h->atom_off, h->atom_len));
		iocb_jw_key(&w, "field");
		iocb_jw_cstr(&w, e->m->fields[h->field].path);
		iocb_jw_key(&w, "occurred");
		iocb_jw_cstr(&w, e->occurred);
		iocb_jw_key(&w, "type");
		iocb_jw_cstr(&w, e->o->match_type ? e->o->match_type : "indicator_match_rule");
		iocb_jw_key(&w, "id");
		iocb_jw_cstr(&w, av.uuid);
		iocb_jw_obj_end(&w);
		iocb_jw_obj_end(&w);

		for (size_t k = 0; k < av.ntags && ntags < MAX_TAGS; k++) {
			struct iocb_str t = iocb_store_attr_tag(h->attr, k);
			if (!str_seen(tags, ntags, t))
				tags[ntags++] = t;
		}
		for (size_t k = 0; ev && k < ev->ntags && ntags < MAX_TAGS; k++) {
			struct iocb_str t = iocb_store_event_tag(av.event, k);
			if (!str_seen(tags, ntags, t))
				tags[ntags++] = t;
		}
		if (ev && ev->info.len && ninfos < 64 && !str_seen(infos, ninfos, ev->info))
			infos[ninfos++] = ev->info;
		e->st.by_field[h->field]++;
		if (av.type)
			e->st.by_type[av.type->id]++;
	}
	iocb_jw_arr_end(&w);

	iocb_buf_reset(&e->mis);
	iocb_jw_init(&w, &e->mis);
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "hit");
	iocb_jw_bool(&w, true);
	iocb_jw_key(&w, "tag");
	iocb_jw_arr(&w);
	for (size_t i = 0; i < ntags; i++)
		iocb_jw_str(&w, tags[i]);
	iocb_jw_arr_end(&w);
	iocb_jw_key(&w, "eventinfo");
	iocb_jw_arr(&w);
	for (size_t i = 0; i < ninfos; i++)
		iocb_jw_str(&w, infos[i]);
	iocb_jw_arr_end(&w);
	iocb_jw_key(&w, "attributes");
	iocb_jw_arr(&w);
	for (size_t i = 0; i < e->nhits; i++) {
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = e->hits[k].attr == e->hits[i].attr;
		if (dup)
			continue;
		struct iocb_store_attr_view av;
		struct iocb_store_event_view ev;
		iocb_store_attr_view(e->hits[i].attr, &av);
		memset(&ev, 0, sizeof(ev));
		if (av.event)
			iocb_store_event_view(av.event, &ev);
		iocb_jw_obj(&w);
		iocb_jw_key(&w, "uuid");
		iocb_jw_cstr(&w, av.uuid);
		iocb_jw_key(&w, "type");
		iocb_jw_cstr(&w, av.type ? av.type->name : "");
		iocb_jw_key(&w, "category");
		iocb_jw_str(&w, av.category);
		iocb_jw_key(&w, "value");
		iocb_jw_str(&w, av.value);
		iocb_jw_key(&w, "to_ids");
		iocb_jw_bool(&w, av.to_ids);
		iocb_jw_key(&w, "event_uuid");
		jw_str_or_null(&w, iocb_str_c(ev.uuid));
		iocb_jw_key(&w, "event_id");
		if (ev.id)
			iocb_jw_u64(&w, ev.id);
		else
			iocb_jw_null(&w);
		iocb_jw_key(&w, "orgc");
		jw_str_or_null(&w, ev.orgc_name);
		iocb_jw_obj_end(&w);
	}
	iocb_jw_arr_end(&w);
	iocb_jw_obj_end(&w);
	return iocb_jw_rc(&w) < 0 ? iocb_jw_rc(&w) : IOCB_OK;
}

/* Strip the outer brackets/braces of a buffer built by the writer. */
static struct iocb_str inner(const struct iocb_buf *b)
{
	return b->len >= 2 ? iocb_str_make(b->ptr + 1, b->len - 2) : IOCB_STR_NULL;
}

/* Append spans v[first .. first+n) of the line, comma-separated. */
static int put_spans(struct iocb_buf *b, const struct iocb_enrich *e, const struct spanv *sv, size_t from, size_t n,
		     bool *first)
{
	for (size_t i = from; i < from + n; i++) {
		const struct span *v = sv->v;
		if ((!*first && iocb_buf_putc(b, ',') < 0) ||
		    iocb_buf_append(b, e->line + v[i].start, v[i].end - v[i].start) < 0)
			return IOCB_ENOMEM;
		*first = false;
	}
	return IOCB_OK;
}

/* The new value of `threat` (ours plus what the event had). */
static int build_threat(struct iocb_enrich *e)
{
	const struct special *s = &e->sp[SP_THREAT];
	struct iocb_str ours = inner(&e->enr);
	bool first = true;
	int rc = IOCB_OK;

	iocb_buf_reset(&e->thr);
	if (iocb_buf_putc(&e->thr, '{') < 0)
		return IOCB_ENOMEM;
	if (s->present && s->is_obj) {
		rc = put_spans(&e->thr, e, &e->kept, s->kept0, s->nkept, &first);
		if (rc < 0)
			return rc;
	}
	if ((!first && iocb_buf_putc(&e->thr, ',') < 0) || iocb_buf_append_c(&e->thr, "\"enrichments\":[") < 0)
		return IOCB_ENOMEM;
	first = true;
	if (s->present && s->is_obj)
		rc = put_spans(&e->thr, e, &e->old, s->old0, s->nold, &first);
	if (rc < 0 || (!first && ours.len && iocb_buf_putc(&e->thr, ',') < 0) ||
	    iocb_buf_append_str(&e->thr, ours) < 0 || iocb_buf_append_c(&e->thr, "]}") < 0)
		return IOCB_ENOMEM;
	return IOCB_OK;
}

/* The new value of `misp`: the event's other misp members plus ours (`members`, no braces). */
static int build_misp(struct iocb_enrich *e, struct iocb_buf *b, struct iocb_str members)
{
	const struct special *s = &e->sp[SP_MISP];
	bool first = true;
	int rc;

	iocb_buf_reset(b);
	if (iocb_buf_putc(b, '{') < 0)
		return IOCB_ENOMEM;
	if (s->present && s->is_obj) {
		rc = put_spans(b, e, &e->kept, s->kept0, s->nkept, &first);
		if (rc < 0)
			return rc;
	}
	if ((!first && iocb_buf_putc(b, ',') < 0) || iocb_buf_append_str(b, members) < 0 || iocb_buf_putc(b, '}') < 0)
		return IOCB_ENOMEM;
	return IOCB_OK;
}

struct edit {
	uint32_t start, end;
	struct iocb_str text;
};

/* Output = the line with threat/misp values replaced, duplicates deleted, new members inserted. */
static int splice(struct iocb_enrich *e, struct iocb_buf *out, bool with_threat, struct iocb_buf *misp_val)
{
	struct edit ed[3];
	bool used[3] = {false, false, false};
	size_t ned = 0, pos = 0;
	bool any_member = e->top_members > 0;

	iocb_buf_reset(&e->ins);
	if (with_threat) {
		if (e->sp[SP_THREAT].present) {
			ed[ned++] = (struct edit){e->sp[SP_THREAT].val_off, e->sp[SP_THREAT].val_end, iocb_buf_str(&e->thr)};
		} else {
			if ((any_member && iocb_buf_putc(&e->ins, ',') < 0) || iocb_buf_append_c(&e->ins, "\"threat\":") < 0 ||
			    iocb_buf_append_str(&e->ins, iocb_buf_str(&e->thr)) < 0)
				return IOCB_ENOMEM;
			any_member = true;
		}
	}
	if (e->sp[SP_MISP].present) {
		ed[ned++] = (struct edit){e->sp[SP_MISP].val_off, e->sp[SP_MISP].val_end, iocb_buf_str(misp_val)};
	} else {
		if ((any_member && iocb_buf_putc(&e->ins, ',') < 0) || iocb_buf_append_c(&e->ins, "\"misp\":") < 0 ||
		    iocb_buf_append_str(&e->ins, iocb_buf_str(misp_val)) < 0)
			return IOCB_ENOMEM;
	}
	if (e->ins.len)
		ed[ned++] = (struct edit){e->obj_close, e->obj_close, iocb_buf_str(&e->ins)};
	/* Deletions are merged in order with the (at most three) other edits. */
	size_t di = 0;
	for (;;) {
		const struct span *d = di < e->dels.n ? &e->dels.v[di] : NULL;
		size_t best = ned;
		for (size_t i = 0; i < ned; i++)
			if (!used[i] && (best == ned || ed[i].start < ed[best].start))
				best = i;
		if (d && (best == ned || d->start < ed[best].start)) {
			if (iocb_buf_append(out, e->line + pos, d->start - pos) < 0)
				return IOCB_ENOMEM;
			pos = d->end;
			di++;
			continue;
		}
		if (best == ned)
			break;
		if (iocb_buf_append(out, e->line + pos, ed[best].start - pos) < 0 ||
		    iocb_buf_append_str(out, ed[best].text) < 0)
			return IOCB_ENOMEM;
		pos = ed[best].end;
		used[best] = true;
	}
	return iocb_buf_append(out, e->line + pos, e->len - pos);
}

/* ------------------------------------------------------------ lines */

/*
 * Enrich one line. When the output differs from the input (a hit, a marked
 * miss) it is left in e->lout and *changed is set; otherwise the output is
 * the line itself and nothing is copied: the block loop copies runs of
 * unchanged lines in one go.
 */
static int enrich_one(struct iocb_enrich *e, const char *line, size_t len, bool *changed,
		      enum iocb_enrich_reject *why)
{
	int rc;

	*changed = false;
	e->line = line;
	e->len = len;
	e->st.lines++;
	if (is_blank(line, len)) {
		e->st.blank++;
		return IOCB_ENRICH_BLANK;
	}
	if (len > e->o->max_line || len >= UINT32_MAX) {
		note_reject(e, IOCB_REJ_TOO_LONG, NULL);
		*why = IOCB_REJ_TOO_LONG;
		return IOCB_ENRICH_REJECT;
	}
	rc = scan_line(e);
	if (rc > 0) {
		*why = (enum iocb_enrich_reject)(rc - 1);
		return IOCB_ENRICH_REJECT;
	}
	e->st.events++;
	rc = match_line(e);
	if (rc < 0)
		return rc;
	iocb_buf_reset(&e->lout);
	if (e->nhits == 0) {
		if (e->o->on_miss != IOCB_ON_MISS_MARK)
			return IOCB_ENRICH_MISS;
		if (build_misp(e, &e->misv, IOCB_STR_LIT("\"hit\":false")) < 0 || splice(e, &e->lout, false, &e->misv) < 0)
			return IOCB_ENOMEM;
		e->st.marked++;
		*changed = true;
		return IOCB_ENRICH_MISS;
	}
	/* e->mis holds {"hit":true,...}: its members go into the event's misp object. */
	if (build_hit_texts(e) < 0 || build_threat(e) < 0 || build_misp(e, &e->misv, inner(&e->mis)) < 0 ||
	    splice(e, &e->lout, true, &e->misv) < 0)
		return IOCB_ENOMEM;
	e->st.matched++;
	e->st.hits += e->nhits;
	*changed = true;
	return IOCB_ENRICH_HIT;
}

int iocb_enrich_line(struct iocb_enrich *e, const char *line, size_t len, struct iocb_buf *out,
		     enum iocb_enrich_reject *why)
{
	enum iocb_enrich_reject w = IOCB_REJ_NOT_JSON;
	bool changed;
	int rc;

	iocb_store_read_lock();
	rc = enrich_one(e, line, len, &changed, &w);
	iocb_store_read_unlock();
	if (rc < 0)
		return rc;
	if (why)
		*why = w;
	if (changed ? iocb_buf_append_str(out, iocb_buf_str(&e->lout)) < 0 : iocb_buf_append(out, line, len) < 0)
		return IOCB_ENOMEM;
	return rc;
}

int iocb_enrich_block(struct iocb_enrich *e, const char *buf, size_t len, uint64_t line_no, struct iocb_buf *out,
		      struct iocb_buf *rej)
{
	const char *p = buf, *end = buf + len;
	const char *run = buf; /* start of a run of lines copied unchanged, not yet appended */
	size_t out0 = out->len;
	int rc = IOCB_OK;

	iocb_store_read_lock();
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t term = nl ? 1 : 0;
		const char *next = p + ll + term;
		enum iocb_enrich_reject why = IOCB_REJ_NOT_JSON;
		bool changed;

		e->line_no = line_no++;
		int v = enrich_one(e, p, ll, &changed, &why);
		if (v < 0) {
			rc = v;
			break;
		}
		e->st.bytes_in += ll + term;
		bool keep = !e->o->hits_only || v == IOCB_ENRICH_HIT;
		if (!changed && keep && !(v == IOCB_ENRICH_REJECT && rej)) {
			e->st.bytes_out += ll + term;
			p = next;
			continue; /* part of the unchanged run */
		}
		/* This line's output differs from its input: flush the run before it. */
		if (iocb_buf_append(out, run, (size_t)(p - run)) < 0) {
			rc = IOCB_ENOMEM;
			break;
		}
		run = next;
		if (v == IOCB_ENRICH_REJECT && rej) {
			rc = iocb_buf_append(rej, p, ll + term);
		} else if (keep) {
			rc = iocb_buf_append_str(out, iocb_buf_str(&e->lout));
			if (rc == IOCB_OK && term)
				rc = iocb_buf_putc(out, '\n');
			e->st.bytes_out += e->lout.len + term;
		}
		if (rc < 0)
			break;
		p = next;
	}
	if (rc == IOCB_OK && iocb_buf_append(out, run, (size_t)(p - run)) < 0)
		rc = IOCB_ENOMEM;
	if (rc < 0)
		out->len = out0;
	if (out->ptr)
		out->ptr[out->len] = '\0';
	iocb_store_read_unlock();
	return rc;
}
