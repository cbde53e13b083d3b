/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for ingest's update semantics on live messages, through
 * ingest.h: ZeroMQ frames in MISP's shape, event tags learned from event
 * messages feeding the filter, an event untag retracting, a filter change
 * (refilter), the upsert observer, soft-deleted snapshot rows with
 * keep_deleted, the per-action counters, and a file loaded on one thread
 * or two (iocb_ingest_set_pipeline_min). Also covers the store's
 * iocb_store_remove_if and iocb_store_event_with, which these use.
 */
#include "ingest/ingest.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

struct fx {
	struct iocb_store *store;
	struct iocb_filter *filter;
	struct iocb_ingest *in;
};

static void fx_open(struct fx *f, const char *tag_filter)
{
	struct iocb_store_opts so;
	struct iocb_err err = {0};

	memset(f, 0, sizeof(*f));
	iocb_store_opts_default(&so);
	assert_int_equal(iocb_store_open(&so, &f->store, &err), IOCB_OK);
	if (tag_filter) {
		char *tags[1] = {(char *)tag_filter};
		struct iocb_filter_spec spec = {0};
		spec.tags = tags;
		spec.ntags = 1;
		spec.has_tags = true;
		assert_int_equal(iocb_filter_new(&spec, 1, NULL, &f->filter, &err), IOCB_OK);
	}
	f->in = iocb_ingest_new(f->store, f->filter, 1);
}

static void fx_close(struct fx *f)
{
	iocb_ingest_free(f->in);
	iocb_store_free(f->store);
	iocb_filter_free(f->filter);
}

static void frame(struct fx *f, const char *text)
{
	struct iocb_err err = {0};
	struct iocb_str topic;

	assert_int_equal(iocb_ingest_zmq_frame(f->in, text, strlen(text), &topic, &err), IOCB_OK);
	assert_true(topic.len > 0);
}

static size_t hits(struct fx *f, const char *value)
{
	struct iocb_store_hit h[4];
	size_t n;

	iocb_store_read_lock();
	n = iocb_store_lookup_any(f->store, iocb_str_c(value), h, 4);
	iocb_store_read_unlock();
	return n;
}

#define EV3 "\"Event\":{\"id\":\"3\",\"uuid\":\"8e453a98-0661-4c95-b84f-3f05935b8eb8\",\"info\":\"x\",\"orgc_id\":\"2\",\"org_id\":\"1\",\"Orgc\":{\"id\":\"2\",\"name\":\"EXAMPLE-CERT\",\"uuid\":\"aa490ba1-79d0-49eb-b242-8efa1dccfb33\"}}"

static const char *attr_frame(char *buf, size_t cap, const char *action, const char *uuid, const char *type,
			      const char *value, bool to_ids, const char *attr_tags)
{
	snprintf(buf, cap,
		 "misp_json_attribute {\"Attribute\":{\"id\":\"10\",\"event_id\":\"3\",\"object_id\":\"0\","
		 "\"category\":\"Network activity\",\"type\":\"%s\",\"value\":\"%s\",\"to_ids\":%s,"
		 "\"uuid\":\"%s\",\"timestamp\":\"1729500060\",\"deleted\":false%s%s},%s,\"action\":\"%s\"}",
		 type, value, to_ids ? "true" : "false", uuid, attr_tags ? ",\"Tag\":" : "", attr_tags ? attr_tags : "",
		 EV3, action);
	return buf;
}

static const char event_add_white[] =
	"misp_json_event {\"Event\":{\"id\":\"3\",\"uuid\":\"8e453a98-0661-4c95-b84f-3f05935b8eb8\",\"info\":\"x\","
	"\"orgc_id\":\"2\",\"org_id\":\"1\",\"timestamp\":\"1729500000\"},\"Orgc\":{\"id\":\"2\",\"uuid\":"
	"\"aa490ba1-79d0-49eb-b242-8efa1dccfb33\",\"name\":\"EXAMPLE-CERT\"},\"EventTag\":[{\"id\":\"1\",\"event_id\":"
	"\"3\",\"tag_id\":\"7\",\"local\":false,\"Tag\":{\"id\":\"7\",\"name\":\"tlp:white\",\"colour\":\"#fff\","
	"\"exportable\":true}}],\"action\":\"add\"}";

#define U1 "11111111-1111-4111-8111-111111111111"
#define U2 "22222222-2222-4222-8222-222222222222"

static void test_actions_and_counters(void **state)
{
	struct fx f;
	char b[2048];
	const struct iocb_ingest_stats *st;

	(void)state;
	fx_open(&f, NULL);
	frame(&f, attr_frame(b, sizeof(b), "add", U1, "ip-dst", "192.0.2.1", true, NULL));
	assert_int_equal(hits(&f, "192.0.2.1"), 1);
	frame(&f, attr_frame(b, sizeof(b), "edit", U1, "ip-dst", "192.0.2.2", true, NULL));
	assert_int_equal(hits(&f, "192.0.2.1"), 0);
	assert_int_equal(hits(&f, "192.0.2.2"), 1);
	/* An older version arriving late (another Kafka partition) changes nothing. */
	{
		char old[2048];
		attr_frame(old, sizeof(old), "edit", U1, "ip-dst", "192.0.2.9", true, NULL);
		char *ts = strstr(old, "1729500060");
		memcpy(ts, "1729500059", 10);
		frame(&f, old);
		assert_int_equal(hits(&f, "192.0.2.9"), 0);
		assert_int_equal(hits(&f, "192.0.2.2"), 1);
		assert_int_equal(iocb_ingest_stats(f.in)->stale, 1);
	}
	frame(&f, attr_frame(b, sizeof(b), "edit", U1, "ip-dst", "192.0.2.2", false, NULL));
	assert_int_equal(hits(&f, "192.0.2.2"), 0); /* to_ids cleared: hidden */
	frame(&f, attr_frame(b, sizeof(b), "soft-delete", U1, "ip-dst", "192.0.2.2", true, NULL));
	frame(&f, attr_frame(b, sizeof(b), "add", U2, "domain", "a.example", true, NULL));
	frame(&f, "misp_json_attribute {\"Attribute\":{\"uuid\":\"" U2 "\"},\"action\":\"delete\"}");
	assert_int_equal(hits(&f, "a.example"), 0);
	st = iocb_ingest_stats(f.in);
	assert_int_equal(st->by_action[IOCB_ACT_ADD], 2);
	assert_int_equal(st->by_action[IOCB_ACT_EDIT], 3);
	assert_int_equal(st->by_action[IOCB_ACT_SOFT_DELETE], 1);
	assert_int_equal(st->by_action[IOCB_ACT_DELETE], 1);
	assert_int_equal(st->removes, 2);
	assert_int_equal(st->max_timestamp, 1729500060);
	fx_close(&f);
}

/* misp_json_sighting reaches the store: type 2 expires the attribute, type 0 brings it back (issue #15). */
static void test_zmq_sightings(void **state)
{
	struct fx f;
	char b[2048];
	struct iocb_store_quality q;

	(void)state;
	fx_open(&f, NULL);
	frame(&f, attr_frame(b, sizeof(b), "add", U1, "ip-dst", "192.0.2.1", true, NULL));
	frame(&f, "misp_json_sighting {\"Sighting\":{\"id\":\"5\",\"type\":\"2\",\"date_sighting\":\"1729510000\","
		  "\"Attribute\":{\"uuid\":\"" U1 "\",\"value\":\"192.0.2.1\"}},\"action\":\"add\"}");
	iocb_store_read_lock();
	iocb_store_attr_quality(iocb_store_get(f.store, iocb_str_c(U1)), &q);
	assert_int_equal(q.expiration, 1729510000);
	assert_false(iocb_store_attr_live(iocb_store_get(f.store, iocb_str_c(U1)), 1729510000));
	iocb_store_read_unlock();
	/* a deletion of a sighting, an unknown attribute, a false positive: nothing */
	frame(&f, "misp_json_sighting {\"Sighting\":{\"type\":\"0\",\"date_sighting\":\"1729520000\",\"attribute_uuid\":\"" U1
		  "\"},\"action\":\"delete\"}");
	frame(&f, "misp_json_sighting {\"Sighting\":{\"type\":\"0\",\"date_sighting\":\"1729520000\",\"attribute_uuid\":\"" U2
		  "\"}}");
	frame(&f, "misp_json_sighting {\"Sighting\":{\"type\":1,\"date_sighting\":1729520000,\"attribute_uuid\":\"" U1 "\"}}");
	assert_int_equal(iocb_ingest_stats(f.in)->sightings, 2);
	iocb_store_read_lock();
	assert_false(iocb_store_attr_live(iocb_store_get(f.store, iocb_str_c(U1)), 1729520000));
	iocb_store_read_unlock();
	frame(&f, "misp_json_sighting {\"Sighting\":{\"type\":\"0\",\"date_sighting\":\"1729520000\",\"Attribute\":{\"uuid\":\"" U1
		  "\"}},\"action\":\"add\"}");
	iocb_store_read_lock();
	iocb_store_attr_quality(iocb_store_get(f.store, iocb_str_c(U1)), &q);
	assert_int_equal(q.expiration, 0);
	assert_int_equal(q.last_sighting, 1729520000);
	assert_true(iocb_store_attr_live(iocb_store_get(f.store, iocb_str_c(U1)), 1729520000));
	iocb_store_read_unlock();
	assert_int_equal(iocb_ingest_stats(f.in)->sightings, 3);
	fx_close(&f);
}

static uint64_t tagged_event;
static void on_tagged(void *ud, uint64_t event_id)
{
	(void)ud;
	tagged_event = event_id;
}

static void test_stored_event_tags_feed_filter(void **state)
{
	struct fx f;
	char b[2048];

	(void)state;
	fx_open(&f, "tlp:white");
	tagged_event = 0;
	iocb_ingest_set_event_tagged_hook(f.in, on_tagged, NULL);
	/* Before the event is known, an untagged attribute fails the tag filter. */
	frame(&f, attr_frame(b, sizeof(b), "add", U1, "ip-dst", "192.0.2.1", true, NULL));
	assert_int_equal(hits(&f, "192.0.2.1"), 0);
	/* The event message brings the event's tags; the next message passes. */
	frame(&f, event_add_white);
	frame(&f, attr_frame(b, sizeof(b), "edit", U1, "ip-dst", "192.0.2.1", true, NULL));
	assert_int_equal(hits(&f, "192.0.2.1"), 1);
	assert_true(iocb_ingest_stats(f.in)->tag_lookups >= 1);
	/* An attribute tagged itself passes regardless. */
	frame(&f, attr_frame(b, sizeof(b), "add", U2, "domain", "b.example", true,
			     "[{\"id\":\"7\",\"name\":\"tlp:white\",\"local\":0}]"));
	assert_int_equal(hits(&f, "b.example"), 1);
	/* Detaching the event tag retracts what passed through it, not the self-tagged one. */
	frame(&f, "misp_json_tag {\"Tag\":{\"id\":\"7\",\"name\":\"tlp:white\",\"event_id\":\"3\",\"local\":0},"
		  "\"action\":\"detached from event\"}");
	assert_int_equal(hits(&f, "192.0.2.1"), 0);
	assert_int_equal(hits(&f, "b.example"), 1);
	assert_int_equal(iocb_ingest_stats(f.in)->tag_changes, 1);
	assert_int_equal(iocb_ingest_stats(f.in)->refiltered, 1);
	/* Attaching it again is stored, and the daemon is told (MISP may now send more). */
	assert_int_equal(tagged_event, 0);
	frame(&f, "misp_json_tag {\"Tag\":{\"id\":\"7\",\"name\":\"tlp:white\",\"event_id\":\"3\"},"
		  "\"action\":\"attached to event\"}");
	assert_int_equal(tagged_event, 3);
	frame(&f, attr_frame(b, sizeof(b), "edit", U1, "ip-dst", "192.0.2.1", true, NULL));
	assert_int_equal(hits(&f, "192.0.2.1"), 1);
	/* A tag change for an unknown event, or without a name, changes nothing and does not fail. */
	frame(&f, "misp_json_tag {\"Tag\":{\"name\":\"x\",\"event_id\":\"99\"},\"action\":\"detached from event\"}");
	frame(&f, "misp_json_tag {\"Tag\":{\"event_id\":\"3\"},\"action\":\"detached from event\"}");
	assert_int_equal(hits(&f, "192.0.2.1"), 1);
	fx_close(&f);
}

static void test_refilter_and_observer(void **state)
{
	struct fx f, g;
	char b[2048];
	struct iocb_err err = {0};
	size_t n = 99;

	(void)state;
	fx_open(&f, NULL);
	frame(&f, event_add_white);
	frame(&f, attr_frame(b, sizeof(b), "add", U1, "ip-dst", "192.0.2.1", true, NULL));
	frame(&f, attr_frame(b, sizeof(b), "add", U2, "domain", "c.example", true, "[{\"name\":\"keep\"}]"));
	/* A new filter over the same store: only "keep" passes. */
	char *tags[1] = {"keep"};
	struct iocb_filter_spec spec = {0};
	struct iocb_filter *flt = NULL;
	spec.tags = tags;
	spec.ntags = 1;
	spec.has_tags = true;
	assert_int_equal(iocb_filter_new(&spec, 1, NULL, &flt, &err), IOCB_OK);
	g = f;
	g.in = iocb_ingest_new(f.store, flt, 1);
	assert_int_equal(iocb_ingest_refilter(g.in, 0, &n, &err), IOCB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(hits(&f, "192.0.2.1"), 0);
	assert_int_equal(hits(&f, "c.example"), 1);
	iocb_ingest_free(g.in);
	iocb_filter_free(flt);
	fx_close(&f);
}

static int observed;
static void observe(void *ud, const struct iocb_misp_attr *a)
{
	(void)ud;
	assert_true(a->uuid.len == 36);
	observed++;
}

static void test_keep_deleted_snapshot_rows(void **state)
{
	struct fx f;
	struct iocb_err err = {0};
	static const char rest[] =
		"{\"response\": {\"Attribute\": ["
		"{\"id\":\"1\",\"event_id\":\"3\",\"type\":\"domain\",\"category\":\"Network activity\",\"to_ids\":true,"
		"\"uuid\":\"" U1 "\",\"timestamp\":\"5\",\"deleted\":false,\"value\":\"d.example\"},"
		"{\"id\":\"2\",\"event_id\":\"3\",\"type\":\"domain\",\"category\":\"Network activity\",\"to_ids\":true,"
		"\"uuid\":\"" U2 "\",\"timestamp\":\"6\",\"deleted\":false,\"value\":\"e.example\"}]}}\n";
	static const char rest_deleted[] =
		"{\"response\": {\"Attribute\": ["
		"{\"id\":\"2\",\"event_id\":\"3\",\"type\":\"domain\",\"category\":\"Network activity\",\"to_ids\":true,"
		"\"uuid\":\"" U2 "\",\"timestamp\":\"7\",\"deleted\":true,\"value\":\"e.example\"}]}}\n";

	(void)state;
	fx_open(&f, NULL);
	observed = 0;
	iocb_ingest_set_observer(f.in, observe, NULL);
	assert_int_equal(iocb_ingest_doc(f.in, rest, sizeof(rest) - 1, "rest", &err), IOCB_OK);
	assert_int_equal(observed, 2);
	/* Without keep_deleted a soft-deleted row is skipped (it stays)... */
	assert_int_equal(iocb_ingest_doc(f.in, rest_deleted, sizeof(rest_deleted) - 1, "rest", &err), IOCB_OK);
	assert_int_equal(hits(&f, "e.example"), 1);
	/* ...with it, the row removes the attribute (an incremental pull after a gap). */
	iocb_ingest_set_keep_deleted(f.in, true);
	assert_int_equal(iocb_ingest_doc(f.in, rest_deleted, sizeof(rest_deleted) - 1, "rest", &err), IOCB_OK);
	assert_int_equal(hits(&f, "e.example"), 0);
	assert_int_equal(hits(&f, "d.example"), 1);
	assert_int_equal(observed, 2);
	assert_int_equal(iocb_ingest_stats(f.in)->by_action[IOCB_ACT_NONE], 3); /* the skipped row is not delivered */
	fx_close(&f);
}

static bool pick_domain(void *ud, const struct iocb_store_attr *a)
{
	struct iocb_store_attr_view v;

	(void)ud;
	iocb_store_attr_view(a, &v);
	return v.type && strcmp(v.type->name, "domain") == 0;
}

static void count_tags(void *ud, const struct iocb_store_event *e)
{
	struct iocb_store_event_view v;

	iocb_store_event_view(e, &v);
	*(size_t *)ud = v.ntags;
}

static void test_store_remove_if_and_event_with(void **state)
{
	struct fx f;
	char b[2048];
	struct iocb_err err = {0};
	size_t n = 0, ntags = 99;

	(void)state;
	fx_open(&f, NULL);
	frame(&f, event_add_white);
	frame(&f, attr_frame(b, sizeof(b), "add", U1, "ip-dst", "192.0.2.1", true, NULL));
	frame(&f, attr_frame(b, sizeof(b), "add", U2, "domain", "f.example", true, NULL));
	assert_int_equal(iocb_store_event_with(f.store, IOCB_STR_NULL, 3, count_tags, &ntags), IOCB_OK);
	assert_int_equal(ntags, 1);
	assert_int_equal(iocb_store_event_with(f.store, iocb_str_c("8e453a98-0661-4c95-b84f-3f05935b8eb8"), 0,
					       count_tags, &ntags),
			 IOCB_OK);
	assert_int_equal(iocb_store_event_with(f.store, IOCB_STR_NULL, 4, count_tags, &ntags), IOCB_ENOTFOUND);
	assert_int_equal(iocb_store_remove_if(f.store, pick_domain, NULL, &n, &err), IOCB_OK);
	assert_int_equal(n, 1);
	assert_int_equal(hits(&f, "f.example"), 0);
	assert_int_equal(hits(&f, "192.0.2.1"), 1);
	assert_int_equal(iocb_store_commit(f.store, &err), IOCB_OK);
	fx_close(&f);
}

/* ------------------------------------------------------------ one thread or two */

/* A restSearch file of n attributes: four types, invalid values, soft-deletes, stale repeats. */
static void write_rest(const char *path, unsigned n)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs("{\"response\":{\"Attribute\":[", f);
	for (unsigned i = 0; i < n; i++) {
		static const char *const types[] = {"ip-dst", "domain", "md5", "ip-src|port", "ip-dst"};
		unsigned k = i % 5, id = i % 97 == 96 ? i - 90 : i; /* every 97th repeats an earlier uuid, older */
		char value[64];

		if (k == 0)
			snprintf(value, sizeof(value), "10.%u.%u.%u", id >> 16 & 255, id >> 8 & 255, id & 255);
		else if (k == 1)
			snprintf(value, sizeof(value), "d%u.example", id);
		else if (k == 2)
			snprintf(value, sizeof(value), "%032x", id * 2654435761u);
		else if (k == 3)
			snprintf(value, sizeof(value), "192.0.2.%u|%u", id & 255, 1000 + id % 1000);
		else
			snprintf(value, sizeof(value), "999.%u.1.1", id & 255); /* invalid: skipped */
		fprintf(f,
			"%s{\"id\":\"%u\",\"event_id\":\"%u\",\"uuid\":\"aaaaaaaa-0000-4000-8000-%012u\","
			"\"type\":\"%s\",\"category\":\"Network activity\",\"to_ids\":%s,\"timestamp\":\"%u\","
			"\"deleted\":%s,\"value\":\"%s\",\"Event\":{\"id\":\"%u\",\"info\":\"event %u\","
			"\"uuid\":\"bbbbbbbb-0000-4000-8000-%012u\"},\"Tag\":[{\"name\":\"tlp:green\"}]}",
			i ? "," : "", id + 1, id / 10 + 1, id, types[k], i % 3 ? "true" : "false",
			1700000000 + id - (id != i), i % 11 == 10 ? "true" : "false", value, id / 10 + 1, id / 10,
			id / 10);
	}
	fputs("]}}\n", f);
	fclose(f);
}

static pthread_t observer_thread; /* the thread the observer last ran on */

static void observe_thread(void *ud, const struct iocb_misp_attr *a)
{
	(void)a;
	observer_thread = pthread_self();
	(*(size_t *)ud)++;
}

/* Load `path` into a new store with the given pipeline threshold; true when the observer ran on this thread. */
static bool load_with(struct fx *f, const char *path, size_t pipeline_min)
{
	struct iocb_err err = {0};
	size_t observed_here = 0;

	fx_open(f, NULL);
	iocb_ingest_set_pipeline_min(f->in, pipeline_min);
	iocb_ingest_set_observer(f->in, observe_thread, &observed_here);
	assert_int_equal(iocb_ingest_path(f->in, path, &err), IOCB_OK);
	assert_true(observed_here > 0);
	return pthread_equal(observer_thread, pthread_self()) != 0;
}

/*
 * iocb_ingest_set_pipeline_min(): the two-thread load (parser + store
 * writer) and the one-thread load give the same counters and the same
 * store. The observer's thread tells which path ran.
 */
static void test_pipeline_same_as_one_thread(void **state)
{
	char path[] = "/tmp/iocb-ingest-XXXXXX";
	struct fx one, two;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	write_rest(path, 3000);
	assert_true(load_with(&one, path, SIZE_MAX));
	assert_false(load_with(&two, path, 1));
	const struct iocb_ingest_stats *a = iocb_ingest_stats(one.in), *b = iocb_ingest_stats(two.in);
	assert_true(a->upserts > 1000);
	assert_true(a->stale > 0);
	assert_true(a->misp.skipped[IOCB_SKIP_INVALID_VALUE] > 0);
	assert_true(a->misp.skipped[IOCB_SKIP_DELETED] > 0);
	assert_int_equal(a->upserts, b->upserts);
	assert_int_equal(a->removes, b->removes);
	assert_int_equal(a->stale, b->stale);
	assert_int_equal(a->max_timestamp, b->max_timestamp);
	assert_int_equal(a->misp.attributes, b->misp.attributes);
	assert_int_equal(a->misp.events, b->misp.events);
	assert_memory_equal(a->misp.skipped, b->misp.skipped, sizeof(a->misp.skipped));
	assert_memory_equal(a->by_action, b->by_action, sizeof(a->by_action));
	assert_memory_equal(a->by_type, b->by_type, (iocb_misp_type_count() + 1) * sizeof(uint64_t));
	for (unsigned id = 0; id < 3000; id += 7) {
		char v[64];
		snprintf(v, sizeof(v), "d%u.example", id);
		assert_int_equal(hits(&one, v), hits(&two, v));
		snprintf(v, sizeof(v), "10.%u.%u.%u", id >> 16 & 255, id >> 8 & 255, id & 255);
		assert_int_equal(hits(&one, v), hits(&two, v));
	}
	fx_close(&one);
	fx_close(&two);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions_and_counters),
		cmocka_unit_test(test_zmq_sightings),
		cmocka_unit_test(test_stored_event_tags_feed_filter),
		cmocka_unit_test(test_refilter_and_observer),
		cmocka_unit_test(test_keep_deleted_snapshot_rows),
		cmocka_unit_test(test_store_remove_if_and_event_with),
		cmocka_unit_test(test_pipeline_same_as_one_thread),
	};
	int rc;

	iocb_store_reader_register();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	iocb_store_reader_unregister();
	return rc;
}
