/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The iocbus subcommands. Each returns the process exit code; only main()
 * exits. Shared set-up (configuration, filter, store, loading --intel) lives
 * in common.c so every subcommand treats options the same way.
 */
#ifndef IOCB_CLI_CLI_H
#define IOCB_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "config/config.h"
#include "core/time.h"
#include "enrich/enrich.h"
#include "filter/filter.h"
#include "ingest/ingest.h"
#include "store/store.h"

/* Exit codes (lookup: 0 hit, 1 no hit, 2 error). */
enum { IOCB_EXIT_OK = 0, IOCB_EXIT_MISS = 1, IOCB_EXIT_ERROR = 2 };

/* What every intel-consuming subcommand shares. */
struct iocb_cli_env {
	struct iocb_config *cfg;     /* owned */
	struct iocb_filter *filter;  /* owned */
	struct iocb_store *store;    /* owned */
	struct iocb_ingest *ingest;  /* owned */
	const char *intel[256];      /* --intel paths (borrowed from argv) */
	size_t nintel;
	const char *config_path;     /* --config */
	const char *store_path;      /* --store (overrides store.path) */
	bool non_ids;                /* --non-ids */
};

/*
 * Parse a common option at argv; returns the number of argv items consumed
 * (1 or 2), 0 if not a common option, -1 on a usage error (message printed).
 */
int iocb_cli_common_opt(struct iocb_cli_env *env, int argc, char **argv, int i);
/*
 * getopt's "--": true when `a` is the first "--" of the command line (skip
 * it); from then on *ended is set and every item is an operand, even one
 * that starts with '-' (a value such as "-1" or a file named "-x").
 */
bool iocb_cli_end_of_opts(const char *a, bool *ended);
/* Load the configuration only (--config, or the defaults) and apply its log settings. */
int iocb_cli_env_config(struct iocb_cli_env *env);
/* Load config (unless loaded), build filter and store, load config intel + --intel paths. */
int iocb_cli_env_open(struct iocb_cli_env *env, bool quiet);
void iocb_cli_env_close(struct iocb_cli_env *env);

/*
 * The configuration's decay models and maximum ages (`quality`), applied to
 * the opened store (records loaded with --intel get their marks): lookups
 * show expired indicators with their score, enrich skips them. NULL when
 * there is nothing to apply (a bad `quality` section is reported on
 * stderr). Free with iocb_quality_decay_free() after iocb_cli_env_close().
 */
struct iocb_quality_decay *iocb_cli_quality(struct iocb_cli_env *env);
/* A record's decay score for the lookup renderer (ud is the decay object). */
double iocb_cli_quality_score(void *ud, const struct iocb_store_quality *q, int64_t now);

/*
 * Build the enrich field map of `cfg` (enrich.preset, or `preset` when not
 * NULL, and enrich.fields) plus command-line fields applied last. Errors
 * are printed; one in the file's own fields names the file. Returns
 * IOCB_EXIT_OK with *out owned by the caller, or IOCB_EXIT_ERROR.
 */
int iocb_cli_enrich_map(const struct iocb_config *cfg, const char *preset, const struct iocb_enrich_field_spec *cli,
			size_t ncli, struct iocb_enrich_map **out);

/*
 * One subcommand as `iocbus --help`, the man page (`iocbus man`) and the
 * bash completion (`iocbus completion bash`) all show it: the three are
 * generated from this table and the --help texts, so they cannot drift.
 */
struct iocb_cli_cmd {
	const char *name;                  /* "check-config" */
	const char *summary;               /* one line for the command list */
	const char *usage;                 /* the command's --help text */
	int (*fn)(int argc, char **argv);  /* argv[0] is the command name */
};

/* The subcommands in --help order (main.c), and their count. */
extern const struct iocb_cli_cmd iocb_cli_cmds[];
extern const size_t iocb_cli_ncmds;
/* The first lines of `iocbus --help`, before the command list. */
extern const char iocb_cli_tagline[];

/* Each command's --help text (in its cmd_*.c). */
extern const char iocb_cli_load_usage[], iocb_cli_lookup_usage[], iocb_cli_enrich_usage[], iocb_cli_run_usage[],
	iocb_cli_check_config_usage[], iocb_cli_config_usage[], iocb_cli_store_usage[], iocb_cli_export_usage[],
	iocb_cli_bus_usage[], iocb_cli_warninglists_usage[], iocb_cli_man_usage[], iocb_cli_completion_usage[];

int iocb_cmd_load(int argc, char **argv);
int iocb_cmd_lookup(int argc, char **argv);
int iocb_cmd_check_config(int argc, char **argv);
int iocb_cmd_config(int argc, char **argv);
int iocb_cmd_enrich(int argc, char **argv);
int iocb_cmd_run(int argc, char **argv);
int iocb_cmd_store(int argc, char **argv);
int iocb_cmd_export(int argc, char **argv);
int iocb_cmd_bus(int argc, char **argv);
int iocb_cmd_man(int argc, char **argv);
int iocb_cmd_completion(int argc, char **argv);
int iocb_cmd_warninglists(int argc, char **argv);

/*
 * `iocbus lookup` with a configuration that has quality.warninglists:
 * load the lists, mark the store's records as `iocbus run` does
 * (requalify), and give the lookup renderer the list names. *out is NULL
 * without the section; detach even after a failed attach.
 */
struct iocb_cli_wl;
struct iocb_render_quality;
int iocb_cli_wl_attach(struct iocb_cli_env *env, struct iocb_cli_wl **out);
const struct iocb_render_quality *iocb_cli_wl_render(const struct iocb_cli_wl *c);
const struct iocb_enrich_wl *iocb_cli_wl_enrich(const struct iocb_cli_wl *c);
void iocb_cli_wl_detach(struct iocb_cli_env *env, struct iocb_cli_wl *c);

#endif
