/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Calendar arithmetic for MISP's first_seen / last_seen: an ISO-8601 date
 * and time to microseconds since the epoch, without libc's time zone state
 * (timegm() is not thread-safe everywhere and takes a struct tm). Nothing
 * here is MISP-specific; it stays in the module until core has a time
 * helper that parses as well as formats.
 */
#include "misp/internal.h"

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

int64_t iocb_misp__days_from_civil(int64_t y, unsigned m, unsigned d)
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

bool iocb_misp__iso8601_us(const char *s, size_t n, int64_t *out)
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
	int64_t secs = iocb_misp__days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mi * 60 + ss -
		       off;
	*out = secs * 1000000 + us;
	return true;
}
