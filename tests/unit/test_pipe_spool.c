/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline's spool (src/pipe/spool.c, declared in core.h): what an
 * output writes while its destination is down comes back in order, byte for
 * byte, after a restart; a segment goes away once everything read from it is
 * settled; the size cap holds unless forced (shutdown spills); a torn tail is
 * skipped, the records before it are not lost. Also the dead-letter file's
 * size cap (src/pipe/dlq.c), the other on-disk file an output writes; it
 * shares this test's temporary directory set-up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/mem.h"
#include "pipe/core.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/iocb-test-spool-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A batch of `n` lines "line <tag>-<i>", with ids when `ids`. */
static struct iocb_pipe__batch *mk(const char *tag, unsigned n, bool ids)
{
	struct iocb_pipe__batch *b = iocb_xcalloc(1, sizeof(*b));
	char line[64];
	size_t cap = n * 64 + 1;

	b->data = iocb_xmalloc(cap);
	for (unsigned i = 0; i < n; i++) {
		int k = snprintf(line, sizeof(line), "{\"line\":\"%s-%u\"}\n", tag, i);
		memcpy(b->data + b->len, line, (size_t)k);
		b->len += (size_t)k;
	}
	b->nlines = n;
	if (ids) {
		b->ids = iocb_xmalloc((size_t)n * IOCB_PIPE_ID_LEN);
		for (unsigned i = 0; i < n * IOCB_PIPE_ID_LEN; i++)
			b->ids[i] = (unsigned char)(i * 7 + n);
	}
	return b;
}

static void mk_free(struct iocb_pipe__batch *b)
{
	free(b->data);
	free(b->ids);
	free(b);
}

static size_t files_in(const char *suffix)
{
	char cmd[160];
	FILE *p;
	size_t n = 0;
	char line[256];

	snprintf(cmd, sizeof(cmd), "ls %s 2>/dev/null", dir);
	p = popen(cmd, "r");
	while (p && fgets(line, sizeof(line), p))
		if (strstr(line, suffix))
			n++;
	if (p)
		pclose(p);
	return n;
}

static void expect_same(const struct iocb_pipe__batch *got, const struct iocb_pipe__batch *want)
{
	assert_non_null(got);
	assert_int_equal(got->len, want->len);
	assert_int_equal(got->nlines, want->nlines);
	assert_memory_equal(got->data, want->data, want->len);
	if (want->ids) {
		assert_non_null(got->ids);
		assert_memory_equal(got->ids, want->ids, (size_t)want->nlines * IOCB_PIPE_ID_LEN);
	} else {
		assert_null(got->ids);
	}
	assert_null(got->in);
	assert_int_equal(got->pending, 1);
}

static void test_replay_in_order_and_retire(void **state)
{
	struct iocb_pipe__output_metrics m = {0};
	struct iocb_pipe__spool *s = NULL;
	struct iocb_pipe__batch *w[3] = {mk("a", 3, false), mk("b", 1, true), mk("c", 50, true)};
	struct iocb_pipe__batch *r[3];

	(void)state;
	assert_int_equal(iocb_pipe__spool_open(dir, 1 << 20, false, &m, &s, NULL), IOCB_OK);
	assert_false(iocb_pipe__spool_has_unread(s));
	for (int i = 0; i < 3; i++)
		assert_int_equal(iocb_pipe__spool_append(s, w[i], false), IOCB_OK);
	assert_int_equal(m.spooled, 3);
	assert_true(m.spool_bytes > 0);
	iocb_pipe__spool_close(s); /* a restart */

	s = NULL;
	memset(&m, 0, sizeof(m));
	assert_int_equal(iocb_pipe__spool_open(dir, 1 << 20, false, &m, &s, NULL), IOCB_OK);
	assert_int_equal(m.spool_segments, 1);
	assert_true(iocb_pipe__spool_has_unread(s));
	for (int i = 0; i < 3; i++) {
		r[i] = iocb_pipe__spool_read(s);
		expect_same(r[i], w[i]);
	}
	assert_null(iocb_pipe__spool_read(s));
	assert_false(iocb_pipe__spool_has_unread(s));
	/* Read but not settled: the segment stays (a crash now replays it). */
	iocb_pipe__batch_settle(r[0]);
	iocb_pipe__batch_settle(r[1]);
	assert_int_equal(files_in(".spool"), 1);
	iocb_pipe__batch_settle(r[2]);
	assert_int_equal(files_in(".spool"), 0);
	assert_int_equal(m.spool_bytes, 0);
	assert_int_equal(m.spool_segments, 0);
	assert_int_equal(m.replayed, 3);
	iocb_pipe__spool_close(s);
	for (int i = 0; i < 3; i++)
		mk_free(w[i]);
}

static void test_cap_and_force(void **state)
{
	struct iocb_pipe__output_metrics m = {0};
	struct iocb_pipe__spool *s = NULL;
	struct iocb_pipe__batch *b = mk("x", 100, false); /* about 1.9 KiB */

	(void)state;
	assert_int_equal(iocb_pipe__spool_open(dir, 4096, false, &m, &s, NULL), IOCB_OK);
	assert_int_equal(iocb_pipe__spool_append(s, b, false), IOCB_OK);
	assert_int_equal(iocb_pipe__spool_append(s, b, false), IOCB_OK);
	assert_int_equal(iocb_pipe__spool_append(s, b, false), IOCB_ELIMIT); /* would pass 4096 */
	assert_int_equal(iocb_pipe__spool_append(s, b, true), IOCB_OK);      /* a shutdown spill always writes */
	assert_int_equal(m.spooled, 3);
	for (int i = 0; i < 3; i++) {
		struct iocb_pipe__batch *r = iocb_pipe__spool_read(s);

		expect_same(r, b);
		iocb_pipe__batch_settle(r);
	}
	assert_null(iocb_pipe__spool_read(s));
	assert_int_equal(files_in(".spool"), 0);
	/* Room again once delivered. */
	assert_int_equal(iocb_pipe__spool_append(s, b, false), IOCB_OK);
	iocb_pipe__spool_close(s);
	mk_free(b);
}

static void test_torn_tail(void **state)
{
	struct iocb_pipe__output_metrics m = {0};
	struct iocb_pipe__spool *s = NULL;
	struct iocb_pipe__batch *a = mk("a", 2, false), *b = mk("b", 2, true), *r;
	char path[128];
	struct stat st;

	(void)state;
	assert_int_equal(iocb_pipe__spool_open(dir, 0, false, &m, &s, NULL), IOCB_OK);
	assert_int_equal(iocb_pipe__spool_append(s, a, false), IOCB_OK);
	assert_int_equal(iocb_pipe__spool_append(s, b, false), IOCB_OK);
	iocb_pipe__spool_close(s);
	/* A crash in the middle of the second record's write. */
	snprintf(path, sizeof(path), "%s/seg-0000000000000001.spool", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - 5), 0);

	s = NULL;
	memset(&m, 0, sizeof(m));
	assert_int_equal(iocb_pipe__spool_open(dir, 0, false, &m, &s, NULL), IOCB_OK);
	r = iocb_pipe__spool_read(s);
	expect_same(r, a);
	assert_null(iocb_pipe__spool_read(s));    /* the torn one is skipped, counted */
	assert_int_equal(m.errors, 1);
	iocb_pipe__batch_settle(r);
	assert_int_equal(files_in(".spool\n"), 0);
	assert_int_equal(files_in(".damaged"), 1); /* kept for a human, no longer spool */
	assert_int_equal(m.spool_bytes, 0);
	/* New appends go to a new segment and read back fine. */
	assert_int_equal(iocb_pipe__spool_append(s, b, false), IOCB_OK);
	r = iocb_pipe__spool_read(s);
	expect_same(r, b);
	iocb_pipe__batch_settle(r);
	iocb_pipe__spool_close(s);
	mk_free(a);
	mk_free(b);
}

/* Lines in `path` and its size; -1 lines when it does not exist. */
static long file_lines(const char *path, long *size)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int c;

	*size = 0;
	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF) {
		n += c == '\n';
		(*size)++;
	}
	fclose(f);
	return n;
}

/*
 * Dead letters have a size cap (issue #11 item 7): with rotation, at most
 * max_files old files are kept and every letter is either in a file or
 * counted as dropped; without rotation the file stops at the cap; a letter
 * larger than the cap is dropped.
 */
static void test_dead_letter_cap(void **state)
{
	static const unsigned keep[] = {2, 0};
	char path[128], name[160], event[200];

	(void)state;
	memset(event, 'x', sizeof(event) - 1);
	event[sizeof(event) - 1] = '\0';
	for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
		struct iocb_pipe__dlq *d = NULL;
		struct iocb_err err = {0};
		uint64_t dropped = 0;
		long in_files = 0, size;

		snprintf(path, sizeof(path), "%s/out%zu.dead.ndjson", dir, k);
		assert_int_equal(iocb_pipe__dlq_open(path, 4096, keep[k], &dropped, &d, &err), IOCB_OK);
		for (int i = 0; i < 200; i++)
			iocb_pipe__dlq_write(d, "es", 400, "mapper_parsing_exception", event, strlen(event));
		iocb_pipe__dlq_write(d, "es", 400, "too big", event, 0); /* fits */
		{
			char *huge = iocb_xmalloc(8192);

			memset(huge, 'y', 8192);
			iocb_pipe__dlq_write(d, "es", 400, "too big", huge, 8192); /* larger than the cap */
			free(huge);
		}
		iocb_pipe__dlq_close(d);
		for (unsigned i = 0; i <= keep[k] + 1; i++) {
			long n;

			if (i)
				snprintf(name, sizeof(name), "%s.%u", path, i);
			else
				snprintf(name, sizeof(name), "%s", path);
			n = file_lines(name, &size);
			if (i == keep[k] + 1) {
				assert_int_equal(n, -1); /* no more old files than max_files */
				break;
			}
			assert_true(n > 0);
			assert_true(size <= 4096);
			in_files += n;
		}
		assert_int_equal((uint64_t)in_files + dropped, 202);
		assert_true(dropped > 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replay_in_order_and_retire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_and_force, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_letter_cap, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
