/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parse-only throughput of the MISP parser: maps a file, touches every page
 * first (a first pass over fresh input is dominated by page faults on this
 * VM, see reference/tooling.md), then parses it N times with a callback that
 * only counts. Prints `name value unit` lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/file.h"
#include "misp/misp.h"

static int on_attr(void *ud, const struct iocb_misp_attr *a)
{
	(*(size_t *)ud) += a->nparts;
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct iocb_file_map m;
	struct iocb_err err = {0};
	size_t parts = 0;
	int reps = argc > 2 ? atoi(argv[2]) : 3;
	double best = 1e9;
	volatile unsigned char sink = 0;

	if (argc < 2 || iocb_file_map(argv[1], 0, &m, &err) < 0) {
		fprintf(stderr, "usage: bench_parse FILE [REPS] (%s)\n", err.msg);
		return 2;
	}
	for (size_t i = 0; i < m.len; i += 4096)
		sink ^= (unsigned char)m.data[i];
	parts = sink & 0; /* uses the page-touch result so it is not optimised away */
	struct iocb_misp_stats st = {0};
	for (int r = 0; r < reps; r++) {
		struct iocb_misp_handlers h = {on_attr, NULL, NULL, &parts, NULL, NULL};
		memset(&st, 0, sizeof(st));
		double t0 = now();
		if (iocb_misp_parse(m.data, m.len, argv[1], &h, NULL, &st, &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		double dt = now() - t0;
		if (dt < best)
			best = dt;
	}
	printf("parse_seconds %.3f s\n", best);
	printf("parse_attributes %llu attrs\n", (unsigned long long)st.attributes);
	printf("parse_rate %.0f attrs/s\n", (double)st.attributes / best);
	printf("parse_bandwidth %.0f MB/s\n", (double)m.len / best / 1e6);
	iocb_file_unmap(&m);
	return 0;
}
