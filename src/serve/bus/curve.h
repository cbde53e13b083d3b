/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Optional ZeroMQ CURVE for the bus (issue #13 §1, "Authentication Threat
 * Bus does not have"): the server key pair and the allowed client public
 * keys, read from files, and `iocbus bus keygen`. docs/BUS.md "Running the
 * bus" describes the files:
 *
 *   key pair file (bus.curve.secret_key_file), as `iocbus bus keygen`
 *   writes it: ZeroMQ's certificate layout, so pyzmq's
 *   zmq.auth.load_certificate() reads it too:
 *       # comment lines
 *       metadata
 *       curve
 *           public-key = "<40 Z85 characters>"
 *           secret-key = "<40 Z85 characters>"
 *   (quotes optional; `metadata` and `curve` section lines and blank lines
 *   are skipped; anything else is an error naming file:line). The public
 *   key must belong to the secret key. The file must not be readable by
 *   group or others (refused, like ssh refuses a private key): the secret
 *   key is the bus's identity.
 *
 *   clients file (bus.curve.clients_file): one Z85 public key (40
 *   characters) per line; `#` at the start of a line, or after
 *   whitespace following the key, starts a comment (`#` is a Z85 character
 *   too, so a key may hold one); blank lines are skipped. At least one key; at most
 *   IOCB_BUS_CURVE_MAX_CLIENTS.
 */
#ifndef IOCB_SERVE_BUS_CURVE_H
#define IOCB_SERVE_BUS_CURVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rc.h"

#define IOCB_BUS_Z85_KEY_LEN 40           /* a 32-byte key in Z85 */
#define IOCB_BUS_CURVE_MAX_CLIENTS 65536
#define IOCB_BUS_CURVE_FILE_MAX (1u << 20) /* bytes per key file */

struct iocb_bus_curve {
	char server_public[IOCB_BUS_Z85_KEY_LEN + 1]; /* Z85, NUL-terminated */
	char server_secret[IOCB_BUS_Z85_KEY_LEN + 1]; /* Z85, NUL-terminated; never logged */
	uint8_t (*clients)[32];                        /* allowed client public keys, sorted */
	size_t nclients;
};

/*
 * Read the key pair file and the clients file. Errors name the file (and
 * line), never a secret. OUT: *out, freed with iocb_bus_curve_free().
 */
int iocb_bus_curve_load(const char *secret_key_file, const char *clients_file, struct iocb_bus_curve **out,
			struct iocb_err *err) IOCB_MUST_USE;
void iocb_bus_curve_free(struct iocb_bus_curve *c);
/*
 * The same from the two files' texts (NUL-terminated; changed in place);
 * the names are for messages. Pure (also the fuzz target's).
 */
int iocb_bus_curve_parse(char *keypair, const char *keypair_name, char *clients, const char *clients_name,
			 struct iocb_bus_curve **out, struct iocb_err *err) IOCB_MUST_USE;

/* Whether a 32-byte client public key is in the allowed list. */
bool iocb_bus_curve_allowed(const struct iocb_bus_curve *c, const uint8_t key[32]);

/*
 * `iocbus bus keygen`: a new key pair (zmq_curve_keypair) written to `path`
 * with mode 0600 in the layout above. An existing file is refused
 * (IOCB_EEXIST-like: IOCB_EINVAL with a message) unless `force`, which
 * replaces it atomically. public_out receives the Z85 public key.
 */
int iocb_bus_curve_keygen(const char *path, bool force, char public_out[IOCB_BUS_Z85_KEY_LEN + 1],
			  struct iocb_err *err) IOCB_MUST_USE;

#endif
