/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sightings.from_matches through the pipeline (src/pipe, iocb_pipe_start_with
 * with a sightings hook): a file input's matching events become sightings of
 * the matched attribute, once per attribute and input per window, counted
 * by the queue; without the hook the same run queues nothing. The queue's
 * MISP URL leads nowhere, so what is queued stays counted as queued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "core/time.h"
#include "fixture_store.h"
#include "pipe/pipe.h"
#include "sightings/sightings.h"

/* 50 events: every 5th names domain evil.example (attribute 1), every 10th also bad.example (attribute 2):
 * 10 matching events, 15 matches. */
static void write_events(const char *path)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 50; i++)
		fprintf(f, "{\"event\":{\"sequence\":%d},\"destination\":{\"domain\":\"%s\"},\"dns\":{\"question\":{\"name\":\"%s\"}}}\n",
			i, i % 5 == 0 ? "evil.example" : "benign.example", i % 10 == 0 ? "bad.example" : "ok.example");
	fclose(f);
}

/* iocbus_input_matched_total of the pipe's one input (0 if not rendered yet). */
static unsigned long input_matched(struct iocb_pipe *p)
{
	struct iocb_buf b;
	unsigned long n = 0;
	iocb_buf_init(&b, 0);
	assert_int_equal(iocb_pipe_metrics_render(p, &b), IOCB_OK);
	const char *l = b.len ? strstr(b.ptr, "\niocbus_input_matched_total{") : NULL;
	const char *sp = l ? strchr(l + 1, ' ') : NULL;
	if (sp)
		n = strtoul(sp + 1, NULL, 10);
	iocb_buf_fini(&b);
	return n;
}

static void run(bool hook, struct iocb_pipe_recent *ring, struct iocb_sightings_stats *st)
{
	char dir[] = "/tmp/iocb-pipe-matches-XXXXXX", path[128], yaml[1024], sdir[160];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/events.ndjson", dir);
	snprintf(sdir, sizeof(sdir), "%s/sightings", dir);
	write_events(path);
	snprintf(yaml, sizeof(yaml),
		 "inputs:\n  - {name: zeek-dns, type: file, path: %s, start_at: beginning, poll_interval: 20ms}\n"
		 "outputs:\n  - {name: out, type: file, path: /dev/null}\n"
		 "pipeline: {batch_interval: 20ms, shutdown_timeout: 2s}\n",
		 path);
	struct iocb_config *cfg;
	struct iocb_err err = {0};
	if (iocb_config_load_string("t.yaml", yaml, strlen(yaml), &cfg, &err) != IOCB_OK)
		fail_msg("config: %s", err.msg);
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr a1, a2;
	fixture_store_upsert(s, fixture_attr_make(&a1, 1, "domain", "evil.example", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&a2, 2, "domain", "bad.example", NULL, -1, 1, true));
	struct iocb_sightings_opts so;
	struct iocb_sightings *q;
	iocb_sightings_opts_default(&so);
	so.base_url = "http://127.0.0.1:9";
	so.api_key = "k";
	so.state_dir = sdir;
	so.backoff_initial_s = 30;
	assert_int_equal(iocb_sightings_new(&so, &q, &err), IOCB_OK);
	struct iocb_pipe_hooks hooks = {.sightings = hook ? q : NULL, .sightings_window_s = 300, .recent = ring};
	struct iocb_pipe *p;
	if (iocb_pipe_start_with(s, cfg, &hooks, &p, &err) != IOCB_OK)
		fail_msg("pipe: %s", err.msg);
	/* 10 matching events (15 matches: 10 of attribute 1, 5 of attribute 2): wait until enriched and counted */
	for (int i = 0; i < 1000; i++) {
		iocb_sightings_stats(q, st);
		if (input_matched(p) >= 10 && (!hook || st->matches + st->matches_deduplicated >= 15))
			break;
		iocb_time_sleep_s(0.01);
	}
	assert_int_equal(input_matched(p), 10);
	iocb_pipe_stop(p);
	iocb_sightings_free(q); /* commits what the flusher holds */
	assert_int_equal(iocb_sightings_new(&so, &q, &err), IOCB_OK);
	struct iocb_sightings_stats disk;
	iocb_sightings_stats(q, &disk);
	st->queued = disk.queued; /* what is durable after a stop */
	iocb_sightings_free(q);
	iocb_store_free(s);
	iocb_config_free(cfg);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_matches_become_sightings(void **state)
{
	(void)state;
	struct iocb_sightings_stats st;
	run(true, NULL, &st);
	assert_int_equal(st.matches, 2);               /* one per attribute for input zeek-dns */
	assert_int_equal(st.matches_deduplicated, 13); /* the other 13 matches */
	assert_int_equal(st.matches_dropped, 0);
	assert_int_equal(st.queued, 2);
}

static void test_no_hook_no_sightings(void **state)
{
	(void)state;
	struct iocb_sightings_stats st;
	run(false, NULL, &st);
	assert_int_equal(st.matches + st.matches_deduplicated + st.received, 0);
	assert_int_equal(st.queued, 0);
}

/* issue #16 status page: the status page's last matches get one entry per hit (15), newest first, with field and event. */
static void test_hits_in_recent_ring(void **state)
{
	struct iocb_pipe_recent *ring = iocb_pipe_recent_new(4);
	struct iocb_pipe_match m[8];
	struct iocb_sightings_stats st;
	size_t n;

	(void)state;
	run(false, ring, &st);
	assert_int_equal(iocb_pipe_recent_total(ring), 15);
	n = iocb_pipe_recent_get(ring, m, 8);
	assert_int_equal(n, 4); /* bounded by the ring */
	/* the last matching event (sequence 45) names evil.example in destination.domain only */
	assert_string_equal(m[0].input, "zeek-dns");
	assert_string_equal(m[0].field, "destination.domain");
	assert_string_equal(m[0].value, "evil.example");
	assert_string_equal(m[0].type, "domain");
	/* sequence 40 matched both: both fields are there */
	assert_true((strcmp(m[1].field, "dns.question.name") == 0 && strcmp(m[1].value, "bad.example") == 0) ||
		    (strcmp(m[2].field, "dns.question.name") == 0 && strcmp(m[2].value, "bad.example") == 0));
	assert_true(m[0].time_us >= m[3].time_us);
	iocb_pipe_recent_free(ring);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_become_sightings),
		cmocka_unit_test(test_no_hook_no_sightings),
		cmocka_unit_test(test_hits_in_recent_ring),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
