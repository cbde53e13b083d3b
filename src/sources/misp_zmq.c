/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ZeroMQ source: MISP's PUB socket (misp.zmq) into the store.
 *
 * One thread owns one zmq context with two sockets: the SUB socket
 * connected to the publisher and a PAIR socket reading that SUB socket's
 * monitor (inproc). Both are polled together; the poll timeout is at most
 * 100 ms so the thread sees iocb_sources_sync_stop() quickly and can notice a
 * silent publisher. When the SUB socket is readable the thread drains it
 * without blocking, up to BATCH_MAX frames or BATCH_NS of wall time, hands
 * each frame to iocb_ingest_zmq_frame() and then publishes the counters and
 * commits once for the whole batch: a frame costs one zmq_msg_recv() and a
 * parse, never an allocation, a log line or a commit of its own.
 *
 * PUB/SUB keeps no history, so every gap is handed to the REST pull as a
 * catch-up from the cursor held before the gap (sources.h): a reconnect
 * seen by the monitor, a publisher that was not there when we started,
 * and silence (no message, heartbeats included) for heartbeat_timeout.
 *
 * Bad frames (oversized, multi-part, not JSON, unknown shape) are counted
 * by reason and skipped with a rate-limited warning; intake goes on.
 * ZMQ_MAXMSGSIZE is deliberately not set: libzmq would drop the whole
 * connection on a large frame; we count and skip it ourselves instead.
 */
#include "sources/sources.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"

#define MOD "zmq"
#define TOPIC_PREFIX "misp_json"          /* SUBSCRIBE prefix: every misp_json* topic */
#define HEARTBEAT_TOPIC "misp_json_self " /* MISP's keep-alive, topic plus the space */
#define MONITOR_ENDPOINT "inproc://iocb-zmq-monitor"
#define POLL_MS 100        /* longest poll: how soon stop and silence are seen */
#define BATCH_MAX 4096     /* frames per batch at most */
#define BATCH_NS 2000000LL /* ...or about this much time (2 ms) */
#define BATCH_CLOCK_EVERY 16 /* frames between two clock reads while draining */
#define RECONNECT_IVL_MS 100
#define RECONNECT_IVL_MAX_MS 5000
/* ZMTP heartbeats: a half-open TCP connection (publisher host gone) is
 * dropped and reconnected instead of staying silent for ever. */
#define ZMTP_HEARTBEAT_IVL_MS 5000
#define ZMTP_HEARTBEAT_TIMEOUT_MS 15000
#define LOG_TOPIC_MAX 64   /* topic bytes shown in a warning */
/* Behind for this long (every batch full): libzmq's queue (rcvhwm) may have
 * filled and MISP's publisher, whose SNDHWM is 1000, then drops silently. */
#define BACKLOG_CATCHUP_S 1.0

struct zmq_source {
	struct iocb_source base;     /* first member: what the daemon holds */
	struct iocb_sources_sync *y;         /* borrowed: shared sync state */
	struct iocb_sources_sync_metrics *m; /* owned by y: our counters ("zmq") */
	struct iocb_ingest *in;      /* owned: applies frames (source IOCB_SRCID_MISP) */
	void *ctx;                   /* owned: zmq context, terminated by the thread */
	void *sub;                   /* SUB socket on the publisher; thread-owned after start */
	void *mon;                   /* PAIR socket reading the SUB socket's monitor */
	pthread_t thread;            /* the receive thread */
	bool thread_started;         /* pthread_create succeeded (join must wait) */
	char endpoint[1100];         /* "tcp://host:port" (for logs) */
	uint64_t max_message;        /* frames larger than this are skipped (bytes) */
	double heartbeat_timeout;    /* seconds of silence before a catch-up; 0 off */

	/* receive thread only */
	zmq_msg_t msg;               /* reused for every frame: no copy, no per-frame malloc */
	bool connected;              /* the monitor's last word was CONNECTED */
	bool ever_connected;         /* a connection was made at least once */
	bool retried;                /* a connect attempt failed before the first connection */
	bool disconnected;           /* DISCONNECTED seen and no CONNECTED since */
	double backlog_since;        /* monotonic start of the current backlog, 0 = none */
	uint64_t backlog_cursor;     /* the cursor when it began (catch-up start) */
	uint64_t gap_cursor;         /* cursor when the connection dropped */
	double last_msg;             /* monotonic time of the last frame (or of start) */
	bool silent;                 /* silence already reported (catch-up asked) */
	bool dirty;                  /* applied but not committed yet (commit failed) */
	struct iocb_ratelimit rl;        /* warnings about bad frames and errors */
};

/* Copy up to LOG_TOPIC_MAX bytes of a topic, made safe for a quoted log value. */
static void topic_for_log(const char *p, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	const char *sp = memchr(p, ' ', len);

	if (sp)
		len = (size_t)(sp - p);
	if (len > LOG_TOPIC_MAX)
		len = LOG_TOPIC_MAX;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		unsigned char c = (unsigned char)p[i];
		out[n++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
	}
	out[n] = '\0';
}

/* A rate-limited warning about one frame: `what` is a fixed phrase, `detail` may be NULL. */
static void warn_frame(struct zmq_source *s, const char *what, const char *frame, size_t len, const char *detail)
{
	char topic[LOG_TOPIC_MAX + 1];
	uint64_t suppressed;

	if (!iocb_log_enabled(IOCB_LOG_WARN, MOD) || !iocb_ratelimit_ok(&s->rl, &suppressed))
		return;
	topic_for_log(frame, len, topic, sizeof(topic));
	iocb_log_(IOCB_LOG_WARN, MOD, "\"%s\" topic=\"%s\" bytes=%zu error=\"%s\" suppressed=%" PRIu64, what, topic,
		  len, detail ? detail : "", suppressed);
}

/* Ask the pull for a catch-up from `from` and count it. */
static void request_catchup(struct zmq_source *s, uint64_t from, const char *why)
{
	IOCB_M_ADD(s->m->catchups, 1);
	iocb_sources_sync_request_catchup(s->y, from, why);
}

/* Publish the counters and commit what the batch applied (or a failed commit's leftovers). */
static void publish_commit(struct zmq_source *s, bool applied)
{
	struct iocb_err err = {0};

	iocb_sources_sync_publish(s->y, s->m, iocb_ingest_stats(s->in), true);
	if (!applied && !s->dirty)
		return;
	if (iocb_sources_sync_commit(s->y, &err) < 0) {
		/* Logged by iocb_sources_sync_commit; the store keeps the changes and we retry. */
		IOCB_M_ADD(s->m->errors, 1);
		s->dirty = true;
		return;
	}
	s->dirty = false;
}

/* Take the next monitor event without blocking (two frames each: event+value, endpoint); false when none. */
static bool recv_monitor_event(struct zmq_source *s, uint16_t *event)
{
	zmq_msg_t ev, addr;

	*event = 0;
	zmq_msg_init(&ev);
	if (zmq_msg_recv(&ev, s->mon, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&ev);
		return false;
	}
	if (zmq_msg_size(&ev) >= sizeof(*event))
		memcpy(event, zmq_msg_data(&ev), sizeof(*event));
	/* The second frame (the endpoint) is not needed; drain every remaining part. */
	while (zmq_msg_more(&ev)) {
		zmq_msg_init(&addr);
		int rc = zmq_msg_recv(&addr, s->mon, ZMQ_DONTWAIT);
		bool more = rc >= 0 && zmq_msg_more(&addr);
		zmq_msg_close(&addr);
		if (!more)
			break;
	}
	zmq_msg_close(&ev);
	return true;
}

/*
 * Connected means the ZMTP handshake is done (PLAIN credentials accepted):
 * only then can the subscription flow. Every kind of connection asks for
 * the catch-up that covers what the SUB socket cannot have seen.
 */
static void on_connected(struct zmq_source *s)
{
	if (s->disconnected) {
		IOCB_M_ADD(s->m->reconnects, 1);
		iocb_log(IOCB_LOG_INFO, MOD, "\"reconnected\" endpoint=\"%s\"", s->endpoint);
		request_catchup(s, s->gap_cursor, "zmq reconnect");
	} else if (!s->ever_connected && s->retried) {
		/* The publisher was not there at start: whatever it sent
		 * before now is gone, like after a reconnect. */
		iocb_log(IOCB_LOG_INFO, MOD, "\"connected late\" endpoint=\"%s\"", s->endpoint);
		request_catchup(s, iocb_sources_sync_cursor(s->y), "zmq connected late");
	} else {
		iocb_log(IOCB_LOG_INFO, MOD, "\"connected\" endpoint=\"%s\"", s->endpoint);
		/*
		 * A PUB drops what it sends before our subscription reaches
		 * it, and the pull's start-up query may have run before that:
		 * cover the window with a catch-up (cheap: recent rows only).
		 * With no cursor yet (first start, reconcile running) take
		 * the last five minutes of MISP's clock.
		 */
		uint64_t from = iocb_sources_sync_cursor(s->y);
		uint64_t now = (uint64_t)(iocb_time_real_us() / 1000000);
		if (from == 0 && now > 300)
			from = now - 300;
		if (s->y->cfg->api.present)
			iocb_sources_sync_request_catchup(s->y, from, "zmq subscribed");
	}
	s->connected = true;
	s->ever_connected = true;
	s->disconnected = false;
	IOCB_M_SET(s->m->up, 1);
}

/* Read and act on every pending monitor event. */
static void drain_monitor(struct zmq_source *s)
{
	uint16_t event;

	while (recv_monitor_event(s, &event)) {
		switch (event) {
		case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
			on_connected(s);
			break;
		case ZMQ_EVENT_DISCONNECTED:
			if (s->connected) {
				s->gap_cursor = iocb_sources_sync_cursor(s->y);
				s->disconnected = true;
				iocb_log(IOCB_LOG_WARN, MOD, "\"publisher connection lost; libzmq reconnects\" endpoint=\"%s\"",
					 s->endpoint);
			}
			s->connected = false;
			IOCB_M_SET(s->m->up, 0);
			break;
		case ZMQ_EVENT_CONNECT_RETRIED:
			if (!s->ever_connected)
				s->retried = true;
			break;
		case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
		case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
		case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: {
			uint64_t sup;
			IOCB_M_ADD(s->m->errors, 1);
			if (!s->ever_connected)
				s->retried = true;
			if (iocb_ratelimit_ok(&s->rl, &sup))
				iocb_log(IOCB_LOG_ERROR, MOD,
					 "\"the publisher refused the ZeroMQ handshake%s; libzmq retries\" endpoint=\"%s\" "
					 "suppressed=%" PRIu64,
					 event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? " (misp.zmq.username / password)" : "",
					 s->endpoint, sup);
			break;
		}
		default:
			break;
		}
	}
}

/*
 * Handle the frame in s->msg. Returns true if it went to the ingest (the
 * batch must be committed). Counts go to the local tallies of the batch.
 */
static bool handle_frame(struct zmq_source *s, size_t *nhb)
{
	const char *p = zmq_msg_data(&s->msg);
	size_t len = zmq_msg_size(&s->msg);
	struct iocb_err err;

	err.msg[0] = '\0';
	if (len > s->max_message) {
		s->m->own_rejects[IOCB_SKIP_TOO_LARGE]++;
		warn_frame(s, "frame larger than max_message skipped", p, len, NULL);
		return false;
	}
	if (len >= sizeof(HEARTBEAT_TOPIC) - 1 && memcmp(p, HEARTBEAT_TOPIC, sizeof(HEARTBEAT_TOPIC) - 1) == 0) {
		(*nhb)++;
		return false;
	}
	if (iocb_ingest_zmq_frame(s->in, p, len, NULL, &err) < 0)
		warn_frame(s, "bad frame skipped", p, len, err.msg);
	return true;
}

/* A multi-part message: s->msg holds part 1. Skip the rest; count it once. */
static void skip_multipart(struct zmq_source *s, uint64_t *nbytes)
{
	const char *p = zmq_msg_data(&s->msg);
	size_t len = zmq_msg_size(&s->msg);

	s->m->own_rejects[IOCB_SKIP_BAD_SHAPE]++;
	warn_frame(s, "multi-part message skipped (MISP sends one frame)", p, len, NULL);
	/* The parts of a message arrive together, so they are all here. */
	while (zmq_msg_more(&s->msg)) {
		if (zmq_msg_recv(&s->msg, s->sub, ZMQ_DONTWAIT) < 0)
			break;
		*nbytes += zmq_msg_size(&s->msg);
	}
}

/*
 * A batch that ends without draining the socket means a backlog. When one
 * lasted BACKLOG_CATCHUP_S or more, the publisher may have dropped frames
 * (nothing tells us): once drained, catch up from the cursor held when the
 * backlog began. The hourly reconcile would repair it too, but later.
 */
static void check_backlog(struct zmq_source *s, double t0, bool drained)
{
	if (!drained) {
		if (s->backlog_since == 0) {
			s->backlog_since = t0;
			s->backlog_cursor = iocb_sources_sync_cursor(s->y);
		}
		return;
	}
	if (s->backlog_since != 0 && iocb_time_mono_s() - s->backlog_since >= BACKLOG_CATCHUP_S) {
		iocb_log(IOCB_LOG_INFO, MOD, "\"caught up with a backlog; checking for frames the publisher dropped\" seconds=%.1f",
			 iocb_time_mono_s() - s->backlog_since);
		if (s->y->cfg->api.present)
			request_catchup(s, s->backlog_cursor, "zmq backlog");
	}
	s->backlog_since = 0;
}

/* Drain the SUB socket for one batch, apply, publish, commit. */
static void receive_batch(struct zmq_source *s)
{
	double t0 = iocb_time_mono_s();
	uint64_t nmsg = 0, nbytes = 0;
	size_t nhb = 0;
	bool applied = false, drained = false;

	while (nmsg < BATCH_MAX) {
		int rc = zmq_msg_recv(&s->msg, s->sub, ZMQ_DONTWAIT);

		if (rc < 0) {
			if (errno == EINTR)
				continue;
			drained = true;
			if (errno != EAGAIN && errno != ETERM) {
				IOCB_M_ADD(s->m->errors, 1);
				if (iocb_log_enabled(IOCB_LOG_WARN, MOD)) {
					uint64_t sup;
					if (iocb_ratelimit_ok(&s->rl, &sup))
						iocb_log_(IOCB_LOG_WARN, MOD, "\"receive failed\" error=\"%s\" suppressed=%" PRIu64,
							  zmq_strerror(errno), sup);
				}
			}
			break;
		}
		nmsg++;
		nbytes += zmq_msg_size(&s->msg);
		if (IOCB_UNLIKELY(zmq_msg_more(&s->msg)))
			skip_multipart(s, &nbytes);
		else if (handle_frame(s, &nhb))
			applied = true;
		if (nmsg % BATCH_CLOCK_EVERY == 0 && (iocb_time_mono_s() - t0) * 1e9 >= (double)BATCH_NS)
			break;
	}
	if (nmsg) {
		s->last_msg = iocb_time_mono_s();
		if (s->silent) {
			s->silent = false;
			iocb_log(IOCB_LOG_INFO, MOD, "\"messages again after silence\" endpoint=\"%s\"", s->endpoint);
		}
		IOCB_M_ADD(s->m->messages, nmsg);
		IOCB_M_ADD(s->m->bytes, nbytes);
		if (nhb)
			IOCB_M_ADD(s->m->heartbeats, nhb);
		IOCB_M_SET(s->m->last_message_us, iocb_time_real_us());
		/* (frames still queued after a disconnect do not make it look up) */
		if (!s->disconnected)
			IOCB_M_SET(s->m->up, 1);
	}
	publish_commit(s, applied);
	check_backlog(s, t0, drained);
}

/* No frame for heartbeat_timeout: ask for a catch-up, once per silence. */
static void check_silence(struct zmq_source *s)
{
	if (s->heartbeat_timeout <= 0 || s->silent || iocb_time_mono_s() - s->last_msg < s->heartbeat_timeout)
		return;
	s->silent = true;
	IOCB_M_SET(s->m->up, 0);
	iocb_log(IOCB_LOG_WARN, MOD, "\"no message or heartbeat within heartbeat_timeout\" endpoint=\"%s\" timeout_s=%g",
		 s->endpoint, s->heartbeat_timeout);
	request_catchup(s, iocb_sources_sync_cursor(s->y), "zmq heartbeat timeout");
}

/* Close the sockets (linger 0) and terminate the context. Idempotent. */
static void close_zmq(struct zmq_source *s)
{
	int zero = 0;

	if (s->mon) {
		zmq_setsockopt(s->mon, ZMQ_LINGER, &zero, sizeof(zero));
		zmq_close(s->mon);
		s->mon = NULL;
	}
	if (s->sub) {
		zmq_setsockopt(s->sub, ZMQ_LINGER, &zero, sizeof(zero));
		zmq_close(s->sub);
		s->sub = NULL;
	}
	if (s->ctx) {
		while (zmq_ctx_term(s->ctx) < 0 && errno == EINTR)
			;
		s->ctx = NULL;
	}
}

static void *zmq_thread(void *arg)
{
	struct zmq_source *s = arg;

	zmq_msg_init(&s->msg);
	s->last_msg = iocb_time_mono_s();
	while (!iocb_sources_sync_stopping(s->y)) {
		zmq_pollitem_t items[2] = {
			{s->sub, 0, ZMQ_POLLIN, 0},
			{s->mon, 0, ZMQ_POLLIN, 0},
		};
		long timeout = POLL_MS;

		if (s->heartbeat_timeout > 0 && !s->silent) {
			double left = s->last_msg + s->heartbeat_timeout - iocb_time_mono_s();
			if (left < 0)
				left = 0;
			if (left * 1000 < (double)timeout)
				timeout = (long)(left * 1000) + 1;
		}
		int n = zmq_poll(items, 2, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ETERM)
				break;
			IOCB_M_ADD(s->m->errors, 1);
			iocb_log(IOCB_LOG_ERROR, MOD, "\"poll failed\" error=\"%s\"", zmq_strerror(errno));
			/* Unexpected; do not spin. */
			if (!iocb_sources_sync_sleep(s->y, 0.1, false))
				break;
			continue;
		}
		if (items[1].revents & ZMQ_POLLIN)
			drain_monitor(s);
		if (items[0].revents & ZMQ_POLLIN)
			receive_batch(s);
		else if (s->dirty)
			publish_commit(s, false);
		check_silence(s);
	}
	publish_commit(s, false);
	zmq_msg_close(&s->msg);
	close_zmq(s);
	iocb_log(IOCB_LOG_INFO, MOD, "\"stopped\" endpoint=\"%s\"", s->endpoint);
	return NULL;
}

static void zmq_source_join(struct iocb_source *base)
{
	struct zmq_source *s = (struct zmq_source *)base;

	if (!s)
		return;
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	close_zmq(s);
	iocb_ingest_free(s->in);
	free(s);
}

static int set_int(void *sock, int opt, int v, const char *name, struct iocb_err *err)
{
	if (zmq_setsockopt(sock, opt, &v, sizeof(v)) < 0)
		return iocb_err_set(err, IOCB_EIO, "zmq: setting %s failed: %s", name, zmq_strerror(errno));
	return IOCB_OK;
}

/* ingest hook: a tag attached to an event may let its filtered attributes pass. */
static void event_tagged(void *ud, uint64_t event_id)
{
	iocb_sources_sync_request_event_refresh(ud, event_id);
}

/* SUB socket options, PLAIN credentials, the subscription, and its monitor (before connecting). */
static int open_sub(struct zmq_source *s, const struct iocb_config *cfg, bool v6, struct iocb_err *err)
{
	int rc;

	s->sub = zmq_socket(s->ctx, ZMQ_SUB);
	if (!s->sub)
		return iocb_err_set(err, IOCB_EIO, "zmq: cannot create the SUB socket: %s", zmq_strerror(errno));
	const struct {
		int opt;          /* ZMQ_* option */
		int value;        /* its value */
		const char *name; /* for the error message */
	} opts[] = {
		{ZMQ_RCVHWM, (int)(cfg->zmq.rcvhwm > 0x7fffffffu ? 0x7fffffffu : cfg->zmq.rcvhwm), "ZMQ_RCVHWM"},
		{ZMQ_RECONNECT_IVL, RECONNECT_IVL_MS, "ZMQ_RECONNECT_IVL"},
		{ZMQ_RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS, "ZMQ_RECONNECT_IVL_MAX"},
		{ZMQ_LINGER, 0, "ZMQ_LINGER"},
		{ZMQ_HEARTBEAT_IVL, ZMTP_HEARTBEAT_IVL_MS, "ZMQ_HEARTBEAT_IVL"},
		{ZMQ_HEARTBEAT_TIMEOUT, ZMTP_HEARTBEAT_TIMEOUT_MS, "ZMQ_HEARTBEAT_TIMEOUT"},
		{ZMQ_IPV6, v6 ? 1 : 0, "ZMQ_IPV6"},
	};
	for (size_t i = 0; i < IOCB_ARRAY_LEN(opts); i++) {
		rc = set_int(s->sub, opts[i].opt, opts[i].value, opts[i].name, err);
		if (rc < 0)
			return rc;
	}
	if (cfg->zmq.username) {
		const char *pw = iocb_secret_str(&cfg->zmq.password);
		/* MISP's Plugin.ZeroMQ_username / _password: ZMQ PLAIN (cleartext). */
		if (zmq_setsockopt(s->sub, ZMQ_PLAIN_USERNAME, cfg->zmq.username, strlen(cfg->zmq.username)) < 0 ||
		    zmq_setsockopt(s->sub, ZMQ_PLAIN_PASSWORD, pw ? pw : "", pw ? strlen(pw) : 0) < 0)
			return iocb_err_set(err, IOCB_EIO, "zmq: setting the PLAIN credentials failed: %s",
					    zmq_strerror(errno));
	}
	if (zmq_setsockopt(s->sub, ZMQ_SUBSCRIBE, TOPIC_PREFIX, sizeof(TOPIC_PREFIX) - 1) < 0)
		return iocb_err_set(err, IOCB_EIO, "zmq: subscribe failed: %s", zmq_strerror(errno));
	/* The monitor first, so that the first connection's events are seen. */
	if (zmq_socket_monitor(s->sub, MONITOR_ENDPOINT,
			       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CONNECT_RETRIED |
				       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
				       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) < 0)
		return iocb_err_set(err, IOCB_EIO, "zmq: socket monitor failed: %s", zmq_strerror(errno));
	return IOCB_OK;
}

/* The PAIR socket that reads the SUB socket's monitor, then the SUB socket's connection to the publisher. */
static int connect_sockets(struct zmq_source *s, struct iocb_err *err)
{
	int rc;

	s->mon = zmq_socket(s->ctx, ZMQ_PAIR);
	if (!s->mon)
		return iocb_err_set(err, IOCB_EIO, "zmq: cannot create the monitor socket: %s", zmq_strerror(errno));
	rc = set_int(s->mon, ZMQ_LINGER, 0, "ZMQ_LINGER", err);
	if (rc < 0)
		return rc;
	if (zmq_connect(s->mon, MONITOR_ENDPOINT) < 0)
		return iocb_err_set(err, IOCB_EIO, "zmq: cannot connect the monitor: %s", zmq_strerror(errno));
	if (zmq_connect(s->sub, s->endpoint) < 0)
		return iocb_err_set(err, IOCB_ECONFIG, "zmq: cannot connect to %s: %s", s->endpoint, zmq_strerror(errno));
	return IOCB_OK;
}

int iocb_sources_zmq_start(struct iocb_sources_sync *y, struct iocb_source **out, struct iocb_err *err)
{
	const struct iocb_config *cfg = y->cfg;
	struct zmq_source *s = NULL;
	const char *host;
	bool v6;
	int rc = IOCB_OK;

	*out = NULL;
	if (!cfg || !cfg->zmq.present)
		return iocb_err_set(err, IOCB_ECONFIG, "zmq: misp.zmq is not configured");
	host = cfg->zmq.host ? cfg->zmq.host : "localhost";
	s = iocb_xcalloc(1, sizeof(*s));
	s->rl.interval_s = 1.0; /* at most one warning a second */
	s->base.kind = "zmq";
	s->base.join = zmq_source_join;
	s->y = y;
	s->max_message = cfg->zmq.max_message;
	s->heartbeat_timeout = cfg->zmq.heartbeat_timeout_s;
	/* An IPv6 literal needs brackets in a ZeroMQ endpoint. */
	v6 = strchr(host, ':') != NULL && host[0] != '[';
	if (snprintf(s->endpoint, sizeof(s->endpoint), v6 ? "tcp://[%s]:%u" : "tcp://%s:%u", host,
		     (unsigned)cfg->zmq.port) >= (int)sizeof(s->endpoint)) {
		rc = iocb_err_set(err, IOCB_ECONFIG, "zmq: host too long");
		goto out;
	}
	s->m = iocb_sources_sync_metrics_add(y, "zmq");
	if (!s->m) {
		rc = iocb_err_set(err, IOCB_ELIMIT, "zmq: too many sources for the metrics table");
		goto out;
	}
	s->in = iocb_ingest_new(y->store, y->filter, IOCB_SRCID_MISP);
	iocb_ingest_set_event_tagged_hook(s->in, event_tagged, y);

	s->ctx = zmq_ctx_new();
	if (!s->ctx) {
		rc = iocb_err_set(err, IOCB_EIO, "zmq: cannot create a context: %s", zmq_strerror(errno));
		goto out;
	}
	rc = open_sub(s, cfg, v6, err);
	if (rc == IOCB_OK)
		rc = connect_sockets(s, err);
	if (rc < 0)
		goto out;
	/* pthread_create is a full barrier: the thread may take the sockets over. */
	if (pthread_create(&s->thread, NULL, zmq_thread, s) != 0) {
		rc = iocb_err_set(err, IOCB_EIO, "zmq: cannot start the thread");
		goto out;
	}
	s->thread_started = true;
	iocb_log(IOCB_LOG_INFO, MOD, "\"started\" endpoint=\"%s\" rcvhwm=%u heartbeat_timeout_s=%g", s->endpoint,
		 cfg->zmq.rcvhwm, s->heartbeat_timeout);
	*out = &s->base;
	s = NULL;
out:
	if (s)
		zmq_source_join(&s->base);
	return rc;
}
