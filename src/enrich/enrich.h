/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enrichment: look the fields of a JSON log event up in the indicator store
 * and write the event back out, enriched where it matched.
 *
 * Hot path. One pass of the json pull parser over the line: no document
 * tree, no re-serialisation. Keys are followed as dotted paths (nested
 * objects and flat dotted keys such as Zeek's "id.orig_h" give the same
 * path), compared against a compiled field map by an incrementally computed
 * hash; subtrees that no mapped path goes through are skipped. Values of
 * mapped fields are collected during the scan and looked up after it, once
 * the whole line is known to be valid JSON and its paired fields (ports,
 * HTTP host) are known.
 *
 * Output. A line without a match is copied byte for byte. A matching line
 * is the input with `threat.enrichments` (ECS) and `misp` (elastiMISPstash's
 * hit/tag/eventinfo plus the matching attributes) spliced in before its
 * closing brace; when the event already has `threat` or `misp` objects we
 * merge into them, so the result never has duplicate keys. See
 * docs/ENRICHMENT.md for every field.
 *
 * Threads. The field map is immutable and shared. A struct iocb_enrich is a
 * per-thread worker (scratch memory and counters); the calling thread must
 * be a registered store reader (iocb_store_reader_register()).
 */
#ifndef IOCB_ENRICH_ENRICH_H
#define IOCB_ENRICH_ENRICH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/rc.h"
#include "core/str.h"
#include "store/store.h"

/* What kind of value a mapped field holds, i.e. how it is normalised and looked up. */
enum iocb_enrich_kind {
	IOCB_EK_NONE = 0,     /* "none": removes a preset field */
	IOCB_EK_IP,           /* IPv4/IPv6 address: exact and containing CIDRs */
	IOCB_EK_DOMAIN,       /* host or domain name (MISP domain normalisation) */
	IOCB_EK_HOST,         /* IP or domain, with an optional ":port" (HTTP Host, DNS answers) */
	IOCB_EK_URL,          /* full URL; also matches URL indicators written without a scheme */
	IOCB_EK_URI,          /* request path; composed with the paired host field into URLs */
	IOCB_EK_HASH,         /* file hash, hex (md5, sha1, sha256, imphash, ...) */
	IOCB_EK_EMAIL,        /* e-mail address ("Name <a@b>" and "<a@b>" accepted) */
	IOCB_EK_TLS_FP,       /* ja3 / ja3s / jarm / hassh */
	IOCB_EK_X509,         /* certificate fingerprint, hex with or without colons */
	IOCB_EK_USER_AGENT,   /* HTTP user agent, exact */
	IOCB_EK_ASN,          /* autonomous system number (number, "AS64496") */
	IOCB_EK_MAC,          /* MAC address, any separator */
	IOCB_EK_FILENAME,     /* file name, exact */
	IOCB_EK_PORT,         /* a port paired with an IP field (not looked up itself) */
	IOCB_EK__COUNT
};

/* "ip", "domain", ... (as written in the config); NULL for an invalid kind. */
const char *iocb_enrich_kind_name(enum iocb_enrich_kind k);

enum iocb_enrich_preset {
	IOCB_PRESET_ECS = 0,
	IOCB_PRESET_SURICATA,
	IOCB_PRESET_ZEEK,
	IOCB_PRESET_AUTO,     /* all three; each line is classified by its marker keys */
	IOCB_PRESET_NONE,     /* only the configured fields */
	IOCB_PRESET__COUNT
};

/* "ecs", "suricata", "zeek", "auto", "none". */
const char *iocb_enrich_preset_name(enum iocb_enrich_preset p);
/* Inverse of the above; IOCB_EINVAL for an unknown name. */
int iocb_enrich_preset_parse(const char *name, enum iocb_enrich_preset *out) IOCB_MUST_USE;

/* ------------------------------------------------------------ field maps */

struct iocb_enrich_map; /* immutable once built; shared by all workers */

/*
 * Build a field map: the preset's fields, then `extra` applied in order.
 * Each extra entry is `path` -> spec, spec being
 *     KIND[,port=PATH][,host=PATH]
 * e.g. "ip,port=source.port", "uri,host=http.hostname", "none" (removes the
 * path from the map). KIND is an iocb_enrich_kind_name(). A path is the
 * dotted key path ("destination.ip"); at most 255 bytes, 512 fields.
 * Errors name the entry: "enrich.fields.x.y: unknown kind 'ipp' (did you mean 'ip'?)".
 */
struct iocb_enrich_field_spec {
	const char *path;
	const char *spec;
};

int iocb_enrich_map_new(enum iocb_enrich_preset preset, const struct iocb_enrich_field_spec *extra, size_t nextra,
			struct iocb_enrich_map **out, struct iocb_err *err) IOCB_MUST_USE;
void iocb_enrich_map_free(struct iocb_enrich_map *m);

/* Fields of the map (for stats and `iocbus enrich --list-fields`). */
size_t iocb_enrich_map_nfields(const struct iocb_enrich_map *m);
struct iocb_enrich_field_info {
	const char *path;
	enum iocb_enrich_kind kind;
	const char *pair;              /* paired port (IP) or host (URI) path, or NULL */
	unsigned presets;              /* bit per enum iocb_enrich_preset the field belongs to */
};
void iocb_enrich_map_field(const struct iocb_enrich_map *m, size_t i, struct iocb_enrich_field_info *out);

/* ------------------------------------------------------------ workers */

enum iocb_enrich_on_miss {
	IOCB_ON_MISS_PASS = 0, /* non-matching lines byte for byte */
	IOCB_ON_MISS_MARK,     /* add "misp":{"hit":false} (elastiMISPstash's promised marker) */
};

struct iocb_enrich_opts {
	const struct iocb_store *store;    /* borrowed; required */
	const struct iocb_enrich_map *map; /* borrowed; required */
	enum iocb_enrich_on_miss on_miss;
	const char *match_type;     /* threat.enrichments.matched.type (default "indicator_match_rule") */
	const char *provider;       /* indicator.provider when the event's creator org is unknown ("misp") */
	const char *misp_url;       /* base URL for indicator.reference (".../events/view/<id>"), or NULL */
	const char *occurred;       /* fixed matched.occurred text (`iocbus enrich --occurred`, for
				       reproducible output); NULL = current time */
	bool parent_domains;        /* a `domain` indicator also matches its subdomains (default off) */
	bool hits_only;             /* write only enriched lines (misses and rejects are dropped,
				       rejects still go to the reject output when there is one) */
	size_t max_line;            /* longer lines are rejected as too_long (default 1 MiB) */
	size_t max_hits;            /* enrichments written per event at most (default 32) */
	unsigned max_depth;         /* JSON nesting cap per line (default 64) */
	/*
	 * Called once per distinct attribute of each enriched event (after its
	 * line is written), on the worker's thread inside the store's read lock:
	 * `attr` is valid only during the call, and the callback must not block
	 * or take store locks. NULL (the default) = off, one untaken branch per
	 * matching event. The pipeline sets it for sightings.from_matches.
	 */
	void (*on_match)(void *ud, const struct iocb_store_attr *attr);
	void *on_match_ud;          /* its first argument */
	/*
	 * Called once per hit written (a field of the event matched an
	 * attribute; at most max_hits per event), after on_match, with the same
	 * thread and lock rules: `field` is the event field's path and `atom`
	 * the matched value as found in the event (matched.atomic); both valid
	 * only during the call. NULL = off. The pipeline sets it for the status
	 * page's last matches (pipe.h iocb_pipe_recent).
	 */
	void (*on_hit)(void *ud, const struct iocb_store_attr *attr, const char *field, struct iocb_str atom);
	void *on_hit_ud;            /* its first argument */
	/*
	 * Warninglists (issue #15, docs/QUALITY.md): NULL (the default) = none.
	 * Records the quality hook marked `suppress` never match whether or not
	 * this is set (the store's marks decide); with it, each suppressed hit
	 * is counted and a `flag`ged record's lists are written as
	 * misp.warninglists.
	 */
	const struct iocb_enrich_wl *wl;
	/*
	 * Indicator quality (issue #15). Records that are not live (expired:
	 * decayed or past their maximum age; suppressed by a warninglist) never
	 * match; each enrichment carries threat.indicator.confidence, and
	 * misp.decay_score when a decaying model applies, scored with `decay`
	 * (borrowed, may be NULL: no scores) at the current time, or at `now_s`
	 * when it is not 0 (reproducible output in tests).
	 */
	const struct iocb_quality_decay *decay;
	int64_t now_s;
};

/*
 * How enrich learns about warninglists without knowing them: the daemon's
 * warninglist service implements these. Both run on the worker's thread
 * inside the store's read lock; they must not block for long (a read lock
 * on the current lists is fine) or take store locks.
 */
struct iocb_enrich_wl {
	/* Call emit(ctx, name) for each list of set wl_set (the record's marks). */
	void (*names)(void *ud, uint16_t wl_set, void (*emit)(void *ctx, struct iocb_str name), void *ctx);
	/* A hit on a record suppressed by set wl_set was not written: count it per list. */
	void (*suppressed)(void *ud, uint16_t wl_set);
	void *ud;                   /* their first argument */
};

void iocb_enrich_opts_default(struct iocb_enrich_opts *o);

/* ------------------------------------------------------------ from the configuration (opts.c) */

/*
 * The options of cfg's `enrich:` section (and misp_url from misp.api.host),
 * over iocb_enrich_opts_default(): the one place they are read, for
 * `iocbus enrich` and the pipeline alike. store, map and occurred are left
 * for the caller, which may also override any field afterwards (command-line
 * options). The strings stay owned by cfg. Any thread.
 */
void iocb_enrich_opts_from_config(const struct iocb_config *cfg, struct iocb_enrich_opts *o);

/* The preset of input `in` (its own, else enrich.preset); in may be NULL for enrich.preset. */
enum iocb_enrich_preset iocb_enrich_preset_from_config(const struct iocb_config *cfg,
						       const struct iocb_config_input *in);

/*
 * The field map of input `in` as the pipeline uses it: its preset, then
 * enrich.fields, then its own fields (in NULL: enrich.preset and
 * enrich.fields). Errors as iocb_enrich_map_new(), prefixed with
 * "<where>: inputs[<name>]: " for an input. On success *out is the caller's.
 */
int iocb_enrich_map_from_config(const struct iocb_config *cfg, const struct iocb_config_input *in,
				struct iocb_enrich_map **out, struct iocb_err *err) IOCB_MUST_USE;

/* Why a line was passed through without enrichment although it is not a plain miss. */
enum iocb_enrich_reject {
	IOCB_REJ_NOT_JSON = 0,  /* a syntax error inside the line */
	IOCB_REJ_TRUNCATED,     /* the JSON ends before the value is complete */
	IOCB_REJ_TOO_LONG,      /* longer than max_line */
	IOCB_REJ_NOT_OBJECT,    /* valid JSON, but not an object */
	IOCB_REJ__COUNT
};

/* "not_json", "truncated", "too_long", "not_object". */
const char *iocb_enrich_reject_name(enum iocb_enrich_reject r);

struct iocb_enrich_stats {
	uint64_t lines;                      /* lines seen, including blank and rejected ones */
	uint64_t blank;                      /* empty or whitespace-only lines (copied, not events) */
	uint64_t events;                     /* JSON objects scanned */
	uint64_t matched;                    /* events with at least one enrichment */
	uint64_t marked;                     /* misses marked with misp.hit false */
	uint64_t hits;                       /* enrichments written */
	uint64_t hits_dropped;               /* beyond max_hits */
	uint64_t expired_skipped;            /* store hits not used: the indicator expired (quality) */
	uint64_t suppressed_skipped;         /* store hits not used: suppressed by a warninglist */
	uint64_t lookups;                    /* store lookups made */
	uint64_t bytes_in, bytes_out;        /* line bytes including newlines */
	uint64_t rejected[IOCB_REJ__COUNT];  /* per reason */
	uint64_t by_preset[IOCB_PRESET__COUNT]; /* events classified per preset (auto) */
	uint64_t *by_field;                  /* hits per map field (iocb_enrich_map_nfields() entries) */
	uint64_t *by_type;                   /* hits per MISP type id (iocb_misp_type_count() entries) */
	char first_reject[256];              /* "line 12: not_json: byte 40: ..." of the first reject */
	uint64_t first_reject_line;          /* its line number (merging keeps the earliest) */
};

struct iocb_enrich;

/* A worker for one thread. NULL on allocation failure. opts (and what it points to) must outlive it. */
struct iocb_enrich *iocb_enrich_new(const struct iocb_enrich_opts *opts);
void iocb_enrich_free(struct iocb_enrich *e);

enum iocb_enrich_verdict {
	IOCB_ENRICH_BLANK = 0, /* blank line, copied */
	IOCB_ENRICH_MISS,      /* copied unchanged (or marked) */
	IOCB_ENRICH_HIT,       /* enriched */
	IOCB_ENRICH_REJECT,    /* not an event; *why says why; copied unchanged */
};

/*
 * Enrich one line (`line` without its newline). Appends the output line
 * (without newline) to `out`. Returns the verdict; *why (may be NULL) gets
 * the reason of a reject. Counts into the worker's stats. Takes the store's
 * read lock itself. IOCB_ENOMEM / IOCB_ELIMIT only if `out` cannot grow
 * (then out->len is restored).
 */
int iocb_enrich_line(struct iocb_enrich *e, const char *line, size_t len, struct iocb_buf *out,
		     enum iocb_enrich_reject *why) IOCB_MUST_USE;

/*
 * Enrich a block of lines: buf[0..len) holds whole lines, each ending in
 * '\n' except possibly the last (which is then a whole line too: end of
 * input). Each line's output goes to `out` followed by the same terminator
 * it had; rejected lines go to `rej` instead when rej is non-NULL (and to
 * out otherwise). `line_no` is the 1-based number of the block's first line
 * (for messages). Returns IOCB_OK or IOCB_ENOMEM/IOCB_ELIMIT.
 */
int iocb_enrich_block(struct iocb_enrich *e, const char *buf, size_t len, uint64_t line_no, struct iocb_buf *out,
		      struct iocb_buf *rej) IOCB_MUST_USE;

/* Counters of this worker. */
const struct iocb_enrich_stats *iocb_enrich_stats(const struct iocb_enrich *e);
/* Count a reject the caller handled itself (a line too long to buffer); bytes count as input only. */
void iocb_enrich_count_reject(struct iocb_enrich *e, enum iocb_enrich_reject r, uint64_t line_no, uint64_t bytes);

/*
 * Add src's counters into dst. dst->by_field / by_type must be allocated
 * with the same sizes (iocb_enrich_stats_init()).
 */
int iocb_enrich_stats_init(struct iocb_enrich_stats *s, const struct iocb_enrich_map *m) IOCB_MUST_USE;
void iocb_enrich_stats_fini(struct iocb_enrich_stats *s);
void iocb_enrich_stats_add(struct iocb_enrich_stats *dst, const struct iocb_enrich_stats *src,
			   const struct iocb_enrich_map *m);

/* ------------------------------------------------------------ streams */

/*
 * Enrich input files to an output descriptor with `threads` workers (1 =
 * everything on the calling thread), preserving input order. Inputs are
 * paths ("-" = standard input), read in blocks; a line longer than
 * opts->max_line is streamed through (or to rej_fd) in pieces without being
 * buffered whole, so memory stays bounded whatever the input. Files are
 * separated by a newline if one lacks a final newline.
 * rej_fd < 0: rejected lines go to out_fd. Totals are added to *total
 * (initialised by the caller with iocb_enrich_stats_init()).
 * Returns IOCB_OK; IOCB_EIO when an input cannot be opened or read (the
 * others are still processed) or the output fails (stops); IOCB_ENOMEM,
 * IOCB_EINVAL or an engine error otherwise. With threads == 1 the calling
 * thread registers itself as a store reader for the call, so it must not
 * be registered already.
 */
struct iocb_enrich_stream_opts {
	const char *const *inputs;
	size_t ninputs;
	int out_fd;
	int rej_fd;
	unsigned threads;           /* workers; 0 = 1 */
	size_t block_size;          /* bytes per block handed to a worker (default 1 MiB) */
};

int iocb_enrich_stream(const struct iocb_enrich_opts *opts, const struct iocb_enrich_stream_opts *so,
		       struct iocb_enrich_stats *total, struct iocb_err *err) IOCB_MUST_USE;

#endif
