/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the MISP-compatible API's request parser (serve/http/mispapi.h):
 * input = named parameters, a NUL byte, then the JSON body (no NUL: the
 * whole input is the body). Checks: no crash or overrun; every term is a
 * view into the query's pool or a constant, never into the request (which may
 * be freed before the query); a body the
 * JSON validator accepts as one object gets the 405 (IOCB_EPARSE) only for
 * a bad \\u escape, one it refuses always does; and every term can be LIKE-matched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "serve/http/mispapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(struct iocb_str v, const char *base, size_t len)
{
	return v.len == 0 || (v.ptr >= base && v.ptr + v.len <= base + len);
}

static void check_terms(const struct iocb_mispapi_query *q, const struct iocb_mispapi_terms *t, struct iocb_str body,
			struct iocb_str named)
{
	if (t->n > IOCB_MISPAPI_MAX_TERMS)
		abort();
	for (size_t i = 0; i < t->n; i++) {
		/* In the pool, or a constant (PHP's casts: true is "1"); never a view into the request. */
		if (!inside(t->v[i], q->pool, q->pool_len) && t->v[i].len &&
		    (inside(t->v[i], body.ptr, body.len) || inside(t->v[i], named.ptr, named.len)))
			abort();
		(void)iocb_mispapi_like(t->v[i], body, true);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nul = memchr(data, '\0', size);
	struct iocb_str named = iocb_str_make("", 0), body = iocb_str_make((const char *)data, size);
	struct iocb_mispapi_query q;
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	struct iocb_err err;
	bool blank, object;
	int rc;

	if (nul) {
		named = iocb_str_make((const char *)data, (size_t)(nul - (const char *)data));
		body = iocb_str_make(nul + 1, size - named.len - 1);
	}
	rc = iocb_mispapi_query_parse(&q, body, named, 1800000000, &err);
	if (rc != IOCB_OK && rc != IOCB_EPARSE && rc != IOCB_ELIMIT)
		abort();
	if (q.pool_len > q.pool_cap)
		abort();
	check_terms(&q, &q.value, body, named);
	check_terms(&q, &q.type, body, named);
	check_terms(&q, &q.category, body, named);
	check_terms(&q, &q.eventid, body, named);
	check_terms(&q, &q.uuid, body, named);
	check_terms(&q, &q.org, body, named);
	check_terms(&q, &q.tags_or, body, named);
	check_terms(&q, &q.tags_and, body, named);
	check_terms(&q, &q.tags_not, body, named);
	(void)iocb_mispapi_indexed(&q);
	if (q.page == 0 || (q.deleted < 0 || q.deleted > 2))
		abort();
	iocb_mispapi_query_fini(&q);

	/* A blank body (the parser's trim) is an unfiltered search, never an error. */
	blank = iocb_str_trim(body).len == 0;
	if (blank)
		return rc == IOCB_EPARSE ? (abort(), 0) : 0;
	iocb_json_init(&p, body.ptr, body.len, 64, false);
	object = iocb_json_next(&p, &t, &err) == IOCB_OK && t.type == IOCB_JSON_OBJ;
	if (iocb_json_validate(body.ptr, body.len, 64, &err) != IOCB_OK)
		object = false;
	/* An object the validator takes can still hold an unpaired surrogate escape, which the
	 * validator leaves to the decoder and MISP's json_decode() refuses: a 405 as well. */
	if (!object && rc != IOCB_EPARSE)
		abort();
	if (object && rc == IOCB_EPARSE && !memmem(body.ptr, body.len, "\\u", 2))
		abort();
	return 0;
}
