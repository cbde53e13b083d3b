/* SPDX-License-Identifier: Apache-2.0 */
/*
 * librdkafka setup shared by every Kafka client in iocbus: the MISP Kafka
 * source (sources/misp_kafka.c) and the pipeline's Kafka input and output
 * (pipe/inputs/kafka.c, pipe/outputs/kafka.c).
 *
 * What they share is how a configuration is built - our defaults, then the
 * user's properties verbatim except the keys we force, then the forced
 * values; a broker list is required; an error names the key and echoes a
 * value only when the key does not look like a secret - and how consumers
 * track offsets (the highest handled offset per partition, stored once the
 * messages are safe, committed synchronously on revoke and shutdown) and
 * follow a rebalance (eager or cooperative). What differs (callbacks,
 * metrics, log texts) stays with each client.
 *
 * Depends on core and config only. All functions may be called from any
 * thread on objects that thread owns; none keeps state of its own.
 */
#ifndef IOCB_KAFKA_KAFKA_H
#define IOCB_KAFKA_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config/config.h"
#include "core/rc.h"

/*
 * Set one property. On failure returns IOCB_ECONFIG with the error
 * "<prefix>: <librdkafka's message>", or "<prefix>: invalid value for
 * \"<key>\"" for a known key that looks like a secret (librdkafka's message
 * quotes the value).
 */
int iocb_kafka_conf_set(rd_kafka_conf_t *conf, const char *prefix, const char *key, const char *value,
			struct iocb_err *err) IOCB_MUST_USE;

/* A property iocbus forces; the user's value for `key` is ignored. */
struct iocb_kafka_forced {
	const char *key;   /* property name */
	const char *value; /* what we force */
	bool alias;        /* an alias of a forced key: ignored from the user, not set itself */
};

/* What iocb_kafka_conf_build() builds. */
struct iocb_kafka_conf_spec {
	/*
	 * Where the properties come from, for errors. label NULL: a section of
	 * their own named `where` ("misp.kafka.config"); errors read "<where>:
	 * ...". Else the `kafka` map of the entry `label` found at `where`
	 * (a pipeline input or output); errors read "<where>: <label>: kafka...".
	 */
	const char *where;
	const char *label;
	const char *const *defaults;            /* key, value, ..., NULL: set first, the user may override */
	const struct iocb_kv *props;            /* the user's properties, in order */
	size_t nprops;                          /* how many */
	const struct iocb_kafka_forced *forced; /* set last, in order */
	size_t nforced;                         /* how many */
	/* The user set a forced key (value as given): the caller's warning. May be NULL. */
	void (*on_forced)(void *opaque, const struct iocb_kafka_forced *f, const char *user_value);
	/* The client's callbacks, set on the configuration when not NULL (see librdkafka's rd_kafka_conf_set_*_cb). */
	void *opaque; /* rd_kafka_conf_set_opaque(), and on_forced's first argument */
	void (*error_cb)(rd_kafka_t *rk, int err, const char *reason, void *opaque);
	void (*log_cb)(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
	void (*rebalance_cb)(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
			     void *opaque); /* consumers */
	void (*dr_msg_cb)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque); /* producers */
};

/*
 * Build a librdkafka configuration: the defaults, the user's properties
 * (skipping forced keys), then the forced values. A broker list
 * (bootstrap.servers, metadata.broker.list or test.mock.num.brokers) is
 * required. Properties are set with iocb_kafka_conf_set() (prefix from
 * where and label, see struct iocb_kafka_conf_spec). On success *out is the caller's (to rd_kafka_new or destroy);
 * on failure *out is NULL and err says why (IOCB_ECONFIG).
 */
int iocb_kafka_conf_build(const struct iocb_kafka_conf_spec *spec, rd_kafka_conf_t **out,
			  struct iocb_err *err) IOCB_MUST_USE;

/*
 * The properties an iocbus producer that must lose nothing forces
 * (enable.idempotence=true, acks=all and its alias request.required.acks,
 * delivery.report.only.error=false): the idempotent producer is what lets
 * librdkafka retry without duplicating or reordering, and every message
 * needs its delivery report. For struct iocb_kafka_conf_spec.forced; the
 * pipeline's Kafka output and the indicator stream (serve/stream) use it.
 */
extern const struct iocb_kafka_forced iocb_kafka_producer_forced[];
extern const size_t iocb_kafka_producer_nforced;

/*
 * Purge everything rk holds (queued and in flight) and serve the purged
 * messages' delivery reports until none is left or `wait_s` seconds have
 * passed. Returns how many reports never came. The thread that polls rk.
 */
int iocb_kafka_purge_wait(rd_kafka_t *rk, double wait_s);

/* A boolean property value librdkafka reads as true ("true", "1", "yes", "on"; case-insensitive). */
bool iocb_kafka_conf_true(const char *v);

/*
 * Note that (topic, partition) is handled up to `offset` included: the
 * list entry's offset becomes offset + 1 unless already past it. *list is
 * created on first use; the caller stores and destroys it.
 */
void iocb_kafka_offsets_note(rd_kafka_topic_partition_list_t **list, const char *topic, int32_t partition,
			     int64_t offset);

/*
 * Synchronous commit of the stored offsets of the current assignment.
 * Returns RD_KAFKA_RESP_ERR_NO_ERROR also when there was nothing to commit.
 */
rd_kafka_resp_err_t iocb_kafka_commit(rd_kafka_t *rk);

/*
 * Take (assign true) or give up (false) the partitions of a rebalance,
 * with the incremental calls under the cooperative protocol and the eager
 * ones otherwise. Returns librdkafka's error, if any.
 */
rd_kafka_resp_err_t iocb_kafka_rebalance_apply(rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts, bool assign);

/* Log one of librdkafka's own lines under `module` (levels 0..4 at info, the rest at debug). */
void iocb_kafka_log_line(const char *module, int level, const char *fac, const char *buf);

#endif
