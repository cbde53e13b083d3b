/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Elasticsearch `_bulk` protocol as pure functions (see es_bulk.h):
 * body framing, URL, base64 for the Authorization header, the response
 * parser and the retry/dead-letter judgement of reference/elastic.md §4.3.
 */
#include "pipe/outputs/es_bulk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

size_t iocb_pipe__es_action_line(char *dst, bool create, const char *id_hex)
{
	size_t n = 0, idl;

	if (create) {
		memcpy(dst, "{\"create\":{", 11);
		n = 11;
	} else {
		memcpy(dst, "{\"index\":{", 10);
		n = 10;
	}
	if (id_hex) {
		idl = strnlen(id_hex, 32);
		memcpy(dst + n, "\"_id\":\"", 7);
		n += 7;
		memcpy(dst + n, id_hex, idl);
		n += idl;
		dst[n++] = '"';
	}
	memcpy(dst + n, "}}\n", 3);
	return n + 3;
}

int iocb_pipe__es_body_append(struct iocb_buf *body, bool create, const char *id_hex, const char *line, size_t len)
{
	char act[IOCB_PIPE_ES_ACTION_MAX];
	size_t an = iocb_pipe__es_action_line(act, create, id_hex);
	bool nl = len > 0 && line[len - 1] == '\n';
	size_t need = an + len + (nl ? 0 : 1);
	int rc;

	/* One reserve, then plain copies: this runs once per event on the hot path. */
	rc = iocb_buf_reserve(body, need);
	if (rc < 0)
		return rc;
	memcpy(body->ptr + body->len, act, an);
	if (len)
		memcpy(body->ptr + body->len + an, line, len);
	if (!nl)
		body->ptr[body->len + an + len] = '\n';
	body->len += need;
	body->ptr[body->len] = '\0';
	return IOCB_OK;
}

static int append_escaped(struct iocb_buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = IOCB_OK;

	for (; *s && rc == IOCB_OK; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			rc = iocb_buf_putc(out, (char)c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			rc = iocb_buf_append(out, e, 3);
		}
	}
	return rc;
}

int iocb_pipe__es_bulk_url(struct iocb_buf *out, const char *host, const char *index, const char *pipeline)
{
	size_t hl = strlen(host);
	int rc;

	iocb_buf_reset(out);
	while (hl > 0 && host[hl - 1] == '/')
		hl--;
	rc = iocb_buf_append(out, host, hl);
	if (rc == IOCB_OK && index && *index) {
		rc = iocb_buf_putc(out, '/');
		if (rc == IOCB_OK)
			rc = append_escaped(out, index);
	}
	if (rc == IOCB_OK)
		rc = iocb_buf_append_c(out, "/_bulk?filter_path=errors,items.*.error,items.*.status");
	if (rc == IOCB_OK && pipeline) {
		rc = iocb_buf_append_c(out, "&pipeline=");
		if (rc == IOCB_OK)
			rc = append_escaped(out, pipeline);
	}
	return rc;
}

int iocb_pipe__es_base64(struct iocb_buf *out, const char *src, size_t len)
{
	return iocb_buf_append_base64(out, src, len);
}

int iocb_pipe__es_auth_header(struct iocb_buf *out, const char *username, const char *password, const char *api_key,
			const char *bearer)
{
	int rc = IOCB_OK;

	if (api_key && *api_key) {
		rc = iocb_buf_append_c(out, "Authorization: ApiKey ");
		/* "id:api_key" is encoded here (as Logstash does); the encoded form is used as is. */
		if (rc == IOCB_OK)
			rc = strchr(api_key, ':') ? iocb_pipe__es_base64(out, api_key, strlen(api_key))
						  : iocb_buf_append_c(out, api_key);
	} else if (bearer && *bearer) {
		rc = iocb_buf_append_c(out, "Authorization: Bearer ");
		if (rc == IOCB_OK)
			rc = iocb_buf_append_c(out, bearer);
	} else if (username && *username) {
		struct iocb_buf up;

		iocb_buf_init(&up, 0);
		rc = iocb_buf_append_c(&up, username);
		if (rc == IOCB_OK)
			rc = iocb_buf_putc(&up, ':');
		if (rc == IOCB_OK && password)
			rc = iocb_buf_append_c(&up, password);
		if (rc == IOCB_OK)
			rc = iocb_buf_append_c(out, "Authorization: Basic ");
		if (rc == IOCB_OK)
			rc = iocb_pipe__es_base64(out, up.ptr, up.len);
		/* The joined secret must not linger in freed memory. */
		if (up.ptr)
			explicit_bzero(up.ptr, up.cap);
		iocb_buf_fini(&up);
	}
	return rc;
}

char *iocb_pipe__es_host_for_log(const char *url)
{
	const char *p = strstr(url, "://"), *h, *end, *at;
	size_t sl = p ? (size_t)(p + 3 - url) : 0, hl;
	char *s;

	h = p ? p + 3 : url;
	end = h + strcspn(h, "/?#");
	at = memchr(h, '@', (size_t)(end - h));
	if (at)
		h = at + 1;
	hl = (size_t)(end - h);
	s = iocb_xmalloc(sl + hl + 1);
	memcpy(s, url, sl);
	memcpy(s + sl, h, hl);
	s[sl + hl] = '\0';
	return s;
}

/* ---------------------------------------------------------------- responses */

static bool key_is(const struct iocb_json_tok *t, const char *k)
{
	return iocb_json_tok_eq(t, k);
}

static int resp_fail(struct iocb_err *err, int rc, size_t at, const char *what)
{
	return iocb_err_set(err, rc, "bulk response: %s at byte %zu", what, at);
}

/* The item's inner object `{"_index":..,"status":..,"error":{..}}`, after its '{'. */
static int parse_item_body(struct iocb_json_parser *p, struct iocb_pipe__es_item *it, struct iocb_err *err)
{
	struct iocb_json_tok t, v;
	int rc;

	while ((rc = iocb_json_next_member(p, &t, &v, err)) > 0) {
		if (key_is(&t, "status") && v.type == IOCB_JSON_NUM) {
			int64_t s;
			if (iocb_json_tok_i64(&v, &s) && s >= 0 && s < 1000)
				it->status = (int)s;
		} else if (key_is(&t, "error") && v.type == IOCB_JSON_OBJ) {
			struct iocb_json_tok ek, ev;
			while ((rc = iocb_json_next_member(p, &ek, &ev, err)) > 0) {
				if (ev.type == IOCB_JSON_STR && key_is(&ek, "type"))
					it->type = ev;
				else if (ev.type == IOCB_JSON_STR && key_is(&ek, "reason"))
					it->reason = ev;
				else {
					rc = iocb_json_skip(p, &ev, err);
					if (rc < 0)
						return rc;
				}
			}
			if (rc < 0)
				return rc;
		} else if (key_is(&t, "error") && v.type == IOCB_JSON_STR) {
			it->reason = v;
		} else {
			rc = iocb_json_skip(p, &v, err);
			if (rc < 0)
				return rc;
		}
	}
	return rc;
}

/* The `items` array, after its '['. */
static int parse_items(struct iocb_json_parser *p, size_t expected, struct iocb_pipe__es_item *items,
		       struct iocb_pipe__es_resp *r, struct iocb_err *err)
{
	struct iocb_json_tok k, t;
	int rc;

	for (;;) {
		rc = iocb_json_next(p, &t, err);
		if (rc < 0)
			return rc;
		if (t.type == IOCB_JSON_ARR_END)
			return IOCB_OK;
		if (t.type != IOCB_JSON_OBJ)
			return resp_fail(err, IOCB_EPARSE, t.offset, "item is not an object");
		if (!r->detailed || r->nitems >= expected) {
			/* Counting only (errors:false), or past what we sent (a mismatch anyway). */
			rc = iocb_json_skip(p, &t, err);
			if (rc < 0)
				return rc;
			r->nitems++;
			continue;
		}
		struct iocb_pipe__es_item *it = &items[r->nitems];
		memset(it, 0, sizeof(*it));
		/* One member: the action name, holding the item's fields. */
		rc = iocb_json_next_member(p, &k, &t, err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return resp_fail(err, IOCB_EPARSE, k.offset, "empty item");
		if (t.type != IOCB_JSON_OBJ)
			return resp_fail(err, IOCB_EPARSE, t.offset, "item action is not an object");
		rc = parse_item_body(p, it, err);
		if (rc < 0)
			return rc;
		if (it->status == 0)
			return resp_fail(err, IOCB_EPARSE, t.offset, "item without status");
		/* Further members (never sent by ES) are skipped. */
		while ((rc = iocb_json_next_member(p, &k, NULL, err)) > 0) {
			rc = iocb_json_skip_value(p, err);
			if (rc < 0)
				return rc;
		}
		if (rc < 0)
			return rc;
		r->nitems++;
	}
}

int iocb_pipe__es_parse_response(const char *body, size_t len, size_t expected, struct iocb_pipe__es_item *items,
			   struct iocb_pipe__es_resp *r, struct iocb_err *err)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t, v;
	int rc;

	memset(r, 0, sizeof(*r));
	iocb_json_init(&p, body, len, IOCB_PIPE_ES_MAX_DEPTH, false);
	rc = iocb_json_next(&p, &t, err);
	if (rc < 0)
		return rc == IOCB_EEND ? resp_fail(err, IOCB_EPARSE, 0, "empty body") : rc;
	if (t.type != IOCB_JSON_OBJ)
		return resp_fail(err, IOCB_EPARSE, t.offset, "not an object");
	while ((rc = iocb_json_next_member(&p, &t, &v, err)) > 0) {
		if (key_is(&t, "errors") && (v.type == IOCB_JSON_TRUE || v.type == IOCB_JSON_FALSE)) {
			r->has_errors = true;
			r->errors = v.type == IOCB_JSON_TRUE;
		} else if (key_is(&t, "items") && v.type == IOCB_JSON_ARR && !r->has_items) {
			r->has_items = true;
			r->detailed = !(r->has_errors && !r->errors) && items != NULL;
			rc = parse_items(&p, expected, items, r, err);
		} else {
			rc = iocb_json_skip(&p, &v, err);
		}
		if (rc < 0)
			break;
	}
	if (rc < 0)
		return rc == IOCB_EEND ? resp_fail(err, IOCB_EPARSE, len, "truncated") : rc;
	/* Trailing bytes after the object are an error too. */
	rc = iocb_json_next(&p, &t, err);
	if (rc != IOCB_EEND)
		return rc < 0 ? rc : resp_fail(err, IOCB_EPARSE, t.offset, "data after the object");
	if (!r->has_items)
		return resp_fail(err, IOCB_EPARSE, 0, "no items array");
	if (r->nitems != expected)
		return iocb_err_set(err, IOCB_EINVAL, "bulk response: %zu items for %zu sent", r->nitems, expected);
	/* An item error inside an answer that said errors:false is impossible; if errors is missing, items tell. */
	return IOCB_OK;
}

/* Decode a STR token into out[o..cap-1) (lossy, bounded); returns the new length. */
static size_t put_tok(const struct iocb_json_tok *t, char *out, size_t o, size_t cap)
{
	const char *s = t->s.ptr;
	size_t n = t->s.len, i = 0;

	if (!t->escaped) {
		size_t k = n < cap - 1 - o ? n : cap - 1 - o;
		memcpy(out + o, s, k);
		return o + k;
	}
	while (i < n && o < cap - 1) {
		char c = s[i++];
		if (c != '\\' || i >= n) {
			out[o++] = c;
			continue;
		}
		c = s[i++];
		switch (c) {
		case 'n': out[o++] = '\n'; break;
		case 't': out[o++] = '\t'; break;
		case 'r': out[o++] = '\r'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'u': {
			unsigned cp = 0, k;
			for (k = 0; k < 4 && i < n; k++, i++) {
				char h = s[i];
				cp = cp << 4 | (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
			}
			if (cp < 0x80) {
				out[o++] = (char)cp;
			} else if (cp < 0x800 && cap - 1 - o >= 2) {
				out[o++] = (char)(0xc0 | (cp >> 6));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			} else if ((cp < 0xd800 || cp > 0xdfff) && cap - 1 - o >= 3) {
				out[o++] = (char)(0xe0 | (cp >> 12));
				out[o++] = (char)(0x80 | ((cp >> 6) & 0x3f));
				out[o++] = (char)(0x80 | (cp & 0x3f));
			} else {
				/* Surrogate halves (or no room): a placeholder keeps the text readable. */
				out[o++] = '?';
			}
			break;
		}
		default: out[o++] = c; break; /* \" \\ \/ */
		}
	}
	return o;
}

static size_t type_reason(const struct iocb_json_tok *type, const struct iocb_json_tok *reason, char *out,
			  size_t cap)
{
	size_t o = 0;

	if (cap == 0)
		return 0;
	if (type->type == IOCB_JSON_STR)
		o = put_tok(type, out, o, cap);
	if (type->type == IOCB_JSON_STR && reason->type == IOCB_JSON_STR && cap - 1 - o >= 2) {
		out[o++] = ':';
		out[o++] = ' ';
	}
	if (reason->type == IOCB_JSON_STR)
		o = put_tok(reason, out, o, cap);
	out[o] = '\0';
	return o;
}

size_t iocb_pipe__es_item_reason(const struct iocb_pipe__es_item *it, char *out, size_t cap)
{
	return type_reason(&it->type, &it->reason, out, cap);
}

size_t iocb_pipe__es_error_reason(const char *body, size_t len, long status, char *out, size_t cap)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t, v, type = {0}, reason = {0};
	size_t n;
	int rc;

	if (cap == 0)
		return 0;
	iocb_json_init(&p, body, len, IOCB_PIPE_ES_MAX_DEPTH, false);
	rc = iocb_json_next(&p, &t, NULL);
	if (rc < 0 || t.type != IOCB_JSON_OBJ)
		goto fallback;
	while (iocb_json_next_member(&p, &t, &v, NULL) > 0) {
		if (key_is(&t, "error") && v.type == IOCB_JSON_STR) {
			reason = v;
			break;
		}
		if (key_is(&t, "error") && v.type == IOCB_JSON_OBJ) {
			struct iocb_json_tok ek, ev;
			while (iocb_json_next_member(&p, &ek, &ev, NULL) > 0) {
				if (ev.type == IOCB_JSON_STR && key_is(&ek, "type"))
					type = ev;
				else if (ev.type == IOCB_JSON_STR && key_is(&ek, "reason"))
					reason = ev;
				else if (iocb_json_skip(&p, &ev, NULL) < 0)
					break;
			}
			break;
		}
		if (iocb_json_skip(&p, &v, NULL) < 0)
			break;
	}
	n = type_reason(&type, &reason, out, cap);
	if (n > 0)
		return n;
fallback:
	n = (size_t)snprintf(out, cap, "HTTP %ld", status);
	return n < cap ? n : cap - 1;
}

enum iocb_pipe__es_item_outcome iocb_pipe__es_item_outcome(int status, bool create)
{
	if (status >= 200 && status < 300)
		return IOCB_PIPE_ES_ITEM_OK;
	if (status == 409 && create)
		return IOCB_PIPE_ES_ITEM_DUPLICATE;
	if (status >= 400 && status < 500 && status != 429)
		return IOCB_PIPE_ES_ITEM_DEAD;
	return IOCB_PIPE_ES_ITEM_RETRY;
}

enum iocb_pipe__es_verdict iocb_pipe__es_verdict(long status)
{
	if (status >= 200 && status < 300)
		return IOCB_PIPE_ES_ITEMS;
	if (status == 0 || status == 429 || (status >= 500 && status < 600))
		return IOCB_PIPE_ES_RETRY;
	if (status == 413)
		return IOCB_PIPE_ES_SPLIT;
	if (status == 400)
		return IOCB_PIPE_ES_DEAD;
	return IOCB_PIPE_ES_RETRY_ALERT;
}
