/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The last matches of the log pipeline for the status page (pipe.h
 * iocb_pipe_recent). Why a mutex and not per-thread slots: a hit is rare
 * next to the events scanned (the enrichment already pays for writing the
 * hit's JSON, a few hundred bytes), and the hold is a memcpy of one entry
 * into a preallocated slot, so contention between enrichment threads stays
 * negligible; bench/bench_enrich.sh shows no measurable change (docs/STATUS.md).
 * The entry is built outside the lock from the store record (the caller is
 * inside the store's read lock, so the views are valid).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "misp/misp.h"
#include "pipe/pipe.h"
#include "store/store.h"

#define RECENT_DEFAULT 50
#define RECENT_MAX 1000

struct iocb_pipe_recent {
	pthread_mutex_t mu;
	struct iocb_pipe_match *slots; /* cap entries; under mu */
	unsigned cap;
	uint64_t total;                /* entries ever pushed; the newest is slots[(total - 1) % cap]; under mu */
};

struct iocb_pipe_recent *iocb_pipe_recent_new(unsigned cap)
{
	struct iocb_pipe_recent *r = iocb_xcalloc(1, sizeof(*r));

	r->cap = cap ? (cap > RECENT_MAX ? RECENT_MAX : cap) : RECENT_DEFAULT;
	r->slots = iocb_xcalloc(r->cap, sizeof(*r->slots));
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

void iocb_pipe_recent_free(struct iocb_pipe_recent *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r->slots);
	free(r);
}

/* Copy s into a char[cap], cut on a UTF-8 boundary so the JSON writer sees no broken sequence. */
static void copy_cut(char *dst, size_t cap, struct iocb_str s)
{
	size_t n = s.len < cap - 1 ? s.len : cap - 1;

	if (n < s.len)
		while (n > 0 && ((unsigned char)s.ptr[n] & 0xc0) == 0x80)
			n--;
	if (n)
		memcpy(dst, s.ptr, n);
	dst[n] = '\0';
}

void iocb_pipe_recent_note(struct iocb_pipe_recent *r, const char *input, const struct iocb_store_attr *attr,
			   const char *field, int64_t now_us)
{
	struct iocb_pipe_match m;
	struct iocb_store_attr_view v;
	struct iocb_store_event_view ev;

	iocb_store_attr_view(attr, &v);
	m.time_us = now_us;
	copy_cut(m.input, sizeof(m.input), iocb_str_make(input, strlen(input)));
	copy_cut(m.field, sizeof(m.field), iocb_str_make(field, strlen(field)));
	copy_cut(m.value, sizeof(m.value), v.value);
	copy_cut(m.tlp, sizeof(m.tlp), iocb_store_attr_tlp(attr));
	copy_cut(m.type, sizeof(m.type), v.type ? iocb_str_make(v.type->name, strlen(v.type->name)) : iocb_str_make("", 0));
	m.event_info[0] = '\0';
	m.event_id = 0;
	if (v.event) {
		iocb_store_event_view(v.event, &ev);
		copy_cut(m.event_info, sizeof(m.event_info), ev.info);
		m.event_id = ev.id;
	}
	pthread_mutex_lock(&r->mu);
	r->slots[r->total % r->cap] = m;
	r->total++;
	pthread_mutex_unlock(&r->mu);
}

size_t iocb_pipe_recent_get(struct iocb_pipe_recent *r, struct iocb_pipe_match *out, size_t max)
{
	size_t n = 0;

	if (!r)
		return 0;
	pthread_mutex_lock(&r->mu);
	for (uint64_t i = r->total; i > 0 && n < max && r->total - i < r->cap; i--)
		out[n++] = r->slots[(i - 1) % r->cap];
	pthread_mutex_unlock(&r->mu);
	return n;
}

unsigned iocb_pipe_recent_cap(const struct iocb_pipe_recent *r)
{
	return r ? r->cap : 0;
}

uint64_t iocb_pipe_recent_total(struct iocb_pipe_recent *r)
{
	uint64_t t;

	if (!r)
		return 0;
	pthread_mutex_lock(&r->mu);
	t = r->total;
	pthread_mutex_unlock(&r->mu);
	return t;
}
