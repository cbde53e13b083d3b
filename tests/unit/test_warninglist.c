/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for src/quality/warninglist: loading, every list type, MISP's
 * matching_attributes, sets of lists, policy, located errors.
 *
 * Matching cases are a table: (MISP type or NULL for "any list", value,
 * the list ids expected, space-separated, "" for none). The lists are the
 * five upstream fixtures (tests/fixtures/misp/warninglists/, one per type)
 * plus three small handwritten ones for what the fixtures lack (IPv6, a
 * value on two lists, an unanchored regex).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "quality/warninglist.h"

#define FIX IOCB_FIXTURES_DIR "/misp/warninglists"

static const char v6_list[] = "{\"name\":\"v6 test ranges\",\"description\":\"d\",\"version\":1,\"type\":\"cidr\","
			      "\"list\":[\"2001:db8::/32\",\"fe80::/10\",\"198.51.100.7\",\"::1\"]}";
/* A hostname list and a string list that share www.example.com; a known-identifier list. */
static const char two_a[] = "{\"name\":\"Example hosts\",\"description\":\"d\",\"version\":1,\"type\":\"hostname\","
			    "\"list\":[\".Example.COM.\"],\"matching_attributes\":[\"domain\",\"hostname\",\"url\"]}";
static const char two_b[] = "{\"name\":\"Example strings\",\"description\":\"d\",\"version\":2,\"type\":\"string\","
			    "\"category\":\"known\",\"list\":[\"www.example.com\",\"\"],\"future_key\":{\"x\":[1]}}";
static const char re_list[] = "{\"name\":\"re\",\"description\":\"d\",\"version\":1,\"type\":\"regex\","
			      "\"list\":[\"#evil[0-9]+#\",\"(^tail\\\\.example$)\"]}";

static struct iocb_wl *load_all(void)
{
	struct iocb_wl_builder *b = iocb_wl_builder_new();
	struct iocb_wl_load_stats st = {0};
	struct iocb_err err = {0};
	assert_int_equal(iocb_wl_builder_add_path(b, FIX, NULL, NULL, NULL, &st, &err), IOCB_OK);
	assert_int_equal(st.loaded, 5);
	assert_int_equal(st.skipped, 0);
	bool added = false;
	assert_int_equal(iocb_wl_builder_add_json(b, "v6", "v6.json", v6_list, strlen(v6_list), NULL, &added, &err),
			 IOCB_OK);
	assert_true(added);
	assert_int_equal(iocb_wl_builder_add_json(b, "two-a", NULL, two_a, strlen(two_a), NULL, NULL, &err), IOCB_OK);
	assert_int_equal(iocb_wl_builder_add_json(b, "two-b", NULL, two_b, strlen(two_b), NULL, NULL, &err), IOCB_OK);
	assert_int_equal(iocb_wl_builder_add_json(b, "re", NULL, re_list, strlen(re_list), NULL, NULL, &err), IOCB_OK);
	struct iocb_wl *w = NULL;
	assert_int_equal(iocb_wl_builder_finish(b, &w, &err), IOCB_OK);
	return w;
}

/* The ids of set `id`, space-separated. */
static void set_ids(const struct iocb_wl *w, uint16_t id, char *out, size_t cap)
{
	const uint16_t *ls;
	size_t n = iocb_wl_set_lists(w, id, &ls), o = 0;
	out[0] = 0;
	for (size_t i = 0; i < n && o < cap; i++)
		o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? " " : "", iocb_wl_list_get(w, ls[i])->id);
}

struct mcase {
	const char *type;   /* MISP type, NULL = every list */
	const char *value;  /* the value */
	const char *want;   /* list ids, space-separated, ascending by load order */
};

static const struct mcase cases[] = {
	/* hostname: the host or any parent domain; not a longer label; URL hosts; type filter */
	{"domain", "whoami.akamai.net", "findip-host"},
	{"domain", "a.b.whoami.akamai.net", "findip-host"},
	{"domain", "xwhoami.akamai.net", ""},
	{"domain", "akamai.net", ""},
	{"hostname", "api.ipify.org.", "findip-host"},
	{"url", "https://api.ipify.org/x", ""}, /* findip-host does not name url */
	{NULL, "https://api.ipify.org/x", "findip-host"},
	{"domain|ip", "ip.circl.lu|10.1.1.1", "findip-host rfc1918"},
	{"md5", "ip.circl.lu", ""},
	/* cidr v4 */
	{"ip-dst", "10.1.2.3", "rfc1918"},
	{"ip-src", "172.31.255.255", "rfc1918"},
	{"ip-src", "172.32.0.0", ""},
	{"ip-dst", "11.0.0.1", ""},
	{"ip-dst|port", "192.168.1.1|443", "rfc1918"},
	{"ip-dst", "192.168.0.0/24", "rfc1918"},
	{"ip-dst", "192.168.0.0/15", ""},
	{"md5", "10.1.2.3", ""},
	{"ip-dst", "198.51.100.7", "v6"},
	{"ip-dst", "198.51.100.8", ""},
	/* cidr v6 */
	{"ip-dst", "2001:db8:1::5", "v6"},
	{"ip-dst", "2001:0DB8::", "v6"},
	{"ip-dst", "2001:db9::", ""},
	{"ip-src", "fe80::1", "v6"},
	{"ip-src", "fec0::1", ""},
	{"ip-src", "::1", "v6"},
	{"ip-src", "::2", ""},
	{"ip-dst", "::ffff:10.0.0.1", ""}, /* a v4-mapped v6 address is not a v4 address */
	/* regex: anchors, case-insensitive flag, other delimiters */
	{"email-dst", "abuse@example.com", "common-contact-emails"},
	{"email-src", "SOC@Example.org", "common-contact-emails"},
	{"email-dst", "xabuse@example.com", ""},
	{"email-dst", "abuse@example", ""},
	{"domain", "abuse@example.com", ""}, /* the e-mail list names only e-mail types */
	{"text", "an evil42 thing", "re"},
	{"text", "an evil thing", ""},
	{"text", "tail.example", "re"},
	{"text", "tail.example.org", ""},
	/* string: exact and case-sensitive; composite parts */
	{"md5", "d41d8cd98f00b204e9800998ecf8427e", "empty-hashes"},
	{"md5", "D41D8CD98F00B204E9800998ECF8427E", ""},
	{"filename|md5", "empty.txt|d41d8cd98f00b204e9800998ecf8427e", "empty-hashes"},
	{"ip-dst", "d41d8cd98f00b204e9800998ecf8427e", ""},
	/* substring */
	{"domain", "www.virustotal.com", "automated-malware-analysis"},
	{"url", "https://app.any.run/tasks/1", "automated-malware-analysis"},
	{"domain", "example.org", ""},
	{"md5", "virustotal.com", ""},
	/* a value on two lists (hostname + string), and the type filter applied per list */
	{"domain", "www.example.com", "two-a two-b"},
	{"url", "www.example.com", "two-a two-b"},
	{"domain", "mail.example.com", "two-a"},
	{"md5", "www.example.com", "two-b"},
	{NULL, "www.virustotal.com/x", "automated-malware-analysis"},
};

static void test_match_table(void **state)
{
	(void)state;
	struct iocb_wl *w = load_all();
	assert_int_equal(iocb_wl_count(w), 9);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct mcase *c = &cases[i];
		const struct iocb_misp_type *t = c->type ? iocb_misp_type_find(iocb_str_c(c->type)) : NULL;
		if (c->type && !t)
			fail_msg("case %zu: unknown type %s", i, c->type);
		uint16_t id = iocb_wl_match(w, t, iocb_str_c(c->value));
		char got[256];
		set_ids(w, id, got, sizeof(got));
		if (strcmp(got, c->want) != 0)
			fail_msg("case %zu: %s %s: lists '%s', want '%s'", i, c->type ? c->type : "(any)", c->value, got,
				 c->want);
		assert_int_equal(id != 0, c->want[0] != 0);
	}
	/* The same set twice is the same id. */
	const struct iocb_misp_type *dom = iocb_misp_type_find(iocb_str_c("domain"));
	assert_int_equal(iocb_wl_match(w, dom, iocb_str_c("www.example.com")),
			 iocb_wl_match(w, dom, iocb_str_c("www.example.com")));
	iocb_wl_free(w);
}

static void test_lists_and_policy(void **state)
{
	(void)state;
	struct iocb_wl *w = load_all();
	const struct iocb_wl_list *l = NULL;
	size_t two_b_i = 0;
	for (size_t i = 0; i < iocb_wl_count(w); i++)
		if (strcmp(iocb_wl_list_get(w, i)->id, "two-b") == 0)
			two_b_i = i, l = iocb_wl_list_get(w, i);
	assert_non_null(l);
	assert_string_equal(l->name, "Example strings");
	assert_int_equal(l->category, IOCB_WL_CAT_KNOWN);
	assert_int_equal(l->type, IOCB_WL_STRING);
	assert_int_equal(l->entries, 1); /* the empty entry is dropped */
	assert_int_equal(l->version, 2);
	assert_true(l->all_types);
	const struct iocb_wl_list *r = iocb_wl_list_get(w, 4);
	assert_string_equal(r->id, "rfc1918");
	assert_string_equal(r->file, FIX "/rfc1918.json");
	assert_false(r->all_types);

	const struct iocb_misp_type *dom = iocb_misp_type_find(iocb_str_c("domain"));
	struct iocb_wl_policy p;
	iocb_wl_policy_default(&p);
	uint16_t both = iocb_wl_match(w, dom, iocb_str_c("www.example.com"));
	uint16_t known = iocb_wl_match(w, iocb_misp_type_find(iocb_str_c("md5")), iocb_str_c("www.example.com"));
	assert_int_equal(iocb_wl_set_action(w, both, &p), IOCB_WL_ACT_SUPPRESS);
	assert_int_equal(iocb_wl_set_action(w, known, &p), IOCB_WL_ACT_FLAG);
	assert_int_equal(iocb_wl_set_action(w, 0, &p), IOCB_WL_ACT_NONE);
	p.category[IOCB_WL_CAT_FALSE_POSITIVE] = IOCB_WL_ACT_IGNORE;
	assert_int_equal(iocb_wl_set_action(w, both, &p), IOCB_WL_ACT_FLAG);
	p.all = IOCB_WL_ACT_IGNORE;
	assert_int_equal(iocb_wl_set_action(w, both, &p), IOCB_WL_ACT_IGNORE);
	(void)two_b_i;
	/* A foreign or unknown id resolves to no list. */
	const uint16_t *ls;
	assert_int_equal(iocb_wl_set_lists(w, 60000, &ls), 0);
	assert_string_equal(iocb_wl_action_name(IOCB_WL_ACT_SUPPRESS), "suppress");
	assert_string_equal(iocb_wl_type_name(IOCB_WL_CIDR), "cidr");
	iocb_wl_free(w);
}

static void test_select(void **state)
{
	(void)state;
	struct iocb_err err = {0};
	struct iocb_wl_load_stats st = {0};
	/* Only `known` lists: none of the fixtures. */
	struct iocb_wl_select sel = {.category = {false, true}};
	struct iocb_wl_builder *b = iocb_wl_builder_new();
	assert_int_equal(iocb_wl_builder_add_path(b, FIX, &sel, NULL, NULL, &st, &err), IOCB_OK);
	assert_int_equal(st.files, 5);
	assert_int_equal(st.loaded, 0);
	/* By id and by MISP name. */
	const char *ids[] = {"rfc1918", "List of known hashes for empty files"};
	struct iocb_wl_select byname = {.ids = ids, .nids = 2};
	memset(&st, 0, sizeof(st));
	assert_int_equal(iocb_wl_builder_add_path(b, FIX, &byname, NULL, NULL, &st, &err), IOCB_OK);
	assert_int_equal(st.loaded, 2);
	struct iocb_wl *w = NULL;
	assert_int_equal(iocb_wl_builder_finish(b, &w, &err), IOCB_OK);
	assert_int_equal(iocb_wl_count(w), 2);
	assert_string_equal(iocb_wl_list_get(w, 0)->id, "empty-hashes");
	assert_string_equal(iocb_wl_list_get(w, 1)->id, "rfc1918");
	iocb_wl_free(w);
}

struct ecase {
	const char *json;  /* the list */
	int rc;            /* expected return code */
	const char *msg;   /* expected message (substring) */
};

static const struct ecase errors[] = {
	{"{\"name\":\"n\",\"description\":\"d\",\"version\":1,\"type\":\"cidr\",\"list\":[\"10.0.0.0/8\",\"10.0.0.300\"]}",
	 IOCB_EINVAL, "bad.json: entry 1: not an address or network: '10.0.0.300'"},
	{"{\"name\":\"n\",\"description\":\"d\",\"version\":1,\"type\":\"cidr\",\"list\":[\"10.0.0.0/33\"]}", IOCB_EINVAL,
	 "entry 0: not an address"},
	{"{\"name\":\"n\",\"description\":\"d\",\"version\":1,\"type\":\"glob\",\"list\":[]}", IOCB_EINVAL,
	 "byte 49: unknown `type` 'glob'"},
	{"{\"name\":\"n\",\"description\":\"d\",\"version\":1,\"type\":\"string\"}", IOCB_EINVAL, "missing `list`"},
	{"{\"name\":\"n\",\"description\":\"d\",\"version\":\"1\",\"type\":\"string\",\"list\":[]}", IOCB_ETYPE,
	 "byte 40: `version` is not an integer"},
	{"{\"name\":\"n\",\"description\":\"d\",\"version\":1,\"type\":\"string\",\"list\":[\"a\",2]}", IOCB_ETYPE,
	 "byte 70: `list` entry 1 is not a string"},
	{"{\"name\":\"n\",\"description\":\"d\",\"version\":1,\"type\":\"regex\",\"list\":[\"/a(/\"]}", IOCB_EINVAL,
	 "entry 0: regex does not compile at offset 2"},
	{"{\"name\":\"n\",\"description\":\"d\",\"version\":1,\"type\":\"regex\",\"list\":[\"abc\"]}", IOCB_EINVAL,
	 "entry 0: regex must start with a delimiter"},
	{"{\"name\":\"n\",\"description\":\"d\",\"version\":1,\"type\":\"regex\",\"list\":[\"/a/q\"]}", IOCB_EINVAL,
	 "unknown regex modifier 'q'"},
	{"{\"name\":\"n\",\"description\":\"d\",\"version\":1,\"type\":\"string\",\"list\":[\"a\",]}", IOCB_EPARSE,
	 "bad.json: byte 70: "},
	{"{\"name\":\"n\",\"description\":\"d\",\"version\":1,\"type\":\"string\",\"category\":\"bad\",\"list\":[]}",
	 IOCB_EINVAL, "unknown `category`"},
	{"[1]", IOCB_ETYPE, "byte 0: not a JSON object"},
	{"{\"name\":\"\",\"description\":\"d\",\"version\":1,\"type\":\"string\",\"list\":[]}", IOCB_EINVAL,
	 "`name` is empty"},
};

static void test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		struct iocb_wl_builder *b = iocb_wl_builder_new();
		struct iocb_err err = {0};
		bool added = true;
		int rc = iocb_wl_builder_add_json(b, "bad", "bad.json", errors[i].json, strlen(errors[i].json), NULL,
						  &added, &err);
		if (rc != errors[i].rc || !strstr(err.msg, errors[i].msg))
			fail_msg("case %zu: rc %s msg '%s', want %s '%s'", i, iocb_rc_str(rc), err.msg,
				 iocb_rc_str(errors[i].rc), errors[i].msg);
		assert_false(added);
		/* The builder is still usable and holds nothing of the bad list. */
		struct iocb_wl *w = NULL;
		assert_int_equal(iocb_wl_builder_finish(b, &w, &err), IOCB_OK);
		assert_int_equal(iocb_wl_count(w), 0);
		assert_int_equal(iocb_wl_match(w, NULL, iocb_str_c("10.0.0.1")), 0);
		iocb_wl_free(w);
	}
}

struct skips {
	int n;           /* skip callbacks */
	char last[600];  /* last file + reason */
};

static void on_skip(void *ud, const char *file, const char *reason)
{
	struct skips *s = ud;
	s->n++;
	snprintf(s->last, sizeof(s->last), "%s|%s", file, reason);
}

/* A checkout layout (lists/<id>/list.json) with one broken list: skipped, counted, the rest load. */
static void test_checkout_with_broken_list(void **state)
{
	(void)state;
	char dir[] = "/tmp/iocb-wl-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char p[512];
	const char *ids[] = {"good", "broken"};
	const char *docs[] = {v6_list, "{\"name\":\"x\",\"description\":\"d\",\"version\":1,\"type\":\"cidr\",\"list\":[\"nope\"]}"};
	snprintf(p, sizeof(p), "%s/lists", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/lists/%s", dir, ids[i]);
		assert_int_equal(mkdir(p, 0700), 0);
		snprintf(p, sizeof(p), "%s/lists/%s/list.json", dir, ids[i]);
		FILE *f = fopen(p, "w");
		assert_non_null(f);
		fputs(docs[i], f);
		fclose(f);
	}
	struct iocb_wl_builder *b = iocb_wl_builder_new();
	struct iocb_wl_load_stats st = {0};
	struct iocb_err err = {0};
	struct skips sk = {0};
	assert_int_equal(iocb_wl_builder_add_path(b, dir, NULL, on_skip, &sk, &st, &err), IOCB_OK);
	assert_int_equal(st.files, 2);
	assert_int_equal(st.loaded, 1);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(sk.n, 1);
	assert_non_null(strstr(sk.last, "/lists/broken/list.json|"));
	assert_non_null(strstr(sk.last, "entry 0: not an address or network: 'nope'"));
	/* The same file alone takes its directory's name; a second copy of an id is refused. */
	snprintf(p, sizeof(p), "%s/lists/good/list.json", dir);
	memset(&st, 0, sizeof(st));
	assert_int_equal(iocb_wl_builder_add_path(b, p, NULL, on_skip, &sk, &st, &err), IOCB_OK);
	assert_int_equal(st.skipped, 1);
	assert_non_null(strstr(sk.last, "a list named 'good' is already loaded"));
	assert_int_equal(iocb_wl_builder_add_path(b, "/nonexistent/wl", NULL, NULL, NULL, NULL, &err), IOCB_ENOTFOUND);
	struct iocb_wl *w = NULL;
	assert_int_equal(iocb_wl_builder_finish(b, &w, &err), IOCB_OK);
	assert_int_equal(iocb_wl_count(w), 1);
	assert_string_equal(iocb_wl_list_get(w, 0)->id, "good");
	iocb_wl_free(w);
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s/lists/%s/list.json", dir, ids[i]);
		unlink(p);
		snprintf(p, sizeof(p), "%s/lists/%s", dir, ids[i]);
		rmdir(p);
	}
	snprintf(p, sizeof(p), "%s/lists", dir);
	rmdir(p);
	rmdir(dir);
}

/* The substring automaton against memmem on random entries and values over a small alphabet. */
static void test_substring_vs_naive(void **state)
{
	(void)state;
	enum { NLISTS = 3, NENT = 40, NVAL = 400 };
	char ent[NLISTS][NENT][8];
	unsigned seed = 12345;
	struct iocb_wl_builder *b = iocb_wl_builder_new();
	struct iocb_err err = {0};
	for (int l = 0; l < NLISTS; l++) {
		char json[4096];
		size_t o = (size_t)snprintf(json, sizeof(json),
					    "{\"name\":\"s%d\",\"description\":\"d\",\"version\":1,\"type\":\"substring\",\"list\":[", l);
		for (int e = 0; e < NENT; e++) {
			int len = 1 + (int)(rand_r(&seed) % 5);
			for (int k = 0; k < len; k++)
				ent[l][e][k] = (char)('a' + rand_r(&seed) % 4);
			ent[l][e][len] = 0;
			o += (size_t)snprintf(json + o, sizeof(json) - o, "%s\"%s\"", e ? "," : "", ent[l][e]);
		}
		o += (size_t)snprintf(json + o, sizeof(json) - o, "]}");
		char id[8];
		snprintf(id, sizeof(id), "s%d", l);
		assert_int_equal(iocb_wl_builder_add_json(b, id, NULL, json, o, NULL, NULL, &err), IOCB_OK);
	}
	struct iocb_wl *w = NULL;
	assert_int_equal(iocb_wl_builder_finish(b, &w, &err), IOCB_OK);
	for (int v = 0; v < NVAL; v++) {
		char val[16];
		int len = (int)(rand_r(&seed) % 12);
		for (int k = 0; k < len; k++)
			val[k] = (char)('a' + rand_r(&seed) % 5);
		val[len] = 0;
		char want[64] = "", got[64];
		size_t o = 0;
		for (int l = 0; l < NLISTS; l++)
			for (int e = 0; e < NENT; e++)
				if (strstr(val, ent[l][e])) {
					o += (size_t)snprintf(want + o, sizeof(want) - o, "%ss%d", o ? " " : "", l);
					break;
				}
		set_ids(w, iocb_wl_match(w, NULL, iocb_str_c(val)), got, sizeof(got));
		if (strcmp(got, want) != 0)
			fail_msg("value '%s': got '%s', want '%s'", val, got, want);
	}
	iocb_wl_free(w);
}

/* Many distinct sets (past the first growth of the interning table): value y<i> is on lists i and i+1. */
static void test_many_sets(void **state)
{
	(void)state;
	enum { N = 300 };
	struct iocb_wl_builder *b = iocb_wl_builder_new();
	struct iocb_err err = {0};
	for (int i = 0; i < N; i++) {
		char json[256], id[16];
		int n = snprintf(json, sizeof(json),
				 "{\"name\":\"l%d\",\"description\":\"d\",\"version\":1,\"type\":\"string\",\"list\":[\"y%d\",\"y%d\"]}",
				 i, i, i - 1);
		snprintf(id, sizeof(id), "l%03d", i);
		assert_int_equal(iocb_wl_builder_add_json(b, id, NULL, json, (size_t)n, NULL, NULL, &err), IOCB_OK);
	}
	struct iocb_wl *w = NULL;
	assert_int_equal(iocb_wl_builder_finish(b, &w, &err), IOCB_OK);
	uint16_t ids[N];
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < N - 1; i++) {
			char v[16], got[64], want[64];
			snprintf(v, sizeof(v), "y%d", i);
			uint16_t id = iocb_wl_match(w, NULL, iocb_str_c(v));
			set_ids(w, id, got, sizeof(got));
			snprintf(want, sizeof(want), "l%03d l%03d", i, i + 1);
			assert_string_equal(got, want);
			if (round == 1)
				assert_int_equal(id, ids[i]); /* interned: the same set, the same id */
			ids[i] = id;
		}
	assert_int_equal(iocb_wl_sets_overflow(w), 0);
	iocb_wl_free(w);
}

/* quality.warninglists: categories and names select, policy words map onto actions, a source overrides. */
static void test_from_config(void **state)
{
	(void)state;
	char *paths[] = {(char *)FIX}, *known[] = {(char *)"known"}, *all[] = {(char *)"all"};
	char *names[] = {(char *)"rfc1918"};
	struct iocb_config_warninglists c = {.present = true, .paths = paths, .npaths = 1,
					     .false_positive = IOCB_CONFIG_WL_FLAG, .known = IOCB_CONFIG_WL_IGNORE};
	struct iocb_wl *w = NULL;
	struct iocb_err err = {0};
	struct iocb_wl_load_stats st = {0};
	/* Neither lists nor categories: every list. */
	assert_int_equal(iocb_wl_load_config(&c, NULL, NULL, &w, &st, &err), IOCB_OK);
	assert_int_equal(iocb_wl_count(w), 5);
	iocb_wl_free(w);
	/* `known` only: the fixtures are all false-positive. */
	c.categories = known;
	c.ncategories = 1;
	assert_int_equal(iocb_wl_load_config(&c, NULL, NULL, &w, NULL, &err), IOCB_OK);
	assert_int_equal(iocb_wl_count(w), 0);
	iocb_wl_free(w);
	/* `known` or named. */
	c.lists = names;
	c.nlists = 1;
	assert_int_equal(iocb_wl_load_config(&c, NULL, NULL, &w, NULL, &err), IOCB_OK);
	assert_int_equal(iocb_wl_count(w), 1);
	iocb_wl_free(w);
	c.categories = all;
	assert_int_equal(iocb_wl_load_config(&c, NULL, NULL, &w, NULL, &err), IOCB_OK);
	assert_int_equal(iocb_wl_count(w), 5);
	/* Policy: the words, then a source's override for every list. */
	struct iocb_wl_policy p;
	iocb_wl_policy_from_config(&c, -1, &p);
	assert_int_equal(p.category[IOCB_WL_CAT_FALSE_POSITIVE], IOCB_WL_ACT_FLAG);
	assert_int_equal(p.category[IOCB_WL_CAT_KNOWN], IOCB_WL_ACT_IGNORE);
	assert_int_equal(p.all, IOCB_WL_ACT_NONE);
	uint16_t set = iocb_wl_match(w, iocb_misp_type_find(iocb_str_c("ip-dst")), iocb_str_c("10.0.0.1"));
	assert_int_equal(iocb_wl_set_action(w, set, &p), IOCB_WL_ACT_FLAG);
	iocb_wl_policy_from_config(&c, IOCB_CONFIG_WL_SUPPRESS, &p);
	assert_int_equal(iocb_wl_set_action(w, set, &p), IOCB_WL_ACT_SUPPRESS);
	iocb_wl_policy_from_config(NULL, -1, &p); /* no section: MISP's defaults */
	assert_int_equal(iocb_wl_set_action(w, set, &p), IOCB_WL_ACT_SUPPRESS);
	iocb_wl_free(w);
	/* A path that is not there fails the load. */
	char *bad[] = {(char *)"/nonexistent/lists"};
	c.paths = bad;
	assert_int_equal(iocb_wl_load_config(&c, NULL, NULL, &w, NULL, &err), IOCB_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_lists_and_policy),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_checkout_with_broken_list),
		cmocka_unit_test(test_substring_vs_naive),
		cmocka_unit_test(test_many_sets),
		cmocka_unit_test(test_from_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
