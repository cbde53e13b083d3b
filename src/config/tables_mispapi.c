/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The option table of the MISP-compatible read API (`http.misp_api`,
 * docs/DROPINS.md). Beside tables.c, which names it in the http table;
 * same row conventions (config/internal.h). The keys are secrets: they
 * come from the file and/or the environment (or inline), are checked for
 * MISP's key form, joined into one struct iocb_secret, and never appear in
 * a message (messages name the source and the line, not the key).
 */
#include "config/internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"

enum { MA_KEYS, MA_KEYS_FILE, MA_KEYS_ENV, MA_MAX };

static const struct iocb_config__opt mispapi_rows[] = {
	[MA_KEYS] = ROW("keys", IOCB_CT_SECRET, NULL, 1, 65536, OFF(http.misp_api.keys), OFF(http.misp_api.keys_file),
			OFF(http.misp_api.keys_env), NULL, NULL, 0,
			"Accepted API keys inline, separated by commas. Prefer `keys_file` or `keys_env`: a key "
			"here is in the configuration file. Never logged or dumped (shown as `***`)."),
	[MA_KEYS_FILE] = ROW("keys_file", IOCB_CT_STR, NULL, 1, 4096, OFF(http.misp_api.keys_file), NO, NO, NULL, NULL,
			     IOCB_CF_NULLABLE,
			     "File of accepted API keys, one per line (blank lines and `#` comments ignored), read "
			     "at start. A file readable by other users draws a warning."),
	[MA_KEYS_ENV] = ROW("keys_env", IOCB_CT_STR, NULL, 1, 256, OFF(http.misp_api.keys_env), NO, NO, NULL, NULL,
			    IOCB_CF_NULLABLE, "Environment variable holding accepted API keys, separated by commas."),
	[MA_MAX] = ROW("max_attributes", IOCB_CT_UINT, "100000", 1, 10000000, OFF(http.misp_api.max_attributes), NO, NO,
		       NULL, NULL, 0,
		       "Attributes in one answer at most (MISP has no cap; a `limit` below it applies as in "
		       "MISP). Past it the answer ends there, counted in `iocbus_mispapi_truncated_total`."),
};

static bool alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Append the keys of `text` (separated by `seps`; with `comments`, '#'
 * starts a comment to the end of the line) to out, one per line. Each must
 * be MISP's form, 40 letters and digits; a message names `what` and the
 * key's position, never the key.
 */
static int add_keys(struct iocb_config__ctx *ctx, const struct iocb_config__node *at, const char *what,
		    const char *text, const char *seps, bool comments, struct iocb_buf *out, size_t *nkeys)
{
	size_t pos = 0, item = 0;

	while (text[pos]) {
		size_t n = strcspn(text + pos, seps), b = pos, e = pos + n;

		item++;
		if (comments) {
			const char *hash = memchr(text + pos, '#', n);
			if (hash)
				e = (size_t)(hash - text);
		}
		while (b < e && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r'))
			b++;
		while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r'))
			e--;
		if (e > b) {
			bool ok = e - b == 40;
			for (size_t i = b; i < e && ok; i++)
				ok = alnum(text[i]);
			if (!ok)
				return iocb_config__fail(ctx, at, what, "%s %zu is not a MISP API key (40 letters and digits)",
							 comments ? "line" : "key", item);
			if ((out->len && iocb_buf_putc(out, '\n') < 0) || iocb_buf_append_str(out, iocb_str_make(text + b, e - b)) < 0)
				return iocb_config__fail(ctx, at, what, "too many keys");
			(*nkeys)++;
		}
		pos += n + (text[pos + n] ? 1 : 0);
	}
	return IOCB_OK;
}

/* Join the keys of every source given into http.misp_api.keys. */
static int mispapi_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
			 const struct iocb_config__node *const *vals)
{
	struct iocb_config *c = base;
	struct iocb_secret file = {NULL};
	struct iocb_buf all;
	size_t nkeys = 0;
	int rc = IOCB_OK;

	if (!map)
		return IOCB_OK;
	iocb_buf_init(&all, (size_t)1 << 20);
	if (iocb_secret_str(&c->http.misp_api.keys))
		rc = add_keys(ctx, vals[MA_KEYS], "http.misp_api.keys", iocb_secret_str(&c->http.misp_api.keys), ",",
			      false, &all, &nkeys);
	if (rc == IOCB_OK && c->http.misp_api.keys_file) {
		rc = iocb_config__read_secret_file(ctx, vals[MA_KEYS_FILE], c->http.misp_api.keys_file,
						   "http.misp_api.keys_file", true, &file);
		if (rc == IOCB_OK)
			rc = add_keys(ctx, vals[MA_KEYS_FILE], "http.misp_api.keys_file", iocb_secret_str(&file), "\n",
				      true, &all, &nkeys);
		iocb_config__secret_take(&file, NULL);
	}
	if (rc == IOCB_OK && c->http.misp_api.keys_env) {
		const char *v = getenv(c->http.misp_api.keys_env);

		if (!v || !*v)
			rc = iocb_config__fail(ctx, vals[MA_KEYS_ENV], "http.misp_api.keys_env",
					       "environment variable '%.200s' is not set or empty",
					       c->http.misp_api.keys_env);
		else
			rc = add_keys(ctx, vals[MA_KEYS_ENV], "http.misp_api.keys_env", v, ",", false, &all, &nkeys);
	}
	if (rc == IOCB_OK && nkeys == 0)
		rc = iocb_config__fail(ctx, map, "http.misp_api", "no API key: give keys_file, keys_env or keys");
	if (rc == IOCB_OK)
		iocb_config__secret_take(&c->http.misp_api.keys, iocb_xstrndup(all.ptr, all.len));
	if (all.ptr)
		explicit_bzero(all.ptr, all.cap);
	iocb_buf_fini(&all);
	return rc;
}

const struct iocb_config__section iocb_config__mispapi = {
	"http.misp_api", mispapi_rows, N(mispapi_rows), 0, NO,
	"The MISP-compatible read API (docs/DROPINS.md): `/attributes/restSearch` answered from the store "
	"in MISP's JSON shape for PyMISP scripts and elastiMISPstash's Logstash ruby filter, with MISP's "
	"`Authorization: <key>` header. Present with at least one key: served on the HTTP endpoint; absent: "
	"those paths are 404. The endpoint-wide `http.auth` does not apply to these paths.",
	mispapi_check,
};
