/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the bus sighting parser (iocb_sightings_parse_bus() in
 * src/sightings/sightings.h), which reads whatever any app reaching the
 * bus's SUB socket sends on threatbus/sighting or stix2/sighting. Each
 * input is parsed as both generations. Invariants (abort() on violation):
 *  - the result is IOCB_OK, IOCB_EPARSE or IOCB_ELIMIT;
 *  - on OK the item is one iocb_sightings_add() takes: a 36-char lower-case
 *    uuid (8-4-4-4-12), a source of at most 255 bytes, type 0..2, a
 *    timestamp in 1970..9999; views point into the item's own buffers;
 *  - on failure the item is zeroed; the same input gives the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sightings/sightings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int gen, const char *s, size_t n)
{
	struct iocb_sightings_bus_item a, b;
	int rc = iocb_sightings_parse_bus(gen, s, n, &a, NULL);
	if (rc != IOCB_OK && rc != IOCB_EPARSE && rc != IOCB_ELIMIT)
		abort();
	if (iocb_sightings_parse_bus(gen, s, n, &b, NULL) != rc)
		abort();
	if (rc != IOCB_OK) {
		if (a.item.attr_uuid.len || a.item.source.len || a.item.type || a.item.timestamp)
			abort();
		return;
	}
	if (a.item.attr_uuid.ptr != a.uuid || a.item.attr_uuid.len != IOCB_SIGHTINGS_UUID_LEN || a.uuid[36])
		abort();
	for (size_t i = 0; i < IOCB_SIGHTINGS_UUID_LEN; i++) {
		char c = a.uuid[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash != (c == '-') || (!dash && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))))
			abort();
	}
	if (a.item.source.ptr != a.source || a.item.source.len > IOCB_SIGHTINGS_SOURCE_MAX || a.item.type > 2 ||
	    a.item.timestamp < 0 || a.item.timestamp > 253402300799LL)
		abort();
	if (memcmp(a.uuid, b.uuid, sizeof(a.uuid)) != 0 || a.item.timestamp != b.item.timestamp)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check(0, (const char *)data, size);
	check(1, (const char *)data, size);
	return 0;
}
