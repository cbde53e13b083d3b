/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bus's private state, shared by its files and by nobody else:
 *   bus.c       request parser, management requests, sockets, start/stop
 *   out.c       the bus thread's data plane: fan-out to subscribers through
 *               the XPUB socket, per-subscriber state (joining, snapshot,
 *               drain, live, stale), held frames, resync
 *   feed.c      the store listener: each store change -> ADD/REMOVE frames
 *   snapshot.c  the snapshot thread: store walks -> frame batches
 *   metrics.c   the Prometheus rendering of struct iocb_bus_stats
 *   curve.c     CURVE key files, keygen, and the ZAP handler (own thread)
 *
 * Threads and who owns what:
 *   bus thread       every socket but the two PUSH ends, the subscriber
 *                    table (subs[]), the pending snapshot batch;
 *   store writer     (whoever writes the store) runs the listener under the
 *                    store's writer lock: feed buffers, the publish PUSH
 *                    under push_mu (shared with iocb_bus_publish callers);
 *   snapshot thread  the snapshot PUSH end, its render buffers, the walk.
 * Shared between them only through atomics (the counters, nsubs_intel,
 * feed_lost, snap_cancel) and the job queue (job_mu).
 */
#ifndef IOCB_SERVE_BUS_INTERNAL_H
#define IOCB_SERVE_BUS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <zmq.h>

#include "core/buf.h"
#include "serve/bus/bus.h"
#include "store/store.h"

#define IOCB_BUS__JOIN_WAIT_NS (5LL * 1000000000)  /* slow joiner: snapshot/held frames wait this long */
#define IOCB_BUS__STALL_NS (2LL * 1000000000)      /* a pipe that takes nothing this long is stale */
#define IOCB_BUS__HOLD_BYTES ((size_t)64 << 20)    /* held frames per subscriber, bytes */
#define IOCB_BUS__HOLD_MIN 65536                   /* held frames per subscriber, at least (else subscriber_hwm) */
#define IOCB_BUS__BACKOFF_MIN_NS (100LL * 1000000) /* first wait before a stale subscriber is probed */
#define IOCB_BUS__BACKOFF_MAX_NS (5LL * 1000000000) /* the wait doubles per relapse up to this */
#define IOCB_BUS__SETTLED_NS (10LL * 1000000000)   /* live this long: the next stale mark waits the least */
#define IOCB_BUS__BATCH_BYTES ((size_t)256 << 10)  /* snapshot batch target size */
#define IOCB_BUS__MAX_JOBS 64                      /* queued snapshot jobs (more: retried) */
#define IOCB_BUS__FWD_MAX 64                       /* forwarded snapshot requests remembered */

/* Where a subscriber's data plane is (bus thread). */
enum iocb_bus__state {
	IOCB_BUS__JOINING = 0, /* subscribed, its SUB not seen on XPUB yet: hold live frames */
	IOCB_BUS__SNAPSHOT,    /* its snapshot is being sent: hold live frames */
	IOCB_BUS__DRAIN,       /* sending the held frames, in order, as its pipe takes them */
	IOCB_BUS__LIVE,        /* live frames straight out */
	IOCB_BUS__STALE,       /* its pipe overflowed: live frames dropped until a probe passes */
};

/* A held live frame, complete ("<p2p><suffix> <json>"). */
struct iocb_bus__held {
	struct iocb_bus__held *next;
	size_t len;
	enum iocb_bus_gen gen;
	enum iocb_bus_kind kind;
	char data[];
};

struct iocb_bus__sub {
	bool used;                  /* slot in use */
	enum iocb_bus_gen gen;      /* generation (first topic) */
	unsigned ntopics;           /* topics it named, >= 1 */
	char p2p[IOCB_BUS_P2P_LEN + 1]; /* its p2p topic, the prefix of every frame it gets */
	char topics[IOCB_BUS_MAX_TOPICS][IOCB_BUS_TOPIC_MAX + 1]; /* as subscribed */
	uint64_t snapshot_s;        /* requested window, in seconds whatever the generation sent */
	int64_t last_ns;            /* last subscribe or heartbeat, monotonic */
	bool wants_intel;           /* a topic receives intel/indicator frames */
	/* data plane (bus thread) */
	enum iocb_bus__state state;
	bool joined;                /* XPUB saw "\x01<p2p>" from its SUB socket */
	bool snap_wanted;           /* a snapshot (of snap_window_s) is due once joined */
	uint64_t snap_window_s;     /* 0 = every live indicator */
	int64_t since_ns;           /* entered the state / last progress, monotonic */
	uint64_t job;               /* snapshot job in flight, 0 = none */
	struct iocb_bus__held *hq, *hq_tail; /* held frames, oldest first */
	size_t hq_n, hq_bytes;      /* held frames and their bytes */
	int64_t live_since_ns;      /* when it last became LIVE */
	int64_t backoff_ns;         /* stale: current wait between a stale mark and the probe */
	int64_t probe_after_ns;     /* stale: no probe (so no resync) before this */
	uint64_t drops;             /* frames it lost (queue full or stale) */
	char *probe;                /* stale: the last frame dropped, retried as the probe */
	size_t probe_len, probe_cap; /* 0 = no probe */
	enum iocb_bus_gen probe_gen; /* the probe's counters */
	enum iocb_bus_kind probe_kind;
};

struct iocb_bus__job {
	uint64_t id;                /* non-zero */
	unsigned slot;              /* subscriber slot */
	enum iocb_bus_gen gen;      /* the generation its frames are rendered in */
	uint64_t window_s;          /* 0 = every live indicator */
	char p2p[IOCB_BUS_P2P_LEN + 1]; /* the frames' prefix */
};

/* Head of a snapshot batch message (snapshot thread -> bus thread); frames follow as u32 length + bytes. */
struct iocb_bus__batch_hdr {
	uint64_t job;  /* job id: frames of an abandoned job are dropped */
	uint32_t slot; /* subscriber slot */
	uint32_t end; /* 1: the job's last message (no frames) */
};

/* A snapshot request forwarded to other apps: where its envelopes go (forward.c). */
struct iocb_bus__fwd {
	char id[37];                /* snapshot_id sent; "" = free */
	unsigned slot;              /* requester's slot */
	char p2p[IOCB_BUS_P2P_LEN + 1]; /* requester's p2p topic (the slot may have been reused) */
	int type;                   /* 1 indicators, 2 sightings */
	int64_t at_ns;              /* when forwarded, monotonic */
};

/* The store listener's render buffers (store writer lock: one writer at a time). */
struct iocb_bus__feed {
	int handle;                 /* iocb_store_listen handle, -1 = none */
	struct iocb_buf json;       /* one rendered message */
	struct iocb_buf batch;      /* one change's records, published as one message */
	struct iocb_buf scratch;    /* the STIX pattern while it is escaped */
};

struct iocb_bus {
	void *ctx;                    /* its own libzmq context */
	void *rep, *pub, *sub, *pull; /* bus thread; pub is an XPUB (manual, nodrop) */
	void *push;                   /* callers' end of the publish queue, under push_mu */
	void *snap_pull, *snap_push;  /* snapshot batches: snapshot thread -> bus thread */
	pthread_mutex_t push_mu;      /* guards push */
	pthread_t th, snap_th;        /* bus thread, snapshot thread */
	bool started, snap_started;   /* which threads run */
	int stop;                     /* atomic: the threads end */
	uint16_t port[3]; /* manage, pub, sub */
	char adv[128];    /* host apps connect to, bracketed if IPv6 */
	struct iocb_bus_opts o;       /* options with defaults filled in */
	struct iocb_bus__sub *subs;   /* bus thread: max_subscribers slots */
	char *frame; /* bus thread's frame buffer: max_frame_bytes + topic + suffix */
	struct iocb_bus_stats st;     /* counters, atomic */
	/* feed (store writer) */
	struct iocb_bus__feed feed;   /* store writer lock */
	uint64_t nsubs_intel[IOCB_BUS_GEN__N]; /* atomic: subscribers receiving intel, per generation */
	uint64_t feed_lost[IOCB_BUS_GEN__N];   /* atomic: feed frames the publish queue refused */
	uint64_t feed_lost_seen[IOCB_BUS_GEN__N]; /* bus thread: feed_lost already acted on */
	/* snapshots */
	pthread_mutex_t job_mu;       /* guards jobs, job_head, job_n */
	pthread_cond_t job_cv;        /* signalled on a new job and at stop */
	struct iocb_bus__job jobs[IOCB_BUS__MAX_JOBS]; /* job_mu: FIFO ring */
	unsigned job_head, job_n;     /* job_mu */
	uint64_t next_job;            /* bus thread */
	uint64_t *snap_cancel;        /* atomic, per subscriber slot: the job id the snapshot thread abandons */
	zmq_msg_t *pending;           /* bus thread: the batch being sent, NULL = none */
	size_t pending_off;           /* its next frame */
	int64_t pending_since;        /* monotonic: when it last made progress */
	struct iocb_bus__fwd fwd[IOCB_BUS__FWD_MAX]; /* bus thread: forwarded snapshot requests, a ring */
	unsigned fwd_next;            /* bus thread: next ring slot */
	struct iocb_bus__zap *zap;    /* CURVE's ZAP handler, NULL without CURVE */
};

/* bus thread's name of a generation and kind */
extern const char *const iocb_bus__suffix[IOCB_BUS_GEN__N][IOCB_BUS_KIND__N];
extern const char *const iocb_bus__msg_topic[IOCB_BUS_GEN__N][IOCB_BUS_KIND__N];

/* out.c (bus thread) */
/* A queued message (iocb_bus_publish, the feed): to every subscriber of gen/kind. */
void iocb_bus__fan_out(struct iocb_bus *b, enum iocb_bus_gen gen, enum iocb_bus_kind kind, const char *json,
		       size_t len);
/*
 * One frame to s by its state (sent, held, or dropped when stale). kind
 * IOCB_BUS_KIND__N: a control frame (snapshotrequest), not counted in out.
 */
void iocb_bus__deliver(struct iocb_bus *b, struct iocb_bus__sub *s, const char *frame, size_t len,
		       enum iocb_bus_gen gen, enum iocb_bus_kind kind);
/* Build "<s->p2p><suffix> <json>" in b->frame (json at most max_frame_bytes); its length. */
size_t iocb_bus__frame(struct iocb_bus *b, const struct iocb_bus__sub *s, const char *suffix, const char *json,
		       size_t jl);
/* Read XPUB subscription messages: accept "\x01<p2p>..." of a known subscriber only. */
void iocb_bus__xpub_in(struct iocb_bus *b);
/* A subscriber was just added: set up its data plane. */
void iocb_bus__sub_added(struct iocb_bus *b, struct iocb_bus__sub *s);
/* Before a slot is cleared: free held frames, cancel its job. */
void iocb_bus__sub_dropping(struct iocb_bus *b, struct iocb_bus__sub *s);
/* Once per poll turn: joins, drains, probes, snapshot batches, lost feed frames. */
void iocb_bus__service(struct iocb_bus *b, int64_t now);
/* Whether the next poll should come back quickly (pending work). */
bool iocb_bus__busy(const struct iocb_bus *b);
/* Free what out.c owns (the pending batch); after the threads stopped. */
void iocb_bus__out_fini(struct iocb_bus *b);

/* feed.c */
int iocb_bus__feed_start(struct iocb_bus *b, struct iocb_err *err);
void iocb_bus__feed_stop(struct iocb_bus *b);

/*
 * A publish queue message is one or more records: generation (1 byte), kind
 * (1 byte), JSON length (4 bytes, host order), the JSON. The feed sends the
 * records of one store change (both generations, REMOVE and ADD) as one
 * message: one allocation, send and receive per change, and all or none of
 * them is queued.
 */
#define IOCB_BUS__REC_HDR 6
/* Append one record to out (bounded by out's cap). */
int iocb_bus__rec_put(struct iocb_buf *out, enum iocb_bus_gen gen, enum iocb_bus_kind kind, const char *json,
		      size_t len) IOCB_MUST_USE;
/* Queue records as one message (any thread; never blocks). IOCB_OK, IOCB_EAGAIN (queue full), IOCB_EIO. */
int iocb_bus__publish_recs(struct iocb_bus *b, const char *recs, size_t n, unsigned nrec);

/*
 * Render store record a as gen's intel message into w's buffer (ADD, or
 * REMOVE when remove). modified_us: STIX "modified" (0 = the record's
 * timestamp). Returns IOCB_OK, IOCB_EUNSUPPORTED / IOCB_EINVAL (not
 * expressible), IOCB_ELIMIT. Any thread where a is valid.
 */
int iocb_bus__render(enum iocb_bus_gen gen, const struct iocb_store_attr *a, bool remove, int64_t modified_us,
		     struct iocb_buf *json, struct iocb_buf *scratch);

/* forward.c (bus thread) */
/* Send a snapshot request for req to every other subscriber. */
void iocb_bus__forward_request(struct iocb_bus *b, const struct iocb_bus__sub *req);
/* A "threatbus/snapshotenvelope" frame's JSON: its body to the requester. */
void iocb_bus__envelope_in(struct iocb_bus *b, const char *json, size_t len);

/* snapshot.c */
int iocb_bus__snap_start(struct iocb_bus *b, struct iocb_err *err);
void iocb_bus__snap_stop(struct iocb_bus *b);
/* Bus thread: queue a snapshot job for s; returns its id, 0 if the queue is full (retry later). */
uint64_t iocb_bus__snap_request(struct iocb_bus *b, struct iocb_bus__sub *s, uint64_t window_s);

/* curve.c: the ZAP handler, bound in ctx before any CURVE socket binds; counts into allowed and refused. */
struct iocb_bus_curve;
struct iocb_bus__zap;
int iocb_bus__zap_start(void *ctx, const struct iocb_bus_curve *keys, uint64_t *allowed, uint64_t *refused,
			struct iocb_bus__zap **out, struct iocb_err *err);
/* Stop its thread and close its socket (before zmq_ctx_term). NULL is a no-op. */
void iocb_bus__zap_stop(struct iocb_bus__zap *z);
/* Make sock a CURVE server with the bus's secret key (before bind). */
int iocb_bus__curve_server(void *sock, const struct iocb_bus_curve *keys, struct iocb_err *err);

#endif
