/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MISP Attribute objects: read the fields of one attribute, validate and
 * normalise it (type, value parts, event context), and deliver it or count
 * why not. Also the containers attributes come in: attribute lists, event
 * Objects, and the ZeroMQ/Kafka notification {"Attribute":..,"Event":..}.
 *
 * restSearch attributes carry their own Event and are handled strictly in
 * stream order: that is the path that must load millions per second, so
 * the member loop dispatches on the key's first letter.
 */
#include "misp/internal.h"

#include "core/time.h"

#define key_is IOCB_MISP__KEY_IS

/* Raw fields of one attribute object before validation. */
struct raw_attr {
	struct iocb_misp_attr a;         /* what we deliver (views) */
	struct iocb_str type_name;       /* "type" as sent */
	struct iocb_str value, value1, value2; /* "value" / "value1" / "value2" as sent */
	bool has_value, has_value1;      /* those were present (and not too large) */
	bool bad_field;                  /* a field had an unusable type/value */
	const char *bad_name;            /* which one, for the message */
	struct iocb_misp_event ev;       /* attribute's own Event (restSearch) */
	bool has_event;                  /* ev was present */
	struct iocb_misp__tags tags;     /* attribute tags */
	struct iocb_misp__tags ev_tags;  /* its own Event's tags */
	struct iocb_str event_uuid;      /* includeEventUuid */
};

static void mark_bad(struct raw_attr *r, const char *name)
{
	if (!r->bad_field) {
		r->bad_field = true;
		r->bad_name = name;
	}
}

/* Width for printing the uuid in skip messages: "%.*s" keeps them bounded. */
static int uuid_w(const struct iocb_misp_attr *a)
{
	return a->uuid.len > 40 ? 40 : (int)a->uuid.len;
}

/*
 * first_seen / last_seen: MISP emits "2024-10-21T08:00:00.000000+00:00"
 * (also accepted: 'Z', no fraction, a space instead of 'T'), or null; older
 * data may carry epoch microseconds as a number or digit string.
 */
static bool tok_time_us(const struct iocb_json_tok *t, int64_t *out)
{
	if (t->type == IOCB_JSON_NULL) {
		*out = INT64_MIN;
		return true;
	}
	if (t->type == IOCB_JSON_NUM)
		return iocb_json_tok_i64(t, out);
	if (t->type != IOCB_JSON_STR || t->escaped)
		return false;
	if (t->s.len == 0) {
		*out = INT64_MIN;
		return true;
	}
	for (size_t i = 0; i < t->s.len; i++)
		if (t->s.ptr[i] < '0' || t->s.ptr[i] > '9')
			return iocb_time_parse_iso8601_us(t->s.ptr, t->s.len, out);
	return iocb_str_to_i64(t->s, out);
}

/* "value", "value1", "value2" (a string or number), capped at max_value. */
static void attr_value_member(struct iocb_misp__ctx *c, struct raw_attr *r, const struct iocb_json_tok *k,
			      const struct iocb_json_tok *v)
{
	struct iocb_arena *a = &c->attr_arena;

	if (v->type != IOCB_JSON_STR && v->type != IOCB_JSON_NUM)
		return;
	if (key_is(k, "value")) {
		if (v->s.len > c->lim.max_value)
			mark_bad(r, "value (too large)");
		else if (iocb_misp__tok_string(a, v, &r->value) == IOCB_OK)
			r->has_value = true;
	} else if (key_is(k, "value1")) {
		if (v->s.len > c->lim.max_value)
			mark_bad(r, "value1 (too large)");
		else if (iocb_misp__tok_string(a, v, &r->value1) == IOCB_OK)
			r->has_value1 = true;
	} else if (key_is(k, "value2")) {
		if (v->s.len <= c->lim.max_value)
			(void)iocb_misp__tok_string(a, v, &r->value2);
	}
}

/*
 * One member of an attribute object other than its Tag list and Event
 * (the key is non-empty and unescaped). Dispatch on the first letter keeps
 * the common path short.
 */
static void attr_member(struct iocb_misp__ctx *c, struct raw_attr *r, const struct iocb_json_tok *k,
			const struct iocb_json_tok *v)
{
	struct iocb_arena *a = &c->attr_arena;
	uint64_t u;
	bool b;

	switch (k->s.ptr[0]) {
	case 'i':
		if (key_is(k, "id")) {
			if (iocb_misp__tok_u64(v, &u))
				r->a.id = u;
			else
				mark_bad(r, "id");
		}
		break;
	case 'e':
		if (key_is(k, "event_id")) {
			if (iocb_misp__tok_u64(v, &u))
				r->a.event_id = u;
			else
				mark_bad(r, "event_id");
		} else if (key_is(k, "event_uuid") && v->type == IOCB_JSON_STR) {
			(void)iocb_misp__tok_string(a, v, &r->event_uuid);
		}
		break;
	case 'o':
		if (key_is(k, "object_id")) {
			if (iocb_misp__tok_u64(v, &u))
				r->a.object_id = u;
		} else if (key_is(k, "object_relation") && v->type == IOCB_JSON_STR) {
			(void)iocb_misp__tok_string(a, v, &r->a.object_relation);
		}
		break;
	case 'c':
		if (key_is(k, "category") && v->type == IOCB_JSON_STR)
			(void)iocb_misp__tok_string(a, v, &r->a.category);
		else if (key_is(k, "comment") && v->type == IOCB_JSON_STR) {
			if (v->s.len > c->lim.max_value)
				mark_bad(r, "comment (too large)");
			else
				(void)iocb_misp__tok_string(a, v, &r->a.comment);
		}
		break;
	case 't':
		if (key_is(k, "type")) {
			if (v->type == IOCB_JSON_STR)
				(void)iocb_misp__tok_string(a, v, &r->type_name);
			else
				mark_bad(r, "type");
		} else if (key_is(k, "to_ids")) {
			if (iocb_misp__tok_bool(v, &b))
				r->a.to_ids = b;
			else
				mark_bad(r, "to_ids");
		} else if (key_is(k, "timestamp")) {
			if (iocb_misp__tok_u64(v, &u))
				r->a.timestamp = u;
			else
				mark_bad(r, "timestamp");
		}
		break;
	case 'u':
		if (key_is(k, "uuid") && v->type == IOCB_JSON_STR)
			(void)iocb_misp__tok_string(a, v, &r->a.uuid);
		break;
	case 'v':
		attr_value_member(c, r, k, v);
		break;
	case 'd':
		if (key_is(k, "deleted")) {
			if (iocb_misp__tok_bool(v, &b))
				r->a.deleted = b;
			else
				mark_bad(r, "deleted");
		}
		break;
	case 'f':
		if (key_is(k, "first_seen") && !tok_time_us(v, &r->a.first_seen_us))
			r->a.first_seen_us = INT64_MIN;
		break;
	case 'l':
		if (key_is(k, "last_seen") && !tok_time_us(v, &r->a.last_seen_us))
			r->a.last_seen_us = INT64_MIN;
		break;
	default:
		break;
	}
}

/*
 * Parse an attribute object whose '{' was consumed into r.
 * `base` rebases offsets of a sub-parser to the document.
 */
static int attr_obj(struct iocb_misp__ctx *c, struct iocb_json_parser *p, size_t base, struct raw_attr *r)
{
	struct iocb_json_tok k, v;
	int rc;

	while ((rc = iocb_json_next_member(p, &k, &v, c->err)) > 0) {
		if (k.s.len == 0 || k.escaped) {
			/* never sent by MISP: ignored */
		} else if (k.s.ptr[0] == 'T' && v.type == IOCB_JSON_ARR && key_is(&k, "Tag")) {
			rc = iocb_misp__tag_array(c, p, &c->attr_arena, false, &r->tags);
			if (rc < 0)
				return rc;
			continue;
		} else if (k.s.ptr[0] == 'E' && v.type == IOCB_JSON_OBJ && key_is(&k, "Event")) {
			rc = iocb_misp__event_obj(c, p, base, &c->attr_arena, &r->ev, &r->ev_tags, NULL);
			if (rc < 0)
				return rc;
			r->has_event = true;
			continue;
		} else {
			attr_member(c, r, &k, &v);
		}
		rc = iocb_json_skip(p, &v, c->err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* The event context: the attribute's own Event wins, the enclosing event fills gaps. */
static void attr_event(struct raw_attr *r, const struct iocb_misp_event *ctx_ev, struct iocb_misp_event *merged)
{
	struct iocb_misp_attr *a = &r->a;

	if (r->has_event) {
		*merged = r->ev;
		merged->tags = r->ev_tags.v;
		merged->ntags = r->ev_tags.n;
		if (ctx_ev && !merged->tags_known && ctx_ev->tags_known) {
			merged->tags = ctx_ev->tags;
			merged->ntags = ctx_ev->ntags;
			merged->tags_known = true;
		}
	} else if (ctx_ev) {
		*merged = *ctx_ev;
	} else {
		iocb_misp__event_init(merged);
	}
	if (merged->uuid.len == 0 && r->event_uuid.len)
		merged->uuid = r->event_uuid;
	if (merged->id == 0)
		merged->id = a->event_id;
	if (a->event_id == 0)
		a->event_id = merged->id;
	a->event = merged;
	a->tags = r->tags.v;
	a->ntags = r->tags.n;
}

/* a->value: "value", else value1[|value2]. False (counted) when it does not fit the scratch arena. */
static bool attr_value(struct iocb_misp__ctx *c, struct raw_attr *r)
{
	struct iocb_misp_attr *a = &r->a;
	struct iocb_str value = r->value;

	if (!r->has_value && r->has_value1) {
		if (r->value2.len) {
			char *v = iocb_arena_alloc(&c->attr_arena, r->value1.len + r->value2.len + 2);
			if (!v) {
				iocb_misp__skip(c, IOCB_SKIP_TOO_LARGE, "%s: attribute %.*s: value too large", c->source,
						uuid_w(a), a->uuid.ptr);
				return false;
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
	return true;
}

/*
 * Type and value parts: a->type, a->part[], a->indicator. A snapshot skips
 * (and counts) what is not a usable indicator: false then. A notification
 * keeps it with indicator false, so the consumer can drop the old version.
 */
static bool attr_type(struct iocb_misp__ctx *c, struct raw_attr *r, bool snapshot)
{
	struct iocb_misp_attr *a = &r->a;
	const struct iocb_misp_type *t = r->type_name.len ? iocb_misp_type_find(r->type_name) : NULL;
	struct iocb_err verr = {0};
	size_t cap;
	char *scratch;

	a->type = t;
	if (r->type_name.len == 0 || (!r->has_value && !r->has_value1)) {
		if (snapshot)
			iocb_misp__skip(c, IOCB_SKIP_MISSING_FIELD, "%s: attribute %.*s: no %s", c->source, uuid_w(a),
					a->uuid.ptr, r->type_name.len == 0 ? "type" : "value");
		return !snapshot;
	}
	if (!t) {
		if (snapshot)
			iocb_misp__skip(c, IOCB_SKIP_UNKNOWN_TYPE, "%s: attribute %.*s: unknown type '%.*s'", c->source,
					uuid_w(a), a->uuid.ptr, r->type_name.len > 64 ? 64 : (int)r->type_name.len,
					r->type_name.ptr);
		return !snapshot;
	}
	if (!iocb_misp_type_is_indicator(t)) {
		if (snapshot)
			iocb_misp__skip(c, IOCB_SKIP_NOT_INDICATOR, "%s: attribute %.*s: type '%s' is not matchable",
					c->source, uuid_w(a), a->uuid.ptr, t->name);
		return !snapshot;
	}
	cap = a->value.len * 2 + 64;
	scratch = iocb_arena_alloc(&c->attr_arena, cap);
	if (!scratch) {
		iocb_misp__skip(c, IOCB_SKIP_TOO_LARGE, "%s: attribute %.*s: value too large", c->source, uuid_w(a),
				a->uuid.ptr);
		return false;
	}
	int rc = iocb_misp_value_split(t, a->value, scratch, cap, a->part, a->prefix, &a->nparts, &verr);
	if (rc < 0) {
		if (snapshot) {
			iocb_misp__skip(c, rc == IOCB_ELIMIT ? IOCB_SKIP_TOO_LARGE : IOCB_SKIP_INVALID_VALUE,
					"%s: attribute %.*s: %s value: %s", c->source, uuid_w(a), a->uuid.ptr, t->name,
					verr.msg);
			return false;
		}
		a->nparts = 0;
	} else {
		a->indicator = !r->bad_field;
	}
	return true;
}

/*
 * Validate and normalise a parsed attribute, then deliver it (or count why
 * not). `ctx_ev` is the enclosing event for event documents, or NULL.
 */
static int deliver_attr(struct iocb_misp__ctx *c, struct raw_attr *r, const struct iocb_misp_event *ctx_ev,
			enum iocb_misp_action action)
{
	struct iocb_misp_attr *a = &r->a;
	struct iocb_misp_event merged;
	bool snapshot = action == IOCB_ACT_NONE;
	int rc;

	a->action = action;
	if (a->uuid.len == 0) {
		iocb_misp__skip(c, IOCB_SKIP_MISSING_FIELD, "%s: byte %zu: attribute without uuid", c->source,
				a->offset);
		return IOCB_OK;
	}
	if (r->bad_field) {
		iocb_misp__skip(c, IOCB_SKIP_BAD_SHAPE, "%s: attribute %.*s: field '%s' has an unusable value",
				c->source, uuid_w(a), a->uuid.ptr, r->bad_name);
		if (snapshot)
			return IOCB_OK;
	}
	attr_event(r, ctx_ev, &merged);
	if (!attr_value(c, r) || !attr_type(c, r, snapshot))
		return IOCB_OK;
	if (snapshot && a->deleted && !c->lim.keep_deleted) {
		iocb_misp__skip(c, IOCB_SKIP_DELETED, "%s: attribute %.*s: soft-deleted", c->source, uuid_w(a),
				a->uuid.ptr);
		return IOCB_OK;
	}
	if (c->stats)
		c->stats->attributes++;
	rc = c->h->on_attr(c->h->ud, a);
	if (rc < 0)
		c->cb_rc = rc;
	return rc;
}

static void raw_init(struct raw_attr *r, size_t offset)
{
	memset(r, 0, sizeof(*r));
	r->a.first_seen_us = INT64_MIN;
	r->a.last_seen_us = INT64_MIN;
	r->a.prefix[0] = r->a.prefix[1] = -1;
	r->a.offset = offset;
	iocb_misp__event_init(&r->ev);
}

int iocb_misp__attr_array(struct iocb_misp__ctx *c, struct iocb_json_parser *p, size_t base,
			  const struct iocb_misp_event *ctx_ev, uint64_t object_id, struct iocb_str object_relation,
			  enum iocb_misp_action action)
{
	struct iocb_json_tok t;
	struct raw_attr r;
	int rc;

	while ((rc = iocb_misp__next_object(c, p, &t, base, "attribute list item")) > 0) {
		iocb_arena_reset(&c->attr_arena);
		raw_init(&r, base + t.offset);
		rc = attr_obj(c, p, base, &r);
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

int iocb_misp__object_array(struct iocb_misp__ctx *c, struct iocb_json_parser *p, size_t base,
			    const struct iocb_misp_event *ev, enum iocb_misp_action action)
{
	struct iocb_json_tok t, k, v;
	int rc;

	while ((rc = iocb_misp__next_object(c, p, &t, 0, NULL)) > 0) {
		/* Objects are small apart from their attributes: find the id first. */
		uint64_t obj_id = 0;
		size_t attrs_off = 0;
		bool obj_deleted = false;
		while ((rc = iocb_json_next_member(p, &k, &v, c->err)) > 0) {
			if (key_is(&k, "id"))
				(void)iocb_misp__tok_u64(&v, &obj_id);
			else if (key_is(&k, "deleted"))
				(void)iocb_misp__tok_bool(&v, &obj_deleted);
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
			iocb_misp__sub_parser(c, &sp, attrs_off);
			rc = iocb_json_next(&sp, &open, c->err);
			if (rc < 0)
				return iocb_misp__json_fail(c, rc, attrs_off);
			rc = iocb_misp__attr_array(c, &sp, attrs_off, ev, obj_id, IOCB_STR_NULL, action);
			if (rc < 0)
				return c->cb_rc ? rc : iocb_misp__json_fail(c, rc, attrs_off);
		}
	}
	return rc;
}

int iocb_misp__attr_notification(struct iocb_misp__ctx *c, size_t attr_off, size_t event_off,
				 enum iocb_misp_action action)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	struct iocb_misp_event ev;
	struct iocb_misp__tags tags = {0};
	struct raw_attr r;
	int rc;

	iocb_arena_reset(&c->ev_arena);
	iocb_arena_reset(&c->attr_arena);
	iocb_misp__event_init(&ev);
	if (event_off) {
		iocb_misp__sub_parser(c, &p, event_off);
		rc = iocb_json_next(&p, &t, c->err);
		if (rc >= 0)
			rc = iocb_misp__event_obj(c, &p, event_off, &c->ev_arena, &ev, &tags, NULL);
		if (rc < 0)
			return iocb_misp__json_fail(c, rc, event_off);
		ev.tags = tags.v;
		ev.ntags = tags.n;
	}
	raw_init(&r, attr_off);
	iocb_misp__sub_parser(c, &p, attr_off);
	rc = iocb_json_next(&p, &t, c->err);
	if (rc >= 0)
		rc = attr_obj(c, &p, attr_off, &r);
	if (rc < 0)
		return iocb_misp__json_fail(c, rc, attr_off);
	/* A notification without an action is treated as an add (current state). */
	if (action == IOCB_ACT_NONE || action == IOCB_ACT_OTHER)
		action = IOCB_ACT_ADD;
	return deliver_attr(c, &r, event_off ? &ev : NULL, action);
}
