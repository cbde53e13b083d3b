/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the service-manager side of `core` (issue #16 §2): the
 * sd_notify(3) datagram protocol against a real unix datagram socket (path
 * and abstract namespace, WATCHDOG_PID, ping interval), and the log line
 * formats: journald priority prefixes without a time, and JSON lines whose
 * members are escaped and which stay JSON when cut. None sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/log.h"
#include "core/notify.h"

/* ------------------------------------------------------------ notify */

/* A stand-in for systemd: a bound datagram socket at `name` ("/path" or "@abstract"). */
static int manager(const char *name)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(a.sun_path, name, len);
	if (name[0] == '@')
		a.sun_path[0] = '\0';
	assert_int_equal(bind(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
	return fd;
}

/* One datagram, or "" when none is waiting. */
static const char *recv_msg(int fd, char *buf, size_t cap)
{
	ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_notify_path_and_abstract(void **state)
{
	struct iocb_notify n;
	struct iocb_err err = {0};
	char path[64], abstract[64], buf[256];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/iocb-notify-%ld", (long)getpid());
	unlink(path);
	fd = manager(path);
	assert_int_equal(iocb_notify_init(&n, path, NULL, NULL, getpid(), &err), IOCB_OK);
	assert_true(iocb_notify_active(&n));
	assert_int_equal(iocb_notify_send(&n, "READY=1\nSTATUS=running"), IOCB_OK);
	assert_string_equal(recv_msg(fd, buf, sizeof(buf)), "READY=1\nSTATUS=running");
	/* No WATCHDOG_USEC: no pings, whatever the time. */
	assert_false(iocb_notify_watchdog(&n, 1e9));
	iocb_notify_fini(&n);
	close(fd);
	unlink(path);

	/* "@name": the abstract namespace, the name's length and no terminator. */
	snprintf(abstract, sizeof(abstract), "@iocb-notify-%ld", (long)getpid());
	fd = manager(abstract);
	assert_int_equal(iocb_notify_init(&n, abstract, NULL, NULL, getpid(), &err), IOCB_OK);
	assert_int_equal(iocb_notify_send(&n, "STOPPING=1"), IOCB_OK);
	assert_string_equal(recv_msg(fd, buf, sizeof(buf)), "STOPPING=1");
	iocb_notify_fini(&n);
	close(fd);
}

static void test_notify_unset_and_bad(void **state)
{
	struct iocb_notify n;
	struct iocb_err err = {0};

	(void)state;
	/* Not under systemd: everything is a no-op that succeeds. */
	assert_int_equal(iocb_notify_init(&n, NULL, "1000000", NULL, getpid(), &err), IOCB_OK);
	assert_false(iocb_notify_active(&n));
	assert_int_equal(iocb_notify_send(&n, "READY=1"), IOCB_OK);
	assert_false(iocb_notify_watchdog(&n, 1e9));
	iocb_notify_fini(&n);
	/* A relative path is not the protocol's. */
	assert_int_equal(iocb_notify_init(&n, "run/notify", NULL, NULL, getpid(), &err), IOCB_ECONFIG);
	assert_false(iocb_notify_active(&n));
	iocb_notify_fini(&n);
}

static void test_notify_watchdog(void **state)
{
	struct iocb_notify n;
	struct iocb_err err = {0};
	char name[64], buf[64];
	int fd;

	(void)state;
	snprintf(name, sizeof(name), "@iocb-wd-%ld", (long)getpid());
	fd = manager(name);
	/* WATCHDOG_PID of another process: that process's watchdog, not ours. */
	assert_int_equal(iocb_notify_init(&n, name, "2000000", "1", getpid(), &err), IOCB_OK);
	assert_false(iocb_notify_watchdog(&n, 100.0));
	iocb_notify_fini(&n);
	/* 2 s interval: a ping at once, then every second (half the interval). */
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	assert_int_equal(iocb_notify_init(&n, name, "2000000", pid, getpid(), &err), IOCB_OK);
	assert_true(iocb_notify_watchdog(&n, 100.0));
	assert_string_equal(recv_msg(fd, buf, sizeof(buf)), "WATCHDOG=1");
	assert_false(iocb_notify_watchdog(&n, 100.5));
	assert_true(iocb_notify_watchdog_due(&n, 100.5) > 0.49 && iocb_notify_watchdog_due(&n, 100.5) < 0.51);
	assert_true(iocb_notify_watchdog(&n, 101.0));
	assert_string_equal(recv_msg(fd, buf, sizeof(buf)), "WATCHDOG=1");
	assert_string_equal(recv_msg(fd, buf, sizeof(buf)), "");
	/* Garbage in WATCHDOG_USEC: no watchdog. */
	iocb_notify_fini(&n);
	assert_int_equal(iocb_notify_init(&n, name, "12x", NULL, getpid(), &err), IOCB_OK);
	assert_false(iocb_notify_watchdog(&n, 100.0));
	iocb_notify_fini(&n);
	close(fd);
}

/* ------------------------------------------------------------ log lines */

static const char TS[] = "2026-12-05T06:00:00.000Z";

static void test_log_text_and_journal(void **state)
{
	char line[512];

	(void)state;
	iocb_log_format_line(line, sizeof(line), IOCB_LOG_FORMAT_TEXT, false, IOCB_LOG_WARN, "misp", TS,
			     "\"down\" n=3");
	assert_string_equal(line, "ts=2026-12-05T06:00:00.000Z level=warn module=misp msg=\"down\" n=3\n");
	/* The journal keeps its own time; the priority goes first as sd-daemon(3) documents. */
	iocb_log_format_line(line, sizeof(line), IOCB_LOG_FORMAT_TEXT, true, IOCB_LOG_WARN, "misp", TS,
			     "\"down\" n=3");
	assert_string_equal(line, "<4>level=warn module=misp msg=\"down\" n=3\n");
	iocb_log_format_line(line, sizeof(line), IOCB_LOG_FORMAT_TEXT, true, IOCB_LOG_ERROR, NULL, TS, "\"x\"");
	assert_string_equal(line, "<3>level=error module=- msg=\"x\"\n");
	iocb_log_format_line(line, sizeof(line), IOCB_LOG_FORMAT_TEXT, true, IOCB_LOG_INFO, "d", TS, "\"x\"");
	assert_memory_equal(line, "<6>", 3);
	iocb_log_format_line(line, sizeof(line), IOCB_LOG_FORMAT_TEXT, true, IOCB_LOG_DEBUG, "d", TS, "\"x\"");
	assert_memory_equal(line, "<7>", 3);
}

static void test_log_json(void **state)
{
	char line[1024];
	size_t n;

	(void)state;
	n = iocb_log_format_line(line, sizeof(line), IOCB_LOG_FORMAT_JSON, true, IOCB_LOG_INFO, "daemon", TS,
				 "\"running\" config=\"/etc/iocbus/iocbus.yaml\" n=3");
	assert_string_equal(line, "{\"time\":\"2026-12-05T06:00:00.000Z\",\"level\":\"info\",\"module\":\"daemon\","
				  "\"message\":\"running\",\"config\":\"/etc/iocbus/iocbus.yaml\",\"n\":\"3\"}\n");
	assert_int_equal(n, strlen(line));
	/* Quotes inside a value (error texts are not escaped in text lines), backslashes, control bytes,
	 * invalid UTF-8; a key that would shadow a fixed member gets a suffix. */
	iocb_log_format_line(line, sizeof(line), IOCB_LOG_FORMAT_JSON, false, IOCB_LOG_ERROR, "cfg", TS,
			     "\"bad\" error=\"x.yaml:1:2: unexpected '\"' a\\b\ttab\x01\xff\" level=9 ok=\xc3\xa9");
	assert_string_equal(line, "{\"time\":\"2026-12-05T06:00:00.000Z\",\"level\":\"error\",\"module\":\"cfg\","
				  "\"message\":\"bad\",\"error\":\"x.yaml:1:2: unexpected '\\\"' a\\\\b\\u0009tab"
				  "\\u0001\xef\xbf\xbd\",\"level_\":\"9\",\"ok\":\"\xc3\xa9\"}\n");
	/* Something that is not key=value is kept whole rather than guessed at. */
	iocb_log_format_line(line, sizeof(line), IOCB_LOG_FORMAT_JSON, false, IOCB_LOG_WARN, "m", TS,
			     "\"m\" 42 things");
	assert_non_null(strstr(line, "\"message\":\"m\",\"text\":\"42 things\"}\n"));
}

static void test_log_json_cut(void **state)
{
	char big[3000], line[200];
	size_t n;

	(void)state;
	memset(big, 'a', sizeof(big));
	memcpy(big, "\"m\" k=\"", 7);
	big[sizeof(big) - 2] = '"';
	big[sizeof(big) - 1] = '\0';
	/* Every size: a value that fills the line exactly must leave no room for the next member. */
	for (size_t cap = 64; cap <= sizeof(line); cap++) {
		n = iocb_log_format_line(line, cap, IOCB_LOG_FORMAT_JSON, false, IOCB_LOG_WARN, "m", TS,
					 cap % 2 ? big : "\"m\" a=\"0123456789abcdef\" b=\"0123456789\" c=zzzzzzzzzzzzzzzzzzzz");
		assert_true(n < cap);
		assert_int_equal(n, strlen(line));
		/* Still one closed object on one line. */
		assert_int_equal(line[0], '{');
		assert_int_equal(line[n - 2], '}');
		assert_int_equal(line[n - 1], '\n');
		assert_int_equal(line[n - 3], '"');
	}
	/* Text lines are cut and keep their newline. */
	n = iocb_log_format_line(line, sizeof(line), IOCB_LOG_FORMAT_TEXT, false, IOCB_LOG_WARN, "m", TS, big);
	assert_int_equal(n, sizeof(line) - 1);
	assert_int_equal(line[n - 1], '\n');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_path_and_abstract),
		cmocka_unit_test(test_notify_unset_and_bad),
		cmocka_unit_test(test_notify_watchdog),
		cmocka_unit_test(test_log_text_and_journal),
		cmocka_unit_test(test_log_json),
		cmocka_unit_test(test_log_json_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
