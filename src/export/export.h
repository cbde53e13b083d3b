/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exports: what writes the store out for other programs to read (value
 * lists, Zeek Intel files, Suricata datasets; Kafka indicator topics
 * later). An exporter sits beside the log outputs of src/pipe/ but uses
 * none of the pipeline's machinery (batches, queues, spools, acks): what it
 * writes is the store's state at one instant, not a stream of events.
 *
 * The contract. An exporter is one .c file in src/export/ with one row in
 * the format table (export.c), and gets:
 *   - a consistent snapshot of the store's records, through
 *     iocb_store_each() (store.h): each live attribute record once, read
 *     with the views, inside an RCU read-side section. The walk holds up
 *     the store's commits while it lasts, so an exporter copies what it
 *     needs in the walk and formats and writes after it;
 *   - the selection every exporter applies the same way
 *     (struct iocb_export_opts, iocb_export_selected()): MISP types, and
 *     to_ids as a lookup sees it;
 *   - a sink (struct iocb_export_sink): a borrowed fd, or a file path
 *     written atomically: the bytes go to a temporary file in the same
 *     directory, which replaces the path (fsync, rename, fsync of the
 *     directory) only at iocb_export_sink_commit(), so a reader (Zeek,
 *     Suricata) never sees half a file, and a failed export leaves the
 *     previous file in place;
 *   - change notifications (to rewrite or stream on a change): not yet;
 *     they will come from the daemon, which alone knows when sources
 *     commit.
 * An exporter holds at most opts.max_bytes of copied data and fails with
 * IOCB_ELIMIT past it.
 *
 * Threads: an export runs on the calling thread, which must be a
 * registered store reader and not inside iocb_store_read_lock(). Exporters
 * keep no state between calls, so different threads may export at once.
 */
#ifndef IOCB_EXPORT_EXPORT_H
#define IOCB_EXPORT_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rc.h"
#include "misp/misp.h"
#include "store/store.h"

/* Suricata dataset types (exports.md §3.2): what one dataset file holds. */
enum iocb_export_dataset {
	IOCB_EXPORT_DS_AUTO = 0, /* from the first selected MISP type (ip-* -> ip, md5, sha256, else string) */
	IOCB_EXPORT_DS_STRING,   /* standard base64 of the bytes: domains, hostnames, URLs, user agents, ja3 */
	IOCB_EXPORT_DS_MD5,      /* 32 lower-case hex digits */
	IOCB_EXPORT_DS_SHA256,   /* 64 lower-case hex digits */
	IOCB_EXPORT_DS_IPV4,     /* dotted quad */
	IOCB_EXPORT_DS_IP,       /* IPv4 or IPv6 text */
};

/* "string", "md5", ... as Suricata's `type` option spells them; NULL for AUTO. */
const char *iocb_export_dataset_name(enum iocb_export_dataset t);
/* Inverse of the above; IOCB_EXPORT_DS_AUTO for an unknown name. */
enum iocb_export_dataset iocb_export_dataset_parse(const char *name);

struct iocb_export_opts;
/* The dataset type o selects: o->dataset, or from o's first MISP type when AUTO (ip-* -> ip, md5, sha256,
 * else string). */
enum iocb_export_dataset iocb_export_dataset_of(const struct iocb_export_opts *o);

/* What to export (shared by every format). Zeroed = every type, to_ids only, 1 GiB. */
struct iocb_export_opts {
	const struct iocb_misp_type *const *types; /* borrowed: only these MISP types; NULL = every type */
	size_t ntypes;                             /* entries in types */
	bool non_ids;     /* also attributes whose to_ids is false (as store.match_non_ids does for lookups) */
	size_t max_bytes; /* cap on the data an exporter copies out of the snapshot; 0 = 1 GiB */
	const char *source_name; /* zeek: meta.source's instance part ("<name> (<event uuid>) - <orgc>"); NULL = "MISP" */
	const char *misp_url;    /* zeek: base URL for meta.url = <misp_url>/events/view/<id>; NULL = no meta.url */
	enum iocb_export_dataset dataset; /* suricata-dataset: the dataset type */
	unsigned datarep;                 /* suricata-dataset: 1..65535 = a datarep file, `<item>,<datarep>` lines; 0 = plain */
	struct iocb_export_zeek_removals *removals; /* zeek: tombstone state kept between runs (owned by the
						       caller, one thread at a time); NULL = no meta.remove column */
	const struct iocb_export_iprep_rule *iprep_rules; /* suricata-iprep: borrowed; NULL = "*" -> 1,MISP,100 */
	size_t niprep_rules;                              /* entries in iprep_rules */
	const char *iprep_categories;                     /* suricata-iprep: categories file written too; NULL = none */
};

/* ------------------------------------------------------------ zeek removals */

/* What a removed Zeek indicator leaves: `meta.remove T` lines for keep_s seconds (zeek_removals.c). */
struct iocb_export_zeek_removals;
/* New empty state (seeded from the file on disk at its first use); NULL when out of memory. */
struct iocb_export_zeek_removals *iocb_export_zeek_removals_new(double keep_s);
void iocb_export_zeek_removals_free(struct iocb_export_zeek_removals *r);

/* ------------------------------------------------------------ iprep */

/* One tag rule of the iprep export: addresses whose tags match `glob` get category id at score. */
struct iocb_export_iprep_rule {
	const char *glob; /* fnmatch(3) pattern on attribute and event tag names; "*" = every address (borrowed) */
	unsigned id;      /* category id, 0..59 */
	char name[32];    /* category short name, 1..31 bytes of [A-Za-z0-9_.-] */
	unsigned score;   /* 1..127 */
};
/*
 * Parse spec "<id>,<short name>,<score>" for glob into *out (glob borrowed). IOCB_EINVAL with
 * the reason in err. Rules sharing an id must agree on name and score: checked by
 * iocb_export_iprep_rules_check().
 */
int iocb_export_iprep_rule_parse(const char *glob, const char *spec, struct iocb_export_iprep_rule *out,
				 struct iocb_err *err) IOCB_MUST_USE;
int iocb_export_iprep_rules_check(const struct iocb_export_iprep_rule *r, size_t n, struct iocb_err *err) IOCB_MUST_USE;

/* What an export did. */
struct iocb_export_stats {
	uint64_t records;  /* attribute records in the snapshot */
	uint64_t selected; /* records that passed the selection */
	uint64_t written;  /* entries written (values: distinct lines) */
	uint64_t skipped;  /* selected records the format cannot carry (values: a value with a line break) */
	uint64_t removals; /* zeek with removals: meta.remove T lines written */
};

/* True when the record seen as `v` passes o's type and to_ids selection. Any thread. */
bool iocb_export_selected(const struct iocb_export_opts *o, const struct iocb_store_attr_view *v);

/* ------------------------------------------------------------ sink */

/* Where an export writes; the caller embeds it (init with one of the two calls below). */
struct iocb_export_sink {
	int fd;              /* where bytes go: the borrowed fd, or the temporary file (owned) */
	bool atomic;         /* fd is the temporary file `tmp`, renamed over `path` at commit */
	char path[4096];     /* the destination file ("" for a borrowed fd) */
	char tmp[4096 + 32]; /* the temporary file beside it */
};

/* A sink writing to `fd`, borrowed (never closed): stdout, a pipe, a socket. */
void iocb_export_sink_fd(struct iocb_export_sink *k, int fd);
/*
 * A sink replacing the file `path` atomically: creates `path`.tmp.<pid>
 * (mode 0644 less the umask) in the same directory. IOCB_EINVAL (path too
 * long), IOCB_EIO (with the reason in err).
 */
int iocb_export_sink_path(struct iocb_export_sink *k, const char *path, struct iocb_err *err) IOCB_MUST_USE;
/* Write all n bytes (retries short writes and EINTR). IOCB_EIO. */
int iocb_export_sink_write(struct iocb_export_sink *k, const void *p, size_t n, struct iocb_err *err) IOCB_MUST_USE;
/*
 * Finish: for a file, fsync, close and rename the temporary file over the
 * path, then fsync the directory; on failure the temporary file is removed
 * and the old file is left as it was (IOCB_EIO). For a borrowed fd, nothing.
 * The sink is closed either way.
 */
int iocb_export_sink_commit(struct iocb_export_sink *k, struct iocb_err *err) IOCB_MUST_USE;
/* Give up: close and remove the temporary file; the old file stays. Safe after commit. */
void iocb_export_sink_abort(struct iocb_export_sink *k);

/* ------------------------------------------------------------ formats */

/*
 * One export format. run() walks the snapshot, writes to k (it neither
 * commits nor aborts it: the caller does, on run's result) and fills *st.
 * Returns IOCB_OK, IOCB_ELIMIT (opts.max_bytes), IOCB_ENOMEM, IOCB_EIO.
 */
struct iocb_export_format {
	const char *name; /* as named on the command line: "values" */
	const char *help; /* one line for usage texts */
	int (*run)(struct iocb_store *s, const struct iocb_export_opts *o, struct iocb_export_sink *k,
		   struct iocb_export_stats *st, struct iocb_err *err);
};

/* The format called `name`, or NULL. */
const struct iocb_export_format *iocb_export_format_find(const char *name);
/* i-th format (for usage texts), NULL past the last. */
const struct iocb_export_format *iocb_export_format_get(size_t i);

/*
 * "values": the distinct normalised values (as MISP shows them: "a|b" for
 * composite types) of the selected attributes, one per line, sorted
 * bytewise, each ending in '\n': the plain list that blocklist feeds,
 * firewalls and Suricata's ip/md5/sha256 datasets read (string datasets
 * want base64: another format). A value holding a line break cannot be a
 * line: it is counted in st->skipped. (values.c)
 */
int iocb_export_values(struct iocb_store *s, const struct iocb_export_opts *o, struct iocb_export_sink *k,
		       struct iocb_export_stats *st, struct iocb_err *err) IOCB_MUST_USE;

/*
 * "zeek": a Zeek Intel framework file (exports.md §2): the `#fields` header
 * then one line per indicator part Zeek has an Intel::Type for (zeek.c's
 * table), fields TAB-separated and \xHH-escaped as Zeek's ASCII input
 * reader unescapes them. Selected records with no mappable part are counted
 * in st->skipped; st->written counts lines.
 */
int iocb_export_zeek(struct iocb_store *s, const struct iocb_export_opts *o, struct iocb_export_sink *k,
		     struct iocb_export_stats *st, struct iocb_err *err) IOCB_MUST_USE;

/*
 * "suricata-dataset": one Suricata dataset file of type o->dataset
 * (exports.md §3.2): one item per line, every line ending in '\n', no
 * comments, blanks or CRs, sorted and distinct. Each part of a selected
 * record whose match class fits the dataset type is an item (composites
 * split); what does not fit (a CIDR, a hash of another length, a string
 * whose base64 would pass the 1022 characters Suricata 6/7 read in one
 * line) is counted in st->skipped when no part of the record fit.
 */
int iocb_export_suricata_dataset(struct iocb_store *s, const struct iocb_export_opts *o, struct iocb_export_sink *k,
				 struct iocb_export_stats *st, struct iocb_err *err) IOCB_MUST_USE;

/*
 * "suricata-iprep": Suricata's IP reputation file (exports.md §3.5): one
 * `<ip|cidr>,<category>,<score>` line per address part of a selected record
 * and category its tags select (o->iprep_rules), sorted and distinct; with
 * o->iprep_categories, also that categories file (`<id>,<name>,<desc>`),
 * replaced atomically after the reputation file's data is written. (iprep.c)
 */
int iocb_export_suricata_iprep(struct iocb_store *s, const struct iocb_export_opts *o, struct iocb_export_sink *k,
			       struct iocb_export_stats *st, struct iocb_err *err) IOCB_MUST_USE;

#endif
