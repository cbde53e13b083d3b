/* SPDX-License-Identifier: Apache-2.0 */
/*
 * YAML text to a positioned tree (see internal.h for why not libfyaml's
 * document API).
 *
 * The input is first scanned for bytes that are not YAML at all (invalid
 * UTF-8, C0 control characters other than tab and line breaks): libfyaml
 * 0.7 silently drops some of them or treats a stray BOM-like prefix as an
 * empty stream, and "non-YAML garbage" must fail with a location. The event
 * stream is then folded into nodes with an explicit stack, so depth is
 * bounded by IOCB_CONFIG_MAX_DEPTH rather than by the C stack, and the node
 * count by IOCB_CONFIG_MAX_NODES. Aliases are refused rather than expanded:
 * a configuration has no need for them and expansion is the classic
 * exponential-size attack. Duplicate keys are detected here, for every map,
 * including sections whose contents are otherwise ignored.
 */
#include "config/internal.h"

#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

struct builder {
	const char *name;                                        /* for messages */
	struct iocb_err *err;                                    /* optional report */
	struct iocb_config__node *root;                          /* first node of the document */
	struct iocb_config__node *stack[IOCB_CONFIG_MAX_DEPTH];  /* open maps and sequences */
	int depth;                                               /* entries used in stack */
	size_t nodes;                                            /* nodes created so far */
	int ndocs;                                               /* DOCUMENT_START events seen */
	int last_line;                                           /* position of the last node, for */
	int last_col;                                            /* events that carry no mark */
};

bool iocb_config__is_null(const struct iocb_config__node *n)
{
	if (!n || n->kind != IOCB_YN_SCALAR || n->quoted)
		return false;
	return n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0 ||
	       strcmp(n->text, "Null") == 0 || strcmp(n->text, "NULL") == 0;
}

void iocb_config__node_free(struct iocb_config__node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		iocb_config__node_free(n->kids[i]);
	free(n->kids);
	if (n->text) {
		/* Scalars may hold the API key: do not leave it in freed memory. */
		explicit_bzero(n->text, n->len);
		free(n->text);
	}
	free(n);
}

/*
 * Reject bytes that cannot be YAML. Returns IOCB_OK or IOCB_ECONFIG with the
 * 1-based line and column (in characters) of the first bad byte.
 */
static int prescan(const char *name, const unsigned char *p, size_t len, struct iocb_err *err)
{
	int line = 1, col = 1;
	size_t i = 0;

	if (len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		i = 3; /* UTF-8 byte order mark */
	while (i < len) {
		unsigned char c = p[i];
		size_t n = 1;
		uint32_t cp;

		if (c < 0x80) {
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				return iocb_err_set(err, IOCB_ECONFIG,
						    "%s:%d:%d: not YAML: control character 0x%02x", name, line, col,
						    c);
			if (c == 0x7F)
				return iocb_err_set(err, IOCB_ECONFIG, "%s:%d:%d: not YAML: DEL character", name,
						    line, col);
			if (c == '\n') {
				line++;
				col = 1;
			} else if (c != '\r') {
				col++;
			}
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 2;
			cp = c & 0x1Fu;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 3;
			cp = c & 0x0Fu;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 4;
			cp = c & 0x07u;
		} else {
			goto bad;
		}
		if (len - i < n)
			goto bad;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				goto bad;
			cp = (cp << 6) | (p[i + k] & 0x3Fu);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			goto bad;
		i += n;
		col++;
	}
	return IOCB_OK;
bad:
	return iocb_err_set(err, IOCB_ECONFIG, "%s:%d:%d: not YAML: invalid UTF-8 (byte 0x%02x)", name, line, col,
			    p[i]);
}

static int bfail(struct builder *b, int line, int col, const char *what)
{
	return iocb_err_set(b->err, IOCB_ECONFIG, "%s:%d:%d: %s", b->name, line, col, what);
}

static void add_kid(struct iocb_config__node *parent, struct iocb_config__node *kid)
{
	if (parent->nkids == parent->capkids) {
		parent->capkids = parent->capkids ? parent->capkids * 2 : 4;
		parent->kids = iocb_xrealloc(parent->kids, parent->capkids * sizeof(*parent->kids));
	}
	parent->kids[parent->nkids++] = kid;
}

/* Create a node at the event's position and hang it under the open collection. */
static int new_node(struct builder *b, struct fy_event *e, enum iocb_config__kind kind,
		    struct iocb_config__node **out)
{
	const struct fy_mark *m = fy_event_start_mark(e);
	struct iocb_config__node *n, *parent = b->depth ? b->stack[b->depth - 1] : NULL;
	int line = b->last_line, col = b->last_col;

	if (m && m->line >= 0 && m->column >= 0) {
		line = m->line + 1;
		col = m->column + 1;
	}
	if (b->nodes >= IOCB_CONFIG_MAX_NODES)
		return bfail(b, line, col, "too many YAML nodes (limit 1048576)");
	if (parent && parent->kind == IOCB_YN_MAP && parent->nkids % 2 == 0 && kind != IOCB_YN_SCALAR)
		return bfail(b, line, col, "mapping keys must be plain scalars, not maps or lists");
	if (!parent && b->root)
		return bfail(b, line, col, "unexpected node after the document"); /* not reached with libfyaml */
	n = iocb_xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->line = line;
	n->col = col;
	b->last_line = line;
	b->last_col = col;
	b->nodes++;
	if (parent)
		add_kid(parent, n);
	else
		b->root = n;
	*out = n;
	return IOCB_OK;
}

static int key_cmp(const void *pa, const void *pb)
{
	const struct iocb_config__node *a = *(const struct iocb_config__node *const *)pa;
	const struct iocb_config__node *b = *(const struct iocb_config__node *const *)pb;
	size_t n = a->len < b->len ? a->len : b->len;
	int r = n ? memcmp(a->text, b->text, n) : 0;

	if (r)
		return r;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	/* Equal keys: earlier position first, so the report names the later one. */
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return (a->col > b->col) - (a->col < b->col);
}

static bool key_eq(const struct iocb_config__node *a, const struct iocb_config__node *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->text, b->text, a->len) == 0);
}

static int dup_report(struct builder *b, const struct iocb_config__node *first,
		      const struct iocb_config__node *second)
{
	char q[80], msg[200];

	iocb_config__quote(q, sizeof(q), second->text, second->len, 64);
	snprintf(msg, sizeof(msg), "duplicate key '%s' (first at line %d, column %d)", q, first->line, first->col);
	return bfail(b, second->line, second->col, msg);
}

/* Duplicate keys in a finished map: pairwise for small maps, sorted otherwise. */
static int check_dups(struct builder *b, const struct iocb_config__node *map)
{
	size_t np = map->nkids / 2;
	const struct iocb_config__node **keys;
	int rc = IOCB_OK;

	if (np <= 16) {
		for (size_t i = 1; i < np; i++)
			for (size_t j = 0; j < i; j++)
				if (key_eq(map->kids[2 * i], map->kids[2 * j]))
					return dup_report(b, map->kids[2 * j], map->kids[2 * i]);
		return IOCB_OK;
	}
	keys = iocb_xmalloc(np * sizeof(*keys));
	for (size_t i = 0; i < np; i++)
		keys[i] = map->kids[2 * i];
	qsort(keys, np, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < np; i++) {
		if (key_eq(keys[i - 1], keys[i])) {
			rc = dup_report(b, keys[i - 1], keys[i]);
			break;
		}
	}
	free(keys);
	return rc;
}

static int on_event(struct builder *b, struct fy_event *e)
{
	struct iocb_config__node *n;
	const struct fy_mark *m;
	int rc;

	switch (e->type) {
	case FYET_DOCUMENT_START:
		if (++b->ndocs > 1) {
			m = fy_event_start_mark(e);
			return bfail(b, m ? m->line + 1 : b->last_line, m ? m->column + 1 : b->last_col,
				     "more than one YAML document ('---'); a configuration is one document");
		}
		return IOCB_OK;
	case FYET_MAPPING_START:
	case FYET_SEQUENCE_START:
		rc = new_node(b, e, e->type == FYET_MAPPING_START ? IOCB_YN_MAP : IOCB_YN_SEQ, &n);
		if (rc < 0)
			return rc;
		if (b->depth == IOCB_CONFIG_MAX_DEPTH)
			return bfail(b, n->line, n->col, "nesting deeper than 64 levels");
		b->stack[b->depth++] = n;
		return IOCB_OK;
	case FYET_MAPPING_END:
	case FYET_SEQUENCE_END:
		if (b->depth == 0)
			return bfail(b, b->last_line, b->last_col, "unbalanced YAML collection");
		n = b->stack[--b->depth];
		return n->kind == IOCB_YN_MAP ? check_dups(b, n) : IOCB_OK;
	case FYET_SCALAR: {
		const char *text;
		size_t len = 0;

		rc = new_node(b, e, IOCB_YN_SCALAR, &n);
		if (rc < 0)
			return rc;
		text = fy_token_get_text(e->scalar.value, &len);
		if (!text)
			return bfail(b, n->line, n->col, "cannot decode this scalar");
		n->text = iocb_xstrndup(text, len);
		n->len = len;
		switch (fy_token_scalar_style(e->scalar.value)) {
		case FYSS_PLAIN:
			break;
		case FYSS_SINGLE_QUOTED:
		case FYSS_DOUBLE_QUOTED:
			/* libfyaml marks the first character inside the quotes; point at the quote. */
			if (n->col > 1)
				n->col--;
			n->quoted = true;
			break;
		default:
			n->quoted = true;
			break;
		}
		return IOCB_OK;
	}
	case FYET_ALIAS:
		/* The mark is on the alias name; the column before it is the '*'. */
		m = fy_event_start_mark(e);
		return bfail(b, m ? m->line + 1 : b->last_line, m && m->column > 0 ? m->column : b->last_col,
			     "YAML aliases (*name) are not supported in the configuration");
	default:
		return IOCB_OK;
	}
}

static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag;
	(void)user;
	(void)buf;
	(void)len;
}

/* Turn libfyaml's first collected error into "name:line:col: YAML syntax error: ...". */
static int syntax_error(struct builder *b, struct fy_diag *diag)
{
	void *it = NULL;
	struct fy_diag_error *de = diag ? fy_diag_errors_iterate(diag, &it) : NULL;
	char q[160];

	if (!de)
		return iocb_err_set(b->err, IOCB_ECONFIG, "%s:%d:%d: YAML syntax error", b->name, b->last_line,
				    b->last_col);
	/* libfyaml's text describes the syntax, not the value; still cap and escape it. */
	iocb_config__quote(q, sizeof(q), de->msg ? de->msg : "?", de->msg ? strlen(de->msg) : 1, 120);
	return iocb_err_set(b->err, IOCB_ECONFIG, "%s:%d:%d: YAML syntax error: %s", b->name,
			    de->line > 0 ? de->line : 1, de->column > 0 ? de->column : 1, q);
}

int iocb_config__parse(const char *name, const char *yaml, size_t len, struct iocb_config__node **out,
		       struct iocb_err *err)
{
	struct builder *b = iocb_xcalloc(1, sizeof(*b));
	struct fy_diag_cfg dcfg;
	struct fy_parse_cfg pcfg;
	struct fy_diag *diag = NULL;
	struct fy_parser *fyp = NULL;
	struct fy_event *e;
	int rc;

	*out = NULL;
	b->name = name;
	b->err = err;
	b->last_line = 1;
	b->last_col = 1;
	if (len > IOCB_CONFIG_MAX_BYTES) {
		rc = iocb_err_set(err, IOCB_ECONFIG, "%s: %zu bytes, larger than the %zu-byte limit", name, len,
				  IOCB_CONFIG_MAX_BYTES);
		goto out;
	}
	rc = prescan(name, (const unsigned char *)yaml, len, err);
	if (rc < 0)
		goto out;
	if (len == 0) {
		rc = IOCB_OK;
		goto out;
	}
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = diag_discard;
	dcfg.colorize = false;
	diag = fy_diag_create(&dcfg);
	if (!diag) {
		rc = iocb_err_set(err, IOCB_ENOMEM, "%s: cannot create the YAML diagnostics", name);
		goto out;
	}
	fy_diag_set_collect_errors(diag, true);
	memset(&pcfg, 0, sizeof(pcfg));
	pcfg.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_JSON_NONE | FYPCF_DISABLE_RECYCLING;
	pcfg.diag = diag;
	fyp = fy_parser_create(&pcfg);
	if (!fyp || fy_parser_set_string(fyp, yaml, len) != 0) {
		rc = iocb_err_set(err, IOCB_ENOMEM, "%s: cannot create the YAML parser", name);
		goto out;
	}
	while ((e = fy_parser_parse(fyp)) != NULL) {
		rc = on_event(b, e);
		fy_parser_event_free(fyp, e);
		if (rc < 0)
			goto out;
	}
	if (fy_parser_get_stream_error(fyp)) {
		rc = syntax_error(b, diag);
		goto out;
	}
	rc = IOCB_OK;
out:
	if (fyp)
		fy_parser_destroy(fyp);
	if (diag)
		fy_diag_destroy(diag);
	if (rc == IOCB_OK)
		*out = b->root;
	else
		iocb_config__node_free(b->root);
	free(b);
	return rc;
}
