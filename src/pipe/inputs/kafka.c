/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kafka log input of `iocbus run`: a high-level consumer whose messages are
 * log events.
 *
 * One thread runs a librdkafka consumer subscribed to cfg->topics, in a
 * consumer group (default group.id "iocbus-logs"), so several iocbus
 * instances share a topic's partitions (docs/scaling.md). Each message
 * value is one event; a value holding several lines is split into them.
 * Lines are gathered into a batch of at most pipeline.batch_bytes (or
 * pipeline.batch_interval_s after its first line) and handed to
 * iocb_pipe__submit() together with the (topic, partition, next offset) of
 * every partition the batch covers.
 *
 * At least once: enable.auto.offset.store is forced off and an offset is
 * stored only in `acked`, i.e. when every output has settled the batch
 * (delivered, dead-lettered or spooled). The core calls `acked` in
 * submission order, so the stored offset of a partition is always a prefix
 * of what was delivered. librdkafka's auto-commit only ever commits stored
 * offsets; a synchronous commit follows every revoke and the shutdown.
 *
 * A rebalance hands the current partial batch on, waits (bounded by
 * pipeline.shutdown_timeout_s) until every outstanding batch is acked,
 * commits, and only then gives the partitions up: the member that gets them
 * next starts after what we delivered instead of replaying it. If the wait
 * runs out, the new owner replays the unacked tail (duplicates, never loss).
 *
 * Threads: everything, librdkafka's callbacks included (rebalance, error:
 * rd_kafka_poll_set_consumer routes the main queue to the consumer queue),
 * runs on the input thread; only librdkafka's log lines come from its own
 * threads and go straight to iocb_log().
 */
#include "pipe/drivers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "core/str.h"
#include "core/log.h"
#include "core/mem.h"
#include "kafka/kafka.h"

#define MOD "pipe"
#define POLL_MS_MAX 100           /* longest consumer poll: how soon stop is seen */
#define REVOKE_WAIT_SLICE_NS 2000000L /* sleep between two ack checks while revoking (2 ms) */

/* One submitted batch's offsets: the ext of its struct iocb_pipe__input_pos. */
struct kin_ack {
	struct kin_ack *next;                  /* next submitted (FIFO of outstanding batches) */
	rd_kafka_topic_partition_list_t *offs; /* owned: next offset per (topic, partition) */
};

struct kafka_in {
	struct iocb_pipe__input *in;             /* borrowed: the input this implements */
	rd_kafka_t *rk;                  /* owned: the consumer; destroyed by join */
	pthread_t thread;                /* the input thread */
	bool thread_started;             /* pthread_create succeeded (join must wait) */
	char label[160];                 /* "kafka input \"name\"" for messages */

	/* pipeline keys, resolved at init */
	size_t batch_bytes;              /* submit once the batch holds this much */
	double batch_interval_s;         /* ... or this long after its first line */
	double shutdown_timeout_s;       /* longest wait for acks at a revoke */

	/* input thread only (librdkafka callbacks included, see the file comment) */
	struct iocb_buf batch;           /* whole lines, each ending in '\n' */
	rd_kafka_topic_partition_list_t *batch_offs; /* offsets the batch covers; NULL = none yet */
	double batch_t0;                 /* monotonic time of the batch's first message */
	struct kin_ack *ack_head, *ack_tail; /* submitted, not acked yet, in order */
	uint64_t outstanding;            /* entries in that FIFO */
	struct iocb_ratelimit rl;        /* warnings about bad messages and broker errors */
};

/* The pipeline keys this input needs. */
static void pipeline_params(struct kafka_in *k)
{
	const struct iocb_config *cfg = iocb_pipe__config(k->in->pipe);

	k->batch_bytes = cfg->pipeline.batch_bytes ? (size_t)cfg->pipeline.batch_bytes : 1;
	k->batch_interval_s = cfg->pipeline.batch_interval_s;
	k->shutdown_timeout_s = cfg->pipeline.shutdown_timeout_s;
}

/* A rate-limited warning about a message or a broker error. */
static void warn_limited(struct kafka_in *k, const char *what, const char *topic, int32_t partition,
			 int64_t offset, const char *detail)
{
	uint64_t suppressed;

	if (!iocb_log_enabled(IOCB_LOG_WARN, MOD) || !iocb_ratelimit_ok(&k->rl, &suppressed))
		return;
	iocb_log_(IOCB_LOG_WARN, MOD,
		  "\"%s\" input=\"%s\" topic=\"%s\" partition=%" PRId32 " offset=%" PRId64
		  " error=\"%s\" suppressed=%" PRIu64,
		  what, k->in->cfg->name, topic ? topic : "", partition, offset, detail ? detail : "", suppressed);
}

/* ------------------------------------------------------------------ acks */

/* Store the offsets of a batch every output settled (input thread, from the core). */
static void kin_acked(struct iocb_pipe__input *in, const struct iocb_pipe__input_pos *pos)
{
	struct kafka_in *k = in->impl;
	struct kin_ack *a = pos->ext;
	rd_kafka_resp_err_t e;

	if (!a)
		return;
	/* Acks come in submission order: `a` is the head of our FIFO. */
	if (a != k->ack_head)
		iocb_log(IOCB_LOG_ERROR, MOD, "\"kafka ack out of order\" input=\"%s\"", in->cfg->name);
	for (struct kin_ack **pp = &k->ack_head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			if (k->ack_tail == a)
				k->ack_tail = prev;
			k->outstanding--;
			break;
		}
	}
	/* A batch cut inside a long message covers no whole message: nothing to store. */
	e = a->offs ? rd_kafka_offsets_store(k->rk, a->offs) : RD_KAFKA_RESP_ERR_NO_ERROR;
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* Partitions revoked meanwhile refuse the store (ERR__STATE): their
		 * new owner re-reads them, which is repeated work, never loss. */
		iocb_log(IOCB_LOG_DEBUG, MOD, "\"offsets not stored for every partition\" input=\"%s\" error=\"%s\"",
			 in->cfg->name, rd_kafka_err2str(e));
	}
	if (a->offs)
		rd_kafka_topic_partition_list_destroy(a->offs);
	free(a);
}

/* Free what was never acked (after the thread stopped: no `acked` call can follow). */
static void free_unacked(struct kafka_in *k)
{
	while (k->ack_head) {
		struct kin_ack *a = k->ack_head;
		k->ack_head = a->next;
		if (a->offs)
			rd_kafka_topic_partition_list_destroy(a->offs);
		free(a);
	}
	k->ack_tail = NULL;
	k->outstanding = 0;
}

/* ---------------------------------------------------------------- batches */

static void batch_reset(struct kafka_in *k)
{
	iocb_buf_reset(&k->batch);
	if (k->batch_offs)
		rd_kafka_topic_partition_list_destroy(k->batch_offs);
	k->batch_offs = NULL;
}

/*
 * Hand the current batch to the pipe with the offsets it covers. Returns
 * IOCB_ECANCELED when the pipe stops (the batch is dropped: its offsets were
 * never stored, so it is read again after a restart).
 */
static int batch_submit(struct kafka_in *k)
{
	struct iocb_pipe__input_pos pos = {0};
	struct kin_ack *a;
	int rc;

	if (!k->batch_offs && k->batch.len == 0)
		return IOCB_OK; /* nothing consumed since the last submit */
	a = iocb_xcalloc(1, sizeof(*a));
	a->offs = k->batch_offs;
	k->batch_offs = NULL;
	pos.ext = a;
	/* Queue it before submitting: submit may deliver its ack at once. */
	if (k->ack_tail)
		k->ack_tail->next = a;
	else
		k->ack_head = a;
	k->ack_tail = a;
	k->outstanding++;
	rc = iocb_pipe__submit(k->in, k->batch.ptr ? k->batch.ptr : "", k->batch.len, &pos);
	if (rc < 0) {
		/* Not taken: unlink `a` (still the tail, nothing was submitted since). */
		struct kin_ack **pp = &k->ack_head;
		while (*pp && *pp != a)
			pp = &(*pp)->next;
		if (*pp) {
			*pp = NULL;
			k->ack_tail = NULL;
			for (struct kin_ack *t = k->ack_head; t; t = t->next)
				k->ack_tail = t;
			k->outstanding--;
		}
		if (a->offs)
			rd_kafka_topic_partition_list_destroy(a->offs);
		free(a);
	}
	iocb_buf_reset(&k->batch);
	return rc;
}

/*
 * Append one line (without its '\n') of a message, or reject it when too
 * long. The batch is handed on first when the line would take it past
 * batch_bytes, so a batch stays near batch_bytes even for a huge message of
 * many lines (that part then covers no offset: the message is not done yet).
 */
static int add_line(struct kafka_in *k, const char *p, size_t n, const char *topic, int32_t partition,
		    int64_t offset)
{
	int rc;

	if (n == 0)
		return IOCB_OK;
	if (k->in->max_line && n > k->in->max_line) {
		char where[256];
		snprintf(where, sizeof(where), "%s/%" PRId32 "@%" PRId64, topic, partition, offset);
		iocb_pipe__input_reject(k->in, IOCB_REJ_TOO_LONG, where, n);
		return IOCB_OK;
	}
	if (k->batch.len > 0 && k->batch.len + n + 1 > k->batch_bytes) {
		rc = batch_submit(k);
		if (rc < 0)
			return rc;
	}
	if (k->batch.len == 0 && !k->batch_offs)
		k->batch_t0 = iocb_time_mono_s();
	/* The batch needs no cap of its own: a line is at most max_line and the
	 * batch is handed on before it would pass batch_bytes. */
	if (iocb_buf_append(&k->batch, p, n) < 0 || iocb_buf_putc(&k->batch, '\n') < 0) {
		IOCB_M_ADD(k->in->m.errors, 1);
		warn_limited(k, "line dropped: out of batch memory", topic, partition, offset, NULL);
	}
	return IOCB_OK;
}

/* One message from the consumer. Returns IOCB_ECANCELED when a submit found the pipe stopping. */
static int handle_message(struct kafka_in *k, const rd_kafka_message_t *msg)
{
	const char *topic = msg->rkt ? rd_kafka_topic_name(msg->rkt) : NULL;
	const char *p = msg->payload, *end;
	size_t len = msg->len;
	int rc;

	if (msg->err) {
		if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			IOCB_M_ADD(k->in->m.errors, 1);
			warn_limited(k, "consumer error", topic, msg->partition, msg->offset,
				     rd_kafka_message_errstr(msg));
		}
		return IOCB_OK;
	}
	if (!topic)
		return IOCB_OK;
	if (p) {
		end = p + len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *stop = nl ? nl : end;
			rc = add_line(k, p, (size_t)(stop - p), topic, msg->partition, msg->offset);
			if (rc < 0)
				return rc;
			p = nl ? nl + 1 : end;
		}
	}
	/* Empty and rejected values are done with too: their offsets go with the batch. */
	if (k->batch.len == 0 && !k->batch_offs)
		k->batch_t0 = iocb_time_mono_s();
	iocb_kafka_offsets_note(&k->batch_offs, topic, msg->partition, msg->offset);
	if (k->batch.len >= k->batch_bytes)
		return batch_submit(k);
	return IOCB_OK;
}

/* ------------------------------------------------------------- rebalance */

/* Synchronous commit of the stored offsets of the current assignment. */
static void commit_offsets(struct kafka_in *k, const char *why)
{
	rd_kafka_resp_err_t e = iocb_kafka_commit(k->rk);

	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		IOCB_M_ADD(k->in->m.errors, 1);
		iocb_log(IOCB_LOG_WARN, MOD, "\"kafka offset commit failed\" input=\"%s\" when=%s error=\"%s\"",
			 k->in->cfg->name, why, rd_kafka_err2str(e));
	}
}

/*
 * Before partitions are given up: hand the partial batch on and wait until
 * every outstanding batch is acked (their offsets stored), bounded by
 * shutdown_timeout_s. Returns true when nothing is left outstanding.
 */
static bool settle_outstanding(struct kafka_in *k)
{
	double deadline;

	if (!iocb_pipe__input_stopping(k->in))
		(void)batch_submit(k); /* ECANCELED: dropped, read again later */
	else
		batch_reset(k);
	deadline = iocb_time_mono_s() + k->shutdown_timeout_s;
	iocb_pipe__input_poll_acks(k->in);
	while (k->outstanding > 0 && iocb_time_mono_s() < deadline) {
		if (iocb_pipe__input_stopping(k->in)) {
			/* The pipe is stopping: iocb_pipe__input_drain bounds the wait by the shutdown deadline. */
			(void)iocb_pipe__input_drain(k->in);
			break;
		}
		iocb_time_sleep_s(REVOKE_WAIT_SLICE_NS / 1e9);
		iocb_pipe__input_poll_acks(k->in);
	}
	if (k->outstanding > 0)
		iocb_log(IOCB_LOG_WARN, MOD,
			 "\"partitions revoked with batches not acknowledged: the next owner replays them\" "
			 "input=\"%s\" batches=%" PRIu64,
			 k->in->cfg->name, k->outstanding);
	return k->outstanding == 0;
}

/* The partitions held now (a cooperative rebalance changes them piecewise). */
static void log_assignment(struct kafka_in *k, rd_kafka_t *rk)
{
	rd_kafka_topic_partition_list_t *parts = NULL;

	if (!iocb_log_enabled(IOCB_LOG_INFO, MOD))
		return;
	if (rd_kafka_assignment(rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || !parts)
		return;
	iocb_log_(IOCB_LOG_INFO, MOD, "\"kafka assignment\" input=\"%s\" partitions=%d", k->in->cfg->name, parts->cnt);
	rd_kafka_topic_partition_list_destroy(parts);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
			 void *opaque)
{
	struct kafka_in *k = opaque;
	rd_kafka_resp_err_t e;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		iocb_log(IOCB_LOG_INFO, MOD, "\"kafka partitions assigned\" input=\"%s\" count=%d", k->in->cfg->name,
			 parts->cnt);
		e = iocb_kafka_rebalance_apply(rk, parts, true);
	} else {
		if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
			iocb_log(IOCB_LOG_INFO, MOD, "\"kafka partitions revoked\" input=\"%s\" count=%d",
				 k->in->cfg->name, parts->cnt);
		} else {
			IOCB_M_ADD(k->in->m.errors, 1);
			iocb_log(IOCB_LOG_WARN, MOD, "\"kafka rebalance error\" input=\"%s\" error=\"%s\"",
				 k->in->cfg->name, rd_kafka_err2str(err));
		}
		/* What was delivered so far gets its offsets committed before another
		 * member takes the partitions (a lost assignment cannot commit). */
		(void)settle_outstanding(k);
		if (!rd_kafka_assignment_lost(rk))
			commit_offsets(k, "revoke");
		e = iocb_kafka_rebalance_apply(rk, parts, false);
	}
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		IOCB_M_ADD(k->in->m.errors, 1);
		iocb_log(IOCB_LOG_WARN, MOD, "\"kafka assignment change failed\" input=\"%s\" error=\"%s\"",
			 k->in->cfg->name, rd_kafka_err2str(e));
	}
	log_assignment(k, rk);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_in *k = opaque;

	(void)rk;
	(void)err;
	IOCB_M_ADD(k->in->m.errors, 1);
	warn_limited(k, "kafka broker error", NULL, -1, -1, reason);
}

/* librdkafka's own log lines (any librdkafka thread). Errors reach on_error too. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	iocb_kafka_log_line(MOD, level, fac, buf);
}

/* ----------------------------------------------------------------- thread */

static void *kin_thread(void *arg)
{
	struct kafka_in *k = arg;
	struct iocb_pipe__input *in = k->in;
	rd_kafka_message_t *msg;
	rd_kafka_resp_err_t e;

	iocb_pipe__input_thread_enter(in);
	while (!iocb_pipe__input_stopping(in)) {
		int timeout_ms = POLL_MS_MAX;

		iocb_pipe__input_poll_acks(in);
		if (k->batch_offs || k->batch.len > 0) {
			/* A partial batch waits at most batch_interval_s. */
			double left = k->batch_t0 + k->batch_interval_s - iocb_time_mono_s();
			if (left <= 0) {
				if (batch_submit(k) < 0)
					break;
				continue;
			}
			if (left * 1000.0 < timeout_ms)
				timeout_ms = (int)(left * 1000.0) + 1;
		}
		msg = rd_kafka_consumer_poll(k->rk, timeout_ms);
		if (!msg)
			continue;
		int rc = handle_message(k, msg);
		rd_kafka_message_destroy(msg);
		if (rc < 0)
			break;
	}
	/*
	 * Stop: the partial batch is dropped (its offsets were never stored, a
	 * restart reads it again); what was submitted is waited for, bounded by
	 * the shutdown deadline, and its offsets committed.
	 */
	batch_reset(k);
	if (!iocb_pipe__input_drain(in))
		iocb_log(IOCB_LOG_WARN, MOD,
			 "\"kafka input stopped with batches not acknowledged: they are read again\" input=\"%s\" "
			 "batches=%" PRIu64,
			 in->cfg->name, k->outstanding);
	commit_offsets(k, "shutdown");
	/* close revokes the assignment: on_rebalance commits again, harmlessly. */
	e = rd_kafka_consumer_close(k->rk);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		iocb_log(IOCB_LOG_WARN, MOD, "\"kafka consumer close failed\" input=\"%s\" error=\"%s\"", in->cfg->name,
			 rd_kafka_err2str(e));
	free_unacked(k);
	iocb_log(IOCB_LOG_INFO, MOD, "\"kafka input stopped\" input=\"%s\"", in->cfg->name);
	iocb_pipe__input_thread_leave(in);
	return NULL;
}

static int kin_start(struct iocb_pipe__input *in, struct iocb_err *err)
{
	struct kafka_in *k = in->impl;

	if (pthread_create(&k->thread, NULL, kin_thread, k) != 0)
		return iocb_err_set(err, IOCB_EIO, "%s: cannot start the thread", k->label);
	k->thread_started = true;
	return IOCB_OK;
}

static void kin_join(struct iocb_pipe__input *in)
{
	struct kafka_in *k = in->impl;

	if (!k)
		return;
	if (k->thread_started)
		pthread_join(k->thread, NULL);
	else if (k->rk)
		(void)rd_kafka_consumer_close(k->rk); /* never ran: still leave the group cleanly */
	batch_reset(k);
	free_unacked(k);
	iocb_buf_fini(&k->batch);
	if (k->rk)
		rd_kafka_destroy(k->rk);
	free(k);
	in->impl = NULL;
}

static const struct iocb_pipe__input_ops kafka_in_ops = {
	.kind = "kafka",
	.start = kin_start,
	.join = kin_join,
	.acked = kin_acked,
};

/* ------------------------------------------------------------------- init */

/* A user's enable.auto.offset.store is ignored; say so when it asked for true. */
static void on_forced(void *opaque, const struct iocb_kafka_forced *f, const char *user_value)
{
	struct kafka_in *k = opaque;

	(void)f;
	if (iocb_kafka_conf_true(user_value))
		iocb_log(IOCB_LOG_WARN, MOD,
			 "\"enable.auto.offset.store is forced to false: offsets are stored once "
			 "every output has the events\" input=\"%s\"",
			 k->in->cfg->name);
}

/* Our defaults, then the user's properties verbatim, then the forced ones. */
static int build_conf(struct kafka_in *k, rd_kafka_conf_t **out, struct iocb_err *err)
{
	static const char *const defaults[] = {"group.id", "iocbus-logs", "auto.offset.reset", "earliest",
					       "client.id", "iocbus", NULL};
	static const struct iocb_kafka_forced forced[] = {{"enable.auto.offset.store", "false", false}};
	const struct iocb_config_input *c = k->in->cfg;
	const struct iocb_kafka_conf_spec spec = {
		.where = c->where ? c->where : "inputs",
		.label = k->label,
		.defaults = defaults,
		.props = c->kafka,
		.nprops = c->nkafka,
		.forced = forced,
		.nforced = IOCB_ARRAY_LEN(forced),
		.on_forced = on_forced,
		.opaque = k,
		.error_cb = on_error,
		.log_cb = on_log,
		.rebalance_cb = on_rebalance,
	};
	return iocb_kafka_conf_build(&spec, out, err);
}

int iocb_pipe__input_kafka_init(struct iocb_pipe__input *in, struct iocb_err *err)
{
	const struct iocb_config_input *c = in->cfg;
	struct kafka_in *k;
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_topic_partition_list_t *topics = NULL;
	rd_kafka_resp_err_t e;
	char errstr[512];
	int rc;

	k = iocb_xcalloc(1, sizeof(*k));
	k->in = in;
	k->rl.interval_s = 1.0; /* at most one warning a second */
	snprintf(k->label, sizeof(k->label), "kafka input \"%s\"", c->name ? c->name : "");
	pipeline_params(k);
	iocb_buf_init(&k->batch, 0); /* bounded by batch_bytes + max_line, see add_line */

	if (c->ntopics == 0) {
		rc = iocb_err_set(err, IOCB_ECONFIG, "%s: %s: topics: no topic to subscribe to",
				  c->where ? c->where : "inputs", k->label);
		goto out;
	}
	rc = build_conf(k, &conf, err);
	if (rc < 0)
		goto out;
	k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!k->rk) {
		rc = iocb_err_set(err, IOCB_ECONFIG, "%s: %s: cannot create the consumer: %s",
				  c->where ? c->where : "inputs", k->label, errstr);
		goto out;
	}
	conf = NULL; /* owned by rk now */
	e = rd_kafka_poll_set_consumer(k->rk);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rc = iocb_err_set(err, IOCB_EIO, "%s: %s", k->label, rd_kafka_err2str(e));
		goto out;
	}
	topics = rd_kafka_topic_partition_list_new((int)c->ntopics);
	for (size_t i = 0; i < c->ntopics; i++)
		rd_kafka_topic_partition_list_add(topics, c->topics[i], RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(k->rk, topics);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rc = iocb_err_set(err, IOCB_ECONFIG, "%s: %s: cannot subscribe to the topics: %s",
				  c->where ? c->where : "inputs", k->label, rd_kafka_err2str(e));
		goto out;
	}
	in->ops = &kafka_in_ops;
	in->impl = k;
	iocb_log(IOCB_LOG_INFO, MOD, "\"kafka input ready\" input=\"%s\" topics=%zu", c->name, c->ntopics);
	k = NULL;
	rc = IOCB_OK;
out:
	if (topics)
		rd_kafka_topic_partition_list_destroy(topics);
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (k) {
		if (k->rk) {
			(void)rd_kafka_consumer_close(k->rk);
			rd_kafka_destroy(k->rk);
		}
		iocb_buf_fini(&k->batch);
		free(k);
	}
	return rc;
}
