/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The value a hit is served with (`memcached.value`): elastiMISPstash's
 * bytes by default, so existing Logstash configurations work unchanged, or
 * one of the alternatives: JSON of the tags, event info and TLP, or the
 * event info alone. Inside the store's read lock (the views).
 */
#include "serve/memcached/internal.h"

#include <string.h>

#include "json/json.h"
#include "store/store.h"

#define MAX_TAGS 64

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

/* The distinct tags of the hits (attribute tags, then event tags), the first `cap` of them. */
static size_t collect_tags(const struct iocb_store_hit *h, size_t nh, bool feed_only, struct iocb_str *seen,
			   size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < nh; i++) {
		struct iocb_store_attr_view v;
		size_t na, ne = 0;
		iocb_store_attr_view(h[i].attr, &v);
		na = v.ntags;
		if (v.event) {
			struct iocb_store_event_view ev;
			iocb_store_event_view(v.event, &ev);
			ne = ev.ntags;
		}
		for (size_t j = 0; j < na + ne && n < cap; j++) {
			struct iocb_str t = j < na ? iocb_store_attr_tag(h[i].attr, j)
						   : iocb_store_event_tag(v.event, j - na);
			bool dup = false;
			if (feed_only && !is_feed_tag(t))
				continue;
			for (size_t k = 0; k < n && !dup; k++)
				dup = iocb_str_eq(seen[k], t);
			if (!dup)
				seen[n++] = t;
		}
	}
	return n;
}

/* elastiMISPstash's: the Python repr of the list of "Feed-" tag names, e.g. ['Feed-A', 'Feed-B']. */
static int render_feed(struct iocb_buf *b, const struct iocb_store_hit *h, size_t nh)
{
	struct iocb_str t[MAX_TAGS];
	size_t n = collect_tags(h, nh, true, t, MAX_TAGS);
	int rc = iocb_buf_putc(b, '[');

	for (size_t i = 0; rc == IOCB_OK && i < n; i++) {
		rc = i ? iocb_buf_append(b, ", ", 2) : IOCB_OK;
		if (rc == IOCB_OK)
			rc = py_repr(b, t[i]);
	}
	return rc == IOCB_OK ? iocb_buf_putc(b, ']') : rc;
}

/* The event info of the first hit that has an event; empty when none has. */
static struct iocb_str first_info(const struct iocb_store_hit *h, size_t nh)
{
	for (size_t i = 0; i < nh; i++) {
		struct iocb_store_attr_view v;
		iocb_store_attr_view(h[i].attr, &v);
		if (v.event) {
			struct iocb_store_event_view ev;
			iocb_store_event_view(v.event, &ev);
			return ev.info;
		}
	}
	return IOCB_STR_NULL;
}

/* {"tags":[...every tag...],"event_info":"...","tlp":"amber"}; null for an absent info or TLP. */
static int render_json(struct iocb_buf *b, const struct iocb_store_hit *h, size_t nh)
{
	struct iocb_str t[MAX_TAGS], info = first_info(h, nh), tlp = IOCB_STR_NULL;
	size_t n = collect_tags(h, nh, false, t, MAX_TAGS);
	struct iocb_jw w;

	for (size_t i = 0; i < nh && tlp.len == 0; i++)
		tlp = iocb_store_attr_tlp(h[i].attr);
	iocb_jw_init(&w, b);
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "tags");
	iocb_jw_arr(&w);
	for (size_t i = 0; i < n; i++)
		iocb_jw_str(&w, t[i]);
	iocb_jw_arr_end(&w);
	iocb_jw_key(&w, "event_info");
	if (info.ptr)
		iocb_jw_str(&w, info);
	else
		iocb_jw_null(&w);
	iocb_jw_key(&w, "tlp");
	if (tlp.len)
		iocb_jw_str(&w, tlp);
	else
		iocb_jw_null(&w);
	iocb_jw_obj_end(&w);
	return iocb_jw_rc(&w);
}

int iocb_mc__render_value(enum iocb_mc_value tmpl, struct iocb_buf *b, const struct iocb_store_hit *h, size_t nh)
{
	switch (tmpl) {
	case IOCB_MC_VALUE_JSON:
		return render_json(b, h, nh);
	case IOCB_MC_VALUE_EVENT_INFO: {
		struct iocb_str info = first_info(h, nh);
		return info.len ? iocb_buf_append_str(b, info) : IOCB_OK;
	}
	case IOCB_MC_VALUE_ELASTIMISPSTASH:
	default:
		return render_feed(b, h, nh);
	}
}
