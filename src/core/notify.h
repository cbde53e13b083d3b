/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The service manager's notification protocol (sd_notify(3), "Type=notify").
 *
 * systemd passes a datagram socket in $NOTIFY_SOCKET (a path, or "@name" in
 * the abstract namespace) and, with WatchdogSec=, the interval in
 * $WATCHDOG_USEC (for the process $WATCHDOG_PID when set). The daemon sends
 * newline-separated assignments in one datagram: READY=1 once it serves,
 * STATUS=<text> for `systemctl status`, WATCHDOG=1 at least every interval,
 * RELOADING=1 / STOPPING=1 around a reload and at shutdown. The protocol is
 * a sendto() of a short text, so it is written here rather than linking
 * libsystemd: no new run-time dependency, the same code on hosts without
 * systemd (where NOTIFY_SOCKET is unset and every call does nothing), and
 * the tests can stand in for the manager with a plain datagram socket.
 *
 * The caller embeds struct iocb_notify (no globals); one thread uses it.
 * Credentials are never sent (systemd reads the sender pid from the socket).
 */
#ifndef IOCB_CORE_NOTIFY_H
#define IOCB_CORE_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "core/rc.h"

struct iocb_notify {
	int fd;                   /* datagram socket; -1 when there is no manager to notify */
	struct sockaddr_un addr;  /* the manager's socket ($NOTIFY_SOCKET) */
	socklen_t addrlen;        /* length of addr actually used (abstract names are not NUL-terminated) */
	uint64_t watchdog_us;     /* $WATCHDOG_USEC meant for this process; 0 = no watchdog */
	double next_ping;         /* monotonic seconds of the next WATCHDOG=1 due */
};

/*
 * Set n up from the environment values given (pass getenv() results; NULL
 * = unset) and this process's pid. A NOTIFY_SOCKET that is neither an
 * absolute path nor "@name", or too long, is IOCB_ECONFIG; a watchdog value
 * that is not a positive number, or meant for another pid, means no
 * watchdog. No socket is opened without NOTIFY_SOCKET (every other call is
 * then a no-op). Returns IOCB_OK, IOCB_ECONFIG or IOCB_EIO (socket()).
 * On failure n is still safe to pass to the other calls and to fini.
 */
int iocb_notify_init(struct iocb_notify *n, const char *notify_socket, const char *watchdog_usec,
		     const char *watchdog_pid, long pid, struct iocb_err *err) IOCB_MUST_USE;

/* True when a manager listens (NOTIFY_SOCKET was set and the socket opened). */
bool iocb_notify_active(const struct iocb_notify *n);

/*
 * Send `msg` ("READY=1\nSTATUS=running") as one datagram. IOCB_OK also when
 * inactive; IOCB_EIO when sendto() failed (the manager went away: callers
 * log it and go on, a daemon does not stop because its manager vanished).
 */
int iocb_notify_send(struct iocb_notify *n, const char *msg) IOCB_MUST_USE;

/*
 * Send WATCHDOG=1 when one is due at monotonic time `now` (every half
 * interval, as sd_watchdog_enabled(3) advises). Returns true when a ping
 * was sent. Call from the loop that proves the process is alive.
 */
bool iocb_notify_watchdog(struct iocb_notify *n, double now);

/* Seconds until the next ping is due at `now` (0 if overdue); a large value without a watchdog. */
double iocb_notify_watchdog_due(const struct iocb_notify *n, double now);

/* Close the socket. Safe on a zeroed or failed struct after init. */
void iocb_notify_fini(struct iocb_notify *n);

#endif
