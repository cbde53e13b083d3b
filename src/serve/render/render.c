/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store hits rendered as the lookup JSON (see render.h). Only the public
 * views of store.h are read, so the store's record layout can change
 * without touching this file, and this file can change without touching
 * the store. Runs on reader threads inside the RCU read lock.
 */
#include "serve/render/render.h"

#include "core/time.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static void jw_str_or_null(struct iocb_jw *w, struct iocb_str s)
{
	if (s.len)
		iocb_jw_str(w, s);
	else
		iocb_jw_null(w);
}

static void jw_u64_or_null(struct iocb_jw *w, uint64_t v)
{
	if (v)
		iocb_jw_u64(w, v);
	else
		iocb_jw_null(w);
}

/* MISP's own spelling: 2021-06-15T12:34:56.123456+00:00 */
static void jw_time_us(struct iocb_jw *w, int64_t us)
{
	char buf[IOCB_TIME_ISO_MAX];
	size_t n;

	if (us == INT64_MIN) {
		iocb_jw_null(w);
		return;
	}
	n = iocb_time_iso8601_us(buf, sizeof(buf), us, IOCB_TIME_US_OFFSET);
	if (!n) {
		iocb_jw_null(w);
		return;
	}
	iocb_jw_str(w, iocb_str_make(buf, n));
}

static void jw_epoch(struct iocb_jw *w, int64_t s)
{
	if (s <= 0 || s == INT64_MAX)
		iocb_jw_null(w);
	else
		jw_time_us(w, s * 1000000);
}

/* "quality": the record's marks, when it has any (see render.h). */
static void write_quality(struct iocb_jw *w, const struct iocb_store_attr *a, const struct iocb_render_quality *rq)
{
	struct iocb_store_quality q, def;
	iocb_store_attr_quality(a, &q);
	iocb_store_quality_default(&def);
	if (q.expires_at == def.expires_at && !q.decay_from && !q.last_sighting && !q.expiration && q.base_score < 0 &&
	    !q.model)
		return;
	int64_t now = rq && rq->now ? rq->now : iocb_time_real_us() / 1000000;
	double score = rq && rq->score ? rq->score(rq->ud, &q, now) : -1;
	iocb_jw_key(w, "quality");
	iocb_jw_obj(w);
	iocb_jw_key(w, "expired");
	iocb_jw_bool(w, !(now < q.expires_at));
	iocb_jw_key(w, "score");
	if (score >= 0)
		iocb_jw_double(w, floor(score * 100 + 0.5) / 100);
	else
		iocb_jw_null(w);
	iocb_jw_key(w, "expires_at");
	jw_epoch(w, q.expires_at);
	iocb_jw_key(w, "decay_from");
	jw_epoch(w, q.decay_from);
	iocb_jw_key(w, "last_sighting");
	jw_epoch(w, q.last_sighting);
	iocb_jw_key(w, "base_score");
	if (q.base_score >= 0)
		iocb_jw_double(w, floor(q.base_score * 100 + 0.5) / 100);
	else
		iocb_jw_null(w);
	iocb_jw_key(w, "model");
	jw_u64_or_null(w, q.model);
	iocb_jw_obj_end(w);
}

void iocb_render_hit_json(struct iocb_jw *w, const struct iocb_store_hit *hit)
{
	iocb_render_hit_json_q(w, hit, NULL);
}

void iocb_render_hit_json_q(struct iocb_jw *w, const struct iocb_store_hit *hit, const struct iocb_render_quality *rq)
{
	struct iocb_store_attr_view av;
	struct iocb_store_event_view ev;

	iocb_store_attr_view(hit->attr, &av);
	iocb_jw_obj(w);

	iocb_jw_key(w, "match");
	iocb_jw_obj(w);
	iocb_jw_key(w, "class");
	iocb_jw_cstr(w, iocb_match_class_name(hit->mc));
	iocb_jw_key(w, "part");
	iocb_jw_u64(w, hit->part);
	if (hit->prefix >= 0) {
		iocb_jw_key(w, "prefix");
		iocb_jw_i64(w, hit->prefix);
	}
	iocb_jw_obj_end(w);

	iocb_jw_key(w, "attribute");
	iocb_jw_obj(w);
	iocb_jw_key(w, "uuid");
	iocb_jw_cstr(w, av.uuid);
	iocb_jw_key(w, "id");
	jw_u64_or_null(w, av.id);
	iocb_jw_key(w, "type");
	iocb_jw_cstr(w, av.type ? av.type->name : "");
	iocb_jw_key(w, "category");
	iocb_jw_str(w, av.category);
	iocb_jw_key(w, "value");
	iocb_jw_str(w, av.value);
	iocb_jw_key(w, "to_ids");
	iocb_jw_bool(w, av.to_ids);
	iocb_jw_key(w, "comment");
	iocb_jw_str(w, av.comment);
	iocb_jw_key(w, "timestamp");
	iocb_jw_u64(w, av.timestamp);
	iocb_jw_key(w, "first_seen");
	jw_time_us(w, av.first_seen_us);
	iocb_jw_key(w, "last_seen");
	jw_time_us(w, av.last_seen_us);
	iocb_jw_key(w, "tags");
	iocb_jw_arr(w);
	for (size_t i = 0; i < av.ntags; i++)
		iocb_jw_str(w, iocb_store_attr_tag(hit->attr, i));
	iocb_jw_arr_end(w);
	write_quality(w, hit->attr, rq);
	iocb_jw_obj_end(w);

	iocb_jw_key(w, "event");
	if (!av.event) {
		iocb_jw_null(w);
		iocb_jw_obj_end(w);
		return;
	}
	iocb_store_event_view(av.event, &ev);
	iocb_jw_obj(w);
	iocb_jw_key(w, "uuid");
	jw_str_or_null(w, iocb_str_c(ev.uuid));
	iocb_jw_key(w, "id");
	jw_u64_or_null(w, ev.id);
	iocb_jw_key(w, "info");
	iocb_jw_str(w, ev.info);
	iocb_jw_key(w, "threat_level_id");
	jw_u64_or_null(w, ev.threat_level_id > 0 ? (uint64_t)ev.threat_level_id : 0);
	iocb_jw_key(w, "orgc");
	iocb_jw_obj(w);
	iocb_jw_key(w, "id");
	jw_u64_or_null(w, ev.orgc_id);
	iocb_jw_key(w, "name");
	jw_str_or_null(w, ev.orgc_name);
	iocb_jw_key(w, "uuid");
	jw_str_or_null(w, ev.orgc_uuid);
	iocb_jw_obj_end(w);
	iocb_jw_key(w, "date");
	jw_str_or_null(w, ev.date);
	iocb_jw_key(w, "tags");
	iocb_jw_arr(w);
	for (size_t i = 0; i < ev.ntags; i++)
		iocb_jw_str(w, iocb_store_event_tag(av.event, i));
	iocb_jw_arr_end(w);
	iocb_jw_obj_end(w);

	iocb_jw_obj_end(w);
}

size_t iocb_render_lookup_json(const struct iocb_store *s, struct iocb_jw *w, struct iocb_str raw,
			       struct iocb_store_hit *scratch, size_t max)
{
	return iocb_render_lookup_json_q(s, w, raw, scratch, max, NULL);
}

size_t iocb_render_lookup_json_q(const struct iocb_store *s, struct iocb_jw *w, struct iocb_str raw,
				 struct iocb_store_hit *scratch, size_t max, const struct iocb_render_quality *rq)
{
	size_t n = iocb_store_lookup_any(s, raw, scratch, max);

	iocb_jw_obj(w);
	iocb_jw_key(w, "value");
	iocb_jw_str(w, raw);
	iocb_jw_key(w, "matches");
	iocb_jw_arr(w);
	for (size_t k = 0; k < n && k < max; k++)
		iocb_render_hit_json_q(w, &scratch[k], rq);
	iocb_jw_arr_end(w);
	if (n > max) {
		iocb_jw_key(w, "truncated");
		iocb_jw_bool(w, true);
	}
	iocb_render_warninglists_json(w, scratch, n < max ? n : max, rq);
	iocb_jw_obj_end(w);
	return n;
}
