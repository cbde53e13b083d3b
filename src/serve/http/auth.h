/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Optional authentication of the HTTP endpoint (`http.auth`, docs/DAEMON.md):
 * a bearer token or HTTP basic auth, each from a file read at start.
 *
 *   token_file   one token per line (printable ASCII, no spaces, 16..512
 *                bytes); blank lines and lines starting with '#' are skipped.
 *                Clients send `Authorization: Bearer <token>`.
 *   users_file   htpasswd lines `user:hash`, hash in crypt(3) form as
 *                `htpasswd -B` ($2y$ bcrypt) or `mkpasswd` ($5$, $6$, $y$)
 *                write them; '#' lines and blank lines skipped. Plain-text
 *                and MD5 ($apr1$, {SHA}) entries are refused at load.
 *                Clients send `Authorization: Basic base64(user:password)`.
 *
 * Both files must not be readable or writable by group or others (like
 * bus.curve's key file). Tokens and hashes are compared in constant time
 * (over the stored length); an unknown user still costs one crypt() so the
 * answer time does not tell which users exist. Nothing secret is logged or
 * put into an error: messages name the file and the line number only.
 *
 * The header parser and the two file parsers are pure (no I/O) so that
 * fuzz/fuzz_http_auth.c and tests/unit/test_http_auth.c drive them.
 *
 * Threads: load/free on the main thread; iocb_http_auth_check() on the HTTP
 * thread (reads only; crypt_r with a per-call buffer).
 */
#ifndef IOCB_SERVE_HTTP_AUTH_H
#define IOCB_SERVE_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/rc.h"
#include "core/str.h"

#define IOCB_HTTP_AUTH_MAX_ENTRIES 1024   /* tokens or users per file */
#define IOCB_HTTP_AUTH_MAX_FILE (1u << 20) /* bytes per file */
#define IOCB_HTTP_AUTH_MIN_TOKEN 16
#define IOCB_HTTP_AUTH_MAX_TOKEN 512
#define IOCB_HTTP_AUTH_MAX_USER 128
#define IOCB_HTTP_AUTH_MAX_HASH 256
#define IOCB_HTTP_AUTH_MAX_PASSWORD 256

enum iocb_http_auth_result {
	IOCB_HTTP_AUTH_OK = 0,  /* credentials accepted */
	IOCB_HTTP_AUTH_MISSING, /* no Authorization header */
	IOCB_HTTP_AUTH_INVALID, /* malformed header or a scheme not configured */
	IOCB_HTTP_AUTH_DENIED,  /* well-formed, wrong token or password */
	IOCB_HTTP_AUTH__N
};

/* "ok", "missing", "invalid", "denied" (the `result` label of iocbus_http_auth_requests_total). */
const char *iocb_http_auth_result_name(enum iocb_http_auth_result r);

struct iocb_http_auth_opts {
	const char *token_file; /* bearer tokens, or NULL */
	const char *users_file; /* htpasswd users, or NULL */
	const char *realm;      /* WWW-Authenticate realm; NULL = "iocbus" */
};

struct iocb_http_auth;

/* An empty object (no schemes); add entries with the parsers below. Never fails. */
struct iocb_http_auth *iocb_http_auth_new(const char *realm);
/*
 * Read the files of o (each must exist, be a regular file, mode without
 * group/other bits, hold at least one entry). On success *out is owned by
 * the caller. IOCB_ECONFIG with a message naming the file and line.
 */
int iocb_http_auth_load(const struct iocb_http_auth_opts *o, struct iocb_http_auth **out,
			struct iocb_err *err) IOCB_MUST_USE;
void iocb_http_auth_free(struct iocb_http_auth *a);

/* Parse a token file's text into a (`name` for messages). IOCB_ECONFIG / IOCB_ELIMIT. */
int iocb_http_auth_parse_tokens(struct iocb_http_auth *a, const char *text, size_t len, const char *name,
				struct iocb_err *err) IOCB_MUST_USE;
/* Parse an htpasswd file's text into a. IOCB_ECONFIG / IOCB_ELIMIT. */
int iocb_http_auth_parse_users(struct iocb_http_auth *a, const char *text, size_t len, const char *name,
			       struct iocb_err *err) IOCB_MUST_USE;

/* Which schemes a accepts. */
bool iocb_http_auth_has_bearer(const struct iocb_http_auth *a);
bool iocb_http_auth_has_basic(const struct iocb_http_auth *a);
/* Entries loaded (tokens + users). */
size_t iocb_http_auth_entries(const struct iocb_http_auth *a);
/* The realm, already safe inside a quoted-string (only [A-Za-z0-9 ._-] kept). */
const char *iocb_http_auth_realm(const struct iocb_http_auth *a);

/*
 * Decide on one request's Authorization header value (NULL: absent).
 * Schemes are case-insensitive; Basic credentials are base64 of
 * "user:password" (the user has no ':'). Constant time in the secret.
 */
enum iocb_http_auth_result iocb_http_auth_check(const struct iocb_http_auth *a, const char *header);

/* Parsed Authorization header (views into the header). */
enum iocb_http_auth_scheme { IOCB_HTTP_AUTH_SCHEME_NONE = 0, IOCB_HTTP_AUTH_SCHEME_BEARER, IOCB_HTTP_AUTH_SCHEME_BASIC };
struct iocb_http_auth_cred {
	enum iocb_http_auth_scheme scheme;
	struct iocb_str token; /* Bearer: the token */
	char user[IOCB_HTTP_AUTH_MAX_USER + 1];         /* Basic: NUL-terminated */
	char password[IOCB_HTTP_AUTH_MAX_PASSWORD + 1]; /* Basic: NUL-terminated */
};
/*
 * Split a header value into scheme and credentials. Returns true when it is
 * a well-formed Bearer or Basic credential within the caps. Pure.
 */
bool iocb_http_auth_parse_header(const char *h, size_t len, struct iocb_http_auth_cred *out);

/* Constant-time equality over the length of `want` (a length mismatch is still unequal). */
bool iocb_http_auth_ct_equal(const char *got, size_t got_len, const char *want, size_t want_len);

#endif
