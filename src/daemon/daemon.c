/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `iocbus run` (see daemon.h). The main thread owns everything here: it
 * starts and stops source generations and is the only writer of `gen`.
 * The HTTP thread reads the current generation for /metrics under gen_mu,
 * which the main thread also holds while it swaps generations, so a
 * scrape never sees a half-torn-down struct iocb_sources_sync.
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

#include "config/config.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "filter/filter.h"
#include "http/http.h"
#include "ingest/ingest.h"
#include "pipe/pipe.h"
#include "sources/sources.h"
#include "store/store.h"

#define MAX_RUNNING 8 /* zmq or kafka, pull, feeds */

/* One configuration generation: the config, its filter, the sources. */
struct generation {
	struct iocb_config *cfg;                 /* owned */
	struct iocb_filter *filter;              /* owned */
	struct iocb_sources_sync sync;                   /* shared state of the sources */
	struct iocb_source *running[MAX_RUNNING]; /* started sources, joined on stop */
	size_t nrunning;
	bool started;                            /* sync initialised and sources started */
};

struct daemon {
	const struct iocb_daemon_opts *opts;     /* borrowed */
	struct iocb_store *store;                /* owned; lives across reloads */
	struct iocb_httpd *http;                 /* owned */
	pthread_mutex_t gen_mu;                  /* guards `gen` against the HTTP thread */
	struct generation *gen;                  /* current generation (owned) */
	struct iocb_config *pipe_cfg;            /* owned: the start-up configuration the pipeline keeps */
	struct iocb_pipe *pipe;                  /* owned; NULL without inputs (set under gen_mu) */
	uint64_t reloads_ok;                     /* SIGHUP reloads applied */
	uint64_t reloads_failed;                 /* SIGHUP reloads rejected (bad file) */
	uint64_t refiltered;                     /* attributes removed by filter changes */
	int64_t started_us;                      /* wall clock at start */
	bool stopping;                           /* SIGTERM seen */
};

/* ------------------------------------------------------------ HTTP callbacks */

static void metrics_cb(void *ud, struct iocb_buf *out)
{
	struct daemon *d = ud;
	int rc = 0;

	pthread_mutex_lock(&d->gen_mu);
	if (d->gen && d->gen->started)
		iocb_sources_sync_metrics_render(&d->gen->sync, out);
	iocb_pipe_metrics_render(d->pipe, out);
	rc |= iocb_buf_printf(out,
			      "# HELP iocbus_config_reloads_total SIGHUP reloads by result.\n"
			      "# TYPE iocbus_config_reloads_total counter\n"
			      "iocbus_config_reloads_total{result=\"ok\"} %" PRIu64 "\n"
			      "iocbus_config_reloads_total{result=\"error\"} %" PRIu64 "\n"
			      "# HELP iocbus_filter_removed_total Attributes removed because a reloaded filter rejects them.\n"
			      "# TYPE iocbus_filter_removed_total counter\n"
			      "iocbus_filter_removed_total %" PRIu64 "\n"
			      "# HELP iocbus_start_time_seconds Wall-clock time the daemon started.\n"
			      "# TYPE iocbus_start_time_seconds gauge\n"
			      "iocbus_start_time_seconds %.3f\n",
			      d->reloads_ok, d->reloads_failed, d->refiltered, (double)d->started_us / 1e6);
	pthread_mutex_unlock(&d->gen_mu);
	(void)rc; /* a full buffer truncates the scrape; the HTTP module caps it */
}

static bool health_cb(void *ud, struct iocb_buf *out)
{
	struct daemon *d = ud;
	char why[200];
	bool ok, store_failing;
	int rc = 0;

	/*
	 * A store whose commits fail still answers lookups from memory, and a
	 * restart would lose what is not persisted without curing a full disk:
	 * "degraded" with 200, like a failing output, plus the reason.
	 */
	store_failing = iocb_store_commit_failing(d->store, why, sizeof(why));
	pthread_mutex_lock(&d->gen_mu);
	ok = !d->stopping && d->gen && d->gen->started;
	rc |= iocb_buf_append_c(out, !ok ? "stopping" : store_failing ? "degraded" : "ok");
	if (ok)
		for (size_t i = 0; i < iocb_sources_sync_metrics_count(&d->gen->sync); i++) {
			struct iocb_sources_sync_metrics *m = iocb_sources_sync_metrics_get(&d->gen->sync, i);
			rc |= iocb_buf_printf(out, " %s=%s", m->name, IOCB_M_GET(m->up) ? "up" : "down");
		}
	/* Informative only: restarting iocbus does not cure an Elasticsearch outage, the spool rides it out. */
	if (ok && d->pipe)
		rc |= iocb_buf_printf(out, " outputs=%s", iocb_pipe_healthy(d->pipe) ? "up" : "failing");
	if (ok && store_failing)
		rc |= iocb_buf_printf(out, " store=failing (%s)", why);
	rc |= iocb_buf_putc(out, '\n');
	pthread_mutex_unlock(&d->gen_mu);
	(void)rc;
	return ok;
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
	d->refiltered += n;
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

/* Same filter list and options (order matters only for messages, but a reorder is rare: treat it as a change). */
static bool filters_equal(const struct iocb_config *a, const struct iocb_config *b)
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

static void reload(struct daemon *d)
{
	struct iocb_config *cfg = NULL;
	struct generation *ng = NULL, *old = d->gen;
	struct iocb_err err = {0};
	struct stat st;

	iocb_log(IOCB_LOG_INFO, "daemon", "\"reloading\" config=\"%s\"", d->opts->config_path);
	/*
	 * A pipe (`-c <(...)`) was used up at start and would read as an empty
	 * file (every source stopped), and a FIFO would block this thread.
	 */
	if (stat(d->opts->config_path, &st) == 0 && !S_ISREG(st.st_mode))
		(void)iocb_err_set(&err, IOCB_ECONFIG, "%s is not a regular file (a pipe is read once, at start)",
				   d->opts->config_path);
	if (err.rc < 0 || iocb_config_load(d->opts->config_path, &cfg, &err) < 0 || gen_new(cfg, &ng, &err) < 0) {
		d->reloads_failed++;
		iocb_log(IOCB_LOG_ERROR, "daemon", "\"reload rejected; keeping the running configuration\" error=\"%s\"",
			 err.msg);
		return;
	}
	if (!str_eq_null(ng->cfg->store.path, old->cfg->store.path) ||
	    ng->cfg->store.match_non_ids != old->cfg->store.match_non_ids ||
	    ng->cfg->http.port != old->cfg->http.port || !str_eq_null(ng->cfg->http.host, old->cfg->http.host) ||
	    ng->cfg->http.enabled != old->cfg->http.enabled ||
	    ng->cfg->http.max_connections != old->cfg->http.max_connections ||
	    ng->cfg->http.idle_timeout_s != old->cfg->http.idle_timeout_s ||
	    ng->cfg->http.header_timeout_s != old->cfg->http.header_timeout_s)
		iocb_log(IOCB_LOG_WARN, "daemon", "\"store, http and log pipeline (inputs, outputs, pipeline) settings change only on restart\"");
	iocb_log_set_level(ng->cfg->log.level);
	bool filter_changed = !filters_equal(old->cfg, ng->cfg);
	gen_retire(d, old);
	if (filter_changed)
		refilter_store(d, ng);
	pthread_mutex_lock(&d->gen_mu);
	d->gen = ng;
	pthread_mutex_unlock(&d->gen_mu);
	if (gen_start(d, ng, filter_changed, &err) < 0) {
		/* The new file parsed but a source cannot start (e.g. a bad librdkafka
		 * property): run with what we have rather than with nothing. */
		d->reloads_failed++;
		return;
	}
	d->reloads_ok++;
	iocb_log(IOCB_LOG_INFO, "daemon", "\"reloaded\" filter_changed=%s", filter_changed ? "true" : "false");
}

/* ------------------------------------------------------------ run */

static int open_store(struct daemon *d, const struct iocb_config *c, struct iocb_err *err)
{
	struct iocb_store_opts so;

	iocb_store_opts_default(&so);
	so.path = c->store.path;
	so.match_non_ids = c->store.match_non_ids;
	if (c->store.map_size)
		so.map_size = c->store.map_size;
	so.durable = c->store.durable;
	so.expected_attrs = c->store.expected_attributes;
	return iocb_store_open(&so, &d->store, err);
}

static void load_intel(struct daemon *d, const struct generation *g)
{
	struct iocb_ingest *in;
	struct iocb_err err = {0};

	if (!g->cfg->nintel)
		return;
	in = iocb_ingest_new(d->store, g->filter, IOCB_SRCID_INTEL);
	for (size_t i = 0; i < g->cfg->nintel; i++)
		if (iocb_ingest_path(in, g->cfg->intel[i], &err) < 0)
			iocb_log(IOCB_LOG_ERROR, "daemon", "\"cannot load intel\" error=\"%s\"", err.msg);
	iocb_log(IOCB_LOG_INFO, "daemon", "\"intel loaded\" files=%zu upserts=%" PRIu64, g->cfg->nintel,
		 iocb_ingest_stats(in)->upserts);
	iocb_ingest_free(in);
}

int iocb_daemon_run(const struct iocb_daemon_opts *o)
{
	struct daemon d = {0};
	struct iocb_config *cfg = NULL;
	struct iocb_err err = {0};
	sigset_t set;
	int code = 2;

	d.opts = o;
	d.started_us = iocb_sources_sync_now_us();
	pthread_mutex_init(&d.gen_mu, NULL);
	/* Block before any thread exists so every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * libzmq allocates every received message on its I/O thread and we free
	 * it on the source thread; with glibc's default 128 KiB trim threshold the
	 * heap top is returned and faulted in again all the time (about a tenth
	 * of a flood's CPU went to page faults). Keep freed memory around.
	 */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_TOP_PAD, 4 << 20);
	/*
	 * Setting the two above turns off glibc's dynamic mmap threshold, so
	 * every pipeline batch (up to pipeline.batch_bytes, 1 MiB) and bulk body
	 * would be mmap'd and unmapped each time: page faults cost the input
	 * thread about 40 % of its CPU in the pipeline benchmark. Serve them
	 * from the heap.
	 */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);

	/*
	 * One read of the file for both copies: the pipeline keeps its own (it
	 * outlives reloads, which free the generation's configuration), and a
	 * second read of a pipe (`-c <(...)`) would find it empty.
	 */
	{
		struct iocb_config *two[2];

		if (iocb_config_load_copies(o->config_path, two, 2, &err) < 0) {
			fprintf(stderr, "iocbus: %s\n", err.msg);
			goto out;
		}
		cfg = two[0];
		d.pipe_cfg = two[1];
	}
	iocb_log_set_level(cfg->log.level);
	if (cfg->log.debug)
		iocb_log_set_debug_modules(cfg->log.debug);
	(void)iocb_config_warn_exposure(cfg); /* once: a reload does not repeat them */
	if (gen_new(cfg, &d.gen, &err) < 0) {
		fprintf(stderr, "iocbus: %s\n", err.msg);
		goto out;
	}
	if (open_store(&d, d.gen->cfg, &err) < 0) {
		fprintf(stderr, "iocbus: %s\n", err.msg);
		goto out;
	}
	load_intel(&d, d.gen);
	if (d.gen->cfg->kafka.present && !d.gen->cfg->store.path && !d.gen->cfg->api.present)
		iocb_log(IOCB_LOG_WARN, "daemon",
			 "\"memory-only store with Kafka and no misp.api: committed offsets skip what was consumed "
			 "before a restart; set store.path or misp.api\"");
	if (d.gen->cfg->http.enabled) {
		struct iocb_http_opts ho = {
			.host = d.gen->cfg->http.host,
			.port = o->http_port >= 0 ? (uint16_t)o->http_port : d.gen->cfg->http.port,
			.max_connections = d.gen->cfg->http.max_connections,
			.idle_timeout_s = d.gen->cfg->http.idle_timeout_s,
			.header_timeout_s = d.gen->cfg->http.header_timeout_s,
		};
		struct iocb_http_handlers hh = {metrics_cb, health_cb, &d};
		uint16_t port = 0;
		if (iocb_http_start(&ho, d.store, &hh, &d.http, &port, &err) < 0) {
			fprintf(stderr, "iocbus: http: %s\n", err.msg);
			goto out;
		}
	}
	if (gen_start(&d, d.gen, false, &err) < 0) {
		fprintf(stderr, "iocbus: %s\n", err.msg);
		goto out;
	}
	if (d.gen->cfg->ninputs) {
		struct iocb_pipe *pipe = NULL;

		if (iocb_pipe_start(d.store, d.pipe_cfg, &pipe, &err) < 0) {
			fprintf(stderr, "iocbus: %s\n", err.msg);
			goto out;
		}
		pthread_mutex_lock(&d.gen_mu);
		d.pipe = pipe;
		pthread_mutex_unlock(&d.gen_mu);
	}
	iocb_log(IOCB_LOG_INFO, "daemon", "\"running\" config=\"%s\"", o->config_path);

	for (;;) {
		struct timespec tmo = {0, 200000000};
		int sig = sigtimedwait(&set, NULL, &tmo);
		if (sig == SIGHUP) {
			reload(&d);
		} else if (sig == SIGTERM || sig == SIGINT) {
			iocb_log(IOCB_LOG_INFO, "daemon", "\"stopping\" signal=%s", sig == SIGTERM ? "TERM" : "INT");
			break;
		} else if (sig < 0 && errno != EAGAIN && errno != EINTR) {
			iocb_log(IOCB_LOG_ERROR, "daemon", "\"sigtimedwait failed\" errno=%d", errno);
			break;
		}
		/* `... | iocbus run`: every input ended (stdin at EOF) and everything was delivered. */
		if (d.pipe && iocb_pipe_finished(d.pipe)) {
			iocb_log(IOCB_LOG_INFO, "daemon", "\"every input ended and was delivered\"");
			break;
		}
	}
	code = 0;
out:
	pthread_mutex_lock(&d.gen_mu);
	d.stopping = true;
	{
		struct iocb_pipe *pipe = d.pipe;

		d.pipe = NULL;
		pthread_mutex_unlock(&d.gen_mu);
		/* First the pipeline (it flushes and checkpoints), then the sources that feed the store it reads. */
		iocb_pipe_stop(pipe);
	}
	iocb_config_free(d.pipe_cfg);
	if (d.gen)
		gen_retire(&d, d.gen);
	iocb_http_stop(d.http);
	if (d.store) {
		if (iocb_store_commit(d.store, &err) < 0) {
			iocb_log(IOCB_LOG_ERROR, "daemon", "\"final commit failed\" error=\"%s\"", err.msg);
			code = 2;
		}
		iocb_store_free(d.store);
	}
	pthread_mutex_destroy(&d.gen_mu);
	if (code == 0)
		iocb_log(IOCB_LOG_INFO, "daemon", "\"stopped\"");
	return code;
}
