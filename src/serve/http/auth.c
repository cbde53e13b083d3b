/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP authentication of the endpoint (see auth.h for the file formats).
 *
 * Why crypt(3) for passwords: libxcrypt (part of glibc's toolchain on
 * Debian) verifies the hashes `htpasswd -B` and `mkpasswd` write, so
 * operators use the tools they have and the file never holds a password.
 * A bcrypt check at htpasswd's default cost takes a few milliseconds on the
 * one HTTP thread: fine for a status page refreshed every few seconds, and
 * what makes a guessed password expensive.
 */
#include "serve/http/auth.h"

#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"

struct user {
	char name[IOCB_HTTP_AUTH_MAX_USER + 1];
	char hash[IOCB_HTTP_AUTH_MAX_HASH + 1];
};

struct iocb_http_auth {
	char **tokens;      /* owned, ntokens */
	size_t *token_len;  /* lengths of tokens[] */
	size_t ntokens;
	struct user *users; /* owned, nusers */
	size_t nusers;
	char realm[64];
};

const char *iocb_http_auth_result_name(enum iocb_http_auth_result r)
{
	static const char *const names[IOCB_HTTP_AUTH__N] = {"ok", "missing", "invalid", "denied"};

	return (unsigned)r < IOCB_HTTP_AUTH__N ? names[r] : "invalid";
}

struct iocb_http_auth *iocb_http_auth_new(const char *realm)
{
	struct iocb_http_auth *a = iocb_xcalloc(1, sizeof(*a));
	size_t n = 0;

	if (!realm || !realm[0])
		realm = "iocbus";
	/* Only characters that need no quoting in a quoted-string (and are harmless in a header). */
	for (const char *p = realm; *p && n < sizeof(a->realm) - 1; p++)
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == ' ' || *p == '.' || *p == '_' || *p == '-')
			a->realm[n++] = *p;
	a->realm[n] = '\0';
	return a;
}

void iocb_http_auth_free(struct iocb_http_auth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->ntokens; i++) {
		explicit_bzero(a->tokens[i], a->token_len[i]);
		free(a->tokens[i]);
	}
	free(a->tokens);
	free(a->token_len);
	if (a->users)
		explicit_bzero(a->users, a->nusers * sizeof(*a->users));
	free(a->users);
	free(a);
}

bool iocb_http_auth_has_bearer(const struct iocb_http_auth *a)
{
	return a && a->ntokens > 0;
}

bool iocb_http_auth_has_basic(const struct iocb_http_auth *a)
{
	return a && a->nusers > 0;
}

size_t iocb_http_auth_entries(const struct iocb_http_auth *a)
{
	return a ? a->ntokens + a->nusers : 0;
}

const char *iocb_http_auth_realm(const struct iocb_http_auth *a)
{
	return a->realm;
}

bool iocb_http_auth_ct_equal(const char *got, size_t got_len, const char *want, size_t want_len)
{
	volatile unsigned char d = got_len != want_len;

	/* Always walk want's length; got is read within its own bounds (index clamped). */
	for (size_t i = 0; i < want_len; i++) {
		unsigned char g = got_len ? (unsigned char)got[i < got_len ? i : got_len - 1] : 0;
		d |= (unsigned char)(g ^ (unsigned char)want[i]);
	}
	return d == 0;
}

/* ------------------------------------------------------------ file parsers */

/* Next line of text[*pos..len) without its '\n' (and a trailing '\r'); false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos, struct iocb_str *line)
{
	size_t s = *pos, e;

	if (s >= len)
		return false;
	e = s;
	while (e < len && text[e] != '\n')
		e++;
	*pos = e < len ? e + 1 : e;
	if (e > s && text[e - 1] == '\r')
		e--;
	*line = iocb_str_make(text + s, e - s);
	return true;
}

/* Trim spaces and tabs on both sides. */
static struct iocb_str trim(struct iocb_str s)
{
	while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t')) {
		s.ptr++;
		s.len--;
	}
	while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
		s.len--;
	return s;
}

/* A line to skip: blank or a '#' comment. */
static bool skip_line(struct iocb_str l)
{
	return l.len == 0 || l.ptr[0] == '#';
}

/* Token characters: RFC 6750's b64token plus the other printable non-space ASCII. */
static bool token_ok(struct iocb_str t)
{
	for (size_t i = 0; i < t.len; i++)
		if ((unsigned char)t.ptr[i] <= 0x20 || (unsigned char)t.ptr[i] >= 0x7f)
			return false;
	return t.len >= IOCB_HTTP_AUTH_MIN_TOKEN && t.len <= IOCB_HTTP_AUTH_MAX_TOKEN;
}

int iocb_http_auth_parse_tokens(struct iocb_http_auth *a, const char *text, size_t len, const char *name,
				struct iocb_err *err)
{
	struct iocb_str l;
	size_t pos = 0, lineno = 0;

	while (next_line(text, len, &pos, &l)) {
		lineno++;
		l = trim(l);
		if (skip_line(l))
			continue;
		if (!token_ok(l))
			return iocb_err_set(err, IOCB_ECONFIG,
					    "http.auth.token_file: %s:%zu: a token is %d..%d printable characters without spaces",
					    name, lineno, IOCB_HTTP_AUTH_MIN_TOKEN, IOCB_HTTP_AUTH_MAX_TOKEN);
		if (a->ntokens >= IOCB_HTTP_AUTH_MAX_ENTRIES)
			return iocb_err_set(err, IOCB_ELIMIT, "http.auth.token_file: %s: more than %d tokens", name,
					    IOCB_HTTP_AUTH_MAX_ENTRIES);
		a->tokens = iocb_xrealloc(a->tokens, (a->ntokens + 1) * sizeof(*a->tokens));
		a->token_len = iocb_xrealloc(a->token_len, (a->ntokens + 1) * sizeof(*a->token_len));
		a->tokens[a->ntokens] = iocb_xmalloc(l.len + 1);
		memcpy(a->tokens[a->ntokens], l.ptr, l.len);
		a->tokens[a->ntokens][l.len] = '\0';
		a->token_len[a->ntokens++] = l.len;
	}
	return IOCB_OK;
}

/* crypt(3) prefixes of the schemes we accept: bcrypt, SHA-crypt, yescrypt, scrypt, gost-yescrypt. */
static bool hash_scheme_ok(struct iocb_str h)
{
	static const char *const ok[] = {"$2y$", "$2b$", "$2a$", "$5$", "$6$", "$y$", "$7$", "$gy$"};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (h.len > strlen(ok[i]) && memcmp(h.ptr, ok[i], strlen(ok[i])) == 0)
			return true;
	return false;
}

static bool user_ok(struct iocb_str u)
{
	if (u.len == 0 || u.len > IOCB_HTTP_AUTH_MAX_USER)
		return false;
	for (size_t i = 0; i < u.len; i++)
		if ((unsigned char)u.ptr[i] < 0x20 || u.ptr[i] == 0x7f || u.ptr[i] == ':')
			return false;
	return true;
}

int iocb_http_auth_parse_users(struct iocb_http_auth *a, const char *text, size_t len, const char *name,
			       struct iocb_err *err)
{
	struct iocb_str l;
	size_t pos = 0, lineno = 0;

	while (next_line(text, len, &pos, &l)) {
		struct iocb_str u, h;
		const char *colon;

		lineno++;
		l = trim(l);
		if (skip_line(l))
			continue;
		colon = memchr(l.ptr, ':', l.len);
		if (!colon)
			return iocb_err_set(err, IOCB_ECONFIG, "http.auth.users_file: %s:%zu: expected user:hash", name,
					    lineno);
		u = iocb_str_make(l.ptr, (size_t)(colon - l.ptr));
		h = iocb_str_make(colon + 1, l.len - u.len - 1);
		if (!user_ok(u))
			return iocb_err_set(err, IOCB_ECONFIG,
					    "http.auth.users_file: %s:%zu: a user name is 1..%d characters, no ':' or controls",
					    name, lineno, IOCB_HTTP_AUTH_MAX_USER);
		if (!hash_scheme_ok(h) || h.len > IOCB_HTTP_AUTH_MAX_HASH || memchr(h.ptr, ':', h.len))
			return iocb_err_set(err, IOCB_ECONFIG,
					    "http.auth.users_file: %s:%zu: the hash must be a crypt(3) bcrypt ($2y$, "
					    "htpasswd -B), SHA-crypt ($5$/$6$) or yescrypt ($y$) hash",
					    name, lineno);
		for (size_t i = 0; i < a->nusers; i++)
			if (strlen(a->users[i].name) == u.len && memcmp(a->users[i].name, u.ptr, u.len) == 0)
				return iocb_err_set(err, IOCB_ECONFIG, "http.auth.users_file: %s:%zu: user listed twice",
						    name, lineno);
		if (a->nusers >= IOCB_HTTP_AUTH_MAX_ENTRIES)
			return iocb_err_set(err, IOCB_ELIMIT, "http.auth.users_file: %s: more than %d users", name,
					    IOCB_HTTP_AUTH_MAX_ENTRIES);
		a->users = iocb_xrealloc(a->users, (a->nusers + 1) * sizeof(*a->users));
		memset(&a->users[a->nusers], 0, sizeof(a->users[0]));
		memcpy(a->users[a->nusers].name, u.ptr, u.len);
		memcpy(a->users[a->nusers].hash, h.ptr, h.len);
		a->nusers++;
	}
	return IOCB_OK;
}

/* Read a secret file: regular, not group/other accessible, at most IOCB_HTTP_AUTH_MAX_FILE bytes. */
static int read_secret(const char *what, const char *path, char **out, size_t *len, struct iocb_err *err)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return iocb_err_set(err, IOCB_ECONFIG, "http.auth.%s: cannot open '%s': %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return iocb_err_set(err, IOCB_ECONFIG, "http.auth.%s: '%s' is not a regular file", what, path);
	}
	if (st.st_mode & 077) {
		close(fd);
		return iocb_err_set(err, IOCB_ECONFIG,
				    "http.auth.%s: '%s' is readable or writable by group or others (mode %03o): chmod 600 it",
				    what, path, (unsigned)(st.st_mode & 0777));
	}
	if ((uint64_t)st.st_size > IOCB_HTTP_AUTH_MAX_FILE) {
		close(fd);
		return iocb_err_set(err, IOCB_ELIMIT, "http.auth.%s: '%s' is larger than %u bytes", what, path,
				    IOCB_HTTP_AUTH_MAX_FILE);
	}
	buf = iocb_xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size && (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return IOCB_OK;
}

/* Parse one file with fn; the buffer is wiped before it is freed. */
static int load_one(struct iocb_http_auth *a, const char *what, const char *path,
		    int (*fn)(struct iocb_http_auth *, const char *, size_t, const char *, struct iocb_err *),
		    size_t *count, struct iocb_err *err)
{
	char *buf = NULL;
	size_t len = 0, before = *count;
	int rc = read_secret(what, path, &buf, &len, err);

	if (rc < 0)
		return rc;
	rc = fn(a, buf, len, path, err);
	explicit_bzero(buf, len);
	free(buf);
	if (rc == IOCB_OK && *count == before)
		rc = iocb_err_set(err, IOCB_ECONFIG, "http.auth.%s: '%s' lists nothing", what, path);
	return rc;
}

int iocb_http_auth_load(const struct iocb_http_auth_opts *o, struct iocb_http_auth **out, struct iocb_err *err)
{
	struct iocb_http_auth *a = iocb_http_auth_new(o->realm);
	int rc = IOCB_OK;

	*out = NULL;
	if (o->token_file)
		rc = load_one(a, "token_file", o->token_file, iocb_http_auth_parse_tokens, &a->ntokens, err);
	if (rc == IOCB_OK && o->users_file)
		rc = load_one(a, "users_file", o->users_file, iocb_http_auth_parse_users, &a->nusers, err);
	if (rc == IOCB_OK && !a->ntokens && !a->nusers)
		rc = iocb_err_set(err, IOCB_ECONFIG, "http.auth: set token_file or users_file");
	if (rc < 0) {
		iocb_http_auth_free(a);
		return rc;
	}
	*out = a;
	return IOCB_OK;
}

/* ------------------------------------------------------------ requests */

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64 (padding optional) into out (cap bytes, NUL-terminated); length or -1. */
static long b64decode(struct iocb_str in, char *out, size_t cap)
{
	size_t n = 0, len = in.len;
	unsigned acc = 0, bits = 0;

	while (len && in.ptr[len - 1] == '=' && in.len - len < 2)
		len--;
	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64val((unsigned char)in.ptr[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n + 1 >= cap)
				return -1;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[n] = '\0';
	return (long)n;
}

bool iocb_http_auth_parse_header(const char *h, size_t len, struct iocb_http_auth_cred *out)
{
	struct iocb_str s = trim(iocb_str_make(h, len)), rest;
	char dec[IOCB_HTTP_AUTH_MAX_USER + IOCB_HTTP_AUTH_MAX_PASSWORD + 2];
	const char *colon;
	long n;
	size_t ul;

	memset(out, 0, sizeof(*out));
	if (s.len > 7 && strncasecmp(s.ptr, "Bearer ", 7) == 0) {
		rest = trim(iocb_str_make(s.ptr + 7, s.len - 7));
		if (rest.len == 0 || rest.len > IOCB_HTTP_AUTH_MAX_TOKEN)
			return false;
		for (size_t i = 0; i < rest.len; i++)
			if ((unsigned char)rest.ptr[i] <= 0x20 || (unsigned char)rest.ptr[i] >= 0x7f)
				return false;
		out->scheme = IOCB_HTTP_AUTH_SCHEME_BEARER;
		out->token = rest;
		return true;
	}
	if (s.len > 6 && strncasecmp(s.ptr, "Basic ", 6) == 0) {
		rest = trim(iocb_str_make(s.ptr + 6, s.len - 6));
		n = b64decode(rest, dec, sizeof(dec));
		if (n <= 0 || memchr(dec, '\0', (size_t)n))
			return false;
		colon = memchr(dec, ':', (size_t)n);
		if (!colon)
			goto bad;
		ul = (size_t)(colon - dec);
		if (ul == 0 || ul > IOCB_HTTP_AUTH_MAX_USER || (size_t)n - ul - 1 > IOCB_HTTP_AUTH_MAX_PASSWORD)
			goto bad;
		memcpy(out->user, dec, ul);
		memcpy(out->password, colon + 1, (size_t)n - ul - 1);
		out->scheme = IOCB_HTTP_AUTH_SCHEME_BASIC;
		explicit_bzero(dec, sizeof(dec));
		return true;
	bad:
		explicit_bzero(dec, sizeof(dec));
		return false;
	}
	return false;
}

/* crypt_r(password, hash) == hash, compared in constant time. */
static bool password_ok(const char *password, const char *hash)
{
	struct crypt_data *cd = iocb_xcalloc(1, sizeof(*cd));
	const char *r = crypt_r(password, hash, cd);
	bool ok = r && r[0] != '*' && iocb_http_auth_ct_equal(r, strlen(r), hash, strlen(hash));

	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return ok;
}

static enum iocb_http_auth_result check_basic(const struct iocb_http_auth *a, const struct iocb_http_auth_cred *c)
{
	const struct user *u = NULL;
	bool ok;

	if (!a->nusers)
		return IOCB_HTTP_AUTH_INVALID;
	for (size_t i = 0; i < a->nusers; i++)
		if (strcmp(a->users[i].name, c->user) == 0)
			u = &a->users[i];
	/* An unknown user costs the same crypt() as a known one (the first user's hash, then refused). */
	ok = password_ok(c->password, u ? u->hash : a->users[0].hash);
	return u && ok ? IOCB_HTTP_AUTH_OK : IOCB_HTTP_AUTH_DENIED;
}

enum iocb_http_auth_result iocb_http_auth_check(const struct iocb_http_auth *a, const char *header)
{
	struct iocb_http_auth_cred c;
	enum iocb_http_auth_result r = IOCB_HTTP_AUTH_DENIED;
	bool any = false;

	if (!header)
		return IOCB_HTTP_AUTH_MISSING;
	if (!iocb_http_auth_parse_header(header, strlen(header), &c))
		return IOCB_HTTP_AUTH_INVALID;
	if (c.scheme == IOCB_HTTP_AUTH_SCHEME_BASIC) {
		r = check_basic(a, &c);
		explicit_bzero(&c, sizeof(c));
		return r;
	}
	if (!a->ntokens)
		return IOCB_HTTP_AUTH_INVALID;
	/* Every token is compared, so the time does not say which one matched. */
	for (size_t i = 0; i < a->ntokens; i++)
		any |= iocb_http_auth_ct_equal(c.token.ptr, c.token.len, a->tokens[i], a->token_len[i]);
	return any ? IOCB_HTTP_AUTH_OK : r;
}
