/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Threat Bus compatible zmq-app endpoint: contract in bus.h. One bus
 * thread owns the REP, PUB and SUB sockets, the subscriber table and the
 * PULL end of the publish queue; callers of iocb_bus_publish() share the
 * PUSH end under a mutex and never block (ZMQ_DONTWAIT on a bounded pipe).
 */
#include "serve/bus/bus.h"
#include "serve/bus/internal.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <zmq.h>

#include "core/counter.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/time.h"
#include "json/json.h"

#define MOD "bus"
#define POLL_MS 20
#define MANAGE_DEPTH 8
#define GATHER_MIN 2     /* publish messages in one turn that mean load ... */
#define GATHER_S 300e-6  /* ... and the pause that lets the next ones gather */

/* ---- the request parser (pure) ------------------------------------------- */

static const char *const TOPIC_NAMES[IOCB_BUS_TOPIC__N] = {
	"threatbus", "threatbus/intel", "threatbus/sighting", "stix2/indicator", "stix2/sighting", "other",
};

const char *iocb_bus_topic_name(enum iocb_bus_topic t)
{
	return (unsigned)t < IOCB_BUS_TOPIC__N ? TOPIC_NAMES[t] : "other";
}

static enum iocb_bus_topic topic_slot(const char *t)
{
	for (unsigned i = 0; i < IOCB_BUS_TOPIC_OTHER; i++)
		if (strcmp(t, TOPIC_NAMES[i]) == 0)
			return (enum iocb_bus_topic)i;
	return IOCB_BUS_TOPIC_OTHER;
}

/* Decode a string token into dst (NUL-terminated); false if too long or it holds a NUL. */
static bool copy_topic(const struct iocb_json_tok *t, char *dst)
{
	size_t n = 0;
	if (iocb_json_unescape(t, dst, IOCB_BUS_TOPIC_MAX, &n) < 0 || memchr(dst, 0, n))
		return false;
	dst[n] = 0;
	return true;
}

/* The action string, decoded as json.loads would ("subscrib\u0065" is subscribe); 0 if unknown. */
static int decode_action(const struct iocb_json_tok *val)
{
	char a[16];
	size_t an = 0;
	if (iocb_json_unescape(val, a, sizeof(a) - 1, &an) != IOCB_OK)
		return 0;
	a[an] = 0;
	if (an != strlen(a)) /* an embedded NUL */
		return 0;
	if (strcmp(a, "subscribe") == 0)
		return IOCB_BUS_SUBSCRIBE;
	if (strcmp(a, "unsubscribe") == 0)
		return IOCB_BUS_UNSUBSCRIBE;
	if (strcmp(a, "heartbeat") == 0)
		return IOCB_BUS_HEARTBEAT;
	return 0;
}

enum iocb_bus_verdict iocb_bus_parse_request(const char *buf, size_t len, struct iocb_bus_request *out)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t, key, val;
	bool have_action = false, have_topic = false, have_snapshot = false;
	bool bad_topic = false, bad_snapshot = false, topic_list = false;
	int action = 0, rc;

	memset(out, 0, sizeof(*out));
	/* Python's json.loads would refuse it: {"status":"error"}. */
	if (iocb_json_validate(buf, len, MANAGE_DEPTH, NULL) < 0)
		return IOCB_BUS_REQ_ERROR;
	iocb_json_init(&p, buf, len, MANAGE_DEPTH, false);
	if (iocb_json_next(&p, &t, NULL) < 0)
		return IOCB_BUS_REQ_ERROR;
	/* Threat Bus indexes msg["action"]: a non-object fails as a missing field. */
	if (t.type != IOCB_JSON_OBJ)
		return IOCB_BUS_REQ_UNKNOWN;
	while ((rc = iocb_json_next_member(&p, &key, &val, NULL)) > 0) {
		if (iocb_json_tok_eq(&key, "action")) {
			have_action = true;
			action = val.type == IOCB_JSON_STR ? decode_action(&val) : 0;
			if (val.type == IOCB_JSON_OBJ || val.type == IOCB_JSON_ARR)
				rc = iocb_json_skip(&p, &val, NULL);
		} else if (iocb_json_tok_eq(&key, "topic")) {
			have_topic = true;
			bad_topic = false;
			topic_list = val.type == IOCB_JSON_ARR;
			out->ntopics = 0;
			if (val.type == IOCB_JSON_STR) {
				bad_topic = !copy_topic(&val, out->topics[0]);
				out->ntopics = 1;
			} else if (val.type == IOCB_JSON_ARR) {
				for (;;) {
					rc = iocb_json_next(&p, &t, NULL);
					if (rc < 0 || t.type == IOCB_JSON_ARR_END)
						break;
					if (t.type != IOCB_JSON_STR || out->ntopics == IOCB_BUS_MAX_TOPICS ||
					    !copy_topic(&t, out->topics[out->ntopics])) {
						bad_topic = true;
						rc = iocb_json_skip(&p, &t, NULL);
						if (rc < 0)
							break;
						continue;
					}
					out->ntopics++;
				}
				if (out->ntopics == 0)
					bad_topic = true;
			} else {
				bad_topic = true;
				if (val.type == IOCB_JSON_OBJ)
					rc = iocb_json_skip(&p, &val, NULL);
			}
		} else if (iocb_json_tok_eq(&key, "snapshot")) {
			have_snapshot = true;
			/* A whole non-negative number; 30.0, -1 and "30" are errors. */
			bad_snapshot = val.type != IOCB_JSON_NUM || !iocb_json_tok_u64(&val, &out->snapshot);
			if (val.type == IOCB_JSON_OBJ || val.type == IOCB_JSON_ARR)
				rc = iocb_json_skip(&p, &val, NULL);
		} else {
			rc = iocb_json_skip(&p, &val, NULL);
		}
		if (rc < 0)
			return IOCB_BUS_REQ_ERROR;
	}
	if (rc < 0)
		return IOCB_BUS_REQ_ERROR;
	if (!have_action || action == 0 || !have_topic)
		return IOCB_BUS_REQ_UNKNOWN;
	out->action = (enum iocb_bus_action)action;
	if (bad_topic)
		return IOCB_BUS_REQ_ERROR;
	if (action == IOCB_BUS_SUBSCRIBE) {
		if (!have_snapshot)
			return IOCB_BUS_REQ_UNKNOWN;
		if (bad_snapshot)
			return IOCB_BUS_REQ_ERROR;
		out->gen = strncmp(out->topics[0], "threatbus", 9) == 0 ? IOCB_BUS_GEN_2020 : IOCB_BUS_GEN_2021;
	} else if (topic_list) {
		/* unsubscribe/heartbeat name one p2p topic, as a string */
		return IOCB_BUS_REQ_ERROR;
	}
	return IOCB_BUS_REQ_OK;
}

/* ---- the endpoint --------------------------------------------------------- */

const char *const iocb_bus__suffix[IOCB_BUS_GEN__N][IOCB_BUS_KIND__N] = {
	{"intel", "sighting"},
	{"indicator", "sighting"},
};
const char *const iocb_bus__msg_topic[IOCB_BUS_GEN__N][IOCB_BUS_KIND__N] = {
	{"threatbus/intel", "threatbus/sighting"},
	{"stix2/indicator", "stix2/sighting"},
};

static bool wildcard(const char *h)
{
	return strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 || strcmp(h, "*") == 0;
}

static int bind_one(void *s, const char *host, int port, uint16_t *bound, struct iocb_err *err)
{
	char ep[160], last[160];
	size_t n = sizeof(last);
	bool v6 = strchr(host, ':') != NULL;
	int one = 1, zero = 0;

	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	if (v6)
		zmq_setsockopt(s, ZMQ_IPV6, &one, sizeof(one));
	if (port == 0)
		snprintf(ep, sizeof(ep), v6 ? "tcp://[%s]:*" : "tcp://%s:*", host);
	else
		snprintf(ep, sizeof(ep), v6 ? "tcp://[%s]:%d" : "tcp://%s:%d", host, port);
	if (zmq_bind(s, ep) != 0)
		return iocb_err_set(err, IOCB_EIO, "bus: bind %s: %s", ep, zmq_strerror(zmq_errno()));
	if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, last, &n) != 0 || !strrchr(last, ':'))
		return iocb_err_set(err, IOCB_EIO, "bus: no endpoint for %s", ep);
	*bound = (uint16_t)atoi(strrchr(last, ':') + 1);
	return IOCB_OK;
}

static void random_p2p(char out[IOCB_BUS_P2P_LEN + 1])
{
	unsigned n = 0;
	unsigned char r[64];
	while (n < IOCB_BUS_P2P_LEN) {
		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			abort(); /* no entropy: nothing sane to hand out */
		for (size_t i = 0; i < sizeof(r) && n < IOCB_BUS_P2P_LEN; i++)
			if (r[i] < 234) /* 9 * 26: unbiased */
				out[n++] = (char)('a' + r[i] % 26);
	}
	out[n] = 0;
}

static struct iocb_bus__sub *find_sub(struct iocb_bus *b, const char *p2p)
{
	for (unsigned i = 0; i < b->o.max_subscribers; i++)
		if (b->subs[i].used && strcmp(b->subs[i].p2p, p2p) == 0)
			return &b->subs[i];
	return NULL;
}

static void drop_sub(struct iocb_bus *b, struct iocb_bus__sub *s)
{
	iocb_bus__sub_dropping(b, s);
	for (unsigned i = 0; i < s->ntopics; i++)
		IOCB_M_SUB(b->st.subscribers_by_topic[topic_slot(s->topics[i])], 1);
	IOCB_M_SUB(b->st.subscribers, 1);
	memset(s, 0, sizeof(*s));
}

static void reply(struct iocb_bus *b, const char *text)
{
	if (zmq_send(b->rep, text, strlen(text), 0) < 0)
		iocb_log(IOCB_LOG_WARN, MOD, "\"reply failed\" error=\"%s\"", zmq_strerror(zmq_errno()));
}

static void do_subscribe(struct iocb_bus *b, const struct iocb_bus_request *rq)
{
	struct iocb_bus__sub *s = NULL;
	char text[512];

	for (unsigned i = 0; i < b->o.max_subscribers && !s; i++)
		if (!b->subs[i].used)
			s = &b->subs[i];
	if (!s) {
		IOCB_M_ADD(b->st.table_full, 1);
		IOCB_M_ADD(b->st.bad_requests, 1);
		reply(b, "{\"status\":\"error\"}");
		return;
	}
	do
		random_p2p(s->p2p);
	while (find_sub(b, s->p2p));
	s->used = true;
	s->gen = rq->gen;
	s->ntopics = rq->ntopics;
	memcpy(s->topics, rq->topics, sizeof(s->topics));
	if (rq->gen == IOCB_BUS_GEN_2020)
		s->snapshot_s = rq->snapshot;
	else
		s->snapshot_s = rq->snapshot > UINT64_MAX / 86400 ? UINT64_MAX : rq->snapshot * 86400;
	s->last_ns = iocb_time_mono_ns();
	s->wants_intel = false;
	for (unsigned i = 0; i < s->ntopics; i++)
		s->wants_intel |= strncmp(iocb_bus__msg_topic[s->gen][IOCB_BUS_KIND_INTEL], s->topics[i],
					  strlen(s->topics[i])) == 0;
	iocb_bus__sub_added(b, s);
	if (rq->snapshot) {
		IOCB_M_ADD(b->st.snapshot_requests, 1);
		iocb_bus__forward_request(b, s);
	}
	IOCB_M_ADD(b->st.subscribers, 1);
	for (unsigned i = 0; i < s->ntopics; i++)
		IOCB_M_ADD(b->st.subscribers_by_topic[topic_slot(s->topics[i])], 1);
	IOCB_M_ADD(b->st.subscribes, 1);
	snprintf(text, sizeof(text),
		 "{\"topic\":\"%s\",\"pub_endpoint\":\"%s:%u\",\"sub_endpoint\":\"%s:%u\",\"pub_port\":%u,"
		 "\"sub_port\":%u,\"status\":\"success\"}",
		 s->p2p, b->adv, b->port[1], b->adv, b->port[2], b->port[1], b->port[2]);
	reply(b, text);
	iocb_log(IOCB_LOG_INFO, MOD, "\"subscribed\" topic=\"%s\" topics=%u generation=%s snapshot_s=%llu", s->p2p,
		 s->ntopics, s->gen == IOCB_BUS_GEN_2020 ? "2020.12" : "2021", (unsigned long long)s->snapshot_s);
}

static void handle_manage(struct iocb_bus *b)
{
	zmq_msg_t m;
	struct iocb_bus_request rq;
	enum iocb_bus_verdict v = IOCB_BUS_REQ_ERROR;
	bool multi = false, big;
	int more = 0;
	size_t ml = sizeof(more);

	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, b->rep, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&m);
		return;
	}
	/* REP must read every part before it may reply. */
	while (zmq_getsockopt(b->rep, ZMQ_RCVMORE, &more, &ml) == 0 && more) {
		zmq_msg_t x;
		multi = true;
		zmq_msg_init(&x);
		if (zmq_msg_recv(&x, b->rep, 0) < 0) {
			zmq_msg_close(&x);
			break;
		}
		zmq_msg_close(&x);
	}
	big = zmq_msg_size(&m) > b->o.max_request_bytes;
	if (big)
		IOCB_M_ADD(b->st.oversized, 1);
	if (!multi && !big)
		v = iocb_bus_parse_request(zmq_msg_data(&m), zmq_msg_size(&m), &rq);
	zmq_msg_close(&m);
	if (v == IOCB_BUS_REQ_OK && rq.action == IOCB_BUS_SUBSCRIBE) {
		do_subscribe(b, &rq);
		return;
	}
	if (v == IOCB_BUS_REQ_OK) {
		struct iocb_bus__sub *s = find_sub(b, rq.topics[0]);
		if (!s) {
			v = IOCB_BUS_REQ_ERROR;
		} else if (rq.action == IOCB_BUS_UNSUBSCRIBE) {
			iocb_log(IOCB_LOG_INFO, MOD, "\"unsubscribed\" topic=\"%s\" dropped=%llu", s->p2p,
				 (unsigned long long)s->drops);
			drop_sub(b, s);
			IOCB_M_ADD(b->st.unsubscribes, 1);
		} else {
			s->last_ns = iocb_time_mono_ns();
			IOCB_M_ADD(b->st.heartbeats, 1);
		}
	}
	if (v != IOCB_BUS_REQ_OK)
		IOCB_M_ADD(b->st.bad_requests, 1);
	reply(b, v == IOCB_BUS_REQ_OK	  ? "{\"status\":\"success\"}"
		 : v == IOCB_BUS_REQ_ERROR ? "{\"status\":\"error\"}"
					   : "{\"status\":\"unknown request\"}");
}

/* Fan out what the publish queue holds (up to 1024 messages); returns how many. */
static int drain_pull(struct iocb_bus *b)
{
	int k;
	for (k = 0; k < 1024; k++) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, b->pull, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			break; /* empty */
		}
		/* Only iocb_bus__publish_recs() writes here: records (internal.h). */
		const unsigned char *d = zmq_msg_data(&m);
		size_t n = zmq_msg_size(&m), off = 0;
		while (n - off >= IOCB_BUS__REC_HDR) {
			uint32_t len;
			memcpy(&len, d + off + 2, 4);
			if (len > n - off - IOCB_BUS__REC_HDR)
				break;
			if (d[off] < IOCB_BUS_GEN__N && d[off + 1] < IOCB_BUS_KIND__N)
				iocb_bus__fan_out(b, (enum iocb_bus_gen)d[off], (enum iocb_bus_kind)d[off + 1],
						  (const char *)d + off + IOCB_BUS__REC_HDR, len);
			off += IOCB_BUS__REC_HDR + (size_t)len;
		}
		zmq_msg_close(&m);
	}
	return k;
}

static void drain_sub(struct iocb_bus *b)
{
	for (int k = 0; k < 1024; k++) {
		zmq_msg_t m;
		int more = 0;
		size_t ml = sizeof(more);
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, b->sub, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		const char *d = zmq_msg_data(&m);
		size_t n = zmq_msg_size(&m);
		const char *sp = memchr(d, ' ', n < 80 ? n : 80);
		bool multi = zmq_getsockopt(b->sub, ZMQ_RCVMORE, &more, &ml) == 0 && more;
		if (n > b->o.max_frame_bytes) {
			IOCB_M_ADD(b->st.oversized, 1);
		} else if (!multi && sp) {
			struct iocb_str t = {d, (size_t)(sp - d)};
			enum iocb_bus_gen gen = IOCB_BUS_GEN__N;
			if (iocb_str_eq_c(t, "threatbus/snapshotenvelope")) {
				iocb_bus__envelope_in(b, sp + 1, n - (size_t)(sp - d) - 1);
				zmq_msg_close(&m);
				continue;
			}
			if (iocb_str_eq_c(t, "threatbus/sighting"))
				gen = IOCB_BUS_GEN_2020;
			else if (iocb_str_eq_c(t, "stix2/sighting"))
				gen = IOCB_BUS_GEN_2021;
			if (gen != IOCB_BUS_GEN__N) {
				IOCB_M_ADD(b->st.sightings_in, 1);
				if (b->o.on_sighting)
					b->o.on_sighting(b->o.ud, gen, sp + 1, n - (size_t)(sp - d) - 1);
			} else {
				IOCB_M_ADD(b->st.frames_ignored, 1);
			}
		} else {
			IOCB_M_ADD(b->st.frames_ignored, 1);
		}
		zmq_msg_close(&m);
		while (multi) { /* the rest of a multi-part frame */
			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, b->sub, 0) < 0 || zmq_getsockopt(b->sub, ZMQ_RCVMORE, &more, &ml) != 0)
				more = 0;
			zmq_msg_close(&m);
			multi = more;
		}
	}
}

static void expire(struct iocb_bus *b, int64_t now)
{
	int64_t limit = (int64_t)(b->o.heartbeat_timeout_s * 1e9);
	for (unsigned i = 0; i < b->o.max_subscribers; i++) {
		struct iocb_bus__sub *s = &b->subs[i];
		if (s->used && now - s->last_ns > limit) {
			iocb_log(IOCB_LOG_INFO, MOD, "\"subscriber expired\" topic=\"%s\" dropped=%llu", s->p2p,
				 (unsigned long long)s->drops);
			drop_sub(b, s);
			IOCB_M_ADD(b->st.heartbeats_missed, 1);
		}
	}
}

static void *bus_main(void *arg)
{
	struct iocb_bus *b = arg;
	while (!IOCB_M_GET(b->stop)) {
		zmq_pollitem_t it[5] = {
			{b->rep, 0, ZMQ_POLLIN, 0},
			{b->sub, 0, ZMQ_POLLIN, 0},
			{b->pull, 0, ZMQ_POLLIN, 0},
			{b->pub, 0, ZMQ_POLLIN, 0},
			{b->snap_pull, 0, ZMQ_POLLIN, 0},
		};
		/* Frames waiting on a full pipe are retried every millisecond. */
		int n = zmq_poll(it, b->snap_pull ? 5 : 4, iocb_bus__busy(b) ? 1 : POLL_MS);
		if (n < 0 && zmq_errno() != EINTR) {
			iocb_log(IOCB_LOG_ERROR, MOD, "\"poll failed\" error=\"%s\"", zmq_strerror(zmq_errno()));
			iocb_time_sleep_s(POLL_MS / 1000.0);
		}
		if (n > 0 && (it[0].revents & ZMQ_POLLIN))
			handle_manage(b);
		if (n > 0 && (it[1].revents & ZMQ_POLLIN))
			drain_sub(b);
		if (n > 0 && (it[3].revents & ZMQ_POLLIN))
			iocb_bus__xpub_in(b);
		/*
		 * Under load, let the queue gather before the next turn. Taking
		 * changes one or two at a time, the bus thread went back to sleep
		 * after each and the intake thread had to wake it (an eventfd write,
		 * a poll return, a reschedule) per change, and the libzmq I/O
		 * thread likewise per frame sent. A message alone (the steady
		 * trickle) is never delayed.
		 */
		if (n > 0 && (it[2].revents & ZMQ_POLLIN) && drain_pull(b) >= GATHER_MIN)
			iocb_time_sleep_s(GATHER_S);
		int64_t now = iocb_time_mono_ns();
		iocb_bus__service(b, now);
		expire(b, now);
	}
	return NULL;
}

static void close_all(struct iocb_bus *b)
{
	void **socks[] = {&b->rep, &b->pub, &b->sub, &b->push, &b->pull, &b->snap_push, &b->snap_pull};
	for (size_t i = 0; i < IOCB_ARRAY_LEN(socks); i++)
		if (*socks[i]) {
			zmq_close(*socks[i]);
			*socks[i] = NULL;
		}
	iocb_bus__zap_stop(b->zap); /* its socket too must be closed before the context ends */
	b->zap = NULL;
	if (b->ctx)
		zmq_ctx_term(b->ctx);
	b->ctx = NULL;
}

/* The bus object with its defaults filled in, before any socket. */
static struct iocb_bus *bus_new(const struct iocb_bus_opts *opts, const char *adv)
{
	struct iocb_bus *b;

	b = iocb_xcalloc(1, sizeof(*b));
	b->o = *opts;
	b->o.host = NULL;
	b->o.advertise_host = NULL;
	if (!b->o.max_subscribers)
		b->o.max_subscribers = 256;
	if (b->o.heartbeat_timeout_s == 0)
		b->o.heartbeat_timeout_s = 60;
	if (!b->o.max_request_bytes)
		b->o.max_request_bytes = 64 * 1024;
	if (!b->o.max_frame_bytes)
		b->o.max_frame_bytes = 4u << 20;
	if (!b->o.queue_max)
		b->o.queue_max = 65536;
	if (!b->o.subscriber_hwm)
		b->o.subscriber_hwm = 100000;
	snprintf(b->adv, sizeof(b->adv), strchr(adv, ':') ? "[%s]" : "%s", adv);
	b->subs = iocb_xcalloc(b->o.max_subscribers, sizeof(*b->subs));
	b->snap_cancel = iocb_xcalloc(b->o.max_subscribers, sizeof(*b->snap_cancel));
	b->frame = iocb_xmalloc(b->o.max_frame_bytes + IOCB_BUS_P2P_LEN + 16);
	pthread_mutex_init(&b->push_mu, NULL);
	b->feed.handle = -1;
	pthread_mutex_init(&b->job_mu, NULL);
	{
		/* The snapshot thread waits for jobs on the monotonic clock. */
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&b->job_cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	return b;
}

int iocb_bus_start(const struct iocb_bus_opts *opts, struct iocb_bus **out, struct iocb_err *err)
{
	struct iocb_bus *b;
	const char *host, *adv;
	char inproc[64];
	int rc = IOCB_OK, hwm, one = 1;
	const char *const sub_topics[] = {"threatbus/sighting", "threatbus/snapshotenvelope", "stix2/"};

	*out = NULL;
	host = opts->host && *opts->host ? opts->host : "127.0.0.1";
	adv = opts->advertise_host && *opts->advertise_host ? opts->advertise_host : host;
	if (wildcard(adv))
		return iocb_err_set(err, IOCB_EINVAL,
				    "bus: host %s is a wildcard: set the address apps connect to (advertise_host)",
				    host);
	if (opts->manage_port > 65535 || opts->pub_port > 65535 || opts->sub_port > 65535 ||
	    opts->manage_port < -1 || opts->pub_port < -1 || opts->sub_port < -1 || opts->heartbeat_timeout_s < 0)
		return iocb_err_set(err, IOCB_EINVAL, "bus: bad port or heartbeat timeout");
	b = bus_new(opts, adv);
	b->ctx = zmq_ctx_new();
	if (!b->ctx) {
		rc = iocb_err_set(err, IOCB_EIO, "bus: zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
		goto out;
	}
	b->rep = zmq_socket(b->ctx, ZMQ_REP);
	b->pub = zmq_socket(b->ctx, ZMQ_XPUB);
	b->sub = zmq_socket(b->ctx, ZMQ_SUB);
	b->pull = zmq_socket(b->ctx, ZMQ_PULL);
	b->push = zmq_socket(b->ctx, ZMQ_PUSH);
	if (!b->rep || !b->pub || !b->sub || !b->pull || !b->push) {
		rc = iocb_err_set(err, IOCB_EIO, "bus: zmq_socket: %s", zmq_strerror(zmq_errno()));
		goto out;
	}
	/* Per-subscriber queues: EAGAIN names the one subscriber whose pipe is full (out.c). */
	hwm = b->o.subscriber_hwm > INT_MAX ? INT_MAX : (int)b->o.subscriber_hwm;
	zmq_setsockopt(b->pub, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(b->pub, ZMQ_XPUB_NODROP, &one, sizeof(one));
	zmq_setsockopt(b->pub, ZMQ_XPUB_MANUAL, &one, sizeof(one));
	hwm = b->o.queue_max > INT_MAX ? INT_MAX : (int)b->o.queue_max;
	{
		int64_t cap = (int64_t)b->o.max_frame_bytes + 256;
		zmq_setsockopt(b->sub, ZMQ_MAXMSGSIZE, &cap, sizeof(cap));
	}
	for (size_t i = 0; i < IOCB_ARRAY_LEN(sub_topics); i++)
		zmq_setsockopt(b->sub, ZMQ_SUBSCRIBE, sub_topics[i], strlen(sub_topics[i]));
	/* CURVE: the ZAP handler first (without one libzmq lets every key in), then each socket. */
	if (opts->curve) {
		rc = iocb_bus__zap_start(b->ctx, opts->curve, &b->st.curve_allowed, &b->st.curve_refused, &b->zap, err);
		if (rc < 0)
			goto out;
	}
	{
		void *const socks[3] = {b->rep, b->pub, b->sub};
		const int want[3] = {opts->manage_port, opts->pub_port, opts->sub_port};
		for (int i = 0; i < 3; i++) {
			rc = opts->curve ? iocb_bus__curve_server(socks[i], opts->curve, err) : IOCB_OK;
			if (rc == IOCB_OK)
				rc = bind_one(socks[i], host, want[i] < 0 ? 13370 + i : want[i], &b->port[i], err);
			if (rc < 0)
				goto out;
		}
	}
	/* The publish queue: the inproc pipe's bound is SNDHWM + the peer's RCVHWM. */
	snprintf(inproc, sizeof(inproc), "inproc://iocb-bus-%p", (void *)b);
	zmq_setsockopt(b->push, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(b->pull, ZMQ_RCVHWM, &one, sizeof(one));
	if (zmq_bind(b->pull, inproc) != 0 || zmq_connect(b->push, inproc) != 0) {
		rc = iocb_err_set(err, IOCB_EIO, "bus: inproc queue: %s", zmq_strerror(zmq_errno()));
		goto out;
	}
	rc = iocb_bus__snap_start(b, err);
	if (rc < 0)
		goto out;
	rc = iocb_bus__feed_start(b, err);
	if (rc < 0)
		goto out;
	if (pthread_create(&b->th, NULL, bus_main, b) != 0) {
		rc = iocb_err_set(err, IOCB_EIO, "bus: cannot start its thread");
		goto out;
	}
	b->started = true;
	iocb_log(IOCB_LOG_INFO, MOD, "\"listening\" host=\"%s\" manage=%u pub=%u sub=%u curve=%s", host, b->port[0],
		 b->port[1], b->port[2], opts->curve ? "on" : "off");
	*out = b;
	return IOCB_OK;
out:
	iocb_bus_stop(b);
	return rc;
}

void iocb_bus_stop(struct iocb_bus *b)
{
	if (!b)
		return;
	/* No more changes from the store's writers, then the threads. */
	iocb_bus__feed_stop(b);
	IOCB_M_SET(b->stop, 1);
	if (b->started)
		pthread_join(b->th, NULL);
	iocb_bus__snap_stop(b);
	iocb_bus__out_fini(b);
	for (unsigned i = 0; b->subs && i < b->o.max_subscribers; i++)
		if (b->subs[i].used)
			iocb_bus__sub_dropping(b, &b->subs[i]);
	close_all(b);
	pthread_mutex_destroy(&b->push_mu);
	pthread_mutex_destroy(&b->job_mu);
	pthread_cond_destroy(&b->job_cv);
	free(b->subs);
	free(b->snap_cancel);
	free(b->frame);
	free(b);
}

void iocb_bus_ports(const struct iocb_bus *b, uint16_t *manage, uint16_t *pub, uint16_t *sub)
{
	if (manage)
		*manage = b->port[0];
	if (pub)
		*pub = b->port[1];
	if (sub)
		*sub = b->port[2];
}

static void rec_hdr(unsigned char *p, enum iocb_bus_gen gen, enum iocb_bus_kind kind, size_t len)
{
	uint32_t l32 = (uint32_t)len;

	p[0] = (unsigned char)gen;
	p[1] = (unsigned char)kind;
	memcpy(p + 2, &l32, 4);
}

int iocb_bus__rec_put(struct iocb_buf *out, enum iocb_bus_gen gen, enum iocb_bus_kind kind, const char *json,
		      size_t len)
{
	unsigned char hdr[IOCB_BUS__REC_HDR];

	if (len > UINT32_MAX)
		return IOCB_ELIMIT;
	rec_hdr(hdr, gen, kind, len);
	int rc = iocb_buf_append(out, hdr, sizeof(hdr));
	return rc == IOCB_OK ? iocb_buf_append(out, json, len) : rc;
}

/*
 * Queue m (its data copied in by the caller: not a zero-copy message, the
 * hand-over through libzmq's lock-free pipe is invisible to TSan). One
 * part, so the pipe takes all its records or none.
 */
static int send_msg(struct iocb_bus *b, zmq_msg_t *m, unsigned nrec)
{
	int rc = IOCB_OK;

	pthread_mutex_lock(&b->push_mu);
	if (zmq_msg_send(m, b->push, ZMQ_DONTWAIT) < 0) {
		IOCB_M_ADD(b->st.drops, nrec);
		rc = zmq_errno() == EAGAIN ? IOCB_EAGAIN : IOCB_EIO;
		zmq_msg_close(m);
	}
	pthread_mutex_unlock(&b->push_mu);
	return rc;
}

int iocb_bus__publish_recs(struct iocb_bus *b, const char *recs, size_t n, unsigned nrec)
{
	zmq_msg_t m;

	if (zmq_msg_init_size(&m, n) != 0) {
		IOCB_M_ADD(b->st.drops, nrec);
		return IOCB_EIO;
	}
	memcpy(zmq_msg_data(&m), recs, n);
	return send_msg(b, &m, nrec);
}

int iocb_bus_publish(struct iocb_bus *b, enum iocb_bus_kind kind, enum iocb_bus_gen gen, const char *json,
		     size_t len)
{
	zmq_msg_t m;

	if ((unsigned)kind >= IOCB_BUS_KIND__N || (unsigned)gen >= IOCB_BUS_GEN__N)
		return IOCB_EINVAL;
	if (len > b->o.max_frame_bytes || len > UINT32_MAX) {
		IOCB_M_ADD(b->st.drops, 1);
		return IOCB_ELIMIT;
	}
	if (zmq_msg_init_size(&m, IOCB_BUS__REC_HDR + len) != 0) {
		IOCB_M_ADD(b->st.drops, 1);
		return IOCB_EIO;
	}
	unsigned char *d = zmq_msg_data(&m);
	rec_hdr(d, gen, kind, len);
	if (len)
		memcpy(d + IOCB_BUS__REC_HDR, json, len);
	return send_msg(b, &m, 1);
}

void iocb_bus_stats(const struct iocb_bus *b, struct iocb_bus_stats *out)
{
	/* Every field is a uint64_t: copy each with an atomic load. */
	_Static_assert(sizeof(struct iocb_bus_stats) % sizeof(uint64_t) == 0, "stats are uint64_t only");
	const uint64_t *src = (const uint64_t *)&b->st;
	uint64_t *dst = (uint64_t *)out;
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = IOCB_M_GET(src[i]);
}
