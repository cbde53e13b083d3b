/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crash safety of the store's persistence: a child process commits batches
 * in a loop and reports each completed commit on a pipe; the parent kills it
 * with SIGKILL at a random moment, reopens the store and checks that the
 * state is exactly some batch boundary at or after the last reported one
 * (every attribute of each completed batch, nothing of a partial batch).
 *
 * Batch b upserts K attributes "b<b>-<i>.example", removes the attributes
 * of batch b-3 and sets meta "batch" = b, so a committed state always holds
 * batches max(0, M-2)..M where M is the meta value.
 */
#include "store/store.h"

#include <dirent.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture_store.h"

enum { K = 300 };

static int open_store(const char *dir, struct iocb_store **s, struct iocb_err *err)
{
	struct iocb_store_opts o;
	iocb_store_opts_default(&o);
	o.path = dir;
	o.map_size = 256 << 20;
	o.durable = false; /* MDB_NOSYNC: still safe against SIGKILL */
	return iocb_store_open(&o, s, err);
}

static void child(const char *dir, int wfd)
{
	struct iocb_store *s;
	struct iocb_err err;
	const struct iocb_misp_type *dom = iocb_misp_type_find(IOCB_STR_LIT("domain"));
	char uuid[37], val[64], meta[16];

	if (open_store(dir, &s, &err) < 0 || !dom)
		_exit(2);
	for (unsigned b = 0;; b++) {
		for (unsigned i = 0; i < K; i++) {
			struct iocb_misp_event ev = {0};
			struct iocb_misp_attr a = {0};
			fixture_uuid(uuid, b, i);
			snprintf(val, sizeof(val), "b%u-%u.example", b, i);
			ev.analysis = -1;
			ev.id = b + 1;
			a.uuid = iocb_str_c(uuid);
			a.type = dom;
			a.value = a.part[0] = iocb_str_c(val);
			a.nparts = 1;
			a.prefix[0] = a.prefix[1] = -1;
			a.to_ids = true;
			a.first_seen_us = a.last_seen_us = INT64_MIN;
			a.event = &ev;
			if (iocb_store_upsert(s, &a, 0, 1, &err) < 0)
				_exit(3);
			if (b >= 3) {
				fixture_uuid(uuid, b - 3, i);
				if (iocb_store_remove(s, iocb_str_c(uuid), &err) < 0)
					_exit(4);
			}
		}
		int n = snprintf(meta, sizeof(meta), "%u", b);
		if (iocb_store_meta_set(s, "batch", iocb_str_make(meta, (size_t)n), &err) < 0)
			_exit(5);
		if (iocb_store_commit(s, &err) < 0)
			_exit(6);
		if (write(wfd, &b, sizeof(b)) != sizeof(b))
			_exit(7);
	}
}

static void one_run(unsigned seed)
{
	char tmpl[] = "/tmp/iocb-crash-XXXXXX";
	char *dir = mkdtemp(tmpl);
	int fds[2];
	unsigned last = 0, b;
	bool any = false;
	unsigned want = 2 + seed % 12; /* batches to see before the kill */
	struct iocb_store *s;
	struct iocb_err err;

	assert_non_null(dir);
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child(dir, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	while (!any || last < want) {
		struct pollfd p = {fds[0], POLLIN, 0};
		assert_true(poll(&p, 1, 10000) == 1); /* a batch every 10 s at worst */
		assert_int_equal(read(fds[0], &b, sizeof(b)), sizeof(b));
		last = b;
		any = true;
	}
	/* kill somewhere inside a later batch or commit */
	struct timespec ts = {0, (long)(seed * 7919u % 20000u) * 1000L};
	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	while (read(fds[0], &b, sizeof(b)) == sizeof(b))
		last = b;
	close(fds[0]);

	int rc = open_store(dir, &s, &err);
	if (rc < 0)
		fail_msg("reopen: %s", err.msg);
	char meta[16];
	size_t len;
	assert_int_equal(iocb_store_meta_get(s, "batch", meta, sizeof(meta) - 1, &len), IOCB_OK);
	meta[len] = '\0';
	unsigned m = (unsigned)strtoul(meta, NULL, 10);
	assert_true(m >= last && m <= last + 1);

	struct iocb_store_hit h[2];
	char val[64];
	iocb_store_read_lock();
	for (unsigned bb = 0; bb <= m + 1; bb++) {
		bool expect = bb <= m && bb + 3 > m;
		for (unsigned i = 0; i < K; i++) {
			snprintf(val, sizeof(val), "b%u-%u.example", bb, i);
			size_t n = iocb_store_lookup(s, IOCB_MC_DOMAIN, iocb_str_c(val), h, 2);
			if (n != (expect ? 1u : 0u))
				fail_msg("batch %u (committed %u) attr %u: %zu hits", bb, m, i, n);
		}
	}
	iocb_store_read_unlock();
	struct iocb_store_stats st;
	iocb_store_stats(s, &st);
	assert_int_equal(st.attrs, (uint64_t)K * (m + 1 < 3 ? m + 1 : 3));
	iocb_store_free(s);
	fixture_rmtree(dir);
}

static void test_kill9(void **state)
{
	(void)state;
	unsigned seed = (unsigned)time(NULL);
	for (unsigned r = 0; r < 12; r++)
		one_run(seed + r * 31);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kill9),
	};
	iocb_store_reader_register();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	iocb_store_reader_unregister();
	return rc;
}
