/* SPDX-License-Identifier: Apache-2.0 */
/* Bump allocator (see arena.h). */
#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

struct iocb_arena_chunk {
	struct iocb_arena_chunk *next; /* older chunk */
	size_t size;                   /* usable bytes in data[] */
	size_t used;                   /* bytes handed out from data[] */
	_Alignas(16) unsigned char data[];
};

void iocb_arena_init(struct iocb_arena *a, size_t max)
{
	a->head = NULL;
	a->used = 0;
	a->max = max;
	a->chunk_size = 16 * 1024;
}

void iocb_arena_fini(struct iocb_arena *a)
{
	struct iocb_arena_chunk *c = a->head, *n;

	while (c) {
		n = c->next;
		free(c);
		c = n;
	}
	a->head = NULL;
	a->used = 0;
}

void iocb_arena_reset(struct iocb_arena *a)
{
	struct iocb_arena_chunk *c;

	if (!a->head)
		return;
	/* Keep only the newest (largest) chunk so steady state allocates nothing. */
	c = a->head->next;
	while (c) {
		struct iocb_arena_chunk *n = c->next;
		free(c);
		c = n;
	}
	a->head->next = NULL;
	a->head->used = 0;
	a->used = 0;
}

void *iocb_arena_alloc(struct iocb_arena *a, size_t n)
{
	struct iocb_arena_chunk *c = a->head;
	size_t need = (n + 7) & ~(size_t)7;
	void *p;

	if (a->max && (need > a->max || a->used > a->max - need))
		return NULL;
	if (!c || c->size - c->used < need) {
		size_t sz = a->chunk_size;
		while (sz < need)
			sz *= 2;
		if (c && sz < c->size * 2 && c->size < (1u << 24))
			sz = c->size * 2 >= need ? c->size * 2 : sz;
		c = iocb_xmalloc(sizeof(*c) + sz);
		c->size = sz;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	p = c->data + c->used;
	c->used += need;
	a->used += need;
	return p;
}

char *iocb_arena_strndup(struct iocb_arena *a, const char *p, size_t n)
{
	char *s = iocb_arena_alloc(a, n + 1);

	if (!s)
		return NULL;
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}
