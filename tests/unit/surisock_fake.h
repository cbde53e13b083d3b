/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An in-process stand-in for Suricata's unix-command socket (exports.md
 * §3.3), for the unit tests and the latency bench of export/surisock.h:
 * one thread accepts connections one at a time, answers the version
 * handshake, then answers each command line like Suricata (dataset-add
 * "data added", dataset-remove "data removed" after `busy` busy answers,
 * dataset-clear "dataset cleared", ruleset-reload-nonblocking "done",
 * version "7.0.2 RELEASE") and records
 * every command line with its arrival time. `hold` makes it stop reading
 * (a stalled Suricata) until cleared. The Python double in tests/servers
 * checks values and sets; this one only records, for speed and in-process
 * timing.
 */
#ifndef IOCB_TESTS_SURISOCK_FAKE_H
#define IOCB_TESTS_SURISOCK_FAKE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAKE_MAX_LINES 65536

struct surisock_fake {
	char path[108];           /* the socket path */
	int lfd;                  /* listening socket */
	pthread_t thread;
	atomic_bool stop;
	atomic_bool hold;         /* stop reading commands while set */
	unsigned busy;            /* busy answers before each removal succeeds */
	pthread_mutex_t mu;       /* guards the fields below */
	char *lines[FAKE_MAX_LINES]; /* command lines received (without '\n'), owned */
	int64_t t_ns[FAKE_MAX_LINES]; /* monotonic arrival time of each */
	size_t n;
	unsigned connections;     /* handshakes answered */
};

/* Listen on a fresh socket under /tmp and start the thread; false on failure. */
bool surisock_fake_start(struct surisock_fake *f, unsigned busy);
void surisock_fake_stop(struct surisock_fake *f);
/* Count the lines received that contain needle. */
size_t surisock_fake_count(struct surisock_fake *f, const char *needle);
/* Wait up to timeout_s for at least n lines containing needle; true when they came. */
bool surisock_fake_wait(struct surisock_fake *f, const char *needle, size_t n, double timeout_s);

#endif
