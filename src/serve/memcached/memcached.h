/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The memcached-protocol lookup endpoint (issue #14 §1): Logstash's
 * memcached filter (Dalli, binary protocol), pymemcache and meta clients
 * look indicators up in the store as if it were the memcached that
 * elastiMISPstash's cron script filled.
 *
 * This header is the contract of the pure part: a request parser and
 * responder with no I/O (iocb_mc_feed), and the store-backed lookup
 * (iocb_mc_store_lookup) that maps a memcached key to store hits and
 * renders the value. The protocol is chosen per connection from its first
 * byte (0x80 = binary, anything else text/meta), as memcached's `-B auto`.
 * Reads are answered; writes are refused with memcached's own error shape
 * for the protocol (binary 0x0005 "Not stored." / 0x0083 "Not supported",
 * text/meta "SERVER_ERROR read only"), never silently accepted.
 */
#ifndef IOCB_SERVE_MEMCACHED_MEMCACHED_H
#define IOCB_SERVE_MEMCACHED_MEMCACHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

struct iocb_store;

#define IOCB_MC_KEY_MAX 250u           /* memcached's KEY_MAX_LENGTH */
#define IOCB_MC_VALUE_MAX (1u << 20)   /* memcached's default item size limit */
#define IOCB_MC_LINE_MAX 65536u        /* longest text line (a get with many keys) */
#define IOCB_MC_BODY_MAX (IOCB_MC_VALUE_MAX + 512u) /* longest binary body buffered */
#define IOCB_MC_VERSION "1.6.18"       /* what VERSION says: Dalli 5 requires >= 1.6 */

enum iocb_mc_proto { IOCB_MC_PROTO_NONE = 0, IOCB_MC_PROTO_BINARY, IOCB_MC_PROTO_TEXT };

/* Commands counted per request (the `command` label of iocbus_memcached_requests_total). */
enum iocb_mc_cmd {
	IOCB_MC_CMD_GET = 0, /* any read of keys: binary GET*, text get/gets, meta mg */
	IOCB_MC_CMD_NOOP,    /* binary NOOP, meta mn */
	IOCB_MC_CMD_VERSION,
	IOCB_MC_CMD_STAT,
	IOCB_MC_CMD_QUIT,
	IOCB_MC_CMD_WRITE,   /* refused writes */
	IOCB_MC_CMD_UNKNOWN, /* unknown commands and protocol errors */
	IOCB_MC_CMD__N
};

/* Counters; one per server thread, read by the metrics render. */
struct iocb_mc_stats {
	uint64_t requests[IOCB_MC_CMD__N];
	uint64_t hits;   /* keys answered with a value */
	uint64_t misses; /* keys with no value */
};

/*
 * Look key up; on a hit append the value to `value` and return 1; return 0
 * on a miss, < 0 on an error (answered as a miss). When key stands for a
 * longer one (Dalli's shortened form of a key over 250 characters), the
 * callback appends that whole key to `whole_key`: binary GETK/GETKQ echo it
 * instead of the key sent, because Dalli files each answer under the key it
 * carries, and the Logstash filter looks the answer up under the key it
 * asked for, the whole one. Called on the thread that calls iocb_mc_feed().
 */
typedef int (*iocb_mc_lookup_cb)(void *ud, struct iocb_str key, struct iocb_buf *value, struct iocb_buf *whole_key);

/* Per-connection state of the parser; zero-initialise, then set the fields below. */
struct iocb_mc_session {
	iocb_mc_lookup_cb lookup;   /* required */
	void *lookup_ud;
	struct iocb_mc_stats *stats; /* required; shared by the connections of one thread */
	enum iocb_mc_proto proto;   /* set from the first byte by iocb_mc_feed() */
	bool close;                 /* OUT: flush `out`, then close the connection */
	struct iocb_buf value;      /* scratch for one value; iocb_mc_session_fini() frees it */
	struct iocb_buf whole;      /* scratch: the whole key a shortened one stands for (empty: none) */
};

/*
 * Parse and answer the complete requests at the start of in[0..len):
 * responses are appended to `out` in request order. *used gets the number
 * of bytes consumed; an incomplete request at the end is left for the next
 * call with more bytes. Stops early once out->len passes `out_high` (the
 * caller flushes and calls again with the rest). Sets s->close when the
 * connection must be closed after `out` is written (quit, bad magic, an
 * oversized key or line: where memcached closes). Returns IOCB_OK, or
 * IOCB_ENOMEM / IOCB_ELIMIT when `out` cannot grow (close the connection).
 * Any thread; one session per connection.
 */
int iocb_mc_feed(struct iocb_mc_session *s, const uint8_t *in, size_t len, size_t *used, struct iocb_buf *out,
		 size_t out_high) IOCB_MUST_USE;

void iocb_mc_session_fini(struct iocb_mc_session *s);

/*
 * The value template a hit is served with (`memcached.value`):
 *   ELASTIMISPSTASH  elastiMISPstash's bytes: the Python repr of the list of
 *                    "Feed-" tag names, e.g. ['Feed-A', 'Feed-B'] (default);
 *   JSON             {"tags":[every tag],"event_info":"…","tlp":"amber"}
 *                    (event_info and tlp null when absent);
 *   EVENT_INFO       the event info alone, as stored.
 * Tags are attribute tags then event tags, each once, over every hit of the
 * key; event info and TLP are the first hit's that has one.
 */
enum iocb_mc_value { IOCB_MC_VALUE_ELASTIMISPSTASH = 0, IOCB_MC_VALUE_JSON, IOCB_MC_VALUE_EVENT_INFO };

/*
 * The index behind Dalli's shortened keys: Dalli sends a key over 250
 * characters (namespace included) as key[0, 212] + ":md5:" + md5_hex(key)
 * (213 with a namespace). The index files each stored value part of 167
 * bytes or more under a hash of its first 128 bytes (24-byte slots, at most
 * half full); shorter values cost nothing. Kept up to date by a store
 * change listener (one of IOCB_STORE_MAX_LISTENERS).
 */
struct iocb_mc_digest;
struct iocb_err;
/* Register the listener and index what the store holds. Main thread, not a store reader inside a read section. */
int iocb_mc_digest_open(struct iocb_store *s, struct iocb_mc_digest **out, struct iocb_err *err) IOCB_MUST_USE;
/* Unregister and free; NULL is a no-op. */
void iocb_mc_digest_close(struct iocb_mc_digest *d);
/* Values indexed and the bytes the index takes. Any thread. */
void iocb_mc_digest_stats(struct iocb_mc_digest *d, uint64_t *values, uint64_t *bytes);

/* What the store-backed lookup needs; borrowed for the server's life. */
struct iocb_mc_store_ctx {
	const struct iocb_store *store;
	struct iocb_str ns; /* namespace: a key "<ns>:<rest>" is looked up as <rest>; empty = none */
	enum iocb_mc_value value; /* the value template */
	struct iocb_mc_digest *digest; /* Dalli's shortened long keys; NULL = they miss */
};

/*
 * An iocb_mc_lookup_cb over the store (ud = struct iocb_mc_store_ctx *).
 * Key forms: "<misp-type>-<value>" (elastiMISPstash's), the bare value, each
 * with an optional "<ns>:" prefix, and Dalli's shortened form of such a key
 * over 250 characters (with ctx->digest; the value must then be stored
 * byte for byte as sent: the digest hides the rest of it). Matching is the store's
 * (iocb_store_lookup_any: normalisation, CIDR containment). The value is
 * rendered with ctx->value (enum iocb_mc_value); elastiMISPstash's is
 * "[]" when a hit has no "Feed-" tag. The caller is a
 * registered RCU reader, outside the read lock (taken per key here).
 */
int iocb_mc_store_lookup(void *ud, struct iocb_str key, struct iocb_buf *value, struct iocb_buf *whole_key);

/* ---- the server: epoll threads, non-blocking sockets ------------------------- */

struct iocb_err;
struct iocb_mc_server;

struct iocb_mc_opts {
	const char *host;           /* listen address; NULL = 127.0.0.1 */
	uint16_t port;              /* 0 = any free port (tests; see iocb_mc_port) */
	unsigned max_connections;   /* over it a new connection is closed at once (counted); split across threads */
	unsigned threads;           /* server threads, each with its own epoll set (SO_REUSEPORT); 0 = 1 */
	const char *ns;             /* namespace (iocb_mc_store_ctx.ns); NULL/empty = none */
	enum iocb_mc_value value;   /* value template; 0 = elastiMISPstash's */
	struct iocb_store *store;   /* borrowed; must outlive the server (its listener: the long-key index) */
};

/* Counters for /metrics (iocb_mc_metrics_render). */
struct iocb_mc_server_stats {
	struct iocb_mc_stats mc;
	uint64_t connections;       /* open now */
	uint64_t accepted;          /* connections accepted in total */
	uint64_t refused;           /* connections closed at once: over max_connections */
	uint64_t digest_values;     /* long values in the index of Dalli's shortened keys */
	uint64_t digest_bytes;      /* bytes that index takes */
};

/*
 * Bind, listen, build the long-key index and start the server threads.
 * *out owns the server on success. IOCB_EIO (cannot bind), IOCB_ELIMIT (no
 * store listener left) or IOCB_ENOMEM with err set.
 * Main thread.
 */
int iocb_mc_start(const struct iocb_mc_opts *o, struct iocb_mc_server **out, struct iocb_err *err) IOCB_MUST_USE;
/* Stop the threads, close every connection, free. NULL is a no-op. Main thread. */
void iocb_mc_stop(struct iocb_mc_server *s);
/* The bound port (useful with opts.port 0). */
uint16_t iocb_mc_port(const struct iocb_mc_server *s);
/* A consistent copy of the counters; any thread. */
void iocb_mc_server_stats(struct iocb_mc_server *s, struct iocb_mc_server_stats *out);
/* Append the iocbus_memcached_* families to out (docs/METRICS.md). */
int iocb_mc_metrics_render(const struct iocb_mc_server_stats *st, struct iocb_buf *out) IOCB_MUST_USE;

#endif
