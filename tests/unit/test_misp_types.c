/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the MISP type table and value normalisation (types.c,
 * normalize.c), through misp.h only.
 *
 * The table is checked against PyMISP's describeTypes.json fixture (every
 * type present with MISP's sane defaults) and against the class/norm choices
 * of misp.md 4.2/4.3. Normalisation is tested as data: one row per rule,
 * each row normalised and then re-normalised to prove idempotence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "misp/misp.h"

/* ---------------------------------------------------------------- table */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0)
		goto out;
	n = ftell(f);
	if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	buf = malloc((size_t)n + 1);
	if (buf == NULL)
		goto out;
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	*len = (size_t)n;
out:
	fclose(f);
	return buf;
}

/* Value of the string/number after `"key":` at or after p (whitespace-tolerant). */
static const char *json_after_key(const char *p, const char *key, char *val, size_t cap)
{
	char pat[128];
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(p, pat);
	if (p == NULL)
		return NULL;
	p += strlen(pat);
	while (*p == ' ' || *p == '\n' || *p == ':')
		p++;
	if (*p == '"')
		p++;
	while (*p && *p != '"' && *p != ',' && *p != '\n' && *p != '}' && n + 1 < cap)
		val[n++] = *p++;
	val[n] = '\0';
	return p;
}

static void test_table_matches_fixture(void **state)
{
	size_t len = 0, ndefaults = 0;
	char *doc = slurp(IOCB_FIXTURES_DIR "/misp/pymisp/describeTypes.json", &len);
	const char *p;

	(void)state;
	assert_non_null(doc);
	assert_int_equal(iocb_misp_type_count(), 194);
	for (p = strstr(doc, "\"default_category\""); p != NULL; p = strstr(p + 1, "\"default_category\""))
		ndefaults++;
	assert_int_equal(ndefaults, iocb_misp_type_count());

	for (size_t i = 0; i < iocb_misp_type_count(); i++) {
		const struct iocb_misp_type *t = iocb_misp_type_get((uint16_t)i);
		char key[160], cat[128], ids[8];
		const char *at;

		assert_non_null(t);
		assert_int_equal(t->id, i);
		/* The entry in sane_defaults is the only place a name is followed by ": {". */
		snprintf(key, sizeof(key), "\"%s\": {", t->name);
		at = strstr(doc, key);
		if (at == NULL)
			fail_msg("type %s not in describeTypes.json", t->name);
		assert_non_null(json_after_key(at, "default_category", cat, sizeof(cat)));
		assert_non_null(json_after_key(at, "to_ids", ids, sizeof(ids)));
		assert_string_equal(cat, t->default_category);
		assert_int_equal(t->to_ids_default, strcmp(ids, "1") == 0);
		assert_ptr_equal(iocb_misp_type_find(iocb_str_c(t->name)), t);
		if (i > 0)
			assert_true(strcmp(iocb_misp_type_get((uint16_t)(i - 1))->name, t->name) < 0);
	}
	free(doc);
}

static void test_find(void **state)
{
	(void)state;
	assert_null(iocb_misp_type_find(IOCB_STR_NULL));
	assert_null(iocb_misp_type_find(iocb_str_c("IP-DST")));   /* case-sensitive, as MISP */
	assert_null(iocb_misp_type_find(iocb_str_c("as")));
	assert_null(iocb_misp_type_find(iocb_str_c("ip-dst ")));
	assert_null(iocb_misp_type_find(iocb_str_c("ip-ds")));
	assert_null(iocb_misp_type_find(iocb_str_c("zzz")));
	assert_null(iocb_misp_type_find(iocb_str_c("0")));
	assert_non_null(iocb_misp_type_find(iocb_str_c("AS")));
	assert_non_null(iocb_misp_type_find(iocb_str_c("named pipe")));
	assert_non_null(iocb_misp_type_find(iocb_str_c("filename|sha512/256")));
	/* A view that is not NUL-terminated: "ip-dst" out of "ip-dst|port". */
	assert_string_equal(iocb_misp_type_find(iocb_str_make("ip-dst|port", 6))->name, "ip-dst");
	assert_null(iocb_misp_type_get((uint16_t)iocb_misp_type_count()));
	assert_null(iocb_misp_type_get(UINT16_MAX));
}

struct type_row {
	const char *name;               /* MISP type */
	bool composite;                 /* expected iocb_misp_type.composite */
	enum iocb_match_class mc0, mc1; /* expected classes of part 1 and 2 */
	enum iocb_norm n0, n1;          /* expected normalisation of part 1 and 2 */
	bool indicator;                 /* expected iocb_misp_type_is_indicator() */
};

static const struct type_row type_rows[] = {
	{"ip-src", false, IOCB_MC_IP, IOCB_MC_NONE, IOCB_NORM_IP_CIDR, IOCB_NORM_NONE, true},
	{"ip-dst", false, IOCB_MC_IP, IOCB_MC_NONE, IOCB_NORM_IP_CIDR, IOCB_NORM_NONE, true},
	{"ip-src|port", true, IOCB_MC_IP, IOCB_MC_PORT, IOCB_NORM_IP, IOCB_NORM_PORT, true},
	{"ip-dst|port", true, IOCB_MC_IP, IOCB_MC_PORT, IOCB_NORM_IP, IOCB_NORM_PORT, true},
	{"domain|ip", true, IOCB_MC_DOMAIN, IOCB_MC_IP, IOCB_NORM_DOMAIN, IOCB_NORM_IP, true},
	{"hostname|port", true, IOCB_MC_DOMAIN, IOCB_MC_PORT, IOCB_NORM_DOMAIN, IOCB_NORM_PORT, true},
	{"domain", false, IOCB_MC_DOMAIN, IOCB_MC_NONE, IOCB_NORM_DOMAIN, IOCB_NORM_NONE, true},
	{"hostname", false, IOCB_MC_DOMAIN, IOCB_MC_NONE, IOCB_NORM_DOMAIN, IOCB_NORM_NONE, true},
	{"onion-address", false, IOCB_MC_DOMAIN, IOCB_MC_NONE, IOCB_NORM_DOMAIN, IOCB_NORM_NONE, true},
	{"url", false, IOCB_MC_URL, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, true},
	{"uri", false, IOCB_MC_URL, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, true},
	{"md5", false, IOCB_MC_HASH, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"sha512/224", false, IOCB_MC_HASH, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"sha3-384", false, IOCB_MC_HASH, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"imphash", false, IOCB_MC_HASH, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"authentihash", false, IOCB_MC_HASH, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"pehash", false, IOCB_MC_HASH, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"telfhash", false, IOCB_MC_HASH, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"vhash", false, IOCB_MC_HASH, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"cdhash", false, IOCB_MC_HASH, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"filename|md5", true, IOCB_MC_FILENAME, IOCB_MC_HASH, IOCB_NORM_NONE, IOCB_NORM_LOWER, true},
	{"filename|sha3-512", true, IOCB_MC_FILENAME, IOCB_MC_HASH, IOCB_NORM_NONE, IOCB_NORM_LOWER, true},
	{"filename|vhash", true, IOCB_MC_FILENAME, IOCB_MC_HASH, IOCB_NORM_NONE, IOCB_NORM_LOWER, true},
	{"malware-sample", true, IOCB_MC_FILENAME, IOCB_MC_HASH, IOCB_NORM_NONE, IOCB_NORM_LOWER, true},
	{"filename", false, IOCB_MC_FILENAME, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, true},
	{"email-attachment", false, IOCB_MC_FILENAME, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, true},
	{"email", false, IOCB_MC_EMAIL, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"email-src", false, IOCB_MC_EMAIL, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"email-dst", false, IOCB_MC_EMAIL, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"eppn", false, IOCB_MC_EMAIL, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"target-email", false, IOCB_MC_EMAIL, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"whois-registrant-email", false, IOCB_MC_EMAIL, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"dns-soa-email", false, IOCB_MC_EMAIL, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"ja3-fingerprint-md5", false, IOCB_MC_TLS_FP, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"jarm-fingerprint", false, IOCB_MC_TLS_FP, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"hassh-md5", false, IOCB_MC_TLS_FP, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"hasshserver-md5", false, IOCB_MC_TLS_FP, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, true},
	{"x509-fingerprint-md5", false, IOCB_MC_X509, IOCB_MC_NONE, IOCB_NORM_X509, IOCB_NORM_NONE, true},
	{"x509-fingerprint-sha1", false, IOCB_MC_X509, IOCB_MC_NONE, IOCB_NORM_X509, IOCB_NORM_NONE, true},
	{"x509-fingerprint-sha256", false, IOCB_MC_X509, IOCB_MC_NONE, IOCB_NORM_X509, IOCB_NORM_NONE, true},
	{"user-agent", false, IOCB_MC_USER_AGENT, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, true},
	{"AS", false, IOCB_MC_ASN, IOCB_MC_NONE, IOCB_NORM_ASN, IOCB_NORM_NONE, true},
	{"mac-address", false, IOCB_MC_MAC, IOCB_MC_NONE, IOCB_NORM_MAC, IOCB_NORM_NONE, true},
	{"mac-eui-64", false, IOCB_MC_MAC, IOCB_MC_NONE, IOCB_NORM_MAC, IOCB_NORM_NONE, true},
	{"community-id", false, IOCB_MC_COMMUNITY_ID, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, true},
	/* Fuzzy hashes: only the file name of filename|<fuzzy> is matchable. */
	{"ssdeep", false, IOCB_MC_NONE, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, false},
	{"tlsh", false, IOCB_MC_NONE, IOCB_MC_NONE, IOCB_NORM_LOWER, IOCB_NORM_NONE, false},
	{"impfuzzy", false, IOCB_MC_NONE, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, false},
	{"filename|ssdeep", true, IOCB_MC_FILENAME, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, true},
	{"filename|tlsh", true, IOCB_MC_FILENAME, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_LOWER, true},
	{"filename|impfuzzy", true, IOCB_MC_FILENAME, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, true},
	{"regkey|value", true, IOCB_MC_NONE, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, false},
	{"port", false, IOCB_MC_NONE, IOCB_MC_NONE, IOCB_NORM_PORT, IOCB_NORM_NONE, false},
	{"text", false, IOCB_MC_NONE, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, false},
	{"comment", false, IOCB_MC_NONE, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, false},
	{"link", false, IOCB_MC_NONE, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, false},
	{"regkey", false, IOCB_MC_NONE, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, false},
	{"yara", false, IOCB_MC_NONE, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, false},
	{"btc", false, IOCB_MC_NONE, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, false},
	{"mutex", false, IOCB_MC_NONE, IOCB_MC_NONE, IOCB_NORM_NONE, IOCB_NORM_NONE, false},
};

static void test_type_classes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(type_rows) / sizeof(type_rows[0]); i++) {
		const struct type_row *r = &type_rows[i];
		const struct iocb_misp_type *t = iocb_misp_type_find(iocb_str_c(r->name));

		if (t == NULL)
			fail_msg("type %s missing", r->name);
		if (t->composite != r->composite || t->mc[0] != r->mc0 || t->mc[1] != r->mc1 ||
		    t->norm[0] != r->n0 || t->norm[1] != r->n1 ||
		    iocb_misp_type_is_indicator(t) != r->indicator)
			fail_msg("type %s: composite=%d mc=%d,%d norm=%d,%d", r->name, t->composite, t->mc[0],
				 t->mc[1], t->norm[0], t->norm[1]);
	}
}

static void test_composites(void **state)
{
	size_t ncomp = 0, nfilename = 0;

	(void)state;
	for (size_t i = 0; i < iocb_misp_type_count(); i++) {
		const struct iocb_misp_type *t = iocb_misp_type_get((uint16_t)i);
		bool bar = strchr(t->name, '|') != NULL;

		/* Composite = the 24 names with '|' plus malware-sample (misp.md 4.2). */
		assert_int_equal(t->composite, bar || strcmp(t->name, "malware-sample") == 0);
		ncomp += t->composite;
		nfilename += strncmp(t->name, "filename|", 9) == 0;
		if (!t->composite) {
			assert_int_equal(t->mc[1], IOCB_MC_NONE);
			assert_int_equal(t->norm[1], IOCB_NORM_NONE);
		}
		if (t->mc[0] == IOCB_MC_IP || t->mc[1] == IOCB_MC_IP) {
			/* CIDR only in ip-src / ip-dst. */
			bool cidr = t->norm[0] == IOCB_NORM_IP_CIDR || t->norm[1] == IOCB_NORM_IP_CIDR;
			assert_int_equal(cidr, !t->composite);
		}
		assert_non_null(t->default_category);
	}
	assert_int_equal(ncomp, 25);
	assert_int_equal(nfilename, 19);
}

static void test_names(void **state)
{
	(void)state;
	for (int mc = 0; mc < IOCB_MC__COUNT; mc++) {
		const char *n = iocb_match_class_name((enum iocb_match_class)mc);

		assert_non_null(n);
		if (mc != IOCB_MC_NONE)
			assert_string_not_equal(n, "none");
		assert_int_equal(iocb_match_class_parse(iocb_str_c(n)), mc);
		for (int other = 0; other < mc; other++)
			assert_string_not_equal(n, iocb_match_class_name((enum iocb_match_class)other));
	}
	assert_string_equal(iocb_match_class_name(IOCB_MC_IP), "ip");
	assert_string_equal(iocb_match_class_name(IOCB_MC_TLS_FP), "tls_fp");
	assert_string_equal(iocb_match_class_name(IOCB_MC_COMMUNITY_ID), "community_id");
	assert_string_equal(iocb_match_class_name(IOCB_MC__COUNT), "none");
	assert_int_equal(iocb_match_class_parse(iocb_str_c("Domain")), IOCB_MC_DOMAIN);
	assert_int_equal(iocb_match_class_parse(iocb_str_c("nope")), IOCB_MC_NONE);
	assert_int_equal(iocb_match_class_parse(IOCB_STR_NULL), IOCB_MC_NONE);

	for (int r = 0; r < IOCB_SKIP__COUNT; r++) {
		const char *n = iocb_misp_skip_name((enum iocb_misp_skip)r);

		/* Every reason has its own name (a new enum value needs one in types.c). */
		assert_string_not_equal(n, "unknown");
		for (const char *c = n; *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') || *c == '_');
		for (int other = 0; other < r; other++)
			assert_string_not_equal(n, iocb_misp_skip_name((enum iocb_misp_skip)other));
	}
	assert_string_equal(iocb_misp_skip_name(IOCB_SKIP_UNKNOWN_TYPE), "unknown_type");
	assert_string_equal(iocb_misp_skip_name(IOCB_SKIP_INVALID_VALUE), "invalid_value");
	assert_string_equal(iocb_misp_skip_name(IOCB_SKIP_IO), "io");
	assert_string_equal(iocb_misp_skip_name(IOCB_SKIP__COUNT), "unknown");
}

/* ---------------------------------------------------------------- normalize */

struct norm_row {
	enum iocb_norm kind; /* normalisation under test */
	const char *in;      /* input value */
	int rc;              /* expected return code */
	const char *out;     /* expected output when rc == IOCB_OK */
	int prefix;          /* expected prefix for IP kinds */
};

#define OK IOCB_OK
#define BAD IOCB_EINVAL

static const struct norm_row norm_rows[] = {
	/* as is */
	{IOCB_NORM_NONE, "Invoice.PDF.exe", OK, "Invoice.PDF.exe", -1},
	{IOCB_NORM_NONE, "http://Example.com/A?b=C", OK, "http://Example.com/A?b=C", -1},
	{IOCB_NORM_NONE, "", BAD, NULL, -1},
	/* lower-case */
	{IOCB_NORM_LOWER, "D41D8CD98F00B204E9800998ECF8427E", OK, "d41d8cd98f00b204e9800998ecf8427e", -1},
	{IOCB_NORM_LOWER, "Alice@Example.COM", OK, "alice@example.com", -1},
	{IOCB_NORM_LOWER, "t13d1516h2_8daaf6152771_E5627EFA2AB1", OK, "t13d1516h2_8daaf6152771_e5627efa2ab1", -1},
	{IOCB_NORM_LOWER, "Grüße", OK, "grüße", -1}, /* ASCII only: UTF-8 bytes untouched */
	/* domain */
	{IOCB_NORM_DOMAIN, "Example.COM", OK, "example.com", -1},
	{IOCB_NORM_DOMAIN, "www.example.com.", OK, "www.example.com", -1},
	{IOCB_NORM_DOMAIN, ".example.com..", OK, "example.com", -1},
	{IOCB_NORM_DOMAIN, "Bücher.example.", OK, "xn--bcher-kva.example", -1},
	{IOCB_NORM_DOMAIN, "BÜCHER.example", OK, "xn--bcher-kva.example", -1},
	{IOCB_NORM_DOMAIN, "münchen.de", OK, "xn--mnchen-3ya.de", -1},
	{IOCB_NORM_DOMAIN, "faß.de", OK, "xn--fa-hia.de", -1}, /* non-transitional keeps ß */
	{IOCB_NORM_DOMAIN, "пример.рф", OK, "xn--e1afmkfd.xn--p1ai", -1},
	{IOCB_NORM_DOMAIN, "xn--bcher-kva.example", OK, "xn--bcher-kva.example", -1},
	{IOCB_NORM_DOMAIN, "_dmarc.Example.com", OK, "_dmarc.example.com", -1},
	{IOCB_NORM_DOMAIN, "_dmarc.bücher.example", OK, "_dmarc.xn--bcher-kva.example", -1},
	{IOCB_NORM_DOMAIN, "my_host-01.corp", OK, "my_host-01.corp", -1},
	{IOCB_NORM_DOMAIN, "localhost", OK, "localhost", -1},
	{IOCB_NORM_DOMAIN, "a..b", BAD, NULL, -1},
	{IOCB_NORM_DOMAIN, "...", BAD, NULL, -1},
	{IOCB_NORM_DOMAIN, "exa mple.com", BAD, NULL, -1},
	{IOCB_NORM_DOMAIN, "example.com/path", BAD, NULL, -1},
	{IOCB_NORM_DOMAIN, "*.example.com", BAD, NULL, -1},
	{IOCB_NORM_DOMAIN, "\xff\xfe.example", BAD, NULL, -1}, /* not UTF-8 */
	{IOCB_NORM_DOMAIN, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", BAD, NULL, -1},
	/* IP */
	{IOCB_NORM_IP, "1.2.3.4", OK, "1.2.3.4", -1},
	{IOCB_NORM_IP, "2001:DB8:0:0:0:0:0:1", OK, "2001:db8::1", -1},
	{IOCB_NORM_IP, "2001:0db8:0000:0000:0000:ff00:0042:8329", OK, "2001:db8::ff00:42:8329", -1},
	{IOCB_NORM_IP, "::ffff:1.2.3.4", OK, "::ffff:1.2.3.4", -1},
	{IOCB_NORM_IP, "::FFFF:0102:0304", OK, "::ffff:1.2.3.4", -1},
	{IOCB_NORM_IP, "::", OK, "::", -1},
	{IOCB_NORM_IP, "0.0.0.0", OK, "0.0.0.0", -1},
	{IOCB_NORM_IP, "256.1.1.1", BAD, NULL, -1},
	{IOCB_NORM_IP, "1.2.3", BAD, NULL, -1},
	{IOCB_NORM_IP, "1.2.3.4.5", BAD, NULL, -1},
	{IOCB_NORM_IP, "01.2.3.4", BAD, NULL, -1},
	{IOCB_NORM_IP, " 1.2.3.4", BAD, NULL, -1},
	{IOCB_NORM_IP, "2001:db8::1::2", BAD, NULL, -1},
	{IOCB_NORM_IP, "fe80::1%eth0", BAD, NULL, -1},
	{IOCB_NORM_IP, "example.com", BAD, NULL, -1},
	{IOCB_NORM_IP, "10.0.0.0/8", BAD, NULL, -1}, /* CIDR only for ip-src/ip-dst */
	/* IP + CIDR */
	{IOCB_NORM_IP_CIDR, "10.0.0.0/8", OK, "10.0.0.0/8", 8},
	{IOCB_NORM_IP_CIDR, "10.1.2.3/8", OK, "10.1.2.3/8", 8}, /* host bits kept */
	{IOCB_NORM_IP_CIDR, "1.2.3.4/32", OK, "1.2.3.4", -1},
	{IOCB_NORM_IP_CIDR, "1.2.3.4/032", OK, "1.2.3.4", -1},
	{IOCB_NORM_IP_CIDR, "0.0.0.0/0", OK, "0.0.0.0/0", 0},
	{IOCB_NORM_IP_CIDR, "2001:DB8::/32", OK, "2001:db8::/32", 32},
	{IOCB_NORM_IP_CIDR, "2001:db8:0::1/128", OK, "2001:db8::1", -1},
	{IOCB_NORM_IP_CIDR, "::ffff:1.2.3.4/32", OK, "::ffff:1.2.3.4/32", 32}, /* v6 prefix */
	{IOCB_NORM_IP_CIDR, "1.2.3.4", OK, "1.2.3.4", -1},
	{IOCB_NORM_IP_CIDR, "1.2.3.4/33", BAD, NULL, -1},
	{IOCB_NORM_IP_CIDR, "2001:db8::/129", BAD, NULL, -1},
	{IOCB_NORM_IP_CIDR, "1.2.3.4/", BAD, NULL, -1},
	{IOCB_NORM_IP_CIDR, "1.2.3.4/-1", BAD, NULL, -1},
	{IOCB_NORM_IP_CIDR, "1.2.3.4/8/8", BAD, NULL, -1},
	{IOCB_NORM_IP_CIDR, "/8", BAD, NULL, -1},
	/* x509 */
	{IOCB_NORM_X509, "AB:CD:EF:01:23", OK, "abcdef0123", -1},
	{IOCB_NORM_X509, "abcdef0123", OK, "abcdef0123", -1},
	{IOCB_NORM_X509, "AB:CD:XY", BAD, NULL, -1},
	{IOCB_NORM_X509, ":::", BAD, NULL, -1},
	/* MAC */
	{IOCB_NORM_MAC, "AA:BB:CC:DD:EE:FF", OK, "aa:bb:cc:dd:ee:ff", -1},
	{IOCB_NORM_MAC, "aa-bb-cc-dd-ee-ff", OK, "aa:bb:cc:dd:ee:ff", -1},
	{IOCB_NORM_MAC, "aabb.ccdd.eeff", OK, "aa:bb:cc:dd:ee:ff", -1},
	{IOCB_NORM_MAC, "AABBCCDDEEFF", OK, "aa:bb:cc:dd:ee:ff", -1},
	{IOCB_NORM_MAC, "00:11:22:FF:FE:33:44:55", OK, "00:11:22:ff:fe:33:44:55", -1},
	{IOCB_NORM_MAC, "aa:bb:cc:dd:ee", BAD, NULL, -1},
	{IOCB_NORM_MAC, "aa:bb:cc:dd:ee:fg", BAD, NULL, -1},
	{IOCB_NORM_MAC, "aa:bb:cc:dd:ee:ff:00", BAD, NULL, -1},
	/* AS */
	{IOCB_NORM_ASN, "AS64496", OK, "64496", -1},
	{IOCB_NORM_ASN, "as64496", OK, "64496", -1},
	{IOCB_NORM_ASN, "64496", OK, "64496", -1},
	{IOCB_NORM_ASN, "1.10", OK, "65546", -1},
	{IOCB_NORM_ASN, "AS1.10", OK, "65546", -1},
	{IOCB_NORM_ASN, "AS4294967295", OK, "4294967295", -1},
	{IOCB_NORM_ASN, "AS4294967296", BAD, NULL, -1},
	{IOCB_NORM_ASN, "AS", BAD, NULL, -1},
	{IOCB_NORM_ASN, "ASX", BAD, NULL, -1},
	{IOCB_NORM_ASN, "1.65536", BAD, NULL, -1},
	{IOCB_NORM_ASN, "1.2.3", BAD, NULL, -1},
	/* port */
	{IOCB_NORM_PORT, "80", OK, "80", -1},
	{IOCB_NORM_PORT, "0", OK, "0", -1},
	{IOCB_NORM_PORT, "65535", OK, "65535", -1},
	{IOCB_NORM_PORT, "0443", OK, "443", -1},
	{IOCB_NORM_PORT, "65536", BAD, NULL, -1},
	{IOCB_NORM_PORT, "-1", BAD, NULL, -1},
	{IOCB_NORM_PORT, "8o", BAD, NULL, -1},
	{(enum iocb_norm)99, "x", BAD, NULL, -1},
};

static void test_normalize_table(void **state)
{
	char out[512], again[512];

	(void)state;
	for (size_t i = 0; i < sizeof(norm_rows) / sizeof(norm_rows[0]); i++) {
		const struct norm_row *r = &norm_rows[i];
		size_t len = 99, len2 = 0;
		int prefix = 99, prefix2 = 99;
		int rc = iocb_misp_normalize(r->kind, iocb_str_c(r->in), out, sizeof(out), &len, &prefix);

		if (rc != r->rc)
			fail_msg("row %zu (%d '%s'): rc %s, want %s", i, r->kind, r->in, iocb_rc_str(rc),
				 iocb_rc_str(r->rc));
		if (rc != IOCB_OK)
			continue;
		if (strcmp(out, r->out) != 0 || len != strlen(r->out) || prefix != r->prefix)
			fail_msg("row %zu (%d '%s'): got '%s' (len %zu, prefix %d), want '%s' prefix %d", i,
				 r->kind, r->in, out, len, prefix, r->out, r->prefix);
		/* Idempotent: a normalised value normalises to itself. */
		rc = iocb_misp_normalize(r->kind, iocb_str_make(out, len), again, sizeof(again), &len2,
					 &prefix2);
		if (rc != IOCB_OK || len2 != len || memcmp(again, out, len) != 0 || prefix2 != prefix)
			fail_msg("row %zu: not idempotent: '%s' -> '%s'", i, out, again);
	}
}

static void test_normalize_limits(void **state)
{
	size_t big = 100000, len = 7;
	char *in = malloc(big);
	char out[64];
	int prefix = 5;

	(void)state;
	assert_non_null(in);
	memset(in, 'A', big);
	for (int k = IOCB_NORM_NONE; k <= IOCB_NORM_LOWER; k++) {
		assert_int_equal(iocb_misp_normalize((enum iocb_norm)k, iocb_str_make(in, big), out, sizeof(out),
						     &len, NULL),
				 IOCB_ELIMIT);
		assert_int_equal(len, 0);
		assert_string_equal(out, "");
	}
	/* Exactly fits: 63 bytes + NUL; one more does not. */
	assert_int_equal(iocb_misp_normalize(IOCB_NORM_LOWER, iocb_str_make(in, 63), out, sizeof(out), &len, NULL),
			 IOCB_OK);
	assert_int_equal(len, 63);
	assert_int_equal(out[63], '\0');
	assert_int_equal(iocb_misp_normalize(IOCB_NORM_LOWER, iocb_str_make(in, 64), out, sizeof(out), &len, NULL),
			 IOCB_ELIMIT);
	/* An over-long address is simply not an address. */
	assert_int_equal(iocb_misp_normalize(IOCB_NORM_IP, iocb_str_make(in, big), out, sizeof(out), &len, NULL),
			 IOCB_EINVAL);
	assert_int_equal(iocb_misp_normalize(IOCB_NORM_DOMAIN, iocb_str_make(in, big), out, sizeof(out), &len,
					     NULL),
			 IOCB_ELIMIT);
	/* The canonical form must fit too: a short buffer for a long IPv6 text. */
	assert_int_equal(iocb_misp_normalize(IOCB_NORM_IP_CIDR, iocb_str_c("2001:db8:1:2:3:4:5:6/64"), out, 8,
					     &len, &prefix),
			 IOCB_ELIMIT);
	assert_int_equal(prefix, -1);
	assert_int_equal(iocb_misp_normalize(IOCB_NORM_MAC, iocb_str_c("aa:bb:cc:dd:ee:ff"), out, 17, &len, NULL),
			 IOCB_ELIMIT);
	assert_int_equal(iocb_misp_normalize(IOCB_NORM_MAC, iocb_str_c("aa:bb:cc:dd:ee:ff"), out, 18, &len, NULL),
			 IOCB_OK);
	assert_int_equal(iocb_misp_normalize(IOCB_NORM_DOMAIN, iocb_str_c("Bücher.example"), out, 10, &len, NULL),
			 IOCB_ELIMIT);
	assert_int_equal(iocb_misp_normalize(IOCB_NORM_NONE, iocb_str_c("x"), out, 0, &len, NULL), IOCB_ELIMIT);
	/* A NUL inside the value is refused rather than silently cutting it. */
	assert_int_equal(iocb_misp_normalize(IOCB_NORM_NONE, iocb_str_make("a\0b", 3), out, sizeof(out), &len,
					     NULL),
			 IOCB_EINVAL);
	/* 253 characters is the longest name; 254 is not a DNS name. */
	for (size_t i = 0; i < 253; i++)
		in[i] = (i % 50 == 49) ? '.' : 'a';
	{
		char dom[300];
		assert_int_equal(iocb_misp_normalize(IOCB_NORM_DOMAIN, iocb_str_make(in, 253), dom, sizeof(dom),
						     &len, NULL),
				 IOCB_OK);
		assert_int_equal(len, 253);
		in[253] = 'a';
		assert_int_equal(iocb_misp_normalize(IOCB_NORM_DOMAIN, iocb_str_make(in, 254), dom, sizeof(dom),
						     &len, NULL),
				 IOCB_EINVAL);
	}
	free(in);
}

/* ---------------------------------------------------------------- split */

struct split_row {
	const char *type;    /* MISP type name */
	const char *value;   /* raw attribute value */
	int rc;              /* expected return code */
	const char *p0, *p1; /* p1 NULL for atomic types */
	int prefix0;         /* expected prefix of part 1 */
};

static const struct split_row split_rows[] = {
	{"ip-dst", "10.1.2.3/8", OK, "10.1.2.3/8", NULL, 8},
	{"ip-dst", " 1.2.3.4/32\n", OK, "1.2.3.4", NULL, -1}, /* MISP trims the value */
	{"ip-src", "2001:DB8::1", OK, "2001:db8::1", NULL, -1},
	{"ip-src", "1.2.3.4|80", BAD, NULL, NULL, -1},
	{"ip-dst|port", "1.2.3.4|80", OK, "1.2.3.4", "80", -1},
	{"ip-dst|port", "1.2.3.4:80", OK, "1.2.3.4", "80", -1},
	{"ip-src|port", "[2001:DB8::1]:443", OK, "2001:db8::1", "443", -1},
	{"ip-src|port", "2001:db8::1|443", OK, "2001:db8::1", "443", -1},
	{"ip-src|port", "2001:db8::1.443", OK, "2001:db8::1", "443", -1},
	{"ip-src|port", "::ffff:1.2.3.4.443", OK, "::ffff:1.2.3.4", "443", -1},
	{"ip-src|port", "2001:db8::1 port 443", OK, "2001:db8::1", "443", -1},
	{"ip-src|port", "2001:db8::1#443", OK, "2001:db8::1", "443", -1},
	{"ip-src|port", "2001:db8::1", BAD, NULL, NULL, -1},
	{"ip-src|port", "1.2.3.4", BAD, NULL, NULL, -1},
	{"ip-src|port", "1.2.3.4|80|90", BAD, NULL, NULL, -1},
	{"ip-src|port", "1.2.3.4:70000", BAD, NULL, NULL, -1},
	{"ip-src|port", "10.0.0.0/8|80", BAD, NULL, NULL, -1}, /* no CIDR in ip|port */
	{"ip-src|port", "[2001:db8::1]443", BAD, NULL, NULL, -1},
	{"hostname|port", "WWW.Example.com:8080", OK, "www.example.com", "8080", -1},
	{"hostname|port", "www.example.com|8080", OK, "www.example.com", "8080", -1},
	{"hostname|port", "www.example.com", BAD, NULL, NULL, -1},
	{"hostname|port", "www.example.com:80:81", BAD, NULL, NULL, -1},
	{"domain|ip", "Example.COM.|2001:DB8::1", OK, "example.com", "2001:db8::1", -1},
	{"domain|ip", "bücher.example|1.2.3.4", OK, "xn--bcher-kva.example", "1.2.3.4", -1},
	{"domain|ip", "example.com|10.0.0.0/8", BAD, NULL, NULL, -1},
	{"domain|ip", "example.com", BAD, NULL, NULL, -1},
	{"domain|ip", "example.com|1.2.3.4|5.6.7.8", BAD, NULL, NULL, -1},
	{"filename|md5", "Setup.EXE|D41D8CD98F00B204E9800998ECF8427E", OK, "Setup.EXE",
	 "d41d8cd98f00b204e9800998ecf8427e", -1},
	{"filename|md5", "a|b|d41d8cd98f00b204e9800998ecf8427e", BAD, NULL, NULL, -1},
	{"filename|md5", "setup.exe|d41d8", BAD, NULL, NULL, -1},
	{"filename|md5", "|d41d8cd98f00b204e9800998ecf8427e", BAD, NULL, NULL, -1},
	{"filename|sha256", "x.bin|E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", OK, "x.bin",
	 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", -1},
	{"filename|ssdeep", "a.doc|3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C", OK, "a.doc",
	 "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C", -1},
	{"malware-sample", "evil.exe|D41D8CD98F00B204E9800998ECF8427E", OK, "evil.exe",
	 "d41d8cd98f00b204e9800998ecf8427e", -1},
	{"md5", "D41D8CD98F00B204E9800998ECF8427E", OK, "d41d8cd98f00b204e9800998ecf8427e", NULL, -1},
	{"md5", "d41d8cd98f00b204e9800998ecf8427", BAD, NULL, NULL, -1},
	{"sha1", "not-a-hash-not-a-hash-not-a-hash-abcdef", BAD, NULL, NULL, -1},
	{"ja3-fingerprint-md5", "E7D705A3286E19EA42F587B344EE6865", OK, "e7d705a3286e19ea42f587b344ee6865", NULL, -1},
	{"x509-fingerprint-sha1", "DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09", OK,
	 "da39a3ee5e6b4b0d3255bfef95601890afd80709", NULL, -1},
	{"x509-fingerprint-sha1", "DA:39:A3", BAD, NULL, NULL, -1},
	{"AS", "AS1.10", OK, "65546", NULL, -1},
	{"mac-address", "AA-BB-CC-DD-EE-FF", OK, "aa:bb:cc:dd:ee:ff", NULL, -1},
	{"email-src", "Bob@Example.ORG", OK, "bob@example.org", NULL, -1},
	{"url", "http://Example.com/a|b", OK, "http://Example.com/a|b", NULL, -1}, /* atomic: '|' kept */
	{"text", "", BAD, NULL, NULL, -1},
	{"domain", "   ", BAD, NULL, NULL, -1},
	{"regkey|value", "HKLM\\Software\\x|data", OK, "HKLM\\Software\\x", "data", -1},
};

static void test_split_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(split_rows) / sizeof(split_rows[0]); i++) {
		const struct split_row *r = &split_rows[i];
		const struct iocb_misp_type *t = iocb_misp_type_find(iocb_str_c(r->type));
		size_t vlen = strlen(r->value);
		size_t cap = 2 * vlen + 64; /* exactly what misp.h promises to need */
		char *scratch = malloc(cap);
		struct iocb_str part[2];
		int prefix[2];
		unsigned nparts = 9;
		struct iocb_err err = {0};
		int rc;

		assert_non_null(t);
		assert_non_null(scratch);
		rc = iocb_misp_value_split(t, iocb_str_make(r->value, vlen), scratch, cap, part, prefix, &nparts,
					   &err);
		if (rc != r->rc)
			fail_msg("row %zu (%s '%s'): rc %s (%s), want %s", i, r->type, r->value, iocb_rc_str(rc),
				 err.msg, iocb_rc_str(r->rc));
		if (rc != IOCB_OK) {
			assert_int_equal(nparts, 0);
			assert_true(err.msg[0] != '\0');
			free(scratch);
			continue;
		}
		assert_int_equal(nparts, r->p1 ? 2 : 1);
		if (!iocb_str_eq_c(part[0], r->p0) || prefix[0] != r->prefix0)
			fail_msg("row %zu: part 1 '%.*s' prefix %d, want '%s'", i, IOCB_STR_FMT(part[0]), prefix[0],
				 r->p0);
		if (r->p1 && !iocb_str_eq_c(part[1], r->p1))
			fail_msg("row %zu: part 2 '%.*s', want '%s'", i, IOCB_STR_FMT(part[1]), r->p1);
		if (!r->p1)
			assert_int_equal(part[1].len, 0);
		assert_int_equal(prefix[1], -1);
		for (unsigned p = 0; p < nparts; p++) {
			assert_true(part[p].ptr >= scratch && part[p].ptr + part[p].len < scratch + cap);
			assert_int_equal(part[p].ptr[part[p].len], '\0');
		}
		free(scratch);
	}
}

static void test_split_scratch_limit(void **state)
{
	const struct iocb_misp_type *t = iocb_misp_type_find(iocb_str_c("filename|md5"));
	const char *v = "setup.exe|d41d8cd98f00b204e9800998ecf8427e";
	char scratch[20];
	struct iocb_str part[2];
	int prefix[2];
	unsigned nparts;
	struct iocb_err err;

	(void)state;
	assert_int_equal(iocb_misp_value_split(t, iocb_str_c(v), scratch, sizeof(scratch), part, prefix, &nparts,
					       &err),
			 IOCB_ELIMIT);
	assert_int_equal(err.rc, IOCB_ELIMIT);
	assert_int_equal(iocb_misp_value_split(t, iocb_str_c(v), scratch, 10, part, prefix, &nparts, NULL),
			 IOCB_ELIMIT);
	assert_int_equal(iocb_misp_value_split(NULL, iocb_str_c(v), scratch, sizeof(scratch), part, prefix,
					       &nparts, NULL),
			 IOCB_EINVAL);
}

/* Every indicator type accepts a sample value and yields parts of its classes. */
static void test_split_every_type(void **state)
{
	char scratch[1024];

	(void)state;
	for (size_t i = 0; i < iocb_misp_type_count(); i++) {
		const struct iocb_misp_type *t = iocb_misp_type_get((uint16_t)i);
		struct iocb_str part[2];
		int prefix[2];
		unsigned nparts = 0;
		struct iocb_err err = {0};
		int rc;

		rc = iocb_misp_value_split(t, iocb_str_c("x"), scratch, sizeof(scratch), part, prefix, &nparts, &err);
		/* Only atomic types with a free-form normalisation accept a bare "x". */
		if (t->composite)
			assert_int_equal(rc, IOCB_EINVAL);
		else if (rc == IOCB_OK)
			assert_int_equal(nparts, 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_fixture),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_type_classes),
		cmocka_unit_test(test_composites),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_normalize_table),
		cmocka_unit_test(test_normalize_limits),
		cmocka_unit_test(test_split_table),
		cmocka_unit_test(test_split_scratch_limit),
		cmocka_unit_test(test_split_every_type),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
