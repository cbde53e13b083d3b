/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the STIX 2.1 pattern of a MISP type and value
 * (iocb_render_stix_pattern() in src/serve/render/render.h), the text the
 * bus hands to every app that runs stix2.parse().
 *
 * Input: the MISP type, a NUL, the value (without a NUL the whole input is
 * the value of a type picked by its first byte, so the fuzzer reaches every
 * mapping without guessing names). Invariants (abort() on violation):
 *  - IOCB_OK, IOCB_EUNSUPPORTED or IOCB_EINVAL, nothing else with no cap;
 *    on an error the buffer is left as it was;
 *  - on IOCB_OK the pattern is one observation "[...]": brackets balance
 *    outside string literals, depth 0 is reached only at the end;
 *  - inside a literal every backslash escapes a `'` or a `\`, and every
 *    literal is closed;
 *  - each decoded literal is a piece of the value (or an object type or
 *    quoted hash key the renderer itself writes), so nothing of the value
 *    leaks unquoted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/render/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const TYPES[] = {
	"ip-dst", "ip-src", "ip", "domain", "hostname", "url", "uri", "email-src", "email-subject", "filename",
	"regkey", "mutex", "AS", "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha3-256", "ssdeep",
	"tlsh", "filename|md5", "filename|sha256", "filename|tlsh", "malware-sample", "x509-fingerprint-sha1",
	"domain|ip", "ip-dst|port", "ip-src|port", "hostname|port", "text", "filename|imphash",
};

static bool literal_known(const char *lit, size_t n, const char *value, size_t vlen)
{
	static const char *const fixed[] = {"ipv4-addr", "ipv6-addr", "domain-name", "SHA-1", "SHA-224", "SHA-256",
					    "SHA-384", "SHA-512", "SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512"};

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (n == strlen(fixed[i]) && memcmp(lit, fixed[i], n) == 0)
			return true;
	if (n == 0 || n > vlen)
		return false;
	for (size_t i = 0; i + n <= vlen; i++)
		if (memcmp(value + i, lit, n) == 0)
			return true;
	return false;
}

/* Walk the pattern: brackets balance outside literals, escapes are only \' and \\. */
static void check_pattern(const char *p, size_t len, const char *value, size_t vlen)
{
	char lit[4200];
	size_t n = 0;
	int depth = 0;
	bool in = false;

	if (len < 2 || p[0] != '[' || p[len - 1] != ']')
		abort();
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (in) {
			if (c == '\\') {
				if (i + 1 >= len || (p[i + 1] != '\'' && p[i + 1] != '\\'))
					abort();
				c = p[++i];
			} else if (c == '\'') {
				in = false;
				if (!literal_known(lit, n, value, vlen))
					abort();
				continue;
			}
			if (n >= sizeof(lit))
				abort();
			lit[n++] = c;
			continue;
		}
		if (c == '\'') {
			in = true;
			n = 0;
		} else if (c == '[') {
			depth++;
		} else if (c == ']') {
			if (--depth < 0 || (depth == 0 && i != len - 1))
				abort();
		}
	}
	if (in || depth != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nul;
	struct iocb_str type, value;
	struct iocb_buf b;
	int rc;

	if (size > 4096)
		return 0;
	nul = memchr(in, '\0', size);
	if (nul) {
		type = iocb_str_make(in, (size_t)(nul - in));
		value = iocb_str_make(nul + 1, size - type.len - 1);
	} else {
		if (!size)
			return 0;
		type = iocb_str_c(TYPES[(unsigned char)in[0] % (sizeof(TYPES) / sizeof(TYPES[0]))]);
		value = iocb_str_make(in + 1, size - 1);
	}
	iocb_buf_init(&b, 0);
	if (iocb_buf_append_c(&b, "x") != IOCB_OK)
		goto out;
	rc = iocb_render_stix_pattern(&b, type, value);
	if (rc == IOCB_OK) {
		check_pattern(b.ptr + 1, b.len - 1, value.ptr, value.len);
	} else if (rc == IOCB_EUNSUPPORTED || rc == IOCB_EINVAL) {
		if (b.len != 1 || strcmp(b.ptr, "x") != 0)
			abort();
	} else if (rc != IOCB_ENOMEM) {
		abort();
	}
out:
	iocb_buf_fini(&b);
	return 0;
}
