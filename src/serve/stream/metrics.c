/* SPDX-License-Identifier: Apache-2.0 */
/* The iocbus_stream_* families of the indicator stream (stream.h, docs/METRICS.md). */
#include "serve/stream/stream.h"

#include "core/prom.h"

int iocb_stream_metrics_render(const struct iocb_stream_stats *st, struct iocb_buf *out)
{
	static const char *const ind[] = {"kind", "indicator", NULL}, *const tomb[] = {"kind", "tombstone", NULL};
	const struct {
		const char *name, *type, *help;
		uint64_t v;
	} scalars[] = {
		{"iocbus_stream_delivered_total", "counter", "Messages Kafka acknowledged.", st->delivered},
		{"iocbus_stream_delivery_failed_total", "counter",
		 "Messages whose delivery failed; the key's current state is sent again.", st->failed},
		{"iocbus_stream_queue_full_total", "counter",
		 "Changes librdkafka's full queue refused; the key's current state is sent again.", st->queue_full},
		{"iocbus_stream_produce_errors_total", "counter",
		 "Changes librdkafka refused for another reason; the key's current state is sent again.",
		 st->produce_errors},
		{"iocbus_stream_resent_total", "counter", "Keys whose current state was sent again.", st->resent},
		{"iocbus_stream_unexpressible_total", "counter",
		 "to_ids attributes STIX cannot express (no message, a tombstone if it was live).", st->unexpressible},
		{"iocbus_stream_baselines_total", "counter",
		 "Full republishes of the store finished, the one at start included.", st->baselines},
		{"iocbus_stream_tombstones_lost_total", "counter",
		 "Tombstones refused while the resend set was full: the key may stay in the topic.",
		 st->tombstones_lost},
		{"iocbus_stream_producer_restarts_total", "counter", "Producers recreated after a fatal error.",
		 st->producer_restarts},
		{"iocbus_stream_baseline_records", "gauge", "Records the last finished baseline walked.",
		 st->baseline_records},
		{"iocbus_stream_baseline_done", "gauge", "1 once the first baseline finished.", st->baseline_done},
		{"iocbus_stream_resync_pending", "gauge", "1 while a full republish is scheduled or running.",
		 st->resync_pending},
		{"iocbus_stream_pending_keys", "gauge", "Keys waiting to be sent again.", st->pending},
		{"iocbus_stream_in_flight", "gauge", "Messages in librdkafka without a delivery report.", st->in_flight},
	};
	struct iocb_prom p;

	iocb_prom_begin(&p, out);
	iocb_prom_head(&p, "iocbus_stream_messages_total", "counter",
		       "Messages handed to librdkafka, by kind (indicator, tombstone).");
	iocb_prom_u64(&p, "iocbus_stream_messages_total", ind, st->indicators);
	iocb_prom_u64(&p, "iocbus_stream_messages_total", tomb, st->tombstones);
	for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		iocb_prom_head(&p, scalars[i].name, scalars[i].type, scalars[i].help);
		iocb_prom_u64(&p, scalars[i].name, NULL, scalars[i].v);
	}
	iocb_prom_head(&p, "iocbus_stream_baseline_seconds", "gauge", "How long the last finished baseline took.");
	iocb_prom_f(&p, "iocbus_stream_baseline_seconds", NULL, 3, st->baseline_seconds);
	return iocb_prom_end(&p, "indicator stream metrics");
}
