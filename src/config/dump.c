/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `iocbus config dump` and docs/CONFIGURATION.md, both rendered from the
 * option tables.
 *
 * The dump is YAML that loads back into an equal configuration: every
 * string is double-quoted with escapes, so no value can change type or break
 * the document, and sections are written at their canonical place (the
 * MISP section at the top level, whatever location the file used). Secrets
 * are never written: a literal `key` is dumped as "***", a key read from a
 * file or the environment is dumped as its `key_file` / `key_env` (which is
 * what makes the dump reload to the same key), and Kafka properties that look
 * like credentials and the passwords inside URLs are dumped as "***", by the
 * same rule the logs and errors use (iocb_str_secret_name() and
 * iocb_str_redact_url() in core/str).
 *
 * The Markdown reference walks the same tables in the same order, so the
 * documentation cannot describe a key, default or bound the parser does not
 * have; a unit test compares it with the checked-in file.
 */
#include "config/config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "core/str.h"


/* ---- YAML output ------------------------------------------------------------------- */

/* A double-quoted YAML scalar; control characters and non-ASCII bytes are passed or escaped. */
static void put_quoted(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\t': fputs("\\t", out); break;
		case '\r': fputs("\\r", out); break;
		default:
			if (*p < 0x20 || *p == 0x7F)
				fprintf(out, "\\x%02x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

/*
 * A string value, quoted, with the password of any URL in it and secret
 * query parameters as "***" (iocb_str_redact_url(): misp.api.host,
 * feeds[].url, outputs[].hosts and whatever else holds an URL).
 */
static void put_value(FILE *out, const char *v)
{
	char *r = iocb_str_redact_url_dup(v);

	put_quoted(out, r);
	free(r);
}

static void put_double(FILE *out, double v);

/* A duration in the largest unit that keeps it whole ("90s", "1h", "7d"), else seconds. */
static void put_duration(FILE *out, double v)
{
	static const struct {
		const char *sfx;
		double mul;
	} units[] = {{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		double q = v / units[i].mul;
		if (v != 0 && q == (double)(uint64_t)q && q < 1e15) {
			fprintf(out, "%llu%s", (unsigned long long)q, units[i].sfx);
			return;
		}
	}
	put_double(out, v);
	fputc('s', out);
}

/* Shortest %g form that reads back to the same double. */
static void put_double(FILE *out, double v)
{
	char buf[40];

	for (int prec = 6; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, out);
}

static void put_size(FILE *out, uint64_t v)
{
	static const char *const sfx[] = {"TiB", "GiB", "MiB", "KiB"};
	static const unsigned shift[] = {40, 30, 20, 10};

	for (size_t i = 0; i < IOCB_ARRAY_LEN(sfx); i++) {
		if (v && (v & ((UINT64_C(1) << shift[i]) - 1)) == 0) {
			fprintf(out, "%" PRIu64 "%s", v >> shift[i], sfx[i]);
			return;
		}
	}
	fprintf(out, "%" PRIu64, v);
}

static void put_strlist(FILE *out, char *const *v, size_t n)
{
	fputc('[', out);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", out);
		put_value(out, v[i]);
	}
	fputc(']', out);
}

/* Whether a row is left out of the dump: alternates, ignored Threat Bus keys,
 * optional sections and lists that were not given, and secrets read from a
 * file or the environment (those rows say where; the key stays out). */
static bool row_hidden(const struct iocb_config__opt *o, void *b)
{
	if ((o->flags & IOCB_CF_ALT) || o->type == IOCB_CT_IGNORED)
		return true;
	if ((o->type == IOCB_CT_SECTION || o->type == IOCB_CT_STRLIST) && o->off_has != NO &&
	    !*IOCB_CONFIG_FIELD(b, o->off_has, bool))
		return true;
	if (o->type == IOCB_CT_SECRET) {
		const struct iocb_secret *s = IOCB_CONFIG_FIELD(b, o->off, struct iocb_secret);

		return !iocb_secret_str(s) || (o->off_n != NO && *IOCB_CONFIG_FIELD(b, o->off_n, char *)) ||
		       (o->off_has != NO && *IOCB_CONFIG_FIELD(b, o->off_has, char *));
	}
	return false;
}

/* The value of a one-line row, from the space after "key:" to the newline. */
static void put_scalar(FILE *out, const struct iocb_config__opt *o, void *b)
{
	fputc(' ', out);
	switch (o->type) {
	case IOCB_CT_STR:
	case IOCB_CT_CSV: {
		const char *v = *IOCB_CONFIG_FIELD(b, o->off, char *);

		if (v)
			put_value(out, v);
		else
			fputs("null", out);
		break;
	}
	case IOCB_CT_BOOL:
	case IOCB_CT_SSL: /* the path, if any, is written by the ca_file row */
		fputs(*IOCB_CONFIG_FIELD(b, o->off, bool) ? "true" : "false", out);
		break;
	case IOCB_CT_PORT:
		fprintf(out, "%u", (unsigned)*IOCB_CONFIG_FIELD(b, o->off, uint16_t));
		break;
	case IOCB_CT_UINT:
		fprintf(out, "%u", *IOCB_CONFIG_FIELD(b, o->off, unsigned));
		break;
	case IOCB_CT_SIZE:
		put_size(out, *IOCB_CONFIG_FIELD(b, o->off, uint64_t));
		break;
	case IOCB_CT_DOUBLE:
		put_double(out, *IOCB_CONFIG_FIELD(b, o->off, double));
		break;
	case IOCB_CT_DURATION:
		put_duration(out, *IOCB_CONFIG_FIELD(b, o->off, double));
		break;
	case IOCB_CT_ENUM: {
		int v = *IOCB_CONFIG_FIELD(b, o->off, int);

		if (v < 0)
			fputs("null", out);
		else if (o->flags & IOCB_CF_PLAIN)
			fputs(o->choices[v], out);
		else
			put_quoted(out, o->choices[v]);
		break;
	}
	case IOCB_CT_STRLIST:
		put_strlist(out, *IOCB_CONFIG_FIELD(b, o->off, char **), *IOCB_CONFIG_FIELD(b, o->off_n, size_t));
		break;
	case IOCB_CT_SECRET:
		fputs("\"***\"", out);
		break;
	default: /* multi-line rows are written by dump_section */
		break;
	}
	fputc('\n', out);
}

static size_t dump_section(FILE *out, const struct iocb_config__section *sec, const void *base, int indent,
			   const char *lead);

/* A key/value map row's entries, one per line under it; secret-named keys masked. */
static void put_kv_rows(FILE *out, const struct iocb_config__opt *o, void *b, int indent)
{
	const struct iocb_kv *kv = *IOCB_CONFIG_FIELD(b, o->off, struct iocb_kv *);
	size_t n = *IOCB_CONFIG_FIELD(b, o->off_n, size_t);

	fputs(n ? "\n" : " {}\n", out);
	for (size_t k = 0; k < n; k++) {
		fprintf(out, "%*s", indent + 2, "");
		put_quoted(out, kv[k].key);
		fputs(": ", out);
		put_quoted(out, (o->flags & IOCB_CF_SECRETS) && iocb_str_secret_name(kv[k].key) ? "***" : kv[k].value);
		fputc('\n', out);
	}
}

/* A list row's items, each a section written as a "- " item. */
static void put_list_rows(FILE *out, const struct iocb_config__opt *o, void *b, int indent)
{
	const char *items = *IOCB_CONFIG_FIELD(b, o->off, char *);
	size_t n = *IOCB_CONFIG_FIELD(b, o->off_n, size_t);
	char lead[80];

	fputs(n ? "\n" : " []\n", out);
	snprintf(lead, sizeof(lead), "%*s- ", indent + 2, "");
	for (size_t k = 0; k < n; k++)
		if (dump_section(out, o->sub, items + k * o->sub->item_size, indent + 4, lead) == 0)
			fprintf(out, "%s{}\n", lead);
}

/*
 * Write the rows of `sec` at `indent`. `lead` replaces the indentation of the
 * first row written (for "- " list items); returns the number of rows written.
 */
static size_t dump_section(FILE *out, const struct iocb_config__section *sec, const void *base, int indent,
			   const char *lead)
{
	size_t written = 0;
	void *b = (void *)(uintptr_t)base; /* IOCB_CONFIG_FIELD is for reading here */

	for (size_t i = 0; i < sec->nopts; i++) {
		const struct iocb_config__opt *o = &sec->opts[i];

		if (row_hidden(o, b))
			continue;
		if (written == 0 && lead)
			fputs(lead, out);
		else
			fprintf(out, "%*s", indent, "");
		written++;
		fprintf(out, "%s:", o->key);
		if (o->type == IOCB_CT_KV) {
			put_kv_rows(out, o, b, indent);
		} else if (o->type == IOCB_CT_SECTION) {
			fputc('\n', out);
			if (dump_section(out, o->sub, base, indent + 2, NULL) == 0)
				fprintf(out, "%*s{}\n", indent + 2, ""); /* not reached: sections have rows */
		} else if (o->type == IOCB_CT_LIST) {
			put_list_rows(out, o, b, indent);
		} else {
			put_scalar(out, o, b);
		}
	}
	return written;
}

int iocb_config_dump(const struct iocb_config *c, FILE *out)
{
	fputs("# iocbus effective configuration", out);
	if (c->path) {
		fputs(" (from ", out);
		for (const char *p = c->path; *p; p++)
			fputc((unsigned char)*p < 0x20 ? '?' : *p, out);
		fputc(')', out);
	}
	fputs("\n", out);
	dump_section(out, &iocb_config__root, c, 0, NULL);
	return ferror(out) ? IOCB_EIO : IOCB_OK;
}

/* ---- Markdown reference -------------------------------------------------------------- */

static const char doc_intro[] =
	"# iocbus configuration reference\n"
	"\n"
	"<!-- Generated by iocb_config_docs() from the tables in src/config/tables.c. Do not edit:\n"
	"     tests/unit/test_config.c fails when this file differs from the generated text. -->\n"
	"\n"
	"iocbus reads one YAML file (`iocbus -c FILE`). Every section is optional; an empty file\n"
	"gives the defaults below. `iocbus config dump` prints the effective configuration in the\n"
	"same format, with secrets replaced by `***`.\n"
	"\n"
	"## Rules\n"
	"\n"
	"- **Errors name `file:line:col`** and the dotted option path, e.g.\n"
	"  `iocbus.yaml:7:9: misp.filter[0]: unknown key 'org' (expected one of: orgs, types, tags)`.\n"
	"- **Unknown keys are errors**, in every section iocbus implements, so a misspelt key never\n"
	"  silently falls back to a default. Wrong types and out-of-range values are errors too.\n"
	"- **Duplicate keys are errors**, anywhere in the file (including ignored sections).\n"
	"- **One document, no aliases.** A second `---` document and `*alias` references are\n"
	"  rejected; anchors alone are harmless. Tags (`!!str`) are ignored.\n"
	"- **Null** (`key:`, `key: ~`, `key: null`) is accepted where the Default column says\n"
	"  *unset* or for a list or map (meaning empty); for a section it means the section with all\n"
	"  defaults. Elsewhere a value is required.\n"
	"- **Booleans** are `true`/`false` (also `yes`/`no`/`on`/`off`, as Threat Bus's YAML 1.1\n"
	"  reader accepts), unquoted. Numbers may be quoted. Strings are kept as written: `orgs: [1]`\n"
	"  and `orgs: [\"1\"]` are the same filter.\n"
	"- **Limits:** the file may be at most 16 MiB, nest at most 64 levels and hold at most\n"
	"  1048576 YAML nodes; a `key_file` may be at most 64 KiB. Non-YAML input (invalid UTF-8,\n"
	"  control characters) is an error with its position.\n"
	"- **Secrets.** The API key comes from exactly one of `misp.api.key`, `key_file` or\n"
	"  `key_env`, is kept in a secret type, and never appears in messages, logs or dumps.\n"
	"  The same holds for every `password`, `api_key` and `bearer`, for Kafka properties whose\n"
	"  names hold `password`, `secret`, `key`, `token`, `credential`, `oauthbearer.config` or\n"
	"  `jaas`, and for the password of any URL (`https://user:***@host`) and URL query\n"
	"  parameters with such names: dumps, logs and errors all show them as `***`.\n"
	"  Relative paths (`key_file`, `ca_file`, `store.path`, `intel`, `enrich.reject_file`) are\n"
	"  relative to the working directory.\n"
	"\n"
	"## Threat Bus configuration files\n"
	"\n"
	"A Threat Bus configuration with a MISP plugin section loads unchanged. The `misp`\n"
	"section is found at the top level, at `plugins: misp:` (the layout of the Threat Bus\n"
	"MISP plugin README) or at `plugins: apps: misp:` (Threat Bus 2020.12 and later), and may\n"
	"appear only once. Its keys are Threat Bus's (`api`, `filter`, `zmq`, `kafka`) plus the\n"
	"iocbus extensions marked below. As in Threat Bus, `zmq` and `kafka` together are an\n"
	"error: every attribute would be delivered twice.\n"
	"\n"
	"Sections of a Threat Bus file that iocbus has no use for are **ignored with a warning**\n"
	"(printed at load time and by `iocbus check-config`): Threat Bus's `logging` keys\n"
	"(`console`, `console_verbosity`, `file`, `file_verbosity`, `filename`; iocbus logs\n"
	"key=value lines to stderr and is configured by `logging.level`), `plugins: backbones:`\n"
	"(iocbus delivers to its own sinks; there is no bus to route) and the other known Threat\n"
	"Bus apps under `plugins:` or `plugins: apps:` (`zeek`, `zmq`, `zmq-app`, `cif3`,\n"
	"`vast`, `suricata`: iocbus replaces the MISP side only, so those consumers keep their\n"
	"own Threat Bus or move to iocbus sinks). Ignoring them is safe because none of them\n"
	"changes what is read from MISP or how it is filtered. Everything else is an error: an\n"
	"unknown app name (a typo such as `mips:` would otherwise lose the MISP section), an\n"
	"unknown top-level section (including a top-level `backbones:`, which Threat Bus itself\n"
	"does not read there), and any misspelt key inside the sections iocbus implements.\n"
	"\n"
	"Example (the Threat Bus MISP plugin README, which loads as is):\n"
	"\n"
	"```yaml\n"
	"plugins:\n"
	"  misp:\n"
	"    api:\n"
	"      host: https://localhost\n"
	"      ssl: false\n"
	"      key: MISP_API_KEY\n"
	"    filter:\n"
	"      - orgs: [\"1\", \"25\"]\n"
	"        tags: [\"TLP:AMBER\", \"TLP:RED\"]\n"
	"        types: [ip-src, ip-dst, hostname, domain, url]\n"
	"      - orgs:\n"
	"        - \"2\"\n"
	"    zmq:\n"
	"      host: localhost\n"
	"      port: 50000\n"
	"```\n"
	"\n"
	"The same, iocbus style, with the key kept out of the file:\n"
	"\n"
	"```yaml\n"
	"misp:\n"
	"  api:\n"
	"    host: https://misp.example\n"
	"    key_env: MISP_API_KEY\n"
	"  filter:\n"
	"    - orgs: [1, 25]\n"
	"      tags: [\"tlp:amber\", \"tlp:red\"]\n"
	"  zmq: {host: misp.example, port: 50000}\n"
	"store:\n"
	"  path: /var/lib/iocbus\n"
	"```\n";

static void doc_code_or(FILE *out, const char *s, const char *fallback)
{
	if (s)
		fprintf(out, "`%s`", s);
	else
		fputs(fallback, out);
}

static void doc_row(FILE *out, const struct iocb_config__opt *o)
{
	fprintf(out, "| `%s` | ", o->key);
	if (o->choices) {
		fputs("one of ", out);
		for (int i = 0; o->choices[i]; i++)
			fprintf(out, "%s`%s`", i ? ", " : "", o->choices[i]);
	} else {
		fputs(iocb_config__type_name(o), out);
	}
	fputs(" | ", out);
	switch (o->type) {
	case IOCB_CT_SECTION:
	case IOCB_CT_IGNORED:
		break;
	case IOCB_CT_LIST:
	case IOCB_CT_KV:
		doc_code_or(out, o->def, "empty");
		break;
	case IOCB_CT_STRLIST:
	case IOCB_CT_CSV:
		doc_code_or(out, o->def, (o->flags & IOCB_CF_NULLABLE) ? "empty" : "");
		break;
	default:
		doc_code_or(out, o->def, (o->flags & IOCB_CF_REQUIRED) ? "required" : "unset");
	}
	fputs(" | ", out);
	switch (o->type) {
	case IOCB_CT_PORT:
	case IOCB_CT_UINT:
	case IOCB_CT_DOUBLE:
		fprintf(out, "%g to %g", o->min, o->max);
		break;
	case IOCB_CT_DURATION:
		put_duration(out, o->min);
		fputs(" to ", out);
		put_duration(out, o->max);
		break;
	case IOCB_CT_SIZE:
		put_size(out, (uint64_t)o->min);
		fputs(" to ", out);
		put_size(out, (uint64_t)o->max);
		break;
	case IOCB_CT_STR:
	case IOCB_CT_CSV:
	case IOCB_CT_SECRET:
		if (!o->choices && o->max > 0)
			fprintf(out, "%g to %g characters", o->min, o->max);
		break;
	case IOCB_CT_STRLIST:
	case IOCB_CT_LIST:
	case IOCB_CT_KV:
		if (o->max > 0)
			fprintf(out, "%g to %g entries", o->min, o->max);
		break;
	default:
		break;
	}
	fprintf(out, " | %s |\n", o->help);
}

/* Sections in depth-first table order, each once. */
static void doc_section(FILE *out, const struct iocb_config__section *sec,
			const struct iocb_config__section **seen, size_t *nseen, size_t cap)
{
	for (size_t i = 0; i < *nseen; i++)
		if (seen[i] == sec)
			return;
	if (*nseen < cap)
		seen[(*nseen)++] = sec;
	if (*sec->path)
		fprintf(out, "\n## `%s`\n\n%s\n\n", sec->path, sec->help);
	else
		fprintf(out, "\n## Top level\n\n%s\n\n", sec->help);
	fputs("| Key | Type | Default | Bounds | Description |\n", out);
	fputs("|---|---|---|---|---|\n", out);
	for (size_t i = 0; i < sec->nopts; i++)
		doc_row(out, &sec->opts[i]);
	for (size_t i = 0; i < sec->nopts; i++)
		if (sec->opts[i].sub)
			doc_section(out, sec->opts[i].sub, seen, nseen, cap);
}

int iocb_config_docs(FILE *out)
{
	const struct iocb_config__section *seen[32];
	size_t nseen = 0;

	fputs(doc_intro, out);
	doc_section(out, &iocb_config__root, seen, &nseen, IOCB_ARRAY_LEN(seen));
	return ferror(out) ? IOCB_EIO : IOCB_OK;
}

size_t iocb_config_sections(const char **keys, const char **helps, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < iocb_config__root.nopts; i++) {
		const struct iocb_config__opt *o = &iocb_config__root.opts[i];
		if (!o->sub || o->type == IOCB_CT_IGNORED || (o->flags & IOCB_CF_ALT))
			continue;
		if (n < cap) {
			keys[n] = o->key;
			helps[n] = o->sub->help;
		}
		n++;
	}
	return n;
}
