/* SPDX-License-Identifier: Apache-2.0 */
/* Set-up shared by the subcommands (see cli.h). */
#include "cli/cli.h"

#include "quality/decay.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

int iocb_cli_common_opt(struct iocb_cli_env *env, int argc, char **argv, int i)
{
	const char *a = argv[i];
	const char *val = NULL;
	int used = 2;

	if (strcmp(a, "--non-ids") == 0) {
		env->non_ids = true;
		return 1;
	}
	if (strncmp(a, "--intel=", 8) == 0 || strncmp(a, "--config=", 9) == 0 || strncmp(a, "--store=", 8) == 0) {
		val = strchr(a, '=') + 1;
		used = 1;
	} else if (strcmp(a, "--intel") == 0 || strcmp(a, "-i") == 0 || strcmp(a, "--config") == 0 ||
		   strcmp(a, "-c") == 0 || strcmp(a, "--store") == 0) {
		if (i + 1 >= argc) {
			fprintf(stderr, "iocbus: %s needs a value\n", a);
			return -1;
		}
		val = argv[i + 1];
	} else {
		return 0;
	}
	if (strncmp(a, "--intel", 7) == 0 || strcmp(a, "-i") == 0) {
		if (env->nintel >= sizeof(env->intel) / sizeof(env->intel[0])) {
			fprintf(stderr, "iocbus: too many --intel paths\n");
			return -1;
		}
		env->intel[env->nintel++] = val;
	} else if (strncmp(a, "--config", 8) == 0 || strcmp(a, "-c") == 0) {
		env->config_path = val;
	} else {
		env->store_path = val;
	}
	return used;
}

bool iocb_cli_end_of_opts(const char *a, bool *ended)
{
	if (*ended || strcmp(a, "--") != 0)
		return false;
	*ended = true;
	return true;
}

int iocb_cli_env_config(struct iocb_cli_env *env)
{
	struct iocb_err err = {0};

	if (env->cfg)
		return IOCB_EXIT_OK;
	if (env->config_path) {
		if (iocb_config_load(env->config_path, &env->cfg, &err) < 0) {
			fprintf(stderr, "iocbus: %s\n", err.msg);
			return IOCB_EXIT_ERROR;
		}
	} else {
		env->cfg = iocb_config_default();
	}
	iocb_log_set_level(env->cfg->log.level);
	iocb_log_set_format(env->cfg->log.format);
	if (env->cfg->log.debug)
		iocb_log_set_debug_modules(env->cfg->log.debug);
	return IOCB_EXIT_OK;
}

int iocb_cli_env_open(struct iocb_cli_env *env, bool quiet)
{
	struct iocb_store_opts so;
	struct iocb_err err = {0};

	if (iocb_cli_env_config(env) != IOCB_EXIT_OK)
		return IOCB_EXIT_ERROR;
	if (iocb_filter_new(env->cfg->filters, env->cfg->nfilters, &env->cfg->filter_opts, &env->filter, &err) < 0) {
		fprintf(stderr, "iocbus: %s\n", err.msg);
		return IOCB_EXIT_ERROR;
	}
	iocb_store_opts_default(&so);
	so.path = env->store_path ? env->store_path : env->cfg->store.path;
	so.match_non_ids = env->non_ids || env->cfg->store.match_non_ids;
	if (env->cfg->store.map_size)
		so.map_size = env->cfg->store.map_size;
	so.durable = env->cfg->store.durable;
	so.expected_attrs = env->cfg->store.expected_attributes;
	if (iocb_store_open(&so, &env->store, &err) < 0) {
		fprintf(stderr, "iocbus: %s\n", err.msg);
		return IOCB_EXIT_ERROR;
	}
	env->ingest = iocb_ingest_new(env->store, env->filter, 0);
	for (size_t i = 0; i < env->cfg->nintel + env->nintel; i++) {
		const char *path = i < env->cfg->nintel ? env->cfg->intel[i] : env->intel[i - env->cfg->nintel];
		if (iocb_ingest_path(env->ingest, path, &err) < 0 && !quiet)
			fprintf(stderr, "iocbus: %s\n", err.msg);
	}
	return IOCB_EXIT_OK;
}

void iocb_cli_env_close(struct iocb_cli_env *env)
{
	iocb_ingest_free(env->ingest);
	iocb_store_free(env->store);
	iocb_filter_free(env->filter);
	iocb_config_free(env->cfg);
	memset(env, 0, sizeof(*env));
}

double iocb_cli_quality_score(void *ud, const struct iocb_store_quality *q, int64_t now)
{
	return iocb_quality_decay_score(ud, q, now);
}

struct iocb_quality_decay *iocb_cli_quality(struct iocb_cli_env *env)
{
	struct iocb_quality_decay *d = NULL;
	struct iocb_err err = {0};
	size_t n;
	if (!env->cfg || iocb_quality_decay_from_config(env->cfg, &d, &err) < 0) {
		if (err.msg[0])
			fprintf(stderr, "iocbus: %s (quality not applied)\n", err.msg);
		return NULL;
	}
	if (!iocb_quality_decay_active(d) || iocb_store_quality_add(env->store, iocb_quality_decay_apply, d) < 0 ||
	    iocb_store_requalify(env->store, 0, &n, &err) < 0) {
		iocb_quality_decay_free(d);
		return NULL;
	}
	return d;
}
