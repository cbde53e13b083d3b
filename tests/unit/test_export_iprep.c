/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the "suricata-iprep" export (export.h, exports.md §3.5):
 * the reputation lines and the categories file for tag rules (attribute
 * and event tags, globs, the "*" rule, CIDRs kept, non-addresses skipped),
 * and the rule checks (ids 0..59, names of 1..31 safe bytes, scores
 * 1..127, one name and score per id).
 */
#include "export/export.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "export_text.h"
#include "fixture_store.h"

static void add_tagged(struct iocb_store *s, uint64_t n, const char *type, const char *v, int prefix, const char *tag)
{
	struct fixture_attr t;
	struct iocb_misp_tag tg = {.name = iocb_str_c(tag ? tag : "")};

	fixture_attr_make(&t, n, type, v, NULL, prefix, 1, true);
	if (tag) {
		t.a.tags = &tg;
		t.a.ntags = 1;
	}
	fixture_store_upsert(s, &t.a);
}

static void test_iprep_golden(void **state)
{
	struct iocb_store *s = fixture_store_open(false);
	struct iocb_export_iprep_rule rules[3];
	struct iocb_export_opts o = {.iprep_rules = rules, .niprep_rules = 3};
	struct iocb_export_stats st;
	struct iocb_err err;
	char dir[] = "/tmp/iocb-iprep-XXXXXX", cats[128], buf[512];
	FILE *fp;
	size_t n;

	(void)state;
	assert_int_equal(iocb_export_iprep_rule_parse("*", "1,MISP,50", &rules[0], &err), IOCB_OK);
	assert_int_equal(iocb_export_iprep_rule_parse("kill-chain:*", "2,MISP-C2,90", &rules[1], &err), IOCB_OK);
	assert_int_equal(iocb_export_iprep_rule_parse("tlp:red", "3,MISP-RED,127", &rules[2], &err), IOCB_OK);
	assert_int_equal(iocb_export_iprep_rules_check(rules, 3, &err), IOCB_OK);
	assert_non_null(mkdtemp(dir));
	snprintf(cats, sizeof(cats), "%s/categories.txt", dir);
	o.iprep_categories = cats;
	add_tagged(s, 1, "ip-dst", "198.51.100.7", -1, "kill-chain:Command and Control");
	add_tagged(s, 2, "ip-src", "10.0.0.0/8", 8, NULL);
	add_tagged(s, 3, "ip-dst", "2001:db8::1", -1, "tlp:red");
	add_tagged(s, 4, "domain", "not-an-ip.example", -1, "kill-chain:x");
	add_tagged(s, 5, "ip-dst", "198.51.100.7", -1, NULL); /* same address, another event: same lines */
	assert_string_equal(export_text(s, "suricata-iprep", &o, &st),
			    "10.0.0.0/8,1,50\n"
			    "198.51.100.7,1,50\n"
			    "198.51.100.7,2,90\n"
			    "2001:db8::1,1,50\n"
			    "2001:db8::1,3,127\n");
	assert_int_equal(st.written, 5);
	assert_int_equal(st.skipped, 1); /* the domain */
	fp = fopen(cats, "r");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	assert_string_equal(buf, "1,MISP,MISP tags *\n2,MISP-C2,MISP tags kill-chain:*\n3,MISP-RED,MISP tags tlp:red\n");
	unlink(cats);
	rmdir(dir);
	/* no rules: every address in category 1 "MISP" at 100 */
	o.iprep_rules = NULL;
	o.iprep_categories = NULL;
	assert_string_equal(export_text(s, "suricata-iprep", &o, &st),
			    "10.0.0.0/8,1,100\n198.51.100.7,1,100\n2001:db8::1,1,100\n");
	iocb_store_free(s);
}

static void test_iprep_rules_checked(void **state)
{
	struct iocb_export_iprep_rule r[2];
	struct iocb_err err;
	static const char *const bad[] = {"60,X,1", "1,,1", "1,X,0", "1,X,128", "1,a b,5", "1,X", "x,X,1",
					  "1,abcdefghijabcdefghijabcdefghij12,5", "1,X,5x"};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(iocb_export_iprep_rule_parse("*", bad[i], &r[0], &err), IOCB_EINVAL);
	assert_int_equal(iocb_export_iprep_rule_parse("a", "59,abcdefghijabcdefghijabcdefghij1,127", &r[0], &err), IOCB_OK);
	assert_int_equal(iocb_export_iprep_rule_parse("b", "59,other,127", &r[1], &err), IOCB_OK);
	assert_int_equal(iocb_export_iprep_rules_check(r, 2, &err), IOCB_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_iprep_golden),
		cmocka_unit_test(test_iprep_rules_checked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
