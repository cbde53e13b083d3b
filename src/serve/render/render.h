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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/rc.h"

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
 * Quality marks in a hit (issue #15): a record that carries marks gets
 * "attribute":{..., "quality":{"expired":bool,"score":x|null,"expires_at",
 * "decay_from","last_sighting","base_score","model"}}, expired as of
 * `now` (0: the real clock), score from `score` (NULL or a negative
 * result: null). Records without marks render as before.
 */
struct iocb_render_quality {
	double (*score)(void *ud, const struct iocb_store_quality *q, int64_t now); /* may be NULL */
	void *ud;    /* score's first argument */
	int64_t now; /* epoch s; 0 = now */
	/*
	 * Warninglists in lookups (render/quality.c): resolves a record's wl_set
	 * to list names (the daemon's or the CLI's current lists); called inside
	 * the store's read lock, must not block long. May be NULL (no names).
	 */
	void (*names)(void *ud, uint16_t wl_set, void (*emit)(void *ctx, struct iocb_str name), void *ctx);
	void *names_ud; /* names' first argument */
};
void iocb_render_hit_json_q(struct iocb_jw *w, const struct iocb_store_hit *hit, const struct iocb_render_quality *rq);

/*
 * The lookup answer shared by `iocbus lookup` and GET /v1/lookup: looks
 * `raw` up with iocb_store_lookup_any() and writes
 *   {"value":"<raw>","matches":[<iocb_render_hit_json>...]}
 * plus "truncated":true when there were more than `max` matches.
 * `scratch` (borrowed) holds max hits. Inside iocb_store_read_lock().
 * Returns the number of matches (which may exceed max); errors stay in w.
 */
size_t iocb_render_lookup_json_q(const struct iocb_store *s, struct iocb_jw *w, struct iocb_str raw,
				 struct iocb_store_hit *scratch, size_t max, const struct iocb_render_quality *rq);
size_t iocb_render_lookup_json(const struct iocb_store *s, struct iocb_jw *w, struct iocb_str raw,
			       struct iocb_store_hit *scratch, size_t max);

/*
 * iocb_render_lookup_json_q() writes, when a match's record is on a
 * warninglist, "warninglists":[{"uuid":..,"action":"suppress|flag|ignore",
 * "lists":[names]}] (one per such record; names only with q). Lookups
 * show suppressed records: people see what the lists hide.
 */
/* The "warninglists" member for hits[0..n) (nothing when none is marked). Inside the read lock. */
void iocb_render_warninglists_json(struct iocb_jw *w, const struct iocb_store_hit *hits, size_t n,
				   const struct iocb_render_quality *q);

/* ------------------------------------------------------------ STIX 2.1 */

/*
 * The STIX 2.1 pattern of one MISP attribute: `type` is the MISP type name,
 * `value` the value as MISP shows it ("a|b" for a composite type, split at
 * its first '|'; a CIDR as "198.51.100.0/24"). Appends the pattern to out,
 * e.g. [ipv6-addr:value = '2001:db8::1'], [file:hashes.'SHA-256' = '…'],
 * [file:name = 'a.exe' AND file:hashes.MD5 = '…'], with string literals
 * quoted and `\` and `'` escaped (exports.md §4.3; docs/BUS.md "STIX
 * patterns" has the whole table).
 * Returns IOCB_OK; IOCB_EUNSUPPORTED for a type STIX cannot express (text,
 * yara, vulnerability, …) so the bus can count and skip it; IOCB_EINVAL for
 * a value that does not fit its type (a hash of the wrong hex length, an
 * address that is no address, a port past 65535, an empty part);
 * IOCB_ELIMIT at out's cap. On any error out is left as it was.
 * Any thread; no lock needed.
 */
int iocb_render_stix_pattern(struct iocb_buf *out, struct iocb_str type, struct iocb_str value) IOCB_MUST_USE;

/* How iocb_render_stix_indicator() marks a record. */
struct iocb_render_stix_opts {
	bool remove;        /* a removal: adds "x_threatbus_update":"REMOVE" */
	int64_t modified_us; /* "modified" in microseconds since the epoch (the time of the
				change, e.g. of a removal); 0 = the attribute's timestamp */
};

/*
 * Write the STIX 2.1 Indicator of store record `a` (exports.md §4.2):
 *   {"type":"indicator","spec_version":"2.1","id":"indicator--<attribute uuid>",
 *    "created":<timestamp>,"modified":<opts.modified_us or timestamp>,
 *    "pattern":…,"pattern_type":"stix","pattern_version":"2.1",
 *    "valid_from":<first_seen or timestamp>[,"valid_until":<last_seen>],
 *    "x_misp_category","x_misp_event_info","x_misp_event_uuid","x_misp_tags",
 *    "x_misp_tlp","x_misp_to_ids","x_misp_type"[,"x_threatbus_update":"REMOVE"]}
 * Times are UTC with milliseconds ("2023-11-14T22:13:21.000Z"): a MISP epoch
 * is UTC (Threat Bus reads it as local time). Custom properties come sorted
 * by name, as stix2 prints them; event fields are left out for an attribute
 * without an event, x_misp_tlp when no tag is "tlp:…" (an attribute tag wins
 * over an event tag); x_misp_tags lists the attribute's tags, then the event's.
 * valid_until only when last_seen is after valid_from.
 * `scratch` (borrowed, reset here) holds the pattern while it is escaped.
 * Returns what iocb_render_stix_pattern() returns; on an error nothing is
 * written to w. Writer errors (the buffer's cap) stay in w: check
 * iocb_jw_rc(w). Inside iocb_store_read_lock().
 */
int iocb_render_stix_indicator(struct iocb_jw *w, const struct iocb_store_attr *a,
			       const struct iocb_render_stix_opts *opts, struct iocb_buf *scratch) IOCB_MUST_USE;

/*
 * The Threat Bus 2020.12 intel message of record `a` (threatbus.md §1.3):
 *   {"ts":"2023-11-14 22:13:21+00:00","id":"<attribute uuid>",
 *    "data":{"indicator":["v"] or ["a","b"],"intel_type":N,"source":"MISP"},
 *    "operation":"ADD"|"REMOVE"}
 * ts is the attribute's timestamp as Python's str() of an aware UTC datetime
 * (what the 2020.12 decoders parse with dateutil); id is the uuid, not
 * MISP's instance-local numeric id, so a sighting sent back names the
 * attribute on any MISP. intel_type is the 2020.12 IntelType number
 * (47 MISP types; `uri` is URL as in Threat Bus); a composite value is split
 * at its first '|' except malware-sample, which stays whole as in Threat Bus.
 * Returns IOCB_OK, IOCB_EUNSUPPORTED for a type 2020.12 has no IntelType
 * for, or IOCB_EINVAL for a composite type whose value has no '|' (nothing
 * written on either). Writer errors stay in w. Inside iocb_store_read_lock().
 */
int iocb_render_tb2020_intel(struct iocb_jw *w, const struct iocb_store_attr *a, bool remove) IOCB_MUST_USE;

/* ------------------------------------------------------------ MISP restSearch */

/* What iocb_render_misp_attribute() adds (restSearch's include* parameters). */
struct iocb_render_misp_opts {
	bool event_tags;  /* includeEventTags: the event's tags after the attribute's, "inherited":1 */
	bool context;     /* includeContext: the long Event with its Tag list and Orgc */
	bool event_uuid;  /* includeEventUuid: "event_uuid" before "Event" */
};

/*
 * One item of MISP's restSearch answer for record `a` (misp.md §3.3):
 *   {"id","event_id","object_id","object_relation","category","type","to_ids",
 *    "uuid","timestamp","distribution","sharing_group_id","comment","deleted",
 *    "disable_correlation","first_seen","last_seen","value"[,"event_uuid"],
 *    "Event":{...}[,"Tag":[...]]}
 * with MISP's JSON types: integers as strings, booleans as true/false,
 * first_seen/last_seen ISO or null, "Tag" absent when empty. Fields the
 * store does not keep get fixed values (docs/DROPINS.md lists them):
 * object_id "0", object_relation null, distribution "5", sharing_group_id
 * "0", deleted false, disable_correlation false; Event org_id is the
 * creator org (orgc_id), Event distribution "1", analysis "0"; a tag's id
 * is "0", its colour "#ffffff", numerical_value null, local false,
 * is_galaxy true for "misp-galaxy:" names. Errors (the buffer's cap) stay
 * in w. Inside iocb_store_read_lock().
 */
void iocb_render_misp_attribute(struct iocb_jw *w, const struct iocb_store_attr *a,
				const struct iocb_render_misp_opts *o);

#endif
