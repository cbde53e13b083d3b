/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the Elasticsearch output: `_bulk` requests on libcurl's multi
 * interface, one thread per output (reference/elastic.md §4). Private to
 * outputs/es.c (thread, life cycle, set-up) and outputs/es_req.c (requests:
 * framing, sending, judging the answer).
 *
 * Shape. The thread pops whole batches from its queue into the request
 * being filled, framing each line into the body as it comes (one memcpy per
 * line into a buffer that is reused), until flush_bytes or flush_events is
 * reached or flush_interval has passed since its first batch. Then the body
 * is gzip-compressed once (libdeflate) and the request joins the active
 * list; at most max_in_flight requests are active (sending or waiting for a
 * retry), so a slow or dead cluster stops the popping and the queue spills
 * to its spool instead of this thread's memory growing. curl_multi_poll
 * waits for sockets, timers, and pushes (the queue's notify callback calls
 * curl_multi_wakeup).
 *
 * Settling. Each popped batch gets a holder (struct iocb_pipe__es_batch) counting its
 * lines not yet delivered or dead-lettered; a request's items point at
 * holders, so retried items (a new request with just those lines) and the
 * two halves of a 413 split keep their batches alive. When a holder's count
 * reaches zero the batch is settled. At the shutdown deadline every
 * transfer is aborted and every holder's batch is spilled once (a batch
 * partly delivered is spooled whole: at least once, never lost).
 *
 * Judgement (es_bulk.h, elastic.md §4.3): transport errors, 429 and 5xx
 * retry the whole request with backoff, forever, the next attempt on the
 * next host; 401/403 likewise with an error log; 413 splits; 400 dead-letters
 * every line; 2xx is walked per item: 409 on create counts as a delivered
 * duplicate, 429/5xx items are retried, other 4xx items dead-lettered.
 * Credentials live only in the curl header list; nothing logs them.
 */
#ifndef IOCB_PIPE_OUTPUTS_ES_H
#define IOCB_PIPE_OUTPUTS_ES_H

#include <curl/curl.h>
#include <pthread.h>

#include "core/log.h"
#include "pipe/drivers.h"
#include "pipe/outputs/es_bulk.h"

/* One popped batch, held until all its lines are delivered or dead-lettered. */
struct iocb_pipe__es_batch {
	struct iocb_pipe__batch *b;       /* our share of it */
	uint32_t left;               /* lines not settled yet */
	struct iocb_pipe__es_batch *prev, *next; /* in iocb_pipe__es_out.held */
};

/* One document of a request. */
struct iocb_pipe__es_doc {
	struct iocb_pipe__es_batch *eb;         /* its batch's holder */
	size_t off;                  /* line start in eb->b->data */
	uint32_t len;                /* line length including its '\n' */
	uint32_t line;               /* line index in the batch (for its id) */
};

struct iocb_pipe__es_out;

/* One bulk request: filling, waiting (to start or to retry) or sending. */
struct iocb_pipe__es_req {
	struct iocb_pipe__es_out *o;
	CURL *easy;                  /* kept across reuse (its options stay set) */
	struct iocb_pipe__es_doc *items;       /* owned */
	size_t nitems, cap_items;
	struct iocb_buf body;        /* NDJSON, uncompressed */
	unsigned char *gz;           /* owned: compressed body, or NULL when sent plain */
	size_t gz_len, gz_cap;
	bool gzipped;                /* gz holds this body */
	struct iocb_buf resp;        /* response body (capped) */
	struct iocb_pipe__es_item *res;    /* owned: per-item results, cap_res entries */
	size_t cap_res;
	unsigned attempt;            /* failed attempts so far (backoff exponent) */
	unsigned host;               /* host index of the current/next attempt */
	double not_before;           /* monotonic: earliest start */
	double first_at;             /* monotonic: first batch added (filling) */
	double started;              /* monotonic: transfer started */
	bool sending;
	bool after_transport_error;  /* waiting out a backoff because no answer came */
	char curl_err[CURL_ERROR_SIZE];
	struct iocb_pipe__es_req *next;         /* in iocb_pipe__es_out.active or iocb_pipe__es_out.free_reqs */
};

struct iocb_pipe__es_out {
	struct iocb_pipe__output *out;
	const struct iocb_config_output *cfg;
	pthread_t thread;
	bool started;
	CURLM *multi;
	struct curl_slist *hdr_plain; /* Content-Type, Expect, Authorization */
	struct curl_slist *hdr_gzip;  /* the same plus Content-Encoding: gzip */
	char **urls;                 /* owned: bulk URL per host */
	char **host_names;           /* owned: host per URL without userinfo/path, for logs */
	size_t nhosts;
	unsigned next_host;          /* round robin */
	double *host_down_until;     /* owned: per host, monotonic time before which it is skipped */
	unsigned *host_fails;        /* owned: per host, transport failures in a row */
	struct libdeflate_compressor *gz; /* NULL = no compression */
	bool create;                 /* action create (data streams, action: create) */
	bool ids;                    /* document_id: hash */
	uint64_t flush_bytes;
	unsigned flush_events;
	double flush_interval;
	unsigned max_in_flight;
	struct iocb_pipe__es_batch held;        /* sentinel of the list of held batches */
	struct iocb_pipe__es_req *filling;      /* the request being filled, or NULL */
	struct iocb_pipe__es_req *active;       /* FIFO: waiting and sending requests */
	struct iocb_pipe__es_req *active_tail;
	size_t nactive;
	size_t nsending;
	double last_probe;            /* monotonic: last early retry while the cluster did not answer */
	struct iocb_pipe__es_req *free_reqs;
	size_t nfree;
	struct iocb_ratelimit rl;    /* warnings (transport, parse) */
	struct iocb_ratelimit rl_err; /* errors (auth, unexpected status) */
	char reason[IOCB_PIPE_ES_REASON_MAX];
};

/* es_req.c, for the thread in es.c (the output's thread only). */

/* A request object to fill: reused from the free list or new. */
struct iocb_pipe__es_req *iocb_pipe__es_req_get(struct iocb_pipe__es_out *o);
/* Free r and everything it owns (its batches' holders are not touched). */
void iocb_pipe__es_req_destroy(struct iocb_pipe__es_req *r);
/* Add every line of a popped batch to the filling request r (takes the batch share). */
void iocb_pipe__es_req_add_batch(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r, struct iocb_pipe__batch *b);
/* The filling request is complete: compress it and queue it to be sent now. */
void iocb_pipe__es_flush_filling(struct iocb_pipe__es_out *o);
/* Start r's transfer on the multi handle; < 0 when curl is out of memory (r stays waiting). */
int iocb_pipe__es_start_transfer(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r);
/* Take r out of the active list (its transfer finished). */
void iocb_pipe__es_active_remove(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r);
/* A transfer finished (or failed): judge it. r is no longer in the active list. */
void iocb_pipe__es_on_done(struct iocb_pipe__es_out *o, struct iocb_pipe__es_req *r, CURLcode cc);
/* Publish the requests in flight (active ones plus a non-empty filling one) to the output's metrics. */
void iocb_pipe__es_update_in_flight(struct iocb_pipe__es_out *o);

#endif
