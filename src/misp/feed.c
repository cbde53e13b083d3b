/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MISP feeds: the one parser of a feed's manifest.json (event uuid ->
 * event metadata), used by the feed source (sources/feed.c) to poll feeds
 * and here to load a feed directory, manifest.json plus one <uuid>.json
 * event file per listed event. The manifest's metadata fills in what an
 * event file lacks; a missing, unreadable or broken event file is skipped
 * with a reason and the rest still load.
 */
#include "misp/misp.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "misp/internal.h"

#define key_is IOCB_MISP__KEY_IS

/* ------------------------------------------------------------ manifest */

bool iocb_misp_uuid_parse(struct iocb_str s, uint8_t out[16])
{
	/* byte i of the uuid starts at text offset pos[i] */
	static const uint8_t pos[16] = {0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34};
	const unsigned char *p = (const unsigned char *)s.ptr;

	if (s.len != 36 || p[8] != '-' || p[13] != '-' || p[18] != '-' || p[23] != '-')
		return false;
	for (unsigned i = 0; i < 16; i++) {
		int v[2];
		for (unsigned j = 0; j < 2; j++) {
			unsigned char ch = p[pos[i] + j];
			if (ch >= '0' && ch <= '9')
				v[j] = ch - '0';
			else if (ch >= 'a' && ch <= 'f')
				v[j] = ch - 'a' + 10;
			else if (ch >= 'A' && ch <= 'F')
				v[j] = ch - 'A' + 10;
			else
				return false;
		}
		out[i] = (uint8_t)(v[0] << 4 | v[1]);
	}
	return true;
}

void iocb_misp_uuid_format(const uint8_t u[16], char out[37])
{
	static const char hx[] = "0123456789abcdef";
	size_t o = 0;

	for (unsigned i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hx[u[i] >> 4];
		out[o++] = hx[u[i] & 15];
	}
	out[o] = '\0';
}

/*
 * One `<uuid>: {...}` member whose '{' was consumed (key in *k): its event
 * fields into `a` (the caller's arena, or the event arena reset per entry
 * when `a` is NULL), then on_entry.
 */
static int manifest_entry(struct iocb_misp__ctx *c, struct iocb_json_parser *p, const struct iocb_json_tok *k,
			  const uint8_t uuid[16], struct iocb_arena *a, iocb_misp_manifest_cb on_entry, void *ud)
{
	struct iocb_misp_manifest_entry e = {.uuid = k->s, .offset = k->offset};
	struct iocb_misp__ev_extra extra = {0};
	struct iocb_misp__tags tags = {0};
	struct iocb_misp_event ev;
	int rc;

	if (!a) {
		a = &c->ev_arena;
		iocb_arena_reset(a);
	}
	iocb_misp__event_init(&ev);
	rc = iocb_misp__event_obj(c, p, 0, a, &ev, &tags, &extra);
	if (rc < 0)
		return rc;
	ev.uuid = k->s;
	ev.tags = tags.v;
	ev.ntags = tags.n;
	memcpy(e.uuid_bin, uuid, 16);
	e.ev = &ev;
	e.has_timestamp = extra.timestamp_decimal;
	rc = on_entry(ud, &e);
	if (rc < 0)
		c->cb_rc = rc;
	return rc;
}

/* The members of the manifest object (its '{' consumed), up to its '}'. */
static int manifest_members(struct iocb_misp__ctx *c, struct iocb_json_parser *p, struct iocb_arena *keep,
			    iocb_misp_manifest_cb on_entry, void *ud)
{
	struct iocb_json_tok k, v;
	uint8_t u[16];
	int rc;

	while ((rc = iocb_json_next_member(p, &k, &v, c->err)) > 0) {
		if (k.escaped || !iocb_misp_uuid_parse(k.s, u)) {
			iocb_misp__skip(c, IOCB_SKIP_BAD_SHAPE, "%s: byte %zu: member name is not an event uuid",
					c->source, k.offset);
		} else if (v.type != IOCB_JSON_OBJ) {
			iocb_misp__skip(c, IOCB_SKIP_BAD_SHAPE, "%s: byte %zu: event entry is not an object", c->source,
					v.offset);
		} else {
			rc = manifest_entry(c, p, &k, u, keep, on_entry, ud);
			if (rc < 0)
				return rc;
			continue;
		}
		rc = iocb_json_skip(p, &v, c->err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/*
 * The whole manifest in c->buf: one JSON object and nothing after it.
 * Entry metadata goes to `keep` when set (it outlives the parse), else to
 * scratch reset per entry. On failure the error is counted and prefixed
 * with the source, unless a callback stopped the parse.
 */
static int manifest_scan(struct iocb_misp__ctx *c, struct iocb_arena *keep, iocb_misp_manifest_cb on_entry, void *ud)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	int rc;

	iocb_json_init(&p, c->buf, c->len, c->lim.max_depth, false);
	rc = iocb_json_next(&p, &t, c->err);
	if (rc == IOCB_OK && t.type != IOCB_JSON_OBJ)
		rc = iocb_err_set(c->err, IOCB_EPARSE, "byte %zu: the manifest is not a JSON object", t.offset);
	if (rc == IOCB_OK)
		rc = manifest_members(c, &p, keep, on_entry, ud);
	if (rc == IOCB_OK) {
		rc = iocb_json_next(&p, &t, c->err);
		if (rc == IOCB_EEND)
			return IOCB_OK;
		if (rc == IOCB_OK)
			rc = iocb_err_set(c->err, IOCB_EPARSE, "byte %zu: data after the manifest object", t.offset);
	}
	if (c->cb_rc)
		return c->cb_rc;
	if (c->stats)
		c->stats->skipped[IOCB_SKIP_NOT_JSON]++;
	iocb_err_prefix(c->err, "%s", c->source);
	return rc;
}

int iocb_misp_parse_manifest(const char *buf, size_t len, const char *source, iocb_misp_manifest_cb on_entry,
			     iocb_misp_skip_cb on_skip, void *ud, const struct iocb_misp_limits *lim,
			     struct iocb_misp_stats *stats, struct iocb_err *err)
{
	struct iocb_misp_handlers h = {.on_skip = on_skip, .ud = ud};
	struct iocb_err local = {0};
	struct iocb_misp__ctx c;
	int rc;

	iocb_misp__ctx_init(&c, buf, len, source, &h, lim, stats, err ? err : &local);
	rc = manifest_scan(&c, NULL, on_entry, ud);
	iocb_misp__ctx_fini(&c);
	return rc;
}

/* ------------------------------------------------------------ feed directory */

/* One event the manifest lists. */
struct dir_entry {
	char uuid[37];             /* as spelled: the event file is <uuid>.json */
	struct iocb_misp_event ev; /* manifest metadata: views into the manifest map and the index arena */
};

/* The manifest's events, in manifest order. */
struct dir_index {
	struct dir_entry *v;       /* owned; freed by the walker whatever happens */
	size_t n;                  /* used */
	size_t cap;                /* allocated */
	struct iocb_err *err;      /* for a failed growth */
};

/* iocb_misp_manifest_cb: append an entry (a failed growth keeps the old array, still owned by x). */
static int index_add(void *ud, const struct iocb_misp_manifest_entry *e)
{
	struct dir_index *x = ud;

	if (x->n == x->cap) {
		size_t ncap = x->cap ? x->cap * 2 : 64;
		/* Sized by the input, so a failure is an error to report, not an abort. */
		struct dir_entry *nv = realloc(x->v, ncap * sizeof(*nv));
		if (!nv)
			return iocb_err_set(x->err, IOCB_ENOMEM, "byte %zu: out of memory for %zu manifest entries",
					    e->offset, ncap);
		x->v = nv;
		x->cap = ncap;
	}
	struct dir_entry *d = &x->v[x->n++];
	memcpy(d->uuid, e->uuid.ptr, 36);
	d->uuid[36] = '\0';
	d->ev = *e->ev;
	return IOCB_OK;
}

/* Offset of the "Event" object of an event file ({"Event":{...}}), 0 if none; rc < 0 if broken. */
static int find_event(struct iocb_misp__ctx *c, size_t *ev_off)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t, k, v;
	int rc;

	*ev_off = 0;
	iocb_json_init(&p, c->buf, c->len, c->lim.max_depth, false);
	rc = iocb_json_next(&p, &t, c->err);
	if (rc >= 0 && t.type != IOCB_JSON_OBJ)
		rc = iocb_err_set(c->err, IOCB_EPARSE, "not a JSON object");
	while (rc >= 0 && (rc = iocb_json_next_member(&p, &k, &v, c->err)) > 0) {
		if (key_is(&k, "Event") && v.type == IOCB_JSON_OBJ)
			*ev_off = v.offset;
		rc = iocb_json_skip(&p, &v, c->err);
	}
	return rc;
}

/* Load one listed event's file; only a callback's rc stops the walk. */
static int dir_event(const char *dir, struct dir_entry *d, const struct iocb_misp_handlers *h,
		     const struct iocb_misp_limits *l, struct iocb_misp_stats *stats)
{
	struct iocb_file_map ef = {0};
	struct iocb_err e2 = {0};
	struct iocb_misp__ctx c;
	char epath[PATH_MAX];
	size_t ev_off;
	int rc = IOCB_OK;

	d->ev.uuid = iocb_str_make(d->uuid, 36);
	snprintf(epath, sizeof(epath), "%s/%s.json", dir, d->uuid);
	if (iocb_file_map(epath, 0, &ef, &e2) < 0) {
		if (stats)
			stats->skipped[IOCB_SKIP_IO]++;
		if (h->on_skip)
			h->on_skip(h->ud, IOCB_SKIP_IO, e2.msg);
		return IOCB_OK;
	}
	iocb_misp__ctx_init(&c, ef.data, ef.len, epath, h, l, stats, &e2);
	if (find_event(&c, &ev_off) < 0) {
		if (stats)
			stats->skipped[IOCB_SKIP_NOT_JSON]++;
		if (h->on_skip) {
			char msg[720];
			snprintf(msg, sizeof(msg), "%.180s: %.500s", epath, e2.msg);
			h->on_skip(h->ud, IOCB_SKIP_NOT_JSON, msg);
		}
	} else if (!ev_off) {
		iocb_misp__skip(&c, IOCB_SKIP_BAD_SHAPE, "%s: no \"Event\" object", epath);
	} else if (iocb_misp__event_doc(&c, ev_off, &d->ev, 0, 0, IOCB_ACT_NONE, true) < 0 && c.cb_rc) {
		rc = c.cb_rc;
	}
	iocb_misp__ctx_fini(&c);
	iocb_file_unmap(&ef);
	return rc;
}

int iocb_misp_parse_feed_dir(const char *dir, const struct iocb_misp_handlers *h, const struct iocb_misp_limits *lim,
			     struct iocb_misp_stats *stats, struct iocb_err *err)
{
	struct iocb_err local = {0};
	struct iocb_misp_limits l;
	struct iocb_file_map man = {0};
	struct dir_index x = {0};
	struct iocb_arena keep;
	struct iocb_misp__ctx mc;
	char path[PATH_MAX];
	int rc;

	if (!err)
		err = &local;
	x.err = err;
	if (lim)
		l = *lim;
	else
		iocb_misp_limits_default(&l);
	iocb_arena_init(&keep, 0);
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	rc = iocb_file_map(path, 0, &man, err);
	if (rc < 0)
		goto out;
	iocb_misp__ctx_init(&mc, man.data, man.len, path, h, &l, stats, err);
	rc = manifest_scan(&mc, &keep, index_add, &x);
	iocb_misp__ctx_fini(&mc);
	for (size_t i = 0; rc == IOCB_OK && i < x.n; i++)
		rc = dir_event(dir, &x.v[i], h, &l, stats);
out:
	free(x.v);
	iocb_arena_fini(&keep);
	iocb_file_unmap(&man);
	return rc;
}
