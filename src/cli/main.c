/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iocbus entry point: dispatches to a subcommand. main() only wires modules
 * together; each subcommand lives in its own file under src/cli/. The
 * command table below is also what the man page and the bash completion
 * are generated from (cmd_man.c, cmd_completion.c).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"

const char iocb_cli_tagline[] = "MISP threat intelligence where detection happens.";

const struct iocb_cli_cmd iocb_cli_cmds[] = {
	{"load", "load MISP intel and report what was loaded and skipped", iocb_cli_load_usage, iocb_cmd_load},
	{"lookup", "look values up and print matching indicators as JSON", iocb_cli_lookup_usage, iocb_cmd_lookup},
	{"enrich", "enrich JSON log lines (ECS, Suricata EVE, Zeek) with matching indicators", iocb_cli_enrich_usage,
	 iocb_cmd_enrich},
	{"run", "the daemon: follow MISP (ZeroMQ, Kafka, REST, feeds), serve /metrics and /v1/lookup",
	 iocb_cli_run_usage, iocb_cmd_run},
	{"check-config", "validate a configuration file", iocb_cli_check_config_usage, iocb_cmd_check_config},
	{"config", "dump the effective configuration, or print its reference", iocb_cli_config_usage,
	 iocb_cmd_config},
	{"store", "check a persistent store, or set a damaged one aside", iocb_cli_store_usage, iocb_cmd_store},
	{"export", "write the indicators out (a value list per MISP type), replacing a file atomically",
	 iocb_cli_export_usage, iocb_cmd_export},
	{"bus", "write a CURVE key pair for the bus (bus keygen)", iocb_cli_bus_usage, iocb_cmd_bus},
	{"warninglists", "which MISP warninglists values are on, and the policy (warninglists check)",
	 iocb_cli_warninglists_usage, iocb_cmd_warninglists},
	{"man", "print the iocbus(1) manual page (troff)", iocb_cli_man_usage, iocb_cmd_man},
	{"completion", "print the bash completion script", iocb_cli_completion_usage, iocb_cmd_completion},
};
const size_t iocb_cli_ncmds = sizeof(iocb_cli_cmds) / sizeof(iocb_cli_cmds[0]);

static void usage(FILE *out)
{
	fprintf(out, "usage: iocbus <command> [options]\n\n%s\n\ncommands:\n", iocb_cli_tagline);
	for (size_t i = 0; i < iocb_cli_ncmds; i++)
		fprintf(out, "  %-13s %s\n", iocb_cli_cmds[i].name, iocb_cli_cmds[i].summary);
	fputs("\nRun 'iocbus <command> --help' for a command's options; --version prints the version.\n", out);
}

int main(int argc, char **argv)
{
	/* Before any thread: stderr lines take the journal's form when stderr is the journal. */
	iocb_log_detect_journal();
	if (argc < 2) {
		usage(stderr);
		return IOCB_EXIT_ERROR;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("iocbus %s\n", IOCB_VERSION);
		return IOCB_EXIT_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return IOCB_EXIT_OK;
	}
	for (size_t i = 0; i < iocb_cli_ncmds; i++)
		if (strcmp(argv[1], iocb_cli_cmds[i].name) == 0)
			return iocb_cli_cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "iocbus: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return IOCB_EXIT_ERROR;
}
