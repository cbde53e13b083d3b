/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `quality.warninglists` in `iocbus run` (issue #15, docs/QUALITY.md).
 *
 * The lists are applied where the records are built, not where they are
 * matched: a store quality callback marks each record with the set of lists
 * its value is on (wl_set) and the policy's verdict (wl_action), so the hot
 * path reads one byte. A reload (SIGHUP, or the watcher seeing a list file
 * change) loads the new lists off every lock, swaps them in under a write
 * lock and requalifies the store (every record's marks recomputed; changed
 * ones replaced as an edit is).
 *
 * Locks: `lock` (rwlock) guards wl, pol and slot. Readers: the quality
 * callback (store writer thread, under the store's writer lock) and enrich
 * workers resolving names and counting suppressed hits (inside the store's
 * read-side section). The writer is the swap, which holds no store lock, so
 * the order is always store writer lock -> lock. `reload_mu` serialises the
 * reloads of the main thread (SIGHUP) and the watcher. Between a swap and
 * the end of its requalify, records still carry ids of the old lists:
 * their names resolve against the new ones (a foreign id names no list or
 * another one) for that moment; the actions (what matches) are the old
 * ones until the record is requalified.
 */
#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/hash.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/prom.h"
#include "core/time.h"
#include "daemon/internal.h"
#include "enrich/enrich.h"
#include "quality/warninglist.h"
#include "serve/render/render.h"
#include "sources/sources.h"
#include "store/store.h"

struct iocb_daemon__wl {
	struct iocb_store *store;             /* borrowed; outlives this */
	pthread_rwlock_t lock;                /* guards wl, pol, slot */
	struct iocb_wl *wl;                   /* current lists (owned) */
	struct iocb_wl_policy pol[IOCB_STORE_MAX_SOURCES]; /* per source id */
	uint32_t *slot;                       /* per list of wl: its counter index */
	int qhandle;                          /* store quality callback, -1 = none */
	struct iocb_enrich_wl hooks;          /* what enrich calls */
	struct iocb_render_quality render;    /* what /v1/lookup calls */
	struct iocb_config_warninglists cfg;  /* own copy of paths/lists/categories (reloads outlive configs) */
	pthread_mutex_t reload_mu;            /* one reload at a time */
	/* Suppressed hits per list id, grow-only (a list dropped by a reload keeps its count). */
	pthread_mutex_t cmu;                  /* guards cname/ncount growth */
	char *cname[IOCB_WL_MAX_LISTS];       /* list id of counter i */
	_Atomic uint64_t csupp[IOCB_WL_MAX_LISTS]; /* suppressed hits of counter i */
	_Atomic size_t ncount;                /* counters in use */
	/* Gauges and counters of the loads, written under reload_mu. */
	_Atomic uint64_t lists, entries, skipped, reloads_ok, reloads_failed, requalified;
	_Atomic int64_t load_us;              /* duration of the last load (µs) */
	/* The watcher. */
	pthread_t thr;                        /* polls the list files */
	bool thr_on;                          /* thr was started */
	pthread_mutex_t wmu;                  /* guards stop (with wcv) */
	pthread_cond_t wcv;                   /* wakes the watcher to stop */
	bool stop;                            /* the watcher must end */
	uint64_t fingerprint;                 /* of the list files at the last load */
};

/* ------------------------------------------------------------ counters */

static uint32_t counter_for(struct iocb_daemon__wl *x, const char *id)
{
	size_t n = atomic_load(&x->ncount);
	for (size_t i = 0; i < n; i++)
		if (strcmp(x->cname[i], id) == 0)
			return (uint32_t)i;
	pthread_mutex_lock(&x->cmu);
	n = atomic_load(&x->ncount);
	uint32_t c = (uint32_t)(n < IOCB_WL_MAX_LISTS ? n : IOCB_WL_MAX_LISTS - 1);
	if (n < IOCB_WL_MAX_LISTS) {
		x->cname[n] = iocb_xstrdup(id);
		atomic_store(&x->ncount, n + 1);
	}
	pthread_mutex_unlock(&x->cmu);
	return c;
}

/* ------------------------------------------------------------ hooks */

/* The store quality callback: writer thread, store writer lock held. */
static void on_quality(void *ud, const struct iocb_store_attr *a, struct iocb_store_quality *q)
{
	struct iocb_daemon__wl *x = ud;
	pthread_rwlock_rdlock(&x->lock);
	iocb_wl_store_mark(x->wl, x->pol, a, q);
	pthread_rwlock_unlock(&x->lock);
}

/* enrich: names of the lists of a set (worker thread). */
static void hook_names(void *ud, uint16_t set, void (*emit)(void *ctx, struct iocb_str name), void *ctx)
{
	struct iocb_daemon__wl *x = ud;
	pthread_rwlock_rdlock(&x->lock);
	iocb_wl_set_names(x->wl, set, emit, ctx);
	pthread_rwlock_unlock(&x->lock);
}

static void count_one(void *ud, size_t list)
{
	struct iocb_daemon__wl *x = ud;
	atomic_fetch_add_explicit(&x->csupp[x->slot[list]], 1, memory_order_relaxed);
}

/*
 * enrich: a suppressed hit (worker thread). Counted under the lists of the
 * set whose policy is `suppress` for any source (the record's source is
 * not at hand here; a list suppressing for one source and flagging for
 * another is counted when it suppresses anywhere).
 */
static void hook_suppressed(void *ud, uint16_t set)
{
	struct iocb_daemon__wl *x = ud;
	pthread_rwlock_rdlock(&x->lock);
	const uint16_t *ls;
	size_t n = iocb_wl_set_lists(x->wl, set, &ls), counted = 0;
	for (size_t i = 0; i < n; i++) {
		const struct iocb_wl_list *l = iocb_wl_list_get(x->wl, ls[i]);
		bool sup = false;
		for (size_t s = 0; s < IOCB_STORE_MAX_SOURCES && !sup; s++)
			sup = (x->pol[s].all ? x->pol[s].all : x->pol[s].category[l->category]) == IOCB_WL_ACT_SUPPRESS;
		if (sup) {
			count_one(x, ls[i]);
			counted++;
		}
	}
	if (!counted && n) /* a set from before a reload: count it under its first list */
		count_one(x, ls[0]);
	pthread_rwlock_unlock(&x->lock);
}

/* ------------------------------------------------------------ loading */

static void on_skip(void *ud, const char *file, const char *reason)
{
	(void)ud;
	iocb_log(IOCB_LOG_WARN, "warninglists", "\"list skipped\" file=\"%s\" reason=\"%s\"", file, reason);
}

static char **dup_strs(char **v, size_t n)
{
	char **o = iocb_xcalloc(n ? n : 1, sizeof(*o));
	for (size_t i = 0; i < n; i++)
		o[i] = iocb_xstrdup(v[i]);
	return o;
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void cfg_copy(struct iocb_config_warninglists *dst, const struct iocb_config_warninglists *src)
{
	free_strs(dst->paths, dst->npaths);
	free_strs(dst->lists, dst->nlists);
	free_strs(dst->categories, dst->ncategories);
	*dst = *src;
	dst->paths = dup_strs(src->paths, src->npaths);
	dst->lists = dup_strs(src->lists, src->nlists);
	dst->categories = dup_strs(src->categories, src->ncategories);
}

/* The policy of every source id from a configuration: misp's and each feed's override. */
static void policies(const struct iocb_config *c, struct iocb_wl_policy *pol)
{
	for (unsigned s = 0; s < IOCB_STORE_MAX_SOURCES; s++) {
		int over = -1;
		if (s == IOCB_SRCID_MISP)
			over = c->misp_wl_policy;
		else if (s >= IOCB_SRCID_FEED0 && s - IOCB_SRCID_FEED0 < c->nfeeds)
			over = c->feeds[s - IOCB_SRCID_FEED0].wl_policy;
		iocb_wl_policy_from_config(&c->warninglists, over, &pol[s]);
	}
}

/* Size and mtime of every file under the list paths (3 levels: a checkout's lists/<id>/list.json). */
static uint64_t walk_print(const char *path, int depth, uint64_t h)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return h ^ 0x9e3779b97f4a7c15ull;
	int64_t v[3] = {(int64_t)st.st_size, (int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec};
	h = iocb_hash64(v, sizeof(v), h) ^ iocb_hash64(path, strlen(path), h);
	if (!S_ISDIR(st.st_mode) || depth >= 3)
		return h;
	DIR *d = opendir(path);
	if (!d)
		return h;
	struct dirent *e;
	char sub[4096];
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >= (int)sizeof(sub))
			continue;
		h += walk_print(sub, depth + 1, 0x5eed); /* order-free: readdir's order is not stable */
	}
	closedir(d);
	return h;
}

static uint64_t fingerprint(const struct iocb_config_warninglists *c)
{
	uint64_t h = 1;
	for (size_t i = 0; i < c->npaths; i++)
		h = h * 31 + walk_print(c->paths[i], 0, 0x77);
	return h;
}

/*
 * Load the lists of x->cfg (and, with cfg, its policies), swap them in,
 * requalify the store. On a load error the running lists stay. Main thread
 * or watcher; takes reload_mu.
 */
static int apply(struct iocb_daemon__wl *x, const struct iocb_config *cfg, const char *why)
{
	struct iocb_err err = {0};
	struct iocb_wl_load_stats st = {0};
	struct iocb_wl *nw = NULL, *old;
	struct iocb_wl_policy pol[IOCB_STORE_MAX_SOURCES];
	pthread_mutex_lock(&x->reload_mu);
	if (cfg)
		cfg_copy(&x->cfg, &cfg->warninglists);
	uint64_t fp = fingerprint(&x->cfg);
	int64_t t0 = iocb_time_mono_ns();
	int rc = iocb_wl_load_config(&x->cfg, on_skip, x, &nw, &st, &err);
	if (rc < 0) {
		atomic_fetch_add(&x->reloads_failed, 1);
		iocb_log(IOCB_LOG_ERROR, "warninglists", "\"lists not loaded; keeping the running ones\" why=%s error=\"%s\"",
			 why, err.msg);
		pthread_mutex_unlock(&x->reload_mu);
		return rc;
	}
	atomic_store(&x->load_us, (iocb_time_mono_ns() - t0) / 1000);
	uint32_t *slot = iocb_xcalloc(iocb_wl_count(nw) + 1, sizeof(*slot));
	for (size_t i = 0; i < iocb_wl_count(nw); i++)
		slot[i] = counter_for(x, iocb_wl_list_get(nw, i)->id);
	if (cfg)
		policies(cfg, pol);
	pthread_rwlock_wrlock(&x->lock);
	old = x->wl;
	x->wl = nw;
	free(x->slot);
	x->slot = slot;
	if (cfg)
		memcpy(x->pol, pol, sizeof(pol));
	pthread_rwlock_unlock(&x->lock);
	iocb_wl_free(old);
	x->fingerprint = fp;
	atomic_store(&x->lists, st.loaded);
	atomic_store(&x->entries, st.entries);
	atomic_store(&x->skipped, st.skipped);
	size_t changed = 0;
	if (x->qhandle >= 0) { /* at start, iocb_daemon__wl_start() registers the callback, then requalifies */
		rc = iocb_store_requalify(x->store, (uint64_t)time(NULL), &changed, &err);
		if (rc == IOCB_OK)
			rc = iocb_store_commit(x->store, &err);
	}
	if (rc < 0) {
		atomic_fetch_add(&x->reloads_failed, 1);
		iocb_log(IOCB_LOG_ERROR, "warninglists", "\"requalify failed\" error=\"%s\"", err.msg);
	} else {
		atomic_fetch_add(&x->reloads_ok, 1);
		atomic_fetch_add(&x->requalified, changed);
		iocb_log(IOCB_LOG_INFO, "warninglists",
			 "\"lists loaded\" why=%s lists=%zu entries=%zu skipped=%zu load_ms=%.1f requalified=%zu", why,
			 st.loaded, st.entries, st.skipped, (double)atomic_load(&x->load_us) / 1000.0, changed);
	}
	pthread_mutex_unlock(&x->reload_mu);
	return rc;
}

/* ------------------------------------------------------------ watcher */

static void *watch_main(void *arg)
{
	struct iocb_daemon__wl *x = arg;
	pthread_mutex_lock(&x->wmu);
	while (!x->stop) {
		struct timespec dl = iocb_time_deadline(CLOCK_MONOTONIC, x->cfg.watch_interval_s);
		pthread_cond_timedwait(&x->wcv, &x->wmu, &dl);
		if (x->stop)
			break;
		pthread_mutex_unlock(&x->wmu);
		pthread_mutex_lock(&x->reload_mu);
		bool changed = fingerprint(&x->cfg) != x->fingerprint;
		pthread_mutex_unlock(&x->reload_mu);
		if (changed)
			(void)apply(x, NULL, "files_changed");
		pthread_mutex_lock(&x->wmu);
	}
	pthread_mutex_unlock(&x->wmu);
	return NULL;
}

/* ------------------------------------------------------------ life */

/*
 * Marks are persisted with the records (store/quality.c), and a run without
 * the section registers no warninglist callback to recompute them: a
 * record suppressed by an earlier run's lists would stay suppressed. So a
 * store meta key says whether marks may exist, and a start without the
 * section clears them once (a callback that sets "on no list", a requalify).
 */
#define WL_META "quality.warninglists.marks"

static void clear_marks(void *ud, const struct iocb_store_attr *a, struct iocb_store_quality *q)
{
	(void)ud;
	(void)a;
	q->wl_set = 0;
	q->wl_action = IOCB_STORE_WL_NONE;
}

static int marks_flag(struct iocb_store *store, bool on, struct iocb_err *err)
{
	return iocb_store_meta_set(store, WL_META, on ? IOCB_STR_LIT("1") : IOCB_STR_LIT("0"), err);
}

static int clear_old_marks(struct iocb_store *store, struct iocb_err *err)
{
	char v[8];
	size_t vl = 0;
	if (iocb_store_meta_get(store, WL_META, v, sizeof(v), &vl) != IOCB_OK || vl != 1 || v[0] != '1')
		return IOCB_OK;
	int h = iocb_store_quality_add(store, clear_marks, NULL);
	if (h < 0)
		return iocb_err_set(err, h, "quality.warninglists: no store quality slot left to clear old marks");
	size_t changed = 0;
	int rc = iocb_store_requalify(store, (uint64_t)time(NULL), &changed, err);
	iocb_store_quality_remove(store, h);
	if (rc == IOCB_OK)
		rc = marks_flag(store, false, err);
	if (rc == IOCB_OK)
		rc = iocb_store_commit(store, err);
	if (rc == IOCB_OK)
		iocb_log(IOCB_LOG_INFO, "warninglists", "\"marks of an earlier run cleared\" records=%zu", changed);
	return rc;
}

int iocb_daemon__wl_start(struct iocb_daemon__wl **out, const struct iocb_config *c, struct iocb_store *store,
			  struct iocb_err *err)
{
	*out = NULL;
	if (!c->warninglists.present)
		return clear_old_marks(store, err);
	struct iocb_daemon__wl *x = iocb_xcalloc(1, sizeof(*x));
	x->store = store;
	x->qhandle = -1;
	pthread_rwlock_init(&x->lock, NULL);
	pthread_mutex_init(&x->reload_mu, NULL);
	pthread_mutex_init(&x->cmu, NULL);
	pthread_mutex_init(&x->wmu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->wcv, &ca);
	pthread_condattr_destroy(&ca);
	x->hooks = (struct iocb_enrich_wl){hook_names, hook_suppressed, x};
	x->render = (struct iocb_render_quality){.names = hook_names, .names_ud = x};
	*out = x;
	int rc = apply(x, c, "start");
	if (rc < 0)
		return iocb_err_set(err, rc, "quality.warninglists: the lists cannot be loaded (see the log)");
	/* Registered after the first load, then requalify: records loaded before (intel:, LMDB) get marks. */
	x->qhandle = iocb_store_quality_add(store, on_quality, x);
	if (x->qhandle < 0)
		return iocb_err_set(err, x->qhandle, "quality.warninglists: no store quality slot left");
	size_t changed = 0;
	rc = iocb_store_requalify(store, (uint64_t)time(NULL), &changed, err);
	if (rc == IOCB_OK)
		rc = marks_flag(store, true, err);
	if (rc == IOCB_OK)
		rc = iocb_store_commit(store, err);
	if (rc < 0)
		return rc;
	atomic_fetch_add(&x->requalified, changed);
	if (c->warninglists.watch) {
		if (pthread_create(&x->thr, NULL, watch_main, x) != 0)
			return iocb_err_set(err, IOCB_EIO, "quality.warninglists: cannot start the watcher thread");
		x->thr_on = true;
	}
	return IOCB_OK;
}

int iocb_daemon__wl_reload(struct iocb_daemon__wl *x, const struct iocb_config *c)
{
	if (!x) {
		if (c->warninglists.present)
			iocb_log(IOCB_LOG_WARN, "daemon", "\"quality.warninglists added: it applies on restart\"");
		return IOCB_OK;
	}
	if (!c->warninglists.present) {
		iocb_log(IOCB_LOG_WARN, "daemon", "\"quality.warninglists removed: the lists stay until restart\"");
		return IOCB_OK;
	}
	return apply(x, c, "sighup");
}

const struct iocb_enrich_wl *iocb_daemon__wl_hooks(const struct iocb_daemon__wl *x)
{
	return x ? &x->hooks : NULL;
}

const struct iocb_render_quality *iocb_daemon__wl_render(const struct iocb_daemon__wl *x)
{
	return x ? &x->render : NULL;
}

void iocb_daemon__wl_stop(struct iocb_daemon__wl *x)
{
	if (!x)
		return;
	if (x->thr_on) {
		pthread_mutex_lock(&x->wmu);
		x->stop = true;
		pthread_cond_signal(&x->wcv);
		pthread_mutex_unlock(&x->wmu);
		pthread_join(x->thr, NULL);
	}
	if (x->qhandle >= 0)
		iocb_store_quality_remove(x->store, x->qhandle);
	iocb_wl_free(x->wl);
	free(x->slot);
	cfg_copy(&x->cfg, &(struct iocb_config_warninglists){0});
	free_strs(x->cfg.paths, 0);
	free_strs(x->cfg.lists, 0);
	free_strs(x->cfg.categories, 0);
	for (size_t i = 0; i < atomic_load(&x->ncount); i++)
		free(x->cname[i]);
	pthread_rwlock_destroy(&x->lock);
	pthread_mutex_destroy(&x->reload_mu);
	pthread_mutex_destroy(&x->cmu);
	pthread_mutex_destroy(&x->wmu);
	pthread_cond_destroy(&x->wcv);
	free(x);
}

int iocb_daemon__wl_metrics(struct iocb_daemon__wl *x, struct iocb_buf *out)
{
	static const char *const ok[] = {"result", "ok", NULL}, *const error[] = {"result", "error", NULL};
	struct iocb_prom p;
	if (!x)
		return IOCB_OK;
	iocb_prom_begin(&p, out);
	iocb_prom_head(&p, "iocbus_quality_warninglist_suppressed_total", "counter",
		       "Matches not made because the indicator's value is on a warninglist whose policy is suppress, by list.");
	size_t n = atomic_load(&x->ncount);
	for (size_t i = 0; i < n; i++) {
		const char *l[] = {"list", x->cname[i], NULL};
		iocb_prom_u64(&p, "iocbus_quality_warninglist_suppressed_total", l, atomic_load(&x->csupp[i]));
	}
	iocb_prom_head(&p, "iocbus_quality_warninglist_lists", "gauge", "Warninglists loaded.");
	iocb_prom_u64(&p, "iocbus_quality_warninglist_lists", NULL, atomic_load(&x->lists));
	iocb_prom_head(&p, "iocbus_quality_warninglist_entries", "gauge", "Entries of the loaded warninglists.");
	iocb_prom_u64(&p, "iocbus_quality_warninglist_entries", NULL, atomic_load(&x->entries));
	iocb_prom_head(&p, "iocbus_quality_warninglist_skipped", "gauge",
		       "List files skipped as broken at the last load (the log says why).");
	iocb_prom_u64(&p, "iocbus_quality_warninglist_skipped", NULL, atomic_load(&x->skipped));
	iocb_prom_head(&p, "iocbus_quality_warninglist_load_seconds", "gauge", "Duration of the last load of the lists.");
	iocb_prom_f(&p, "iocbus_quality_warninglist_load_seconds", NULL, 6, (double)atomic_load(&x->load_us) / 1e6);
	iocb_prom_head(&p, "iocbus_quality_warninglist_reloads_total", "counter",
		       "Loads of the lists (start, SIGHUP, files changed) by result.");
	iocb_prom_u64(&p, "iocbus_quality_warninglist_reloads_total", ok, atomic_load(&x->reloads_ok));
	iocb_prom_u64(&p, "iocbus_quality_warninglist_reloads_total", error, atomic_load(&x->reloads_failed));
	iocb_prom_head(&p, "iocbus_quality_warninglist_requalified_total", "counter",
		       "Records whose warninglist marks changed when lists were loaded.");
	iocb_prom_u64(&p, "iocbus_quality_warninglist_requalified_total", NULL, atomic_load(&x->requalified));
	return iocb_prom_end(&p, "warninglists");
}
