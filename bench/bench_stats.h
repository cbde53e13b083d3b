/* SPDX-License-Identifier: Apache-2.0 */
/* Percentiles of latency samples, shared by bench/latency_probe.c and
 * bench/bus_sub.c. */
#ifndef IOCB_BENCH_STATS_H
#define IOCB_BENCH_STATS_H

#include <stddef.h>

static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile p (0-100) of n sorted samples; 0 when there are none.
 */
static inline double bench_pct(const double *v, size_t n, double p)
{
	if (!n)
		return 0;
	long k = (long)(p / 100.0 * (double)n + 0.5) - 1;
	if (k < 0)
		k = 0;
	if ((size_t)k >= n)
		k = (long)n - 1;
	return v[k];
}

#endif
