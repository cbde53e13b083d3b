/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to src/config: the YAML tree and the option tables.
 *
 * The loader does not walk libfyaml's document API directly: libfyaml 0.7
 * exposes no start mark for mapping and sequence nodes, and every message
 * must name file:line:col. So yaml.c turns libfyaml's event stream into a
 * small tree of struct iocb_config__node that carries a 1-based position
 * on every node, rejects what the configuration has no use for (aliases,
 * complex keys, several documents, duplicate keys) and enforces the size and
 * depth caps. config.c then walks that tree against the option tables in
 * tables.c; dump.c renders the same tables as YAML and as Markdown.
 */
#ifndef IOCB_CONFIG_INTERNAL_H
#define IOCB_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/rc.h"

/* Caps on what the loader accepts; documented in docs/CONFIGURATION.md. */
#define IOCB_CONFIG_MAX_BYTES ((size_t)16 << 20) /* configuration file size */
#define IOCB_CONFIG_MAX_DEPTH 64                 /* nesting of maps and lists */
#define IOCB_CONFIG_MAX_NODES ((size_t)1 << 20)  /* scalars + maps + lists */
#define IOCB_CONFIG_MAX_KEY_FILE 65536           /* bytes read from api.key_file */

/* "No field" marker for the offset members of struct iocb_config__opt. */
#define IOCB_CONFIG_NO_OFF ((size_t)-1)

enum iocb_config__kind {
	IOCB_YN_SCALAR = 0, /* text, possibly empty */
	IOCB_YN_MAP,        /* kids[2i] is a key (always a scalar), kids[2i+1] its value */
	IOCB_YN_SEQ,        /* kids[i] are the items */
};

/* One node of a parsed YAML document. */
struct iocb_config__node {
	enum iocb_config__kind kind;      /* scalar, map or sequence */
	int line;                         /* 1-based line of the node's first character */
	int col;                          /* 1-based column */
	bool quoted;                      /* scalar written quoted or as a block (never null/bool) */
	char *text;                       /* scalar text, NUL-terminated; NULL for collections */
	size_t len;                       /* scalar length in bytes (may contain NULs) */
	struct iocb_config__node **kids;  /* children of a map or sequence */
	size_t nkids;                     /* number of children (twice the pairs for a map) */
	size_t capkids;                   /* allocated slots in kids */
};

/*
 * Parse `len` bytes of YAML into *out (NULL for an empty document or an
 * empty stream). Errors are IOCB_ECONFIG with "name:line:col: ..." in err.
 * On success the caller owns *out and frees it with iocb_config__node_free().
 */
int iocb_config__parse(const char *name, const char *yaml, size_t len, struct iocb_config__node **out,
		       struct iocb_err *err) IOCB_MUST_USE;
/* Free a tree (scalar text is zeroed first: it may hold the API key). NULL is fine. */
void iocb_config__node_free(struct iocb_config__node *n);
/* True for a plain null scalar: empty, "~", "null", "Null" or "NULL". */
bool iocb_config__is_null(const struct iocb_config__node *n);

enum iocb_config__type {
	IOCB_CT_STR = 0,  /* string; min/max bound the length */
	IOCB_CT_CSV,      /* string or list of strings, stored comma-joined */
	IOCB_CT_BOOL,     /* true/false (also yes/no/on/off, as Threat Bus's YAML 1.1 reader) */
	IOCB_CT_PORT,     /* integer into a uint16_t, bounds min..max */
	IOCB_CT_UINT,     /* integer into an unsigned int, bounds min..max */
	IOCB_CT_SIZE,     /* byte count into a uint64_t, with optional KiB/MiB/GiB/TiB suffix */
	IOCB_CT_DOUBLE,   /* finite number into a double, bounds min..max */
	IOCB_CT_DURATION, /* seconds into a double: a number with optional ms/s/m/h/d suffix, bounds in s */
	IOCB_CT_ENUM,     /* one of `choices`, stored as its index in an int-sized enum; -1 when
			   * NULLABLE and null or absent without a default */
	IOCB_CT_STRLIST,  /* list of scalars kept as text: off = char **, off_n = size_t count */
	IOCB_CT_KV,       /* map of scalar to scalar: off = struct iocb_kv *, off_n = size_t count */
	IOCB_CT_SECTION,  /* nested map described by `sub`; off_has = bool `present` or NO_OFF */
	IOCB_CT_LIST,     /* list of maps described by `sub`: off = item array, off_n = count */
	IOCB_CT_SECRET,   /* struct iocb_secret; never echoed; see the api table */
	IOCB_CT_SSL,      /* bool (verify) or a CA path: off = bool, off_n = char * path */
	IOCB_CT_IGNORED,  /* a Threat Bus key iocbus does not use: warning, value not checked */
};

/* Flags of an option. */
#define IOCB_CF_NULLABLE 0x1u /* `key: null` (or empty) leaves the field unset */
#define IOCB_CF_REQUIRED 0x2u /* must be given when its section is present */
#define IOCB_CF_ALT 0x4u      /* another location of a section listed elsewhere: not dumped,
				 * not defaulted and not freed through this row */
#define IOCB_CF_ONCE 0x8u     /* section may appear once across all its locations */
#define IOCB_CF_SECRETS 0x10u /* KV: values of keys that look like credentials are dumped as "***" */
#define IOCB_CF_PLAIN 0x20u   /* ENUM: dumped as a plain scalar; the others are double-quoted as the
			       * strings they were before they became enums, so dumps stay the same */

struct iocb_config__section;

/* One row of an option table. */
struct iocb_config__opt {
	const char *key;                        /* YAML key */
	enum iocb_config__type type;            /* how the value is read and stored */
	const char *def;                        /* default as YAML text (NULL: unset / empty) */
	double min;                             /* lower bound: value, length or item count */
	double max;                             /* upper bound (0 = none for lengths and counts) */
	size_t off;                             /* offset of the field in the table's base struct */
	size_t off_n;                           /* second field (count, path), or NO_OFF */
	size_t off_has;                         /* `present`/`has_` bool, or NO_OFF */
	const char *const *choices;             /* NULL-terminated names for ENUM, else NULL */
	const struct iocb_config__section *sub; /* SECTION / LIST: the nested table */
	unsigned flags;                         /* IOCB_CF_* */
	const char *help;                       /* one paragraph for the docs (no '|') */
};

struct iocb_config__ctx;

/* Writing the tables (tables.c, tables_bus.c): a field's offset, "no field", row counts. */
#define OFF(f) offsetof(struct iocb_config, f)
#define NO IOCB_CONFIG_NO_OFF
#define N(rows) (sizeof(rows) / sizeof((rows)[0]))
/* A row with only the common fields set; the rest is zero/NO_OFF. */
#define ROW(k, t, d, lo, hi, o, o2, o3, ch, s, fl, h) {k, t, d, lo, hi, o, o2, o3, ch, s, fl, h}

/* A table: the options of one YAML map. */
struct iocb_config__section {
	const char *path;                        /* "misp.api": in messages and doc headings */
	const struct iocb_config__opt *opts;     /* rows */
	size_t nopts;                            /* number of rows */
	size_t item_size;                        /* LIST items: size of one element, else 0 */
	size_t where_off;                        /* LIST items: char * "file:line:col", or NO_OFF */
	const char *help;                        /* paragraph under the doc heading */
	/*
	 * Cross-field checks after the map was read; vals[i] is the value node of
	 * opts[i] or NULL if absent; map is NULL when the section was absent or
	 * null. Returns IOCB_OK or an iocb_config__fail() result.
	 */
	int (*check)(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
		     const struct iocb_config__node *const *vals);
};

/* Loader state for one load. */
struct iocb_config__ctx {
	const char *name;                         /* file name used in messages */
	struct iocb_config *c;                    /* configuration being built */
	struct iocb_err *err;                     /* optional error report */
	const struct iocb_config__node *once[4];  /* first node of each IOCB_CF_ONCE section seen */
	const struct iocb_config__section *once_sec[4]; /* ... and which section it was */
	size_t nonce;                             /* entries used in once/once_sec */
};

/* The root table (the whole file). */
extern const struct iocb_config__section iocb_config__root;
/* tables_bus.c: `bus` and `sightings`, also named from tables.c. */
extern const struct iocb_config__section iocb_config__bus;
extern const struct iocb_config__section iocb_config__sightings;
/* tables_exports.c: `exports[]`. */
extern const struct iocb_config__section iocb_config__exports;
/* tables_memcached.c: `memcached`. */
extern const struct iocb_config__section iocb_config__memcached;
/* tables_status.c: `http.auth`, `http.status` and the http table's check (issue #16). */
extern const struct iocb_config__section iocb_config__http_auth;
extern const struct iocb_config__section iocb_config__http_status;
int iocb_config__http_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
			    const struct iocb_config__node *const *vals);
/* exposure.c: a host only this machine can reach (127.0.0.0/8, ::1, ::ffff:127.x, localhost, NULL). */
bool iocb_config__is_loopback(const char *host);
/* tables_quality.c: `quality`; tables_warninglists.c: `quality.warninglists` and the policy words. */
extern const struct iocb_config__section iocb_config__quality;
extern const struct iocb_config__section iocb_config__warninglists;
extern const char *const iocb_config__wl_policies[];
/* tables_mispapi.c: `http.misp_api`. */
extern const struct iocb_config__section iocb_config__mispapi;
/* tables.c: set a secret, wiping what it held (takes v); read a key file into one (see tables.c). */
void iocb_config__secret_take(struct iocb_secret *s, char *v);
int iocb_config__read_secret_file(struct iocb_config__ctx *ctx, const struct iocb_config__node *at, const char *path,
				  const char *what, bool lines, struct iocb_secret *out) IOCB_MUST_USE;
/* tables_decay.c: `quality.decay`, `quality.expire_after`. */
extern const struct iocb_config__section iocb_config__quality_decay;
extern const struct iocb_config__section iocb_config__quality_expire;

/* Fail with IOCB_ECONFIG: "name:line:col: path: message" (n may be NULL). */
int iocb_config__fail(struct iocb_config__ctx *ctx, const struct iocb_config__node *n, const char *path,
		      const char *fmt, ...) IOCB_PRINTF(4, 5);
/* Record a warning "name:line:col: path: message" in the config and log it. */
void iocb_config__warn(struct iocb_config__ctx *ctx, const struct iocb_config__node *n, const char *path,
		       const char *fmt, ...) IOCB_PRINTF(4, 5);
/* Copy at most `max` bytes of `s` into out (size outsz) with non-printables escaped. */
void iocb_config__quote(char *out, size_t outsz, const char *s, size_t len, size_t max);

/* Field access by table offset. */
#define IOCB_CONFIG_FIELD(base, off, type) ((type *)(void *)((char *)(base) + (off)))

/* Read the API key from key_file / key_env (tables.c); secret never in messages. */
int iocb_config__api_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
			   const struct iocb_config__node *const *vals);

/* Apply every table default to a zeroed config (aborts on a bad table: programmer error). */
void iocb_config__defaults(struct iocb_config *c);
/* Apply the defaults of `sec` to one element at base. */
void iocb_config__section_defaults(const struct iocb_config__section *sec, void *base);
/* Free what the rows of `sec` own inside base (not base itself). */
void iocb_config__section_fini(const struct iocb_config__section *sec, void *base);

/* Read a plain boolean scalar (true/false/yes/no/on/off in the usual cases). */
bool iocb_config__parse_bool(const struct iocb_config__node *n, bool *out);

/* Human name of a type for docs and messages ("list of strings"). */
const char *iocb_config__type_name(const struct iocb_config__opt *o);

#endif
