/* SPDX-License-Identifier: Apache-2.0 */
/* A model of Zeek's Intel file reader for tests (zeek_reader.h). */
#include "zeek_reader.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 16

static const char *const zeek_types[] = {
	"Intel::ADDR",      "Intel::SUBNET",    "Intel::URL",        "Intel::SOFTWARE",  "Intel::EMAIL",
	"Intel::DOMAIN",    "Intel::USER_NAME", "Intel::CERT_HASH",  "Intel::PUBKEY_HASH",
	"Intel::FILE_HASH", "Intel::FILE_NAME",
};

/* Undo \xHH escapes of s[0, n) into out (cap bytes); -1 if it does not fit. */
static int unescape(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned v;
		char hex[3] = {0};
		if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x') {
			memcpy(hex, s + i + 2, 2);
			if (sscanf(hex, "%2x", &v) == 1) {
				if (o + 1 >= cap)
					return -1;
				out[o++] = (char)v;
				i += 3;
				continue;
			}
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = s[i];
	}
	out[o] = '\0';
	return 0;
}

/* Split line[0, n) on TAB into at most MAX_COLS (start, len) pairs; the count, or MAX_COLS + 1. */
static size_t split(const char *line, size_t n, const char *f[], size_t fl[])
{
	size_t k = 0, start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && line[i] != '\t')
			continue;
		if (k == MAX_COLS)
			return MAX_COLS + 1;
		f[k] = line + start;
		fl[k++] = i - start;
		start = i + 1;
	}
	return k;
}

static bool known_type(const char *t)
{
	for (size_t i = 0; i < sizeof(zeek_types) / sizeof(zeek_types[0]); i++)
		if (strcmp(t, zeek_types[i]) == 0)
			return true;
	return false;
}

struct cols {
	size_t n;
	int ind, type, src, desc, url; /* column of each, -1 if absent */
};

static int header(const char *line, size_t n, struct cols *c)
{
	const char *f[MAX_COLS];
	size_t fl[MAX_COLS];

	c->n = split(line, n, f, fl);
	if (c->n > MAX_COLS)
		return -1;
	c->ind = c->type = c->src = c->desc = c->url = -1;
	for (size_t i = 1; i < c->n; i++) { /* f[0] is "#fields" */
		int *slot = fl[i] == 9 && !memcmp(f[i], "indicator", 9)		    ? &c->ind
			    : fl[i] == 14 && !memcmp(f[i], "indicator_type", 14) ? &c->type
			    : fl[i] == 11 && !memcmp(f[i], "meta.source", 11)	    ? &c->src
			    : fl[i] == 9 && !memcmp(f[i], "meta.desc", 9)	    ? &c->desc
			    : fl[i] == 8 && !memcmp(f[i], "meta.url", 8)	    ? &c->url
										    : NULL;
		if (slot)
			*slot = (int)i - 1;
	}
	c->n--;
	return c->ind < 0 || c->type < 0 || c->src < 0 ? -1 : 0; /* "Did not find requested field" */
}

/* One field into out: "" when unset; -1 when unset but required, or too long. */
static int field(const char *f, size_t n, bool required, char *out, size_t cap)
{
	if (n == 1 && f[0] == '-') {
		out[0] = '\0';
		return required ? -1 : 0;
	}
	return unescape(f, n, out, cap);
}

static bool data(const char *line, size_t n, const struct cols *c, struct zeek_row *r)
{
	const char *f[MAX_COLS];
	size_t fl[MAX_COLS];

	if (split(line, n, f, fl) != c->n)
		return false;
	memset(r, 0, sizeof(*r));
	if (field(f[c->ind], fl[c->ind], true, r->indicator, sizeof(r->indicator)) < 0 ||
	    field(f[c->type], fl[c->type], true, r->type, sizeof(r->type)) < 0 ||
	    field(f[c->src], fl[c->src], true, r->source, sizeof(r->source)) < 0)
		return false;
	if (c->desc >= 0 && field(f[c->desc], fl[c->desc], false, r->desc, sizeof(r->desc)) < 0)
		return false;
	if (c->url >= 0 && field(f[c->url], fl[c->url], false, r->url, sizeof(r->url)) < 0)
		return false;
	return known_type(r->type);
}

int zeek_reader_parse(const char *text, struct zeek_read *out)
{
	struct cols c = {0};
	bool have_header = false;

	memset(out, 0, sizeof(*out));
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) : strlen(text);
		const char *line = text;

		text += n + (nl ? 1 : 0);
		if (n && line[n - 1] == '\r')
			n--;
		if (!n)
			continue;
		if (n >= 8 && !memcmp(line, "#fields\t", 8)) {
			if (header(line, n, &c) < 0)
				return -1;
			have_header = true;
			continue;
		}
		if (line[0] == '#')
			continue;
		if (!have_header)
			return -1; /* Zeek would take this line as the header */
		if (out->nrows < ZEEK_READER_MAX_ROWS && data(line, n, &c, &out->rows[out->nrows]))
			out->nrows++;
		else
			out->bad++;
	}
	return have_header ? 0 : -1;
}
