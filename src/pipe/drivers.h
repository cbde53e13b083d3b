/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline's drivers: one table of inputs and one of outputs (drivers.c),
 * each row a configuration `type` and the init of the file that implements
 * it (inputs/<type>.c, outputs/<type>.c). pipe.c picks a driver by its type
 * (the configuration's enum indexes the tables), so adding one touches its
 * own file, this header and one row in drivers.c, plus the `type` choice
 * list of the configuration and its enum in config.h, which validate types
 * before the pipe starts.
 *
 * Included by pipe.c and by the drivers (each for its own init); the
 * drivers' contract with the core is internal.h.
 */
#ifndef IOCB_PIPE_DRIVERS_H
#define IOCB_PIPE_DRIVERS_H

#include "pipe/internal.h"

/* One input driver: its configuration type and its init (sets in->ops and in->impl). */
struct iocb_pipe__input_driver {
	enum iocb_config_input_type type;                                  /* inputs[].type */
	int (*init)(struct iocb_pipe__input *in, struct iocb_err *err); /* IOCB_OK or an error with err set */
};

/* One output driver: its configuration type(s) and its init (sets out->ops, out->impl, needs_ids). */
struct iocb_pipe__output_driver {
	enum iocb_config_output_type type;                                   /* outputs[].type */
	int (*init)(struct iocb_pipe__output *out, struct iocb_err *err); /* IOCB_OK or an error with err set */
};

/* The driver for `type`, or NULL when no driver has that type. Any thread. */
const struct iocb_pipe__input_driver *iocb_pipe__input_driver(enum iocb_config_input_type type);
const struct iocb_pipe__output_driver *iocb_pipe__output_driver(enum iocb_config_output_type type);

/* The drivers (one file each). */
int iocb_pipe__input_file_init(struct iocb_pipe__input *in, struct iocb_err *err) IOCB_MUST_USE;
int iocb_pipe__input_stdin_init(struct iocb_pipe__input *in, struct iocb_err *err) IOCB_MUST_USE;
int iocb_pipe__input_tcp_init(struct iocb_pipe__input *in, struct iocb_err *err) IOCB_MUST_USE;
int iocb_pipe__input_kafka_init(struct iocb_pipe__input *in, struct iocb_err *err) IOCB_MUST_USE;
int iocb_pipe__output_file_init(struct iocb_pipe__output *out, struct iocb_err *err) IOCB_MUST_USE; /* file, stdout */
int iocb_pipe__output_es_init(struct iocb_pipe__output *out, struct iocb_err *err) IOCB_MUST_USE;
int iocb_pipe__output_kafka_init(struct iocb_pipe__output *out, struct iocb_err *err) IOCB_MUST_USE;

#endif
