/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Two-stage load: the calling thread parses, a second thread writes the
 * store. Parsing and indexing cost about the same per attribute, so on two
 * cores a large file loads in roughly half the time.
 *
 * The parser's callback views live only for the call, so each item is deep
 * copied into a fixed-size batch buffer (pointers stay valid because a batch
 * never moves). Full batches go through a bounded queue of IOCB_PIPE_DEPTH
 * buffers: when the writer falls behind the parser blocks (backpressure, not
 * loss, and memory stays bounded). Items keep their order.
 *
 * Threads: iocb_ingest__pipe_run() runs the parser on the caller's thread
 * and one writer thread it creates and joins. Only the writer touches the
 * store and the ingest counters it owns (upserts, removes...); skip
 * counters are the parser's.
 */
#include "ingest/internal.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define IOCB_PIPE_DEPTH 4
#define IOCB_PIPE_BATCH (4u << 20)

enum item_kind { ITEM_ATTR = 1, ITEM_EVENT = 2 };

struct item {
	uint32_t kind;                 /* enum item_kind */
	uint32_t action;               /* event action */
	size_t size;                   /* bytes of this item, aligned */
	union {
		struct iocb_misp_attr attr;
		struct iocb_misp_event event;
	} u;
};

struct batch {
	char *mem;     /* IOCB_PIPE_BATCH bytes, or more for one huge item */
	size_t cap;
	size_t used;
};

struct pipe {
	struct iocb_ingest *in;
	struct iocb_misp_handlers down;  /* the real handlers, run on the writer */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch *full[IOCB_PIPE_DEPTH]; /* ring of batches ready for the writer */
	unsigned head, count;
	struct batch *spare[IOCB_PIPE_DEPTH + 2]; /* recycled buffers */
	unsigned nspare;
	bool done;                       /* parser finished */
	bool stop;                       /* writer asked the parser to stop */
	struct batch *cur;               /* batch being filled by the parser */
};

static struct batch *batch_get(struct pipe *p, size_t need)
{
	struct batch *b = NULL;

	pthread_mutex_lock(&p->mu);
	if (p->nspare)
		b = p->spare[--p->nspare];
	pthread_mutex_unlock(&p->mu);
	if (!b) {
		b = iocb_xcalloc(1, sizeof(*b));
		b->cap = IOCB_PIPE_BATCH;
		b->mem = iocb_xmalloc(b->cap);
	}
	if (b->cap < need) {
		free(b->mem);
		b->cap = need;
		b->mem = iocb_xmalloc(need);
	}
	b->used = 0;
	return b;
}

static void batch_put_spare(struct pipe *p, struct batch *b)
{
	pthread_mutex_lock(&p->mu);
	if (p->nspare < IOCB_ARRAY_LEN(p->spare) && b->cap == IOCB_PIPE_BATCH) {
		p->spare[p->nspare++] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&p->mu);
	if (b) {
		free(b->mem);
		free(b);
	}
}

/* Hand the current batch to the writer; blocks while the queue is full. */
static void flush(struct pipe *p)
{
	struct batch *b = p->cur;

	p->cur = NULL;
	if (!b)
		return;
	if (!b->used) {
		batch_put_spare(p, b);
		return;
	}
	pthread_mutex_lock(&p->mu);
	while (p->count == IOCB_PIPE_DEPTH && !p->stop)
		pthread_cond_wait(&p->cv, &p->mu);
	p->full[(p->head + p->count) % IOCB_PIPE_DEPTH] = b;
	p->count++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Bytes needed to deep-copy the strings and tags of an event / attribute. */
static size_t event_extra(const struct iocb_misp_event *e)
{
	size_t n = align8(e->ntags * sizeof(struct iocb_misp_tag)) + e->uuid.len + e->info.len + e->orgc_name.len +
		   e->orgc_uuid.len + e->date.len;

	for (size_t i = 0; i < e->ntags; i++)
		n += e->tags[i].name.len;
	return n;
}

static size_t attr_extra(const struct iocb_misp_attr *a)
{
	size_t n = align8(sizeof(struct iocb_misp_event)) + event_extra(a->event) +
		   align8(a->ntags * sizeof(struct iocb_misp_tag)) + a->uuid.len + a->category.len + a->value.len +
		   a->part[0].len + a->part[1].len + a->comment.len + a->object_relation.len;

	for (size_t i = 0; i < a->ntags; i++)
		n += a->tags[i].name.len;
	return n;
}

struct cursor {
	char *p;
};

/* n bytes at the next 8-byte boundary (strings before it leave it unaligned). */
static void *take(struct cursor *c, size_t n)
{
	char *r = (char *)(((uintptr_t)c->p + 7) & ~(uintptr_t)7);

	c->p = r + align8(n);
	return r;
}

static void copy_str(struct cursor *c, struct iocb_str *s)
{
	char *d = c->p;

	if (s->len)
		memcpy(d, s->ptr, s->len);
	s->ptr = d;
	c->p += s->len;
}

static const struct iocb_misp_tag *copy_tags(struct cursor *c, const struct iocb_misp_tag *t, size_t n)
{
	struct iocb_misp_tag *d = take(c, n * sizeof(*d));

	if (n)
		memcpy(d, t, n * sizeof(*d));
	return d;
}

static void copy_event_strings(struct cursor *c, struct iocb_misp_event *e)
{
	struct iocb_misp_tag *tags = (struct iocb_misp_tag *)copy_tags(c, e->tags, e->ntags);

	for (size_t i = 0; i < e->ntags; i++)
		copy_str(c, &tags[i].name);
	e->tags = tags;
	copy_str(c, &e->uuid);
	copy_str(c, &e->info);
	copy_str(c, &e->orgc_name);
	copy_str(c, &e->orgc_uuid);
	copy_str(c, &e->date);
}

static struct item *reserve(struct pipe *p, size_t size)
{
	struct item *it;

	if (p->cur && p->cur->cap - p->cur->used < size)
		flush(p);
	if (!p->cur)
		p->cur = batch_get(p, size);
	it = (struct item *)(p->cur->mem + p->cur->used);
	p->cur->used += size;
	it->size = size;
	return it;
}

static int up_attr(void *ud, const struct iocb_misp_attr *a)
{
	struct pipe *p = ud;
	size_t size = align8(align8(sizeof(struct item)) + attr_extra(a) + 64);
	struct item *it;
	struct cursor c;

	if (p->stop)
		return IOCB_EIO;
	it = reserve(p, size);
	it->kind = ITEM_ATTR;
	it->u.attr = *a;
	c.p = (char *)it + align8(sizeof(struct item));
	struct iocb_misp_event *ev = take(&c, sizeof(*ev));
	*ev = *a->event;
	copy_event_strings(&c, ev);
	it->u.attr.event = ev;
	/* The parts are usually slices of the value, but not always (normalised copies). */
	struct iocb_misp_tag *tags = (struct iocb_misp_tag *)copy_tags(&c, a->tags, a->ntags);
	for (size_t i = 0; i < a->ntags; i++)
		copy_str(&c, &tags[i].name);
	it->u.attr.tags = tags;
	copy_str(&c, &it->u.attr.uuid);
	copy_str(&c, &it->u.attr.category);
	copy_str(&c, &it->u.attr.value);
	copy_str(&c, &it->u.attr.part[0]);
	copy_str(&c, &it->u.attr.part[1]);
	copy_str(&c, &it->u.attr.comment);
	copy_str(&c, &it->u.attr.object_relation);
	return IOCB_OK;
}

static int up_event(void *ud, const struct iocb_misp_event *e, enum iocb_misp_action action)
{
	struct pipe *p = ud;
	size_t size = align8(align8(sizeof(struct item)) + event_extra(e) + 64);
	struct item *it;
	struct cursor c;

	if (p->stop)
		return IOCB_EIO;
	it = reserve(p, size);
	it->kind = ITEM_EVENT;
	it->action = (uint32_t)action;
	it->u.event = *e;
	c.p = (char *)it + align8(sizeof(struct item));
	copy_event_strings(&c, &it->u.event);
	return IOCB_OK;
}

/* Skips are reported on the parser thread, to the real handler's context. */
static void up_skip(void *ud, enum iocb_misp_skip reason, const char *detail)
{
	struct pipe *p = ud;

	if (p->down.on_skip)
		p->down.on_skip(p->down.ud, reason, detail);
}

static void *writer_main(void *arg)
{
	struct pipe *p = arg;

	for (;;) {
		struct batch *b;

		pthread_mutex_lock(&p->mu);
		while (p->count == 0 && !p->done)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->count == 0) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		b = p->full[p->head];
		p->head = (p->head + 1) % IOCB_PIPE_DEPTH;
		p->count--;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);

		for (size_t off = 0; off < b->used;) {
			struct item *it = (struct item *)(b->mem + off);
			int rc = it->kind == ITEM_ATTR
					 ? p->down.on_attr(p->down.ud, &it->u.attr)
					 : p->down.on_event(p->down.ud, &it->u.event, (enum iocb_misp_action)it->action);
			if (rc < 0) {
				pthread_mutex_lock(&p->mu);
				p->stop = true;
				pthread_cond_broadcast(&p->cv);
				pthread_mutex_unlock(&p->mu);
			}
			off += it->size;
		}
		batch_put_spare(p, b);
	}
}

int iocb_ingest__pipe_run(struct iocb_ingest *in, const struct iocb_misp_handlers *down,
			  int (*parse)(void *arg, const struct iocb_misp_handlers *h), void *arg)
{
	struct iocb_misp_handlers up;
	struct pipe p;
	pthread_t th;
	int rc;

	memset(&p, 0, sizeof(p));
	p.in = in;
	p.down = *down;
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	up.on_attr = up_attr;
	up.on_event = up_event;
	up.on_skip = up_skip;
	up.ud = &p;
	if (pthread_create(&th, NULL, writer_main, &p) != 0) {
		/* No thread: parse and write on this one. */
		rc = parse(arg, down);
		goto out;
	}
	rc = parse(arg, &up);
	flush(&p);
	pthread_mutex_lock(&p.mu);
	p.done = true;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.mu);
	pthread_join(th, NULL);
out:
	if (p.cur)
		batch_put_spare(&p, p.cur);
	for (unsigned i = 0; i < p.nspare; i++) {
		free(p.spare[i]->mem);
		free(p.spare[i]);
	}
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	return rc;
}
