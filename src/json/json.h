/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON pull parser and writer.
 *
 * Why our own: the hot paths (loading millions of MISP attributes, enriching
 * log lines at line rate) must not build a document tree per message, and the
 * JSON libraries packaged in Debian all do (or cost 25-75 k instructions per
 * 376-byte event, see reference/tooling.md). This parser is a validating pull
 * scanner over an in-memory buffer: it never allocates, never copies, and
 * returns tokens as views into the input. Strings with escapes are flagged
 * and decoded on demand into caller memory.
 *
 * Strictness: RFC 8259 grammar, UTF-8 validated inside strings, control
 * characters rejected, nesting capped. Every error carries the byte offset.
 *
 * The writer appends compact JSON to a capped struct iocb_buf, inserting
 * commas itself, escaping strings correctly (never printf-built JSON).
 */
#ifndef IOCB_JSON_JSON_H
#define IOCB_JSON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/rc.h"
#include "core/str.h"

enum iocb_json_type {
	IOCB_JSON_NONE = 0,   /* no token (end of document) */
	IOCB_JSON_OBJ,        /* '{' */
	IOCB_JSON_OBJ_END,    /* '}' */
	IOCB_JSON_ARR,        /* '[' */
	IOCB_JSON_ARR_END,    /* ']' */
	IOCB_JSON_KEY,        /* an object member name (string) */
	IOCB_JSON_STR,        /* a string value */
	IOCB_JSON_NUM,        /* a number (raw text in tok.s) */
	IOCB_JSON_TRUE,
	IOCB_JSON_FALSE,
	IOCB_JSON_NULL,
};

struct iocb_json_tok {
	enum iocb_json_type type; /* token type */
	struct iocb_str s;        /* KEY/STR: raw bytes between the quotes (escapes not decoded);
				     NUM: the number's text; otherwise empty */
	bool escaped;             /* KEY/STR contain at least one backslash escape */
	size_t offset;            /* byte offset of the token's first character */
};

#define IOCB_JSON_MAX_DEPTH_LIMIT 1024

struct iocb_json_parser {
	const char *buf;         /* input (borrowed) */
	size_t len;              /* input length */
	size_t pos;              /* next byte to scan */
	unsigned depth;          /* current nesting depth */
	unsigned max_depth;      /* cap, <= IOCB_JSON_MAX_DEPTH_LIMIT */
	uint8_t state;           /* private: what may come next */
	bool done;               /* the top-level value is complete */
	bool multi;              /* accept several top-level values (NDJSON-like streams) */
	uint8_t stack[IOCB_JSON_MAX_DEPTH_LIMIT / 8]; /* private: bit per level, 1 = object */
};

/*
 * Start parsing buf[0..len). max_depth 0 means 64. The parser borrows buf.
 * If `multi` is true, whitespace-separated top-level values follow each
 * other (after one completes, iocb_json_next() starts the next); otherwise
 * anything but whitespace after the first value is an error.
 */
void iocb_json_init(struct iocb_json_parser *p, const char *buf, size_t len, unsigned max_depth, bool multi);

/*
 * Next token into *tok. Returns IOCB_OK, IOCB_EEND at the end of the input
 * (after a complete value), IOCB_EPARSE on a syntax error (err says where),
 * IOCB_ELIMIT when nesting exceeds max_depth. After an error the parser must
 * not be used again. Any thread (the parser object is not shared).
 */
int iocb_json_next(struct iocb_json_parser *p, struct iocb_json_tok *tok, struct iocb_err *err) IOCB_MUST_USE;

/*
 * Skip the value that starts with `tok` (already returned by iocb_json_next):
 * for OBJ/ARR, consume through the matching end; for scalars, nothing to do.
 * Validates what it skips.
 */
int iocb_json_skip(struct iocb_json_parser *p, const struct iocb_json_tok *tok, struct iocb_err *err) IOCB_MUST_USE;

/* Read the next token and skip the whole value it starts. */
int iocb_json_skip_value(struct iocb_json_parser *p, struct iocb_err *err) IOCB_MUST_USE;

/*
 * Next member of the object being read, for the loop
 *
 *     while ((rc = iocb_json_next_member(p, &key, &val, err)) > 0) {
 *             if (iocb_json_tok_eq(&key, "a") && val.type == IOCB_JSON_NUM) ...
 *             else rc = iocb_json_skip(p, &val, err);  (and stop if rc < 0)
 *     }
 *     if (rc < 0) ... (rc is 0 after the '}')
 *
 * Call it right after the object's '{' token (the document's first token or
 * a member's/item's value, checked by the caller, whose "not an object"
 * error is its own) and again after each member's value has been consumed;
 * it mixes freely with iocb_json_next()/iocb_json_skip() on the same parser.
 * It checks the ',' between members and the ':' after a key as
 * iocb_json_next() does (it takes the same code path, minus a dispatch).
 *
 * Returns 1 with the key in *key (a KEY token, a view into the input) and,
 * when `val` is not NULL, the first token of the value in *val: the caller
 * consumes the value (a scalar is consumed already; for OBJ/ARR read its
 * contents or iocb_json_skip() it). With `val` NULL the caller reads the
 * value itself (iocb_json_next() or iocb_json_skip_value()).
 * Returns 0 after the object's '}' (*key is its OBJ_END token: offset is
 * the '}'). Returns the parser's negative rc on bad input, with err saying
 * "byte N: ..." exactly as iocb_json_next() does (a trailing comma, a key
 * that is not a string, a missing ':', the end of input, a bad value;
 * IOCB_ELIMIT for a value nested too deep); IOCB_EINVAL if the parser is
 * not inside an object (a caller bug). After an error the parser is spent.
 *
 * Any thread (the parser object is not shared).
 */
int iocb_json_next_member(struct iocb_json_parser *p, struct iocb_json_tok *key, struct iocb_json_tok *val,
			  struct iocb_err *err) IOCB_MUST_USE;

/*
 * Decode a KEY/STR token into `out` (cap bytes). Writes the decoded length to
 * *out_len; the output is not NUL-terminated. If the token has no escapes this
 * is a memcpy; callers that can use the view directly should check
 * tok->escaped first. IOCB_ELIMIT if it does not fit, IOCB_EPARSE on a bad
 * escape or an unpaired surrogate.
 */
int iocb_json_unescape(const struct iocb_json_tok *tok, char *out, size_t cap, size_t *out_len) IOCB_MUST_USE;

/* Compare a KEY/STR token with a plain C string (decoding escapes if any). */
bool iocb_json_tok_eq(const struct iocb_json_tok *tok, const char *s);

/* NUM token as an unsigned/signed integer (no fraction/exponent). */
bool iocb_json_tok_u64(const struct iocb_json_tok *tok, uint64_t *out);
bool iocb_json_tok_i64(const struct iocb_json_tok *tok, int64_t *out);
bool iocb_json_tok_double(const struct iocb_json_tok *tok, double *out);

/*
 * Validate that buf[0..len) is exactly one JSON value (or, with multi, a
 * sequence). Returns IOCB_OK or the first error, with its offset in err.
 */
int iocb_json_validate(const char *buf, size_t len, unsigned max_depth, struct iocb_err *err) IOCB_MUST_USE;

/* ----------------------------------------------------------------- writer */

struct iocb_jw {
	struct iocb_buf *out;    /* destination (borrowed) */
	unsigned depth;          /* current nesting */
	bool need_comma;         /* private */
	bool after_key;          /* private */
	int rc;                  /* first error (sticky); check once at the end */
};

/* Start writing into `out` (appends; does not reset it). */
void iocb_jw_init(struct iocb_jw *w, struct iocb_buf *out);
void iocb_jw_obj(struct iocb_jw *w);
void iocb_jw_obj_end(struct iocb_jw *w);
void iocb_jw_arr(struct iocb_jw *w);
void iocb_jw_arr_end(struct iocb_jw *w);
void iocb_jw_key(struct iocb_jw *w, const char *key);
void iocb_jw_key_str(struct iocb_jw *w, struct iocb_str key);
/* A string value, escaped; invalid UTF-8 bytes become U+FFFD. */
void iocb_jw_str(struct iocb_jw *w, struct iocb_str s);
void iocb_jw_cstr(struct iocb_jw *w, const char *s);
void iocb_jw_u64(struct iocb_jw *w, uint64_t v);
void iocb_jw_i64(struct iocb_jw *w, int64_t v);
void iocb_jw_double(struct iocb_jw *w, double v);
void iocb_jw_bool(struct iocb_jw *w, bool v);
void iocb_jw_null(struct iocb_jw *w);
/* Insert already-valid JSON text as a value (caller guarantees validity). */
void iocb_jw_raw(struct iocb_jw *w, struct iocb_str json);
/* First error (IOCB_ELIMIT when the buffer cap was hit), IOCB_OK otherwise. */
static inline int iocb_jw_rc(const struct iocb_jw *w)
{
	return w->rc;
}

#endif
