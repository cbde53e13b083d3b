// SPDX-License-Identifier: Apache-2.0
/*
 * Test driver for src/sightings: `sightings_driver URL KEY STATE_DIR BATCH_MAX
 * MAX_PER_SECOND DEDUP_S`, then commands on stdin, one per line:
 *   add UUID SOURCE TYPE TS [COUNT]  queue COUNT (default 1) sightings; prints "ok N"
 *   many UUID SOURCE TS COUNT        queue COUNT sightings with one iocb_sightings_add_many(); prints "ok N"
 *   list UUID SOURCE TYPE TS ...     queue these (up to 2,000) with one iocb_sightings_add_many(); prints "ok N"
 *   stats                            prints the counters as one JSON line
 *   quit                             iocb_sightings_free() and exit 0
 * Prints "READY" once started. EOF on stdin is quit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sightings/sightings.h"

/* The next space-separated word of *p, NUL-terminated in place; NULL at the end. */
static char *word(char **p)
{
	char *w = *p + strspn(*p, " \n");
	if (!*w)
		return NULL;
	size_t n = strcspn(w, " \n");
	*p = w + n + (w[n] ? 1 : 0);
	w[n] = 0;
	return w;
}

/* "list" (bench/bench_sightings.py): quadruples UUID SOURCE TYPE TS, one add_many; how many were queued. */
static size_t add_list(struct iocb_sightings *q, char *p)
{
	enum { MAX = 2000 };
	static struct iocb_sightings_item it[MAX];
	size_t n = 0;
	while (n < MAX) {
		char *u = word(&p), *src = u ? word(&p) : NULL, *type = src ? word(&p) : NULL;
		char *ts = type ? word(&p) : NULL;
		if (!ts)
			break;
		it[n++] = (struct iocb_sightings_item){iocb_str_c(u), iocb_str_c(src), (unsigned)strtoul(type, NULL, 10),
						       strtoll(ts, NULL, 10)};
	}
	struct iocb_err err;
	return n && iocb_sightings_add_many(q, it, n, &err) == IOCB_OK ? n : 0;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: sightings_driver URL KEY STATE_DIR BATCH_MAX MAX_PER_SECOND DEDUP_S\n");
		return 2;
	}
	struct iocb_sightings_opts o;
	iocb_sightings_opts_default(&o);
	o.base_url = argv[1];
	o.api_key = argv[2];
	o.state_dir = argv[3];
	o.batch_max = (unsigned)atoi(argv[4]);
	o.max_per_second = atof(argv[5]);
	o.dedup_window_s = atof(argv[6]);
	o.backoff_initial_s = 0.2;
	o.backoff_max_s = 1.0;
	o.timeout_s = 10;
	struct iocb_err err;
	struct iocb_sightings *q;
	if (iocb_sightings_new(&o, &q, &err) != IOCB_OK) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	printf("READY\n");
	fflush(stdout);
	static char line[256 << 10];
	int rc = 0;
	while (fgets(line, sizeof(line), stdin)) {
		char uuid[64], source[300];
		unsigned type;
		long long ts, n = 1;
		if (strncmp(line, "add ", 4) == 0 &&
		    sscanf(line + 4, "%63s %299s %u %lld %lld", uuid, source, &type, &ts, &n) >= 4) {
			long long ok = 0;
			for (long long i = 0; i < n; i++)
				if (iocb_sightings_add(q, iocb_str_c(uuid), iocb_str_c(source), type, ts, &err) == IOCB_OK)
					ok++;
			printf("ok %lld\n", ok);
		} else if (strncmp(line, "many ", 5) == 0 &&
			   sscanf(line + 5, "%63s %299s %lld %lld", uuid, source, &ts, &n) == 4 && n > 0 && n <= 100000) {
			struct iocb_sightings_item *it = calloc((size_t)n, sizeof(*it));
			for (long long i = 0; it && i < n; i++)
				it[i] = (struct iocb_sightings_item){iocb_str_c(uuid), iocb_str_c(source), 0, ts};
			int r = it ? iocb_sightings_add_many(q, it, (size_t)n, &err) : IOCB_ENOMEM;
			printf("ok %lld\n", r == IOCB_OK ? n : 0);
			free(it);
		} else if (strncmp(line, "list ", 5) == 0) {
			printf("ok %zu\n", add_list(q, line + 5));
		} else if (strncmp(line, "stats", 5) == 0) {
			struct iocb_sightings_stats s;
			iocb_sightings_stats(q, &s);
			printf("{\"received\":%llu,\"sent\":%llu,\"failed\":%llu,\"rejected\":%llu,\"queued\":%llu,"
			       "\"deduplicated\":%llu,\"requests\":%llu}\n",
			       (unsigned long long)s.received, (unsigned long long)s.sent, (unsigned long long)s.failed,
			       (unsigned long long)s.rejected, (unsigned long long)s.queued,
			       (unsigned long long)s.deduplicated, (unsigned long long)s.requests);
		} else if (strncmp(line, "quit", 4) == 0) {
			break;
		} else {
			printf("error\n");
			rc = 1;
		}
		fflush(stdout);
	}
	iocb_sightings_free(q);
	return rc;
}
