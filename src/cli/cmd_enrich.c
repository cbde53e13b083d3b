/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `iocbus enrich`: JSON log lines in, the same lines out, enriched where a
 * mapped field matches an indicator.
 *
 * This file only turns options into struct iocb_enrich_opts and
 * struct iocb_enrich_stream_opts (command line over the `enrich:` section
 * over the defaults), opens the outputs and reports; reading, threads and
 * ordering are iocb_enrich_stream()'s. Output files are opened only after
 * the configuration, the field map and the intel were accepted, so a
 * mistake never truncates a file, and never when they name an input.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "quality/decay.h"
#include "core/mem.h"
#include "misp/misp.h"

const char iocb_cli_enrich_usage[] =
	"usage: iocbus enrich [--config FILE] [--intel PATH]... [--store DIR] [--non-ids]\n"
	"                     [--preset ecs|suricata|zeek|auto|none] [--field PATH=SPEC]...\n"
	"                     [--threads N] [-o OUT] [--reject FILE] [--on-miss pass|mark]\n"
	"                     [--parent-domains] [--max-line BYTES] [--max-hits N]\n"
	"                     [--match-type TEXT] [--occurred TEXT] [--block-size BYTES]\n"
	"                     [--stats] [--hits-only] [--list-fields] [FILE... | -]\n"
	"\n"
	"Read JSON log lines (ECS, Suricata EVE, Zeek JSON; one event per line) from\n"
	"the FILEs in order, or standard input, and write them to standard output.\n"
	"The values of mapped fields (IPs, domains, URLs, hashes, ...) are looked up\n"
	"in the intel; an event that matches gets `threat.enrichments` (ECS) and\n"
	"`misp` (hit, tags, event info, matching attributes) spliced in before its\n"
	"closing brace; every other line is copied byte for byte. Lines that are not\n"
	"JSON objects, are truncated or longer than --max-line are passed through\n"
	"unchanged (or to --reject) and counted. Output keeps the input order; a\n"
	"file without a final newline gets one when another file follows. Line\n"
	"numbers in messages count across all inputs.\n"
	"\n"
	"  -c, --config FILE      configuration; its `enrich:` section sets the defaults below\n"
	"  -i, --intel PATH       intel to load (repeatable); --store DIR a persistent store\n"
	"      --non-ids          also match attributes whose to_ids is false\n"
	"      --preset NAME      built-in field map (default auto: each line by its format)\n"
	"      --field PATH=SPEC  map a dotted field: SPEC is KIND[,port=PATH][,host=PATH],\n"
	"                         KIND ip, domain, host, url, uri, hash, email, tls_fp, x509,\n"
	"                         user_agent, asn, mac, filename; `none` unmaps a preset field\n"
	"      --list-fields      print the effective field map and exit\n"
	"  -o, --output OUT       write to OUT (created or truncated) instead of standard output\n"
	"      --reject FILE      write rejected lines to FILE instead of the output\n"
	"      --hits-only        write only enriched events\n"
	"      --on-miss MODE     pass (copy) or mark (add \"misp\":{\"hit\":false})\n"
	"      --parent-domains   a domain indicator also matches its subdomains\n"
	"      --max-line BYTES   longest line enriched (default 1MiB; KiB/MiB/GiB suffixes)\n"
	"      --max-hits N       enrichments per event at most (default 32)\n"
	"      --match-type TEXT  threat.enrichments.matched.type (default indicator_match_rule)\n"
	"      --occurred TEXT    fixed matched.occurred instead of the current time\n"
	"      --threads N        worker threads, 1 to 64 (default 1)\n"
	"      --block-size BYTES input handed to a worker at a time (default 1MiB;\n"
	"                         never less than --max-line + 1)\n"
	"      --stats            print a summary to standard error at the end\n"
	"\n"
	"Exit status: 0 when every input was read and the output written (rejected\n"
	"lines included), 2 on a usage, configuration, intel or I/O error.\n";

#define MAX_CLI_FIELDS 512

struct enrich_args {
	struct iocb_cli_env env;
	const char **inputs;                    /* borrowed from argv */
	size_t ninputs;
	struct iocb_enrich_field_spec fields[MAX_CLI_FIELDS]; /* --field, split copies (owned) */
	size_t nfields;
	const char *preset, *on_miss, *match_type, *occurred; /* NULL = from the configuration */
	enum iocb_enrich_on_miss on_miss_v;     /* --on-miss read, when on_miss is set */
	const char *out_path, *rej_path;        /* NULL = standard output / enrich.reject_file */
	uint64_t threads, max_hits;             /* 0 = from the configuration */
	uint64_t max_line, block_size;          /* 0 = from the configuration / the default */
	bool parent_domains, hits_only, stats, list_fields;
};

/* ---- options ------------------------------------------------------------------- */

/*
 * If argv[*i] is `name VALUE` or `name=VALUE` (or the short form), set *val
 * and step over the value. Returns 1 if it matched, 0 if not, -1 if the value
 * is missing.
 */
static int opt_val(int argc, char **argv, int *i, const char *name, const char *shrt, const char **val)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (strncmp(a, name, n) == 0 && a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (strcmp(a, name) != 0 && !(shrt && strcmp(a, shrt) == 0))
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "iocbus: %s needs a value\n", a);
		return -1;
	}
	*val = argv[++*i];
	return 1;
}

static bool add_field(struct enrich_args *a, const char *v)
{
	const char *eq = strchr(v, '=');

	if (!eq || eq == v || !eq[1]) {
		fprintf(stderr, "iocbus: --field: expected PATH=SPEC, got '%s'\n", v);
		return false;
	}
	if (a->nfields >= MAX_CLI_FIELDS) {
		fprintf(stderr, "iocbus: more than %d --field options\n", MAX_CLI_FIELDS);
		return false;
	}
	a->fields[a->nfields].path = iocb_xstrndup(v, (size_t)(eq - v));
	a->fields[a->nfields].spec = iocb_xstrdup(eq + 1);
	a->nfields++;
	return true;
}

enum vkind { V_TEXT, V_FIELD, V_UINT, V_SIZE };

#define AOFF(f) offsetof(struct enrich_args, f)

/* Options with a value. Bounds are those of the matching `enrich:` keys. */
static const struct {
	const char *name, *shrt;
	enum vkind kind;
	uint64_t lo, hi; /* V_UINT, V_SIZE */
	size_t off;      /* const char * (V_TEXT) or uint64_t field of struct enrich_args */
} vopts[] = {
	{"--preset", NULL, V_TEXT, 0, 0, AOFF(preset)},
	{"--on-miss", NULL, V_TEXT, 0, 0, AOFF(on_miss)},
	{"--match-type", NULL, V_TEXT, 0, 0, AOFF(match_type)},
	{"--occurred", NULL, V_TEXT, 0, 0, AOFF(occurred)},
	{"--output", "-o", V_TEXT, 0, 0, AOFF(out_path)},
	{"--reject", NULL, V_TEXT, 0, 0, AOFF(rej_path)},
	{"--field", NULL, V_FIELD, 0, 0, 0},
	{"--threads", NULL, V_UINT, 1, 64, AOFF(threads)},
	{"--max-hits", NULL, V_UINT, 1, 4096, AOFF(max_hits)},
	{"--max-line", NULL, V_SIZE, 1024, (uint64_t)1 << 30, AOFF(max_line)},
	{"--block-size", NULL, V_SIZE, 1, (uint64_t)1 << 30, AOFF(block_size)},
};

/* One option with a value at argv[*i]; returns 1 handled, 0 not one of them, -1 error. */
static int value_opt(struct enrich_args *a, int argc, char **argv, int *i)
{
	for (size_t k = 0; k < IOCB_ARRAY_LEN(vopts); k++) {
		const char *v = NULL;
		uint64_t u = 0;
		bool ok;
		int m = opt_val(argc, argv, i, vopts[k].name, vopts[k].shrt, &v);

		if (m <= 0) {
			if (m < 0)
				return -1;
			continue;
		}
		switch (vopts[k].kind) {
		case V_TEXT:
			*(const char **)(void *)((char *)a + vopts[k].off) = v;
			return 1;
		case V_FIELD:
			return add_field(a, v) ? 1 : -1;
		case V_UINT:
		case V_SIZE:
			ok = vopts[k].kind == V_UINT ? iocb_str_to_u64(iocb_str_c(v), &u) : iocb_config_parse_size(v, &u);
			if (!ok || u < vopts[k].lo || u > vopts[k].hi) {
				fprintf(stderr, "iocbus: %s: expected %s from %llu to %llu, got '%s'\n", vopts[k].name,
					vopts[k].kind == V_UINT ? "an integer" : "a size in bytes (KiB, MiB, GiB allowed)",
					(unsigned long long)vopts[k].lo, (unsigned long long)vopts[k].hi, v);
				return -1;
			}
			*(uint64_t *)(void *)((char *)a + vopts[k].off) = u;
			return 1;
		}
	}
	return 0;
}

static int parse_args(struct enrich_args *a, int argc, char **argv)
{
	static const struct {
		const char *name;
		size_t off; /* bool field of struct enrich_args */
	} flags[] = {
		{"--parent-domains", offsetof(struct enrich_args, parent_domains)},
		{"--hits-only", offsetof(struct enrich_args, hits_only)},
		{"--stats", offsetof(struct enrich_args, stats)},
		{"--list-fields", offsetof(struct enrich_args, list_fields)},
	};

	bool opts_end = false;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		size_t k;
		int used;

		if (iocb_cli_end_of_opts(arg, &opts_end))
			continue;
		if (opts_end) {
			a->inputs[a->ninputs++] = arg;
			continue;
		}
		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(iocb_cli_enrich_usage, stdout);
			return 1;
		}
		for (k = 0; k < IOCB_ARRAY_LEN(flags); k++)
			if (strcmp(arg, flags[k].name) == 0)
				break;
		if (k < IOCB_ARRAY_LEN(flags)) {
			*(bool *)(void *)((char *)a + flags[k].off) = true;
			continue;
		}
		used = iocb_cli_common_opt(&a->env, argc, argv, i);
		if (used < 0)
			return -1;
		if (used > 0) {
			i += used - 1;
			continue;
		}
		used = value_opt(a, argc, argv, &i);
		if (used < 0)
			return -1;
		if (used > 0)
			continue;
		if (arg[0] == '-' && arg[1] != '\0') {
			fprintf(stderr, "iocbus: unknown option %s\n%s", arg, iocb_cli_enrich_usage);
			return -1;
		}
		a->inputs[a->ninputs++] = arg;
	}
	return 0;
}

/* ---- field map ------------------------------------------------------------------ */

int iocb_cli_enrich_map(const struct iocb_config *cfg, const char *preset, const struct iocb_enrich_field_spec *cli,
			size_t ncli, struct iocb_enrich_map **out)
{
	size_t nconf = cfg->enrich.nfields;
	struct iocb_enrich_field_spec *specs = iocb_xcalloc(nconf + ncli + 1, sizeof(*specs));
	struct iocb_err err = {0};
	enum iocb_enrich_preset p = iocb_enrich_preset_from_config(cfg, NULL);
	int rc = IOCB_EXIT_ERROR;

	*out = NULL;
	if (preset && iocb_enrich_preset_parse(preset, &p) < 0) {
		fprintf(stderr, "iocbus: --preset: '%s' is not one of: ecs, suricata, zeek, auto, none\n", preset);
		goto out;
	}
	for (size_t i = 0; i < nconf; i++) {
		specs[i].path = cfg->enrich.fields[i].key;
		specs[i].spec = cfg->enrich.fields[i].value;
	}
	/* The file's own entries first, so that a fault there names the file. */
	if (nconf && iocb_enrich_map_new(p, specs, nconf, out, &err) < 0) {
		fprintf(stderr, "iocbus: %s: %s\n", cfg->path ? cfg->path : "configuration", err.msg);
		goto out;
	}
	iocb_enrich_map_free(*out);
	*out = NULL;
	if (ncli)
		memcpy(specs + nconf, cli, ncli * sizeof(*cli));
	if (iocb_enrich_map_new(p, specs, nconf + ncli, out, &err) < 0) {
		fprintf(stderr, "iocbus: %s%s\n", ncli ? "--field: " : "", err.msg);
		goto out;
	}
	rc = IOCB_EXIT_OK;
out:
	free(specs);
	return rc;
}

static void list_fields(const struct iocb_enrich_map *m)
{
	const unsigned all = (1u << IOCB_PRESET_ECS) | (1u << IOCB_PRESET_SURICATA) | (1u << IOCB_PRESET_ZEEK);

	printf("%-36s %-10s %-28s %s\n", "field", "kind", "paired with", "presets");
	for (size_t i = 0; i < iocb_enrich_map_nfields(m); i++) {
		struct iocb_enrich_field_info f;
		char presets[64] = "";
		size_t n = 0;

		iocb_enrich_map_field(m, i, &f);
		if ((f.presets & all) == all) {
			snprintf(presets, sizeof(presets), "all");
		} else {
			for (unsigned p = 0; p < IOCB_PRESET__COUNT && n < sizeof(presets); p++)
				if (f.presets & (1u << p)) {
					int w = snprintf(presets + n, sizeof(presets) - n, "%s%s", n ? "," : "",
							 iocb_enrich_preset_name((enum iocb_enrich_preset)p));
					if (w > 0)
						n += (size_t)w;
				}
		}
		printf("%-36s %-10s %-28s %s\n", f.path, iocb_enrich_kind_name(f.kind), f.pair ? f.pair : "-",
		       presets[0] ? presets : "-");
	}
}

/* ---- outputs and report ---------------------------------------------------------- */

/* True if `path` exists and is the same file as one of the inputs (which an O_TRUNC would destroy). */
static bool is_an_input(const char *path, const char *const *inputs, size_t n)
{
	struct stat o, st;

	if (stat(path, &o) < 0 || !S_ISREG(o.st_mode))
		return false;
	for (size_t i = 0; i < n; i++) {
		int r = strcmp(inputs[i], "-") == 0 ? fstat(STDIN_FILENO, &st) : stat(inputs[i], &st);

		if (r == 0 && st.st_dev == o.st_dev && st.st_ino == o.st_ino)
			return true;
	}
	return false;
}

/* Open an output file ("-" = standard output). -1 after printing why. */
static int open_output(const char *what, const char *path, const char *const *inputs, size_t n)
{
	int fd;

	if (strcmp(path, "-") == 0)
		return STDOUT_FILENO;
	if (is_an_input(path, inputs, n)) {
		fprintf(stderr, "iocbus: %s %s is also an input; refusing to overwrite it\n", what, path);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		fprintf(stderr, "iocbus: %s %s: %s\n", what, path, strerror(errno));
	return fd;
}

static bool close_output(const char *what, const char *path, int fd)
{
	if (fd < 0 || fd == STDOUT_FILENO)
		return true;
	if (close(fd) == 0)
		return true;
	fprintf(stderr, "iocbus: %s %s: %s\n", what, path, strerror(errno));
	return false;
}

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0.0;
}

static void print_stats(const struct iocb_enrich_stats *st, const struct iocb_enrich_map *m, double secs)
{
	uint64_t nrej = 0;

	fprintf(stderr, "enrich: %llu lines (%llu blank), %llu events, %llu matched (%.2f%%), %llu enrichments\n",
		(unsigned long long)st->lines, (unsigned long long)st->blank, (unsigned long long)st->events,
		(unsigned long long)st->matched, pct(st->matched, st->events), (unsigned long long)st->hits);
	if (st->marked)
		fprintf(stderr, "  marked misses (misp.hit false) %llu\n", (unsigned long long)st->marked);
	if (st->hits_dropped)
		fprintf(stderr, "  enrichments over max_hits, not written %llu\n", (unsigned long long)st->hits_dropped);
	if (st->expired_skipped)
		fprintf(stderr, "  expired hits skipped %llu\n", (unsigned long long)st->expired_skipped);
	fprintf(stderr, "  store lookups %llu\n", (unsigned long long)st->lookups);
	for (int r = 0; r < IOCB_REJ__COUNT; r++)
		nrej += st->rejected[r];
	fprintf(stderr, "rejected %llu:\n", (unsigned long long)nrej);
	for (int r = 0; r < IOCB_REJ__COUNT; r++)
		if (st->rejected[r])
			fprintf(stderr, "  %-28s %10llu\n", iocb_enrich_reject_name((enum iocb_enrich_reject)r),
				(unsigned long long)st->rejected[r]);
	if (st->first_reject[0])
		fprintf(stderr, "  first: %s\n", st->first_reject);
	if (st->hits) {
		fprintf(stderr, "hits by field:\n");
		for (size_t i = 0; i < iocb_enrich_map_nfields(m); i++) {
			struct iocb_enrich_field_info f;

			if (!st->by_field[i])
				continue;
			iocb_enrich_map_field(m, i, &f);
			fprintf(stderr, "  %-28s %10llu\n", f.path, (unsigned long long)st->by_field[i]);
		}
		fprintf(stderr, "hits by MISP type:\n");
		for (size_t t = 0; t < iocb_misp_type_count(); t++)
			if (st->by_type[t])
				fprintf(stderr, "  %-28s %10llu\n", iocb_misp_type_get((uint16_t)t)->name,
					(unsigned long long)st->by_type[t]);
	}
	if (st->by_preset[IOCB_PRESET_ECS] + st->by_preset[IOCB_PRESET_SURICATA] + st->by_preset[IOCB_PRESET_ZEEK])
		fprintf(stderr, "events by format: ecs %llu, suricata %llu, zeek %llu\n",
			(unsigned long long)st->by_preset[IOCB_PRESET_ECS],
			(unsigned long long)st->by_preset[IOCB_PRESET_SURICATA],
			(unsigned long long)st->by_preset[IOCB_PRESET_ZEEK]);
	fprintf(stderr, "time: %.3f s, %.0f events/s, %.1f MB/s in (%llu bytes in, %llu out)\n", secs,
		secs > 0 ? (double)st->events / secs : 0.0, secs > 0 ? (double)st->bytes_in / secs / 1e6 : 0.0,
		(unsigned long long)st->bytes_in, (unsigned long long)st->bytes_out);
}

/* ---- the command ------------------------------------------------------------------ */

/* The configuration's options, then the command line over them; the strings stay owned by args / cfg. */
static void fill_opts(const struct enrich_args *a, const struct iocb_config *cfg, struct iocb_enrich_opts *o)
{
	iocb_enrich_opts_from_config(cfg, o);
	if (a->on_miss)
		o->on_miss = a->on_miss_v;
	if (a->match_type)
		o->match_type = a->match_type;
	o->occurred = a->occurred;
	o->parent_domains |= a->parent_domains;
	o->hits_only |= a->hits_only;
	if (a->max_line)
		o->max_line = (size_t)a->max_line;
	if (a->max_hits)
		o->max_hits = (size_t)a->max_hits;
}

/* --on-miss (text, as typed) to a->on_miss_v; false after telling why. */
static bool parse_on_miss(struct enrich_args *a)
{
	if (!a->on_miss)
		return true;
	if (strcmp(a->on_miss, "pass") == 0) {
		a->on_miss_v = IOCB_ON_MISS_PASS;
	} else if (strcmp(a->on_miss, "mark") == 0) {
		a->on_miss_v = IOCB_ON_MISS_MARK;
	} else {
		fprintf(stderr, "iocbus: --on-miss: expected pass or mark, got '%s'\n", a->on_miss);
		return false;
	}
	return true;
}

/*
 * Open the reject file into *rej_fd (left open for the caller to close even
 * on failure); false after telling why, including when it is the output file.
 */
static bool open_reject(struct enrich_args *a, const char *rej_path, int out_fd, int *rej_fd)
{
	struct stat so_st, sr_st;

	*rej_fd = open_output("reject file", rej_path, a->inputs, a->ninputs);
	if (*rej_fd < 0)
		return false;
	/* Two descriptors writing one file from offset 0 would interleave garbage. */
	if (*rej_fd != out_fd && fstat(out_fd, &so_st) == 0 && fstat(*rej_fd, &sr_st) == 0 &&
	    S_ISREG(so_st.st_mode) && so_st.st_dev == sr_st.st_dev && so_st.st_ino == sr_st.st_ino) {
		fprintf(stderr, "iocbus: reject file %s is the output file\n", rej_path);
		return false;
	}
	return true;
}

int iocb_cmd_enrich(int argc, char **argv)
{
	struct enrich_args *a = iocb_xcalloc(1, sizeof(*a));
	struct iocb_enrich_map *map = NULL;
	struct iocb_enrich_opts o;
	struct iocb_quality_decay *decay = NULL;
	struct iocb_enrich_stream_opts so = {0};
	struct iocb_enrich_stats total = {0};
	struct iocb_store_stats ss;
	struct iocb_err err = {0};
	const char *rej_path = NULL;
	struct iocb_cli_wl *wl = NULL;
	bool have_stats = false;
	int out_fd = -1, rej_fd = -1, rc = IOCB_EXIT_ERROR, prc;
	double t0;

	a->inputs = iocb_xcalloc((size_t)argc + 1, sizeof(*a->inputs));
	prc = parse_args(a, argc, argv);
	if (prc != 0) {
		rc = prc > 0 ? IOCB_EXIT_OK : IOCB_EXIT_ERROR;
		goto out;
	}
	if (!parse_on_miss(a))
		goto out;
	if (a->list_fields) {
		if (iocb_cli_env_config(&a->env) != IOCB_EXIT_OK ||
		    iocb_cli_enrich_map(a->env.cfg, a->preset, a->fields, a->nfields, &map) != IOCB_EXIT_OK)
			goto out;
		list_fields(map);
		rc = fflush(stdout) == 0 ? IOCB_EXIT_OK : IOCB_EXIT_ERROR;
		goto out;
	}
	if (a->ninputs == 0)
		a->inputs[a->ninputs++] = "-";
	/* Configuration and field map before the (possibly slow) intel load. */
	if (iocb_cli_env_config(&a->env) != IOCB_EXIT_OK ||
	    iocb_cli_enrich_map(a->env.cfg, a->preset, a->fields, a->nfields, &map) != IOCB_EXIT_OK)
		goto out;
	if (iocb_cli_env_open(&a->env, false) != IOCB_EXIT_OK || iocb_ingest_stats(a->env.ingest)->bad_files)
		goto out;
	/* quality.warninglists in --config: records marked as `iocbus run` marks them. */
	if (iocb_cli_wl_attach(&a->env, &wl) != IOCB_EXIT_OK)
		goto out;
	iocb_store_stats(a->env.store, &ss);
	if (ss.attrs == 0)
		fprintf(stderr, "iocbus: warning: no indicators loaded (--intel, --store or `intel:`); "
				"every event is a miss\n");
	fill_opts(a, a->env.cfg, &o);
	decay = iocb_cli_quality(&a->env);
	o.decay = decay;
	o.store = a->env.store;
	o.map = map;
	o.wl = iocb_cli_wl_enrich(wl);
	rej_path = a->rej_path ? a->rej_path : a->env.cfg->enrich.reject_file;
	out_fd = open_output("output", a->out_path ? a->out_path : "-", a->inputs, a->ninputs);
	if (out_fd < 0)
		goto out;
	if (rej_path && !open_reject(a, rej_path, out_fd, &rej_fd))
		goto out;
	/* A closed reader (`| head`) must be a write error we report, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	so.inputs = a->inputs;
	so.ninputs = a->ninputs;
	so.out_fd = out_fd;
	so.rej_fd = rej_fd;
	so.threads = a->threads ? (unsigned)a->threads : a->env.cfg->enrich.threads;
	so.block_size = (size_t)a->block_size;
	if (iocb_enrich_stats_init(&total, map) < 0) {
		fprintf(stderr, "iocbus: out of memory\n");
		goto out;
	}
	have_stats = true;
	t0 = iocb_time_mono_s();
	prc = iocb_enrich_stream(&o, &so, &total, &err);
	if (a->stats)
		print_stats(&total, map, iocb_time_mono_s() - t0);
	if (prc < 0)
		fprintf(stderr, "iocbus: %s\n", err.msg);
	rc = prc < 0 ? IOCB_EXIT_ERROR : IOCB_EXIT_OK;
out:
	/* Both closed whatever happens: a failed close (NFS, quota) means lost output. */
	if (!close_output("output", a->out_path, out_fd))
		rc = IOCB_EXIT_ERROR;
	if (!close_output("reject file", rej_path, rej_fd))
		rc = IOCB_EXIT_ERROR;
	if (have_stats)
		iocb_enrich_stats_fini(&total);
	iocb_enrich_map_free(map);
	iocb_cli_wl_detach(&a->env, wl);
	iocb_cli_env_close(&a->env);
	iocb_quality_decay_free(decay); /* after the store, whose callback points at it */
	for (size_t i = 0; i < a->nfields; i++) {
		free((char *)a->fields[i].path);
		free((char *)a->fields[i].spec);
	}
	free(a->inputs);
	free(a);
	return rc;
}
