/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to module `sources` (no other module includes this): the pieces
 * of the feed source that unit tests and the fuzzer reach directly.
 *
 * The feed source only needs, from a feed's manifest.json, which events it
 * lists and each one's timestamp; event metadata comes from the event files
 * themselves (iocb_misp_parse() reads them). So this is the uuid ->
 * timestamp index of a manifest, built from what the one manifest parser,
 * iocb_misp_parse_manifest(), hands over: bounded, and strict where being
 * lax would lose data (a document that is not one JSON object fails as a
 * whole, so a truncated download never looks like a feed that dropped its
 * events).
 */
#ifndef IOCB_SOURCES_INTERNAL_H
#define IOCB_SOURCES_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rc.h"
#include "core/str.h"

/* One event listed by a manifest. */
struct iocb_feed__entry {
	uint8_t uuid[16];   /* event uuid, binary: the sort and lookup key */
	char name[37];      /* the uuid as the manifest spells it; the event file is <name>.json */
	uint64_t timestamp; /* the entry's "timestamp" (epoch seconds, string or number in the JSON) */
};

/* A parsed manifest. */
struct iocb_feed__manifest {
	struct iocb_feed__entry *v; /* entries sorted by uuid, no duplicates; owned */
	size_t n;                   /* number of entries */
	size_t skipped;             /* members that are not `<uuid>: {..., "timestamp": <digits>}` (left out) */
	char first_skip[160];       /* what was wrong with the first skipped member, with its byte offset */
};

/* Most events a manifest may list (a cap on memory, far above real feeds). */
#define IOCB_FEED__MAX_EVENTS ((size_t)1 << 21)

/*
 * Parse manifest.json from buf[0..len) into *out (initialised here; free
 * with iocb_feed__manifest_fini() whatever the result). Members that are not
 * `<uuid>: {...}` with a decimal "timestamp" are skipped and counted in
 * out->skipped. Returns IOCB_OK; IOCB_EPARSE when the document is not JSON
 * or not one object; IOCB_ELIMIT past max_events entries or the nesting
 * cap. err->msg then says what and at which byte. Any thread; no state.
 */
int iocb_feed__manifest_parse(const char *buf, size_t len, size_t max_events, struct iocb_feed__manifest *out,
			      struct iocb_err *err) IOCB_MUST_USE;
void iocb_feed__manifest_fini(struct iocb_feed__manifest *m);

/* The entry for `uuid`, or NULL (binary search). */
const struct iocb_feed__entry *iocb_feed__manifest_find(const struct iocb_feed__manifest *m, const uint8_t uuid[16]);

#endif
