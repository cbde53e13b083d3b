/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `iocbus store check` and `iocbus store rebuild`: what to do with a store
 * that `iocbus run` or `lookup` refuses as damaged. check opens it the way
 * every command does (the file's size against LMDB's meta pages, then every
 * record read back), so "check says ok" and "run starts" never disagree.
 * rebuild does not try to salvage records from a damaged file: MISP and the
 * intel files are the source of truth, so it sets the file aside (kept for
 * a post-mortem) and leaves an empty store to refill.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

const char iocb_cli_store_usage[] =
	"usage: iocbus store check DIR\n"
	"       iocbus store rebuild [--force] DIR\n"
	"\n"
	"check    open the store in DIR as 'iocbus run' does (the file against\n"
	"         LMDB's own record of its size, then every record read back) and\n"
	"         report. Exit status: 0 intact, 2 damaged or unreadable.\n"
	"rebuild  set a damaged DIR/data.mdb aside as data.mdb.damaged-<time> and\n"
	"         start an empty store; refill it with 'iocbus load --store DIR ...'\n"
	"         or let 'iocbus run' refetch from MISP. An intact store is left\n"
	"         alone unless --force. Stop 'iocbus run' on DIR first.\n"
	"         Exit status: 0 done, 2 on error.\n";

/* Open and load DIR (which must hold a store); prints the verdict. */
static int check(const char *dir, bool quiet)
{
	struct iocb_store_opts so;
	struct iocb_store *s = NULL;
	struct iocb_store_stats st;
	struct iocb_err err = {0};
	char path[4096];
	struct stat fs;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (stat(path, &fs) < 0) {
		fprintf(stderr, "iocbus: %s: no store here (%s)\n", dir, strerror(errno));
		return IOCB_EXIT_ERROR;
	}
	iocb_store_opts_default(&so);
	so.path = dir;
	if (iocb_store_open(&so, &s, &err) < 0) {
		fprintf(stderr, "iocbus: %s\n", err.msg);
		return IOCB_EXIT_ERROR;
	}
	iocb_store_stats(s, &st);
	if (!quiet)
		printf("%s: ok: %llu attributes, %llu events, %lld bytes on disk\n", dir, (unsigned long long)st.attrs,
		       (unsigned long long)st.events, (long long)fs.st_size);
	iocb_store_free(s);
	return IOCB_EXIT_OK;
}

static int rebuild(const char *dir, bool force)
{
	struct iocb_store_opts so;
	struct iocb_store *s = NULL;
	struct iocb_err err = {0};
	char from[4096], to[4160];

	if (!force && check(dir, true) == IOCB_EXIT_OK) {
		printf("%s: the store is intact; left alone (--force sets it aside anyway)\n", dir);
		return IOCB_EXIT_OK;
	}
	snprintf(from, sizeof(from), "%s/data.mdb", dir);
	snprintf(to, sizeof(to), "%s/data.mdb.damaged-%lld", dir, (long long)time(NULL));
	if (rename(from, to) < 0 && errno != ENOENT) {
		fprintf(stderr, "iocbus: %s: cannot set it aside: %s\n", from, strerror(errno));
		return IOCB_EXIT_ERROR;
	}
	snprintf(from, sizeof(from), "%s/lock.mdb", dir);
	(void)unlink(from); /* it describes the old file's readers */
	iocb_store_opts_default(&so);
	so.path = dir;
	if (iocb_store_open(&so, &s, &err) < 0) {
		fprintf(stderr, "iocbus: %s\n", err.msg);
		return IOCB_EXIT_ERROR;
	}
	iocb_store_free(s);
	printf("%s: old data set aside as %s; the store is empty now: refill it with 'iocbus load --store %s "
	       "PATH...' or let 'iocbus run' refetch from MISP\n",
	       dir, to, dir);
	return IOCB_EXIT_OK;
}

int iocb_cmd_store(int argc, char **argv)
{
	const char *dir = NULL;
	bool force = false, opts_end = false;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(iocb_cli_store_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? IOCB_EXIT_ERROR : IOCB_EXIT_OK;
	}
	for (int i = 2; i < argc; i++) {
		if (iocb_cli_end_of_opts(argv[i], &opts_end))
			continue;
		if (!opts_end && strcmp(argv[i], "--force") == 0 && strcmp(argv[1], "rebuild") == 0) {
			force = true;
		} else if (!dir && (opts_end || argv[i][0] != '-')) {
			dir = argv[i];
		} else {
			fprintf(stderr, "iocbus: store: unexpected argument '%s'\n%s", argv[i], iocb_cli_store_usage);
			return IOCB_EXIT_ERROR;
		}
	}
	if (!dir || (strcmp(argv[1], "check") != 0 && strcmp(argv[1], "rebuild") != 0)) {
		fputs(iocb_cli_store_usage, stderr);
		return IOCB_EXIT_ERROR;
	}
	return strcmp(argv[1], "check") == 0 ? check(dir, false) : rebuild(dir, force);
}
