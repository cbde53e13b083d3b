/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the Kafka input and output (core-private). */
#ifndef IOCB_PIPE_KAFKA_CONF_H
#define IOCB_PIPE_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>

#include "core/rc.h"

/*
 * Set one librdkafka property. The error is "<where>: <label>: kafka: ..."
 * and names the key; a value is echoed only when the key does not look
 * like a secret (iocb_str_secret_name()).
 */
int iocb_pipe_kafka_set(rd_kafka_conf_t *conf, const char *where, const char *label, const char *key,
			const char *value, struct iocb_err *err) IOCB_MUST_USE;

#endif
