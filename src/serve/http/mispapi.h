/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MISP-compatible read API of the HTTP endpoint (docs/DROPINS.md,
 * "MISP-compatible read API"): POST/GET /attributes/restSearch[/json] and
 * the CakePHP named-parameter form /attributes/restSearch/value:V/type:T,
 * answered from the store in MISP's JSON shape (reference misp.md §3.2-3.7),
 * and the fixed answers of PyMISP's connect sequence (/servers/getVersion,
 * /servers/getPyMISPVersion.json, /users/view/me), all behind MISP's keys.
 *
 * Two halves. The query half (mispapi_query.c) is pure: it turns a request
 * body and named parameters into a struct iocb_mispapi_query and decides
 * whether one store record matches it; the unit tests and the fuzz target
 * drive it directly. The serving half (mispapi.c) authenticates, runs the
 * query against the store in bounded steps and streams the answer; http.c
 * only dispatches to it.
 *
 * Threads: everything runs on the HTTP endpoint's one MHD thread.
 */
#ifndef IOCB_SERVE_HTTP_MISPAPI_H
#define IOCB_SERVE_HTTP_MISPAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/rc.h"
#include "core/str.h"
#include "store/store.h"

/* Terms per filter parameter (values, types, tags, ...); more is a 400. */
#define IOCB_MISPAPI_MAX_TERMS 100
/* Request body cap: past it the answer is 413. */
#define IOCB_MISPAPI_MAX_BODY ((size_t)1024 * 1024)

/*
 * One filter parameter: its terms as sent (trimmed, "a||b" split), each a
 * view into the query's pool (never into the request: a walk outlives it). A term starting with '!' is a negation
 * (MISP's NOT); '%' in a term is SQL LIKE's wildcard.
 */
struct iocb_mispapi_terms {
	struct iocb_str v[IOCB_MISPAPI_MAX_TERMS];
	size_t n;
};

/* A time filter: from <= t (<= to when has_to). */
struct iocb_mispapi_time {
	bool set;
	bool has_to;
	int64_t from, to;
};

/* What returnFormat asked for. */
enum iocb_mispapi_format {
	IOCB_MISPAPI_FMT_JSON = 0, /* absent, null or "json" */
	IOCB_MISPAPI_FMT_OTHER,    /* anything else: MISP's 404 "Invalid output format." */
};

struct iocb_mispapi_query {
	enum iocb_mispapi_format format;
	struct iocb_mispapi_terms value, type, category, eventid, uuid, org;
	struct iocb_mispapi_terms tags_or, tags_and, tags_not; /* names, '!' already stripped */
	int to_ids;                     /* -1 unset, else 0/1 (CakePHP boolean cast) */
	int published;                  /* -1 unset, else 0/1 */
	int deleted;                    /* 0: live only (default), 1: deleted only, 2: both */
	struct iocb_mispapi_time timestamp;  /* Attribute.timestamp (timestamp, attribute_timestamp) */
	struct iocb_mispapi_time event_ts;   /* Event.timestamp (event_timestamp) */
	struct iocb_mispapi_time publish_ts; /* Event.publish_timestamp (last, publish_timestamp) */
	char from[11], to[11];          /* Event.date bounds "YYYY-MM-DD"; "" = unset */
	bool include_event_tags, include_context, include_event_uuid;
	uint64_t limit;                 /* 0 = no limit (MISP: every match) */
	uint64_t page;                  /* 1-based; 1 when unset */
	bool empty;                     /* no parameter at all was given (MISP runs it unfiltered) */
	int64_t now;                    /* epoch s of the request: records not live then are left out */
	/* private: decoded strings live here */
	char *pool;
	size_t pool_len, pool_cap;
};

/*
 * Parse a request: `body` (may be empty; JSON object, optionally wrapped in
 * {"request":{...}}) then the named parameters in `named` ("k:v/k:v", the
 * path after /attributes/restSearch/[json/], URL-decoded per segment),
 * which override the body's. `now` anchors "7d"-style times. Unknown
 * parameters are ignored, as MISP does. q is initialised here; free it with
 * iocb_mispapi_query_fini() whatever the result.
 * Returns IOCB_OK; IOCB_EPARSE for a body that is not JSON or not an object
 * (MISP's 405); IOCB_ELIMIT for more than IOCB_MISPAPI_MAX_TERMS terms in
 * one parameter (a 400, err says which). Any thread.
 */
int iocb_mispapi_query_parse(struct iocb_mispapi_query *q, struct iocb_str body, struct iocb_str named,
			     int64_t now, struct iocb_err *err) IOCB_MUST_USE;
void iocb_mispapi_query_fini(struct iocb_mispapi_query *q);

/*
 * Whether record a matches every filter of q but `value` (the caller
 * either looked the value up in the index or calls
 * iocb_mispapi_value_match()). A record expired or suppressed by the
 * store's quality marks (iocb_store_attr_live() at q->now) never matches,
 * as for every matcher of iocbus. Inside iocb_store_read_lock().
 */
bool iocb_mispapi_match(const struct iocb_mispapi_query *q, const struct iocb_store_attr *a);
/* Whether a's value1 or value2 matches q->value (LIKE, negation, case-insensitive); true when unset. */
bool iocb_mispapi_value_match(const struct iocb_mispapi_query *q, const struct iocb_store_attr *a);
/*
 * Whether q->value can be answered from the index: 1..IOCB_MISPAPI_MAX_TERMS
 * plain values, none negated or with '%'. Otherwise the store is walked.
 */
bool iocb_mispapi_indexed(const struct iocb_mispapi_query *q);

/* SQL LIKE with '%' only (MISP's wildcard), ASCII case-insensitive when ci. */
bool iocb_mispapi_like(struct iocb_str pat, struct iocb_str val, bool ci);

/* ------------------------------------------------------------ serving (mispapi.c) */

struct iocb_mispapi;
struct MHD_Connection;

/*
 * The API with its keys: `keys` holds the accepted keys, one per line
 * (copied; the copy is wiped on free); NULL or no key: the API is off and
 * iocb_mispapi_new() returns NULL. max_attributes caps one answer (0:
 * 100000); non_ids: answer to_ids=false attributes (store.match_non_ids,
 * which the store's by-value lookups follow too).
 */
struct iocb_mispapi *iocb_mispapi_new(const char *keys, uint64_t max_attributes, bool non_ids);
void iocb_mispapi_free(struct iocb_mispapi *m);
/* Whether url is one of the API's routes (the caller then reads a body for POST). */
bool iocb_mispapi_route(const char *url);
/*
 * Answer one request (MHD's access handler, last call): method, url, the
 * request body read so far (NULL if none) and whether it was cut at the
 * cap. Queues the response; returns MHD's enum MHD_Result as int.
 */
int iocb_mispapi_serve(struct iocb_mispapi *m, struct iocb_store *store, struct MHD_Connection *c,
		       const char *method, const char *url, const struct iocb_buf *body, bool too_large);
/* Append the iocbus_mispapi_* families; IOCB_ELIMIT at the buffer's cap. */
int iocb_mispapi_metrics(const struct iocb_mispapi *m, struct iocb_buf *out) IOCB_MUST_USE;

#endif
