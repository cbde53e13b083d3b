/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the MISP sighting message parser (misp_json_sighting): any input
 * fails cleanly or yields a type and an attribute uuid that are views
 * into the input.
 */
#include <stdint.h>
#include <stdlib.h>

#include "misp/misp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_misp_sighting sg;
	struct iocb_err err;
	const char *b = (const char *)data;
	if (iocb_misp_parse_sighting(b, size, &sg, &err) != IOCB_OK)
		return 0;
	if (sg.type < 0 || sg.type > 255 || !sg.attr_uuid.len || sg.attr_uuid.ptr < b ||
	    sg.attr_uuid.ptr + sg.attr_uuid.len > b + size || sg.date < 0)
		abort();
	return 0;
}
