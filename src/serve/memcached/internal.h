/* SPDX-License-Identifier: Apache-2.0 */
/* Private to serve/memcached: the two protocol halves of iocb_mc_feed(). */
#ifndef IOCB_SERVE_MEMCACHED_INTERNAL_H
#define IOCB_SERVE_MEMCACHED_INTERNAL_H

#include "serve/memcached/memcached.h"

struct iocb_misp_type;

/*
 * Answer one request at in[0..len) in the session's protocol. Returns the
 * bytes consumed (> 0), 0 when the request is incomplete, or < 0
 * (IOCB_ENOMEM/IOCB_ELIMIT) when `out` cannot grow.
 */
long iocb_mc__binary_one(struct iocb_mc_session *s, const uint8_t *in, size_t len, struct iocb_buf *out);
long iocb_mc__text_one(struct iocb_mc_session *s, const uint8_t *in, size_t len, struct iocb_buf *out);

/* Look one key up through the session's callback, counting hit/miss; the value is in s->value. */
bool iocb_mc__lookup(struct iocb_mc_session *s, struct iocb_str key);

struct iocb_store_hit;
/* Append the value of hits h[0..nh) in template tmpl to b. Inside the store's read lock. */
int iocb_mc__render_value(enum iocb_mc_value tmpl, struct iocb_buf *b, const struct iocb_store_hit *h, size_t nh);

/* "<misp-type>-<value>": the value after the longest known type name followed by '-', or k itself. */
struct iocb_str iocb_mc__strip_type(struct iocb_str k, const struct iocb_misp_type **type);

/*
 * If key is Dalli's shortened form of a long key ("<prefix>:md5:<hex>") whose
 * whole form is "[<ns>:][<type>-]<value>" with <value> a stored value part:
 * that part (valid inside the store's read lock, which the caller holds),
 * and in *head the length of the "[<ns>:][<type>-]" that precedes it (the
 * whole key is key[0..*head) + part). Else IOCB_STR_NULL. d may be NULL
 * (no index: always IOCB_STR_NULL).
 */
/*
 * Whether a key "<type>-<rest>" (type found by iocb_mc__strip_type) that
 * missed as <rest> is worth looking up whole: stored value parts may begin
 * with "<type>-". True when unsure (d NULL, a type not counted, a key whose
 * normal form may differ in its head). Any thread.
 */
bool iocb_mc__typed_values(const struct iocb_mc_digest *d, const struct iocb_misp_type *type, struct iocb_str key);

struct iocb_str iocb_mc__digest_resolve(struct iocb_mc_digest *d, struct iocb_str ns, struct iocb_str key,
					size_t *head);

#endif
