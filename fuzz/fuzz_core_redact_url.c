/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the one URL-redaction rule (iocb_str_redact_url() in src/core/str.h),
 * which every dump, log line and error that shows an URL goes through.
 *
 * The input (up to 4 KiB, cut at its first NUL) is the URL. Invariants
 * (abort() on violation):
 *  - the return value is the length of the full redacted text, and a call
 *    with room for it writes exactly that many bytes plus the NUL;
 *  - a smaller buffer gets a NUL-terminated prefix of the same text, never
 *    a byte past its end;
 *  - redaction is idempotent (a redacted URL has nothing left to hide);
 *  - a "scheme://user:password@host" URL never shows its password.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char url[4097], *full, *again, small[17];
	size_t n = size < sizeof(url) - 1 ? size : sizeof(url) - 1, len;

	memcpy(url, data, n);
	url[n] = '\0';
	len = iocb_str_redact_url(url, NULL, 0);
	full = malloc(len + 1);
	if (!full)
		return 0;
	if (iocb_str_redact_url(url, full, len + 1) != len || strlen(full) != len)
		abort();
	for (size_t cap = 1; cap <= sizeof(small); cap++) {
		memset(small, 'Z', sizeof(small));
		(void)iocb_str_redact_url(url, small, cap);
		size_t k = strnlen(small, cap);
		if (k >= cap || k != (len < cap - 1 ? len : cap - 1) || memcmp(small, full, k) != 0)
			abort();
	}
	again = iocb_str_redact_url_dup(full);
	if (strcmp(again, full) != 0)
		abort();
	free(again);
	{
		/* scheme://[user:]PASSWORD@host with a password of 8+ bytes that appears nowhere else */
		const char *sep = strstr(url, "://");
		const char *at = sep ? strchr(sep + 3, '@') : NULL;
		const char *colon = at ? memchr(sep + 3, ':', (size_t)(at - sep - 3)) : NULL;

		if (colon && at - colon > 8 && !memchr(sep + 3, '/', (size_t)(at - sep - 3)) &&
		    !memchr(sep + 3, '?', (size_t)(at - sep - 3)) && !memchr(sep + 3, '#', (size_t)(at - sep - 3)) &&
		    !strchr(at + 1, '@')) {
			size_t pl = (size_t)(at - colon - 1);
			char *pw = strndup(colon + 1, pl);

			if (pw && strstr(url, pw) == colon + 1 && !strstr(at, pw) && strstr(full, pw))
				abort();
			free(pw);
		}
	}
	free(full);
	return 0;
}
