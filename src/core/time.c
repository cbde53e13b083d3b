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

/*
 * Parsing, without libc's time zone state (timegm() is not thread-safe
 * everywhere and takes a struct tm).
 */
static bool is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num2(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's days_from_civil: eras of 400 years, March-based years. */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* ".ffffff" at s[*i] (if any): microseconds, more digits dropped. False on "." without digits. */
static bool fraction_us(const char *s, size_t n, size_t *i, int64_t *us)
{
	int digits = 0;

	*us = 0;
	if (*i >= n || s[*i] != '.')
		return true;
	(*i)++;
	while (*i < n && s[*i] >= '0' && s[*i] <= '9') {
		if (digits < 6) {
			*us = *us * 10 + (s[*i] - '0');
			digits++;
		}
		(*i)++;
	}
	if (digits == 0)
		return false;
	while (digits++ < 6)
		*us *= 10;
	return true;
}

/* "Z", "+hh:mm", "-hh:mm" or nothing at s[*i]: the offset east of UTC in seconds. */
static bool zone_s(const char *s, size_t n, size_t *i, int64_t *off)
{
	*off = 0;
	if (*i < n && s[*i] == 'Z') {
		(*i)++;
	} else if (*i < n && (s[*i] == '+' || s[*i] == '-')) {
		if (n - *i < 6 || !is_digits(s + *i + 1, 2) || s[*i + 3] != ':' || !is_digits(s + *i + 4, 2))
			return false;
		*off = (int64_t)(num2(s + *i + 1) * 3600 + num2(s + *i + 4) * 60);
		if (s[*i] == '-')
			*off = -*off;
		*i += 6;
	}
	return true;
}

bool iocb_time_parse_iso8601_us(const char *s, size_t n, int64_t *out)
{
	int64_t us, off;
	size_t i = 19;

	if (n < 19 || !is_digits(s, 4) || s[4] != '-' || !is_digits(s + 5, 2) || s[7] != '-' ||
	    !is_digits(s + 8, 2) || (s[10] != 'T' && s[10] != ' ') || !is_digits(s + 11, 2) || s[13] != ':' ||
	    !is_digits(s + 14, 2) || s[16] != ':' || !is_digits(s + 17, 2))
		return false;
	int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + num2(s + 2);
	int mo = num2(s + 5), d = num2(s + 8), hh = num2(s + 11), mi = num2(s + 14), ss = num2(s + 17);
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mi > 59 || ss > 60)
		return false;
	if (!fraction_us(s, n, &i, &us) || !zone_s(s, n, &i, &off) || i != n)
		return false;
	int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mi * 60 + ss -
		       off;
	*out = secs * 1000000 + us;
	return true;
}
