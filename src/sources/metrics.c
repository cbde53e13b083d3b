/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus text exposition (format 0.0.4) of the live sources and the
 * store: iocb_sources_sync_metrics_render() (see sources.h and docs/METRICS.md).
 *
 * Shaped around the format's one structural rule: all samples of a family
 * are contiguous, under a single # HELP and # TYPE. So the renderer walks
 * family by family, and within a family source by source. A family's header
 * is written lazily with its first sample, so a family with no sample at
 * all (no source registered, no source has updated yet) is left out rather
 * than exposed empty.
 *
 * The counters are written by the sources' threads and read here with
 * relaxed loads only: each value is individually consistent, the set is
 * not a snapshot, which is what Prometheus expects of a scrape.
 *
 * Written through core/prom.h, so output is all or nothing: if the
 * caller's buffer cap is reached, what this call appended is rolled back
 * and the error returned (the daemon then answers the scrape with 500).
 */
#include "sources/sources.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/prom.h"

/* Which per-source scalar counter a family shows. */
enum src_field {
	SF_MESSAGES,
	SF_BYTES,
	SF_ERRORS,
	SF_RECONNECTS,
	SF_CATCHUPS,
	SF_RECONCILES,
	SF_HEARTBEATS,
};

static uint64_t src_field(struct iocb_sources_sync_metrics *m, enum src_field f)
{
	switch (f) {
	case SF_MESSAGES:
		return IOCB_M_GET(m->messages);
	case SF_BYTES:
		return IOCB_M_GET(m->bytes);
	case SF_ERRORS:
		return IOCB_M_GET(m->errors);
	case SF_RECONNECTS:
		return IOCB_M_GET(m->reconnects);
	case SF_CATCHUPS:
		return IOCB_M_GET(m->catchups);
	case SF_RECONCILES:
		return IOCB_M_GET(m->reconciles);
	case SF_HEARTBEATS:
		return IOCB_M_GET(m->heartbeats);
	}
	return 0;
}

/* Seconds since a `last_*_us` stamp; a clock stepped backwards reads 0. */
static double age_s(int64_t now_us, int64_t then_us)
{
	return now_us > then_us ? (double)(now_us - then_us) / 1e6 : 0.0;
}

static void render_sources(struct iocb_prom *r, struct iocb_sources_sync *y)
{
	static const struct {
		enum src_field f;  /* which counter */
		const char *name;  /* family name */
		const char *help;  /* # HELP text */
	} scalars[] = {
		{SF_MESSAGES, "iocbus_source_messages_total",
		 "Messages read: ZeroMQ frames, Kafka messages, REST pages, feed files."},
		{SF_BYTES, "iocbus_source_bytes_total", "Bytes of the messages read."},
		{SF_ERRORS, "iocbus_source_errors_total",
		 "Transport errors: HTTP failures, broker errors, bad frames."},
		{SF_RECONNECTS, "iocbus_source_reconnects_total", "ZeroMQ reconnects and Kafka rebalances."},
		{SF_CATCHUPS, "iocbus_source_catchups_total",
		 "REST catch-ups run (pull) or requested (zmq, kafka)."},
		{SF_RECONCILES, "iocbus_source_reconciles_total", "Full reconciles completed (pull)."},
		{SF_HEARTBEATS, "iocbus_source_heartbeats_total", "MISP ZeroMQ heartbeats (misp_json_self) received."},
	};
	size_t n = iocb_sources_sync_metrics_count(y);
	int64_t now = iocb_time_real_us();

	struct iocb_prom_fam upd = {"iocbus_updates_total", "counter",
			  "Attribute messages by action, and the store changes and filter drops they caused.", false};
	for (size_t i = 0; i < n; i++) {
		struct iocb_sources_sync_metrics *m = iocb_sources_sync_metrics_get(y, i);
		for (unsigned a = 0; a < IOCB_SA__COUNT; a++) {
			const char *l[] = {"source", m->name, "action", iocb_sources_sync_act_name(a), NULL};
			iocb_prom_fam_u64(r, &upd, l, IOCB_M_GET(m->acts[a]));
		}
	}

	struct iocb_prom_fam rej = {"iocbus_rejects_total", "counter", "Attributes and messages skipped, by reason.", false};
	for (size_t i = 0; i < n; i++) {
		struct iocb_sources_sync_metrics *m = iocb_sources_sync_metrics_get(y, i);
		for (unsigned k = 0; k < IOCB_SKIP__COUNT; k++) {
			const char *l[] = {"source", m->name, "reason", iocb_misp_skip_name(k), NULL};
			iocb_prom_fam_u64(r, &rej, l, IOCB_M_GET(m->rejects[k]));
		}
	}

	for (size_t s = 0; s < IOCB_ARRAY_LEN(scalars); s++) {
		struct iocb_prom_fam f = {scalars[s].name, "counter", scalars[s].help, false};
		for (size_t i = 0; i < n; i++) {
			struct iocb_sources_sync_metrics *m = iocb_sources_sync_metrics_get(y, i);
			const char *l[] = {"source", m->name, NULL};
			iocb_prom_fam_u64(r, &f, l, src_field(m, scalars[s].f));
		}
	}

	struct iocb_prom_fam up = {"iocbus_source_up", "gauge",
			 "1 when the source is connected or its last request succeeded, else 0.", false};
	for (size_t i = 0; i < n; i++) {
		struct iocb_sources_sync_metrics *m = iocb_sources_sync_metrics_get(y, i);
		const char *l[] = {"source", m->name, NULL};
		iocb_prom_fam_i64(r, &up, l, IOCB_M_GET(m->up));
	}

	struct iocb_prom_fam upd_age = {"iocbus_source_last_update_age_seconds", "gauge",
			      "Seconds since the source last changed the store.", false};
	for (size_t i = 0; i < n; i++) {
		struct iocb_sources_sync_metrics *m = iocb_sources_sync_metrics_get(y, i);
		int64_t t = IOCB_M_GET(m->last_update_us);
		const char *l[] = {"source", m->name, NULL};
		if (t != 0)
			iocb_prom_fam_f(r, &upd_age, l, 3, age_s(now, t));
	}

	struct iocb_prom_fam msg_age = {"iocbus_source_last_message_age_seconds", "gauge",
			      "Seconds since the source last received anything, heartbeats included.", false};
	for (size_t i = 0; i < n; i++) {
		struct iocb_sources_sync_metrics *m = iocb_sources_sync_metrics_get(y, i);
		int64_t t = IOCB_M_GET(m->last_message_us);
		const char *l[] = {"source", m->name, NULL};
		if (t != 0)
			iocb_prom_fam_f(r, &msg_age, l, 3, age_s(now, t));
	}

	struct iocb_prom_fam cur = {"iocbus_misp_cursor_timestamp_seconds", "gauge",
			  "Newest MISP Attribute.timestamp applied (MISP's clock, epoch seconds); 0 before the first.",
			  false};
	iocb_prom_fam_u64(r, &cur, NULL, iocb_sources_sync_cursor(y));
}

static void render_store(struct iocb_prom *r, struct iocb_sources_sync *y)
{
	struct iocb_store_stats st;

	iocb_store_stats(y->store, &st);

	struct iocb_prom_fam by_type = {"iocbus_store_attributes", "gauge", "Attributes in the store, by MISP type.", false};
	for (unsigned id = 0; id < IOCB_ARRAY_LEN(st.by_type); id++) {
		const struct iocb_misp_type *t;
		if (st.by_type[id] == 0)
			continue;
		t = iocb_misp_type_get((uint16_t)id);
		const char *l[] = {"type", t ? t->name : "unknown", NULL};
		iocb_prom_fam_u64(r, &by_type, l, st.by_type[id]);
	}

	struct iocb_prom_fam attrs = {"iocbus_store_attributes_total", "gauge", "Attributes in the store.", false};
	iocb_prom_fam_u64(r, &attrs, NULL, st.attrs);
	struct iocb_prom_fam events = {"iocbus_store_events", "gauge", "Events in the store.", false};
	iocb_prom_fam_u64(r, &events, NULL, st.events);
	struct iocb_prom_fam non_ids = {"iocbus_store_non_ids_attributes", "gauge",
			      "Attributes in the store with to_ids=false.", false};
	iocb_prom_fam_u64(r, &non_ids, NULL, st.non_ids);

	struct iocb_prom_fam cidrs = {"iocbus_store_cidrs", "gauge", "CIDR prefixes indexed, by address family.", false};
	const char *l4[] = {"family", "ipv4", NULL};
	const char *l6[] = {"family", "ipv6", NULL};
	iocb_prom_fam_u64(r, &cidrs, l4, st.cidrs_v4);
	iocb_prom_fam_u64(r, &cidrs, l6, st.cidrs_v6);

	struct iocb_prom_fam mem = {"iocbus_store_memory_bytes", "gauge",
			  "Approximate heap used by the store's records and indexes.", false};
	iocb_prom_fam_u64(r, &mem, NULL, st.mem_bytes);
	struct iocb_prom_fam commits = {"iocbus_store_commits_total", "counter", "Store commits since it was opened.", false};
	iocb_prom_fam_u64(r, &commits, NULL, st.commits);
	struct iocb_prom_fam cerr = {"iocbus_store_commit_errors_total", "counter",
			   "Store commits that failed to persist (full disk, full map, I/O error).", false};
	iocb_prom_fam_u64(r, &cerr, NULL, st.commit_errors);
}

int iocb_sources_sync_metrics_render(struct iocb_sources_sync *y, struct iocb_buf *out)
{
	struct iocb_prom r;

	iocb_prom_begin(&r, out);
	render_sources(&r, y);
	render_store(&r, y);
	return iocb_prom_end(&r, "sources");
}
