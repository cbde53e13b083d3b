/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Levelled key=value logging to stderr.
 *
 * The logger is the one piece of process-wide state in iocbus (like syslog):
 * every thread logs, and passing a logger through every call would add noise
 * without benefit. It is configured by main before threads start; the level
 * may also change later (a daemon reload), the debug module list may not.
 * iocb_log() checks the level before formatting. Lines look like
 *   ts=2026-11-23T10:00:00.123Z level=warn module=misp msg="..." k=v
 * When stderr is the systemd journal ($JOURNAL_STREAM names it), the time
 * is left to the journal and the line starts with the syslog priority as
 * sd-daemon(3) describes: <4>level=warn module=misp msg="..." k=v.
 * With logging.format json each line is one JSON object for log shippers:
 *   {"time":"...","level":"warn","module":"misp","message":"...","k":"v"}
 * Secrets must never be passed to the logger; configuration keeps them in
 * struct iocb_secret, whose only printable form is "***".
 */
#ifndef IOCB_CORE_LOG_H
#define IOCB_CORE_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "core/rc.h"

enum iocb_log_level {
	IOCB_LOG_ERROR = 0,
	IOCB_LOG_WARN = 1,
	IOCB_LOG_INFO = 2,
	IOCB_LOG_DEBUG = 3,
};

enum iocb_log_format {
	IOCB_LOG_FORMAT_TEXT = 0, /* key=value (logfmt); journald-friendly when stderr is the journal */
	IOCB_LOG_FORMAT_JSON = 1, /* one JSON object per line */
};

/* Set the level (default WARN). Any thread, any time. */
void iocb_log_set_level(enum iocb_log_level lvl);
/* Enable debug for a comma-separated list of modules ("misp,store"). */
void iocb_log_set_debug_modules(const char *list);
/* Parse "error|warn|info|debug". Returns false on unknown text. */
bool iocb_log_level_parse(const char *s, enum iocb_log_level *out);
bool iocb_log_enabled(enum iocb_log_level lvl, const char *module);
/* Set the line format (default TEXT). Any thread, any time (a reload may change it). */
void iocb_log_set_format(enum iocb_log_format f);
/*
 * Look at $JOURNAL_STREAM ("dev:inode") and, when it names the file stderr
 * is, write journald-friendly text lines. Main, before threads start.
 */
void iocb_log_detect_journal(void);

/*
 * Compose one line (with its trailing newline) into out[cap]: `ts` the
 * time (ignored in journal mode), `rest` what follows msg= (a quoted
 * message then key=value pairs; JSON turns the pairs into string members,
 * a key that clashes with time/level/module/message gets a '_' suffix).
 * The line is cut to fit and JSON stays valid. Returns the length. Pure.
 */
size_t iocb_log_format_line(char *out, size_t cap, enum iocb_log_format f, bool journal, enum iocb_log_level lvl,
			    const char *module, const char *ts, const char *rest);

void iocb_log_(enum iocb_log_level lvl, const char *module, const char *fmt, ...) IOCB_PRINTF(3, 4);

/*
 * A rate limit for warnings about bad input: at most one line per interval,
 * the next one saying how many were dropped. One per message source, used
 * by one thread (no locking).
 */
struct iocb_ratelimit {
	double interval_s;   /* shortest time between two lines */
	double last;         /* monotonic time of the last line logged, 0 = never */
	uint64_t suppressed; /* lines dropped since then */
};

/*
 * True when a line may be logged now; *suppressed then gets the number of
 * lines dropped before it (and the count restarts). False counts a drop.
 */
bool iocb_ratelimit_ok(struct iocb_ratelimit *rl, uint64_t *suppressed);

/* `fmt` is the rest of the line after msg=, e.g. "\"loaded\" n=%zu". */
#define iocb_log(lvl, module, ...)                                              \
	do {                                                                    \
		if (iocb_log_enabled((lvl), (module)))                          \
			iocb_log_((lvl), (module), __VA_ARGS__);                \
	} while (0)

#endif
