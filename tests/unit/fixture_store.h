/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A memory store filled by hand, for the unit tests of the modules above the
 * store (render, export): attributes are built from a few arguments so the
 * tests depend neither on the JSON parser nor on MISP documents. The
 * attributes are those test_store.c builds (same uuids, ids, comments and
 * timestamps), so expected outputs read the same across the tests.
 * Failures end the test through cmocka.
 */
#ifndef IOCB_TESTS_FIXTURE_STORE_H
#define IOCB_TESTS_FIXTURE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct fixture_attr {
	struct iocb_misp_attr a;   /* what is upserted */
	struct iocb_misp_event ev; /* its event (empty when event is 0) */
	char uuid[37], evuuid[37], value[256], comment[128]; /* storage of the views above */
};

/*
 * Fill t with attribute n: MISP type name, part 0 and part 1 (composites;
 * NULL for one part), the CIDR prefix of part 0 (-1 for none), its event
 * number (0 = no event) and to_ids. uuid 0000000a-...-<n>, id n + 1000,
 * timestamp 1700000000 + n, comment "comment-for-<uuid>"; the event has
 * uuid 0000000e-...-<event>, id event, info "test event", threat level 2.
 * Returns &t->a.
 */
struct iocb_misp_attr *fixture_attr_make(struct fixture_attr *t, uint64_t n, const char *type, const char *p0,
					 const char *p1, int prefix, uint64_t event, bool to_ids);
/* A memory-only store; non_ids sets opts.match_non_ids. */
struct iocb_store *fixture_store_open(bool non_ids);
/* Upsert a as source 0 at time 1000. */
void fixture_store_upsert(struct iocb_store *s, const struct iocb_misp_attr *a);

#endif
