// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of iocb_sightings_parse_bus() / iocb_sightings_from_bus(): the
 * sighting frames Threat Bus apps send, both generations, as the apps
 * write them (exports.md §4.4's Zeek bridge Sighting, stix2's ", "
 * separators, Python's str(datetime)), and the bad ones the parser must
 * refuse with a reason.
 */
#include "sightings/sightings.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define U1 "5f0b8e2a-1c7d-4a51-9a3e-2b7d0c4e9f11"
#define SID "sighting--0c9b6f0e-3b8e-4f7a-a1d2-8e4c2f6b7a90"

/* exports.md §4.4: what Threat Bus's Zeek bridge sends (no x_threatbus_source; last_seen). */
static const char ZEEK_2021[] =
	"{\"type\": \"sighting\", \"spec_version\": \"2.1\", \"id\": \"" SID "\", \"created\": "
	"\"2022-05-16T10:00:05.250Z\", \"modified\": \"2022-05-16T10:00:05.250Z\", \"last_seen\": "
	"\"2022-05-16T10:00:04.998877Z\", \"sighting_of_ref\": \"indicator--" U1 "\", "
	"\"x_threatbus_sighting_context\": {\"noisy\": false}}";

/* stix-shifter / VAST style: x_threatbus_source, no last_seen, extra custom properties. */
static const char VAST_2021[] =
	"{\"type\": \"sighting\", \"spec_version\": \"2.1\", \"id\": \"" SID "\", \"created\": "
	"\"2021-03-25T09:41:33Z\", \"modified\": \"2021-03-25T09:41:33Z\", \"sighting_of_ref\": \"indicator--" U1
	"\", \"x_threatbus_indicator\": {\"type\": \"indicator\", \"pattern\": \"[ipv4-addr:value = '1.2.3.4']\"}, "
	"\"x_threatbus_match_type\": \"RETRO\", \"x_threatbus_sighting_context\": {\"ts\": \"x\", \"a\": [1, {\"b\": "
	"null}]}, \"x_threatbus_source\": \"VAST \\u00e9\"}";

/* 2020.12: str(datetime) with microseconds and an offset, the source in context. */
static const char VAST_2020[] =
	"{\"ts\": \"2020-10-05 13:58:55.123456+02:00\", \"intel\": \"" U1 "\", \"context\": {\"source\": \"VAST\", "
	"\"event\": {\"ts\": 1, \"x\": [\"y\"]}}, \"ioc\": [\"example.com\"]}";

static struct iocb_sightings_bus_item it;
static struct iocb_err err;

static int parse(int gen, const char *s)
{
	memset(&err, 0, sizeof(err));
	return iocb_sightings_parse_bus(gen, s, strlen(s), &it, &err);
}

static void assert_item(const char *source, unsigned type, int64_t ts)
{
	assert_int_equal(it.item.attr_uuid.len, 36);
	assert_memory_equal(it.item.attr_uuid.ptr, U1, 36);
	assert_int_equal(it.item.source.len, strlen(source));
	assert_memory_equal(it.item.source.ptr, source, strlen(source));
	assert_int_equal(it.item.type, type);
	assert_int_equal(it.item.timestamp, ts);
}

static void test_stix_zeek(void **state)
{
	(void)state;
	assert_int_equal(parse(1, ZEEK_2021), IOCB_OK);
	assert_item("", 0, 1652695204); /* last_seen 10:00:04.998877Z, floored; empty source */
}

static void test_stix_vast(void **state)
{
	(void)state;
	assert_int_equal(parse(1, VAST_2021), IOCB_OK);
	assert_item("VAST \xc3\xa9", 0, 1616665293); /* created; \u00e9 decoded */
}

static void test_stix_types(void **state)
{
	(void)state;
	char b[1024];
	const char *v[] = {"1", "\"1\"", "2", "\"2\"", "0"};
	unsigned want[] = {1, 1, 2, 2, 0};
	for (size_t i = 0; i < 5; i++) {
		snprintf(b, sizeof(b), "{\"type\":\"sighting\",\"spec_version\":\"2.1\",\"id\":\"" SID
			 "\",\"created\":\"2021-03-25T09:41:33.5Z\",\"sighting_of_ref\":\"indicator--" U1
			 "\",\"x_misp_sighting_type\":%s,\"x_threatbus_source\":\"s\"}",
			 v[i]);
		assert_int_equal(parse(1, b), IOCB_OK);
		assert_item("s", want[i], 1616665293);
	}
}

static void test_stix_upper_case_uuid(void **state)
{
	(void)state;
	assert_int_equal(parse(1, "{\"type\":\"sighting\",\"spec_version\":\"2.1\",\"id\":\"" SID
				  "\",\"created\":\"2021-03-25T09:41:33Z\",\"sighting_of_ref\":"
				  "\"indicator--5F0B8E2A-1C7D-4A51-9A3E-2B7D0C4E9F11\"}"),
			 IOCB_OK);
	assert_item("", 0, 1616665293);
}

static void test_tb2020(void **state)
{
	(void)state;
	assert_int_equal(parse(0, VAST_2020), IOCB_OK);
	assert_item("VAST", 0, 1601899135); /* 13:58:55+02:00 = 11:58:55Z */
	/* naive str(datetime) reads as UTC (iocbus sends +00:00), ioc null, type in context */
	assert_int_equal(parse(0, "{\"ts\":\"2021-01-04 10:10:19\",\"intel\":\"" U1
				  "\",\"context\":{\"x_misp_sighting_type\":\"1\",\"source\":\"zeek\"},\"ioc\":null}"),
			 IOCB_OK);
	assert_item("zeek", 1, 1609755019);
	/* no source, no ioc */
	assert_int_equal(parse(0, "{\"ts\":\"2021-01-04T10:10:19Z\",\"intel\":\"" U1 "\",\"context\":{}}"), IOCB_OK);
	assert_item("", 0, 1609755019);
}

/* Each bad frame is refused with IOCB_EPARSE (or `rc`) and a message naming `what`. */
static void refused(int gen, const char *s, int rc, const char *what)
{
	memset(&it, 0x5a, sizeof(it));
	assert_int_equal(parse(gen, s), rc);
	if (!strstr(err.msg, what))
		fail_msg("frame %s: error \"%s\" does not name \"%s\"", s, err.msg, what);
	assert_int_equal(it.item.attr_uuid.len, 0); /* nothing half-filled */
}

#define ST "{\"type\":\"sighting\",\"spec_version\":\"2.1\",\"id\":\"" SID "\",\"created\":\"2021-03-25T09:41:33Z\""
#define REF ",\"sighting_of_ref\":\"indicator--" U1 "\""

static void test_stix_bad(void **state)
{
	(void)state;
	refused(1, ST "}", IOCB_EPARSE, "no sighting_of_ref");
	refused(1, ST ",\"sighting_of_ref\":\"sighting--" U1 "\"}", IOCB_EPARSE, "indicator--<uuid>");
	refused(1, ST ",\"sighting_of_ref\":\"indicator-" U1 "\"}", IOCB_EPARSE, "indicator--<uuid>");
	refused(1, ST ",\"sighting_of_ref\":\"indicator--5f0b8e2a1c7d4a519a3e2b7d0c4e9f11\"}", IOCB_EPARSE, "not a uuid");
	refused(1, ST ",\"sighting_of_ref\":\"indicator--5f0b8e2a-1c7d-4a51-9a3e-2b7d0c4e9f1g\"}", IOCB_EPARSE,
		"not a uuid");
	refused(1, ST ",\"sighting_of_ref\":\"indicator--" U1 "0\"}", IOCB_EPARSE, "not a uuid");
	refused(1, ST ",\"sighting_of_ref\":42}", IOCB_EPARSE, "sighting_of_ref");
	refused(1, "{\"type\":\"indicator\",\"spec_version\":\"2.1\"}", IOCB_EPARSE, "not \"sighting\"");
	refused(1, "{\"type\":\"sighting\",\"spec_version\":\"2.0\"}", IOCB_EPARSE, "not \"2.1\"");
	refused(1, "{\"type\":\"sighting\",\"spec_version\":\"2.1\",\"id\":\"indicator--" U1 "\"}", IOCB_EPARSE,
		"sighting--<uuid>");
	refused(1, "{\"type\":\"sighting\",\"spec_version\":\"2.1\",\"id\":\"" SID "\"" REF "}", IOCB_EPARSE,
		"no created");
	refused(1, "{\"sighting_of_ref\":\"indicator--" U1 "\"}", IOCB_EPARSE, "no type");
	/* times */
	refused(1, "{\"created\":\"2021-03-25 09:41:33Z\"}", IOCB_EPARSE, "RFC 3339");
	refused(1, "{\"created\":\"2021-03-25T09:41:33+00:00\"}", IOCB_EPARSE, "RFC 3339");
	refused(1, "{\"created\":\"2021-13-25T09:41:33Z\"}", IOCB_EPARSE, "RFC 3339");
	refused(1, "{\"created\":\"yesterday\"}", IOCB_EPARSE, "created");
	refused(1, "{\"created\":1616665293}", IOCB_EPARSE, "not a time string");
	refused(1, "{\"last_seen\":\"1969-12-31T23:59:59Z\"}", IOCB_EPARSE, "before 1970");
	/* wrong types */
	refused(1, ST REF ",\"x_threatbus_source\":7}", IOCB_EPARSE, "x_threatbus_source: not a string");
	refused(1, ST REF ",\"x_misp_sighting_type\":3}", IOCB_EPARSE, "not 0 (sighting)");
	refused(1, ST REF ",\"x_misp_sighting_type\":\"-1\"}", IOCB_EPARSE, "x_misp_sighting_type");
	refused(1, ST REF ",\"x_misp_sighting_type\":1.0}", IOCB_EPARSE, "x_misp_sighting_type");
	refused(1, ST REF ",\"x_misp_sighting_type\":true}", IOCB_EPARSE, "not a number or string");
	refused(1, ST REF REF "}", IOCB_EPARSE, "given twice");
	/* not the shape at all */
	refused(1, "[]", IOCB_EPARSE, "not a JSON object");
	refused(1, "", IOCB_EPARSE, "");
	refused(1, ST REF "} {}", IOCB_EPARSE, "");
	refused(1, ST REF ",\"x\":[1,}", IOCB_EPARSE, "");
	refused(2, ST REF "}", IOCB_EINVAL, "generation 2");
}

static void test_source_cap(void **state)
{
	(void)state;
	char b[1024], src[300];
	memset(src, 'a', sizeof(src));
	src[255] = 0;
	snprintf(b, sizeof(b), ST REF ",\"x_threatbus_source\":\"%s\"}", src);
	assert_int_equal(parse(1, b), IOCB_OK);
	assert_int_equal(it.item.source.len, 255);
	src[255] = 'a';
	src[256] = 0;
	snprintf(b, sizeof(b), ST REF ",\"x_threatbus_source\":\"%s\"}", src);
	refused(1, b, IOCB_EPARSE, "longer than 255");
}

static void test_tb2020_bad(void **state)
{
	(void)state;
	/* Threat Bus 2020.12's own intel id is MISP's numeric attribute id: not usable as a uuid. */
	refused(0, "{\"ts\":\"2021-01-04 10:10:19\",\"intel\":\"504\",\"context\":{}}", IOCB_EPARSE, "intel: not a uuid");
	refused(0, "{\"ts\":\"2021-01-04 10:10:19\",\"context\":{}}", IOCB_EPARSE, "no intel");
	refused(0, "{\"intel\":\"" U1 "\",\"context\":{}}", IOCB_EPARSE, "no ts");
	refused(0, "{\"ts\":\"2021-01-04 10:10:19\",\"intel\":\"" U1 "\"}", IOCB_EPARSE, "no context");
	refused(0, "{\"ts\":\"2021-01-04 10:10\",\"intel\":\"" U1 "\",\"context\":{}}", IOCB_EPARSE, "ts: not a time");
	refused(0, "{\"ts\":1609755019,\"intel\":\"" U1 "\",\"context\":{}}", IOCB_EPARSE, "ts: not a time");
	refused(0, "{\"ts\":\"2021-01-04 10:10:19\",\"intel\":\"" U1 "\",\"context\":[]}", IOCB_EPARSE,
		"context: not an object");
	refused(0, "{\"ts\":\"2021-01-04 10:10:19\",\"intel\":\"" U1 "\",\"context\":{\"source\":null}}", IOCB_EPARSE,
		"context.source: not a string");
	refused(0, "{\"ts\":\"2021-01-04 10:10:19\",\"intel\":\"" U1 "\",\"context\":{},\"ioc\":\"x\"}", IOCB_EPARSE,
		"ioc: not a list or null");
	refused(0, "{\"ts\":\"2021-01-04 10:10:19\",\"intel\":[\"" U1 "\"],\"context\":{}}", IOCB_EPARSE, "intel");
	/* a STIX Sighting sent on the 2020.12 topic has none of the 2020.12 fields */
	refused(0, ZEEK_2021, IOCB_EPARSE, "no intel");
	refused(1, VAST_2020, IOCB_EPARSE, "no type");
}

static void test_huge_and_deep(void **state)
{
	(void)state;
	size_t n = IOCB_SIGHTINGS_BUS_MAX + 1;
	char *b = malloc(n);
	memset(b, ' ', n);
	memcpy(b, ZEEK_2021, sizeof(ZEEK_2021) - 1);
	memset(&err, 0, sizeof(err));
	assert_int_equal(iocb_sightings_parse_bus(1, b, n, &it, &err), IOCB_ELIMIT);
	assert_non_null(strstr(err.msg, "cap"));
	/* exactly the cap parses (trailing whitespace) */
	assert_int_equal(iocb_sightings_parse_bus(1, b, n - 1, &it, &err), IOCB_OK);
	free(b);
	char deep[400];
	size_t o = (size_t)snprintf(deep, sizeof(deep), ST REF ",\"x\":");
	for (int i = 0; i < 100; i++)
		deep[o++] = '[';
	deep[o] = 0;
	refused(1, deep, IOCB_ELIMIT, "");
}

static struct iocb_sightings *queue_in(char *dir)
{
	struct iocb_sightings_opts o;
	struct iocb_sightings *q;
	assert_non_null(mkdtemp(dir));
	iocb_sightings_opts_default(&o);
	o.base_url = "http://127.0.0.1:9"; /* nothing listens: everything stays queued */
	o.api_key = "k";
	o.state_dir = dir;
	o.backoff_initial_s = 30;
	assert_int_equal(iocb_sightings_new(&o, &q, &err), IOCB_OK);
	return q;
}

static void rm_dir(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* from_bus counts a refused frame `bad` and queues a good one (a queue whose MISP is unreachable). */
static void test_from_bus_counts(void **state)
{
	(void)state;
	char dir[] = "/tmp/iocb-sightings-bus-XXXXXX";
	struct iocb_sightings *q = queue_in(dir);
	assert_int_equal(iocb_sightings_from_bus(q, 1, ZEEK_2021, strlen(ZEEK_2021), &err), IOCB_OK);
	assert_int_equal(iocb_sightings_from_bus(q, 0, VAST_2020, strlen(VAST_2020), &err), IOCB_OK);
	assert_int_equal(iocb_sightings_from_bus(q, 0, ZEEK_2021, strlen(ZEEK_2021), &err), IOCB_EPARSE);
	struct iocb_sightings_stats st;
	iocb_sightings_stats(q, &st);
	assert_int_equal(st.received, 2);
	assert_int_equal(st.bad, 1);
	assert_int_equal(st.queued + st.sent + st.rejected, 2);
	iocb_sightings_free(q);
	rm_dir(dir);
}

/* Wait (at most 5 s) until the flusher has handed `want` from_matches sightings to the queue. */
static void wait_matches(struct iocb_sightings *q, uint64_t want, struct iocb_sightings_stats *st)
{
	for (int i = 0; i < 500; i++) {
		iocb_sightings_stats(q, st);
		if (st->matches >= want)
			break;
		usleep(10000);
	}
	assert_int_equal(st->matches, want);
}

/* from_matches: one sighting per attribute per input per window, in memory; the rest counted. */
static void test_from_matches_window(void **state)
{
	(void)state;
	char dir[] = "/tmp/iocb-sightings-fm-XXXXXX";
	struct iocb_sightings *q = queue_in(dir);
	struct iocb_sightings_matches *a = iocb_sightings_matches_new(q, "zeek", 300);
	struct iocb_sightings_matches *b = iocb_sightings_matches_new(q, "suricata", 0);
	struct iocb_sightings_stats st;
	char u[37];
	for (int i = 0; i < 1000; i++)
		iocb_sightings_matches_note(a, U1, 1000 + i / 10); /* one attribute, 100 s of matches */
	for (int i = 0; i < 600; i++) {                      /* 600 attributes: more than one pending array */
		snprintf(u, sizeof(u), "%08x-1c7d-4a51-9a3e-2b7d0c4e9f11", i);
		iocb_sightings_matches_note(a, u, 1000);
	}
	iocb_sightings_matches_note(b, U1, 1000); /* the other input has its own window */
	iocb_sightings_matches_flush(a);
	iocb_sightings_matches_flush(b);
	wait_matches(q, 602, &st);
	assert_int_equal(st.matches_deduplicated, 999);
	assert_int_equal(st.received, 602);
	assert_int_equal(st.queued + st.sent + st.rejected, 602);
	/* the window passes: the attribute is sighted again */
	iocb_sightings_matches_note(a, U1, 1299);
	iocb_sightings_matches_note(a, U1, 1300);
	iocb_sightings_matches_note(a, U1, 1301);
	iocb_sightings_matches_flush(a);
	wait_matches(q, 603, &st);
	assert_int_equal(st.matches_deduplicated, 1001);
	/* free flushes what is pending */
	iocb_sightings_matches_note(b, U1, 2000);
	iocb_sightings_matches_free(b);
	wait_matches(q, 604, &st);
	iocb_sightings_matches_free(a);
	iocb_sightings_free(q);
	rm_dir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stix_zeek),     cmocka_unit_test(test_stix_vast),
		cmocka_unit_test(test_stix_types),    cmocka_unit_test(test_stix_upper_case_uuid),
		cmocka_unit_test(test_tb2020),        cmocka_unit_test(test_stix_bad),
		cmocka_unit_test(test_source_cap),    cmocka_unit_test(test_tb2020_bad),
		cmocka_unit_test(test_huge_and_deep), cmocka_unit_test(test_from_bus_counts),
		cmocka_unit_test(test_from_matches_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
