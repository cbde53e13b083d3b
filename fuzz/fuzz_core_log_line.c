/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the log line composer (iocb_log_format_line() in src/core/log.h),
 * which parses the text after msg= (a quoted message, key=value pairs, any
 * bytes an error message carries) into JSON members.
 *
 * The input (up to 3 KiB, cut at its first NUL) is that text; the first
 * byte also picks the buffer size (64 to 4096). Invariants (abort() on
 * violation), for the JSON format:
 *  - the line is exactly one flat JSON object of string members followed
 *    by one newline: `{"k":"v",...}\n`, strings holding no raw control
 *    byte, only the escapes \" \\ \uXXXX, and valid UTF-8;
 *  - the returned length is the string length and below the buffer size;
 * and for the text and journal formats: one line, ending in its only newline.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t utf8_len(const unsigned char *s)
{
	size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;

	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* A JSON string starting at s (its opening quote); returns the byte after it, NULL if malformed. */
static const char *string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		size_t k;
		if (*p < 0x20 || *p == 0x7f)
			return NULL;
		if (*p == '\\') {
			if (p[1] == '"' || p[1] == '\\') {
				p += 2;
			} else if (p[1] == 'u' && strspn((const char *)p + 2, "0123456789abcdef") >= 4) {
				p += 6;
			} else {
				return NULL;
			}
		} else if (*p < 0x80) {
			p++;
		} else if ((k = utf8_len(p)) > 0) {
			p += k;
		} else {
			return NULL;
		}
	}
	return (const char *)p + 1;
}

static void check_json(const char *line)
{
	const char *p = line;

	if (*p++ != '{')
		abort();
	for (;;) {
		if (!(p = string(p)) || *p++ != ':' || !(p = string(p)))
			abort();
		if (*p == ',') {
			p++;
			continue;
		}
		break;
	}
	if (strcmp(p, "}\n") != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char rest[3073], *line;
	size_t n, cap, len;

	if (size < 1)
		return 0;
	cap = 64 + (size_t)data[0] * 16;
	data++;
	size--;
	n = size < sizeof(rest) - 1 ? size : sizeof(rest) - 1;
	memcpy(rest, data, n);
	rest[n] = '\0';
	line = malloc(cap);
	if (!line)
		return 0;
	len = iocb_log_format_line(line, cap, IOCB_LOG_FORMAT_JSON, false, IOCB_LOG_WARN, "fuzz",
				   "2026-12-05T06:00:00.000Z", rest);
	if (len >= cap || len != strlen(line))
		abort();
	check_json(line);
	for (int journal = 0; journal < 2; journal++) {
		len = iocb_log_format_line(line, cap, IOCB_LOG_FORMAT_TEXT, journal, IOCB_LOG_ERROR, "fuzz",
					   "2026-12-05T06:00:00.000Z", rest);
		/* A newline inside rest stays (text lines are not escaped); the line still ends in one. */
		if (len >= cap || len == 0 || line[len - 1] != '\n' || line[len] != '\0')
			abort();
	}
	free(line);
	return 0;
}
