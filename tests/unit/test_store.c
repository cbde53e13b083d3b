/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the indicator store, through store.h only (plus LMDB to
 * tamper with a database's format version). Attributes are built by hand
 * (fixture_store.h) so the tests do not depend on the JSON parser.
 */
#include "store/store.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <lmdb.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "fixture_store.h"

/* ------------------------------------------------------------ helpers */

static void commit(struct iocb_store *s)
{
	struct iocb_err err;
	int rc = iocb_store_commit(s, &err);
	if (rc != IOCB_OK)
		fail_msg("commit: %s", err.msg);
}

static size_t look(const struct iocb_store *s, enum iocb_match_class mc, const char *v, struct iocb_store_hit *h,
		   size_t max)
{
	iocb_store_read_lock();
	size_t n = iocb_store_lookup(s, mc, iocb_str_c(v), h, max);
	iocb_store_read_unlock();
	return n;
}

static size_t look_ip(const struct iocb_store *s, const char *ip, struct iocb_store_hit *h, size_t max)
{
	uint8_t a[16];
	bool v6 = strchr(ip, ':') != NULL;
	assert_int_equal(inet_pton(v6 ? AF_INET6 : AF_INET, ip, a), 1);
	iocb_store_read_lock();
	size_t n = iocb_store_lookup_ip(s, a, v6, h, max);
	iocb_store_read_unlock();
	return n;
}

static void view(const struct iocb_store_hit *h, struct iocb_store_attr_view *v)
{
	iocb_store_attr_view(h->attr, v);
}

/* ------------------------------------------------------------ tests */

static void test_add_lookup_update_remove(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_store_hit h[8];
	struct iocb_store_attr_view v;
	struct iocb_err err;
	(void)state;

	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "evil.example", NULL, -1, 7, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "md5", "d41d8cd98f00b204e9800998ecf8427e", NULL, -1, 7, true));
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "evil.example", h, 8), 1);
	view(&h[0], &v);
	assert_string_equal(v.uuid, "0000000a-0000-4000-8000-000000000001");
	assert_true(iocb_str_eq_c(v.value, "evil.example"));
	assert_true(iocb_str_eq_c(v.category, "Network activity"));
	assert_true(iocb_str_eq_c(v.comment, "comment-for-0000000a-0000-4000-8000-000000000001"));
	assert_int_equal(v.id, 1001);
	assert_true(v.to_ids);
	assert_string_equal(v.type->name, "domain");
	assert_int_equal(h[0].mc, IOCB_MC_DOMAIN);
	assert_int_equal(h[0].prefix, -1);
	assert_non_null(v.event);
	assert_int_equal(look(s, IOCB_MC_HASH, "d41d8cd98f00b204e9800998ecf8427e", h, 8), 1);
	/* wrong class, unknown value */
	assert_int_equal(look(s, IOCB_MC_FILENAME, "evil.example", h, 8), 0);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "good.example", h, 8), 0);

	/* update: same uuid, new value and comment */
	fixture_attr_make(&t, 1, "domain", "worse.example", NULL, -1, 7, true);
	t.a.comment = IOCB_STR_LIT("edited");
	fixture_store_upsert(s, &t.a);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "evil.example", h, 8), 0);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "worse.example", h, 8), 1);
	view(&h[0], &v);
	assert_true(iocb_str_eq_c(v.comment, "edited"));
	/* update with the same value keeps one hit */
	fixture_store_upsert(s, &t.a);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "worse.example", h, 8), 1);
	iocb_store_read_lock();
	assert_non_null(iocb_store_get(s, iocb_str_c(t.uuid)));
	iocb_store_read_unlock();

	struct iocb_store_stats st;
	iocb_store_stats(s, &st);
	assert_int_equal(st.attrs, 2);
	assert_int_equal(st.events, 1);
	assert_int_equal(st.by_class[IOCB_MC_DOMAIN], 1);

	assert_int_equal(iocb_store_remove(s, iocb_str_c(t.uuid), &err), IOCB_OK);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "worse.example", h, 8), 0);
	assert_int_equal(iocb_store_remove(s, iocb_str_c(t.uuid), &err), IOCB_ENOTFOUND);
	iocb_store_read_lock();
	assert_null(iocb_store_get(s, iocb_str_c(t.uuid)));
	iocb_store_read_unlock();
	commit(s);
	assert_int_equal(look(s, IOCB_MC_HASH, "d41d8cd98f00b204e9800998ecf8427e", h, 8), 1);

	/* invalid input */
	fixture_attr_make(&t, 3, "domain", "x.example", NULL, -1, 0, true);
	t.a.uuid = IOCB_STR_LIT("not-a-uuid");
	assert_int_equal(iocb_store_upsert(s, &t.a, 0, 0, &err), IOCB_EINVAL);
	fixture_attr_make(&t, 3, "domain", "x.example", NULL, -1, 0, true);
	assert_int_equal(iocb_store_upsert(s, &t.a, 64, 0, &err), IOCB_EINVAL);
	iocb_store_free(s);
}

static void test_shared_value(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_store_hit h[8];
	struct iocb_err err;
	(void)state;

	for (uint64_t i = 0; i < 5; i++)
		fixture_store_upsert(s, fixture_attr_make(&t, 10 + i, "ip-dst", "192.0.2.1", NULL, -1, 100 + i, true));
	assert_int_equal(look_ip(s, "192.0.2.1", h, 8), 5);
	/* max smaller than the total: total still counted */
	assert_int_equal(look_ip(s, "192.0.2.1", h, 2), 5);
	bool seen[5] = {false};
	assert_int_equal(look_ip(s, "192.0.2.1", h, 8), 5);
	for (int i = 0; i < 5; i++) {
		struct iocb_store_attr_view v;
		struct iocb_store_event_view ev;
		view(&h[i], &v);
		iocb_store_event_view(v.event, &ev);
		assert_true(ev.id >= 100 && ev.id < 105);
		seen[ev.id - 100] = true;
	}
	for (int i = 0; i < 5; i++)
		assert_true(seen[i]);
	fixture_uuid(t.uuid, 0xa, 12);
	assert_int_equal(iocb_store_remove(s, iocb_str_c(t.uuid), &err), IOCB_OK);
	assert_int_equal(look_ip(s, "192.0.2.1", h, 8), 4);
	for (uint64_t i = 0; i < 5; i++) {
		fixture_uuid(t.uuid, 0xa, 10 + i);
		if (iocb_store_remove(s, iocb_str_c(t.uuid), &err) < 0) { /* absent is fine */ }
	}
	assert_int_equal(look_ip(s, "192.0.2.1", h, 8), 0);
	commit(s);
	iocb_store_free(s);
}

static void test_composite(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_store_hit h[8];
	struct iocb_store_attr_view v;
	(void)state;

	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain|ip", "c2.example", "198.51.100.7", -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "ip-dst|port", "203.0.113.9", "443", -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "filename|md5", "evil.exe", "0123456789abcdef0123456789abcdef", -1,
						1, true));
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "c2.example", h, 8), 1);
	assert_int_equal(h[0].part, 0);
	assert_int_equal(look_ip(s, "198.51.100.7", h, 8), 1);
	assert_int_equal(h[0].part, 1);
	assert_int_equal(h[0].mc, IOCB_MC_IP);
	view(&h[0], &v);
	assert_true(iocb_str_eq_c(v.value, "c2.example|198.51.100.7"));
	assert_int_equal(v.nparts, 2);
	assert_true(iocb_str_eq_c(v.part[0], "c2.example"));
	assert_true(iocb_str_eq_c(v.part[1], "198.51.100.7"));
	assert_int_equal(look_ip(s, "203.0.113.9", h, 8), 1);
	assert_int_equal(look(s, IOCB_MC_PORT, "443", h, 8), 0);
	assert_int_equal(look(s, IOCB_MC_FILENAME, "evil.exe", h, 8), 1);
	assert_int_equal(look(s, IOCB_MC_HASH, "0123456789abcdef0123456789abcdef", h, 8), 1);
	assert_int_equal(h[0].part, 1);
	/* an update changing one part: the other stays found */
	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain|ip", "c2.example", "198.51.100.8", -1, 1, true));
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "c2.example", h, 8), 1);
	assert_int_equal(look_ip(s, "198.51.100.7", h, 8), 0);
	assert_int_equal(look_ip(s, "198.51.100.8", h, 8), 1);
	commit(s);
	iocb_store_free(s);
}

static void test_cidr_v4(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_store_hit h[16];
	(void)state;

	fixture_store_upsert(s, fixture_attr_make(&t, 1, "ip-dst", "10.0.0.0/8", NULL, 8, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "ip-dst", "10.1.0.0/16", NULL, 16, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "ip-src", "10.1.2.3/24", NULL, 24, 1, true)); /* host bits set */
	fixture_store_upsert(s, fixture_attr_make(&t, 4, "ip-dst", "10.1.2.3", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 5, "ip-dst", "0.0.0.0/0", NULL, 0, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 6, "ip-dst", "172.16.0.0/12", NULL, 12, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 7, "ip-dst", "10.200.1.1/8", NULL, 8, 2, true)); /* same /8, host bits */
	for (int round = 0; round < 2; round++) {
		/* round 0: prefixes in the delta; round 1: in the rebuilt base */
		size_t n = look_ip(s, "10.1.2.3", h, 16);
		assert_int_equal(n, 6);
		assert_int_equal(h[0].prefix, -1);
		assert_int_equal(h[1].prefix, 24);
		assert_int_equal(h[2].prefix, 16);
		assert_int_equal(h[3].prefix, 8);
		assert_int_equal(h[4].prefix, 8);
		assert_int_equal(h[5].prefix, 0);
		assert_int_equal(look_ip(s, "10.1.2.4", h, 16), 5);
		assert_int_equal(look_ip(s, "10.200.0.1", h, 16), 3);
		assert_int_equal(look_ip(s, "11.0.0.1", h, 16), 1);
		assert_int_equal(look_ip(s, "172.31.255.255", h, 16), 2);
		assert_int_equal(look_ip(s, "172.32.0.0", h, 16), 1);
		assert_int_equal(look_ip(s, "255.255.255.255", h, 16), 1);
		/* text lookups: an address (exact + prefixes), a prefix (that prefix) */
		assert_int_equal(look(s, IOCB_MC_IP, "10.1.2.3", h, 16), 6);
		assert_int_equal(look(s, IOCB_MC_IP, "10.1.2.0/24", h, 16), 1);
		assert_int_equal(look(s, IOCB_MC_IP, "10.0.0.0/8", h, 16), 2);
		commit(s);
	}
	/* remove the /16: gone before and after the rebuild */
	struct iocb_err err;
	fixture_uuid(t.uuid, 0xa, 2);
	assert_int_equal(iocb_store_remove(s, iocb_str_c(t.uuid), &err), IOCB_OK);
	assert_int_equal(look_ip(s, "10.1.2.4", h, 16), 4);
	commit(s);
	assert_int_equal(look_ip(s, "10.1.2.4", h, 16), 4);
	struct iocb_store_stats st;
	iocb_store_stats(s, &st);
	assert_int_equal(st.cidrs_v4, 5);
	iocb_store_free(s);
}

static void test_cidr_v6(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_store_hit h[16];
	(void)state;

	fixture_store_upsert(s, fixture_attr_make(&t, 1, "ip-dst", "2001:db8::/32", NULL, 32, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "ip-dst", "2001:db8:1::/48", NULL, 48, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "ip-dst", "2001:db8:1:2::5/64", NULL, 64, 1, true)); /* host bits */
	fixture_store_upsert(s, fixture_attr_make(&t, 4, "ip-dst", "2001:db8:1:2::5", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 5, "ip-dst", "::/0", NULL, 0, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 6, "ip-dst", "10.0.0.0/8", NULL, 8, 1, true)); /* other family */
	for (int round = 0; round < 2; round++) {
		assert_int_equal(look_ip(s, "2001:db8:1:2::5", h, 16), 5);
		assert_int_equal(h[0].prefix, -1);
		assert_int_equal(h[1].prefix, 64);
		assert_int_equal(h[2].prefix, 48);
		assert_int_equal(h[3].prefix, 32);
		assert_int_equal(h[4].prefix, 0);
		assert_int_equal(look_ip(s, "2001:db8:1:3::1", h, 16), 3);
		assert_int_equal(look_ip(s, "2001:db9::1", h, 16), 1);
		assert_int_equal(look_ip(s, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", h, 16), 1);
		assert_int_equal(look_ip(s, "10.0.0.1", h, 16), 1);
		commit(s);
	}
	iocb_store_free(s);
}

/* Random prefixes against a brute-force scan, across deltas, rebuilds and removals. */
static void test_cidr_random(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	enum { N = 3000, Q = 3000 };
	static uint32_t net[N];
	static int plen[N];
	static bool live[N];
	struct iocb_store_hit h[40];
	struct iocb_err err;
	char txt[64];
	unsigned seed = 12345;
	(void)state;

	for (int i = 0; i < N; i++) {
		plen[i] = 8 + rand_r(&seed) % 24;
		net[i] = ((uint32_t)rand_r(&seed) << 1) ^ (uint32_t)rand_r(&seed);
		net[i] &= 0x0fffffffu; /* dense enough to nest */
		uint32_t be = htonl(net[i]);
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &be, a, sizeof(a));
		snprintf(txt, sizeof(txt), "%s/%d", a, plen[i]);
		fixture_store_upsert(s, fixture_attr_make(&t, (uint64_t)i, "ip-dst", txt, NULL, plen[i], 1, true));
		live[i] = true;
		if (i % 1000 == 999)
			commit(s);
	}
	for (int i = 0; i < N; i += 3) {
		fixture_uuid(t.uuid, 0xa, (uint64_t)i);
		assert_int_equal(iocb_store_remove(s, iocb_str_c(t.uuid), &err), IOCB_OK);
		live[i] = false;
	}
	for (int round = 0; round < 2; round++) {
		for (int q = 0; q < Q; q++) {
			uint32_t a = q % 2 ? net[rand_r(&seed) % N] + (uint32_t)(rand_r(&seed) % 256)
					   : (((uint32_t)rand_r(&seed) << 1) & 0x0fffffffu);
			size_t expect = 0;
			for (int i = 0; i < N; i++) {
				uint32_t m = plen[i] ? ~0u << (32 - plen[i]) : 0;
				if (live[i] && (a & m) == (net[i] & m))
					expect++;
			}
			uint32_t be = htonl(a);
			iocb_store_read_lock();
			size_t n = iocb_store_lookup_ip(s, (const uint8_t *)&be, false, h, 40);
			iocb_store_read_unlock();
			assert_int_equal(n, expect);
			for (size_t j = 1; j < n && j < 40; j++)
				assert_true(h[j].prefix <= h[j - 1].prefix);
		}
		commit(s);
	}
	iocb_store_free(s);
}

static void test_non_ids(void **state)
{
	struct iocb_store *s = fixture_store_open(false), *s2 = fixture_store_open(true);
	struct fixture_attr t;
	struct iocb_store_hit h[4];
	(void)state;

	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "quiet.example", NULL, -1, 1, false));
	fixture_store_upsert(s2, &t.a);
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "ip-dst", "10.9.0.0/16", NULL, 16, 1, false));
	fixture_store_upsert(s2, &t.a);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "quiet.example", h, 4), 0);
	assert_int_equal(look_ip(s, "10.9.1.1", h, 4), 0);
	assert_int_equal(look(s2, IOCB_MC_DOMAIN, "quiet.example", h, 4), 1);
	assert_int_equal(look_ip(s2, "10.9.1.1", h, 4), 1);
	struct iocb_store_attr_view v;
	view(&h[0], &v);
	assert_false(v.to_ids);
	struct iocb_store_stats st;
	iocb_store_stats(s, &st);
	assert_int_equal(st.non_ids, 2);
	iocb_store_free(s);
	iocb_store_free(s2);
}

static void test_event_remove(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_store_hit h[4];
	struct iocb_err err;
	size_t removed = 99;
	char evu[37];
	(void)state;

	for (uint64_t i = 0; i < 10; i++)
		fixture_store_upsert(s, fixture_attr_make(&t, i, "domain", i % 2 ? "odd.example" : "even.example", NULL, -1,
							1 + i % 2, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 50, "domain", "even.example", NULL, -1, 0, true)); /* no event */
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "even.example", h, 4), 6);
	fixture_uuid(evu, 0xe, 1);
	assert_int_equal(iocb_store_event_remove(s, iocb_str_c(evu), 0, &removed, &err), IOCB_OK);
	assert_int_equal(removed, 5);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "even.example", h, 4), 1);
	fixture_uuid(t.uuid, 0xa, 0);
	iocb_store_read_lock();
	assert_null(iocb_store_get(s, iocb_str_c(t.uuid)));
	iocb_store_read_unlock();
	commit(s);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "even.example", h, 4), 1);
	/* by numeric id */
	assert_int_equal(iocb_store_event_remove(s, IOCB_STR_NULL, 2, &removed, &err), IOCB_OK);
	assert_int_equal(removed, 5);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "odd.example", h, 4), 0);
	assert_int_equal(iocb_store_event_remove(s, IOCB_STR_NULL, 2, &removed, &err), IOCB_ENOTFOUND);
	commit(s);
	struct iocb_store_stats st;
	iocb_store_stats(s, &st);
	assert_int_equal(st.attrs, 1);
	assert_int_equal(st.events, 0);
	/* the event can come back */
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "domain", "odd.example", NULL, -1, 2, true));
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "odd.example", h, 4), 1);
	iocb_store_free(s);
}

static void test_event_merge(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_store_hit h[4];
	struct iocb_store_attr_view v;
	struct iocb_store_event_view ev;
	struct iocb_misp_tag tags[2] = {{IOCB_STR_LIT("tlp:amber"), false, false},
					{IOCB_STR_LIT("misp-galaxy:x=\"y\""), false, false}};
	struct iocb_err err;
	(void)state;

	fixture_attr_make(&t, 1, "domain", "m.example", NULL, -1, 9, true);
	t.ev.orgc_name = IOCB_STR_LIT("CIRCL");
	t.ev.tags = tags;
	t.ev.ntags = 2;
	t.ev.tags_known = true;
	t.ev.date = IOCB_STR_LIT("2024-01-02");
	fixture_store_upsert(s, &t.a);
	/* a later message with less context keeps what we knew */
	fixture_attr_make(&t, 2, "domain", "m.example", NULL, -1, 9, true);
	t.ev.info = IOCB_STR_NULL;
	t.ev.threat_level_id = 0;
	fixture_store_upsert(s, &t.a);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "m.example", h, 4), 2);
	view(&h[0], &v);
	iocb_store_event_view(v.event, &ev);
	assert_true(iocb_str_eq_c(ev.info, "test event"));
	assert_true(iocb_str_eq_c(ev.orgc_name, "CIRCL"));
	assert_true(iocb_str_eq_c(ev.date, "2024-01-02"));
	assert_int_equal(ev.threat_level_id, 2);
	assert_int_equal(ev.ntags, 2);
	assert_true(iocb_str_eq_c(iocb_store_event_tag(v.event, 1), "misp-galaxy:x=\"y\""));
	/* event upsert replaces tags when known */
	struct iocb_misp_event e2 = t.ev;
	e2.tags = tags;
	e2.ntags = 1;
	e2.tags_known = true;
	e2.info = IOCB_STR_LIT("renamed");
	assert_int_equal(iocb_store_event_upsert(s, &e2, &err), IOCB_OK);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "m.example", h, 4), 2);
	view(&h[1], &v);
	iocb_store_event_view(v.event, &ev);
	assert_int_equal(ev.ntags, 1);
	assert_true(iocb_str_eq_c(ev.info, "renamed"));
	commit(s);
	iocb_store_free(s);
}

static void test_expiry(void **state)
{
	struct iocb_store_opts o;
	struct iocb_store *s;
	struct iocb_err err;
	struct fixture_attr t;
	struct iocb_store_hit h[4];
	size_t removed;
	(void)state;

	iocb_store_opts_default(&o);
	o.expiry_s[1] = 100;
	assert_int_equal(iocb_store_open(&o, &s, &err), IOCB_OK);
	fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true);
	assert_int_equal(iocb_store_upsert(s, &t.a, 1, 1000, &err), IOCB_OK);
	fixture_attr_make(&t, 2, "domain", "b.example", NULL, -1, 1, true);
	assert_int_equal(iocb_store_upsert(s, &t.a, 0, 1000, &err), IOCB_OK);
	fixture_attr_make(&t, 3, "domain", "c.example", NULL, -1, 1, true);
	assert_int_equal(iocb_store_upsert(s, &t.a, 1, 1080, &err), IOCB_OK);
	assert_int_equal(iocb_store_expire(s, 1050, &removed, &err), IOCB_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(iocb_store_expire(s, 1100, &removed, &err), IOCB_OK);
	assert_int_equal(removed, 1);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "a.example", h, 4), 0);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "b.example", h, 4), 1);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "c.example", h, 4), 1);
	/* re-upserting refreshes the clock */
	fixture_attr_make(&t, 3, "domain", "c.example", NULL, -1, 1, true);
	assert_int_equal(iocb_store_upsert(s, &t.a, 1, 1150, &err), IOCB_OK);
	assert_int_equal(iocb_store_expire(s, 1200, &removed, &err), IOCB_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(iocb_store_expire(s, 100000, &removed, &err), IOCB_OK);
	assert_int_equal(removed, 1);
	commit(s);
	iocb_store_free(s);
}

static void test_lookup_any(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_store_hit h[8];
	(void)state;

	fixture_store_upsert(s, fixture_attr_make(&t, 1, "domain", "evil.example", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "sha256",
						  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", NULL, -1, 1,
						  true));
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "ip-dst", "192.0.2.0/24", NULL, 24, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 4, "url", "http://evil.example/x", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 5, "email-src", "bad@evil.example", NULL, -1, 1, true));
	iocb_store_read_lock();
	assert_int_equal(iocb_store_lookup_any(s, IOCB_STR_LIT(" EVIL.example. "), h, 8), 1);
	assert_int_equal(iocb_store_lookup_any(s, IOCB_STR_LIT("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"), h, 8), 1);
	assert_int_equal(iocb_store_lookup_any(s, IOCB_STR_LIT("192.0.2.77"), h, 8), 1);
	assert_int_equal(h[0].prefix, 24);
	assert_int_equal(iocb_store_lookup_any(s, IOCB_STR_LIT("192.0.2.128/25"), h, 8), 1);
	assert_int_equal(iocb_store_lookup_any(s, IOCB_STR_LIT("http://evil.example/x"), h, 8), 1);
	assert_int_equal(iocb_store_lookup_any(s, IOCB_STR_LIT("Bad@Evil.example"), h, 8), 1);
	assert_int_equal(iocb_store_lookup_any(s, IOCB_STR_LIT("nothing here"), h, 8), 0);
	iocb_store_read_unlock();
	iocb_store_free(s);
}

/* What a snapshot walk saw: the sum of the record numbers (attribute id - 1000) and how many. */
struct walk {
	uint64_t sum;   /* sum of n over the records seen */
	unsigned seen;  /* records seen */
	unsigned stop;  /* return 1 at this record (0 = never) */
};

static int walk_one(void *ud, const struct iocb_store_attr *a)
{
	struct walk *w = ud;
	struct iocb_store_attr_view v;

	iocb_store_attr_view(a, &v);
	w->sum += v.id - 1000;
	w->seen++;
	return w->seen == w->stop ? 1 : 0;
}

/* Every live record once; records of a removed event are left out before the sweep; fn can stop it. */
static void test_each(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_err err;
	struct walk w = {0};
	(void)state;

	assert_int_equal(iocb_store_each(s, walk_one, &w), IOCB_OK);
	assert_int_equal(w.seen, 0);
	for (uint64_t i = 1; i <= 6; i++)
		fixture_store_upsert(s, fixture_attr_make(&t, i, "domain", "x.example", NULL, -1, 1 + i % 2, i != 6));
	fixture_store_upsert(s, fixture_attr_make(&t, 7, "ip-dst", "192.0.2.7", NULL, -1, 0, true)); /* no event */
	assert_int_equal(iocb_store_each(s, walk_one, &w), IOCB_OK);
	assert_int_equal(w.seen, 7); /* to_ids=false too: selection is the caller's */
	assert_int_equal(w.sum, 28);
	assert_int_equal(iocb_store_event_remove(s, IOCB_STR_NULL, 2, NULL, &err), IOCB_OK); /* 1, 3, 5 */
	w = (struct walk){0};
	assert_int_equal(iocb_store_each(s, walk_one, &w), IOCB_OK);
	assert_int_equal(w.seen, 4);
	assert_int_equal(w.sum, 2 + 4 + 6 + 7);
	commit(s);
	w = (struct walk){.stop = 2};
	assert_int_equal(iocb_store_each(s, walk_one, &w), 1);
	assert_int_equal(w.seen, 2);
	iocb_store_free(s);
}

/* ------------------------------------------------------------ persistence */

static char *mktmp(void)
{
	char tmpl[] = "/tmp/iocb-store-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

static void test_persist_roundtrip(void **state)
{
	char *dir = mktmp();
	struct iocb_store *s = fixture_store_open_path(dir);
	struct fixture_attr t;
	struct iocb_store_hit h[8];
	struct iocb_store_attr_view v;
	struct iocb_store_event_view ev;
	struct iocb_err err;
	struct iocb_misp_tag tags[2] = {{IOCB_STR_LIT("tlp:green"), false, false},
					{IOCB_STR_LIT("kill-chain:c2"), false, false}};
	char buf[64];
	size_t len;
	(void)state;

	fixture_attr_make(&t, 1, "domain|ip", "p.example", "192.0.2.5", -1, 3, true);
	t.a.tags = tags;
	t.a.ntags = 2;
	t.a.last_seen_us = 1700000000000000LL;
	t.ev.orgc_name = IOCB_STR_LIT("CIRCL");
	t.ev.tags = &tags[1];
	t.ev.ntags = 1;
	t.ev.tags_known = true;
	fixture_store_upsert(s, &t.a);
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "ip-dst", "2001:db8::/32", NULL, 32, 3, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "ip-dst", "10.0.0.0/8", NULL, 8, 4, false));
	fixture_store_upsert(s, fixture_attr_make(&t, 4, "md5", "0123456789abcdef0123456789abcdef", NULL, -1, 0, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 5, "domain", "gone.example", NULL, -1, 4, true));
	assert_int_equal(iocb_store_meta_set(s, "misp.cursor", IOCB_STR_LIT("12345"), &err), IOCB_OK);
	assert_int_equal(iocb_store_meta_set(s, "iocb.store.format", IOCB_STR_LIT("9"), &err), IOCB_EINVAL);
	commit(s);
	/* uncommitted changes are lost on close */
	fixture_store_upsert(s, fixture_attr_make(&t, 6, "domain", "uncommitted.example", NULL, -1, 4, true));
	fixture_uuid(t.uuid, 0xa, 5);
	assert_int_equal(iocb_store_remove(s, iocb_str_c(t.uuid), &err), IOCB_OK);
	assert_int_equal(iocb_store_meta_set(s, "other", IOCB_STR_LIT("x"), &err), IOCB_OK);
	iocb_store_free(s);

	s = fixture_store_open_path(dir);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "p.example", h, 8), 1);
	view(&h[0], &v);
	assert_true(iocb_str_eq_c(v.value, "p.example|192.0.2.5"));
	assert_int_equal(v.ntags, 2);
	assert_true(iocb_str_eq_c(iocb_store_attr_tag(h[0].attr, 0), "tlp:green"));
	assert_true(iocb_str_eq_c(iocb_store_attr_tag(h[0].attr, 1), "kill-chain:c2"));
	assert_int_equal(v.last_seen_us, 1700000000000000LL);
	assert_int_equal(v.first_seen_us, INT64_MIN);
	assert_string_equal(v.type->name, "domain|ip");
	iocb_store_event_view(v.event, &ev);
	assert_true(iocb_str_eq_c(ev.orgc_name, "CIRCL"));
	assert_int_equal(ev.id, 3);
	assert_int_equal(ev.ntags, 1);
	assert_true(iocb_str_eq_c(iocb_store_event_tag(v.event, 0), "kill-chain:c2"));
	assert_int_equal(look_ip(s, "192.0.2.5", h, 8), 1);
	assert_int_equal(look_ip(s, "2001:db8::1", h, 8), 1);
	assert_int_equal(h[0].prefix, 32);
	assert_int_equal(look_ip(s, "10.1.1.1", h, 8), 0); /* to_ids false */
	assert_int_equal(look(s, IOCB_MC_HASH, "0123456789abcdef0123456789abcdef", h, 8), 1);
	view(&h[0], &v);
	assert_null(v.event);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "gone.example", h, 8), 1);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "uncommitted.example", h, 8), 0);
	assert_int_equal(iocb_store_meta_get(s, "misp.cursor", buf, sizeof(buf), &len), IOCB_OK);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "12345", 5);
	assert_int_equal(iocb_store_meta_get(s, "other", buf, sizeof(buf), &len), IOCB_ENOTFOUND);

	/* remove an event, commit, reopen: gone */
	char evu[37];
	size_t removed;
	fixture_uuid(evu, 0xe, 4);
	assert_int_equal(iocb_store_event_remove(s, iocb_str_c(evu), 0, &removed, &err), IOCB_OK);
	assert_int_equal(removed, 2);
	commit(s);
	iocb_store_free(s);
	s = fixture_store_open_path(dir);
	assert_int_equal(look(s, IOCB_MC_DOMAIN, "gone.example", h, 8), 0);
	struct iocb_store_stats st;
	iocb_store_stats(s, &st);
	assert_int_equal(st.attrs, 3);
	assert_int_equal(st.events, 1);
	iocb_store_free(s);
	fixture_rmtree(dir);
	free(dir);
}

static void test_persist_bad_version(void **state)
{
	char *dir = mktmp();
	struct iocb_store *s = fixture_store_open_path(dir);
	struct iocb_store_opts o;
	struct iocb_err err;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {17, (void *)"iocb.store.format"}, v = {2, (void *)"99"};
	(void)state;

	iocb_store_free(s);
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	iocb_store_opts_default(&o);
	o.path = dir;
	o.map_size = 64 << 20;
	s = NULL;
	assert_int_equal(iocb_store_open(&o, &s, &err), IOCB_EUNSUPPORTED);
	assert_null(s);
	assert_non_null(strstr(err.msg, "unknown store format version '99'"));
	fixture_rmtree(dir);
	free(dir);
}

/* Fill a store with n ip-dst attributes (uuids from `from`), committing once. */
static int fill(struct iocb_store *s, uint64_t from, uint64_t n, struct iocb_err *err)
{
	struct fixture_attr t;
	char ip[32];

	for (uint64_t i = from; i < from + n; i++) {
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", (unsigned)(i >> 16 & 255), (unsigned)(i >> 8 & 255),
			 (unsigned)(i & 255));
		fixture_store_upsert(s, fixture_attr_make(&t, i + 1, "ip-dst", ip, NULL, -1, 1, true));
	}
	return iocb_store_commit(s, err);
}

/* A data.mdb shorter than LMDB's meta page says is refused, never mapped and touched (SIGBUS). */
static void test_persist_truncated(void **state)
{
	char *dir = mktmp();
	struct iocb_store *s = fixture_store_open_path(dir);
	struct iocb_store_opts o;
	struct iocb_err err;
	char file[512];
	struct stat fs;
	(void)state;

	assert_int_equal(fill(s, 0, 3000, &err), IOCB_OK);
	iocb_store_free(s);
	snprintf(file, sizeof(file), "%s/data.mdb", dir);
	assert_int_equal(stat(file, &fs), 0);
	iocb_store_opts_default(&o);
	o.path = dir;
	o.map_size = 64 << 20;
	const off_t cuts[] = {fs.st_size / 2, fs.st_size - 4096, 4096};
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		assert_int_equal(truncate(file, cuts[i]), 0);
		s = NULL;
		assert_int_equal(iocb_store_open(&o, &s, &err), IOCB_EPARSE);
		assert_null(s);
		assert_non_null(strstr(err.msg, "store damaged: "));
		assert_non_null(strstr(err.msg, "iocbus store rebuild"));
	}
	fixture_rmtree(dir);
	free(dir);
}

/* A commit that cannot be written is counted, named and retried; the next that works clears it. */
static void test_persist_commit_failure(void **state)
{
	char *dir = mktmp();
	struct iocb_store_opts o;
	struct iocb_store *s = NULL;
	struct iocb_store_stats st;
	struct iocb_err err;
	char why[200];
	(void)state;

	iocb_store_opts_default(&o);
	o.path = dir;
	o.map_size = 1 << 20; /* about 7000 such attributes */
	o.durable = false;
	assert_int_equal(iocb_store_open(&o, &s, &err), IOCB_OK);
	assert_false(iocb_store_commit_failing(s, why, sizeof(why)));
	assert_int_equal(fill(s, 0, 12000, &err), IOCB_EIO);
	assert_non_null(strstr(err.msg, "store map full: store.map_size (1048576 bytes) is too small"));
	assert_true(iocb_store_commit_failing(s, why, sizeof(why)));
	assert_string_equal(why, err.msg);
	assert_int_equal(iocb_store_commit(s, &err), IOCB_EIO); /* still pending, retried, fails again */
	iocb_store_stats(s, &st);
	assert_int_equal(st.commit_errors, 2);
	assert_true(st.commit_failing);
	assert_int_equal(st.attrs, 12000); /* served from memory meanwhile */

	/* Less to write: the retry succeeds and the failure clears. */
	size_t removed = 0;
	char evu[37];
	fixture_uuid(evu, 0xe, 1);
	assert_int_equal(iocb_store_event_remove(s, iocb_str_c(evu), 0, &removed, &err), IOCB_OK);
	assert_int_equal(removed, 12000);
	assert_int_equal(fill(s, 0, 100, &err), IOCB_OK);
	assert_false(iocb_store_commit_failing(s, why, sizeof(why)));
	assert_string_equal(why, "");
	iocb_store_stats(s, &st);
	assert_int_equal(st.commit_errors, 2);
	iocb_store_free(s);
	fixture_rmtree(dir);
	free(dir);
}

/* ------------------------------------------------------------ concurrency */

struct conc {
	struct iocb_store *s;
	volatile int stop;     /* set by the writer when done */
	unsigned nvalues;      /* values live in the writer's range */
	unsigned long lookups; /* per reader, summed after join */
	unsigned long hits;
	unsigned long bad;     /* inconsistent hits seen by readers */
};

/* cmocka's assertions must run on the test's thread: readers count failures. */
#define CHECK(cond)                  \
	do {                         \
		if (!(cond))         \
			bad++;       \
	} while (0)

/* Value i of generation g. Each attribute u has comment "c-<uuid>" and value d<i>-g<g>.example. */
static void conc_value(char *out, size_t cap, unsigned i)
{
	snprintf(out, cap, "d%u.example", i);
}

static void *conc_reader(void *arg)
{
	struct conc *c = arg;
	struct iocb_store_hit h[16];
	char val[64], want[96];
	unsigned seed = (unsigned)(uintptr_t)&h;
	unsigned long n = 0, hits = 0, bad = 0;

	iocb_store_reader_register();
	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		unsigned i = (unsigned)rand_r(&seed) % c->nvalues;
		conc_value(val, sizeof(val), i);
		iocb_store_read_lock();
		size_t k = iocb_store_lookup(c->s, IOCB_MC_DOMAIN, iocb_str_c(val), h, 16);
		for (size_t j = 0; j < k && j < 16; j++) {
			struct iocb_store_attr_view v;
			iocb_store_attr_view(h[j].attr, &v);
			/* the looked-up value is the record's part, and the comment matches its uuid */
			CHECK(iocb_str_eq_c(v.part[h[j].part], val));
			snprintf(want, sizeof(want), "c-%s", v.uuid);
			CHECK(iocb_str_eq_c(v.comment, want));
			CHECK(v.event);
			struct iocb_store_event_view ev;
			iocb_store_event_view(v.event, &ev);
			CHECK(ev.id > 0);
		}
		/* the IP side: a /16 per value bucket, always complete */
		uint8_t a[4] = {10, (uint8_t)(i % 200), 1, 1};
		size_t m = iocb_store_lookup_ip(c->s, a, false, h, 16);
		for (size_t j = 0; j < m && j < 16; j++) {
			struct iocb_store_attr_view v;
			iocb_store_attr_view(h[j].attr, &v);
			CHECK(v.prefix[0] == 16);
			snprintf(want, sizeof(want), "c-%s", v.uuid);
			CHECK(iocb_str_eq_c(v.comment, want));
		}
		iocb_store_read_unlock();
		hits += k + m;
		n++;
	}
	iocb_store_reader_unregister();
	__atomic_fetch_add(&c->lookups, n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->hits, hits, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->bad, bad, __ATOMIC_RELAXED);
	return NULL;
}

static void conc_upsert(struct iocb_store *s, unsigned u, unsigned vi, uint64_t event)
{
	struct fixture_attr t;
	char val[64], cidr[32];
	if (u % 5 == 0) {
		snprintf(cidr, sizeof(cidr), "10.%u.0.0/16", vi % 200);
		fixture_attr_make(&t, u, "ip-dst", cidr, NULL, 16, event, true);
	} else {
		conc_value(val, sizeof(val), vi);
		fixture_attr_make(&t, u, "domain", val, NULL, -1, event, true);
	}
	snprintf(t.comment, sizeof(t.comment), "c-%s", t.uuid);
	t.a.comment = iocb_str_c(t.comment);
	fixture_store_upsert(s, &t.a);
}

static void run_concurrency(unsigned nreaders, unsigned rounds, size_t expected)
{
	struct iocb_store_opts o;
	struct conc c;
	pthread_t th[4];
	struct iocb_err err;
	unsigned seed = 7;

	iocb_store_opts_default(&o);
	o.expected_attrs = expected;
	memset(&c, 0, sizeof(c));
	c.nvalues = 500;
	assert_int_equal(iocb_store_open(&o, &c.s, &err), IOCB_OK);
	for (unsigned r = 0; r < nreaders; r++)
		assert_int_equal(pthread_create(&th[r], NULL, conc_reader, &c), 0);
	for (unsigned round = 0; round < rounds; round++) {
		for (unsigned k = 0; k < 400; k++) {
			unsigned u = (unsigned)rand_r(&seed) % 2000;
			unsigned op = (unsigned)rand_r(&seed) % 10;
			if (op < 6) {
				conc_upsert(c.s, u, (unsigned)rand_r(&seed) % c.nvalues, 1 + u % 20);
			} else if (op < 9) {
				struct fixture_attr t;
				fixture_uuid(t.uuid, 0xa, u);
				if (iocb_store_remove(c.s, iocb_str_c(t.uuid), &err) < 0) { /* absent is fine */ }
			} else if (k % 50 == 0) {
				char evu[37];
				fixture_uuid(evu, 0xe, 1 + u % 20);
				if (iocb_store_event_remove(c.s, iocb_str_c(evu), 0, NULL, &err) < 0) { /* absent is fine */ }
			}
		}
		commit(c.s);
	}
	/* growth under readers: many new uuids, table resizes repeatedly */
	for (unsigned u = 2000; u < 2000 + 20000; u++)
		conc_upsert(c.s, u, u % c.nvalues, 1 + u % 20);
	commit(c.s);
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	for (unsigned r = 0; r < nreaders; r++)
		pthread_join(th[r], NULL);
	assert_true(c.lookups > 0);
	assert_int_equal(c.bad, 0);
	iocb_store_free(c.s);
}

static void test_concurrency(void **state)
{
	(void)state;
	run_concurrency(3, 60, 4096);
}

/* Start from the smallest tables so every phase resizes while readers probe. */
static void test_resize_under_readers(void **state)
{
	(void)state;
	run_concurrency(2, 5, 0);
}

/* Stable values must never disappear while the table grows around them. */
struct stable {
	struct iocb_store *s;
	int stop;
	unsigned long misses;
};

static void *stable_reader(void *arg)
{
	struct stable *st = arg;
	struct iocb_store_hit h[2];
	char v[32];
	unsigned i = 0;
	iocb_store_reader_register();
	while (!__atomic_load_n(&st->stop, __ATOMIC_ACQUIRE)) {
		snprintf(v, sizeof(v), "stable%u.example", i++ % 64);
		iocb_store_read_lock();
		if (iocb_store_lookup(st->s, IOCB_MC_DOMAIN, iocb_str_c(v), h, 2) != 1)
			__atomic_fetch_add(&st->misses, 1, __ATOMIC_RELAXED);
		iocb_store_read_unlock();
	}
	iocb_store_reader_unregister();
	return NULL;
}

static void test_resize_stable(void **state)
{
	struct stable st = {fixture_store_open(false), 0, 0};
	struct fixture_attr t;
	pthread_t th[2];
	char v[32];
	(void)state;

	for (unsigned i = 0; i < 64; i++) {
		snprintf(v, sizeof(v), "stable%u.example", i);
		fixture_store_upsert(st.s, fixture_attr_make(&t, 1000000 + i, "domain", v, NULL, -1, 1, true));
	}
	for (int r = 0; r < 2; r++)
		assert_int_equal(pthread_create(&th[r], NULL, stable_reader, &st), 0);
	for (unsigned i = 0; i < 50000; i++) {
		snprintf(v, sizeof(v), "grow%u.example", i);
		fixture_store_upsert(st.s, fixture_attr_make(&t, i, "domain", v, NULL, -1, 1 + i % 100, true));
		if (i % 5000 == 4999)
			commit(st.s);
	}
	/* and replace the stable ones in place while readers look */
	for (unsigned i = 0; i < 64; i++) {
		snprintf(v, sizeof(v), "stable%u.example", i);
		fixture_store_upsert(st.s, fixture_attr_make(&t, 1000000 + i, "domain", v, NULL, -1, 2, true));
	}
	commit(st.s);
	__atomic_store_n(&st.stop, 1, __ATOMIC_RELEASE);
	for (int r = 0; r < 2; r++)
		pthread_join(th[r], NULL);
	assert_int_equal(st.misses, 0);
	iocb_store_free(st.s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_lookup_update_remove),
		cmocka_unit_test(test_shared_value),
		cmocka_unit_test(test_composite),
		cmocka_unit_test(test_cidr_v4),
		cmocka_unit_test(test_cidr_v6),
		cmocka_unit_test(test_cidr_random),
		cmocka_unit_test(test_non_ids),
		cmocka_unit_test(test_event_remove),
		cmocka_unit_test(test_event_merge),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_lookup_any),
		cmocka_unit_test(test_each),
		cmocka_unit_test(test_persist_roundtrip),
		cmocka_unit_test(test_persist_bad_version),
		cmocka_unit_test(test_persist_truncated),
		cmocka_unit_test(test_persist_commit_failure),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_resize_under_readers),
		cmocka_unit_test(test_resize_stable),
	};
	iocb_store_reader_register();
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	iocb_store_reader_unregister();
	return rc;
}
