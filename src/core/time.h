/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Clocks and ISO-8601 timestamps: the one copy every module uses.
 *
 * Monotonic time (for deadlines, intervals and backoffs) is a double in
 * seconds; wall time (for stamps that leave the process) is int64
 * microseconds since the epoch. Both read clock_gettime and are inline:
 * they sit on per-line and per-request paths.
 *
 * iocb_time_iso8601() writes UTC in one of the two spellings we emit:
 * milliseconds with "Z" (logs, enrichment stamps, dead letters) or
 * microseconds with "+00:00" (MISP's own spelling, used by the hit
 * renderer). Years 1970..9999 take an inline path without gmtime_r or
 * snprintf (enrich formats up to four stamps per hit); other instants go
 * through gmtime_r and give byte-for-byte what "%04d-%02d-%02d..." gives.
 * All functions may be called from any thread; none takes a lock.
 */
#ifndef IOCB_CORE_TIME_H
#define IOCB_CORE_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Monotonic clock in seconds (CLOCK_MONOTONIC); only differences mean anything. */
static inline double iocb_time_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC), for fine-grained intervals. */
static inline int64_t iocb_time_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wall clock (CLOCK_REALTIME) in microseconds since the epoch. */
static inline int64_t iocb_time_real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * The absolute time `s` seconds (negative counts as 0) after now on clock
 * `clk`, normalised (tv_nsec < 1e9): the deadline pthread_cond_timedwait()
 * wants, on the clock the condition variable was created with.
 */
struct timespec iocb_time_deadline(clockid_t clk, double s);

/*
 * "YYYY-MM-DDThh:mm:ss[.ffffff][Z|+hh:mm|-hh:mm]" (a space may stand for
 * 'T', as Python's str(datetime) writes; no zone = UTC; digits past
 * microseconds are dropped) -> microseconds since the epoch (proleptic
 * Gregorian, any year). False when s[0..n) is not exactly that.
 */
bool iocb_time_parse_iso8601_us(const char *s, size_t n, int64_t *out);

/* Sleep `s` seconds (<= 0: return at once), resuming after a signal. */
void iocb_time_sleep_s(double s);

/* The two spellings of iocb_time_iso8601(). */
enum iocb_time_prec {
	IOCB_TIME_MS_Z,      /* 2021-06-15T12:34:56.123Z (24 bytes) */
	IOCB_TIME_US_OFFSET, /* 2021-06-15T12:34:56.123456+00:00 (32 bytes) */
};

/* Enough for either spelling of any instant gmtime_r can represent. */
#define IOCB_TIME_ISO_MAX 64

/* The out-of-line path of iocb_time_iso8601() (gmtime_r + snprintf). Internal. */
size_t iocb_time__iso8601_slow(char *buf, size_t cap, int64_t sec, uint32_t frac_us, enum iocb_time_prec prec);

static inline void iocb_time__put(char *p, uint32_t v, int width)
{
	while (width-- > 0) {
		p[width] = (char)('0' + v % 10);
		v /= 10;
	}
}

/*
 * Write second `sec` plus `frac_us` microseconds (0..999999; the millisecond
 * spelling truncates it) as UTC in `buf` (cap bytes), NUL-terminated.
 * Returns the length written, or 0 (buf then holds "") when gmtime_r cannot
 * represent the instant or the text does not fit in cap.
 */
static inline size_t iocb_time_iso8601(char *buf, size_t cap, int64_t sec, uint32_t frac_us,
				       enum iocb_time_prec prec)
{
	size_t n = prec == IOCB_TIME_MS_Z ? 24 : 32;

	/* 253402300800 is 10000-01-01T00:00:00Z: four-digit years only here. */
	if (sec < 0 || sec >= 253402300800 || frac_us > 999999)
		return iocb_time__iso8601_slow(buf, cap, sec, frac_us, prec);
	if (cap <= n) {
		if (cap)
			buf[0] = '\0';
		return 0;
	}
	/* Days to civil date (H. Hinnant's algorithm, days since 1970-01-01 >= 0). */
	uint32_t days = (uint32_t)(sec / 86400), tod = (uint32_t)(sec % 86400);
	uint32_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
	uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	uint32_t d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
	uint32_t y = yoe + era * 400 + (m <= 2);

	iocb_time__put(buf, y, 4);
	buf[4] = '-';
	iocb_time__put(buf + 5, m, 2);
	buf[7] = '-';
	iocb_time__put(buf + 8, d, 2);
	buf[10] = 'T';
	iocb_time__put(buf + 11, tod / 3600, 2);
	buf[13] = ':';
	iocb_time__put(buf + 14, tod / 60 % 60, 2);
	buf[16] = ':';
	iocb_time__put(buf + 17, tod % 60, 2);
	buf[19] = '.';
	if (prec == IOCB_TIME_MS_Z) {
		iocb_time__put(buf + 20, frac_us / 1000, 3);
		buf[23] = 'Z';
	} else {
		iocb_time__put(buf + 20, frac_us, 6);
		buf[26] = '+';
		buf[27] = '0';
		buf[28] = '0';
		buf[29] = ':';
		buf[30] = '0';
		buf[31] = '0';
	}
	buf[n] = '\0';
	return n;
}

/* iocb_time_iso8601() of `us` microseconds since the epoch (negative: before 1970, floored). */
static inline size_t iocb_time_iso8601_us(char *buf, size_t cap, int64_t us, enum iocb_time_prec prec)
{
	int64_t sec = us / 1000000, rem = us % 1000000;

	if (rem < 0) {
		rem += 1000000;
		sec--;
	}
	return iocb_time_iso8601(buf, cap, sec, (uint32_t)rem, prec);
}

#endif
