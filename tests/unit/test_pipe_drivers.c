/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline's driver tables (src/pipe/drivers.c): every type the
 * configuration accepts has a driver, and a type without one fails start-up
 * with a message naming it, instead of falling through to another driver.
 * The configuration is built by hand: its loader refuses unknown types
 * before the pipe ever sees them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "pipe/drivers.h"

static void test_every_type_has_a_driver(void **state)
{
	/* The choice lists of inputs[].type and outputs[].type (src/config/tables.c). */
	static const char *const in_types[] = {"file", "stdin", "tcp", "kafka"};
	static const char *const out_types[] = {"stdout", "file", "elasticsearch", "kafka"};

	(void)state;
	for (size_t i = 0; i < sizeof(in_types) / sizeof(in_types[0]); i++) {
		const struct iocb_pipe__input_driver *d = iocb_pipe__input_driver(in_types[i]);

		assert_non_null(d);
		assert_string_equal(d->type, in_types[i]);
	}
	for (size_t i = 0; i < sizeof(out_types) / sizeof(out_types[0]); i++) {
		const struct iocb_pipe__output_driver *d = iocb_pipe__output_driver(out_types[i]);

		assert_non_null(d);
		assert_string_equal(d->type, out_types[i]);
	}
	assert_ptr_equal(iocb_pipe__output_driver("stdout")->init, iocb_pipe__output_driver("file")->init);
	assert_null(iocb_pipe__input_driver("bogus"));
	assert_null(iocb_pipe__input_driver(NULL));
	assert_null(iocb_pipe__output_driver("Kafka")); /* exact, case-sensitive like the configuration */
	assert_null(iocb_pipe__output_driver(""));
}

static void test_unknown_output_type(void **state)
{
	struct iocb_config cfg;
	struct iocb_config_input in = {.name = "in", .type = "stdin", .preset = "ecs"};
	struct iocb_config_output out = {.name = "o", .type = "bogus", .where = "t.yaml:7:5"};
	struct iocb_pipe *p = NULL;
	struct iocb_err err = {0};

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.inputs = &in;
	cfg.ninputs = 1;
	cfg.outputs = &out;
	cfg.noutputs = 1;
	assert_int_equal(iocb_pipe_start(NULL, &cfg, &p, &err), IOCB_ECONFIG);
	assert_null(p);
	assert_string_equal(err.msg, "t.yaml:7:5: outputs[o]: unknown type \"bogus\"");
}

static void test_unknown_input_type(void **state)
{
	struct iocb_config cfg;
	struct iocb_config_input in = {.name = "in", .type = "udp", .preset = "ecs", .where = "t.yaml:3:5"};
	struct iocb_pipe *p = NULL;
	struct iocb_err err = {0};

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.enrich.on_miss = "pass";
	cfg.inputs = &in;
	cfg.ninputs = 1;
	assert_int_equal(iocb_pipe_start(NULL, &cfg, &p, &err), IOCB_ECONFIG);
	assert_null(p);
	assert_string_equal(err.msg, "t.yaml:3:5: inputs[in]: unknown type \"udp\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_has_a_driver),
		cmocka_unit_test(test_unknown_output_type),
		cmocka_unit_test(test_unknown_input_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
