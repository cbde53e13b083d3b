/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the bus's CURVE key file parsers (iocb_bus_curve_parse() in
 * src/serve/bus/curve.h): the input is the key pair file's text, a NUL
 * byte, then the clients file's text. Invariants (abort() on violation):
 *  - on success: both server keys are 40 characters, the public key is the
 *    secret key's, 1..IOCB_BUS_CURVE_MAX_CLIENTS client keys, sorted, each
 *    one allowed; on failure *out is NULL and the error has a message;
 *  - the same input gives the same result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "serve/bus/curve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int parse(const uint8_t *data, size_t size, struct iocb_bus_curve **c, struct iocb_err *err)
{
	char *buf = malloc(size + 2);
	const char *nul = memchr(data, 0, size);
	size_t k = nul ? (size_t)(nul - (const char *)data) : size;
	int rc;

	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = '\0';
	rc = iocb_bus_curve_parse(buf, "key", buf + (nul ? k + 1 : size), "clients", c, err);
	free(buf);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_bus_curve *c = NULL, *c2 = NULL;
	struct iocb_err err = {0}, err2 = {0};
	char pub[41];
	int rc = parse(data, size, &c, &err), rc2 = parse(data, size, &c2, &err2);

	if (rc != rc2 || (rc == 0) != (c != NULL) || (c2 != NULL) != (c != NULL))
		abort();
	if (rc < 0) {
		if (!err.msg[0] || strcmp(err.msg, err2.msg) != 0)
			abort();
		return 0;
	}
	if (strlen(c->server_public) != 40 || strlen(c->server_secret) != 40 ||
	    zmq_curve_public(pub, c->server_secret) != 0 || strcmp(pub, c->server_public) != 0)
		abort();
	if (c->nclients < 1 || c->nclients > IOCB_BUS_CURVE_MAX_CLIENTS || c->nclients != c2->nclients)
		abort();
	for (size_t i = 0; i < c->nclients; i++)
		if ((i && memcmp(c->clients[i - 1], c->clients[i], 32) > 0) || !iocb_bus_curve_allowed(c, c->clients[i]))
			abort();
	iocb_bus_curve_free(c);
	iocb_bus_curve_free(c2);
	return 0;
}
