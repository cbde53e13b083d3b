/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to src/misp: what the files of the module share.
 *
 *   types.c, normalize.c  the type table and value normalisation (misp.h)
 *   ctx.c                 the parse context and its token helpers (below)
 *   time.c                ISO-8601 timestamps -> epoch microseconds
 *   tags.c                tag objects and tag lists
 *   event.c               Event objects and event documents
 *   attr.c                attribute objects: read, validate, deliver
 *   parse.c               iocb_misp_parse(): which shape a document has
 *   zmq.c                 iocb_misp_parse_zmq_frame(): topic framing
 *   feed.c                feed manifests and feed directories
 *
 * The token helpers every parser calls per member are static inline here:
 * they sat in one file before the split, and the restSearch path (millions
 * of attributes a second) must keep them inlined.
 */
#ifndef IOCB_MISP_INTERNAL_H
#define IOCB_MISP_INTERNAL_H

#include <string.h>

#include "core/arena.h"
#include "json/json.h"
#include "misp/misp.h"

/*
 * Number of hex digits a valid value of part `part` (0 or 1) of type `t`
 * has (32 for md5, 62 for jarm-fingerprint...), or 0 when MISP does not
 * check a fixed hex length for it. Any thread.
 */
unsigned iocb_misp__type_hexlen(const struct iocb_misp_type *t, unsigned part);

/* ------------------------------------------------------------ context (ctx.c) */

/* Parse state shared by the helpers of one document (one iocb_misp_parse() call). */
struct iocb_misp__ctx {
	const char *buf;                 /* whole document */
	size_t len;                      /* its length */
	const char *source;              /* name for messages */
	const struct iocb_misp_handlers *h; /* callbacks (borrowed) */
	struct iocb_misp_limits lim;     /* caps in force */
	struct iocb_misp_stats *stats;   /* counters, may be NULL */
	struct iocb_err *err;            /* never NULL */
	struct iocb_arena attr_arena;    /* reset per attribute */
	struct iocb_arena ev_arena;      /* reset per event */
	int cb_rc;                       /* a callback's negative rc, to stop */
};

/*
 * Set up *c for buf[0..len). `lim` NULL = defaults; `err` must not be NULL.
 * Free with iocb_misp__ctx_fini().
 */
void iocb_misp__ctx_init(struct iocb_misp__ctx *c, const char *buf, size_t len, const char *source,
			 const struct iocb_misp_handlers *h, const struct iocb_misp_limits *lim,
			 struct iocb_misp_stats *stats, struct iocb_err *err);
void iocb_misp__ctx_fini(struct iocb_misp__ctx *c);

/* Count a skipped item under `r` and pass the formatted detail to on_skip. */
void iocb_misp__skip(struct iocb_misp__ctx *c, enum iocb_misp_skip r, const char *fmt, ...) IOCB_PRINTF(3, 4);

/* Rebase a sub-parser error ("byte N: ...") by `base` bytes; returns rc. */
int iocb_misp__json_fail(struct iocb_misp__ctx *c, int rc, size_t base);

/*
 * Next item of the array being read that is an object (its '{' in *t).
 * Other items are skipped; when `what` is set they are counted as bad shape
 * ("<what> is not an object", at base + offset). Returns 1 for an object, 0
 * at the array's end, or a negative rc.
 */
int iocb_misp__next_object(struct iocb_misp__ctx *c, struct iocb_json_parser *p, struct iocb_json_tok *t,
			   size_t base, const char *what);

/* A parser positioned at byte `off` of the document, reading one value. */
static inline void iocb_misp__sub_parser(struct iocb_misp__ctx *c, struct iocb_json_parser *p, size_t off)
{
	iocb_json_init(p, c->buf + off, c->len - off, c->lim.max_depth, true);
}

/*
 * Key comparison against a string literal: length first, then bytes; keys
 * written with escapes (legal, never seen from MISP) take the slow path.
 */
#define IOCB_MISP__KEY_IS(k, lit)                                                                          \
	(!(k)->escaped ? ((k)->s.len == sizeof(lit) - 1 && memcmp((k)->s.ptr, lit, sizeof(lit) - 1) == 0) \
		       : iocb_json_tok_eq((k), lit))

/* A string token as a view: into the input, or decoded into `a` if it has escapes. */
static inline int iocb_misp__tok_string(struct iocb_arena *a, const struct iocb_json_tok *t, struct iocb_str *out)
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

/* Integer from a string ("123") or a number; false otherwise. null and "" -> 0, true. */
static inline bool iocb_misp__tok_u64(const struct iocb_json_tok *t, uint64_t *out)
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
static inline bool iocb_misp__tok_bool(const struct iocb_json_tok *t, bool *out)
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

/* ------------------------------------------------------------ tags (tags.c) */

/* A growable tag list in arena memory. */
struct iocb_misp__tags {
	struct iocb_misp_tag *v;  /* arena memory */
	size_t n;                 /* used */
	size_t cap;               /* allocated */
};

/* Append t unless the list holds `max` tags already (the rest are dropped). */
int iocb_misp__tag_push(struct iocb_arena *a, struct iocb_misp__tags *l, struct iocb_misp_tag t, size_t max);

/*
 * The '[' of a tag array was consumed: read [{"name":..,"local":..}, ...]
 * or, with `wrapped`, EventTag's [{"local":..,"Tag":{"name":..}}, ...] into
 * `out`. Items that are not objects or have no name are ignored.
 */
int iocb_misp__tag_array(struct iocb_misp__ctx *c, struct iocb_json_parser *p, struct iocb_arena *a, bool wrapped,
			 struct iocb_misp__tags *out);

/* ------------------------------------------------------------ events (event.c) */

/* What iocb_misp__event_obj() found besides the event's own fields. */
struct iocb_misp__ev_extra {
	size_t attrs;           /* offset of the "Attribute" array, 0 if none */
	size_t objects;         /* offset of the "Object" array, 0 if none */
	bool timestamp_decimal; /* the last "timestamp" was a decimal integer (number or digit string) */
};

/* An empty event: every field 0/empty, analysis -1 (absent). */
void iocb_misp__event_init(struct iocb_misp_event *ev);

/* The '{' of an Orgc object was consumed: fill ev's orgc_name, orgc_uuid, orgc_id. */
int iocb_misp__orgc(struct iocb_misp__ctx *c, struct iocb_json_parser *p, struct iocb_arena *a,
		    struct iocb_misp_event *ev);

/*
 * Parse an Event object (its '{' consumed) into ev, strings into `a`.
 * Attribute/Object arrays are skipped; with `extra` their offsets (rebased
 * by `base`) are recorded there. Tags are collected into `tags`.
 */
int iocb_misp__event_obj(struct iocb_misp__ctx *c, struct iocb_json_parser *p, size_t base, struct iocb_arena *a,
			 struct iocb_misp_event *ev, struct iocb_misp__tags *tags, struct iocb_misp__ev_extra *extra);

/*
 * Deliver an event document: the Event object starts at byte `off` (its
 * '{'). `fallback` (may be NULL) supplies metadata the document lacks (feed
 * manifest). `top_orgc_off` / `top_tags_off` point at a top-level "Orgc" /
 * "EventTag" (misp_json_event messages) or are 0. With `deliver_attrs` its
 * attributes and objects follow as current state.
 */
int iocb_misp__event_doc(struct iocb_misp__ctx *c, size_t off, const struct iocb_misp_event *fallback,
			 size_t top_orgc_off, size_t top_tags_off, enum iocb_misp_action action, bool deliver_attrs);

/* ------------------------------------------------------------ attributes (attr.c) */

/*
 * Parse an array of attribute objects (its '[' consumed) and deliver each
 * under `ctx_ev` (may be NULL). `object_id` / `object_relation` fill in
 * what an object's attributes lack. Non-object items are counted as bad
 * shape and skipped.
 */
int iocb_misp__attr_array(struct iocb_misp__ctx *c, struct iocb_json_parser *p, size_t base,
			  const struct iocb_misp_event *ctx_ev, uint64_t object_id, struct iocb_str object_relation,
			  enum iocb_misp_action action);

/* Parse the "Object" array of an event (its '[' consumed) and deliver the objects' attributes. */
int iocb_misp__object_array(struct iocb_misp__ctx *c, struct iocb_json_parser *p, size_t base,
			    const struct iocb_misp_event *ev, enum iocb_misp_action action);

/* A notification {"Attribute":{...},"Event":{...},"action":...}: the two objects' offsets. */
int iocb_misp__attr_notification(struct iocb_misp__ctx *c, size_t attr_off, size_t event_off,
				 enum iocb_misp_action action);

#endif
