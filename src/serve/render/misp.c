/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MISP's restSearch attribute shape (render.h, reference misp.md §3.3),
 * from the public store views only. The key order and the JSON types are
 * MISP's (JsonExport over CakePHP rows: integer columns as strings); the
 * fields the store does not keep are fixed values, listed in render.h and
 * docs/DROPINS.md, so that a client reading them finds the type it expects.
 */
#include "serve/render/render.h"

#include <stdio.h>
#include <string.h>

#include "core/time.h"

/* Values of the columns the store does not keep. */
#define MISP_TAG_ID "0"
#define MISP_TAG_COLOUR "#ffffff"

/* An integer column: MISP sends it as a string. */
static void jw_num_str(struct iocb_jw *w, uint64_t v)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);

	iocb_jw_str(w, iocb_str_make(buf, (size_t)n));
}

static void jw_kv_c(struct iocb_jw *w, const char *k, const char *v)
{
	iocb_jw_key(w, k);
	iocb_jw_cstr(w, v);
}

static void jw_kv_num(struct iocb_jw *w, const char *k, uint64_t v)
{
	iocb_jw_key(w, k);
	jw_num_str(w, v);
}

/* first_seen/last_seen: MISP's microTimestampToIso spelling, or null. */
static void jw_seen(struct iocb_jw *w, const char *k, int64_t us)
{
	char buf[IOCB_TIME_ISO_MAX];
	size_t n = us == INT64_MIN ? 0 : iocb_time_iso8601_us(buf, sizeof(buf), us, IOCB_TIME_US_OFFSET);

	iocb_jw_key(w, k);
	if (n)
		iocb_jw_str(w, iocb_str_make(buf, n));
	else
		iocb_jw_null(w);
}

static bool is_galaxy(struct iocb_str name)
{
	return name.len >= 12 && memcmp(name.ptr, "misp-galaxy:", 12) == 0;
}

/* {"org_id","distribution","publish_timestamp","id","info","orgc_id","uuid"} */
static void event_short(struct iocb_jw *w, const struct iocb_store_event_view *ev)
{
	iocb_jw_obj(w);
	jw_kv_num(w, "org_id", ev->orgc_id);
	jw_kv_c(w, "distribution", "1");
	jw_kv_num(w, "publish_timestamp", ev->publish_timestamp);
	jw_kv_num(w, "id", ev->id);
	iocb_jw_key(w, "info");
	iocb_jw_str(w, ev->info);
	jw_kv_num(w, "orgc_id", ev->orgc_id);
	jw_kv_c(w, "uuid", ev->uuid);
	iocb_jw_obj_end(w);
}

/* includeContext's Event, with its Tag list and Orgc. */
static void event_context(struct iocb_jw *w, const struct iocb_store_event *e, const struct iocb_store_event_view *ev)
{
	iocb_jw_obj(w);
	jw_kv_num(w, "id", ev->id);
	jw_kv_num(w, "orgc_id", ev->orgc_id);
	jw_kv_num(w, "org_id", ev->orgc_id);
	iocb_jw_key(w, "date");
	iocb_jw_str(w, ev->date);
	jw_kv_num(w, "threat_level_id", ev->threat_level_id > 0 ? (uint64_t)ev->threat_level_id : 0);
	iocb_jw_key(w, "info");
	iocb_jw_str(w, ev->info);
	iocb_jw_key(w, "published");
	iocb_jw_bool(w, ev->published);
	jw_kv_c(w, "uuid", ev->uuid);
	jw_kv_c(w, "analysis", "0");
	jw_kv_num(w, "timestamp", ev->timestamp);
	jw_kv_c(w, "distribution", "1");
	jw_kv_num(w, "publish_timestamp", ev->publish_timestamp);
	jw_kv_c(w, "sharing_group_id", "0");
	jw_kv_c(w, "extends_uuid", "");
	iocb_jw_key(w, "Tag");
	iocb_jw_arr(w);
	for (size_t i = 0; e && i < ev->ntags; i++) {
		iocb_jw_obj(w);
		iocb_jw_key(w, "local");
		iocb_jw_bool(w, false);
		jw_kv_c(w, "id", MISP_TAG_ID);
		iocb_jw_key(w, "name");
		iocb_jw_str(w, iocb_store_event_tag(e, i));
		jw_kv_c(w, "colour", MISP_TAG_COLOUR);
		iocb_jw_key(w, "numerical_value");
		iocb_jw_null(w);
		iocb_jw_obj_end(w);
	}
	iocb_jw_arr_end(w);
	iocb_jw_key(w, "Orgc");
	iocb_jw_obj(w);
	jw_kv_num(w, "id", ev->orgc_id);
	iocb_jw_key(w, "name");
	iocb_jw_str(w, ev->orgc_name);
	iocb_jw_key(w, "uuid");
	iocb_jw_str(w, ev->orgc_uuid);
	iocb_jw_key(w, "local");
	iocb_jw_bool(w, false);
	iocb_jw_obj_end(w);
	iocb_jw_obj_end(w);
}

/* One Tag entry: an attribute's own {…,is_galaxy,local}, or an inherited event tag {…,"inherited":1}. */
static void tag_entry(struct iocb_jw *w, struct iocb_str name, bool inherited)
{
	iocb_jw_obj(w);
	jw_kv_c(w, "id", MISP_TAG_ID);
	iocb_jw_key(w, "name");
	iocb_jw_str(w, name);
	jw_kv_c(w, "colour", MISP_TAG_COLOUR);
	iocb_jw_key(w, "numerical_value");
	iocb_jw_null(w);
	if (inherited) {
		iocb_jw_key(w, "inherited");
		iocb_jw_u64(w, 1);
	} else {
		iocb_jw_key(w, "is_galaxy");
		iocb_jw_bool(w, is_galaxy(name));
		iocb_jw_key(w, "local");
		iocb_jw_bool(w, false);
	}
	iocb_jw_obj_end(w);
}

void iocb_render_misp_attribute(struct iocb_jw *w, const struct iocb_store_attr *a,
				const struct iocb_render_misp_opts *o)
{
	struct iocb_store_attr_view av;
	struct iocb_store_event_view ev;
	size_t inherited;

	iocb_store_attr_view(a, &av);
	memset(&ev, 0, sizeof(ev));
	if (av.event)
		iocb_store_event_view(av.event, &ev);
	iocb_jw_obj(w);
	jw_kv_num(w, "id", av.id);
	jw_kv_num(w, "event_id", ev.id);
	jw_kv_c(w, "object_id", "0");
	iocb_jw_key(w, "object_relation");
	iocb_jw_null(w);
	iocb_jw_key(w, "category");
	iocb_jw_str(w, av.category);
	jw_kv_c(w, "type", av.type ? av.type->name : "");
	iocb_jw_key(w, "to_ids");
	iocb_jw_bool(w, av.to_ids);
	jw_kv_c(w, "uuid", av.uuid);
	jw_kv_num(w, "timestamp", av.timestamp);
	jw_kv_c(w, "distribution", "5");
	jw_kv_c(w, "sharing_group_id", "0");
	iocb_jw_key(w, "comment");
	iocb_jw_str(w, av.comment);
	iocb_jw_key(w, "deleted");
	iocb_jw_bool(w, false);
	iocb_jw_key(w, "disable_correlation");
	iocb_jw_bool(w, false);
	jw_seen(w, "first_seen", av.first_seen_us);
	jw_seen(w, "last_seen", av.last_seen_us);
	iocb_jw_key(w, "value");
	iocb_jw_str(w, av.value);
	if (o->event_uuid)
		jw_kv_c(w, "event_uuid", ev.uuid);
	iocb_jw_key(w, "Event");
	if (o->context)
		event_context(w, av.event, &ev);
	else
		event_short(w, &ev);
	inherited = o->event_tags && av.event ? ev.ntags : 0;
	if (av.ntags + inherited) {
		iocb_jw_key(w, "Tag");
		iocb_jw_arr(w);
		for (size_t i = 0; i < av.ntags; i++)
			tag_entry(w, iocb_store_attr_tag(a, i), false);
		for (size_t i = 0; i < inherited; i++)
			tag_entry(w, iocb_store_event_tag(av.event, i), true);
		iocb_jw_arr_end(w);
	}
	iocb_jw_obj_end(w);
}
