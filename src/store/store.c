/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's life cycle: open/close, commit, the retire list, the RCU
 * reader entry points and stats. See internal.h for the memory layout and
 * concurrency model. The write side lives in attr.c (attribute records:
 * upsert, remove, expiry) and event.c (events), interning and uuids in
 * intern.c, metadata in meta.c; index.c holds the value index and lookups,
 * cidr.c prefix containment, persist.c LMDB.
 *
 * Memory a writer unlinks is retired, and freed in iocb_store_commit()
 * after synchronize_rcu(), which is why commit is meant to be called per
 * batch.
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <urcu.h>

#include "core/mem.h"
#include "store/internal.h"


/*
 * ThreadSanitizer cannot see liburcu's grace periods (liburcu is not
 * instrumented), so it would report every free after synchronize_rcu() as
 * racing with the readers' earlier loads. Model the grace period for it:
 * each read-side unlock releases a sync object, and the writer acquires it
 * after synchronize_rcu(). No code is generated in other builds.
 */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define ST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define ST_TSAN 1
#endif
#ifdef ST_TSAN
#include <sanitizer/tsan_interface.h>
static char tsan_grace; /* address used only as a TSan sync object */
#define TSAN_RELEASE() __tsan_release(&tsan_grace)
#define TSAN_ACQUIRE() __tsan_acquire(&tsan_grace)
#else
#define TSAN_RELEASE() ((void)0)
#define TSAN_ACQUIRE() ((void)0)
#endif

/* ------------------------------------------------------------ retire */

void iocb_store__retire(struct iocb_store *s, void *p, size_t size, enum st_retire_kind kind)
{
	if (s->nretired == s->capretired) {
		s->capretired = s->capretired ? s->capretired * 2 : 256;
		s->retired = iocb_xrealloc(s->retired, s->capretired * sizeof(*s->retired));
	}
	s->retired[s->nretired].p = p;
	s->retired[s->nretired].size = (uint32_t)size;
	s->retired[s->nretired].kind = (uint8_t)kind;
	s->nretired++;
}

static void free_retired(struct iocb_store *s)
{
	for (size_t i = 0; i < s->nretired; i++) {
		struct store_retired *r = &s->retired[i];
		switch (r->kind) {
		case ST_RT_SLAB:
			iocb_store__slab_free(&s->slab, r->p, r->size);
			break;
		case ST_RT_CIDR:
			iocb_store__cidrset_free(r->p);
			break;
		default:
			free(r->p);
			break;
		}
	}
	s->nretired = 0;
	if (s->capretired > 4096) {
		free(s->retired);
		s->retired = NULL;
		s->capretired = 0;
	}
}

/* ------------------------------------------------------------ open / free */

void iocb_store_opts_default(struct iocb_store_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->map_size = (size_t)8 << 30;
	o->durable = true;
}

int iocb_store_open(const struct iocb_store_opts *opts, struct iocb_store **out, struct iocb_err *err)
{
	struct iocb_store *s = iocb_xcalloc(1, sizeof(*s));
	int rc;

	s->opts = *opts;
	if (!s->opts.map_size)
		s->opts.map_size = (size_t)8 << 30;
	pthread_mutex_init(&s->wlock, NULL);
	pthread_mutex_init(&s->cmu, NULL);
	s->noev.store = s;
	/* composites and headroom: ~1.15 value entries per attribute */
	s->vtab = iocb_store__tab_new(opts->expected_attrs + opts->expected_attrs / 7);
	s->utab = iocb_store__tab_new(opts->expected_attrs);
	s->etab_uuid = iocb_store__tab_new(opts->expected_attrs / 8);
	s->etab_id = iocb_store__tab_new(opts->expected_attrs / 8);
	s->etab_sid = iocb_store__tab_new(opts->expected_attrs / 8);
	s->stab = iocb_store__tab_new(1024);
	s->nstrs = 1; /* id 0 is the empty string */
	s->next_sid = 1;
	if (opts->path) {
		rc = iocb_store__persist_open(s, err);
		if (rc < 0) {
			iocb_store_free(s);
			return rc;
		}
	}
	iocb_store__cidr_rebuild(s, false, true);
	iocb_store__cidr_rebuild(s, true, true);
	free_retired(s);
	*out = s;
	return IOCB_OK;
}

void iocb_store_free(struct iocb_store *s)
{
	if (!s)
		return;
	synchronize_rcu();
	TSAN_ACQUIRE();
	iocb_store__persist_close(s);
	free_retired(s);
	for (unsigned c = 0; c < ST_STR_CHUNKS && s->strs[c]; c++) {
		for (unsigned j = 0; j < ST_STR_CHUNK; j++)
			free(s->strs[c][j]);
		free(s->strs[c]);
	}
	for (struct store_meta_kv *kv = s->meta, *next; kv; kv = next) {
		next = kv->next;
		free(kv->key);
		free(kv->val);
		free(kv);
	}
	iocb_store__cidr_free(&s->cidr[0]);
	iocb_store__cidr_free(&s->cidr[1]);
	free(s->vtab);
	free(s->utab);
	free(s->etab_uuid);
	free(s->etab_id);
	free(s->etab_sid);
	free(s->stab);
	free(s->retired);
	free(s->dead);
	free(s->dirty_attrs);
	free(s->dirty_events);
	free(s->scratch);
	free(s->evkey);
	iocb_store__slab_fini(&s->slab);
	pthread_mutex_destroy(&s->wlock);
	pthread_mutex_destroy(&s->cmu);
	free(s);
}

/* ------------------------------------------------------------ commit */

int iocb_store_commit(struct iocb_store *s, struct iocb_err *err)
{
	struct iocb_err local = {0};
	int rc = IOCB_OK;
	bool changed, wrote = false;

	if (!err)
		err = &local; /* the message is kept for iocb_store_stats() */

	pthread_mutex_lock(&s->wlock);
	/* A commit with nothing to write is not counted: an idle source must not look busy. */
	changed = s->ndirty_attrs || s->ndirty_events || s->ndead || s->nretired;
	if (s->ndead) {
		iocb_store__sweep_dead(s);
		for (size_t i = 0; i < s->ndead; i++) {
			iocb_store__retire(s, s->dead[i]->meta, st_evmeta_size(s->dead[i]->meta), ST_RT_SLAB);
			iocb_store__retire(s, s->dead[i], sizeof(*s->dead[i]), ST_RT_SLAB);
		}
		s->ndead = 0;
		ST_STORE(&s->dead_pending, 0); /* the dead events' attributes are unlinked */
	}
	iocb_store__cidr_rebuild(s, false, false);
	iocb_store__cidr_rebuild(s, true, false);
	if (s->p) {
		rc = iocb_store__persist_commit(s, &wrote, err);
		pthread_mutex_lock(&s->cmu);
		if (rc < 0) {
			s->st.commit_errors++;
			s->st.commit_failing = true;
			snprintf(s->st.commit_error, sizeof(s->st.commit_error), "%.*s", (int)sizeof(s->st.commit_error) - 1, err->msg);
		} else {
			s->st.commit_failing = false;
			s->st.commit_error[0] = '\0';
		}
		pthread_mutex_unlock(&s->cmu);
		if (rc < 0)
			goto out; /* dirty lists kept: the next commit retries */
	}
	s->ndirty_attrs = 0;
	s->ndirty_events = 0;
	if (s->nretired) {
		synchronize_rcu();
		TSAN_ACQUIRE();
		free_retired(s);
	}
	if (changed || wrote)
		s->st.commits++;
out:
	pthread_mutex_unlock(&s->wlock);
	return rc;
}

/* ------------------------------------------------------------ listeners */

int iocb_store_listen(struct iocb_store *s, iocb_store_change_cb fn, void *ud)
{
	int h = IOCB_ELIMIT;
	pthread_mutex_lock(&s->wlock);
	for (unsigned i = 0; i < IOCB_STORE_MAX_LISTENERS; i++)
		if (!s->listeners[i].fn) {
			s->listeners[i].fn = fn;
			s->listeners[i].ud = ud;
			s->nlisteners++;
			h = (int)i;
			break;
		}
	pthread_mutex_unlock(&s->wlock);
	return h;
}

void iocb_store_unlisten(struct iocb_store *s, int handle)
{
	if (handle < 0 || handle >= IOCB_STORE_MAX_LISTENERS)
		return;
	/* Listeners run under the writer lock: once we hold it, none is running. */
	pthread_mutex_lock(&s->wlock);
	if (s->listeners[handle].fn) {
		s->listeners[handle].fn = NULL;
		s->listeners[handle].ud = NULL;
		s->nlisteners--;
	}
	pthread_mutex_unlock(&s->wlock);
}

/* ------------------------------------------------------------ readers, stats */

void iocb_store_reader_register(void)
{
	rcu_register_thread();
}
void iocb_store_reader_unregister(void)
{
	rcu_unregister_thread();
}
void iocb_store_read_lock(void)
{
	rcu_read_lock();
}
void iocb_store_read_unlock(void)
{
	TSAN_RELEASE();
	rcu_read_unlock();
}

static uint64_t tab_bytes(const struct store_tab *t)
{
	return sizeof(*t) + (t->n + t->fmask + 1) * 8;
}

bool iocb_store_commit_failing(const struct iocb_store *cs, char *reason, size_t cap)
{
	struct iocb_store *s = (struct iocb_store *)cs;
	bool failing;

	pthread_mutex_lock(&s->cmu);
	failing = s->st.commit_failing;
	if (reason && cap)
		snprintf(reason, cap, "%s", s->st.commit_error);
	pthread_mutex_unlock(&s->cmu);
	return failing;
}

void iocb_store_stats(const struct iocb_store *cs, struct iocb_store_stats *out)
{
	struct iocb_store *s = (struct iocb_store *)cs;
	pthread_mutex_lock(&s->wlock);
	*out = s->st;
	out->mem_bytes = s->slab.reserved + tab_bytes(s->vtab) + tab_bytes(s->utab) + tab_bytes(s->etab_uuid) +
			 tab_bytes(s->etab_id) + tab_bytes(s->etab_sid) + tab_bytes(s->stab) + s->str_bytes +
			 s->st.events * sizeof(struct iocb_store_event);
	for (unsigned f = 0; f < 2; f++) {
		const struct store_cidrset *c = s->cidr[f].set;
		if (c)
			out->mem_bytes += (uint64_t)c->nb * (f ? 20 : 8) + (uint64_t)c->nnodes * 21 + (c->top ? 65537 * 4 : 0);
	}
	pthread_mutex_unlock(&s->wlock);
}
