/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bus thread's data plane: every frame to an app goes out here, through
 * one XPUB socket with ZMQ_XPUB_NODROP and ZMQ_SNDHWM = subscriber_hwm.
 * Frames start with the subscriber's p2p topic, so each goes to one
 * subscriber's pipe, and a zmq_send(ZMQ_DONTWAIT) failing with EAGAIN means
 * THAT subscriber's queue is full: nobody else waits.
 *
 * XPUB_MANUAL: the bus applies a subscription only when it names a known
 * p2p topic ("\x01<p2p>..."), so a peer that subscribes to "" reads nothing
 * (Threat Bus let it read all traffic) and cannot make everyone's sends fail
 * by not reading. The same messages tell when an app's SUB socket is
 * actually connected, which ZeroMQ's PUB never tells (the slow joiner).
 *
 * A subscriber moves through (internal.h enum iocb_bus__state):
 *   JOINING   until its subscription arrives (at most 5 s): live frames held;
 *   SNAPSHOT  while the snapshot thread's frames for it are sent: live held;
 *   DRAIN     held frames sent in order as its pipe takes them;
 *   LIVE      live frames sent at once; EAGAIN -> STALE;
 *   STALE     live frames dropped and counted (per subscriber and in total);
 *             after a wait (100 ms, doubling per relapse to 5 s, back to
 *             100 ms once it stayed live 10 s) the last dropped frame is
 *             retried as a probe each poll turn, and once its pipe takes it
 *             the subscriber is resynced: a snapshot of its window
 *             (everything live if it asked for none) -> SNAPSHOT.
 * Held frames are bounded (subscriber_hwm frames but at least 65,536, and
 * 64 MiB); past that, and
 * when a pipe takes nothing for 2 s while frames wait (a snapshot or drain
 * stalled), the subscriber goes STALE. The snapshot thread's frames wait in
 * `pending` when the target's pipe is full: that stops reading the snapshot
 * queue, which is the backpressure onto the snapshot thread; live frames to
 * others go on.
 */
#include "serve/bus/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/counter.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/time.h"

#define MOD "bus"

static bool sub_wants(const struct iocb_bus__sub *s, enum iocb_bus_gen gen, const char *topic)
{
	if (!s->used || s->gen != gen)
		return false;
	for (unsigned i = 0; i < s->ntopics; i++)
		if (strncmp(topic, s->topics[i], strlen(s->topics[i])) == 0)
			return true;
	return false;
}

static void free_held(struct iocb_bus__sub *s)
{
	while (s->hq) {
		struct iocb_bus__held *h = s->hq;
		s->hq = h->next;
		free(h);
	}
	s->hq_tail = NULL;
	s->hq_n = s->hq_bytes = 0;
}

/* Try one frame to its subscriber's pipe: 1 sent, 0 pipe full, -1 other failure (counted, dropped). */
static int try_send(struct iocb_bus *b, const char *frame, size_t len, enum iocb_bus_gen gen,
		    enum iocb_bus_kind kind)
{
	if (zmq_send(b->pub, frame, len, ZMQ_DONTWAIT) >= 0) {
		if (kind < IOCB_BUS_KIND__N)
			IOCB_M_ADD(b->st.out[gen][kind], 1);
		return 1;
	}
	if (zmq_errno() == EAGAIN)
		return 0;
	IOCB_M_ADD(b->st.drops_subscriber, 1);
	return -1;
}

static void keep_probe(struct iocb_bus__sub *s, const char *frame, size_t len, enum iocb_bus_gen gen,
		       enum iocb_bus_kind kind)
{
	if (len > s->probe_cap) {
		s->probe = iocb_xrealloc(s->probe, len);
		s->probe_cap = len;
	}
	memcpy(s->probe, frame, len);
	s->probe_len = len;
	s->probe_gen = gen;
	s->probe_kind = kind;
}

static void cancel_job(struct iocb_bus *b, struct iocb_bus__sub *s)
{
	if (s->job)
		__atomic_store_n(&b->snap_cancel[s - b->subs], s->job, __ATOMIC_RELEASE);
	s->job = 0;
}

/* Mark s stale; frame (may be NULL) is the frame it just lost, kept as its probe. */
static void go_stale(struct iocb_bus *b, struct iocb_bus__sub *s, const char *frame, size_t len,
		     enum iocb_bus_gen gen, enum iocb_bus_kind kind)
{
	uint64_t lost = (uint64_t)s->hq_n + (frame ? 1 : 0);
	if (s->state != IOCB_BUS__STALE) {
		/*
		 * A subscriber that keeps relapsing waits longer before each resync
		 * (a snapshot walks the store): 100 ms doubling to 5 s, back to
		 * 100 ms after 10 s live.
		 */
		int64_t now = iocb_time_mono_ns();
		if (s->state == IOCB_BUS__LIVE && now - s->live_since_ns > IOCB_BUS__SETTLED_NS)
			s->backoff_ns = 0;
		s->backoff_ns = s->backoff_ns ? s->backoff_ns * 2 : IOCB_BUS__BACKOFF_MIN_NS;
		if (s->backoff_ns > IOCB_BUS__BACKOFF_MAX_NS)
			s->backoff_ns = IOCB_BUS__BACKOFF_MAX_NS;
		s->probe_after_ns = now + s->backoff_ns;
		IOCB_M_ADD(b->st.stale_marks, 1);
		iocb_log(IOCB_LOG_WARN, MOD, "\"subscriber stale\" topic=\"%s\" held=%zu dropped=%llu retry_s=%.1f",
			 s->p2p, s->hq_n, (unsigned long long)(s->drops + lost), (double)s->backoff_ns / 1e9);
	}
	s->drops += lost;
	IOCB_M_ADD(b->st.drops_subscriber, lost);
	if (s->hq && !frame) /* the oldest held frame is the probe */
		keep_probe(s, s->hq->data, s->hq->len, s->hq->gen, s->hq->kind);
	if (frame)
		keep_probe(s, frame, len, gen, kind);
	free_held(s);
	cancel_job(b, s);
	s->state = IOCB_BUS__STALE;
}

static void hold(struct iocb_bus *b, struct iocb_bus__sub *s, const char *frame, size_t len, enum iocb_bus_gen gen,
		 enum iocb_bus_kind kind)
{
	size_t max = b->o.subscriber_hwm > IOCB_BUS__HOLD_MIN ? b->o.subscriber_hwm : IOCB_BUS__HOLD_MIN;
	if (s->hq_n >= max || s->hq_bytes + len > IOCB_BUS__HOLD_BYTES) {
		go_stale(b, s, frame, len, gen, kind);
		return;
	}
	struct iocb_bus__held *h = iocb_xmalloc(sizeof(*h) + len);
	h->next = NULL;
	h->len = len;
	h->gen = gen;
	h->kind = kind;
	memcpy(h->data, frame, len);
	if (s->hq_tail)
		s->hq_tail->next = h;
	else
		s->hq = h;
	s->hq_tail = h;
	s->hq_n++;
	s->hq_bytes += len;
}

void iocb_bus__deliver(struct iocb_bus *b, struct iocb_bus__sub *s, const char *frame, size_t len,
		       enum iocb_bus_gen gen, enum iocb_bus_kind kind)
{
	switch (s->state) {
	case IOCB_BUS__LIVE:
		if (try_send(b, frame, len, gen, kind) == 0)
			go_stale(b, s, frame, len, gen, kind);
		return;
	case IOCB_BUS__STALE:
		IOCB_M_ADD(b->st.drops_subscriber, 1);
		s->drops++;
		keep_probe(s, frame, len, gen, kind);
		return;
	default:
		hold(b, s, frame, len, gen, kind);
		return;
	}
}

void iocb_bus__fan_out(struct iocb_bus *b, enum iocb_bus_gen gen, enum iocb_bus_kind kind, const char *json,
		       size_t jl)
{
	const char *suffix = iocb_bus__suffix[gen][kind], *topic = iocb_bus__msg_topic[gen][kind];

	if (jl > b->o.max_frame_bytes) /* b->frame's bound; iocb_bus_publish() refuses these */
		return;
	for (unsigned i = 0; i < b->o.max_subscribers; i++) {
		struct iocb_bus__sub *s = &b->subs[i];
		if (sub_wants(s, gen, topic))
			iocb_bus__deliver(b, s, b->frame, iocb_bus__frame(b, s, suffix, json, jl), gen, kind);
	}
}

size_t iocb_bus__frame(struct iocb_bus *b, const struct iocb_bus__sub *s, const char *suffix, const char *json,
		       size_t jl)
{
	size_t sl = strlen(suffix);
	char *p = b->frame;
	memcpy(p, s->p2p, IOCB_BUS_P2P_LEN);
	p += IOCB_BUS_P2P_LEN;
	memcpy(p, suffix, sl);
	p += sl;
	*p++ = ' ';
	memcpy(p, json, jl);
	p += jl;
	return (size_t)(p - b->frame);
}

static struct iocb_bus__sub *sub_by_prefix(struct iocb_bus *b, const char *d, size_t n)
{
	if (n < IOCB_BUS_P2P_LEN)
		return NULL;
	for (unsigned i = 0; i < b->o.max_subscribers; i++)
		if (b->subs[i].used && memcmp(b->subs[i].p2p, d, IOCB_BUS_P2P_LEN) == 0)
			return &b->subs[i];
	return NULL;
}

void iocb_bus__xpub_in(struct iocb_bus *b)
{
	for (int k = 0; k < 256; k++) {
		char m[IOCB_BUS_TOPIC_MAX + 2];
		int n = zmq_recv(b->pub, m, sizeof(m), ZMQ_DONTWAIT);
		if (n < 0)
			return;
		if (n == 0 || (size_t)n > sizeof(m) || (m[0] != 0 && m[0] != 1))
			continue; /* not a subscription message, or too long for any p2p topic we accept */
		struct iocb_bus__sub *s = sub_by_prefix(b, m + 1, (size_t)n - 1);
		if (m[0] == 1) {
			if (!s) {
				IOCB_M_ADD(b->st.subscriptions_refused, 1);
				continue;
			}
			/* Manual mode: this applies to the pipe the message came from. */
			zmq_setsockopt(b->pub, ZMQ_SUBSCRIBE, m + 1, (size_t)n - 1);
			s->joined = true;
		} else {
			zmq_setsockopt(b->pub, ZMQ_UNSUBSCRIBE, m + 1, (size_t)n - 1);
			if (s)
				s->joined = false;
		}
	}
}

void iocb_bus__sub_added(struct iocb_bus *b, struct iocb_bus__sub *s)
{
	s->state = IOCB_BUS__JOINING;
	s->joined = false;
	s->since_ns = s->last_ns;
	s->snap_wanted = s->snapshot_s > 0 && s->wants_intel && b->o.store;
	s->snap_window_s = s->snapshot_s;
	if (s->wants_intel)
		__atomic_fetch_add(&b->nsubs_intel[s->gen], 1, __ATOMIC_RELEASE);
}

void iocb_bus__sub_dropping(struct iocb_bus *b, struct iocb_bus__sub *s)
{
	if (s->wants_intel)
		__atomic_fetch_sub(&b->nsubs_intel[s->gen], 1, __ATOMIC_RELEASE);
	free_held(s);
	cancel_job(b, s);
	free(s->probe);
	s->probe = NULL;
	s->probe_len = s->probe_cap = 0;
}

/* Send held frames while the pipe takes them; LIVE once empty. */
static void drain(struct iocb_bus *b, struct iocb_bus__sub *s, int64_t now)
{
	while (s->hq) {
		struct iocb_bus__held *h = s->hq;
		int r = try_send(b, h->data, h->len, h->gen, h->kind);
		if (r == 0) {
			if (now - s->since_ns > IOCB_BUS__STALL_NS)
				go_stale(b, s, NULL, 0, h->gen, h->kind);
			return;
		}
		s->since_ns = now;
		s->hq = h->next;
		if (!s->hq)
			s->hq_tail = NULL;
		s->hq_n--;
		s->hq_bytes -= h->len;
		free(h);
	}
	s->state = IOCB_BUS__LIVE;
	s->live_since_ns = now;
}

/* False when the job queue is full (the caller retries next turn). */
static bool start_snapshot(struct iocb_bus *b, struct iocb_bus__sub *s, uint64_t window_s, int64_t now)
{
	uint64_t job = iocb_bus__snap_request(b, s, window_s);
	if (!job)
		return false;
	s->job = job;
	s->snap_wanted = false;
	s->state = IOCB_BUS__SNAPSHOT;
	s->since_ns = now;
	return true;
}

static void service_sub(struct iocb_bus *b, struct iocb_bus__sub *s, int64_t now)
{
	switch (s->state) {
	case IOCB_BUS__JOINING:
		if (!s->joined && now - s->since_ns < IOCB_BUS__JOIN_WAIT_NS)
			return;
		if (!s->joined)
			iocb_log(IOCB_LOG_INFO, MOD, "\"subscriber not connected after 5 s, sending anyway\" topic=\"%s\"",
				 s->p2p);
		s->since_ns = now;
		if (!s->snap_wanted)
			s->state = IOCB_BUS__DRAIN;
		else if (!start_snapshot(b, s, s->snap_window_s, now))
			s->joined = true; /* no job slot: retried next turn, without waiting again */
		return;
	case IOCB_BUS__DRAIN:
		drain(b, s, now);
		return;
	case IOCB_BUS__STALE:
		if (now < s->probe_after_ns)
			return;
		if (!b->o.store) {
			/* Nothing to resync from: back to live once the pipe takes frames again. */
			if (!s->probe_len || try_send(b, s->probe, s->probe_len, s->probe_gen, s->probe_kind) != 0) {
				s->probe_len = 0;
				s->state = IOCB_BUS__LIVE;
				s->live_since_ns = now;
			}
			return;
		}
		if (s->probe_len && try_send(b, s->probe, s->probe_len, s->probe_gen, s->probe_kind) == 0)
			return;
		s->probe_len = 0; /* it got through: from here the resync is only waiting for a job slot */
		if (!start_snapshot(b, s, s->snap_window_s, now))
			return;
		IOCB_M_ADD(b->st.resyncs, 1);
		iocb_log(IOCB_LOG_INFO, MOD, "\"subscriber resync\" topic=\"%s\"", s->p2p);
		return;
	default:
		return;
	}
}

/* A snapshot batch's frames to its subscriber; false when its pipe is full (keep it pending). */
static bool send_pending(struct iocb_bus *b, int64_t now)
{
	const char *d = zmq_msg_data(b->pending);
	size_t n = zmq_msg_size(b->pending);
	struct iocb_bus__batch_hdr h;
	struct iocb_bus__sub *s;

	memcpy(&h, d, sizeof(h));
	s = h.slot < b->o.max_subscribers ? &b->subs[h.slot] : NULL;
	if (!s || !s->used || s->job != h.job)
		return true; /* the subscriber left or the job was abandoned */
	if (h.end) {
		s->job = 0;
		s->state = IOCB_BUS__DRAIN;
		s->since_ns = now;
		return true;
	}
	while (b->pending_off + 4 <= n) {
		uint32_t fl;
		memcpy(&fl, d + b->pending_off, 4);
		int r = try_send(b, d + b->pending_off + 4, fl, s->gen, IOCB_BUS_KIND_INTEL);
		if (r == 0) {
			if (now - b->pending_since > IOCB_BUS__STALL_NS) {
				go_stale(b, s, NULL, 0, s->gen, IOCB_BUS_KIND_INTEL);
				return true;
			}
			return false;
		}
		if (r > 0)
			IOCB_M_ADD(b->st.snapshot_sent, 1);
		b->pending_since = now;
		b->pending_off += 4 + (size_t)fl;
	}
	return true;
}

/*
 * A few snapshot batches per poll turn: each is up to IOCB_BUS__BATCH_BYTES
 * (about 400 frames), and the live frames queued for everyone else wait
 * while this runs (64 batches a turn stalled them 40-160 ms when a snapshot
 * started). The poll returns at once while more batches wait, so the
 * snapshot's own rate is kept.
 */
#define SNAP_BATCHES_PER_TURN 4

static void snapshot_frames(struct iocb_bus *b, int64_t now)
{
	if (!b->snap_pull)
		return;
	for (int k = 0; k < SNAP_BATCHES_PER_TURN; k++) {
		if (!b->pending) {
			b->pending = iocb_xmalloc(sizeof(*b->pending));
			zmq_msg_init(b->pending);
			if (zmq_msg_recv(b->pending, b->snap_pull, ZMQ_DONTWAIT) < 0 ||
			    zmq_msg_size(b->pending) < sizeof(struct iocb_bus__batch_hdr)) {
				iocb_bus__out_fini(b);
				return;
			}
			b->pending_off = sizeof(struct iocb_bus__batch_hdr);
			b->pending_since = now;
		}
		if (!send_pending(b, now))
			return;
		iocb_bus__out_fini(b);
	}
}

/* Feed frames the publish queue refused: every subscriber of that generation missed one. */
static void feed_losses(struct iocb_bus *b)
{
	for (int g = 0; g < IOCB_BUS_GEN__N; g++) {
		uint64_t lost = __atomic_load_n(&b->feed_lost[g], __ATOMIC_ACQUIRE);
		if (lost == b->feed_lost_seen[g])
			continue;
		b->feed_lost_seen[g] = lost;
		for (unsigned i = 0; i < b->o.max_subscribers; i++) {
			struct iocb_bus__sub *s = &b->subs[i];
			if (s->used && (int)s->gen == g && s->wants_intel && s->state != IOCB_BUS__JOINING)
				go_stale(b, s, NULL, 0, s->gen, IOCB_BUS_KIND_INTEL);
		}
	}
}

void iocb_bus__service(struct iocb_bus *b, int64_t now)
{
	feed_losses(b);
	snapshot_frames(b, now);
	for (unsigned i = 0; i < b->o.max_subscribers; i++)
		if (b->subs[i].used)
			service_sub(b, &b->subs[i], now);
}

bool iocb_bus__busy(const struct iocb_bus *b)
{
	if (b->pending)
		return true;
	for (unsigned i = 0; i < b->o.max_subscribers; i++) {
		const struct iocb_bus__sub *s = &b->subs[i];
		if (s->used && (s->state == IOCB_BUS__DRAIN || s->state == IOCB_BUS__STALE || s->state == IOCB_BUS__SNAPSHOT))
			return true;
	}
	return false;
}

void iocb_bus__out_fini(struct iocb_bus *b)
{
	if (!b->pending)
		return;
	zmq_msg_close(b->pending);
	free(b->pending);
	b->pending = NULL;
}
