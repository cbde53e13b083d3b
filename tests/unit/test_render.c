/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the rendering of store hits (serve/render/render.h): the
 * lookup JSON that `iocbus lookup` and GET /v1/lookup print, byte for byte,
 * over a memory store filled by hand (fixture_store.h).
 */
#include "serve/render/render.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "fixture_store.h"

static void test_hit_json(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_store_hit h[2];
	struct iocb_buf b;
	struct iocb_jw w;
	struct iocb_misp_tag tag = {IOCB_STR_LIT("tlp:white"), false, false};
	(void)state;

	fixture_attr_make(&t, 1, "ip-dst", "198.51.100.0/24", NULL, 24, 5, true);
	t.a.tags = &tag;
	t.a.ntags = 1;
	t.a.first_seen_us = 1700000000123456LL;
	t.ev.orgc_name = IOCB_STR_LIT("ORG");
	t.ev.orgc_id = 3;
	t.ev.has_orgc_id = true;
	fixture_store_upsert(s, &t.a);
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "domain", "noevent.example", NULL, -1, 0, true));
	iocb_buf_init(&b, 0);
	iocb_store_read_lock();
	assert_int_equal(iocb_store_lookup(s, IOCB_MC_IP, IOCB_STR_LIT("198.51.100.9"), h, 2), 1);
	iocb_jw_init(&w, &b);
	iocb_render_hit_json(&w, &h[0]);
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	assert_string_equal(
		b.ptr,
		"{\"match\":{\"class\":\"ip\",\"part\":0,\"prefix\":24},"
		"\"attribute\":{\"uuid\":\"0000000a-0000-4000-8000-000000000001\",\"id\":1001,\"type\":\"ip-dst\","
		"\"category\":\"Network activity\",\"value\":\"198.51.100.0/24\",\"to_ids\":true,"
		"\"comment\":\"comment-for-0000000a-0000-4000-8000-000000000001\",\"timestamp\":1700000001,"
		"\"first_seen\":\"2023-11-14T22:13:20.123456+00:00\",\"last_seen\":null,\"tags\":[\"tlp:white\"]},"
		"\"event\":{\"uuid\":\"0000000e-0000-4000-8000-000000000005\",\"id\":5,\"info\":\"test event\","
		"\"threat_level_id\":2,\"orgc\":{\"id\":3,\"name\":\"ORG\",\"uuid\":null},\"date\":null,\"tags\":[]}}");
	iocb_buf_reset(&b);
	assert_int_equal(iocb_store_lookup(s, IOCB_MC_DOMAIN, IOCB_STR_LIT("noevent.example"), h, 2), 1);
	iocb_jw_init(&w, &b);
	iocb_render_hit_json(&w, &h[0]);
	assert_non_null(strstr(b.ptr, "\"event\":null}"));
	iocb_store_read_unlock();
	iocb_buf_fini(&b);
	iocb_store_free(s);
}

/* The answer object: the raw value as given, the matches, and "truncated" past max. */
static void test_lookup_json(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_store_hit h[2];
	struct iocb_buf b;
	struct iocb_jw w;
	(void)state;

	for (uint64_t i = 1; i <= 3; i++)
		fixture_store_upsert(s, fixture_attr_make(&t, i, "domain", "evil.example", NULL, -1, i, true));
	iocb_buf_init(&b, 0);
	iocb_store_read_lock();
	iocb_jw_init(&w, &b);
	assert_int_equal(iocb_render_lookup_json(s, &w, IOCB_STR_LIT("nothing.example"), h, 2), 0);
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	assert_string_equal(b.ptr, "{\"value\":\"nothing.example\",\"matches\":[]}");
	iocb_buf_reset(&b);
	iocb_jw_init(&w, &b);
	assert_int_equal(iocb_render_lookup_json(s, &w, IOCB_STR_LIT(" EVIL.example. "), h, 2), 3);
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	static const char head[] = "{\"value\":\" EVIL.example. \",\"matches\":[{\"match\":";
	assert_memory_equal(b.ptr, head, sizeof(head) - 1);
	assert_non_null(strstr(b.ptr, "}}],\"truncated\":true}"));
	iocb_store_read_unlock();
	iocb_buf_fini(&b);
	iocb_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_json),
		cmocka_unit_test(test_lookup_json),
	};
	int rc;

	iocb_store_reader_register();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	iocb_store_reader_unregister();
	return rc;
}
