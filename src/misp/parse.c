/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iocb_misp_parse(): which of the MISP JSON shapes (misp.h) a document has,
 * and the handing of each part to the event (event.c) and attribute
 * (attr.c) parsers.
 *
 * One pass of the json pull parser over the document, no tree. MISP puts
 * keys in varying orders (a ZeroMQ message has "Attribute" before "Event"),
 * so where an object's meaning depends on a sibling we first record the
 * byte offset of the dependent value, skip it, and come back once the
 * siblings are known (struct top below). Only restSearch attributes, which
 * carry their own Event, are handled strictly in stream order.
 */
#include "misp/misp.h"

#include "misp/internal.h"

#define key_is IOCB_MISP__KEY_IS

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

/* {"response": ...}: an object with "Attribute" or a list of {"Event":...}. */
static int handle_response(struct iocb_misp__ctx *c, struct iocb_json_parser *p, const struct iocb_json_tok *v);

/* A list of {"Event":...} / {"Attribute":[...]} / {"response":...} objects; its '[' was consumed. */
static int handle_event_list(struct iocb_misp__ctx *c, struct iocb_json_parser *p)
{
	struct iocb_json_tok t, k, v;
	int rc;

	while ((rc = iocb_misp__next_object(c, p, &t, 0, "list item")) > 0) {
		while ((rc = iocb_json_next_member(p, &k, &v, c->err)) > 0) {
			if (key_is(&k, "Event") && v.type == IOCB_JSON_OBJ) {
				size_t off = v.offset;
				rc = iocb_json_skip(p, &v, c->err);
				if (rc < 0)
					return rc;
				rc = iocb_misp__event_doc(c, off, NULL, 0, 0, IOCB_ACT_NONE, true);
				if (rc < 0)
					return rc;
				continue;
			}
			if (key_is(&k, "Attribute") && v.type == IOCB_JSON_ARR) {
				rc = iocb_misp__attr_array(c, p, 0, NULL, 0, IOCB_STR_NULL, IOCB_ACT_NONE);
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

static int handle_response(struct iocb_misp__ctx *c, struct iocb_json_parser *p, const struct iocb_json_tok *v)
{
	struct iocb_json_tok k, w;
	int rc;

	if (v->type == IOCB_JSON_ARR)
		return handle_event_list(c, p);
	if (v->type != IOCB_JSON_OBJ) {
		iocb_misp__skip(c, IOCB_SKIP_BAD_SHAPE, "%s: byte %zu: \"response\" is neither an object nor a list",
				c->source, v->offset);
		return iocb_json_skip(p, v, c->err);
	}
	while ((rc = iocb_json_next_member(p, &k, &w, c->err)) > 0) {
		if (key_is(&k, "Attribute") && w.type == IOCB_JSON_ARR) {
			rc = iocb_misp__attr_array(c, p, 0, NULL, 0, IOCB_STR_NULL, IOCB_ACT_NONE);
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

/* {"Tag":{...,"name","event_id","local"?},"action":"attached to event"} -> on_tag. */
static int handle_tag_change(struct iocb_misp__ctx *c, size_t tag_off, bool attached)
{
	struct iocb_json_parser sp;
	struct iocb_json_tok open, k, v;
	struct iocb_misp_tag_change t = {0};
	bool has_name = false;
	int rc;

	iocb_misp__sub_parser(c, &sp, tag_off);
	rc = iocb_json_next(&sp, &open, c->err);
	while (rc >= 0 && (rc = iocb_json_next_member(&sp, &k, &v, c->err)) > 0) {
		if (key_is(&k, "name") && v.type == IOCB_JSON_STR) {
			if (iocb_misp__tok_string(&c->ev_arena, &v, &t.name) == IOCB_OK)
				has_name = t.name.len > 0;
		} else if (key_is(&k, "event_id")) {
			if (!iocb_misp__tok_u64(&v, &t.event_id))
				t.event_id = 0;
		} else if (key_is(&k, "local")) {
			if (!iocb_misp__tok_bool(&v, &t.local))
				t.local = false;
		}
		rc = iocb_json_skip(&sp, &v, c->err);
	}
	if (rc < 0)
		return iocb_misp__json_fail(c, rc, tag_off);
	if (!has_name || !t.event_id) {
		iocb_misp__skip(c, IOCB_SKIP_MISSING_FIELD,
				"%s: byte %zu: event tag change without Tag.name or Tag.event_id", c->source, tag_off);
		return IOCB_OK;
	}
	t.attached = attached;
	rc = c->h->on_tag(c->h->ud, &t);
	if (rc < 0)
		c->cb_rc = rc;
	iocb_arena_reset(&c->ev_arena);
	return rc;
}

/* What the members of a top-level object were: offsets to come back to, and the action. */
struct top {
	size_t attr_off;           /* "Attribute":{...} (a notification) */
	size_t attr_list_off;      /* "Attribute":[...] (PyMISP restSearch, or a bare event) */
	size_t event_off;          /* "Event":{...} */
	size_t orgc_off;           /* top-level "Orgc":{...} (misp_json_event) */
	size_t evtags_off;         /* top-level "EventTag":[...] (misp_json_event) */
	size_t tag_off;            /* "Tag":{...} (misp_json_tag) */
	unsigned bare_event_keys;  /* info, uuid, date, threat_level_id: an event without its wrapper */
	int tag_change;            /* 1 attached to event, -1 detached from event, 0 neither */
	enum iocb_misp_action action; /* "action" */
};

/* "action":"<string>": t->action and t->tag_change. */
static void top_action(const struct iocb_json_tok *v, struct top *t)
{
	char act[48];
	size_t n;

	if (iocb_json_unescape(v, act, sizeof(act), &n) != IOCB_OK) {
		t->action = IOCB_ACT_OTHER;
		return;
	}
	t->action = parse_action(iocb_str_make(act, n));
	if (iocb_str_eq_c(iocb_str_make(act, n), "attached to event"))
		t->tag_change = 1;
	else if (iocb_str_eq_c(iocb_str_make(act, n), "detached from event"))
		t->tag_change = -1;
}

/* One member of the top-level object (a "response" is handled at once, the rest recorded). */
static int top_member(struct iocb_misp__ctx *c, struct iocb_json_parser *p, const struct iocb_json_tok *k,
		      const struct iocb_json_tok *v, struct top *t)
{
	if (key_is(k, "response"))
		return handle_response(c, p, v);
	if (key_is(k, "Attribute")) {
		if (v->type == IOCB_JSON_ARR)
			t->attr_list_off = v->offset; /* decided at the end */
		else if (v->type == IOCB_JSON_OBJ)
			t->attr_off = v->offset;
		else
			iocb_misp__skip(c, IOCB_SKIP_BAD_SHAPE,
					"%s: byte %zu: \"Attribute\" is neither an object nor a list", c->source,
					v->offset);
	} else if (key_is(k, "Event")) {
		/* A string is a sync notification ("Event":"<uuid>"): nothing to act on. */
		if (v->type == IOCB_JSON_OBJ)
			t->event_off = v->offset;
		else if (v->type != IOCB_JSON_STR)
			iocb_misp__skip(c, IOCB_SKIP_BAD_SHAPE, "%s: byte %zu: \"Event\" is not an object", c->source,
					v->offset);
	} else if (key_is(k, "Orgc") && v->type == IOCB_JSON_OBJ) {
		t->orgc_off = v->offset;
	} else if (key_is(k, "EventTag") && v->type == IOCB_JSON_ARR) {
		t->evtags_off = v->offset;
	} else if (key_is(k, "info") || key_is(k, "uuid") || key_is(k, "date") || key_is(k, "threat_level_id")) {
		t->bare_event_keys++;
	} else if (key_is(k, "Tag") && v->type == IOCB_JSON_OBJ) {
		t->tag_off = v->offset;
	} else if (key_is(k, "action") && v->type == IOCB_JSON_STR) {
		top_action(v, t);
	}
	return iocb_json_skip(p, v, c->err);
}

/* The top-level object; its '{' (at top_off) was consumed. */
static int handle_top_object(struct iocb_misp__ctx *c, struct iocb_json_parser *p, size_t top_off)
{
	struct top t = {.action = IOCB_ACT_NONE};
	struct iocb_json_tok k, v;
	int rc;

	while ((rc = iocb_json_next_member(p, &k, &v, c->err)) > 0) {
		rc = top_member(c, p, &k, &v, &t);
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	/* The whole top-level object is valid JSON now; act on what it held. */
	if (t.attr_list_off && !t.event_off) {
		struct iocb_json_parser sp;
		struct iocb_json_tok open;
		/* A PyMISP event without its {"Event":...} wrapper is an event itself. */
		if (t.bare_event_keys >= 2)
			return iocb_misp__event_doc(c, top_off, NULL, 0, 0, IOCB_ACT_NONE, true);
		iocb_misp__sub_parser(c, &sp, t.attr_list_off);
		rc = iocb_json_next(&sp, &open, c->err);
		if (rc >= 0)
			rc = iocb_misp__attr_array(c, &sp, t.attr_list_off, NULL, 0, IOCB_STR_NULL, IOCB_ACT_NONE);
		return rc < 0 && !c->cb_rc ? iocb_misp__json_fail(c, rc, t.attr_list_off) : rc;
	}
	if (t.attr_off)
		return iocb_misp__attr_notification(c, t.attr_off, t.event_off, t.action);
	if (t.tag_off && t.tag_change && !t.event_off && c->h->on_tag)
		return handle_tag_change(c, t.tag_off, t.tag_change > 0);
	if (t.event_off) {
		/*
		 * misp_json (publish, no action) and feed/event files carry the full
		 * event: deliver its attributes as current state. misp_json_event
		 * add/edit/delete carry only the event row: metadata only.
		 */
		bool full = t.action == IOCB_ACT_NONE;
		return iocb_misp__event_doc(c, t.event_off, NULL, t.orgc_off, t.evtags_off, t.action, full);
	}
	/* Tag, Sighting, heartbeat, Object...: valid MISP traffic we do not act on. */
	return IOCB_OK;
}

static int parse_doc(struct iocb_misp__ctx *c)
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
		iocb_misp__skip(c, IOCB_SKIP_BAD_SHAPE, "%s: the document is not a JSON object or list", c->source);
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
	struct iocb_misp__ctx c;
	int rc;

	iocb_misp__ctx_init(&c, buf, len, source, h, lim, stats, err ? err : &local);
	rc = parse_doc(&c);
	iocb_misp__ctx_fini(&c);
	return rc;
}
