/* SPDX-License-Identifier: Apache-2.0 */
/* librdkafka setup shared by the MISP source and the pipeline (see kafka.h). */
#include "kafka/kafka.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/str.h"
#include "core/time.h"

const struct iocb_kafka_forced iocb_kafka_producer_forced[] = {
	{"enable.idempotence", "true", false},
	{"acks", "all", false},
	{"request.required.acks", "all", true}, /* alias of acks */
	{"delivery.report.only.error", "false", false},
};
const size_t iocb_kafka_producer_nforced = sizeof(iocb_kafka_producer_forced) / sizeof(iocb_kafka_producer_forced[0]);

int iocb_kafka_purge_wait(rd_kafka_t *rk, double wait_s)
{
	double end = iocb_time_mono_s() + wait_s;

	(void)rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	while (rd_kafka_outq_len(rk) > 0 && iocb_time_mono_s() < end)
		rd_kafka_poll(rk, 10);
	rd_kafka_poll(rk, 0);
	return rd_kafka_outq_len(rk);
}

int iocb_kafka_conf_set(rd_kafka_conf_t *conf, const char *prefix, const char *key, const char *value,
			struct iocb_err *err)
{
	char errstr[512];
	rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr));

	if (r == RD_KAFKA_CONF_OK)
		return IOCB_OK;
	/* librdkafka's message quotes the value: never for a password or key. */
	if (r != RD_KAFKA_CONF_UNKNOWN && iocb_str_secret_name(key))
		return iocb_err_set(err, IOCB_ECONFIG, "%s: invalid value for \"%s\"", prefix, key);
	return iocb_err_set(err, IOCB_ECONFIG, "%s: %s", prefix, errstr);
}

bool iocb_kafka_conf_true(const char *v)
{
	return strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 ||
	       strcasecmp(v, "on") == 0;
}

static const struct iocb_kafka_forced *find_forced(const struct iocb_kafka_conf_spec *s, const char *key)
{
	for (size_t f = 0; f < s->nforced; f++)
		if (strcmp(s->forced[f].key, key) == 0)
			return &s->forced[f];
	return NULL;
}

static bool is_broker_key(const char *key)
{
	return strcmp(key, "bootstrap.servers") == 0 || strcmp(key, "metadata.broker.list") == 0 ||
	       strcmp(key, "test.mock.num.brokers") == 0;
}

int iocb_kafka_conf_build(const struct iocb_kafka_conf_spec *s, rd_kafka_conf_t **out, struct iocb_err *err)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	bool brokers = false;
	char prefix[1024];
	int rc = IOCB_OK;

	*out = NULL;
	if (s->label)
		snprintf(prefix, sizeof(prefix), "%s: %s: kafka", s->where, s->label);
	else
		snprintf(prefix, sizeof(prefix), "%s", s->where);
	for (size_t i = 0; s->defaults && s->defaults[i]; i += 2) {
		rc = iocb_kafka_conf_set(conf, prefix, s->defaults[i], s->defaults[i + 1], err);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < s->nprops; i++) {
		const struct iocb_kv *kv = &s->props[i];
		const char *v = kv->value ? kv->value : "";
		const struct iocb_kafka_forced *f = find_forced(s, kv->key);

		if (f) {
			if (s->on_forced)
				s->on_forced(s->opaque, f, v);
			continue;
		}
		if (is_broker_key(kv->key))
			brokers = true;
		rc = iocb_kafka_conf_set(conf, prefix, kv->key, v, err);
		if (rc < 0)
			goto out;
	}
	if (!brokers) {
		/* The same key spelt as the user writes it: "kafka.bootstrap.servers" inside an entry. */
		rc = iocb_err_set(err, IOCB_ECONFIG, "%s%s", prefix,
				  s->label ? ".bootstrap.servers is required" : ": bootstrap.servers is required");
		goto out;
	}
	for (size_t f = 0; f < s->nforced; f++) {
		if (s->forced[f].alias)
			continue;
		rc = iocb_kafka_conf_set(conf, prefix, s->forced[f].key, s->forced[f].value, err);
		if (rc < 0)
			goto out;
	}
	rd_kafka_conf_set_opaque(conf, s->opaque);
	if (s->error_cb)
		rd_kafka_conf_set_error_cb(conf, s->error_cb);
	if (s->log_cb)
		rd_kafka_conf_set_log_cb(conf, s->log_cb);
	if (s->rebalance_cb)
		rd_kafka_conf_set_rebalance_cb(conf, s->rebalance_cb);
	if (s->dr_msg_cb)
		rd_kafka_conf_set_dr_msg_cb(conf, s->dr_msg_cb);
	*out = conf;
	conf = NULL;
out:
	if (conf)
		rd_kafka_conf_destroy(conf);
	return rc;
}

void iocb_kafka_offsets_note(rd_kafka_topic_partition_list_t **list, const char *topic, int32_t partition,
			     int64_t offset)
{
	rd_kafka_topic_partition_t *tp = NULL;

	if (!*list)
		*list = rd_kafka_topic_partition_list_new(8);
	else
		tp = rd_kafka_topic_partition_list_find(*list, topic, partition);
	if (!tp)
		tp = rd_kafka_topic_partition_list_add(*list, topic, partition);
	if (offset + 1 > tp->offset)
		tp->offset = offset + 1;
}

rd_kafka_resp_err_t iocb_kafka_commit(rd_kafka_t *rk)
{
	rd_kafka_resp_err_t e = rd_kafka_commit(rk, NULL, 0);

	return e == RD_KAFKA_RESP_ERR__NO_OFFSET ? RD_KAFKA_RESP_ERR_NO_ERROR : e;
}

rd_kafka_resp_err_t iocb_kafka_rebalance_apply(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, bool assign)
{
	bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	rd_kafka_error_t *error = NULL;
	rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;

	if (coop)
		error = assign ? rd_kafka_incremental_assign(rk, parts) : rd_kafka_incremental_unassign(rk, parts);
	else
		e = rd_kafka_assign(rk, assign ? parts : NULL);
	if (error) {
		e = rd_kafka_error_code(error);
		rd_kafka_error_destroy(error);
	}
	return e;
}

void iocb_kafka_log_line(const char *module, int level, const char *fac, const char *buf)
{
	iocb_log(level <= 4 ? IOCB_LOG_INFO : IOCB_LOG_DEBUG, module, "\"librdkafka\" facility=%s text=\"%s\"", fac,
		 buf);
}
