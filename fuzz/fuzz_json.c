/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the JSON pull parser and writer: walk every token, decode every
 * string, and check that re-writing decoded strings yields valid JSON.
 * Differential: the token-free skipper (json/lex.h, used by iocb_json_skip
 * and the enrichment scanner) must accept exactly what the pull parser
 * accepts, at the same depth cap. And a walk that reads every object with
 * iocb_json_next_member() must accept exactly what the validator accepts;
 * without skips it makes the same parser calls, so its error (message and
 * byte) must be the validator's too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "json/lex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walk the value that starts with `t`: objects member by member, skipping every other container if `skip`. */
static int walk(struct iocb_json_parser *p, const struct iocb_json_tok *t, bool skip, struct iocb_err *err)
{
	struct iocb_json_tok k, v;
	unsigned n = 0;
	int rc;

	if (t->type == IOCB_JSON_ARR) {
		for (;;) {
			rc = iocb_json_next(p, &v, err);
			if (rc < 0 || v.type == IOCB_JSON_ARR_END)
				return rc;
			rc = skip && (n++ & 1) ? iocb_json_skip(p, &v, err) : walk(p, &v, skip, err);
			if (rc < 0)
				return rc;
		}
	}
	if (t->type != IOCB_JSON_OBJ)
		return IOCB_OK;
	while ((rc = iocb_json_next_member(p, &k, &v, err)) > 0) {
		if (k.type != IOCB_JSON_KEY)
			abort();
		rc = skip && (n++ & 1) ? iocb_json_skip(p, &v, err) : walk(p, &v, skip, err);
		if (rc < 0)
			return rc;
	}
	if (rc == 0 && k.type != IOCB_JSON_OBJ_END)
		abort();
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	struct iocb_buf out;
	struct iocb_jw w;
	char tmp[4096];
	size_t n;
	int rc;

	iocb_buf_init(&out, 1 << 20);
	iocb_jw_init(&w, &out);
	iocb_jw_arr(&w);
	iocb_json_init(&p, (const char *)data, size, 32, size & 1);
	for (int guard = 0; guard < 100000; guard++) {
		rc = iocb_json_next(&p, &t, NULL);
		if (rc < 0)
			break;
		if ((t.type == IOCB_JSON_STR || t.type == IOCB_JSON_KEY) &&
		    iocb_json_unescape(&t, tmp, sizeof(tmp), &n) == IOCB_OK)
			iocb_jw_str(&w, iocb_str_make(tmp, n));
	}
	iocb_jw_arr_end(&w);
	if (iocb_jw_rc(&w) == IOCB_OK && iocb_json_validate(out.ptr, out.len, 0, NULL) != IOCB_OK)
		abort();

	/* One value, surrounded by optional whitespace, at nesting cap 16. */
	struct iocb_json_lexerr le;
	size_t end = 0, i = iocb_json_lex_ws((const char *)data, 0, size);
	bool lex_ok = iocb_json_lex_skip((const char *)data, i, size, 16, &end, &le) == 0 &&
		      iocb_json_lex_ws((const char *)data, end, size) == size;
	bool pull_ok = iocb_json_validate((const char *)data, size, 16, NULL) == IOCB_OK;
	if (lex_ok != pull_ok)
		abort();

	struct iocb_err werr = {0}, verr = {0};
	bool skip = size & 2;
	iocb_json_init(&p, (const char *)data, size, 16, false);
	rc = iocb_json_next(&p, &t, &werr);
	if (rc == IOCB_OK)
		rc = walk(&p, &t, skip, &werr);
	if (rc == IOCB_OK)
		rc = iocb_json_next(&p, &t, &werr);
	if (rc == IOCB_EEND)
		rc = IOCB_OK;
	else if (rc == IOCB_OK)
		abort(); /* a second top-level value must be an error */
	int vrc = iocb_json_validate((const char *)data, size, 16, &verr);
	if ((rc == IOCB_OK) != (vrc == IOCB_OK))
		abort();
	if (!skip && (rc != vrc || strcmp(werr.msg, verr.msg) != 0))
		abort();
	iocb_buf_fini(&out);
	return 0;
}
