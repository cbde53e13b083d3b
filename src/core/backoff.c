/* SPDX-License-Identifier: Apache-2.0 */
/* Retry delays with jitter (see backoff.h). */
#include "core/backoff.h"

#include <math.h>
#include <stdint.h>

#include "core/time.h"

/* xorshift64 state of this thread; 0 = not seeded yet. Jitter only, no need for more. */
static _Thread_local uint64_t rng;

double iocb_backoff_rand01(void)
{
	uint64_t x = rng;

	if (x == 0) {
		/* The clock, and the address of this thread's state (distinct per thread). */
		x = ((uint64_t)iocb_time_mono_ns() * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(uintptr_t)&rng;
		x |= 1u;
	}
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng = x;
	return (double)(x >> 11) / (double)(1ull << 53);
}

double iocb_backoff_delay(double initial_s, double max_s, unsigned attempt, double jitter)
{
	double cap = initial_s * ldexp(1.0, attempt > 30 ? 30 : (int)attempt), d;

	if (cap > max_s)
		cap = max_s;
	if (jitter < 0)
		jitter = 0;
	if (jitter > 1)
		jitter = 1;
	d = cap * (1.0 - jitter * iocb_backoff_rand01());
	return d < IOCB_BACKOFF_MIN_S ? IOCB_BACKOFF_MIN_S : d;
}
