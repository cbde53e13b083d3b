/* SPDX-License-Identifier: Apache-2.0 */
/* `iocbus check-config` and `iocbus config dump|docs`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/mem.h"
#include "enrich/enrich.h"
#include "serve/bus/curve.h"
#include "serve/http/auth.h"

const char iocb_cli_check_config_usage[] =
	"usage: iocbus check-config FILE\n"
	"\n"
	"Validate a configuration file (iocbus or Threat Bus format): unknown keys,\n"
	"wrong types, unknown MISP types in filters, bad enrich field specs, and\n"
	"bus.curve key files and http.auth files iocbus run would refuse.\n"
	"Errors name file:line:col (field specs: the file and enrich.fields.PATH).\n"
	"The API key is never printed. Exit status 0 if valid, 2 otherwise.\n";

const char iocb_cli_config_usage[] =
	"usage: iocbus config dump FILE   print the effective configuration (secrets as ***)\n"
	"       iocbus config docs        print the configuration reference (Markdown)\n";

static int validate(const char *path, struct iocb_config **cfg)
{
	struct iocb_filter *f = NULL;
	struct iocb_enrich_map *m = NULL;
	struct iocb_err err = {0};

	if (iocb_config_load(path, cfg, &err) < 0) {
		fprintf(stderr, "iocbus: %s\n", err.msg);
		return IOCB_EXIT_ERROR;
	}
	if (iocb_filter_new((*cfg)->filters, (*cfg)->nfilters, &(*cfg)->filter_opts, &f, &err) < 0) {
		fprintf(stderr, "iocbus: %s\n", err.msg);
		return IOCB_EXIT_ERROR;
	}
	iocb_filter_free(f);
	/* Field specs are the enrich module's to read: build the map to check them. */
	if (iocb_cli_enrich_map(*cfg, NULL, NULL, 0, &m) != IOCB_EXIT_OK)
		return IOCB_EXIT_ERROR;
	iocb_enrich_map_free(m);
	/* Each input's own map: its preset, then enrich.fields, then its fields (as the pipeline builds it). */
	for (size_t i = 0; i < (*cfg)->ninputs; i++) {
		if (iocb_enrich_map_from_config(*cfg, &(*cfg)->inputs[i], &m, &err) < 0) {
			fprintf(stderr, "iocbus: %s\n", err.msg);
			return IOCB_EXIT_ERROR;
		}
		iocb_enrich_map_free(m);
		m = NULL;
	}
	/* issue #16 status page: http.auth's files as `iocbus run` reads them at start (mode, format; nothing secret is printed). */
	if ((*cfg)->http.enabled && (*cfg)->http.auth_present) {
		struct iocb_http_auth *auth = NULL;
		struct iocb_http_auth_opts ao = {(*cfg)->http.auth_token_file, (*cfg)->http.auth_users_file,
						 (*cfg)->http.auth_realm};
		if (iocb_http_auth_load(&ao, &auth, &err) < 0) {
			fprintf(stderr, "iocbus: %s\n", err.msg);
			return IOCB_EXIT_ERROR;
		}
		iocb_http_auth_free(auth);
	}
	/* The CURVE key files as `iocbus run` reads them at start (mode, layout, the pair, the clients). */
	if ((*cfg)->bus.curve_present) {
		struct iocb_bus_curve *keys = NULL;
		if (iocb_bus_curve_load((*cfg)->bus.curve_secret_key_file, (*cfg)->bus.curve_clients_file, &keys,
					&err) < 0) {
			fprintf(stderr, "iocbus: %s\n", err.msg);
			return IOCB_EXIT_ERROR;
		}
		iocb_bus_curve_free(keys);
	}
	return IOCB_EXIT_OK;
}

int iocb_cmd_check_config(int argc, char **argv)
{
	struct iocb_config *cfg = NULL;
	bool opts_end = false;
	int rc;

	if (argc == 3 && iocb_cli_end_of_opts(argv[1], &opts_end)) {
		argv++; /* "check-config -- FILE": FILE may start with '-' */
		argc--;
	}
	if (argc != 2 || (!opts_end && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))) {
		fputs(iocb_cli_check_config_usage, argc == 2 ? stdout : stderr);
		return argc == 2 ? IOCB_EXIT_OK : IOCB_EXIT_ERROR;
	}
	rc = validate(argv[1], &cfg);
	if (rc == IOCB_EXIT_OK) {
		(void)iocb_config_warn_exposure(cfg); /* the warnings `iocbus run` logs at start */
		printf("%s: OK (%zu filter(s); source: %s; API %s%s; %zu feed(s); store: %s; http: %s)\n", argv[1],
		       cfg->nfilters, cfg->zmq.present ? "zmq" : cfg->kafka.present ? "kafka" : "none",
		       cfg->api.present ? "configured" : "not configured",
		       cfg->pull.present ? ", pulled" : "", cfg->nfeeds,
		       cfg->store.path ? cfg->store.path : "memory", cfg->http.enabled ? "on" : "off");
		if (cfg->ninputs) {
			printf("%s: pipeline: %zu input(s):", argv[1], cfg->ninputs);
			for (size_t i = 0; i < cfg->ninputs; i++) {
				const struct iocb_config_input *in = &cfg->inputs[i];

				printf(" %s(%s)", in->name, iocb_config_choice_name(IOCB_CONFIG_CHOICE_INPUT_TYPE, (int)in->type));
			}
			printf("; %zu output(s):", cfg->noutputs);
			for (size_t i = 0; i < cfg->noutputs; i++) {
				const struct iocb_config_output *o = &cfg->outputs[i];

				printf(" %s(%s)", o->name, iocb_config_choice_name(IOCB_CONFIG_CHOICE_OUTPUT_TYPE, (int)o->type));
			}
			printf("; state: %s\n", cfg->pipeline.state_dir ? cfg->pipeline.state_dir : "memory only");
		}
	}
	iocb_config_free(cfg);
	return rc;
}

int iocb_cmd_config(int argc, char **argv)
{
	struct iocb_config *cfg = NULL;
	bool opts_end = false;
	int rc;

	if (argc == 4 && strcmp(argv[1], "dump") == 0 && iocb_cli_end_of_opts(argv[2], &opts_end)) {
		argv[2] = argv[3]; /* "config dump -- FILE" */
		argc--;
	}
	if (argc == 2 && strcmp(argv[1], "docs") == 0)
		return iocb_config_docs(stdout) < 0 ? IOCB_EXIT_ERROR : IOCB_EXIT_OK;
	if (argc == 3 && strcmp(argv[1], "dump") == 0) {
		rc = validate(argv[2], &cfg);
		if (rc == IOCB_EXIT_OK && iocb_config_dump(cfg, stdout) < 0)
			rc = IOCB_EXIT_ERROR;
		iocb_config_free(cfg);
		return rc;
	}
	fputs(iocb_cli_config_usage, argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) ? stdout
												   : stderr);
	return argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) ? IOCB_EXIT_OK
											   : IOCB_EXIT_ERROR;
}
