/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enrich engine through enrich.h: field-map specs and their errors, and
 * the scanner's edge cases (flat vs nested paths, escaped keys, arrays,
 * duplicate threat/misp keys, nesting caps, rejects), and the options and
 * maps built from a configuration. Whole-output cases
 * live in tests/golden/enrich/; these check what is easier to state here.
 */
#include "enrich/enrich.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/ingest.h"
#include "json/json.h"
#include "quality/decay.h"

static const char intel[] =
	"{\"response\":{\"Attribute\":["
	"{\"id\":\"1\",\"event_id\":\"7\",\"uuid\":\"11111111-1111-4111-8111-111111111111\",\"type\":\"ip-dst\","
	"\"category\":\"Network activity\",\"value\":\"203.0.113.7\",\"to_ids\":true,\"timestamp\":\"1700000000\","
	"\"Event\":{\"id\":\"7\",\"uuid\":\"77777777-7777-4777-8777-777777777777\",\"info\":\"t\",\"orgc_id\":\"1\"}},"
	"{\"id\":\"2\",\"event_id\":\"7\",\"uuid\":\"22222222-2222-4222-8222-222222222222\",\"type\":\"domain\","
	"\"category\":\"Network activity\",\"value\":\"evil.example\",\"to_ids\":true,\"timestamp\":\"1700000000\","
	"\"Event\":{\"id\":\"7\",\"uuid\":\"77777777-7777-4777-8777-777777777777\",\"info\":\"t\",\"orgc_id\":\"1\"}},"
	"{\"id\":\"3\",\"event_id\":\"7\",\"uuid\":\"33333333-3333-4333-8333-333333333333\",\"type\":\"ip-dst|port\","
	"\"category\":\"Network activity\",\"value\":\"198.51.100.9|8080\",\"to_ids\":true,\"timestamp\":\"1700000000\","
	"\"Event\":{\"id\":\"7\",\"uuid\":\"77777777-7777-4777-8777-777777777777\",\"info\":\"t\",\"orgc_id\":\"1\"}}"
	"]}}";

struct fx {
	struct iocb_store *store;
	struct iocb_ingest *ingest;
	struct iocb_enrich_map *map;
	struct iocb_enrich_opts opts;
	struct iocb_enrich *e;
	struct iocb_buf out;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct iocb_store_opts so;
	struct iocb_err err = {0};

	iocb_store_opts_default(&so);
	assert_int_equal(iocb_store_open(&so, &f->store, &err), IOCB_OK);
	f->ingest = iocb_ingest_new(f->store, NULL, 0);
	assert_int_equal(iocb_ingest_doc(f->ingest, intel, sizeof(intel) - 1, "intel", &err), IOCB_OK);
	assert_int_equal(iocb_store_commit(f->store, &err), IOCB_OK);
	assert_int_equal(iocb_enrich_map_new(IOCB_PRESET_AUTO, NULL, 0, &f->map, &err), IOCB_OK);
	iocb_enrich_opts_default(&f->opts);
	f->opts.store = f->store;
	f->opts.map = f->map;
	f->opts.occurred = "T";
	f->opts.max_depth = 8;
	iocb_store_reader_register();
	f->e = iocb_enrich_new(&f->opts);
	assert_non_null(f->e);
	iocb_buf_init(&f->out, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	iocb_buf_fini(&f->out);
	iocb_enrich_free(f->e);
	iocb_store_reader_unregister();
	iocb_enrich_map_free(f->map);
	iocb_ingest_free(f->ingest);
	iocb_store_free(f->store);
	free(f);
	return 0;
}

/* Enrich one line; returns the verdict, output in f->out. */
static int run(struct fx *f, const char *line, enum iocb_enrich_reject *why)
{
	iocb_buf_reset(&f->out);
	return iocb_enrich_line(f->e, line, strlen(line), &f->out, why);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_map_specs(void **state)
{
	struct iocb_enrich_map *m = NULL;
	struct iocb_err err = {0};
	struct iocb_enrich_field_spec bad_kind[] = {{"x.y", "ipp"}};
	struct iocb_enrich_field_spec bad_pair[] = {{"x.y", "domain,port=x.p"}};
	struct iocb_enrich_field_spec bad_path[] = {{"x..y", "ip"}};
	struct iocb_enrich_field_spec port_alone[] = {{"x.p", "port"}};
	struct iocb_enrich_field_spec good[] = {{"observer.ip", "ip,port=observer.port"}, {"source.ip", "none"}};
	struct iocb_enrich_field_info fi;
	bool saw_observer = false, saw_source = false;

	(void)state;
	assert_int_equal(iocb_enrich_map_new(IOCB_PRESET_ECS, bad_kind, 1, &m, &err), IOCB_ECONFIG);
	assert_non_null(strstr(err.msg, "enrich.fields.x.y"));
	assert_non_null(strstr(err.msg, "did you mean 'ip'"));
	assert_int_equal(iocb_enrich_map_new(IOCB_PRESET_ECS, bad_pair, 1, &m, &err), IOCB_ECONFIG);
	assert_non_null(strstr(err.msg, "port= pairs only with kind ip"));
	assert_int_equal(iocb_enrich_map_new(IOCB_PRESET_ECS, bad_path, 1, &m, &err), IOCB_ECONFIG);
	assert_int_equal(iocb_enrich_map_new(IOCB_PRESET_ECS, port_alone, 1, &m, &err), IOCB_ECONFIG);
	assert_null(m);
	assert_int_equal(iocb_enrich_map_new(IOCB_PRESET_ECS, good, 2, &m, &err), IOCB_OK);
	for (size_t i = 0; i < iocb_enrich_map_nfields(m); i++) {
		iocb_enrich_map_field(m, i, &fi);
		if (strcmp(fi.path, "observer.ip") == 0) {
			saw_observer = true;
			assert_int_equal(fi.kind, IOCB_EK_IP);
			assert_string_equal(fi.pair, "observer.port");
		}
		saw_source |= strcmp(fi.path, "source.ip") == 0;
	}
	assert_true(saw_observer);
	assert_false(saw_source);
	iocb_enrich_map_free(m);
}

static void test_flat_nested_mixed(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "{\"id.resp_h\":\"203.0.113.7\",\"_path\":\"conn\"}", NULL), IOCB_ENRICH_HIT);
	assert_int_equal(run(f, "{\"id\":{\"resp_h\":\"203.0.113.7\"},\"_path\":\"conn\"}", NULL), IOCB_ENRICH_HIT);
	assert_non_null(strstr(f->out.ptr, "\"field\":\"id.resp_h\""));
	assert_int_equal(run(f, "{\"destination\":{\"ip\":\"203.0.113.7\"}}", NULL), IOCB_ENRICH_HIT);
	assert_int_equal(run(f, "{\"destination.ip\":\"203.0.113.7\"}", NULL), IOCB_ENRICH_HIT);
	/* An escaped key spells the same path. */
	assert_int_equal(run(f, "{\"destin\\u0061tion\":{\"ip\":\"203.0.113.7\"}}", NULL), IOCB_ENRICH_HIT);
	/* Not a mapped path. */
	assert_int_equal(run(f, "{\"destinationx\":{\"ip\":\"203.0.113.7\"}}", NULL), IOCB_ENRICH_MISS);
	assert_string_equal(f->out.ptr, "{\"destinationx\":{\"ip\":\"203.0.113.7\"}}");
}

/*
 * Indicator quality (issue #15): an expired record does not match; a match
 * carries threat.indicator.confidence and misp.decay_score from the NIDS
 * model (120 days, decay_speed 2, threshold 30, base 80); a type-0
 * sighting brings an expired record back.
 */
static void test_quality(void **state)
{
	struct fx *f = *state;
	char dir[512];
	const char *paths[] = {dir};
	struct iocb_quality_decay_opts qo = {0};
	struct iocb_quality_decay *d;
	struct iocb_err err;
	size_t changed;

	snprintf(dir, sizeof(dir), "%s/misp/decaying-models/nids-simple-model.json", IOCB_FIXTURES_DIR);
	qo.model_paths = paths;
	qo.nmodel_paths = 1;
	assert_int_equal(iocb_quality_decay_new(&qo, &d, &err), IOCB_OK);
	assert_true(iocb_store_quality_add(f->store, iocb_quality_decay_apply, d) >= 0);
	assert_int_equal(iocb_store_requalify(f->store, 0, &changed, &err), IOCB_OK);
	assert_int_equal(changed, 3);
	f->opts.decay = d;

	/* one day old: 80 * (1 - (1/120)^(1/2)) = 72.697 */
	f->opts.now_s = 1700000000 + 86400;
	assert_int_equal(run(f, "{\"destination\":{\"ip\":\"203.0.113.7\"}}", NULL), IOCB_ENRICH_HIT);
	assert_non_null(strstr(f->out.ptr, "\"confidence\":\"High\""));
	assert_non_null(strstr(f->out.ptr, "\"decay_score\":72.7"));
	/* 40 days: 80 * (1 - (40/120)^(1/2)) = 33.81, Medium */
	f->opts.now_s = 1700000000 + 40 * 86400;
	assert_int_equal(run(f, "{\"destination\":{\"ip\":\"203.0.113.7\"}}", NULL), IOCB_ENRICH_HIT);
	assert_non_null(strstr(f->out.ptr, "\"confidence\":\"Medium\""));
	assert_non_null(strstr(f->out.ptr, "\"decay_score\":33.81"));
	/* 60 days: 23.43 < 30, expired: no match, counted */
	f->opts.now_s = 1700000000 + 60 * 86400;
	uint64_t before = iocb_enrich_stats(f->e)->expired_skipped;
	assert_int_equal(run(f, "{\"destination\":{\"ip\":\"203.0.113.7\"}}", NULL), IOCB_ENRICH_MISS);
	assert_int_equal(iocb_enrich_stats(f->e)->expired_skipped, before + 1);
	/* a type-0 sighting at that instant restarts the decay */
	assert_int_equal(iocb_store_sighting(f->store, iocb_str_c("11111111-1111-4111-8111-111111111111"), 0,
					     1700000000 + 60 * 86400, &err), IOCB_OK);
	assert_int_equal(run(f, "{\"destination\":{\"ip\":\"203.0.113.7\"}}", NULL), IOCB_ENRICH_HIT);
	assert_non_null(strstr(f->out.ptr, "\"decay_score\":80"));
	f->opts.decay = NULL;
	iocb_store_free(f->store); /* before the callback's state */
	f->store = NULL;
	iocb_quality_decay_free(d);
}

static void test_arrays_and_escapes(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "{\"_path\":\"dns\",\"answers\":[\"1.2.3.4\",\"EVIL.example.\"]}", NULL),
			 IOCB_ENRICH_HIT);
	assert_non_null(strstr(f->out.ptr, "\"atomic\":\"EVIL.example.\""));
	assert_int_equal(run(f, "{\"event_type\":\"dns\",\"dns\":{\"answers\":[{\"rdata\":\"203.0.113.7\"}]}}", NULL),
			 IOCB_ENRICH_HIT);
	assert_int_equal(run(f, "{\"event_type\":\"tls\",\"tls\":{\"sni\":\"evil\\u002eexample\"}}", NULL),
			 IOCB_ENRICH_HIT);
	assert_non_null(strstr(f->out.ptr, "\"atomic\":\"evil.example\""));
}

static void test_port_pairing(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, "{\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"198.51.100.9\",\"dest_port\":8080}", NULL),
			 IOCB_ENRICH_HIT);
	assert_int_equal(run(f, "{\"src_ip\":\"10.0.0.1\",\"dest_ip\":\"198.51.100.9\",\"dest_port\":443}", NULL),
			 IOCB_ENRICH_MISS);
	/* The port may come before the address, and an event without it still matches. */
	assert_int_equal(run(f, "{\"dest_port\":\"8080\",\"dest_ip\":\"198.51.100.9\"}", NULL), IOCB_ENRICH_HIT);
	assert_int_equal(run(f, "{\"dest_ip\":\"198.51.100.9\"}", NULL), IOCB_ENRICH_HIT);
}

static void test_existing_threat_misp(void **state)
{
	struct fx *f = *state;
	struct iocb_err err = {0};

	assert_int_equal(run(f,
			     "{\"misp\":{\"hit\":\"none\",\"x\":1},\"destination\":{\"ip\":\"203.0.113.7\"},"
			     "\"threat\":{\"enrichments\":[{\"old\":1}],\"f\":2},\"threat\":3,\"misp\":[]}",
			     NULL),
		  IOCB_ENRICH_HIT);
	assert_int_equal(iocb_json_validate(f->out.ptr, f->out.len, 0, &err), IOCB_OK);
	assert_int_equal(count(f->out.ptr, "\"threat\":"), 1);
	assert_int_equal(count(f->out.ptr, "\"misp\":"), 1);
	assert_int_equal(count(f->out.ptr, "\"hit\":"), 1);
	assert_non_null(strstr(f->out.ptr, "\"enrichments\":[{\"old\":1},{\"indicator\""));
	assert_non_null(strstr(f->out.ptr, "\"x\":1"));
	assert_non_null(strstr(f->out.ptr, "\"f\":2"));
	/* An empty object gets members without a leading comma. */
	assert_int_equal(run(f, "{}", NULL), IOCB_ENRICH_MISS);
	f->opts.on_miss = IOCB_ON_MISS_MARK;
	assert_int_equal(run(f, " {} ", NULL), IOCB_ENRICH_MISS);
	assert_string_equal(f->out.ptr, " {\"misp\":{\"hit\":false}} ");
	f->opts.on_miss = IOCB_ON_MISS_PASS;
}

static void test_rejects(void **state)
{
	struct fx *f = *state;
	enum iocb_enrich_reject why;
	const char *deep = "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":1}}}}}}}}}";

	assert_int_equal(run(f, "{\"destination\":{\"ip\":\"203.0.113.7\"}", &why), IOCB_ENRICH_REJECT);
	assert_int_equal(why, IOCB_REJ_TRUNCATED);
	assert_string_equal(f->out.ptr, "{\"destination\":{\"ip\":\"203.0.113.7\"}");
	assert_int_equal(run(f, "{\"destination\":{\"ip\":\"203.0.113.7\"}}x", &why), IOCB_ENRICH_REJECT);
	assert_int_equal(why, IOCB_REJ_NOT_JSON);
	assert_int_equal(run(f, "{\"destination\":{\"ip\":\"203.0.113.7\",}}", &why), IOCB_ENRICH_REJECT);
	assert_int_equal(why, IOCB_REJ_NOT_JSON);
	assert_int_equal(run(f, "{\"s\":\"\xff\",\"destination\":{\"ip\":\"203.0.113.7\"}}", &why), IOCB_ENRICH_REJECT);
	assert_int_equal(why, IOCB_REJ_NOT_JSON);
	assert_int_equal(run(f, "[{\"destination\":{\"ip\":\"203.0.113.7\"}}]", &why), IOCB_ENRICH_REJECT);
	assert_int_equal(why, IOCB_REJ_NOT_OBJECT);
	assert_int_equal(run(f, deep, &why), IOCB_ENRICH_REJECT); /* max_depth 8 */
	assert_int_equal(why, IOCB_REJ_NOT_JSON);
	assert_int_equal(run(f, "   ", &why), IOCB_ENRICH_BLANK);
	assert_true(iocb_enrich_stats(f->e)->rejected[IOCB_REJ_NOT_JSON] >= 3);
	assert_non_null(strstr(iocb_enrich_stats(f->e)->first_reject, "byte"));
}

static void test_block_terminators(void **state)
{
	struct fx *f = *state;
	const char in[] = "{\"a\":1}\n{\"dest_ip\":\"203.0.113.7\"}\r\nnot json\n\n{\"b\":2}";
	struct iocb_buf rej;

	iocb_buf_init(&rej, 0);
	iocb_buf_reset(&f->out);
	assert_int_equal(iocb_enrich_block(f->e, in, sizeof(in) - 1, 1, &f->out, &rej), IOCB_OK);
	assert_string_equal(rej.ptr, "not json\n");
	assert_int_equal(strncmp(f->out.ptr, "{\"a\":1}\n{\"dest_ip\":\"203.0.113.7\",\"threat\":", 42), 0);
	assert_int_equal(count(f->out.ptr, "\n"), 3);
	assert_non_null(strstr(f->out.ptr, "}}\r\n\n{\"b\":2}"));
	assert_int_equal(f->out.ptr[f->out.len - 1], '}');
	iocb_buf_fini(&rej);
}

/* The options and field maps of a configuration (src/enrich/opts.c): one builder for the CLI and the pipeline. */
static void test_from_config(void **state)
{
	static const char yaml[] = "misp:\n"
				   "  api: {host: \"https://misp.example\", key: k}\n"
				   "enrich:\n"
				   "  preset: zeek\n"
				   "  on_miss: mark\n"
				   "  match_type: m\n"
				   "  provider: P\n"
				   "  parent_domains: true\n"
				   "  hits_only: true\n"
				   "  max_line: 2KiB\n"
				   "  max_hits: 7\n"
				   "  fields: {x.ip: ip}\n"
				   "inputs:\n"
				   "  - {name: a, type: stdin}\n"
				   "  - {name: b, type: stdin, preset: ecs, fields: {y.z: bogus}}\n"
				   "outputs:\n"
				   "  - {name: o, type: stdout}\n";
	struct iocb_config *c = NULL;
	struct iocb_enrich_opts o;
	struct iocb_enrich_map *m = NULL;
	struct iocb_enrich_field_info fi;
	struct iocb_err err = {0};
	char prefix[128];
	bool found = false;

	(void)state;
	assert_int_equal(iocb_config_load_string("t.yaml", yaml, sizeof(yaml) - 1, &c, &err), IOCB_OK);
	iocb_enrich_opts_from_config(c, &o);
	assert_int_equal(o.on_miss, IOCB_ON_MISS_MARK);
	assert_string_equal(o.match_type, "m");
	assert_string_equal(o.provider, "P");
	assert_string_equal(o.misp_url, "https://misp.example");
	assert_true(o.parent_domains);
	assert_true(o.hits_only);
	assert_int_equal(o.max_line, 2048);
	assert_int_equal(o.max_hits, 7);
	assert_int_equal(o.max_depth, 64);
	assert_null(o.occurred);
	assert_null(o.store);
	assert_null(o.map);
	/* An input without a preset takes enrich.preset; one with its own keeps it. */
	assert_int_equal(iocb_enrich_preset_from_config(c, NULL), IOCB_PRESET_ZEEK);
	assert_int_equal(iocb_enrich_preset_from_config(c, &c->inputs[0]), IOCB_PRESET_ZEEK);
	assert_int_equal(iocb_enrich_preset_from_config(c, &c->inputs[1]), IOCB_PRESET_ECS);
	assert_int_equal(iocb_enrich_map_from_config(c, &c->inputs[0], &m, &err), IOCB_OK);
	for (size_t i = 0; i < iocb_enrich_map_nfields(m); i++) {
		iocb_enrich_map_field(m, i, &fi);
		found |= strcmp(fi.path, "x.ip") == 0 && fi.kind == IOCB_EK_IP;
	}
	assert_true(found);
	iocb_enrich_map_free(m);
	m = NULL;
	/* A bad spec of an input is reported at the input. */
	assert_int_equal(iocb_enrich_map_from_config(c, &c->inputs[1], &m, &err), IOCB_ECONFIG);
	assert_null(m);
	snprintf(prefix, sizeof(prefix), "%s: inputs[b]: ", c->inputs[1].where);
	assert_memory_equal(err.msg, prefix, strlen(prefix));
	assert_non_null(strstr(err.msg, "bogus"));
	iocb_config_free(c);
	/* The defaults are iocb_enrich_opts_default()'s. */
	c = iocb_config_default();
	iocb_enrich_opts_from_config(c, &o);
	assert_int_equal(o.on_miss, IOCB_ON_MISS_PASS);
	assert_string_equal(o.match_type, "indicator_match_rule");
	assert_string_equal(o.provider, "misp");
	assert_null(o.misp_url);
	assert_int_equal(o.max_line, (size_t)1 << 20);
	assert_int_equal(o.max_hits, 32);
	assert_int_equal(iocb_enrich_preset_from_config(c, NULL), IOCB_PRESET_AUTO);
	iocb_config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_specs),
		cmocka_unit_test(test_from_config),
		cmocka_unit_test_setup_teardown(test_flat_nested_mixed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quality, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arrays_and_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_pairing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_existing_threat_misp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_terminators, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
