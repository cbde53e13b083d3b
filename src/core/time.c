/* SPDX-License-Identifier: Apache-2.0 */
/* Clocks and ISO-8601 timestamps (see time.h): the out-of-line parts. */
#include "core/time.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>

struct timespec iocb_time_deadline(clockid_t clk, double s)
{
	struct timespec ts;
	double whole, frac;

	clock_gettime(clk, &ts);
	if (!(s > 0))
		return ts;
	frac = modf(s, &whole);
	ts.tv_sec += (time_t)whole;
	ts.tv_nsec += (long)(frac * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

void iocb_time_sleep_s(double s)
{
	struct timespec ts;

	if (!(s > 0))
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

size_t iocb_time__iso8601_slow(char *buf, size_t cap, int64_t sec, uint32_t frac_us, enum iocb_time_prec prec)
{
	struct tm tm;
	time_t t = (time_t)sec;
	int n;

	if (cap)
		buf[0] = '\0';
	if (frac_us > 999999 || !gmtime_r(&t, &tm))
		return 0;
	if (prec == IOCB_TIME_MS_Z)
		n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
			     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac_us / 1000);
	else
		n = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06u+00:00", tm.tm_year + 1900, tm.tm_mon + 1,
			     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac_us);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			buf[0] = '\0';
		return 0;
	}
	return (size_t)n;
}
