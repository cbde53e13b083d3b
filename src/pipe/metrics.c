/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text of the pipeline: iocbus_input_*, iocbus_output_*, iocbus_spool_* (docs/METRICS.md). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/prom.h"
#include "pipe/core.h"

/* The `type` label of an input or output. */
#define IN_TYPE(in_) iocb_config_choice_name(IOCB_CONFIG_CHOICE_INPUT_TYPE, (int)(in_)->cfg->type)
#define OUT_TYPE(o_) iocb_config_choice_name(IOCB_CONFIG_CHOICE_OUTPUT_TYPE, (int)(o_)->cfg->type)

/*
 * A counter or gauge per item (`decl_` names it for `ex_` and `tname_`),
 * labelled key_=<name>,type=<tname_>.
 */
#define FAMILY(nm_, ty_, hp_, key_, items_, n_, decl_, tname_, ex_)                                \
	do {                                                                                       \
		iocb_prom_head(out, nm_, ty_, hp_);                                                \
		for (size_t i = 0; i < (n_); i++) {                                                \
			decl_ = (items_)[i];                                                       \
			const char *const l_[] = {key_, (items_)[i]->cfg->name, "type", (tname_), NULL}; \
			iocb_prom_i64(out, nm_, l_, (int64_t)(ex_));                               \
		}                                                                                  \
	} while (0)
#define IN_FAMILY(nm_, ty_, hp_, ex_) \
	FAMILY(nm_, ty_, hp_, "input", v.ins, v.nins, const struct iocb_pipe__input *in, IN_TYPE(in), ex_)
#define OUT_FAMILY(nm_, ty_, hp_, ex_) \
	FAMILY(nm_, ty_, hp_, "output", v.outs, v.nouts, const struct iocb_pipe__output *o, OUT_TYPE(o), ex_)

static void by_status(struct iocb_prom *out, const struct iocb_pipe__view *vp, const char *name, const char *help,
		      size_t field_off)
{
	iocb_prom_head(out, name, "counter", help);
	for (size_t i = 0; i < vp->nouts; i++) {
		const struct iocb_pipe__output *o = vp->outs[i];
		const uint64_t *arr = (const uint64_t *)((const char *)&o->m + field_off);

		for (size_t s = 0; s < IOCB_PIPE_STATUS_MAX; s++) {
			uint64_t n = __atomic_load_n(&arr[s], __ATOMIC_RELAXED);

			char st[24];

			if (!n)
				continue;
			if (s == 0)
				snprintf(st, sizeof(st), "transport");
			else
				snprintf(st, sizeof(st), "%zu", s);
			const char *const l[] = {"output", o->cfg->name, "status", st, NULL};
			iocb_prom_u64(out, name, l, n);
		}
	}
}

/* The iocbus_input_* families. */
static void render_inputs(struct iocb_prom *out, struct iocb_pipe__view v)
{
	IN_FAMILY("iocbus_input_lines_total", "counter", "Lines read by the input, blank and rejected ones included.",
		  IOCB_M_GET(in->m.lines));
	IN_FAMILY("iocbus_input_events_total", "counter", "JSON events handed on to the outputs.",
		  IOCB_M_GET(in->m.events));
	IN_FAMILY("iocbus_input_bytes_total", "counter", "Bytes read by the input.", IOCB_M_GET(in->m.bytes));
	IN_FAMILY("iocbus_input_matched_total", "counter", "Events enriched with at least one indicator.",
		  IOCB_M_GET(in->m.matched));
	IN_FAMILY("iocbus_quality_expired_hits_total", "counter",
		  "Store hits not used because the indicator expired (decayed, past its maximum age, or a type-2 "
		  "sighting).",
		  IOCB_M_GET(in->m.expired_hits));
	iocb_prom_head(out, "iocbus_input_rejects_total", "counter",
		       "Lines passed on unenriched (or dropped when too long), by reason.");
	for (size_t i = 0; i < v.nins; i++)
		for (size_t r = 0; r < IOCB_REJ__COUNT; r++) {
			const char *const l[] = {"input", v.ins[i]->cfg->name, "reason",
						 iocb_enrich_reject_name((enum iocb_enrich_reject)r), NULL};
			iocb_prom_u64(out, "iocbus_input_rejects_total", l, IOCB_M_GET(v.ins[i]->m.rejects[r]));
		}
	IN_FAMILY("iocbus_input_batches_total", "counter", "Batches handed to the outputs.",
		  IOCB_M_GET(in->m.batches));
	IN_FAMILY("iocbus_input_acked_batches_total", "counter",
		  "Batches every output settled (delivered, dead-lettered or spooled); the input's position follows.",
		  IOCB_M_GET(in->m.acked));
	IN_FAMILY("iocbus_input_errors_total", "counter", "Read errors, broker errors, refused connections.",
		  IOCB_M_GET(in->m.errors));
	IN_FAMILY("iocbus_input_connections_total", "counter", "tcp: connections accepted.",
		  IOCB_M_GET(in->m.connections));
	IN_FAMILY("iocbus_input_open_connections", "gauge", "tcp: connections open now.",
		  IOCB_M_GET(in->m.open_connections));
	IN_FAMILY("iocbus_input_rotations_total", "counter", "file: rotations followed.",
		  IOCB_M_GET(in->m.rotations));
	IN_FAMILY("iocbus_input_truncations_total", "counter", "file: truncations seen.",
		  IOCB_M_GET(in->m.truncations));
	IN_FAMILY("iocbus_input_position_bytes", "gauge", "file: committed offset in the current file.",
		  IOCB_M_GET(in->m.position));
	iocb_prom_head(out, "iocbus_input_blocked_seconds_total", "counter",
		       "Time the input waited for its outputs (backpressure).");
	for (size_t i = 0; i < v.nins; i++) {
		const char *const l[] = {"input", v.ins[i]->cfg->name, "type", IN_TYPE(v.ins[i]), NULL};
		iocb_prom_f(out, "iocbus_input_blocked_seconds_total", l, 3,
			    (double)IOCB_M_GET(v.ins[i]->m.blocked_us) / 1e6);
	}
}

/* The iocbus_output_* and iocbus_spool_* counters and gauges. */
static void render_outputs(struct iocb_prom *out, struct iocb_pipe__view v)
{
	OUT_FAMILY("iocbus_output_events_total", "counter", "Events delivered.", IOCB_M_GET(o->m.events));
	OUT_FAMILY("iocbus_output_bytes_total", "counter", "Bytes of the events delivered (uncompressed).",
		   IOCB_M_GET(o->m.bytes));
	OUT_FAMILY("iocbus_output_sent_bytes_total", "counter", "Bytes sent on the wire (compressed).",
		   IOCB_M_GET(o->m.bytes_sent));
	OUT_FAMILY("iocbus_output_batches_total", "counter", "Batches settled.", IOCB_M_GET(o->m.batches));
	OUT_FAMILY("iocbus_output_requests_total", "counter", "Requests completed (bulk requests, writes, messages).",
		   IOCB_M_GET(o->m.requests));
	OUT_FAMILY("iocbus_output_duplicates_total", "counter",
		   "Elasticsearch: items refused with 409 on create (already indexed), counted as delivered.",
		   IOCB_M_GET(o->m.duplicates));
	OUT_FAMILY("iocbus_output_splits_total", "counter", "Elasticsearch: requests split after a 413.",
		   IOCB_M_GET(o->m.splits));
	by_status(out, &v, "iocbus_output_retries_total", "Whole requests retried, by HTTP status (transport = no answer).",
		  offsetof(struct iocb_pipe__output_metrics, retries));
	by_status(out, &v, "iocbus_output_item_retries_total", "Bulk items retried, by item status.",
		  offsetof(struct iocb_pipe__output_metrics, item_retries));
	by_status(out, &v, "iocbus_output_dead_letter_total", "Events written to the dead-letter file, by status.",
		  offsetof(struct iocb_pipe__output_metrics, dead));
	OUT_FAMILY("iocbus_output_dead_letter_dropped_total", "counter",
		   "Dead letters dropped past the file's size cap, or deleted with the oldest rotated file.",
		   IOCB_M_GET(o->m.dead_dropped));
	OUT_FAMILY("iocbus_output_errors_total", "counter", "Other output errors.", IOCB_M_GET(o->m.errors));
	OUT_FAMILY("iocbus_output_lost_total", "counter",
		   "Events dropped at shutdown because no spool could keep them (needs pipeline.state_dir).",
		   IOCB_M_GET(o->m.lost));
	OUT_FAMILY("iocbus_output_up", "gauge", "1 when the output's last request succeeded.", IOCB_M_GET(o->m.up));
	OUT_FAMILY("iocbus_output_in_flight", "gauge", "Requests or messages outstanding.",
		   IOCB_M_GET(o->m.in_flight));
	OUT_FAMILY("iocbus_output_queue_bytes", "gauge", "Bytes queued in memory for the output.",
		   IOCB_M_GET(o->m.queue_bytes));
	OUT_FAMILY("iocbus_output_queue_batches", "gauge", "Batches queued in memory for the output.",
		   IOCB_M_GET(o->m.queue_batches));
	OUT_FAMILY("iocbus_spool_bytes", "gauge", "Bytes in the output's on-disk spool.", IOCB_M_GET(o->m.spool_bytes));
	OUT_FAMILY("iocbus_spool_segments", "gauge", "Segment files in the output's spool.",
		   IOCB_M_GET(o->m.spool_segments));
	OUT_FAMILY("iocbus_spool_written_batches_total", "counter", "Batches written to the spool.",
		   IOCB_M_GET(o->m.spooled));
	OUT_FAMILY("iocbus_spool_replayed_batches_total", "counter", "Batches read back from the spool.",
		   IOCB_M_GET(o->m.replayed));
}

/* The request latency histogram of every output. */
static void render_latency(struct iocb_prom *out, struct iocb_pipe__view v)
{
	iocb_prom_head(out, "iocbus_output_request_duration_seconds", "histogram",
		       "Duration of output requests (bulk requests, writes, produce to delivery report).");
	for (size_t i = 0; i < v.nouts; i++) {
		const struct iocb_pipe__output *o = v.outs[i];
		const char *const l[] = {"output", o->cfg->name, NULL};
		uint64_t cum = 0;
		char le[32];
		const char *const lb[] = {"output", o->cfg->name, "le", le, NULL};

		for (size_t k = 0; k < 13; k++) {
			cum += IOCB_M_GET(o->m.lat_bucket[k]);
			if (k < 12)
				snprintf(le, sizeof(le), "%g", iocb_pipe__output_lat_bounds[k]);
			else
				snprintf(le, sizeof(le), "+Inf");
			iocb_prom_u64(out, "iocbus_output_request_duration_seconds_bucket", lb, cum);
		}
		iocb_prom_f(out, "iocbus_output_request_duration_seconds_sum", l, 6,
			    (double)IOCB_M_GET(o->m.lat_sum_us) / 1e6);
		iocb_prom_u64(out, "iocbus_output_request_duration_seconds_count", l, IOCB_M_GET(o->m.lat_count));
	}
}

int iocb_pipe_metrics_render(struct iocb_pipe *p, struct iocb_buf *out)
{
	struct iocb_pipe__view v;
	struct iocb_prom pr;

	if (!p)
		return IOCB_OK;
	iocb_pipe__view_get(p, &v);
	iocb_prom_begin(&pr, out);
	render_inputs(&pr, v);
	render_outputs(&pr, v);
	render_latency(&pr, v);
	return iocb_prom_end(&pr, "pipeline");
}

/* ------------------------------------------------------------ the status page (pipe.h) */

/* Sum of a per-status counter array. */
static uint64_t sum_status(const uint64_t *arr)
{
	uint64_t n = 0;

	for (size_t s = 0; s < IOCB_PIPE_STATUS_MAX; s++)
		n += __atomic_load_n(&arr[s], __ATOMIC_RELAXED);
	return n;
}

size_t iocb_pipe_inputs_status(struct iocb_pipe *p, struct iocb_pipe_item_status *out, size_t max)
{
	struct iocb_pipe__view v;
	size_t n = 0;

	if (!p)
		return 0;
	iocb_pipe__view_get(p, &v);
	for (size_t i = 0; i < v.nins && n < max; i++, n++) {
		const struct iocb_pipe__input *in = v.ins[i];

		memset(&out[n], 0, sizeof(out[n]));
		out[n].name = in->cfg->name;
		out[n].type = IN_TYPE(in);
		out[n].lines = IOCB_M_GET(in->m.lines);
		out[n].events = IOCB_M_GET(in->m.events);
		out[n].matched = IOCB_M_GET(in->m.matched);
		out[n].errors = IOCB_M_GET(in->m.errors);
		out[n].up = true;
	}
	return n;
}

size_t iocb_pipe_outputs_status(struct iocb_pipe *p, struct iocb_pipe_item_status *out, size_t max)
{
	struct iocb_pipe__view v;
	size_t n = 0;

	if (!p)
		return 0;
	iocb_pipe__view_get(p, &v);
	for (size_t i = 0; i < v.nouts && n < max; i++, n++) {
		const struct iocb_pipe__output *o = v.outs[i];

		memset(&out[n], 0, sizeof(out[n]));
		out[n].name = o->cfg->name;
		out[n].type = OUT_TYPE(o);
		out[n].delivered = IOCB_M_GET(o->m.events);
		out[n].retried = sum_status(o->m.retries) + sum_status(o->m.item_retries);
		out[n].dead_letters = sum_status(o->m.dead);
		out[n].errors = IOCB_M_GET(o->m.errors);
		out[n].in_flight = IOCB_M_GET(o->m.in_flight);
		out[n].queue_bytes = IOCB_M_GET(o->m.queue_bytes);
		out[n].queue_batches = IOCB_M_GET(o->m.queue_batches);
		out[n].spool_bytes = IOCB_M_GET(o->m.spool_bytes);
		out[n].spool_segments = IOCB_M_GET(o->m.spool_segments);
		out[n].up = IOCB_M_GET(o->m.up) != 0;
	}
	return n;
}
