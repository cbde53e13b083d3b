/* SPDX-License-Identifier: Apache-2.0 */
/* `iocbus load` and `iocbus lookup`. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "json/json.h"
#include "quality/decay.h"
#include "serve/render/render.h"

const char iocb_cli_load_usage[] =
	"usage: iocbus load [--config FILE] [--store DIR] [--non-ids] --intel PATH...\n"
	"\n"
	"Load MISP intelligence and report what was loaded per type and what was\n"
	"skipped and why. PATH is a JSON file of any MISP shape (restSearch\n"
	"response, event, ZeroMQ/Kafka message) or a MISP feed directory\n"
	"(manifest.json + <uuid>.json); '-' reads standard input. Bare arguments\n"
	"are taken as --intel paths. With --store (or store.path in the config)\n"
	"the result is persisted.\n"
	"\n"
	"  -c, --config FILE   configuration (filters, store, intel paths)\n"
	"  -i, --intel PATH    intel to load (repeatable)\n"
	"      --store DIR     persistent store directory (LMDB)\n"
	"      --non-ids       also match attributes whose to_ids is false\n"
	"\n"
	"Exit status: 0 when every input was read (and, with a store, saved), 2 when\n"
	"one could not be read or the store could not be written.\n";

const char iocb_cli_lookup_usage[] =
	"usage: iocbus lookup [--config FILE] [--store DIR] [--intel PATH]... [--non-ids] VALUE...\n"
	"\n"
	"Look values up (IP addresses, domains, URLs, hashes, e-mail addresses,\n"
	"...) and print one JSON object per value: {\"value\":..,\"matches\":[..]}.\n"
	"Values are normalised as MISP normalises indicators; IPs also match\n"
	"stored CIDR ranges that contain them. With quality.warninglists in the\n"
	"configuration, records on a warninglist are listed under \"warninglists\"\n"
	"with the policy's action and the lists, suppressed ones included.\n"
	"\n"
	"Exit status: 0 if any value matched, 1 if none did, 2 on error.\n";

/* Anonymous resident memory (heap, not the mapped intel files), -1 if unknown. */
static long rss_anon_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The option at argv[i]: returns the items it used (1 or 2), 0 if it is a value, -1 on error. */
static int one_opt(struct iocb_cli_env *env, int argc, char **argv, int i, const char *usage)
{
	if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
		fputs(usage, stdout);
		exit(IOCB_EXIT_OK);
	}
	int used = iocb_cli_common_opt(env, argc, argv, i);
	if (used != 0)
		return used;
	if (argv[i][0] == '-' && argv[i][1] != '\0') {
		fprintf(stderr, "iocbus: unknown option %s\n%s", argv[i], usage);
		return -1;
	}
	return 0;
}

static int parse_args(struct iocb_cli_env *env, int argc, char **argv, const char *usage, const char **vals,
		      size_t *nvals, bool bare_is_intel)
{
	bool opts_end = false;

	for (int i = 1; i < argc; i++) {
		if (iocb_cli_end_of_opts(argv[i], &opts_end))
			continue;
		if (!opts_end) {
			int used = one_opt(env, argc, argv, i, usage);
			if (used < 0)
				return -1;
			if (used > 0) {
				i += used - 1;
				continue;
			}
		}
		if (bare_is_intel) {
			if (env->nintel >= sizeof(env->intel) / sizeof(env->intel[0]))
				return -1;
			env->intel[env->nintel++] = argv[i];
		} else {
			vals[(*nvals)++] = argv[i];
		}
	}
	return 0;
}

int iocb_cmd_load(int argc, char **argv)
{
	struct iocb_cli_env env = {0};
	struct iocb_store_stats ss;
	const struct iocb_ingest_stats *st;
	double t0;
	int rc;

	if (parse_args(&env, argc, argv, iocb_cli_load_usage, NULL, NULL, true) < 0)
		return IOCB_EXIT_ERROR;
	if (env.nintel == 0 && !env.config_path) {
		fputs(iocb_cli_load_usage, stderr);
		return IOCB_EXIT_ERROR;
	}
	t0 = iocb_time_mono_s();
	rc = iocb_cli_env_open(&env, false);
	if (rc != IOCB_EXIT_OK)
		goto out;
	double secs = iocb_time_mono_s() - t0;
	st = iocb_ingest_stats(env.ingest);
	iocb_store_stats(env.store, &ss);
	printf("loaded %llu indicator attributes from %llu input(s) in %.3f s (%llu unreadable)\n",
	       (unsigned long long)st->upserts, (unsigned long long)st->files, secs,
	       (unsigned long long)st->bad_files);
	if (st->upserts) {
		printf("by type:\n");
		for (size_t t = 0; t < iocb_misp_type_count(); t++)
			if (st->by_type[t])
				printf("  %-28s %10llu\n", iocb_misp_type_get((uint16_t)t)->name,
				       (unsigned long long)st->by_type[t]);
	}
	uint64_t nskip = st->filtered;
	for (int r = 0; r < IOCB_SKIP__COUNT; r++)
		nskip += st->misp.skipped[r];
	printf("skipped %llu:\n", (unsigned long long)nskip);
	if (st->filtered)
		printf("  %-28s %10llu  (did not pass the configured filter)\n", "filtered",
		       (unsigned long long)st->filtered);
	for (int r = 0; r < IOCB_SKIP__COUNT; r++) {
		if (!st->misp.skipped[r])
			continue;
		printf("  %-28s %10llu\n", iocb_misp_skip_name((enum iocb_misp_skip)r),
		       (unsigned long long)st->misp.skipped[r]);
		for (unsigned k = 0; k < st->nsamples[r]; k++)
			printf("      e.g. %s\n", st->samples[r][k]);
	}
	printf("store: %llu attributes, %llu events, %llu CIDR ranges, %llu not for IDS (to_ids false)\n",
	       (unsigned long long)ss.attrs, (unsigned long long)ss.events,
	       (unsigned long long)(ss.cidrs_v4 + ss.cidrs_v6), (unsigned long long)ss.non_ids);
	/*
	 * Per attribute, the store's own records and indexes: the process's
	 * resident memory also holds LMDB's dirty pages of the last write
	 * transaction and what malloc keeps, which says little about the store.
	 * The process figure is still shown, trimmed first, as a whole.
	 */
	malloc_trim(0);
	long anon_kb = rss_anon_kb();
	printf("memory: %.1f MiB in the store's records and indexes, %.0f bytes per attribute",
	       (double)ss.mem_bytes / (1024 * 1024), ss.attrs ? (double)ss.mem_bytes / (double)ss.attrs : 0.0);
	if (anon_kb > 0)
		printf("; the process holds %.1f MiB resident (anonymous)", (double)anon_kb / 1024);
	putchar('\n');
	if (ss.commit_failing)
		/* Everything above is in memory only; a 0 here would promise a store that is not on disk. */
		printf("NOT SAVED: the store could not be written: %s\n", ss.commit_error);
	rc = st->bad_files || ss.commit_failing ? IOCB_EXIT_ERROR : IOCB_EXIT_OK;
out:
	iocb_cli_env_close(&env);
	return rc;
}

#define MAX_HITS 1024

int iocb_cmd_lookup(int argc, char **argv)
{
	struct iocb_cli_env env = {0};
	const char **vals = calloc((size_t)argc + 1, sizeof(char *));
	struct iocb_store_hit *hits = calloc(MAX_HITS, sizeof(*hits));
	struct iocb_cli_wl *wl = NULL;
	struct iocb_quality_decay *decay = NULL;
	size_t nvals = 0;
	bool any = false;
	struct iocb_buf out;
	struct iocb_jw w;
	int rc;

	iocb_buf_init(&out, 0);
	if (!vals || !hits || parse_args(&env, argc, argv, iocb_cli_lookup_usage, vals, &nvals, false) < 0) {
		rc = IOCB_EXIT_ERROR;
		goto out;
	}
	if (nvals == 0) {
		fputs(iocb_cli_lookup_usage, stderr);
		rc = IOCB_EXIT_ERROR;
		goto out;
	}
	rc = iocb_cli_env_open(&env, false);
	if (rc != IOCB_EXIT_OK)
		goto out;
	if (iocb_ingest_stats(env.ingest)->bad_files) {
		rc = IOCB_EXIT_ERROR;
		goto out;
	}
	rc = iocb_cli_wl_attach(&env, &wl);
	if (rc != IOCB_EXIT_OK)
		goto out;
	decay = iocb_cli_quality(&env);
	struct iocb_render_quality rq = {.score = decay ? iocb_cli_quality_score : NULL, .ud = decay};
	const struct iocb_render_quality *wq = iocb_cli_wl_render(wl);
	if (wq) { /* warninglist names */
		rq.names = wq->names;
		rq.names_ud = wq->names_ud;
	}
	iocb_store_reader_register();
	iocb_store_read_lock();
	for (size_t i = 0; i < nvals; i++) {
		iocb_buf_reset(&out);
		iocb_jw_init(&w, &out);
		size_t n = iocb_render_lookup_json_q(env.store, &w, iocb_str_c(vals[i]), hits, MAX_HITS, &rq);
		if (n)
			any = true;
		fwrite(out.ptr, 1, out.len, stdout);
		fputc('\n', stdout);
	}
	iocb_store_read_unlock();
	iocb_store_reader_unregister();
	rc = any ? IOCB_EXIT_OK : IOCB_EXIT_MISS;
out:
	iocb_buf_fini(&out);
	free(vals);
	free(hits);
	iocb_cli_wl_detach(&env, wl);
	iocb_cli_env_close(&env); /* the store before decay: its callback points at decay */
	iocb_quality_decay_free(decay);
	return rc;
}
