/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store behind the memcached endpoint: a memcached key to store hits
 * (elastiMISPstash's "<misp-type>-<value>", the bare value, an optional
 * "<ns>:" prefix, Dalli's shortened form of a long key (digest.c)); the
 * value is rendered by value.c.
 */
#include "serve/memcached/internal.h"

#include <string.h>

#include "misp/misp.h"
#include "core/time.h"
#include "store/store.h"

#define MAX_HITS 16

struct iocb_str iocb_mc__strip_type(struct iocb_str k, const struct iocb_misp_type **type)
{
	const struct iocb_misp_type *t;

	/* MISP type names are at most 41 bytes ("place-port-of-onward-foreign-destination"): only a '-' up to there ends one. */
	for (size_t i = k.len < 42 ? k.len : 42; i-- > 1;) {
		if (k.ptr[i] != '-')
			continue;
		if ((t = iocb_misp_type_find((struct iocb_str){k.ptr, i})) != NULL) {
			if (type)
				*type = t;
			return (struct iocb_str){k.ptr + i + 1, k.len - i - 1};
		}
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


int iocb_mc_store_lookup(void *ud, struct iocb_str key, struct iocb_buf *value, struct iocb_buf *whole_key)
{
	const struct iocb_mc_store_ctx *c = ud;
	struct iocb_store_hit h[MAX_HITS];
	struct iocb_str v, whole = key;
	const struct iocb_misp_type *type = NULL;
	size_t n;
	int rc = 0;

	if (c->ns.len && key.len > c->ns.len && key.ptr[c->ns.len] == ':' &&
	    memcmp(key.ptr, c->ns.ptr, c->ns.len) == 0)
		key = (struct iocb_str){key.ptr + c->ns.len + 1, key.len - c->ns.len - 1};
	v = iocb_mc__strip_type(key, &type);
	iocb_store_read_lock();
	n = v.len ? iocb_store_lookup_any(c->store, v, h, MAX_HITS) : 0;
	/* "link-login.example": the bare key too, when such values are stored (digest.c counts them) */
	if (n == 0 && v.len != key.len && iocb_mc__typed_values(c->digest, type, key))
		n = iocb_store_lookup_any(c->store, key, h, MAX_HITS);
	if (n == 0 && c->digest) { /* Dalli's "<prefix>:md5:<hex>" of a key over 250 characters */
		size_t head = 0;
		struct iocb_str lv = iocb_mc__digest_resolve(c->digest, c->ns, whole, &head);
		n = lv.len ? iocb_store_lookup_any(c->store, lv, h, MAX_HITS) : 0;
		if (n > 0 && whole_key && (iocb_buf_append(whole_key, whole.ptr, head) < 0 ||
					   iocb_buf_append_str(whole_key, lv) < 0))
			n = 0; /* a whole key past 64 KiB: no answer Dalli could file */
	}
	n = live_hits(h, n < MAX_HITS ? n : MAX_HITS);
	if (n > 0) {
		rc = iocb_mc__render_value(c->value, value, h, n);
		rc = rc < 0 ? rc : 1;
	}
	iocb_store_read_unlock();
	return rc;
}
