/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the memcached-protocol parser/responder (iocb_mc_feed() in
 * src/serve/memcached/memcached.h), which reads whatever any client of the
 * endpoint sends. The input is fed in two chunks (split at its first byte's
 * value) to exercise incomplete requests. Invariants (abort() on violation):
 *  - iocb_mc_feed() returns IOCB_OK and never consumes more than it is given;
 *  - after close is set nothing more is consumed;
 *  - with the input whole, the same bytes give the same answer (no hidden state).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/memcached/memcached.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lookup(void *ud, struct iocb_str key, struct iocb_buf *value, struct iocb_buf *whole_key)
{
	(void)ud;
	if (key.len == 0 || key.ptr[0] != 'h')
		return 0;
	/* "hw…" stands for a longer key (Dalli's shortened form): echoed as that key, twice as long. */
	if (key.len > 1 && key.ptr[1] == 'w' &&
	    (iocb_buf_append_str(whole_key, key) != IOCB_OK || iocb_buf_append_str(whole_key, key) != IOCB_OK))
		return -1;
	return iocb_buf_append_str(value, key) == IOCB_OK ? 1 : -1;
}

/* Feed in[0..len) in pieces of at most `chunk` bytes, carrying the unconsumed rest. Returns the answer. */
static void run(const uint8_t *in, size_t len, size_t chunk, struct iocb_buf *out)
{
	struct iocb_mc_stats st;
	struct iocb_mc_session s = {.lookup = lookup, .stats = &st};
	size_t start = 0, end = 0;

	memset(&st, 0, sizeof st);

	while (end < len && !s.close) {
		size_t used;
		end = end + chunk < len ? end + chunk : len;
		if (iocb_mc_feed(&s, in + start, end - start, &used, out, SIZE_MAX) != IOCB_OK)
			abort();
		if (used > end - start)
			abort();
		start += used;
	}
	iocb_mc_session_fini(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_buf a, b;

	iocb_buf_init(&a, 0);
	iocb_buf_init(&b, 0);
	run(data, size, size ? (size_t)data[0] % 64 + 1 : 1, &a);
	run(data, size, size ? size : 1, &b);
	/* two empty answers have NULL buffers: memcmp must not see them */
	if (size && data[0] % 2 == 0 && (a.len != b.len || (a.len && memcmp(a.ptr, b.ptr, a.len) != 0)))
		abort();
	iocb_buf_fini(&a);
	iocb_buf_fini(&b);
	return 0;
}
