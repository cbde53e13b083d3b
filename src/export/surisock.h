/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Suricata datasets kept current over Suricata's unix socket (exports.md
 * §3.3, §3.4 strategy (b)): each store change that adds or removes an item
 * of a socket-fed dataset becomes one `dataset-add` or `dataset-remove`
 * command, sent within milliseconds, while the dataset file (watch.h) is
 * still rewritten for Suricata's restarts.
 *
 * Shape. One store listener computes, under the store's writer lock, the
 * items a change adds to and removes from each set (the raw parts that
 * fit, as the "suricata-dataset" format selects them) and pushes them into
 * a bounded single-producer ring (the listener calls are serialised by the
 * writer lock, so there is one producer at a time; the socket thread is
 * the one consumer). The listener never blocks and never allocates: a full
 * ring drops the item and raises the `lost` flag. One thread owns the
 * socket: it connects, says `{"version": "0.2"}`, asks `version`, then
 * sends one command a line and waits for each answer.
 *
 * Resync. After a connect (Suricata may have restarted and loaded an older
 * file, or missed commands while we were away) and after an overflow, the
 * thread reloads every set: `dataset-clear` (Suricata 7.0+; older ones keep
 * what they hold) then one `dataset-add` per item of a fresh store
 * snapshot. Queued changes are then applied in order; applying one twice is
 * harmless (`data already in set` is success, removing an absent item
 * answers `failed to remove data`, which counts as success here), so no
 * change is lost between the snapshot and the queue.
 *
 * A removal is sent only when no other live selected record still holds
 * the item (two events carrying one domain): the thread looks it up in the
 * store before sending.
 *
 * Threads: start/stop from one controlling thread; stats from any thread.
 */
#ifndef IOCB_EXPORT_SURISOCK_H
#define IOCB_EXPORT_SURISOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "export/export.h"

#define IOCB_SURISOCK_MAX_SETS 16
/* Longest reply line read (Suricata's own commands are capped at 4095 bytes; answers are short). */
#define IOCB_SURISOCK_LINE_MAX 65536

/* One Suricata dataset fed through the socket. */
struct iocb_surisock_set {
	const char *name;                 /* the set's name in Suricata (`setname`); borrowed */
	enum iocb_export_dataset type;    /* its type (`settype`); not AUTO */
	struct iocb_export_opts sel;      /* which records feed it (types, non_ids); pointers borrowed */
};

struct iocb_surisock_opts {
	const char *path;                      /* Suricata's unix-command socket; borrowed */
	const struct iocb_surisock_set *sets;  /* copied */
	size_t nsets;                          /* 0..IOCB_SURISOCK_MAX_SETS (0: rule reloads only) */
	size_t queue_cap;                      /* changes queued before a resync; 0 = 4096 */
	uint32_t timeout_ms;                   /* wait for one answer; 0 = 5000 */
	unsigned busy_retries;                 /* `data is busy, try again` retries of one command; 0 = 10 */
	double reconnect_max_s;                /* longest wait between connection attempts; 0 = 5 */
	double reload_min_s;                   /* between two rule reloads (iocb_surisock_reload_rules); 0 = 60 */
};

/* Counters; read with iocb_surisock_stats(). */
struct iocb_surisock_stats {
	uint64_t commands[IOCB_SURISOCK_MAX_SETS]; /* per set: dataset commands answered (retries included) */
	uint64_t nok[IOCB_SURISOCK_MAX_SETS];      /* per set: answers "NOK" (a removal of an absent item excepted) */
	uint64_t retries[IOCB_SURISOCK_MAX_SETS];  /* per set: commands sent again after `data is busy, try again` */
	uint64_t reconnects; /* connections made after the first */
	uint64_t resyncs;    /* full reloads of the sets (each connect, each overflow) */
	uint64_t overflows;  /* items dropped because the queue was full (each forces a resync) */
	uint64_t reloads;    /* `ruleset-reload-nonblocking` commands answered OK */
	uint64_t queued;     /* items in the queue now */
	bool connected;      /* the socket is up and past the handshake */
	int version_major;   /* Suricata's major version from `version`; 0 = unknown */
};

struct iocb_surisock;

/*
 * Register the listener and start the socket thread (which connects, and
 * retries with backoff while Suricata is down). The store must outlive the
 * object. IOCB_EINVAL, IOCB_ELIMIT (no listener slot), IOCB_ENOMEM, IOCB_EIO.
 */
int iocb_surisock_start(struct iocb_surisock **out, struct iocb_store *s, const struct iocb_surisock_opts *o,
			struct iocb_err *err) IOCB_MUST_USE;
/* Unregister, stop the thread (it ends the command in flight), free. NULL is a no-op. */
void iocb_surisock_stop(struct iocb_surisock *k);
/*
 * Ask for a rule reload (`ruleset-reload-nonblocking`, exports.md §3.4): after
 * a file Suricata reads on reloads changed (iprep, a datarep or `load` set).
 * Sent when connected, at most once per reload_min_s; requests in between
 * are merged into the next. Never blocks. Any thread.
 */
void iocb_surisock_reload_rules(struct iocb_surisock *k);
/* Current counters. Any thread. */
void iocb_surisock_stats(struct iocb_surisock *k, struct iocb_surisock_stats *out);

/* ------------------------------------------------------------ protocol (surisock_proto.c) */

/* One answer: `{"return": "OK"|"NOK", "message": ...}`. */
struct iocb_surisock_reply {
	bool ok;            /* "return" is "OK" */
	char message[256];  /* "message" when it is a string (truncated), else "" */
};

/*
 * Parse one answer (one JSON object; trailing whitespace and the '\n'
 * allowed). Keys other than return/message are skipped, a non-string
 * message leaves message "". IOCB_EPARSE (not JSON, not an object, no
 * "return" string, or a return other than OK/NOK). Any thread.
 */
int iocb_surisock_reply_parse(const char *buf, size_t len, struct iocb_surisock_reply *out) IOCB_MUST_USE;

/*
 * Append one command line to out: `{"command":"<cmd>","arguments":{"setname":...,"settype":...,
 * "datavalue":...}}` + '\n' (datavalue omitted when value.ptr is NULL, arguments omitted when
 * set is NULL). IOCB_ELIMIT past out's cap. Any thread.
 */
int iocb_surisock_command(struct iocb_buf *out, const char *cmd, const char *set, const char *type,
			  struct iocb_str value) IOCB_MUST_USE;

/* True when the reply says the item is busy and the command should be sent again. */
bool iocb_surisock_reply_busy(const struct iocb_surisock_reply *r);

#endif
