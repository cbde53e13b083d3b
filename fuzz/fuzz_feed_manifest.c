/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the one MISP feed-manifest parser, iocb_misp_parse_manifest()
 * (src/misp/feed.c), directly and through the feed source's index of it
 * (src/sources/feed.c, through the module's internal.h):
 *  - every entry handed over has a uuid that parses to its uuid_bin, lies
 *    inside the input, and has its event's uuid set to it;
 *  - the index is a sorted, duplicate-free set of at most max_events
 *    entries, each findable by its uuid, or the parse fails with a located
 *    error and leaves nothing allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "misp/misp.h"
#include "sources/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	const uint8_t *data; /* the input */
	size_t size;         /* its length */
	size_t entries;      /* entries handed over */
	size_t skips;        /* members skipped */
};

static int on_entry(void *ud, const struct iocb_misp_manifest_entry *e)
{
	struct seen *s = ud;
	uint8_t u[16];

	if (!iocb_misp_uuid_parse(e->uuid, u) || memcmp(u, e->uuid_bin, 16) != 0)
		abort();
	if (e->uuid.ptr != (const char *)s->data + e->offset + 1 || e->offset + 37 > s->size)
		abort();
	if (!iocb_str_eq(e->ev->uuid, e->uuid))
		abort();
	s->entries++;
	return IOCB_OK;
}

static void on_skip(void *ud, enum iocb_misp_skip r, const char *detail)
{
	struct seen *s = ud;

	if (r != IOCB_SKIP_BAD_SHAPE || !detail[0])
		abort();
	s->skips++;
}

static void index_check(const uint8_t *data, size_t size)
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
			if (!iocb_misp_uuid_parse(iocb_str_make(m.v[i].name, strlen(m.v[i].name)), u) ||
			    memcmp(u, m.v[i].uuid, 16) != 0)
				abort();
			if (iocb_feed__manifest_find(&m, u) != &m.v[i])
				abort();
		}
	} else if (m.v || m.n || !err.msg[0]) {
		abort();
	}
	iocb_feed__manifest_fini(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = {data, size, 0, 0};
	struct iocb_misp_stats st = {0};
	struct iocb_err err = {0};
	int rc = iocb_misp_parse_manifest((const char *)data, size, "fuzz", on_entry, on_skip, &s, NULL, &st, &err);

	if (rc < 0 ? !err.msg[0] || st.skipped[IOCB_SKIP_NOT_JSON] != 1 : st.skipped[IOCB_SKIP_NOT_JSON] != 0)
		abort();
	if (st.skipped[IOCB_SKIP_BAD_SHAPE] != s.skips)
		abort();
	index_check(data, size);
	return 0;
}
