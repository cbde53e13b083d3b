/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the daemon's decisions and texts (src/daemon/internal.h),
 * without starting it: the /healthz line in each state, the daemon's own
 * /metrics families, whether a reload changed the filter or settings that
 * apply only on restart, and which configuration paths SIGHUP can read
 * again. Starting, reloading and stopping for real is tests/e2e
 * (test_run_daemon, test_run_shutdown_log, ...).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/time.h"
#include "daemon/internal.h"
#include "sources/sources.h"
#include "store/store.h"

static struct iocb_config *load(const char *yaml)
{
	struct iocb_config *c = NULL;
	struct iocb_err err = {0};

	if (iocb_config_load_string("t.yaml", yaml, strlen(yaml), &c, &err) < 0)
		fail_msg("config: %s", err.msg);
	return c;
}

/* ------------------------------------------------------------ /healthz */

static void test_health_stopping(void **state)
{
	struct iocb_daemon__health h = {.running = false, .outputs = 1, .store_failing = "disk full"};
	struct iocb_buf out;

	(void)state;
	iocb_buf_init(&out, 4096);
	/* Stopping (or not started): 503 and nothing else, whatever the rest says. */
	assert_false(iocb_daemon__health_render(&h, &out));
	assert_string_equal(out.ptr, "stopping\n");
	iocb_buf_fini(&out);
}

static void test_health_running(void **state)
{
	struct iocb_config *cfg = iocb_config_default();
	struct iocb_store_opts so;
	struct iocb_store *store = NULL;
	struct iocb_sources_sync y;
	struct iocb_err err = {0};
	struct iocb_buf out;

	(void)state;
	iocb_store_opts_default(&so);
	assert_int_equal(iocb_store_open(&so, &store, &err), IOCB_OK);
	iocb_sources_sync_init(&y, store, NULL, cfg);
	IOCB_M_SET(iocb_sources_sync_metrics_add(&y, "zmq")->up, 1);
	(void)iocb_sources_sync_metrics_add(&y, "pull");
	iocb_buf_init(&out, 4096);

	struct iocb_daemon__health h = {.running = true, .sync = &y, .outputs = -1};
	assert_true(iocb_daemon__health_render(&h, &out));
	assert_string_equal(out.ptr, "ok zmq=up pull=down\n");

	/* A failing output is informative: still 200. */
	iocb_buf_reset(&out);
	h.outputs = 0;
	assert_true(iocb_daemon__health_render(&h, &out));
	assert_string_equal(out.ptr, "ok zmq=up pull=down outputs=failing\n");

	/* Failing store commits: "degraded", still 200, with the reason. */
	iocb_buf_reset(&out);
	h.outputs = 1;
	h.store_failing = "mdb_txn_commit: MDB_MAP_FULL";
	assert_true(iocb_daemon__health_render(&h, &out));
	assert_string_equal(out.ptr,
			    "degraded zmq=up pull=down outputs=up store=failing (mdb_txn_commit: MDB_MAP_FULL)\n");

	/* The bus, when it runs. */
	iocb_buf_reset(&out);
	h.store_failing = NULL;
	h.bus = true;
	assert_true(iocb_daemon__health_render(&h, &out));
	assert_string_equal(out.ptr, "ok zmq=up pull=down outputs=up bus=up\n");

	/* A full buffer truncates the line; the answer stays. */
	struct iocb_buf tiny;
	iocb_buf_init(&tiny, 10);
	assert_true(iocb_daemon__health_render(&h, &tiny));
	assert_true(tiny.len <= 10);
	iocb_buf_fini(&tiny);

	iocb_buf_fini(&out);
	iocb_sources_sync_fini(&y);
	iocb_store_free(store);
	iocb_config_free(cfg);
}

/* ------------------------------------------------------------ /metrics */

static void test_counters_render(void **state)
{
	struct iocb_daemon__counters c = {.reloads_ok = 3, .reloads_failed = 1, .refiltered = 42,
					  .started_us = 1700000000123456};
	struct iocb_buf out;

	(void)state;
	iocb_buf_init(&out, 4096);
	iocb_daemon__counters_render(&c, &out);
	assert_string_equal(out.ptr,
			    "# HELP iocbus_config_reloads_total SIGHUP reloads by result.\n"
			    "# TYPE iocbus_config_reloads_total counter\n"
			    "iocbus_config_reloads_total{result=\"ok\"} 3\n"
			    "iocbus_config_reloads_total{result=\"error\"} 1\n"
			    "# HELP iocbus_filter_removed_total Attributes removed because a reloaded filter rejects them.\n"
			    "# TYPE iocbus_filter_removed_total counter\n"
			    "iocbus_filter_removed_total 42\n"
			    "# HELP iocbus_start_time_seconds Wall-clock time the daemon started.\n"
			    "# TYPE iocbus_start_time_seconds gauge\n"
			    "iocbus_start_time_seconds 1700000000.123\n");
	iocb_buf_fini(&out);
}

/*
 * quality.expire_after in the daemon (issue #15): start requalifies what is
 * stored and marks what already expired before any listener; a sweep at a
 * later instant announces the rest; the metrics say so. An unknown rule
 * source fails the start with its place.
 */
static void on_change(void *ud, const struct iocb_store_attr *old, const struct iocb_store_attr *nw)
{
	(void)old;
	if (!nw)
		(*(int *)ud)++;
}

static void test_quality(void **state)
{
	struct iocb_config *c = load("intel: [/x]\nquality:\n  expire_after:\n    rules:\n"
				     "      - {source: intel, max_age: 100s}\n");
	struct iocb_config *bad = load("quality:\n  expire_after:\n    rules:\n      - {source: nope, max_age: 1s}\n");
	struct iocb_store_opts so;
	struct iocb_store *s = NULL;
	struct iocb_err err = {0};
	struct iocb_daemon__quality q;
	struct iocb_misp_attr a = {0};
	struct iocb_buf out;
	int removed = 0;
	int64_t now = iocb_time_real_us() / 1000000;
	const struct iocb_misp_type *t = iocb_misp_type_find(iocb_str_c("domain"));

	(void)state;
	iocb_store_opts_default(&so);
	assert_int_equal(iocb_store_open(&so, &s, &err), IOCB_OK);
	a.type = t;
	a.value = a.part[0] = iocb_str_c("old.example");
	a.nparts = 1;
	a.prefix[0] = a.prefix[1] = -1;
	a.first_seen_us = a.last_seen_us = INT64_MIN;
	a.to_ids = true;
	a.uuid = iocb_str_c("11111111-1111-4111-8111-111111111111");
	a.timestamp = (uint64_t)(now - 1000); /* expired already */
	assert_int_equal(iocb_store_upsert(s, &a, 0, (uint64_t)now, &err), IOCB_OK);
	a.uuid = iocb_str_c("22222222-2222-4222-8222-222222222222");
	a.value = a.part[0] = iocb_str_c("fresh.example");
	a.timestamp = (uint64_t)now; /* expires in 100 s */
	assert_int_equal(iocb_store_upsert(s, &a, 0, (uint64_t)now, &err), IOCB_OK);

	assert_int_equal(iocb_daemon__quality_start(&q, bad, s, &err), IOCB_ECONFIG);
	assert_non_null(strstr(err.msg, "unknown source 'nope'"));
	iocb_daemon__quality_stop(&q);
	assert_int_equal(iocb_daemon__quality_start(&q, c, s, &err), IOCB_OK);
	assert_int_equal(q.expired_now, 1);
	assert_true(iocb_store_listen(s, on_change, &removed) >= 0);
	assert_int_equal(iocb_daemon__quality_sweep(&q, now + 100), IOCB_OK);
	assert_int_equal(removed, 1); /* only the one that expired since: the first was never announced */
	struct iocb_store_stats st;
	iocb_store_stats(s, &st);
	iocb_buf_init(&out, 8192);
	assert_int_equal(iocb_daemon__quality_metrics(&q, &st, &out), IOCB_OK);
	assert_non_null(strstr(out.ptr, "\niocbus_quality_expired 2\n"));
	assert_non_null(strstr(out.ptr, "\niocbus_quality_expired_total 2\n"));
	assert_non_null(strstr(out.ptr, "iocbus_quality_decay_sightings_total{type=\"2\"} 0\n"));
	iocb_buf_fini(&out);
	iocb_daemon__quality_stop(&q);
	iocb_store_free(s);
	iocb_config_free(c);
	iocb_config_free(bad);
}

/* A stand-in for the warninglist callback: suppresses "old.example". */
static void suppress_old(void *ud, const struct iocb_store_attr *a, struct iocb_store_quality *q)
{
	struct iocb_store_attr_view v;

	(void)ud;
	iocb_store_attr_view(a, &v);
	if (iocb_str_eq(v.value, iocb_str_c("old.example")))
		q->wl_action = IOCB_STORE_WL_SUPPRESS;
}

/*
 * Warninglists without decay still need the sweep: it is what withdraws a
 * suppressed record from the bus, the stream and the exports.
 */
static void test_quality_sweep_for_warninglists(void **state)
{
	struct iocb_config *c = load("intel: [/x]\nquality:\n  warninglists:\n    paths: [/x]\n");
	struct iocb_config *none = load("intel: [/x]\n");
	struct iocb_store_opts so;
	struct iocb_store *s = NULL;
	struct iocb_err err = {0};
	struct iocb_daemon__quality q;
	struct iocb_misp_attr a = {0};
	int removed = 0;
	int64_t now = iocb_time_real_us() / 1000000;

	(void)state;
	iocb_store_opts_default(&so);
	assert_int_equal(iocb_store_open(&so, &s, &err), IOCB_OK);
	assert_true(iocb_store_quality_add(s, suppress_old, NULL) >= 0);
	a.type = iocb_misp_type_find(iocb_str_c("domain"));
	a.value = a.part[0] = iocb_str_c("fresh.example");
	a.nparts = 1;
	a.prefix[0] = a.prefix[1] = -1;
	a.first_seen_us = a.last_seen_us = INT64_MIN;
	a.to_ids = true;
	a.timestamp = (uint64_t)now;
	a.uuid = iocb_str_c("33333333-3333-4333-8333-333333333333");
	assert_int_equal(iocb_store_upsert(s, &a, 0, (uint64_t)now, &err), IOCB_OK);
	assert_int_equal(iocb_daemon__quality_start(&q, none, s, &err), IOCB_OK);
	assert_false(q.running); /* nothing marks records: no sweep */
	iocb_daemon__quality_stop(&q);
	assert_int_equal(iocb_daemon__quality_start(&q, c, s, &err), IOCB_OK);
	assert_true(q.running);
	assert_true(iocb_store_listen(s, on_change, &removed) >= 0);
	a.uuid = iocb_str_c("44444444-4444-4444-8444-444444444444");
	a.value = a.part[0] = iocb_str_c("old.example");
	assert_int_equal(iocb_store_upsert(s, &a, 0, (uint64_t)now, &err), IOCB_OK);
	removed = 0;
	assert_int_equal(iocb_daemon__quality_sweep(&q, now), IOCB_OK);
	assert_int_equal(removed, 1); /* the suppressed one is withdrawn from listeners */
	iocb_daemon__quality_stop(&q);
	iocb_store_free(s);
	iocb_config_free(c);
	iocb_config_free(none);
}

/* ------------------------------------------------------------ reload decisions */

#define MISP_HEAD "misp:\n  api: {host: 'https://m', key: k}\n"

static void test_filters_equal(void **state)
{
	struct iocb_config *a = load(MISP_HEAD "  filter:\n    - orgs: [\"1\", \"25\"]\n      tags: [\"TLP:RED\"]\n");
	struct iocb_config *same = load(MISP_HEAD "  pull: {interval: 60}\n"
						  "  filter:\n    - orgs: [\"1\", \"25\"]\n      tags: [\"TLP:RED\"]\n");
	struct iocb_config *other_org = load(MISP_HEAD "  filter:\n    - orgs: [\"1\", \"26\"]\n      tags: [\"TLP:RED\"]\n");
	struct iocb_config *reorder = load(MISP_HEAD "  filter:\n    - orgs: [\"25\", \"1\"]\n      tags: [\"TLP:RED\"]\n");
	struct iocb_config *no_tags = load(MISP_HEAD "  filter:\n    - orgs: [\"1\", \"25\"]\n");
	struct iocb_config *org_field = load(MISP_HEAD "  filter_org_field: org_id\n"
						       "  filter:\n    - orgs: [\"1\", \"25\"]\n      tags: [\"TLP:RED\"]\n");
	struct iocb_config *none = load(MISP_HEAD);

	(void)state;
	assert_true(iocb_daemon__filters_equal(a, a));
	assert_true(iocb_daemon__filters_equal(a, same)); /* other settings do not count */
	assert_false(iocb_daemon__filters_equal(a, other_org));
	assert_false(iocb_daemon__filters_equal(a, reorder)); /* a reorder counts as a change */
	assert_false(iocb_daemon__filters_equal(a, no_tags));
	assert_false(iocb_daemon__filters_equal(a, org_field));
	assert_false(iocb_daemon__filters_equal(a, none));
	assert_true(iocb_daemon__filters_equal(none, none));
	iocb_config_free(a);
	iocb_config_free(same);
	iocb_config_free(other_org);
	iocb_config_free(reorder);
	iocb_config_free(no_tags);
	iocb_config_free(org_field);
	iocb_config_free(none);
}

static void test_restart_settings(void **state)
{
	static const char *const restart[] = {
		MISP_HEAD "store: {path: /tmp/iocb-other}\n",
		MISP_HEAD "http: {port: 9999}\n",
		MISP_HEAD "http: {host: 127.0.0.2}\n",
		MISP_HEAD "http: {enabled: false}\n",
		MISP_HEAD "http: {max_connections: 7}\n",
		MISP_HEAD "http: {idle_timeout: 7}\n",
		MISP_HEAD "http: {header_timeout: 7}\n",
		/* issue #16 */
		MISP_HEAD "http: {status: {max_tlp: red}}\n",
		MISP_HEAD "http: {status: {matches: 5}}\n",
		MISP_HEAD "http: {auth: {token_file: /tmp/iocb-tokens}}\n",
		MISP_HEAD "http: {misp_api: {keys: Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1}}\n",
	};
	struct iocb_config *base = load(MISP_HEAD);
	struct iocb_config *live = load(MISP_HEAD "  pull: {interval: 60}\nlogging: {level: info}\n");

	(void)state;
	/* What a reload applies (pull, log level, filters) is not a restart setting. */
	assert_false(iocb_daemon__restart_settings_changed(base, base));
	assert_false(iocb_daemon__restart_settings_changed(base, live));
	for (size_t i = 0; i < IOCB_ARRAY_LEN(restart); i++) {
		struct iocb_config *c = load(restart[i]);
		if (!iocb_daemon__restart_settings_changed(base, c))
			fail_msg("not seen as a restart setting: %s", restart[i]);
		iocb_config_free(c);
	}
	iocb_config_free(base);
	iocb_config_free(live);
}

#define BUS_HEAD MISP_HEAD "store: {path: /tmp/iocb-s}\n"

static void test_services_changed(void **state)
{
	static const char *const restart[] = {
		BUS_HEAD,
		BUS_HEAD "bus: {host: 127.0.0.2}\nsightings: {}\n",
		BUS_HEAD "bus: {manage: 1}\nsightings: {}\n",
		BUS_HEAD "bus: {heartbeat_timeout: 5s}\nsightings: {}\n",
		BUS_HEAD "bus: {subscriber_queue: 100}\nsightings: {}\n",
		BUS_HEAD "bus: {curve: {secret_key_file: k, clients_file: c}}\nsightings: {}\n",
		BUS_HEAD "bus: {}\n",
		BUS_HEAD "bus: {}\nsightings: {batch_max: 7}\n",
		BUS_HEAD "bus: {}\nsightings: {dedup_window: 1m}\n",
		BUS_HEAD "bus: {}\nsightings: {from_matches: true}\n",
		"misp:\n  api: {host: 'https://other', key: k}\nstore: {path: /tmp/iocb-s}\nbus: {}\nsightings: {}\n",
		"misp:\n  api: {host: 'https://m', key: other}\nstore: {path: /tmp/iocb-s}\nbus: {}\nsightings: {}\n",
	};
	struct iocb_config *base = load(BUS_HEAD "bus: {}\nsightings: {}\n");
	struct iocb_config *live = load(BUS_HEAD "bus: {}\nsightings: {}\nlogging: {level: info}\n");
	struct iocb_config *nos = load(MISP_HEAD "store: {path: /tmp/iocb-s}\n");
	struct iocb_config *nos_api = load("misp:\n  api: {host: 'https://other', key: k}\nstore: {path: /tmp/iocb-s}\n");

	(void)state;
	assert_false(iocb_daemon__services_changed(base, base));
	assert_false(iocb_daemon__services_changed(base, live));
	/* Without sightings the MISP client is the pull's, which a reload applies. */
	assert_false(iocb_daemon__services_changed(nos, nos_api));
	for (size_t i = 0; i < IOCB_ARRAY_LEN(restart); i++) {
		struct iocb_config *c = load(restart[i]);
		if (!iocb_daemon__services_changed(base, c))
			fail_msg("not seen as a restart setting: %s", restart[i]);
		iocb_config_free(c);
	}
	iocb_config_free(base);
	iocb_config_free(live);
	iocb_config_free(nos);
	iocb_config_free(nos_api);
}

static void test_reloadable(void **state)
{
	char dir[] = "/tmp/iocb_test_daemon.XXXXXX", path[128];
	struct iocb_err err = {0};
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/iocbus.yaml", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(iocb_daemon__reloadable(path, &err), IOCB_OK);
	unlink(path);
	/* Gone: the loader says so with its own message. */
	assert_int_equal(iocb_daemon__reloadable(path, &err), IOCB_OK);
	/* A FIFO (what `-c <(...)` gives) is refused without being opened. */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(iocb_daemon__reloadable(path, &err), IOCB_ECONFIG);
	assert_non_null(strstr(err.msg, "is not a regular file (a pipe is read once, at start)"));
	assert_non_null(strstr(err.msg, path));
	unlink(path);
	assert_int_equal(iocb_daemon__reloadable(dir, &err), IOCB_ECONFIG);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_stopping),
		cmocka_unit_test(test_health_running),
		cmocka_unit_test(test_counters_render),
		cmocka_unit_test(test_quality),
		cmocka_unit_test(test_quality_sweep_for_warninglists),
		cmocka_unit_test(test_services_changed),
		cmocka_unit_test(test_filters_equal),
		cmocka_unit_test(test_restart_settings),
		cmocka_unit_test(test_reloadable),
	};

	iocb_log_set_level(IOCB_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
