/* SPDX-License-Identifier: Apache-2.0 */
/* A model of Suricata's dataset file loading for tests (suricata_reader.h). */
#include "suricata_reader.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

static int b64val(char c)
{
	const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(tab, c) : NULL;
	return p ? (int)(p - tab) : -1;
}

/* Strict padded base64 of s[0, n) into out; its length, or -1. */
static long b64dec(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];
		int pad = 0;
		for (int j = 0; j < 4; j++) {
			v[j] = s[i + j] == '=' && i + 4 == n && j >= 2 ? (pad++, 0) : b64val(s[i + j]);
			if (v[j] < 0 || (pad && s[i + j] != '='))
				return -1;
		}
		if (o + 3 > cap)
			return -1;
		out[o++] = (char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	return (long)o;
}

static bool hexlen(const char *s, size_t n, size_t want, int v8)
{
	if (!v8 && n != want)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
			return false;
	return true;
}

/* Check and add one item s[0, n). */
static void item(const char *s, size_t n, const char *type, int v8, struct suricata_read *r)
{
	char tmp[1100];
	long len = (long)n;
	bool ok;

	if (r->n == SURICATA_READER_MAX || n >= sizeof(tmp)) {
		r->bad++;
		return;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (strcmp(type, "string") == 0) {
		len = b64dec(s, n, tmp, sizeof(tmp));
		ok = len >= 0;
	} else if (strcmp(type, "md5") == 0 || strcmp(type, "sha256") == 0) {
		ok = hexlen(s, n, type[0] == 'm' ? 32 : 64, v8);
	} else {
		unsigned char a[16];
		ok = inet_pton(AF_INET, tmp, a) == 1 || (type[2] == '\0' && inet_pton(AF_INET6, tmp, a) == 1);
	}
	if (!ok) {
		r->bad++;
		return;
	}
	memcpy(r->items[r->n], tmp, (size_t)len);
	r->len[r->n++] = (size_t)len;
}

void suricata_reader_parse(const char *text, const char *type, int v8, struct suricata_read *out)
{
	memset(out, 0, sizeof(*out));
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) + 1 : strlen(text); /* with its '\n' */
		const char *line = text;
		const char *c1;

		if (!v8 && n > 1023)
			n = 1023; /* fgets(1024): the rest is the next "line" */
		text += n;
		if (!v8) {
			if (n <= 1)
				continue;
			item(line, n - 1, type, v8, out); /* always drops the last character */
			continue;
		}
		if (line[n - 1] == '\n')
			n--;
		if (n && line[n - 1] == '\r')
			n--;
		c1 = memchr(line, ',', n);
		if (c1 && memchr(c1 + 1, ',', n - (size_t)(c1 + 1 - line)))
			continue;
		item(line, n, type, v8, out);
	}
}
