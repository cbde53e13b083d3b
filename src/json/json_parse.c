/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON pull parser (see json.h).
 *
 * A small explicit state machine: `state` says what may come next and a bit
 * stack says whether each open container is an object or an array. Tokens
 * are views into the input. String scanning is the hot loop: it checks eight
 * bytes at a time (SWAR) for the only bytes that need attention — quote,
 * backslash, control characters and non-ASCII — and falls back to a byte
 * loop only around them. UTF-8 is validated where it occurs.
 */
#include "json/json.h"
#include "json/lex.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
	ST_VALUE = 0,  /* a value must come (top level, after ':' or ',' in an array) */
	ST_OBJ_FIRST,  /* after '{': a key or '}' */
	ST_ARR_FIRST,  /* after '[': a value or ']' */
	ST_AFTER,      /* after a value: ',' or a closing bracket, or the end */
};

void iocb_json_init(struct iocb_json_parser *p, const char *buf, size_t len, unsigned max_depth, bool multi)
{
	p->buf = buf;
	p->len = len;
	p->pos = 0;
	p->depth = 0;
	if (max_depth == 0)
		max_depth = 64;
	if (max_depth > IOCB_JSON_MAX_DEPTH_LIMIT)
		max_depth = IOCB_JSON_MAX_DEPTH_LIMIT;
	p->max_depth = max_depth;
	p->state = ST_VALUE;
	p->done = false;
	p->multi = multi;
}

/* Errors are rare: keep them out of the hot paths' instruction stream. */
__attribute__((noinline, cold)) static int fail(struct iocb_json_parser *p, struct iocb_err *err, size_t at, const char *what)
{
	p->state = 0xff; /* poison: further calls keep failing */
	return iocb_err_set(err, IOCB_EPARSE, "byte %zu: %s", at, what);
}

static inline void skip_ws(struct iocb_json_parser *p)
{
	p->pos = iocb_json_lex_ws(p->buf, p->pos, p->len);
}

static inline bool top_is_obj(const struct iocb_json_parser *p)
{
	unsigned d = p->depth - 1;
	return (p->stack[d >> 3] >> (d & 7)) & 1;
}

const char iocb_json__depth_msg[] = "nesting too deep";

__attribute__((noinline, cold)) static int depth_fail(struct iocb_json_parser *p, struct iocb_err *err, size_t at)
{
	p->state = 0xff;
	return iocb_err_set(err, IOCB_ELIMIT, "byte %zu: nesting deeper than %u", at, p->max_depth);
}

static inline int push(struct iocb_json_parser *p, bool obj, struct iocb_err *err)
{
	unsigned d = p->depth;

	if (d >= p->max_depth)
		return depth_fail(p, err, p->pos);
	if (obj)
		p->stack[d >> 3] |= (uint8_t)(1u << (d & 7));
	else
		p->stack[d >> 3] &= (uint8_t)~(1u << (d & 7));
	p->depth = d + 1;
	return IOCB_OK;
}

static inline __attribute__((always_inline)) int scan_string(struct iocb_json_parser *p, struct iocb_json_tok *tok,
							      struct iocb_err *err)
{
	struct iocb_json_lexerr le;
	size_t end;
	bool escaped;

	if (iocb_json_lex_str(p->buf, p->pos, p->len, &end, &escaped, &le) < 0)
		return fail(p, err, le.at, le.what);
	tok->s.ptr = p->buf + p->pos + 1;
	tok->s.len = end - p->pos - 2;
	tok->escaped = escaped;
	p->pos = end;
	return IOCB_OK;
}

static int scan_number(struct iocb_json_parser *p, struct iocb_json_tok *tok, struct iocb_err *err)
{
	struct iocb_json_lexerr le;
	size_t end;

	if (iocb_json_lex_num(p->buf, p->pos, p->len, &end, &le) < 0)
		return fail(p, err, le.at, le.what);
	tok->type = IOCB_JSON_NUM;
	tok->s.ptr = p->buf + p->pos;
	tok->s.len = end - p->pos;
	p->pos = end;
	return IOCB_OK;
}

static inline __attribute__((always_inline)) int scan_value(struct iocb_json_parser *p, struct iocb_json_tok *tok, struct iocb_err *err)
{
	size_t i = p->pos;
	int rc;

	if (i >= p->len)
		return fail(p, err, i, "unexpected end of input, expected a value");
	tok->offset = i;
	tok->escaped = false;
	tok->s.ptr = p->buf + i;
	tok->s.len = 0;
	switch (p->buf[i]) {
	case '{':
		rc = push(p, true, err);
		if (rc < 0)
			return rc;
		p->pos = i + 1;
		p->state = ST_OBJ_FIRST;
		tok->type = IOCB_JSON_OBJ;
		return IOCB_OK;
	case '[':
		rc = push(p, false, err);
		if (rc < 0)
			return rc;
		p->pos = i + 1;
		p->state = ST_ARR_FIRST;
		tok->type = IOCB_JSON_ARR;
		return IOCB_OK;
	case '"':
		rc = scan_string(p, tok, err);
		if (rc < 0)
			return rc;
		tok->type = IOCB_JSON_STR;
		break;
	case 't':
		if (p->len - i < 4 || memcmp(p->buf + i, "true", 4) != 0)
			return fail(p, err, i, "invalid literal");
		p->pos = i + 4;
		tok->type = IOCB_JSON_TRUE;
		break;
	case 'f':
		if (p->len - i < 5 || memcmp(p->buf + i, "false", 5) != 0)
			return fail(p, err, i, "invalid literal");
		p->pos = i + 5;
		tok->type = IOCB_JSON_FALSE;
		break;
	case 'n':
		if (p->len - i < 4 || memcmp(p->buf + i, "null", 4) != 0)
			return fail(p, err, i, "invalid literal");
		p->pos = i + 4;
		tok->type = IOCB_JSON_NULL;
		break;
	default:
		rc = scan_number(p, tok, err);
		if (rc < 0)
			return rc;
		break;
	}
	p->state = ST_AFTER;
	return IOCB_OK;
}

static inline __attribute__((always_inline)) int scan_key(struct iocb_json_parser *p, struct iocb_json_tok *tok, struct iocb_err *err)
{
	int rc;

	if (p->pos >= p->len || p->buf[p->pos] != '"')
		return fail(p, err, p->pos, p->pos >= p->len ? "unexpected end of input, expected a key"
							    : "expected a string key");
	tok->offset = p->pos;
	rc = scan_string(p, tok, err);
	if (rc < 0)
		return rc;
	tok->type = IOCB_JSON_KEY;
	skip_ws(p);
	if (p->pos >= p->len || p->buf[p->pos] != ':')
		return fail(p, err, p->pos, "expected ':' after key");
	p->pos++;
	p->state = ST_VALUE;
	return IOCB_OK;
}

static inline __attribute__((always_inline)) int close_container(struct iocb_json_parser *p, struct iocb_json_tok *tok, bool obj)
{
	tok->type = obj ? IOCB_JSON_OBJ_END : IOCB_JSON_ARR_END;
	tok->offset = p->pos;
	tok->s.ptr = p->buf + p->pos;
	tok->s.len = 0;
	tok->escaped = false;
	p->pos++;
	p->depth--;
	p->state = ST_AFTER;
	return IOCB_OK;
}

/* After '{': the first key, or the closing '}'. */
static inline __attribute__((always_inline)) int obj_first(struct iocb_json_parser *p, struct iocb_json_tok *tok,
							    struct iocb_err *err)
{
	if (p->pos < p->len && p->buf[p->pos] == '}')
		return close_container(p, tok, true);
	return scan_key(p, tok, err);
}

/* After a member's value, with input left (p->pos < p->len): ',' and the next key, or the closing '}'. */
static inline __attribute__((always_inline)) int obj_after(struct iocb_json_parser *p, struct iocb_json_tok *tok,
							    struct iocb_err *err)
{
	if (p->buf[p->pos] == '}')
		return close_container(p, tok, true);
	if (p->buf[p->pos] != ',')
		return fail(p, err, p->pos, "expected ',' or '}'");
	p->pos++;
	skip_ws(p);
	return scan_key(p, tok, err);
}

int iocb_json_next(struct iocb_json_parser *p, struct iocb_json_tok *tok, struct iocb_err *err)
{
	tok->type = IOCB_JSON_NONE;
	skip_ws(p);
	switch (p->state) {
	case ST_VALUE:
		if (p->depth == 0 && p->pos >= p->len && p->multi)
			return IOCB_EEND;
		return scan_value(p, tok, err);
	case ST_OBJ_FIRST:
		return obj_first(p, tok, err);
	case ST_ARR_FIRST:
		if (p->pos < p->len && p->buf[p->pos] == ']')
			return close_container(p, tok, false);
		return scan_value(p, tok, err);
	case ST_AFTER:
		if (p->depth == 0) {
			p->done = true;
			if (p->pos >= p->len)
				return IOCB_EEND;
			if (!p->multi)
				return fail(p, err, p->pos, "unexpected data after the JSON value");
			p->state = ST_VALUE;
			return scan_value(p, tok, err);
		}
		if (p->pos >= p->len)
			return fail(p, err, p->pos, "unexpected end of input");
		if (top_is_obj(p))
			return obj_after(p, tok, err);
		if (p->buf[p->pos] == ']')
			return close_container(p, tok, false);
		if (p->buf[p->pos] != ',')
			return fail(p, err, p->pos, "expected ',' or ']'");
		p->pos++;
		skip_ws(p);
		return scan_value(p, tok, err);
	default:
		return iocb_err_set(err, IOCB_EPARSE, "byte %zu: parser used after an error", p->pos);
	}
}

/* Out of line: iocb_json_next_member() where no object is open is a caller bug. */
__attribute__((noinline, cold)) static int member_misuse(struct iocb_json_parser *p, const struct iocb_json_tok *tok,
							 struct iocb_err *err)
{
	p->state = 0xff; /* like any error: the parser is not used again */
	return iocb_err_set(err, IOCB_EINVAL, "byte %zu: not an object member (the parser is not inside an object)",
			    tok->offset);
}

/*
 * The MISP parser runs this on every member of every attribute, so it takes
 * iocb_json_next()'s object branches (obj_first, obj_after) and, after the
 * key, its value branch (scan_value: inside an object a value must come,
 * never the end of a stream) directly, without iocb_json_next()'s calls and
 * dispatch: 7% fewer instructions for bench_parse on a restSearch page. Any
 * other state (a caller bug, or a parser after an error) goes through
 * iocb_json_next() for its error.
 */
int iocb_json_next_member(struct iocb_json_parser *p, struct iocb_json_tok *key, struct iocb_json_tok *val,
			  struct iocb_err *err)
{
	int rc;

	key->type = IOCB_JSON_NONE;
	skip_ws(p);
	if (p->state == ST_OBJ_FIRST)
		rc = obj_first(p, key, err);
	else if (p->state == ST_AFTER && p->depth > 0 && p->pos < p->len && top_is_obj(p))
		rc = obj_after(p, key, err);
	else
		rc = iocb_json_next(p, key, err);
	if (rc < 0)
		return rc;
	if (key->type != IOCB_JSON_KEY)
		return key->type == IOCB_JSON_OBJ_END ? 0 : member_misuse(p, key, err);
	if (val == NULL)
		return 1;
	val->type = IOCB_JSON_NONE;
	skip_ws(p);
	rc = scan_value(p, val, err);
	return rc < 0 ? rc : 1;
}

int iocb_json_skip(struct iocb_json_parser *p, const struct iocb_json_tok *tok, struct iocb_err *err)
{
	struct iocb_json_lexerr le;
	size_t end;

	if (tok->type != IOCB_JSON_OBJ && tok->type != IOCB_JSON_ARR)
		return IOCB_OK;
	/* The container is open (depth counted): skip its rest without tokens. */
	if (iocb_json_lex_skip_rest(p->buf, p->pos, p->len, tok->type == IOCB_JSON_OBJ, p->max_depth - p->depth, &end,
				    &le) < 0)
		return le.what == iocb_json__depth_msg ? depth_fail(p, err, le.at) : fail(p, err, le.at, le.what);
	p->pos = end;
	p->depth--;
	p->state = ST_AFTER;
	return IOCB_OK;
}

int iocb_json_lex_skip_rest(const char *b, size_t i, size_t n, bool obj, unsigned depth_left, size_t *end,
			    struct iocb_json_lexerr *e)
{
	enum { W_FIRST, W_KEY, W_VALUE, W_AFTER } want = W_FIRST;
	/* One bit per open container (1 = object); level 0 is the one we start in. */
	uint8_t stack[IOCB_JSON_MAX_DEPTH_LIMIT / 8 + 1];
	unsigned d = 0;
	size_t j;
	bool escaped;

	stack[0] = obj ? 1 : 0;
	for (;;) {
		bool in_obj = (stack[d >> 3] >> (d & 7)) & 1;

		i = iocb_json_lex_ws(b, i, n);
		switch (want) {
		case W_FIRST:
			if (i < n && b[i] == (in_obj ? '}' : ']'))
				goto close;
			want = in_obj ? W_KEY : W_VALUE;
			continue;
		case W_KEY:
			if (i >= n)
				return iocb_json__fail(e, i, "unexpected end of input, expected a key");
			if (b[i] != '"')
				return iocb_json__fail(e, i, "expected a string key");
			if (iocb_json_lex_str(b, i, n, &j, &escaped, e) < 0)
				return -1;
			i = iocb_json_lex_ws(b, j, n);
			if (i >= n || b[i] != ':')
				return iocb_json__fail(e, i, "expected ':' after key");
			i++;
			want = W_VALUE;
			continue;
		case W_VALUE:
			if (i >= n)
				return iocb_json__fail(e, i, "unexpected end of input, expected a value");
			if (b[i] == '{' || b[i] == '[') {
				if (d + 1 > depth_left || d + 1 >= IOCB_JSON_MAX_DEPTH_LIMIT)
					return iocb_json__fail(e, i, iocb_json__depth_msg);
				d++;
				if (b[i] == '{')
					stack[d >> 3] |= (uint8_t)(1u << (d & 7));
				else
					stack[d >> 3] &= (uint8_t)~(1u << (d & 7));
				i++;
				want = W_FIRST;
				continue;
			}
			if (iocb_json_lex_skip(b, i, n, 0, &j, e) < 0)
				return -1;
			i = j;
			want = W_AFTER;
			continue;
		case W_AFTER:
			if (i >= n)
				return iocb_json__fail(e, i, "unexpected end of input");
			if (b[i] == ',') {
				i++;
				want = in_obj ? W_KEY : W_VALUE;
				continue;
			}
			if (b[i] != (in_obj ? '}' : ']'))
				return iocb_json__fail(e, i, in_obj ? "expected ',' or '}'" : "expected ',' or ']'");
			goto close;
		}
		continue;
close:
		if (d == 0) {
			*end = i + 1;
			return 0;
		}
		d--;
		i++;
		want = W_AFTER;
	}
}

int iocb_json_lex_skip(const char *b, size_t i, size_t n, unsigned depth_left, size_t *end, struct iocb_json_lexerr *e)
{
	bool escaped;

	if (i >= n)
		return iocb_json__fail(e, i, "unexpected end of input, expected a value");
	switch (b[i]) {
	case '{':
	case '[':
		if (depth_left == 0)
			return iocb_json__fail(e, i, iocb_json__depth_msg);
		return iocb_json_lex_skip_rest(b, i + 1, n, b[i] == '{', depth_left - 1, end, e);
	case '"':
		return iocb_json_lex_str(b, i, n, end, &escaped, e);
	case 't':
	case 'f':
	case 'n':
		return iocb_json_lex_lit(b, i, n, end, e);
	default:
		return iocb_json_lex_num(b, i, n, end, e);
	}
}

int iocb_json_skip_value(struct iocb_json_parser *p, struct iocb_err *err)
{
	struct iocb_json_tok t;
	int rc = iocb_json_next(p, &t, err);

	if (rc < 0)
		return rc;
	if (t.type == IOCB_JSON_OBJ_END || t.type == IOCB_JSON_ARR_END || t.type == IOCB_JSON_KEY)
		return iocb_err_set(err, IOCB_EPARSE, "byte %zu: expected a value", t.offset);
	return iocb_json_skip(p, &t, err);
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static uint32_t hex4(const unsigned char *s)
{
	return (uint32_t)(iocb_json__hexval(s[0]) << 12 | iocb_json__hexval(s[1]) << 8 | iocb_json__hexval(s[2]) << 4 |
			  iocb_json__hexval(s[3]));
}

int iocb_json_unescape(const struct iocb_json_tok *tok, char *out, size_t cap, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)tok->s.ptr;
	size_t n = tok->s.len, i = 0, o = 0;

	if (!tok->escaped) {
		if (n > cap)
			return IOCB_ELIMIT;
		if (n)
			memcpy(out, s, n);
		*out_len = n;
		return IOCB_OK;
	}
	while (i < n) {
		const unsigned char *bs = memchr(s + i, '\\', n - i);
		size_t run = bs ? (size_t)(bs - (s + i)) : n - i;
		if (run > cap - o)
			return IOCB_ELIMIT;
		memcpy(out + o, s + i, run);
		o += run;
		i += run;
		if (i >= n)
			break;
		/* s[i] == '\\'; the scanner guaranteed a complete, valid escape. */
		if (cap - o < 4)
			return IOCB_ELIMIT;
		char c = (char)s[i + 1];
		i += 2;
		switch (c) {
		case '"': out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; break;
		case '/': out[o++] = '/'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u': {
			if (i + 4 > n)
				return IOCB_EPARSE;
			uint32_t cp = hex4(s + i);
			i += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u')
					return IOCB_EPARSE;
				uint32_t lo = hex4(s + i + 2);
				if (lo < 0xdc00 || lo > 0xdfff)
					return IOCB_EPARSE;
				i += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				return IOCB_EPARSE;
			}
			o += put_utf8(out + o, cp);
			break;
		}
		default:
			return IOCB_EPARSE;
		}
	}
	*out_len = o;
	return IOCB_OK;
}

bool iocb_json_tok_eq(const struct iocb_json_tok *tok, const char *s)
{
	size_t n = strlen(s);
	char tmp[256];
	size_t len;

	if (!tok->escaped)
		return tok->s.len == n && memcmp(tok->s.ptr, s, n) == 0;
	if (n > sizeof(tmp) || tok->s.len > 6 * sizeof(tmp))
		return false;
	if (iocb_json_unescape(tok, tmp, sizeof(tmp), &len) < 0)
		return false;
	return len == n && memcmp(tmp, s, n) == 0;
}

bool iocb_json_tok_u64(const struct iocb_json_tok *tok, uint64_t *out)
{
	return tok->type == IOCB_JSON_NUM && iocb_str_to_u64(tok->s, out);
}

bool iocb_json_tok_i64(const struct iocb_json_tok *tok, int64_t *out)
{
	return tok->type == IOCB_JSON_NUM && iocb_str_to_i64(tok->s, out);
}

bool iocb_json_tok_double(const struct iocb_json_tok *tok, double *out)
{
	char tmp[64];
	char *end;

	if (tok->type != IOCB_JSON_NUM || tok->s.len >= sizeof(tmp))
		return false;
	memcpy(tmp, tok->s.ptr, tok->s.len);
	tmp[tok->s.len] = '\0';
	*out = strtod(tmp, &end);
	return end == tmp + tok->s.len && isfinite(*out);
}

int iocb_json_validate(const char *buf, size_t len, unsigned max_depth, struct iocb_err *err)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	int rc;

	iocb_json_init(&p, buf, len, max_depth, false);
	for (;;) {
		rc = iocb_json_next(&p, &t, err);
		if (rc == IOCB_EEND)
			return IOCB_OK;
		if (rc < 0)
			return rc;
	}
}
