/* SPDX-License-Identifier: Apache-2.0 */
/* `iocbus run`: argument parsing only; the daemon module does the work. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "daemon/daemon.h"

const char iocb_cli_run_usage[] =
	"usage: iocbus run -c CONFIG [--http-port N]\n"
	"\n"
	"Run the daemon: keep the store in step with MISP (misp.zmq or misp.kafka, misp.api with\n"
	"misp.pull, feeds) and serve /metrics, /healthz and /v1/lookup (http section).\n"
	"SIGHUP reloads CONFIG; SIGTERM or SIGINT stops after committing. Under systemd\n"
	"(Type=notify) it reports readiness and status and sends watchdog pings.\n"
	"\n"
	"  -c, --config PATH   configuration file (required)\n"
	"      --http-port N   listen on port N instead of http.port (0: any free port)\n"
	"  -h, --help          this text\n";

int iocb_cmd_run(int argc, char **argv)
{
	struct iocb_daemon_opts o = {NULL, -1};
	bool opts_end = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (iocb_cli_end_of_opts(a, &opts_end))
			continue;
		if (opts_end) {
			fprintf(stderr, "iocbus: run takes no operands, got '%s'\n%s", a, iocb_cli_run_usage);
			return IOCB_EXIT_ERROR;
		}
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(iocb_cli_run_usage, stdout);
			return IOCB_EXIT_OK;
		}
		if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) && i + 1 < argc) {
			o.config_path = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			o.config_path = a + 9;
		} else if (strcmp(a, "--http-port") == 0 && i + 1 < argc) {
			uint64_t p;
			if (!iocb_str_to_u64(iocb_str_c(argv[++i]), &p) || p > 65535) {
				fprintf(stderr, "iocbus: --http-port: '%s' is not a port\n", argv[i]);
				return IOCB_EXIT_ERROR;
			}
			o.http_port = (int)p;
		} else {
			fprintf(stderr, "iocbus: run: unknown or incomplete option '%s'\n%s", a, iocb_cli_run_usage);
			return IOCB_EXIT_ERROR;
		}
	}
	if (!o.config_path) {
		fprintf(stderr, "iocbus: run needs -c CONFIG\n%s", iocb_cli_run_usage);
		return IOCB_EXIT_ERROR;
	}
	return iocb_daemon_run(&o) < 0 ? IOCB_EXIT_ERROR : IOCB_EXIT_OK;
}
