/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The indicator stream (stream.h): the producer, the store listener, the
 * delivery reports and the stream thread. The walks are in sync.c.
 *
 * The listener runs on a store writer's thread under the writer lock: it
 * renders, produces with RD_KAFKA_MSG_F_COPY (never RD_KAFKA_MSG_F_BLOCK)
 * and, when librdkafka refuses, only notes the key for the stream thread.
 * Everything that produces holds `mu`, so produce calls reach librdkafka in
 * the order of the changes, and one producer keeps that order per
 * partition (a key always maps to one partition).
 */
#include "serve/stream/stream.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/time.h"
#include "json/json.h"
#include "kafka/kafka.h"
#include "serve/render/render.h"
#include "serve/stream/internal.h"

#define MOD IOCB_STREAM__MOD
#define POLL_MS 50           /* idle poll: how soon resends and stop are seen */
#define STOP_FLUSH_MS 10000  /* longest wait for deliveries at stop */
#define PURGE_WAIT_S 5.0     /* longest wait for purged reports when the producer is recreated */

/* Warn at most once a second (st->rl). Under mu. */
static void warn_limited(struct iocb_stream *st, const char *what, const char *detail)
{
	uint64_t suppressed;

	if (!iocb_log_enabled(IOCB_LOG_WARN, MOD) || !iocb_ratelimit_ok(&st->rl, &suppressed))
		return;
	iocb_log_(IOCB_LOG_WARN, MOD, "\"%s\" topic=\"%s\" error=\"%s\" suppressed=%" PRIu64, what, st->topic,
		  detail ? detail : "", suppressed);
}

/* ------------------------------------------------------------ publishing */

/* Render a's Indicator into st->msg. IOCB_OK, IOCB_EUNSUPPORTED / IOCB_EINVAL (no pattern), IOCB_ELIMIT. */
static int render(struct iocb_stream *st, const struct iocb_store_attr *a)
{
	const struct iocb_render_stix_opts o = {.remove = false, .modified_us = 0};
	struct iocb_jw w;
	int rc;

	iocb_buf_reset(&st->msg);
	iocb_jw_init(&w, &st->msg);
	rc = iocb_render_stix_indicator(&w, a, &o, &st->scratch);
	if (rc == IOCB_OK)
		rc = iocb_jw_rc(&w);
	return rc;
}

/* a's Indicator into st->msg when a is to_ids (IOCB_ENOTFOUND when not); count: note an unexpressible one. */
static int render_live(struct iocb_stream *st, const struct iocb_store_attr *a, bool count)
{
	struct iocb_store_attr_view v;
	int rc;

	iocb_store_attr_view(a, &v);
	if (!v.to_ids)
		return IOCB_ENOTFOUND;
	rc = render(st, a);
	if (rc < 0 && count)
		st->st.unexpressible++;
	return rc;
}

bool iocb_stream__live(struct iocb_stream *st, const struct iocb_store_attr *a)
{
	return render_live(st, a, false) == IOCB_OK;
}

void iocb_stream__mark(struct iocb_stream *st, const uint8_t u[16], bool tombstone)
{
	if (iocb_stream__kset_add(&st->resend, u) >= 0)
		return;
	/* The set is full: a full republish restores every key the store holds, but not a removal. */
	if (!st->resync)
		iocb_log(IOCB_LOG_ERROR, MOD, "\"resend set full: republishing everything\" topic=\"%s\" keys=%zu",
			 st->topic, st->resend.n);
	st->resync = true;
	if (tombstone)
		st->st.tombstones_lost++;
}

/* Produce one message (value NULL: a tombstone). Under mu. */
static int produce(struct iocb_stream *st, const uint8_t u[16], const void *value, size_t len,
		   enum iocb_stream__on_refuse how)
{
	char key[IOCB_STREAM__UUID_LEN + 1];
	rd_kafka_resp_err_t e;

	iocb_misp_uuid_format(u, key);
	if (rd_kafka_produce(st->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)value, len, key,
			     IOCB_STREAM__UUID_LEN, NULL) == 0) {
		if (value)
			st->st.indicators++;
		else
			st->st.tombstones++;
		return IOCB_OK;
	}
	e = rd_kafka_last_error();
	if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && how == IOCB_STREAM__RETRY)
		return IOCB_EAGAIN;
	if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
		st->st.queue_full++;
	} else {
		st->st.produce_errors++;
		warn_limited(st, "kafka produce refused, the key is sent again later", rd_kafka_err2str(e));
	}
	iocb_stream__mark(st, u, value == NULL);
	return IOCB_EIO;
}

int iocb_stream__publish(struct iocb_stream *st, const uint8_t u[16], const struct iocb_store_attr *a, bool tomb,
			 enum iocb_stream__on_refuse how)
{
	if (a && render_live(st, a, true) == IOCB_OK)
		return produce(st, u, st->msg.ptr, st->msg.len, how);
	return tomb ? produce(st, u, NULL, 0, how) : IOCB_OK;
}

/*
 * The store listener (a writer's thread, under the writer lock). nw live:
 * its Indicator, under the same key whatever changed (an insert, an edit,
 * to_ids turned on); else a tombstone when old was live (a removal, to_ids
 * off, a value STIX cannot express); else nothing (never was live).
 */
static void on_change(void *ud, const struct iocb_store_attr *old, const struct iocb_store_attr *nw)
{
	struct iocb_stream *st = ud;
	struct iocb_store_attr_view v;
	uint8_t u[16];

	iocb_store_attr_view(nw ? nw : old, &v);
	if (!iocb_misp_uuid_parse(iocb_str_make(v.uuid, strlen(v.uuid)), u))
		return; /* the store only holds valid uuids */
	pthread_mutex_lock(&st->mu);
	/* Touched full: the walk may overtake this change; a resend after the walk puts the key right. */
	if (st->tracking && iocb_stream__kset_add(&st->touched, u) < 0)
		iocb_stream__mark(st, u, false);
	if (nw && render_live(st, nw, true) == IOCB_OK)
		(void)produce(st, u, st->msg.ptr, st->msg.len, IOCB_STREAM__MARK);
	else if (old && iocb_stream__live(st, old))
		(void)produce(st, u, NULL, 0, IOCB_STREAM__MARK);
	pthread_mutex_unlock(&st->mu);
}

/* ------------------------------------------------------------ librdkafka callbacks */

/* A delivery report (stream thread, inside rd_kafka_poll/flush). A failure sends the key again. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct iocb_stream *st = opaque;
	uint8_t u[16];

	(void)rk;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* Not under mu: the listener (a store writer) would wait for it once per message. */
		atomic_fetch_add_explicit(&st->delivered, 1, memory_order_relaxed);
		return;
	}
	pthread_mutex_lock(&st->mu);
	st->st.failed++;
	if (m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
		warn_limited(st, "kafka delivery failed, the key is sent again", rd_kafka_err2str(m->err));
	if (iocb_misp_uuid_parse(iocb_str_make(m->key, m->key_len), u))
		iocb_stream__mark(st, u, m->payload == NULL);
	pthread_mutex_unlock(&st->mu);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct iocb_stream *st = opaque;

	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__FATAL)
		atomic_store(&st->fatal, true);
	pthread_mutex_lock(&st->mu);
	warn_limited(st, "kafka producer error", reason);
	pthread_mutex_unlock(&st->mu);
}

/* librdkafka's own log lines (any librdkafka thread). */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	iocb_kafka_log_line(MOD, level, fac, buf);
}

/* ------------------------------------------------------------ producer */

static int producer_new(struct iocb_stream *st, rd_kafka_t **rk_out, rd_kafka_topic_t **rkt_out,
			struct iocb_err *err)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_dup(st->conf);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));

	*rk_out = NULL;
	*rkt_out = NULL;
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return iocb_err_set(err, IOCB_ECONFIG, "bus.kafka: cannot create the producer: %s", errstr);
	}
	*rkt_out = rd_kafka_topic_new(rk, st->topic, NULL);
	if (!*rkt_out) {
		int rc = iocb_err_set(err, IOCB_ECONFIG, "bus.kafka: topic \"%s\": %s", st->topic,
				      rd_kafka_err2str(rd_kafka_last_error()));
		rd_kafka_destroy(rk);
		return rc;
	}
	*rk_out = rk;
	return IOCB_OK;
}

/*
 * The producer failed for good (idempotence state lost): purge it (the
 * purged messages' keys go to the resend set), make a new one, and
 * republish everything. Stream thread.
 */
static void recover_fatal(struct iocb_stream *st)
{
	char errstr[512] = "";
	struct iocb_err err = {0};
	rd_kafka_t *rk, *old;
	rd_kafka_topic_t *rkt, *old_rkt;

	(void)rd_kafka_fatal_error(st->rk, errstr, sizeof(errstr));
	iocb_log(IOCB_LOG_ERROR, MOD, "\"kafka producer failed for good: recreating it\" topic=\"%s\" error=\"%s\"",
		 st->topic, errstr);
	(void)iocb_kafka_purge_wait(st->rk, PURGE_WAIT_S);
	if (producer_new(st, &rk, &rkt, &err) < 0) {
		iocb_log(IOCB_LOG_ERROR, MOD, "\"kafka producer not recreated\" topic=\"%s\" error=\"%s\"", st->topic,
			 err.msg);
		return; /* still fatal: tried again on the next turn */
	}
	pthread_mutex_lock(&st->mu);
	old = st->rk;
	old_rkt = st->rkt;
	st->rk = rk;
	st->rkt = rkt;
	st->resync = true;
	st->st.producer_restarts++;
	pthread_mutex_unlock(&st->mu);
	atomic_store(&st->fatal, false);
	rd_kafka_topic_destroy(old_rkt);
	rd_kafka_destroy(old);
}

/* ------------------------------------------------------------ thread */

static void *stream_thread(void *arg)
{
	struct iocb_stream *st = arg;

	iocb_store_reader_register();
	while (!atomic_load(&st->stop)) {
		bool resync, resend;

		if (atomic_load(&st->fatal))
			recover_fatal(st);
		pthread_mutex_lock(&st->mu);
		resync = st->resync;
		resend = st->resend.n > 0;
		pthread_mutex_unlock(&st->mu);
		if (resync)
			iocb_stream__baseline(st);
		else if (resend)
			iocb_stream__resend(st);
		rd_kafka_poll(st->rk, POLL_MS);
	}
	iocb_store_reader_unregister();
	return NULL;
}

/* ------------------------------------------------------------ lifetime */

static void on_forced(void *opaque, const struct iocb_kafka_forced *f, const char *user_value)
{
	struct iocb_stream *st = opaque;

	(void)user_value;
	iocb_log(IOCB_LOG_WARN, MOD,
		 "\"kafka property ignored: it is forced so that no change is lost\" topic=\"%s\" key=%s forced=%s",
		 st->topic, f->key, f->value);
}

static int build_conf(struct iocb_stream *st, const struct iocb_stream_opts *o, struct iocb_err *err)
{
	static const char *const defaults[] = {"client.id", "iocbus-stream", "linger.ms", "5", NULL};
	const struct iocb_kafka_conf_spec spec = {
		.where = "bus.kafka.config",
		.defaults = defaults,
		.props = o->config,
		.nprops = o->nconfig,
		.forced = iocb_kafka_producer_forced,
		.nforced = iocb_kafka_producer_nforced,
		.on_forced = on_forced,
		.opaque = st,
		.error_cb = on_error,
		.log_cb = on_log,
		.dr_msg_cb = on_delivery,
	};
	char v[32];
	size_t vlen = sizeof(v);
	int rc = iocb_kafka_conf_build(&spec, &st->conf, err);

	if (rc < 0)
		return rc;
	/* Walks leave half of librdkafka's queue to the listener, which never waits. */
	st->outq_soft = 50000;
	if (rd_kafka_conf_get(st->conf, "queue.buffering.max.messages", v, &vlen) == RD_KAFKA_CONF_OK)
		st->outq_soft = (size_t)strtoull(v, NULL, 10) / 2;
	if (st->outq_soft == 0)
		st->outq_soft = 1;
	return IOCB_OK;
}

static void stream_free(struct iocb_stream *st)
{
	if (st->rkt)
		rd_kafka_topic_destroy(st->rkt);
	if (st->rk)
		rd_kafka_destroy(st->rk);
	if (st->conf)
		rd_kafka_conf_destroy(st->conf);
	iocb_stream__kset_fini(&st->touched);
	iocb_stream__kset_fini(&st->resend);
	iocb_buf_fini(&st->msg);
	iocb_buf_fini(&st->scratch);
	pthread_mutex_destroy(&st->mu);
	free(st->topic);
	free(st);
}

int iocb_stream_start(const struct iocb_stream_opts *o, struct iocb_stream **out, struct iocb_err *err)
{
	struct iocb_stream *st;
	int rc;

	*out = NULL;
	if (!o->topic || !*o->topic)
		return iocb_err_set(err, IOCB_ECONFIG, "bus.kafka.topic is required");
	if (!o->store)
		return iocb_err_set(err, IOCB_EINVAL, "bus.kafka: the indicator stream needs a store");
	st = iocb_xcalloc(1, sizeof(*st));
	st->store = o->store;
	st->topic = iocb_xstrdup(o->topic);
	st->listen_h = -1;
	pthread_mutex_init(&st->mu, NULL);
	iocb_buf_init(&st->msg, IOCB_STREAM__MSG_MAX);
	iocb_buf_init(&st->scratch, IOCB_STREAM__MSG_MAX);
	iocb_stream__kset_init(&st->touched, IOCB_STREAM__SET_MAX);
	iocb_stream__kset_init(&st->resend, IOCB_STREAM__SET_MAX);
	st->rl.interval_s = 1.0;
	rc = build_conf(st, o, err);
	if (rc < 0)
		goto fail;
	rc = producer_new(st, &st->rk, &st->rkt, err);
	if (rc < 0)
		goto fail;
	/*
	 * The listener comes first, the baseline's snapshot (taken by the
	 * thread) after it: every change is in the snapshot or reaches the
	 * listener, or both.
	 */
	st->resync = true;
	rc = iocb_store_listen(o->store, on_change, st);
	if (rc < 0) {
		rc = iocb_err_set(err, IOCB_ELIMIT, "bus.kafka: no store listener slot left");
		goto fail;
	}
	st->listen_h = rc;
	if (pthread_create(&st->thread, NULL, stream_thread, st) != 0) {
		rc = iocb_err_set(err, IOCB_EIO, "bus.kafka: cannot start the stream thread");
		goto fail;
	}
	st->thread_started = true;
	iocb_log(IOCB_LOG_INFO, MOD, "\"indicator stream started\" topic=\"%s\"", st->topic);
	*out = st;
	return IOCB_OK;
fail:
	if (st->listen_h >= 0)
		iocb_store_unlisten(o->store, st->listen_h);
	stream_free(st);
	return rc;
}

void iocb_stream_stop(struct iocb_stream *st)
{
	int left;

	if (!st)
		return;
	/* Once unlisten returns, no listener runs or will run: nothing else produces but us. */
	iocb_store_unlisten(st->store, st->listen_h);
	atomic_store(&st->stop, true);
	if (st->thread_started)
		pthread_join(st->thread, NULL);
	(void)rd_kafka_flush(st->rk, STOP_FLUSH_MS);
	left = rd_kafka_outq_len(st->rk);
	if (left > 0)
		iocb_log(IOCB_LOG_WARN, MOD,
			 "\"indicator stream stopped with messages undelivered: the next start republishes\" "
			 "topic=\"%s\" messages=%d",
			 st->topic, left);
	else
		iocb_log(IOCB_LOG_INFO, MOD, "\"indicator stream stopped\" topic=\"%s\"", st->topic);
	stream_free(st);
}

void iocb_stream_stats(const struct iocb_stream *cst, struct iocb_stream_stats *out)
{
	struct iocb_stream *st = (struct iocb_stream *)cst;
	int q;

	pthread_mutex_lock(&st->mu);
	*out = st->st;
	out->pending = st->resend.n;
	out->resync_pending = st->resync;
	q = rd_kafka_outq_len(st->rk);
	pthread_mutex_unlock(&st->mu);
	out->in_flight = q > 0 ? (uint64_t)q : 0;
	out->delivered = atomic_load_explicit(&st->delivered, memory_order_relaxed);
}
