/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Compact JSON writer (see json.h).
 *
 * The writer tracks only whether a comma is due, so nesting costs nothing.
 * Errors are sticky in w->rc: callers write a whole document and check once,
 * which keeps output code linear and readable.
 */
#include "json/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void iocb_jw_init(struct iocb_jw *w, struct iocb_buf *out)
{
	w->out = out;
	w->depth = 0;
	w->need_comma = false;
	w->after_key = false;
	w->rc = IOCB_OK;
}

static inline void put(struct iocb_jw *w, const char *p, size_t n)
{
	if (w->rc == IOCB_OK) {
		int rc = iocb_buf_append(w->out, p, n);
		if (rc < 0)
			w->rc = rc;
	}
}

static inline void putch(struct iocb_jw *w, char c)
{
	if (w->rc == IOCB_OK) {
		int rc = iocb_buf_putc(w->out, c);
		if (rc < 0)
			w->rc = rc;
	}
}

/* Called before any value: emits the comma that separates it from the previous one. */
static inline void pre_value(struct iocb_jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->need_comma)
		putch(w, ',');
}

void iocb_jw_obj(struct iocb_jw *w)
{
	pre_value(w);
	putch(w, '{');
	w->depth++;
	w->need_comma = false;
}

void iocb_jw_obj_end(struct iocb_jw *w)
{
	putch(w, '}');
	w->depth--;
	w->need_comma = true;
}

void iocb_jw_arr(struct iocb_jw *w)
{
	pre_value(w);
	putch(w, '[');
	w->depth++;
	w->need_comma = false;
}

void iocb_jw_arr_end(struct iocb_jw *w)
{
	putch(w, ']');
	w->depth--;
	w->need_comma = true;
}

/*
 * Whether none of 8 bytes needs a look of its own: none below 0x20, none
 * 0x80 or above, no '"', no '\\' (the classic SWAR zero-byte tests; exact
 * for "any byte", which is all this asks).
 */
static inline bool chunk_plain(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');

	return ((x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & high) == 0;
}

static void put_escaped(struct iocb_jw *w, struct iocb_str s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s.ptr;
	size_t i = 0, run = 0;

	putch(w, '"');
	while (i < s.len) {
		uint64_t x;
		unsigned char c;
		/* Plain ASCII 8 bytes at a time: the common case, copied as one run. */
		if (s.len - i >= 8) {
			memcpy(&x, p + i, 8);
			if (chunk_plain(x)) {
				i += 8;
				run += 8;
				continue;
			}
		}
		c = p[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			run++;
			continue;
		}
		if (run)
			put(w, (const char *)p + i - run, run);
		run = 0;
		if (c >= 0x80) {
			/* Copy a valid UTF-8 sequence; replace anything else with U+FFFD. */
			size_t k = 0;
			if (c >= 0xc2 && c <= 0xdf && i + 1 < s.len && (p[i + 1] & 0xc0) == 0x80)
				k = 2;
			else if (c >= 0xe0 && c <= 0xef && i + 2 < s.len && (p[i + 1] & 0xc0) == 0x80 &&
				 (p[i + 2] & 0xc0) == 0x80 && !(c == 0xe0 && p[i + 1] < 0xa0) &&
				 !(c == 0xed && p[i + 1] >= 0xa0))
				k = 3;
			else if (c >= 0xf0 && c <= 0xf4 && i + 3 < s.len && (p[i + 1] & 0xc0) == 0x80 &&
				 (p[i + 2] & 0xc0) == 0x80 && (p[i + 3] & 0xc0) == 0x80 &&
				 !(c == 0xf0 && p[i + 1] < 0x90) && !(c == 0xf4 && p[i + 1] >= 0x90))
				k = 4;
			if (k) {
				put(w, (const char *)p + i, k);
				i += k;
			} else {
				put(w, "\xef\xbf\xbd", 3);
				i++;
			}
			continue;
		}
		switch (c) {
		case '"': put(w, "\\\"", 2); break;
		case '\\': put(w, "\\\\", 2); break;
		case '\n': put(w, "\\n", 2); break;
		case '\r': put(w, "\\r", 2); break;
		case '\t': put(w, "\\t", 2); break;
		case '\b': put(w, "\\b", 2); break;
		case '\f': put(w, "\\f", 2); break;
		default: {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			put(w, e, 6);
		}
		}
		i++;
	}
	if (run)
		put(w, (const char *)p + i - run, run);
	putch(w, '"');
}

void iocb_jw_key_str(struct iocb_jw *w, struct iocb_str key)
{
	if (w->need_comma)
		putch(w, ',');
	put_escaped(w, key);
	putch(w, ':');
	w->after_key = true;
	w->need_comma = true;
}

void iocb_jw_key(struct iocb_jw *w, const char *key)
{
	iocb_jw_key_str(w, iocb_str_c(key));
}

void iocb_jw_str(struct iocb_jw *w, struct iocb_str s)
{
	pre_value(w);
	put_escaped(w, s);
	w->need_comma = true;
}

void iocb_jw_cstr(struct iocb_jw *w, const char *s)
{
	iocb_jw_str(w, iocb_str_c(s));
}

void iocb_jw_u64(struct iocb_jw *w, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v);

	pre_value(w);
	put(w, tmp, (size_t)n);
	w->need_comma = true;
}

void iocb_jw_i64(struct iocb_jw *w, int64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, v);

	pre_value(w);
	put(w, tmp, (size_t)n);
	w->need_comma = true;
}

void iocb_jw_double(struct iocb_jw *w, double v)
{
	char tmp[32];
	int n;

	if (!isfinite(v)) {
		iocb_jw_null(w);
		return;
	}
	n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	pre_value(w);
	put(w, tmp, (size_t)n);
	w->need_comma = true;
}

void iocb_jw_bool(struct iocb_jw *w, bool v)
{
	pre_value(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
	w->need_comma = true;
}

void iocb_jw_null(struct iocb_jw *w)
{
	pre_value(w);
	put(w, "null", 4);
	w->need_comma = true;
}

void iocb_jw_raw(struct iocb_jw *w, struct iocb_str json)
{
	pre_value(w);
	put(w, json.ptr, json.len);
	w->need_comma = true;
}
