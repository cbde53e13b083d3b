/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enrichment engine's driver: options, counters, workers, and the line
 * and block loops that run the stages of engine.h (scan, match, write).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "enrich/engine.h"
#include "misp/misp.h"

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
	dst->expired_skipped += src->expired_skipped;
	dst->suppressed_skipped += src->suppressed_skipped;
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

void iocb_enrich__note_reject(struct iocb_enrich *e, enum iocb_enrich_reject r, const char *detail)
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
	iocb_enrich__note_reject(e, r, NULL);
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

int iocb_enrich__spanv_push(struct spanv *v, size_t start, size_t end)
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

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/* ------------------------------------------------------------ lines */

/*
 * Enrich one line. When the output differs from the input (a hit, a marked
 * miss) it is left in e->lout and *changed is set; otherwise the output is
 * the line itself and nothing is copied: the block loop copies runs of
 * unchanged lines in one go.
 */
/* opts.on_match once per distinct attribute of the line's hits (a few per line: the quadratic scan is cheaper than a set). */
static void tell_matches(struct iocb_enrich *e)
{
	for (size_t i = 0; e->o->on_match && i < e->nhits; i++) {
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = e->hits[k].attr == e->hits[i].attr;
		if (!dup)
			e->o->on_match(e->o->on_match_ud, e->hits[i].attr);
	}
	/* opts.on_hit once per hit, with the field and the matched value (the status page's last matches). */
	for (size_t i = 0; e->o->on_hit && i < e->nhits; i++) {
		const struct mhit *h = &e->hits[i];
		e->o->on_hit(e->o->on_hit_ud, h->attr, e->m->fields[h->field].path,
			     iocb_str_make(e->atom.ptr ? e->atom.ptr + h->atom_off : "", h->atom_len));
	}
}

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
		iocb_enrich__note_reject(e, IOCB_REJ_TOO_LONG, NULL);
		*why = IOCB_REJ_TOO_LONG;
		return IOCB_ENRICH_REJECT;
	}
	rc = iocb_enrich__scan_line(e);
	if (rc > 0) {
		*why = (enum iocb_enrich_reject)(rc - 1);
		return IOCB_ENRICH_REJECT;
	}
	e->st.events++;
	rc = iocb_enrich__match_line(e);
	if (rc < 0)
		return rc;
	if (e->nhits == 0) {
		if (e->o->on_miss != IOCB_ON_MISS_MARK)
			return IOCB_ENRICH_MISS;
		if (iocb_enrich__write_mark(e) < 0)
			return IOCB_ENOMEM;
		e->st.marked++;
		*changed = true;
		return IOCB_ENRICH_MISS;
	}
	if (iocb_enrich__write_hit(e) < 0)
		return IOCB_ENOMEM;
	if (e->o->on_match || e->o->on_hit)
		tell_matches(e);
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
