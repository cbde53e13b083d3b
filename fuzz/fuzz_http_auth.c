/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz http.auth's parsers (src/serve/http/auth.h): the input's first byte
 * picks the parser, the rest is its text: 0 the Authorization header, 1 a
 * token file, 2 an htpasswd users file; then, for a header, it is checked
 * against a fixed token set. Invariants (abort() on violation):
 *  - a parsed header is Bearer with a 1..512-byte token of printable
 *    non-space ASCII inside the input, or Basic with a non-empty user
 *    without ':' and both NUL-terminated within their caps;
 *  - file parsers either succeed with at most IOCB_HTTP_AUTH_MAX_ENTRIES
 *    entries or fail with a message that does not contain the input's
 *    lines (secrets are never echoed) when the input is long enough to tell;
 *  - the same input gives the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/http/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_header(const char *h, size_t len)
{
	struct iocb_http_auth_cred c, c2;
	bool ok = iocb_http_auth_parse_header(h, len, &c);

	if (ok != iocb_http_auth_parse_header(h, len, &c2))
		abort();
	if (!ok)
		return;
	if (c.scheme == IOCB_HTTP_AUTH_SCHEME_BEARER) {
		if (c.token.len == 0 || c.token.len > IOCB_HTTP_AUTH_MAX_TOKEN || c.token.ptr < h ||
		    c.token.ptr + c.token.len > h + len)
			abort();
		for (size_t i = 0; i < c.token.len; i++)
			if ((unsigned char)c.token.ptr[i] <= 0x20 || (unsigned char)c.token.ptr[i] >= 0x7f)
				abort();
	} else if (c.scheme == IOCB_HTTP_AUTH_SCHEME_BASIC) {
		if (!c.user[0] || strchr(c.user, ':') || memchr(c.user, 0, sizeof(c.user)) == NULL ||
		    memchr(c.password, 0, sizeof(c.password)) == NULL)
			abort();
	} else {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_http_auth *a;
	struct iocb_err err = {0}, err2 = {0};
	char *text;
	int rc, rc2;

	if (size < 1)
		return 0;
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] % 3 == 0) {
		check_header(text, size - 1);
		a = iocb_http_auth_new(NULL);
		if (iocb_http_auth_parse_tokens(a, "0123456789abcdef\n", 17, "t", &err) != IOCB_OK)
			abort();
		/* header values never hold NUL: check() takes a C string */
		(void)iocb_http_auth_check(a, text);
		iocb_http_auth_free(a);
		free(text);
		return 0;
	}
	a = iocb_http_auth_new(NULL);
	rc = data[0] % 3 == 1 ? iocb_http_auth_parse_tokens(a, text, size - 1, "f", &err)
			      : iocb_http_auth_parse_users(a, text, size - 1, "f", &err);
	if (rc == IOCB_OK && iocb_http_auth_entries(a) > IOCB_HTTP_AUTH_MAX_ENTRIES)
		abort();
	/* (the whole text as a C string: it stops at a NUL, so only a long one tells) */
	if (rc != IOCB_OK && (!err.msg[0] || (strlen(text) > 40 && strstr(err.msg, text))))
		abort();
	iocb_http_auth_free(a);
	a = iocb_http_auth_new(NULL);
	rc2 = data[0] % 3 == 1 ? iocb_http_auth_parse_tokens(a, text, size - 1, "f", &err2)
			       : iocb_http_auth_parse_users(a, text, size - 1, "f", &err2);
	if (rc != rc2 || strcmp(err.msg, err2.msg) != 0)
		abort();
	iocb_http_auth_free(a);
	free(text);
	return 0;
}
