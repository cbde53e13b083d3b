/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kafka output of `iocbus run`: every enriched line becomes one message on
 * cfg->topic.
 *
 * One thread pops batches from the output's queue and produces their lines
 * with an idempotent producer (enable.idempotence=true, acks=all: forced,
 * because the pipeline's promise is "never lose", and the idempotent
 * producer is what lets librdkafka retry without duplicating or
 * reordering). Payloads are not copied: they point into the batch, which
 * stays alive until every one of its lines has a delivery report, and the
 * batch is settled only then. The message key is NULL (key: none), the hex
 * line id (key: id), or the value of a field of the line (key: a dotted
 * path, e.g. source.ip; missing -> NULL key).
 *
 * Never lose: a message whose delivery fails for good (message.timeout.ms
 * ran out, the topic is unknown, ...) is produced again after a backoff;
 * only a message Kafka can never take (larger than message.max.bytes, or
 * refused as invalid) goes to the dead-letter file. A full librdkafka queue
 * (ERR__QUEUE_FULL) is waited out by serving delivery reports, which is how
 * backpressure reaches the queue and the inputs. A fatal producer error
 * (idempotence state lost) recreates the producer after purging it, and
 * every message not yet delivered is produced again.
 *
 * Shutdown: keep delivering until the queue is closed and empty and every
 * batch is settled, or until the shutdown deadline; then purge librdkafka
 * and write every batch not fully delivered to the spool, once each (lines
 * already delivered come again after the restart: at least once).
 *
 * Threads: everything, the delivery report and error callbacks included
 * (served by rd_kafka_poll), runs on the output thread. The queue's notify
 * hook (an input thread) only calls rd_kafka_yield() under `rk_mu`, so a
 * producer being recreated is never touched. librdkafka's log lines come
 * from its own threads and go straight to iocb_log().
 */
#include "pipe/drivers.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>

#include "core/str.h"
#include "core/log.h"
#include "core/mem.h"
#include "json/json.h"
#include "kafka/kafka.h"

#define MOD "pipe"
#define POLL_MS_MAX 100       /* longest idle poll: how soon shutdown is seen without a notify */
#define QUEUE_FULL_POLL_MS 10 /* wait for delivery reports when librdkafka's queue is full */
#define KEY_MAX 1024          /* a field key longer than this is cut (keys only pick a partition) */
#define PURGE_WAIT_S 5.0      /* longest wait for the reports of purged messages */

enum key_kind {
	KEY_NONE = 0, /* NULL key: librdkafka spreads messages over partitions */
	KEY_ID,       /* hex of the line id (XXH3-128 of the input line) */
	KEY_FIELD,    /* value of a field of the line */
};

struct kafka_out;

/* A batch being produced: the opaque of each of its messages. */
struct kbatch {
	struct kafka_out *k;      /* owner */
	struct iocb_pipe__batch *b;    /* our share; NULL once settled or spilled */
	uint32_t left;            /* lines not delivered nor dead-lettered (+1 while producing) */
	uint32_t dr_pending;      /* messages in librdkafka without a delivery report yet */
	int64_t t0_us;            /* wall clock of the first produce (latency) */
	struct kbatch *prev, *next; /* list of batches not settled */
};

/* A message to produce again (its delivery failed, or produce refused it for now). */
struct kretry {
	struct kretry *next;
	struct kbatch *kb;        /* its batch (holds the payload) */
	const char *payload;      /* into kb->b->data */
	size_t len;
	char *key;                /* owned copy, or NULL */
	size_t klen;
	double not_before;        /* monotonic time it may be produced again */
};

struct kafka_out {
	struct iocb_pipe__output *out;    /* borrowed: the output this implements */
	rd_kafka_conf_t *conf;    /* owned: template the producer is (re)created from */
	pthread_mutex_t rk_mu;    /* guards rk against the notify hook while it is recreated */
	rd_kafka_t *rk;           /* owned: the producer */
	rd_kafka_topic_t *rkt;    /* owned: cfg->topic on rk */
	pthread_t thread;
	bool thread_started;
	char label[160];          /* "kafka output \"name\"" for messages */
	enum key_kind key_kind;
	const char *key_path;     /* KEY_FIELD: dotted path (borrowed from cfg) */
	double retry_initial_s, retry_max_s; /* backoff of messages produced again */

	/* output thread only (callbacks included) */
	struct kbatch *head, *tail; /* batches not settled, oldest first */
	struct kretry *rhead, *rtail; /* messages to produce again, in failure order */
	unsigned fail_streak;     /* failure rounds since the last success (backoff exponent) */
	double streak_bumped;     /* monotonic time fail_streak last grew */
	bool fatal;               /* the producer raised a fatal error: recreate it */
	bool discarding;          /* shutdown purge: failed reports are neither retried nor counted */
	struct iocb_ratelimit rl; /* warnings */
};

/* ---------------------------------------------------------------- helpers */


static void warn_limited(struct kafka_out *k, const char *what, const char *detail)
{
	uint64_t suppressed;

	if (!iocb_log_enabled(IOCB_LOG_WARN, MOD) || !iocb_ratelimit_ok(&k->rl, &suppressed))
		return;
	iocb_log_(IOCB_LOG_WARN, MOD, "\"%s\" output=\"%s\" error=\"%s\" suppressed=%" PRIu64, what,
		  k->out->cfg->name, detail ? detail : "", suppressed);
}

/* Copy a scalar value token into out (strings decoded). False for null, objects, arrays. */
static bool scalar_text(const struct iocb_json_tok *t, char *out, size_t cap, size_t *olen)
{
	size_t n;

	switch (t->type) {
	case IOCB_JSON_STR:
		if (!t->escaped) {
			n = t->s.len < cap ? t->s.len : cap;
			memcpy(out, t->s.ptr, n);
			*olen = n;
			return true;
		}
		return iocb_json_unescape(t, out, cap, olen) == IOCB_OK;
	case IOCB_JSON_NUM:
		n = t->s.len < cap ? t->s.len : cap;
		memcpy(out, t->s.ptr, n);
		*olen = n;
		return true;
	case IOCB_JSON_TRUE:
		*olen = 4;
		memcpy(out, "true", 4);
		return true;
	case IOCB_JSON_FALSE:
		*olen = 5;
		memcpy(out, "false", 5);
		return true;
	default:
		return false;
	}
}

/*
 * The value of the field at dotted `path` in the JSON object `line`, into
 * out[cap]. At each level a member named by the whole rest of the path
 * matches (flat "source.ip" keys), else one named by its next segment whose
 * value is an object is entered. False when missing, not a scalar, or the
 * line is not a JSON object (the message then gets a NULL key).
 */
static bool field_value(const char *line, size_t len, const char *path, char *out, size_t cap, size_t *olen)
{
	struct iocb_json_parser p;
	struct iocb_json_tok k, t;
	const char *rest = path;
	size_t rlen = strlen(path);

	iocb_json_init(&p, line, len, 0, false);
	if (iocb_json_next(&p, &t, NULL) < 0 || t.type != IOCB_JSON_OBJ)
		return false;
	for (;;) {
		char kbuf[256];
		struct iocb_str key;
		bool whole, prefix;

		if (iocb_json_next_member(&p, &k, &t, NULL) <= 0)
			return false; /* end of the object (missing) or bad JSON */
		key = k.s;
		if (k.escaped) {
			size_t n;
			if (iocb_json_unescape(&k, kbuf, sizeof(kbuf), &n) < 0)
				n = 0; /* too long for a path segment: cannot match */
			key = iocb_str_make(kbuf, n);
		}
		whole = key.len == rlen && memcmp(key.ptr, rest, rlen) == 0;
		prefix = key.len > 0 && key.len < rlen && rest[key.len] == '.' && memcmp(key.ptr, rest, key.len) == 0;
		if (whole)
			return scalar_text(&t, out, cap, olen);
		if (prefix && t.type == IOCB_JSON_OBJ) {
			rest += key.len + 1;
			rlen -= key.len + 1;
			continue; /* now scanning that object's members */
		}
		if (iocb_json_skip(&p, &t, NULL) < 0)
			return false;
	}
}

static void set_failing(struct kafka_out *k)
{
	IOCB_M_SET(k->out->m.up, 0);
	if (IOCB_M_GET(k->out->m.failing_since_us) == 0)
		IOCB_M_SET(k->out->m.failing_since_us, iocb_time_real_us());
}

/*
 * One more failure. Messages fail in bursts (a broker down fails every
 * message in flight at once), so the backoff exponent grows at most once
 * per retry_initial_s: a burst is one round, not a thousand.
 */
static void note_failure(struct kafka_out *k)
{
	double now = iocb_time_mono_s();

	set_failing(k);
	if (k->fail_streak < 30 && now - k->streak_bumped >= k->retry_initial_s) {
		k->fail_streak++;
		k->streak_bumped = now;
	}
}

/* ------------------------------------------------------------ batch state */

static void kbatch_unlink(struct kafka_out *k, struct kbatch *kb)
{
	if (kb->prev)
		kb->prev->next = kb->next;
	else
		k->head = kb->next;
	if (kb->next)
		kb->next->prev = kb->prev;
	else
		k->tail = kb->prev;
	kb->prev = kb->next = NULL;
}

/* One line of kb is done (delivered or dead-lettered); the last one settles the batch. */
static void line_done(struct kafka_out *k, struct kbatch *kb)
{
	if (--kb->left > 0)
		return;
	IOCB_M_ADD(k->out->m.batches, 1);
	iocb_pipe__output_observe_latency(&k->out->m, (double)(iocb_time_real_us() - kb->t0_us) / 1e6);
	kbatch_unlink(k, kb);
	iocb_pipe__batch_settle(kb->b);
	/* left == 0 means every message has had its report: nothing refers to kb any more. */
	free(kb);
}

/* Remember a message to produce again after a backoff. */
static void retry_add(struct kafka_out *k, struct kbatch *kb, const char *payload, size_t len, const void *key,
		      size_t klen)
{
	struct kretry *r = iocb_xcalloc(1, sizeof(*r));
	double rmax = k->retry_max_s;

	r->kb = kb;
	r->payload = payload;
	r->len = len;
	if (key) {
		r->key = iocb_xmalloc(klen ? klen : 1);
		memcpy(r->key, key, klen);
		r->klen = klen;
	}
	r->not_before = iocb_time_mono_s() + iocb_pipe__backoff(k->retry_initial_s, rmax, k->fail_streak);
	if (k->rtail)
		k->rtail->next = r;
	else
		k->rhead = r;
	k->rtail = r;
}

static void retry_free_all(struct kafka_out *k)
{
	while (k->rhead) {
		struct kretry *r = k->rhead;
		k->rhead = r->next;
		free(r->key);
		free(r);
	}
	k->rtail = NULL;
}

/* Errors a retry cannot cure: the message goes to the dead-letter file. Its "status" for the counters. */
static int permanent_status(rd_kafka_resp_err_t e)
{
	switch (e) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
		return 413;
	case RD_KAFKA_RESP_ERR_INVALID_MSG:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
		return 400;
	default:
		return 0;
	}
}

static void dead_letter(struct kafka_out *k, int status, rd_kafka_resp_err_t e, const char *payload, size_t len)
{
	IOCB_M_ADD(k->out->m.dead[status], 1);
	iocb_pipe__dlq_write(k->out->dlq, k->out->cfg->name, status, rd_kafka_err2str(e), payload, len);
	warn_limited(k, "kafka message dead-lettered", rd_kafka_err2str(e));
}

/* --------------------------------------------------------- librdkafka cbs */

/* A delivery report (output thread, from rd_kafka_poll/flush). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kafka_out *k = opaque;
	struct kbatch *kb = m->_private;
	int status;

	(void)rk;
	IOCB_M_SUB(k->out->m.in_flight, 1);
	kb->dr_pending--;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		IOCB_M_ADD(k->out->m.events, 1);
		IOCB_M_ADD(k->out->m.bytes, m->len);
		IOCB_M_ADD(k->out->m.requests, 1);
		IOCB_M_SET(k->out->m.up, 1);
		IOCB_M_SET(k->out->m.failing_since_us, 0);
		k->fail_streak = 0;
		if (kb->b)
			line_done(k, kb);
		else if (kb->dr_pending == 0)
			free(kb); /* spilled: its last report */
		return;
	}
	if (!kb->b) {
		/* The batch went to the spool already: this report changes nothing. */
		if (kb->dr_pending == 0)
			free(kb);
		return;
	}
	if (k->discarding)
		return; /* shutdown purge: the batch is about to be spilled whole */
	status = permanent_status(m->err);
	if (status) {
		dead_letter(k, status, m->err, m->payload, m->len);
		line_done(k, kb);
		return;
	}
	/* Purged for a producer restart, timed out, topic unknown...: produce it again. */
	if (m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE && m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
		IOCB_M_ADD(k->out->m.errors, 1);
		IOCB_M_ADD(k->out->m.retries[0], 1);
		warn_limited(k, "kafka delivery failed, producing again", rd_kafka_err2str(m->err));
		note_failure(k);
	}
	retry_add(k, kb, m->payload, m->len, m->key, m->key_len);
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_out *k = opaque;

	(void)rk;
	IOCB_M_ADD(k->out->m.errors, 1);
	if (err == RD_KAFKA_RESP_ERR__FATAL)
		k->fatal = true;
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__FATAL)
		set_failing(k);
	warn_limited(k, "kafka producer error", reason);
}

/* librdkafka's own log lines (any librdkafka thread). Errors reach on_error too. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	(void)rk;
	iocb_kafka_log_line(MOD, level, fac, buf);
}

/* Queue notify hook (a pushing thread): wake the output thread out of rd_kafka_poll. */
static void on_push(void *ctx)
{
	struct kafka_out *k = ctx;

	pthread_mutex_lock(&k->rk_mu);
	if (k->rk)
		rd_kafka_yield(k->rk);
	pthread_mutex_unlock(&k->rk_mu);
}

/* --------------------------------------------------------------- produce */

/*
 * Produce one message of kb. Waits out a full librdkafka queue by serving
 * delivery reports (backpressure). Returns IOCB_OK (handed to librdkafka),
 * IOCB_EINVAL (dead-lettered: kb's line is done), IOCB_EAGAIN (put on the
 * retry list) or IOCB_ECANCELED (the shutdown deadline passed while
 * waiting: the batch will be spilled whole).
 */
static int produce_one(struct kafka_out *k, struct kbatch *kb, const char *payload, size_t len, const void *key,
		       size_t klen)
{
	for (;;) {
		rd_kafka_resp_err_t e;
		int status;

		if (rd_kafka_produce(k->rkt, RD_KAFKA_PARTITION_UA, 0, (void *)payload, len, key, klen, kb) == 0) {
			kb->dr_pending++;
			IOCB_M_ADD(k->out->m.in_flight, 1);
			return IOCB_OK;
		}
		e = rd_kafka_last_error();
		if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			if (iocb_pipe__queue_shutdown_left(k->out->q) <= 0)
				return IOCB_ECANCELED;
			rd_kafka_poll(k->rk, QUEUE_FULL_POLL_MS);
			continue;
		}
		status = permanent_status(e);
		if (status) {
			dead_letter(k, status, e, payload, len);
			return IOCB_EINVAL;
		}
		/* Unknown topic or partition, fatal state: later, after a backoff. */
		IOCB_M_ADD(k->out->m.errors, 1);
		warn_limited(k, "kafka produce refused, trying again later", rd_kafka_err2str(e));
		if (e == RD_KAFKA_RESP_ERR__FATAL)
			k->fatal = true;
		note_failure(k);
		retry_add(k, kb, payload, len, key, klen);
		return IOCB_EAGAIN;
	}
}

/* Produce every line of b (our share). Returns IOCB_ECANCELED when the shutdown deadline passed. */
static int produce_batch(struct kafka_out *k, struct iocb_pipe__batch *b)
{
	struct kbatch *kb = iocb_xcalloc(1, sizeof(*kb));
	const char *p = b->data, *end = b->data + b->len;
	char keybuf[KEY_MAX];
	char hex[2 * IOCB_PIPE_ID_LEN + 1];
	uint32_t i = 0;
	int rc = IOCB_OK;

	kb->k = k;
	kb->b = b;
	kb->left = b->nlines + 1; /* +1: not settled while still producing */
	kb->t0_us = iocb_time_real_us();
	kb->prev = k->tail;
	if (k->tail)
		k->tail->next = kb;
	else
		k->head = kb;
	k->tail = kb;

	for (; p < end && i < b->nlines; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		const void *key = NULL;
		size_t klen = 0;

		if (n == 0) {
			kb->left--; /* a blank line is no event: nothing to send (never the last: +1 above) */
		} else {
			if (k->key_kind == KEY_ID && b->ids) {
				iocb_pipe__batch_id_hex(b, i, hex);
				key = hex;
				klen = 2 * IOCB_PIPE_ID_LEN;
			} else if (k->key_kind == KEY_FIELD && field_value(p, n, k->key_path, keybuf, sizeof(keybuf), &klen)) {
				key = keybuf;
			}
			rc = produce_one(k, kb, p, n, key, klen);
			if (rc == IOCB_EINVAL)
				kb->left--; /* dead-lettered */
			else if (rc == IOCB_ECANCELED)
				break;
			rc = IOCB_OK;
		}
		p = nl ? nl + 1 : end;
	}
	if (rc == IOCB_OK && i < b->nlines) {
		/* Fewer lines than nlines said: the missing ones cannot be sent. */
		kb->left -= b->nlines - i;
	}
	if (rc == IOCB_ECANCELED)
		return rc;
	line_done(k, kb); /* drop the +1 */
	return IOCB_OK;
}

/* Produce the retries that are due. */
static void produce_retries(struct kafka_out *k)
{
	double now = iocb_time_mono_s();
	struct kretry *list = k->rhead, *keep = NULL, *keep_tail = NULL;

	if (!list)
		return;
	k->rhead = k->rtail = NULL; /* produce_one may append new failures */
	while (list) {
		struct kretry *r = list;
		list = r->next;
		r->next = NULL;
		if (r->not_before > now || k->fatal) {
			if (keep_tail)
				keep_tail->next = r;
			else
				keep = r;
			keep_tail = r;
			continue;
		}
		int rc = produce_one(k, r->kb, r->payload, r->len, r->key, r->klen);
		if (rc == IOCB_EINVAL)
			line_done(k, r->kb);
		else if (rc == IOCB_ECANCELED) {
			/* Shutdown: keep it (the batch is spilled whole, the list freed). */
			if (keep_tail)
				keep_tail->next = r;
			else
				keep = r;
			keep_tail = r;
			continue;
		}
		/* OK: in librdkafka again; EAGAIN: a new retry entry was added. */
		free(r->key);
		free(r);
	}
	/* Older ones first, then whatever failed meanwhile. */
	if (keep) {
		keep_tail->next = k->rhead;
		if (!k->rhead)
			k->rtail = keep_tail;
		k->rhead = keep;
	}
}

/* Milliseconds until the first retry is due (POLL_MS_MAX at most). */
static int next_wait_ms(struct kafka_out *k)
{
	double now = iocb_time_mono_s(), first = now + POLL_MS_MAX / 1000.0;

	for (struct kretry *r = k->rhead; r; r = r->next) {
		if (r->not_before < first)
			first = r->not_before;
	}
	double ms = (first - now) * 1000.0;
	return ms <= 0 ? 0 : ms > POLL_MS_MAX ? POLL_MS_MAX : (int)ms + 1;
}

/* ------------------------------------------------------ producer lifetime */

static int create_producer(struct kafka_out *k, rd_kafka_t **rk_out, rd_kafka_topic_t **rkt_out,
			   struct iocb_err *err)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_dup(k->conf);
	rd_kafka_t *rk;

	*rk_out = NULL;
	*rkt_out = NULL;
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return iocb_err_set(err, IOCB_ECONFIG, "%s: %s: cannot create the producer: %s",
				    k->out->cfg->where ? k->out->cfg->where : "outputs", k->label, errstr);
	}
	*rkt_out = rd_kafka_topic_new(rk, k->out->cfg->topic, NULL);
	if (!*rkt_out) {
		int rc = iocb_err_set(err, IOCB_ECONFIG, "%s: %s: topic \"%s\": %s",
				      k->out->cfg->where ? k->out->cfg->where : "outputs", k->label, k->out->cfg->topic,
				      rd_kafka_err2str(rd_kafka_last_error()));
		rd_kafka_destroy(rk);
		return rc;
	}
	*rk_out = rk;
	return IOCB_OK;
}

/* Purge librdkafka and serve every report of the purged messages (bounded). */
static void purge_all(struct kafka_out *k)
{
	(void)iocb_kafka_purge_wait(k->rk, PURGE_WAIT_S);
}

/* A fatal error made the producer unusable: produce everything again on a new one. */
static void recover_fatal(struct kafka_out *k)
{
	char errstr[512] = "";
	struct iocb_err err = {0};
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;

	(void)rd_kafka_fatal_error(k->rk, errstr, sizeof(errstr));
	iocb_log(IOCB_LOG_ERROR, MOD, "\"kafka producer failed for good: recreating it\" output=\"%s\" error=\"%s\"",
		 k->out->cfg->name, errstr);
	/* Purged messages are put on the retry list by on_delivery. */
	purge_all(k);
	if (create_producer(k, &rk, &rkt, &err) < 0) {
		iocb_log(IOCB_LOG_ERROR, MOD, "\"kafka producer not recreated\" output=\"%s\" error=\"%s\"",
			 k->out->cfg->name, err.msg);
		return; /* stays fatal: tried again on the next turn */
	}
	if (rd_kafka_outq_len(k->rk) > 0) {
		/* Reports that never came: those messages would be waited for forever. */
		iocb_log(IOCB_LOG_ERROR, MOD, "\"kafka producer dropped with undelivered reports\" output=\"%s\" count=%d",
			 k->out->cfg->name, rd_kafka_outq_len(k->rk));
	}
	rd_kafka_topic_destroy(k->rkt);
	pthread_mutex_lock(&k->rk_mu);
	rd_kafka_t *old = k->rk;
	k->rk = rk;
	k->rkt = rkt;
	pthread_mutex_unlock(&k->rk_mu);
	rd_kafka_destroy(old);
	k->fatal = false;
	for (struct kretry *r = k->rhead; r; r = r->next)
		r->not_before = 0; /* at once */
}

/*
 * Shutdown deadline passed: purge, settle what got delivered meanwhile, and
 * spill every batch not fully delivered (once each), plus what the queue
 * still holds in memory, to the spool or, without one, dropped (one summary
 * line says which).
 */
static void give_up(struct kafka_out *k)
{
	struct iocb_pipe__batch *b;
	struct iocb_pipe__queue_tally t = {0};

	k->discarding = true;
	purge_all(k);
	retry_free_all(k);
	while (k->head) {
		struct kbatch *kb = k->head;
		kbatch_unlink(k, kb);
		(void)iocb_pipe__queue_spill_tally(k->out->q, kb->b, &t);
		kb->b = NULL;
		if (kb->dr_pending == 0)
			free(kb);
		/* else: a late report frees it (on_delivery); if none comes, rd_kafka_destroy drops it. */
	}
	while ((b = iocb_pipe__queue_pop(k->out->q, 0)) != NULL)
		(void)iocb_pipe__queue_spill_tally(k->out->q, b, &t);
	iocb_pipe__queue_tally_log(k->out->q, &t);
}

static void *kout_thread(void *arg)
{
	struct kafka_out *k = arg;
	struct iocb_pipe__queue *q = k->out->q;

	for (;;) {
		struct iocb_pipe__batch *b;

		if (k->fatal)
			recover_fatal(k);
		produce_retries(k);
		if (iocb_pipe__queue_shutdown_left(q) <= 0) {
			give_up(k);
			break;
		}
		b = iocb_pipe__queue_pop(q, 0);
		if (b) {
			if (produce_batch(k, b) < 0) {
				give_up(k);
				break;
			}
			rd_kafka_poll(k->rk, 0);
			continue;
		}
		if (!k->head && iocb_pipe__queue_closed(q))
			break; /* everything delivered and nothing more will come */
		if (!k->head && IOCB_M_GET(k->out->m.failing_since_us))
			IOCB_M_SET(k->out->m.failing_since_us, 0); /* nothing undelivered: nothing is failing (/healthz) */
		rd_kafka_poll(k->rk, next_wait_ms(k));
	}
	IOCB_M_SET(k->out->m.in_flight, 0);
	iocb_log(IOCB_LOG_INFO, MOD, "\"kafka output stopped\" output=\"%s\"", k->out->cfg->name);
	return NULL;
}

static int kout_start(struct iocb_pipe__output *out, struct iocb_err *err)
{
	struct kafka_out *k = out->impl;

	iocb_pipe__queue_set_notify(out->q, on_push, k);
	if (pthread_create(&k->thread, NULL, kout_thread, k) != 0) {
		iocb_pipe__queue_set_notify(out->q, NULL, NULL);
		return iocb_err_set(err, IOCB_EIO, "%s: cannot start the thread", k->label);
	}
	k->thread_started = true;
	return IOCB_OK;
}

/* The librdkafka handles and the state itself (no batch may be held any more). */
static void kout_free(struct kafka_out *k)
{
	if (k->rkt)
		rd_kafka_topic_destroy(k->rkt);
	if (k->rk)
		rd_kafka_destroy(k->rk);
	if (k->conf)
		rd_kafka_conf_destroy(k->conf);
	pthread_mutex_destroy(&k->rk_mu);
	free(k);
}

static void kout_join(struct iocb_pipe__output *out)
{
	struct kafka_out *k = out->impl;

	if (!k)
		return;
	if (k->thread_started) {
		pthread_join(k->thread, NULL);
		iocb_pipe__queue_set_notify(out->q, NULL, NULL);
	}
	if (k->head) {
		/* Only when the thread never ran: nothing was produced. */
		k->discarding = true;
		while (k->head) {
			struct kbatch *kb = k->head;
			kbatch_unlink(k, kb);
			iocb_pipe__queue_spill(out->q, kb->b);
			free(kb);
		}
	}
	retry_free_all(k);
	kout_free(k);
	out->impl = NULL;
}

static const struct iocb_pipe__output_ops kafka_out_ops = {
	.kind = "kafka",
	.start = kout_start,
	.join = kout_join,
};

/* ------------------------------------------------------------------- init */

static void on_forced(void *opaque, const struct iocb_kafka_forced *f, const char *user_value)
{
	struct kafka_out *k = opaque;

	(void)user_value;
	iocb_log(IOCB_LOG_WARN, MOD,
		 "\"kafka output property ignored: it is forced so that no event is lost\" "
		 "output=\"%s\" key=%s forced=%s",
		 k->out->cfg->name, f->key, f->value);
}

static int build_conf(struct kafka_out *k, struct iocb_err *err)
{
	/* Payloads point into batches the queue no longer counts: keep librdkafka's share bounded. */
	static const char *const defaults[] = {"client.id", "iocbus", "linger.ms", "5",
					       "queue.buffering.max.kbytes", "65536", NULL};
	const struct iocb_config_output *c = k->out->cfg;
	const struct iocb_kafka_conf_spec spec = {
		.where = c->where ? c->where : "outputs",
		.label = k->label,
		.defaults = defaults,
		.props = c->kafka,
		.nprops = c->nkafka,
		.forced = iocb_kafka_producer_forced, /* keys the user may not weaken */
		.nforced = iocb_kafka_producer_nforced,
		.on_forced = on_forced,
		.opaque = k,
		.error_cb = on_error,
		.log_cb = on_log,
		.dr_msg_cb = on_delivery,
	};
	return iocb_kafka_conf_build(&spec, &k->conf, err);
}

int iocb_pipe__output_kafka_init(struct iocb_pipe__output *out, struct iocb_err *err)
{
	const struct iocb_config_output *c = out->cfg;
	const char *where = c->where ? c->where : "outputs";
	struct kafka_out *k;
	int rc;

	k = iocb_xcalloc(1, sizeof(*k));
	k->out = out;
	pthread_mutex_init(&k->rk_mu, NULL);
	k->rl.interval_s = 1.0;
	snprintf(k->label, sizeof(k->label), "kafka output \"%s\"", c->name ? c->name : "");
	k->retry_initial_s = c->retry_initial_s > 0 ? c->retry_initial_s : 0.5;
	k->retry_max_s = c->retry_max_s > 0 ? c->retry_max_s : 30.0;
	if (!c->topic || !*c->topic) {
		rc = iocb_err_set(err, IOCB_ECONFIG, "%s: %s: topic is required", where, k->label);
		goto out;
	}
	if (!c->key || strcmp(c->key, "none") == 0 || !*c->key) {
		k->key_kind = KEY_NONE;
	} else if (strcmp(c->key, "id") == 0) {
		k->key_kind = KEY_ID;
		out->needs_ids = true;
	} else {
		k->key_kind = KEY_FIELD;
		k->key_path = c->key;
		if (c->key[0] == '.' || c->key[strlen(c->key) - 1] == '.' || strstr(c->key, "..")) {
			rc = iocb_err_set(err, IOCB_ECONFIG, "%s: %s: key \"%s\": an empty path segment", where, k->label,
					  c->key);
			goto out;
		}
	}
	rc = build_conf(k, err);
	if (rc < 0)
		goto out;
	/* Created here so a bad property fails start-up. */
	rc = create_producer(k, &k->rk, &k->rkt, err);
	if (rc < 0)
		goto out;
	IOCB_M_SET(out->m.up, 1);
	out->ops = &kafka_out_ops;
	out->impl = k;
	iocb_log(IOCB_LOG_INFO, MOD, "\"kafka output ready\" output=\"%s\" topic=\"%s\" key=%s", c->name, c->topic,
		 c->key ? c->key : "none");
	k = NULL;
	rc = IOCB_OK;
out:
	if (k)
		kout_free(k);
	return rc;
}
