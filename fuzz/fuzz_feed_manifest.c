/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the feed manifest index (src/sources/feed.c, through the module's
 * internal.h): any input either parses into a sorted, duplicate-free set of
 * at most max_events entries, each findable by its uuid, or fails with a
 * located error and leaves nothing allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sources/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_feed__manifest m;
	struct iocb_err err = {0};
	/* a small cap too, so the limit path is reached with small inputs */
	size_t max = size && (data[0] & 1) ? 4 : IOCB_FEED__MAX_EVENTS;
	int rc = iocb_feed__manifest_parse((const char *)data, size, max, &m, &err);

	if (rc == IOCB_OK) {
		if (m.n > max)
			abort();
		for (size_t i = 0; i < m.n; i++) {
			uint8_t u[16];
			if (i && memcmp(m.v[i - 1].uuid, m.v[i].uuid, 16) >= 0)
				abort();
			if (!iocb_feed__uuid_parse(iocb_str_make(m.v[i].name, strlen(m.v[i].name)), u) ||
			    memcmp(u, m.v[i].uuid, 16) != 0)
				abort();
			if (iocb_feed__manifest_find(&m, u) != &m.v[i])
				abort();
		}
	} else if (m.v || m.n || !err.msg[0]) {
		abort();
	}
	iocb_feed__manifest_fini(&m);
	return 0;
}
