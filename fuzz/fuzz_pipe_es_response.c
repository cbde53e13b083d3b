/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the Elasticsearch _bulk response parser (src/pipe/outputs/es_bulk.h): any
 * bytes, for a request of 0..7 items (from the first byte). Checks that it
 * never writes past the expected items, that success means exactly that many
 * items, and that every reason decodes into a bounded, NUL-terminated text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipe/outputs/es_bulk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_pipe__es_item items[8];
	struct iocb_pipe__es_resp r;
	char reason[64];
	size_t expected;
	int rc;

	if (size < 1)
		return 0;
	expected = data[0] & 7;
	data++;
	size--;
	/* Guard entries after the expected ones must stay untouched. */
	memset(items, 0xa5, sizeof(items));
	rc = iocb_pipe__es_parse_response((const char *)data, size, expected, expected ? items : NULL, &r, NULL);
	for (size_t i = expected; i < 8; i++)
		if (items[i].status != (int)0xa5a5a5a5)
			abort();
	if (rc == IOCB_OK) {
		if (r.nitems != expected || !r.has_items)
			abort();
		for (size_t i = 0; r.detailed && i < expected; i++) {
			size_t n = iocb_pipe__es_item_reason(&items[i], reason, sizeof(reason));
			if (n >= sizeof(reason) || reason[n] != '\0' || items[i].status == 0)
				abort();
			(void)iocb_pipe__es_item_outcome(items[i].status, i & 1);
		}
	}
	size_t n = iocb_pipe__es_error_reason((const char *)data, size, 400, reason, sizeof(reason));
	if (n >= sizeof(reason) || reason[n] != '\0')
		abort();
	return 0;
}
