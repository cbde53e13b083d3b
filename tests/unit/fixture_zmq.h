/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Plain libzmq client sockets for the bus tests (test_bus, test_bus_feed):
 * what they check is the bytes on the wire, so the clients are bare sockets.
 * Failures end the test through cmocka.
 */
#ifndef IOCB_TESTS_FIXTURE_ZMQ_H
#define IOCB_TESTS_FIXTURE_ZMQ_H

#include <stddef.h>
#include <stdint.h>

/* A socket of `type` in ctx, linger 0, connected to tcp://127.0.0.1:port. */
void *fixture_zmq_sock(void *ctx, int type, uint16_t port);
/* Receive one frame within ms into buf (NUL-terminated, cut at cap - 1); its length, or -1. */
int fixture_zmq_recv_within(void *s, char *buf, size_t cap, int ms);

#endif
