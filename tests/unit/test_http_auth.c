/* SPDX-License-Identifier: Apache-2.0 */
/*
 * http.auth and the status page routes (src/serve/http/auth.c, status.c):
 * the Authorization header parser, the token and htpasswd file parsers,
 * the file mode rule, constant-time comparison, and over a loopback socket:
 * 401 with WWW-Authenticate for every guarded route, /healthz and the MISP
 * API paths exempt, bearer and basic accepted, the page with its ETag (304
 * on revalidation) and /v1/status from the handler.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <crypt.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "serve/http/auth.h"
#include "serve/http/http.h"
#include "store/store.h"

#define TOKEN "0123456789abcdef-token"
#define TOKEN2 "second-token-0123456789"

/* A SHA-256 crypt hash of pw (salt fixed: the test is deterministic). */
static void make_hash(const char *pw, char *out, size_t cap)
{
	struct crypt_data cd;

	memset(&cd, 0, sizeof(cd));
	snprintf(out, cap, "%s", crypt_r(pw, "$5$saltsaltsalt$", &cd));
}

static struct iocb_http_auth *auth_with(const char *tokens, const char *users)
{
	struct iocb_http_auth *a = iocb_http_auth_new(NULL);
	struct iocb_err err = {0};

	if (tokens)
		assert_int_equal(iocb_http_auth_parse_tokens(a, tokens, strlen(tokens), "t", &err), IOCB_OK);
	if (users)
		assert_int_equal(iocb_http_auth_parse_users(a, users, strlen(users), "u", &err), IOCB_OK);
	return a;
}

/* ------------------------------------------------------------ pure parts */

static void test_header_parse(void **state)
{
	struct iocb_http_auth_cred c;
	static const char *const bad[] = {"", "Bearer", "Bearer ", "Bearer a b", "Basic", "Basic !!!!",
					  "Basic Zm9v" /* "foo": no colon */, "Basic OnB3" /* ":pw": empty user */,
					  "Digest x", "Bearer \x01zz", "Basic Zm9vAGJhcjpwdw==" /* NUL inside */};

	(void)state;
	assert_true(iocb_http_auth_parse_header("Bearer abc", 10, &c));
	assert_int_equal(c.scheme, IOCB_HTTP_AUTH_SCHEME_BEARER);
	assert_int_equal(c.token.len, 3);
	assert_memory_equal(c.token.ptr, "abc", 3);
	assert_true(iocb_http_auth_parse_header("  bearer   abc  ", 16, &c)); /* scheme is case-insensitive */
	assert_int_equal(c.token.len, 3);
	/* "alice:pa:ss" -> user alice, password "pa:ss" (the first colon splits) */
	assert_true(iocb_http_auth_parse_header("Basic YWxpY2U6cGE6c3M=", 22, &c));
	assert_int_equal(c.scheme, IOCB_HTTP_AUTH_SCHEME_BASIC);
	assert_string_equal(c.user, "alice");
	assert_string_equal(c.password, "pa:ss");
	/* unpadded base64 is accepted too */
	assert_true(iocb_http_auth_parse_header("BASIC YWxpY2U6cGE6c3M", 21, &c));
	assert_string_equal(c.password, "pa:ss");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(iocb_http_auth_parse_header(bad[i], strlen(bad[i]), &c));
}

static void test_ct_equal(void **state)
{
	(void)state;
	assert_true(iocb_http_auth_ct_equal("abc", 3, "abc", 3));
	assert_false(iocb_http_auth_ct_equal("abd", 3, "abc", 3));
	assert_false(iocb_http_auth_ct_equal("ab", 2, "abc", 3));
	assert_false(iocb_http_auth_ct_equal("abcd", 4, "abc", 3));
	assert_false(iocb_http_auth_ct_equal("", 0, "abc", 3));
	assert_true(iocb_http_auth_ct_equal("", 0, "", 0));
}

static void test_file_parsers(void **state)
{
	struct iocb_http_auth *a = iocb_http_auth_new("my realm\"<>");
	struct iocb_err err = {0};
	static const char tokens[] = "# comment\n\n  " TOKEN "  \r\n" TOKEN2 "\n";
	static const struct {
		const char *text;
		const char *msg; /* substring of the error */
	} bad_users[] = {
		{"alice\n", "expected user:hash"},
		{"alice:plaintext\n", "crypt(3)"},
		{"alice:$apr1$xyz$abc\n", "crypt(3)"},
		{":$5$abc$def\n", "user name"},
		{"a:$5$abc$def\na:$5$abc$def\n", "listed twice"},
	};

	(void)state;
	assert_string_equal(iocb_http_auth_realm(a), "my realm");
	assert_int_equal(iocb_http_auth_parse_tokens(a, tokens, sizeof(tokens) - 1, "t", &err), IOCB_OK);
	assert_int_equal(iocb_http_auth_entries(a), 2);
	assert_true(iocb_http_auth_has_bearer(a));
	assert_false(iocb_http_auth_has_basic(a));
	/* too short, and a space inside: the message names the line, never the token */
	assert_int_equal(iocb_http_auth_parse_tokens(a, "#c\nshort\n", 9, "t", &err), IOCB_ECONFIG);
	assert_non_null(strstr(err.msg, "t:2"));
	assert_null(strstr(err.msg, "short"));
	assert_int_equal(iocb_http_auth_parse_tokens(a, "0123456789 abcdefgh", 19, "t", &err), IOCB_ECONFIG);
	for (size_t i = 0; i < sizeof(bad_users) / sizeof(bad_users[0]); i++) {
		struct iocb_http_auth *b = iocb_http_auth_new(NULL);
		memset(&err, 0, sizeof(err));
		assert_int_equal(iocb_http_auth_parse_users(b, bad_users[i].text, strlen(bad_users[i].text), "u", &err),
				 IOCB_ECONFIG);
		if (!strstr(err.msg, bad_users[i].msg))
			fail_msg("%s: %s", bad_users[i].text, err.msg);
		assert_null(strstr(err.msg, "plaintext"));
		iocb_http_auth_free(b);
	}
	iocb_http_auth_free(a);
}

static void test_check(void **state)
{
	char hash[128], users[512], hdr[256];
	struct iocb_http_auth *a;

	(void)state;
	make_hash("s3cret", hash, sizeof(hash));
	snprintf(users, sizeof(users), "alice:%s\nbob:%s\n", hash, hash);
	a = auth_with(TOKEN "\n" TOKEN2 "\n", users);
	assert_int_equal(iocb_http_auth_check(a, NULL), IOCB_HTTP_AUTH_MISSING);
	assert_int_equal(iocb_http_auth_check(a, "Bearer " TOKEN), IOCB_HTTP_AUTH_OK);
	assert_int_equal(iocb_http_auth_check(a, "Bearer " TOKEN2), IOCB_HTTP_AUTH_OK);
	assert_int_equal(iocb_http_auth_check(a, "Bearer " TOKEN "x"), IOCB_HTTP_AUTH_DENIED);
	assert_int_equal(iocb_http_auth_check(a, "Bearer 0123456789abcdef-toke"), IOCB_HTTP_AUTH_DENIED);
	assert_int_equal(iocb_http_auth_check(a, "Negotiate abc"), IOCB_HTTP_AUTH_INVALID);
	assert_int_equal(iocb_http_auth_check(a, "Basic YWxpY2U6czNjcmV0"), IOCB_HTTP_AUTH_OK);     /* alice:s3cret */
	assert_int_equal(iocb_http_auth_check(a, "Basic YWxpY2U6czNjcmV1"), IOCB_HTTP_AUTH_DENIED); /* alice:s3creu */
	assert_int_equal(iocb_http_auth_check(a, "Basic Y2Fyb2w6czNjcmV0"), IOCB_HTTP_AUTH_DENIED); /* carol:s3cret */
	iocb_http_auth_free(a);
	/* Only bearer configured: Basic is not a scheme it takes. */
	a = auth_with(TOKEN "\n", NULL);
	assert_int_equal(iocb_http_auth_check(a, "Basic YWxpY2U6czNjcmV0"), IOCB_HTTP_AUTH_INVALID);
	iocb_http_auth_free(a);
	snprintf(hdr, sizeof(hdr), "%s", iocb_http_auth_result_name(IOCB_HTTP_AUTH_DENIED));
	assert_string_equal(hdr, "denied");
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_load_files(void **state)
{
	char dir[] = "/tmp/iocb-auth-XXXXXX", tok[128], usr[128], hash[128], line[512];
	struct iocb_http_auth *a = NULL;
	struct iocb_err err = {0};
	struct iocb_http_auth_opts o = {0};

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(tok, sizeof(tok), "%s/tokens", dir);
	snprintf(usr, sizeof(usr), "%s/users", dir);
	make_hash("pw", hash, sizeof(hash));
	snprintf(line, sizeof(line), "admin:%s\n", hash);
	write_file(tok, TOKEN "\n", 0644);
	write_file(usr, line, 0600);
	o.token_file = tok;
	assert_int_equal(iocb_http_auth_load(&o, &a, &err), IOCB_ECONFIG); /* world-readable */
	assert_non_null(strstr(err.msg, "chmod 600"));
	assert_null(strstr(err.msg, TOKEN));
	assert_null(a);
	assert_int_equal(chmod(tok, 0600), 0);
	o.users_file = usr;
	assert_int_equal(iocb_http_auth_load(&o, &a, &err), IOCB_OK);
	assert_int_equal(iocb_http_auth_entries(a), 2);
	iocb_http_auth_free(a);
	write_file(tok, "# nothing\n", 0600);
	assert_int_equal(iocb_http_auth_load(&o, &a, &err), IOCB_ECONFIG);
	assert_non_null(strstr(err.msg, "lists nothing"));
	o.token_file = "/nonexistent/tokens";
	assert_int_equal(iocb_http_auth_load(&o, &a, &err), IOCB_ECONFIG);
	unlink(tok);
	unlink(usr);
	rmdir(dir);
}

/* ------------------------------------------------------------ over a socket */

struct srv {
	struct iocb_store *store;
	struct iocb_httpd *d;
	struct iocb_http_auth *auth;
	uint16_t port;
};

static void status_json(void *ud, struct iocb_buf *out)
{
	(void)ud;
	if (iocb_buf_append_c(out, "{\"status_version\":1}") < 0)
		out->len = 0;
}

static void metrics_text(void *ud, struct iocb_buf *out)
{
	(void)ud;
	if (iocb_buf_append_c(out, "# x\n") < 0)
		out->len = 0;
}

#define MISP_KEY "Bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2"

static int srv_start(void **state, const char *misp_api_keys)
{
	struct srv *s = calloc(1, sizeof(*s));
	struct iocb_store_opts so;
	struct iocb_err err = {0};
	struct iocb_http_opts o = {.host = "127.0.0.1", .max_connections = 8};
	struct iocb_http_handlers h = {.metrics = metrics_text, .status = status_json};
	char hash[128], users[512];

	make_hash("s3cret", hash, sizeof(hash));
	snprintf(users, sizeof(users), "alice:%s\n", hash);
	s->auth = auth_with(TOKEN "\n", users);
	iocb_store_opts_default(&so);
	assert_int_equal(iocb_store_open(&so, &s->store, &err), IOCB_OK);
	o.auth = s->auth;
	o.misp_api_keys = misp_api_keys;
	assert_int_equal(iocb_http_start(&o, s->store, &h, &s->d, &s->port, &err), IOCB_OK);
	*state = s;
	return 0;
}

static int srv_setup(void **state)
{
	return srv_start(state, NULL);
}

/* http.auth and http.misp_api together (the contract of both, docs/DROPINS.md). */
static int srv_setup_mispapi(void **state)
{
	return srv_start(state, MISP_KEY "\n");
}

static int srv_teardown(void **state)
{
	struct srv *s = *state;

	iocb_http_stop(s->d);
	iocb_store_free(s->store);
	iocb_http_auth_free(s->auth);
	free(s);
	return 0;
}

/* One request (Connection: close); the whole answer into out (NUL-terminated). Returns the status. */
static int request(uint16_t port, const char *path, const char *extra_headers, char *out, size_t cap)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	char req[1024];
	size_t got = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0), st = -1;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n", path,
		 extra_headers ? extra_headers : "");
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while (got < cap - 1 && (n = read(fd, out + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	sscanf(out, "HTTP/1.1 %d", &st);
	return st;
}

/*
 * With http.misp_api on, exactly the MISP API's paths authenticate with
 * MISP's keys instead of http.auth (a MISP client sends one Authorization
 * header, its MISP key); every other route still wants http.auth, and a
 * MISP key is no http.auth credential.
 */
static void test_mispapi_beside_auth(void **state)
{
	struct srv *s = *state;
	char *buf = malloc(1 << 16);

	assert_int_equal(request(s->port, "/attributes/restSearch?value=x", "Authorization: " MISP_KEY "\r\n", buf,
				 1 << 16),
			 200);
	assert_non_null(strstr(buf, "{\"response\": {\"Attribute\": []}}"));
	assert_int_equal(request(s->port, "/servers/getVersion", "Authorization: " MISP_KEY "\r\n", buf, 1 << 16), 200);
	/* no key: MISP's 403, not http.auth's 401 */
	assert_int_equal(request(s->port, "/attributes/restSearch?value=x", NULL, buf, 1 << 16), 403);
	assert_int_equal(request(s->port, "/attributes/restSearch?value=x", "Authorization: Bearer " TOKEN "\r\n", buf,
				 1 << 16),
			 403);
	assert_int_equal(request(s->port, "/v1/status", "Authorization: " MISP_KEY "\r\n", buf, 1 << 16), 401);
	assert_int_equal(request(s->port, "/v1/status", "Authorization: Bearer " TOKEN "\r\n", buf, 1 << 16), 200);
	free(buf);
}

static void test_routes_guarded(void **state)
{
	struct srv *s = *state;
	static const char *const guarded[] = {"/", "/v1/status", "/metrics", "/v1/lookup?value=x", "/nope"};
	char *buf = malloc(1 << 16);

	for (size_t i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++) {
		assert_int_equal(request(s->port, guarded[i], NULL, buf, 1 << 16), 401);
		assert_non_null(strstr(buf, "WWW-Authenticate: Bearer realm=\"iocbus\""));
		assert_non_null(strstr(buf, "WWW-Authenticate: Basic realm=\"iocbus\", charset=\"UTF-8\""));
		assert_non_null(strstr(buf, "{\"error\":\"authentication required\"}"));
		assert_int_equal(request(s->port, guarded[i], "Authorization: Bearer wrong-token-0123456789\r\n", buf,
					 1 << 16),
				 401);
	}
	/* exempt: liveness; without http.misp_api the MISP API's paths are unknown paths, so guarded */
	assert_int_equal(request(s->port, "/healthz", NULL, buf, 1 << 16), 200);
	assert_int_equal(request(s->port, "/attributes/restSearch", NULL, buf, 1 << 16), 401);
	/* accepted */
	assert_int_equal(request(s->port, "/v1/status", "Authorization: Bearer " TOKEN "\r\n", buf, 1 << 16), 200);
	assert_non_null(strstr(buf, "{\"status_version\":1}\n"));
	assert_non_null(strstr(buf, "Cache-Control: no-store"));
	assert_int_equal(request(s->port, "/metrics", "Authorization: Basic YWxpY2U6czNjcmV0\r\n", buf, 1 << 16), 200);
	/* the results are counted, by result */
	assert_non_null(strstr(buf, "iocbus_http_auth_requests_total{result=\"missing\"} 6"));
	assert_non_null(strstr(buf, "iocbus_http_auth_requests_total{result=\"denied\"} 5"));
	assert_non_null(strstr(buf, "iocbus_http_auth_requests_total{result=\"ok\"} 2"));
	assert_non_null(strstr(buf, "iocbus_http_auth_entries 2"));
	free(buf);
}

static void test_page_etag(void **state)
{
	struct srv *s = *state;
	char *buf = malloc(1 << 17), *etag, hdr[256];
	size_t n;

	assert_int_equal(request(s->port, "/", "Authorization: Bearer " TOKEN "\r\n", buf, 1 << 17), 200);
	assert_non_null(strstr(buf, "Content-Type: text/html; charset=utf-8"));
	assert_non_null(strstr(buf, "Content-Security-Policy: default-src 'none'"));
	assert_non_null(strstr(buf, "<title>iocbus status</title>"));
	/* nothing external: no URL to another origin in the page */
	assert_null(strstr(buf, "src=\"http"));
	assert_null(strstr(buf, "href=\"http"));
	etag = strstr(buf, "ETag: ");
	assert_non_null(etag);
	etag += 6;
	n = strcspn(etag, "\r");
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer " TOKEN "\r\nIf-None-Match: %.*s\r\n", (int)n, etag);
	assert_int_equal(request(s->port, "/", hdr, buf, 1 << 17), 304);
	assert_int_equal(request(s->port, "/", "Authorization: Bearer " TOKEN "\r\nIf-None-Match: \"other\"\r\n", buf,
			     1 << 17),
			 200);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_parse),
		cmocka_unit_test(test_ct_equal),
		cmocka_unit_test(test_file_parsers),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_load_files),
		cmocka_unit_test_setup_teardown(test_routes_guarded, srv_setup, srv_teardown),
		cmocka_unit_test_setup_teardown(test_mispapi_beside_auth, srv_setup_mispapi, srv_teardown),
		cmocka_unit_test_setup_teardown(test_page_etag, srv_setup, srv_teardown),
	};

	iocb_log_set_level(IOCB_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
