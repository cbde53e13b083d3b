/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Read-only views of records and the one JSON shape of a hit. Everything
 * here runs on reader threads inside the RCU read lock and only reads.
 *
 * A record reaches its store (interned strings, type table) through its
 * event handle: every attribute has one, event-less attributes point to
 * the store's own "no event" handle, so the public accessors need no store
 * argument and records carry no extra pointer.
 */
#include "store/store.h"

#include <stdio.h>
#include <time.h>

#include "store/internal.h"

void iocb_store_attr_view(const struct iocb_store_attr *a, struct iocb_store_attr_view *out)
{
	const struct iocb_store_event *e = a->ev;
	const struct iocb_store *s = e->store;
	const uint8_t *tail;

	memset(out, 0, sizeof(*out));
	iocb_store__uuid_format(a->uuid, out->uuid);
	out->id = a->id;
	out->type = ST_LOAD(&s->types[a->type]);
	out->category = st_str_view(s, a->category);
	out->value = iocb_str_make(st_value(a), a->value_len);
	out->nparts = st_nparts(a);
	for (unsigned p = 0; p < 2; p++) {
		out->part[p] = st_part(a, p);
		out->prefix[p] = a->plen[p] == ST_NOPLEN ? -1 : a->plen[p];
	}
	out->comment = iocb_str_make(st_comment(a), a->comment_len);
	out->to_ids = (a->flags & ST_F_TO_IDS) != 0;
	out->timestamp = a->timestamp;
	tail = st_tags(a) + 4u * a->ntags;
	out->first_seen_us = INT64_MIN;
	out->last_seen_us = INT64_MIN;
	if (a->flags & ST_F_FS) {
		memcpy(&out->first_seen_us, tail, 8);
		tail += 8;
	}
	if (a->flags & ST_F_LS)
		memcpy(&out->last_seen_us, tail, 8);
	out->source = a->source;
	out->updated = a->updated;
	out->ntags = a->ntags;
	out->event = ST_LOAD(&e->meta) ? e : NULL;
}

struct iocb_str iocb_store_attr_tag(const struct iocb_store_attr *a, size_t i)
{
	if (i >= a->ntags)
		return IOCB_STR_NULL;
	return st_str_view(a->ev->store, st_rd32(st_tags(a) + 4 * i));
}

static const struct store_evmeta *evmeta(const struct iocb_store_event *pub)
{
	const struct iocb_store_event *e = pub;
	return ST_LOAD(&e->meta);
}

void iocb_store_event_view(const struct iocb_store_event *pub, struct iocb_store_event_view *out)
{
	const struct iocb_store_event *e = pub;
	const struct store_evmeta *m = evmeta(pub);
	const struct iocb_store *s = e->store;
	const char *text;

	memset(out, 0, sizeof(*out));
	if (!m)
		return;
	if (m->has_uuid)
		iocb_store__uuid_format(m->uuid, out->uuid);
	out->id = m->id;
	text = (const char *)(m + 1) + 4u * m->ntags;
	out->info = iocb_str_make(text, m->info_len);
	out->date = iocb_str_make(text + m->info_len, m->date_len);
	out->threat_level_id = m->threat_level_id;
	out->orgc_id = m->orgc_id;
	out->orgc_name = st_str_view(s, m->orgc_name);
	out->orgc_uuid = st_str_view(s, m->orgc_uuid);
	out->timestamp = m->timestamp;
	out->publish_timestamp = m->publish_timestamp;
	out->published = m->published != 0;
	out->ntags = m->ntags;
}

struct iocb_str iocb_store_event_tag(const struct iocb_store_event *pub, size_t i)
{
	const struct iocb_store_event *e = pub;
	const struct store_evmeta *m = evmeta(pub);
	if (!m || i >= m->ntags)
		return IOCB_STR_NULL;
	return st_str_view(e->store, st_rd32((const uint8_t *)(m + 1) + 4 * i));
}

/* ------------------------------------------------------------ JSON */

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
	char buf[64];
	struct tm tm;
	int64_t sec = us / 1000000, frac = us % 1000000;
	time_t t;

	if (us == INT64_MIN) {
		iocb_jw_null(w);
		return;
	}
	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm)) {
		iocb_jw_null(w);
		return;
	}
	int n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		iocb_jw_null(w);
		return;
	}
	iocb_jw_str(w, iocb_str_make(buf, (size_t)n));
}

void iocb_store_hit_json(struct iocb_jw *w, const struct iocb_store_hit *hit)
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

size_t iocb_store_lookup_json(const struct iocb_store *s, struct iocb_jw *w, struct iocb_str raw,
			      struct iocb_store_hit *scratch, size_t max)
{
	size_t n = iocb_store_lookup_any(s, raw, scratch, max);

	iocb_jw_obj(w);
	iocb_jw_key(w, "value");
	iocb_jw_str(w, raw);
	iocb_jw_key(w, "matches");
	iocb_jw_arr(w);
	for (size_t k = 0; k < n && k < max; k++)
		iocb_store_hit_json(w, &scratch[k]);
	iocb_jw_arr_end(w);
	if (n > max) {
		iocb_jw_key(w, "truncated");
		iocb_jw_bool(w, true);
	}
	iocb_jw_obj_end(w);
	return n;
}
