/* SPDX-License-Identifier: Apache-2.0 */
/* In-process Suricata socket stand-in (surisock_fake.h). */
#include "surisock_fake.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/time.h"

static void answer(int fd, const char *message, bool ok)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "{\"message\":\"%s\",\"return\":\"%s\"}\n", message, ok ? "OK" : "NOK");

	if (n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL) < 0) {
		/* the client went away: its next read fails */
	}
}

/* Answer one command line and record it. */
static void command(struct surisock_fake *f, int fd, const char *line, unsigned *busy_left)
{
	pthread_mutex_lock(&f->mu);
	if (f->n < FAKE_MAX_LINES) {
		f->t_ns[f->n] = iocb_time_mono_ns();
		f->lines[f->n++] = strdup(line);
	}
	pthread_mutex_unlock(&f->mu);
	if (strstr(line, "\"dataset-add\""))
		answer(fd, "data added", true);
	else if (strstr(line, "\"dataset-remove\"") && *busy_left) {
		(*busy_left)--;
		answer(fd, "data is busy, try again", true);
	} else if (strstr(line, "\"dataset-remove\"")) {
		*busy_left = f->busy;
		answer(fd, "data removed", true);
	} else if (strstr(line, "\"dataset-clear\""))
		answer(fd, "dataset cleared", true);
	else if (strstr(line, "\"ruleset-reload-nonblocking\""))
		answer(fd, "done", true);
	else if (strstr(line, "\"version\""))
		answer(fd, "7.0.2 RELEASE", true);
	else
		answer(fd, "Unknown command", false);
}

static void serve(struct surisock_fake *f, int fd)
{
	char buf[8192];
	size_t n = 0;
	bool hello = false;
	unsigned busy_left = f->busy;

	while (!atomic_load(&f->stop)) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char *nl;
		ssize_t got;

		if (atomic_load(&f->hold) || poll(&p, 1, 20) <= 0) {
			struct timespec ms = {0, 1000000};
			if (atomic_load(&f->hold))
				nanosleep(&ms, NULL);
			continue;
		}
		got = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
		if (got <= 0)
			return;
		n += (size_t)got;
		buf[n] = '\0';
		if (!hello) {
			/* {"version": "0.2"}: no newline after it */
			if (!strchr(buf, '}'))
				continue;
			hello = true;
			n = 0;
			pthread_mutex_lock(&f->mu);
			f->connections++;
			pthread_mutex_unlock(&f->mu);
			if (send(fd, "{\"return\":\"OK\"}\n", 16, MSG_NOSIGNAL) < 0)
				return;
			continue;
		}
		while ((nl = memchr(buf, '\n', n))) {
			size_t len = (size_t)(nl - buf);
			*nl = '\0';
			command(f, fd, buf, &busy_left);
			memmove(buf, nl + 1, n - len - 1);
			n -= len + 1;
			buf[n] = '\0';
		}
	}
}

static void *fake_main(void *arg)
{
	struct surisock_fake *f = arg;

	while (!atomic_load(&f->stop)) {
		struct pollfd p = {.fd = f->lfd, .events = POLLIN};
		int fd;

		if (poll(&p, 1, 20) <= 0)
			continue;
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		serve(f, fd);
		close(fd);
	}
	return NULL;
}

bool surisock_fake_start(struct surisock_fake *f, unsigned busy)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static atomic_uint seq;

	memset(f, 0, sizeof(*f));
	f->busy = busy;
	snprintf(f->path, sizeof(f->path), "/tmp/iocb-surisock-%ld-%u.sock", (long)getpid(), atomic_fetch_add(&seq, 1));
	memcpy(sa.sun_path, f->path, sizeof(f->path));
	unlink(f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(f->lfd, 4) < 0)
		return false;
	pthread_mutex_init(&f->mu, NULL);
	return pthread_create(&f->thread, NULL, fake_main, f) == 0;
}

void surisock_fake_stop(struct surisock_fake *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	close(f->lfd);
	unlink(f->path);
	for (size_t i = 0; i < f->n; i++)
		free(f->lines[i]);
	pthread_mutex_destroy(&f->mu);
}

size_t surisock_fake_count(struct surisock_fake *f, const char *needle)
{
	size_t c = 0;

	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->n; i++)
		c += strstr(f->lines[i], needle) != NULL;
	pthread_mutex_unlock(&f->mu);
	return c;
}

bool surisock_fake_wait(struct surisock_fake *f, const char *needle, size_t n, double timeout_s)
{
	double t0 = iocb_time_mono_s();
	struct timespec ms = {0, 2000000};

	while (iocb_time_mono_s() - t0 < timeout_s) {
		if (surisock_fake_count(f, needle) >= n)
			return true;
		nanosleep(&ms, NULL);
	}
	return false;
}
