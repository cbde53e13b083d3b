/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The quality marks of matched records in lookups (issue #15): which
 * warninglists a record's value is on and what the policy decided, shown
 * even when the record is suppressed (lookups are for people).
 */
#include "serve/render/render.h"

#include <string.h>

static const char *action_name(uint8_t a)
{
	static const char *const n[] = {"none", "ignore", "flag", "suppress"};
	return a < sizeof(n) / sizeof(n[0]) ? n[a] : "none";
}

static void emit_name(void *ctx, struct iocb_str name)
{
	iocb_jw_str(ctx, name);
}

void iocb_render_warninglists_json(struct iocb_jw *w, const struct iocb_store_hit *hits, size_t n,
				   const struct iocb_render_quality *q)
{
	bool open = false;
	for (size_t i = 0; i < n; i++) {
		struct iocb_store_quality qm;
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = hits[k].attr == hits[i].attr;
		iocb_store_attr_quality(hits[i].attr, &qm);
		if (dup || qm.wl_action == IOCB_STORE_WL_NONE)
			continue;
		if (!open) {
			iocb_jw_key(w, "warninglists");
			iocb_jw_arr(w);
			open = true;
		}
		struct iocb_store_attr_view av;
		iocb_store_attr_view(hits[i].attr, &av);
		iocb_jw_obj(w);
		iocb_jw_key(w, "uuid");
		iocb_jw_cstr(w, av.uuid);
		iocb_jw_key(w, "action");
		iocb_jw_cstr(w, action_name(qm.wl_action));
		iocb_jw_key(w, "lists");
		iocb_jw_arr(w);
		if (q && q->names)
			q->names(q->names_ud, qm.wl_set, emit_name, w);
		iocb_jw_arr_end(w);
		iocb_jw_obj_end(w);
	}
	if (open)
		iocb_jw_arr_end(w);
}
