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

#include <math.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
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

static int fail(struct iocb_json_parser *p, struct iocb_err *err, size_t at, const char *what)
{
	p->state = 0xff; /* poison: further calls keep failing */
	return iocb_err_set(err, IOCB_EPARSE, "byte %zu: %s", at, what);
}

static inline void skip_ws(struct iocb_json_parser *p)
{
	const char *b = p->buf;
	size_t i = p->pos, n = p->len;

	while (i < n && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
		i++;
	p->pos = i;
}

static inline bool top_is_obj(const struct iocb_json_parser *p)
{
	unsigned d = p->depth - 1;
	return (p->stack[d >> 3] >> (d & 7)) & 1;
}

static inline int push(struct iocb_json_parser *p, bool obj, struct iocb_err *err)
{
	unsigned d = p->depth;

	if (d >= p->max_depth) {
		p->state = 0xff;
		return iocb_err_set(err, IOCB_ELIMIT, "byte %zu: nesting deeper than %u", p->pos, p->max_depth);
	}
	if (obj)
		p->stack[d >> 3] |= (uint8_t)(1u << (d & 7));
	else
		p->stack[d >> 3] &= (uint8_t)~(1u << (d & 7));
	p->depth = d + 1;
	return IOCB_OK;
}

/* Length of a valid UTF-8 sequence starting at s[0] (a byte >= 0x80), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];

	if (c >= 0xc2 && c <= 0xdf) {
		if (avail < 2 || (s[1] & 0xc0) != 0x80)
			return 0;
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		if (avail < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0; /* UTF-16 surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (avail < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0; /* overlong */
		if (c == 0xf4 && s[1] >= 0x90)
			return 0; /* > U+10FFFF */
		return 4;
	}
	return 0;
}

static inline int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Non-zero if any byte of x is zero. */
static inline uint64_t has_zero(uint64_t x)
{
	return (x - ONES) & ~x & HIGHS;
}

/*
 * Scan a string whose opening quote is at p->pos. On success the token holds
 * the raw contents and p->pos is past the closing quote.
 */
static int scan_string(struct iocb_json_parser *p, struct iocb_json_tok *tok, struct iocb_err *err)
{
	const unsigned char *b = (const unsigned char *)p->buf;
	size_t start = p->pos + 1, i = start, n = p->len;
	bool escaped = false;

	for (;;) {
		/* Fast path: skip plain bytes 16 (SSE2) or 8 (SWAR) at a time and
		 * land exactly on the first byte that needs attention. */
#ifdef __SSE2__
		const __m128i q = _mm_set1_epi8('"'), bsl = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x1f);
		while (i + 16 <= n) {
			__m128i x = _mm_loadu_si128((const __m128i *)(b + i));
			/* bytes <= 0x1f (signed compare also flags >= 0x80, which we want too) */
			__m128i ctl = _mm_cmpgt_epi8(_mm_add_epi8(sp, _mm_set1_epi8(1)), x);
			__m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bsl)), ctl);
			unsigned mask = (unsigned)_mm_movemask_epi8(m);
			if (mask) {
				i += (size_t)__builtin_ctz(mask);
				goto special;
			}
			i += 16;
		}
#endif
		while (i + 8 <= n) {
			uint64_t x;
			memcpy(&x, b + i, 8);
			uint64_t special = has_zero(x ^ (ONES * '"')) | has_zero(x ^ (ONES * '\\')) |
					   ((x - ONES * 0x20) & ~x & HIGHS) | (x & HIGHS);
			if (special) {
				/* The lowest flagged byte is exact (borrows only propagate upwards). */
				i += (size_t)__builtin_ctzll(special) / 8;
				goto special;
			}
			i += 8;
		}
		while (i < n && b[i] >= 0x20 && b[i] < 0x80 && b[i] != '"' && b[i] != '\\')
			i++;
special:
		if (i >= n)
			return fail(p, err, p->pos, "unterminated string");
		unsigned char c = b[i];
		if (c == '"')
			break;
		if (c == '\\') {
			escaped = true;
			if (i + 1 >= n)
				return fail(p, err, i, "unterminated string");
			switch (b[i + 1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				i += 2;
				break;
			case 'u':
				if (i + 6 > n || hexval(b[i + 2]) < 0 || hexval(b[i + 3]) < 0 || hexval(b[i + 4]) < 0 ||
				    hexval(b[i + 5]) < 0)
					return fail(p, err, i, "bad \\u escape");
				i += 6;
				break;
			default:
				return fail(p, err, i, "bad escape in string");
			}
			continue;
		}
		if (c < 0x20)
			return fail(p, err, i, "control character in string");
		if (c >= 0x80) {
			size_t k = utf8_seq(b + i, n - i);
			if (!k)
				return fail(p, err, i, "invalid UTF-8 in string");
			i += k;
			continue;
		}
		i++;
	}
	tok->s.ptr = p->buf + start;
	tok->s.len = i - start;
	tok->escaped = escaped;
	p->pos = i + 1;
	return IOCB_OK;
}

static int scan_number(struct iocb_json_parser *p, struct iocb_json_tok *tok, struct iocb_err *err)
{
	const char *b = p->buf;
	size_t i = p->pos, n = p->len, start = i;

	if (i < n && b[i] == '-')
		i++;
	if (i >= n)
		return fail(p, err, start, "bad number");
	if (b[i] == '0') {
		i++;
	} else if (b[i] >= '1' && b[i] <= '9') {
		while (i < n && b[i] >= '0' && b[i] <= '9')
			i++;
	} else {
		return fail(p, err, start, "bad number");
	}
	if (i < n && b[i] == '.') {
		i++;
		if (i >= n || b[i] < '0' || b[i] > '9')
			return fail(p, err, start, "bad number");
		while (i < n && b[i] >= '0' && b[i] <= '9')
			i++;
	}
	if (i < n && (b[i] == 'e' || b[i] == 'E')) {
		i++;
		if (i < n && (b[i] == '+' || b[i] == '-'))
			i++;
		if (i >= n || b[i] < '0' || b[i] > '9')
			return fail(p, err, start, "bad number");
		while (i < n && b[i] >= '0' && b[i] <= '9')
			i++;
	}
	tok->type = IOCB_JSON_NUM;
	tok->s.ptr = b + start;
	tok->s.len = i - start;
	p->pos = i;
	return IOCB_OK;
}

static int scan_value(struct iocb_json_parser *p, struct iocb_json_tok *tok, struct iocb_err *err)
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

static int scan_key(struct iocb_json_parser *p, struct iocb_json_tok *tok, struct iocb_err *err)
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

static int close_container(struct iocb_json_parser *p, struct iocb_json_tok *tok, bool obj)
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
		if (p->pos < p->len && p->buf[p->pos] == '}')
			return close_container(p, tok, true);
		return scan_key(p, tok, err);
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
		if (top_is_obj(p)) {
			if (p->buf[p->pos] == '}')
				return close_container(p, tok, true);
			if (p->buf[p->pos] != ',')
				return fail(p, err, p->pos, "expected ',' or '}'");
			p->pos++;
			skip_ws(p);
			return scan_key(p, tok, err);
		}
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

int iocb_json_skip(struct iocb_json_parser *p, const struct iocb_json_tok *tok, struct iocb_err *err)
{
	struct iocb_json_tok t;
	unsigned target;
	int rc;

	if (tok->type != IOCB_JSON_OBJ && tok->type != IOCB_JSON_ARR)
		return IOCB_OK;
	target = p->depth - 1;
	while (p->depth > target) {
		rc = iocb_json_next(p, &t, err);
		if (rc < 0)
			return rc == IOCB_EEND ? fail(p, err, p->pos, "unexpected end of input") : rc;
	}
	return IOCB_OK;
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
	return (uint32_t)(hexval(s[0]) << 12 | hexval(s[1]) << 8 | hexval(s[2]) << 4 | hexval(s[3]));
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
