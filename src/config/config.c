/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration loader: walks the YAML tree from yaml.c against the option
 * tables in tables.c and fills a struct iocb_config.
 *
 * Each value goes through one setter per table type, and that setter is the
 * only place a type is checked, so the defaults (YAML text in the tables),
 * the file and the messages can never disagree. A setter replaces what the
 * field held, freeing it: defaults are applied first and then overwritten.
 * A map is read key by key in file order; a key that matches no row is an
 * error listing the keys that would have matched, and a section's check
 * function then applies the rules that span keys. Every failure names
 * file:line:col and the dotted path of the option; values are quoted in
 * messages (capped and escaped) except secrets and Kafka properties, which
 * are never echoed.
 */
#include "config/config.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "core/file.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"

#define MAX_ROWS 40 /* rows in one table; checked by an assert */

static int read_section(struct iocb_config__ctx *ctx, const struct iocb_config__section *sec, void *base,
			const struct iocb_config__node *node, const char *path);

/* ---- messages -------------------------------------------------------------- */

void iocb_config__quote(char *out, size_t outsz, const char *s, size_t len, size_t max)
{
	size_t o = 0;

	if (!outsz)
		return;
	for (size_t i = 0; i < len && i < max; i++) {
		unsigned char ch = (unsigned char)s[i];
		char tmp[8];
		size_t n;

		if (ch >= 0x20 && ch != 0x7F && ch != '\\') {
			tmp[0] = (char)ch;
			n = 1;
		} else {
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", ch);
		}
		if (o + n + 4 >= outsz)
			break;
		memcpy(out + o, tmp, n);
		o += n;
	}
	if (len > max && o + 3 < outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static void vformat(char *buf, size_t sz, struct iocb_config__ctx *ctx, const struct iocb_config__node *n,
		    const char *path, const char *fmt, va_list ap) IOCB_PRINTF(6, 0);

static void vformat(char *buf, size_t sz, struct iocb_config__ctx *ctx, const struct iocb_config__node *n,
		    const char *path, const char *fmt, va_list ap)
{
	int k;

	if (n)
		k = snprintf(buf, sz, "%s:%d:%d: ", ctx->name, n->line, n->col);
	else
		k = snprintf(buf, sz, "%s: ", ctx->name);
	if (k < 0 || (size_t)k >= sz)
		return;
	if (path && *path) {
		int p = snprintf(buf + k, sz - (size_t)k, "%s: ", path);

		if (p < 0 || (size_t)(k + p) >= sz)
			return;
		k += p;
	}
	vsnprintf(buf + k, sz - (size_t)k, fmt, ap);
}

int iocb_config__fail(struct iocb_config__ctx *ctx, const struct iocb_config__node *n, const char *path,
		      const char *fmt, ...)
{
	va_list ap;

	if (ctx->err) {
		va_start(ap, fmt);
		vformat(ctx->err->msg, sizeof(ctx->err->msg), ctx, n, path, fmt, ap);
		va_end(ap);
		ctx->err->rc = IOCB_ECONFIG;
	}
	return IOCB_ECONFIG;
}

void iocb_config__warn(struct iocb_config__ctx *ctx, const struct iocb_config__node *n, const char *path,
		       const char *fmt, ...)
{
	struct iocb_config *c = ctx->c;
	char buf[512];
	va_list ap;

	if (!c)
		return;
	va_start(ap, fmt);
	vformat(buf, sizeof(buf), ctx, n, path, fmt, ap);
	va_end(ap);
	c->warnings = iocb_xrealloc(c->warnings, (c->nwarnings + 1) * sizeof(*c->warnings));
	c->warnings[c->nwarnings++] = iocb_xstrdup(buf);
}

static const char *kind_name(const struct iocb_config__node *n)
{
	if (n->kind == IOCB_YN_MAP)
		return "a map";
	if (n->kind == IOCB_YN_SEQ)
		return "a list";
	return iocb_config__is_null(n) ? "null" : "a scalar";
}

/* Fail with "expected X, got 'value'" (the value only for echo-safe rows). */
static int expected(struct iocb_config__ctx *ctx, const struct iocb_config__node *n, const char *path,
		    const char *what, bool echo)
{
	char q[100];

	if (n->kind != IOCB_YN_SCALAR || iocb_config__is_null(n) || !echo)
		return iocb_config__fail(ctx, n, path, "expected %s, got %s", what, kind_name(n));
	iocb_config__quote(q, sizeof(q), n->text, n->len, 64);
	return iocb_config__fail(ctx, n, path, "expected %s, got '%s'", what, q);
}

/* ---- scalar readers ---------------------------------------------------------- */

bool iocb_config__parse_bool(const struct iocb_config__node *n, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL};

	if (n->kind != IOCB_YN_SCALAR || n->quoted)
		return false;
	for (size_t i = 0; yes[i]; i++) {
		if (strcmp(n->text, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcmp(n->text, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* A number of plain decimal form (no hex, no inf/nan, no spaces). */
static bool parse_double(const struct iocb_config__node *n, double *out)
{
	char *end = NULL;

	if (n->len == 0 || n->len > 64 || strspn(n->text, "0123456789.eE+-") != n->len)
		return false;
	*out = strtod(n->text, &end);
	return end == n->text + n->len && isfinite(*out);
}

/* Seconds: a plain number with an optional unit (ms, s, m, h, d), e.g. "30", "1.5s", "90m", "7d". */
static bool parse_duration(const struct iocb_config__node *n, double *out)
{
	static const struct {
		const char *sfx;
		double mul;
	} units[] = {{"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
	size_t num = strspn(n->text, "0123456789.");
	char *end = NULL;
	double mul = 1;

	if (num == 0 || n->len > 64 || strlen(n->text) != n->len)
		return false;
	if (num != n->len) {
		size_t i;

		for (i = 0; i < IOCB_ARRAY_LEN(units); i++)
			if (strcmp(n->text + num, units[i].sfx) == 0)
				break;
		if (i == IOCB_ARRAY_LEN(units))
			return false;
		mul = units[i].mul;
	}
	*out = strtod(n->text, &end);
	if (end != n->text + num || !isfinite(*out))
		return false;
	*out *= mul;
	return true;
}

/* Bytes with an optional binary suffix; `text` is NUL-terminated and len bytes long. */
static bool parse_size(const char *text, size_t len, uint64_t *out)
{
	static const struct {
		const char *sfx;
		unsigned shift;
	} sfx[] = {{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}};
	size_t digits = strspn(text, "0123456789");
	unsigned shift = 0;
	uint64_t v;

	if (digits == 0 || digits > 20)
		return false;
	if (digits != len) {
		size_t i;

		for (i = 0; i < IOCB_ARRAY_LEN(sfx); i++)
			if (strcmp(text + digits, sfx[i].sfx) == 0)
				break;
		if (i == IOCB_ARRAY_LEN(sfx))
			return false;
		shift = sfx[i].shift;
	}
	if (!iocb_str_to_u64(iocb_str_make(text, digits), &v) || (shift && v > (UINT64_MAX >> shift)))
		return false;
	*out = v << shift;
	return true;
}

bool iocb_config_parse_size(const char *text, uint64_t *out)
{
	return text && parse_size(text, strlen(text), out);
}

/* A non-null scalar without NUL bytes. */
static int need_text(struct iocb_config__ctx *ctx, const struct iocb_config__node *n, const char *path,
		     const char *what, bool echo)
{
	if (n->kind != IOCB_YN_SCALAR || iocb_config__is_null(n))
		return expected(ctx, n, path, what, echo);
	if (memchr(n->text, '\0', n->len))
		return iocb_config__fail(ctx, n, path, "contains a NUL byte");
	return IOCB_OK;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void free_kv(struct iocb_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		if (kv[i].value) {
			explicit_bzero(kv[i].value, strlen(kv[i].value)); /* may be sasl.password */
			free(kv[i].value);
		}
	}
	free(kv);
}

static int check_choice(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o,
			const struct iocb_config__node *n, const char *path, int *idx)
{
	char list[200], q[100];
	size_t k = 0;

	for (int i = 0; o->choices[i]; i++) {
		if (strcmp(n->text, o->choices[i]) == 0) {
			*idx = i;
			return IOCB_OK;
		}
	}
	list[0] = '\0';
	for (int i = 0; o->choices[i] && k < sizeof(list); i++) {
		int w = snprintf(list + k, sizeof(list) - k, "%s%s", i ? ", " : "", o->choices[i]);

		if (w < 0)
			break;
		k += (size_t)w;
	}
	iocb_config__quote(q, sizeof(q), n->text, n->len, 64);
	return iocb_config__fail(ctx, n, path, "'%s' is not one of: %s", q, list);
}

/* ---- setters, one per type ---------------------------------------------------- */

static int set_str(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		   const struct iocb_config__node *n, const char *path)
{
	char **f = IOCB_CONFIG_FIELD(base, o->off, char *);
	char q[100];
	int rc;

	if (iocb_config__is_null(n) && (o->flags & IOCB_CF_NULLABLE)) {
		free(*f);
		*f = NULL;
		return IOCB_OK;
	}
	rc = need_text(ctx, n, path, "a string", true);
	if (rc < 0)
		return rc;
	if (n->len < (size_t)o->min || (o->max > 0 && n->len > (size_t)o->max)) {
		iocb_config__quote(q, sizeof(q), n->text, n->len, 64);
		return iocb_config__fail(ctx, n, path, "'%s' must be %.0f to %.0f characters long", q, o->min,
					 o->max);
	}
	free(*f);
	*f = iocb_xstrndup(n->text, n->len);
	return IOCB_OK;
}

static int set_csv(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		   const struct iocb_config__node *n, const char *path)
{
	char **f = IOCB_CONFIG_FIELD(base, o->off, char *);
	struct iocb_config__node joined;
	size_t len = 0;
	int rc;

	if (n->kind != IOCB_YN_SEQ)
		return set_str(ctx, o, base, n, path);
	for (size_t i = 0; i < n->nkids; i++) {
		rc = need_text(ctx, n->kids[i], path, "a list of strings", true);
		if (rc < 0)
			return rc;
		len += n->kids[i]->len + 1;
	}
	if (o->max > 0 && len > (size_t)o->max + 1)
		return iocb_config__fail(ctx, n, path, "longer than %.0f characters", o->max);
	memset(&joined, 0, sizeof(joined));
	joined.kind = IOCB_YN_SCALAR;
	joined.quoted = true;
	joined.line = n->line;
	joined.col = n->col;
	joined.text = iocb_xcalloc(1, len + 1);
	for (size_t i = 0; i < n->nkids; i++) {
		if (i)
			joined.text[joined.len++] = ',';
		memcpy(joined.text + joined.len, n->kids[i]->text, n->kids[i]->len);
		joined.len += n->kids[i]->len;
	}
	if (joined.len == 0) { /* `debug: []` is the same as no debug modules */
		free(joined.text);
		free(*f);
		*f = NULL;
		return IOCB_OK;
	}
	rc = set_str(ctx, o, base, &joined, path);
	free(joined.text);
	return rc;
}

static int set_strlist(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		       const struct iocb_config__node *n, const char *path)
{
	char ***f = IOCB_CONFIG_FIELD(base, o->off, char **);
	size_t *cnt = IOCB_CONFIG_FIELD(base, o->off_n, size_t);
	char **v;
	int rc;

	if (iocb_config__is_null(n) && (o->flags & IOCB_CF_NULLABLE)) {
		free_strv(*f, *cnt);
		*f = NULL;
		*cnt = 0;
		goto has;
	}
	if (n->kind != IOCB_YN_SEQ)
		return expected(ctx, n, path, "a list (write [x] for a single entry)", true);
	if (n->nkids < (size_t)o->min)
		return iocb_config__fail(ctx, n, path, "needs at least %.0f entr%s", o->min,
					 o->min == 1 ? "y" : "ies");
	if (o->max > 0 && n->nkids > (size_t)o->max)
		return iocb_config__fail(ctx, n, path, "more than %.0f entries", o->max);
	for (size_t i = 0; i < n->nkids; i++) {
		rc = need_text(ctx, n->kids[i], path, "a string or number in the list", true);
		if (rc < 0)
			return rc;
	}
	v = iocb_xcalloc(n->nkids ? n->nkids : 1, sizeof(*v));
	for (size_t i = 0; i < n->nkids; i++)
		v[i] = iocb_xstrndup(n->kids[i]->text, n->kids[i]->len);
	free_strv(*f, *cnt);
	*f = v;
	*cnt = n->nkids;
has:
	if (o->off_has != NO)
		*IOCB_CONFIG_FIELD(base, o->off_has, bool) = true;
	return IOCB_OK;
}

static int set_kv(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		  const struct iocb_config__node *n, const char *path)
{
	struct iocb_kv **f = IOCB_CONFIG_FIELD(base, o->off, struct iocb_kv *);
	size_t *cnt = IOCB_CONFIG_FIELD(base, o->off_n, size_t);
	size_t np;
	struct iocb_kv *kv;
	char q[100];
	int rc;

	if (iocb_config__is_null(n) && (o->flags & IOCB_CF_NULLABLE)) {
		free_kv(*f, *cnt);
		*f = NULL;
		*cnt = 0;
		return IOCB_OK;
	}
	if (n->kind != IOCB_YN_MAP)
		return expected(ctx, n, path, "a map of properties", false);
	np = n->nkids / 2;
	if (o->max > 0 && np > (size_t)o->max)
		return iocb_config__fail(ctx, n, path, "more than %.0f entries", o->max);
	for (size_t i = 0; i < np; i++) {
		const struct iocb_config__node *k = n->kids[2 * i], *v = n->kids[2 * i + 1];

		if (k->len == 0 || memchr(k->text, '\0', k->len))
			return iocb_config__fail(ctx, k, path, "property names must be non-empty text");
		iocb_config__quote(q, sizeof(q), k->text, k->len, 64);
		/* Property values may be passwords: never echoed. */
		if (v->kind != IOCB_YN_SCALAR || iocb_config__is_null(v))
			return iocb_config__fail(ctx, v, path, "'%s' needs a scalar value, got %s", q,
						 kind_name(v));
		rc = memchr(v->text, '\0', v->len) ? -1 : 0;
		if (rc < 0)
			return iocb_config__fail(ctx, v, path, "'%s' contains a NUL byte", q);
	}
	kv = iocb_xcalloc(np ? np : 1, sizeof(*kv));
	for (size_t i = 0; i < np; i++) {
		kv[i].key = iocb_xstrndup(n->kids[2 * i]->text, n->kids[2 * i]->len);
		kv[i].value = iocb_xstrndup(n->kids[2 * i + 1]->text, n->kids[2 * i + 1]->len);
	}
	free_kv(*f, *cnt);
	*f = kv;
	*cnt = np;
	return IOCB_OK;
}

static int set_list(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		    const struct iocb_config__node *n, const char *path)
{
	const struct iocb_config__section *sub = o->sub;
	void **f = IOCB_CONFIG_FIELD(base, o->off, void *);
	size_t *cnt = IOCB_CONFIG_FIELD(base, o->off_n, size_t);
	char ipath[96], where[300];
	char *items;
	int rc;

	for (size_t i = 0; i < *cnt; i++)
		iocb_config__section_fini(sub, (char *)*f + i * sub->item_size);
	free(*f);
	*f = NULL;
	*cnt = 0;
	if (iocb_config__is_null(n) && (o->flags & IOCB_CF_NULLABLE))
		return IOCB_OK;
	if (n->kind != IOCB_YN_SEQ)
		return expected(ctx, n, path, "a list of maps (each entry starts with '- ')", true);
	if (o->max > 0 && n->nkids > (size_t)o->max)
		return iocb_config__fail(ctx, n, path, "more than %.0f entries", o->max);
	if (!n->nkids)
		return IOCB_OK;
	items = iocb_xcalloc(n->nkids, sub->item_size);
	/* Owned by the config from here, so a failure below frees the partial list. */
	*f = items;
	*cnt = n->nkids;
	for (size_t i = 0; i < n->nkids; i++) {
		void *item = items + i * sub->item_size;
		const struct iocb_config__node *k = n->kids[i];

		iocb_config__section_defaults(sub, item);
		snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
		if (k->kind != IOCB_YN_MAP)
			return expected(ctx, k, ipath, "a map", true);
		if (sub->where_off != NO) {
			snprintf(where, sizeof(where), "%s:%d:%d", ctx->name, k->line, k->col);
			*IOCB_CONFIG_FIELD(item, sub->where_off, char *) = iocb_xstrdup(where);
		}
		rc = read_section(ctx, sub, item, k, ipath);
		if (rc < 0)
			return rc;
	}
	return IOCB_OK;
}

static int set_section(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		       const struct iocb_config__node *n, const char *path)
{
	if (n->kind != IOCB_YN_MAP && !iocb_config__is_null(n))
		return expected(ctx, n, path, "a map", true);
	if (o->flags & IOCB_CF_ONCE) {
		for (size_t i = 0; i < ctx->nonce; i++)
			if (ctx->once_sec[i] == o->sub)
				return iocb_config__fail(ctx, n, path,
							 "the %s section is already given at line %d, column %d",
							 o->sub->path, ctx->once[i]->line, ctx->once[i]->col);
		if (ctx->nonce < IOCB_ARRAY_LEN(ctx->once)) {
			ctx->once[ctx->nonce] = n;
			ctx->once_sec[ctx->nonce++] = o->sub;
		}
	}
	if (o->off_has != NO)
		*IOCB_CONFIG_FIELD(base, o->off_has, bool) = true;
	return read_section(ctx, o->sub, base, n, o->sub->path);
}

static int set_bool(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		    const struct iocb_config__node *n, const char *path)
{
	bool b;

	if (!iocb_config__parse_bool(n, &b))
		return expected(ctx, n, path, "true or false", true);
	*IOCB_CONFIG_FIELD(base, o->off, bool) = b;
	return IOCB_OK;
}

/*
 * IOCB_CT_PORT, IOCB_CT_UINT and IOCB_CT_SIZE (bytes, optional binary
 * suffix). A row's max never exceeds its field's type (65535 for PORT,
 * UINT_MAX for UINT).
 */
static int set_uint(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		    const struct iocb_config__node *n, const char *path)
{
	bool size = o->type == IOCB_CT_SIZE;
	char q[100];
	uint64_t v;
	int rc;

	rc = need_text(ctx, n, path, size ? "a size" : "an integer", true);
	if (rc < 0)
		return rc;
	if (!(size ? parse_size(n->text, n->len, &v) : iocb_str_to_u64(iocb_str_make(n->text, n->len), &v)))
		return expected(ctx, n, path, size ? "a size in bytes (suffix KiB, MiB, GiB or TiB allowed)" : "an integer",
				true);
	if ((double)v < o->min || (double)v > o->max) {
		iocb_config__quote(q, sizeof(q), n->text, n->len, 64);
		return iocb_config__fail(ctx, n, path,
					 size ? "%s is out of range %.0f..%.0f bytes" : "%s is out of range %.0f..%.0f", q,
					 o->min, o->max);
	}
	if (o->type == IOCB_CT_PORT)
		*IOCB_CONFIG_FIELD(base, o->off, uint16_t) = (uint16_t)v;
	else if (size)
		*IOCB_CONFIG_FIELD(base, o->off, uint64_t) = v;
	else
		*IOCB_CONFIG_FIELD(base, o->off, unsigned) = (unsigned)v;
	return IOCB_OK;
}

/* IOCB_CT_DOUBLE and IOCB_CT_DURATION: a finite number, the latter with an optional unit; bounds min..max. */
static int set_real(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		    const struct iocb_config__node *n, const char *path)
{
	bool dur = o->type == IOCB_CT_DURATION;
	char q[100];
	double v;
	int rc;

	rc = need_text(ctx, n, path, dur ? "a duration" : "a number", true);
	if (rc < 0)
		return rc;
	if (!(dur ? parse_duration(n, &v) : parse_double(n, &v)))
		return expected(ctx, n, path, dur ? "a duration: seconds, or a number with ms, s, m, h or d" : "a number",
				true);
	if (v < o->min || v > o->max) {
		iocb_config__quote(q, sizeof(q), n->text, n->len, 64);
		return iocb_config__fail(ctx, n, path, dur ? "%s is out of range %gs..%gs" : "%s is out of range %g..%g", q,
					 o->min, o->max);
	}
	*IOCB_CONFIG_FIELD(base, o->off, double) = v;
	return IOCB_OK;
}

static int set_enum(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		    const struct iocb_config__node *n, const char *path)
{
	int rc, idx = 0;

	if (iocb_config__is_null(n) && (o->flags & IOCB_CF_NULLABLE)) {
		*IOCB_CONFIG_FIELD(base, o->off, int) = -1; /* unset; 0 is the first choice */
		return IOCB_OK;
	}
	rc = need_text(ctx, n, path, "one of the listed words", true);
	if (rc < 0)
		return rc;
	rc = check_choice(ctx, o, n, path, &idx);
	if (rc < 0)
		return rc;
	*IOCB_CONFIG_FIELD(base, o->off, int) = idx;
	return IOCB_OK;
}

static int set_secret(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		      const struct iocb_config__node *n, const char *path)
{
	struct iocb_secret *s = IOCB_CONFIG_FIELD(base, o->off, struct iocb_secret);
	int rc;

	/* No echo: the text may be the key itself. */
	rc = need_text(ctx, n, path, "a string", false);
	if (rc < 0)
		return rc;
	if (n->len < (size_t)o->min || (o->max > 0 && n->len > (size_t)o->max))
		return iocb_config__fail(ctx, n, path, "must be %.0f to %.0f characters long", o->min, o->max);
	if (s->value_) {
		explicit_bzero(s->value_, strlen(s->value_));
		free(s->value_);
	}
	s->value_ = iocb_xstrndup(n->text, n->len);
	return IOCB_OK;
}

static int set_ssl(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		   const struct iocb_config__node *n, const char *path)
{
	char **ca = IOCB_CONFIG_FIELD(base, o->off_n, char *);
	bool b;
	int rc;

	if (iocb_config__parse_bool(n, &b)) {
		*IOCB_CONFIG_FIELD(base, o->off, bool) = b;
		return IOCB_OK;
	}
	rc = need_text(ctx, n, path, "true, false or a CA file path", true);
	if (rc < 0)
		return rc;
	if (n->len > 4096)
		return iocb_config__fail(ctx, n, path, "path longer than 4096 characters");
	*IOCB_CONFIG_FIELD(base, o->off, bool) = true;
	free(*ca);
	*ca = iocb_xstrndup(n->text, n->len);
	return IOCB_OK;
}

static int set_ignored(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		       const struct iocb_config__node *n, const char *path)
{
	(void)o;
	(void)base;
	iocb_config__warn(ctx, n, path, "Threat Bus setting not used by iocbus; ignored");
	return IOCB_OK;
}

/* A setter: check node n against row o and store it in base (see the file comment). */
typedef int (*setter_cb)(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
			 const struct iocb_config__node *n, const char *path);

/* One setter per enum iocb_config__type value; a type without one is a bug caught below. */
static const setter_cb setters[] = {
	[IOCB_CT_STR] = set_str,
	[IOCB_CT_CSV] = set_csv,
	[IOCB_CT_BOOL] = set_bool,
	[IOCB_CT_PORT] = set_uint,
	[IOCB_CT_UINT] = set_uint,
	[IOCB_CT_SIZE] = set_uint,
	[IOCB_CT_DOUBLE] = set_real,
	[IOCB_CT_DURATION] = set_real,
	[IOCB_CT_ENUM] = set_enum,
	[IOCB_CT_STRLIST] = set_strlist,
	[IOCB_CT_KV] = set_kv,
	[IOCB_CT_SECTION] = set_section,
	[IOCB_CT_LIST] = set_list,
	[IOCB_CT_SECRET] = set_secret,
	[IOCB_CT_SSL] = set_ssl,
	[IOCB_CT_IGNORED] = set_ignored,
};

static int set_opt(struct iocb_config__ctx *ctx, const struct iocb_config__opt *o, void *base,
		   const struct iocb_config__node *n, const char *path)
{
	if ((size_t)o->type >= IOCB_ARRAY_LEN(setters) || !setters[o->type])
		return iocb_config__fail(ctx, n, path, "internal error: unknown option type");
	return setters[o->type](ctx, o, base, n, path);
}

/* ---- sections ------------------------------------------------------------------- */

static void join_path(char *out, size_t sz, const char *path, const char *key, size_t keylen)
{
	char q[100];

	iocb_config__quote(q, sizeof(q), key, keylen, 64);
	if (path && *path)
		snprintf(out, sz, "%s.%s", path, q);
	else
		snprintf(out, sz, "%s", q);
}

static int unknown_key(struct iocb_config__ctx *ctx, const struct iocb_config__section *sec,
		       const struct iocb_config__node *k, const char *path)
{
	char list[400], q[100];
	size_t n = 0;

	list[0] = '\0';
	for (size_t i = 0; i < sec->nopts && n < sizeof(list); i++) {
		int w = snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "", sec->opts[i].key);

		if (w < 0)
			break;
		n += (size_t)w;
	}
	iocb_config__quote(q, sizeof(q), k->text, k->len, 64);
	return iocb_config__fail(ctx, k, path, "unknown key '%s' (expected one of: %s)", q, list);
}

static int read_section(struct iocb_config__ctx *ctx, const struct iocb_config__section *sec, void *base,
			const struct iocb_config__node *node, const char *path)
{
	const struct iocb_config__node *vals[MAX_ROWS] = {0};
	char kpath[200];
	int rc;

	if (sec->nopts > MAX_ROWS)
		abort(); /* a table larger than MAX_ROWS is a programming error */
	if (node->kind == IOCB_YN_MAP) {
		for (size_t p = 0; p + 1 < node->nkids; p += 2) {
			const struct iocb_config__node *k = node->kids[p], *v = node->kids[p + 1];
			size_t i;

			for (i = 0; i < sec->nopts; i++)
				if (strlen(sec->opts[i].key) == k->len && memcmp(sec->opts[i].key, k->text, k->len) == 0)
					break;
			if (i == sec->nopts)
				return unknown_key(ctx, sec, k, path);
			vals[i] = v;
			join_path(kpath, sizeof(kpath), path, k->text, k->len);
			/* An ignored key is reported where the key is, not at its (unread) value. */
			rc = set_opt(ctx, &sec->opts[i], base, sec->opts[i].type == IOCB_CT_IGNORED ? k : v, kpath);
			if (rc < 0)
				return rc;
		}
	}
	for (size_t i = 0; i < sec->nopts; i++)
		if ((sec->opts[i].flags & IOCB_CF_REQUIRED) && !vals[i])
			return iocb_config__fail(ctx, node, path, "'%s' is required", sec->opts[i].key);
	return sec->check ? sec->check(ctx, base, node, vals) : IOCB_OK;
}

/* ---- defaults and freeing ---------------------------------------------------------- */

void iocb_config__section_defaults(const struct iocb_config__section *sec, void *base)
{
	struct iocb_config__ctx ctx = {.name = "<default>"};
	struct iocb_err err;

	ctx.err = &err;
	for (size_t i = 0; i < sec->nopts; i++) {
		const struct iocb_config__opt *o = &sec->opts[i];
		struct iocb_config__node *n = NULL;

		if (o->type == IOCB_CT_SECTION && !(o->flags & IOCB_CF_ALT))
			iocb_config__section_defaults(o->sub, base);
		if (o->type == IOCB_CT_ENUM && !o->def && (o->flags & IOCB_CF_NULLABLE))
			*IOCB_CONFIG_FIELD(base, o->off, int) = -1; /* unset; 0 is the first choice */
		if (!o->def)
			continue;
		/* A default that does not parse is a bug in the table: fail loudly. */
		if (iocb_config__parse("<default>", o->def, strlen(o->def), &n, &err) < 0 || !n ||
		    set_opt(&ctx, o, base, n, o->key) < 0) {
			fprintf(stderr, "iocbus: bad default for '%s': %s\n", o->key, err.msg);
			abort();
		}
		iocb_config__node_free(n);
	}
}

void iocb_config__section_fini(const struct iocb_config__section *sec, void *base)
{
	for (size_t i = 0; i < sec->nopts; i++) {
		const struct iocb_config__opt *o = &sec->opts[i];

		switch (o->type) {
		case IOCB_CT_STR:
		case IOCB_CT_CSV:
			free(*IOCB_CONFIG_FIELD(base, o->off, char *));
			*IOCB_CONFIG_FIELD(base, o->off, char *) = NULL;
			break;
		case IOCB_CT_SSL:
			break; /* the path is the ca_file row's field, freed there */
		case IOCB_CT_STRLIST:
			free_strv(*IOCB_CONFIG_FIELD(base, o->off, char **), *IOCB_CONFIG_FIELD(base, o->off_n, size_t));
			*IOCB_CONFIG_FIELD(base, o->off, char **) = NULL;
			*IOCB_CONFIG_FIELD(base, o->off_n, size_t) = 0;
			break;
		case IOCB_CT_KV:
			free_kv(*IOCB_CONFIG_FIELD(base, o->off, struct iocb_kv *),
				*IOCB_CONFIG_FIELD(base, o->off_n, size_t));
			*IOCB_CONFIG_FIELD(base, o->off, struct iocb_kv *) = NULL;
			*IOCB_CONFIG_FIELD(base, o->off_n, size_t) = 0;
			break;
		case IOCB_CT_SECRET: {
			struct iocb_secret *s = IOCB_CONFIG_FIELD(base, o->off, struct iocb_secret);

			if (s->value_) {
				explicit_bzero(s->value_, strlen(s->value_));
				free(s->value_);
				s->value_ = NULL;
			}
			break;
		}
		case IOCB_CT_SECTION:
			if (!(o->flags & IOCB_CF_ALT))
				iocb_config__section_fini(o->sub, base);
			break;
		case IOCB_CT_LIST: {
			char *items = *IOCB_CONFIG_FIELD(base, o->off, char *);
			size_t n = *IOCB_CONFIG_FIELD(base, o->off_n, size_t);

			for (size_t k = 0; k < n; k++)
				iocb_config__section_fini(o->sub, items + k * o->sub->item_size);
			free(items);
			*IOCB_CONFIG_FIELD(base, o->off, char *) = NULL;
			*IOCB_CONFIG_FIELD(base, o->off_n, size_t) = 0;
			break;
		}
		default:
			break;
		}
	}
	if (sec->where_off != NO) {
		free(*IOCB_CONFIG_FIELD(base, sec->where_off, char *));
		*IOCB_CONFIG_FIELD(base, sec->where_off, char *) = NULL;
	}
}

void iocb_config__defaults(struct iocb_config *c)
{
	iocb_config__section_defaults(&iocb_config__root, c);
}

/* ---- public API -------------------------------------------------------------------- */

struct iocb_config *iocb_config_default(void)
{
	struct iocb_config *c = iocb_xcalloc(1, sizeof(*c));

	iocb_config__defaults(c);
	return c;
}

void iocb_config_free(struct iocb_config *c)
{
	if (!c)
		return;
	iocb_config__section_fini(&iocb_config__root, c);
	for (size_t i = 0; i < c->nwarnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	free(c->path);
	free(c);
}

/* iocb_config_load_string(), logging the warnings only when `log_warnings` (a second copy stays quiet). */
static int load_bytes(const char *name, const char *yaml, size_t len, struct iocb_config **out, struct iocb_err *err,
		      bool log_warnings)
{
	struct iocb_config__node *root = NULL;
	struct iocb_config *c = NULL;
	struct iocb_config__ctx ctx;
	int rc;

	*out = NULL;
	if (!name)
		name = "<string>";
	rc = iocb_config__parse(name, yaml, len, &root, err);
	if (rc < 0)
		goto out;
	c = iocb_config_default();
	memset(&ctx, 0, sizeof(ctx));
	ctx.name = name;
	ctx.c = c;
	ctx.err = err;
	if (root && !iocb_config__is_null(root)) {
		if (root->kind != IOCB_YN_MAP) {
			rc = iocb_config__fail(&ctx, root, NULL, "the top level must be a map of sections, got %s",
					       kind_name(root));
			goto out;
		}
		rc = read_section(&ctx, &iocb_config__root, c, root, "");
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; log_warnings && i < c->nwarnings; i++)
		iocb_log(IOCB_LOG_WARN, "config", "\"%s\"", c->warnings[i]);
	*out = c;
	c = NULL;
	rc = IOCB_OK;
out:
	iocb_config_free(c);
	iocb_config__node_free(root);
	return rc;
}

int iocb_config_load_string(const char *name, const char *yaml, size_t len, struct iocb_config **out,
			    struct iocb_err *err)
{
	return load_bytes(name, yaml, len, out, err, true);
}

int iocb_config_load_copies(const char *path, struct iocb_config **out, size_t n, struct iocb_err *err)
{
	struct iocb_file_map m;
	int rc = IOCB_OK;

	for (size_t i = 0; i < n; i++)
		out[i] = NULL;
	rc = iocb_file_map(path, IOCB_CONFIG_MAX_BYTES, &m, err);
	if (rc == IOCB_ELIMIT)
		return iocb_err_set(err, IOCB_ECONFIG, "%s: larger than the %zu-byte limit", path,
				    IOCB_CONFIG_MAX_BYTES);
	if (rc < 0) {
		if (err)
			err->rc = IOCB_EIO;
		return IOCB_EIO;
	}
	/* Every copy from the same bytes: a pipe or FIFO (`-c <(...)`) can be read only once. */
	for (size_t i = 0; i < n && rc == IOCB_OK; i++) {
		rc = load_bytes(path, m.data, m.len, &out[i], err, i == 0);
		if (rc == IOCB_OK)
			out[i]->path = iocb_xstrdup(path);
	}
	iocb_file_unmap(&m);
	if (rc < 0)
		for (size_t i = 0; i < n; i++) {
			iocb_config_free(out[i]);
			out[i] = NULL;
		}
	return rc;
}

int iocb_config_load(const char *path, struct iocb_config **out, struct iocb_err *err)
{
	return iocb_config_load_copies(path, out, 1, err);
}
