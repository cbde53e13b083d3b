/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iocb_mc_feed(): protocol detection on the first byte of a connection
 * and the request loop shared by the binary (binary.c) and text/meta
 * (text.c) halves.
 */
#include "serve/memcached/memcached.h"

#include "serve/memcached/internal.h"

bool iocb_mc__lookup(struct iocb_mc_session *s, struct iocb_str key)
{
	int rc;

	iocb_buf_reset(&s->value);
	iocb_buf_reset(&s->whole);
	rc = s->lookup(s->lookup_ud, key, &s->value, &s->whole);
	if (rc == 1 && s->value.len <= IOCB_MC_VALUE_MAX) {
		s->stats->hits++;
		return true;
	}
	s->stats->misses++;
	return false;
}

int iocb_mc_feed(struct iocb_mc_session *s, const uint8_t *in, size_t len, size_t *used, struct iocb_buf *out,
		 size_t out_high)
{
	size_t off = 0;

	*used = 0;
	if (s->value.max == 0)
		iocb_buf_init(&s->value, IOCB_MC_VALUE_MAX + 1);
	if (s->whole.max == 0)
		iocb_buf_init(&s->whole, UINT16_MAX); /* a binary key length is 16 bits */
	if (s->proto == IOCB_MC_PROTO_NONE && len > 0)
		s->proto = in[0] == 0x80 ? IOCB_MC_PROTO_BINARY : IOCB_MC_PROTO_TEXT;
	while (off < len && !s->close && out->len < out_high) {
		long n = s->proto == IOCB_MC_PROTO_BINARY ? iocb_mc__binary_one(s, in + off, len - off, out)
							  : iocb_mc__text_one(s, in + off, len - off, out);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		off += (size_t)n;
	}
	*used = off;
	return IOCB_OK;
}

void iocb_mc_session_fini(struct iocb_mc_session *s)
{
	iocb_buf_fini(&s->value);
	iocb_buf_fini(&s->whole);
}
