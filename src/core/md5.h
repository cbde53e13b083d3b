/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MD5 (RFC 1321), for interoperability only: Dalli shortens memcached keys
 * over 250 characters to `<prefix>:md5:<md5 hex of the key>`, and the
 * memcached endpoint must recognise that form. Never for security.
 */
#ifndef IOCB_CORE_MD5_H
#define IOCB_CORE_MD5_H

#include <stddef.h>
#include <stdint.h>

struct iocb_md5 {
	uint32_t h[4];
	uint64_t len;     /* bytes fed so far */
	uint8_t blk[64];  /* pending partial block */
};

void iocb_md5_init(struct iocb_md5 *m);
void iocb_md5_update(struct iocb_md5 *m, const void *p, size_t n);
void iocb_md5_final(struct iocb_md5 *m, uint8_t out[16]);

#endif
