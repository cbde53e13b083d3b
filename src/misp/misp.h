/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MISP attribute model: attribute types, value normalisation, and parsers
 * for every JSON shape MISP emits.
 *
 * Parsing is streaming and tree-free: a document is scanned once with the
 * json pull parser and each attribute is handed to a callback as a
 * struct iocb_misp_attr, a set of borrowed views valid only during the
 * callback (they point into the input or into the parser's per-attribute
 * scratch arena). Consumers copy what they keep (the store does).
 *
 * Shapes understood by iocb_misp_parse():
 *   - restSearch response   {"response":{"Attribute":[...]}} (also the
 *                           PyMISP-stripped {"Attribute":[...]} and a list
 *                           of those, and {"response":[{"Event":...}]})
 *   - event                 {"Event":{..., "Attribute":[...],
 *                                     "Object":[{"Attribute":[...]}]}}
 *   - ZeroMQ/Kafka message  {"Attribute":{...},"Event":{...},"action":...}
 *                           and {"Event":{...},"action":"delete"} etc.
 * Feed directories (manifest.json + <uuid>.json) go through
 * iocb_misp_parse_feed_dir(); a manifest alone through
 * iocb_misp_parse_manifest() (the feed source polls manifests itself).
 *
 * Bad input never aborts a parse: an attribute that cannot be used is
 * reported through the skip callback with a reason and location, counted in
 * struct iocb_misp_stats, and parsing goes on. Only a document that is not
 * JSON at all (or exceeds the nesting cap) stops, after everything before
 * the error was delivered.
 */
#ifndef IOCB_MISP_MISP_H
#define IOCB_MISP_MISP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rc.h"
#include "core/str.h"

/* ---------------------------------------------------------------- types */

/*
 * Match class: which kind of log value an indicator part is compared with.
 * An attribute has up to two parts (composite types); each part has a class.
 */
enum iocb_match_class {
	IOCB_MC_NONE = 0,     /* not matchable (text, comment, port alone, fuzzy hashes...) */
	IOCB_MC_IP,           /* IPv4/IPv6 address or CIDR prefix */
	IOCB_MC_DOMAIN,       /* domain or host name, lower-case, punycode, no trailing dot */
	IOCB_MC_URL,          /* url / uri, as given (MISP does not normalise them) */
	IOCB_MC_HASH,         /* file hashes in lower-case hex (md5, sha*, imphash, ...) */
	IOCB_MC_FILENAME,     /* file name, as given */
	IOCB_MC_EMAIL,        /* e-mail address, lower-case */
	IOCB_MC_TLS_FP,       /* ja3 / jarm / hassh fingerprints, lower-case hex */
	IOCB_MC_X509,         /* x509 fingerprints, lower-case hex without colons */
	IOCB_MC_USER_AGENT,   /* HTTP user agent, as given */
	IOCB_MC_ASN,          /* autonomous system number, decimal digits */
	IOCB_MC_MAC,          /* MAC address / EUI-64, lower-case colon-separated */
	IOCB_MC_COMMUNITY_ID, /* network community id, as given */
	IOCB_MC_PORT,         /* second half of ip|port, hostname|port (not indexed) */
	IOCB_MC__COUNT
};

/* "ip", "domain", ... (lower-case, stable: used in output and config). */
const char *iocb_match_class_name(enum iocb_match_class mc);
/* Inverse of the above; IOCB_MC_NONE for unknown names. */
enum iocb_match_class iocb_match_class_parse(struct iocb_str name);

/* How a part's value is normalised (MISP's modifyBeforeValidation). */
enum iocb_norm {
	IOCB_NORM_NONE = 0,   /* kept as is (url, uri, filename, user-agent) */
	IOCB_NORM_LOWER,      /* ASCII lower-case (hashes, emails, hostnames, ja3) */
	IOCB_NORM_DOMAIN,     /* lower-case, trailing dot trimmed, IDN -> punycode */
	IOCB_NORM_IP,         /* canonical IPv4/IPv6 (inet_ntop form) */
	IOCB_NORM_IP_CIDR,    /* as IP, plus addr/prefix (/32 and /128 -> bare IP) */
	IOCB_NORM_X509,       /* colons removed, lower-case */
	IOCB_NORM_MAC,        /* lower-case, colon-separated */
	IOCB_NORM_ASN,        /* "AS" prefix stripped, asdot converted to asplain */
	IOCB_NORM_PORT,       /* decimal port 0..65535 */
};

/* One MISP attribute type (a row of the static type table). */
struct iocb_misp_type {
	const char *name;               /* MISP type name, e.g. "ip-dst|port" */
	uint16_t id;                    /* index in the type table */
	bool composite;                 /* value is "part1|part2" */
	bool to_ids_default;            /* MISP's sane default */
	const char *default_category;   /* MISP's sane default category */
	enum iocb_match_class mc[2];    /* class of part 1 and part 2 (NONE if unused) */
	enum iocb_norm norm[2];         /* normalisation of part 1 and part 2 */
};

/* Look a type up by name (exact, case-sensitive as in MISP). NULL if unknown. */
const struct iocb_misp_type *iocb_misp_type_find(struct iocb_str name);
/* Type by table index; NULL if out of range. */
const struct iocb_misp_type *iocb_misp_type_get(uint16_t id);
/* Number of known types. */
size_t iocb_misp_type_count(void);
/* True when at least one part of the type is matchable (an indicator type). */
bool iocb_misp_type_is_indicator(const struct iocb_misp_type *t);

/*
 * Normalise one part value the way MISP does on save.
 * Writes the result to out (NUL-terminated, at most out_cap-1 bytes) and its
 * length to *out_len. Returns IOCB_OK, IOCB_EINVAL (value not valid for the
 * normalisation, e.g. "999.1.1.1" for an IP) or IOCB_ELIMIT (too long).
 * For IOCB_NORM_IP_CIDR, *prefix receives the prefix length, or -1 for a
 * plain address; `prefix` may be NULL for other kinds. Any thread.
 */
int iocb_misp_normalize(enum iocb_norm kind, struct iocb_str in, char *out, size_t out_cap,
			size_t *out_len, int *prefix) IOCB_MUST_USE;

/*
 * Split and normalise a whole attribute value for type t. The "ip|port"
 * spellings MISP accepts (1.2.3.4:80, [v6]:80, v6.80, "v6 port 80", v6#80)
 * and "hostname:port" are handled here. On success part[0..nparts) hold the
 * normalised halves (views into `scratch`, which must have room for 2x the
 * input plus 64 bytes) and prefix[i] the CIDR prefix or -1.
 */
int iocb_misp_value_split(const struct iocb_misp_type *t, struct iocb_str value, char *scratch,
			  size_t scratch_cap, struct iocb_str part[2], int prefix[2], unsigned *nparts,
			  struct iocb_err *err) IOCB_MUST_USE;

/* ---------------------------------------------------------------- model */

/* What a message asks us to do with an attribute or event. */
enum iocb_misp_action {
	IOCB_ACT_NONE = 0,     /* no action key (restSearch, feed, publish) = current state */
	IOCB_ACT_ADD,
	IOCB_ACT_EDIT,
	IOCB_ACT_SOFT_DELETE,
	IOCB_ACT_DELETE,
	IOCB_ACT_OTHER,        /* an action we do not act on (e.g. "attached to attribute") */
};

struct iocb_misp_tag {
	struct iocb_str name;  /* tag name, exact (tags compare case-sensitively) */
	bool local;            /* MISP "local" flag (absent = false) */
	bool inherited;        /* came from the event (restSearch includeEventTags) */
};

/* Event context of an attribute. Fields not present in the message are empty/0. */
struct iocb_misp_event {
	struct iocb_str uuid;        /* event uuid (may be empty: restSearch without context has it) */
	uint64_t id;                 /* instance-local id; 0 if absent (feeds) */
	struct iocb_str info;        /* event title */
	uint64_t orgc_id;            /* creator org id; 0 if absent */
	bool has_orgc_id;            /* orgc_id was present */
	uint64_t org_id;             /* owner org id; 0 if absent */
	bool has_org_id;             /* org_id was present */
	struct iocb_str orgc_name;   /* Event.Orgc.name, empty if absent */
	struct iocb_str orgc_uuid;   /* Event.Orgc.uuid, empty if absent */
	int threat_level_id;         /* 1..4; 0 if absent */
	int analysis;                /* 0..2; -1 if absent */
	bool published;              /* Event.published */
	uint64_t timestamp;          /* Event.timestamp (epoch s), 0 if absent */
	uint64_t publish_timestamp;  /* Event.publish_timestamp, 0 if absent */
	struct iocb_str date;        /* "YYYY-MM-DD", empty if absent */
	const struct iocb_misp_tag *tags; /* event tags */
	size_t ntags;
	bool tags_known;             /* the message carried the event's tag list */
};

/*
 * One attribute, normalised, as handed to the parse callback.
 *
 * Snapshots (action NONE: restSearch, feeds, published events) deliver only
 * usable indicators; everything else is skipped with a reason. Notifications
 * (ADD/EDIT/SOFT_DELETE/DELETE) deliver every attribute that has a uuid,
 * because a consumer must act on it even when it is no longer an indicator:
 * an edit that turns an ip-dst into text, or a soft-delete sanitised to
 * type "comment", must remove the old indicator. `indicator` says whether
 * type and parts are usable.
 */
struct iocb_misp_attr {
	struct iocb_str uuid;        /* attribute uuid (required) */
	uint64_t id;                 /* instance-local id; 0 if absent (feeds) */
	uint64_t event_id;           /* 0 if absent */
	uint64_t object_id;          /* 0 if not in an object */
	bool indicator;              /* type known and matchable, value normalised into part[] */
	const struct iocb_misp_type *type; /* never NULL when indicator; else may be NULL */
	struct iocb_str category;
	struct iocb_str value;       /* raw value as sent ("value", or value1|value2) */
	struct iocb_str part[2];     /* normalised parts; part[1] empty for atomic types */
	int prefix[2];               /* CIDR prefix per part, or -1 */
	unsigned nparts;             /* 1 or 2 */
	struct iocb_str comment;
	struct iocb_str object_relation;
	bool to_ids;
	bool deleted;                /* soft-deleted flag */
	uint64_t timestamp;          /* epoch seconds */
	int64_t first_seen_us;       /* µs since epoch, INT64_MIN if null/absent */
	int64_t last_seen_us;        /* µs since epoch, INT64_MIN if null/absent */
	const struct iocb_misp_tag *tags; /* attribute tags (plus inherited ones, flagged) */
	size_t ntags;
	const struct iocb_misp_event *event; /* never NULL; fields may be empty */
	enum iocb_misp_action action;
	size_t offset;               /* byte offset of the attribute object in the input */
};

/* Why an attribute or message was skipped (counted per reason). */
enum iocb_misp_skip {
	IOCB_SKIP_NOT_JSON = 0,      /* the document or message is not valid JSON */
	IOCB_SKIP_BAD_SHAPE,         /* valid JSON of an unknown shape / wrong types */
	IOCB_SKIP_MISSING_FIELD,     /* no uuid, type or value */
	IOCB_SKIP_UNKNOWN_TYPE,      /* type not in MISP's type list */
	IOCB_SKIP_NOT_INDICATOR,     /* known type that is not matchable (text, comment, ssdeep...) */
	IOCB_SKIP_INVALID_VALUE,     /* value invalid for its type (bad IP, wrong composite) */
	IOCB_SKIP_TOO_LARGE,         /* a field or message beyond the configured caps */
	IOCB_SKIP_DELETED,           /* soft-deleted attribute in a snapshot (not an error) */
	IOCB_SKIP_IO,                /* a file of a feed is missing or unreadable */
	IOCB_SKIP_FUTURE_TIMESTAMP,  /* Attribute.timestamp ahead of MISP's clock: kept, only counted
				      * (the ingest sets it, never the parser; see ingest.h) */
	IOCB_SKIP__COUNT
};

/* Stable snake_case name of a skip reason ("unknown_type"). */
const char *iocb_misp_skip_name(enum iocb_misp_skip r);

struct iocb_misp_stats {
	uint64_t attributes;                  /* attributes delivered to the callback */
	uint64_t events;                      /* events seen */
	uint64_t skipped[IOCB_SKIP__COUNT];   /* per reason */
};

/*
 * Callbacks. `attr` / `ev` and everything they point to are valid only during
 * the call. Returning a negative rc stops the parse and iocb_misp_parse()
 * returns it. Called on the parsing thread.
 */
typedef int (*iocb_misp_attr_cb)(void *ud, const struct iocb_misp_attr *attr);
/* An event-level message or event header: ev->uuid set; action as in the message. */
typedef int (*iocb_misp_event_cb)(void *ud, const struct iocb_misp_event *ev, enum iocb_misp_action action);
/* A skipped item: reason, human text with location ("byte 1234", "attribute <uuid>"). */
typedef void (*iocb_misp_skip_cb)(void *ud, enum iocb_misp_skip reason, const char *detail);

/*
 * A tag attached to or detached from an event (misp_json_tag / Kafka
 * misp_tag with action "attached to event" / "detached from event"). Tag
 * changes on attributes are not reported here: MISP follows them with an
 * attribute edit that carries the new tag list.
 */
struct iocb_misp_tag_change {
	uint64_t event_id;           /* Tag.event_id (instance-local), never 0 when delivered */
	struct iocb_str name;        /* Tag.name, exact */
	bool attached;               /* attached (true) or detached (false) */
	bool local;                  /* Tag.local (absent = false) */
};
typedef int (*iocb_misp_tag_cb)(void *ud, const struct iocb_misp_tag_change *t);

/* A sighting (ZeroMQ misp_json_sighting; misp.md §6). Views into the message. */
struct iocb_misp_sighting {
	struct iocb_str attr_uuid;   /* the sighted attribute (Sighting.Attribute.uuid or attribute_uuid) */
	int type;                    /* 0 sighting, 1 false positive, 2 expiration */
	int64_t date;                /* date_sighting, epoch s (0 if absent) */
	bool add;                    /* action "add" (or absent); false for a deletion */
};
typedef int (*iocb_misp_sighting_cb)(void *ud, const struct iocb_misp_sighting *s);

/*
 * Parse a sighting message. IOCB_OK, or IOCB_EPARSE (bad JSON, no
 * Sighting, no type or attribute uuid). Any thread; views into buf.
 */
int iocb_misp_parse_sighting(const char *buf, size_t len, struct iocb_misp_sighting *out,
			     struct iocb_err *err) IOCB_MUST_USE;

struct iocb_misp_handlers {
	iocb_misp_attr_cb on_attr;   /* required */
	iocb_misp_event_cb on_event; /* optional: event headers, event delete messages */
	iocb_misp_skip_cb on_skip;   /* optional */
	void *ud;                    /* passed to every callback */
	iocb_misp_tag_cb on_tag;     /* optional: event tag attached / detached */
	iocb_misp_sighting_cb on_sighting; /* optional: misp_json_sighting (ZeroMQ) */
};

struct iocb_misp_limits {
	size_t max_value;    /* longest attribute value accepted (default 64 KiB) */
	size_t max_tags;     /* most tags kept per attribute or event (default 256) */
	unsigned max_depth;  /* JSON nesting cap (default 64) */
	bool keep_deleted;   /* deliver soft-deleted attributes (a snapshot normally skips them) */
};

/* Defaults for the limits above. */
void iocb_misp_limits_default(struct iocb_misp_limits *lim);

/*
 * Parse one JSON document of any supported shape (see the file comment).
 * `source` names the input in messages (a path, "zmq", ...).
 * `lim` may be NULL for defaults; `stats` may be NULL.
 * Returns IOCB_OK when the document was scanned to its end (even if items were
 * skipped), IOCB_EPARSE when the JSON itself is broken (items before the
 * error were delivered), or a callback's negative rc. Any thread; the
 * function keeps no state between calls.
 */
int iocb_misp_parse(const char *buf, size_t len, const char *source, const struct iocb_misp_handlers *h,
		    const struct iocb_misp_limits *lim, struct iocb_misp_stats *stats,
		    struct iocb_err *err) IOCB_MUST_USE;

/* ---------------------------------------------------------------- feeds */

/*
 * One event a feed manifest lists: the member `"<uuid>": {<event fields>}`
 * of manifest.json. Valid only during the callback.
 */
struct iocb_misp_manifest_entry {
	struct iocb_str uuid;             /* the member name as spelled (36 characters, either case) */
	uint8_t uuid_bin[16];             /* the same uuid, binary */
	const struct iocb_misp_event *ev; /* its metadata (info, Orgc, Tag, date, timestamp...); ev->uuid = uuid */
	bool has_timestamp;               /* its "timestamp" is a decimal integer (a number or a digit string) */
	size_t offset;                    /* byte offset of the member name in the manifest */
};
typedef int (*iocb_misp_manifest_cb)(void *ud, const struct iocb_misp_manifest_entry *e);

/*
 * Parse a feed's manifest.json: on_entry for every `<uuid>: {...}` member,
 * in document order (duplicates included: the consumer decides). Other
 * members are skipped through on_skip (may be NULL) as IOCB_SKIP_BAD_SHAPE
 * with their byte offset, and counted in stats (may be NULL). `source` names
 * the input in messages; `lim` may be NULL for defaults.
 *
 * Strict where being lax would lose data: a document that is not exactly
 * one JSON object (broken, truncated, or with data after it) fails as a
 * whole, so a truncated download never looks like a feed that dropped its
 * events. Returns IOCB_OK; IOCB_EPARSE (err located, counted as
 * IOCB_SKIP_NOT_JSON, not passed to on_skip) or IOCB_ELIMIT past the nesting
 * cap; or on_entry's negative rc, which stops the parse (err is then the
 * callback's to set). Any thread; no state between calls.
 */
int iocb_misp_parse_manifest(const char *buf, size_t len, const char *source, iocb_misp_manifest_cb on_entry,
			     iocb_misp_skip_cb on_skip, void *ud, const struct iocb_misp_limits *lim,
			     struct iocb_misp_stats *stats, struct iocb_err *err) IOCB_MUST_USE;

/* Parse a 36-character uuid (8-4-4-4-12 hex digits, either case) into 16 bytes; false if s is not one. */
bool iocb_misp_uuid_parse(struct iocb_str s, uint8_t out[16]);
/* The 16 bytes of a uuid as canonical lower-case text (36 characters, then NUL). */
void iocb_misp_uuid_format(const uint8_t u[16], char out[37]);

/*
 * Parse a MISP feed directory: manifest.json plus one <uuid>.json per event
 * listed there (events missing from the directory, unreadable or broken are
 * skipped with a reason; the rest still load). Event metadata from the
 * manifest fills in what an event file lacks. The manifest is read with
 * iocb_misp_parse_manifest(); when it fails nothing loads and its rc is
 * returned (IOCB_ENOMEM when the index of its entries cannot grow).
 */
int iocb_misp_parse_feed_dir(const char *dir, const struct iocb_misp_handlers *h,
			     const struct iocb_misp_limits *lim, struct iocb_misp_stats *stats,
			     struct iocb_err *err) IOCB_MUST_USE;

/*
 * Parse one ZeroMQ frame "<topic> <json>". The topic is returned in *topic
 * (a view into buf). Heartbeats (misp_json_self) and topics without
 * attributes produce no callbacks (misp_json_tag is parsed only when
 * h->on_tag is set). Same return codes as iocb_misp_parse().
 */
int iocb_misp_parse_zmq_frame(const char *buf, size_t len, struct iocb_str *topic,
			      const struct iocb_misp_handlers *h, const struct iocb_misp_limits *lim,
			      struct iocb_misp_stats *stats, struct iocb_err *err) IOCB_MUST_USE;

#endif
