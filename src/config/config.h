/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Configuration: YAML (libfyaml) into an immutable struct iocb_config.
 *
 * Table-driven: each section is a table of {key, type, default, bounds,
 * field offset, help}; parsing, validation, `iocbus check-config`,
 * `iocbus config dump` and docs/CONFIGURATION.md all come from the tables.
 * Unknown keys and wrong types are errors naming file:line:col.
 *
 * The MISP section uses Threat Bus's keys and is found at top-level `misp:`,
 * or nested as `plugins: misp:` or `plugins: apps: misp:` (Threat Bus
 * configs load unchanged; Threat Bus sections we do not implement, such as
 * other plugins or `backbones`, are rejected unless listed as ignorable in
 * the docs). The API key comes from `key`, `key_file` or `key_env` and is
 * kept in struct iocb_secret, printed only as "***".
 *
 * A loaded configuration is immutable; a reload builds a new one.
 */
#ifndef IOCB_CONFIG_CONFIG_H
#define IOCB_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/log.h"
#include "core/rc.h"
#include "filter/filter.h"

/* A secret value: never logged or printed; iocb_secret_str() is the only way in. */
struct iocb_secret {
	char *value_; /* private: NUL-terminated, NULL if unset */
};

static inline const char *iocb_secret_str(const struct iocb_secret *s)
{
	return s->value_;
}

struct iocb_kv {
	char *key;   /* NUL-terminated */
	char *value; /* NUL-terminated (scalars are kept as text) */
};

/* One export file `iocbus run` keeps current (`exports[]`, tables_exports.c; docs/EXPORTS.md). */
struct iocb_config_export {
	char *name;         /* unique label in metrics and logs */
	char *format;       /* an export format name (zeek, suricata-dataset, values); checked at start */
	char *path;         /* the file replaced atomically */
	char **types;       /* MISP types kept; NULL = every type */
	size_t ntypes;
	bool non_ids;       /* also to_ids=false attributes */
	char *misp_url;     /* zeek meta.url base; NULL = none */
	char *source_name;  /* zeek meta.source name; NULL = MISP */
	char *dataset_type; /* suricata-dataset type; NULL = from the first type */
	double debounce_s;  /* quiet time after a store change before rewriting */
	/* suricata-dataset fed live over Suricata's unix socket (issue #14) */
	char *socket;        /* Suricata's unix-command socket; NULL = file only */
	char *dataset;       /* the set's name in Suricata; NULL = name */
	unsigned socket_queue; /* changes queued for the socket before a full reload */
	unsigned datarep;    /* suricata-dataset: reputation of every item (a datarep file); 0 = plain */
	/* suricata-iprep (issue #14) */
	char *iprep_categories;   /* the categories file written beside path; NULL = none */
	struct iocb_kv *iprep_rules; /* tag glob -> "id,short name,score" */
	size_t niprep_rules;
	/* zeek removals (issue #14) */
	double removals_keep_s;   /* keep `meta.remove T` lines this long; 0 = no removal column */
	char *where;        /* "file:line:col" of the item */
};

/* One MISP-format feed (manifest.json + <uuid>.json), local or over HTTP(S). */
/* TLP levels of http.status.max_tlp, least restrictive first (clear and white are the same). */
enum iocb_config_tlp {
	IOCB_CONFIG_TLP_CLEAR = 0,
	IOCB_CONFIG_TLP_WHITE,
	IOCB_CONFIG_TLP_GREEN,
	IOCB_CONFIG_TLP_AMBER,
	IOCB_CONFIG_TLP_AMBER_STRICT,
	IOCB_CONFIG_TLP_RED,
};

struct iocb_config_feed {
	char *name;                       /* unique label used in metrics and logs */
	int wl_policy;                    /* `warninglist_policy`: enum iocb_config_wl_policy, -1 = global */
	char *url;                        /* http://, https:// or a local directory */
	double interval_s;                /* how often it is checked, default 3600 */
	char *where;                      /* "file:line:col" of the item */
};

/*
 * Choices of the configuration, stored as enums once loaded (the tables in
 * tables.c list their words in the same order; iocb_config_choice_name()
 * gives the word back for messages and metrics labels). The meanings belong
 * to modules above config (pipe, enrich), which config does not include, so
 * the enums are declared here; enrich's own enums for the same choices are
 * kept equal to these by compile-time checks (src/enrich/opts.c).
 */
/* A warninglist policy (quality.warninglists, per source): words "ignore", "flag", "suppress". */
enum iocb_config_wl_policy { IOCB_CONFIG_WL_IGNORE = 0, IOCB_CONFIG_WL_FLAG, IOCB_CONFIG_WL_SUPPRESS };

enum iocb_config_input_type {
	IOCB_CONFIG_IN_FILE = 0,          /* follow a file (tail -F) */
	IOCB_CONFIG_IN_STDIN,             /* standard input */
	IOCB_CONFIG_IN_TCP,               /* newline-delimited JSON listener */
	IOCB_CONFIG_IN_KAFKA,             /* consumer group */
	IOCB_CONFIG_IN__COUNT
};

enum iocb_config_output_type {
	IOCB_CONFIG_OUT_STDOUT = 0,       /* standard output */
	IOCB_CONFIG_OUT_FILE,             /* a file appended to */
	IOCB_CONFIG_OUT_ELASTICSEARCH,    /* _bulk */
	IOCB_CONFIG_OUT_KAFKA,            /* producer */
	IOCB_CONFIG_OUT__COUNT
};

/* inputs[].start_at: where a file without a checkpoint starts. */
enum iocb_config_start_at {
	IOCB_CONFIG_START_BEGINNING = 0,
	IOCB_CONFIG_START_END,
};

/* outputs[].action: the Elasticsearch bulk action. */
enum iocb_config_es_action {
	IOCB_CONFIG_ES_INDEX = 0,
	IOCB_CONFIG_ES_CREATE,            /* a 409 counts as delivered */
};

/* outputs[].document_id: what `_id` is. */
enum iocb_config_doc_id {
	IOCB_CONFIG_DOC_ID_NONE = 0,      /* Elasticsearch picks one */
	IOCB_CONFIG_DOC_ID_HASH,          /* 128-bit hash of the input line: idempotent replays */
};

/* enrich.preset and inputs[].preset; the order of enum iocb_enrich_preset. */
enum iocb_config_preset {
	IOCB_CONFIG_PRESET_UNSET = -1,    /* inputs[].preset absent or null: enrich.preset applies */
	IOCB_CONFIG_PRESET_ECS = 0,
	IOCB_CONFIG_PRESET_SURICATA,
	IOCB_CONFIG_PRESET_ZEEK,
	IOCB_CONFIG_PRESET_AUTO,
	IOCB_CONFIG_PRESET_NONE,
};

/* enrich.on_miss; the order of enum iocb_enrich_on_miss. */
enum iocb_config_on_miss {
	IOCB_CONFIG_ON_MISS_PASS = 0,     /* a miss is copied byte for byte */
	IOCB_CONFIG_ON_MISS_MARK,         /* a miss gets "misp":{"hit":false} */
};

/* Which choice list iocb_config_choice_name() reads. */
enum iocb_config_choice {
	IOCB_CONFIG_CHOICE_INPUT_TYPE = 0, /* enum iocb_config_input_type */
	IOCB_CONFIG_CHOICE_OUTPUT_TYPE,    /* enum iocb_config_output_type */
};

/*
 * The configuration's word for `value` of the list `which` ("elasticsearch"
 * for IOCB_CONFIG_OUT_ELASTICSEARCH), or "?" when value is not in the list
 * (never NULL: it goes into messages and metrics labels). Static storage;
 * any thread.
 */
const char *iocb_config_choice_name(enum iocb_config_choice which, int value);

#define IOCB_CONFIG_MAX_INPUTS 32
#define IOCB_CONFIG_MAX_OUTPUTS 8

/*
 * One log input of `iocbus run` (`inputs[]`). Which keys apply depends on
 * `type`; the loader refuses keys of another type.
 */
struct iocb_config_input {
	char *name;                       /* unique: metrics label, checkpoint file name */
	enum iocb_config_input_type type; /* file|stdin|tcp|kafka */
	enum iocb_config_preset preset;   /* field preset; IOCB_CONFIG_PRESET_UNSET = enrich.preset */
	struct iocb_kv *fields;           /* extra field specs, applied after enrich.fields */
	size_t nfields;
	uint64_t max_line;                /* longer lines are rejected (too_long); 0 = enrich.max_line */
	/* file */
	char *path;                       /* the file followed (rotation by rename or copytruncate) */
	enum iocb_config_start_at start_at; /* beginning|end: where a file without checkpoint starts */
	double poll_interval_s;           /* growth/rotation check when idle, default 0.25 */
	/* tcp */
	char *host;                       /* default 127.0.0.1 */
	uint16_t port;                    /* required; 0 = any free port (logged) */
	unsigned max_connections;         /* default 64 */
	double idle_timeout_s;            /* a silent connection is closed after this, default 300; 0 never */
	/* kafka */
	char **topics;
	size_t ntopics;
	struct iocb_kv *kafka;            /* librdkafka properties, verbatim (bootstrap.servers, group.id) */
	size_t nkafka;
	char *where;                      /* "file:line:col" of the item */
};

/* One log output of `iocbus run` (`outputs[]`). */
struct iocb_config_output {
	char *name;                       /* unique: metrics label, spool directory name */
	enum iocb_config_output_type type; /* stdout|file|elasticsearch|kafka */
	/* file */
	char *path;
	bool fsync;                       /* fdatasync before a batch counts as delivered, default false */
	/* elasticsearch */
	char **hosts;                     /* base URLs, tried in turn */
	size_t nhosts;
	char *index;                      /* target index, alias or data stream */
	bool data_stream;                 /* target is a data stream: action create, default false */
	enum iocb_config_es_action action; /* index|create, default index (create when data_stream) */
	char *pipeline;                   /* ingest pipeline query parameter, NULL none */
	char *username;                   /* Basic auth user, with password */
	struct iocb_secret password;
	struct iocb_secret api_key;       /* "id:api_key" or the encoded form: Authorization: ApiKey */
	struct iocb_secret bearer;        /* Authorization: Bearer */
	bool tls_verify;                  /* default true */
	char *ca_file;
	unsigned compression_level;       /* gzip request bodies: 0 off, 1..12, default 1 */
	uint64_t flush_bytes;             /* uncompressed bulk body, default 5 MiB */
	unsigned flush_events;            /* default 10000 */
	double flush_interval_s;          /* default 1 */
	unsigned max_in_flight;           /* concurrent bulk requests, default 4 */
	double timeout_s;                 /* one request, default 60 */
	double retry_initial_s;           /* first backoff, default 0.5 */
	double retry_max_s;               /* longest backoff, default 60 */
	enum iocb_config_doc_id document_id; /* none|hash: _id = hash of the input line (idempotent replays) */
	char *dead_letter;                /* file for 400/404 items; NULL = <state_dir>/<name>.dead.ndjson */
	/* kafka */
	char *topic;
	char *key;                        /* none|id|<dotted field path>, default none */
	struct iocb_kv *kafka;            /* librdkafka properties, verbatim */
	size_t nkafka;
	char *where;
};

/* One `quality.expire_after.rules[]` item: a maximum age for a source or a MISP type. */
struct iocb_config_expire_rule {
	char *source;                     /* "intel", "misp" or a feed name; NULL with `type` */
	char *type;                       /* MISP attribute type; NULL with `source` */
	double max_age_s;                 /* seconds */
	char *where;                      /* "file:line:col" of the item */
};

struct iocb_config {
	char *path;                       /* file it was loaded from */

	struct {
		bool present;             /* the api section exists */
		char *host;               /* base URL, e.g. https://misp.example */
		bool ssl_verify;          /* `ssl` (Threat Bus): verify TLS; default true */
		char *ca_file;            /* `ssl` given as a path, or `ca_file` */
		struct iocb_secret key;   /* from key / key_file / key_env */
		char *key_file;           /* `key_file` the key was read from, or NULL */
		char *key_env;            /* `key_env` variable the key was read from, or NULL */
		double timeout_s;         /* request timeout, default 30 */
	} api;

	struct iocb_filter_spec *filters; /* `filter` list */
	size_t nfilters;
	struct iocb_filter_opts filter_opts; /* `filter_org_field: orgc_id|org_id`, `filter_event_tags: bool` */

	struct {
		bool present;
		char *host;               /* default localhost */
		uint16_t port;            /* default 50000 */
		double heartbeat_timeout_s; /* silence that triggers a REST catch-up, default 30; 0 = off */
		unsigned rcvhwm;          /* ZMQ_RCVHWM, messages queued in libzmq, default 100000 */
		uint64_t max_message;     /* larger frames are counted and skipped, default 16 MiB */
		char *username;           /* ZMQ PLAIN user (MISP's Plugin.ZeroMQ_username), NULL = no auth */
		struct iocb_secret password; /* its password; never logged */
	} zmq;

	struct {
		bool present;
		char **topics;            /* default [misp_attribute] */
		size_t ntopics;
		double poll_interval;     /* seconds, default 1.0 */
		struct iocb_kv *config;   /* passed to librdkafka verbatim */
		size_t nconfig;
		uint64_t max_message;     /* larger messages are counted and skipped, default 16 MiB */
	} kafka;

	/*
	 * `misp.pull`: REST restSearch intake. Present: an incremental pull every
	 * `interval`. Absent but `api` set: the same client still runs the start-up
	 * catch-up and the catch-ups that ZeroMQ gaps request, and reconciles.
	 */
	struct {
		bool present;
		double interval_s;        /* incremental pull period, default 60; 0 = only catch-ups */
		double backfill_s;        /* first pull (no cursor): attributes newer than this; 0 = all */
		double reconcile_s;       /* full reconcile period, default 3600; 0 = never */
		unsigned page_size;       /* restSearch limit per page, default 5000 */
		double retry_max_s;       /* longest backoff between failed requests, default 60 */
		struct iocb_kv *params;   /* extra restSearch parameters, sent as JSON strings */
		size_t nparams;
	} pull;

	struct {
		char *path;               /* LMDB directory; NULL = memory only */
		bool match_non_ids;       /* default false */
		uint64_t map_size;        /* bytes, default 8 GiB */
		bool durable;             /* default true */
		unsigned expected_attributes; /* pre-size the indexes for this many attributes; default 0 */
	} store;

	struct {
		enum iocb_config_preset preset; /* ecs|suricata|zeek|auto|none, default auto (never UNSET) */
		struct iocb_kv *fields;   /* path -> "KIND[,port=PATH][,host=PATH]"; checked by the enrich
					   * module when the field map is built, not here */
		size_t nfields;
		enum iocb_config_on_miss on_miss; /* pass|mark, default pass */
		char *match_type;         /* threat.enrichments.matched.type, default indicator_match_rule */
		char *provider;           /* indicator.provider fallback, default misp */
		bool parent_domains;      /* domain indicators also match subdomains, default false */
		uint64_t max_line;        /* bytes, default 1 MiB */
		unsigned max_hits;        /* enrichments per event, default 32 */
		unsigned threads;         /* enrichment worker threads, default 1 */
		char *reject_file;        /* rejected lines go here; NULL = with the output */
		bool hits_only;           /* write only enriched lines, default false */
	} enrich;

	struct iocb_config_export *exports; /* `exports` list: files rewritten on store changes */
	size_t nexports;
	struct iocb_config_feed *feeds;   /* `feeds` list: MISP-format feeds followed by `iocbus run` */
	size_t nfeeds;

	/* `quality` (issue #15). Decaying models and expiry: quality/decay.h. */
	struct {
		struct {
			char **models;            /* model files or directories of *.json */
			size_t nmodels;
			struct iocb_kv *tag_values; /* tag -> numerical value (checked to be a number) */
			size_t ntag_values;
		} decay;
		struct {
			double default_s;         /* maximum age of every indicator; 0 = none */
			struct iocb_config_expire_rule *rules; /* per source / per type */
			size_t nrules;
		} expire_after;
		double sweep_interval_s;          /* background expiry sweep period, default 60 s */
	} quality;

	struct {
		bool enabled;             /* default true */
		char *host;               /* listen address, default 127.0.0.1 */
		uint16_t port;            /* default 8473; 0 = any free port (logged) */
		unsigned max_connections; /* default 64 */
		double idle_timeout_s;    /* default 10 s: a connection without traffic this long is closed */
		double header_timeout_s;  /* default 5 s: time to send a whole request head */
		/* issue #16 status page: http.auth, http.allow_no_auth, http.status */
		bool auth_present;        /* `http.auth` given */
		char *auth_token_file;    /* bearer tokens, one per line, or NULL */
		char *auth_users_file;    /* htpasswd users (crypt(3) hashes), or NULL */
		char *auth_realm;         /* WWW-Authenticate realm, default iocbus */
		bool allow_no_auth;       /* beyond loopback without http.auth: allowed (with a warning) */
		int status_max_tlp;       /* enum iocb_config_tlp: matches above it are masked on the page */
		double status_refresh_s;  /* how often the page polls /v1/status, default 5 s */
		unsigned status_matches;  /* matches kept for the page, default 50 */
		/* `http.misp_api`: the MISP-compatible read API (docs/DROPINS.md). */
		struct {
			bool present;             /* the section exists */
			struct iocb_secret keys;  /* accepted keys, '\n'-separated: `keys`, `keys_file`, `keys_env` */
			char *keys_file;          /* file of keys (one a line), or NULL */
			char *keys_env;           /* variable holding comma-separated keys, or NULL */
			unsigned max_attributes;  /* cap of one answer, default 100000 */
		} misp_api;
	} http;

	struct iocb_config_input *inputs; /* `inputs` list: log events enriched by `iocbus run` */
	size_t ninputs;
	struct iocb_config_output *outputs; /* `outputs` list: where enriched events go */
	size_t noutputs;

	/* `pipeline`: how events move from inputs to outputs. */
	struct {
		char *state_dir;          /* checkpoints and spools; NULL = memory only (no resume) */
		uint64_t batch_bytes;     /* an input hands over batches of at most this, default 1 MiB */
		double batch_interval_s;  /* a partial batch waits at most this, default 0.2 */
		uint64_t queue_bytes;     /* per output, in memory, default 64 MiB */
		uint64_t spool_max;       /* per output, on disk past queue_bytes, default 1 GiB; 0 = no spool */
		bool spool_fsync;         /* fdatasync each spooled batch, default false */
		double shutdown_timeout_s; /* delivery allowed at stop before spooling, default 10 */
		uint64_t dead_letter_max_bytes; /* cap of one dead-letter file, default 100 MiB; 0 = none */
		unsigned dead_letter_max_files; /* rotated dead-letter files kept, default 5; 0 = drop past the cap */
	} pipeline;

	/* `bus`: the Threat Bus compatible zmq-app endpoint (docs/BUS.md). */
	struct {
		bool present;             /* the section exists: `iocbus run` starts the bus */
		char *host;               /* bind address, default 127.0.0.1 */
		char *advertise_host;     /* host written in 2020.12 endpoints; NULL = host */
		uint16_t manage_port;     /* `manage`, default 13370; 0 = any free port */
		uint16_t pub_port;        /* `pub`, default 13371 */
		uint16_t sub_port;        /* `sub`, default 13372 */
		unsigned max_subscribers; /* default 256 */
		double heartbeat_timeout_s; /* subscribers silent this long expire, default 60 */
		unsigned subscriber_queue; /* per-subscriber send high-water mark (frames), default 100000 */
		unsigned queue_max;       /* publish queue (messages), default 65536 */
		uint64_t max_frame_bytes; /* default 4 MiB */
		bool curve_present;       /* `bus.curve` exists: CURVE on all three sockets */
		char *curve_secret_key_file; /* `curve.secret_key_file`; NULL = no CURVE */
		char *curve_clients_file; /* `curve.clients_file`: allowed client public keys */
		struct {
			bool present;     /* `bus.kafka`: store changes as STIX 2.1 to a topic */
			char *topic;
			struct iocb_kv *config; /* librdkafka properties, verbatim */
			size_t nconfig;
		} kafka;
	} bus;

	/* `sightings`: sightings back to MISP's /sightings/add (needs `misp.api`). */
	struct {
		bool present;             /* the section exists */
		char *state_dir;          /* durable queue; NULL = <store.path>/sightings */
		unsigned batch_max;       /* sightings per request, default 500 */
		double max_per_second;    /* default 1000; 0 = unlimited */
		double dedup_window_s;    /* `dedup_window`, default 0 = off */
		bool from_matches;        /* pipeline matches become sightings, default false */
		double from_matches_window_s; /* `from_matches_window`: once per attribute and input, default 300 s */
	} sightings;

	/* `memcached`: the memcached-protocol lookup endpoint (docs/DROPINS.md). */
	struct {
		bool present;             /* the section exists: `iocbus run` starts the endpoint */
		char *host;               /* listen address, default 127.0.0.1 */
		uint16_t port;            /* default 11211; 0 = any free port */
		unsigned max_connections; /* default 1024 */
		unsigned threads;         /* server threads, default 2 */
		char *ns;                 /* Dalli namespace, NULL = none */
		int value;                /* `value`: enum iocb_mc_value (serve/memcached), default 0 */
	} memcached;

	/* `quality.warninglists`: MISP warninglists (issue #15, docs/QUALITY.md "Warninglists"). */
	struct iocb_config_warninglists {
		bool present;             /* the section exists: lists are loaded and applied */
		char **paths;             /* directories or files of lists (a misp-warninglists checkout) */
		size_t npaths;
		char **lists;             /* lists kept by id or MISP name (with `categories`: either) */
		size_t nlists;
		char **categories;        /* "false-positive", "known": every list of these */
		size_t ncategories;
		int false_positive;       /* enum iocb_config_wl_policy for false-positive lists, default suppress */
		int known;                /* ... for known-identifier lists, default flag */
		bool watch;               /* reload when the list files change, default true */
		double watch_interval_s;  /* how often they are checked, default 5 s */
	} warninglists;
	int misp_wl_policy;               /* `misp.warninglist_policy`: enum iocb_config_wl_policy, -1 = global */

	char **intel;                     /* `intel:` list of files/dirs loaded at start */
	size_t nintel;

	struct {
		enum iocb_log_level level; /* error|warn|info|debug, default warn */
		char *debug;              /* comma-separated module list, may be NULL */
		enum iocb_log_format format; /* text (key=value, journald-aware) or json lines */
	} log;

	char **warnings;                  /* "file:line:col: ..." for ignored Threat Bus keys and the
					   * like; already logged at warn level by the loader */
	size_t nwarnings;
};

/*
 * Load and validate `path`. On success *out is owned by the caller.
 * On failure err->msg is "path:line:col: what is wrong" and rc is IOCB_ECONFIG
 * (or IOCB_EIO when the file cannot be read).
 */
int iocb_config_load(const char *path, struct iocb_config **out, struct iocb_err *err) IOCB_MUST_USE;

/*
 * Read `path` once and build `n` independent configurations from its bytes
 * into out[0..n-1] (all or none; the caller owns them and frees each).
 * `iocbus run` keeps one for its reloadable sources and gives the other to
 * the pipeline, which outlives reloads: reading the file twice would give
 * the second reader of a pipe or FIFO (`-c <(...)`) an empty file.
 * Warnings are logged once. Errors as iocb_config_load().
 */
int iocb_config_load_copies(const char *path, struct iocb_config **out, size_t n, struct iocb_err *err) IOCB_MUST_USE;

/* Same as iocb_config_load(), from a string in memory (`name` is used in messages). */
int iocb_config_load_string(const char *name, const char *yaml, size_t len, struct iocb_config **out,
			    struct iocb_err *err) IOCB_MUST_USE;

/* An empty configuration with every default (for runs without a file). */
struct iocb_config *iocb_config_default(void);

void iocb_config_free(struct iocb_config *c);

/*
 * Log one warning for each setting that weakens security: TLS verification
 * off (misp.api `ssl: false` with an https host, Elasticsearch `tls_verify:
 * false`, Kafka `enable.ssl.certificate.verification: false`) and a listener
 * without authentication (http, `tcp` inputs, the bus without `bus.curve`)
 * on a non-loopback address.
 * `iocbus run` calls it once at start. Returns the number of warnings.
 */
size_t iocb_config_warn_exposure(const struct iocb_config *c);

/* Write the effective configuration as YAML; secrets appear as "***". */
int iocb_config_dump(const struct iocb_config *c, FILE *out) IOCB_MUST_USE;

/*
 * Parse a byte count the way the configuration reads sizes: digits with an
 * optional KiB/MiB/GiB/TiB suffix. For command-line options that mirror a
 * size key. Returns false on anything else (or overflow).
 */
bool iocb_config_parse_size(const char *text, uint64_t *out);

/* Write the Markdown reference generated from the tables (docs/CONFIGURATION.md). */
int iocb_config_docs(FILE *out) IOCB_MUST_USE;
/*
 * The top-level sections, in table order: their key and help paragraph
 * (Markdown, static storage), for the man page. Fills at most cap entries
 * and returns how many there are. Any thread.
 */
size_t iocb_config_sections(const char **keys, const char **helps, size_t cap);

#endif
