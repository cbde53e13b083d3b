/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Threat Bus compatible zmq-app endpoint (issue #13 §1), management side
 * and data plane; protocol in docs/BUS.md "The zmq-app endpoint".
 *
 * Sockets, all bound on opts.host (numeric IPv4/IPv6 or a wildcard):
 *   manage  REP  (opts.manage_port, default 13370): JSON requests/replies
 *   pub     PUB  (opts.pub_port,    default 13371): bus -> apps
 *   sub     SUB  (opts.sub_port,    default 13372): apps -> bus, subscribed to
 *           "threatbus/sighting", "threatbus/snapshotenvelope", "stix2/"
 * A port of 0 binds an ephemeral port (tests); iocb_bus_ports() says which.
 *
 * Management requests, as Threat Bus answers them (replies are compact JSON):
 *   {"action":"subscribe","topic":T,"snapshot":N}  T a string or a list of
 *       strings; N a non-negative integer, in seconds when the topics are
 *       2020.12 ones (start with "threatbus") and in days otherwise (2021+:
 *       "stix2/...") — recorded on the subscriber as seconds; answering the
 *       snapshot from the store is a later step.
 *       -> {"topic":"<32 a-z>","pub_endpoint":"H:P","sub_endpoint":"H:P",
 *           "pub_port":P,"sub_port":P,"status":"success"}: both generations'
 *       keys, so 2020.12 apps (endpoints) and 2021+ apps (ports) work
 *       unchanged. H is opts.advertise_host, else opts.host; a wildcard bind
 *       without advertise_host is refused at start (never echo 0.0.0.0).
 *       The p2p topic comes from getrandom(). A full table -> "error".
 *   {"action":"unsubscribe","topic":P2P} / {"action":"heartbeat","topic":P2P}
 *       -> "success" if P2P is subscribed, else "error".
 *   Non-JSON, a request over opts.max_request_bytes, a multi-part request, a
 *   wrong-typed field, a non-integer or negative snapshot -> {"status":"error"};
 *   JSON that is not an object, an unknown action or a missing field ->
 *   {"status":"unknown request"}.
 * A subscriber that sends no heartbeat (nor subscribe) for
 * opts.heartbeat_timeout_s (default 60 s: twelve of the VAST bridge's 5 s
 * heartbeats) is dropped and counted in heartbeats_missed.
 *
 * Data frames bus -> app: "<p2p><suffix> <json>", to every subscriber of
 * the message's generation with a topic that is a prefix of the message
 * topic (Threat Bus's rule): 2020.12 intel "threatbus/intel" suffix "intel",
 * sighting "threatbus/sighting" suffix "sighting"; 2021+ indicator
 * "stix2/indicator" suffix "indicator", sighting "stix2/sighting" suffix
 * "sighting".
 * Frames app -> bus on the SUB socket: "<topic> <json>"; "threatbus/sighting"
 * (2020.12) and "stix2/sighting" (2021+) go to opts.on_sighting; others
 * (snapshot envelopes) are counted and dropped for now.
 *
 * Threads: one bus thread owns all sockets and the subscriber table; it
 * polls with a 20 ms timeout, so iocb_bus_stop() returns within ~100 ms.
 * iocb_bus_publish() and iocb_bus_stats() may be called from any thread.
 *
 * TODO (later steps of #13 §1): optional CURVE on all three sockets (server
 * key pair and allowed client keys from files, a warning when listening
 * beyond loopback without it); snapshots answered from the store and
 * snapshot requests forwarded to other apps; per-subscriber stale marking;
 * /metrics rendering; the `bus:` configuration section and the daemon.
 */
#ifndef IOCB_SERVE_BUS_BUS_H
#define IOCB_SERVE_BUS_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/rc.h"

struct iocb_store;
struct iocb_bus_curve;

enum iocb_bus_gen {
	IOCB_BUS_GEN_2020 = 0, /* Threat Bus 2020.12: topics threatbus/..., snapshot in seconds */
	IOCB_BUS_GEN_2021 = 1, /* Threat Bus 2021+: topics stix2/..., snapshot in days */
	IOCB_BUS_GEN__N
};

enum iocb_bus_kind {
	IOCB_BUS_KIND_INTEL = 0, /* 2020.12 "intel" / 2021+ "indicator" */
	IOCB_BUS_KIND_SIGHTING,  /* "sighting" */
	IOCB_BUS_KIND__N
};

/* Known topics, for the per-topic subscriber counts. */
enum iocb_bus_topic {
	IOCB_BUS_TOPIC_THREATBUS = 0,  /* "threatbus" (the 2020.12 prefix) */
	IOCB_BUS_TOPIC_TB_INTEL,       /* "threatbus/intel" */
	IOCB_BUS_TOPIC_TB_SIGHTING,    /* "threatbus/sighting" */
	IOCB_BUS_TOPIC_STIX2_INDICATOR, /* "stix2/indicator" */
	IOCB_BUS_TOPIC_STIX2_SIGHTING, /* "stix2/sighting" */
	IOCB_BUS_TOPIC_OTHER,          /* anything else */
	IOCB_BUS_TOPIC__N
};

/* Name of a topic slot ("threatbus/intel", "other"), never NULL. */
const char *iocb_bus_topic_name(enum iocb_bus_topic t);

#define IOCB_BUS_MAX_TOPICS 8     /* topics per subscribe request */
#define IOCB_BUS_TOPIC_MAX 64     /* bytes per topic */
#define IOCB_BUS_P2P_LEN 32

/* A sighting frame from an app: json is the part after "<topic> ". Bus thread. */
typedef void (*iocb_bus_sighting_cb)(void *ud, enum iocb_bus_gen gen, const char *json, size_t len);

struct iocb_bus_opts {
	const char *host;            /* bind address; NULL = "127.0.0.1" */
	const char *advertise_host;  /* host written in 2020.12 endpoints; NULL = host (required for a wildcard) */
	int manage_port;             /* -1 = 13370, 0 = ephemeral */
	int pub_port;                /* -1 = 13371, 0 = ephemeral */
	int sub_port;                /* -1 = 13372, 0 = ephemeral */
	unsigned max_subscribers;    /* 0 = 256 */
	double heartbeat_timeout_s;  /* 0 = 60 */
	size_t max_request_bytes;    /* management request cap; 0 = 64 KiB */
	size_t max_frame_bytes;      /* published and received data frame cap; 0 = 4 MiB */
	unsigned queue_max;          /* publish queue bound (messages); 0 = 65536 */
	struct iocb_store *store;    /* borrowed, outlives the bus; NULL = no change feed, no snapshots */
	unsigned subscriber_hwm;     /* per-subscriber send queue (frames) and held-frame bound; 0 = 100000 */
	iocb_bus_sighting_cb on_sighting; /* may be NULL */
	void *ud;
	/* CURVE on all three sockets (serve/bus/curve.h); borrowed, outlives the bus; NULL = none */
	const struct iocb_bus_curve *curve;
};

struct iocb_bus_stats {
	uint64_t subscribers;                         /* current */
	uint64_t subscribers_by_topic[IOCB_BUS_TOPIC__N]; /* current, one per topic a subscriber named */
	uint64_t out[IOCB_BUS_GEN__N][IOCB_BUS_KIND__N];  /* frames sent to subscribers */
	uint64_t drops;               /* publish calls refused: queue full or frame too big */
	uint64_t heartbeats_missed;   /* subscribers expired */
	uint64_t bad_requests;        /* management replies "error" or "unknown request" */
	uint64_t oversized;           /* management requests or received frames over the caps */
	uint64_t subscribes, unsubscribes, heartbeats; /* successful requests */
	uint64_t table_full;          /* subscribes refused by max_subscribers */
	uint64_t sightings_in;        /* sighting frames handed to on_sighting */
	uint64_t frames_ignored;      /* other or malformed frames on the SUB socket */
	/* the data plane (docs/BUS.md "Store changes", "Snapshots", "Slow subscribers") */
	uint64_t drops_subscriber;    /* frames a subscriber lost: its queue was full, or it was stale */
	uint64_t stale_marks;         /* subscribers marked stale */
	uint64_t resyncs;             /* stale subscribers resynced with a snapshot */
	uint64_t snapshot_requests;   /* subscribes asking for a snapshot */
	uint64_t snapshot_jobs;       /* store snapshots started (requests and resyncs) */
	uint64_t snapshot_sent;       /* indicators sent in snapshots */
	uint64_t subscriptions_refused; /* XPUB subscriptions naming no known p2p topic */
	uint64_t changes_seen;        /* store changes the feed was told of */
	uint64_t changes_skipped[IOCB_BUS_GEN__N]; /* to_ids records the generation cannot express */
	uint64_t feed_out[IOCB_BUS_GEN__N][2];     /* feed messages queued: [gen][0 ADD, 1 REMOVE] */
	uint64_t snapshot_forwarded;  /* snapshot requests forwarded to other apps */
	uint64_t envelopes_in;        /* snapshot envelopes passed on to their requester */
	/* CURVE (serve/bus/curve.c): handshakes the ZAP handler answered */
	uint64_t curve_allowed;       /* client keys in clients_file */
	uint64_t curve_refused;       /* any other key (the connection is closed) */
};

/* The management request parser: pure, no sockets (also the fuzz target's). */
enum iocb_bus_action { IOCB_BUS_SUBSCRIBE = 1, IOCB_BUS_UNSUBSCRIBE, IOCB_BUS_HEARTBEAT };
enum iocb_bus_verdict {
	IOCB_BUS_REQ_OK = 0,
	IOCB_BUS_REQ_ERROR,   /* reply {"status":"error"} */
	IOCB_BUS_REQ_UNKNOWN, /* reply {"status":"unknown request"} */
};
struct iocb_bus_request {
	enum iocb_bus_action action;
	unsigned ntopics;                                 /* subscribe: >= 1; else 1 (the p2p topic) */
	char topics[IOCB_BUS_MAX_TOPICS][IOCB_BUS_TOPIC_MAX + 1]; /* NUL-terminated */
	enum iocb_bus_gen gen;                            /* subscribe: from the first topic */
	uint64_t snapshot;                                /* as sent (seconds for 2020.12, days for 2021+) */
};
/* Parse one request. Any thread. On a verdict other than OK *out is unspecified. */
enum iocb_bus_verdict iocb_bus_parse_request(const char *buf, size_t len, struct iocb_bus_request *out);

/*
 * A snapshot envelope an app sends back ("threatbus/snapshotenvelope <json>",
 * threatbus.md §1.3, exports.md §4.1):
 *   {"type":"snapshotenvelope","snapshot_type":1|2,"snapshot_id":"…","body":{…}}
 * ("type" optional, as 2020.12 apps leave it out).
 */
#define IOCB_BUS_SNAPSHOT_ID_MAX 64
struct iocb_bus_envelope {
	char snapshot_id[IOCB_BUS_SNAPSHOT_ID_MAX + 1]; /* decoded, NUL-terminated, no NUL inside */
	int snapshot_type;                               /* 1 indicators, 2 sightings */
	size_t body_off, body_len;                       /* the body object's JSON text in the input */
};
/*
 * Parse one envelope. Pure, any thread (also the fuzz target's).
 * Returns IOCB_OK, or IOCB_EPARSE: not JSON, not an object, a snapshot_id
 * missing, not a string or over IOCB_BUS_SNAPSHOT_ID_MAX bytes, a
 * snapshot_type other than 1 or 2, a body missing or not an object.
 */
int iocb_bus_parse_envelope(const char *json, size_t len, struct iocb_bus_envelope *out) IOCB_MUST_USE;

struct iocb_bus;

/* Bind the three sockets and start the bus thread. *out owned by the caller. */
int iocb_bus_start(const struct iocb_bus_opts *opts, struct iocb_bus **out, struct iocb_err *err) IOCB_MUST_USE;
/* Stop, join the thread, close the sockets, free. NULL is a no-op. */
void iocb_bus_stop(struct iocb_bus *b);
/* Ports actually bound (any may be NULL). */
void iocb_bus_ports(const struct iocb_bus *b, uint16_t *manage, uint16_t *pub, uint16_t *sub);
/*
 * Queue one message (json, len bytes: a 2020.12 intel object or a 2021+ STIX
 * object) for every subscriber of gen and kind. Any thread, never blocks:
 * IOCB_EAGAIN when the queue is full, IOCB_ELIMIT over max_frame_bytes,
 * IOCB_EIO if libzmq fails otherwise (all three counted in drops),
 * IOCB_EINVAL for a bad gen or kind. Not after iocb_bus_stop().
 */
int iocb_bus_publish(struct iocb_bus *b, enum iocb_bus_kind kind, enum iocb_bus_gen gen, const char *json,
		     size_t len);
/* A consistent-enough copy of the counters (each read atomically). Any thread. */
void iocb_bus_stats(const struct iocb_bus *b, struct iocb_bus_stats *out);
/*
 * Append the counters in Prometheus text format (iocbus_bus_*, listed in
 * docs/METRICS.md) to out. All or nothing: IOCB_ELIMIT at out's cap leaves
 * out as it was. Any thread.
 */
int iocb_bus_metrics_render(const struct iocb_bus_stats *st, struct iocb_buf *out) IOCB_MUST_USE;

#endif
