/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attribute filters with Threat Bus's whitelist semantics.
 *
 * A filter has up to three whitelists: orgs, types, tags. Entries inside a
 * whitelist are OR'ed; the whitelists of one filter are AND'ed; a missing (or
 * empty) whitelist lets everything through; a list of filters passes an
 * attribute that any filter passes; an empty list of filters passes all.
 *
 * Where we deliberately differ from Threat Bus (reference/threatbus.md §2.4):
 *   - org entries in canonical decimal ("1", "25"; not "01" or " 1", which
 *     are text) compare as numbers with the event's org id, so a YAML 1 and
 *     "1" are the same entry; an event without that id field fails them.
 *     Other entries match the creator org's name (exact) or uuid (ASCII
 *     case-insensitive), whatever org_field says: only Orgc carries them;
 *   - which org field is compared (creator `orgc_id`, the default, or owner
 *     `org_id`) is configurable;
 *   - tags match attribute tags and, when the message carries them, event
 *     tags (TLP is usually set on the event); exact and case-sensitive as in
 *     MISP. Attribute tags flagged `inherited` (restSearch includeEventTags)
 *     are event tags: they count only when opts.event_tags is on;
 *   - type entries must be known MISP types (checked when the filter is
 *     built), so a typo is an error rather than a filter that never matches.
 * Misspelt keys are rejected by the config parser, not here.
 *
 * A built filter is immutable and may be used from any number of threads.
 */
#ifndef IOCB_FILTER_FILTER_H
#define IOCB_FILTER_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rc.h"
#include "misp/misp.h"

/* One filter as written in the configuration. Strings are NUL-terminated. */
struct iocb_filter_spec {
	char **orgs;      /* org ids (decimal text), names or uuids */
	size_t norgs;
	bool has_orgs;    /* the key was present (an empty list still passes all) */
	char **types;     /* MISP type names */
	size_t ntypes;
	bool has_types;
	char **tags;      /* tag names, exact */
	size_t ntags;
	bool has_tags;
	char *where;      /* "file:line:col" of the filter in the config, for messages; may be NULL */
};

/* Free the arrays and strings inside a spec (not the spec itself). */
void iocb_filter_spec_fini(struct iocb_filter_spec *s);

enum iocb_filter_org_field {
	IOCB_FILTER_ORGC = 0, /* Event.orgc_id / Orgc (creator org): MISP's own `org` search, default */
	IOCB_FILTER_ORG,      /* Event.org_id (owner org on this instance) */
};

struct iocb_filter_opts {
	enum iocb_filter_org_field org_field; /* default IOCB_FILTER_ORGC */
	bool event_tags;                      /* also match event tags when known (default true) */
};

struct iocb_filter;

/*
 * Build a filter list from n specs (n may be 0: passes everything; specs
 * may then be NULL). `opts` may be NULL for the defaults. The specs are
 * borrowed: the filter keeps its own copies.
 * Returns IOCB_ECONFIG with a message naming spec->where (or "#<n>" when
 * where is NULL) for an unknown type, suggesting the nearest known type
 * name when there is one, or for an empty org/tag entry. On success *out
 * is owned by the caller; on failure *out is NULL. Any thread.
 */
int iocb_filter_new(const struct iocb_filter_spec *specs, size_t n, const struct iocb_filter_opts *opts,
		    struct iocb_filter **out, struct iocb_err *err) IOCB_MUST_USE;
void iocb_filter_free(struct iocb_filter *f);

/*
 * True if the attribute passes. A NULL filter passes everything. Never
 * allocates; reads only the filter and `a`. Any thread, no locks.
 */
bool iocb_filter_pass(const struct iocb_filter *f, const struct iocb_misp_attr *a);

/*
 * True when some filter compares owner-org ids (org_field IOCB_FILTER_ORG
 * with numeric org entries): the store keeps only the creator org, so such
 * a filter cannot be re-checked against stored attributes.
 */
bool iocb_filter_needs_owner_org(const struct iocb_filter *f);

/* Number of filters in the list (0 = pass all). */
size_t iocb_filter_count(const struct iocb_filter *f);

#endif
