/* SPDX-License-Identifier: Apache-2.0 */
/* String view helpers (see str.h). */
#include "core/str.h"

#include <stdio.h>
#include "core/rc.h"

#include "core/mem.h"

static inline unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool iocb_str_eq_nocase(struct iocb_str a, struct iocb_str b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (lower((unsigned char)a.ptr[i]) != lower((unsigned char)b.ptr[i]))
			return false;
	return true;
}

bool iocb_str_starts_with(struct iocb_str s, struct iocb_str prefix)
{
	return s.len >= prefix.len && (prefix.len == 0 || memcmp(s.ptr, prefix.ptr, prefix.len) == 0);
}

static inline bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

struct iocb_str iocb_str_trim(struct iocb_str s)
{
	while (s.len && is_space(s.ptr[0])) {
		s.ptr++;
		s.len--;
	}
	while (s.len && is_space(s.ptr[s.len - 1]))
		s.len--;
	return s;
}

bool iocb_str_to_u64(struct iocb_str s, uint64_t *out)
{
	uint64_t v = 0;

	if (s.len == 0 || s.len > 20)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned char)s.ptr[i] - '0';
		if (d > 9)
			return false;
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

bool iocb_str_to_i64(struct iocb_str s, int64_t *out)
{
	bool neg = false;
	uint64_t v;

	if (s.len && s.ptr[0] == '-') {
		neg = true;
		s.ptr++;
		s.len--;
	}
	if (!iocb_str_to_u64(s, &v))
		return false;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return false;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return false;
		*out = (int64_t)v;
	}
	return true;
}

char *iocb_str_dup(struct iocb_str s)
{
	return iocb_xstrndup(s.ptr, s.len);
}

/*
 * Optimal-string-alignment distance (Levenshtein plus adjacent
 * transposition) between a and b, both at most IOCB_STR_DISTANCE_MAX bytes (longer: limit + 1).
 * Gives up early and returns `limit + 1` once every cell of a row exceeds
 * `limit`, which keeps scanning the whole type table cheap.
 */
unsigned iocb_str_distance(const char *a, size_t la, const char *b, size_t lb, unsigned limit)
{
	unsigned rows[3][IOCB_STR_DISTANCE_MAX + 1];
	unsigned *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

	if (la > IOCB_STR_DISTANCE_MAX || lb > IOCB_STR_DISTANCE_MAX || (la > lb ? la - lb > limit : lb - la > limit))
		return limit + 1;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned row_min;

		cur[0] = (unsigned)i;
		row_min = cur[0];
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
			unsigned v = prev[j] + 1;

			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
			if (v < row_min)
				row_min = v;
		}
		if (row_min > limit)
			return limit + 1;
		unsigned *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

bool iocb_str_secret_name(const char *key)
{
	static const char *const words[] = {"password", "secret", "key", "token", "credential", "oauthbearer.config",
					    "jaas"};
	size_t klen = strlen(key);

	for (size_t i = 0; i < IOCB_ARRAY_LEN(words); i++) {
		size_t wlen = strlen(words[i]);

		for (size_t at = 0; at + wlen <= klen; at++)
			if (strncasecmp(key + at, words[i], wlen) == 0)
				return true;
	}
	return false;
}

/* Appends to a bounded buffer, counting what did not fit (snprintf's rule). */
struct redact_out {
	char *p;    /* destination */
	size_t cap; /* its size */
	size_t len; /* bytes the full text has so far */
};

static void put(struct redact_out *o, const char *s, size_t n)
{
	if (o->len < o->cap) {
		size_t room = o->cap - o->len - 1;
		memcpy(o->p + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

/*
 * Length of "scheme://" up to the first "://" of s, or 0. The scheme is not
 * checked: a malformed one must not let its password through.
 */
static size_t scheme_len(const char *s)
{
	const char *p = strstr(s, "://");

	return p ? (size_t)(p - s) + 3 : 0;
}

/* Query "a=1&b=2" (up to '#' or the end): values of secret names as "***". */
static void put_query(struct redact_out *o, const char *q, size_t n)
{
	while (n > 0) {
		size_t pl = 0, kl;
		char name[128];

		while (pl < n && q[pl] != '&' && q[pl] != ';')
			pl++;
		kl = 0;
		while (kl < pl && q[kl] != '=')
			kl++;
		snprintf(name, sizeof(name), "%.*s", (int)kl, q);
		if (kl < pl && iocb_str_secret_name(name)) {
			put(o, q, kl + 1);
			put(o, "***", 3);
		} else {
			put(o, q, pl);
		}
		if (pl < n)
			put(o, q + pl, 1);
		q += pl < n ? pl + 1 : pl;
		n -= pl < n ? pl + 1 : pl;
	}
}

size_t iocb_str_redact_url(const char *url, char *out, size_t cap)
{
	struct redact_out o = {out, cap, 0};
	size_t sl = scheme_len(url);

	if (!sl) {
		put(&o, url, strlen(url));
	} else {
		const char *auth = url + sl;
		size_t alen = strcspn(auth, "/?#");
		const char *at = NULL, *rest, *q;

		/* The userinfo ends at the last '@' of the authority (a password may hold an '@'). */
		for (size_t i = alen; i > 0; i--)
			if (auth[i - 1] == '@') {
				at = auth + i - 1;
				break;
			}
		put(&o, url, sl);
		if (at) {
			const char *colon = memchr(auth, ':', (size_t)(at - auth));

			if (colon)
				put(&o, auth, (size_t)(colon - auth) + 1);
			put(&o, "***", 3);
			auth = at;
			alen -= (size_t)(at - (url + sl));
		}
		rest = auth + alen;
		put(&o, auth, (size_t)(rest - auth) + strcspn(rest, "?#"));
		q = rest + strcspn(rest, "?#");
		if (*q == '?') {
			size_t ql = strcspn(q + 1, "#");

			put(&o, "?", 1);
			put_query(&o, q + 1, ql);
			q += 1 + ql;
		}
		put(&o, q, strlen(q));
	}
	if (cap)
		out[o.len < cap ? o.len : cap - 1] = '\0';
	return o.len;
}

char *iocb_str_redact_url_dup(const char *url)
{
	size_t n = iocb_str_redact_url(url, NULL, 0);
	char *s = iocb_xmalloc(n + 1);

	(void)iocb_str_redact_url(url, s, n + 1);
	return s;
}
