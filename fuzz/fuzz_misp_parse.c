/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the MISP document parser (every shape) and the ZeroMQ frame parser.
 * Checks the invariants consumers rely on: delivered attributes have a uuid,
 * indicators have a known type and 1-2 non-empty parts within bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "misp/misp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_attr(void *ud, const struct iocb_misp_attr *a)
{
	(void)ud;
	if (a->uuid.len == 0 || !a->event)
		abort();
	if (a->indicator) {
		if (!a->type || a->nparts < 1 || a->nparts > 2)
			abort();
		for (unsigned i = 0; i < a->nparts; i++) {
			if (a->type->mc[i] != IOCB_MC_NONE && a->part[i].len == 0)
				abort();
			/* Touch every byte so ASan checks the views. */
			volatile char sink = 0;
			for (size_t k = 0; k < a->part[i].len; k++)
				sink ^= a->part[i].ptr[k];
			(void)sink;
		}
	}
	for (size_t i = 0; i < a->ntags; i++)
		if (a->tags[i].name.len == 0)
			abort();
	return 0;
}

static int on_event(void *ud, const struct iocb_misp_event *e, enum iocb_misp_action act)
{
	(void)ud;
	(void)act;
	for (size_t i = 0; i < e->ntags; i++)
		if (e->tags[i].name.len == 0)
			abort();
	return 0;
}

static int on_tag(void *ud, const struct iocb_misp_tag_change *t)
{
	(void)ud;
	if (t->event_id == 0 || t->name.len == 0)
		abort();
	volatile char sink = 0;
	for (size_t k = 0; k < t->name.len; k++)
		sink ^= t->name.ptr[k];
	(void)sink;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_misp_handlers h = {on_attr, on_event, NULL, NULL, on_tag, NULL};
	struct iocb_misp_stats st = {0};
	struct iocb_str topic;

	int rc;

	/* Errors are expected here; only crashes and broken invariants count. */
	if (size && data[0] == 'm')
		rc = iocb_misp_parse_zmq_frame((const char *)data, size, &topic, &h, NULL, &st, NULL);
	else
		rc = iocb_misp_parse((const char *)data, size, "fuzz", &h, NULL, &st, NULL);
	return rc < 0 ? 0 : 0;
}
