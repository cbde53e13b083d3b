/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON lexical primitives, shared by the pull parser (json_parse.c) and by
 * special-purpose scanners that walk a document without tokens (the
 * enrichment hot path). Each one validates exactly what RFC 8259 allows at
 * its position and reports the byte offset of the first error, so a scanner
 * built from them rejects the same documents as the pull parser.
 *
 * All take the buffer b[0..n) and a start index; none reads past n.
 */
#ifndef IOCB_JSON_LEX_H
#define IOCB_JSON_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The `what` of a nesting-cap error (compare by address). */
extern const char iocb_json__depth_msg[];

/* Where and why a primitive failed. `what` is a static string. */
struct iocb_json_lexerr {
	size_t at;
	const char *what;
};

static inline int iocb_json__fail(struct iocb_json_lexerr *e, size_t at, const char *what)
{
	e->at = at;
	e->what = what;
	return -1;
}

/* Index of the first non-whitespace byte at or after i (n if none). */
static inline size_t iocb_json_lex_ws(const char *b, size_t i, size_t n)
{
	/* Compact JSON (the common case) has no whitespace between tokens. */
	if (i < n && (unsigned char)b[i] > ' ')
		return i;
	while (i < n && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t'))
		i++;
	return i;
}

/* Length of a valid UTF-8 sequence starting at s[0] (a byte >= 0x80), 0 if invalid. */
static inline size_t iocb_json__utf8_seq(const unsigned char *s, size_t avail)
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

static inline int iocb_json__hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

#define IOCB_JSON__ONES 0x0101010101010101ULL
#define IOCB_JSON__HIGHS 0x8080808080808080ULL

/* Non-zero if any byte of x is zero. */
static inline uint64_t iocb_json__has_zero(uint64_t x)
{
	return (x - IOCB_JSON__ONES) & ~x & IOCB_JSON__HIGHS;
}

/*
 * A string whose opening quote is at b[i]. On success returns 0, *end is the
 * index past the closing quote and *escaped tells whether it has escapes.
 *
 * The hot loop: plain bytes are skipped 16 (SSE2) or 8 (SWAR) at a time,
 * landing exactly on the first byte that needs attention (quote,
 * backslash, control character, non-ASCII); UTF-8 is validated there.
 */
static inline __attribute__((always_inline)) int iocb_json_lex_str(const char *buf, size_t i, size_t n, size_t *end,
								    bool *escaped, struct iocb_json_lexerr *e)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t open = i;

	i++;
	*escaped = false;
	for (;;) {
#ifdef __SSE2__
		const __m128i q = _mm_set1_epi8('"'), bsl = _mm_set1_epi8('\\'), sp = _mm_set1_epi8(0x20);
		while (i + 16 <= n) {
			__m128i x = _mm_loadu_si128((const __m128i *)(b + i));
			/* bytes <= 0x1f (the signed compare also flags >= 0x80, which we want too) */
			__m128i ctl = _mm_cmpgt_epi8(sp, x);
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
			uint64_t special = iocb_json__has_zero(x ^ (IOCB_JSON__ONES * '"')) |
					   iocb_json__has_zero(x ^ (IOCB_JSON__ONES * '\\')) |
					   ((x - IOCB_JSON__ONES * 0x20) & ~x & IOCB_JSON__HIGHS) | (x & IOCB_JSON__HIGHS);
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
			return iocb_json__fail(e, open, "unterminated string");
		unsigned char c = b[i];
		if (c == '"')
			break;
		if (c == '\\') {
			*escaped = true;
			if (i + 1 >= n)
				return iocb_json__fail(e, i, "unterminated string");
			switch (b[i + 1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				i += 2;
				break;
			case 'u':
				if (i + 6 > n || iocb_json__hexval(b[i + 2]) < 0 || iocb_json__hexval(b[i + 3]) < 0 ||
				    iocb_json__hexval(b[i + 4]) < 0 || iocb_json__hexval(b[i + 5]) < 0)
					return iocb_json__fail(e, i, "bad \\u escape");
				i += 6;
				break;
			default:
				return iocb_json__fail(e, i, "bad escape in string");
			}
			continue;
		}
		if (c < 0x20)
			return iocb_json__fail(e, i, "control character in string");
		if (c >= 0x80) {
			size_t k = iocb_json__utf8_seq(b + i, n - i);
			if (!k)
				return iocb_json__fail(e, i, "invalid UTF-8 in string");
			i += k;
			continue;
		}
		i++;
	}
	*end = i + 1;
	return 0;
}

/* A number starting at b[i]; *end is the index past it. */
static inline int iocb_json_lex_num(const char *b, size_t i, size_t n, size_t *end, struct iocb_json_lexerr *e)
{
	size_t start = i;

	if (i < n && b[i] != '-' && (b[i] < '0' || b[i] > '9'))
		return iocb_json__fail(e, start, "expected a JSON value");
	if (i < n && b[i] == '-')
		i++;
	if (i >= n)
		return iocb_json__fail(e, start, "bad number");
	if (b[i] == '0') {
		i++;
	} else if (b[i] >= '1' && b[i] <= '9') {
		while (i < n && b[i] >= '0' && b[i] <= '9')
			i++;
	} else {
		return iocb_json__fail(e, start, "bad number");
	}
	if (i < n && b[i] == '.') {
		i++;
		if (i >= n || b[i] < '0' || b[i] > '9')
			return iocb_json__fail(e, start, "bad number");
		while (i < n && b[i] >= '0' && b[i] <= '9')
			i++;
	}
	if (i < n && (b[i] == 'e' || b[i] == 'E')) {
		i++;
		if (i < n && (b[i] == '+' || b[i] == '-'))
			i++;
		if (i >= n || b[i] < '0' || b[i] > '9')
			return iocb_json__fail(e, start, "bad number");
		while (i < n && b[i] >= '0' && b[i] <= '9')
			i++;
	}
	*end = i;
	return 0;
}

/* true / false / null at b[i]; *end is the index past it. */
static inline int iocb_json_lex_lit(const char *b, size_t i, size_t n, size_t *end, struct iocb_json_lexerr *e)
{
	const char *lit = b[i] == 't' ? "true" : b[i] == 'f' ? "false" : b[i] == 'n' ? "null" : NULL;
	size_t l = lit ? strlen(lit) : 0;

	if (!lit || n - i < l || memcmp(b + i, lit, l) != 0)
		return iocb_json__fail(e, i, "invalid literal");
	*end = i + l;
	return 0;
}

/*
 * Validate and skip the value starting at b[i] (not whitespace), allowing
 * `depth_left` more levels of nesting. *end is the index past the value.
 * Accepts exactly what the pull parser accepts; errors say where.
 */
int iocb_json_lex_skip(const char *b, size_t i, size_t n, unsigned depth_left, size_t *end,
		       struct iocb_json_lexerr *e);

/*
 * The same for the rest of a container whose opening bracket was at b[i-1]
 * (`obj`: '{' or '['), e.g. after a pull parser returned its OBJ/ARR token.
 */
int iocb_json_lex_skip_rest(const char *b, size_t i, size_t n, bool obj, unsigned depth_left, size_t *end,
			    struct iocb_json_lexerr *e);

#endif
