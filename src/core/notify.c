/* SPDX-License-Identifier: Apache-2.0 */
/* sd_notify(3) protocol, written out (see notify.h for why not libsystemd). */
#include "core/notify.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "core/str.h"

int iocb_notify_init(struct iocb_notify *n, const char *notify_socket, const char *watchdog_usec,
		     const char *watchdog_pid, long pid, struct iocb_err *err)
{
	size_t len;
	uint64_t v;

	memset(n, 0, sizeof(*n));
	n->fd = -1;
	if (!notify_socket || !notify_socket[0])
		return IOCB_OK;
	len = strlen(notify_socket);
	if ((notify_socket[0] != '/' && notify_socket[0] != '@') || len < 2 || len > sizeof(n->addr.sun_path) - 1)
		return iocb_err_set(err, IOCB_ECONFIG, "NOTIFY_SOCKET is not an absolute path or @name (length %zu)",
				    len);
	n->addr.sun_family = AF_UNIX;
	memcpy(n->addr.sun_path, notify_socket, len);
	/* Abstract namespace: a leading NUL, and the length says where the name ends (no terminator). */
	if (notify_socket[0] == '@')
		n->addr.sun_path[0] = '\0';
	n->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (notify_socket[0] == '/'));
	if (watchdog_usec && iocb_str_to_u64(iocb_str_c(watchdog_usec), &v) && v > 0) {
		uint64_t wpid = 0;
		/* WATCHDOG_PID names the process the watchdog is for; a child that inherited it must not ping. */
		if (!watchdog_pid || (iocb_str_to_u64(iocb_str_c(watchdog_pid), &wpid) && wpid == (uint64_t)pid))
			n->watchdog_us = v;
	}
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (n->fd < 0)
		return iocb_err_set(err, IOCB_EIO, "notify socket: %s", strerror(errno));
	return IOCB_OK;
}

bool iocb_notify_active(const struct iocb_notify *n)
{
	return n->fd >= 0;
}

int iocb_notify_send(struct iocb_notify *n, const char *msg)
{
	ssize_t w;

	if (n->fd < 0)
		return IOCB_OK;
	do {
		w = sendto(n->fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&n->addr, n->addrlen);
	} while (w < 0 && errno == EINTR);
	return w < 0 ? IOCB_EIO : IOCB_OK;
}

bool iocb_notify_watchdog(struct iocb_notify *n, double now)
{
	if (n->fd < 0 || !n->watchdog_us || now < n->next_ping)
		return false;
	n->next_ping = now + (double)n->watchdog_us / 2e6;
	/* A failed ping is the manager's problem to notice: it restarts us if it misses them. */
	return iocb_notify_send(n, "WATCHDOG=1") == IOCB_OK;
}

double iocb_notify_watchdog_due(const struct iocb_notify *n, double now)
{
	if (n->fd < 0 || !n->watchdog_us)
		return 3600.0;
	return n->next_ping > now ? n->next_ping - now : 0.0;
}

void iocb_notify_fini(struct iocb_notify *n)
{
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}
