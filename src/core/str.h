/* SPDX-License-Identifier: Apache-2.0 */
/*
 * String views and small string helpers.
 *
 * struct iocb_str is a borrowed (ptr, len) view, not NUL-terminated. A view
 * into a message never outlives the message. Functions here never allocate
 * unless their name says dup.
 */
#ifndef IOCB_CORE_STR_H
#define IOCB_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct iocb_str {
	const char *ptr; /* first byte; may be NULL when len == 0 */
	size_t len;      /* length in bytes */
};

#define IOCB_STR_LIT(s) ((struct iocb_str){(s), sizeof(s) - 1})
#define IOCB_STR_NULL ((struct iocb_str){NULL, 0})
/* printf("%.*s", IOCB_STR_FMT(s)) */
#define IOCB_STR_FMT(s) (int)(s).len, (s).ptr

static inline struct iocb_str iocb_str_make(const char *p, size_t n)
{
	struct iocb_str s = {p, n};
	return s;
}

static inline struct iocb_str iocb_str_c(const char *cstr)
{
	struct iocb_str s = {cstr, cstr ? strlen(cstr) : 0};
	return s;
}

static inline bool iocb_str_eq(struct iocb_str a, struct iocb_str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool iocb_str_eq_c(struct iocb_str a, const char *b)
{
	return iocb_str_eq(a, iocb_str_c(b));
}

/* ASCII case-insensitive equality. */
bool iocb_str_eq_nocase(struct iocb_str a, struct iocb_str b);

/* True if `s` starts with `prefix`. */
bool iocb_str_starts_with(struct iocb_str s, struct iocb_str prefix);

/* Leading/trailing ASCII whitespace removed (a view into s). */
struct iocb_str iocb_str_trim(struct iocb_str s);

/*
 * Parse a whole view as an unsigned decimal integer (no sign, no spaces).
 * Returns false on empty input, a non-digit, or overflow.
 */
bool iocb_str_to_u64(struct iocb_str s, uint64_t *out);
/*
 * The one secret-redaction rule of iocbus, used by `config dump`, logs and
 * error messages alike.
 *
 * iocb_str_secret_name: true when a property or parameter name looks like
 * it holds a secret (contains "password", "secret", "key", "token",
 * "credential", "oauthbearer.config" or "jaas", any case): its value must
 * never be echoed (librdkafka properties, URL query parameters).
 */
bool iocb_str_secret_name(const char *key);
/*
 * Copy `url` into out (size cap, always NUL-terminated when cap > 0, cut
 * short if it does not fit) with its secrets replaced by "***": the password
 * of a userinfo ("https://user:***@host"; a userinfo without ':' may be a
 * token and becomes "***" whole) and the values of query parameters whose
 * names iocb_str_secret_name() flags. A string without "://" is copied
 * unchanged; anything before the first "://" counts as the scheme. Returns the length of the full
 * redacted text (as snprintf), so a result >= cap means it was cut.
 */
size_t iocb_str_redact_url(const char *url, char *out, size_t cap);
/* Same into a heap copy the caller frees (aborts on OOM). */
char *iocb_str_redact_url_dup(const char *url);
bool iocb_str_to_i64(struct iocb_str s, int64_t *out);

/* NUL-terminated heap copy (aborts on OOM). Caller frees. */
char *iocb_str_dup(struct iocb_str s);

/*
 * Edit distance for "did you mean" suggestions: optimal string alignment
 * (Levenshtein plus adjacent transpositions). Returns limit + 1 as soon as
 * the distance must exceed `limit`, and for inputs longer than
 * IOCB_STR_DISTANCE_MAX bytes.
 */
#define IOCB_STR_DISTANCE_MAX 64
unsigned iocb_str_distance(const char *a, size_t la, const char *b, size_t lb, unsigned limit);

#endif
