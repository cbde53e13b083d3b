/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsers for the MISP JSON shapes (see misp.h).
 *
 * One pass of the json pull parser over the document, no tree. MISP puts
 * keys in varying orders (a ZeroMQ message has "Attribute" before "Event";
 * an event file may list "Attribute" before its "Tag"), so where an object's
 * meaning depends on a sibling we first record the byte offset of the
 * dependent value, skip it, and come back once the siblings are known. Only
 * restSearch attributes, which carry their own Event, are handled strictly
 * in stream order — that is the path that must load millions per second.
 *
 * Memory: strings are views into the input unless they contain escapes, in
 * which case they are decoded into an arena. The attribute arena is reset
 * after every attribute; the event arena after every event, so a document
 * of any size is parsed in bounded memory.
 */
#include "misp/misp.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/file.h"
#include "json/json.h"

#define MAX_KEY_DECODE 64

void iocb_misp_limits_default(struct iocb_misp_limits *lim)
{
	lim->max_value = 64 * 1024;
	lim->max_tags = 256;
	lim->max_depth = 64;
	lim->keep_deleted = false;
}

/* Parse state shared by the helpers of one iocb_misp_parse() call. */
struct ctx {
	const char *buf;                 /* whole document */
	size_t len;
	const char *source;              /* name for messages */
	const struct iocb_misp_handlers *h;
	struct iocb_misp_limits lim;
	struct iocb_misp_stats *stats;
	struct iocb_err *err;
	struct iocb_arena attr_arena;    /* reset per attribute */
	struct iocb_arena ev_arena;      /* reset per event */
	int cb_rc;                       /* a callback's negative rc, to stop */
};

/* ------------------------------------------------------------ helpers */

static void skip(struct ctx *c, enum iocb_misp_skip r, const char *fmt, ...) IOCB_PRINTF(3, 4);

static void skip(struct ctx *c, enum iocb_misp_skip r, const char *fmt, ...)
{
	char detail[300];
	va_list ap;

	if (c->stats)
		c->stats->skipped[r]++;
	if (!c->h->on_skip)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	c->h->on_skip(c->h->ud, r, detail);
}

/* A parser positioned at byte `off` of the document, reading one value. */
static void sub_parser(struct ctx *c, struct iocb_json_parser *p, size_t off)
{
	iocb_json_init(p, c->buf + off, c->len - off, c->lim.max_depth, true);
}

/* Rebase a sub-parser error offset ("byte N") to the whole document. */
static int json_fail(struct ctx *c, int rc, size_t base)
{
	if (c->err && base && rc == IOCB_EPARSE) {
		size_t at;
		if (sscanf(c->err->msg, "byte %zu", &at) == 1) {
			char rest[sizeof(c->err->msg)];
			const char *colon = strchr(c->err->msg, ':');
			snprintf(rest, sizeof(rest), "%s", colon ? colon + 2 : "");
			iocb_err_set(c->err, rc, "byte %zu: %s", at + base, rest);
		}
	}
	return rc;
}

/* Decode a string token into arena memory if it has escapes; NULL view on failure. */
static int tok_string(struct iocb_arena *a, const struct iocb_json_tok *t, struct iocb_str *out)
{
	char *dst;
	size_t n;

	if (!t->escaped) {
		*out = t->s;
		return IOCB_OK;
	}
	dst = iocb_arena_alloc(a, t->s.len + 1);
	if (!dst)
		return IOCB_ELIMIT;
	/* Decoded text is never longer than its escaped form. */
	if (iocb_json_unescape(t, dst, t->s.len + 1, &n) < 0)
		return IOCB_EPARSE;
	*out = iocb_str_make(dst, n);
	return IOCB_OK;
}

/* Integer from a string ("123") or a number; false otherwise. null -> 0, true. */
static bool tok_u64(const struct iocb_json_tok *t, uint64_t *out)
{
	if (t->type == IOCB_JSON_NUM)
		return iocb_json_tok_u64(t, out);
	if (t->type == IOCB_JSON_STR && !t->escaped) {
		if (t->s.len == 0) {
			*out = 0;
			return true;
		}
		return iocb_str_to_u64(t->s, out);
	}
	if (t->type == IOCB_JSON_NULL) {
		*out = 0;
		return true;
	}
	return false;
}

/* MISP booleans: true/false, 1/0, "1"/"0", "true"/"false", "" and null = false. */
static bool tok_bool(const struct iocb_json_tok *t, bool *out)
{
	switch (t->type) {
	case IOCB_JSON_TRUE: *out = true; return true;
	case IOCB_JSON_FALSE: case IOCB_JSON_NULL: *out = false; return true;
	case IOCB_JSON_NUM:
		if (iocb_str_eq_c(t->s, "1")) { *out = true; return true; }
		if (iocb_str_eq_c(t->s, "0")) { *out = false; return true; }
		return false;
	case IOCB_JSON_STR:
		if (iocb_str_eq_c(t->s, "1") || iocb_str_eq_c(t->s, "true")) { *out = true; return true; }
		if (iocb_str_eq_c(t->s, "0") || iocb_str_eq_c(t->s, "false") || t->s.len == 0) {
			*out = false;
			return true;
		}
		return false;
	default:
		return false;
	}
}

static bool is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num2(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/*
 * first_seen / last_seen: MISP emits "2024-10-21T08:00:00.000000+00:00"
 * (also accepted: 'Z', no fraction, a space instead of 'T'), or null; older
 * data may carry epoch microseconds as a number or digit string.
 */
static bool parse_time_us(const struct iocb_json_tok *t, int64_t *out)
{
	const char *s = t->s.ptr;
	size_t n = t->s.len, i;
	int64_t us = 0, off = 0;

	if (t->type == IOCB_JSON_NULL) {
		*out = INT64_MIN;
		return true;
	}
	if (t->type == IOCB_JSON_NUM)
		return iocb_json_tok_i64(t, out);
	if (t->type != IOCB_JSON_STR || t->escaped)
		return false;
	if (n == 0) {
		*out = INT64_MIN;
		return true;
	}
	if (is_digits(s, n))
		return iocb_str_to_i64(t->s, out);
	if (n < 19 || !is_digits(s, 4) || s[4] != '-' || !is_digits(s + 5, 2) || s[7] != '-' ||
	    !is_digits(s + 8, 2) || (s[10] != 'T' && s[10] != ' ') || !is_digits(s + 11, 2) || s[13] != ':' ||
	    !is_digits(s + 14, 2) || s[16] != ':' || !is_digits(s + 17, 2))
		return false;
	int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + num2(s + 2);
	int mo = num2(s + 5), d = num2(s + 8), hh = num2(s + 11), mi = num2(s + 14), ss = num2(s + 17);
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mi > 59 || ss > 60)
		return false;
	i = 19;
	if (i < n && s[i] == '.') {
		int digits = 0;
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (digits < 6) {
				us = us * 10 + (s[i] - '0');
				digits++;
			}
			i++;
		}
		if (digits == 0)
			return false;
		while (digits++ < 6)
			us *= 10;
	}
	if (i < n && s[i] == 'Z') {
		i++;
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		if (n - i < 6 || !is_digits(s + i + 1, 2) || s[i + 3] != ':' || !is_digits(s + i + 4, 2))
			return false;
		off = (int64_t)(num2(s + i + 1) * 3600 + num2(s + i + 4) * 60);
		if (s[i] == '-')
			off = -off;
		i += 6;
	}
	if (i != n)
		return false;
	int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mi * 60 + ss - off;
	*out = secs * 1000000 + us;
	return true;
}

static enum iocb_misp_action parse_action(struct iocb_str s)
{
	if (iocb_str_eq_c(s, "add") || iocb_str_eq_c(s, "add_from_connected_server"))
		return IOCB_ACT_ADD;
	if (iocb_str_eq_c(s, "edit") || iocb_str_eq_c(s, "edit_from_connected_server"))
		return IOCB_ACT_EDIT;
	if (iocb_str_eq_c(s, "soft-delete"))
		return IOCB_ACT_SOFT_DELETE;
	if (iocb_str_eq_c(s, "delete"))
		return IOCB_ACT_DELETE;
	return IOCB_ACT_OTHER;
}

/*
 * Key comparison against a string literal: length first, then bytes; keys
 * written with escapes (legal, never seen from MISP) take the slow path.
 */
#define key_is(k, lit)                                                                            \
	(!(k)->escaped ? ((k)->s.len == sizeof(lit) - 1 && memcmp((k)->s.ptr, lit, sizeof(lit) - 1) == 0) \
		       : iocb_json_tok_eq((k), lit))

/*
 * Next member of the object being read: its key in *k and the first token
 * of its value in *v. Returns 1 for a member, 0 at the object's end, or a
 * negative rc.
 */
static int next_member(struct ctx *c, struct iocb_json_parser *p, struct iocb_json_tok *k, struct iocb_json_tok *v)
{
	int rc = iocb_json_next(p, k, c->err);

	if (rc < 0)
		return rc;
	if (k->type == IOCB_JSON_OBJ_END)
		return 0;
	rc = iocb_json_next(p, v, c->err);
	return rc < 0 ? rc : 1;
}

/*
 * Next item of the array being read that is an object (its '{' in *t).
 * Other items are skipped; when `what` is set they are counted as bad shape
 * ("<what> is not an object", at base + offset). Returns 1 for an object, 0
 * at the array's end, or a negative rc.
 */
static int next_object(struct ctx *c, struct iocb_json_parser *p, struct iocb_json_tok *t, size_t base,
		       const char *what)
{
	for (;;) {
		int rc = iocb_json_next(p, t, c->err);

		if (rc < 0)
			return rc;
		if (t->type == IOCB_JSON_ARR_END)
			return 0;
		if (t->type == IOCB_JSON_OBJ)
			return 1;
		if (what)
			skip(c, IOCB_SKIP_BAD_SHAPE, "%s: byte %zu: %s is not an object", c->source, base + t->offset,
			     what);
		rc = iocb_json_skip(p, t, c->err);
		if (rc < 0)
			return rc;
	}
}

/* ------------------------------------------------------------ tags */

struct tag_list {
	struct iocb_misp_tag *v;
	size_t n, cap;
};

static int tag_push(struct iocb_arena *a, struct tag_list *l, struct iocb_misp_tag t, size_t max)
{
	if (l->n >= max)
		return IOCB_OK; /* keep the first max tags; the rest are dropped */
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;
		if (ncap > max)
			ncap = max;
		struct iocb_misp_tag *nv = iocb_arena_alloc(a, ncap * sizeof(*nv));
		if (!nv)
			return IOCB_ELIMIT;
		if (l->n)
			memcpy(nv, l->v, l->n * sizeof(*nv));
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = t;
	return IOCB_OK;
}

/*
 * Parse one tag object ({"name":..,"local":..,"inherited":..}) or, with
 * `wrapped`, an EventTag object ({"local":..,"Tag":{"name":..}}).
 * The '{' was consumed. Returns rc; *ok false if the tag has no name.
 */
static int parse_tag_obj(struct ctx *c, struct iocb_json_parser *p, struct iocb_arena *a, bool wrapped,
			 struct iocb_misp_tag *tag, bool *ok)
{
	struct iocb_json_tok k, v;
	int rc;

	memset(tag, 0, sizeof(*tag));
	*ok = false;
	while ((rc = next_member(c, p, &k, &v)) > 0) {
		if (wrapped && key_is(&k, "Tag") && v.type == IOCB_JSON_OBJ) {
			bool local = tag->local;
			rc = parse_tag_obj(c, p, a, false, tag, ok);
			if (rc < 0)
				return rc;
			tag->local = tag->local || local;
			continue;
		}
		if (!wrapped && key_is(&k, "name") && v.type == IOCB_JSON_STR) {
			if (tok_string(a, &v, &tag->name) == IOCB_OK && tag->name.len > 0)
				*ok = true;
		} else if (key_is(&k, "local")) {
			bool b;
			if (tok_bool(&v, &b))
				tag->local = b;
		} else if (key_is(&k, "inherited")) {
			bool b;
			if (tok_bool(&v, &b))
				tag->inherited = b;
		}
		rc = iocb_json_skip(p, &v, c->err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* The '[' of a tag array was consumed. Non-object items are ignored. */
static int parse_tag_array(struct ctx *c, struct iocb_json_parser *p, struct iocb_arena *a, bool wrapped,
			   struct tag_list *out)
{
	struct iocb_json_tok t;
	int rc;

	while ((rc = next_object(c, p, &t, 0, NULL)) > 0) {
		struct iocb_misp_tag tag;
		bool ok;
		rc = parse_tag_obj(c, p, a, wrapped, &tag, &ok);
		if (rc < 0)
			return rc;
		if (ok) {
			rc = tag_push(a, out, tag, c->lim.max_tags);
			if (rc < 0)
				return rc;
		}
	}
	return rc;
}

/* ------------------------------------------------------------ events */

/* Offsets of an event's attribute containers, filled while parsing the Event object. */
struct ev_offsets {
	size_t attrs;   /* offset of the "Attribute" array, 0 if none */
	size_t objects; /* offset of the "Object" array, 0 if none */
};

static void event_init(struct iocb_misp_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->analysis = -1;
}

/* The '{' of an Orgc object was consumed. */
static int parse_orgc(struct ctx *c, struct iocb_json_parser *p, struct iocb_arena *a, struct iocb_misp_event *ev)
{
	struct iocb_json_tok k, v;
	int rc;

	while ((rc = next_member(c, p, &k, &v)) > 0) {
		if (key_is(&k, "name") && v.type == IOCB_JSON_STR)
			(void)tok_string(a, &v, &ev->orgc_name);
		else if (key_is(&k, "uuid") && v.type == IOCB_JSON_STR)
			(void)tok_string(a, &v, &ev->orgc_uuid);
		else if (key_is(&k, "id") && !ev->has_orgc_id) {
			uint64_t id;
			if (tok_u64(&v, &id) && id) {
				ev->orgc_id = id;
				ev->has_orgc_id = true;
			}
		}
		rc = iocb_json_skip(p, &v, c->err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/*
 * Parse an Event object (its '{' consumed) into ev. Attribute/Object arrays
 * are skipped and their offsets recorded in `offs` (may be NULL, then they
 * are just skipped). Tags are collected into `tags`.
 */
static int parse_event_obj(struct ctx *c, struct iocb_json_parser *p, size_t base, struct iocb_arena *a,
			   struct iocb_misp_event *ev, struct tag_list *tags, struct ev_offsets *offs)
{
	struct iocb_json_tok k, v;
	uint64_t u;
	bool b;
	int rc;

	while ((rc = next_member(c, p, &k, &v)) > 0) {
		if (v.type == IOCB_JSON_STR || v.type == IOCB_JSON_NUM || v.type == IOCB_JSON_TRUE ||
		    v.type == IOCB_JSON_FALSE || v.type == IOCB_JSON_NULL) {
			if (key_is(&k, "uuid") && v.type == IOCB_JSON_STR)
				(void)tok_string(a, &v, &ev->uuid);
			else if (key_is(&k, "id") && tok_u64(&v, &u))
				ev->id = u;
			else if (key_is(&k, "info") && v.type == IOCB_JSON_STR)
				(void)tok_string(a, &v, &ev->info);
			else if (key_is(&k, "orgc_id") && tok_u64(&v, &u)) {
				ev->orgc_id = u;
				ev->has_orgc_id = true;
			} else if (key_is(&k, "org_id") && tok_u64(&v, &u)) {
				ev->org_id = u;
				ev->has_org_id = true;
			} else if (key_is(&k, "threat_level_id") && tok_u64(&v, &u) && u <= 4)
				ev->threat_level_id = (int)u;
			else if (key_is(&k, "analysis") && tok_u64(&v, &u) && u <= 2)
				ev->analysis = (int)u;
			else if (key_is(&k, "published") && tok_bool(&v, &b))
				ev->published = b;
			else if (key_is(&k, "timestamp") && tok_u64(&v, &u))
				ev->timestamp = u;
			else if (key_is(&k, "publish_timestamp") && tok_u64(&v, &u))
				ev->publish_timestamp = u;
			else if (key_is(&k, "date") && v.type == IOCB_JSON_STR)
				(void)tok_string(a, &v, &ev->date);
			continue;
		}
		if (v.type == IOCB_JSON_OBJ && key_is(&k, "Orgc")) {
			rc = parse_orgc(c, p, a, ev);
			if (rc < 0)
				return rc;
			continue;
		}
		if (v.type == IOCB_JSON_ARR && key_is(&k, "Tag")) {
			rc = parse_tag_array(c, p, a, false, tags);
			if (rc < 0)
				return rc;
			ev->tags_known = true;
			continue;
		}
		if (v.type == IOCB_JSON_ARR && key_is(&k, "EventTag")) {
			rc = parse_tag_array(c, p, a, true, tags);
			if (rc < 0)
				return rc;
			ev->tags_known = true;
			continue;
		}
		if (offs && v.type == IOCB_JSON_ARR && key_is(&k, "Attribute"))
			offs->attrs = base + v.offset;
		else if (offs && v.type == IOCB_JSON_ARR && key_is(&k, "Object"))
			offs->objects = base + v.offset;
		rc = iocb_json_skip(p, &v, c->err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* ------------------------------------------------------------ attributes */

/* Raw fields of one attribute object before validation. */
struct raw_attr {
	struct iocb_misp_attr a;         /* what we deliver (views) */
	struct iocb_str type_name;
	struct iocb_str value, value1, value2;
	bool has_value, has_value1;
	bool bad_field;                  /* a field had an unusable type/value */
	const char *bad_name;            /* which one, for the message */
	struct iocb_misp_event ev;       /* attribute's own Event (restSearch) */
	bool has_event;
	struct tag_list tags;
	struct tag_list ev_tags;
	struct iocb_str event_uuid;      /* includeEventUuid */
};

static void mark_bad(struct raw_attr *r, const char *name)
{
	if (!r->bad_field) {
		r->bad_field = true;
		r->bad_name = name;
	}
}

/*
 * Parse an attribute object whose '{' is tok (already consumed) into r.
 * `base` rebases offsets of a sub-parser to the document.
 */
static int parse_attr_obj(struct ctx *c, struct iocb_json_parser *p, size_t base, struct raw_attr *r)
{
	struct iocb_arena *a = &c->attr_arena;
	struct iocb_json_tok k, v;
	uint64_t u;
	bool b;
	int rc;

	while ((rc = next_member(c, p, &k, &v)) > 0) {
		if (k.s.len == 0 || k.escaped) {
			rc = iocb_json_skip(p, &v, c->err);
			if (rc < 0)
				return rc;
			continue;
		}
		/* Dispatch on the first letter to keep the common path short. */
		switch (k.s.ptr[0]) {
		case 'i':
			if (key_is(&k, "id")) {
				if (tok_u64(&v, &u))
					r->a.id = u;
				else
					mark_bad(r, "id");
			}
			break;
		case 'e':
			if (key_is(&k, "event_id")) {
				if (tok_u64(&v, &u))
					r->a.event_id = u;
				else
					mark_bad(r, "event_id");
			} else if (key_is(&k, "event_uuid") && v.type == IOCB_JSON_STR) {
				(void)tok_string(a, &v, &r->event_uuid);
			}
			break;
		case 'o':
			if (key_is(&k, "object_id")) {
				if (tok_u64(&v, &u))
					r->a.object_id = u;
			} else if (key_is(&k, "object_relation") && v.type == IOCB_JSON_STR) {
				(void)tok_string(a, &v, &r->a.object_relation);
			}
			break;
		case 'c':
			if (key_is(&k, "category") && v.type == IOCB_JSON_STR)
				(void)tok_string(a, &v, &r->a.category);
			else if (key_is(&k, "comment") && v.type == IOCB_JSON_STR) {
				if (v.s.len > c->lim.max_value)
					mark_bad(r, "comment (too large)");
				else
					(void)tok_string(a, &v, &r->a.comment);
			}
			break;
		case 't':
			if (key_is(&k, "type")) {
				if (v.type == IOCB_JSON_STR)
					(void)tok_string(a, &v, &r->type_name);
				else
					mark_bad(r, "type");
			} else if (key_is(&k, "to_ids")) {
				if (tok_bool(&v, &b))
					r->a.to_ids = b;
				else
					mark_bad(r, "to_ids");
			} else if (key_is(&k, "timestamp")) {
				if (tok_u64(&v, &u))
					r->a.timestamp = u;
				else
					mark_bad(r, "timestamp");
			}
			break;
		case 'u':
			if (key_is(&k, "uuid") && v.type == IOCB_JSON_STR)
				(void)tok_string(a, &v, &r->a.uuid);
			break;
		case 'v':
			if (v.type != IOCB_JSON_STR && v.type != IOCB_JSON_NUM)
				break;
			if (key_is(&k, "value")) {
				if (v.s.len > c->lim.max_value)
					mark_bad(r, "value (too large)");
				else if (tok_string(a, &v, &r->value) == IOCB_OK)
					r->has_value = true;
			} else if (key_is(&k, "value1")) {
				if (v.s.len > c->lim.max_value)
					mark_bad(r, "value1 (too large)");
				else if (tok_string(a, &v, &r->value1) == IOCB_OK)
					r->has_value1 = true;
			} else if (key_is(&k, "value2")) {
				if (v.s.len <= c->lim.max_value)
					(void)tok_string(a, &v, &r->value2);
			}
			break;
		case 'd':
			if (key_is(&k, "deleted")) {
				if (tok_bool(&v, &b))
					r->a.deleted = b;
				else
					mark_bad(r, "deleted");
			}
			break;
		case 'f':
			if (key_is(&k, "first_seen") && !parse_time_us(&v, &r->a.first_seen_us))
				r->a.first_seen_us = INT64_MIN;
			break;
		case 'l':
			if (key_is(&k, "last_seen") && !parse_time_us(&v, &r->a.last_seen_us))
				r->a.last_seen_us = INT64_MIN;
			break;
		case 'T':
			if (key_is(&k, "Tag") && v.type == IOCB_JSON_ARR) {
				rc = parse_tag_array(c, p, a, false, &r->tags);
				if (rc < 0)
					return rc;
				continue;
			}
			break;
		case 'E':
			if (key_is(&k, "Event") && v.type == IOCB_JSON_OBJ) {
				rc = parse_event_obj(c, p, base, a, &r->ev, &r->ev_tags, NULL);
				if (rc < 0)
					return rc;
				r->has_event = true;
				continue;
			}
			break;
		default:
			break;
		}
		rc = iocb_json_skip(p, &v, c->err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/*
 * Validate and normalise a parsed attribute, then deliver it (or count why
 * not). `ctx_ev` is the enclosing event for event documents, or NULL.
 */
static int deliver_attr(struct ctx *c, struct raw_attr *r, const struct iocb_misp_event *ctx_ev,
			enum iocb_misp_action action)
{
	struct iocb_misp_attr *a = &r->a;
	struct iocb_misp_event merged;
	const struct iocb_misp_type *t;
	char *scratch;
	size_t cap;
	int rc;
	bool snapshot = action == IOCB_ACT_NONE;

	a->action = action;
	/* Only skip messages print it; "%.*s" keeps it bounded. */
#define uuidbuf_len (a->uuid.len > 40 ? 40 : (int)a->uuid.len)
	if (a->uuid.len == 0) {
		skip(c, IOCB_SKIP_MISSING_FIELD, "%s: byte %zu: attribute without uuid", c->source, a->offset);
		return IOCB_OK;
	}
	if (r->bad_field) {
		skip(c, IOCB_SKIP_BAD_SHAPE, "%s: attribute %.*s: field '%s' has an unusable value", c->source,
		     uuidbuf_len, a->uuid.ptr, r->bad_name);
		if (snapshot)
			return IOCB_OK;
	}
	/* Event context: the attribute's own Event wins, the enclosing event fills gaps. */
	if (r->has_event) {
		merged = r->ev;
		merged.tags = r->ev_tags.v;
		merged.ntags = r->ev_tags.n;
		if (ctx_ev && !merged.tags_known && ctx_ev->tags_known) {
			merged.tags = ctx_ev->tags;
			merged.ntags = ctx_ev->ntags;
			merged.tags_known = true;
		}
	} else if (ctx_ev) {
		merged = *ctx_ev;
	} else {
		event_init(&merged);
	}
	if (merged.uuid.len == 0 && r->event_uuid.len)
		merged.uuid = r->event_uuid;
	if (merged.id == 0)
		merged.id = a->event_id;
	if (a->event_id == 0)
		a->event_id = merged.id;
	a->event = &merged;
	a->tags = r->tags.v;
	a->ntags = r->tags.n;

	/* Value: "value", else value1[|value2]. */
	struct iocb_str value = r->value;
	if (!r->has_value && r->has_value1) {
		if (r->value2.len) {
			char *v = iocb_arena_alloc(&c->attr_arena, r->value1.len + r->value2.len + 2);
			if (!v) {
				skip(c, IOCB_SKIP_TOO_LARGE, "%s: attribute %.*s: value too large", c->source, uuidbuf_len, a->uuid.ptr);
				return IOCB_OK;
			}
			memcpy(v, r->value1.ptr, r->value1.len);
			v[r->value1.len] = '|';
			memcpy(v + r->value1.len + 1, r->value2.ptr, r->value2.len);
			value = iocb_str_make(v, r->value1.len + 1 + r->value2.len);
		} else {
			value = r->value1;
		}
	}
	a->value = value;
	a->indicator = false;
	a->nparts = 0;
	a->prefix[0] = a->prefix[1] = -1;

	t = r->type_name.len ? iocb_misp_type_find(r->type_name) : NULL;
	a->type = t;
	if (r->type_name.len == 0 || (!r->has_value && !r->has_value1)) {
		if (snapshot) {
			skip(c, IOCB_SKIP_MISSING_FIELD, "%s: attribute %.*s: no %s", c->source, uuidbuf_len, a->uuid.ptr,
			     r->type_name.len == 0 ? "type" : "value");
			return IOCB_OK;
		}
	} else if (!t) {
		if (snapshot) {
			skip(c, IOCB_SKIP_UNKNOWN_TYPE, "%s: attribute %.*s: unknown type '%.*s'", c->source, uuidbuf_len, a->uuid.ptr,
			     r->type_name.len > 64 ? 64 : (int)r->type_name.len, r->type_name.ptr);
			return IOCB_OK;
		}
	} else if (!iocb_misp_type_is_indicator(t)) {
		if (snapshot) {
			skip(c, IOCB_SKIP_NOT_INDICATOR, "%s: attribute %.*s: type '%s' is not matchable", c->source,
			     uuidbuf_len, a->uuid.ptr, t->name);
			return IOCB_OK;
		}
	} else {
		struct iocb_err verr = {0};
		cap = value.len * 2 + 64;
		scratch = iocb_arena_alloc(&c->attr_arena, cap);
		if (!scratch) {
			skip(c, IOCB_SKIP_TOO_LARGE, "%s: attribute %.*s: value too large", c->source, uuidbuf_len, a->uuid.ptr);
			return IOCB_OK;
		}
		rc = iocb_misp_value_split(t, value, scratch, cap, a->part, a->prefix, &a->nparts, &verr);
		if (rc < 0) {
			if (snapshot) {
				skip(c, rc == IOCB_ELIMIT ? IOCB_SKIP_TOO_LARGE : IOCB_SKIP_INVALID_VALUE,
				     "%s: attribute %.*s: %s value: %s", c->source, uuidbuf_len, a->uuid.ptr, t->name, verr.msg);
				return IOCB_OK;
			}
			a->nparts = 0;
		} else {
			a->indicator = !r->bad_field;
		}
	}
	if (snapshot && a->deleted && !c->lim.keep_deleted) {
		skip(c, IOCB_SKIP_DELETED, "%s: attribute %.*s: soft-deleted", c->source, uuidbuf_len, a->uuid.ptr);
		return IOCB_OK;
	}
	if (c->stats)
		c->stats->attributes++;
	rc = c->h->on_attr(c->h->ud, a);
	if (rc < 0)
		c->cb_rc = rc;
	return rc;
#undef uuidbuf_len
}

static void raw_init(struct raw_attr *r, size_t offset)
{
	memset(r, 0, sizeof(*r));
	r->a.first_seen_us = INT64_MIN;
	r->a.last_seen_us = INT64_MIN;
	r->a.prefix[0] = r->a.prefix[1] = -1;
	r->a.offset = offset;
	event_init(&r->ev);
}

/*
 * Parse an array of attribute objects (its '[' consumed) and deliver each.
 * Non-object items are counted as bad shape and skipped.
 */
static int parse_attr_array(struct ctx *c, struct iocb_json_parser *p, size_t base,
			    const struct iocb_misp_event *ctx_ev, uint64_t object_id, struct iocb_str object_relation,
			    enum iocb_misp_action action)
{
	struct iocb_json_tok t;
	struct raw_attr r;
	int rc;

	while ((rc = next_object(c, p, &t, base, "attribute list item")) > 0) {
		iocb_arena_reset(&c->attr_arena);
		raw_init(&r, base + t.offset);
		rc = parse_attr_obj(c, p, base, &r);
		if (rc < 0)
			return rc;
		if (object_id && !r.a.object_id)
			r.a.object_id = object_id;
		if (object_relation.len && !r.a.object_relation.len)
			r.a.object_relation = object_relation;
		rc = deliver_attr(c, &r, ctx_ev, action);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* Parse the "Object" array of an event (its '[' consumed). */
static int parse_object_array(struct ctx *c, struct iocb_json_parser *p, size_t base,
			      const struct iocb_misp_event *ev, enum iocb_misp_action action)
{
	struct iocb_json_tok t, k, v;
	int rc;

	while ((rc = next_object(c, p, &t, 0, NULL)) > 0) {
		/* Objects are small apart from their attributes: find the id first. */
		uint64_t obj_id = 0;
		size_t attrs_off = 0;
		bool obj_deleted = false;
		while ((rc = next_member(c, p, &k, &v)) > 0) {
			if (key_is(&k, "id"))
				(void)tok_u64(&v, &obj_id);
			else if (key_is(&k, "deleted"))
				(void)tok_bool(&v, &obj_deleted);
			else if (key_is(&k, "Attribute") && v.type == IOCB_JSON_ARR)
				attrs_off = base + v.offset;
			rc = iocb_json_skip(p, &v, c->err);
			if (rc < 0)
				return rc;
		}
		if (rc < 0)
			return rc;
		if (attrs_off && !(obj_deleted && action == IOCB_ACT_NONE && !c->lim.keep_deleted)) {
			struct iocb_json_parser sp;
			struct iocb_json_tok open;
			sub_parser(c, &sp, attrs_off);
			rc = iocb_json_next(&sp, &open, c->err);
			if (rc < 0)
				return json_fail(c, rc, attrs_off);
			rc = parse_attr_array(c, &sp, attrs_off, ev, obj_id, IOCB_STR_NULL, action);
			if (rc < 0)
				return c->cb_rc ? rc : json_fail(c, rc, attrs_off);
		}
	}
	return rc;
}

/*
 * Deliver an event document: the Event object starts at byte `off` (its
 * '{'). `fallback` (may be NULL) supplies metadata the document lacks (feed
 * manifest). `top_orgc_off` / `top_tags_off` point at a top-level "Orgc" /
 * "EventTag" (misp_json_event messages) or are 0.
 */
static int handle_event(struct ctx *c, size_t off, const struct iocb_misp_event *fallback, size_t top_orgc_off,
			size_t top_tags_off, enum iocb_misp_action action, bool deliver_attrs)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	struct iocb_misp_event ev;
	struct tag_list tags = {0};
	struct ev_offsets offs = {0, 0};
	int rc;

	iocb_arena_reset(&c->ev_arena);
	event_init(&ev);
	sub_parser(c, &p, off);
	rc = iocb_json_next(&p, &t, c->err);
	if (rc < 0)
		return json_fail(c, rc, off);
	rc = parse_event_obj(c, &p, off, &c->ev_arena, &ev, &tags, &offs);
	if (rc < 0)
		return json_fail(c, rc, off);
	if (top_orgc_off) {
		sub_parser(c, &p, top_orgc_off);
		rc = iocb_json_next(&p, &t, c->err);
		if (rc >= 0)
			rc = parse_orgc(c, &p, &c->ev_arena, &ev);
		if (rc < 0)
			return json_fail(c, rc, top_orgc_off);
	}
	if (top_tags_off) {
		sub_parser(c, &p, top_tags_off);
		rc = iocb_json_next(&p, &t, c->err);
		if (rc >= 0)
			rc = parse_tag_array(c, &p, &c->ev_arena, true, &tags);
		if (rc < 0)
			return json_fail(c, rc, top_tags_off);
		ev.tags_known = true;
	}
	if (fallback) {
		if (!ev.uuid.len)
			ev.uuid = fallback->uuid;
		if (!ev.info.len)
			ev.info = fallback->info;
		if (!ev.orgc_name.len)
			ev.orgc_name = fallback->orgc_name;
		if (!ev.orgc_uuid.len)
			ev.orgc_uuid = fallback->orgc_uuid;
		if (!ev.threat_level_id)
			ev.threat_level_id = fallback->threat_level_id;
		if (ev.analysis < 0)
			ev.analysis = fallback->analysis;
		if (!ev.timestamp)
			ev.timestamp = fallback->timestamp;
		if (!ev.date.len)
			ev.date = fallback->date;
		if (!ev.tags_known && fallback->tags_known) {
			for (size_t i = 0; i < fallback->ntags; i++)
				(void)tag_push(&c->ev_arena, &tags, fallback->tags[i], c->lim.max_tags);
			ev.tags_known = true;
		}
	}
	ev.tags = tags.v;
	ev.ntags = tags.n;
	if (c->stats)
		c->stats->events++;
	if (c->h->on_event) {
		rc = c->h->on_event(c->h->ud, &ev, action);
		if (rc < 0) {
			c->cb_rc = rc;
			return rc;
		}
	}
	if (!deliver_attrs)
		return IOCB_OK;
	/* Attributes of a published/feed event are the event's current state. */
	if (offs.attrs) {
		sub_parser(c, &p, offs.attrs);
		rc = iocb_json_next(&p, &t, c->err);
		if (rc >= 0)
			rc = parse_attr_array(c, &p, offs.attrs, &ev, 0, IOCB_STR_NULL, IOCB_ACT_NONE);
		if (rc < 0)
			return c->cb_rc ? rc : json_fail(c, rc, offs.attrs);
	}
	if (offs.objects) {
		sub_parser(c, &p, offs.objects);
		rc = iocb_json_next(&p, &t, c->err);
		if (rc >= 0)
			rc = parse_object_array(c, &p, offs.objects, &ev, IOCB_ACT_NONE);
		if (rc < 0)
			return c->cb_rc ? rc : json_fail(c, rc, offs.objects);
	}
	return IOCB_OK;
}

/* A notification {"Attribute":{...},"Event":{...},"action":...}. */
static int handle_attr_notification(struct ctx *c, size_t attr_off, size_t event_off, enum iocb_misp_action action)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	struct iocb_misp_event ev;
	struct tag_list tags = {0};
	struct raw_attr r;
	int rc;

	iocb_arena_reset(&c->ev_arena);
	iocb_arena_reset(&c->attr_arena);
	event_init(&ev);
	if (event_off) {
		sub_parser(c, &p, event_off);
		rc = iocb_json_next(&p, &t, c->err);
		if (rc >= 0)
			rc = parse_event_obj(c, &p, event_off, &c->ev_arena, &ev, &tags, NULL);
		if (rc < 0)
			return json_fail(c, rc, event_off);
		ev.tags = tags.v;
		ev.ntags = tags.n;
	}
	raw_init(&r, attr_off);
	sub_parser(c, &p, attr_off);
	rc = iocb_json_next(&p, &t, c->err);
	if (rc >= 0)
		rc = parse_attr_obj(c, &p, attr_off, &r);
	if (rc < 0)
		return json_fail(c, rc, attr_off);
	/* A notification without an action is treated as an add (current state). */
	if (action == IOCB_ACT_NONE || action == IOCB_ACT_OTHER)
		action = IOCB_ACT_ADD;
	return deliver_attr(c, &r, event_off ? &ev : NULL, action);
}

/* {"response": ...}: an object with "Attribute" or a list of {"Event":...}. */
static int handle_response(struct ctx *c, struct iocb_json_parser *p, const struct iocb_json_tok *v);

static int handle_event_list(struct ctx *c, struct iocb_json_parser *p)
{
	struct iocb_json_tok t, k, v;
	int rc;

	while ((rc = next_object(c, p, &t, 0, "list item")) > 0) {
		while ((rc = next_member(c, p, &k, &v)) > 0) {
			if (key_is(&k, "Event") && v.type == IOCB_JSON_OBJ) {
				size_t off = v.offset;
				rc = iocb_json_skip(p, &v, c->err);
				if (rc < 0)
					return rc;
				rc = handle_event(c, off, NULL, 0, 0, IOCB_ACT_NONE, true);
				if (rc < 0)
					return rc;
				continue;
			}
			if (key_is(&k, "Attribute") && v.type == IOCB_JSON_ARR) {
				rc = parse_attr_array(c, p, 0, NULL, 0, IOCB_STR_NULL, IOCB_ACT_NONE);
				if (rc < 0)
					return rc;
				continue;
			}
			if (key_is(&k, "response")) {
				rc = handle_response(c, p, &v);
				if (rc < 0)
					return rc;
				continue;
			}
			rc = iocb_json_skip(p, &v, c->err);
			if (rc < 0)
				return rc;
		}
		if (rc < 0)
			return rc;
	}
	return rc;
}

static int handle_response(struct ctx *c, struct iocb_json_parser *p, const struct iocb_json_tok *v)
{
	struct iocb_json_tok k, w;
	int rc;

	if (v->type == IOCB_JSON_ARR)
		return handle_event_list(c, p);
	if (v->type != IOCB_JSON_OBJ) {
		skip(c, IOCB_SKIP_BAD_SHAPE, "%s: byte %zu: \"response\" is neither an object nor a list", c->source,
		     v->offset);
		return iocb_json_skip(p, v, c->err);
	}
	while ((rc = next_member(c, p, &k, &w)) > 0) {
		if (key_is(&k, "Attribute") && w.type == IOCB_JSON_ARR) {
			rc = parse_attr_array(c, p, 0, NULL, 0, IOCB_STR_NULL, IOCB_ACT_NONE);
			if (rc < 0)
				return rc;
			continue;
		}
		rc = iocb_json_skip(p, &w, c->err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* The top-level object; its '{' was consumed. */
/* {"Tag":{...,"name","event_id","local"?},"action":"attached to event"} -> on_tag. */
static int handle_tag_change(struct ctx *c, size_t tag_off, bool attached)
{
	struct iocb_json_parser sp;
	struct iocb_json_tok open, k, v;
	struct iocb_misp_tag_change t = {0};
	bool has_name = false;
	int rc;

	sub_parser(c, &sp, tag_off);
	rc = iocb_json_next(&sp, &open, c->err);
	while (rc >= 0 && (rc = next_member(c, &sp, &k, &v)) > 0) {
		if (key_is(&k, "name") && v.type == IOCB_JSON_STR) {
			if (tok_string(&c->ev_arena, &v, &t.name) == IOCB_OK)
				has_name = t.name.len > 0;
		} else if (key_is(&k, "event_id")) {
			if (!tok_u64(&v, &t.event_id))
				t.event_id = 0;
		} else if (key_is(&k, "local")) {
			if (!tok_bool(&v, &t.local))
				t.local = false;
		}
		rc = iocb_json_skip(&sp, &v, c->err);
	}
	if (rc < 0)
		return json_fail(c, rc, tag_off);
	if (!has_name || !t.event_id) {
		skip(c, IOCB_SKIP_MISSING_FIELD, "%s: byte %zu: event tag change without Tag.name or Tag.event_id",
		     c->source, tag_off);
		return IOCB_OK;
	}
	t.attached = attached;
	rc = c->h->on_tag(c->h->ud, &t);
	if (rc < 0)
		c->cb_rc = rc;
	iocb_arena_reset(&c->ev_arena);
	return rc;
}

static int handle_top_object(struct ctx *c, struct iocb_json_parser *p, size_t top_off)
{
	size_t tag_off = 0;
	int tag_change = 0; /* 1 attached to event, -1 detached from event */
	struct iocb_json_tok k, v;
	size_t attr_off = 0, event_off = 0, orgc_off = 0, evtags_off = 0, attr_list_off = 0;
	unsigned bare_event_keys = 0;
	bool event_is_string = false, saw_known = false;
	enum iocb_misp_action action = IOCB_ACT_NONE;
	char act[48];
	int rc;

	while ((rc = next_member(c, p, &k, &v)) > 0) {
		if (key_is(&k, "response")) {
			saw_known = true;
			rc = handle_response(c, p, &v);
			if (rc < 0)
				return rc;
			continue;
		}
		if (key_is(&k, "Attribute")) {
			saw_known = true;
			if (v.type == IOCB_JSON_ARR) {
				/* PyMISP's {"Attribute":[...]} or a bare event: decided at the end. */
				attr_list_off = v.offset;
			} else if (v.type == IOCB_JSON_OBJ)
				attr_off = v.offset;
			else
				skip(c, IOCB_SKIP_BAD_SHAPE, "%s: byte %zu: \"Attribute\" is neither an object nor a list",
				     c->source, v.offset);
		} else if (key_is(&k, "Event")) {
			saw_known = true;
			if (v.type == IOCB_JSON_OBJ)
				event_off = v.offset;
			else if (v.type == IOCB_JSON_STR)
				event_is_string = true; /* sync notification: "Event":"<uuid>" */
			else
				skip(c, IOCB_SKIP_BAD_SHAPE, "%s: byte %zu: \"Event\" is not an object", c->source, v.offset);
		} else if (key_is(&k, "Orgc") && v.type == IOCB_JSON_OBJ) {
			orgc_off = v.offset;
		} else if (key_is(&k, "EventTag") && v.type == IOCB_JSON_ARR) {
			evtags_off = v.offset;
		} else if (key_is(&k, "info") || key_is(&k, "uuid") || key_is(&k, "date") ||
			   key_is(&k, "threat_level_id")) {
			bare_event_keys++;
		} else if (key_is(&k, "Tag") && v.type == IOCB_JSON_OBJ) {
			tag_off = v.offset;
		} else if (key_is(&k, "action") && v.type == IOCB_JSON_STR) {
			size_t n;
			if (iocb_json_unescape(&v, act, sizeof(act), &n) == IOCB_OK) {
				action = parse_action(iocb_str_make(act, n));
				if (iocb_str_eq_c(iocb_str_make(act, n), "attached to event"))
					tag_change = 1;
				else if (iocb_str_eq_c(iocb_str_make(act, n), "detached from event"))
					tag_change = -1;
			} else
				action = IOCB_ACT_OTHER;
		}
		rc = iocb_json_skip(p, &v, c->err);
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	/* The whole top-level object is valid JSON now; act on what it held. */
	if (attr_list_off && !event_off) {
		struct iocb_json_parser sp;
		struct iocb_json_tok open;
		/* A PyMISP event without its {"Event":...} wrapper is an event itself. */
		if (bare_event_keys >= 2)
			return handle_event(c, top_off, NULL, 0, 0, IOCB_ACT_NONE, true);
		sub_parser(c, &sp, attr_list_off);
		rc = iocb_json_next(&sp, &open, c->err);
		if (rc >= 0)
			rc = parse_attr_array(c, &sp, attr_list_off, NULL, 0, IOCB_STR_NULL, IOCB_ACT_NONE);
		return rc < 0 && !c->cb_rc ? json_fail(c, rc, attr_list_off) : rc;
	}
	if (attr_off)
		return handle_attr_notification(c, attr_off, event_off, action);
	if (tag_off && tag_change && !event_off && c->h->on_tag)
		return handle_tag_change(c, tag_off, tag_change > 0);
	if (event_off) {
		/*
		 * misp_json (publish, no action) and feed/event files carry the full
		 * event: deliver its attributes as current state. misp_json_event
		 * add/edit/delete carry only the event row: metadata only.
		 */
		bool full = action == IOCB_ACT_NONE;
		return handle_event(c, event_off, NULL, orgc_off, evtags_off, action, full);
	}
	if (!saw_known && !event_is_string) {
		/* Tag, Sighting, heartbeat, Object...: valid MISP traffic we do not act on. */
		return IOCB_OK;
	}
	return IOCB_OK;
}

static void ctx_init(struct ctx *c, const char *buf, size_t len, const char *source,
		     const struct iocb_misp_handlers *h, const struct iocb_misp_limits *lim,
		     struct iocb_misp_stats *stats, struct iocb_err *err)
{
	memset(c, 0, sizeof(*c));
	c->buf = buf;
	c->len = len;
	c->source = source ? source : "input";
	c->h = h;
	if (lim)
		c->lim = *lim;
	else
		iocb_misp_limits_default(&c->lim);
	c->stats = stats;
	c->err = err;
	/* Scratch is bounded: a value is capped, so is every decoded string. */
	iocb_arena_init(&c->attr_arena, 64 * c->lim.max_value + (1u << 20));
	iocb_arena_init(&c->ev_arena, 64 * c->lim.max_value + (1u << 20));
}

static void ctx_fini(struct ctx *c)
{
	iocb_arena_fini(&c->attr_arena);
	iocb_arena_fini(&c->ev_arena);
}

static int parse_doc(struct ctx *c)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	int rc;

	iocb_json_init(&p, c->buf, c->len, c->lim.max_depth, false);
	rc = iocb_json_next(&p, &t, c->err);
	if (rc < 0)
		goto bad;
	if (t.type == IOCB_JSON_OBJ) {
		rc = handle_top_object(c, &p, t.offset);
	} else if (t.type == IOCB_JSON_ARR) {
		rc = handle_event_list(c, &p);
	} else {
		skip(c, IOCB_SKIP_BAD_SHAPE, "%s: the document is not a JSON object or list", c->source);
		return IOCB_OK;
	}
	if (rc < 0)
		goto bad;
	rc = iocb_json_next(&p, &t, c->err);
	if (rc == IOCB_EEND)
		return IOCB_OK;
	if (rc == IOCB_OK)
		rc = iocb_err_set(c->err, IOCB_EPARSE, "byte %zu: unexpected data after the JSON value", t.offset);
bad:
	if (c->cb_rc)
		return c->cb_rc;
	if (c->stats)
		c->stats->skipped[IOCB_SKIP_NOT_JSON]++;
	if (c->h->on_skip)
		c->h->on_skip(c->h->ud, IOCB_SKIP_NOT_JSON, c->err ? c->err->msg : "invalid JSON");
	if (c->err)
		iocb_err_prefix(c->err, "%s", c->source);
	return rc;
}

int iocb_misp_parse(const char *buf, size_t len, const char *source, const struct iocb_misp_handlers *h,
		    const struct iocb_misp_limits *lim, struct iocb_misp_stats *stats, struct iocb_err *err)
{
	struct iocb_err local;
	struct ctx c;
	int rc;

	ctx_init(&c, buf, len, source, h, lim, stats, err ? err : &local);
	rc = parse_doc(&c);
	ctx_fini(&c);
	return rc;
}

int iocb_misp_parse_zmq_frame(const char *buf, size_t len, struct iocb_str *topic, const struct iocb_misp_handlers *h,
			      const struct iocb_misp_limits *lim, struct iocb_misp_stats *stats, struct iocb_err *err)
{
	const char *sp = memchr(buf, ' ', len);
	size_t tlen;

	if (!sp) {
		if (stats)
			stats->skipped[IOCB_SKIP_BAD_SHAPE]++;
		if (h->on_skip)
			h->on_skip(h->ud, IOCB_SKIP_BAD_SHAPE, "zmq frame without a space after the topic");
		*topic = iocb_str_make(buf, len > 64 ? 64 : len);
		return iocb_err_set(err, IOCB_EPARSE, "zmq frame without a space after the topic");
	}
	tlen = (size_t)(sp - buf);
	*topic = iocb_str_make(buf, tlen);
	if (iocb_str_eq_c(*topic, "misp_json_self"))
		return IOCB_OK;
	/* Only these topics carry attributes or event state (tags: event tag changes). */
	if (!iocb_str_eq_c(*topic, "misp_json") && !iocb_str_eq_c(*topic, "misp_json_attribute") &&
	    !iocb_str_eq_c(*topic, "misp_json_event") && !(h->on_tag && iocb_str_eq_c(*topic, "misp_json_tag")))
		return IOCB_OK;
	return iocb_misp_parse(sp + 1, len - tlen - 1, "zmq", h, lim, stats, err);
}

/* ------------------------------------------------------------ feeds */

struct manifest_entry {
	char uuid[64];
	struct iocb_misp_event ev; /* views into the manifest map / arena */
};

static bool uuid_like(struct iocb_str s)
{
	if (s.len != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		char ch = s.ptr[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? ch != '-' : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
			return false;
	}
	return true;
}

int iocb_misp_parse_feed_dir(const char *dir, const struct iocb_misp_handlers *h, const struct iocb_misp_limits *lim,
			     struct iocb_misp_stats *stats, struct iocb_err *err)
{
	struct iocb_misp_limits l;
	struct iocb_file_map man = {0};
	struct iocb_json_parser p;
	struct iocb_json_tok t, k;
	struct iocb_arena arena;
	struct manifest_entry *ents = NULL;
	size_t nents = 0, cap = 0;
	char path[PATH_MAX];
	struct ctx mc;
	int rc;

	if (lim)
		l = *lim;
	else
		iocb_misp_limits_default(&l);
	iocb_arena_init(&arena, 0);
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	rc = iocb_file_map(path, 0, &man, err);
	if (rc < 0)
		goto out;
	ctx_init(&mc, man.data, man.len, path, h, &l, stats, err);
	iocb_json_init(&p, man.data, man.len, l.max_depth, false);
	rc = iocb_json_next(&p, &t, err);
	if (rc >= 0 && t.type != IOCB_JSON_OBJ)
		rc = iocb_err_set(err, IOCB_EPARSE, "%s: the manifest is not a JSON object", path);
	while (rc >= 0) {
		rc = iocb_json_next(&p, &k, err);
		if (rc < 0 || k.type == IOCB_JSON_OBJ_END)
			break;
		rc = iocb_json_next(&p, &t, err);
		if (rc < 0)
			break;
		if (t.type != IOCB_JSON_OBJ || k.escaped || !uuid_like(k.s)) {
			skip(&mc, IOCB_SKIP_BAD_SHAPE, "%s: byte %zu: manifest entry is not <uuid>: {...}", path,
			     k.offset);
			rc = iocb_json_skip(&p, &t, err);
			continue;
		}
		if (nents == cap) {
			cap = cap ? cap * 2 : 64;
			ents = realloc(ents, cap * sizeof(*ents));
			if (!ents) {
				rc = iocb_err_set(err, IOCB_ENOMEM, "out of memory");
				break;
			}
		}
		struct manifest_entry *e = &ents[nents];
		struct tag_list tags = {0};
		memset(e, 0, sizeof(*e));
		memcpy(e->uuid, k.s.ptr, 36);
		e->uuid[36] = '\0';
		event_init(&e->ev);
		rc = parse_event_obj(&mc, &p, 0, &arena, &e->ev, &tags, NULL);
		if (rc < 0)
			break;
		e->ev.tags = tags.v;
		e->ev.ntags = tags.n;
		nents++;
	}
	if (rc < 0) {
		if (stats)
			stats->skipped[IOCB_SKIP_NOT_JSON]++;
		iocb_err_prefix(err, "%s", path);
		ctx_fini(&mc);
		goto out;
	}
	ctx_fini(&mc);

	for (size_t i = 0; i < nents; i++) {
		struct iocb_file_map ef = {0};
		struct iocb_err e2 = {0};
		struct ctx c;
		char epath[PATH_MAX];

		ents[i].ev.uuid = iocb_str_make(ents[i].uuid, 36);
		snprintf(epath, sizeof(epath), "%s/%s.json", dir, ents[i].uuid);
		if (iocb_file_map(epath, 0, &ef, &e2) < 0) {
			if (stats)
				stats->skipped[IOCB_SKIP_IO]++;
			if (h->on_skip)
				h->on_skip(h->ud, IOCB_SKIP_IO, e2.msg);
			continue;
		}
		ctx_init(&c, ef.data, ef.len, epath, h, &l, stats, &e2);
		/* An event file is {"Event":{...}}; find it and deliver with the manifest as fallback. */
		iocb_json_init(&p, ef.data, ef.len, l.max_depth, false);
		size_t ev_off = 0;
		int prc = iocb_json_next(&p, &t, &e2);
		if (prc >= 0 && t.type != IOCB_JSON_OBJ)
			prc = iocb_err_set(&e2, IOCB_EPARSE, "not a JSON object");
		while (prc >= 0) {
			prc = iocb_json_next(&p, &k, &e2);
			if (prc < 0 || k.type == IOCB_JSON_OBJ_END)
				break;
			prc = iocb_json_next(&p, &t, &e2);
			if (prc < 0)
				break;
			if (key_is(&k, "Event") && t.type == IOCB_JSON_OBJ)
				ev_off = t.offset;
			prc = iocb_json_skip(&p, &t, &e2);
		}
		if (prc >= 0 && !ev_off) {
			skip(&c, IOCB_SKIP_BAD_SHAPE, "%s: no \"Event\" object", epath);
		} else if (prc < 0) {
			if (stats)
				stats->skipped[IOCB_SKIP_NOT_JSON]++;
			if (h->on_skip) {
				char msg[720];
				snprintf(msg, sizeof(msg), "%.180s: %.500s", epath, e2.msg);
				h->on_skip(h->ud, IOCB_SKIP_NOT_JSON, msg);
			}
		} else {
			prc = handle_event(&c, ev_off, &ents[i].ev, 0, 0, IOCB_ACT_NONE, true);
			if (prc < 0 && c.cb_rc) {
				rc = c.cb_rc;
				ctx_fini(&c);
				iocb_file_unmap(&ef);
				goto out;
			}
		}
		ctx_fini(&c);
		iocb_file_unmap(&ef);
	}
	rc = IOCB_OK;
out:
	free(ents);
	iocb_arena_fini(&arena);
	iocb_file_unmap(&man);
	return rc;
}
