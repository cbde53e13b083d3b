/* SPDX-License-Identifier: Apache-2.0 */
/* key=value logger (see log.h). */
#include "core/log.h"
#include "core/time.h"

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
	char ts[IOCB_TIME_ISO_MAX];
	va_list ap;
	int n;

	iocb_time_iso8601_us(ts, sizeof(ts), iocb_time_real_us(), IOCB_TIME_MS_Z);
	n = snprintf(line, sizeof(line), "ts=%s level=%s module=%s msg=", ts, names[lvl], module ? module : "-");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One write per line so lines from different threads do not interleave. */
	fprintf(stderr, "%s\n", line);
}

bool iocb_ratelimit_ok(struct iocb_ratelimit *rl, uint64_t *suppressed)
{
	double now = iocb_time_mono_s();

	if (rl->last != 0 && now - rl->last < rl->interval_s) {
		rl->suppressed++;
		return false;
	}
	rl->last = now;
	*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}
