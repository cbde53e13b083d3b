/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `iocbus export`: write the store out in one of src/export's formats, to a
 * file replaced atomically or to standard output. The formats, the
 * selection and the sink are src/export's; this file only reads options.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "export/export.h"

const char iocb_cli_export_usage[] =
	"usage: iocbus export [--config FILE] [--store DIR] [--intel PATH]... [--non-ids]\n"
	"                     [--format FORMAT] [--type MISP_TYPE]... [--out FILE]\n"
	"                     [--misp-url URL] [--source-name NAME] [--dataset-type T]\n"
	"                     [--datarep N] [--iprep-rule GLOB=ID,NAME,SCORE]... [--iprep-categories FILE]\n"
	"\n"
	"Write the indicators of the store (and of --intel) out. --format values\n"
	"(the default) writes the distinct normalised values, one per line, sorted;\n"
	"--format zeek a Zeek Intel file (meta.url = URL/events/view/<id> with\n"
	"--misp-url, meta.source starts with NAME, default MISP; docs/EXPORTS.md);\n"
	"--format suricata-dataset one Suricata dataset file of type T (string:\n"
	"base64 domains, URLs, user agents; md5; sha256; ipv4; ip; default from the\n"
	"first --type; --datarep N: a datarep file, <item>,N lines);\n"
	"--format suricata-iprep a Suricata IP reputation file, <ip|cidr>,ID,SCORE\n"
	"per address and category its tags select (--iprep-rule, repeatable; default\n"
	"*=1,MISP,100), and with --iprep-categories FILE the categories file;\n"
	"--type keeps only attributes of that MISP type (repeatable; default every\n"
	"type); attributes whose to_ids is false are left out unless --non-ids (or\n"
	"store.match_non_ids). --out FILE is replaced atomically (a temporary file\n"
	"beside it, then rename), so a reader never sees half of it; without --out\n"
	"(or with '-') the values go to standard output.\n"
	"\n"
	"Exit status: 0 written, 2 on error (the previous FILE is left as it was).\n";

#define MAX_TYPES 64
#define MAX_IPREP_RULES 60

struct export_args {
	const char *format;                          /* --format */
	const char *out;                             /* --out, NULL = stdout */
	const char *misp_url;                        /* --misp-url */
	const char *source_name;                     /* --source-name */
	enum iocb_export_dataset dataset;            /* --dataset-type */
	const struct iocb_misp_type *types[MAX_TYPES]; /* --type */
	size_t ntypes;                               /* entries in types */
	unsigned datarep;                            /* --datarep */
	const char *iprep_categories;                /* --iprep-categories */
	struct iocb_export_iprep_rule rules[MAX_IPREP_RULES]; /* --iprep-rule */
	char globs[MAX_IPREP_RULES][256];            /* the rules' globs (rules[i].glob) */
	size_t nrules;                               /* entries in rules */
};

/* The value of option argv[i] ("--opt V" or "--opt=V"), advancing *i; NULL if missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (strcmp(argv[*i], name) == 0 && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static bool is_opt(const char *a, const char *name)
{
	size_t n = strlen(name);
	return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

/* Print the format names for a usage error. */
static void list_formats(void)
{
	const struct iocb_export_format *f;

	fprintf(stderr, "iocbus: --format wants one of:");
	for (size_t i = 0; iocb_export_format_get(i); i++) {
		f = iocb_export_format_get(i);
		fprintf(stderr, " %s (%s)", f->name, f->help);
	}
	fputc('\n', stderr);
}

/* --iprep-rule GLOB=ID,NAME,SCORE (split at the last '=': tags may hold one). -1 on error (printed). */
static int iprep_rule(struct export_args *x, const char *v)
{
	const char *eq = v ? strrchr(v, '=') : NULL;
	struct iocb_err err = {0};
	int n;

	if (!eq || eq == v || x->nrules == MAX_IPREP_RULES) {
		fprintf(stderr, "iocbus: --iprep-rule wants GLOB=ID,NAME,SCORE (at most %d)\n", MAX_IPREP_RULES);
		return -1;
	}
	n = snprintf(x->globs[x->nrules], sizeof(x->globs[0]), "%.*s", (int)(eq - v), v);
	if (n < 0 || (size_t)n >= sizeof(x->globs[0]) ||
	    iocb_export_iprep_rule_parse(x->globs[x->nrules], eq + 1, &x->rules[x->nrules], &err) < 0 ||
	    iocb_export_iprep_rules_check(x->rules, x->nrules + 1, &err) < 0) {
		fprintf(stderr, "iocbus: --iprep-rule: %s\n", err.msg[0] ? err.msg : "glob too long");
		return -1;
	}
	x->nrules++;
	return 1;
}

/* The Suricata options (--datarep, --iprep-*); same returns as own_opt(). */
static int suricata_opt(struct export_args *x, int argc, char **argv, int *i)
{
	const char *v;
	char *end;
	unsigned long n;

	if (is_opt(argv[*i], "--iprep-rule"))
		return iprep_rule(x, opt_value(argc, argv, i, "--iprep-rule"));
	if (is_opt(argv[*i], "--iprep-categories")) {
		v = opt_value(argc, argv, i, "--iprep-categories");
		if (!v || !*v) {
			fprintf(stderr, "iocbus: --iprep-categories wants a file name\n");
			return -1;
		}
		x->iprep_categories = v;
		return 1;
	}
	if (!is_opt(argv[*i], "--datarep"))
		return 0;
	v = opt_value(argc, argv, i, "--datarep");
	n = v ? strtoul(v, &end, 10) : 0;
	if (!v || *end || n < 1 || n > 65535) {
		fprintf(stderr, "iocbus: --datarep wants 1..65535\n");
		return -1;
	}
	x->datarep = (unsigned)n;
	return 1;
}

/* Parse one of export's own options at argv[*i]; 1 done, 0 not ours, -1 error (printed). */
static int own_opt(struct export_args *x, int argc, char **argv, int *i)
{
	const char *v;
	const struct iocb_misp_type *t;
	int used = suricata_opt(x, argc, argv, i);

	if (used)
		return used;

	if (is_opt(argv[*i], "--format")) {
		v = opt_value(argc, argv, i, "--format");
		if (!v || !iocb_export_format_find(v)) {
			list_formats();
			return -1;
		}
		x->format = v;
		return 1;
	}
	if (is_opt(argv[*i], "--out")) {
		v = opt_value(argc, argv, i, "--out");
		if (!v || !*v) {
			fprintf(stderr, "iocbus: --out wants a file name\n");
			return -1;
		}
		x->out = strcmp(v, "-") == 0 ? NULL : v;
		return 1;
	}
	if (is_opt(argv[*i], "--misp-url") || is_opt(argv[*i], "--source-name")) {
		bool url = is_opt(argv[*i], "--misp-url");
		v = opt_value(argc, argv, i, url ? "--misp-url" : "--source-name");
		if (!v || !*v) {
			fprintf(stderr, "iocbus: %s wants a value\n", url ? "--misp-url" : "--source-name");
			return -1;
		}
		*(url ? &x->misp_url : &x->source_name) = v;
		return 1;
	}
	if (is_opt(argv[*i], "--dataset-type")) {
		v = opt_value(argc, argv, i, "--dataset-type");
		x->dataset = v ? iocb_export_dataset_parse(v) : IOCB_EXPORT_DS_AUTO;
		if (x->dataset == IOCB_EXPORT_DS_AUTO) {
			fprintf(stderr, "iocbus: --dataset-type wants string, md5, sha256, ipv4 or ip\n");
			return -1;
		}
		return 1;
	}
	if (!is_opt(argv[*i], "--type"))
		return 0;
	v = opt_value(argc, argv, i, "--type");
	t = v ? iocb_misp_type_find(iocb_str_c(v)) : NULL;
	if (!t) {
		fprintf(stderr, "iocbus: --type wants a MISP attribute type (ip-dst, domain, md5, ...)\n");
		return -1;
	}
	if (x->ntypes == MAX_TYPES) {
		fprintf(stderr, "iocbus: at most %d --type\n", MAX_TYPES);
		return -1;
	}
	x->types[x->ntypes++] = t;
	return 1;
}

static int parse_args(struct iocb_cli_env *env, struct export_args *x, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		int used;

		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(iocb_cli_export_usage, stdout);
			return 1;
		}
		used = own_opt(x, argc, argv, &i);
		if (used == 0) {
			used = iocb_cli_common_opt(env, argc, argv, i);
			if (used > 0)
				i += used - 1;
		}
		if (used < 0)
			return -1;
		if (used == 0) {
			fprintf(stderr, "iocbus: export: unexpected %s\n%s", argv[i], iocb_cli_export_usage);
			return -1;
		}
	}
	return 0;
}

int iocb_cmd_export(int argc, char **argv)
{
	struct iocb_cli_env env = {0};
	struct export_args x = {.format = "values"};
	struct iocb_export_opts o = {0};
	struct iocb_export_stats st;
	struct iocb_export_sink k;
	struct iocb_err err = {0};
	int rc = parse_args(&env, &x, argc, argv);

	if (rc != 0)
		return rc > 0 ? IOCB_EXIT_OK : IOCB_EXIT_ERROR;
	rc = iocb_cli_env_open(&env, false);
	if (rc != IOCB_EXIT_OK)
		goto out;
	if (iocb_ingest_stats(env.ingest)->bad_files) {
		rc = IOCB_EXIT_ERROR;
		goto out;
	}
	o.types = x.ntypes ? x.types : NULL;
	o.ntypes = x.ntypes;
	o.non_ids = env.non_ids || env.cfg->store.match_non_ids;
	o.misp_url = x.misp_url;
	o.source_name = x.source_name;
	o.dataset = x.dataset;
	o.datarep = x.datarep;
	o.iprep_rules = x.nrules ? x.rules : NULL;
	o.niprep_rules = x.nrules;
	o.iprep_categories = x.iprep_categories;
	if (x.out) {
		if (iocb_export_sink_path(&k, x.out, &err) < 0) {
			fprintf(stderr, "iocbus: %s\n", err.msg);
			rc = IOCB_EXIT_ERROR;
			goto out;
		}
	} else {
		fflush(stdout);
		iocb_export_sink_fd(&k, STDOUT_FILENO);
	}
	iocb_store_reader_register();
	if (iocb_export_format_find(x.format)->run(env.store, &o, &k, &st, &err) < 0 ||
	    iocb_export_sink_commit(&k, &err) < 0) {
		iocb_export_sink_abort(&k);
		fprintf(stderr, "iocbus: %s\n", err.msg);
		rc = IOCB_EXIT_ERROR;
	} else if (x.out) {
		fprintf(stderr, "iocbus: %s: %llu %s from %llu attributes (%llu could not be written)\n",
			x.out, (unsigned long long)st.written, strcmp(x.format, "values") ? "lines" : "values",
			(unsigned long long)st.selected,
			(unsigned long long)st.skipped);
	}
	iocb_store_reader_unregister();
out:
	iocb_cli_env_close(&env);
	return rc;
}
