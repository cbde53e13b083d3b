/* SPDX-License-Identifier: Apache-2.0 */
/* `iocbus warninglists check`: which MISP warninglists values are on, and the policy (docs/QUALITY.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "json/json.h"
#include "quality/warninglist.h"
#include "serve/render/render.h"

const char iocb_cli_warninglists_usage[] =
	"usage: iocbus warninglists check [--config FILE] [--path PATH]... [--type TYPE] VALUE...\n"
	"\n"
	"Print, one JSON object a line per VALUE, the MISP warninglists it is on and\n"
	"the policy that applies (suppress, flag, ignore), as `iocbus run` decides it.\n"
	"  --config FILE  the lists, selection and policy of quality.warninglists\n"
	"  --path PATH    a directory (a misp-warninglists checkout, <name>/list.json,\n"
	"                 <name>.json) or a list file; repeatable; replaces the config's\n"
	"                 paths (without --config: every list, the default policy)\n"
	"  --type TYPE    the MISP type of the values: only lists whose\n"
	"                 matching_attributes name it apply, a composite value is split\n"
	"                 on '|' (default: every list, the whole value)\n"
	"Lists that cannot be read are reported on stderr and skipped.\n"
	"Exit status: 0 if a value is on a list, 1 if none is, 2 on an error.\n";

struct wl_args {
	const char *config;              /* --config */
	char *paths[64];                 /* --path (borrowed from argv) */
	size_t npaths;
	const char *type;                /* --type */
	const char **vals;               /* the values */
	size_t nvals;
};

static int parse(int argc, char **argv, struct wl_args *a)
{
	bool ended = false;
	for (int i = 2; i < argc; i++) {
		const char *s = argv[i];
		if (!ended && iocb_cli_end_of_opts(s, &ended))
			continue;
		bool has_arg = i + 1 < argc;
		if (!ended && strcmp(s, "--config") == 0 && has_arg)
			a->config = argv[++i];
		else if (!ended && strcmp(s, "--path") == 0 && has_arg && a->npaths < 64)
			a->paths[a->npaths++] = argv[++i];
		else if (!ended && strcmp(s, "--type") == 0 && has_arg)
			a->type = argv[++i];
		else if (!ended && (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0)) {
			fputs(iocb_cli_warninglists_usage, stdout);
			exit(IOCB_EXIT_OK);
		} else if (!ended && s[0] == '-' && s[1]) {
			fprintf(stderr, "iocbus: warninglists check: unknown or incomplete option '%s'\n%s", s, iocb_cli_warninglists_usage);
			return IOCB_EXIT_ERROR;
		} else
			a->vals[a->nvals++] = s;
	}
	if (!a->nvals || (!a->config && !a->npaths)) {
		fputs(iocb_cli_warninglists_usage, stderr);
		return IOCB_EXIT_ERROR;
	}
	return IOCB_EXIT_OK;
}

static void on_skip(void *ud, const char *file, const char *reason)
{
	(void)ud;
	fprintf(stderr, "iocbus: warninglist skipped: %s\n", reason[0] ? reason : file);
}

/* One value's line. Returns whether it is on a list. */
static bool check_one(struct iocb_wl *w, const struct iocb_misp_type *t, const struct iocb_wl_policy *pol,
		      const char *value, struct iocb_buf *out)
{
	struct iocb_jw jw;
	const uint16_t *ls;
	uint16_t set = iocb_wl_match(w, t, iocb_str_c(value));
	size_t n = iocb_wl_set_lists(w, set, &ls);
	iocb_buf_reset(out);
	iocb_jw_init(&jw, out);
	iocb_jw_obj(&jw);
	iocb_jw_key(&jw, "value");
	iocb_jw_cstr(&jw, value);
	iocb_jw_key(&jw, "warninglists");
	iocb_jw_arr(&jw);
	for (size_t i = 0; i < n; i++) {
		const struct iocb_wl_list *l = iocb_wl_list_get(w, ls[i]);
		enum iocb_wl_action act = pol->all ? pol->all : pol->category[l->category];
		iocb_jw_obj(&jw);
		iocb_jw_key(&jw, "list");
		iocb_jw_cstr(&jw, l->id);
		iocb_jw_key(&jw, "name");
		iocb_jw_cstr(&jw, l->name);
		iocb_jw_key(&jw, "type");
		iocb_jw_cstr(&jw, iocb_wl_type_name(l->type));
		iocb_jw_key(&jw, "category");
		iocb_jw_cstr(&jw, iocb_wl_category_name(l->category));
		iocb_jw_key(&jw, "policy");
		iocb_jw_cstr(&jw, iocb_wl_action_name(act));
		iocb_jw_obj_end(&jw);
	}
	iocb_jw_arr_end(&jw);
	iocb_jw_key(&jw, "action");
	iocb_jw_cstr(&jw, iocb_wl_action_name(iocb_wl_set_action(w, set, pol)));
	iocb_jw_obj_end(&jw);
	fwrite(out->ptr, 1, out->len, stdout);
	fputc('\n', stdout);
	return n > 0;
}

int iocb_cmd_warninglists(int argc, char **argv)
{
	struct wl_args a = {0};
	struct iocb_config *cfg = NULL;
	struct iocb_wl *w = NULL;
	struct iocb_err err = {0};
	struct iocb_buf out;
	int rc = IOCB_EXIT_ERROR;

	iocb_buf_init(&out, 0);
	a.vals = calloc((size_t)argc + 1, sizeof(*a.vals));
	if (argc < 2 || strcmp(argv[1], "check") != 0 || !a.vals) {
		fputs(iocb_cli_warninglists_usage, argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) ? stdout : stderr);
		rc = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) ? IOCB_EXIT_OK : rc;
		goto out;
	}
	if (parse(argc, argv, &a) != IOCB_EXIT_OK)
		goto out;
	const struct iocb_misp_type *t = NULL;
	if (a.type && !(t = iocb_misp_type_find(iocb_str_c(a.type)))) {
		fprintf(stderr, "iocbus: warninglists check: unknown MISP type '%s'\n", a.type);
		goto out;
	}
	if (a.config) {
		if (iocb_config_load(a.config, &cfg, &err) < 0) {
			fprintf(stderr, "iocbus: %s\n", err.msg);
			goto out;
		}
		if (!cfg->warninglists.present && !a.npaths) {
			fprintf(stderr, "iocbus: %s has no quality.warninglists (give --path)\n", a.config);
			goto out;
		}
	} else {
		cfg = iocb_config_default();
	}
	struct iocb_config_warninglists wc = cfg->warninglists;
	if (a.npaths) {
		wc.paths = a.paths;
		wc.npaths = a.npaths;
	}
	if (iocb_wl_load_config(&wc, on_skip, NULL, &w, NULL, &err) < 0) {
		fprintf(stderr, "iocbus: %s\n", err.msg);
		goto out;
	}
	struct iocb_wl_policy pol;
	iocb_wl_policy_from_config(&cfg->warninglists, -1, &pol);
	bool any = false;
	for (size_t i = 0; i < a.nvals; i++)
		any |= check_one(w, t, &pol, a.vals[i], &out);
	rc = any ? IOCB_EXIT_OK : IOCB_EXIT_MISS;
out:
	iocb_wl_free(w);
	iocb_config_free(cfg);
	iocb_buf_fini(&out);
	free(a.vals);
	return rc;
}

/* ------------------------------------------------------------ `iocbus lookup` */

/* The lists of --config applied to the CLI's store: the records get their marks as in `iocbus run`. */
struct iocb_cli_wl {
	struct iocb_wl *w;                                 /* the lists */
	struct iocb_wl_policy pol[IOCB_STORE_MAX_SOURCES]; /* the global policy for every source */
	int handle;                                        /* store quality callback */
	struct iocb_render_quality rq;                     /* names for the lookup JSON */
	struct iocb_enrich_wl eq;                          /* names for misp.warninglists (enrich) */
};

static void cli_mark(void *ud, const struct iocb_store_attr *a, struct iocb_store_quality *q)
{
	struct iocb_cli_wl *c = ud;
	iocb_wl_store_mark(c->w, c->pol, a, q);
}

static void cli_names(void *ud, uint16_t set, void (*emit)(void *ctx, struct iocb_str name), void *ctx)
{
	struct iocb_cli_wl *c = ud;
	iocb_wl_set_names(c->w, set, emit, ctx);
}

static void cli_suppressed(void *ud, uint16_t set)
{
	(void)ud; /* `iocbus enrich` does not count: the daemon's metric is per list */
	(void)set;
}

int iocb_cli_wl_attach(struct iocb_cli_env *env, struct iocb_cli_wl **out)
{
	struct iocb_err err = {0};
	*out = NULL;
	if (!env->cfg->warninglists.present)
		return IOCB_EXIT_OK;
	struct iocb_cli_wl *c = calloc(1, sizeof(*c));
	if (!c)
		return IOCB_EXIT_ERROR;
	c->handle = -1;
	*out = c;
	if (iocb_wl_load_config(&env->cfg->warninglists, on_skip, NULL, &c->w, NULL, &err) < 0) {
		fprintf(stderr, "iocbus: %s\n", err.msg);
		return IOCB_EXIT_ERROR;
	}
	for (size_t i = 0; i < IOCB_STORE_MAX_SOURCES; i++)
		iocb_wl_policy_from_config(&env->cfg->warninglists, -1, &c->pol[i]);
	c->rq = (struct iocb_render_quality){.names = cli_names, .names_ud = c};
	c->eq = (struct iocb_enrich_wl){cli_names, cli_suppressed, c};
	c->handle = iocb_store_quality_add(env->store, cli_mark, c);
	size_t changed = 0;
	if (c->handle < 0 || iocb_store_requalify(env->store, (uint64_t)time(NULL), &changed, &err) < 0) {
		fprintf(stderr, "iocbus: warninglists: %s\n", err.msg[0] ? err.msg : "no store quality slot");
		return IOCB_EXIT_ERROR;
	}
	return IOCB_EXIT_OK;
}

const struct iocb_render_quality *iocb_cli_wl_render(const struct iocb_cli_wl *c)
{
	return c ? &c->rq : NULL;
}

const struct iocb_enrich_wl *iocb_cli_wl_enrich(const struct iocb_cli_wl *c)
{
	return c ? &c->eq : NULL;
}

void iocb_cli_wl_detach(struct iocb_cli_env *env, struct iocb_cli_wl *c)
{
	if (!c)
		return;
	if (c->handle >= 0)
		iocb_store_quality_remove(env->store, c->handle);
	iocb_wl_free(c->w);
	free(c);
}
