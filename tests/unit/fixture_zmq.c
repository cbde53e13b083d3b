/* SPDX-License-Identifier: Apache-2.0 */
#include "fixture_zmq.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>
#include <zmq.h>

void *fixture_zmq_sock(void *ctx, int type, uint16_t port)
{
	char ep[64];
	int zero = 0;
	void *s = zmq_socket(ctx, type);
	assert_non_null(s);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%u", port);
	assert_int_equal(zmq_connect(s, ep), 0);
	return s;
}

int fixture_zmq_recv_within(void *s, char *buf, size_t cap, int ms)
{
	zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
	if (zmq_poll(&it, 1, ms) <= 0)
		return -1;
	int n = zmq_recv(s, buf, cap - 1, 0);
	if (n < 0)
		return -1;
	if ((size_t)n > cap - 1)
		n = (int)cap - 1;
	buf[n] = 0;
	return n;
}
