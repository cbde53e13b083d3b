/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `iocbus man`: the iocbus(1) manual page, written as troff from the same
 * sources as `iocbus --help` (the command table in main.c and each
 * command's --help text) and docs/CONFIGURATION.md (the configuration
 * tables' section paragraphs). docs/iocbus.1 is this output, committed so
 * that a source tree has it; tests/e2e/test_generated_docs.py fails when
 * it differs, and checks that groff and man render it without a warning.
 *
 * The --help texts are laid out for a terminal, so they go in as
 * preformatted blocks (.nf) rather than being re-flowed: what the page says
 * is exactly what --help says.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

const char iocb_cli_man_usage[] =
	"usage: iocbus man\n"
	"\n"
	"Print the iocbus(1) manual page (troff) to standard output, generated from\n"
	"the commands' --help texts and the configuration tables (the page the\n"
	"Debian package installs). Exit status: 0, or 2 on a usage or write error.\n";

/* Sections of the page that are prose, not generated from tables. */
static const char man_description[] =
	"iocbus keeps a store of MISP indicators in step with one or more MISP servers (ZeroMQ, Kafka, "
	"the REST API, MISP feeds), filtered by organisation, type and tag, and matches log events "
	"against it: as a command over files, as a daemon that enriches log pipelines (files, TCP, Kafka) "
	"into Elasticsearch, Kafka or files, and as lookup services over HTTP, the memcached protocol and "
	"a Threat Bus compatible bus. The configuration is one YAML file; `iocbus check-config` validates "
	"it and `iocbus config docs` prints its reference.";

static const char man_signals[] =
	".TP\n.B SIGHUP\n"
	"Reload the configuration file. An invalid file is logged (file:line:col) and the daemon keeps "
	"running on the old one; store, http and pipeline settings change only on restart. "
	"`systemctl reload iocbus` sends it.\n"
	".TP\n.BR SIGTERM \", \" SIGINT\n"
	"Stop: the pipeline flushes and checkpoints, the sources commit what they applied, the store is "
	"committed and closed; exit status 0.\n"
	".TP\n.B SIGPIPE\nIgnored; a closed connection is an error of that connection only.\n";

static const char man_environment[] =
	".TP\n.B NOTIFY_SOCKET\n"
	"Set by systemd for `Type=notify`: `iocbus run` sends READY=1 once the store is open and every "
	"listener is up, STATUS= lines, RELOADING=1 around a reload and STOPPING=1 at shutdown.\n"
	".TP\n.BR WATCHDOG_USEC \", \" WATCHDOG_PID\n"
	"Set by systemd for `WatchdogSec=`: WATCHDOG=1 is sent from the main loop every half interval.\n"
	".TP\n.B JOURNAL_STREAM\n"
	"When it names standard error, text log lines leave the time to the journal and start with their "
	"syslog priority (`<4>level=warn ...`).\n"
	".TP\n.I misp.api.key_env\n"
	"The configuration may name an environment variable that holds the MISP API key; its value is "
	"never printed.\n";

static const char man_files[] =
	".TP\n.I /etc/iocbus/iocbus.yaml\n"
	"The configuration the packaged service runs with (`iocbus run -c /etc/iocbus/iocbus.yaml`).\n"
	".TP\n.I /var/lib/iocbus\n"
	"State directory of the service: the LMDB store (`store.path`), the pipeline's checkpoints and "
	"spools, the sightings queue.\n"
	".TP\n.I /lib/systemd/system/iocbus.service\n"
	"The systemd unit (`Type=notify`, watchdog, hardening).\n"
	".TP\n.I /usr/share/doc/iocbus/\n"
	"The documentation (CONFIGURATION.md, DAEMON.md, ...) and contrib files (Suricata, Zeek, systemd).\n";

/*
 * Troff-safe text: backslashes, a leading '.' or '\'' (a request), '-' as a
 * minus so options can be copied, non-ASCII UTF-8 as \[uXXXX] (groff reads
 * Latin-1 unless told). `markdown` turns `code` and **bold** into bold.
 */
static void put_text(FILE *out, const char *s, size_t n, bool markdown)
{
	bool bold = false, bol = true;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (bol && (c == '.' || c == '\''))
			fputs("\\&", out);
		bol = c == '\n';
		if (markdown && (c == '`' || (c == '*' && i + 1 < n && s[i + 1] == '*'))) {
			fputs(bold ? "\\fR" : "\\fB", out);
			bold = !bold;
			i += c == '*';
		} else if (c == '\\') {
			fputs("\\e", out);
		} else if (c == '-') {
			fputs("\\-", out);
		} else if (c >= 0xc0 && c < 0xf0 && i + 1 < n) {
			unsigned cp = c >= 0xe0 ? c & 0x0fu : c & 0x1fu;
			size_t k = c >= 0xe0 ? 2 : 1;
			for (size_t j = 1; j <= k && i + j < n; j++)
				cp = (cp << 6) | ((unsigned char)s[i + j] & 0x3fu);
			fprintf(out, "\\[u%04X]", cp);
			i += k;
		} else {
			fputc(c, out);
		}
	}
	if (bold)
		fputs("\\fR", out);
}

static void put_c(FILE *out, const char *s, bool markdown)
{
	put_text(out, s, strlen(s), markdown);
}

/* A request line followed by its text, e.g. ".SH" "EXIT STATUS". */
static void put_req(FILE *out, const char *req, const char *s)
{
	fprintf(out, "%s ", req);
	put_c(out, s, false);
	fputc('\n', out);
}

/* Prose sections hold `code` spans in their source; the requests in them are already troff. */
static void put_prose(FILE *out, const char *s)
{
	for (const char *line = s; *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (line[0] == '.') {
			fwrite(line, 1, len, out);
		} else {
			put_text(out, line, len, true);
		}
		fputc('\n', out);
		line += len + (nl != NULL);
	}
}

static void put_commands(FILE *out)
{
	put_req(out, ".SH", "COMMANDS");
	for (size_t i = 0; i < iocb_cli_ncmds; i++) {
		const struct iocb_cli_cmd *c = &iocb_cli_cmds[i];

		put_req(out, ".SS", c->name);
		put_c(out, c->summary, false);
		fputs(".\n.PP\n.RS 2\n.nf\n", out);
		put_c(out, c->usage, false);
		fputs(".fi\n.RE\n", out);
	}
}

static void put_configuration(FILE *out)
{
	const char *keys[48], *helps[48];
	size_t n = iocb_config_sections(keys, helps, 48);

	put_req(out, ".SH", "CONFIGURATION");
	put_prose(out, "One YAML file; every section is optional and an empty file gives the defaults. Unknown "
		       "keys, wrong types and out-of-range values are errors naming `file:line:col`. "
		       "`iocbus config docs` prints the full reference of every key (docs/CONFIGURATION.md); "
		       "the sections are:");
	for (size_t i = 0; i < n && i < 48; i++) {
		fputs(".TP\n.B ", out);
		put_c(out, keys[i], false);
		fputc('\n', out);
		put_prose(out, helps[i]);
	}
}

int iocb_cmd_man(int argc, char **argv)
{
	FILE *out = stdout;

	if (argc != 1) {
		bool help = strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0;
		fputs(iocb_cli_man_usage, help ? stdout : stderr);
		return help ? IOCB_EXIT_OK : IOCB_EXIT_ERROR;
	}
	fputs(".\\\" Generated by `iocbus man` from src/cli and src/config/tables.c. Do not edit:\n"
	      ".\\\" tests/e2e/test_generated_docs.py fails when docs/iocbus.1 differs from the output.\n",
	      out);
	fprintf(out, ".TH IOCBUS 1 \"\" \"iocbus %s\" \"User Commands\"\n", IOCB_VERSION);
	put_req(out, ".SH", "NAME");
	fputs("iocbus \\- ", out);
	put_c(out, iocb_cli_tagline, false);
	fputc('\n', out);
	put_req(out, ".SH", "SYNOPSIS");
	fputs(".B iocbus\n.I command\n.RI [ options ]\n.br\n.B iocbus \\-\\-help\n.br\n.B iocbus \\-\\-version\n",
	      out);
	put_req(out, ".SH", "DESCRIPTION");
	put_prose(out, man_description);
	put_commands(out);
	put_req(out, ".SH", "EXIT STATUS");
	fprintf(out, ".TP\n.B %d\nSuccess (lookup: a value matched).\n.TP\n.B %d\n"
		     "lookup: no value matched.\n.TP\n.B %d\nA usage, configuration, input or I/O error; "
		     "for run, a failed start or final commit.\n",
		IOCB_EXIT_OK, IOCB_EXIT_MISS, IOCB_EXIT_ERROR);
	put_req(out, ".SH", "SIGNALS");
	put_prose(out, man_signals);
	put_req(out, ".SH", "ENVIRONMENT");
	put_prose(out, man_environment);
	put_req(out, ".SH", "FILES");
	put_prose(out, man_files);
	put_configuration(out);
	put_req(out, ".SH", "SEE ALSO");
	fputs(".BR systemd.service (5),\n.BR sd_notify (3),\n.BR journalctl (1)\n", out);
	fflush(out);
	return ferror(out) ? IOCB_EXIT_ERROR : IOCB_EXIT_OK;
}
