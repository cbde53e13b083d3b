/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation helpers. Fixed internal allocations (tables, records whose size
 * is bounded by configuration) use the x-variants, which abort with a message
 * on failure: there is no sane recovery from a failed 64-byte malloc, and
 * threading IOCB_ENOMEM through every call makes error paths untestable.
 * Allocations sized by *input* must be bounded by a configured cap first.
 */
#ifndef IOCB_CORE_MEM_H
#define IOCB_CORE_MEM_H

#include <stddef.h>

void *iocb_xmalloc(size_t n);
void *iocb_xcalloc(size_t n, size_t size);
void *iocb_xrealloc(void *p, size_t n);
/* Copy of [s, s+n) plus a NUL. */
char *iocb_xstrndup(const char *s, size_t n);
char *iocb_xstrdup(const char *s);

#endif
