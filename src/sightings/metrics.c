// SPDX-License-Identifier: Apache-2.0
/* The sightings counters as Prometheus text (docs/METRICS.md "Sightings"). */
#include "sightings/sightings.h"

#include "core/prom.h"

/* One unlabelled family. */
static void one(struct iocb_prom *p, const char *name, const char *type, const char *help, uint64_t v)
{
	iocb_prom_head(p, name, type, help);
	iocb_prom_u64(p, name, NULL, v);
}

int iocb_sightings_metrics_render(const struct iocb_sightings_stats *st, struct iocb_buf *out)
{
	static const char *const queue[] = {"window", "queue", NULL}, *const matches[] = {"window", "from_matches", NULL};
	struct iocb_prom p;

	iocb_prom_begin(&p, out);
	one(&p, "iocbus_sightings_received_total", "counter",
	    "Sightings accepted (from the bus, from_matches and callers): queued or deduplicated.", st->received);
	one(&p, "iocbus_sightings_sent_total", "counter", "Sightings MISP confirmed.", st->sent);
	one(&p, "iocbus_sightings_failed_total", "counter",
	    "Requests to /sightings/add that failed (5xx, 4xx, transport) and are retried.", st->failed);
	one(&p, "iocbus_sightings_requests_total", "counter", "Requests to /sightings/add made.", st->requests);
	one(&p, "iocbus_sightings_rejected_total", "counter",
	    "Sightings MISP refused for good (HTTP 200 with message), dropped.", st->rejected);
	one(&p, "iocbus_sightings_queued", "gauge", "Sightings in the durable queue now.", st->queued);
	one(&p, "iocbus_sightings_bad_total", "counter", "Bus sighting frames refused as malformed.", st->bad);
	iocb_prom_head(&p, "iocbus_sightings_deduplicated_total", "counter",
		       "Sightings dropped by a dedup window: queue = sightings.dedup_window, from_matches = its window.");
	iocb_prom_u64(&p, "iocbus_sightings_deduplicated_total", queue, st->deduplicated);
	iocb_prom_u64(&p, "iocbus_sightings_deduplicated_total", matches, st->matches_deduplicated);
	one(&p, "iocbus_sightings_from_matches_total", "counter",
	    "Pipeline matches queued as sightings (from_matches), also in received.", st->matches);
	one(&p, "iocbus_sightings_from_matches_dropped_total", "counter",
	    "from_matches sightings dropped: the in-memory handoff was full or the queue refused them.",
	    st->matches_dropped);
	return iocb_prom_end(&p, "sightings");
}
