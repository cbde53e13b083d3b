/* SPDX-License-Identifier: Apache-2.0 */
/* key=value logger (see log.h). */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/*
 * Process-wide by design (see log.h). The level may change while threads
 * log (a daemon reload), so it is read and written atomically; the debug
 * module list is written only before threads start.
 */
static int g_level = IOCB_LOG_WARN;
static char g_debug_modules[256];

void iocb_log_set_level(enum iocb_log_level lvl)
{
	__atomic_store_n(&g_level, (int)lvl, __ATOMIC_RELAXED);
}

void iocb_log_set_debug_modules(const char *list)
{
	snprintf(g_debug_modules, sizeof(g_debug_modules), ",%s,", list ? list : "");
}

bool iocb_log_level_parse(const char *s, enum iocb_log_level *out)
{
	static const char *names[] = {"error", "warn", "info", "debug"};

	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum iocb_log_level)i;
			return true;
		}
	}
	return false;
}

bool iocb_log_enabled(enum iocb_log_level lvl, const char *module)
{
	char pat[64];

	if ((int)lvl <= __atomic_load_n(&g_level, __ATOMIC_RELAXED))
		return true;
	if (lvl != IOCB_LOG_DEBUG || !g_debug_modules[0] || !module)
		return false;
	snprintf(pat, sizeof(pat), ",%s,", module);
	return strstr(g_debug_modules, pat) != NULL || strstr(g_debug_modules, ",all,") != NULL;
}

void iocb_log_(enum iocb_log_level lvl, const char *module, const char *fmt, ...)
{
	static const char *names[] = {"error", "warn", "info", "debug"};
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s module=%s msg=",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000, names[lvl], module ? module : "-");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One write per line so lines from different threads do not interleave. */
	fprintf(stderr, "%s\n", line);
}

bool iocb_ratelimit_ok(struct iocb_ratelimit *rl, uint64_t *suppressed)
{
	struct timespec ts;
	double now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (rl->last != 0 && now - rl->last < rl->interval_s) {
		rl->suppressed++;
		return false;
	}
	rl->last = now;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}
