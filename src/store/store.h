/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The indicator store: every matchable MISP attribute, indexed for lookup.
 *
 * Data model. An attribute record holds its own metadata (uuid, id, type,
 * category, to_ids, comment, timestamps, tags, normalised parts) and points
 * to an event record shared by all attributes of that event (uuid, id, info,
 * threat level, creator org, event tags), so event metadata is stored once.
 * Records are immutable once published: an update builds a new record and
 * swaps it in.
 *
 * Indexes. (match class, normalised value) -> every attribute carrying that
 * value (several events may share it); IP prefixes -> CIDR containment for
 * IPv4 and IPv6; attribute uuid -> record; event uuid / id -> event record
 * and its attributes.
 *
 * Concurrency. One writer at a time (writers serialise on an internal
 * mutex); any number of reader threads. Readers never block and never see
 * half of an update: lookups run inside an RCU read-side section
 * (liburcu), and memory retired by writers is freed only after a grace
 * period, in iocb_store_commit(). Every thread that calls a lookup function
 * must first call iocb_store_reader_register().
 *
 * Persistence. With opts.path set, the store is backed by LMDB: every
 * commit is one LMDB transaction, so the state survives a restart and a
 * kill -9 (the in-memory indexes are rebuilt from LMDB on open).
 */
#ifndef IOCB_STORE_STORE_H
#define IOCB_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rc.h"
#include "core/str.h"
#include "misp/misp.h"

struct iocb_store;
struct iocb_store_attr;   /* opaque, immutable attribute record */
struct iocb_store_event;  /* opaque, immutable event record */

#define IOCB_STORE_MAX_SOURCES 64

struct iocb_store_opts {
	const char *path;          /* LMDB directory; NULL = memory only */
	size_t map_size;           /* LMDB map size in bytes (default 8 GiB) */
	bool match_non_ids;        /* lookups also return to_ids=false attributes (default false) */
	size_t expected_attrs;     /* pre-size the tables (default 0 = grow as needed) */
	bool durable;              /* fsync on every commit (default true); false keeps crash
				      safety against kill -9 but not against power loss */
	uint32_t expiry_s[IOCB_STORE_MAX_SOURCES]; /* per source id: attributes expire this many
						       seconds after their last update; 0 = never */
};

void iocb_store_opts_default(struct iocb_store_opts *o);

/*
 * Open (or create) a store. With a path, loads the persisted state.
 * On success *out is owned by the caller. Any thread, once.
 */
int iocb_store_open(const struct iocb_store_opts *opts, struct iocb_store **out, struct iocb_err *err) IOCB_MUST_USE;
/* Close: waits for readers' grace period, frees everything. NULL is a no-op. */
void iocb_store_free(struct iocb_store *s);

/* ------------------------------------------------------------ writing
 * Writer functions may be called from any thread; they serialise on the
 * store's writer mutex. Each change is visible to readers as soon as the
 * call returns; iocb_store_commit() makes the changes since the last commit
 * durable and reclaims retired memory (it waits for an RCU grace period, so
 * call it once per batch, not per attribute).
 */

/*
 * Add or replace the attribute a->uuid (an add, an edit, a snapshot row).
 * The event is created or refreshed from a->event when a->event->uuid or id
 * is set (fields the message lacks keep their stored values, e.g. event tags
 * learned earlier). `source` (0..63) tags the record for per-source expiry
 * and stats. `now` is the current epoch time in seconds (used for expiry).
 * An attribute flagged deleted (or with action DELETE / SOFT_DELETE) is
 * removed instead. Values longer than 65535 bytes fail with IOCB_ELIMIT;
 * comments are cut there.
 * Returns IOCB_OK, IOCB_EINVAL (no uuid / no type / source > 63),
 * IOCB_ELIMIT, IOCB_EIO (persistence).
 */
int iocb_store_upsert(struct iocb_store *s, const struct iocb_misp_attr *a, unsigned source, uint64_t now,
		      struct iocb_err *err) IOCB_MUST_USE;

/*
 * Same, unless the stored record of a->uuid carries a newer
 * Attribute.timestamp than a->timestamp (0 = unknown: always applied): then
 * nothing changes and IOCB_EEXIST is returned. Updates can arrive late: MISP
 * produces to Kafka with a null key, so an add and its edit may sit in
 * different partitions, and a REST page can race the live feed.
 */
int iocb_store_upsert_newer(struct iocb_store *s, const struct iocb_misp_attr *a, unsigned source, uint64_t now,
			    struct iocb_err *err) IOCB_MUST_USE;

/* Remove one attribute by uuid. IOCB_ENOTFOUND if absent (not an error for callers). */
int iocb_store_remove(struct iocb_store *s, struct iocb_str attr_uuid, struct iocb_err *err) IOCB_MUST_USE;

/*
 * Create or refresh an event's metadata (tags, info, orgs...) without
 * touching its attributes; fields that are empty/absent in ev keep their
 * stored values, except tags which are replaced when ev->tags_known.
 */
int iocb_store_event_upsert(struct iocb_store *s, const struct iocb_misp_event *ev, struct iocb_err *err) IOCB_MUST_USE;

/*
 * Remove an event and all its attributes, found by uuid (preferred) or, if
 * uuid is empty, by numeric id. Readers see the whole event disappear at
 * once. *removed (may be NULL) gets the number of attributes removed.
 */
int iocb_store_event_remove(struct iocb_store *s, struct iocb_str event_uuid, uint64_t event_id, size_t *removed,
			    struct iocb_err *err) IOCB_MUST_USE;

/*
 * Remove every attribute `pred` selects, in one pass under the writer lock
 * (a reconcile's mark and sweep, a filter change, a feed dropping events).
 * `pred` sees each record (read it with iocb_store_attr_view()) and must not
 * call store functions other than the views. *removed (may be NULL) gets the
 * count. Readers see each removal at once; commit to make them durable.
 */
typedef bool (*iocb_store_pred)(void *ud, const struct iocb_store_attr *a);
int iocb_store_remove_if(struct iocb_store *s, iocb_store_pred pred, void *ud, size_t *removed,
			 struct iocb_err *err) IOCB_MUST_USE;

/*
 * Find an event by uuid (preferred) or numeric id, as iocb_store_event_remove()
 * does, and call fn with it under the writer lock (read it with
 * iocb_store_event_view() and iocb_store_event_tag(); fn must not call
 * writer functions). IOCB_ENOTFOUND if there is no such event.
 */
int iocb_store_event_with(struct iocb_store *s, struct iocb_str event_uuid, uint64_t event_id,
			  void (*fn)(void *ud, const struct iocb_store_event *e), void *ud) IOCB_MUST_USE;

/*
 * Change listeners: how the bus and the Kafka stream learn of every change
 * without a second copy of the store. fn is called under the writer lock,
 * on the writer's thread, once per change:
 *   (NULL, nw)  an insert;
 *   (old, nw)   a replacement whose content differs: an edit, a move to
 *               another event, new event metadata (tags, info). A re-sent
 *               attribute identical to the stored one (a reconcile row, a
 *               duplicate ZeroMQ message) is not a change and calls nothing.
 *               iocb_store_event_upsert() changing an event's metadata on
 *               its own (a tag on the event) calls (a, a) for each of its
 *               attributes: the record is the same, its rendering is not.
 *               A change of quality marks alone (a sighting, a requalify)
 *               is no change;
 *   (old, NULL) a removal: a delete or soft delete, a remove_if sweep (a
 *               reconcile, a filter change), an expiry, and each attribute
 *               of a removed event, at the iocb_store_commit() that sweeps
 *               them (the event vanished for lookups at once).
 * Records are valid only during the call (read them with the views). fn
 * must not call writer functions, commit or block: it runs inside every
 * writer's critical section. Register before writers run, or accept that
 * the records already stored are not announced (walk them with
 * iocb_store_each()). Returns a handle >= 0, or IOCB_ELIMIT past
 * IOCB_STORE_MAX_LISTENERS. Any thread.
 */
#define IOCB_STORE_MAX_LISTENERS 8 /* bus, stream, exports, memcached long keys, and room */
typedef void (*iocb_store_change_cb)(void *ud, const struct iocb_store_attr *old, const struct iocb_store_attr *nw);
int iocb_store_listen(struct iocb_store *s, iocb_store_change_cb fn, void *ud) IOCB_MUST_USE;
/* Unregister; once it returns fn is not running and will not be called. A bad handle is a no-op. */
void iocb_store_unlisten(struct iocb_store *s, int handle);

/* Remove attributes whose source expiry has passed at `now`. *removed may be NULL. */
int iocb_store_expire(struct iocb_store *s, uint64_t now, size_t *removed, struct iocb_err *err) IOCB_MUST_USE;

/*
 * Make everything since the last commit durable (one LMDB transaction) and
 * free retired memory. Changes not committed when the store is freed or the
 * process dies are lost. On IOCB_EIO the changes stay pending and the next
 * commit retries them. Not from inside iocb_store_read_lock().
 */
int iocb_store_commit(struct iocb_store *s, struct iocb_err *err) IOCB_MUST_USE;

/*
 * Persisted key/value metadata for other modules (e.g. a source's cursor).
 * Written in the same transaction as the next commit. Keys are short ASCII
 * (1..255 bytes); the prefix "iocb.store." is reserved (IOCB_EINVAL).
 */
int iocb_store_meta_set(struct iocb_store *s, const char *key, struct iocb_str value, struct iocb_err *err) IOCB_MUST_USE;
/*
 * Copies the value into out (cap bytes, NUL-terminated when there is room);
 * *out_len gets its length. IOCB_ENOTFOUND if unset, IOCB_ELIMIT if it does
 * not fit in cap.
 */
int iocb_store_meta_get(struct iocb_store *s, const char *key, char *out, size_t cap, size_t *out_len) IOCB_MUST_USE;

/* ------------------------------------------------------------ reading */

/* Every thread that looks things up calls this once before, and unregister before exiting. */
void iocb_store_reader_register(void);
void iocb_store_reader_unregister(void);
/* Lookups and the records they return are valid only between these two calls. Nestable. */
void iocb_store_read_lock(void);
void iocb_store_read_unlock(void);

struct iocb_store_hit {
	const struct iocb_store_attr *attr; /* the matching attribute */
	enum iocb_match_class mc;           /* class of the part that matched */
	unsigned part;                      /* 0 or 1: which part of the attribute matched */
	int prefix;                         /* for IP: the matching CIDR's prefix, -1 for exact */
};

/*
 * Exact lookup of an already-normalised value in class mc. Writes up to max
 * hits to out and returns the total number of matches (which may exceed max).
 * Attributes with to_ids=false are returned only if opts.match_non_ids.
 * For IOCB_MC_IP, an address behaves like iocb_store_lookup_ip() (exact,
 * then containing prefixes) and "net/len" returns the attributes carrying
 * exactly that prefix (host bits ignored).
 * Inside iocb_store_read_lock(). Never blocks.
 */
size_t iocb_store_lookup(const struct iocb_store *s, enum iocb_match_class mc, struct iocb_str value,
			 struct iocb_store_hit *out, size_t max);

/*
 * IP lookup: exact address plus every stored CIDR containing it. `addr` is
 * 4 bytes (v6 false) or 16 bytes (v6 true), network order. Same contract as
 * iocb_store_lookup(); exact matches come first, then prefixes longest first.
 */
size_t iocb_store_lookup_ip(const struct iocb_store *s, const uint8_t *addr, bool v6, struct iocb_store_hit *out,
			    size_t max);

/*
 * Convenience for the CLI and HTTP lookups: take a raw user-supplied value,
 * detect what it can be (IP, domain, hash, url, email, ...), normalise it the
 * way MISP would for each plausible class, and look each up. Same contract.
 */
size_t iocb_store_lookup_any(const struct iocb_store *s, struct iocb_str raw, struct iocb_store_hit *out, size_t max);

/* Find one attribute by uuid (inside the read lock); NULL if absent. */
const struct iocb_store_attr *iocb_store_get(const struct iocb_store *s, struct iocb_str uuid);

/*
 * A read-only view of a record's fields (views valid inside the read lock).
 * The store hands out views and nothing else: output shapes (the lookup
 * JSON, and the coming STIX, memcached and MISP shapes) are built from
 * them above the store, in src/serve/render/.
 */
struct iocb_store_tag_view {
	struct iocb_str name;
};

struct iocb_store_attr_view {
	char uuid[37];                   /* canonical lower-case uuid text */
	uint64_t id;                     /* 0 if unknown */
	const struct iocb_misp_type *type;
	struct iocb_str category;
	struct iocb_str value;           /* full value as MISP shows it ("a|b" for composites), normalised */
	struct iocb_str part[2];
	int prefix[2];
	unsigned nparts;
	struct iocb_str comment;
	bool to_ids;
	uint64_t timestamp;
	int64_t first_seen_us;           /* INT64_MIN if unknown */
	int64_t last_seen_us;
	unsigned source;                 /* source id it came from */
	uint64_t updated;                /* epoch seconds of its last upsert (the `now` given) */
	size_t ntags;
	const struct iocb_store_event *event; /* may be NULL if the attribute has no event */
};

struct iocb_store_event_view {
	char uuid[37];                   /* empty string if unknown */
	uint64_t id;
	struct iocb_str info;
	int threat_level_id;
	uint64_t orgc_id;
	struct iocb_str orgc_name;
	struct iocb_str orgc_uuid;
	struct iocb_str date;
	uint64_t timestamp;
	uint64_t publish_timestamp;
	bool published;
	size_t ntags;
};

void iocb_store_attr_view(const struct iocb_store_attr *a, struct iocb_store_attr_view *out);
/* Only the record's uuid, as 16 bytes: for walks that copy keys (a view formats the whole record). */
void iocb_store_attr_uuid(const struct iocb_store_attr *a, uint8_t out[16]);
/* i-th attribute tag name, i < view.ntags. */
struct iocb_str iocb_store_attr_tag(const struct iocb_store_attr *a, size_t i);
void iocb_store_event_view(const struct iocb_store_event *e, struct iocb_store_event_view *out);
struct iocb_str iocb_store_event_tag(const struct iocb_store_event *e, size_t i);
/*
 * The TLP level of a record ("amber" for a `tlp:amber` tag, as written): its
 * own tag first, then its event's; empty when it has none. Borrowed like a
 * tag. Caller is a registered reader inside a read-side section.
 */
struct iocb_str iocb_store_attr_tlp(const struct iocb_store_attr *a);

/*
 * Walk one consistent snapshot of the attribute records: those live at one
 * instant (records the quality sweep announced gone are left out, as they
 * are for the listeners) (taken under the writer lock, so no update is half-applied),
 * each immutable. fn sees each record once (read it with
 * iocb_store_attr_view() and the tag accessors), in no particular order,
 * on the calling thread, inside an RCU read-side section held for the
 * whole walk; records of events removed before the snapshot are left out,
 * and a record changed or removed during the walk is still seen as it
 * was. Event metadata read through a record is the event's current one.
 * Writers are held only while the snapshot is taken (one pass over the
 * uuid table), but a commit, and the writers queued behind it, waits until
 * the walk ends: fn copies what it needs and leaves I/O for after.
 * fn returns 0 to go on; any other value stops the walk and is returned.
 * The walk costs 8 bytes per record for its duration.
 * The calling thread is a registered reader and NOT inside
 * iocb_store_read_lock() (a commit holds the writer lock while it waits
 * for readers). fn must not call writer functions or commit.
 * Returns IOCB_OK, IOCB_ENOMEM, or what fn returned.
 */
typedef int (*iocb_store_each_cb)(void *ud, const struct iocb_store_attr *a);
int iocb_store_each(struct iocb_store *s, iocb_store_each_cb fn, void *ud) IOCB_MUST_USE;

/*
 * A resumable walk for a reader that must not hold commits back (the bus's
 * snapshot of a million records to a new subscriber): each call visits the
 * live records in up to `max_slots` slots of the uuid table from c->slot on,
 * inside a read-side section it opens and closes itself, so writers and
 * commits run between calls (iocb_store_each() holds every commit until
 * its whole walk ends). Zero *c before the first call.
 * Not one consistent snapshot: a record changed between calls is seen in
 * either version, one inserted or removed meanwhile may or may not be seen,
 * and when the uuid table was rebuilt since the walk began (growth,
 * tombstone cleanup) the walk starts over, so records may be seen twice
 * (c->restarts counts it). A record live and unchanged for the whole walk
 * is seen at least once. Records of removed events are left out. A caller
 * that also follows the change listener (iocb_store_listen) and applies
 * the changes made since the walk began gets the right final state.
 * fn: as iocb_store_each(), called inside the read-side section (no I/O
 * that can block long, no writer calls). When fn returns non-zero the walk
 * stops there and returns that value; the next call starts with the same
 * record (e.g. fn's output buffer is full: flush it, then call again).
 * The caller is a registered reader, NOT inside iocb_store_read_lock().
 * Returns IOCB_EAGAIN while slots remain, IOCB_OK when the walk is done,
 * or fn's value.
 */
struct iocb_store_cursor {
	uint64_t slot;     /* next slot to visit */
	uint64_t rebuilds; /* private: the table's rebuild count when the walk (re)started */
	unsigned restarts; /* times the walk started over after a rebuild */
	bool started;      /* private */
};
int iocb_store_walk(const struct iocb_store *s, struct iocb_store_cursor *c, size_t max_slots, iocb_store_each_cb fn,
		    void *ud) IOCB_MUST_USE;

/* ------------------------------------------------------------ quality
 * The store quality hook (issue #15): warninglist marks and decay/expiry
 * instants live in the record, computed when the record is built, so the
 * hot path decides "does this record still match" with one comparison.
 */

enum iocb_store_wl_action { IOCB_STORE_WL_NONE = 0, IOCB_STORE_WL_IGNORE, IOCB_STORE_WL_FLAG, IOCB_STORE_WL_SUPPRESS };

/*
 * Quality marks of one record, computed by the quality callbacks when the
 * record is built (upsert, event tag change, requalify, sighting). Stored
 * in the record; read with iocb_store_attr_quality(). A record whose marks
 * are all defaults carries nothing (0 bytes); one with any mark carries a
 * 28-byte block (epoch instants are kept as 32-bit seconds: past 2106 they
 * read as "never").
 */
struct iocb_store_quality {
	int64_t expires_at;    /* epoch s from which the record no longer matches; INT64_MAX = never */
	int64_t decay_from;    /* epoch s the decay runs from (timestamp, last_seen or last sighting); 0 = none */
	int64_t last_sighting; /* epoch s of the last type-0 sighting known; 0 = none (store-owned, persisted) */
	int64_t expiration;    /* epoch s of a type-2 (expiration) sighting in force; 0 = none (store-owned,
				  persisted). The store caps expires_at by it after the callbacks ran; a
				  type-0 sighting at or after it, or an update with a newer timestamp,
				  clears it */
	float base_score;      /* 0..100 from tags/model; negative = no model applies */
	uint16_t model;        /* decay model index + 1; 0 = none */
	uint16_t wl_set;       /* 0 = on no warninglist; else an id the warninglist module resolves */
	uint8_t wl_action;     /* enum iocb_store_wl_action: the policy decided for this record */
};

/* The defaults: expires_at INT64_MAX, base_score -1, everything else 0. */
void iocb_store_quality_default(struct iocb_store_quality *q);

/* Whether a record with marks q matches at epoch second now: not suppressed and not expired. */
static inline bool iocb_store_quality_live(const struct iocb_store_quality *q, int64_t now)
{
	return q->wl_action != IOCB_STORE_WL_SUPPRESS && now < q->expires_at;
}

/*
 * A quality callback. It may read a through the views (a's event
 * included; a's own marks may be stale: read q, not iocb_store_attr_quality()).
 * q starts from the record's current marks (expires_at reset to INT64_MAX
 * so an expiry is always recomputed; defaults for a new record) and fn
 * changes only the fields it owns (warninglists: wl_*; decay: expires_at,
 * decay_from, base_score, model). Runs under the writer lock, on the
 * writer's thread: no store calls but the views, no blocking.
 */
typedef void (*iocb_store_quality_fn)(void *ud, const struct iocb_store_attr *a, struct iocb_store_quality *q);

/*
 * Register a quality callback (several may be: warninglists, decay; they
 * run in registration order). Records already stored keep their marks
 * until iocb_store_requalify(). Returns a handle >= 0 or IOCB_ELIMIT past
 * IOCB_STORE_MAX_QUALITY. Any thread; takes the writer lock.
 */
#define IOCB_STORE_MAX_QUALITY 4
int iocb_store_quality_add(struct iocb_store *s, iocb_store_quality_fn fn, void *ud) IOCB_MUST_USE;
/* Unregister (before the callback's state is freed). A bad handle is a no-op. */
void iocb_store_quality_remove(struct iocb_store *s, int handle);

/* The record's marks (the defaults when it carries none). Reader (or inside a callback, writer). */
void iocb_store_attr_quality(const struct iocb_store_attr *a, struct iocb_store_quality *out);

/*
 * The hot path's test: iocb_store_quality_live() of a's marks without
 * copying them (a flag test for records with none, one load and one
 * comparison otherwise). Reader.
 */
bool iocb_store_attr_live(const struct iocb_store_attr *a, int64_t now);

/*
 * Recompute every record's marks (start-up after open, a SIGHUP reload of
 * lists or models); records whose marks changed are replaced and persisted
 * at the next commit. Marks alone are not what listeners render, so they
 * hear nothing unless the record was gone and is live again at `now`
 * (an insert); a record that stops being live is announced by the next
 * iocb_store_quality_sweep().
 * *changed (may be NULL) gets their count. Writer (takes the lock).
 */
int iocb_store_requalify(struct iocb_store *s, uint64_t now, size_t *changed, struct iocb_err *err) IOCB_MUST_USE;

/*
 * A sighting of attribute attr_uuid at epoch second ts: type 0 sets
 * last_sighting (the decay restarts from it and a type-2 expiration at or
 * before ts is lifted), type 2 (expiration) expires the record at ts
 * (ts <= 0: at once), type 1 (false positive) changes nothing. The
 * callbacks run again and a changed record is replaced; listeners hear of
 * it only when it comes back from gone (a sighting must not republish an
 * indicator to the bus, the stream and the exports).
 * Returns IOCB_OK, IOCB_ENOTFOUND (no such attribute), IOCB_EINVAL (bad
 * uuid, type > 2). Writer (takes the lock).
 */
int iocb_store_sighting(struct iocb_store *s, struct iocb_str attr_uuid, int type, int64_t ts,
			struct iocb_err *err) IOCB_MUST_USE;

/*
 * The quality sweep (the daemon runs it every quality.sweep_interval).
 * Records stay stored and indexed when they stop being live, so lookups
 * for people still find them (with their marks) and matching skips them
 * with one comparison; but the listeners (bus, Kafka stream, exports) must
 * drop them. A record found not live at `now` is announced as removed
 * (listeners see (r, NULL)) and marked gone: listeners and walks
 * (iocb_store_each, iocb_store_walk) no longer see it, and its later
 * versions reach them only once live again, as an insert (NULL, nw). A
 * gone record found live again (time passing cannot do it; a sighting
 * or a MISP update that the caller's `now` did not cover can) is
 * announced back. Takes the writer lock for at most `chunk` uuid-table
 * slots at a time (0 = 16384), so writers wait milliseconds, never a
 * whole pass; readers never wait. Counts in *out (may be NULL). Writer.
 */
struct iocb_store_sweep_stats {
	size_t expired;     /* records announced gone this pass because they expired */
	size_t suppressed;  /* ... because a warninglist suppresses them */
	size_t back;        /* gone records announced back */
	size_t gone_now;    /* records gone after the pass (expired or suppressed) */
	size_t expired_now; /* of which expired */
};
int iocb_store_quality_sweep(struct iocb_store *s, int64_t now, size_t chunk, struct iocb_store_sweep_stats *out,
			     struct iocb_err *err) IOCB_MUST_USE;

/* ------------------------------------------------------------ stats */

struct iocb_store_stats {
	uint64_t attrs;                       /* attribute records */
	uint64_t events;                      /* event records */
	uint64_t by_class[IOCB_MC__COUNT];    /* indexed parts per match class */
	uint64_t cidrs_v4, cidrs_v6;          /* CIDR prefixes indexed */
	uint64_t non_ids;                     /* attributes with to_ids=false */
	uint64_t by_source[IOCB_STORE_MAX_SOURCES];
	uint64_t by_type[256];                /* attributes per MISP type id (iocb_misp_type_get()) */
	uint64_t mem_bytes;                   /* approximate heap used by records and indexes */
	uint64_t commits;                     /* commits since open that had something to write */
	uint64_t commit_errors;               /* commits that failed to persist since open */
	bool commit_failing;                  /* the last commit failed: changes since are in memory only */
	char commit_error[200];               /* that failure's message ("" when the last commit worked) */
	uint64_t sightings[3];                /* iocb_store_sighting() calls applied, by type 0..2 */
	uint64_t sightings_unknown;           /* ... for an attribute the store does not hold */
};

/* Snapshot of the counters. Any thread; waits for a commit in progress. */
void iocb_store_stats(const struct iocb_store *s, struct iocb_store_stats *out);

/*
 * Whether the last commit failed (what it carried is in memory only, and
 * the next commit retries it); its message goes to reason (cap bytes,
 * NUL-terminated; "" when it worked; reason may be NULL). Any thread; never
 * waits for a commit in progress, so /healthz can call it.
 */
bool iocb_store_commit_failing(const struct iocb_store *s, char *reason, size_t cap);

#endif
