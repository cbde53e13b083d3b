/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CURVE for the bus (curve.h): the key files, keygen, and the ZAP handler.
 *
 * libzmq asks a ZAP handler (RFC 27) on inproc://zeromq.zap.01 of the
 * socket's context about every CURVE handshake; with no handler bound it
 * lets every client in. So the bus binds the handler before it binds any
 * socket (iocb_bus__zap_start() before bind, a failure fails the start),
 * and the handler answers 200 for a listed client key and 400 for anything
 * else, counting both. It runs on its own thread (a REP socket polled every
 * 100 ms for the stop flag), so the bus thread's loop stays as it is.
 */
#include "serve/bus/curve.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "core/counter.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/time.h"
#include "serve/bus/internal.h"

#define MOD "bus"
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_POLL_MS 100
#define ZAP_LOG_EVERY_NS (10LL * 1000000000) /* refusals are logged at most this often */

/* ---- files ---------------------------------------------------------------- */

/* Read a whole small file into a NUL-terminated heap buffer. */
static int slurp(const char *path, const char *what, bool secret, char **out, struct iocb_err *err)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = IOCB_OK;

	if (fd < 0)
		return iocb_err_set(err, IOCB_EIO, "bus.curve.%s: cannot open '%s': %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = iocb_err_set(err, IOCB_EINVAL, "bus.curve.%s: '%s' is not a regular file", what, path);
		goto out;
	}
	if (secret && (st.st_mode & 077)) {
		rc = iocb_err_set(err, IOCB_EINVAL,
				  "bus.curve.%s: '%s' is readable or writable by group or others (mode %03o): "
				  "it holds the bus's secret key; chmod 600 it",
				  what, path, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	if ((uint64_t)st.st_size > IOCB_BUS_CURVE_FILE_MAX) {
		rc = iocb_err_set(err, IOCB_ELIMIT, "bus.curve.%s: '%s' is larger than %u bytes", what, path,
				  IOCB_BUS_CURVE_FILE_MAX);
		goto out;
	}
	buf = iocb_xmalloc((size_t)st.st_size + 1);
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (memchr(buf, '\0', n)) {
		rc = iocb_err_set(err, IOCB_EINVAL, "bus.curve.%s: '%s' is not a text file", what, path);
		goto out;
	}
	*out = buf;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* A Z85 key of exactly 40 characters that decodes: into bin (may be NULL). */
static bool z85_key(const char *s, size_t len, uint8_t bin[32])
{
	char tmp[IOCB_BUS_Z85_KEY_LEN + 1];
	uint8_t scratch[32];

	if (len != IOCB_BUS_Z85_KEY_LEN)
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return zmq_z85_decode(bin ? bin : scratch, tmp) != NULL;
}

/* `public-key = "..."` / `secret-key = ...`: the key's value, unquoted, or NULL. */
static char *key_value(char *line, const char *name)
{
	size_t n = strlen(name);
	char *v, *e;

	if (strncmp(line, name, n) != 0)
		return NULL;
	v = trim(line + n);
	if (*v != '=')
		return NULL;
	v = trim(v + 1);
	e = v + strlen(v);
	if (e - v >= 2 && (*v == '"' || *v == '\'') && e[-1] == *v) {
		e[-1] = '\0';
		v++;
	}
	return v;
}

static int parse_keypair(struct iocb_bus_curve *c, char *text, const char *path, struct iocb_err *err)
{
	unsigned line = 0;
	bool have_pub = false, have_sec = false;
	char check[IOCB_BUS_Z85_KEY_LEN + 1];

	for (char *save = NULL, *l = text; l; l = save) {
		char *v, *s;

		save = strchr(l, '\n');
		if (save)
			*save++ = '\0';
		line++;
		s = trim(l);
		if (!*s || *s == '#' || strcmp(s, "metadata") == 0 || strcmp(s, "curve") == 0)
			continue;
		if ((v = key_value(s, "public-key"))) {
			if (!z85_key(v, strlen(v), NULL))
				return iocb_err_set(err, IOCB_EINVAL, "%s:%u: public-key is not a 40-character Z85 key",
						    path, line);
			memcpy(c->server_public, v, IOCB_BUS_Z85_KEY_LEN + 1);
			have_pub = true;
		} else if ((v = key_value(s, "secret-key"))) {
			if (!z85_key(v, strlen(v), NULL))
				return iocb_err_set(err, IOCB_EINVAL, "%s:%u: secret-key is not a 40-character Z85 key",
						    path, line);
			memcpy(c->server_secret, v, IOCB_BUS_Z85_KEY_LEN + 1);
			have_sec = true;
		} else {
			return iocb_err_set(err, IOCB_EINVAL,
					    "%s:%u: expected 'public-key = \"...\"' or 'secret-key = \"...\"' "
					    "(the layout 'iocbus bus keygen' writes)",
					    path, line);
		}
	}
	if (!have_sec || !have_pub)
		return iocb_err_set(err, IOCB_EINVAL, "%s: no %s (write one with 'iocbus bus keygen')", path,
				    have_sec ? "public-key" : "secret-key");
	if (zmq_curve_public(check, c->server_secret) != 0 || strcmp(check, c->server_public) != 0)
		return iocb_err_set(err, IOCB_EINVAL, "%s: public-key does not belong to secret-key", path);
	return IOCB_OK;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

static int parse_clients(struct iocb_bus_curve *c, char *text, const char *path, struct iocb_err *err)
{
	unsigned line = 0;
	size_t cap = 0;

	for (char *save = NULL, *l = text; l; l = save) {
		char *s, *rest;

		save = strchr(l, '\n');
		if (save)
			*save++ = '\0';
		line++;
		s = trim(l);
		/* '#' is a Z85 character too: a comment starts a line or follows whitespace. */
		if (!*s || *s == '#')
			continue;
		rest = s + strcspn(s, " \t");
		if (*rest) {
			*rest++ = '\0';
			rest = trim(rest);
			if (*rest && *rest != '#')
				return iocb_err_set(err, IOCB_EINVAL, "%s:%u: one key per line (then only a # comment)",
						    path, line);
		}
		if (c->nclients == IOCB_BUS_CURVE_MAX_CLIENTS)
			return iocb_err_set(err, IOCB_ELIMIT, "%s:%u: more than %d client keys", path, line,
					    IOCB_BUS_CURVE_MAX_CLIENTS);
		if (c->nclients == cap) {
			cap = cap ? cap * 2 : 16;
			c->clients = iocb_xrealloc(c->clients, cap * sizeof(*c->clients));
		}
		if (!z85_key(s, strlen(s), c->clients[c->nclients]))
			return iocb_err_set(err, IOCB_EINVAL,
					    "%s:%u: not a client public key (40 Z85 characters, one per line)", path,
					    line);
		c->nclients++;
	}
	if (!c->nclients)
		return iocb_err_set(err, IOCB_EINVAL, "%s: no client keys: no app could connect", path);
	qsort(c->clients, c->nclients, sizeof(*c->clients), cmp_key);
	return IOCB_OK;
}

int iocb_bus_curve_parse(char *keypair, const char *keypair_name, char *clients, const char *clients_name,
			 struct iocb_bus_curve **out, struct iocb_err *err)
{
	struct iocb_bus_curve *c = iocb_xcalloc(1, sizeof(*c));
	int rc = parse_keypair(c, keypair, keypair_name, err);

	*out = NULL;
	if (rc == IOCB_OK)
		rc = parse_clients(c, clients, clients_name, err);
	if (rc < 0) {
		iocb_bus_curve_free(c);
		return rc;
	}
	*out = c;
	return IOCB_OK;
}

int iocb_bus_curve_load(const char *secret_key_file, const char *clients_file, struct iocb_bus_curve **out,
			struct iocb_err *err)
{
	char *keypair = NULL, *clients = NULL;
	int rc;

	*out = NULL;
	if (!secret_key_file || !clients_file)
		return iocb_err_set(err, IOCB_EINVAL, "bus.curve: secret_key_file and clients_file are required");
	rc = slurp(secret_key_file, "secret_key_file", true, &keypair, err);
	if (rc == IOCB_OK)
		rc = slurp(clients_file, "clients_file", false, &clients, err);
	if (rc == IOCB_OK)
		rc = iocb_bus_curve_parse(keypair, secret_key_file, clients, clients_file, out, err);
	if (keypair)
		explicit_bzero(keypair, strlen(keypair));
	free(keypair);
	free(clients);
	return rc;
}

void iocb_bus_curve_free(struct iocb_bus_curve *c)
{
	if (!c)
		return;
	explicit_bzero(c->server_secret, sizeof(c->server_secret));
	free(c->clients);
	free(c);
}

bool iocb_bus_curve_allowed(const struct iocb_bus_curve *c, const uint8_t key[32])
{
	return c->nclients && bsearch(key, c->clients, c->nclients, sizeof(*c->clients), cmp_key) != NULL;
}

/* ---- keygen --------------------------------------------------------------- */

static int write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

int iocb_bus_curve_keygen(const char *path, bool force, char public_out[IOCB_BUS_Z85_KEY_LEN + 1],
			  struct iocb_err *err)
{
	char pub[IOCB_BUS_Z85_KEY_LEN + 1], sec[IOCB_BUS_Z85_KEY_LEN + 1], tmp[PATH_MAX], text[512];
	int fd, n, rc = IOCB_OK;

	if (zmq_curve_keypair(pub, sec) != 0)
		return iocb_err_set(err, IOCB_EUNSUPPORTED, "bus keygen: libzmq has no CURVE: %s",
				    zmq_strerror(zmq_errno()));
	n = snprintf(text, sizeof(text),
		     "#   iocbus bus keygen: the bus's CURVE key pair (bus.curve.secret_key_file).\n"
		     "#   Keep it readable by iocbus only; apps need the public key alone.\n"
		     "\n"
		     "metadata\n"
		     "curve\n"
		     "    public-key = \"%s\"\n"
		     "    secret-key = \"%s\"\n",
		     pub, sec);
	explicit_bzero(sec, sizeof(sec));
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path) >= (int)sizeof(tmp)) {
		rc = iocb_err_set(err, IOCB_EINVAL, "bus keygen: path too long");
		goto out;
	}
	fd = mkstemp(tmp); /* mode 0600 */
	if (fd < 0) {
		rc = iocb_err_set(err, IOCB_EIO, "bus keygen: cannot create a file next to '%s': %s", path,
				  strerror(errno));
		goto out;
	}
	if (fchmod(fd, 0600) < 0 || write_all(fd, text, (size_t)n) < 0 || fsync(fd) < 0) {
		rc = iocb_err_set(err, IOCB_EIO, "bus keygen: cannot write '%s': %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	/* link() refuses an existing name atomically; rename() replaces one atomically. */
	if (force ? rename(tmp, path) < 0 : link(tmp, path) < 0) {
		rc = iocb_err_set(err, errno == EEXIST ? IOCB_EEXIST : IOCB_EIO,
				  errno == EEXIST ? "bus keygen: '%s' exists; --force replaces it"
						  : "bus keygen: cannot write '%s': %s",
				  path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (!force)
		unlink(tmp);
	memcpy(public_out, pub, sizeof(pub));
out:
	explicit_bzero(text, sizeof(text));
	return rc;
}

/* ---- the ZAP handler ------------------------------------------------------ */

struct iocb_bus__zap {
	void *rep;
	pthread_t th;
	int stop;                          /* atomic */
	const struct iocb_bus_curve *keys; /* the bus's copy, outlives the handler */
	uint64_t *allowed, *refused;       /* the bus's counters (atomic) */
	int64_t logged_ns;                 /* handler thread: last refusal logged (monotonic) */
	uint64_t unlogged;                 /* handler thread: refusals since then, not logged */
};

/* One ZAP request (RFC 27): version, request id, domain, address, identity, mechanism, credentials. */
static void zap_answer(struct iocb_bus__zap *z)
{
	zmq_msg_t part[7];
	int n = 0, more = 1;
	bool ok = false;
	const char *code = "400", *text = "not an allowed client key";

	while (more && n < 7) {
		zmq_msg_init(&part[n]);
		if (zmq_msg_recv(&part[n], z->rep, 0) < 0) {
			zmq_msg_close(&part[n]);
			break;
		}
		more = zmq_msg_more(&part[n]);
		n++;
	}
	while (more) { /* more parts than RFC 27 has: drain them, refuse */
		zmq_msg_t extra;
		zmq_msg_init(&extra);
		if (zmq_msg_recv(&extra, z->rep, 0) < 0)
			more = 0;
		else
			more = zmq_msg_more(&extra);
		zmq_msg_close(&extra);
		n = 0;
	}
	if (n == 7 && zmq_msg_size(&part[5]) == 5 && memcmp(zmq_msg_data(&part[5]), "CURVE", 5) == 0 &&
	    zmq_msg_size(&part[6]) == 32)
		ok = iocb_bus_curve_allowed(z->keys, zmq_msg_data(&part[6]));
	if (ok) {
		code = "200";
		text = "OK";
		IOCB_M_ADD(*z->allowed, 1);
	} else {
		int64_t now = iocb_time_mono_ns();

		IOCB_M_ADD(*z->refused, 1);
		/* A scanner knocking all day must not fill the log: one line per ZAP_LOG_EVERY_NS. */
		if (z->logged_ns && now - z->logged_ns < ZAP_LOG_EVERY_NS) {
			z->unlogged++;
		} else {
			iocb_log(IOCB_LOG_WARN, MOD,
				 "\"CURVE client refused: key not in clients_file\" address=\"%.*s\" refused_unlogged=%" PRIu64,
				 n >= 4 ? (int)(zmq_msg_size(&part[3]) > 64 ? 64 : zmq_msg_size(&part[3])) : 0,
				 n >= 4 ? (const char *)zmq_msg_data(&part[3]) : "", z->unlogged);
			z->logged_ns = now;
			z->unlogged = 0;
		}
	}
	/* Reply: version, request id (echoed), status code, text, user id, metadata. */
	zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
	if (n >= 2)
		zmq_send(z->rep, zmq_msg_data(&part[1]), zmq_msg_size(&part[1]), ZMQ_SNDMORE);
	else
		zmq_send(z->rep, "", 0, ZMQ_SNDMORE);
	zmq_send(z->rep, code, 3, ZMQ_SNDMORE);
	zmq_send(z->rep, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(z->rep, "", 0, ZMQ_SNDMORE);
	zmq_send(z->rep, "", 0, 0);
	for (int i = 0; i < n; i++)
		zmq_msg_close(&part[i]);
}

static void *zap_main(void *arg)
{
	struct iocb_bus__zap *z = arg;

	while (!IOCB_M_GET(z->stop)) {
		zmq_pollitem_t it = {z->rep, 0, ZMQ_POLLIN, 0};
		int n = zmq_poll(&it, 1, ZAP_POLL_MS);
		if (n > 0 && (it.revents & ZMQ_POLLIN))
			zap_answer(z);
	}
	return NULL;
}

int iocb_bus__zap_start(void *ctx, const struct iocb_bus_curve *keys, uint64_t *allowed, uint64_t *refused,
			struct iocb_bus__zap **out, struct iocb_err *err)
{
	struct iocb_bus__zap *z = iocb_xcalloc(1, sizeof(*z));
	int zero = 0;

	z->keys = keys;
	z->allowed = allowed;
	z->refused = refused;
	z->rep = zmq_socket(ctx, ZMQ_REP);
	if (!z->rep || zmq_setsockopt(z->rep, ZMQ_LINGER, &zero, sizeof(zero)) != 0 ||
	    zmq_bind(z->rep, ZAP_ENDPOINT) != 0) {
		int rc = iocb_err_set(err, IOCB_EIO, "bus: CURVE handler (ZAP): %s", zmq_strerror(zmq_errno()));
		if (z->rep)
			zmq_close(z->rep);
		free(z);
		return rc;
	}
	if (pthread_create(&z->th, NULL, zap_main, z) != 0) {
		zmq_close(z->rep);
		free(z);
		return iocb_err_set(err, IOCB_EIO, "bus: cannot start the CURVE handler's thread");
	}
	*out = z;
	return IOCB_OK;
}

void iocb_bus__zap_stop(struct iocb_bus__zap *z)
{
	if (!z)
		return;
	IOCB_M_SET(z->stop, 1);
	pthread_join(z->th, NULL);
	zmq_close(z->rep);
	free(z);
}

int iocb_bus__curve_server(void *sock, const struct iocb_bus_curve *keys, struct iocb_err *err)
{
	int one = 1;

	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) != 0 ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, keys->server_secret, IOCB_BUS_Z85_KEY_LEN) != 0 ||
	    zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "iocbus", 6) != 0)
		return iocb_err_set(err, IOCB_EIO, "bus: CURVE: %s", zmq_strerror(zmq_errno()));
	return IOCB_OK;
}
