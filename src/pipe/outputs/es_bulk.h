/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Elasticsearch `_bulk` protocol as pure functions: framing a request
 * body, building its URL, parsing the answer and judging what to do with
 * it (reference/elastic.md §4). No I/O and no allocation except into the
 * caller's buffers, so all of it is unit-tested and the response parser is
 * a fuzz target (fuzz/fuzz_pipe_es_response.c); outputs/es_req.c does the
 * transfers.
 *
 * Why the response is parsed lazily: with
 * `filter_path=errors,items.*.error,items.*.status` (what Logstash sends) a
 * good answer is `{"errors":false,"items":[{"index":{"status":201}},...]}`,
 * and then only the number of items matters. Items are then skipped with
 * the token-free scanner; only an `errors:true` answer is walked item by
 * item, and its error texts stay views into the response body.
 */
#ifndef IOCB_PIPE_ES_BULK_H
#define IOCB_PIPE_ES_BULK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/rc.h"
#include "json/json.h"

/* Longest action line iocb_pipe__es_action_line() writes: {"create":{"_id":"<32 hex>"}}\n */
#define IOCB_PIPE_ES_ACTION_MAX 64
/* Longest "type: reason" text kept for a dead letter or a log line (longer is cut). */
#define IOCB_PIPE_ES_REASON_MAX 1024
/* Nesting accepted in a response (error objects nest `caused_by`). */
#define IOCB_PIPE_ES_MAX_DEPTH 128

/*
 * Write the action line of one document into dst (at least
 * IOCB_PIPE_ES_ACTION_MAX bytes): `{"index":{}}\n` or `{"create":{}}\n`, with
 * `"_id":"<id_hex>"` inside when id_hex is not NULL (id_hex: lowercase hex,
 * at most 32 characters, checked by the caller). Returns the length
 * written. Any thread.
 */
size_t iocb_pipe__es_action_line(char *dst, bool create, const char *id_hex);

/*
 * Append one document to a bulk body: its action line, then `line`
 * (len bytes, with or without its final '\n'; one is added when missing).
 * IOCB_ELIMIT when the body's cap is reached (the body is then unchanged).
 */
int iocb_pipe__es_body_append(struct iocb_buf *body, bool create, const char *id_hex, const char *line,
			size_t len) IOCB_MUST_USE;

/*
 * Build `<host>/<index>/_bulk?filter_path=errors,items.*.error,items.*.status`
 * (plus `&pipeline=<pipeline>` when pipeline is not NULL) into out (reset
 * first). A trailing '/' of host is dropped; index and pipeline are
 * percent-encoded (everything but ALPHA / DIGIT / "-._~"). index NULL or ""
 * gives `<host>/_bulk?...`. IOCB_ELIMIT past out's cap.
 */
int iocb_pipe__es_bulk_url(struct iocb_buf *out, const char *host, const char *index,
			   const char *pipeline) IOCB_MUST_USE;

/*
 * Standard base64 (RFC 4648, with padding) of src into out (appends).
 * For `Authorization: Basic` and `ApiKey`. IOCB_ELIMIT past out's cap.
 */
int iocb_pipe__es_base64(struct iocb_buf *out, const char *src, size_t len) IOCB_MUST_USE;

/*
 * Append the Authorization header line for the configured credentials
 * (first that is set wins): `Authorization: ApiKey <k>` (k = base64 of
 * api_key when it holds ':' as "id:api_key", else api_key as given, the
 * already-encoded form), `Authorization: Bearer <bearer>`, or
 * `Authorization: Basic base64(username:password)`. Appends nothing when
 * none is set. The caller wipes `out` after use (it holds a secret).
 * IOCB_ELIMIT past out's cap.
 */
int iocb_pipe__es_auth_header(struct iocb_buf *out, const char *username, const char *password, const char *api_key,
			const char *bearer) IOCB_MUST_USE;

/*
 * "scheme://host:port" of a base URL, without userinfo, path or query: the
 * form that may appear in logs. Heap copy, owned by the caller.
 */
char *iocb_pipe__es_host_for_log(const char *url);

/* One item of a response. */
struct iocb_pipe__es_item {
	int status;                  /* HTTP status of the action; 0 when the item had none */
	struct iocb_json_tok type;   /* error.type (STR token into the body), type NONE if absent */
	struct iocb_json_tok reason; /* error.reason, likewise */
};

/* What a response said. */
struct iocb_pipe__es_resp {
	bool has_errors;             /* the `errors` member was seen */
	bool errors;                 /* its value */
	bool has_items;              /* the `items` member was seen (an array) */
	size_t nitems;               /* items counted (may exceed what the caller expected) */
	bool detailed;               /* items[] was filled (errors true or unknown when items came) */
};

/*
 * Parse a `_bulk` response body (2xx) of a request of `expected` items.
 * items[] (expected entries, caller memory, may be NULL when expected is 0)
 * receives each item's status and error views into `body` when the answer
 * may hold errors (r->detailed); with `errors:false` seen before `items`
 * the items are only counted. Bounded: never more than `expected` entries
 * are written, nesting is capped at IOCB_PIPE_ES_MAX_DEPTH.
 * Returns IOCB_OK when the body is one well-formed object with an items
 * array of exactly `expected` objects (each item's status from its one
 * member) — otherwise IOCB_EPARSE (garbage, truncated, no items) or
 * IOCB_EINVAL (item count differs from the request), err saying where.
 * Either failure means: retry the whole request. Any thread.
 */
int iocb_pipe__es_parse_response(const char *body, size_t len, size_t expected, struct iocb_pipe__es_item *items,
			   struct iocb_pipe__es_resp *r, struct iocb_err *err) IOCB_MUST_USE;

/*
 * "type: reason" of an item's error (escapes decoded, cut to cap - 1 bytes,
 * NUL-terminated) into out; "" when it has neither. Returns the length.
 */
size_t iocb_pipe__es_item_reason(const struct iocb_pipe__es_item *it, char *out, size_t cap);

/*
 * "type: reason" of a whole-request error body
 * (`{"error":{"type":..,"reason":..},"status":..}` or `{"error":"text"}`)
 * into out (cap, NUL-terminated, cut); falls back to "HTTP <status>" for
 * anything else (an empty 413, a proxy's HTML page). Returns the length.
 */
size_t iocb_pipe__es_error_reason(const char *body, size_t len, long status, char *out, size_t cap);

/* What to do with one item. */
enum iocb_pipe__es_item_outcome {
	IOCB_PIPE_ES_ITEM_OK = 0,     /* 2xx: delivered */
	IOCB_PIPE_ES_ITEM_DUPLICATE,  /* 409 on create: the document is there already, delivered */
	IOCB_PIPE_ES_ITEM_RETRY,      /* 429, 5xx (and anything not a final 4xx): send that item again */
	IOCB_PIPE_ES_ITEM_DEAD,       /* 400, 404, other 4xx: dead-letter with the reason */
};

/* Judge one item's status; `create` says the action was create (409 = duplicate). */
enum iocb_pipe__es_item_outcome iocb_pipe__es_item_outcome(int status, bool create);

/* What to do with a whole request, from its HTTP status (0 = transport error, timeout). */
enum iocb_pipe__es_verdict {
	IOCB_PIPE_ES_ITEMS = 0,       /* 2xx: parse the body and judge every item */
	IOCB_PIPE_ES_RETRY,           /* transport error, 429, 5xx: retry the whole request with backoff */
	IOCB_PIPE_ES_RETRY_ALERT,     /* 401, 403 and other unexpected statuses: retry, and log an error */
	IOCB_PIPE_ES_SPLIT,           /* 413: send each half apart (one item alone: dead-letter, 413) */
	IOCB_PIPE_ES_DEAD,            /* 400: dead-letter every line with the body's reason */
};

enum iocb_pipe__es_verdict iocb_pipe__es_verdict(long status);

/* Index into the per-status counter arrays (IOCB_PIPE_STATUS_MAX = 600): status, or 0 when out of range. */
static inline unsigned iocb_pipe__es_status_slot(long status)
{
	return status > 0 && status < 600 ? (unsigned)status : 0;
}

#endif
