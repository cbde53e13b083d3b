/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kafka source: MISP's Kafka producer (misp.kafka) into the store.
 *
 * One thread runs a librdkafka high-level consumer. misp.kafka.config goes
 * to librdkafka verbatim on top of our defaults (group.id "iocbus",
 * auto.offset.reset "earliest", client.id "iocbus"); enable.auto.offset.store
 * is forced off because the offset of a message may be stored only once
 * the update it carries is durable: the thread polls (at most 100 ms, so it
 * sees iocb_sources_sync_stop()), drains up to BATCH_MAX messages or BATCH_NS of
 * wall time without waiting, applies each payload through its own struct
 * iocb_ingest, commits the store with iocb_sources_sync_commit() and only then
 * stores each partition's last offset + 1. librdkafka's auto-commit (or the
 * synchronous commit at a revoke and at shutdown) sends the stored offsets
 * to the group coordinator, so a committed Kafka offset never covers an
 * update the store could lose. If the store commit fails, the offsets stay
 * pending here and the next batch retries the commit.
 *
 * Error events, the rebalance callback and the log callback's counters are
 * all served on this thread: rd_kafka_poll_set_consumer() sends the main
 * queue to the consumer queue this thread polls. Only librdkafka's log
 * lines come from its own threads; they go straight to iocb_log().
 */
#include "sources/sources.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "kafka/kafka.h"

#define MOD "kafka"
#define POLL_MS_MAX 100    /* longest poll: how soon stop is seen */
#define BATCH_MAX 4096     /* messages per batch at most */
#define BATCH_NS 2000000LL /* ...or about this much time (2 ms) */
#define BATCH_CLOCK_EVERY 16 /* messages between two clock reads while draining */

struct kafka_source {
	struct iocb_source base;     /* first member: what the daemon holds */
	struct iocb_sources_sync *y;         /* borrowed: shared sync state */
	struct iocb_sources_sync_metrics *m; /* owned by y: our counters ("kafka") */
	struct iocb_ingest *in;      /* owned: applies payloads (source IOCB_SRCID_MISP) */
	rd_kafka_t *rk;              /* owned: the consumer; destroyed by join */
	pthread_t thread;            /* the consumer thread */
	bool thread_started;         /* pthread_create succeeded (join must wait) */
	uint64_t max_message;        /* larger payloads are skipped (bytes) */
	int poll_ms;                 /* consumer poll timeout, <= POLL_MS_MAX */

	/* consumer thread only (librdkafka callbacks included, see the file comment) */
	rd_kafka_topic_partition_list_t *pending; /* applied, not stored yet: offset+1 per partition; NULL none */
	bool applied;                /* the current batch handed something to the ingest */
	bool dirty;                  /* applied but not committed (the last commit failed) */
	struct iocb_ratelimit rl;        /* warnings about bad messages and broker errors */
};


/* A rate-limited warning about a message or a broker error. */
static void warn_limited(struct kafka_source *s, const char *what, const char *topic, int32_t partition,
			 int64_t offset, const char *detail)
{
	uint64_t suppressed;

	if (!iocb_log_enabled(IOCB_LOG_WARN, MOD) || !iocb_ratelimit_ok(&s->rl, &suppressed))
		return;
	iocb_log_(IOCB_LOG_WARN, MOD,
		  "\"%s\" topic=\"%s\" partition=%" PRId32 " offset=%" PRId64 " error=\"%s\" suppressed=%" PRIu64, what,
		  topic ? topic : "", partition, offset, detail ? detail : "", suppressed);
}

/* Store the pending offsets (after the store commit that covers them). */
static void pending_store(struct kafka_source *s)
{
	rd_kafka_resp_err_t e;

	if (!s->pending)
		return;
	e = rd_kafka_offsets_store(s->rk, s->pending);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* Partitions revoked meanwhile refuse the store (ERR__STATE): their
		 * new owner re-reads them, which is safe, only repeated work. */
		iocb_log(IOCB_LOG_DEBUG, MOD, "\"offsets not stored for every partition\" error=\"%s\"",
			 rd_kafka_err2str(e));
	}
	rd_kafka_topic_partition_list_destroy(s->pending);
	s->pending = NULL;
}

/*
 * End of a batch: publish the counters, commit the store if anything was
 * applied (or a failed commit left changes behind), and only then store
 * the offsets. Returns false when the commit failed (offsets kept pending).
 */
static bool finish_batch(struct kafka_source *s)
{
	struct iocb_err err = {0};

	iocb_sources_sync_publish(s->y, s->m, iocb_ingest_stats(s->in), true);
	if (s->applied || s->dirty) {
		if (iocb_sources_sync_commit(s->y, &err) < 0) {
			/* Logged by iocb_sources_sync_commit; retried with the next batch. */
			IOCB_M_ADD(s->m->errors, 1);
			s->dirty = true;
			s->applied = false;
			return false;
		}
		s->dirty = false;
		s->applied = false;
	}
	pending_store(s);
	return true;
}

/* Synchronous commit of the stored offsets of the current assignment. */
static void commit_offsets(struct kafka_source *s, const char *why)
{
	rd_kafka_resp_err_t e = iocb_kafka_commit(s->rk);

	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		IOCB_M_ADD(s->m->errors, 1);
		iocb_log(IOCB_LOG_WARN, MOD, "\"offset commit failed\" when=%s error=\"%s\"", why, rd_kafka_err2str(e));
	}
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
			 void *opaque)
{
	struct kafka_source *s = opaque;
	rd_kafka_resp_err_t e;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		IOCB_M_ADD(s->m->reconnects, 1);
		IOCB_M_SET(s->m->up, 1); /* the group coordinator answered: brokers are reachable */
		iocb_log(IOCB_LOG_INFO, MOD, "\"partitions assigned\" count=%d", parts->cnt);
		e = iocb_kafka_rebalance_apply(rk, parts, true);
	} else {
		if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
			iocb_log(IOCB_LOG_INFO, MOD, "\"partitions revoked\" count=%d", parts->cnt);
		else {
			IOCB_M_ADD(s->m->errors, 1);
			iocb_log(IOCB_LOG_WARN, MOD, "\"rebalance error\" error=\"%s\"", rd_kafka_err2str(err));
		}
		/* What was applied so far is made durable and its offsets committed
		 * before the partitions go to another member. */
		if (finish_batch(s) && !rd_kafka_assignment_lost(rk))
			commit_offsets(s, "revoke");
		e = iocb_kafka_rebalance_apply(rk, parts, false);
	}
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		IOCB_M_ADD(s->m->errors, 1);
		iocb_log(IOCB_LOG_WARN, MOD, "\"assignment change failed\" error=\"%s\"", rd_kafka_err2str(e));
	}
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_source *s = opaque;

	(void)rk;
	IOCB_M_ADD(s->m->errors, 1);
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
		IOCB_M_SET(s->m->up, 0);
	warn_limited(s, "broker error", NULL, -1, -1, reason);
}

/* librdkafka's own log lines (any librdkafka thread). Errors reach on_error too. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	iocb_kafka_log_line(MOD, level, fac, buf);
}

/* One message from rd_kafka_consumer_poll. Returns true if it was a data message. */
static bool handle_message(struct kafka_source *s, const rd_kafka_message_t *msg)
{
	const char *topic = msg->rkt ? rd_kafka_topic_name(msg->rkt) : NULL;
	struct iocb_err err;

	if (msg->err) {
		if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			IOCB_M_ADD(s->m->errors, 1);
			warn_limited(s, "consumer error", topic, msg->partition, msg->offset, rd_kafka_message_errstr(msg));
		}
		return false;
	}
	if (msg->len > s->max_message) {
		s->m->own_rejects[IOCB_SKIP_TOO_LARGE]++;
		warn_limited(s, "message larger than max_message skipped", topic, msg->partition, msg->offset, NULL);
	} else {
		err.msg[0] = '\0';
		/* A null value (tombstone) is parsed as an empty document: counted as not JSON. */
		if (iocb_ingest_doc(s->in, msg->payload ? msg->payload : "", msg->len, "kafka", &err) < 0)
			warn_limited(s, "bad message skipped", topic, msg->partition, msg->offset, err.msg);
		s->applied = true;
	}
	/* Skipped messages are done with too: their offsets are stored like the others. */
	if (topic)
		iocb_kafka_offsets_note(&s->pending, topic, msg->partition, msg->offset);
	return true;
}

static void *kafka_thread(void *arg)
{
	struct kafka_source *s = arg;
	rd_kafka_message_t *msg;

	while (!iocb_sources_sync_stopping(s->y)) {
		uint64_t nmsg = 0, nbytes = 0;

		msg = rd_kafka_consumer_poll(s->rk, s->poll_ms);
		if (!msg) {
			if (s->dirty)
				(void)finish_batch(s);
			continue;
		}
		double t0 = iocb_time_mono_s();
		unsigned n = 0;
		while (msg) {
			if (handle_message(s, msg)) {
				nmsg++;
				nbytes += msg->len;
			}
			rd_kafka_message_destroy(msg);
			if (++n >= BATCH_MAX ||
			    (n % BATCH_CLOCK_EVERY == 0 && (iocb_time_mono_s() - t0) * 1e9 >= (double)BATCH_NS))
				break;
			msg = rd_kafka_consumer_poll(s->rk, 0);
		}
		if (nmsg) {
			IOCB_M_ADD(s->m->messages, nmsg);
			IOCB_M_ADD(s->m->bytes, nbytes);
			IOCB_M_SET(s->m->last_message_us, iocb_time_real_us());
			IOCB_M_SET(s->m->up, 1);
		}
		(void)finish_batch(s);
	}
	/* Shutdown: make the applied updates durable, then commit their offsets. */
	if (finish_batch(s))
		commit_offsets(s, "shutdown");
	rd_kafka_resp_err_t e = rd_kafka_consumer_close(s->rk);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		iocb_log(IOCB_LOG_WARN, MOD, "\"consumer close failed\" error=\"%s\"", rd_kafka_err2str(e));
	iocb_log(IOCB_LOG_INFO, MOD, "\"stopped\"");
	return NULL;
}

static void kafka_source_join(struct iocb_source *base)
{
	struct kafka_source *s = (struct kafka_source *)base;

	if (!s)
		return;
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	if (s->pending)
		rd_kafka_topic_partition_list_destroy(s->pending);
	if (s->rk)
		rd_kafka_destroy(s->rk);
	iocb_ingest_free(s->in);
	free(s);
}

/* A user's enable.auto.offset.store is ignored; say so when it asked for true. */
static void on_forced(void *opaque, const struct iocb_kafka_forced *f, const char *user_value)
{
	(void)opaque;
	(void)f;
	if (iocb_kafka_conf_true(user_value))
		iocb_log(IOCB_LOG_WARN, MOD,
			 "\"enable.auto.offset.store is forced to false: offsets are stored once "
			 "the store has committed the updates\"");
}

/* Build the librdkafka configuration (defaults, then misp.kafka.config, then forced values). */
static int build_conf(struct kafka_source *s, const struct iocb_config *cfg, rd_kafka_conf_t **out,
		      struct iocb_err *err)
{
	static const char *const defaults[] = {"group.id", "iocbus", "auto.offset.reset", "earliest",
					       "client.id", "iocbus", NULL};
	static const struct iocb_kafka_forced forced[] = {{"enable.auto.offset.store", "false", false}};
	const struct iocb_kafka_conf_spec spec = {
		.where = "misp.kafka.config",
		.defaults = defaults,
		.props = cfg->kafka.config,
		.nprops = cfg->kafka.nconfig,
		.forced = forced,
		.nforced = IOCB_ARRAY_LEN(forced),
		.on_forced = on_forced,
		.opaque = s,
		.error_cb = on_error,
		.log_cb = on_log,
		.rebalance_cb = on_rebalance,
	};
	return iocb_kafka_conf_build(&spec, out, err);
}

static void event_tagged(void *ud, uint64_t event_id)
{
	iocb_sources_sync_request_event_refresh(ud, event_id);
}

int iocb_sources_kafka_start(struct iocb_sources_sync *y, struct iocb_source **out, struct iocb_err *err)
{
	const struct iocb_config *cfg = y->cfg;
	struct kafka_source *s = NULL;
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_topic_partition_list_t *topics = NULL;
	rd_kafka_resp_err_t e;
	char errstr[512];
	int rc;

	*out = NULL;
	if (!cfg || !cfg->kafka.present)
		return iocb_err_set(err, IOCB_ECONFIG, "kafka: misp.kafka is not configured");
	if (cfg->kafka.ntopics == 0)
		return iocb_err_set(err, IOCB_ECONFIG, "misp.kafka.topics: no topic to subscribe to");
	s = iocb_xcalloc(1, sizeof(*s));
	s->rl.interval_s = 1.0; /* at most one warning a second */
	s->base.kind = "kafka";
	s->base.join = kafka_source_join;
	s->y = y;
	s->max_message = cfg->kafka.max_message;
	double ms = cfg->kafka.poll_interval * 1000.0;
	s->poll_ms = ms > POLL_MS_MAX ? POLL_MS_MAX : ms < 1 ? 1 : (int)ms;
	s->m = iocb_sources_sync_metrics_add(y, "kafka");
	if (!s->m) {
		rc = iocb_err_set(err, IOCB_ELIMIT, "kafka: too many sources for the metrics table");
		goto out;
	}
	s->in = iocb_ingest_new(y->store, y->filter, IOCB_SRCID_MISP);
	iocb_ingest_set_event_tagged_hook(s->in, event_tagged, y);

	rc = build_conf(s, cfg, &conf, err);
	if (rc < 0)
		goto out;
	s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!s->rk) {
		rc = iocb_err_set(err, IOCB_ECONFIG, "kafka: cannot create the consumer: %s", errstr);
		goto out;
	}
	conf = NULL; /* owned by rk now */
	e = rd_kafka_poll_set_consumer(s->rk);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rc = iocb_err_set(err, IOCB_EIO, "kafka: %s", rd_kafka_err2str(e));
		goto out;
	}
	topics = rd_kafka_topic_partition_list_new((int)cfg->kafka.ntopics);
	for (size_t i = 0; i < cfg->kafka.ntopics; i++)
		rd_kafka_topic_partition_list_add(topics, cfg->kafka.topics[i], RD_KAFKA_PARTITION_UA);
	e = rd_kafka_subscribe(s->rk, topics);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rc = iocb_err_set(err, IOCB_ECONFIG, "kafka: cannot subscribe to misp.kafka.topics: %s",
				  rd_kafka_err2str(e));
		goto out;
	}
	if (pthread_create(&s->thread, NULL, kafka_thread, s) != 0) {
		rc = iocb_err_set(err, IOCB_EIO, "kafka: cannot start the thread");
		goto out;
	}
	s->thread_started = true;
	iocb_log(IOCB_LOG_INFO, MOD, "\"started\" topics=%zu poll_ms=%d", cfg->kafka.ntopics, s->poll_ms);
	*out = &s->base;
	s = NULL;
	rc = IOCB_OK;
out:
	if (topics)
		rd_kafka_topic_partition_list_destroy(topics);
	if (conf)
		rd_kafka_conf_destroy(conf);
	if (s) {
		/* A consumer that never ran still leaves the group cleanly. */
		if (s->rk)
			(void)rd_kafka_consumer_close(s->rk);
		kafka_source_join(&s->base);
	}
	return rc;
}
