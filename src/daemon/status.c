/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The data of the status page (GET / and GET /v1/status, docs/STATUS.md):
 * the throughput history and the JSON object. daemon.c gathers the live
 * values (sources, pipeline, store, bus) and calls in here.
 *
 * History: the main thread's signal loop (it wakes every 200 ms anyway)
 * calls iocb_daemon__status_sample() with the cumulative counters of every
 * input (events, matched) and source (store updates); every
 * IOCB_DAEMON__STATUS_STEP_S seconds that becomes one point per series, the
 * increase since the previous point, in a ring of IOCB_DAEMON__STATUS_POINTS
 * (one hour). No thread of its own: a reload that keeps the main thread
 * busy only makes one point cover a longer step. Series are found by name,
 * so a source keeps its history across SIGHUP generations; a name first seen
 * later is charted at once with zeros for the points before it, and its
 * next point counts everything since its counters started; past IOCB_DAEMON__STATUS_SERIES names new ones
 * are not charted. Memory is fixed at creation.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/prom.h"
#include "daemon/internal.h"
#include "json/json.h"
#include "misp/misp.h"
#include "pipe/pipe.h"
#include "serve/bus/bus.h"
#include "store/store.h"

/* Microseconds as seconds with millisecond precision ("1700000000.123"), exact (no binary fraction). */
static void put_secs(struct iocb_jw *w, int64_t us)
{
	char tmp[32];
	int64_t ms = us / 1000;
	int n = snprintf(tmp, sizeof(tmp), "%s%" PRId64 ".%03" PRId64, ms < 0 ? "-" : "", (ms < 0 ? -ms : ms) / 1000,
			 (ms < 0 ? -ms : ms) % 1000);

	iocb_jw_raw(w, iocb_str_make(tmp, (size_t)n));
}

struct series {
	char name[80];
	bool input;                                  /* input (two rings) or source (one) */
	uint64_t last[2];                            /* cumulative values at the previous point */
	uint32_t ring[2][IOCB_DAEMON__STATUS_POINTS]; /* per-step increases, saturated */
};

struct iocb_daemon__status {
	pthread_mutex_t mu;          /* guards everything below */
	struct series *series;       /* IOCB_DAEMON__STATUS_SERIES, nseries used */
	size_t nseries;
	uint64_t points;             /* points recorded ever; the newest is at (points - 1) % POINTS */
	int64_t last_us;             /* wall time of the newest point; 0 none */
	int max_rank;                /* http.status.max_tlp as a rank */
	double refresh_s;            /* http.status.refresh */
};

struct iocb_daemon__status *iocb_daemon__status_new(int max_tlp, double refresh_s)
{
	struct iocb_daemon__status *st = iocb_xcalloc(1, sizeof(*st));

	pthread_mutex_init(&st->mu, NULL);
	st->series = iocb_xcalloc(IOCB_DAEMON__STATUS_SERIES, sizeof(*st->series));
	st->max_rank = iocb_daemon__tlp_config_rank(max_tlp);
	st->refresh_s = refresh_s > 0 ? refresh_s : 5;
	return st;
}

void iocb_daemon__status_free(struct iocb_daemon__status *st)
{
	if (!st)
		return;
	pthread_mutex_destroy(&st->mu);
	free(st->series);
	free(st);
}

static struct series *series_find(struct iocb_daemon__status *st, const struct iocb_daemon__sample *s)
{
	for (size_t i = 0; i < st->nseries; i++)
		if (st->series[i].input == s->input && strcmp(st->series[i].name, s->name) == 0)
			return &st->series[i];
	if (st->nseries == IOCB_DAEMON__STATUS_SERIES)
		return NULL;
	/* A new series: zeros for the points before it existed, counting from 0. */
	struct series *n = &st->series[st->nseries++];
	memcpy(n->name, s->name, sizeof(n->name));
	n->name[sizeof(n->name) - 1] = '\0';
	n->input = s->input;
	return n;
}

bool iocb_daemon__status_sample(struct iocb_daemon__status *st, int64_t now_us, const struct iocb_daemon__sample *s,
				size_t n)
{
	size_t slot;

	pthread_mutex_lock(&st->mu);
	if (st->last_us && now_us - st->last_us < (int64_t)IOCB_DAEMON__STATUS_STEP_S * 1000000) {
		/* Not due: only make new names known, so the page charts them (zeros so far) at once. */
		for (size_t i = 0; i < n; i++)
			(void)series_find(st, &s[i]);
		pthread_mutex_unlock(&st->mu);
		return false;
	}
	slot = st->points % IOCB_DAEMON__STATUS_POINTS;
	for (size_t i = 0; i < st->nseries; i++)
		st->series[i].ring[0][slot] = st->series[i].ring[1][slot] = 0;
	for (size_t i = 0; i < n; i++) {
		struct series *se = series_find(st, &s[i]);
		if (!se)
			continue;
		for (int k = 0; k < 2; k++) {
			uint64_t d = s[i].v[k] >= se->last[k] ? s[i].v[k] - se->last[k] : s[i].v[k];
			se->ring[k][slot] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
			se->last[k] = s[i].v[k];
		}
	}
	st->points++;
	st->last_us = now_us;
	pthread_mutex_unlock(&st->mu);
	return true;
}

/* One ring as an array, oldest point first. With st->mu held. */
static void ring_json(const struct iocb_daemon__status *st, struct iocb_jw *w, const uint32_t *ring)
{
	uint64_t have = st->points < IOCB_DAEMON__STATUS_POINTS ? st->points : IOCB_DAEMON__STATUS_POINTS;

	iocb_jw_arr(w);
	for (uint64_t i = st->points - have; i < st->points; i++)
		iocb_jw_u64(w, ring[i % IOCB_DAEMON__STATUS_POINTS]);
	iocb_jw_arr_end(w);
}

void iocb_daemon__status_history_json(struct iocb_daemon__status *st, struct iocb_jw *w)
{
	iocb_jw_key(w, "history");
	iocb_jw_obj(w);
	iocb_jw_key(w, "step_s");
	iocb_jw_u64(w, IOCB_DAEMON__STATUS_STEP_S);
	iocb_jw_key(w, "max_points");
	iocb_jw_u64(w, IOCB_DAEMON__STATUS_POINTS);
	pthread_mutex_lock(&st->mu);
	iocb_jw_key(w, "end");
	if (st->last_us)
		put_secs(w, st->last_us);
	else
		iocb_jw_null(w);
	for (int input = 1; input >= 0; input--) {
		iocb_jw_key(w, input ? "inputs" : "sources");
		iocb_jw_arr(w);
		for (size_t i = 0; i < st->nseries; i++) {
			const struct series *se = &st->series[i];
			if (se->input != (bool)input)
				continue;
			iocb_jw_obj(w);
			iocb_jw_key(w, "name");
			iocb_jw_cstr(w, se->name);
			iocb_jw_key(w, input ? "events" : "updates");
			ring_json(st, w, se->ring[0]);
			if (input) {
				iocb_jw_key(w, "matched");
				ring_json(st, w, se->ring[1]);
			}
			iocb_jw_obj_end(w);
		}
		iocb_jw_arr_end(w);
	}
	pthread_mutex_unlock(&st->mu);
	iocb_jw_obj_end(w);
}

/* ------------------------------------------------------------ TLP */

int iocb_daemon__tlp_rank(const char *tlp)
{
	static const struct {
		const char *name;
		int rank;
	} levels[] = {{"clear", 0}, {"white", 0}, {"green", 1}, {"amber", 2}, {"amber+strict", 3}, {"red", 4}};

	if (!tlp || !tlp[0])
		return 0;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(tlp, levels[i].name) == 0)
			return levels[i].rank;
	/* A level we do not know (tlp:ex:chr...) is treated as the most restrictive. */
	return 4;
}

int iocb_daemon__tlp_config_rank(int level)
{
	static const int rank[] = {[IOCB_CONFIG_TLP_CLEAR] = 0, [IOCB_CONFIG_TLP_WHITE] = 0,
				   [IOCB_CONFIG_TLP_GREEN] = 1, [IOCB_CONFIG_TLP_AMBER] = 2,
				   [IOCB_CONFIG_TLP_AMBER_STRICT] = 3, [IOCB_CONFIG_TLP_RED] = 4};

	return level >= 0 && (size_t)level < sizeof(rank) / sizeof(rank[0]) ? rank[level] : 1;
}

static const char *tlp_config_name(int rank)
{
	static const char *const names[] = {"clear", "green", "amber", "amber+strict", "red"};

	return rank >= 0 && rank <= 4 ? names[rank] : "green";
}

void iocb_daemon__status_matches_json(struct iocb_jw *w, const struct iocb_pipe_match *m, size_t n, int max_rank)
{
	iocb_jw_key(w, "matches");
	iocb_jw_arr(w);
	for (size_t i = 0; i < n; i++) {
		bool masked = iocb_daemon__tlp_rank(m[i].tlp) > max_rank;

		iocb_jw_obj(w);
		iocb_jw_key(w, "time");
		put_secs(w, m[i].time_us);
		iocb_jw_key(w, "input");
		iocb_jw_cstr(w, m[i].input);
		iocb_jw_key(w, "field");
		iocb_jw_cstr(w, m[i].field);
		iocb_jw_key(w, "type");
		iocb_jw_cstr(w, m[i].type);
		iocb_jw_key(w, "value");
		if (masked)
			iocb_jw_null(w);
		else
			iocb_jw_cstr(w, m[i].value);
		iocb_jw_key(w, "event_id");
		if (m[i].event_id)
			iocb_jw_u64(w, m[i].event_id);
		else
			iocb_jw_null(w);
		iocb_jw_key(w, "event_info");
		if (masked)
			iocb_jw_null(w);
		else
			iocb_jw_cstr(w, m[i].event_info);
		iocb_jw_key(w, "tlp");
		iocb_jw_cstr(w, m[i].tlp);
		iocb_jw_key(w, "masked");
		iocb_jw_bool(w, masked);
		iocb_jw_obj_end(w);
	}
	iocb_jw_arr_end(w);
}

/* ------------------------------------------------------------ the object */

/* Bytes a character at p (n left) grows by in iocb_daemon__json_script_safe(), 0 if kept. */
static size_t script_extra(const unsigned char *p, size_t n)
{
	if (*p == '<' || *p == '>' || *p == '&')
		return 5;
	if (*p == 0xe2 && n >= 3 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
		return 3;
	return 0;
}

int iocb_daemon__json_script_safe(struct iocb_buf *b, size_t from)
{
	size_t extra = 0, r, w;
	unsigned char *p;

	for (size_t i = from; i < b->len; i++)
		extra += script_extra((const unsigned char *)b->ptr + i, b->len - i);
	if (!extra)
		return IOCB_OK;
	if (iocb_buf_reserve(b, extra) < 0)
		return IOCB_ELIMIT;
	p = (unsigned char *)b->ptr;
	/* Expand in place from the end: the write position never overtakes the read position. */
	r = b->len;
	w = b->len + extra;
	p[w] = '\0';
	while (r > from) {
		char esc[8];
		size_t k = 1;

		r--;
		/* A U+2028/9 sequence is seen at its last byte: step back to its lead byte. */
		if (r >= from + 2 && p[r - 2] == 0xe2 && p[r - 1] == 0x80 && (p[r] == 0xa8 || p[r] == 0xa9)) {
			r -= 2;
			k = 3;
		}
		if (k == 3 || script_extra(p + r, 1)) {
			snprintf(esc, sizeof(esc), "\\u%04x", k == 3 ? (p[r + 2] == 0xa8 ? 0x2028u : 0x2029u) : p[r]);
			w -= 6;
			memcpy(p + w, esc, 6);
		} else {
			p[--w] = p[r];
		}
	}
	b->len += extra;
	return IOCB_OK;
}

/* A wall time in µs as epoch seconds (ms precision), or null for 0. */
static void time_or_null(struct iocb_jw *w, const char *key, int64_t us)
{
	iocb_jw_key(w, key);
	if (us > 0)
		put_secs(w, us);
	else
		iocb_jw_null(w);
}

static void sources_json(const struct iocb_daemon__status_view *v, struct iocb_jw *w)
{
	size_t n = v->sync ? iocb_sources_sync_metrics_count(v->sync) : 0;
	uint64_t cursor = v->sync ? iocb_sources_sync_cursor(v->sync) : 0;

	iocb_jw_key(w, "sources");
	iocb_jw_arr(w);
	for (size_t i = 0; i < n; i++) {
		struct iocb_sources_sync_metrics *m = iocb_sources_sync_metrics_get(v->sync, i);
		int64_t msg = IOCB_M_GET(m->last_message_us);
		uint64_t rejects = 0;

		for (size_t r = 0; r < IOCB_SKIP__COUNT; r++)
			rejects += IOCB_M_GET(m->rejects[r]);
		iocb_jw_obj(w);
		iocb_jw_key(w, "name");
		iocb_jw_cstr(w, m->name);
		iocb_jw_key(w, "up");
		iocb_jw_bool(w, IOCB_M_GET(m->up) != 0);
		time_or_null(w, "last_update", IOCB_M_GET(m->last_update_us));
		time_or_null(w, "last_message", msg);
		iocb_jw_key(w, "age_s");
		if (msg > 0)
			put_secs(w, v->now_us > msg ? v->now_us - msg : 0);
		else
			iocb_jw_null(w);
		iocb_jw_key(w, "messages");
		iocb_jw_u64(w, IOCB_M_GET(m->messages));
		iocb_jw_key(w, "updates");
		iocb_jw_u64(w, IOCB_M_GET(m->acts[IOCB_SA_UPSERT]) + IOCB_M_GET(m->acts[IOCB_SA_REMOVE]));
		iocb_jw_key(w, "rejects");
		iocb_jw_u64(w, rejects);
		iocb_jw_key(w, "errors");
		iocb_jw_u64(w, IOCB_M_GET(m->errors));
		iocb_jw_key(w, "reconnects");
		iocb_jw_u64(w, IOCB_M_GET(m->reconnects));
		iocb_jw_obj_end(w);
	}
	iocb_jw_arr_end(w);
	iocb_jw_key(w, "cursor");
	iocb_jw_u64(w, cursor);
	iocb_jw_key(w, "lag_s");
	if (cursor && (int64_t)cursor * 1000000 <= v->now_us)
		iocb_jw_i64(w, (v->now_us / 1000000) - (int64_t)cursor);
	else
		iocb_jw_null(w);
}

static void store_json(const struct iocb_store_stats *s, struct iocb_jw *w)
{
	iocb_jw_key(w, "store");
	iocb_jw_obj(w);
	iocb_jw_key(w, "attributes");
	iocb_jw_u64(w, s->attrs);
	iocb_jw_key(w, "events");
	iocb_jw_u64(w, s->events);
	iocb_jw_key(w, "cidrs_v4");
	iocb_jw_u64(w, s->cidrs_v4);
	iocb_jw_key(w, "cidrs_v6");
	iocb_jw_u64(w, s->cidrs_v6);
	iocb_jw_key(w, "non_ids");
	iocb_jw_u64(w, s->non_ids);
	iocb_jw_key(w, "memory_bytes");
	iocb_jw_u64(w, s->mem_bytes);
	iocb_jw_key(w, "commit_failing");
	iocb_jw_bool(w, s->commit_failing);
	iocb_jw_key(w, "commit_error");
	iocb_jw_cstr(w, s->commit_error);
	iocb_jw_key(w, "by_type");
	iocb_jw_obj(w);
	for (uint16_t t = 0; t < 256; t++) {
		const struct iocb_misp_type *ty = s->by_type[t] ? iocb_misp_type_get(t) : NULL;
		if (!ty)
			continue;
		iocb_jw_key(w, ty->name);
		iocb_jw_u64(w, s->by_type[t]);
	}
	iocb_jw_obj_end(w);
	iocb_jw_obj_end(w);
}

#define MAX_ITEMS 64 /* inputs or outputs shown */

static void u64_key(struct iocb_jw *w, const char *k, uint64_t v)
{
	iocb_jw_key(w, k);
	iocb_jw_u64(w, v);
}

/* Open an input's or output's object with its name and type. */
static void item_head(struct iocb_jw *w, const struct iocb_pipe_item_status *it)
{
	iocb_jw_obj(w);
	iocb_jw_key(w, "name");
	iocb_jw_cstr(w, it->name);
	iocb_jw_key(w, "type");
	iocb_jw_cstr(w, it->type);
}

static void pipe_json(struct iocb_pipe *p, uint64_t queue_max, uint64_t spool_max, struct iocb_jw *w)
{
	struct iocb_pipe_item_status *it = iocb_xcalloc(MAX_ITEMS, sizeof(*it));
	size_t n = iocb_pipe_inputs_status(p, it, MAX_ITEMS);

	iocb_jw_key(w, "inputs");
	iocb_jw_arr(w);
	for (size_t i = 0; i < n; i++) {
		item_head(w, &it[i]);
		u64_key(w, "lines", it[i].lines);
		u64_key(w, "events", it[i].events);
		u64_key(w, "matched", it[i].matched);
		u64_key(w, "errors", it[i].errors);
		iocb_jw_obj_end(w);
	}
	iocb_jw_arr_end(w);
	n = iocb_pipe_outputs_status(p, it, MAX_ITEMS);
	iocb_jw_key(w, "outputs");
	iocb_jw_arr(w);
	for (size_t i = 0; i < n; i++) {
		item_head(w, &it[i]);
		iocb_jw_key(w, "up");
		iocb_jw_bool(w, it[i].up);
		u64_key(w, "delivered", it[i].delivered);
		u64_key(w, "retried", it[i].retried);
		u64_key(w, "dead_letters", it[i].dead_letters);
		u64_key(w, "errors", it[i].errors);
		u64_key(w, "in_flight", it[i].in_flight);
		u64_key(w, "queue_bytes", it[i].queue_bytes);
		u64_key(w, "queue_max_bytes", queue_max);
		u64_key(w, "queue_batches", it[i].queue_batches);
		u64_key(w, "spool_bytes", it[i].spool_bytes);
		u64_key(w, "spool_max_bytes", spool_max);
		u64_key(w, "spool_segments", it[i].spool_segments);
		iocb_jw_obj_end(w);
	}
	iocb_jw_arr_end(w);
	free(it);
}

static void bus_json(const struct iocb_bus_stats *b, struct iocb_jw *w)
{
	iocb_jw_key(w, "bus");
	if (!b) {
		iocb_jw_null(w);
		return;
	}
	iocb_jw_obj(w);
	u64_key(w, "subscribers", b->subscribers);
	iocb_jw_key(w, "by_topic");
	iocb_jw_obj(w);
	for (int t = 0; t < IOCB_BUS_TOPIC__N; t++)
		if (b->subscribers_by_topic[t]) {
			iocb_jw_key(w, iocb_bus_topic_name((enum iocb_bus_topic)t));
			iocb_jw_u64(w, b->subscribers_by_topic[t]);
		}
	iocb_jw_obj_end(w);
	u64_key(w, "drops", b->drops + b->drops_subscriber);
	u64_key(w, "sightings_in", b->sightings_in);
	iocb_jw_obj_end(w);
}

void iocb_daemon__status_json(struct iocb_daemon__status *st, struct iocb_pipe_recent *recent,
			      const struct iocb_daemon__status_view *v, struct iocb_jw *w)
{
	iocb_jw_obj(w);
	u64_key(w, "status_version", 1);
	iocb_jw_key(w, "version");
	iocb_jw_cstr(w, IOCB_VERSION);
	iocb_jw_key(w, "health");
	iocb_jw_cstr(w, v->health);
	time_or_null(w, "now", v->now_us);
	time_or_null(w, "started", v->started_us);
	iocb_jw_key(w, "refresh_s");
	iocb_jw_double(w, st ? st->refresh_s : 5);
	iocb_jw_key(w, "max_tlp");
	iocb_jw_cstr(w, tlp_config_name(st ? st->max_rank : 1));
	sources_json(v, w);
	store_json(v->store, w);
	pipe_json(v->pipe, v->queue_max, v->spool_max, w);
	bus_json(v->bus, w);
	if (st)
		iocb_daemon__status_history_json(st, w);
	{
		unsigned cap = iocb_pipe_recent_cap(recent);
		struct iocb_pipe_match *m = iocb_xcalloc(cap ? cap : 1, sizeof(*m));
		size_t n = iocb_pipe_recent_get(recent, m, cap);

		iocb_daemon__status_matches_json(w, m, n, st ? st->max_rank : 1);
		free(m);
	}
	iocb_jw_obj_end(w);
}

int iocb_daemon__status_metrics(struct iocb_daemon__status *st, struct iocb_pipe_recent *recent,
				struct iocb_buf *out)
{
	struct iocb_prom p;
	uint64_t points;

	iocb_prom_begin(&p, out);
	if (recent) {
		iocb_prom_head(&p, "iocbus_status_matches_total", "counter",
			       "Pipeline hits recorded for the status page's last matches.");
		iocb_prom_u64(&p, "iocbus_status_matches_total", NULL, iocb_pipe_recent_total(recent));
	}
	if (st) {
		pthread_mutex_lock(&st->mu);
		points = st->points;
		pthread_mutex_unlock(&st->mu);
		iocb_prom_head(&p, "iocbus_status_history_points_total", "counter",
			       "Points added to the status page's throughput history (one per 10 s).");
		iocb_prom_u64(&p, "iocbus_status_history_points_total", NULL, points);
	}
	return iocb_prom_end(&p, "status");
}
