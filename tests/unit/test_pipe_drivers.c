/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline's driver tables (src/pipe/drivers.c): every type the
 * configuration accepts has a driver, and a type without one fails start-up
 * with a message, instead of falling through to another driver. The
 * configuration is built by hand: its loader refuses unknown types before
 * the pipe ever sees them.
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
	(void)state;
	/* Every value of the configuration's type enums, whose words are its choice lists. */
	for (int t = 0; t < IOCB_CONFIG_IN__COUNT; t++) {
		const struct iocb_pipe__input_driver *d = iocb_pipe__input_driver((enum iocb_config_input_type)t);

		assert_non_null(d);
		assert_int_equal(d->type, t);
		assert_string_not_equal(iocb_config_choice_name(IOCB_CONFIG_CHOICE_INPUT_TYPE, t), "?");
	}
	for (int t = 0; t < IOCB_CONFIG_OUT__COUNT; t++) {
		const struct iocb_pipe__output_driver *d = iocb_pipe__output_driver((enum iocb_config_output_type)t);

		assert_non_null(d);
		assert_int_equal(d->type, t);
		assert_string_not_equal(iocb_config_choice_name(IOCB_CONFIG_CHOICE_OUTPUT_TYPE, t), "?");
	}
	assert_string_equal(iocb_config_choice_name(IOCB_CONFIG_CHOICE_INPUT_TYPE, IOCB_CONFIG_IN_TCP), "tcp");
	assert_string_equal(iocb_config_choice_name(IOCB_CONFIG_CHOICE_OUTPUT_TYPE, IOCB_CONFIG_OUT_ELASTICSEARCH),
			    "elasticsearch");
	assert_ptr_equal(iocb_pipe__output_driver(IOCB_CONFIG_OUT_STDOUT)->init,
			 iocb_pipe__output_driver(IOCB_CONFIG_OUT_FILE)->init);
	assert_null(iocb_pipe__input_driver(IOCB_CONFIG_IN__COUNT));
	assert_null(iocb_pipe__input_driver((enum iocb_config_input_type)-1));
	assert_null(iocb_pipe__output_driver(IOCB_CONFIG_OUT__COUNT));
	assert_string_equal(iocb_config_choice_name(IOCB_CONFIG_CHOICE_OUTPUT_TYPE, IOCB_CONFIG_OUT__COUNT), "?");
}

/* A type the configuration could not produce (no driver) fails start-up with its location. */
static void test_unknown_output_type(void **state)
{
	struct iocb_config cfg;
	struct iocb_config_input in = {.name = "in", .type = IOCB_CONFIG_IN_STDIN, .preset = IOCB_CONFIG_PRESET_ECS};
	struct iocb_config_output out = {.name = "o", .type = IOCB_CONFIG_OUT__COUNT, .where = "t.yaml:7:5"};
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
	assert_string_equal(err.msg, "t.yaml:7:5: outputs[o]: unknown type \"?\"");
}

static void test_unknown_input_type(void **state)
{
	struct iocb_config cfg;
	struct iocb_config_input in = {.name = "in", .type = IOCB_CONFIG_IN__COUNT, .preset = IOCB_CONFIG_PRESET_ECS,
				       .where = "t.yaml:3:5"};
	struct iocb_pipe *p = NULL;
	struct iocb_err err = {0};

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.inputs = &in;
	cfg.ninputs = 1;
	assert_int_equal(iocb_pipe_start(NULL, &cfg, &p, &err), IOCB_ECONFIG);
	assert_null(p);
	assert_string_equal(err.msg, "t.yaml:3:5: inputs[in]: unknown type \"?\"");
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
