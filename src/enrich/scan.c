/* SPDX-License-Identifier: Apache-2.0 */
/* The enrichment scanner: one token-free, validating pass over a line (see engine.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/engine.h"
#include "json/json.h"
#include "json/lex.h"
#include "misp/misp.h"

/* ------------------------------------------------------------ scan */

/*
 * The scanner: recursive descent over the line with the json module's
 * lexical primitives (json/lex.h), so it accepts exactly what the pull
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
	/* Values past MAX_CANDS in one line are not looked up (the line is still copied whole). */
	if ((ent->flags & IOCB_EF_FIELD) && e->ncands < MAX_CANDS) {
		struct cand *c = &e->cands[e->ncands++];
		c->off = (uint32_t)off;
		c->len = (uint32_t)len;
		c->field = (uint16_t)ent->field;
		c->escaped = escaped;
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
					if (iocb_enrich__spanv_push(&e->old, i, k) < 0)
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
			if (ours && which == SP_THREAT && b[i] == '{' && iocb_enrich__spanv_push(&e->old, i, j) < 0)
				return LEX_FAIL(e, i, "out of memory");
			if (!ours && iocb_enrich__spanv_push(&e->kept, mstart, j) < 0)
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
				if (r >= 0 && iocb_enrich__spanv_push(&e->dels, e->prev_end, (size_t)r) < 0)
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

/* Scan the line. Returns 0, or 1 + reject reason. */
int iocb_enrich__scan_line(struct iocb_enrich *e)
{
	const char *b = e->line;
	size_t n = e->len, i, j;
	ptrdiff_t r;
	char msg[200];

	e->ncands = 0;
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
			iocb_enrich__note_reject(e, IOCB_REJ_NOT_OBJECT, NULL);
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
	iocb_enrich__note_reject(e, why, msg);
	return 1 + (int)why;
}
