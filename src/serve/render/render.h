/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rendering of store hits: the one place that turns what the store hands out
 * (struct iocb_store_hit and the record views of store.h) into an output
 * shape. The store knows no output format; every server under src/serve/
 * and `iocbus lookup` render through here, so one hit has one spelling
 * whatever asked for it. Today that is the lookup JSON; the shapes of the
 * coming endpoints (STIX for the Threat Bus endpoint, a value template for
 * memcached, MISP's attribute shape for the read API) belong here too, each
 * as its own iocb_render_<shape>_* functions.
 *
 * Threads: any reader thread, inside iocb_store_read_lock() (the views are
 * valid only there). Nothing here allocates except through the writer's
 * buffer, and nothing blocks.
 */
#ifndef IOCB_SERVE_RENDER_RENDER_H
#define IOCB_SERVE_RENDER_RENDER_H

#include <stddef.h>

#include "core/str.h"
#include "json/json.h"
#include "store/store.h"

/*
 * Write one hit as a JSON object:
 *   {"match":{"class":"ip","part":0,"prefix":24},
 *    "attribute":{"uuid","id","type","category","value","to_ids","comment",
 *                 "timestamp","first_seen","last_seen","tags":[...]},
 *    "event":{"uuid","id","info","threat_level_id","orgc":{"id","name","uuid"},
 *             "date","tags":[...]}}
 * This is the one JSON shape of a hit for `iocbus lookup`, /v1/lookup and
 * the bus. "prefix" is present only for a CIDR match; unknown ids, uuids,
 * org fields and dates are null; "event" is null for an attribute without
 * an event; first_seen/last_seen are MISP's ISO-8601
 * ("2024-01-02T03:04:05.000000+00:00"). Errors (the buffer's cap) stay in
 * w: check iocb_jw_rc(w). Inside iocb_store_read_lock().
 */
void iocb_render_hit_json(struct iocb_jw *w, const struct iocb_store_hit *hit);

/*
 * The lookup answer shared by `iocbus lookup` and GET /v1/lookup: looks
 * `raw` up with iocb_store_lookup_any() and writes
 *   {"value":"<raw>","matches":[<iocb_render_hit_json>...]}
 * plus "truncated":true when there were more than `max` matches.
 * `scratch` (borrowed) holds max hits. Inside iocb_store_read_lock().
 * Returns the number of matches (which may exceed max); errors stay in w.
 */
size_t iocb_render_lookup_json(const struct iocb_store *s, struct iocb_jw *w, struct iocb_str raw,
			       struct iocb_store_hit *scratch, size_t max);

#endif
