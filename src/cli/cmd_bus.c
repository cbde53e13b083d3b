/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `iocbus bus keygen [--force] FILE`: a CURVE key pair for the bus
 * (bus.curve.secret_key_file), written with mode 0600 in the layout
 * serve/bus/curve.h describes; the public key, which apps need, is printed.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "serve/bus/curve.h"

const char iocb_cli_bus_usage[] =
	"usage: iocbus bus keygen [--force] FILE\n"
	"\n"
	"keygen  write a new CURVE key pair for the bus to FILE (mode 0600), in\n"
	"        ZeroMQ's certificate layout, and print its public key. Point\n"
	"        bus.curve.secret_key_file at FILE and give the public key to the\n"
	"        apps; list the apps' public keys in bus.curve.clients_file.\n"
	"        An existing FILE is left alone unless --force.\n"
	"        Exit status: 0 written, 2 on error.\n";

int iocb_cmd_bus(int argc, char **argv)
{
	const char *file = NULL;
	bool force = false, opts_end = false;
	char pub[IOCB_BUS_Z85_KEY_LEN + 1];
	struct iocb_err err = {0};

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(iocb_cli_bus_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? IOCB_EXIT_ERROR : IOCB_EXIT_OK;
	}
	if (strcmp(argv[1], "keygen") != 0) {
		fprintf(stderr, "iocbus: bus: unknown command '%s'\n%s", argv[1], iocb_cli_bus_usage);
		return IOCB_EXIT_ERROR;
	}
	for (int i = 2; i < argc; i++) {
		if (iocb_cli_end_of_opts(argv[i], &opts_end))
			continue;
		if (!opts_end && (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)) {
			fputs(iocb_cli_bus_usage, stdout);
			return IOCB_EXIT_OK;
		}
		if (!opts_end && strcmp(argv[i], "--force") == 0) {
			force = true;
		} else if (!file && (opts_end || argv[i][0] != '-')) {
			file = argv[i];
		} else {
			fprintf(stderr, "iocbus: bus: unexpected argument '%s'\n%s", argv[i], iocb_cli_bus_usage);
			return IOCB_EXIT_ERROR;
		}
	}
	if (!file) {
		fputs(iocb_cli_bus_usage, stderr);
		return IOCB_EXIT_ERROR;
	}
	if (iocb_bus_curve_keygen(file, force, pub, &err) < 0) {
		fprintf(stderr, "iocbus: %s\n", err.msg);
		return IOCB_EXIT_ERROR;
	}
	printf("%s\n", pub);
	return IOCB_EXIT_OK;
}
