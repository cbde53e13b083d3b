/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MISP tag lists: "Tag":[{"name":..,"local":..,"inherited":..}] on events
 * and attributes, and the EventTag wrapping [{"local":..,"Tag":{...}}] of
 * misp_json_event messages. Lists live in the caller's arena and keep the
 * first max_tags tags.
 */
#include "misp/internal.h"

#define key_is IOCB_MISP__KEY_IS

int iocb_misp__tag_push(struct iocb_arena *a, struct iocb_misp__tags *l, struct iocb_misp_tag t, size_t max)
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
static int tag_obj(struct iocb_misp__ctx *c, struct iocb_json_parser *p, struct iocb_arena *a, bool wrapped,
		   struct iocb_misp_tag *tag, bool *ok)
{
	struct iocb_json_tok k, v;
	int rc;

	memset(tag, 0, sizeof(*tag));
	*ok = false;
	while ((rc = iocb_json_next_member(p, &k, &v, c->err)) > 0) {
		if (wrapped && key_is(&k, "Tag") && v.type == IOCB_JSON_OBJ) {
			bool local = tag->local;
			rc = tag_obj(c, p, a, false, tag, ok);
			if (rc < 0)
				return rc;
			tag->local = tag->local || local;
			continue;
		}
		if (!wrapped && key_is(&k, "name") && v.type == IOCB_JSON_STR) {
			if (iocb_misp__tok_string(a, &v, &tag->name) == IOCB_OK && tag->name.len > 0)
				*ok = true;
		} else if (key_is(&k, "local")) {
			bool b;
			if (iocb_misp__tok_bool(&v, &b))
				tag->local = b;
		} else if (key_is(&k, "inherited")) {
			bool b;
			if (iocb_misp__tok_bool(&v, &b))
				tag->inherited = b;
		}
		rc = iocb_json_skip(p, &v, c->err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

int iocb_misp__tag_array(struct iocb_misp__ctx *c, struct iocb_json_parser *p, struct iocb_arena *a, bool wrapped,
			 struct iocb_misp__tags *out)
{
	struct iocb_json_tok t;
	int rc;

	while ((rc = iocb_misp__next_object(c, p, &t, 0, NULL)) > 0) {
		struct iocb_misp_tag tag;
		bool ok;
		rc = tag_obj(c, p, a, wrapped, &tag, &ok);
		if (rc < 0)
			return rc;
		if (ok) {
			rc = iocb_misp__tag_push(a, out, tag, c->lim.max_tags);
			if (rc < 0)
				return rc;
		}
	}
	return rc;
}
