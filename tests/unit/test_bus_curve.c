/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the bus's CURVE files (serve/bus/curve.h): what keygen
 * writes loads back, with mode 0600 and refusing to overwrite; the errors
 * name file:line and never the secret; a group/other-readable key file, a
 * mismatched pair and an empty clients list are refused; '#' inside a Z85
 * key is part of the key.
 */
#include "serve/bus/curve.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

static char g_dir[64], g_key[128], g_clients[128];
static char g_last_err[512]; /* expect_refused's last message */

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(g_dir, sizeof(g_dir), "/tmp/iocb_test_curve.XXXXXX");
	assert_non_null(mkdtemp(g_dir));
	snprintf(g_key, sizeof(g_key), "%s/bus.key", g_dir);
	snprintf(g_clients, sizeof(g_clients), "%s/clients", g_dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(g_key);
	unlink(g_clients);
	rmdir(g_dir);
	return 0;
}

/* A client key holding '#', and its binary form. */
static void hash_key(char z85[41], uint8_t bin[32])
{
	char sec[41];
	do
		assert_int_equal(zmq_curve_keypair(z85, sec), 0);
	while (!strchr(z85, '#'));
	assert_non_null(zmq_z85_decode(bin, z85));
}

static void test_keygen_load(void **state)
{
	char pub[41], again[41], client[41], text[256];
	uint8_t bin[32], other[32] = {1};
	struct iocb_bus_curve *c = NULL;
	struct iocb_err err = {0};
	struct stat st;

	(void)state;
	unlink(g_key);
	assert_int_equal(iocb_bus_curve_keygen(g_key, false, pub, &err), IOCB_OK);
	assert_int_equal(strlen(pub), 40);
	assert_int_equal(stat(g_key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* An existing file is left alone without --force, replaced with it. */
	assert_int_equal(iocb_bus_curve_keygen(g_key, false, again, &err), IOCB_EEXIST);
	assert_non_null(strstr(err.msg, "--force"));
	assert_int_equal(iocb_bus_curve_keygen(g_key, true, again, &err), IOCB_OK);
	assert_string_not_equal(pub, again);

	hash_key(client, bin);
	snprintf(text, sizeof(text), "# allowed apps\n\n  %s   # zeek, '#' inside\n", client);
	write_file(g_clients, text, 0644);
	assert_int_equal(iocb_bus_curve_load(g_key, g_clients, &c, &err), IOCB_OK);
	assert_string_equal(c->server_public, again);
	assert_int_equal(c->nclients, 1);
	assert_true(iocb_bus_curve_allowed(c, bin));
	assert_false(iocb_bus_curve_allowed(c, other));
	iocb_bus_curve_free(c);
}

static void expect_refused(const char *key_text, mode_t key_mode, const char *clients_text, const char *want)
{
	struct iocb_bus_curve *c = (void *)1;
	struct iocb_err err = {0};

	write_file(g_key, key_text, key_mode);
	write_file(g_clients, clients_text, 0644);
	assert_int_not_equal(iocb_bus_curve_load(g_key, g_clients, &c, &err), IOCB_OK);
	assert_null(c);
	snprintf(g_last_err, sizeof(g_last_err), "%s", err.msg);
	if (!strstr(err.msg, want))
		fail_msg("error \"%s\" lacks \"%s\"", err.msg, want);
}

static void test_refused(void **state)
{
	char pub[41], sec[41], pub2[41], sec2[41], pair[512], mixed[512], client[41], line[128];

	(void)state;
	assert_int_equal(zmq_curve_keypair(pub, sec), 0);
	assert_int_equal(zmq_curve_keypair(pub2, sec2), 0);
	assert_int_equal(zmq_curve_keypair(client, sec2), 0);
	snprintf(pair, sizeof(pair), "metadata\ncurve\n    public-key = \"%s\"\n    secret-key = '%s'\n", pub, sec);
	snprintf(mixed, sizeof(mixed), "public-key = %s\nsecret-key = %s\n", pub2, sec);
	snprintf(line, sizeof(line), "%s\n", client);

	/* Readable by others: refused, naming the file and the fix, never the key. */
	expect_refused(pair, 0640, line, "chmod 600");
	expect_refused(pair, 0604, line, g_key);
	/* The pair must match; both keys are needed; other lines are errors with file:line. */
	expect_refused(mixed, 0600, line, "public-key does not belong to secret-key");
	expect_refused("# nothing\ncurve\n", 0600, line, "no secret-key");
	expect_refused("curve\n  public-key = \"short\"\n", 0600, line, ":2: public-key is not a 40-character");
	expect_refused("curve\nsecret_key: x\n", 0600, line, ":2: expected 'public-key");
	/* The clients file. */
	expect_refused(pair, 0600, "# none yet\n\n", "no client keys");
	expect_refused(pair, 0600, "# one\nnot-a-key\n", "clients:2: not a client public key");
	snprintf(line, sizeof(line), "%s %s\n", client, client);
	expect_refused(pair, 0600, line, "clients:1: one key per line");
	/* A bad secret key line: the message does not echo it. */
	snprintf(mixed, sizeof(mixed), "public-key = %s\nsecret-key = %s!\n", pub, sec);
	expect_refused(mixed, 0600, line, ":2: secret-key is not a 40-character");
	assert_null(strstr(g_last_err, sec));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keygen_load),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
