/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A memory store filled by hand, for the store's own unit tests and those of
 * the modules above it (render, export, http): attributes are built from a
 * few arguments so the tests depend neither on the JSON parser nor on MISP
 * documents, and every test builds the same attribute for the same arguments
 * (uuids, ids, comments, timestamps), so expected outputs read the same
 * across the tests. Failures end the test through cmocka.
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

/* The uuid text of attribute (kind 0xa) or event (kind 0xe) number n: <kind 8 hex>-0000-4000-8000-<n 12 hex>. */
void fixture_uuid(char out[37], unsigned kind, uint64_t n);
/*
 * Fill t with attribute n: MISP type name, part 0 and part 1 (composites;
 * NULL for one part), the CIDR prefix of part 0 (-1 for none), its event
 * number (0 = no event) and to_ids. uuid fixture_uuid(0xa, n), id n + 1000,
 * timestamp 1700000000 + n, comment "comment-for-<uuid>"; the event has
 * uuid fixture_uuid(0xe, event), id event, info "test event", threat level 2.
 * The parts are slices of t->value (at most 255 bytes). Returns &t->a.
 */
struct iocb_misp_attr *fixture_attr_make(struct fixture_attr *t, uint64_t n, const char *type, const char *p0,
					 const char *p1, int prefix, uint64_t event, bool to_ids);
/* A memory-only store; non_ids sets opts.match_non_ids. */
struct iocb_store *fixture_store_open(bool non_ids);
/* Upsert a as source 0 at time 1000. */
void fixture_store_upsert(struct iocb_store *s, const struct iocb_misp_attr *a);
/* An LMDB store in dir (64 MiB map, not durable). */
struct iocb_store *fixture_store_open_path(const char *dir);
/* Remove dir and the files in it (a store directory). */
void fixture_rmtree(const char *dir);

#endif
