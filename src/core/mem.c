/* SPDX-License-Identifier: Apache-2.0 */
/* Aborting allocators for fixed internal allocations (see mem.h). */
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
	fprintf(stderr, "iocbus: out of memory allocating %zu bytes\n", n);
	abort();
}

void *iocb_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom(n);
	return p;
}

void *iocb_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom(n * size);
	return p;
}

void *iocb_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		oom(n);
	return q;
}

char *iocb_xstrndup(const char *s, size_t n)
{
	char *p = iocb_xmalloc(n + 1);

	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *iocb_xstrdup(const char *s)
{
	return iocb_xstrndup(s, strlen(s));
}
