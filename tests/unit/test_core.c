/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of module `core` (src/core/): string views and number
 * parsing, the secret-name rule and URL redaction, the capped buffer, the
 * arena, return-code names and error reports, file mapping (regular file,
 * empty file, directory, size cap, FIFO read whole) and log level parsing
 * and module filters. Each test says the rule it checks; none sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/md5.h"
#include "core/arena.h"
#include "core/backoff.h"
#include "core/buf.h"
#include "core/file.h"
#include "core/log.h"
#include "core/prom.h"
#include "core/rc.h"
#include "core/str.h"
#include "core/time.h"

/* ------------------------------------------------------------ str */

static void test_str_views(void **state)
{
	(void)state;
	assert_true(iocb_str_eq_c(iocb_str_c("abc"), "abc"));
	assert_false(iocb_str_eq_c(iocb_str_c("abc"), "abcd"));
	assert_true(iocb_str_eq_nocase(iocb_str_c("MiSp"), iocb_str_c("misp")));
	assert_false(iocb_str_eq_nocase(iocb_str_c("misp"), iocb_str_c("misq")));
	assert_true(iocb_str_starts_with(iocb_str_c("misp_json_self"), iocb_str_c("misp_json")));
	assert_true(iocb_str_starts_with(iocb_str_c("x"), iocb_str_c("")));
	assert_false(iocb_str_starts_with(iocb_str_c("mi"), iocb_str_c("misp")));

	struct iocb_str t = iocb_str_trim(iocb_str_c(" \t\r\n value \v\f"));
	assert_true(iocb_str_eq_c(t, "value"));
	assert_int_equal(iocb_str_trim(iocb_str_c(" \t ")).len, 0);

	char *d = iocb_str_dup(iocb_str_make("abcdef", 3));
	assert_string_equal(d, "abc");
	free(d);
}

static void test_str_numbers(void **state)
{
	uint64_t u = 7;
	int64_t i = 7;

	(void)state;
	assert_true(iocb_str_to_u64(iocb_str_c("0"), &u));
	assert_int_equal(u, 0);
	assert_true(iocb_str_to_u64(iocb_str_c("18446744073709551615"), &u));
	assert_true(u == UINT64_MAX);
	/* Overflow, signs, spaces, empty and non-digits are refused and leave *out alone. */
	u = 7;
	assert_false(iocb_str_to_u64(iocb_str_c("18446744073709551616"), &u));
	assert_false(iocb_str_to_u64(iocb_str_c("+1"), &u));
	assert_false(iocb_str_to_u64(iocb_str_c(" 1"), &u));
	assert_false(iocb_str_to_u64(iocb_str_c(""), &u));
	assert_false(iocb_str_to_u64(iocb_str_c("12a"), &u));
	assert_int_equal(u, 7);

	assert_true(iocb_str_to_i64(iocb_str_c("-9223372036854775808"), &i));
	assert_true(i == INT64_MIN);
	assert_true(iocb_str_to_i64(iocb_str_c("9223372036854775807"), &i));
	assert_true(i == INT64_MAX);
	assert_false(iocb_str_to_i64(iocb_str_c("9223372036854775808"), &i));
	assert_false(iocb_str_to_i64(iocb_str_c("-9223372036854775809"), &i));
	assert_false(iocb_str_to_i64(iocb_str_c("-"), &i));
}

static void test_str_distance(void **state)
{
	char longer[IOCB_STR_DISTANCE_MAX + 2];

	(void)state;
	assert_int_equal(iocb_str_distance("domain", 6, "domain", 6, 3), 0);
	assert_int_equal(iocb_str_distance("domian", 6, "domain", 6, 3), 1); /* transposition counts 1 */
	assert_int_equal(iocb_str_distance("ip-src", 6, "ip-dst", 6, 3), 3);
	/* Past the limit (or past IOCB_STR_DISTANCE_MAX bytes) the answer is limit + 1. */
	assert_int_equal(iocb_str_distance("a", 1, "abcdef", 6, 2), 3);
	memset(longer, 'a', sizeof(longer));
	assert_int_equal(iocb_str_distance(longer, sizeof(longer), longer, sizeof(longer), 2), 3);
}

static void test_str_secret_name(void **state)
{
	static const char *const secret[] = {"password",         "sasl.PASSWORD", "client_secret", "api_key",
					     "ssl.key.location", "access_token",  "Credentials",   "sasl.oauthbearer.config",
					     "sasl.jaas.config"};
	static const char *const plain[] = {"bootstrap.servers", "group.id", "user", "host", "ke", ""};

	(void)state;
	for (size_t k = 0; k < IOCB_ARRAY_LEN(secret); k++)
		assert_true(iocb_str_secret_name(secret[k]));
	for (size_t k = 0; k < IOCB_ARRAY_LEN(plain); k++)
		assert_false(iocb_str_secret_name(plain[k]));
}

static void test_str_redact_url(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"https://misp.example/feeds", "https://misp.example/feeds"},
		{"https://alice:pw@misp.example:8443/x", "https://alice:***@misp.example:8443/x"},
		{"https://tok@misp.example", "https://***@misp.example"},
		/* The userinfo ends at the last '@' of the authority. */
		{"http://u:p@ss@h/p@q", "http://u:***@h/p@q"},
		{"https://h/p?a=1&api_key=K&b=2#frag", "https://h/p?a=1&api_key=***&b=2#frag"},
		{"https://h/p?token=T;x=1", "https://h/p?token=***;x=1"},
		{"not a url: key=v", "not a url: key=v"},
		/* Anything before the first "://" is the scheme, checked or not. */
		{"h t!p://u:p@h", "h t!p://u:***@h"},
	};
	char small[12];

	(void)state;
	for (size_t k = 0; k < IOCB_ARRAY_LEN(cases); k++) {
		char *r = iocb_str_redact_url_dup(cases[k].in);
		assert_string_equal(r, cases[k].out);
		free(r);
	}
	/* snprintf's rule: the full length is returned, the copy is cut and NUL-terminated. */
	assert_int_equal(iocb_str_redact_url("https://u:pw@host", small, sizeof(small)), strlen("https://u:***@host"));
	assert_string_equal(small, "https://u:*");
	assert_int_equal(iocb_str_redact_url("https://u:pw@host", NULL, 0), strlen("https://u:***@host"));
}

/* ------------------------------------------------------------ buf */

static void test_buf_cap(void **state)
{
	struct iocb_buf b;

	(void)state;
	iocb_buf_init(&b, 8);
	assert_int_equal(iocb_buf_append_c(&b, "abcd"), IOCB_OK);
	assert_int_equal(iocb_buf_printf(&b, "%d", 123), IOCB_OK);
	assert_int_equal(iocb_buf_putc(&b, 'x'), IOCB_OK);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.ptr, "abcd123x");
	/* Past the cap: IOCB_ELIMIT and the buffer unchanged, whichever call. */
	assert_int_equal(iocb_buf_putc(&b, 'y'), IOCB_ELIMIT);
	assert_int_equal(iocb_buf_append_c(&b, "z"), IOCB_ELIMIT);
	assert_int_equal(iocb_buf_printf(&b, "%s", "z"), IOCB_ELIMIT);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.ptr, "abcd123x");
	iocb_buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.ptr, "");
	assert_int_equal(iocb_buf_append_str(&b, iocb_str_make("hello world", 5)), IOCB_OK);
	assert_true(iocb_str_eq_c(iocb_buf_str(&b), "hello"));
	iocb_buf_fini(&b);
	assert_null(b.ptr);
}

static void test_buf_printf_grows_and_trim(void **state)
{
	struct iocb_buf b;
	char big[300];

	(void)state;
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	iocb_buf_init(&b, 0);
	assert_int_equal(iocb_buf_printf(&b, "<%s>", big), IOCB_OK);
	assert_int_equal(b.len, sizeof(big) + 1);
	assert_true(b.ptr[0] == '<' && b.ptr[b.len - 1] == '>');
	/* trim keeps a small allocation and gives a large one back. */
	iocb_buf_trim(&b, 1 << 20);
	assert_non_null(b.ptr);
	assert_int_equal(b.len, 0);
	assert_int_equal(iocb_buf_printf(&b, "<%s>", big), IOCB_OK);
	iocb_buf_trim(&b, 16);
	assert_null(b.ptr);
	assert_int_equal(b.cap, 0);
	iocb_buf_fini(&b);
}

/* ------------------------------------------------------------ arena */

static void test_arena(void **state)
{
	struct iocb_arena a;
	char *s, *t;
	void *big;

	(void)state;
	iocb_arena_init(&a, 64 * 1024);
	s = iocb_arena_strndup(&a, "abcdef", 3);
	assert_string_equal(s, "abc");
	t = iocb_arena_alloc(&a, 5);
	assert_non_null(t);
	assert_int_equal((uintptr_t)t % 8, 0); /* 8-byte aligned */
	assert_true(t >= s + 8);                /* s's 4 bytes were rounded up to 8 */
	/* A request larger than a chunk gets its own; the cap counts every byte. */
	big = iocb_arena_alloc(&a, 40 * 1024);
	assert_non_null(big);
	memset(big, 0xab, 40 * 1024);
	assert_null(iocb_arena_alloc(&a, 30 * 1024));
	assert_null(iocb_arena_strndup(&a, "x", 64 * 1024));
	/* reset forgets everything: the whole cap is available again. */
	iocb_arena_reset(&a);
	assert_int_equal(a.used, 0);
	assert_non_null(iocb_arena_alloc(&a, 60 * 1024));
	iocb_arena_fini(&a);
	assert_null(a.head);
}

/* ------------------------------------------------------------ rc */

static void test_rc(void **state)
{
	struct iocb_err err = {0};

	(void)state;
	assert_string_equal(iocb_rc_str(IOCB_OK), "IOCB_OK");
	assert_string_equal(iocb_rc_str(IOCB_EPARSE), "IOCB_EPARSE");
	assert_string_equal(iocb_rc_str(IOCB_ECANCELED), "IOCB_ECANCELED");
	assert_string_equal(iocb_rc_str(-1000), "IOCB_E?");
	assert_int_equal(iocb_err_set(&err, IOCB_ECONFIG, "%s:%d: bad", "f.yaml", 3), IOCB_ECONFIG);
	assert_int_equal(err.rc, IOCB_ECONFIG);
	assert_string_equal(err.msg, "f.yaml:3: bad");
	iocb_err_prefix(&err, "%s", "http");
	assert_string_equal(err.msg, "http: f.yaml:3: bad");
	iocb_err_clear(&err);
	assert_int_equal(err.rc, IOCB_OK);
	assert_string_equal(err.msg, "");
	/* A NULL report is accepted everywhere. */
	assert_int_equal(iocb_err_set(NULL, IOCB_EIO, "x"), IOCB_EIO);
	iocb_err_prefix(NULL, "x");
	iocb_err_clear(NULL);
}

static void test_rc_prefix_bounded(void **state)
{
	struct iocb_err err = {0};
	char longer[600];

	(void)state;
	memset(longer, 'm', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	(void)iocb_err_set(&err, IOCB_EIO, "%s", longer);
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
	iocb_err_prefix(&err, "prefix");
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
	assert_memory_equal(err.msg, "prefix: mmm", 11);
}

/* ------------------------------------------------------------ file */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_file_map(void **state)
{
	char dir[] = "/tmp/iocb_test_core.XXXXXX", path[128];
	struct iocb_file_map m;
	struct iocb_err err = {0};

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.json", dir);
	write_file(path, "{\"x\":1}");
	assert_int_equal(iocb_file_map(path, 0, &m, &err), IOCB_OK);
	assert_int_equal(m.len, 7);
	assert_memory_equal(m.data, "{\"x\":1}", 7);
	iocb_file_unmap(&m);
	/* Over the cap: IOCB_ELIMIT naming the file. */
	assert_int_equal(iocb_file_map(path, 6, &m, &err), IOCB_ELIMIT);
	assert_non_null(strstr(err.msg, path));
	/* A directory and a missing file are errors with the path. */
	assert_int_equal(iocb_file_map(dir, 0, &m, &err), IOCB_EINVAL);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(iocb_file_map(path, 0, &m, &err), IOCB_EIO);
	assert_non_null(strstr(err.msg, "missing"));
	/* An empty file maps to zero bytes. */
	snprintf(path, sizeof(path), "%s/empty", dir);
	write_file(path, "");
	assert_int_equal(iocb_file_map(path, 0, &m, &err), IOCB_OK);
	assert_int_equal(m.len, 0);
	iocb_file_unmap(&m);
	unlink(path);
	snprintf(path, sizeof(path), "%s/a.json", dir);
	unlink(path);
	rmdir(dir);
}

/* A FIFO is read whole into memory (the `-c <(...)` case), within the cap. */
static void test_file_map_fifo(void **state)
{
	char dir[] = "/tmp/iocb_test_core.XXXXXX", path[128];
	struct iocb_file_map m;
	struct iocb_err err = {0};
	pid_t pid;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(path, O_WRONLY);
		ssize_t n = fd >= 0 ? write(fd, "from a pipe", 11) : -1;
		_exit(n == 11 ? 0 : 1);
	}
	assert_int_equal(iocb_file_map(path, 1024, &m, &err), IOCB_OK);
	assert_int_equal(m.len, 11);
	assert_memory_equal(m.data, "from a pipe", 11);
	iocb_file_unmap(&m);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unlink(path);
	rmdir(dir);
}

/* ------------------------------------------------------------ log */

static void test_log_levels(void **state)
{
	enum iocb_log_level l = IOCB_LOG_ERROR;

	(void)state;
	assert_true(iocb_log_level_parse("debug", &l));
	assert_int_equal(l, IOCB_LOG_DEBUG);
	assert_true(iocb_log_level_parse("warn", &l));
	assert_int_equal(l, IOCB_LOG_WARN);
	/* Exactly the four words: no case folding, no "warning". */
	assert_false(iocb_log_level_parse("WARN", &l));
	assert_false(iocb_log_level_parse("warning", &l));
	assert_false(iocb_log_level_parse("", &l));
	assert_int_equal(l, IOCB_LOG_WARN);

	iocb_log_set_level(IOCB_LOG_WARN);
	assert_true(iocb_log_enabled(IOCB_LOG_ERROR, "x"));
	assert_true(iocb_log_enabled(IOCB_LOG_WARN, "x"));
	assert_false(iocb_log_enabled(IOCB_LOG_INFO, "x"));
	/* debug per module: whole names in the comma list, or "all". */
	iocb_log_set_debug_modules("misp,store");
	assert_true(iocb_log_enabled(IOCB_LOG_DEBUG, "store"));
	assert_false(iocb_log_enabled(IOCB_LOG_DEBUG, "sto"));
	assert_false(iocb_log_enabled(IOCB_LOG_DEBUG, "zmq"));
	assert_false(iocb_log_enabled(IOCB_LOG_INFO, "store")); /* the list is for debug only */
	iocb_log_set_debug_modules("all");
	assert_true(iocb_log_enabled(IOCB_LOG_DEBUG, "zmq"));
	iocb_log_set_debug_modules(NULL);
	assert_false(iocb_log_enabled(IOCB_LOG_DEBUG, "zmq"));
	iocb_log_set_level(IOCB_LOG_DEBUG);
	assert_true(iocb_log_enabled(IOCB_LOG_DEBUG, "zmq"));
	iocb_log_set_level(IOCB_LOG_WARN);
}

static void test_ratelimit(void **state)
{
	struct iocb_ratelimit rl = {.interval_s = 3600};
	uint64_t sup = 99;

	(void)state;
	assert_true(iocb_ratelimit_ok(&rl, &sup));
	assert_int_equal(sup, 0);
	assert_false(iocb_ratelimit_ok(&rl, &sup));
	assert_false(iocb_ratelimit_ok(&rl, &sup));
	assert_int_equal(rl.suppressed, 2);
	/* Once the interval has passed, the next line reports the drops and the count restarts. */
	rl.last -= 3601;
	assert_true(iocb_ratelimit_ok(&rl, &sup));
	assert_int_equal(sup, 2);
	assert_int_equal(rl.suppressed, 0);
}

/* ------------------------------------------------------------ time */

/* The reference the inline formatter must match byte for byte: gmtime_r + snprintf. */
static void iso_ref(char *out, size_t cap, int64_t sec, uint32_t us, bool ms)
{
	struct tm tm;
	time_t t = (time_t)sec;

	assert_non_null(gmtime_r(&t, &tm));
	if (ms)
		snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, us / 1000);
	else
		snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06u+00:00", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
}

static void check_iso(int64_t sec, uint32_t us)
{
	char got[IOCB_TIME_ISO_MAX], want[IOCB_TIME_ISO_MAX];

	iso_ref(want, sizeof(want), sec, us, true);
	assert_int_equal(iocb_time_iso8601(got, sizeof(got), sec, us, IOCB_TIME_MS_Z), strlen(want));
	assert_string_equal(got, want);
	iso_ref(want, sizeof(want), sec, us, false);
	assert_int_equal(iocb_time_iso8601(got, sizeof(got), sec, us, IOCB_TIME_US_OFFSET), strlen(want));
	assert_string_equal(got, want);
}

/* Rule: the fast path writes what gmtime_r + "%04d-..." writes, at every boundary we can name. */
static void test_time_iso8601_matches_gmtime(void **state)
{
	static const int64_t secs[] = {
		0, 59, 60, 86399, 86400, 951782400 /* 2000-02-29 */, 951868800 /* 2000-03-01 */,
		4107542400 /* 2100-03-01 */, 1623760496, 1709164800 /* 2024-02-29 */, 253402300799 /* 9999-12-31T23:59:59 */,
		-1, -86400, -62135596800 /* 0001-01-01 */, 253402300800 /* 10000-01-01: slow path */,
	};
	(void)state;
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		check_iso(secs[i], 0);
		check_iso(secs[i], 999999);
		check_iso(secs[i], 123456);
	}
	/* A pseudo-random walk over 1970..9999, one stamp every ~3.7 days. */
	for (int64_t s = 0; s < 253402300800; s += 318211 + (s % 7919))
		check_iso(s, (uint32_t)(s % 1000000));
}

/* Rule: microseconds before the epoch floor to the earlier second; odd inputs give 0 and "". */
static void test_time_iso8601_edges(void **state)
{
	char b[IOCB_TIME_ISO_MAX];

	(void)state;
	assert_int_equal(iocb_time_iso8601_us(b, sizeof(b), -1, IOCB_TIME_US_OFFSET), 32);
	assert_string_equal(b, "1969-12-31T23:59:59.999999+00:00");
	assert_int_equal(iocb_time_iso8601_us(b, sizeof(b), 1623760496123456, IOCB_TIME_MS_Z), 24);
	assert_string_equal(b, "2021-06-15T12:34:56.123Z");
	assert_int_equal(iocb_time_iso8601_us(b, sizeof(b), 1623760496123456, IOCB_TIME_US_OFFSET), 32);
	assert_string_equal(b, "2021-06-15T12:34:56.123456+00:00");
	/* Exactly too small, and just big enough (the NUL counts). */
	assert_int_equal(iocb_time_iso8601(b, 24, 0, 0, IOCB_TIME_MS_Z), 0);
	assert_string_equal(b, "");
	assert_int_equal(iocb_time_iso8601(b, 25, 0, 0, IOCB_TIME_MS_Z), 24);
	assert_int_equal(iocb_time_iso8601(b, 32, 0, 0, IOCB_TIME_US_OFFSET), 0);
	assert_int_equal(iocb_time_iso8601(b, sizeof(b), 0, 1000000, IOCB_TIME_MS_Z), 0);
	/* Past what gmtime_r can hold (year overflows int): 0, never a wrong date. */
	assert_int_equal(iocb_time_iso8601(b, sizeof(b), INT64_MAX, 0, IOCB_TIME_MS_Z), 0);
	assert_string_equal(b, "");
	assert_int_equal(iocb_time_iso8601_us(b, sizeof(b), INT64_MIN, IOCB_TIME_MS_Z) > 0, 1);
}

/* Rule: a deadline is normalised and lies s seconds ahead; s <= 0 is now. */
static void test_time_deadline(void **state)
{
	struct timespec now, d;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &now);
	d = iocb_time_deadline(CLOCK_MONOTONIC, 1.9999999);
	assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
	double ahead = (double)(d.tv_sec - now.tv_sec) + (double)(d.tv_nsec - now.tv_nsec) / 1e9;
	assert_true(ahead >= 1.99 && ahead < 2.5);
	d = iocb_time_deadline(CLOCK_MONOTONIC, -5);
	ahead = (double)(d.tv_sec - now.tv_sec) + (double)(d.tv_nsec - now.tv_nsec) / 1e9;
	assert_true(ahead >= 0 && ahead < 0.5);
	assert_true(iocb_time_mono_ns() > 0);
	assert_true(iocb_time_real_us() > 1600000000LL * 1000000);
	double a = iocb_time_mono_s();
	assert_true(iocb_time_mono_s() >= a);
}

/* ------------------------------------------------------------ backoff */

/* Rule: delays stay in [cap * (1 - jitter), cap], cap = min(max, initial * 2^attempt), and >= 1 ms. */
static void test_backoff_bounds(void **state)
{
	(void)state;
	for (unsigned a = 0; a < 40; a++) {
		double cap = 0.5 * (a > 30 ? 1073741824.0 : (double)(1u << a));
		if (cap > 60)
			cap = 60;
		for (int i = 0; i < 200; i++) {
			double full = iocb_backoff_delay(0.5, 60, a, IOCB_BACKOFF_FULL_JITTER);
			double narrow = iocb_backoff_delay(0.5, 60, a, 0.2);
			double none = iocb_backoff_delay(0.5, 60, a, 0);
			assert_true(full >= IOCB_BACKOFF_MIN_S && full <= cap);
			assert_true(narrow >= cap * 0.8 && narrow <= cap);
			assert_true(none == cap);
		}
	}
	/* Never below 1 ms, even when the schedule is shorter; jitter outside [0, 1] is clamped. */
	assert_true(iocb_backoff_delay(0.0001, 0.0001, 0, 0) == IOCB_BACKOFF_MIN_S);
	assert_true(iocb_backoff_delay(1, 1, 0, -3) == 1);
	for (int i = 0; i < 100; i++)
		assert_true(iocb_backoff_delay(1, 1, 0, 7) >= IOCB_BACKOFF_MIN_S);
}

/* Rule: the jitter spreads over its whole range (a stuck or reseeded-per-call generator would not). */
static void test_backoff_jitter_spread(void **state)
{
	double lo = 1, hi = 0, sum = 0;
	int buckets[10] = {0};

	(void)state;
	for (int i = 0; i < 10000; i++) {
		double d = iocb_backoff_delay(1, 1, 0, IOCB_BACKOFF_FULL_JITTER);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		sum += d;
		buckets[d >= 1 ? 9 : (int)(d * 10)]++;
	}
	assert_true(lo < 0.01 && hi > 0.99);
	assert_true(sum / 10000 > 0.45 && sum / 10000 < 0.55);
	for (int b = 0; b < 10; b++)
		assert_true(buckets[b] > 800 && buckets[b] < 1200);
	for (int i = 0; i < 1000; i++) {
		double u = iocb_backoff_rand01();
		assert_true(u >= 0 && u < 1);
	}
}

/* ------------------------------------------------------------ prom */

/* Rule: headers, labels (values escaped: \\, \", \n), values; a lazy family appears with its first sample. */
static void test_prom_text(void **state)
{
	struct iocb_buf b;
	struct iocb_prom p;
	struct iocb_prom_fam lazy = {"t_lazy", "gauge", "Lazy.", false};
	const char *const l[] = {"source", "a\"b\\c\nd", "k", "v", NULL};

	(void)state;
	iocb_buf_init(&b, 0);
	iocb_prom_begin(&p, &b);
	iocb_prom_head(&p, "t_total", "counter", "Things.");
	iocb_prom_u64(&p, "t_total", l, UINT64_MAX);
	iocb_prom_i64(&p, "t_total", NULL, -3);
	iocb_prom_f(&p, "t_total", (const char *const[]){NULL}, 3, 1.5);
	iocb_prom_fam_f(&p, &lazy, NULL, 6, 0.25);
	iocb_prom_fam_u64(&p, &lazy, NULL, 2);
	assert_int_equal(iocb_prom_end(&p, "test"), IOCB_OK);
	assert_string_equal(b.ptr, "# HELP t_total Things.\n# TYPE t_total counter\n"
				   "t_total{source=\"a\\\"b\\\\c\\nd\",k=\"v\"} 18446744073709551615\n"
				   "t_total -3\nt_total 1.500\n"
				   "# HELP t_lazy Lazy.\n# TYPE t_lazy gauge\nt_lazy 0.250000\nt_lazy 2\n");
	iocb_buf_fini(&b);
}

/* Rule: the first failed append fails the render: all of it is rolled back, what came before stays. */
static void test_prom_error_policy(void **state)
{
	struct iocb_buf b;
	struct iocb_prom p;

	(void)state;
	iocb_buf_init(&b, 60);
	assert_int_equal(iocb_buf_append_c(&b, "keep\n"), IOCB_OK);
	iocb_prom_begin(&p, &b);
	iocb_prom_head(&p, "t_a", "gauge", "A.");
	iocb_prom_u64(&p, "t_a", NULL, 1);
	assert_int_equal(p.rc, IOCB_OK);
	/* Does not fit; a later short sample that would fit is not written either (sticky). */
	iocb_prom_head(&p, "t_with_a_long_name", "gauge", "A help text longer than what is left.");
	iocb_prom_u64(&p, "t_b", NULL, 1);
	assert_int_equal(p.rc, IOCB_ELIMIT);
	assert_int_equal(iocb_prom_end(&p, "test"), IOCB_ELIMIT);
	assert_int_equal(b.len, 5);
	assert_string_equal(b.ptr, "keep\n");
	/* A render that fits after a failed one works again on the same buffer. */
	iocb_prom_begin(&p, &b);
	iocb_prom_u64(&p, "t_c", NULL, 7);
	assert_int_equal(iocb_prom_end(&p, "test"), IOCB_OK);
	assert_string_equal(b.ptr, "keep\nt_c 7\n");
	iocb_buf_fini(&b);
}

/* MD5 (RFC 1321 appendix A.5 vectors), whole and fed in uneven pieces across block edges. */
static void test_md5_vectors(void **state)
{
	static const char *const v[][2] = {
		{"", "d41d8cd98f00b204e9800998ecf8427e"},
		{"abc", "900150983cd24fb0d6963f7d28e17f72"},
		{"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
		{"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
		 "57edf4a22be3c955ac49da2e2107b67a"},
	};
	(void)state;
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		for (size_t step = 1; step <= 64; step += 21) {
			struct iocb_md5 m;
			uint8_t d[16];
			char hex[33];
			size_t n = strlen(v[i][0]);
			iocb_md5_init(&m);
			for (size_t o = 0; o < n; o += step)
				iocb_md5_update(&m, v[i][0] + o, n - o < step ? n - o : step);
			iocb_md5_final(&m, d);
			for (int j = 0; j < 16; j++)
				snprintf(hex + 2 * j, 3, "%02x", d[j]);
			assert_string_equal(hex, v[i][1]);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_str_views),
		cmocka_unit_test(test_str_numbers),
		cmocka_unit_test(test_str_distance),
		cmocka_unit_test(test_str_secret_name),
		cmocka_unit_test(test_str_redact_url),
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_printf_grows_and_trim),
		cmocka_unit_test(test_arena),
		cmocka_unit_test(test_rc),
		cmocka_unit_test(test_rc_prefix_bounded),
		cmocka_unit_test(test_file_map),
		cmocka_unit_test(test_file_map_fifo),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_time_iso8601_matches_gmtime),
		cmocka_unit_test(test_time_iso8601_edges),
		cmocka_unit_test(test_time_deadline),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_backoff_jitter_spread),
		cmocka_unit_test(test_prom_text),
		cmocka_unit_test(test_prom_error_policy),
		cmocka_unit_test(test_md5_vectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
