/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The single list of the pipeline's drivers (see drivers.h), indexed by
 * the configuration's type enums. The configuration reads `type` from its
 * own choice list, so a type without a row here is a programming error
 * that start-up reports instead of guessing a driver.
 */
#include "pipe/drivers.h"

/* Indexed by the configuration's enum; a row without init is a type with no driver. */
static const struct iocb_pipe__input_driver inputs[IOCB_CONFIG_IN__COUNT] = {
	[IOCB_CONFIG_IN_FILE] = {IOCB_CONFIG_IN_FILE, iocb_pipe__input_file_init},
	[IOCB_CONFIG_IN_STDIN] = {IOCB_CONFIG_IN_STDIN, iocb_pipe__input_stdin_init},
	[IOCB_CONFIG_IN_TCP] = {IOCB_CONFIG_IN_TCP, iocb_pipe__input_tcp_init},
	[IOCB_CONFIG_IN_KAFKA] = {IOCB_CONFIG_IN_KAFKA, iocb_pipe__input_kafka_init},
};

static const struct iocb_pipe__output_driver outputs[IOCB_CONFIG_OUT__COUNT] = {
	[IOCB_CONFIG_OUT_STDOUT] = {IOCB_CONFIG_OUT_STDOUT, iocb_pipe__output_file_init},
	[IOCB_CONFIG_OUT_FILE] = {IOCB_CONFIG_OUT_FILE, iocb_pipe__output_file_init},
	[IOCB_CONFIG_OUT_ELASTICSEARCH] = {IOCB_CONFIG_OUT_ELASTICSEARCH, iocb_pipe__output_es_init},
	[IOCB_CONFIG_OUT_KAFKA] = {IOCB_CONFIG_OUT_KAFKA, iocb_pipe__output_kafka_init},
};

const struct iocb_pipe__input_driver *iocb_pipe__input_driver(enum iocb_config_input_type type)
{
	if ((unsigned)type >= IOCB_CONFIG_IN__COUNT || !inputs[type].init)
		return NULL;
	return &inputs[type];
}

const struct iocb_pipe__output_driver *iocb_pipe__output_driver(enum iocb_config_output_type type)
{
	if ((unsigned)type >= IOCB_CONFIG_OUT__COUNT || !outputs[type].init)
		return NULL;
	return &outputs[type];
}
