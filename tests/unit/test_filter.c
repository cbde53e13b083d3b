/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for src/filter: Threat Bus-style whitelists.
 *
 * The tests are data: each row of `cases` gives a filter list in a small
 * notation, the options, one attribute and whether it must pass. The
 * notation keeps a row on one line so the table reads like the README:
 *
 *   ""                              no filters at all
 *   "any"                           one filter with no whitelist
 *   "orgs=1,25 types=domain,url"    one filter: (org 1 OR 25) AND (domain OR url)
 *   "orgs=1,25; types=domain"       two filters, OR'ed
 *   "orgs="                         the key present with an empty list
 *   "tags=a,"                       a list with an empty entry ("a", "")
 *
 * Tags in an attribute row are comma-separated; a leading '^' marks an
 * inherited tag (restSearch includeEventTags). Event tags are a list plus
 * a `known` flag, because most messages do not carry them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "filter/filter.h"

#define MAX_SPECS 8
#define MAX_TAGS 8
#define NO_ID (-1) /* the event lacks this org id field */

/* Options as bits, so that the default (0) is the default of filter.h. */
#define OPT_ORG_ID 1u         /* compare numeric orgs with Event.org_id */
#define OPT_NO_EVENT_TAGS 2u  /* opts.event_tags = false */

struct tattr {
	const char *type;       /* MISP type name */
	long long orgc_id;      /* NO_ID = absent */
	long long org_id;       /* NO_ID = absent */
	const char *orgc_name;  /* NULL = absent */
	const char *orgc_uuid;  /* NULL = absent */
	const char *tags;       /* attribute tags, "^" = inherited; NULL = none */
	const char *ev_tags;    /* event tags; NULL = none */
	bool ev_known;          /* the message carried the event tag list */
};

struct tcase {
	const char *desc;      /* what the row checks */
	const char *filters;   /* filter list in the notation above */
	unsigned opts;         /* OPT_* bits */
	struct tattr a;        /* the attribute */
	bool pass;             /* expected result */
};

/* Shorthands for the common attribute shapes. */
#define A(type, orgc) {(type), (orgc), NO_ID, NULL, NULL, NULL, NULL, false}
#define AT(type, orgc, tags) {(type), (orgc), NO_ID, NULL, NULL, (tags), NULL, false}
#define CONFIG_EXAMPLE "orgs=1,25 tags=TLP:AMBER,TLP:RED types=ip-src,ip-dst,hostname,domain,url; orgs=2"
#define CIRCL_UUID "55f6ea5e-2c60-40e5-964f-47a8950d210f"

static const struct tcase cases[] = {
	/* README example 1: "forwards all IoCs of orgs 1 and 25". */
	{"readme 1: org 1 passes", "orgs=1,25", 0, A("domain", 1), true},
	{"readme 1: org 25 passes", "orgs=1,25", 0, A("ip-dst", 25), true},
	{"readme 1: org 2 is dropped", "orgs=1,25", 0, A("domain", 2), false},

	/* README example 2 as written: two list items are two filters, OR'ed. */
	{"readme 2 as written: ip-dst of org 1 passes (OR)", "orgs=1,25; types=domain,url,uri", 0, A("ip-dst", 1), true},
	{"readme 2 as written: domain of org 7 passes (OR)", "orgs=1,25; types=domain,url,uri", 0, A("domain", 7), true},
	{"readme 2 as written: ip-dst of org 7 is dropped", "orgs=1,25; types=domain,url,uri", 0, A("ip-dst", 7), false},
	/* README example 2 as meant: one item with both keys, AND'ed. */
	{"readme 2 as meant: uri of org 25 passes", "orgs=1,25 types=domain,url,uri", 0, A("uri", 25), true},
	{"readme 2 as meant: ip-dst of org 1 is dropped", "orgs=1,25 types=domain,url,uri", 0, A("ip-dst", 1), false},
	{"readme 2 as meant: domain of org 7 is dropped", "orgs=1,25 types=domain,url,uri", 0, A("domain", 7), false},

	/* README example 3 with the real type name ip-src (src-ip: see errors). */
	{"readme 3 as written: untagged ip-src passes (OR)", "tags=TLP:RED,TLP:AMBER; types=ip-src", 0,
	 A("ip-src", 3), true},
	{"readme 3 as written: TLP:RED domain passes (OR)", "tags=TLP:RED,TLP:AMBER; types=ip-src", 0,
	 AT("domain", 3, "TLP:RED"), true},
	{"readme 3 as written: untagged domain is dropped", "tags=TLP:RED,TLP:AMBER; types=ip-src", 0,
	 A("domain", 3), false},
	{"readme 3 as meant: TLP:AMBER ip-src passes", "tags=TLP:RED,TLP:AMBER types=ip-src", 0,
	 AT("ip-src", 3, "TLP:AMBER"), true},
	{"readme 3 as meant: untagged ip-src is dropped", "tags=TLP:RED,TLP:AMBER types=ip-src", 0,
	 A("ip-src", 3), false},
	{"readme 3 as meant: TLP:RED domain is dropped", "tags=TLP:RED,TLP:AMBER types=ip-src", 0,
	 AT("domain", 3, "TLP:RED"), false},

	/* README configuration example. */
	{"config example: anything of org 2 passes", CONFIG_EXAMPLE, 0, A("sha256", 2), true},
	{"config example: TLP:RED ip-dst of org 1 passes", CONFIG_EXAMPLE, 0, AT("ip-dst", 1, "TLP:RED"), true},
	{"config example: untagged ip-dst of org 1 is dropped", CONFIG_EXAMPLE, 0, A("ip-dst", 1), false},
	{"config example: TLP:RED md5 of org 1 is dropped", CONFIG_EXAMPLE, 0, AT("md5", 1, "TLP:RED"), false},
	{"config example: TLP:AMBER domain of org 3 is dropped", CONFIG_EXAMPLE, 0, AT("domain", 3, "TLP:AMBER"), false},

	/* Absent and empty whitelists. */
	{"empty filter list passes all", "", 0, A("domain", 9), true},
	{"empty filter list passes an attribute without org", "", 0, A("text", NO_ID), true},
	{"a filter with no whitelist passes all", "any", 0, A("domain", 9), true},
	{"empty lists pass all", "orgs= types= tags=", 0, A("md5", NO_ID), true},
	{"empty orgs list + types: md5 passes", "orgs= types=md5", 0, A("md5", 4), true},
	{"empty orgs list + types: domain is dropped", "orgs= types=md5", 0, A("domain", 4), false},
	{"empty tags list does not require a tag", "tags= orgs=4", 0, A("domain", 4), true},
	{"a match-all filter among others passes all", "orgs=1; any", 0, A("domain", 2), true},

	/* Org ids: numbers, text, and which field. */
	{"org id 1 matches orgc_id 1", "orgs=1", 0, A("domain", 1), true},
	{"org entry 10 does not match orgc_id 1", "orgs=10", 0, A("domain", 1), false},
	{"org entry 1 does not match orgc_id 10", "orgs=1", 0, A("domain", 10), false},
	{"org entry 01 is text, not the number 1", "orgs=01", 0, A("domain", 1), false},
	{"org entry 0 is a number", "orgs=0", 0, A("domain", 0), true},
	{"org ids beyond 32 bits", "orgs=4294967297", 0, A("domain", 4294967297LL), true},
	{"org entry past uint64 is text", "orgs=18446744073709551616", 0, A("domain", 0), false},
	{"default field is orgc_id, not org_id", "orgs=2", 0, {"domain", 1, 2, NULL, NULL, NULL, NULL, false}, false},
	{"org_field ORG compares org_id", "orgs=2", OPT_ORG_ID, {"domain", 1, 2, NULL, NULL, NULL, NULL, false}, true},
	{"org_field ORG ignores orgc_id", "orgs=1", OPT_ORG_ID, {"domain", 1, 2, NULL, NULL, NULL, NULL, false}, false},
	{"missing orgc_id fails an orgs whitelist", "orgs=1", 0, {"domain", NO_ID, 1, NULL, NULL, NULL, NULL, false}, false},
	{"missing org_id fails with org_field ORG", "orgs=1", OPT_ORG_ID, A("domain", 1), false},
	{"orgc_id 0 when absent does not match entry 0", "orgs=0", 0, A("domain", NO_ID), false},
	{"missing org passes an orgs-less filter", "types=domain", 0, A("domain", NO_ID), true},
	{"org by name, exact", "orgs=CIRCL", 0, {"domain", 1, 1, "CIRCL", NULL, NULL, NULL, false}, true},
	{"org name is case-sensitive", "orgs=circl", 0, {"domain", 1, 1, "CIRCL", NULL, NULL, NULL, false}, false},
	{"org name with spaces", "orgs=ACME Corp", 0, {"domain", 1, 1, "ACME Corp", NULL, NULL, NULL, false}, true},
	{"org by uuid, case-insensitive", "orgs=55F6EA5E-2C60-40E5-964F-47A8950D210F", 0,
	 {"domain", 1, 1, "CIRCL", CIRCL_UUID, NULL, NULL, false}, true},
	{"org uuid must match whole", "orgs=55f6ea5e-2c60-40e5-964f-47a8950d210", 0,
	 {"domain", 1, 1, "CIRCL", CIRCL_UUID, NULL, NULL, false}, false},
	{"org name without any id field", "orgs=CIRCL", 0, {"domain", NO_ID, NO_ID, "CIRCL", NULL, NULL, NULL, false}, true},
	{"org name does not match a numeric id", "orgs=CIRCL", 0, A("domain", 1), false},
	{"numeric entry does not match an org named 1", "orgs=1", 0, {"domain", NO_ID, NO_ID, "1", NULL, NULL, NULL, false},
	 false},
	{"org name names the creator even with org_field ORG", "orgs=CIRCL", OPT_ORG_ID,
	 {"domain", 1, 2, "CIRCL", NULL, NULL, NULL, false}, true},
	{"mixed numeric and name entries", "orgs=7,CIRCL", 0, {"url", 7, 7, "Other", NULL, NULL, NULL, false}, true},

	/* Types. */
	{"type whitelist: sha256 passes", "types=md5,sha1,sha256", 0, A("sha256", 1), true},
	{"type whitelist: sha512 is dropped", "types=md5,sha1,sha256", 0, A("sha512", 1), false},
	{"composite domain|ip does not match domain", "types=domain", 0, A("domain|ip", 1), false},
	{"composite domain|ip matches domain|ip", "types=domain|ip", 0, A("domain|ip", 1), true},
	{"domain does not match domain|ip", "types=domain|ip", 0, A("domain", 1), false},
	{"ip-dst|port does not match ip-dst", "types=ip-dst", 0, A("ip-dst|port", 1), false},
	{"ip-src does not match ip-dst", "types=ip-dst", 0, A("ip-src", 1), false},
	{"non-indicator type can be whitelisted", "types=text", 0, A("text", 1), true},

	/* Tags. */
	{"attribute tag matches", "tags=tlp:amber", 0, AT("domain", 1, "tlp:amber"), true},
	{"tags are case-sensitive", "tags=TLP:AMBER", 0, AT("domain", 1, "tlp:amber"), false},
	{"tag prefix is not a match", "tags=tlp:red", 0, AT("domain", 1, "tlp:re"), false},
	{"longer tag is not a match", "tags=tlp:red", 0, AT("domain", 1, "tlp:red2"), false},
	{"one of several attribute tags matches", "tags=tlp:red", 0, AT("domain", 1, "a,b,tlp:red"), true},
	{"no attribute tag is whitelisted", "tags=x,y", 0, AT("domain", 1, "a,b"), false},
	{"untagged attribute fails a tags whitelist", "tags=x", 0, A("domain", 1), false},
	{"galaxy tag with quotes and =", "tags=misp-galaxy:threat-actor=\"Sofacy\"", 0,
	 AT("domain", 1, "misp-galaxy:threat-actor=\"Sofacy\""), true},
	{"tag only on the event passes with event_tags on", "tags=tlp:amber", 0,
	 {"domain", 1, NO_ID, NULL, NULL, NULL, "tlp:amber", true}, true},
	{"tag only on the event fails with event_tags off", "tags=tlp:amber", OPT_NO_EVENT_TAGS,
	 {"domain", 1, NO_ID, NULL, NULL, NULL, "tlp:amber", true}, false},
	{"event tags ignored when not known", "tags=tlp:amber", 0,
	 {"domain", 1, NO_ID, NULL, NULL, NULL, "tlp:amber", false}, false},
	{"known but empty event tags", "tags=tlp:amber", 0, {"domain", 1, NO_ID, NULL, NULL, NULL, NULL, true}, false},
	{"second event tag matches", "tags=tlp:red", 0, {"domain", 1, NO_ID, NULL, NULL, NULL, "x,tlp:red", true}, true},
	{"attribute tag matches while event tags differ", "tags=a", 0,
	 {"domain", 1, NO_ID, NULL, NULL, "a", "tlp:red", true}, true},
	{"event tag matches while attribute tags differ", "tags=tlp:red", 0,
	 {"domain", 1, NO_ID, NULL, NULL, "a", "x,tlp:red", true}, true},
	{"inherited tag counts as an event tag", "tags=tlp:amber", 0, AT("domain", 1, "^tlp:amber"), true},
	{"inherited tag ignored with event_tags off", "tags=tlp:amber", OPT_NO_EVENT_TAGS, AT("domain", 1, "^tlp:amber"),
	 false},
	{"own tag still counts with event_tags off", "tags=tlp:amber", OPT_NO_EVENT_TAGS,
	 AT("domain", 1, "^tlp:red,tlp:amber"), true},

	/* AND within a filter, OR across filters. */
	{"three-way AND: all hold", "orgs=1 types=url tags=tlp:green", 0, AT("url", 1, "tlp:green"), true},
	{"three-way AND: tag missing", "orgs=1 types=url tags=tlp:green", 0, A("url", 1), false},
	{"three-way AND: wrong org", "orgs=1 types=url tags=tlp:green", 0, AT("url", 2, "tlp:green"), false},
	{"three-way AND: wrong type", "orgs=1 types=url tags=tlp:green", 0, AT("domain", 1, "tlp:green"), false},
	{"three-way AND: event tag completes it", "orgs=1 types=url tags=tlp:green", 0,
	 {"url", 1, NO_ID, NULL, NULL, NULL, "tlp:green", true}, true},
	{"OR across three filters: first", "orgs=5; types=md5; tags=x", 0, A("domain", 5), true},
	{"OR across three filters: second", "orgs=5; types=md5; tags=x", 0, A("md5", 9), true},
	{"OR across three filters: third", "orgs=5; types=md5; tags=x", 0, AT("url", 9, "x"), true},
	{"OR across three filters: none", "orgs=5; types=md5; tags=x", 0, AT("url", 9, "y"), false},
	{"two AND filters: second one passes", "orgs=1 types=md5; orgs=2 types=url", 0, A("url", 2), true},
	{"two AND filters: halves of each do not combine", "orgs=1 types=md5; orgs=2 types=url", 0, A("url", 1), false},
};

/* ------------------------------------------------------------- helpers */

/* A spec list parsed from the notation; heap strings as the config parser makes them. */
struct specs {
	struct iocb_filter_spec s[MAX_SPECS];
	size_t n;
};

/* Split [p, end) at ',' into a heap array, keeping empty items; "" is an empty list. */
static char **split_list(const char *p, const char *end, size_t *n)
{
	char **v = iocb_xcalloc(16, sizeof(*v));

	*n = 0;
	if (p == end)
		return v;
	for (;;) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		const char *stop = c ? c : end;

		assert_true(*n < 16);
		v[(*n)++] = iocb_xstrndup(p, (size_t)(stop - p));
		if (!c)
			break;
		p = c + 1;
	}
	return v;
}

/*
 * Parse "k=v,v k=v; k=v" into specs. Keys are separated by a space that is
 * followed by "orgs=", "types=" or "tags=" so org names may contain spaces.
 */
static void parse_specs(const char *text, bool with_where, struct specs *out)
{
	const char *p = text;

	memset(out, 0, sizeof(*out));
	while (*p) {
		const char *semi = strchr(p, ';');
		const char *fend = semi ? semi : p + strlen(p);
		struct iocb_filter_spec *s;
		char where[64];

		assert_true(out->n < MAX_SPECS);
		s = &out->s[out->n++];
		if (with_where) {
			snprintf(where, sizeof(where), "test.yaml:%zu:5", out->n + 2);
			s->where = iocb_xstrdup(where);
		}
		while (p < fend && *p == ' ')
			p++;
		while (p < fend) {
			const char *eq = memchr(p, '=', (size_t)(fend - p));
			const char *vend = fend;

			if (strncmp(p, "any", 3) == 0 && !eq)
				break; /* a filter with no whitelist */
			assert_non_null(eq);
			/* The value ends where the next " key=" starts. */
			for (const char *q = eq + 1; q < fend; q++) {
				if (*q == ' ' && (strncmp(q + 1, "orgs=", 5) == 0 || strncmp(q + 1, "types=", 6) == 0 ||
						  strncmp(q + 1, "tags=", 5) == 0)) {
					vend = q;
					break;
				}
			}
			if (strncmp(p, "orgs=", 5) == 0) {
				s->orgs = split_list(eq + 1, vend, &s->norgs);
				s->has_orgs = true;
			} else if (strncmp(p, "types=", 6) == 0) {
				s->types = split_list(eq + 1, vend, &s->ntypes);
				s->has_types = true;
			} else if (strncmp(p, "tags=", 5) == 0) {
				s->tags = split_list(eq + 1, vend, &s->ntags);
				s->has_tags = true;
			} else {
				fail_msg("bad key in '%s'", text);
			}
			p = vend;
			while (p < fend && *p == ' ')
				p++;
		}
		p = semi ? semi + 1 : fend;
	}
}

static void specs_fini(struct specs *sp)
{
	for (size_t i = 0; i < sp->n; i++)
		iocb_filter_spec_fini(&sp->s[i]);
	sp->n = 0;
}

/* Fill tags from "a,^b,c" (views into the static case text). */
static size_t make_tags(const char *list, struct iocb_misp_tag *tags)
{
	size_t n = 0;
	const char *p = list;

	if (!list || !*list)
		return 0;
	for (;;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);

		assert_true(n < MAX_TAGS);
		memset(&tags[n], 0, sizeof(tags[n]));
		if (len && *p == '^') {
			tags[n].inherited = true;
			p++;
			len--;
		}
		tags[n].name = iocb_str_make(p, len);
		n++;
		if (!c)
			break;
		p = c + 1;
	}
	return n;
}

static struct iocb_filter_opts make_opts(unsigned bits)
{
	struct iocb_filter_opts o = {
		.org_field = (bits & OPT_ORG_ID) ? IOCB_FILTER_ORG : IOCB_FILTER_ORGC,
		.event_tags = !(bits & OPT_NO_EVENT_TAGS),
	};
	return o;
}

/* ------------------------------------------------------------- tests */

static void test_cases(void **state)
{
	(void)state;
	unsigned failures = 0;

	for (size_t i = 0; i < IOCB_ARRAY_LEN(cases); i++) {
		const struct tcase *c = &cases[i];
		struct iocb_misp_tag atags[MAX_TAGS], etags[MAX_TAGS];
		struct iocb_misp_event ev;
		struct iocb_misp_attr a;
		struct iocb_filter_opts o = make_opts(c->opts);
		struct iocb_filter *f = NULL;
		struct iocb_err err = {0};
		struct specs sp;
		bool got;

		memset(&ev, 0, sizeof(ev));
		memset(&a, 0, sizeof(a));
		ev.has_orgc_id = c->a.orgc_id != NO_ID;
		ev.orgc_id = ev.has_orgc_id ? (uint64_t)c->a.orgc_id : 0;
		ev.has_org_id = c->a.org_id != NO_ID;
		ev.org_id = ev.has_org_id ? (uint64_t)c->a.org_id : 0;
		ev.orgc_name = iocb_str_c(c->a.orgc_name);
		ev.orgc_uuid = iocb_str_c(c->a.orgc_uuid);
		ev.ntags = make_tags(c->a.ev_tags, etags);
		ev.tags = ev.ntags ? etags : NULL;
		ev.tags_known = c->a.ev_known;
		a.type = iocb_misp_type_find(iocb_str_c(c->a.type));
		if (!a.type)
			fail_msg("case %zu '%s': type '%s' not in the type table", i, c->desc, c->a.type);
		a.value = IOCB_STR_LIT("x");
		a.ntags = make_tags(c->a.tags, atags);
		a.tags = a.ntags ? atags : NULL;
		a.event = &ev;

		parse_specs(c->filters, true, &sp);
		if (iocb_filter_new(sp.s, sp.n, &o, &f, &err) != IOCB_OK)
			fail_msg("case %zu '%s': iocb_filter_new failed: %s", i, c->desc, err.msg);
		assert_int_equal(iocb_filter_count(f), sp.n);
		got = iocb_filter_pass(f, &a);
		if (got != c->pass) {
			print_error("case %zu '%s': filters \"%s\" gave %s, expected %s\n", i, c->desc, c->filters,
				    got ? "pass" : "drop", c->pass ? "pass" : "drop");
			failures++;
		}
		iocb_filter_free(f);
		specs_fini(&sp);
	}
	assert_int_equal(failures, 0);
}

/* Rows that must fail to build, with text the message must contain. */
struct ecase {
	const char *desc;
	const char *filters;
	bool with_where;       /* specs carry "test.yaml:<n+2>:5" */
	const char *want[3];   /* substrings of err.msg (NULL-terminated) */
	const char *not_want;  /* substring that must be absent, or NULL */
};

static const struct ecase ecases[] = {
	{"readme 3 as written: src-ip is not a MISP type", "tags=TLP:RED,TLP:AMBER; types=src-ip", true,
	 {"unknown MISP type 'src-ip'", "in filter at test.yaml:4:5", "did you mean 'ip-src'?"}, NULL},
	{"reordered words: dst-ip", "types=dst-ip", true, {"did you mean 'ip-dst'?", NULL, NULL}, NULL},
	{"transposed letters: ip-dts", "types=ip-dts", true, {"did you mean 'ip-dst'?", NULL, NULL}, NULL},
	{"one typo: domian", "types=domian", true, {"unknown MISP type 'domian'", "did you mean 'domain'?", NULL},
	 NULL},
	{"wrong case: MD5", "types=MD5", true, {"did you mean 'md5'?", NULL, NULL}, NULL},
	{"reordered composite: ip|domain", "types=ip|domain", true, {"did you mean 'domain|ip'?", NULL, NULL}, NULL},
	{"nothing close", "types=totally-bogus-type", true, {"unknown MISP type 'totally-bogus-type'", NULL, NULL},
	 "did you mean"},
	{"no where: index instead", "orgs=1; types=md5; types=nope-nope-nope", false,
	 {"unknown MISP type 'nope-nope-nope'", "in filter at #3", NULL}, NULL},
	{"empty type entry", "types=md5,", true, {"unknown MISP type ''", NULL, NULL}, NULL},
	{"empty org entry", "orgs=1,", true, {"empty entry in 'orgs'", "test.yaml:3:5", NULL}, NULL},
	{"empty tag entry", "orgs=1; tags=,a", true, {"empty entry in 'tags'", "test.yaml:4:5", NULL}, NULL},
};

static void test_errors(void **state)
{
	(void)state;
	struct iocb_filter_opts o = make_opts(0);

	for (size_t i = 0; i < IOCB_ARRAY_LEN(ecases); i++) {
		const struct ecase *c = &ecases[i];
		struct iocb_filter *f = (struct iocb_filter *)&o; /* must be reset to NULL */
		struct iocb_err err = {0};
		struct specs sp;
		int rc;

		parse_specs(c->filters, c->with_where, &sp);
		rc = iocb_filter_new(sp.s, sp.n, &o, &f, &err);
		if (rc != IOCB_ECONFIG)
			fail_msg("error case %zu '%s': rc %s, expected IOCB_ECONFIG", i, c->desc, iocb_rc_str(rc));
		assert_null(f);
		assert_int_equal(err.rc, IOCB_ECONFIG);
		for (size_t k = 0; k < 3 && c->want[k]; k++)
			if (!strstr(err.msg, c->want[k]))
				fail_msg("error case %zu '%s': message \"%s\" lacks \"%s\"", i, c->desc, err.msg, c->want[k]);
		if (c->not_want && strstr(err.msg, c->not_want))
			fail_msg("error case %zu '%s': message \"%s\" has \"%s\"", i, c->desc, err.msg, c->not_want);
		specs_fini(&sp);
	}
}

/* Null arguments, counts, defaults and ownership. */
static void test_api(void **state)
{
	(void)state;
	struct iocb_misp_tag tag = {IOCB_STR_LIT("tlp:red"), false, false};
	struct iocb_misp_event ev = {.tags = &tag, .ntags = 1, .tags_known = true, .orgc_id = 3, .has_orgc_id = true};
	struct iocb_misp_attr a = {.type = iocb_misp_type_find(IOCB_STR_LIT("md5")), .event = &ev};
	struct iocb_filter *f = NULL;
	struct specs sp;

	assert_non_null(a.type);
	iocb_filter_free(NULL);
	iocb_filter_spec_fini(NULL);
	assert_int_equal(iocb_filter_count(NULL), 0);

	/* Zero specs: count 0, passes everything. */
	assert_int_equal(iocb_filter_new(NULL, 0, NULL, &f, NULL), IOCB_OK);
	assert_int_equal(iocb_filter_count(f), 0);
	assert_true(iocb_filter_pass(f, &a));
	iocb_filter_free(f);

	/* NULL opts mean the defaults: orgc_id, event tags on. */
	parse_specs("orgs=3 tags=tlp:red; types=sha1", false, &sp);
	assert_int_equal(iocb_filter_new(sp.s, sp.n, NULL, &f, NULL), IOCB_OK);
	assert_int_equal(iocb_filter_count(f), 2);
	assert_true(iocb_filter_pass(f, &a));
	ev.tags_known = false;
	assert_false(iocb_filter_pass(f, &a));

	/* The filter owns copies: the specs can go before it does. */
	specs_fini(&sp);
	ev.tags_known = true;
	assert_true(iocb_filter_pass(f, &a));
	iocb_filter_free(f);

	/*
	 * Notifications may carry an attribute whose type is not an indicator
	 * (a->type NULL): it fails a types whitelist and passes the others.
	 */
	a.type = NULL;
	parse_specs("types=md5", false, &sp);
	assert_int_equal(iocb_filter_new(sp.s, sp.n, NULL, &f, NULL), IOCB_OK);
	assert_false(iocb_filter_pass(f, &a));
	iocb_filter_free(f);
	specs_fini(&sp);
	parse_specs("orgs=3", false, &sp);
	assert_int_equal(iocb_filter_new(sp.s, sp.n, NULL, &f, NULL), IOCB_OK);
	assert_true(iocb_filter_pass(f, &a));
	iocb_filter_free(f);
	specs_fini(&sp);

	/* A failing build leaves nothing behind and takes a NULL err. */
	parse_specs("types=md5; types=bogus", false, &sp);
	assert_int_equal(iocb_filter_new(sp.s, sp.n, NULL, &f, NULL), IOCB_ECONFIG);
	assert_null(f);
	specs_fini(&sp);
}

/* spec_fini frees everything and leaves a zeroed spec (safe to fini twice). */
static void test_spec_fini(void **state)
{
	(void)state;
	struct specs sp;

	parse_specs("orgs=1,2 types=md5 tags=a,b", true, &sp);
	iocb_filter_spec_fini(&sp.s[0]);
	assert_null(sp.s[0].orgs);
	assert_null(sp.s[0].types);
	assert_null(sp.s[0].tags);
	assert_null(sp.s[0].where);
	assert_int_equal(sp.s[0].norgs, 0);
	assert_false(sp.s[0].has_orgs);
	iocb_filter_spec_fini(&sp.s[0]);
}

/* Every type in the table can be whitelisted alone and matches only itself. */
static void test_every_type(void **state)
{
	(void)state;
	size_t count = iocb_misp_type_count();
	struct iocb_misp_event ev = {0};

	assert_true(count > 100);
	for (size_t i = 0; i < count; i++) {
		const struct iocb_misp_type *t = iocb_misp_type_get((uint16_t)i);
		const struct iocb_misp_type *other = iocb_misp_type_get((uint16_t)((i + 1) % count));
		char *types[1];
		struct iocb_filter_spec s = {.types = types, .ntypes = 1, .has_types = true};
		struct iocb_misp_attr a = {.event = &ev};
		struct iocb_filter *f = NULL;
		struct iocb_err err = {0};

		assert_non_null(t);
		types[0] = (char *)t->name;
		if (iocb_filter_new(&s, 1, NULL, &f, &err) != IOCB_OK)
			fail_msg("type '%s': %s", t->name, err.msg);
		a.type = t;
		assert_true(iocb_filter_pass(f, &a));
		a.type = other;
		assert_false(iocb_filter_pass(f, &a));
		iocb_filter_free(f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_spec_fini),
		cmocka_unit_test(test_every_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
