/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the memcached-protocol endpoint (serve/memcached): the
 * binary, text and meta responders byte for byte (the bytes memcached
 * 1.6.18 and Dalli exchange, exports.md §1), the limits where memcached
 * closes, refused writes, and the store-backed key forms and value.
 */
#include "serve/memcached/memcached.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/md5.h"
#include "core/rc.h"

#include "fixture_store.h"

/* One known key, as elastiMISPstash would have stored it. */
static int fake_lookup(void *ud, struct iocb_str key, struct iocb_buf *value, struct iocb_buf *whole_key)
{
	(void)ud;
	if (iocb_str_eq_c(key, "domain-evil:md5:0")) /* a shortened key: answered under the whole one */
		return iocb_buf_append_c(whole_key, "domain-evil.com") == IOCB_OK ? fake_lookup(ud, iocb_str_c("domain-evil.com"), value, NULL) : -1;
	if (!iocb_str_eq_c(key, "domain-evil.com"))
		return 0;
	return iocb_buf_append_c(value, "['Feed-test']") == IOCB_OK ? 1 : -1;
}

struct run {
	struct iocb_mc_stats st;
	struct iocb_mc_session s;
	struct iocb_buf out;
	size_t used;
};

static void run_init(struct run *r)
{
	memset(r, 0, sizeof *r);
	r->s.lookup = fake_lookup;
	r->s.stats = &r->st;
	iocb_buf_init(&r->out, 0);
}

static void run_fini(struct run *r)
{
	iocb_mc_session_fini(&r->s);
	iocb_buf_fini(&r->out);
}

static void feed(struct run *r, const void *in, size_t len)
{
	assert_int_equal(iocb_mc_feed(&r->s, in, len, &r->used, &r->out, 1 << 20), IOCB_OK);
}

#define FEED_LIT(r, s) feed((r), (s), sizeof(s) - 1)
#define OUT_IS(r, s) \
	do { \
		assert_int_equal((r)->out.len, sizeof(s) - 1); \
		assert_memory_equal((r)->out.ptr, (s), sizeof(s) - 1); \
	} while (0)

static size_t hdr(uint8_t *p, uint8_t op, const char *key, uint8_t extlen, uint32_t opaque)
{
	size_t kl = key ? strlen(key) : 0;
	memset(p, 0, 24 + extlen);
	p[0] = 0x80;
	p[1] = op;
	p[2] = (uint8_t)(kl >> 8);
	p[3] = (uint8_t)kl;
	p[4] = extlen;
	p[11] = (uint8_t)(kl + extlen);
	p[10] = (uint8_t)((kl + extlen) >> 8);
	p[15] = (uint8_t)opaque;
	if (kl)
		memcpy(p + 24 + extlen, key, kl);
	return 24 + extlen + kl;
}

/* Dalli's get_multi: GETKQ per key, NOOP; the hit bytes of exports.md §1.1, the miss silent. */
static void test_binary_getkq_batch(void **state)
{
	static const uint8_t want[] = "\x81\x0d\x00\x0f\x04\x00\x00\x00\x00\x00\x00\x20\x00\x00\x00\x00"
				      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
				      "domain-evil.com['Feed-test']"
				      "\x81\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07"
				      "\x00\x00\x00\x00\x00\x00\x00\x00";
	uint8_t in[512];
	size_t n = 0;
	struct run r;
	(void)state;

	run_init(&r);
	n += hdr(in + n, 0x0d, "domain-evil.com", 0, 0);
	n += hdr(in + n, 0x0d, "nosuch", 0, 0);
	n += hdr(in + n, 0x0a, NULL, 0, 7);
	feed(&r, in, n - 1); /* the NOOP incomplete: the two gets only */
	assert_int_equal(r.used, n - 24);
	feed(&r, in + r.used, n - r.used);
	assert_int_equal(r.used, 24);
	assert_int_equal(r.out.len, sizeof want - 1);
	assert_memory_equal(r.out.ptr, want, sizeof want - 1);
	assert_int_equal(r.st.hits, 1);
	assert_int_equal(r.st.misses, 1);
	assert_false(r.s.close);
	run_fini(&r);
}

/* A shortened key: GETKQ answers under the whole key (Dalli files by key); text echoes the key as sent. */
static void test_shortened_key_echo(void **state)
{
	static const uint8_t want[] = "\x81\x0d\x00\x0f\x04\x00\x00\x00\x00\x00\x00\x20\x00\x00\x00\x00"
				      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
				      "domain-evil.com['Feed-test']";
	uint8_t in[128];
	struct run r;
	(void)state;

	run_init(&r);
	feed(&r, in, hdr(in, 0x0d, "domain-evil:md5:0", 0, 0));
	assert_int_equal(r.out.len, sizeof want - 1);
	assert_memory_equal(r.out.ptr, want, sizeof want - 1);
	run_fini(&r);
	run_init(&r); /* a text connection */
	feed(&r, "get domain-evil:md5:0\r\n", 23);
	OUT_IS(&r, "VALUE domain-evil:md5:0 0 13\r\n['Feed-test']\r\nEND\r\n");
	run_fini(&r);
}

static void test_binary_version_get_miss(void **state)
{
	static const uint8_t want[] = "\x81\x0b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00\x00"
				      "\x00\x00\x00\x00\x00\x00\x00\x00" "1.6.18"
				      "\x81\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x09\x00\x00\x00\x02"
				      "\x00\x00\x00\x00\x00\x00\x00\x00" "Not found"
				      "\x81\x0c\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x03"
				      "\x00\x00\x00\x00\x00\x00\x00\x00" "x";
	uint8_t in[256];
	size_t n = 0;
	struct run r;
	(void)state;

	run_init(&r);
	n += hdr(in + n, 0x0b, NULL, 0, 0);
	n += hdr(in + n, 0x00, "nosuch", 0, 2);
	n += hdr(in + n, 0x0c, "x", 0, 3);
	feed(&r, in, n);
	assert_int_equal(r.used, n);
	assert_int_equal(r.out.len, sizeof want - 1);
	assert_memory_equal(r.out.ptr, want, sizeof want - 1);
	run_fini(&r);
}

/* Writes refused (even quiet ones answer), unknown opcodes 0x0081, QUIT closes after its answer. */
static void test_binary_refused_unknown_quit(void **state)
{
	uint8_t in[256];
	size_t n = 0;
	struct run r;
	(void)state;

	run_init(&r);
	n += hdr(in + n, 0x11, "k", 8, 0); /* SETQ with 8 bytes of extras, no value */
	n += hdr(in + n, 0x04, "k", 0, 0); /* DELETE */
	n += hdr(in + n, 0x55, NULL, 0, 0);
	n += hdr(in + n, 0x07, NULL, 0, 0);
	n += hdr(in + n, 0x0a, NULL, 0, 0); /* after QUIT: never answered */
	feed(&r, in, n);
	assert_true(r.s.close);
	assert_int_equal(r.used, n - 24);
	assert_int_equal(r.out.len, 24 + 11 + 24 + 13 + 24 + 15 + 24);
	assert_int_equal(r.out.ptr[1], 0x11);
	assert_int_equal(r.out.ptr[7], 0x05);
	assert_memory_equal(r.out.ptr + 24, "Not stored.", 11);
	assert_int_equal(r.out.ptr[35 + 7], (char)0x83);
	assert_int_equal(r.out.ptr[35 + 37 + 6], 0x00);
	assert_int_equal((uint8_t)r.out.ptr[35 + 37 + 7], 0x81);
	assert_int_equal(r.st.requests[IOCB_MC_CMD_WRITE], 2);
	run_fini(&r);
}

/* A 251-byte key: 0x0004 "Invalid arguments", then close; a bad magic closes silently. */
static void test_binary_limits(void **state)
{
	uint8_t in[600];
	char key[252];
	struct run r;
	(void)state;

	memset(key, 'a', 251);
	key[251] = '\0';
	run_init(&r);
	hdr(in, 0x0d, key, 0, 0);
	feed(&r, in, 24); /* answered on the header alone */
	assert_true(r.s.close);
	assert_int_equal(r.out.len, 24 + 17);
	assert_int_equal(r.out.ptr[7], 0x04);
	run_fini(&r);

	run_init(&r);
	hdr(in, 0x0a, NULL, 0, 0);
	in[24] = 0x81;
	feed(&r, in, 48);
	assert_true(r.s.close);
	assert_int_equal(r.out.len, 24);
	run_fini(&r);
}

static void test_text_get(void **state)
{
	struct run r;
	char line[300];
	(void)state;

	run_init(&r);
	FEED_LIT(&r, "get domain-evil.com nosuch\r\ngets domain-evil.com\nversion\r\nget\r\nbogus\r\nstats items\r\n");
	OUT_IS(&r, "VALUE domain-evil.com 0 13\r\n['Feed-test']\r\nEND\r\n"
		   "VALUE domain-evil.com 0 13 0\r\n['Feed-test']\r\nEND\r\n"
		   "VERSION 1.6.18\r\nERROR\r\nERROR\r\nERROR\r\n");
	run_fini(&r);

	run_init(&r);
	memset(line, 'a', sizeof line);
	memcpy(line, "get domain-evil.com ", 20);
	memcpy(line + 20 + 251, "\r\nquit\r\n", 8);
	feed(&r, line, 20 + 251 + 8);
	OUT_IS(&r, "CLIENT_ERROR bad command line format\r\n");
	assert_true(r.s.close);
	run_fini(&r);
}

/* Storage commands wait for their data block, then are refused; noreply does not hide the refusal. */
static void test_text_refused(void **state)
{
	struct run r;
	(void)state;

	run_init(&r);
	FEED_LIT(&r, "set k 0 130 3 noreply\r\nab");
	assert_int_equal(r.used, 0);
	assert_int_equal(r.out.len, 0);
	FEED_LIT(&r, "set k 0 130 3 noreply\r\nabc\r\ndelete k\r\nset k 0 0 x\r\nget k\r\n");
	OUT_IS(&r, "SERVER_ERROR read only\r\nSERVER_ERROR read only\r\nCLIENT_ERROR bad command line format\r\n");
	assert_true(r.s.close);
	run_fini(&r);
}

static void test_meta(void **state)
{
	struct run r;
	(void)state;

	run_init(&r);
	FEED_LIT(&r, "mg domain-evil.com v f k s\r\nmg domain-evil.com\r\nmg nosuch k Oabc\r\n"
		     "mg nosuch v q\r\nmg domain-evil.com v t c Oabc q\r\nmn\r\nmg x zz\r\n"
		     "mg ZG9tYWluLWV2aWwuY29t b k v\r\nmg bm9zdWNo b k\r\nmg a*== b v\r\n");
	OUT_IS(&r, "VA 13 f0 kdomain-evil.com s13\r\n['Feed-test']\r\nHD\r\nEN knosuch Oabc\r\n"
		   "VA 13 t-1 c0 Oabc\r\n['Feed-test']\r\nMN\r\nCLIENT_ERROR invalid flag\r\n"
		   "VA 13 kdomain-evil.com\r\n['Feed-test']\r\nEN kbm9zdWNo b\r\n"
		   "CLIENT_ERROR error decoding key\r\n");
	run_fini(&r);
}

static void test_line_too_long(void **state)
{
	static char big[IOCB_MC_LINE_MAX]; /* a line holds at most LINE_MAX - 1 bytes before its \n */
	struct run r;
	(void)state;

	memset(big, 'g', sizeof big);
	run_init(&r);
	feed(&r, big, sizeof big - 1);
	assert_int_equal(r.out.len, 0);
	assert_false(r.s.close);
	feed(&r, big, sizeof big);
	OUT_IS(&r, "CLIENT_ERROR line too long\r\n");
	assert_true(r.s.close);
	run_fini(&r);
}

/* Key forms over a real store: type prefix, bare value, namespace, normalisation, CIDR containment. */
static void test_store_keys(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_misp_tag tags[3] = {{IOCB_STR_LIT("Feed-A"), false, false},
					{IOCB_STR_LIT("tlp:white"), false, false},
					{IOCB_STR_LIT("x:Feed-it's"), false, false}};
	struct iocb_mc_store_ctx c = {s, IOCB_STR_LIT("ns"), IOCB_MC_VALUE_ELASTIMISPSTASH, NULL};
	struct iocb_buf v;
	static const char *const hit[] = {"domain-evil.com", "domain-EVIL.com.", "evil.com", "ns:domain-evil.com",
					  "ns:evil.com", "place-port-of-onward-foreign-destination-evil.com"};
	(void)state;

	fixture_attr_make(&t, 1, "domain", "evil.com", NULL, -1, 0, true);
	t.a.tags = tags;
	t.a.ntags = 3;
	fixture_store_upsert(s, &t.a);
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "ip-dst", "10.0.0.0", NULL, 8, 0, true));
	iocb_store_reader_register();
	iocb_buf_init(&v, 0);
	for (size_t i = 0; i < sizeof hit / sizeof hit[0]; i++) {
		iocb_buf_reset(&v);
		assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c(hit[i]), &v, NULL), 1);
		assert_string_equal(v.ptr, "['Feed-A', \"x:Feed-it's\"]");
	}
	iocb_buf_reset(&v);
	assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c("ip-dst-10.1.2.3"), &v, NULL), 1);
	assert_string_equal(v.ptr, "[]");
	assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c("domain-good.com"), &v, NULL), 0);
	assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c("other:evil.com"), &v, NULL), 0);
	assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c("ip-dst-11.1.2.3"), &v, NULL), 0);
	/* an expired indicator is not found (issue #15): a type-2 sighting expires the /8 at once */
	char u[37];
	struct iocb_err err;
	fixture_uuid(u, 0xa, 2);
	assert_int_equal(iocb_store_sighting(s, iocb_str_c(u), 2, 1, &err), IOCB_OK);
	iocb_buf_reset(&v);
	assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c("ip-dst-10.1.2.3"), &v, NULL), 0);
	iocb_buf_fini(&v);
	iocb_store_reader_unregister();
	iocb_store_free(s);
}

/* The value templates: elastiMISPstash's (above), JSON of tags/event info/TLP, event info alone. */
static void test_store_values(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct fixture_attr t;
	struct iocb_misp_tag tags[2] = {{IOCB_STR_LIT("Feed-A"), false, false}, {IOCB_STR_LIT("tlp:amber"), false, false}};
	struct iocb_mc_store_ctx c = {s, IOCB_STR_LIT(""), IOCB_MC_VALUE_JSON, NULL};
	struct iocb_buf v;
	(void)state;

	fixture_attr_make(&t, 1, "domain", "evil.com", NULL, -1, 1, true);
	t.a.tags = tags;
	t.a.ntags = 2;
	fixture_store_upsert(s, &t.a);
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "ip-dst", "10.0.0.0", NULL, 8, 0, true));
	iocb_store_reader_register();
	iocb_buf_init(&v, 0);
	assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c("domain-evil.com"), &v, NULL), 1);
	assert_string_equal(v.ptr, "{\"tags\":[\"Feed-A\",\"tlp:amber\"],\"event_info\":\"test event\",\"tlp\":\"amber\"}");
	iocb_buf_reset(&v);
	assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c("10.1.2.3"), &v, NULL), 1); /* no event, no tag */
	assert_string_equal(v.ptr, "{\"tags\":[],\"event_info\":null,\"tlp\":null}");
	c.value = IOCB_MC_VALUE_EVENT_INFO;
	iocb_buf_reset(&v);
	assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c("domain-evil.com"), &v, NULL), 1);
	assert_string_equal(v.ptr, "test event");
	iocb_buf_reset(&v);
	assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c("10.1.2.3"), &v, NULL), 1);
	assert_int_equal(v.len, 0);
	iocb_buf_fini(&v);
	iocb_store_reader_unregister();
	iocb_store_free(s);
}

/* The key Dalli 3.x sends for key under namespace ns (NULL: none): as is up to 250 characters, else shortened. */
static void dalli_key(char *out, size_t cap, const char *ns, const char *key)
{
	char full[1024];
	size_t n = (size_t)snprintf(full, sizeof full, "%s%s%s", ns ? ns : "", ns ? ":" : "", key), p = ns ? 213 : 212;
	struct iocb_md5 m;
	uint8_t d[16];

	if (n <= 250) {
		assert_true(n < cap);
		memcpy(out, full, n + 1);
		return;
	}
	iocb_md5_init(&m);
	iocb_md5_update(&m, full, n);
	iocb_md5_final(&m, d);
	snprintf(out, cap, "%.*s:md5:", (int)p, full);
	for (int i = 0; i < 16; i++)
		snprintf(out + p + 5 + 2 * i, 3, "%02x", d[i]);
}

/* A 254-byte URL whose tail (after a prefix shared by all of them) is i; shared = false varies the start. */
static const char *long_url(char *buf, unsigned i, bool shared)
{
	int n = snprintf(buf, 255, "https://%s%04u.example/", shared ? "" : "h", shared ? 0 : i);
	char tail[32];

	memset(buf + n, 'a', 254 - (size_t)n);
	snprintf(tail, sizeof tail, "/p%012u", i % 1000000u);
	memcpy(buf + 240, tail, 15); /* 14 characters and the NUL */
	return buf;
}

/* Dalli's shortened keys: bare, typed, namespaced; candidates sharing a prefix; removals; the table under churn. */
static void test_store_long_keys(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct iocb_mc_digest *d = NULL;
	struct iocb_mc_store_ctx c = {s, IOCB_STR_LIT("ns"), IOCB_MC_VALUE_EVENT_INFO, NULL};
	struct fixture_attr t;
	struct iocb_err err;
	struct iocb_buf v, whole;
	char url[256], key[400], uuid[37];
	uint64_t nv, nb;
	(void)state;

	fixture_store_upsert(s, fixture_attr_make(&t, 1, "url", long_url(url, 1, true), NULL, -1, 1, true));
	assert_int_equal(iocb_mc_digest_open(s, &d, &err), IOCB_OK); /* indexes what is there */
	c.digest = d;
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "url", long_url(url, 2, true), NULL, -1, 1, true));
	for (unsigned i = 10; i < 400; i++) /* the listener: inserts, then removals below */
		fixture_store_upsert(s, fixture_attr_make(&t, i, "url", long_url(url, i, false), NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 3, "domain", "short.example", NULL, -1, 1, true));
	/* Values that begin with a type name: a key "<type>-…" is also looked up whole for them. */
	fixture_store_upsert(s, fixture_attr_make(&t, 4, "domain", "link-login.example", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 5, "filename", "text-EVIL.exe", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 6, "domain", "as-foo.example", NULL, -1, 1, true));
	fixture_store_upsert(s, fixture_attr_make(&t, 7, "domain", "xn--link-bcher-feb.example", NULL, -1, 1, true));
	iocb_mc_digest_stats(d, &nv, &nb);
	assert_int_equal(nv, 392); /* the short value is not indexed */
	iocb_store_reader_register();
	iocb_buf_init(&v, 0);
	iocb_buf_init(&whole, 0);
	for (unsigned i = 1; i <= 2; i++) {
		static const char *const form[][2] = {{NULL, ""}, {NULL, "url-"}, {"ns", ""}, {"ns", "url-"}};
		for (size_t f = 0; f < 4; f++) {
			char k[300];
			snprintf(k, sizeof k, "%s%s", form[f][1], long_url(url, i, true));
			dalli_key(key, sizeof key, form[f][0], k);
			assert_true(strlen(key) == (form[f][0] ? 250u : 249u));
			iocb_buf_reset(&v);
			iocb_buf_reset(&whole);
			assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c(key), &v, &whole), 1);
			assert_string_equal(v.ptr, "test event");
			snprintf(key, sizeof key, "%s%s%s", form[f][0] ? form[f][0] : "", form[f][0] ? ":" : "", k);
			assert_int_equal(whole.len, strlen(key)); /* the whole key it stands for */
			assert_memory_equal(whole.ptr, key, whole.len);
		}
	}
	{
		static const char *const typed[] = {"link-login.example", "ns:link-LOGIN.example.", "text-EVIL.exe",
						    "AS-foo.example", ("link-b\xc3\xbc" "cher.example")};
		for (size_t i = 0; i < sizeof typed / sizeof typed[0]; i++)
			assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c(typed[i]), &v, NULL), 1);
		fixture_uuid(uuid, 0xa, 4);
		assert_int_equal(iocb_store_remove(s, iocb_str_c(uuid), &err), IOCB_OK);
		assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c("link-login.example"), &v, NULL), 0);
	}
	dalli_key(key, sizeof key, "ns", "url-https://0000.example/xyz"); /* short: not shortened, a miss */
	assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c(key), &v, NULL), 0);
	long_url(url, 5, true); /* same prefix, never stored: the digest tells them apart */
	dalli_key(key, sizeof key, NULL, url);
	assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c(key), &v, NULL), 0);
	key[strlen(key) - 1] ^= 1; /* a digest that matches nothing */
	assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c(key), &v, NULL), 0);
	iocb_store_reader_unregister();
	for (unsigned i = 10; i < 400; i += 2) {
		fixture_uuid(uuid, 0xa, i);
		assert_int_equal(iocb_store_remove(s, iocb_str_c(uuid), &err), IOCB_OK);
	}
	assert_int_equal(iocb_store_commit(s, &err), IOCB_OK);
	iocb_mc_digest_stats(d, &nv, &nb);
	assert_int_equal(nv, 392 - 195);
	assert_true(nb >= nv * 2 * 24);
	iocb_store_reader_register();
	for (unsigned i = 10; i < 400; i++) {
		dalli_key(key, sizeof key, "ns", long_url(url, i, false));
		assert_int_equal(iocb_mc_store_lookup(&c, iocb_str_c(key), &v, NULL), (int)(i % 2));
	}
	iocb_buf_fini(&v);
	iocb_buf_fini(&whole);
	iocb_store_reader_unregister();
	iocb_mc_digest_close(d);
	iocb_store_free(s);
}

static int dial(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = {2, 0};

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

/* The server: answers over a socket; a connection past max_connections is closed at once and counted. */
static void test_server_max_connections(void **state)
{
	struct iocb_store *st = fixture_store_open(false);
	struct iocb_mc_opts o = {.port = 0, .max_connections = 2, .threads = 1, .store = st};
	struct iocb_mc_server *m = NULL;
	struct iocb_mc_server_stats ss;
	struct iocb_err err;
	struct iocb_buf b;
	char buf[64];
	int fd[3];
	(void)state;

	assert_int_equal(iocb_mc_start(&o, &m, &err), IOCB_OK);
	for (int i = 0; i < 3; i++)
		fd[i] = dial(iocb_mc_port(m));
	assert_int_equal(recv(fd[2], buf, sizeof buf, 0), 0); /* closed at once */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(send(fd[i], "version\r\n", 9, 0), 9);
		assert_int_equal(recv(fd[i], buf, sizeof buf, 0), 16);
		assert_memory_equal(buf, "VERSION 1.6.18\r\n", 16);
	}
	/* Counters are published after each wake-up of the server thread: wait for the last one (2 s at most). */
	for (int i = 0; i < 200; i++) {
		iocb_mc_server_stats(m, &ss);
		if (ss.mc.requests[IOCB_MC_CMD_VERSION] == 2)
			break;
		usleep(10000);
	}
	assert_int_equal(ss.connections, 2);
	assert_int_equal(ss.refused, 1);
	assert_int_equal(ss.mc.requests[IOCB_MC_CMD_VERSION], 2);
	iocb_buf_init(&b, 0);
	assert_int_equal(iocb_mc_metrics_render(&ss, &b), IOCB_OK);
	assert_non_null(strstr(b.ptr, "iocbus_memcached_connections_refused_total 1\n"));
	assert_non_null(strstr(b.ptr, "iocbus_memcached_requests_total{command=\"version\"} 2\n"));
	iocb_buf_fini(&b);
	for (int i = 0; i < 3; i++)
		close(fd[i]);
	iocb_mc_stop(m);
	iocb_store_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binary_getkq_batch),
		cmocka_unit_test(test_shortened_key_echo),
		cmocka_unit_test(test_binary_version_get_miss),
		cmocka_unit_test(test_binary_refused_unknown_quit),
		cmocka_unit_test(test_binary_limits),
		cmocka_unit_test(test_text_get),
		cmocka_unit_test(test_text_refused),
		cmocka_unit_test(test_meta),
		cmocka_unit_test(test_line_too_long),
		cmocka_unit_test(test_store_keys),
		cmocka_unit_test(test_store_values),
		cmocka_unit_test(test_store_long_keys),
		cmocka_unit_test(test_server_max_connections),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
