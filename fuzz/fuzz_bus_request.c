/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the zmq-app management request parser (iocb_bus_parse_request() in
 * src/serve/bus/bus.h), which reads whatever any peer reaching the
 * management port sends. Invariants (abort() on violation):
 *  - the verdict is OK, ERROR or UNKNOWN;
 *  - on OK the action is known, 1..IOCB_BUS_MAX_TOPICS topics, each
 *    NUL-terminated within IOCB_BUS_TOPIC_MAX bytes with no earlier NUL
 *    byte cut (strlen fits), and the generation follows the first topic;
 *  - the same input gives the same verdict (no hidden state).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/bus/bus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_bus_request rq, rq2;
	enum iocb_bus_verdict v = iocb_bus_parse_request((const char *)data, size, &rq);

	if (v != IOCB_BUS_REQ_OK && v != IOCB_BUS_REQ_ERROR && v != IOCB_BUS_REQ_UNKNOWN)
		abort();
	if (iocb_bus_parse_request((const char *)data, size, &rq2) != v)
		abort();
	if (v != IOCB_BUS_REQ_OK)
		return 0;
	if (rq.action != IOCB_BUS_SUBSCRIBE && rq.action != IOCB_BUS_UNSUBSCRIBE && rq.action != IOCB_BUS_HEARTBEAT)
		abort();
	if (rq.ntopics < 1 || rq.ntopics > IOCB_BUS_MAX_TOPICS)
		abort();
	if (rq.action != IOCB_BUS_SUBSCRIBE && rq.ntopics != 1)
		abort();
	for (unsigned i = 0; i < rq.ntopics; i++)
		if (!memchr(rq.topics[i], 0, IOCB_BUS_TOPIC_MAX + 1))
			abort();
	if (rq.action == IOCB_BUS_SUBSCRIBE &&
	    (rq.gen == IOCB_BUS_GEN_2020) != (strncmp(rq.topics[0], "threatbus", 9) == 0))
		abort();
	return 0;
}
