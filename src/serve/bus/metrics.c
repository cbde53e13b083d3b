/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bus counters in Prometheus text format: iocbus_bus_*, one family per
 * counter of struct iocb_bus_stats, each described in docs/METRICS.md.
 * Pure: it reads a stats copy, so the daemon renders it from any thread.
 */
#include "serve/bus/bus.h"

#include "core/prom.h"

static const char *const GEN_NAME[IOCB_BUS_GEN__N] = {"2020.12", "2021"};
static const char *const KIND_NAME[IOCB_BUS_GEN__N][IOCB_BUS_KIND__N] = {
	{"intel", "sighting"},
	{"indicator", "sighting"},
};

#define P(n, t, h, f) {"iocbus_bus_" n, t, h, offsetof(struct iocb_bus_stats, f)}
static const struct iocb_prom_row PLAIN[] = {
	P("subscribers", "gauge", "Subscribers now", subscribers),
	P("publish_drops_total", "counter", "Messages the publish queue refused (full or too big)", drops),
	P("subscriber_drops_total", "counter", "Frames a subscriber lost: its queue was full or it was stale",
	  drops_subscriber),
	P("stale_total", "counter", "Subscribers marked stale after their queue overflowed", stale_marks),
	P("resyncs_total", "counter", "Stale subscribers resynced with a snapshot", resyncs),
	P("heartbeats_missed_total", "counter", "Subscribers expired for want of a heartbeat", heartbeats_missed),
	P("snapshot_requests_total", "counter", "Subscribes that asked for a snapshot", snapshot_requests),
	P("snapshots_total", "counter", "Store snapshots started (requests and resyncs)", snapshot_jobs),
	P("snapshot_indicators_total", "counter", "Indicators sent in snapshots", snapshot_sent),
	P("snapshot_forwarded_total", "counter", "Snapshot requests forwarded to other apps", snapshot_forwarded),
	P("snapshot_envelopes_total", "counter", "Snapshot envelopes passed on to their requester", envelopes_in),
	P("changes_total", "counter", "Store changes the bus was told of", changes_seen),
	P("bad_requests_total", "counter", "Management requests answered error or unknown request", bad_requests),
	P("oversized_total", "counter", "Management requests or received frames over the caps", oversized),
	P("subscribes_total", "counter", "Successful subscribe requests", subscribes),
	P("unsubscribes_total", "counter", "Successful unsubscribe requests", unsubscribes),
	P("heartbeats_total", "counter", "Successful heartbeat requests", heartbeats),
	P("table_full_total", "counter", "Subscribes refused by the subscriber cap", table_full),
	P("sightings_in_total", "counter", "Sighting frames received from apps", sightings_in),
	P("frames_ignored_total", "counter", "Other or malformed frames received from apps", frames_ignored),
	P("subscriptions_refused_total", "counter", "Subscriptions on the PUB socket naming no known p2p topic",
	  subscriptions_refused),
	P("curve_allowed_total", "counter", "CURVE handshakes with a key in clients_file", curve_allowed),
	P("curve_refused_total", "counter", "CURVE handshakes refused: the key is not in clients_file", curve_refused),
};
#undef P

int iocb_bus_metrics_render(const struct iocb_bus_stats *st, struct iocb_buf *out)
{
	struct iocb_prom p;

	iocb_prom_begin(&p, out);
	iocb_prom_rows(&p, PLAIN, sizeof(PLAIN) / sizeof(PLAIN[0]), st);
	iocb_prom_head(&p, "iocbus_bus_subscribers_by_topic", "gauge", "Subscribers now, per topic they named");
	for (int t = 0; t < IOCB_BUS_TOPIC__N; t++) {
		const char *l[] = {"topic", iocb_bus_topic_name((enum iocb_bus_topic)t), NULL};
		iocb_prom_u64(&p, "iocbus_bus_subscribers_by_topic", l, st->subscribers_by_topic[t]);
	}
	iocb_prom_head(&p, "iocbus_bus_frames_out_total", "counter", "Frames sent to subscribers (live and snapshot)");
	for (int g = 0; g < IOCB_BUS_GEN__N; g++)
		for (int k = 0; k < IOCB_BUS_KIND__N; k++) {
			const char *l[] = {"generation", GEN_NAME[g], "kind", KIND_NAME[g][k], NULL};
			iocb_prom_u64(&p, "iocbus_bus_frames_out_total", l, st->out[g][k]);
		}
	iocb_prom_head(&p, "iocbus_bus_changes_published_total", "counter",
		       "Store changes queued as messages, per generation and operation");
	for (int g = 0; g < IOCB_BUS_GEN__N; g++)
		for (int op = 0; op < 2; op++) {
			const char *l[] = {"generation", GEN_NAME[g], "operation", op ? "REMOVE" : "ADD", NULL};
			iocb_prom_u64(&p, "iocbus_bus_changes_published_total", l, st->feed_out[g][op]);
		}
	iocb_prom_head(&p, "iocbus_bus_changes_skipped_total", "counter",
		       "to_ids store changes the generation cannot express (no STIX pattern or IntelType)");
	for (int g = 0; g < IOCB_BUS_GEN__N; g++) {
		const char *l[] = {"generation", GEN_NAME[g], NULL};
		iocb_prom_u64(&p, "iocbus_bus_changes_skipped_total", l, st->changes_skipped[g]);
	}
	return iocb_prom_end(&p, "bus metrics");
}
