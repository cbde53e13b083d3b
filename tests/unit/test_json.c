/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the JSON pull parser and writer (src/json/json.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

struct vcase {
	const char *doc;
	int rc; /* expected iocb_json_validate() result */
};

static const struct vcase validate_cases[] = {
	{"{}", IOCB_OK},
	{"[]", IOCB_OK},
	{" {\"a\" : [1, 2.5, -3e10, true, false, null, \"x\"]} \n", IOCB_OK},
	{"\"\\u00e9\\ud83d\\ude00\"", IOCB_OK},
	{"0", IOCB_OK},
	{"-0.0e+1", IOCB_OK},
	{"{\"a\":{\"b\":{\"c\":[[[]]]}}}", IOCB_OK},
	{"\"caf\xc3\xa9\"", IOCB_OK},
	{"", IOCB_EPARSE},
	{"   ", IOCB_EPARSE},
	{"{", IOCB_EPARSE},
	{"{\"a\"}", IOCB_EPARSE},
	{"{\"a\":}", IOCB_EPARSE},
	{"{\"a\":1,}", IOCB_EPARSE},
	{"[1,]", IOCB_EPARSE},
	{"[1 2]", IOCB_EPARSE},
	{"{a:1}", IOCB_EPARSE},
	{"01", IOCB_EPARSE},
	{"1.", IOCB_EPARSE},
	{"-", IOCB_EPARSE},
	{"1e", IOCB_EPARSE},
	{"tru", IOCB_EPARSE},
	{"nul", IOCB_EPARSE},
	{"\"abc", IOCB_EPARSE},
	{"\"a\nb\"", IOCB_EPARSE},
	{"\"\\x\"", IOCB_EPARSE},
	{"\"\\u12g4\"", IOCB_EPARSE},
	{"\"\xff\"", IOCB_EPARSE},
	{"\"\xc0\xaf\"", IOCB_EPARSE},       /* overlong */
	{"\"\xed\xa0\x80\"", IOCB_EPARSE},   /* encoded surrogate */
	{"\"\xf4\x90\x80\x80\"", IOCB_EPARSE}, /* > U+10FFFF */
	{"{} {}", IOCB_EPARSE},
	{"]", IOCB_EPARSE},
	{"{\"a\":1]", IOCB_EPARSE},
	{"[1}", IOCB_EPARSE},
	{"123abc", IOCB_EPARSE},
};

static void test_validate_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(validate_cases) / sizeof(validate_cases[0]); i++) {
		struct iocb_err err = {0};
		const struct vcase *c = &validate_cases[i];
		int rc = iocb_json_validate(c->doc, strlen(c->doc), 0, &err);
		if (rc != c->rc)
			fail_msg("case %zu '%s': got %s want %s (%s)", i, c->doc, iocb_rc_str(rc), iocb_rc_str(c->rc),
				 err.msg);
		if (rc < 0)
			assert_non_null(strstr(err.msg, "byte "));
	}
}

static void test_tokens(void **state)
{
	const char *doc = "{\"k\":\"v\",\"n\":[12,-7],\"t\":true,\"z\":null}";
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	uint64_t u;
	int64_t i;
	static const enum iocb_json_type want[] = {
		IOCB_JSON_OBJ, IOCB_JSON_KEY, IOCB_JSON_STR, IOCB_JSON_KEY, IOCB_JSON_ARR, IOCB_JSON_NUM,
		IOCB_JSON_NUM, IOCB_JSON_ARR_END, IOCB_JSON_KEY, IOCB_JSON_TRUE, IOCB_JSON_KEY, IOCB_JSON_NULL,
		IOCB_JSON_OBJ_END,
	};
	(void)state;

	iocb_json_init(&p, doc, strlen(doc), 0, false);
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		assert_int_equal(iocb_json_next(&p, &t, NULL), IOCB_OK);
		assert_int_equal(t.type, want[k]);
		if (k == 1)
			assert_true(iocb_json_tok_eq(&t, "k"));
		if (k == 2) {
			assert_true(iocb_json_tok_eq(&t, "v"));
			assert_int_equal(t.offset, 5);
		}
		if (k == 5) {
			assert_true(iocb_json_tok_u64(&t, &u));
			assert_int_equal(u, 12);
		}
		if (k == 6) {
			assert_false(iocb_json_tok_u64(&t, &u));
			assert_true(iocb_json_tok_i64(&t, &i));
			assert_int_equal(i, -7);
		}
	}
	assert_int_equal(iocb_json_next(&p, &t, NULL), IOCB_EEND);
}

static void test_unescape(void **state)
{
	const char *doc = "\"a\\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00\\u0041\"";
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	char out[64];
	size_t n;
	(void)state;

	iocb_json_init(&p, doc, strlen(doc), 0, false);
	assert_int_equal(iocb_json_next(&p, &t, NULL), IOCB_OK);
	assert_true(t.escaped);
	assert_int_equal(iocb_json_unescape(&t, out, sizeof(out), &n), IOCB_OK);
	assert_int_equal(n, strlen("a\"b\\c/d\n\xc3\xa9\xf0\x9f\x98\x80" "A"));
	assert_memory_equal(out, "a\"b\\c/d\n\xc3\xa9\xf0\x9f\x98\x80" "A", n);
	/* Too small a buffer is a limit, not an overflow. */
	assert_int_equal(iocb_json_unescape(&t, out, 3, &n), IOCB_ELIMIT);

	/* A lone low surrogate is rejected when decoding. */
	doc = "\"\\udc00\"";
	iocb_json_init(&p, doc, strlen(doc), 0, false);
	assert_int_equal(iocb_json_next(&p, &t, NULL), IOCB_OK);
	assert_int_equal(iocb_json_unescape(&t, out, sizeof(out), &n), IOCB_EPARSE);
	/* Escaped key comparison. */
	doc = "\"\\u0061bc\"";
	iocb_json_init(&p, doc, strlen(doc), 0, false);
	assert_int_equal(iocb_json_next(&p, &t, NULL), IOCB_OK);
	assert_true(iocb_json_tok_eq(&t, "abc"));
	assert_false(iocb_json_tok_eq(&t, "abd"));
}

static void test_skip(void **state)
{
	const char *doc = "{\"skip\":{\"a\":[1,{\"b\":\"}\"}],\"c\":{}},\"keep\":42}";
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	uint64_t v;
	(void)state;

	iocb_json_init(&p, doc, strlen(doc), 0, false);
	assert_int_equal(iocb_json_next(&p, &t, NULL), IOCB_OK); /* { */
	assert_int_equal(iocb_json_next(&p, &t, NULL), IOCB_OK); /* skip */
	assert_int_equal(iocb_json_skip_value(&p, NULL), IOCB_OK);
	assert_int_equal(iocb_json_next(&p, &t, NULL), IOCB_OK);
	assert_true(iocb_json_tok_eq(&t, "keep"));
	assert_int_equal(iocb_json_next(&p, &t, NULL), IOCB_OK);
	assert_true(iocb_json_tok_u64(&t, &v));
	assert_int_equal(v, 42);
}

static void test_depth_limit(void **state)
{
	char doc[300];
	struct iocb_err err = {0};
	(void)state;

	memset(doc, '[', 100);
	memset(doc + 100, ']', 100);
	assert_int_equal(iocb_json_validate(doc, 200, 100, &err), IOCB_OK);
	assert_int_equal(iocb_json_validate(doc, 200, 99, &err), IOCB_ELIMIT);
	assert_non_null(strstr(err.msg, "nesting"));
}

static void test_multi(void **state)
{
	const char *doc = "{\"a\":1}\n{\"b\":2}\n  [3]\n";
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	int values = 0, rc;
	(void)state;

	iocb_json_init(&p, doc, strlen(doc), 0, true);
	while ((rc = iocb_json_next(&p, &t, NULL)) == IOCB_OK)
		if (p.depth == 1 && (t.type == IOCB_JSON_OBJ || t.type == IOCB_JSON_ARR))
			values++;
	assert_int_equal(rc, IOCB_EEND);
	assert_int_equal(values, 3);
}

static void test_writer(void **state)
{
	struct iocb_buf b;
	struct iocb_jw w;
	(void)state;

	iocb_buf_init(&b, 0);
	iocb_jw_init(&w, &b);
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "s");
	iocb_jw_str(&w, iocb_str_c("q\"b\\n\n\x01/caf\xc3\xa9\xff"));
	iocb_jw_key(&w, "a");
	iocb_jw_arr(&w);
	iocb_jw_u64(&w, 18446744073709551615ULL);
	iocb_jw_i64(&w, -5);
	iocb_jw_bool(&w, true);
	iocb_jw_null(&w);
	iocb_jw_obj(&w);
	iocb_jw_obj_end(&w);
	iocb_jw_arr(&w);
	iocb_jw_arr_end(&w);
	iocb_jw_arr_end(&w);
	iocb_jw_key(&w, "r");
	iocb_jw_raw(&w, iocb_str_c("{\"x\":1}"));
	iocb_jw_obj_end(&w);
	assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
	assert_string_equal(b.ptr, "{\"s\":\"q\\\"b\\\\n\\n\\u0001/caf\xc3\xa9\xef\xbf\xbd\",\"a\":[18446744073709551615,-5,"
				   "true,null,{},[]],\"r\":{\"x\":1}}");
	assert_int_equal(iocb_json_validate(b.ptr, b.len, 0, NULL), IOCB_OK);
	iocb_buf_fini(&b);

	/* A capped buffer reports ELIMIT instead of growing. */
	iocb_buf_init(&b, 8);
	iocb_jw_init(&w, &b);
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "long key");
	iocb_jw_obj_end(&w);
	assert_int_equal(iocb_jw_rc(&w), IOCB_ELIMIT);
	assert_true(b.len <= 8);
	iocb_buf_fini(&b);
}

/* Writer output of arbitrary bytes always parses back to valid JSON. */
static void test_writer_roundtrip_random(void **state)
{
	struct iocb_buf b;
	struct iocb_jw w;
	unsigned seed = 12345;
	char s[64];
	(void)state;

	iocb_buf_init(&b, 0);
	for (int round = 0; round < 2000; round++) {
		size_t n = (size_t)(rand_r(&seed) % (int)sizeof(s));
		for (size_t i = 0; i < n; i++)
			s[i] = (char)(rand_r(&seed) & 0xff);
		iocb_buf_reset(&b);
		iocb_jw_init(&w, &b);
		iocb_jw_arr(&w);
		iocb_jw_str(&w, iocb_str_make(s, n));
		iocb_jw_arr_end(&w);
		assert_int_equal(iocb_jw_rc(&w), IOCB_OK);
		assert_int_equal(iocb_json_validate(b.ptr, b.len, 0, NULL), IOCB_OK);
	}
	iocb_buf_fini(&b);
}

/* Open the object of `doc`, then count its members, skipping every value; rc of the loop (0 or an error). */
static int walk_members(const char *doc, unsigned *n, struct iocb_err *err)
{
	struct iocb_json_parser p;
	struct iocb_json_tok k, v;
	int rc;

	*n = 0;
	iocb_json_init(&p, doc, strlen(doc), 0, false);
	assert_int_equal(iocb_json_next(&p, &k, err), IOCB_OK);
	assert_int_equal(k.type, IOCB_JSON_OBJ);
	while ((rc = iocb_json_next_member(&p, &k, &v, err)) > 0) {
		assert_int_equal(k.type, IOCB_JSON_KEY);
		(*n)++;
		rc = iocb_json_skip(&p, &v, err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

static void test_member_empty(void **state)
{
	const char *doc = " { } ";
	struct iocb_json_parser p;
	struct iocb_json_tok k, v;
	(void)state;

	iocb_json_init(&p, doc, strlen(doc), 0, false);
	assert_int_equal(iocb_json_next(&p, &k, NULL), IOCB_OK);
	assert_int_equal(iocb_json_next_member(&p, &k, &v, NULL), 0);
	assert_int_equal(k.type, IOCB_JSON_OBJ_END);
	assert_int_equal(k.offset, 3); /* the '}' */
	assert_int_equal(iocb_json_next(&p, &k, NULL), IOCB_EEND);
}

static void test_member_one(void **state)
{
	const char *doc = "{ \"k\" :\ttrue }";
	struct iocb_json_parser p;
	struct iocb_json_tok k, v;
	(void)state;

	iocb_json_init(&p, doc, strlen(doc), 0, false);
	assert_int_equal(iocb_json_next(&p, &k, NULL), IOCB_OK);
	assert_int_equal(iocb_json_next_member(&p, &k, &v, NULL), 1);
	assert_true(iocb_json_tok_eq(&k, "k"));
	assert_int_equal(k.offset, 2);
	assert_int_equal(v.type, IOCB_JSON_TRUE);
	assert_int_equal(v.offset, 8);
	assert_int_equal(iocb_json_next_member(&p, &k, &v, NULL), 0);
	assert_int_equal(iocb_json_next(&p, &k, NULL), IOCB_EEND);
}

/* Many members; the caller reads one nested object with the same helper and skips the other containers. */
static void test_member_many_nested(void **state)
{
	const char *doc = "{\"a\":1,\"b\":\"x\",\"c\":{\"d\":[1,{\"e\":2}],\"f\":\"g\"},\"h\":[],\"i\\u0041\":null,\"j\":{}}";
	static const char *const keys[] = {"a", "b", "c", "h", "iA", "j"};
	static const enum iocb_json_type types[] = {IOCB_JSON_NUM, IOCB_JSON_STR, IOCB_JSON_OBJ,
						    IOCB_JSON_ARR, IOCB_JSON_NULL, IOCB_JSON_OBJ};
	struct iocb_json_parser p;
	struct iocb_json_tok k, v, ik, iv;
	struct iocb_err err = {0};
	unsigned n = 0, inner = 0;
	int rc;
	(void)state;

	iocb_json_init(&p, doc, strlen(doc), 0, false);
	assert_int_equal(iocb_json_next(&p, &k, &err), IOCB_OK);
	while ((rc = iocb_json_next_member(&p, &k, &v, &err)) > 0) {
		assert_true(n < sizeof(keys) / sizeof(keys[0]));
		assert_true(iocb_json_tok_eq(&k, keys[n]));
		assert_int_equal(v.type, types[n]);
		if (n == 2) {
			while ((rc = iocb_json_next_member(&p, &ik, &iv, &err)) > 0) {
				inner++;
				if (iocb_json_tok_eq(&ik, "f"))
					assert_true(iocb_json_tok_eq(&iv, "g"));
				rc = iocb_json_skip(&p, &iv, &err);
				assert_int_equal(rc, IOCB_OK);
			}
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(iocb_json_skip(&p, &v, &err), IOCB_OK);
		}
		n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, 6);
	assert_int_equal(inner, 2);
	assert_int_equal(iocb_json_next(&p, &k, &err), IOCB_EEND);
}

/* val NULL: the caller reads (or skips) each value itself. */
static void test_member_key_only(void **state)
{
	const char *doc = "{\"skip\":{\"x\":[1]},\"n\":7}";
	struct iocb_json_parser p;
	struct iocb_json_tok k, v;
	uint64_t u = 0;
	int rc;
	(void)state;

	iocb_json_init(&p, doc, strlen(doc), 0, false);
	assert_int_equal(iocb_json_next(&p, &k, NULL), IOCB_OK);
	while ((rc = iocb_json_next_member(&p, &k, NULL, NULL)) > 0) {
		if (iocb_json_tok_eq(&k, "n")) {
			assert_int_equal(iocb_json_next(&p, &v, NULL), IOCB_OK);
			assert_true(iocb_json_tok_u64(&v, &u));
		} else {
			assert_int_equal(iocb_json_skip_value(&p, NULL), IOCB_OK);
		}
	}
	assert_int_equal(rc, 0);
	assert_int_equal(u, 7);
}

struct mcase {
	const char *doc;
	unsigned members; /* members returned before the error */
	int rc;           /* the loop's result */
	const char *msg;  /* err.msg, with the error's location */
};

static const struct mcase member_cases[] = {
	{"{\"a\":1}", 1, 0, ""},
	{"{\"a\":1,\"b\":{\"c\":[]}}", 2, 0, ""},
	{"{\"a\":1,}", 1, IOCB_EPARSE, "byte 7: expected a string key"},
	{"{,}", 0, IOCB_EPARSE, "byte 1: expected a string key"},
	{"{1:2}", 0, IOCB_EPARSE, "byte 1: expected a string key"},
	{"{\"a\":1,true:2}", 1, IOCB_EPARSE, "byte 7: expected a string key"},
	{"{\"a\" 1}", 0, IOCB_EPARSE, "byte 5: expected ':' after key"},
	{"{\"a\":1 \"b\":2}", 1, IOCB_EPARSE, "byte 7: expected ',' or '}'"},
	{"{\"a\":1]", 1, IOCB_EPARSE, "byte 6: expected ',' or '}'"},
	{"{\"a\":1", 1, IOCB_EPARSE, "byte 6: unexpected end of input"},
	{"{\"a\":", 0, IOCB_EPARSE, "byte 5: unexpected end of input, expected a value"},
	{"{", 0, IOCB_EPARSE, "byte 1: unexpected end of input, expected a key"},
	{"{\"a\":tru}", 0, IOCB_EPARSE, "byte 5: invalid literal"},
	/* An error inside a value the caller skips is reported by the skip, at its own byte. */
	{"{\"a\":1,\"b\":{\"c\":[1,]}}", 2, IOCB_EPARSE, "byte 19: expected a JSON value"},
};

static void test_member_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(member_cases) / sizeof(member_cases[0]); i++) {
		const struct mcase *c = &member_cases[i];
		struct iocb_err err = {0};
		unsigned n;
		int rc = walk_members(c->doc, &n, &err);

		if (rc != c->rc || n != c->members || strcmp(err.msg, c->msg) != 0)
			fail_msg("case %zu '%s': got %s after %u members (%s), want %s after %u (%s)", i, c->doc,
				 iocb_rc_str(rc), n, err.msg, iocb_rc_str(c->rc), c->members, c->msg);
	}
}

/* Called where no object is open: a caller bug, reported, and the parser stays failed. */
static void test_member_outside_object(void **state)
{
	const char *doc = "[1,2]";
	struct iocb_json_parser p;
	struct iocb_json_tok k, v;
	struct iocb_err err = {0};
	(void)state;

	iocb_json_init(&p, doc, strlen(doc), 0, false);
	assert_int_equal(iocb_json_next(&p, &k, &err), IOCB_OK);
	assert_int_equal(iocb_json_next_member(&p, &k, &v, &err), IOCB_EINVAL);
	assert_string_equal(err.msg, "byte 1: not an object member (the parser is not inside an object)");
	assert_true(iocb_json_next(&p, &k, NULL) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_table),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_skip),
		cmocka_unit_test(test_member_empty),
		cmocka_unit_test(test_member_one),
		cmocka_unit_test(test_member_many_nested),
		cmocka_unit_test(test_member_key_only),
		cmocka_unit_test(test_member_errors),
		cmocka_unit_test(test_member_outside_object),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_multi),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_writer_roundtrip_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
