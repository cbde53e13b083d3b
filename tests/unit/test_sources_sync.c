/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the sources' shared state (src/sources/sync.c), through
 * sources.h, on an in-memory store and without source threads: the cursor
 * (advance, reset, load at start, a bad or future persisted value), what a
 * commit persists while catch-ups are pending or running, catch-up
 * requests and a failed pull queued again, the event refresh queue, the
 * stop flag and the sleep's early returns, and the per-source counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "core/log.h"
#include "sources/sources.h"
#include "store/store.h"

struct fx {
	struct iocb_config *cfg;   /* defaults; api.present set by the test when it needs the pull */
	struct iocb_store *store;  /* in memory */
	struct iocb_sources_sync y; /* initialised by fx_sync() */
	bool inited;               /* y needs fini */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct iocb_store_opts so;
	struct iocb_err err = {0};

	if (!f)
		return -1;
	iocb_log_set_level(IOCB_LOG_ERROR); /* the sync's warnings are expected here */
	f->cfg = iocb_config_default();
	iocb_store_opts_default(&so);
	if (iocb_store_open(&so, &f->store, &err) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->inited)
		iocb_sources_sync_fini(&f->y);
	iocb_store_free(f->store);
	iocb_config_free(f->cfg);
	free(f);
	return 0;
}

static struct iocb_sources_sync *fx_sync(struct fx *f, bool api)
{
	f->cfg->api.present = api;
	iocb_sources_sync_init(&f->y, f->store, NULL, f->cfg);
	f->inited = true;
	return &f->y;
}

/* The persisted cursor as a number; UINT64_MAX when none. */
static uint64_t persisted(struct fx *f)
{
	char buf[32];
	size_t n = 0;

	if (iocb_store_meta_get(f->store, IOCB_SOURCES_SYNC_CURSOR_KEY, buf, sizeof(buf) - 1, &n) != IOCB_OK)
		return UINT64_MAX;
	buf[n] = '\0';
	return strtoull(buf, NULL, 10);
}

static void persist(struct fx *f, const char *value)
{
	struct iocb_err err = {0};

	assert_int_equal(iocb_store_meta_set(f->store, IOCB_SOURCES_SYNC_CURSOR_KEY, iocb_str_c(value), &err), IOCB_OK);
	assert_int_equal(iocb_store_commit(f->store, &err), IOCB_OK);
}

static void commit(struct iocb_sources_sync *y)
{
	struct iocb_err err = {0};

	assert_int_equal(iocb_sources_sync_commit(y, &err), IOCB_OK);
}

/* ------------------------------------------------------------ cursor */

static void test_cursor_advance_reset(void **state)
{
	struct fx *f = *state;
	struct iocb_sources_sync *y = fx_sync(f, false);

	assert_int_equal(iocb_sources_sync_cursor(y), 0);
	iocb_sources_sync_cursor_advance(y, 100);
	assert_int_equal(iocb_sources_sync_cursor(y), 100);
	/* Never backwards: an older batch does not move it. */
	iocb_sources_sync_cursor_advance(y, 40);
	assert_int_equal(iocb_sources_sync_cursor(y), 100);
	commit(y);
	assert_int_equal(persisted(f), 100);
	/* reset forgets it for this generation; the next commit writes 0 (a full reconcile follows). */
	iocb_sources_sync_cursor_reset(y);
	assert_int_equal(iocb_sources_sync_cursor(y), 0);
	commit(y);
	assert_int_equal(persisted(f), 0);
}

static void test_cursor_loaded_at_init(void **state)
{
	struct fx *f = *state;

	persist(f, "1234");
	assert_int_equal(iocb_sources_sync_cursor(fx_sync(f, false)), 1234);
}

static void test_cursor_not_a_number(void **state)
{
	struct fx *f = *state;

	persist(f, "12x");
	assert_int_equal(iocb_sources_sync_cursor(fx_sync(f, false)), 0);
}

/* A persisted cursor past MISP's clock plus the skew is dropped: a full reconcile instead. */
static void test_cursor_in_future_dropped(void **state)
{
	struct fx *f = *state;
	char v[32];
	struct iocb_sources_sync *y;

	snprintf(v, sizeof(v), "%" PRIu64, (uint64_t)time(NULL) + IOCB_INGEST_FUTURE_SKEW_S + 3600);
	persist(f, v);
	y = fx_sync(f, false);
	assert_int_equal(iocb_sources_sync_cursor(y), 0);
	/* The first cursor a batch reaches replaces it (the reconcile's newest timestamp). */
	iocb_sources_sync_cursor_advance(y, 50);
	commit(y);
	assert_int_equal(persisted(f), 50);
}

/* ------------------------------------------------------------ catch-ups */

static void test_catchup_without_api_dropped(void **state)
{
	struct fx *f = *state;
	struct iocb_sources_sync *y = fx_sync(f, false);
	uint64_t from = 77;

	iocb_sources_sync_request_catchup(y, 10, "test");
	assert_false(iocb_sources_sync_take_catchup(y, &from));
	assert_int_equal(from, 77);
}

static void test_catchup_requests_merge(void **state)
{
	struct fx *f = *state;
	struct iocb_sources_sync *y = fx_sync(f, true);
	uint64_t from = 0;

	iocb_sources_sync_request_catchup(y, 50, "a");
	iocb_sources_sync_request_catchup(y, 30, "b");
	iocb_sources_sync_request_catchup(y, 60, "c");
	/* One catch-up from the oldest start covers all three. */
	assert_true(iocb_sources_sync_take_catchup(y, &from));
	assert_int_equal(from, 30);
	assert_false(iocb_sources_sync_take_catchup(y, &from));
	iocb_sources_sync_pull_end(y, true);
}

/* The persisted cursor never passes the start of a gap not caught up yet, pending or running. */
static void test_commit_pins_cursor_at_catchup(void **state)
{
	struct fx *f = *state;
	struct iocb_sources_sync *y = fx_sync(f, true);
	uint64_t from = 0;

	iocb_sources_sync_cursor_advance(y, 100);
	iocb_sources_sync_request_catchup(y, 40, "gap");
	commit(y);
	assert_int_equal(persisted(f), 40);
	assert_true(iocb_sources_sync_take_catchup(y, &from));
	assert_int_equal(from, 40);
	iocb_sources_sync_cursor_advance(y, 120);
	commit(y); /* running: still pinned */
	assert_int_equal(persisted(f), 40);
	iocb_sources_sync_pull_end(y, true);
	commit(y);
	assert_int_equal(persisted(f), 120);
}

/* A pull of its own pins the cursor too; a failed one is queued again as a catch-up from its start. */
static void test_failed_pull_queued_again(void **state)
{
	struct fx *f = *state;
	struct iocb_sources_sync *y = fx_sync(f, true);
	uint64_t from = 99;

	iocb_sources_sync_cursor_advance(y, 500);
	iocb_sources_sync_pull_begin(y, 200);
	commit(y);
	assert_int_equal(persisted(f), 200);
	iocb_sources_sync_pull_end(y, false);
	assert_true(iocb_sources_sync_take_catchup(y, &from));
	assert_int_equal(from, 200);
	iocb_sources_sync_pull_end(y, true);
	commit(y);
	assert_int_equal(persisted(f), 500);

	/* A full pull (from 0) that fails comes back as a full catch-up (0), not "none". */
	iocb_sources_sync_pull_begin(y, 0);
	iocb_sources_sync_pull_end(y, false);
	from = 99;
	assert_true(iocb_sources_sync_take_catchup(y, &from));
	assert_int_equal(from, 0);
	iocb_sources_sync_pull_end(y, true);
}

/* ------------------------------------------------------------ event refresh */

static void test_event_refresh_queue(void **state)
{
	struct fx *f = *state;
	struct iocb_sources_sync *y = fx_sync(f, true);
	uint64_t ids[IOCB_SOURCES_SYNC_MAX_EVENT_REFRESH + 8];
	size_t n;

	iocb_sources_sync_request_event_refresh(y, 7);
	iocb_sources_sync_request_event_refresh(y, 3);
	iocb_sources_sync_request_event_refresh(y, 7); /* duplicate: merged */
	iocb_sources_sync_request_event_refresh(y, 0); /* not an event id: ignored */
	n = iocb_sources_sync_take_event_refresh(y, ids, 1);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 7); /* in request order */
	n = iocb_sources_sync_take_event_refresh(y, ids, 8);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 3);
	assert_int_equal(iocb_sources_sync_take_event_refresh(y, ids, 8), 0);

	/* Bounded: past the cap, requests are dropped (the next reconcile covers them). */
	for (uint64_t id = 1; id <= IOCB_SOURCES_SYNC_MAX_EVENT_REFRESH + 5; id++)
		iocb_sources_sync_request_event_refresh(y, id);
	n = iocb_sources_sync_take_event_refresh(y, ids, IOCB_ARRAY_LEN(ids));
	assert_int_equal(n, IOCB_SOURCES_SYNC_MAX_EVENT_REFRESH);
	assert_int_equal(ids[n - 1], IOCB_SOURCES_SYNC_MAX_EVENT_REFRESH);
}

static void test_event_refresh_without_api(void **state)
{
	struct fx *f = *state;
	struct iocb_sources_sync *y = fx_sync(f, false);
	uint64_t ids[4];

	iocb_sources_sync_request_event_refresh(y, 7);
	assert_int_equal(iocb_sources_sync_take_event_refresh(y, ids, 4), 0);
}

/* ------------------------------------------------------------ stop and sleep */

static void test_stop_and_sleep(void **state)
{
	struct fx *f = *state;
	struct iocb_sources_sync *y = fx_sync(f, true);
	double t0;

	/* A short sleep runs its time and says "go on". */
	t0 = iocb_time_mono_s();
	assert_true(iocb_sources_sync_sleep(y, 0.05, false));
	assert_true(iocb_time_mono_s() - t0 >= 0.045);
	/* A pending catch-up or event refresh ends a sleep that waits for them at once. */
	iocb_sources_sync_request_catchup(y, 1, "test");
	t0 = iocb_time_mono_s();
	assert_true(iocb_sources_sync_sleep(y, 60, true));
	iocb_sources_sync_request_event_refresh(y, 9);
	assert_true(iocb_sources_sync_sleep(y, 60, true));
	assert_true(iocb_time_mono_s() - t0 < 10);
	/* Stop: the flag is seen and every sleep returns false at once. */
	assert_false(iocb_sources_sync_stopping(y));
	iocb_sources_sync_stop(y);
	assert_true(iocb_sources_sync_stopping(y));
	t0 = iocb_time_mono_s();
	assert_false(iocb_sources_sync_sleep(y, 60, false));
	assert_true(iocb_time_mono_s() - t0 < 10);
}

/* ------------------------------------------------------------ counters */

static void test_metrics_and_publish(void **state)
{
	struct fx *f = *state;
	struct iocb_sources_sync *y = fx_sync(f, false);
	struct iocb_ingest_stats st;
	struct iocb_sources_sync_metrics *m;

	m = iocb_sources_sync_metrics_add(y, "zmq");
	assert_non_null(m);
	assert_string_equal(m->name, "zmq");
	assert_int_equal(iocb_sources_sync_metrics_count(y), 1);
	assert_ptr_equal(iocb_sources_sync_metrics_get(y, 0), m);
	assert_null(iocb_sources_sync_metrics_get(y, 1));

	memset(&st, 0, sizeof(st));
	st.by_action[IOCB_ACT_ADD] = 3;
	st.by_action[IOCB_ACT_NONE] = 2;
	st.upserts = 4;
	st.removes = 1;
	st.max_timestamp = 1700000000;
	m->own_removes = 2;
	m->own_rejects[IOCB_SKIP_TOO_LARGE] = 1;
	iocb_sources_sync_publish(y, m, &st, false);
	assert_int_equal(IOCB_M_GET(m->acts[IOCB_SA_ADD]), 3);
	assert_int_equal(IOCB_M_GET(m->acts[IOCB_SA_SNAPSHOT]), 2);
	assert_int_equal(IOCB_M_GET(m->acts[IOCB_SA_UPSERT]), 4);
	assert_int_equal(IOCB_M_GET(m->acts[IOCB_SA_REMOVE]), 3); /* the ingest's and the source's own */
	assert_int_equal(IOCB_M_GET(m->rejects[IOCB_SKIP_TOO_LARGE]), 1);
	assert_true(IOCB_M_GET(m->last_update_us) > 0);
	assert_int_equal(iocb_sources_sync_cursor(y), 0); /* feeds: no cursor */
	iocb_sources_sync_publish(y, m, &st, true);
	assert_int_equal(iocb_sources_sync_cursor(y), 1700000000);

	/* The table is bounded. */
	for (size_t i = 1; i < IOCB_SOURCES_SYNC_MAX_SOURCES; i++)
		assert_non_null(iocb_sources_sync_metrics_add(y, "feed:x"));
	assert_null(iocb_sources_sync_metrics_add(y, "one too many"));
	assert_string_equal(iocb_sources_sync_act_name(IOCB_SA_SOFT_DELETE), "soft_delete");
	assert_string_equal(iocb_sources_sync_act_name(IOCB_SA__COUNT), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cursor_advance_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_loaded_at_init, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_not_a_number, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_in_future_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catchup_without_api_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catchup_requests_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_pins_cursor_at_catchup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_pull_queued_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_refresh_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_refresh_without_api, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_and_sleep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_and_publish, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
