/* SPDX-License-Identifier: Apache-2.0 */
/* key=value, journald and JSON-lines logger (see log.h). */
#include "core/log.h"
#include "core/time.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Process-wide by design (see log.h). The level may change while threads
 * log (a daemon reload), so it is read and written atomically; the debug
 * module list is written only before threads start.
 */
static int g_level = IOCB_LOG_WARN;
static int g_format = IOCB_LOG_FORMAT_TEXT;
static bool g_journal; /* stderr is the journal: written once before threads start */
static char g_debug_modules[256];

static const char *const level_names[] = {"error", "warn", "info", "debug"};
/* syslog priorities (sd-daemon(3) "<N>" prefixes): err, warning, info, debug. */
static const char level_prio[] = {'3', '4', '6', '7'};

void iocb_log_set_level(enum iocb_log_level lvl)
{
	__atomic_store_n(&g_level, (int)lvl, __ATOMIC_RELAXED);
}

void iocb_log_set_debug_modules(const char *list)
{
	snprintf(g_debug_modules, sizeof(g_debug_modules), ",%s,", list ? list : "");
}

void iocb_log_set_format(enum iocb_log_format f)
{
	__atomic_store_n(&g_format, (int)f, __ATOMIC_RELAXED);
}

void iocb_log_detect_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	/* systemd sets it for the service's stdout/stderr; a child with stderr redirected must not take it. */
	g_journal = js && sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
		    (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

bool iocb_log_level_parse(const char *s, enum iocb_log_level *out)
{
	for (unsigned i = 0; i < 4; i++) {
		if (strcmp(s, level_names[i]) == 0) {
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

/* ------------------------------------------------------------ JSON lines */

/* A bounded line: `lim` keeps room for the closing `"}`, the newline and the NUL, so a cut line is still JSON. */
struct jline {
	char *p;    /* output */
	size_t len; /* bytes written */
	size_t lim; /* content may not pass this */
	bool full;  /* something did not fit: the rest is dropped */
};

static bool jput(struct jline *o, const char *s, size_t n)
{
	if (o->full || o->len > o->lim || n > o->lim - o->len) {
		o->full = true;
		return false;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	return true;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;

	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong 3/4-byte forms, surrogates and code points past U+10FFFF. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) || (s[0] == 0xf0 && s[1] < 0x90) ||
	    (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return len;
}

/* Escaped string body: quotes, backslashes, control characters; bytes that are not UTF-8 become U+FFFD. */
static void jesc(struct jline *o, const char *s, size_t n)
{
	char u[8];

	for (size_t i = 0; i < n && !o->full;) {
		unsigned char c = (unsigned char)s[i];
		size_t k;

		if (c == '"' || c == '\\') {
			u[0] = '\\';
			u[1] = (char)c;
			jput(o, u, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(u, sizeof(u), "\\u%04x", c);
			jput(o, u, 6);
			i++;
		} else if (c < 0x80) {
			jput(o, s + i, 1);
			i++;
		} else if ((k = utf8_seq((const unsigned char *)s + i, n - i)) > 0) {
			jput(o, s + i, k);
			i += k;
		} else {
			jput(o, "\xef\xbf\xbd", 3);
			i++;
		}
	}
}

/* `,"key":"value"`; a member that does not fit whole leaves its value cut but the string closed. */
static void jmember(struct jline *o, const char *key, size_t klen, const char *suffix, const char *v, size_t vlen)
{
	size_t start = o->len;

	if (o->full)
		return;
	if (!(jput(o, start ? ",\"" : "{\"", 2) && (jesc(o, key, klen), !o->full) &&
	      jput(o, suffix, strlen(suffix)) && jput(o, "\":\"", 3))) {
		o->len = start;
		o->full = true;
		return;
	}
	jesc(o, v, vlen);
	/* Room kept by lim; a value that filled it exactly leaves no room for another member. */
	o->p[o->len++] = '"';
	if (o->len > o->lim)
		o->full = true;
}

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '-';
}

/*
 * Where the value starting at p ends (p[0] is its opening quote): the first
 * quote followed by the end or by " key=" (else the first quote; NULL if
 * none), so a quote inside an error message does not end it early.
 */
static const char *quoted_end(const char *p)
{
	const char *first = strchr(p + 1, '"');

	for (const char *q = first; q; q = strchr(q + 1, '"')) {
		const char *k = q + 2;
		if (q[1] == '\0')
			return q;
		if (q[1] != ' ')
			continue;
		while (is_key_char(*k))
			k++;
		if (k > q + 2 && *k == '=')
			return q;
	}
	return first; /* no quote ends the line or precedes a key: the first one does */
}

/* One token of rest: a quoted text or a bare word. Sets *v and *vlen and returns where the next token starts. */
static const char *token(const char *p, const char **v, size_t *vlen)
{
	const char *e;

	if (*p == '"' && (e = quoted_end(p)) != NULL) {
		*v = p + 1;
		*vlen = (size_t)(e - p - 1);
		e++;
	} else {
		e = strchr(p, ' ');
		if (!e)
			e = p + strlen(p);
		*v = p;
		*vlen = (size_t)(e - p);
	}
	while (*e == ' ')
		e++;
	return e;
}

static bool reserved_key(const char *k, size_t n)
{
	static const char *const names[] = {"time", "level", "module", "message"};

	for (size_t i = 0; i < 4; i++)
		if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0)
			return true;
	return false;
}

static size_t format_json(char *out, size_t cap, enum iocb_log_level lvl, const char *module, const char *ts,
			  const char *rest)
{
	struct jline o = {out, 0, cap - 4, false};
	const char *p = rest, *v;
	size_t vlen;

	jmember(&o, "time", 4, "", ts, strlen(ts));
	jmember(&o, "level", 5, "", level_names[lvl], strlen(level_names[lvl]));
	jmember(&o, "module", 6, "", module, strlen(module));
	while (*p == ' ')
		p++;
	p = token(p, &v, &vlen);
	jmember(&o, "message", 7, "", v, vlen);
	while (*p && !o.full) {
		const char *k = p;
		while (is_key_char(*p))
			p++;
		if (p == k || *p != '=') {
			/* Not key=value: keep the remainder as it is rather than guess. */
			jmember(&o, "text", 4, "", k, strlen(k));
			break;
		}
		size_t klen = (size_t)(p - k);
		p = token(p + 1, &v, &vlen);
		jmember(&o, k, klen, reserved_key(k, klen) ? "_" : "", v, vlen);
	}
	out[o.len++] = '}';
	out[o.len++] = '\n';
	out[o.len] = '\0';
	return o.len;
}

/* ------------------------------------------------------------ lines */

size_t iocb_log_format_line(char *out, size_t cap, enum iocb_log_format f, bool journal, enum iocb_log_level lvl,
			    const char *module, const char *ts, const char *rest)
{
	int n;

	if (cap < 64)
		return 0;
	if (!module)
		module = "-";
	if (f == IOCB_LOG_FORMAT_JSON)
		return format_json(out, cap, lvl, module, ts, rest);
	if (journal)
		n = snprintf(out, cap - 1, "<%c>level=%s module=%s msg=%s", level_prio[lvl], level_names[lvl], module,
			     rest);
	else
		n = snprintf(out, cap - 1, "ts=%s level=%s module=%s msg=%s", ts, level_names[lvl], module, rest);
	if (n < 0)
		n = 0;
	if ((size_t)n > cap - 2)
		n = (int)(cap - 2);
	out[n++] = '\n';
	out[n] = '\0';
	return (size_t)n;
}

void iocb_log_(enum iocb_log_level lvl, const char *module, const char *fmt, ...)
{
	char rest[2048];
	char line[4096];
	char ts[IOCB_TIME_ISO_MAX];
	va_list ap;
	size_t n;

	iocb_time_iso8601_us(ts, sizeof(ts), iocb_time_real_us(), IOCB_TIME_MS_Z);
	va_start(ap, fmt);
	vsnprintf(rest, sizeof(rest), fmt, ap);
	va_end(ap);
	n = iocb_log_format_line(line, sizeof(line), (enum iocb_log_format)__atomic_load_n(&g_format, __ATOMIC_RELAXED),
				 g_journal, lvl, module, ts, rest);
	/* One write per line so lines from different threads do not interleave. */
	fwrite(line, 1, n, stderr);
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
