/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iocbus entry point: dispatches to a subcommand. main() only wires modules
 * together; each subcommand lives in its own file under src/cli/.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
	"usage: iocbus <command> [options]\n"
	"\n"
	"MISP threat intelligence where detection happens.\n"
	"\n"
	"commands:\n"
	"  load          load MISP intel and report what was loaded and skipped\n"
	"  lookup        look values up and print matching indicators as JSON\n"
	"  enrich        enrich JSON log lines (ECS, Suricata EVE, Zeek) with matching indicators\n"
	"  run           the daemon: follow MISP (ZeroMQ, Kafka, REST, feeds), serve /metrics and /v1/lookup\n"
	"  check-config  validate a configuration file\n"
	"  config        dump the effective configuration, or print its reference\n"
	"  store         check a persistent store, or set a damaged one aside\n"
	"  export        write the indicators out (a value list per MISP type), replacing a file atomically\n"
	"  bus           write a CURVE key pair for the bus (bus keygen)\n"
	"  warninglists  which MISP warninglists values are on, and the policy (warninglists check)\n"
	"\n"
	"Run 'iocbus <command> --help' for a command's options; --version prints the version.\n";

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct cmd cmds[] = {
	{"load", iocb_cmd_load},
	{"lookup", iocb_cmd_lookup},
	{"enrich", iocb_cmd_enrich},
	{"run", iocb_cmd_run},
	{"check-config", iocb_cmd_check_config},
	{"config", iocb_cmd_config},
	{"store", iocb_cmd_store},
	{"export", iocb_cmd_export},
	{"bus", iocb_cmd_bus},
	{"warninglists", iocb_cmd_warninglists},
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return IOCB_EXIT_ERROR;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("iocbus %s\n", IOCB_VERSION);
		return IOCB_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return IOCB_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "iocbus: unknown command '%s'\n%s", argv[1], usage);
	return IOCB_EXIT_ERROR;
}
