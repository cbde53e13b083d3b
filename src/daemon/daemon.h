/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `iocbus run` daemon: opens the store, loads `intel:`, starts the HTTP
 * endpoint and one generation of sources (struct iocb_sources_sync plus the ZeroMQ
 * or Kafka, REST pull and feed sources the configuration asks for), then
 * waits for signals on the main thread:
 *
 *   SIGHUP           reload: parse the file again; if it is invalid, log
 *                    the error (file:line:col), count it and keep running on
 *                    the old one. Otherwise stop the sources, swap the
 *                    configuration and filter, and when the filter changed
 *                    remove what the new one rejects and restart the pull
 *                    with a full reconcile; then start the sources again.
 *                    Store and HTTP settings need a restart (logged).
 *   SIGTERM/SIGINT   stop the sources (each commits what it applied), commit,
 *                    stop HTTP, close the store, exit 0.
 *
 * Signals are blocked in every thread and taken with sigtimedwait() on the
 * main thread, so no work happens in a signal handler. All state lives in
 * one struct built by iocb_daemon_run(); nothing is global.
 */
#ifndef IOCB_DAEMON_DAEMON_H
#define IOCB_DAEMON_DAEMON_H

#include <stdint.h>

#include "core/rc.h"

struct iocb_daemon_opts {
	const char *config_path; /* required */
	int http_port;           /* >= 0 overrides http.port; -1 keeps the file's */
};

/*
 * Run until SIGTERM/SIGINT (or, with log pipeline inputs, until every input
 * ended and was delivered). Returns IOCB_OK after a clean stop, or a
 * negative enum iocb_rc when start-up failed (the message went to stderr)
 * or the final store commit failed (logged); the CLI maps it to an exit
 * code. Main thread only, once per process (it sets the signal mask).
 */
int iocb_daemon_run(const struct iocb_daemon_opts *o);

#endif
