/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for src/config, through config.h only.
 *
 * Three groups: configurations that must load (the Threat Bus README
 * example at all three nesting levels, a full Threat Bus file, Kafka, the
 * defaults), configurations that must fail, given as a table of YAML text and
 * the exact "name:line:col: ..." message expected, and the properties that
 * hold across both: the API key never appears in a dump or an error, a dump
 * loads back to an equal configuration, and docs/CONFIGURATION.md is exactly
 * what iocb_config_docs() generates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"

#define DATA IOCB_SOURCE_DIR "/tests/unit/data/config/"
#define SECRET "S3cr3t-Key-7f1b2c" /* must never appear in dumps or messages */

/* ---- helpers ----------------------------------------------------------------- */

static struct iocb_config *load_ok(const char *yaml)
{
	struct iocb_config *c = NULL;
	struct iocb_err err = {0};
	int rc = iocb_config_load_string("t.yaml", yaml, strlen(yaml), &c, &err);

	if (rc != IOCB_OK)
		fail_msg("unexpected error %d: %s\n--- input:\n%s", rc, err.msg, yaml);
	assert_non_null(c);
	return c;
}

/* Load must fail with exactly `msg`; prints the difference and returns false if not. */
static bool load_fails(const char *yaml, size_t len, const char *msg)
{
	struct iocb_config *c = (struct iocb_config *)1;
	struct iocb_err err = {0};
	int rc = iocb_config_load_string("t.yaml", yaml, len, &c, &err);

	if (rc != IOCB_ECONFIG) {
		iocb_config_free(c);
		print_error("expected IOCB_ECONFIG, got %d (%s)\n--- input:\n%s\n", rc, err.msg, yaml);
		return false;
	}
	assert_null(c);
	assert_int_equal(err.rc, IOCB_ECONFIG);
	if (strcmp(err.msg, msg) != 0) {
		print_error("message mismatch\n  want: %s\n  got:  %s\n", msg, err.msg);
		return false;
	}
	return true;
}

static char *dump_str(const struct iocb_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(iocb_config_dump(c, f), IOCB_OK);
	fclose(f);
	return buf;
}

/* Indent every line of `body` by `n` spaces after `head` (for nesting variants). */
static char *nest(const char *head, const char *body, int n)
{
	size_t cap = strlen(head) + strlen(body) * 2 + 64, o = 0;
	char *out = iocb_xmalloc(cap);
	bool bol = true;

	o += (size_t)snprintf(out, cap, "%s", head);
	for (const char *p = body; *p; p++) {
		if (bol && *p != '\n') {
			for (int i = 0; i < n; i++)
				out[o++] = ' ';
		}
		out[o++] = *p;
		bol = *p == '\n';
	}
	out[o] = '\0';
	return out;
}

static bool strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Field-by-field equality; the secret is compared only when `with_key`. */
static void assert_config_equal(const struct iocb_config *a, const struct iocb_config *b, bool with_key)
{
	assert_int_equal(a->api.present, b->api.present);
	assert_true(str_eq(a->api.host, b->api.host));
	assert_int_equal(a->api.ssl_verify, b->api.ssl_verify);
	assert_true(str_eq(a->api.ca_file, b->api.ca_file));
	assert_true(str_eq(a->api.key_file, b->api.key_file));
	assert_true(str_eq(a->api.key_env, b->api.key_env));
	if (with_key)
		assert_true(str_eq(iocb_secret_str(&a->api.key), iocb_secret_str(&b->api.key)));
	assert_true(a->api.timeout_s == b->api.timeout_s);
	assert_int_equal(a->nfilters, b->nfilters);
	for (size_t i = 0; i < a->nfilters; i++) {
		const struct iocb_filter_spec *x = &a->filters[i], *y = &b->filters[i];

		assert_int_equal(x->has_orgs, y->has_orgs);
		assert_int_equal(x->has_types, y->has_types);
		assert_int_equal(x->has_tags, y->has_tags);
		assert_true(strv_eq(x->orgs, x->norgs, y->orgs, y->norgs));
		assert_true(strv_eq(x->types, x->ntypes, y->types, y->ntypes));
		assert_true(strv_eq(x->tags, x->ntags, y->tags, y->ntags));
	}
	assert_int_equal(a->filter_opts.org_field, b->filter_opts.org_field);
	assert_int_equal(a->filter_opts.event_tags, b->filter_opts.event_tags);
	assert_int_equal(a->zmq.present, b->zmq.present);
	assert_true(str_eq(a->zmq.host, b->zmq.host));
	assert_int_equal(a->zmq.port, b->zmq.port);
	assert_int_equal(a->kafka.present, b->kafka.present);
	assert_true(strv_eq(a->kafka.topics, a->kafka.ntopics, b->kafka.topics, b->kafka.ntopics));
	assert_true(a->kafka.poll_interval == b->kafka.poll_interval);
	assert_int_equal(a->kafka.nconfig, b->kafka.nconfig);
	for (size_t i = 0; i < a->kafka.nconfig; i++) {
		assert_string_equal(a->kafka.config[i].key, b->kafka.config[i].key);
		assert_string_equal(a->kafka.config[i].value, b->kafka.config[i].value);
	}
	assert_true(str_eq(a->store.path, b->store.path));
	assert_int_equal(a->store.match_non_ids, b->store.match_non_ids);
	assert_int_equal(a->store.map_size, b->store.map_size);
	assert_int_equal(a->store.durable, b->store.durable);
	assert_true(strv_eq(a->intel, a->nintel, b->intel, b->nintel));
	assert_int_equal(a->log.level, b->log.level);
	assert_true(str_eq(a->log.debug, b->log.debug));
	assert_int_equal(a->enrich.preset, b->enrich.preset);
	assert_int_equal(a->enrich.nfields, b->enrich.nfields);
	for (size_t i = 0; i < a->enrich.nfields; i++) {
		assert_string_equal(a->enrich.fields[i].key, b->enrich.fields[i].key);
		assert_string_equal(a->enrich.fields[i].value, b->enrich.fields[i].value);
	}
	assert_int_equal(a->enrich.on_miss, b->enrich.on_miss);
	assert_true(str_eq(a->enrich.match_type, b->enrich.match_type));
	assert_true(str_eq(a->enrich.provider, b->enrich.provider));
	assert_int_equal(a->enrich.parent_domains, b->enrich.parent_domains);
	assert_int_equal(a->enrich.max_line, b->enrich.max_line);
	assert_int_equal(a->enrich.max_hits, b->enrich.max_hits);
	assert_int_equal(a->enrich.threads, b->enrich.threads);
	assert_true(str_eq(a->enrich.reject_file, b->enrich.reject_file));
	assert_int_equal(a->enrich.hits_only, b->enrich.hits_only);
}

static void assert_roundtrip(const struct iocb_config *c, bool with_key)
{
	char *d = dump_str(c);
	struct iocb_config *c2 = NULL;
	struct iocb_err err = {0};

	if (iocb_config_load_string("dump.yaml", d, strlen(d), &c2, &err) != IOCB_OK)
		fail_msg("dump does not load: %s\n%s", err.msg, d);
	assert_config_equal(c, c2, with_key);
	iocb_config_free(c2);
	free(d);
}

static bool has_warning(const struct iocb_config *c, const char *text)
{
	for (size_t i = 0; i < c->nwarnings; i++)
		if (strstr(c->warnings[i], text))
			return true;
	return false;
}

/* ---- loading ------------------------------------------------------------------- */

/* Expected scalar values of the enrich section. */
struct enrich_want {
	enum iocb_config_preset preset;
	enum iocb_config_on_miss on_miss;
	const char *match_type, *provider, *reject_file;
	bool parent_domains, hits_only;
	uint64_t max_line;
	unsigned max_hits, threads;
	size_t nfields;
};

static const struct enrich_want enrich_defaults = {
	IOCB_CONFIG_PRESET_AUTO, IOCB_CONFIG_ON_MISS_PASS, "indicator_match_rule", "misp", NULL, false, false, 1048576,
	32, 1, 0,
};

static void check_enrich(const struct iocb_config *c, const struct enrich_want *w)
{
	assert_int_equal(c->enrich.preset, w->preset);
	assert_int_equal(c->enrich.on_miss, w->on_miss);
	assert_true(str_eq(c->enrich.match_type, w->match_type));
	assert_true(str_eq(c->enrich.provider, w->provider));
	assert_true(str_eq(c->enrich.reject_file, w->reject_file));
	assert_int_equal(c->enrich.parent_domains, w->parent_domains);
	assert_int_equal(c->enrich.hits_only, w->hits_only);
	assert_int_equal(c->enrich.max_line, w->max_line);
	assert_int_equal(c->enrich.max_hits, w->max_hits);
	assert_int_equal(c->enrich.threads, w->threads);
	assert_int_equal(c->enrich.nfields, w->nfields);
}

static void check_defaults(const struct iocb_config *c)
{
	assert_false(c->api.present);
	assert_true(c->api.ssl_verify);
	assert_null(c->api.ca_file);
	assert_null(iocb_secret_str(&c->api.key));
	assert_true(c->api.timeout_s == 30.0);
	assert_int_equal(c->nfilters, 0);
	assert_int_equal(c->filter_opts.org_field, IOCB_FILTER_ORGC);
	assert_true(c->filter_opts.event_tags);
	assert_false(c->zmq.present);
	assert_string_equal(c->zmq.host, "localhost");
	assert_int_equal(c->zmq.port, 50000);
	assert_false(c->kafka.present);
	assert_int_equal(c->kafka.ntopics, 1);
	assert_string_equal(c->kafka.topics[0], "misp_attribute");
	assert_true(c->kafka.poll_interval == 1.0);
	assert_int_equal(c->kafka.nconfig, 0);
	assert_null(c->store.path);
	assert_false(c->store.match_non_ids);
	assert_int_equal(c->store.map_size, UINT64_C(8) << 30);
	assert_true(c->store.durable);
	assert_int_equal(c->nintel, 0);
	assert_int_equal(c->log.level, IOCB_LOG_WARN);
	assert_null(c->log.debug);
	check_enrich(c, &enrich_defaults);
	assert_int_equal(c->nwarnings, 0);
}

static void test_defaults(void **state)
{
	static const char *const empty[] = {"", "# only a comment\n", "~\n", "---\n", "\xEF\xBB\xBF", "{}\n"};
	struct iocb_config *c = iocb_config_default();

	(void)state;
	check_defaults(c);
	assert_roundtrip(c, true);
	iocb_config_free(c);
	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		c = load_ok(empty[i]);
		check_defaults(c);
		iocb_config_free(c);
	}
	iocb_config_free(NULL);
}

/* The misp section of the Threat Bus MISP plugin README, at column 0. */
static const char readme_misp[] = "misp:\n"
				  "  api:\n"
				  "    host: https://localhost\n"
				  "    ssl: false\n"
				  "    key: MISP_API_KEY\n"
				  "  filter: # optional\n"
				  "    - orgs: [\"1\", \"25\"]\n"
				  "      tags: [\"TLP:AMBER\", \"TLP:RED\"]\n"
				  "      types: [ip-src, ip-dst, hostname, domain, url]\n"
				  "    - orgs:\n"
				  "      - \"2\"\n"
				  "  zmq:\n"
				  "    host: localhost\n"
				  "    port: 50000\n"
				  "  #kafka:\n"
				  "  #  topics: [misp_attribute]\n";

static void check_readme(const struct iocb_config *c, int line0, int col0)
{
	char where[64];

	assert_true(c->api.present);
	assert_string_equal(c->api.host, "https://localhost");
	assert_false(c->api.ssl_verify);
	assert_null(c->api.ca_file);
	assert_string_equal(iocb_secret_str(&c->api.key), "MISP_API_KEY");
	assert_int_equal(c->nfilters, 2);
	assert_true(c->filters[0].has_orgs && c->filters[0].has_tags && c->filters[0].has_types);
	assert_int_equal(c->filters[0].norgs, 2);
	assert_string_equal(c->filters[0].orgs[0], "1");
	assert_string_equal(c->filters[0].orgs[1], "25");
	assert_int_equal(c->filters[0].ntags, 2);
	assert_string_equal(c->filters[0].tags[1], "TLP:RED");
	assert_int_equal(c->filters[0].ntypes, 5);
	assert_string_equal(c->filters[0].types[0], "ip-src");
	assert_string_equal(c->filters[0].types[4], "url");
	assert_true(c->filters[1].has_orgs);
	assert_false(c->filters[1].has_types);
	assert_false(c->filters[1].has_tags);
	assert_int_equal(c->filters[1].norgs, 1);
	assert_string_equal(c->filters[1].orgs[0], "2");
	/* where: the first key of each list item ("- " then the map). */
	snprintf(where, sizeof(where), "t.yaml:%d:%d", line0 + 7, col0 + 7);
	assert_string_equal(c->filters[0].where, where);
	snprintf(where, sizeof(where), "t.yaml:%d:%d", line0 + 10, col0 + 7);
	assert_string_equal(c->filters[1].where, where);
	assert_true(c->zmq.present);
	assert_string_equal(c->zmq.host, "localhost");
	assert_int_equal(c->zmq.port, 50000);
	assert_false(c->kafka.present);
	assert_int_equal(c->nwarnings, 0);
}

static void test_threatbus_readme_three_levels(void **state)
{
	char *variants[3];
	struct iocb_config *c;

	(void)state;
	variants[0] = nest("", readme_misp, 0);
	variants[1] = nest("plugins:\n", readme_misp, 2);
	variants[2] = nest("plugins:\n  apps:\n", readme_misp, 4);
	for (int i = 0; i < 3; i++) {
		c = load_ok(variants[i]);
		check_readme(c, i, 2 * i);
		assert_roundtrip(c, false);
		iocb_config_free(c);
		free(variants[i]);
	}
}

static void test_threatbus_files(void **state)
{
	struct iocb_config *c = NULL;
	struct iocb_err err = {0};

	(void)state;
	assert_int_equal(iocb_config_load(DATA "threatbus-readme.yaml", &c, &err), IOCB_OK);
	assert_string_equal(c->path, DATA "threatbus-readme.yaml");
	assert_int_equal(c->nfilters, 2);
	assert_string_equal(c->filters[1].where, DATA "threatbus-readme.yaml:11:9");
	assert_int_equal(c->nwarnings, 0);
	iocb_config_free(c);

	/* A full Threat Bus file: loads, with one warning per ignored key. */
	assert_int_equal(iocb_config_load(DATA "threatbus-full.yaml", &c, &err), IOCB_OK);
	assert_true(c->zmq.present);
	assert_string_equal(c->api.host, "https://localhost");
	assert_int_equal(c->nfilters, 1);
	assert_int_equal(c->nwarnings, 7);
	assert_true(has_warning(c, "threatbus-full.yaml:3:3: logging.console: Threat Bus setting"));
	assert_true(has_warning(c, "logging.filename"));
	assert_true(has_warning(c, "threatbus-full.yaml:10:3: plugins.backbones: Threat Bus setting"));
	assert_true(has_warning(c, "threatbus-full.yaml:19:5: plugins.apps.zeek:"));
	/* Its ZeroMQ app is iocbus's bus, on Threat Bus's ports: apps keep working unchanged. */
	assert_false(has_warning(c, "plugins.apps.zmq-app"));
	assert_true(c->bus.present);
	assert_string_equal(c->bus.host, "127.0.0.1");
	assert_int_equal(c->bus.manage_port, 13370);
	assert_int_equal(c->bus.pub_port, 13371);
	assert_int_equal(c->bus.sub_port, 13372);
	assert_null(c->bus.curve_secret_key_file);
	assert_false(c->sightings.present);
	iocb_config_free(c);

	assert_int_equal(iocb_config_load(DATA "does-not-exist.yaml", &c, &err), IOCB_EIO);
	assert_null(c);
	assert_non_null(strstr(err.msg, "does-not-exist.yaml"));
}

static void test_kafka(void **state)
{
	struct iocb_config *c = NULL;
	struct iocb_err err = {0};

	(void)state;
	setenv("IOCB_TEST_MISP_KEY", SECRET, 1);
	assert_int_equal(iocb_config_load(DATA "kafka.yaml", &c, &err), IOCB_OK);
	assert_true(c->kafka.present);
	assert_false(c->zmq.present);
	assert_int_equal(c->kafka.ntopics, 2);
	assert_string_equal(c->kafka.topics[1], "misp_event");
	assert_true(c->kafka.poll_interval == 0.25);
	assert_int_equal(c->kafka.nconfig, 4);
	assert_string_equal(c->kafka.config[0].key, "bootstrap.servers");
	assert_string_equal(c->kafka.config[0].value, "localhost:9092");
	assert_string_equal(c->kafka.config[2].key, "auto.offset.reset");
	assert_string_equal(c->kafka.config[3].value, "100");
	assert_true(c->api.ssl_verify);
	assert_string_equal(c->api.ca_file, "/etc/ssl/certs/misp-ca.pem");
	assert_true(c->api.timeout_s == 12.5);
	assert_string_equal(iocb_secret_str(&c->api.key), SECRET);
	assert_string_equal(c->api.key_env, "IOCB_TEST_MISP_KEY");
	assert_int_equal(c->filter_opts.org_field, IOCB_FILTER_ORG);
	assert_false(c->filter_opts.event_tags);
	assert_string_equal(c->store.path, "/var/lib/iocbus");
	assert_true(c->store.match_non_ids);
	assert_int_equal(c->store.map_size, UINT64_C(1) << 30);
	assert_false(c->store.durable);
	assert_int_equal(c->nintel, 2);
	assert_string_equal(c->intel[1], "extra.json");
	assert_int_equal(c->log.level, IOCB_LOG_DEBUG);
	assert_string_equal(c->log.debug, "misp,store");
	assert_int_equal(c->nwarnings, 0);
	/* key_env round-trips exactly: the dump names the variable, not the key. */
	assert_roundtrip(c, true);
	iocb_config_free(c);
	unsetenv("IOCB_TEST_MISP_KEY");
}

static void test_orgs_int_or_string(void **state)
{
	struct iocb_config *c;

	(void)state;
	c = load_ok("misp:\n  filter:\n    - orgs: [1, \"1\", 25, '25', 01, ORGNAME, 0x1F]\n"
		    "    - {orgs: [], types: ~}\n    - {}\n");
	assert_int_equal(c->nfilters, 3);
	assert_int_equal(c->filters[0].norgs, 7);
	assert_string_equal(c->filters[0].orgs[0], "1");
	assert_string_equal(c->filters[0].orgs[1], "1");
	assert_string_equal(c->filters[0].orgs[2], "25");
	assert_string_equal(c->filters[0].orgs[3], "25");
	assert_string_equal(c->filters[0].orgs[4], "01");
	assert_string_equal(c->filters[0].orgs[5], "ORGNAME");
	assert_string_equal(c->filters[0].orgs[6], "0x1F");
	assert_true(c->filters[1].has_orgs);
	assert_int_equal(c->filters[1].norgs, 0);
	assert_true(c->filters[1].has_types);
	assert_int_equal(c->filters[1].ntypes, 0);
	assert_false(c->filters[1].has_tags);
	assert_false(c->filters[2].has_orgs);
	assert_string_equal(c->filters[2].where, "t.yaml:5:7");
	/* The misp section has neither api, zmq nor kafka: a warning, not an error. */
	assert_int_equal(c->nwarnings, 1);
	assert_true(has_warning(c, "t.yaml:2:3: misp: no api, zmq or kafka"));
	assert_roundtrip(c, true);
	iocb_config_free(c);
}

static void test_values(void **state)
{
	struct iocb_config *c;

	(void)state;
	c = load_ok("misp:\n  api: {host: 'https://m', ssl: \"/ca.pem\", key: k}\n  zmq: ~\n"
		    "store: {map_size: 1048576, path: ~}\nlogging: {level: info, debug: 'misp, store'}\n");
	assert_true(c->api.ssl_verify);
	assert_string_equal(c->api.ca_file, "/ca.pem");
	assert_true(c->zmq.present); /* null section = present with defaults */
	assert_int_equal(c->zmq.port, 50000);
	assert_int_equal(c->store.map_size, 1048576);
	assert_string_equal(c->log.debug, "misp, store");
	assert_roundtrip(c, false);
	iocb_config_free(c);

	c = load_ok("misp:\n  api: {host: 'http://m', ssl: yes, ca_file: /ca.pem, key: k}\n");
	assert_true(c->api.ssl_verify);
	assert_string_equal(c->api.ca_file, "/ca.pem");
	assert_roundtrip(c, false);
	iocb_config_free(c);
}

static void test_quality_section(void **state)
{
	struct iocb_config *c;

	(void)state;
	c = load_ok("quality:\n  decay:\n    models: [/m]\n    tag_values: {'a:b=\"c\"': 87.5}\n"
		    "  expire_after:\n    default: 90d\n    rules:\n      - {type: ip-dst, max_age: 30s}\n"
		    "      - {source: misp, max_age: 2h}\n  sweep_interval: 5s\n");
	assert_int_equal(c->quality.decay.nmodels, 1);
	assert_string_equal(c->quality.decay.models[0], "/m");
	assert_string_equal(c->quality.decay.tag_values[0].value, "87.5");
	assert_true(c->quality.expire_after.default_s == 90 * 86400.0);
	assert_int_equal(c->quality.expire_after.nrules, 2);
	assert_string_equal(c->quality.expire_after.rules[0].type, "ip-dst");
	assert_true(c->quality.expire_after.rules[0].max_age_s == 30);
	assert_string_equal(c->quality.expire_after.rules[1].source, "misp");
	assert_true(c->quality.sweep_interval_s == 5);
	assert_roundtrip(c, false);
	iocb_config_free(c);
	c = load_ok("misp: {zmq: ~}\n");
	assert_true(c->quality.sweep_interval_s == 60);
	assert_int_equal(c->quality.expire_after.nrules, 0);
	iocb_config_free(c);
}

static void test_enrich_section(void **state)
{
	struct iocb_config *c;
	char *d;

	(void)state;
	c = load_ok("enrich:\n"
		    "  preset: zeek\n"
		    "  fields:\n"
		    "    http.uri: uri,host=http.host\n"
		    "    \"event.key\": hash\n"
		    "    id.resp_h: none\n"
		    "  on_miss: mark\n"
		    "  match_type: misp_match\n"
		    "  provider: CIRCL\n"
		    "  parent_domains: yes\n"
		    "  max_line: 64KiB\n"
		    "  max_hits: 4096\n"
		    "  threads: 8\n"
		    "  reject_file: /var/log/rejects.json\n"
		    "  hits_only: true\n");
	check_enrich(c, &(struct enrich_want){IOCB_CONFIG_PRESET_ZEEK, IOCB_CONFIG_ON_MISS_MARK, "misp_match", "CIRCL",
					       "/var/log/rejects.json", true, true, 65536, 4096, 8, 3});
	/* Kept in file order: later entries override earlier ones when the map is built. */
	assert_string_equal(c->enrich.fields[0].key, "http.uri");
	assert_string_equal(c->enrich.fields[0].value, "uri,host=http.host");
	assert_string_equal(c->enrich.fields[2].key, "id.resp_h");
	assert_string_equal(c->enrich.fields[2].value, "none");
	/* Field specs are not credentials: a path containing "key" is dumped as written. */
	d = dump_str(c);
	assert_non_null(strstr(d, "\"event.key\": \"hash\""));
	assert_null(strstr(d, "***"));
	free(d);
	assert_roundtrip(c, true);
	iocb_config_free(c);

	/* Bounds are inclusive; a null reject_file and fields are the defaults. */
	c = load_ok("enrich: {max_line: 1KiB, max_hits: 1, threads: 64, reject_file: ~, fields: ~}\n");
	check_enrich(c, &(struct enrich_want){IOCB_CONFIG_PRESET_AUTO, IOCB_CONFIG_ON_MISS_PASS, "indicator_match_rule",
					       "misp", NULL, false, false, 1024, 1, 64, 0});
	assert_roundtrip(c, true);
	iocb_config_free(c);

	/* The size parser the command line shares with the file. */
	{
		uint64_t v = 0;

		assert_true(iocb_config_parse_size("1MiB", &v));
		assert_int_equal(v, 1048576);
		assert_true(iocb_config_parse_size("4096", &v));
		assert_int_equal(v, 4096);
		assert_false(iocb_config_parse_size("1MB", &v));
		assert_false(iocb_config_parse_size("", &v));
		assert_false(iocb_config_parse_size("-1", &v));
		assert_false(iocb_config_parse_size("99999999999TiB", &v));
		assert_false(iocb_config_parse_size(NULL, &v));
	}
}

/* ---- errors ---------------------------------------------------------------------- */

struct bad_case {
	const char *yaml; /* input */
	const char *msg;  /* exact err.msg */
};

static const struct bad_case bad_cases[] = {
	/* misspelt keys inside implemented sections */
	{"misp:\n  filter:\n    - org: [1]\n",
	 "t.yaml:3:7: misp.filter[0]: unknown key 'org' (expected one of: orgs, types, tags)"},
	{"misp:\n  zmq:\n    host: localhost\n    prot: 50000\n",
	 "t.yaml:4:5: misp.zmq: unknown key 'prot' (expected one of: host, port, heartbeat_timeout, rcvhwm, max_message, username, password)"},
	{"mips:\n  zmq: {}\n",
	 "t.yaml:1:1: unknown key 'mips' (expected one of: misp, plugins, store, intel, feeds, http, logging, enrich, inputs, outputs, pipeline, bus, sightings, exports, memcached, quality)"},
	{"backbones:\n  inmem:\n",
	 "t.yaml:1:1: unknown key 'backbones' (expected one of: misp, plugins, store, intel, feeds, http, logging, enrich, inputs, outputs, pipeline, bus, sightings, exports, memcached, quality)"},
	/* quality.warninglists (issue #15) */
	{"quality:\n  warninglists:\n    paths: [/x]\n    categories: [fp]\n",
	 "t.yaml:4:17: quality.warninglists.categories: unknown category 'fp' (false-positive, known, all)"},
	{"quality:\n  warninglists:\n    categories: [known]\n",
	 "t.yaml:3:5: quality.warninglists: 'paths' is required"},
	{"quality:\n  warninglists:\n    paths: [/x]\n    known: drop\n",
	 "t.yaml:4:12: quality.warninglists.known: 'drop' is not one of: ignore, flag, suppress"},
	{"feeds:\n  - {name: f, url: /x, warninglist_policy: hide}\n",
	 "t.yaml:2:44: feeds[0].warninglist_policy: 'hide' is not one of: ignore, flag, suppress"},
	{"plugins:\n  apps:\n    mips:\n      zmq: {}\n",
	 "t.yaml:3:5: plugins.apps: unknown key 'mips' (expected one of: misp, zeek, zmq, zmq-app, cif3, "
	 "vast, suricata)"},
	{"misp:\n  zmq: {host: h}\nbus: {}\nplugins: {apps: {zmq: {}}}\n",
	 "t.yaml:4:23: plugins.apps.zmq: the bus section is already given at line 3, column 6"},
	{"misp:\n  zmq: {host: h}\nbus: {curve: {secret_key_file: /k}}\n",
	 "t.yaml:3:14: bus.curve: 'clients_file' is required"},
	{"misp:\n  zmq: {host: h}\nsightings: {}\n",
	 "t.yaml:3:12: sightings: needs `misp.api` (host and key) to reach MISP"},
	{"misp:\n  api: {host: 'http://m', key: k}\nsightings: {from_matches: true}\n",
	 "t.yaml:3:12: sightings: needs `state_dir`, or `store.path` to keep the queue beside the store"},
	{"bus: {kafka: {config: {a: b}}}\n", "t.yaml:1:14: bus.kafka: 'topic' is required"},
	{"bus: {host: 0.0.0.0}\n", "t.yaml:1:6: bus: host 0.0.0.0 listens on every interface; set `advertise_host` to the name apps connect to"},
	{"logging:\n  levle: info\n",
	 "t.yaml:2:3: logging: unknown key 'levle' (expected one of: level, debug, format, console, console_verbosity, "
	 "file, file_verbosity, filename)"},
	/* wrong types and bounds */
	{"misp:\n  zmq: {port: abc}\n", "t.yaml:2:15: misp.zmq.port: expected an integer, got 'abc'"},
	{"misp:\n  zmq:\n    port: 70000\n", "t.yaml:3:11: misp.zmq.port: 70000 is out of range 1..65535"},
	{"misp:\n  zmq:\n    port: 0\n", "t.yaml:3:11: misp.zmq.port: 0 is out of range 1..65535"},
	{"misp:\n  zmq:\n    port: -1\n", "t.yaml:3:11: misp.zmq.port: expected an integer, got '-1'"},
	{"misp:\n  zmq:\n    port: [1]\n", "t.yaml:3:11: misp.zmq.port: expected an integer, got a list"},
	{"misp:\n  zmq:\n    host:\n", "t.yaml:3:5: misp.zmq.host: expected a string, got null"},
	{"misp:\n  filter: {}\n",
	 "t.yaml:2:11: misp.filter: expected a list of maps (each entry starts with '- '), got a map"},
	{"misp:\n  filter:\n    - orgs: 1\n",
	 "t.yaml:3:13: misp.filter[0].orgs: expected a list (write [x] for a single entry), got '1'"},
	{"misp:\n  filter:\n    - orgs: [[1]]\n",
	 "t.yaml:3:14: misp.filter[0].orgs: expected a string or number in the list, got a list"},
	{"misp:\n  filter:\n    - orgs\n", "t.yaml:3:7: misp.filter[0]: expected a map, got 'orgs'"},
	{"misp:\n  filter_org_field: org\n",
	 "t.yaml:2:21: misp.filter_org_field: 'org' is not one of: orgc_id, org_id"},
	{"misp:\n  filter_event_tags: \"true\"\n",
	 "t.yaml:2:22: misp.filter_event_tags: expected true or false, got 'true'"},
	{"misp:\n  kafka: {topics: []}\n", "t.yaml:2:19: misp.kafka.topics: needs at least 1 entry"},
	{"misp:\n  kafka: {poll_interval: 0}\n", "t.yaml:2:26: misp.kafka.poll_interval: 0 is out of range 0.01..3600"},
	{"misp:\n  kafka: {poll_interval: .inf}\n",
	 "t.yaml:2:26: misp.kafka.poll_interval: expected a number, got '.inf'"},
	{"misp:\n  kafka: {config: {a: {b: c}}}\n",
	 "t.yaml:2:23: misp.kafka.config: 'a' needs a scalar value, got a map"},
	{"misp:\n  kafka: [1]\n", "t.yaml:2:10: misp.kafka: expected a map, got a list"},
	{"store:\n  map_size: 8GB\n",
	 "t.yaml:2:13: store.map_size: expected a size in bytes (suffix KiB, MiB, GiB or TiB allowed), got '8GB'"},
	{"store:\n  map_size: 1KiB\n", "t.yaml:2:13: store.map_size: 1KiB is out of range 1048576..17592186044416 bytes"},
	{"store:\n  durable: maybe\n", "t.yaml:2:12: store.durable: expected true or false, got 'maybe'"},
	{"logging:\n  level: verbose\n", "t.yaml:2:10: logging.level: 'verbose' is not one of: error, warn, info, debug"},
	{"logging:\n  format: xml\n", "t.yaml:2:11: logging.format: 'xml' is not one of: text, json"}, /* issue #16 */
	{"intel: file.json\n", "t.yaml:1:8: intel: expected a list (write [x] for a single entry), got 'file.json'"},
	{"misp: [1]\n", "t.yaml:1:7: misp: expected a map, got a list"},
	/* enrich */
	{"enrich:\n  preset: elastic\n",
	 "t.yaml:2:11: enrich.preset: 'elastic' is not one of: ecs, suricata, zeek, auto, none"},
	{"enrich:\n  on_miss: drop\n", "t.yaml:2:12: enrich.on_miss: 'drop' is not one of: pass, mark"},
	{"enrich:\n  max_hits: 0\n", "t.yaml:2:13: enrich.max_hits: 0 is out of range 1..4096"},
	{"enrich:\n  max_hits: 2.5\n", "t.yaml:2:13: enrich.max_hits: expected an integer, got '2.5'"},
	{"enrich:\n  threads: 65\n", "t.yaml:2:12: enrich.threads: 65 is out of range 1..64"},
	{"enrich:\n  max_line: 512\n", "t.yaml:2:13: enrich.max_line: 512 is out of range 1024..1073741824 bytes"},
	{"enrich:\n  max_line: 2GiB\n",
	 "t.yaml:2:13: enrich.max_line: 2GiB is out of range 1024..1073741824 bytes"},
	{"enrich:\n  fields: [source.ip]\n", "t.yaml:2:11: enrich.fields: expected a map of properties, got a list"},
	{"enrich:\n  fields:\n    source.ip: {kind: ip}\n",
	 "t.yaml:3:16: enrich.fields: 'source.ip' needs a scalar value, got a map"},
	{"enrich:\n  match_type: \"\"\n",
	 "t.yaml:2:15: enrich.match_type: '' must be 1 to 256 characters long"},
	{"enrich:\n  hits_only: 1\n", "t.yaml:2:14: enrich.hits_only: expected true or false, got '1'"},
	{"enrich:\n  threds: 2\n",
	 "t.yaml:2:3: enrich: unknown key 'threds' (expected one of: preset, fields, on_miss, match_type, provider, "
	 "parent_domains, max_line, max_hits, threads, reject_file, hits_only)"},
	{"- a\n- b\n", "t.yaml:1:1: the top level must be a map of sections, got a list"},
	{"hello\n", "t.yaml:1:1: the top level must be a map of sections, got a scalar"},
	/* ZMQ + Kafka, sections twice */
	{"misp:\n  zmq: {}\n  kafka: {}\n",
	 "t.yaml:3:10: misp: zmq (line 2) and kafka are both configured; choose one, as Threat Bus does, or every "
	 "attribute is delivered twice"},
	{"misp:\n  zmq: {}\nplugins:\n  misp:\n    zmq: {}\n",
	 "t.yaml:5:5: plugins.misp: the misp section is already given at line 2, column 3"},
	/* api */
	{"misp:\n  api: {key: k}\n", "t.yaml:2:8: misp.api: 'host' is required"},
	{"misp:\n  api:\n", "t.yaml:2:3: misp.api: 'host' is required"},
	{"misp:\n  api: {host: misp.example, key: k}\n",
	 "t.yaml:2:15: misp.api.host: must start with https:// or http://"},
	{"misp:\n  api: {host: 'https://m'}\n", "t.yaml:2:8: misp.api: one of key, key_file or key_env is required"},
	{"misp:\n  api:\n    host: https://m\n    key: k\n    key_env: HOME\n",
	 "t.yaml:5:14: misp.api: give only one of key, key_file and key_env (another is at line 4)"},
	{"misp:\n  api: {host: 'https://m', key: k, ssl: /a.pem, ca_file: /b.pem}\n",
	 "t.yaml:2:58: misp.api.ca_file: ssl already names a CA file (line 2); give only one"},
	{"misp:\n  api: {host: 'https://m', key: k, ssl: false, ca_file: /b.pem}\n",
	 "t.yaml:2:57: misp.api.ca_file: a CA file is pointless with ssl: false (line 2)"},
	{"misp:\n  api: {host: 'https://m', key_env: IOCB_TEST_NOT_SET_ANYWHERE}\n",
	 "t.yaml:2:37: misp.api.key_env: environment variable 'IOCB_TEST_NOT_SET_ANYWHERE' is not set or empty"},
	{"misp:\n  api: {host: 'https://m', key_file: /nonexistent/iocb-key}\n",
	 "t.yaml:2:38: misp.api.key_file: cannot open '/nonexistent/iocb-key': No such file or directory"},
	{"misp:\n  api: {host: 'https://m', timeout: -1}\n", "t.yaml:2:37: misp.api.timeout: -1 is out of range 0.1..3600"},
	/* YAML-level errors */
	{"misp:\n  zmq: {}\n  zmq: {}\n", "t.yaml:3:3: duplicate key 'zmq' (first at line 2, column 3)"},
	{"plugins:\n  backbones:\n    inmem: 1\n    inmem: 2\n",
	 "t.yaml:4:5: duplicate key 'inmem' (first at line 3, column 5)"},
	{"misp: {zmq: [1,\nstore: x\n", "t.yaml:2:1: YAML syntax error: wrongly indented flow sequence"},
	{"misp: \"\\q\"\n", "t.yaml:1:8: YAML syntax error: invalid escape 'q' in double-quoted string"},
	{"misp:\n  zmq: {}\n---\nstore: {}\n",
	 "t.yaml:3:1: more than one YAML document ('---'); a configuration is one document"},
	{"a: &x {}\nmisp: *x\n", "t.yaml:2:7: YAML aliases (*name) are not supported in the configuration"},
	{"? [a]\n: b\n", "t.yaml:1:3: mapping keys must be plain scalars, not maps or lists"},
	{"misp:\n  zmq: \x01\x02\n", "t.yaml:2:8: not YAML: control character 0x01"},
	{"\xff\xfe garbage", "t.yaml:1:1: not YAML: invalid UTF-8 (byte 0xff)"},
	{"store:\n  path: caf\xc3\n", "t.yaml:2:12: not YAML: invalid UTF-8 (byte 0xc3)"},
	/* inputs, outputs, pipeline (issue #5) */
	{"inputs:\n  - {name: a, type: file}\noutputs:\n  - {name: o, type: stdout}\n", 
	 "t.yaml:2:5: inputs[]: type file needs `path`"},
	{"inputs:\n  - {name: a, type: stdin, path: /x}\noutputs:\n  - {name: o, type: stdout}\n", 
	 "t.yaml:2:34: inputs[]: `path` does not apply to type stdin"},
	{"inputs:\n  - {name: a, type: pipe}\noutputs:\n  - {name: o, type: stdout}\n", 
	 "t.yaml:2:21: inputs[0].type: 'pipe' is not one of: file, stdin, tcp, kafka"},
	{"inputs:\n  - {name: a, type: stdin}\n  - {name: a, type: stdin}\noutputs:\n  - {name: o, type: stdout}\n", 
	 "t.yaml:2:3: inputs: name 'a' is used twice"},
	{"inputs:\n  - {name: a, type: stdin}\n", 
	 "t.yaml:2:3: inputs: inputs need at least one entry in `outputs`"},
	{"inputs:\n  - {name: a, type: tcp}\noutputs:\n  - {name: o, type: stdout}\n", 
	 "t.yaml:2:5: inputs[]: type tcp needs `port` (0 picks a free one)"},
	{"inputs:\n  - {name: a, type: kafka}\noutputs:\n  - {name: o, type: stdout}\n", 
	 "t.yaml:2:5: inputs[]: type kafka needs `topics`"},
	{"inputs:\n  - {name: a, type: stdin}\noutputs:\n  - {name: o, type: elasticsearch, hosts: [es:9200], index: x}\n", 
	 "t.yaml:4:43: outputs[]: host 'es:9200' is not an http:// or https:// URL"},
	{"inputs:\n  - {name: a, type: stdin}\noutputs:\n  - {name: o, type: elasticsearch, hosts: [http://es:9200]}\n", 
	 "t.yaml:4:5: outputs[]: type elasticsearch needs `hosts` and `index`"},
	{"inputs:\n  - {name: a, type: stdin}\noutputs:\n  - {name: o, type: elasticsearch, hosts: [http://es:9200], index: x, username: u}\n", 
	 "t.yaml:4:81: outputs[]: username and password go together"},
	{"inputs:\n  - {name: a, type: stdin}\noutputs:\n  - {name: o, type: elasticsearch, hosts: [http://es:9200], index: x, bearer: t, api_key: k}\n", 
	 "t.yaml:4:5: outputs[]: use one of username/password, api_key and bearer"},
	{"inputs:\n  - {name: a, type: stdin}\noutputs:\n  - {name: o, type: elasticsearch, hosts: [http://es:9200], index: x, data_stream: true, action: index}\n", 
	 "t.yaml:4:98: outputs[]: a data stream accepts only `create`"},
	{"inputs:\n  - {name: a, type: stdin}\noutputs:\n  - {name: o, type: file, path: /x, topic: t}\n", 
	 "t.yaml:4:44: outputs[]: `topic` does not apply to type file"},
	{"inputs:\n  - {name: a, type: stdin}\noutputs:\n  - {name: o, type: stdout}\npipeline: {queue_bytes: 1KiB}\n", 
	 "t.yaml:5:25: pipeline.queue_bytes: 1KiB is out of range 65536..68719476736 bytes"},
	/* issue #16 status page: http beyond loopback needs auth (or allow_no_auth); auth needs a file; TLP levels */
	{"http: {host: 0.0.0.0}\n",
	 "t.yaml:1:7: http: host 0.0.0.0 is beyond loopback: set `http.auth` (token_file or users_file), or "
	 "`allow_no_auth: true` to serve it unauthenticated"},
	{"http:\n  auth: {realm: x}\n", "t.yaml:2:9: http.auth: set `token_file` or `users_file`"},
	{"http: {status: {max_tlp: orange}}\n",
	 "t.yaml:1:26: http.status.max_tlp: 'orange' is not one of: clear, white, green, amber, amber+strict, red"},
	/* quality.decay / quality.expire_after (issue #15) */
	{"quality:\n  expire_after:\n    rules:\n      - {max_age: 1d}\n",
	 "t.yaml:4:9: quality.expire_after.rules[]: give exactly one of source and type"},
	{"quality:\n  expire_after:\n    rules:\n      - {source: misp, type: md5, max_age: 1d}\n",
	 "t.yaml:4:9: quality.expire_after.rules[]: give exactly one of source and type"},
	{"quality:\n  decay:\n    tag_values: {'a:b=\"c\"': high}\n",
	 "t.yaml:3:17: quality.decay.tag_values: value of 'a:b=\"c\"' is not a number"},
};

static void test_errors(void **state)
{
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		if (!load_fails(bad_cases[i].yaml, strlen(bad_cases[i].yaml), bad_cases[i].msg))
			failed++;
	assert_int_equal(failed, 0);
}

static void test_limits(void **state)
{
	size_t big = ((size_t)16 << 20) + 1, depth = 200;
	char *s = iocb_xmalloc(big + 1);
	struct iocb_config *c = NULL;
	struct iocb_err err = {0};

	(void)state;
	memset(s, '#', big);
	s[big] = '\0';
	assert_int_equal(iocb_config_load_string("t.yaml", s, big, &c, &err), IOCB_ECONFIG);
	assert_null(c);
	assert_string_equal(err.msg, "t.yaml: 16777217 bytes, larger than the 16777216-byte limit");
	/* Deep flow nesting. */
	memset(s, '[', depth);
	s[depth] = '\0';
	assert_int_equal(iocb_config_load_string("t.yaml", s, depth, &c, &err), IOCB_ECONFIG);
	assert_null(c);
	/* Deep block nesting fails on depth, with its position. */
	{
		size_t o = 0;

		for (size_t i = 0; i < 70; i++)
			o += (size_t)snprintf(s + o, big - o, "%*sk%zu:\n", (int)(2 * i), "", i);
		assert_true(load_fails(s, o, "t.yaml:65:129: nesting deeper than 64 levels"));
	}
	free(s);
}

/* ---- secrets ----------------------------------------------------------------------- */

static void assert_no_secret(const char *text)
{
	if (strstr(text, SECRET))
		fail_msg("the API key leaked into: %s", text);
}

/* misp.zmq PLAIN credentials: both or neither; the password never dumped or quoted. */
static void test_zmq_plain(void **state)
{
	const char *ok = "misp:\n  zmq: {host: h, username: iocbus, password: " SECRET "}\n";
	const char *lone = "misp:\n  zmq: {host: h, password: " SECRET "}\n";
	const char *bad = "misp:\n  zmq: {host: h, username: iocbus, password: [" SECRET "]}\n";
	struct iocb_config *c = NULL;
	struct iocb_err err = {0};
	char *d;

	(void)state;
	c = load_ok(ok);
	assert_string_equal(c->zmq.username, "iocbus");
	assert_string_equal(iocb_secret_str(&c->zmq.password), SECRET);
	d = dump_str(c);
	assert_no_secret(d);
	assert_non_null(strstr(d, "password: \"***\""));
	free(d);
	iocb_config_free(c);
	c = NULL;
	assert_int_equal(iocb_config_load_string("t.yaml", lone, strlen(lone), &c, &err), IOCB_ECONFIG);
	assert_non_null(strstr(err.msg, "username and password go together"));
	assert_no_secret(err.msg);
	assert_int_equal(iocb_config_load_string("t.yaml", bad, strlen(bad), &c, &err), IOCB_ECONFIG);
	assert_no_secret(err.msg);
}

static void test_secret_literal(void **state)
{
	const char *yaml = "misp:\n  api:\n    host: https://m\n    key: " SECRET "\n  zmq: {}\n"
			   "  kafka:\n    config: {sasl.password: " SECRET "x, group.id: g}\n";
	const char *ok = "misp:\n  api:\n    host: https://m\n    key: " SECRET "\n"
			 "  kafka:\n    config: {sasl.password: " SECRET "x, group.id: g}\n";
	struct iocb_config *c = NULL;
	struct iocb_err err = {0};
	char *d;

	(void)state;
	/* An error later in the file: the message must not quote the key. */
	assert_int_equal(iocb_config_load_string("t.yaml", yaml, strlen(yaml), &c, &err), IOCB_ECONFIG);
	assert_no_secret(err.msg);
	/* Type errors on the key or a Kafka property never echo the value. */
	{
		static const char *const bad[] = {
			"misp:\n  api: {host: 'https://m', key: [" SECRET "]}\n",
			"misp:\n  api: {host: 'https://m', key: {" SECRET ": 1}}\n",
			"misp:\n  kafka: {config: {sasl.password: [" SECRET "]}}\n",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			assert_int_equal(iocb_config_load_string("t.yaml", bad[i], strlen(bad[i]), &c, &err),
					 IOCB_ECONFIG);
			assert_no_secret(err.msg);
		}
	}
	c = load_ok(ok);
	assert_string_equal(iocb_secret_str(&c->api.key), SECRET);
	d = dump_str(c);
	assert_no_secret(d);
	assert_non_null(strstr(d, "key: \"***\""));
	assert_non_null(strstr(d, "\"sasl.password\": \"***\""));
	assert_non_null(strstr(d, "\"group.id\": \"g\""));
	free(d);
	for (size_t i = 0; i < c->nwarnings; i++)
		assert_no_secret(c->warnings[i]);
	iocb_config_free(c);
}

/* One rule for URLs: the userinfo password and secret query parameters become "***". */
static void test_redact_url(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"https://misp.example", "https://misp.example"},
		{"https://u:" SECRET "@misp.example:8443/x?y=1#f", "https://u:***@misp.example:8443/x?y=1#f"},
		{"http://u:p@ss:" SECRET "@h/", "http://u:***@h/"},
		{"https://" SECRET "@h", "https://***@h"},
		{"https://h/feed?apikey=" SECRET "&page=2", "https://h/feed?apikey=***&page=2"},
		{"https://h/feed?token=" SECRET "#frag", "https://h/feed?token=***#frag"},
		{"https://h/a@b", "https://h/a@b"},
		{"/var/lib/u:p@x", "/var/lib/u:p@x"},
		{"my_scheme://u:" SECRET "@h", "my_scheme://u:***@h"}, /* a malformed scheme hides nothing */
		{"", ""},
	};
	char small[12];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = iocb_str_redact_url_dup(cases[i].in);

		assert_string_equal(r, cases[i].out);
		free(r);
	}
	/* Cut short, never past the buffer, and never a piece of the password. */
	assert_int_equal(iocb_str_redact_url("https://u:" SECRET "@h", small, sizeof(small)),
			 strlen("https://u:***@h"));
	assert_string_equal(small, "https://u:*");
	assert_true(iocb_str_secret_name("sasl.password"));
	assert_true(iocb_str_secret_name("sasl.oauthbearer.config"));
	assert_true(iocb_str_secret_name("sasl.jaas.config"));
	assert_false(iocb_str_secret_name("bootstrap.servers"));
}

/* Every kind of secret in one file: `config dump` shows none of them (issue #11 item 6). */
static void test_secret_everywhere(void **state)
{
	const char *yaml =
		"misp:\n"
		"  api: {host: 'https://apiuser:" SECRET "a@misp.example', key: " SECRET "b}\n"
		"  zmq: {host: h, username: z, password: " SECRET "c}\n"
		"feeds:\n"
		"  - {name: f, url: 'https://fu:" SECRET "d@feeds.example/x?apikey=" SECRET "e'}\n"
		"inputs:\n"
		"  - name: k\n    type: kafka\n    topics: [t]\n"
		"    kafka: {bootstrap.servers: 'b:9092', sasl.password: " SECRET "f,\n"
		"            sasl.oauthbearer.config: 'principal=p secret=" SECRET "g'}\n"
		"outputs:\n"
		"  - {name: es, type: elasticsearch, index: i, hosts: ['http://eu:" SECRET "h@127.0.0.1:9']}\n"
		"  - name: ko\n    type: kafka\n    topic: t\n"
		"    kafka: {sasl.password: " SECRET "i, sasl.oauthbearer.config: " SECRET "j}\n";
	static const char *const shown[] = {
		"https://apiuser:***@misp.example", "https://fu:***@feeds.example/x?apikey=***",
		"http://eu:***@127.0.0.1:9", "\"sasl.oauthbearer.config\": \"***\"", "\"bootstrap.servers\": \"b:9092\"",
	};
	struct iocb_config *c = load_ok(yaml);
	char *d = dump_str(c);

	(void)state;
	assert_no_secret(d);
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		if (!strstr(d, shown[i]))
			fail_msg("'%s' not in the dump:\n%s", shown[i], d);
	free(d);
	iocb_config_free(c);
}

static void test_secret_key_file(void **state)
{
	char path[] = "/tmp/iocb-test-key-XXXXXX";
	char yaml[256];
	int fd = mkstemp(path);
	struct iocb_config *c;
	char *d;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, SECRET "\r\n\n", strlen(SECRET) + 3), (ssize_t)strlen(SECRET) + 3);
	close(fd);
	assert_int_equal(chmod(path, 0600), 0);
	snprintf(yaml, sizeof(yaml), "misp:\n  api:\n    host: https://m\n    key_file: %s\n  zmq: {}\n", path);
	c = load_ok(yaml);
	assert_string_equal(iocb_secret_str(&c->api.key), SECRET);
	assert_int_equal(c->nwarnings, 0);
	d = dump_str(c);
	assert_no_secret(d);
	assert_non_null(strstr(d, path));
	free(d);
	assert_roundtrip(c, true);
	iocb_config_free(c);

	/* World-readable: loads, with a warning that names the file, not the key. */
	assert_int_equal(chmod(path, 0644), 0);
	c = load_ok(yaml);
	assert_int_equal(c->nwarnings, 1);
	assert_true(has_warning(c, "t.yaml:4:15: misp.api.key_file: '"));
	assert_true(has_warning(c, "is readable by every user"));
	assert_no_secret(c->warnings[0]);
	iocb_config_free(c);

	/* Empty, and more than one line. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "\n\n", 2), 2);
	close(fd);
	{
		struct iocb_config *none = NULL;
		struct iocb_err err = {0};

		assert_int_equal(iocb_config_load_string("t.yaml", yaml, strlen(yaml), &none, &err), IOCB_ECONFIG);
		assert_non_null(strstr(err.msg, "is empty"));
		fd = open(path, O_WRONLY | O_TRUNC);
		assert_int_equal(write(fd, SECRET "\n" SECRET "\n", 2 * strlen(SECRET) + 2),
				 (ssize_t)(2 * strlen(SECRET) + 2));
		close(fd);
		assert_int_equal(iocb_config_load_string("t.yaml", yaml, strlen(yaml), &none, &err), IOCB_ECONFIG);
		assert_non_null(strstr(err.msg, "must hold the key on one line"));
		assert_no_secret(err.msg);
	}
	unlink(path);
}

static void test_secret_key_env(void **state)
{
	const char *yaml = "misp:\n  api: {host: 'https://m', key_env: IOCB_TEST_KEY_ENV}\n  zmq: {}\n";
	struct iocb_config *c;
	char *d;

	(void)state;
	setenv("IOCB_TEST_KEY_ENV", SECRET, 1);
	c = load_ok(yaml);
	assert_string_equal(iocb_secret_str(&c->api.key), SECRET);
	d = dump_str(c);
	assert_no_secret(d);
	assert_non_null(strstr(d, "key_env: \"IOCB_TEST_KEY_ENV\""));
	assert_null(strstr(d, "***"));
	free(d);
	iocb_config_free(c);
	unsetenv("IOCB_TEST_KEY_ENV");
}

/* http.misp_api (issue #14): keys from a file and the environment, joined; never in dumps or messages. */
static void test_mispapi_keys(void **state)
{
	static const char k1[] = "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1", k2[] = "Bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb2",
			  k3[] = "Ccccccccccccccccccccccccccccccccccccccc3";
	char path[] = "/tmp/iocb-test-mispapi-XXXXXX";
	char yaml[512], body[256];
	struct iocb_config *c, *none = NULL;
	struct iocb_err err = {0};
	int fd = mkstemp(path), n;
	char *d;

	(void)state;
	assert_true(fd >= 0);
	n = snprintf(body, sizeof(body), "# keys\n%s  # ops\n\n%s\n", k1, k2);
	assert_int_equal(write(fd, body, (size_t)n), n);
	close(fd);
	assert_int_equal(chmod(path, 0600), 0);
	setenv("IOCB_TEST_MISPAPI_KEYS", k3, 1);
	snprintf(yaml, sizeof(yaml), "http:\n  misp_api:\n    keys_file: %s\n    keys_env: IOCB_TEST_MISPAPI_KEYS\n", path);
	c = load_ok(yaml);
	assert_true(c->http.misp_api.present);
	snprintf(body, sizeof(body), "%s\n%s\n%s", k1, k2, k3);
	assert_string_equal(iocb_secret_str(&c->http.misp_api.keys), body);
	assert_int_equal(c->http.misp_api.max_attributes, 100000);
	d = dump_str(c);
	assert_null(strstr(d, k1));
	assert_null(strstr(d, k3));
	assert_non_null(strstr(d, path));
	free(d);
	iocb_config_free(c);

	/* A line that is no MISP key: the message names the line, not its text. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	n = snprintf(body, sizeof(body), "%s\n\n%s-not-a-key\n", k1, k2);
	assert_int_equal(write(fd, body, (size_t)n), n);
	close(fd);
	assert_int_equal(iocb_config_load_string("t.yaml", yaml, strlen(yaml), &none, &err), IOCB_ECONFIG);
	assert_non_null(strstr(err.msg, "http.misp_api.keys_file: line 3 is not a MISP API key"));
	assert_null(strstr(err.msg, k2));
	/* The section needs a key; an unset variable is an error; absent, the API is off. */
	unsetenv("IOCB_TEST_MISPAPI_KEYS");
	assert_int_equal(iocb_config_load_string("t.yaml", "http: {misp_api: {}}\n", 21, &none, &err), IOCB_ECONFIG);
	assert_non_null(strstr(err.msg, "no API key"));
	snprintf(yaml, sizeof(yaml), "http: {misp_api: {keys_env: IOCB_TEST_MISPAPI_KEYS}}\n");
	assert_int_equal(iocb_config_load_string("t.yaml", yaml, strlen(yaml), &none, &err), IOCB_ECONFIG);
	assert_non_null(strstr(err.msg, "is not set or empty"));
	c = load_ok("http: {port: 1}\n");
	assert_false(c->http.misp_api.present);
	assert_null(iocb_secret_str(&c->http.misp_api.keys));
	iocb_config_free(c);
	unlink(path);
}

/* ---- dump and docs ------------------------------------------------------------------- */

static void test_dump_roundtrip_everything(void **state)
{
	const char *yaml = "misp:\n"
			   "  api: {host: 'https://m/x', ssl: false, key: k, timeout: 0.1}\n"
			   "  filter:\n"
			   "    - {orgs: [\"1\", \"a \\\"q\\\" b\\\\\", \"tab\\tnl\\n\"], tags: ['tlp:red']}\n"
			   "    - types: [domain]\n"
			   "  filter_org_field: org_id\n"
			   "  kafka:\n"
			   "    topics: [t1]\n"
			   "    poll_interval: 0.3\n"
			   "    config: {group.id: \"g: 1 # x\", x: 'yes'}\n"
			   "store: {path: \"/s p\", map_size: 1234567, durable: false, match_non_ids: true}\n"
			   "intel: [\"caf\xc3\xa9\", b]\n"
			   "logging: {level: error, debug: [a, b], format: json}\n";
	struct iocb_config *c = load_ok(yaml);

	(void)state;
	assert_int_equal(c->log.format, IOCB_LOG_FORMAT_JSON);
	assert_string_equal(c->filters[0].orgs[1], "a \"q\" b\\");
	assert_string_equal(c->filters[0].orgs[2], "tab\tnl\n");
	assert_string_equal(c->kafka.config[1].value, "yes");
	assert_roundtrip(c, false);
	iocb_config_free(c);
}

static char *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = iocb_xmalloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static void test_docs_current(void **state)
{
	char *gen = NULL, *doc;
	size_t genlen = 0, doclen = 0;
	FILE *f = open_memstream(&gen, &genlen);

	(void)state;
	assert_non_null(f);
	assert_int_equal(iocb_config_docs(f), IOCB_OK);
	fclose(f);
	doc = read_whole(IOCB_SOURCE_DIR "/docs/CONFIGURATION.md", &doclen);
	if (!doc)
		fail_msg("docs/CONFIGURATION.md is missing; write the output of iocb_config_docs() there");
	if (doclen != genlen || memcmp(doc, gen, genlen) != 0)
		fail_msg("docs/CONFIGURATION.md is stale: regenerate it from iocb_config_docs()");
	/* Every key of the reference appears in the generated text. */
	assert_non_null(strstr(gen, "| `filter_org_field` |"));
	assert_non_null(strstr(gen, "## `misp.api`"));
	assert_non_null(strstr(gen, "## `enrich`"));
	assert_non_null(strstr(gen, "| `max_line` | size | `1MiB` | 1KiB to 1GiB |"));
	assert_non_null(strstr(gen, "| `map_size` | size | `8GiB` | 1MiB to 16TiB |"));
	free(doc);
	free(gen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_threatbus_readme_three_levels),
		cmocka_unit_test(test_threatbus_files),
		cmocka_unit_test(test_kafka),
		cmocka_unit_test(test_orgs_int_or_string),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_quality_section),
		cmocka_unit_test(test_enrich_section),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_secret_literal),
		cmocka_unit_test(test_zmq_plain),
		cmocka_unit_test(test_redact_url),
		cmocka_unit_test(test_secret_everywhere),
		cmocka_unit_test(test_secret_key_file),
		cmocka_unit_test(test_secret_key_env),
		cmocka_unit_test(test_mispapi_keys),
		cmocka_unit_test(test_dump_roundtrip_everything),
		cmocka_unit_test(test_docs_current),
	};

	/* Warnings are checked through c->warnings; keep the test output clean. */
	iocb_log_set_level(IOCB_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
