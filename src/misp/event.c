/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MISP Event objects: the event's own fields, its Orgc and tags, and the
 * delivery of an event document (header first, then its attributes and
 * objects as current state).
 *
 * An event file may list "Attribute" before its "Tag", so the Event object
 * is read once for its fields while the offsets of its Attribute and Object
 * arrays are recorded; they are parsed afterwards with sub-parsers, once
 * the event context is complete.
 */
#include "misp/internal.h"

#define key_is IOCB_MISP__KEY_IS

void iocb_misp__event_init(struct iocb_misp_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->analysis = -1;
}

int iocb_misp__orgc(struct iocb_misp__ctx *c, struct iocb_json_parser *p, struct iocb_arena *a,
		    struct iocb_misp_event *ev)
{
	struct iocb_json_tok k, v;
	int rc;

	while ((rc = iocb_json_next_member(p, &k, &v, c->err)) > 0) {
		if (key_is(&k, "name") && v.type == IOCB_JSON_STR)
			(void)iocb_misp__tok_string(a, &v, &ev->orgc_name);
		else if (key_is(&k, "uuid") && v.type == IOCB_JSON_STR)
			(void)iocb_misp__tok_string(a, &v, &ev->orgc_uuid);
		else if (key_is(&k, "id") && !ev->has_orgc_id) {
			uint64_t id;
			if (iocb_misp__tok_u64(&v, &id) && id) {
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

/* A decimal integer, as a number or a digit string (not "", not null). */
static bool tok_decimal(const struct iocb_json_tok *v)
{
	uint64_t u;

	if (v->type == IOCB_JSON_NUM)
		return iocb_json_tok_u64(v, &u);
	return v->type == IOCB_JSON_STR && !v->escaped && iocb_str_to_u64(v->s, &u);
}

/* One scalar member (string, number, true, false, null) of an Event object. */
static void event_scalar(struct iocb_arena *a, const struct iocb_json_tok *k, const struct iocb_json_tok *v,
			 struct iocb_misp_event *ev)
{
	uint64_t u;
	bool b;

	if (key_is(k, "uuid") && v->type == IOCB_JSON_STR)
		(void)iocb_misp__tok_string(a, v, &ev->uuid);
	else if (key_is(k, "id") && iocb_misp__tok_u64(v, &u))
		ev->id = u;
	else if (key_is(k, "info") && v->type == IOCB_JSON_STR)
		(void)iocb_misp__tok_string(a, v, &ev->info);
	else if (key_is(k, "orgc_id") && iocb_misp__tok_u64(v, &u)) {
		ev->orgc_id = u;
		ev->has_orgc_id = true;
	} else if (key_is(k, "org_id") && iocb_misp__tok_u64(v, &u)) {
		ev->org_id = u;
		ev->has_org_id = true;
	} else if (key_is(k, "threat_level_id") && iocb_misp__tok_u64(v, &u) && u <= 4)
		ev->threat_level_id = (int)u;
	else if (key_is(k, "analysis") && iocb_misp__tok_u64(v, &u) && u <= 2)
		ev->analysis = (int)u;
	else if (key_is(k, "published") && iocb_misp__tok_bool(v, &b))
		ev->published = b;
	else if (key_is(k, "timestamp") && iocb_misp__tok_u64(v, &u))
		ev->timestamp = u;
	else if (key_is(k, "publish_timestamp") && iocb_misp__tok_u64(v, &u))
		ev->publish_timestamp = u;
	else if (key_is(k, "date") && v->type == IOCB_JSON_STR)
		(void)iocb_misp__tok_string(a, v, &ev->date);
}

int iocb_misp__event_obj(struct iocb_misp__ctx *c, struct iocb_json_parser *p, size_t base, struct iocb_arena *a,
			 struct iocb_misp_event *ev, struct iocb_misp__tags *tags, struct iocb_misp__ev_extra *extra)
{
	struct iocb_json_tok k, v;
	int rc;

	while ((rc = iocb_json_next_member(p, &k, &v, c->err)) > 0) {
		if (extra && key_is(&k, "timestamp"))
			extra->timestamp_decimal = tok_decimal(&v);
		if (v.type == IOCB_JSON_STR || v.type == IOCB_JSON_NUM || v.type == IOCB_JSON_TRUE ||
		    v.type == IOCB_JSON_FALSE || v.type == IOCB_JSON_NULL) {
			event_scalar(a, &k, &v, ev);
			continue;
		}
		if (v.type == IOCB_JSON_OBJ && key_is(&k, "Orgc")) {
			rc = iocb_misp__orgc(c, p, a, ev);
			if (rc < 0)
				return rc;
			continue;
		}
		if (v.type == IOCB_JSON_ARR && (key_is(&k, "Tag") || key_is(&k, "EventTag"))) {
			rc = iocb_misp__tag_array(c, p, a, key_is(&k, "EventTag"), tags);
			if (rc < 0)
				return rc;
			ev->tags_known = true;
			continue;
		}
		if (extra && v.type == IOCB_JSON_ARR && key_is(&k, "Attribute"))
			extra->attrs = base + v.offset;
		else if (extra && v.type == IOCB_JSON_ARR && key_is(&k, "Object"))
			extra->objects = base + v.offset;
		rc = iocb_json_skip(p, &v, c->err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* Fill what the event document lacks from `fb` (the feed manifest's entry). */
static void event_fallback(struct iocb_misp__ctx *c, struct iocb_misp_event *ev, struct iocb_misp__tags *tags,
			   const struct iocb_misp_event *fb)
{
	if (!ev->uuid.len)
		ev->uuid = fb->uuid;
	if (!ev->info.len)
		ev->info = fb->info;
	if (!ev->orgc_name.len)
		ev->orgc_name = fb->orgc_name;
	if (!ev->orgc_uuid.len)
		ev->orgc_uuid = fb->orgc_uuid;
	if (!ev->threat_level_id)
		ev->threat_level_id = fb->threat_level_id;
	if (ev->analysis < 0)
		ev->analysis = fb->analysis;
	if (!ev->timestamp)
		ev->timestamp = fb->timestamp;
	if (!ev->date.len)
		ev->date = fb->date;
	if (!ev->tags_known && fb->tags_known) {
		for (size_t i = 0; i < fb->ntags; i++)
			(void)iocb_misp__tag_push(&c->ev_arena, tags, fb->tags[i], c->lim.max_tags);
		ev->tags_known = true;
	}
}

/* Deliver the array at document offset `off` (its '[') as attributes or, with `objects`, as objects. */
static int event_array(struct iocb_misp__ctx *c, size_t off, const struct iocb_misp_event *ev, bool objects)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	int rc;

	iocb_misp__sub_parser(c, &p, off);
	rc = iocb_json_next(&p, &t, c->err);
	if (rc >= 0)
		rc = objects ? iocb_misp__object_array(c, &p, off, ev, IOCB_ACT_NONE)
			     : iocb_misp__attr_array(c, &p, off, ev, 0, IOCB_STR_NULL, IOCB_ACT_NONE);
	if (rc < 0)
		return c->cb_rc ? rc : iocb_misp__json_fail(c, rc, off);
	return IOCB_OK;
}

/* Read the event header (the Event object, a top-level Orgc and EventTag) into ev and tags. */
static int event_header(struct iocb_misp__ctx *c, size_t off, size_t top_orgc_off, size_t top_tags_off,
			struct iocb_misp_event *ev, struct iocb_misp__tags *tags, struct iocb_misp__ev_extra *extra)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	int rc;

	iocb_misp__sub_parser(c, &p, off);
	rc = iocb_json_next(&p, &t, c->err);
	if (rc < 0)
		return iocb_misp__json_fail(c, rc, off);
	rc = iocb_misp__event_obj(c, &p, off, &c->ev_arena, ev, tags, extra);
	if (rc < 0)
		return iocb_misp__json_fail(c, rc, off);
	if (top_orgc_off) {
		iocb_misp__sub_parser(c, &p, top_orgc_off);
		rc = iocb_json_next(&p, &t, c->err);
		if (rc >= 0)
			rc = iocb_misp__orgc(c, &p, &c->ev_arena, ev);
		if (rc < 0)
			return iocb_misp__json_fail(c, rc, top_orgc_off);
	}
	if (top_tags_off) {
		iocb_misp__sub_parser(c, &p, top_tags_off);
		rc = iocb_json_next(&p, &t, c->err);
		if (rc >= 0)
			rc = iocb_misp__tag_array(c, &p, &c->ev_arena, true, tags);
		if (rc < 0)
			return iocb_misp__json_fail(c, rc, top_tags_off);
		ev->tags_known = true;
	}
	return IOCB_OK;
}

int iocb_misp__event_doc(struct iocb_misp__ctx *c, size_t off, const struct iocb_misp_event *fallback,
			 size_t top_orgc_off, size_t top_tags_off, enum iocb_misp_action action, bool deliver_attrs)
{
	struct iocb_misp_event ev;
	struct iocb_misp__tags tags = {0};
	struct iocb_misp__ev_extra extra = {0};
	int rc;

	iocb_arena_reset(&c->ev_arena);
	iocb_misp__event_init(&ev);
	rc = event_header(c, off, top_orgc_off, top_tags_off, &ev, &tags, &extra);
	if (rc < 0)
		return rc;
	if (fallback)
		event_fallback(c, &ev, &tags, fallback);
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
	if (extra.attrs) {
		rc = event_array(c, extra.attrs, &ev, false);
		if (rc < 0)
			return rc;
	}
	if (extra.objects)
		return event_array(c, extra.objects, &ev, true);
	return IOCB_OK;
}
