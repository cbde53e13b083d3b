/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the JSON pull parser and writer: walk every token, decode every
 * string, and check that re-writing decoded strings yields valid JSON.
 * Differential: the token-free skipper (json/lex.h, used by iocb_json_skip
 * and the enrichment scanner) must accept exactly what the pull parser
 * accepts, at the same depth cap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "json/lex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	iocb_buf_fini(&out);
	return 0;
}
