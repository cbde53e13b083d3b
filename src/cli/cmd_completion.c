/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `iocbus completion bash`: a bash completion script generated from the
 * command table (main.c) and each command's --help text, so a new command
 * or option completes as soon as its --help says so. From a --help text it
 * takes the option words (-c, --config, ...), the sub-commands named on its
 * usage lines (store check|rebuild), the options followed by a file
 * argument (FILE, PATH, DIR, CONFIG, OUT: completed as files) and the ones
 * followed by a choice list (--preset ecs|suricata|...).
 * contrib/bash-completion/iocbus is this output, checked by
 * tests/e2e/test_generated_docs.py.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

const char iocb_cli_completion_usage[] =
	"usage: iocbus completion bash\n"
	"\n"
	"Print the bash completion script for iocbus, generated from the commands'\n"
	"--help texts; the Debian package installs it as\n"
	"/usr/share/bash-completion/completions/iocbus. Try it with\n"
	"'source <(iocbus completion bash)'. Exit status: 0, or 2 on a usage error.\n";

#define MAX_WORDS 64
#define WORD_MAX 48

/* The completion facts of one command. */
struct words {
	char opts[MAX_WORDS][WORD_MAX];   /* every option word, once */
	size_t nopts;
	char files[MAX_WORDS][WORD_MAX];  /* options whose value is a file or directory */
	size_t nfiles;
	char subs[MAX_WORDS][WORD_MAX];   /* sub-commands (second word) */
	size_t nsubs;
	char choice_opt[8][WORD_MAX];     /* options with a fixed set of values */
	char choices[8][128];             /* their values, '|' turned into spaces */
	size_t nchoices;
};

static bool add(char (*set)[WORD_MAX], size_t *n, const char *w, size_t len)
{
	if (len == 0 || len >= WORD_MAX || *n >= MAX_WORDS)
		return false;
	for (size_t i = 0; i < *n; i++)
		if (strlen(set[i]) == len && memcmp(set[i], w, len) == 0)
			return false;
	memcpy(set[*n], w, len);
	set[*n][len] = '\0';
	(*n)++;
	return true;
}

static bool all_of(const char *w, size_t len, const char *accept)
{
	return len > 0 && strspn(w, accept) >= len;
}

/* Next word of s at *pos: split on blanks, brackets and commas; a trailing "..." is dropped. */
static bool next_word(const char *s, size_t *pos, const char **w, size_t *len)
{
	static const char seps[] = " \t\n[],()";
	size_t p = *pos + strspn(s + *pos, seps);

	if (!s[p])
		return false;
	*w = s + p;
	*len = strcspn(s + p, seps);
	*pos = p + *len;
	if (*len > 3 && memcmp(*w + *len - 3, "...", 3) == 0)
		*len -= 3;
	return true;
}

static bool is_file_arg(const char *w, size_t len)
{
	static const char *const names[] = {"FILE", "PATH", "DIR", "CONFIG", "OUT"};

	for (size_t i = 0; i < IOCB_ARRAY_LEN(names); i++)
		if (strlen(names[i]) == len && memcmp(names[i], w, len) == 0)
			return true;
	return false;
}

/* Sub-commands: the word after "iocbus NAME" on a usage line, when it is a plain lower-case word. */
static void scan_subs(const char *name, const char *usage, struct words *ws)
{
	char pat[64];
	size_t plen = (size_t)snprintf(pat, sizeof(pat), "iocbus %s ", name);

	for (const char *p = strstr(usage, pat); p; p = strstr(p + 1, pat)) {
		const char *w = p + plen;
		size_t len = strspn(w, "abcdefghijklmnopqrstuvwxyz-");
		if (len > 0 && w[0] != '-' && (w[len] == ' ' || w[len] == '\n'))
			add(ws->subs, &ws->nsubs, w, len);
	}
}

static void scan(const char *name, const char *usage, struct words *ws)
{
	static const char optchars[] = "-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	const char *w, *v, *shortopt = NULL;
	size_t pos = 0, len, vlen;

	memset(ws, 0, sizeof(*ws));
	scan_subs(name, usage, ws);
	while (next_word(usage, &pos, &w, &len)) {
		if (len < 2 || w[0] != '-' || strcmp(w, "--") == 0 || !all_of(w, len, optchars) ||
		    (len == 2 && w[1] == '-') || (w[1] == '-' && len < 4) || (w[1] != '-' && len != 2))
			continue;
		add(ws->opts, &ws->nopts, w, len);
		/* "-c, --config FILE": the short form takes what the long one takes. */
		if (len == 2 && usage[pos] == ',') {
			shortopt = w;
			continue;
		}
		const char *alias = shortopt;
		shortopt = NULL;
		/* "--opt VALUE" or "--opt=VALUE" */
		size_t after = pos;
		if (usage[pos] == '=')
			after++;
		if (!next_word(usage, &after, &v, &vlen) || (usage[pos] != ' ' && usage[pos] != '='))
			continue;
		if (is_file_arg(v, vlen)) {
			add(ws->files, &ws->nfiles, w, len);
			if (alias)
				add(ws->files, &ws->nfiles, alias, 2);
		} else if (memchr(v, '|', vlen) && all_of(v, vlen, "abcdefghijklmnopqrstuvwxyz0123456789|-") &&
			   ws->nchoices < IOCB_ARRAY_LEN(ws->choices) && vlen < sizeof(ws->choices[0]) &&
			   add(ws->choice_opt, &ws->nchoices, w, len)) {
			char *c = ws->choices[ws->nchoices - 1];
			memcpy(c, v, vlen);
			c[vlen] = '\0';
			for (char *q = c; *q; q++)
				if (*q == '|')
					*q = ' ';
		}
	}
}

static void put_list(FILE *out, char (*set)[WORD_MAX], size_t n, const char *sep)
{
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%s", i ? sep : "", set[i]);
}

static void put_command(FILE *out, const struct iocb_cli_cmd *c)
{
	struct words ws;

	scan(c->name, c->usage, &ws);
	add(ws.opts, &ws.nopts, "--help", 6);
	fprintf(out, "        %s)\n", c->name);
	if (ws.nfiles) {
		fputs("            case $prev in ", out);
		put_list(out, ws.files, ws.nfiles, "|");
		fputs(") _filedir; return ;; esac\n", out);
	}
	for (size_t i = 0; i < ws.nchoices; i++)
		fprintf(out,
			"            if [[ $prev == %s ]]; then COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return; fi\n",
			ws.choice_opt[i], ws.choices[i]);
	if (ws.nsubs) {
		fputs("            subs=\"", out);
		put_list(out, ws.subs, ws.nsubs, " ");
		fputs("\"\n", out);
	}
	fputs("            opts=\"", out);
	put_list(out, ws.opts, ws.nopts, " ");
	fputs("\" ;;\n", out);
}

int iocb_cmd_completion(int argc, char **argv)
{
	FILE *out = stdout;

	if (argc != 2 || strcmp(argv[1], "bash") != 0) {
		bool help = argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0);
		fputs(iocb_cli_completion_usage, help ? stdout : stderr);
		return help ? IOCB_EXIT_OK : IOCB_EXIT_ERROR;
	}
	fputs("# bash completion for iocbus(1).\n"
	      "# Generated by `iocbus completion bash` from the commands' --help texts. Do not edit:\n"
	      "# tests/e2e/test_generated_docs.py fails when contrib/bash-completion/iocbus differs.\n"
	      "_iocbus()\n{\n"
	      "    local cur prev words cword subs= opts=\n"
	      "    _init_completion || return\n"
	      "    if [[ $cword -eq 1 ]]; then\n"
	      "        COMPREPLY=($(compgen -W \"",
	      out);
	for (size_t i = 0; i < iocb_cli_ncmds; i++)
		fprintf(out, "%s ", iocb_cli_cmds[i].name);
	fputs("--help --version\" -- \"$cur\"))\n"
	      "        return\n"
	      "    fi\n"
	      "    case ${words[1]} in\n",
	      out);
	for (size_t i = 0; i < iocb_cli_ncmds; i++)
		put_command(out, &iocb_cli_cmds[i]);
	fputs("        *) return ;;\n"
	      "    esac\n"
	      "    if [[ $cword -eq 2 && -n $subs && $cur != -* ]]; then\n"
	      "        COMPREPLY=($(compgen -W \"$subs\" -- \"$cur\"))\n"
	      "    elif [[ $cur == -* ]]; then\n"
	      "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
	      "    else\n"
	      "        _filedir\n"
	      "    fi\n"
	      "} &&\n"
	      "    complete -F _iocbus iocbus\n",
	      out);
	fflush(out);
	return ferror(out) ? IOCB_EXIT_ERROR : IOCB_EXIT_OK;
}
