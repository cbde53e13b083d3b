/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `iocbus run` (see daemon.h). The main thread owns everything here: it
 * starts and stops source generations and is the only writer of `gen`.
 * The HTTP thread reads the current generation for /metrics under gen_mu,
 * which the main thread also holds while it swaps generations, so a
 * scrape never sees a half-torn-down struct iocb_sources_sync.
 *
 * iocb_daemon_run() reads as its steps, one function each: allocator
 * tuning, signal mask, configuration, store, HTTP endpoint, the first
 * generation, the log pipeline, the signal loop, and the stop in reverse
 * order. What decides or composes without threads (health line, counters,
 * reload decisions) is in internal.h for the unit tests.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/counter.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/notify.h"
#include "core/prom.h"
#include "core/time.h"
#include "daemon/internal.h"
#include "filter/filter.h"
#include "ingest/ingest.h"
#include "pipe/pipe.h"
#include "json/json.h"
#include "serve/bus/bus.h"
#include "serve/http/auth.h"
#include "quality/decay.h"
#include "serve/http/http.h"
#include "sources/sources.h"
#include "store/store.h"

#define MAX_RUNNING 8 /* zmq or kafka, pull, feeds */
#define SIGNAL_POLL_NS 200000000L /* how often the signal loop looks at the pipeline */

/* One configuration generation: the config, its filter, the sources. */
struct generation {
	struct iocb_config *cfg;                  /* owned */
	struct iocb_filter *filter;               /* owned */
	struct iocb_sources_sync sync;            /* shared state of the sources */
	struct iocb_source *running[MAX_RUNNING]; /* started sources, joined on stop */
	size_t nrunning;                          /* entries of running[] */
	bool started;                             /* sync initialised and sources started */
};

struct daemon {
	const struct iocb_daemon_opts *opts; /* borrowed */
	struct iocb_store *store;            /* owned; lives across reloads */
	struct iocb_httpd *http;             /* owned */
	pthread_mutex_t gen_mu;              /* guards `gen` and `pipe` against the HTTP thread */
	struct generation *gen;              /* current generation (owned) */
	struct iocb_config *pipe_cfg;        /* owned: the start-up configuration the pipeline keeps */
	struct iocb_pipe *pipe;              /* owned; NULL without inputs (set under gen_mu) */
	struct iocb_daemon__counters counters; /* reloads, refiltered, start time (written by the main thread) */
	struct iocb_daemon__services sv;     /* bus and sightings: set before the HTTP thread, cleared after it */
	struct iocb_notify notify;           /* systemd's NOTIFY_SOCKET (main thread only) */
	struct iocb_daemon__wl *wl;          /* quality.warninglists, or NULL; set before the HTTP thread */
	struct iocb_daemon__quality quality; /* decay and expiry: started after the store, before the bus */
	bool stopping;                       /* SIGTERM seen (under gen_mu) */
	/* issue #16 status page: the status page (status.c) and http.auth; set before the HTTP thread, freed after it */
	struct iocb_daemon__status *status;  /* history and settings; NULL without the endpoint */
	struct iocb_pipe_recent *recent;     /* the pipeline's last matches; NULL when http.status.matches is 0 */
	struct iocb_http_auth *auth;         /* http.auth, or NULL */
};

/*
 * Main thread: tell the service manager (systemd Type=notify) what the
 * daemon does; a no-op without NOTIFY_SOCKET. A manager that went away is
 * logged, not fatal.
 */
static void notify(struct daemon *d, const char *msg)
{
	if (iocb_notify_send(&d->notify, msg) < 0)
		iocb_log(IOCB_LOG_WARN, "daemon", "\"service manager notification failed\" errno=%d", errno);
}

/* ------------------------------------------------------------ health and metrics */

bool iocb_daemon__health_render(const struct iocb_daemon__health *h, struct iocb_buf *out)
{
	int rc = 0;

	/*
	 * A store whose commits fail still answers lookups from memory, and a
	 * restart would lose what is not persisted without curing a full disk:
	 * "degraded" with 200, like a failing output, plus the reason.
	 */
	rc |= iocb_buf_append_c(out, !h->running ? "stopping" : h->store_failing ? "degraded" : "ok");
	if (h->running)
		for (size_t i = 0; i < iocb_sources_sync_metrics_count(h->sync); i++) {
			struct iocb_sources_sync_metrics *m = iocb_sources_sync_metrics_get(h->sync, i);
			rc |= iocb_buf_printf(out, " %s=%s", m->name, IOCB_M_GET(m->up) ? "up" : "down");
		}
	/* Informative only: restarting iocbus does not cure an Elasticsearch outage, the spool rides it out. */
	if (h->running && h->outputs >= 0)
		rc |= iocb_buf_printf(out, " outputs=%s", h->outputs ? "up" : "failing");
	if (h->running && h->bus)
		rc |= iocb_buf_append_c(out, " bus=up");
	if (h->running && h->store_failing)
		rc |= iocb_buf_printf(out, " store=failing (%s)", h->store_failing);
	rc |= iocb_buf_putc(out, '\n');
	(void)rc; /* a full buffer truncates the line; the HTTP module caps it */
	return h->running;
}

int iocb_daemon__counters_render(const struct iocb_daemon__counters *c, struct iocb_buf *out)
{
	static const char *const ok[] = {"result", "ok", NULL}, *const error[] = {"result", "error", NULL};
	struct iocb_prom p;

	iocb_prom_begin(&p, out);
	iocb_prom_head(&p, "iocbus_config_reloads_total", "counter", "SIGHUP reloads by result.");
	iocb_prom_u64(&p, "iocbus_config_reloads_total", ok, c->reloads_ok);
	iocb_prom_u64(&p, "iocbus_config_reloads_total", error, c->reloads_failed);
	iocb_prom_head(&p, "iocbus_filter_removed_total", "counter",
		       "Attributes removed because a reloaded filter rejects them.");
	iocb_prom_u64(&p, "iocbus_filter_removed_total", NULL, c->refiltered);
	iocb_prom_head(&p, "iocbus_start_time_seconds", "gauge", "Wall-clock time the daemon started.");
	iocb_prom_f(&p, "iocbus_start_time_seconds", NULL, 3, (double)c->started_us / 1e6);
	return iocb_prom_end(&p, "daemon");
}

/*
 * HTTP thread. One renderer that does not fit fails the whole scrape: the
 * body is emptied, which the HTTP endpoint answers with 500 (core/prom.h).
 */
static void metrics_cb(void *ud, struct iocb_buf *out)
{
	struct daemon *d = ud;
	size_t start = out->len;
	int rc = IOCB_OK;

	pthread_mutex_lock(&d->gen_mu);
	if (d->gen && d->gen->started)
		rc = iocb_sources_sync_metrics_render(&d->gen->sync, out);
	if (rc == IOCB_OK)
		rc = iocb_pipe_metrics_render(d->pipe, out);
	if (rc == IOCB_OK)
		rc = iocb_daemon__wl_metrics(d->wl, out);
	if (rc == IOCB_OK)
		rc = iocb_daemon__counters_render(&d->counters, out);
	pthread_mutex_unlock(&d->gen_mu);
	if (rc == IOCB_OK)
		rc = iocb_daemon__services_metrics(&d->sv, out);
	if (rc == IOCB_OK) /* issue #16 */
		rc = iocb_daemon__status_metrics(d->status, d->recent, out);
	if (rc == IOCB_OK && d->quality.store) {
		struct iocb_store_stats st;
		iocb_store_stats(d->store, &st);
		rc = iocb_daemon__quality_metrics(&d->quality, &st, out);
	}
	if (rc != IOCB_OK) {
		out->len = start;
		if (out->ptr)
			out->ptr[start] = '\0';
	}
}

/* HTTP thread. */
static bool health_cb(void *ud, struct iocb_buf *out)
{
	struct daemon *d = ud;
	struct iocb_daemon__health h = {.outputs = -1};
	char why[200];
	bool ok;

	/* Outside gen_mu: the store takes its own lock. */
	if (iocb_store_commit_failing(d->store, why, sizeof(why)))
		h.store_failing = why;
	pthread_mutex_lock(&d->gen_mu);
	h.running = !d->stopping && d->gen && d->gen->started;
	if (h.running) {
		h.sync = &d->gen->sync;
		h.bus = d->sv.bus != NULL;
		if (d->pipe)
			h.outputs = iocb_pipe_healthy(d->pipe) ? 1 : 0;
	}
	ok = iocb_daemon__health_render(&h, out);
	pthread_mutex_unlock(&d->gen_mu);
	return ok;
}

/* issue #16 status page: GET /v1/status. HTTP thread; the store and bus snapshots are taken outside gen_mu. */
static void status_cb(void *ud, struct iocb_buf *out)
{
	struct daemon *d = ud;
	struct iocb_store_stats ss;
	struct iocb_bus_stats bs;
	struct iocb_daemon__status_view v = {.store = &ss, .started_us = d->counters.started_us};
	char why[200];
	struct iocb_jw w;

	iocb_store_stats(d->store, &ss);
	if (d->sv.bus) {
		iocb_bus_stats(d->sv.bus, &bs);
		v.bus = &bs;
	}
	v.health = iocb_store_commit_failing(d->store, why, sizeof(why)) ? "degraded" : "ok";
	iocb_jw_init(&w, out);
	pthread_mutex_lock(&d->gen_mu);
	v.now_us = iocb_time_real_us();
	if (d->stopping || !d->gen || !d->gen->started)
		v.health = "stopping";
	else
		v.sync = &d->gen->sync;
	v.pipe = d->pipe;
	if (d->pipe && d->pipe_cfg) {
		v.queue_max = d->pipe_cfg->pipeline.queue_bytes;
		v.spool_max = d->pipe_cfg->pipeline.spool_max;
	}
	iocb_daemon__status_json(d->status, d->recent, &v, &w);
	pthread_mutex_unlock(&d->gen_mu);
	/* Safe to embed in a page too: indicator values and event infos are anyone's text. */
	if (iocb_jw_rc(&w) != IOCB_OK || iocb_daemon__json_script_safe(out, 0) < 0)
		out->len = 0; /* the endpoint answers 500 */
}

/* issue #16 status page: one history sample from the signal loop (main thread); a point every IOCB_DAEMON__STATUS_STEP_S. */
static void status_tick(struct daemon *d)
{
	struct iocb_daemon__sample s[IOCB_DAEMON__STATUS_SERIES];
	struct iocb_pipe_item_status in[IOCB_DAEMON__STATUS_SERIES];
	size_t n = 0, nin;

	if (!d->status)
		return;
	pthread_mutex_lock(&d->gen_mu);
	nin = iocb_pipe_inputs_status(d->pipe, in, IOCB_DAEMON__STATUS_SERIES);
	for (size_t i = 0; i < nin; i++, n++) {
		memset(&s[n], 0, sizeof(s[n]));
		snprintf(s[n].name, sizeof(s[n].name), "%s", in[i].name);
		s[n].input = true;
		s[n].v[0] = in[i].events;
		s[n].v[1] = in[i].matched;
	}
	for (size_t i = 0; d->gen && d->gen->started && i < iocb_sources_sync_metrics_count(&d->gen->sync) &&
			   n < IOCB_DAEMON__STATUS_SERIES;
	     i++, n++) {
		struct iocb_sources_sync_metrics *m = iocb_sources_sync_metrics_get(&d->gen->sync, i);
		memset(&s[n], 0, sizeof(s[n]));
		snprintf(s[n].name, sizeof(s[n].name), "%s", m->name);
		s[n].v[0] = IOCB_M_GET(m->acts[IOCB_SA_UPSERT]) + IOCB_M_GET(m->acts[IOCB_SA_REMOVE]);
	}
	pthread_mutex_unlock(&d->gen_mu);
	(void)iocb_daemon__status_sample(d->status, iocb_time_real_us(), s, n);
}

/* ------------------------------------------------------------ generations */

static void gen_free(struct generation *g)
{
	if (!g)
		return;
	iocb_filter_free(g->filter);
	iocb_config_free(g->cfg);
	free(g);
}

/* Build a generation from a loaded config (takes ownership of cfg, even on failure). */
static int gen_new(struct iocb_config *cfg, struct generation **out, struct iocb_err *err)
{
	struct generation *g = iocb_xcalloc(1, sizeof(*g));
	int rc;

	g->cfg = cfg;
	rc = iocb_filter_new(cfg->filters, cfg->nfilters, &cfg->filter_opts, &g->filter, err);
	if (rc < 0) {
		gen_free(g);
		return rc;
	}
	*out = g;
	return IOCB_OK;
}

typedef int (*start_fn)(struct iocb_sources_sync *y, struct iocb_source **out, struct iocb_err *err);

static void gen_stop(struct generation *g)
{
	if (!g->started)
		return;
	iocb_sources_sync_stop(&g->sync);
	for (size_t i = g->nrunning; i-- > 0;)
		g->running[i]->join(g->running[i]);
	g->nrunning = 0;
	struct iocb_err err = {0};
	if (iocb_sources_sync_commit(&g->sync, &err) < 0)
		iocb_log(IOCB_LOG_ERROR, "daemon", "\"final commit failed\" error=\"%s\"", err.msg);
}

/*
 * Start the sources the configuration asks for. A source that fails to
 * start is an error. Holds gen_mu throughout: the HTTP thread must not see
 * the sync half initialised or its metrics table growing (sources register
 * their counters while they start; none of them takes gen_mu).
 */
static int gen_start_locked(struct daemon *d, struct generation *g, bool reset_cursor, struct iocb_err *err);

static int gen_start(struct daemon *d, struct generation *g, bool reset_cursor, struct iocb_err *err)
{
	pthread_mutex_lock(&d->gen_mu);
	int rc = gen_start_locked(d, g, reset_cursor, err);
	pthread_mutex_unlock(&d->gen_mu);
	return rc;
}

static int gen_start_locked(struct daemon *d, struct generation *g, bool reset_cursor, struct iocb_err *err)
{
	const struct iocb_config *c = g->cfg;
	struct {
		bool want;
		start_fn fn;
		const char *name;
	} plan[] = {
		{c->api.present, iocb_sources_pull_start, "pull"},
		{c->zmq.present, iocb_sources_zmq_start, "zmq"},
		{c->kafka.present, iocb_sources_kafka_start, "kafka"},
		{c->nfeeds > 0, iocb_sources_feed_start, "feeds"},
	};
	int rc = IOCB_OK;

	iocb_sources_sync_init(&g->sync, d->store, g->filter, g->cfg);
	if (reset_cursor)
		iocb_sources_sync_cursor_reset(&g->sync);
	g->started = true;
	for (size_t i = 0; i < IOCB_ARRAY_LEN(plan); i++) {
		struct iocb_source *src = NULL;
		if (!plan[i].want)
			continue;
		rc = plan[i].fn(&g->sync, &src, err);
		if (rc < 0) {
			iocb_log(IOCB_LOG_ERROR, "daemon", "\"cannot start source\" source=%s error=\"%s\"", plan[i].name,
				 err->msg);
			break;
		}
		if (src)
			g->running[g->nrunning++] = src;
	}
	if (rc < 0) {
		gen_stop(g);
		return rc;
	}
	iocb_log(IOCB_LOG_INFO, "daemon", "\"sources started\" count=%zu cursor=%" PRIu64, g->nrunning,
		 iocb_sources_sync_cursor(&g->sync));
	return IOCB_OK;
}

static void gen_retire(struct daemon *d, struct generation *g)
{
	gen_stop(g);
	pthread_mutex_lock(&d->gen_mu);
	if (d->gen == g)
		d->gen = NULL;
	if (g->started)
		iocb_sources_sync_fini(&g->sync);
	g->started = false;
	pthread_mutex_unlock(&d->gen_mu);
	gen_free(g);
}

/* ------------------------------------------------------------ filter change */

/* Remove what the new filter rejects (see iocb_ingest_refilter); the pull's reconcile fetches what it admits. */
static void refilter_store(struct daemon *d, const struct generation *g)
{
	struct iocb_ingest *in = iocb_ingest_new(d->store, g->filter, IOCB_SRCID_MISP);
	struct iocb_err err = {0};
	size_t n = 0;

	if (iocb_ingest_refilter(in, 0, &n, &err) < 0)
		iocb_log(IOCB_LOG_WARN, "daemon", "\"filter changed; stored attributes not re-checked\" why=\"%s\"",
			 err.msg);
	iocb_ingest_free(in);
	d->counters.refiltered += n;
	if (iocb_store_commit(d->store, &err) < 0)
		iocb_log(IOCB_LOG_ERROR, "daemon", "\"commit failed\" error=\"%s\"", err.msg);
	iocb_log(IOCB_LOG_INFO, "daemon", "\"filter changed\" removed=%zu", n);
}

/* ------------------------------------------------------------ reload */

static bool str_eq_null(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool strlist_equal(char **a, size_t na, char **b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

bool iocb_daemon__filters_equal(const struct iocb_config *a, const struct iocb_config *b)
{
	if (a->nfilters != b->nfilters || a->filter_opts.org_field != b->filter_opts.org_field ||
	    a->filter_opts.event_tags != b->filter_opts.event_tags)
		return false;
	for (size_t i = 0; i < a->nfilters; i++) {
		const struct iocb_filter_spec *x = &a->filters[i], *y = &b->filters[i];
		if (x->has_orgs != y->has_orgs || x->has_types != y->has_types || x->has_tags != y->has_tags ||
		    !strlist_equal(x->orgs, x->norgs, y->orgs, y->norgs) ||
		    !strlist_equal(x->types, x->ntypes, y->types, y->ntypes) ||
		    !strlist_equal(x->tags, x->ntags, y->tags, y->ntags))
			return false;
	}
	return true;
}

bool iocb_daemon__restart_settings_changed(const struct iocb_config *old, const struct iocb_config *ng)
{
	return !str_eq_null(ng->store.path, old->store.path) || ng->store.match_non_ids != old->store.match_non_ids ||
	       ng->http.port != old->http.port || !str_eq_null(ng->http.host, old->http.host) ||
	       ng->http.enabled != old->http.enabled || ng->http.max_connections != old->http.max_connections ||
	       ng->http.idle_timeout_s != old->http.idle_timeout_s ||
	       ng->http.header_timeout_s != old->http.header_timeout_s ||
	       /* issue #16 */
	       ng->http.auth_present != old->http.auth_present ||
	       !str_eq_null(ng->http.auth_token_file, old->http.auth_token_file) ||
	       !str_eq_null(ng->http.auth_users_file, old->http.auth_users_file) ||
	       ng->http.status_max_tlp != old->http.status_max_tlp ||
	       ng->http.status_refresh_s != old->http.status_refresh_s ||
	       ng->http.status_matches != old->http.status_matches ||
	       /* the MISP API's keys are copied into the endpoint at start */
	       ng->http.misp_api.present != old->http.misp_api.present ||
	       ng->http.misp_api.max_attributes != old->http.misp_api.max_attributes ||
	       !str_eq_null(iocb_secret_str(&ng->http.misp_api.keys), iocb_secret_str(&old->http.misp_api.keys));
}

int iocb_daemon__reloadable(const char *path, struct iocb_err *err)
{
	struct stat st;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return iocb_err_set(err, IOCB_ECONFIG, "%s is not a regular file (a pipe is read once, at start)", path);
	return IOCB_OK;
}

/* log.level and log.format (at start and on reload) and log.debug (at start only, as before). */
static void apply_log_settings(const struct iocb_config *c, bool at_start)
{
	iocb_log_set_level(c->log.level);
	iocb_log_set_format(c->log.format);
	if (at_start && c->log.debug)
		iocb_log_set_debug_modules(c->log.debug);
}

/* SIGHUP, main thread. A file that does not load leaves the running generation alone. */
static void reload(struct daemon *d)
{
	struct iocb_config *cfg = NULL;
	struct generation *ng = NULL, *old = d->gen;
	struct iocb_err err = {0};

	char msg[96];

	iocb_log(IOCB_LOG_INFO, "daemon", "\"reloading\" config=\"%s\"", d->opts->config_path);
	/* MONOTONIC_USEC: what systemd's Type=notify-reload expects with RELOADING=1; older managers ignore it. */
	snprintf(msg, sizeof(msg), "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%" PRIu64,
		 (uint64_t)(iocb_time_mono_s() * 1e6));
	notify(d, msg);
	if (iocb_daemon__reloadable(d->opts->config_path, &err) < 0 ||
	    iocb_config_load(d->opts->config_path, &cfg, &err) < 0 || gen_new(cfg, &ng, &err) < 0) {
		d->counters.reloads_failed++;
		iocb_log(IOCB_LOG_ERROR, "daemon", "\"reload rejected; keeping the running configuration\" error=\"%s\"",
			 err.msg);
		notify(d, "READY=1\nSTATUS=running; the last reload was rejected (see the log)");
		return;
	}
	if (iocb_daemon__restart_settings_changed(old->cfg, ng->cfg))
		iocb_log(IOCB_LOG_WARN, "daemon", "\"store, http and log pipeline (inputs, outputs, pipeline) settings change only on restart\"");
	if (iocb_daemon__services_changed(old->cfg, ng->cfg))
		iocb_log(IOCB_LOG_WARN, "daemon", "\"bus (bus.kafka included) and sightings settings change only on restart\"");
	apply_log_settings(ng->cfg, false);
	bool filter_changed = !iocb_daemon__filters_equal(old->cfg, ng->cfg);
	gen_retire(d, old);
	if (filter_changed)
		refilter_store(d, ng);
	pthread_mutex_lock(&d->gen_mu);
	d->gen = ng;
	pthread_mutex_unlock(&d->gen_mu);
	if (gen_start(d, ng, filter_changed, &err) < 0) {
		/* The new file parsed but a source cannot start (e.g. a bad librdkafka
		 * property): run with what we have rather than with nothing. */
		d->counters.reloads_failed++;
		notify(d, "READY=1\nSTATUS=running; a source did not start after the last reload (see the log)");
		return;
	}
	(void)iocb_daemon__wl_reload(d->wl, ng->cfg); /* logged and counted in its own metrics */
	d->counters.reloads_ok++;
	notify(d, "READY=1\nSTATUS=running");
	iocb_log(IOCB_LOG_INFO, "daemon", "\"reloaded\" filter_changed=%s", filter_changed ? "true" : "false");
}

/* ------------------------------------------------------------ process set-up */

/*
 * libzmq allocates every received message on its I/O thread and we free
 * it on the source thread; with glibc's default 128 KiB trim threshold the
 * heap top is returned and faulted in again all the time (about a tenth
 * of a flood's CPU went to page faults). Keep freed memory around.
 *
 * Setting those two turns off glibc's dynamic mmap threshold, so every
 * pipeline batch (up to pipeline.batch_bytes, 1 MiB) and bulk body would
 * be mmap'd and unmapped each time: page faults cost the input thread
 * about 40 % of its CPU in the pipeline benchmark. Serve them from the heap.
 */
static void tune_allocator(void)
{
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_TOP_PAD, 4 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

/* Block TERM, INT and HUP before any thread exists, so every thread inherits the mask; ignore SIGPIPE. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * One read of the file for both copies: the pipeline keeps its own (it
 * outlives reloads, which free the generation's configuration), and a
 * second read of a pipe (`-c <(...)`) would find it empty. Then the log
 * settings, the exposure warnings (once: a reload does not repeat them)
 * and the first generation.
 */
static int load_config(struct daemon *d, struct iocb_err *err)
{
	struct iocb_config *two[2];
	int rc;

	rc = iocb_config_load_copies(d->opts->config_path, two, 2, err);
	if (rc < 0)
		return rc;
	d->pipe_cfg = two[1];
	apply_log_settings(two[0], true);
	(void)iocb_config_warn_exposure(two[0]);
	return gen_new(two[0], &d->gen, err);
}

/* Open the store and load `intel:` into it. */
static int store_open(struct daemon *d, struct iocb_err *err)
{
	const struct iocb_config *c = d->gen->cfg;
	struct iocb_store_opts so;
	struct iocb_ingest *in;
	int rc;

	iocb_store_opts_default(&so);
	so.path = c->store.path;
	so.match_non_ids = c->store.match_non_ids;
	if (c->store.map_size)
		so.map_size = c->store.map_size;
	so.durable = c->store.durable;
	so.expected_attrs = c->store.expected_attributes;
	rc = iocb_store_open(&so, &d->store, err);
	if (rc < 0 || !c->nintel)
		return rc;
	in = iocb_ingest_new(d->store, d->gen->filter, IOCB_SRCID_INTEL);
	for (size_t i = 0; i < c->nintel; i++) {
		struct iocb_err ierr = {0};

		if (iocb_ingest_path(in, c->intel[i], &ierr) < 0)
			iocb_log(IOCB_LOG_ERROR, "daemon", "\"cannot load intel\" error=\"%s\"", ierr.msg);
	}
	iocb_log(IOCB_LOG_INFO, "daemon", "\"intel loaded\" files=%zu upserts=%" PRIu64, c->nintel,
		 iocb_ingest_stats(in)->upserts);
	iocb_ingest_free(in);
	return IOCB_OK;
}

/* Commit what is pending and close the store; a failed commit is the run's error. */
static int store_close(struct daemon *d)
{
	struct iocb_err err = {0};
	int rc = IOCB_OK;

	if (!d->store)
		return IOCB_OK;
	rc = iocb_store_commit(d->store, &err);
	if (rc < 0)
		iocb_log(IOCB_LOG_ERROR, "daemon", "\"final commit failed\" error=\"%s\"", err.msg);
	iocb_store_free(d->store);
	d->store = NULL;
	return rc;
}

/* HTTP thread: a lookup's decay score (quality.decay; the decay object lives until after the endpoint stops). */
static double score_cb(void *ud, const struct iocb_store_quality *q, int64_t now)
{
	const struct daemon *d = ud;
	return iocb_quality_decay_score(d->quality.decay, q, now);
}

/* The HTTP endpoint, when http.enabled; --http-port overrides http.port. err->msg starts with "http: ". */
static int endpoint_start(struct daemon *d, struct iocb_err *err)
{
	const struct iocb_config *c = d->gen->cfg;
	struct iocb_http_opts ho = {
		.host = c->http.host,
		.port = d->opts->http_port >= 0 ? (uint16_t)d->opts->http_port : c->http.port,
		.max_connections = c->http.max_connections,
		.idle_timeout_s = c->http.idle_timeout_s,
		.header_timeout_s = c->http.header_timeout_s,
		.quality = iocb_daemon__wl_render(d->wl),
		.misp_api_keys = c->http.misp_api.present ? iocb_secret_str(&c->http.misp_api.keys) : NULL,
		.misp_api_max_attributes = c->http.misp_api.max_attributes,
		.match_non_ids = c->store.match_non_ids,
	};
	struct iocb_http_handlers hh = {
		.metrics = metrics_cb, .health = health_cb, .ud = d, .status = status_cb, .score = score_cb};
	uint16_t port = 0;
	int rc;

	if (!c->http.enabled)
		return IOCB_OK;
	/* issue #16 status page: http.auth's files (a bad one fails the start) and the status page's state */
	if (c->http.auth_present) {
		struct iocb_http_auth_opts ao = {c->http.auth_token_file, c->http.auth_users_file, c->http.auth_realm};
		rc = iocb_http_auth_load(&ao, &d->auth, err);
		if (rc < 0)
			return rc;
		ho.auth = d->auth;
	}
	d->status = iocb_daemon__status_new(c->http.status_max_tlp, c->http.status_refresh_s);
	if (c->http.status_matches)
		d->recent = iocb_pipe_recent_new(c->http.status_matches);
	status_tick(d);
	rc = iocb_http_start(&ho, d->store, &hh, &d->http, &port, err);
	if (rc < 0)
		iocb_err_prefix(err, "http");
	return rc;
}

static void endpoint_stop(struct daemon *d)
{
	iocb_http_stop(d->http);
	d->http = NULL;
	/* After the HTTP thread and the pipeline (which pushes to recent) are gone. */
	iocb_http_auth_free(d->auth);
	d->auth = NULL;
	iocb_daemon__status_free(d->status);
	d->status = NULL;
	iocb_pipe_recent_free(d->recent);
	d->recent = NULL;
}

/* The log pipeline, when the configuration has inputs; it reads the store and keeps d->pipe_cfg. */
static int pipeline_start(struct daemon *d, struct iocb_err *err)
{
	struct iocb_pipe *pipe = NULL;
	int rc;

	if (!d->gen->cfg->ninputs)
		return IOCB_OK;
	/* sightings.from_matches: the pipeline's matches become sightings (deduplicated in memory per input). */
	struct iocb_pipe_hooks hooks = {.recent = d->recent};
	if (d->sv.sightings && d->pipe_cfg->sightings.from_matches) {
		hooks.sightings = d->sv.sightings;
		hooks.sightings_window_s = d->pipe_cfg->sightings.from_matches_window_s;
	}
	hooks.wl = iocb_daemon__wl_hooks(d->wl);
	hooks.decay = d->quality.decay;
	rc = iocb_pipe_start_with(d->store, d->pipe_cfg, &hooks, &pipe, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&d->gen_mu);
	d->pipe = pipe;
	pthread_mutex_unlock(&d->gen_mu);
	return IOCB_OK;
}

/* Mark the daemon stopping (/healthz says so) and stop the pipeline: it flushes and checkpoints. */
static void pipeline_drain(struct daemon *d)
{
	struct iocb_pipe *pipe;

	pthread_mutex_lock(&d->gen_mu);
	d->stopping = true;
	pipe = d->pipe;
	d->pipe = NULL;
	pthread_mutex_unlock(&d->gen_mu);
	iocb_pipe_stop(pipe);
	iocb_config_free(d->pipe_cfg);
	d->pipe_cfg = NULL;
}

/* Everything iocb_daemon_run starts, in order; the message is printed on failure. */
static int daemon_start(struct daemon *d)
{
	struct iocb_err err = {0};
	int rc;

	notify(d, "STATUS=loading the configuration");
	rc = load_config(d, &err);
	if (rc == IOCB_OK) {
		notify(d, "STATUS=opening the store and loading intel");
		rc = store_open(d, &err);
	}
	if (rc == IOCB_OK)
		rc = iocb_daemon__wl_start(&d->wl, d->gen->cfg, d->store, &err);
	if (rc == IOCB_OK && d->gen->cfg->kafka.present && !d->gen->cfg->store.path && !d->gen->cfg->api.present)
		iocb_log(IOCB_LOG_WARN, "daemon",
			 "\"memory-only store with Kafka and no misp.api: committed offsets skip what was consumed "
			 "before a restart; set store.path or misp.api\"");
	/* Quality before the bus: what is expired at start never reaches it. */
	if (rc == IOCB_OK)
		rc = iocb_daemon__quality_start(&d->quality, d->gen->cfg, d->store, &err);
	/* The bus before the sources: its store listener sees every change they make. */
	if (rc == IOCB_OK) {
		notify(d, "STATUS=starting the listeners and sources");
		rc = iocb_daemon__services_start(&d->sv, d->gen->cfg, d->store, &err);
	}
	if (rc == IOCB_OK)
		rc = endpoint_start(d, &err);
	if (rc == IOCB_OK)
		rc = gen_start(d, d->gen, false, &err);
	if (rc == IOCB_OK)
		rc = pipeline_start(d, &err);
	if (rc < 0)
		fprintf(stderr, "iocbus: %s\n", err.msg);
	return rc;
}

/*
 * Stop in reverse: first the pipeline (it flushes and checkpoints), then the
 * sources that feed the store it reads, the endpoint, the bus and sightings
 * queue (after the sources: every change is published; after the endpoint:
 * /metrics reads them), and the store.
 */
static int daemon_stop(struct daemon *d)
{
	pipeline_drain(d);
	if (d->gen)
		gen_retire(d, d->gen);
	endpoint_stop(d);
	iocb_daemon__services_stop(&d->sv);
	iocb_daemon__wl_stop(d->wl);
	d->wl = NULL;
	iocb_daemon__quality_stop(&d->quality);
	return store_close(d);
}

/*
 * Main thread: SIGHUP reloads; SIGTERM, SIGINT, or every pipeline input
 * ended and delivered, stops. The watchdog pings come from here, so a
 * main thread stuck in a reload or a commit stops them and systemd
 * restarts the service.
 */
static void signal_loop(struct daemon *d, const sigset_t *set)
{
	for (;;) {
		double due = iocb_notify_watchdog_due(&d->notify, iocb_time_mono_s());
		long wait_ns = due * 1e9 < (double)SIGNAL_POLL_NS ? (long)(due * 1e9) : SIGNAL_POLL_NS;
		struct timespec tmo = {0, wait_ns};
		int sig = sigtimedwait(set, NULL, &tmo);

		(void)iocb_notify_watchdog(&d->notify, iocb_time_mono_s());

		if (sig == SIGHUP) {
			reload(d);
		} else if (sig == SIGTERM || sig == SIGINT) {
			iocb_log(IOCB_LOG_INFO, "daemon", "\"stopping\" signal=%s", sig == SIGTERM ? "TERM" : "INT");
			return;
		} else if (sig < 0 && errno != EAGAIN && errno != EINTR) {
			iocb_log(IOCB_LOG_ERROR, "daemon", "\"sigtimedwait failed\" errno=%d", errno);
			return;
		}
		status_tick(d);
		/* `... | iocbus run`: every input ended (stdin at EOF) and everything was delivered. */
		if (d->pipe && iocb_pipe_finished(d->pipe)) {
			iocb_log(IOCB_LOG_INFO, "daemon", "\"every input ended and was delivered\"");
			return;
		}
	}
}

/* ------------------------------------------------------------ run */

int iocb_daemon_run(const struct iocb_daemon_opts *o)
{
	struct daemon d = {0};
	sigset_t set;
	int rc, stop_rc;

	struct iocb_err err = {0};

	d.opts = o;
	d.counters.started_us = iocb_time_real_us();
	pthread_mutex_init(&d.gen_mu, NULL);
	block_signals(&set);
	tune_allocator();
	if (iocb_notify_init(&d.notify, getenv("NOTIFY_SOCKET"), getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"),
			     (long)getpid(), &err) < 0)
		iocb_log(IOCB_LOG_WARN, "daemon", "\"not notifying the service manager\" error=\"%s\"", err.msg);
	rc = daemon_start(&d);
	if (rc == IOCB_OK) {
		iocb_log(IOCB_LOG_INFO, "daemon", "\"running\" config=\"%s\"", o->config_path);
		/* Everything listens and the sources run: the point where `systemctl start` returns. */
		notify(&d, "READY=1\nSTATUS=running");
		(void)iocb_notify_watchdog(&d.notify, iocb_time_mono_s());
		signal_loop(&d, &set);
		notify(&d, "STOPPING=1\nSTATUS=stopping: draining the pipeline and committing the store");
	}
	stop_rc = daemon_stop(&d);
	iocb_notify_fini(&d.notify);
	if (rc == IOCB_OK)
		rc = stop_rc;
	pthread_mutex_destroy(&d.gen_mu);
	if (rc == IOCB_OK)
		iocb_log(IOCB_LOG_INFO, "daemon", "\"stopped\"");
	return rc;
}
