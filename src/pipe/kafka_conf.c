/* SPDX-License-Identifier: Apache-2.0 */
#include "pipe/drivers.h"

#include <librdkafka/rdkafka.h>

#include "core/str.h"

int iocb_pipe__kafka_set(rd_kafka_conf_t *conf, const char *where, const char *label, const char *key,
			const char *value, struct iocb_err *err)
{
	char errstr[512];
	rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr));

	if (r == RD_KAFKA_CONF_OK)
		return IOCB_OK;
	/* librdkafka's message quotes the value: never for a password or key. */
	if (r != RD_KAFKA_CONF_UNKNOWN && iocb_str_secret_name(key))
		return iocb_err_set(err, IOCB_ECONFIG, "%s: %s: kafka: invalid value for \"%s\"", where, label, key);
	return iocb_err_set(err, IOCB_ECONFIG, "%s: %s: kafka: %s", where, label, errstr);
}
