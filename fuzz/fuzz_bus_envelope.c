/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the snapshot envelope parser (iocb_bus_parse_envelope() in
 * src/serve/bus/bus.h), which reads what any peer reaching the bus's SUB
 * port sends as "threatbus/snapshotenvelope <json>". Invariants (abort() on
 * violation):
 *  - the result is IOCB_OK or IOCB_EPARSE, the same for the same input;
 *  - on OK the id is NUL-terminated within IOCB_BUS_SNAPSHOT_ID_MAX bytes,
 *    the type is 1 or 2, and the body span lies inside the input, starts
 *    with '{' and ends with '}'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/bus/bus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_bus_envelope e, e2;
	const char *s = (const char *)data;
	int rc = iocb_bus_parse_envelope(s, size, &e);

	if (rc != IOCB_OK && rc != IOCB_EPARSE)
		abort();
	if (iocb_bus_parse_envelope(s, size, &e2) != rc)
		abort();
	if (rc != IOCB_OK)
		return 0;
	if (!memchr(e.snapshot_id, 0, sizeof(e.snapshot_id)) || (e.snapshot_type != 1 && e.snapshot_type != 2))
		abort();
	if (e.body_len < 2 || e.body_off > size || e.body_len > size - e.body_off)
		abort();
	if (s[e.body_off] != '{' || s[e.body_off + e.body_len - 1] != '}')
		abort();
	return 0;
}
