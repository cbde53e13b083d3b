/* SPDX-License-Identifier: Apache-2.0 */
/* Private to serve/memcached: the two protocol halves of iocb_mc_feed(). */
#ifndef IOCB_SERVE_MEMCACHED_INTERNAL_H
#define IOCB_SERVE_MEMCACHED_INTERNAL_H

#include "serve/memcached/memcached.h"

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

#endif
