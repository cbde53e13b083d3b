/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MISP warninglists: load the lists, tell which lists a value is on.
 *
 * A pure module: no store, no threads, no configuration. A builder parses
 * MISP warninglist JSON (one list per file: lists/<name>/list.json in a
 * checkout of MISP/misp-warninglists, or plain *.json files) and folds every
 * selected list into a handful of shared tables, so that checking a value
 * costs a few hash probes whatever the number of lists:
 *   - `string`: one hash table value -> set of lists (exact, case-sensitive);
 *   - `hostname`: one hash table host -> set of lists, probed for the value's
 *     host and each of its parent domains (a subdomain matches);
 *   - `cidr`: one hash table (family, prefix length, masked address) -> set
 *     of lists, probed once per prefix length present (at most 33 / 129);
 *   - `substring`: one Aho-Corasick automaton over every entry (one pass over
 *     the value);
 *   - `regex`: PCRE2 (MISP runs preg_match, i.e. PCRE), each pattern with its
 *     `/.../flags` delimiters as MISP writes them, tested one by one (regex
 *     lists are few and short).
 * Sets of lists are interned: a value's result is a small id (uint16_t,
 * 0 = on no list) that the caller stores (2 bytes per indicator) and resolves
 * back to the lists with iocb_wl_set_lists().
 *
 * MISP's semantics (Warninglist::checkValue, reference misp.md §5.3): a
 * composite value ("a|b") is split on '|' and each part is tested; a list
 * applies only to the MISP types in its `matching_attributes` (none, or
 * "ALL", means every type); hostname entries are lower-cased and trimmed of
 * dots, the value's host is taken after "//" when the value is a URL.
 *
 * A struct iocb_wl is immutable once built: any number of threads may match
 * against it at once. A reload builds a new one.
 */
#ifndef IOCB_QUALITY_WARNINGLIST_H
#define IOCB_QUALITY_WARNINGLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rc.h"
#include "core/str.h"
#include "misp/misp.h"

struct iocb_wl;
struct iocb_wl_builder;

enum iocb_wl_type {
	IOCB_WL_STRING = 0, /* exact value */
	IOCB_WL_SUBSTRING,  /* an entry occurs in the value */
	IOCB_WL_HOSTNAME,   /* the value's host is an entry or a subdomain of one */
	IOCB_WL_CIDR,       /* the address lies in an entry's range (v4 and v6) */
	IOCB_WL_REGEX,      /* PCRE /pattern/flags */
};

enum iocb_wl_category {
	IOCB_WL_CAT_FALSE_POSITIVE = 0, /* MISP's `false_positive` (the default) */
	IOCB_WL_CAT_KNOWN,              /* MISP's `known` (known identifiers) */
	IOCB_WL_CAT__COUNT,
};

/* What a list's hit means for an indicator; ordered: the strongest wins. */
enum iocb_wl_action {
	IOCB_WL_ACT_NONE = 0, /* on no list */
	IOCB_WL_ACT_IGNORE,   /* on a list whose policy is `ignore`: matched as if on none */
	IOCB_WL_ACT_FLAG,     /* matched, the match names the lists */
	IOCB_WL_ACT_SUPPRESS, /* not matched */
};

/* Names of the enums ("cidr", "false-positive", "suppress"); never NULL. */
const char *iocb_wl_type_name(enum iocb_wl_type t);
const char *iocb_wl_category_name(enum iocb_wl_category c);
const char *iocb_wl_action_name(enum iocb_wl_action a);

/* One loaded list (borrowed from its struct iocb_wl). */
struct iocb_wl_list {
	const char *id;                  /* short name: the directory of lists/<id>/list.json or the file stem */
	const char *name;                /* MISP's `name` */
	const char *file;                /* the file it came from */
	enum iocb_wl_type type;          /* `type` */
	enum iocb_wl_category category;  /* `category` (false-positive when absent) */
	int64_t version;                 /* `version` */
	size_t entries;                  /* entries loaded (after dropping duplicates and empties) */
	bool all_types;                  /* no `matching_attributes` (or "ALL"): applies to every type */
	uint64_t types[4];               /* bit per MISP type id it applies to (iocb_misp_type_get) */
};

/* Which lists a builder keeps. A list is kept when it is named or its category is chosen. */
struct iocb_wl_select {
	const char *const *ids;  /* list ids or MISP names; NULL/0: none by name */
	size_t nids;             /* entries in ids */
	bool category[IOCB_WL_CAT__COUNT]; /* keep every list of the category */
};

/* Caps (a list of 10 M entries is a mistake, not a warninglist). */
#define IOCB_WL_MAX_LISTS 4096            /* lists in one struct iocb_wl */
#define IOCB_WL_MAX_FILE ((size_t)256 << 20) /* bytes of one list file */
#define IOCB_WL_MAX_ENTRY 4096            /* bytes of one entry */
#define IOCB_WL_MAX_SETS 65535            /* distinct sets of lists (the id is 16 bits) */
#define IOCB_WL_MAX_AC_CELLS ((size_t)64 << 20) /* substring automaton: states x byte classes */

/* New empty builder (aborts on OOM). */
struct iocb_wl_builder *iocb_wl_builder_new(void);
/* Free a builder not finished. NULL is a no-op. */
void iocb_wl_builder_free(struct iocb_wl_builder *b);

/*
 * Parse one list (buf[0..len), JSON) named `id`, read from `file` (for
 * messages and iocb_wl_list.file), and add it when `sel` (NULL = every list)
 * keeps it. Strict: the document must be an object with `name`, `type`,
 * `list`, `version` and `description` of the schema's types; `type` one of
 * the five; entries strings; `cidr` entries valid addresses or networks;
 * `regex` entries valid PCRE with delimiters; `category`, when present,
 * `false-positive`/`false_positive` or `known`; unknown keys are skipped
 * (the upstream schema grows). On error nothing is added, err says
 * "file: byte N: ..." or "file: entry N: ...", and the builder is still
 * usable. *added (may be NULL) says whether the list was kept.
 * Returns IOCB_OK, IOCB_EPARSE / IOCB_ETYPE / IOCB_EINVAL (bad list),
 * IOCB_EEXIST (an id already added), IOCB_ELIMIT (a cap).
 */
int iocb_wl_builder_add_json(struct iocb_wl_builder *b, const char *id, const char *file, const char *buf,
			     size_t len, const struct iocb_wl_select *sel, bool *added,
			     struct iocb_err *err) IOCB_MUST_USE;

/* Called for each list file skipped (bad JSON, bad entry, duplicate id); reason has the location. */
typedef void (*iocb_wl_skip_cb)(void *ud, const char *file, const char *reason);

struct iocb_wl_load_stats {
	size_t files;    /* list files read */
	size_t loaded;   /* lists kept */
	size_t skipped;  /* list files skipped as broken */
	size_t entries;  /* entries of the kept lists */
};

/*
 * Add every list under `path`: a directory with lists/<id>/list.json (a
 * checkout), <id>/list.json, or <id>.json files, or one file. Broken lists
 * are skipped (skip is called with the file and reason, stats count them)
 * and the rest load. Returns IOCB_OK, or IOCB_EIO / IOCB_ENOTFOUND when the
 * path itself cannot be read, IOCB_ELIMIT past a cap. st accumulates.
 */
int iocb_wl_builder_add_path(struct iocb_wl_builder *b, const char *path, const struct iocb_wl_select *sel,
			     iocb_wl_skip_cb skip, void *ud, struct iocb_wl_load_stats *st,
			     struct iocb_err *err) IOCB_MUST_USE;

/*
 * Build the tables and consume the builder (freed whether it succeeds or
 * not). *out is owned by the caller. IOCB_ELIMIT past a cap (too many sets,
 * a substring automaton too large).
 */
int iocb_wl_builder_finish(struct iocb_wl_builder *b, struct iocb_wl **out, struct iocb_err *err) IOCB_MUST_USE;

/* Free. NULL is a no-op. */
void iocb_wl_free(struct iocb_wl *w);

/* Number of lists, and the i-th (i < count; NULL past it). Any thread. */
size_t iocb_wl_count(const struct iocb_wl *w);
const struct iocb_wl_list *iocb_wl_list_get(const struct iocb_wl *w, size_t i);
/* Total entries over every list. */
size_t iocb_wl_entries(const struct iocb_wl *w);

/*
 * The set of lists `value` is on, as an interned id (0: none). `type` is the
 * MISP type of the value: only lists whose matching_attributes name it
 * apply, and a composite type's value is split on '|'; NULL tests the whole
 * value against every list (`iocbus warninglists check`). Returns 0 as well
 * when the set would need a new id past IOCB_WL_MAX_SETS (counted in
 * iocb_wl_sets_overflow()). Any thread; w is not changed except for the
 * interning of new sets, which is locked internally.
 */
uint16_t iocb_wl_match(struct iocb_wl *w, const struct iocb_misp_type *type, struct iocb_str value);

/*
 * The lists of set `id`: *out points to `n` list indices (iocb_wl_list_get),
 * ascending, valid until w is freed. An unknown id (from another struct
 * iocb_wl) gives 0 lists. Any thread.
 */
size_t iocb_wl_set_lists(const struct iocb_wl *w, uint16_t id, const uint16_t **out);
/* Sets that could not be interned (the 16-bit id space was full). */
uint64_t iocb_wl_sets_overflow(const struct iocb_wl *w);

/* The action of each category, and an override (e.g. one source's) for every list. */
struct iocb_wl_policy {
	enum iocb_wl_action category[IOCB_WL_CAT__COUNT]; /* per category: IGNORE, FLAG or SUPPRESS */
	enum iocb_wl_action all;                           /* NONE: use category[], else this for all */
};

/* MISP's enforceWarninglist: suppress false-positive lists, flag known identifiers. */
void iocb_wl_policy_default(struct iocb_wl_policy *p);

/* The strongest action of the lists in set `id` under policy p (NONE for set 0). Any thread. */
enum iocb_wl_action iocb_wl_set_action(const struct iocb_wl *w, uint16_t id, const struct iocb_wl_policy *p);

/*
 * Which of the set's lists decide that action (the lists a suppressed
 * indicator is counted under): calls fn for each. Any thread.
 */
void iocb_wl_set_each_with(const struct iocb_wl *w, uint16_t id, const struct iocb_wl_policy *p,
			   enum iocb_wl_action act, void (*fn)(void *ud, size_t list), void *ud);

/* Call emit(ctx, id) with the id of each list of set `id` (ids are valid until w is freed). Any thread. */
void iocb_wl_set_names(const struct iocb_wl *w, uint16_t id, void (*emit)(void *ctx, struct iocb_str name), void *ctx);

/* ------------------------------------------------------------ store marks (wl_store.c) */

struct iocb_store_attr;
struct iocb_store_quality;

/*
 * The store quality hook's part for warninglists: set q->wl_set and
 * q->wl_action for record a (its MISP type and value, its source's policy
 * pol[source], pol holding IOCB_STORE_MAX_SOURCES entries). Writer thread,
 * inside the callback.
 */
void iocb_wl_store_mark(struct iocb_wl *w, const struct iocb_wl_policy *pol, const struct iocb_store_attr *a,
			struct iocb_store_quality *q);

/* ------------------------------------------------------------ from the configuration (wl_config.c) */

struct iocb_config_warninglists;

/*
 * Load the lists `quality.warninglists` names (paths, lists, categories):
 * every path in turn; broken lists are skipped through `skip` and counted
 * in st (may be NULL). Returns IOCB_OK with *out owned by the caller (no
 * lists at all is not an error), or the error of a path that cannot be
 * read or of a cap. Any thread.
 */
int iocb_wl_load_config(const struct iocb_config_warninglists *c, iocb_wl_skip_cb skip, void *ud, struct iocb_wl **out,
			struct iocb_wl_load_stats *st, struct iocb_err *err) IOCB_MUST_USE;

/*
 * The policy from `quality.warninglists` (false_positive, known) and a
 * source's override (`warninglist_policy`: enum iocb_config_wl_policy, or
 * -1 for none). c may be NULL (the defaults).
 */
void iocb_wl_policy_from_config(const struct iocb_config_warninglists *c, int source_override,
				struct iocb_wl_policy *p);

#endif
