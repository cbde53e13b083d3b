/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keys the topic holds that the store no longer has (internal.h): read at
 * the first baseline, so that a record deleted while iocbus was not running
 * (or whose tombstone died with a crash) gets its tombstone too, and the
 * compacted topic holds exactly the store's live set.
 *
 * One consumer, with the stream's properties and no group (partitions
 * assigned by hand, nothing committed), reads every partition from the
 * beginning up to the high watermark taken when it starts, and notes every
 * key that carries a value. Keys whose last message is already a tombstone
 * are noted too when an earlier message had a value; the store walk then
 * sends them one more tombstone, which compaction folds away.
 *
 * Reading needs read access to the topic. When the read fails or takes too
 * long (READ_MAX_S), the stream logs a warning and goes on without it: only
 * keys deleted while iocbus was down stay behind.
 */
#include "serve/stream/internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/time.h"

#define MOD IOCB_STREAM__MOD
#define META_MS 10000    /* metadata and watermark requests */
#define READ_MAX_S 300.0 /* longest read of the whole topic */

/* A consumer on st's properties. NULL with a warning on failure. */
static rd_kafka_t *consumer_new(struct iocb_stream *st)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_dup(st->conf);
	rd_kafka_t *rk;

	/* Producer-only properties are ignored by a consumer (librdkafka warns at debug level). */
	if (rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
	    rd_kafka_conf_set(conf, "group.id", "iocbus-stream-reconcile", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
		rd_kafka_conf_destroy(conf);
		iocb_log(IOCB_LOG_WARN, MOD, "\"topic not read for stale keys\" topic=\"%s\" error=\"%s\"", st->topic,
			 errstr);
		return NULL;
	}
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		iocb_log(IOCB_LOG_WARN, MOD, "\"topic not read for stale keys\" topic=\"%s\" error=\"%s\"", st->topic,
			 errstr);
	}
	return rk;
}

/* Assign every partition from the beginning; high[p] gets its end now. Returns the partition count, or < 0. */
static int assign_all(struct iocb_stream *st, rd_kafka_t *rk, int64_t **high)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, st->topic, NULL);
	rd_kafka_topic_partition_list_t *parts = NULL;
	rd_kafka_resp_err_t e;
	int np = -1;

	*high = NULL;
	e = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, META_MS) : rd_kafka_last_error();
	if (e || md->topic_cnt != 1 || md->topics[0].err) {
		if (!e)
			e = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
		goto out;
	}
	np = md->topics[0].partition_cnt;
	*high = iocb_xcalloc((size_t)np + 1, sizeof(**high));
	parts = rd_kafka_topic_partition_list_new(np);
	for (int p = 0; p < np && !e; p++) {
		int64_t low;
		int32_t id = md->topics[0].partitions[p].id;
		if (id < 0 || id >= np) {
			e = RD_KAFKA_RESP_ERR__BAD_MSG;
			break;
		}
		e = rd_kafka_query_watermark_offsets(rk, st->topic, id, &low, &(*high)[id], META_MS);
		rd_kafka_topic_partition_list_add(parts, st->topic, id)->offset = RD_KAFKA_OFFSET_BEGINNING;
	}
	if (!e)
		e = rd_kafka_assign(rk, parts);
out:
	if (e) {
		iocb_log(IOCB_LOG_WARN, MOD, "\"topic not read for stale keys\" topic=\"%s\" error=\"%s\"", st->topic,
			 rd_kafka_err2str(e));
		np = -1;
	}
	if (parts)
		rd_kafka_topic_partition_list_destroy(parts);
	if (md)
		rd_kafka_metadata_destroy(md);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	return np;
}

int iocb_stream__topic_keys(struct iocb_stream *st, struct iocb_stream__kset *out)
{
	rd_kafka_t *rk = consumer_new(st);
	int64_t *high = NULL, *pos = NULL;
	double end = iocb_time_mono_s() + READ_MAX_S;
	int np, rc = IOCB_EIO, left;

	if (!rk)
		return IOCB_EIO;
	np = assign_all(st, rk, &high);
	if (np < 0)
		goto out;
	pos = iocb_xcalloc((size_t)np + 1, sizeof(*pos));
	left = 0;
	for (int p = 0; p < np; p++)
		left += high[p] > 0;
	while (left > 0 && !atomic_load(&st->stop)) {
		rd_kafka_message_t *m;
		uint8_t u[16];

		if (iocb_time_mono_s() > end) {
			iocb_log(IOCB_LOG_WARN, MOD, "\"topic not read for stale keys: too slow\" topic=\"%s\" seconds=%.0f",
				 st->topic, READ_MAX_S);
			goto out;
		}
		m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (!m->err && m->partition >= 0 && m->partition < np && pos[m->partition] < high[m->partition]) {
			if (m->payload && iocb_misp_uuid_parse(iocb_str_make(m->key, m->key_len), u) &&
			    iocb_stream__kset_add(out, u) < 0) {
				rd_kafka_message_destroy(m);
				iocb_log(IOCB_LOG_WARN, MOD, "\"topic not read for stale keys: too many keys\" topic=\"%s\"",
					 st->topic);
				goto out;
			}
			pos[m->partition] = m->offset + 1;
			if (pos[m->partition] >= high[m->partition])
				left--;
		}
		rd_kafka_message_destroy(m);
	}
	rc = left > 0 ? IOCB_ECANCELED : IOCB_OK;
out:
	free(high);
	free(pos);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}
