/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The single list of the pipeline's drivers (see drivers.h). The
 * configuration checks `type` against its own choice list first, so a
 * type missing here is a programming error that start-up reports instead
 * of guessing a driver.
 */
#include "pipe/drivers.h"

#include <string.h>

static const struct iocb_pipe__input_driver inputs[] = {
	{"file", iocb_pipe__input_file_init},
	{"stdin", iocb_pipe__input_stdin_init},
	{"tcp", iocb_pipe__input_tcp_init},
	{"kafka", iocb_pipe__input_kafka_init},
};

static const struct iocb_pipe__output_driver outputs[] = {
	{"stdout", iocb_pipe__output_file_init},
	{"file", iocb_pipe__output_file_init},
	{"elasticsearch", iocb_pipe__output_es_init},
	{"kafka", iocb_pipe__output_kafka_init},
};

const struct iocb_pipe__input_driver *iocb_pipe__input_driver(const char *type)
{
	for (size_t i = 0; type && i < sizeof(inputs) / sizeof(inputs[0]); i++)
		if (strcmp(inputs[i].type, type) == 0)
			return &inputs[i];
	return NULL;
}

const struct iocb_pipe__output_driver *iocb_pipe__output_driver(const char *type)
{
	for (size_t i = 0; type && i < sizeof(outputs) / sizeof(outputs[0]); i++)
		if (strcmp(outputs[i].type, type) == 0)
			return &outputs[i];
	return NULL;
}
