/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MISP's ZeroMQ framing: one frame is "<topic> <json>". The topic decides
 * whether the JSON is parsed at all (heartbeats, sightings, users... are
 * not); what follows the space is an ordinary document for iocb_misp_parse().
 */
#include "misp/misp.h"

#include <string.h>

int iocb_misp_parse_zmq_frame(const char *buf, size_t len, struct iocb_str *topic, const struct iocb_misp_handlers *h,
			      const struct iocb_misp_limits *lim, struct iocb_misp_stats *stats, struct iocb_err *err)
{
	const char *sp = memchr(buf, ' ', len);
	size_t tlen;

	if (!sp) {
		if (stats)
			stats->skipped[IOCB_SKIP_BAD_SHAPE]++;
		if (h->on_skip)
			h->on_skip(h->ud, IOCB_SKIP_BAD_SHAPE, "zmq frame without a space after the topic");
		*topic = iocb_str_make(buf, len > 64 ? 64 : len);
		return iocb_err_set(err, IOCB_EPARSE, "zmq frame without a space after the topic");
	}
	tlen = (size_t)(sp - buf);
	*topic = iocb_str_make(buf, tlen);
	if (iocb_str_eq_c(*topic, "misp_json_self"))
		return IOCB_OK;
	if (h->on_sighting && iocb_str_eq_c(*topic, "misp_json_sighting")) {
		struct iocb_misp_sighting sg;
		int rc = iocb_misp_parse_sighting(sp + 1, len - tlen - 1, &sg, err);
		if (rc < 0) {
			if (h->on_skip)
				h->on_skip(h->ud, IOCB_SKIP_BAD_SHAPE, err ? err->msg : "bad sighting");
			return rc;
		}
		return sg.add ? h->on_sighting(h->ud, &sg) : IOCB_OK;
	}
	/* Only these topics carry attributes or event state (tags: event tag changes). */
	if (!iocb_str_eq_c(*topic, "misp_json") && !iocb_str_eq_c(*topic, "misp_json_attribute") &&
	    !iocb_str_eq_c(*topic, "misp_json_event") && !(h->on_tag && iocb_str_eq_c(*topic, "misp_json_tag")))
		return IOCB_OK;
	return iocb_misp_parse(sp + 1, len - tlen - 1, "zmq", h, lim, stats, err);
}
