/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store behind the memcached endpoint: a memcached key to store hits
 * (elastiMISPstash's "<misp-type>-<value>", the bare value, an optional
 * "<ns>:" prefix) and the value elastiMISPstash's cron script stored: the
 * Python repr of the "Feed-" tag names, e.g. ['Feed-A', 'Feed-B'].
 */
#include "serve/memcached/memcached.h"

#include <string.h>

#include "misp/misp.h"
#include "core/time.h"
#include "store/store.h"

#define MAX_HITS 16

/* Python's repr() of a str: single quotes unless the text has ' and no ", escapes for the rest. */
static int py_repr(struct iocb_buf *b, struct iocb_str s)
{
	char q = memchr(s.ptr, '\'', s.len) && !memchr(s.ptr, '"', s.len) ? '"' : '\'';
	int rc = iocb_buf_putc(b, q);

	for (size_t i = 0; rc == IOCB_OK && i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c == '\\' || c == (unsigned char)q)
			rc = iocb_buf_printf(b, "\\%c", c);
		else if (c == '\n' || c == '\r' || c == '\t')
			rc = iocb_buf_printf(b, "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
		else if (c < 0x20 || c == 0x7f)
			rc = iocb_buf_printf(b, "\\x%02x", c);
		else
			rc = iocb_buf_putc(b, (char)c);
	}
	return rc == IOCB_OK ? iocb_buf_putc(b, q) : rc;
}

static bool is_feed_tag(struct iocb_str t)
{
	return t.len >= 5 && memmem(t.ptr, t.len, "Feed-", 5) != NULL;
}

/* Append tag t unless already listed (the list is short: a linear scan of seen). */
static int add_tag(struct iocb_buf *b, struct iocb_str *seen, size_t *n, size_t cap, struct iocb_str t)
{
	int rc;

	if (!is_feed_tag(t))
		return IOCB_OK;
	for (size_t i = 0; i < *n; i++)
		if (iocb_str_eq(seen[i], t))
			return IOCB_OK;
	if (*n == cap)
		return IOCB_OK;
	seen[(*n)++] = t;
	rc = *n > 1 ? iocb_buf_append(b, ", ", 2) : IOCB_OK;
	return rc == IOCB_OK ? py_repr(b, t) : rc;
}

static int render(struct iocb_buf *b, const struct iocb_store_hit *h, size_t nh)
{
	struct iocb_str seen[64];
	size_t n = 0;
	int rc = iocb_buf_putc(b, '[');

	for (size_t i = 0; rc == IOCB_OK && i < nh; i++) {
		struct iocb_store_attr_view v;
		iocb_store_attr_view(h[i].attr, &v);
		for (size_t j = 0; rc == IOCB_OK && j < v.ntags; j++)
			rc = add_tag(b, seen, &n, 64, iocb_store_attr_tag(h[i].attr, j));
		if (v.event) {
			struct iocb_store_event_view ev;
			iocb_store_event_view(v.event, &ev);
			for (size_t j = 0; rc == IOCB_OK && j < ev.ntags; j++)
				rc = add_tag(b, seen, &n, 64, iocb_store_event_tag(v.event, j));
		}
	}
	return rc == IOCB_OK ? iocb_buf_putc(b, ']') : rc;
}

/* "<misp-type>-<value>": the value after the longest known type name followed by '-', or the key itself. */
static struct iocb_str strip_type(struct iocb_str k)
{
	for (size_t i = k.len; i-- > 1;) {
		if (k.ptr[i] != '-' || i > 32)
			continue;
		if (iocb_misp_type_find((struct iocb_str){k.ptr, i}))
			return (struct iocb_str){k.ptr + i + 1, k.len - i - 1};
	}
	return k;
}

/* Keep the hits whose indicator still matches (issue #15: not expired, not suppressed); returns their count. */
static size_t live_hits(struct iocb_store_hit *h, size_t n)
{
	size_t k = 0;
	int64_t now = 0;
	for (size_t i = 0; i < n; i++) {
		if (!now)
			now = iocb_time_real_us() / 1000000;
		if (iocb_store_attr_live(h[i].attr, now))
			h[k++] = h[i];
	}
	return k;
}

int iocb_mc_store_lookup(void *ud, struct iocb_str key, struct iocb_buf *value)
{
	const struct iocb_mc_store_ctx *c = ud;
	struct iocb_store_hit h[MAX_HITS];
	struct iocb_str v;
	size_t n;
	int rc = 0;

	if (c->ns.len && key.len > c->ns.len && key.ptr[c->ns.len] == ':' &&
	    memcmp(key.ptr, c->ns.ptr, c->ns.len) == 0)
		key = (struct iocb_str){key.ptr + c->ns.len + 1, key.len - c->ns.len - 1};
	v = strip_type(key);
	iocb_store_read_lock();
	n = v.len ? iocb_store_lookup_any(c->store, v, h, MAX_HITS) : 0;
	if (n == 0 && v.len != key.len) /* "ip-like-host.example": the bare key too */
		n = iocb_store_lookup_any(c->store, key, h, MAX_HITS);
	n = live_hits(h, n < MAX_HITS ? n : MAX_HITS);
	if (n > 0) {
		rc = render(value, h, n);
		rc = rc < 0 ? rc : 1;
	}
	iocb_store_read_unlock();
	return rc;
}
