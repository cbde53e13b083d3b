/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The option tables: every key iocbus reads, with its type, default, bounds,
 * field and help text, one table per YAML map. The loader (config.c), the
 * dump and the Markdown reference (dump.c) are all driven from here, so a
 * key added to a table is parsed, validated, dumped and documented at once.
 *
 * The MISP table is reachable from three places (top-level `misp:`,
 * `plugins: misp:` and Threat Bus's `plugins: apps: misp:`); the two Threat
 * Bus locations are IOCB_CF_ALT rows and every location is IOCB_CF_ONCE, so a
 * file that names the section twice fails instead of merging silently.
 * Threat Bus keys that iocbus has no use for (its own logging switches,
 * other apps, backbones) are IOCB_CT_IGNORED rows: they load with a warning,
 * while a misspelt key anywhere is an error because it matches no row.
 *
 * Cross-field rules live in the section check functions below: exactly one
 * source for the API key, and never ZMQ together with Kafka.
 */
#include "config/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"
#include "core/str.h"


static const char *const org_fields[] = {"orgc_id", "org_id", NULL}; /* enum iocb_filter_org_field order */
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL}; /* enum iocb_log_level */
static const char *const log_formats[] = {"text", "json", NULL}; /* enum iocb_log_format */

/* IOCB_CT_ENUM stores an int; each word list follows its enum. */
_Static_assert(sizeof(enum iocb_filter_org_field) == sizeof(int), "IOCB_CT_ENUM stores an int");
_Static_assert(IOCB_FILTER_ORGC == 0 && IOCB_FILTER_ORG == 1, "org_fields[] follows the enum");
_Static_assert(sizeof(enum iocb_log_level) == sizeof(int), "IOCB_CT_ENUM stores an int");
_Static_assert(IOCB_LOG_ERROR == 0 && IOCB_LOG_WARN == 1 && IOCB_LOG_INFO == 2 && IOCB_LOG_DEBUG == 3,
	       "log_levels[] follows the enum");
_Static_assert(sizeof(enum iocb_log_format) == sizeof(int), "IOCB_CT_ENUM stores an int");
_Static_assert(IOCB_LOG_FORMAT_TEXT == 0 && IOCB_LOG_FORMAT_JSON == 1, "log_formats[] follows the enum");

/* ---- misp.filter[] ----------------------------------------------------- */

#define FOFF(f) offsetof(struct iocb_filter_spec, f)

static const struct iocb_config__opt filter_rows[] = {
	ROW("orgs", IOCB_CT_STRLIST, NULL, 0, 100000, FOFF(orgs), FOFF(norgs), FOFF(has_orgs), NULL, NULL,
	    IOCB_CF_NULLABLE,
	    "Organisations whose attributes pass. Numbers are org ids (`1` and `\"1\"` are the same entry); "
	    "other text matches the org name or uuid. Absent or empty: every org passes."),
	ROW("types", IOCB_CT_STRLIST, NULL, 0, 100000, FOFF(types), FOFF(ntypes), FOFF(has_types), NULL, NULL,
	    IOCB_CF_NULLABLE,
	    "MISP attribute types that pass, e.g. `ip-dst`, `domain`. Unknown type names are an error. "
	    "Absent or empty: every type passes."),
	ROW("tags", IOCB_CT_STRLIST, NULL, 0, 100000, FOFF(tags), FOFF(ntags), FOFF(has_tags), NULL, NULL,
	    IOCB_CF_NULLABLE,
	    "Tags (exact, case-sensitive) of which the attribute, or its event when "
	    "`filter_event_tags` is on, must carry one. Absent or empty: every tag passes."),
};

static const struct iocb_config__section filter_sec = {
	"misp.filter[]", filter_rows, N(filter_rows), sizeof(struct iocb_filter_spec), FOFF(where),
	"One entry of the `filter` list. Entries inside one whitelist are OR'ed, the whitelists of one "
	"filter are AND'ed, and an attribute passes when any filter passes it (Threat Bus semantics).",
	NULL,
};

/* ---- misp.api ----------------------------------------------------------- */

enum { API_HOST, API_SSL, API_CA, API_KEY, API_KEY_FILE, API_KEY_ENV, API_TIMEOUT };

static const struct iocb_config__opt api_rows[] = {
	[API_HOST] = ROW("host", IOCB_CT_STR, NULL, 1, 2048, OFF(api.host), NO, NO, NULL, NULL, IOCB_CF_REQUIRED,
			 "Base URL of the MISP instance, `http://` or `https://`."),
	[API_SSL] = ROW("ssl", IOCB_CT_SSL, "true", 0, 0, OFF(api.ssl_verify), OFF(api.ca_file), NO, NULL, NULL, 0,
			"Verify the server certificate (`true`/`false`), or a path to the CA file to verify "
			"it with, as Threat Bus passes it to `requests`."),
	[API_CA] = ROW("ca_file", IOCB_CT_STR, NULL, 1, 4096, OFF(api.ca_file), NO, NO, NULL, NULL,
		       IOCB_CF_NULLABLE, "iocbus extension. CA file to verify the server with; not together with a path in `ssl`."),
	[API_KEY] = ROW("key", IOCB_CT_SECRET, NULL, 1, 4096, OFF(api.key), OFF(api.key_file), OFF(api.key_env),
			NULL, NULL, 0,
			"The MISP API key itself. Never logged or dumped (shown as `***`). Exactly one of `key`, "
			"`key_file` and `key_env` is required."),
	[API_KEY_FILE] = ROW("key_file", IOCB_CT_STR, NULL, 1, 4096, OFF(api.key_file), NO, NO, NULL, NULL,
			     IOCB_CF_NULLABLE,
			     "iocbus extension. File holding the API key, read at load time; trailing whitespace and newlines are "
			     "trimmed. A file readable by other users draws a warning."),
	[API_KEY_ENV] = ROW("key_env", IOCB_CT_STR, NULL, 1, 256, OFF(api.key_env), NO, NO, NULL, NULL,
			    IOCB_CF_NULLABLE, "iocbus extension. Name of the environment variable holding the API key."),
	[API_TIMEOUT] = ROW("timeout", IOCB_CT_DOUBLE, "30", 0.1, 3600, OFF(api.timeout_s), NO, NO, NULL, NULL, 0,
			    "iocbus extension. Timeout of one REST request, in seconds."),
};

static const struct iocb_config__section api_sec = {
	"misp.api", api_rows, N(api_rows), 0, NO,
	"The MISP REST API (snapshots, sightings, polling). Optional, as in Threat Bus; when present, "
	"`host` and one key source are required.",
	iocb_config__api_check,
};

/* ---- misp.zmq, misp.kafka ------------------------------------------------ */

enum { ZMQ_USER = 5, ZMQ_PASSWORD = 6 }; /* row indexes used by zmq_check */

static const struct iocb_config__opt zmq_rows[] = {
	ROW("host", IOCB_CT_STR, "localhost", 1, 1024, OFF(zmq.host), NO, NO, NULL, NULL, 0,
	    "Host of MISP's ZeroMQ publisher (the misp-modules `zmq` plugin)."),
	ROW("port", IOCB_CT_PORT, "50000", 1, 65535, OFF(zmq.port), NO, NO, NULL, NULL, 0,
	    "Port of MISP's ZeroMQ publisher."),
	ROW("heartbeat_timeout", IOCB_CT_DURATION, "30s", 0, 86400, OFF(zmq.heartbeat_timeout_s), NO, NO, NULL,
	    NULL, 0,
	    "MISP sends `misp_json_self` after 10 s without traffic; this long without any message counts as a "
	    "gap and starts a REST catch-up from the cursor (needs `api`). 0 turns the check off."),
	ROW("rcvhwm", IOCB_CT_UINT, "100000", 1, 100000000, OFF(zmq.rcvhwm), NO, NO, NULL, NULL, 0,
	    "Messages libzmq may queue for iocbus (ZMQ_RCVHWM) while it is busy."),
	ROW("max_message", IOCB_CT_SIZE, "16MiB", 1024, 1073741824.0, OFF(zmq.max_message), NO, NO, NULL, NULL,
	    0, "Larger frames are counted (`too_large`) and skipped."),
	[ZMQ_USER] = ROW("username", IOCB_CT_STR, NULL, 1, 255, OFF(zmq.username), NO, NO, NULL, NULL,
			 IOCB_CF_NULLABLE,
			 "ZeroMQ PLAIN user name, when MISP sets `Plugin.ZeroMQ_username` (PLAIN is cleartext: "
			 "keep the link on a trusted network). Needs `password`."),
	[ZMQ_PASSWORD] = ROW("password", IOCB_CT_SECRET, NULL, 1, 255, OFF(zmq.password), NO, NO, NULL, NULL, 0,
			     "Password of `username` (`Plugin.ZeroMQ_password`). Never logged or dumped (shown as "
			     "`***`)."),
};

static int zmq_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
		     const struct iocb_config__node *const *vals)
{
	const struct iocb_config *c = base;

	/* Judged on the values: `username: null` (what `config dump` writes) is no user. */
	if (!c->zmq.username != !iocb_secret_str(&c->zmq.password))
		return iocb_config__fail(ctx, vals[ZMQ_USER] ? vals[ZMQ_USER] : vals[ZMQ_PASSWORD] ? vals[ZMQ_PASSWORD] : map,
					 "misp.zmq",
					 "username and password go together (MISP's ZeroMQ PLAIN authentication)");
	return IOCB_OK;
}

static const struct iocb_config__section zmq_sec = {
	"misp.zmq", zmq_rows, N(zmq_rows), 0, NO,
	"Receive attributes from MISP's ZeroMQ feed. Not together with `kafka`.", zmq_check,
};

static const struct iocb_config__opt kafka_rows[] = {
	ROW("topics", IOCB_CT_STRLIST, "[misp_attribute]", 1, 1024, OFF(kafka.topics), OFF(kafka.ntopics), NO,
	    NULL, NULL, 0, "Kafka topics MISP publishes attributes to."),
	ROW("poll_interval", IOCB_CT_DOUBLE, "1.0", 0.01, 3600, OFF(kafka.poll_interval), NO, NO, NULL, NULL, 0,
	    "Longest wait of one consumer poll, in seconds."),
	ROW("config", IOCB_CT_KV, NULL, 0, 1024, OFF(kafka.config), OFF(kafka.nconfig), NO, NULL, NULL,
	    IOCB_CF_NULLABLE | IOCB_CF_SECRETS,
	    "librdkafka properties passed verbatim (e.g. `bootstrap.servers`, `group.id`); values are "
	    "scalars kept as text. Values of keys naming a password, secret, key, token, credential, `oauthbearer.config` or "
	    "`jaas` are dumped and logged as `***`."),
	ROW("max_message", IOCB_CT_SIZE, "16MiB", 1024, 1073741824.0, OFF(kafka.max_message), NO, NO, NULL,
	    NULL, 0, "Larger messages are counted (`too_large`) and skipped; their offsets are still committed."),
};

static const struct iocb_config__opt pull_rows[] = {
	ROW("interval", IOCB_CT_DURATION, "60s", 0, 86400 * 7, OFF(pull.interval_s), NO, NO, NULL, NULL, 0,
	    "Period of the incremental pull (`timestamp` from the persisted cursor). 0: pull only at start, "
	    "after ZeroMQ gaps and for reconciles."),
	ROW("backfill", IOCB_CT_DURATION, "0s", 0, 86400.0 * 36500, OFF(pull.backfill_s), NO, NO, NULL, NULL, 0,
	    "Window of the first pull (no cursor stored) and of every reconcile: attributes changed this "
	    "recently; at a reconcile, MISP attributes older than the window leave the store. 0: all."),
	ROW("reconcile", IOCB_CT_DURATION, "1h", 0, 86400 * 30, OFF(pull.reconcile_s), NO, NO, NULL, NULL, 0,
	    "Period of the full reconcile: every attribute is fetched again and those MISP no longer returns "
	    "(hard deletes while disconnected, sync with old timestamps) are removed. 0: never."),
	ROW("page_size", IOCB_CT_UINT, "5000", 1, 1000000, OFF(pull.page_size), NO, NO, NULL, NULL, 0,
	    "restSearch `limit` per request; pages are ordered by `Attribute.id`."),
	ROW("retry_max", IOCB_CT_DURATION, "60s", 1, 3600, OFF(pull.retry_max_s), NO, NO, NULL, NULL, 0,
	    "Longest wait between attempts while MISP is unreachable (exponential backoff with jitter from 1 s)."),
	ROW("params", IOCB_CT_KV, NULL, 0, 64, OFF(pull.params), OFF(pull.nparams), NO, NULL, NULL,
	    IOCB_CF_NULLABLE,
	    "Extra restSearch parameters sent verbatim as strings (e.g. `published: \"1\"`, `tags: \"tlp:white\"`). "
	    "They narrow what is fetched; the `filter` list still applies."),
};

static const struct iocb_config__section pull_sec = {
	"misp.pull", pull_rows, N(pull_rows), 0, NO,
	"Pull attributes from MISP's REST API (`/attributes/restSearch`, paged). Needs `api`. Works with or "
	"without `zmq`/`kafka`; with them it backs the live feed up (catch-up after gaps, reconcile).",
	NULL,
};

static const struct iocb_config__section kafka_sec = {
	"misp.kafka", kafka_rows, N(kafka_rows), 0, NO,
	"Receive attributes from MISP's Kafka feed. Not together with `zmq`.", NULL,
};

/* ---- misp ----------------------------------------------------------------- */

enum { MISP_API, MISP_FILTER, MISP_ORG_FIELD, MISP_EVENT_TAGS, MISP_ZMQ, MISP_KAFKA, MISP_PULL, MISP_WL_POLICY };

static int misp_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
		      const struct iocb_config__node *const *vals)
{
	struct iocb_config *c = base;

	if (vals[MISP_ZMQ] && vals[MISP_KAFKA])
		return iocb_config__fail(ctx, vals[MISP_KAFKA], "misp",
					 "zmq (line %d) and kafka are both configured; choose one, as Threat Bus "
					 "does, or every attribute is delivered twice",
					 vals[MISP_ZMQ]->line);
	if (vals[MISP_PULL] && !c->api.present)
		return iocb_config__fail(ctx, vals[MISP_PULL], "misp.pull", "needs `misp.api` (host and key)");
	if (!c->api.present && !vals[MISP_ZMQ] && !vals[MISP_KAFKA])
		iocb_config__warn(ctx, map, "misp", "no api, zmq or kafka: nothing will be received from MISP");
	return IOCB_OK;
}

static const struct iocb_config__opt misp_rows[] = {
	[MISP_API] = ROW("api", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(api.present), NULL, &api_sec, 0,
			 "See `misp.api`."),
	[MISP_FILTER] = ROW("filter", IOCB_CT_LIST, NULL, 0, 4096, OFF(filters), OFF(nfilters), NO, NULL,
			    &filter_sec, IOCB_CF_NULLABLE,
			    "List of filters (see `misp.filter[]`). Absent or empty: every attribute passes."),
	[MISP_ORG_FIELD] = ROW("filter_org_field", IOCB_CT_ENUM, "orgc_id", 0, 0, OFF(filter_opts.org_field), NO,
			       NO, org_fields, NULL, IOCB_CF_PLAIN,
			       "iocbus extension. Which org `orgs` compares: the creator org (`orgc_id`, what MISP's own org "
			       "search uses) or the owner org on this instance (`org_id`)."),
	[MISP_EVENT_TAGS] = ROW("filter_event_tags", IOCB_CT_BOOL, "true", 0, 0, OFF(filter_opts.event_tags), NO,
				NO, NULL, NULL, 0,
				"iocbus extension. Let `tags` also match the tags of the attribute's event (TLP is usually set "
				"on the event). Threat Bus matched attribute tags only."),
	[MISP_ZMQ] = ROW("zmq", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(zmq.present), NULL, &zmq_sec, 0,
			 "See `misp.zmq`."),
	[MISP_KAFKA] = ROW("kafka", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(kafka.present), NULL, &kafka_sec, 0,
			   "See `misp.kafka`."),
	[MISP_PULL] = ROW("pull", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(pull.present), NULL, &pull_sec, 0,
			  "See `misp.pull`."),
	[MISP_WL_POLICY] = ROW("warninglist_policy", IOCB_CT_ENUM, NULL, 0, 0, OFF(misp_wl_policy), NO, NO,
			       iocb_config__wl_policies, NULL, IOCB_CF_NULLABLE | IOCB_CF_PLAIN,
			       "Warninglist policy for this MISP's attributes (`ignore`, `flag`, `suppress`), for every "
			       "list whatever its category; unset: `quality.warninglists`'s per category."),
};

static const struct iocb_config__section misp_sec = {
	"misp", misp_rows, N(misp_rows), 0, NO,
	"The MISP connection, with Threat Bus's keys. It may be written at the top level, as "
	"`plugins: misp:` or as `plugins: apps: misp:` (a Threat Bus file), but only once.",
	misp_check,
};

/* ---- Threat Bus plugin sections ------------------------------------------ */

#define TB_APP(name, what)                                                                               \
	ROW(name, IOCB_CT_IGNORED, NULL, 0, 0, NO, NO, NO, NULL, NULL, 0,                                 \
	    "Threat Bus " what "; iocbus does not run it. Ignored with a warning.")

static const struct iocb_config__opt apps_rows[] = {
	ROW("misp", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &misp_sec, IOCB_CF_ALT | IOCB_CF_ONCE,
	    "The `misp` section, Threat Bus location."),
	TB_APP("zeek", "Zeek app"),
	ROW("zmq", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(bus.present), NULL, &iocb_config__bus, IOCB_CF_ALT | IOCB_CF_ONCE,
	    "The `bus` section, Threat Bus's location of its ZeroMQ app."),
	ROW("zmq-app", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(bus.present), NULL, &iocb_config__bus,
	    IOCB_CF_ALT | IOCB_CF_ONCE, "The `bus` section, under the ZeroMQ app's name before 2021.08."),
	TB_APP("cif3", "CIFv3 app"),
	TB_APP("vast", "VAST app (2020 name)"),
	TB_APP("suricata", "Suricata app"),
};

static const struct iocb_config__section apps_sec = {
	"plugins.apps", apps_rows, N(apps_rows), 0, NO,
	"Threat Bus apps. Only `misp` is read; the other known apps are ignored with a warning and an "
	"unknown name (a typo such as `mips`) is an error.",
	NULL,
};

static const struct iocb_config__opt plugins_rows[] = {
	ROW("misp", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &misp_sec, IOCB_CF_ALT | IOCB_CF_ONCE,
	    "The `misp` section, location used by the Threat Bus plugin README."),
	ROW("apps", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &apps_sec, IOCB_CF_ALT,
	    "See `plugins.apps`."),
	ROW("backbones", IOCB_CT_IGNORED, NULL, 0, 0, NO, NO, NO, NULL, NULL, 0,
	    "Threat Bus backbones (inmem, rabbitmq): iocbus delivers to its own sinks, so there is "
	    "nothing to route. Ignored with a warning."),
	TB_APP("zeek", "Zeek app (pre-2020.12 layout)"),
	TB_APP("vast", "VAST app (pre-2020.12 layout)"),
	TB_APP("cif3", "CIFv3 app (pre-2020.12 layout)"),
	TB_APP("zmq-app", "ZeroMQ app (pre-2020.12 layout)"),
};

static const struct iocb_config__section plugins_sec = {
	"plugins", plugins_rows, N(plugins_rows), 0, NO,
	"Threat Bus's plugin tree, accepted so that a Threat Bus configuration loads unchanged. It is "
	"only a location for `misp`; `iocbus config dump` writes the section at the top level.",
	NULL,
};

/* ---- store, logging ------------------------------------------------------- */

static const struct iocb_config__opt store_rows[] = {
	ROW("path", IOCB_CT_STR, NULL, 1, 4096, OFF(store.path), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "LMDB directory for the IoC store. Unset: the store lives in memory only."),
	ROW("match_non_ids", IOCB_CT_BOOL, "false", 0, 0, OFF(store.match_non_ids), NO, NO, NULL, NULL, 0,
	    "Also match attributes whose `to_ids` flag is off."),
	ROW("map_size", IOCB_CT_SIZE, "8GiB", 1048576, 17592186044416.0, OFF(store.map_size), NO, NO, NULL,
	    NULL, 0, "Largest size of the LMDB map: bytes, or a number with KiB, MiB, GiB or TiB."),
	ROW("durable", IOCB_CT_BOOL, "true", 0, 0, OFF(store.durable), NO, NO, NULL, NULL, 0,
	    "Sync every store commit to disk; off trades crash safety for speed."),
	ROW("expected_attributes", IOCB_CT_UINT, "0", 0, 1000000000, OFF(store.expected_attributes), NO, NO, NULL,
	    NULL, 0,
	    "Size the indexes for about this many attributes up front (a persisted store sizes them from its "
	    "contents anyway). Saves the rehashing of growing tables during a first large intake; 0 grows as "
	    "needed. The pre-sized indexes take about 30 bytes per attribute they were sized for."),
};

static const struct iocb_config__section store_sec = {
	"store", store_rows, N(store_rows), 0, NO, "The IoC store.", NULL,
};

#define TB_LOG(name)                                                                                     \
	ROW(name, IOCB_CT_IGNORED, NULL, 0, 0, NO, NO, NO, NULL, NULL, 0,                                 \
	    "Threat Bus logging key; iocbus logs key=value lines to stderr. Ignored with a warning.")

static const struct iocb_config__opt logging_rows[] = {
	ROW("level", IOCB_CT_ENUM, "warn", 0, 0, OFF(log.level), NO, NO, log_levels, NULL, 0,
	    "Lowest level logged."),
	ROW("debug", IOCB_CT_CSV, NULL, 1, 1024, OFF(log.debug), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "Modules logged at debug level whatever `level` says: a list, or text separated by commas."),
	ROW("format", IOCB_CT_ENUM, "text", 0, 0, OFF(log.format), NO, NO, log_formats, NULL, 0,
	    "How stderr lines look. `text`: `ts=... level=... module=... msg=\"...\" key=value`; when stderr is "
	    "the systemd journal (`JOURNAL_STREAM`) the time is left out and each line starts with its syslog "
	    "priority (`<4>level=warn ...`), so `journalctl -p warning` works. `json`: one JSON object per "
	    "line with `time`, `level`, `module`, `message` and the line's other keys as string members, for "
	    "log shippers. Secrets are redacted the same way in both."),
	TB_LOG("console"),
	TB_LOG("console_verbosity"),
	TB_LOG("file"),
	TB_LOG("file_verbosity"),
	TB_LOG("filename"),
};

static const struct iocb_config__section logging_sec = {
	"logging", logging_rows, N(logging_rows), 0, NO, "Logging.", NULL,
};

/* ---- enrich ---------------------------------------------------------------- */

/* The order of enum iocb_config_preset / iocb_config_on_miss (config.h), which enrich checks against its own. */
static const char *const enrich_presets[] = {"ecs", "suricata", "zeek", "auto", "none", NULL};
static const char *const enrich_on_miss[] = {"pass", "mark", NULL};

_Static_assert(sizeof(enum iocb_config_preset) == sizeof(int), "IOCB_CT_ENUM stores an int");
_Static_assert(IOCB_CONFIG_PRESET_ECS == 0 && IOCB_CONFIG_PRESET_SURICATA == 1 && IOCB_CONFIG_PRESET_ZEEK == 2 &&
		       IOCB_CONFIG_PRESET_AUTO == 3 && IOCB_CONFIG_PRESET_NONE == 4,
	       "enrich_presets[] follows the enum");
_Static_assert(sizeof(enum iocb_config_on_miss) == sizeof(int), "IOCB_CT_ENUM stores an int");
_Static_assert(IOCB_CONFIG_ON_MISS_PASS == 0 && IOCB_CONFIG_ON_MISS_MARK == 1, "enrich_on_miss[] follows the enum");

static const struct iocb_config__opt enrich_rows[] = {
	ROW("preset", IOCB_CT_ENUM, "auto", 0, 0, OFF(enrich.preset), NO, NO, enrich_presets, NULL, 0,
	    "Built-in field map: ECS (Elastic Agent, Filebeat), Suricata EVE, Zeek JSON, `auto` (all three; "
	    "each line is classified by its marker keys) or `none` (only `fields`). "
	    "`iocbus enrich --list-fields` prints the effective map."),
	ROW("fields", IOCB_CT_KV, NULL, 0, 512, OFF(enrich.fields), OFF(enrich.nfields), NO, NULL, NULL,
	    IOCB_CF_NULLABLE,
	    "Fields added to the preset, each `dotted.path: KIND[,port=PATH][,host=PATH]`, e.g. "
	    "`destination.ip: ip,port=destination.port` or `http.uri: uri,host=http.hostname`; KIND is one of "
	    "`ip`, `domain`, `host`, `url`, `uri`, `hash`, `email`, `tls_fp`, `x509`, `user_agent`, `asn`, "
	    "`mac`, `filename`, `port`, and `none` removes a preset field. Entries apply in order after the "
	    "preset; `--field` options apply after them. Quote a spec inside a flow map (`{...}`), where "
	    "a comma ends the value. Specs are checked when the field map is built (`iocbus check-config`, "
	    "`iocbus enrich`)."),
	ROW("on_miss", IOCB_CT_ENUM, "pass", 0, 0, OFF(enrich.on_miss), NO, NO, enrich_on_miss, NULL, 0,
	    "What happens to an event without a match: `pass` copies it byte for byte, `mark` adds "
	    "`\"misp\":{\"hit\":false}` (elastiMISPstash's marker)."),
	ROW("match_type", IOCB_CT_STR, "indicator_match_rule", 1, 256, OFF(enrich.match_type), NO, NO, NULL,
	    NULL, 0, "Value written to `threat.enrichments.matched.type`."),
	ROW("provider", IOCB_CT_STR, "misp", 1, 256, OFF(enrich.provider), NO, NO, NULL, NULL, 0,
	    "`threat.enrichments.indicator.provider` when the creator org of the matching event is unknown."),
	ROW("parent_domains", IOCB_CT_BOOL, "false", 0, 0, OFF(enrich.parent_domains), NO, NO, NULL, NULL, 0,
	    "Let a `domain` indicator also match its subdomains (`evil.example` matches `a.evil.example`)."),
	ROW("max_line", IOCB_CT_SIZE, "1MiB", 1024, 1073741824.0, OFF(enrich.max_line), NO, NO, NULL, NULL, 0,
	    "Longest line enriched, in bytes (KiB, MiB, GiB suffixes allowed). Longer lines are passed "
	    "through unchanged in pieces, never held whole, and counted as `too_long` rejects. Each input "
	    "block buffer is at least this large."),
	ROW("max_hits", IOCB_CT_UINT, "32", 1, 4096, OFF(enrich.max_hits), NO, NO, NULL, NULL, 0,
	    "Enrichments written per event at most; further matches are counted, not written."),
	ROW("threads", IOCB_CT_UINT, "1", 1, 64, OFF(enrich.threads), NO, NO, NULL, NULL, 0,
	    "Worker threads. 1 does everything on one thread; with more, the input is cut into blocks that "
	    "workers enrich in parallel and the output keeps the input order."),
	ROW("reject_file", IOCB_CT_STR, NULL, 1, 4096, OFF(enrich.reject_file), NO, NO, NULL, NULL,
	    IOCB_CF_NULLABLE,
	    "File that receives rejected lines (not JSON, truncated, too long, not an object) instead of "
	    "the output; created or truncated. Unset: rejected lines stay in the output, unchanged."),
	ROW("hits_only", IOCB_CT_BOOL, "false", 0, 0, OFF(enrich.hits_only), NO, NO, NULL, NULL, 0,
	    "Write only enriched events; misses are dropped, rejected lines too unless `reject_file` is set."),
};

static const struct iocb_config__section enrich_sec = {
	"enrich", enrich_rows, N(enrich_rows), 0, NO,
	"`iocbus enrich`: matching the fields of JSON log lines (ECS, Suricata EVE, Zeek) against the store "
	"and writing them back with `threat.enrichments` and `misp` added. Command-line options override "
	"these keys.",
	NULL,
};

/* ---- feeds[], http ------------------------------------------------------------ */

#define FOFF_FEED(f) offsetof(struct iocb_config_feed, f)

static const struct iocb_config__opt feed_rows[] = {
	ROW("name", IOCB_CT_STR, NULL, 1, 64, FOFF_FEED(name), NO, NO, NULL, NULL, IOCB_CF_REQUIRED,
	    "Label in metrics and logs; unique."),
	ROW("url", IOCB_CT_STR, NULL, 1, 4096, FOFF_FEED(url), NO, NO, NULL, NULL, IOCB_CF_REQUIRED,
	    "Feed location: `http://` or `https://` URL of the directory holding `manifest.json`, or a local "
	    "directory."),
	ROW("interval", IOCB_CT_DURATION, "1h", 1, 86400 * 7, FOFF_FEED(interval_s), NO, NO, NULL, NULL, 0,
	    "How often the manifest is checked (HTTP `If-None-Match`; only changed events are fetched)."),
	ROW("warninglist_policy", IOCB_CT_ENUM, NULL, 0, 0, FOFF_FEED(wl_policy), NO, NO, iocb_config__wl_policies,
	    NULL, IOCB_CF_NULLABLE | IOCB_CF_PLAIN,
	    "Warninglist policy for this feed's attributes (`ignore`, `flag`, `suppress`), for every list "
	    "whatever its category; unset: `quality.warninglists`'s per category."),
};

static const struct iocb_config__section feed_sec = {
	"feeds[]", feed_rows, N(feed_rows), sizeof(struct iocb_config_feed), FOFF_FEED(where),
	"One MISP-format feed followed by `iocbus run`. Its attributes pass the `misp.filter` list and "
	"disappear when the feed drops them.",
	NULL,
};

static const struct iocb_config__opt http_rows[] = {
	ROW("enabled", IOCB_CT_BOOL, "true", 0, 0, OFF(http.enabled), NO, NO, NULL, NULL, 0,
	    "Serve `/metrics`, `/healthz`, `/v1/lookup`, the status page `/` and `/v1/status` while `iocbus run` "
	    "runs."),
	ROW("host", IOCB_CT_STR, "127.0.0.1", 1, 255, OFF(http.host), NO, NO, NULL, NULL, 0,
	    "Listen address (numeric IPv4 or IPv6). Beyond loopback `auth` is required (or `allow_no_auth`)."),
	ROW("port", IOCB_CT_PORT, "8473", 0, 65535, OFF(http.port), NO, NO, NULL, NULL, 0,
	    "Listen port; 0 picks a free port and logs it."),
	ROW("max_connections", IOCB_CT_UINT, "64", 1, 4096, OFF(http.max_connections), NO, NO, NULL, NULL, 0,
	    "Concurrent connections at most; more wait in the listen backlog until one closes."),
	ROW("idle_timeout", IOCB_CT_DURATION, "10s", 1, 86400, OFF(http.idle_timeout_s), NO, NO, NULL, NULL, 0,
	    "A connection that sends and reads nothing this long is closed (rounded up to whole seconds). "
	    "Any byte restarts it: `header_timeout` is what stops slow senders."),
	ROW("header_timeout", IOCB_CT_DURATION, "5s", 0.1, 3600, OFF(http.header_timeout_s), NO, NO, NULL, NULL, 0,
	    "A client must send a whole request head within this long of connecting, or of its previous "
	    "answer on a kept-alive connection; otherwise the connection is closed, however slowly bytes "
	    "trickle in, and counted in `iocbus_http_header_timeouts_total`."),
	/* issue #16 */
	ROW("auth", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(http.auth_present), NULL, &iocb_config__http_auth, 0,
	    "See `http.auth`."),
	ROW("allow_no_auth", IOCB_CT_BOOL, "false", 0, 0, OFF(http.allow_no_auth), NO, NO, NULL, NULL, 0,
	    "Let `host` be a non-loopback address without `auth` (behind a proxy that authenticates, a lab). "
	    "Without it `iocbus run` and `check-config` refuse such a configuration; with it a warning is logged."),
	ROW("status", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &iocb_config__http_status, 0,
	    "See `http.status`."),
	/* issue #14: the MISP-compatible read API */
	ROW("misp_api", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(http.misp_api.present), NULL, &iocb_config__mispapi, 0,
	    "See `http.misp_api`."),
};

static const struct iocb_config__section http_sec = {
	"http", http_rows, N(http_rows), 0, NO, "The HTTP endpoint of `iocbus run`.", iocb_config__http_check,
};

/* ---- inputs[], outputs[], pipeline ------------------------------------------- */

/* Each in the order of its enum in config.h. */
static const char *const input_types[] = {"file", "stdin", "tcp", "kafka", NULL};
static const char *const output_types[] = {"stdout", "file", "elasticsearch", "kafka", NULL};
static const char *const start_ats[] = {"beginning", "end", NULL};
static const char *const es_actions[] = {"index", "create", NULL};
static const char *const doc_ids[] = {"none", "hash", NULL};

_Static_assert(sizeof(enum iocb_config_input_type) == sizeof(int) &&
		       sizeof(enum iocb_config_output_type) == sizeof(int) &&
		       sizeof(enum iocb_config_start_at) == sizeof(int) &&
		       sizeof(enum iocb_config_es_action) == sizeof(int) &&
		       sizeof(enum iocb_config_doc_id) == sizeof(int),
	       "IOCB_CT_ENUM stores an int");
_Static_assert(IOCB_CONFIG_IN_FILE == 0 && IOCB_CONFIG_IN_STDIN == 1 && IOCB_CONFIG_IN_TCP == 2 &&
		       IOCB_CONFIG_IN_KAFKA == 3 && IOCB_CONFIG_IN__COUNT == 4,
	       "input_types[] follows the enum");
_Static_assert(IOCB_CONFIG_OUT_STDOUT == 0 && IOCB_CONFIG_OUT_FILE == 1 && IOCB_CONFIG_OUT_ELASTICSEARCH == 2 &&
		       IOCB_CONFIG_OUT_KAFKA == 3 && IOCB_CONFIG_OUT__COUNT == 4,
	       "output_types[] follows the enum");
_Static_assert(IOCB_CONFIG_START_END == 1 && IOCB_CONFIG_ES_CREATE == 1 && IOCB_CONFIG_DOC_ID_HASH == 1,
	       "start_ats[], es_actions[] and doc_ids[] follow their enums");

const char *iocb_config_choice_name(enum iocb_config_choice which, int value)
{
	const char *const *names = which == IOCB_CONFIG_CHOICE_INPUT_TYPE ? input_types
				   : which == IOCB_CONFIG_CHOICE_OUTPUT_TYPE ? output_types
									     : NULL;

	for (int i = 0; names && value >= 0 && names[i]; i++)
		if (i == value)
			return names[i];
	return "?";
}

#define IOFF(f) offsetof(struct iocb_config_input, f)

enum { IN_NAME, IN_TYPE, IN_PRESET, IN_FIELDS, IN_MAX_LINE, IN_PATH, IN_START_AT, IN_POLL, IN_HOST, IN_PORT,
       IN_MAXCONN, IN_IDLE, IN_TOPICS, IN_KAFKA, IN__COUNT };

static const struct iocb_config__opt input_rows[] = {
	[IN_NAME] = ROW("name", IOCB_CT_STR, NULL, 1, 64, IOFF(name), NO, NO, NULL, NULL, IOCB_CF_REQUIRED,
			"Label in metrics and logs, and the name of the input's checkpoint file; unique."),
	[IN_TYPE] = ROW("type", IOCB_CT_ENUM, NULL, 0, 0, IOFF(type), NO, NO, input_types, NULL, IOCB_CF_REQUIRED,
			"`file` (follow a file like `tail -F`), `stdin`, `tcp` (newline-delimited JSON listener) or "
			"`kafka` (consumer group)."),
	[IN_PRESET] = ROW("preset", IOCB_CT_ENUM, NULL, 0, 0, IOFF(preset), NO, NO, enrich_presets, NULL,
			  IOCB_CF_NULLABLE, "Field preset of this input's events; default `enrich.preset`."),
	[IN_FIELDS] = ROW("fields", IOCB_CT_KV, NULL, 0, 512, IOFF(fields), IOFF(nfields), NO, NULL, NULL,
			  IOCB_CF_NULLABLE,
			  "Fields added for this input after `enrich.fields`, in the same `path: KIND[,...]` form."),
	[IN_MAX_LINE] = ROW("max_line", IOCB_CT_SIZE, "0", 0, 1073741824.0, IOFF(max_line), NO, NO, NULL, NULL, 0,
			    "Longest line, in bytes; longer lines are dropped in pieces and counted as `too_long`. "
			    "0 = `enrich.max_line`."),
	[IN_PATH] = ROW("path", IOCB_CT_STR, NULL, 1, 4096, IOFF(path), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
			"`file`: the file followed. Rotation by rename (the old file is read to its end first) "
			"and by truncation are followed."),
	[IN_START_AT] = ROW("start_at", IOCB_CT_ENUM, "beginning", 0, 0, IOFF(start_at), NO, NO, start_ats, NULL, 0,
			    "`file`: where a file without a checkpoint is started, `beginning` or `end`."),
	[IN_POLL] = ROW("poll_interval", IOCB_CT_DURATION, "250ms", 0.01, 60, IOFF(poll_interval_s), NO, NO, NULL,
			NULL, 0, "`file`: how often an idle file is checked for growth and rotation."),
	[IN_HOST] = ROW("host", IOCB_CT_STR, "127.0.0.1", 1, 255, IOFF(host), NO, NO, NULL, NULL, 0,
			"`tcp`: listen address (numeric). Loopback unless you change it: the listener has no auth, "
			"so `iocbus run` warns at start about a non-loopback address."),
	[IN_PORT] = ROW("port", IOCB_CT_PORT, "0", 0, 65535, IOFF(port), NO, NO, NULL, NULL, 0,
			"`tcp`: listen port (required); 0 picks a free port and logs it."),
	[IN_MAXCONN] = ROW("max_connections", IOCB_CT_UINT, "64", 1, 4096, IOFF(max_connections), NO, NO, NULL,
			   NULL, 0, "`tcp`: connections at once; more are accepted and closed at once, and counted."),
	[IN_IDLE] = ROW("idle_timeout", IOCB_CT_DURATION, "300s", 0, 86400, IOFF(idle_timeout_s), NO, NO, NULL, NULL,
			0, "`tcp`: a connection silent this long is closed; 0 never."),
	[IN_TOPICS] = ROW("topics", IOCB_CT_STRLIST, NULL, 1, 256, IOFF(topics), IOFF(ntopics), NO, NULL, NULL,
			  IOCB_CF_NULLABLE, "`kafka`: topics consumed (required)."),
	[IN_KAFKA] = ROW("kafka", IOCB_CT_KV, NULL, 0, 256, IOFF(kafka), IOFF(nkafka), NO, NULL, NULL,
			 IOCB_CF_NULLABLE | IOCB_CF_SECRETS,
			 "`kafka`: librdkafka consumer properties, verbatim (`bootstrap.servers`, `group.id` — "
			 "default `iocbus-logs`). Offsets are committed only for events every output settled. Secret "
			 "properties (`sasl.password`, `sasl.oauthbearer.config`, ... as in `misp.kafka.config`) are "
			 "dumped and logged as `***`."),
};

/* Which rows each type may use (name, type, preset, fields and max_line are common). */
static int io_check_keys(struct iocb_config__ctx *ctx, const struct iocb_config__node *const *vals,
			 const struct iocb_config__opt *rows, size_t nrows, size_t ncommon, const char *section,
			 const char *type, const unsigned char *allowed)
{
	for (size_t i = ncommon; i < nrows; i++)
		if (vals[i] && !allowed[i])
			return iocb_config__fail(ctx, vals[i], section, "`%s` does not apply to type %s", rows[i].key,
						 type);
	return IOCB_OK;
}

static int input_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
		       const struct iocb_config__node *const *vals)
{
	const struct iocb_config_input *in = base;
	unsigned char ok[IN__COUNT] = {0};

	switch (in->type) {
	case IOCB_CONFIG_IN_FILE:
		ok[IN_PATH] = ok[IN_START_AT] = ok[IN_POLL] = 1;
		if (!in->path)
			return iocb_config__fail(ctx, map, "inputs[]", "type file needs `path`");
		break;
	case IOCB_CONFIG_IN_TCP:
		ok[IN_HOST] = ok[IN_PORT] = ok[IN_MAXCONN] = ok[IN_IDLE] = 1;
		if (!vals[IN_PORT])
			return iocb_config__fail(ctx, map, "inputs[]", "type tcp needs `port` (0 picks a free one)");
		break;
	case IOCB_CONFIG_IN_KAFKA:
		ok[IN_TOPICS] = ok[IN_KAFKA] = 1;
		if (!in->ntopics)
			return iocb_config__fail(ctx, map, "inputs[]", "type kafka needs `topics`");
		break;
	case IOCB_CONFIG_IN_STDIN:
	case IOCB_CONFIG_IN__COUNT:
		break;
	}
	return io_check_keys(ctx, vals, input_rows, IN__COUNT, IN_PATH, "inputs[]", input_types[in->type], ok);
}

static const struct iocb_config__section input_sec = {
	"inputs[]", input_rows, N(input_rows), sizeof(struct iocb_config_input), IOFF(where),
	"One source of log events for `iocbus run`: each line is enriched with the live store and handed "
	"to every output. Keys other than the common ones (`name`, `type`, `preset`, `fields`, `max_line`) "
	"belong to one type.",
	input_check,
};

#define OOFF(f) offsetof(struct iocb_config_output, f)

enum { OUT_NAME, OUT_TYPE, OUT_PATH, OUT_FSYNC, OUT_HOSTS, OUT_INDEX, OUT_DATA_STREAM, OUT_ACTION, OUT_PIPELINE,
       OUT_USER, OUT_PASSWORD, OUT_API_KEY, OUT_BEARER, OUT_TLS_VERIFY, OUT_CA, OUT_COMPRESSION, OUT_FLUSH_BYTES,
       OUT_FLUSH_EVENTS, OUT_FLUSH_INTERVAL, OUT_IN_FLIGHT, OUT_TIMEOUT, OUT_RETRY_INITIAL, OUT_RETRY_MAX,
       OUT_DOC_ID, OUT_DEAD_LETTER, OUT_TOPIC, OUT_KEY, OUT_KAFKA, OUT__COUNT };

static const struct iocb_config__opt output_rows[] = {
	[OUT_NAME] = ROW("name", IOCB_CT_STR, NULL, 1, 64, OOFF(name), NO, NO, NULL, NULL, IOCB_CF_REQUIRED,
			 "Label in metrics and logs, and the name of the output's spool directory; unique."),
	[OUT_TYPE] = ROW("type", IOCB_CT_ENUM, NULL, 0, 0, OOFF(type), NO, NO, output_types, NULL, IOCB_CF_REQUIRED,
			 "`stdout`, `file`, `elasticsearch` (`_bulk`) or `kafka` (producer)."),
	[OUT_PATH] = ROW("path", IOCB_CT_STR, NULL, 1, 4096, OOFF(path), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
			 "`file`: the file appended to (created if missing)."),
	[OUT_FSYNC] = ROW("fsync", IOCB_CT_BOOL, "false", 0, 0, OOFF(fsync), NO, NO, NULL, NULL, 0,
			  "`file`: fdatasync before a batch counts as delivered (survives power loss, not only "
			  "crashes)."),
	[OUT_HOSTS] = ROW("hosts", IOCB_CT_STRLIST, NULL, 1, 64, OOFF(hosts), OOFF(nhosts), NO, NULL, NULL,
			  IOCB_CF_NULLABLE,
			  "`elasticsearch`: base URLs (`https://es1:9200`); requests go round-robin and move on "
			  "from a host that fails."),
	[OUT_INDEX] = ROW("index", IOCB_CT_STR, NULL, 1, 255, OOFF(index), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
			  "`elasticsearch`: target index, alias or data stream (required)."),
	[OUT_DATA_STREAM] = ROW("data_stream", IOCB_CT_BOOL, "false", 0, 0, OOFF(data_stream), NO, NO, NULL, NULL, 0,
				"`elasticsearch`: the target is a data stream, so documents are sent with `create`."),
	[OUT_ACTION] = ROW("action", IOCB_CT_ENUM, "index", 0, 0, OOFF(action), NO, NO, es_actions, NULL, 0,
			   "`elasticsearch`: bulk action, `index` or `create` (a 409 on `create` counts as "
			   "delivered: the document is there already)."),
	[OUT_PIPELINE] = ROW("pipeline", IOCB_CT_STR, NULL, 1, 255, OOFF(pipeline), NO, NO, NULL, NULL,
			     IOCB_CF_NULLABLE, "`elasticsearch`: ingest pipeline (`pipeline` query parameter)."),
	[OUT_USER] = ROW("username", IOCB_CT_STR, NULL, 1, 255, OOFF(username), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
			 "`elasticsearch`: Basic auth user; needs `password`."),
	[OUT_PASSWORD] = ROW("password", IOCB_CT_SECRET, NULL, 1, 1024, OOFF(password), NO, NO, NULL, NULL, 0,
			     "`elasticsearch`: Basic auth password. Never logged or dumped."),
	[OUT_API_KEY] = ROW("api_key", IOCB_CT_SECRET, NULL, 1, 4096, OOFF(api_key), NO, NO, NULL, NULL, 0,
			    "`elasticsearch`: API key, `id:api_key` or the encoded form (`Authorization: ApiKey`). "
			    "Never logged or dumped."),
	[OUT_BEARER] = ROW("bearer", IOCB_CT_SECRET, NULL, 1, 4096, OOFF(bearer), NO, NO, NULL, NULL, 0,
			   "`elasticsearch`: bearer token (`Authorization: Bearer`). Never logged or dumped."),
	[OUT_TLS_VERIFY] = ROW("tls_verify", IOCB_CT_BOOL, "true", 0, 0, OOFF(tls_verify), NO, NO, NULL, NULL, 0,
			       "`elasticsearch`: verify the server certificate; `false` is warned about at start."),
	[OUT_CA] = ROW("ca_file", IOCB_CT_STR, NULL, 1, 4096, OOFF(ca_file), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
		       "`elasticsearch`: CA file to verify the server with."),
	[OUT_COMPRESSION] = ROW("compression_level", IOCB_CT_UINT, "1", 0, 12, OOFF(compression_level), NO, NO, NULL,
				NULL, 0, "`elasticsearch`: gzip level of request bodies, 0 = off (as Logstash's "
				"`compression_level`, default 1)."),
	[OUT_FLUSH_BYTES] = ROW("flush_bytes", IOCB_CT_SIZE, "5MiB", 1024, 104857600.0, OOFF(flush_bytes), NO, NO,
				NULL, NULL, 0,
				"`elasticsearch`: a bulk request is sent once its uncompressed body reaches this."),
	[OUT_FLUSH_EVENTS] = ROW("flush_events", IOCB_CT_UINT, "10000", 1, 1000000, OOFF(flush_events), NO, NO, NULL,
				 NULL, 0, "`elasticsearch`: ... or once it holds this many events."),
	[OUT_FLUSH_INTERVAL] = ROW("flush_interval", IOCB_CT_DURATION, "1s", 0, 60, OOFF(flush_interval_s), NO, NO,
				   NULL, NULL, 0, "`elasticsearch`: ... or this long after its first event."),
	[OUT_IN_FLIGHT] = ROW("max_in_flight", IOCB_CT_UINT, "4", 1, 64, OOFF(max_in_flight), NO, NO, NULL, NULL, 0,
			      "`elasticsearch`: bulk requests at once."),
	[OUT_TIMEOUT] = ROW("timeout", IOCB_CT_DURATION, "60s", 0.1, 3600, OOFF(timeout_s), NO, NO, NULL, NULL, 0,
			    "`elasticsearch`: one request; a request that takes longer is retried."),
	[OUT_RETRY_INITIAL] = ROW("retry_initial", IOCB_CT_DURATION, "500ms", 0.001, 3600, OOFF(retry_initial_s), NO,
				  NO, NULL, NULL, 0,
				  "`elasticsearch`: first backoff after a failure (doubling, with full jitter)."),
	[OUT_RETRY_MAX] = ROW("retry_max", IOCB_CT_DURATION, "60s", 0.001, 86400, OOFF(retry_max_s), NO, NO, NULL,
			      NULL, 0,
			      "`elasticsearch`: longest backoff. Retries never stop: events are never dropped "
			      "for an outage."),
	[OUT_DOC_ID] = ROW("document_id", IOCB_CT_ENUM, "none", 0, 0, OOFF(document_id), NO, NO, doc_ids, NULL, 0,
			   "`elasticsearch`: `hash` sets `_id` to a 128-bit hash of the input line, so a replay "
			   "after a crash overwrites (`index`) or is refused as a duplicate (`create`) instead of "
			   "indexing twice."),
	[OUT_DEAD_LETTER] = ROW("dead_letter", IOCB_CT_STR, NULL, 1, 4096, OOFF(dead_letter), NO, NO, NULL, NULL,
				IOCB_CF_NULLABLE,
				"`elasticsearch`: file receiving events refused for good (item 400/404) with the "
				"reason; default `<state_dir>/<name>.dead.ndjson`, or stderr without a state_dir."),
	[OUT_TOPIC] = ROW("topic", IOCB_CT_STR, NULL, 1, 249, OOFF(topic), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
			  "`kafka`: topic produced to (required)."),
	[OUT_KEY] = ROW("key", IOCB_CT_STR, "none", 1, 255, OOFF(key), NO, NO, NULL, NULL, 0,
			"`kafka`: message key: `none`, `id` (hash of the input line) or a dotted field path of the "
			"event (`source.ip`)."),
	[OUT_KAFKA] = ROW("kafka", IOCB_CT_KV, NULL, 0, 256, OOFF(kafka), OOFF(nkafka), NO, NULL, NULL,
			  IOCB_CF_NULLABLE | IOCB_CF_SECRETS,
			  "`kafka`: librdkafka producer properties, verbatim; `enable.idempotence` and `acks=all` "
			  "are always set. Secret properties are dumped and logged as `***`, as in `misp.kafka.config`."),
};

static int output_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
			const struct iocb_config__node *const *vals)
{
	const struct iocb_config_output *o = base;
	unsigned char ok[OUT__COUNT] = {0};

	switch (o->type) {
	case IOCB_CONFIG_OUT_FILE:
		ok[OUT_PATH] = ok[OUT_FSYNC] = 1;
		if (!o->path)
			return iocb_config__fail(ctx, map, "outputs[]", "type file needs `path`");
		break;
	case IOCB_CONFIG_OUT_ELASTICSEARCH:
		for (size_t i = OUT_HOSTS; i <= OUT_DEAD_LETTER; i++)
			ok[i] = 1;
		if (!o->nhosts || !o->index)
			return iocb_config__fail(ctx, map, "outputs[]", "type elasticsearch needs `hosts` and `index`");
		for (size_t i = 0; i < o->nhosts; i++)
			if (strncmp(o->hosts[i], "http://", 7) != 0 && strncmp(o->hosts[i], "https://", 8) != 0) {
				char shown[256];

				(void)iocb_str_redact_url(o->hosts[i], shown, sizeof(shown));
				return iocb_config__fail(ctx, vals[OUT_HOSTS], "outputs[]",
							 "host '%s' is not an http:// or https:// URL", shown);
			}
		if (!o->username != !iocb_secret_str(&o->password))
			return iocb_config__fail(ctx, vals[OUT_USER] ? vals[OUT_USER] : vals[OUT_PASSWORD], "outputs[]",
						 "username and password go together");
		if ((o->username != NULL) + (iocb_secret_str(&o->api_key) != NULL) +
			    (iocb_secret_str(&o->bearer) != NULL) > 1)
			return iocb_config__fail(ctx, map, "outputs[]",
						 "use one of username/password, api_key and bearer");
		if (o->data_stream && vals[OUT_ACTION] && o->action != IOCB_CONFIG_ES_CREATE)
			return iocb_config__fail(ctx, vals[OUT_ACTION], "outputs[]",
						 "a data stream accepts only `create`");
		break;
	case IOCB_CONFIG_OUT_KAFKA:
		ok[OUT_TOPIC] = ok[OUT_KEY] = ok[OUT_KAFKA] = 1;
		if (!o->topic)
			return iocb_config__fail(ctx, map, "outputs[]", "type kafka needs `topic`");
		break;
	case IOCB_CONFIG_OUT_STDOUT:
	case IOCB_CONFIG_OUT__COUNT:
		break;
	}
	return io_check_keys(ctx, vals, output_rows, OUT__COUNT, OUT_PATH, "outputs[]", output_types[o->type], ok);
}

static const struct iocb_config__section output_sec = {
	"outputs[]", output_rows, N(output_rows), sizeof(struct iocb_config_output), OOFF(where),
	"One destination of enriched events. Every event goes to every output; an input's position moves "
	"on only when every output has delivered, dead-lettered or spooled it. Keys other than `name` and "
	"`type` belong to one type.",
	output_check,
};

static const struct iocb_config__opt pipeline_rows[] = {
	ROW("state_dir", IOCB_CT_STR, NULL, 1, 4096, OFF(pipeline.state_dir), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "Directory for input checkpoints, output spools and dead letters; created if missing. Unset: "
	    "nothing survives a restart (file inputs start over by `start_at`, nothing is spooled)."),
	ROW("batch_bytes", IOCB_CT_SIZE, "1MiB", 4096, 268435456.0, OFF(pipeline.batch_bytes), NO, NO, NULL, NULL, 0,
	    "An input hands its lines on in batches of at most this many bytes."),
	ROW("batch_interval", IOCB_CT_DURATION, "200ms", 0.001, 60, OFF(pipeline.batch_interval_s), NO, NO, NULL,
	    NULL, 0, "A partial batch waits at most this long."),
	ROW("queue_bytes", IOCB_CT_SIZE, "64MiB", 65536, 68719476736.0, OFF(pipeline.queue_bytes), NO, NO, NULL,
	    NULL, 0, "Per output: batches held in memory while it is slow or down; past this they go to its spool."),
	ROW("spool_max", IOCB_CT_SIZE, "1GiB", 0, 1099511627776.0, OFF(pipeline.spool_max), NO, NO, NULL, NULL, 0,
	    "Per output: on-disk spool under `state_dir`; when full, inputs wait (backpressure). 0 = no "
	    "spool: inputs wait as soon as the memory queue is full."),
	ROW("spool_fsync", IOCB_CT_BOOL, "false", 0, 0, OFF(pipeline.spool_fsync), NO, NO, NULL, NULL, 0,
	    "fdatasync each spooled batch before its input moves on (survives power loss, not only "
	    "crashes)."),
	ROW("shutdown_timeout", IOCB_CT_DURATION, "10s", 0, 3600, OFF(pipeline.shutdown_timeout_s), NO, NO, NULL,
	    NULL, 0, "At stop, outputs deliver for up to this long; what is left goes to the spool."),
	ROW("dead_letter_max_bytes", IOCB_CT_SIZE, "100MiB", 0, 1099511627776.0, OFF(pipeline.dead_letter_max_bytes),
	    NO, NO, NULL, NULL, 0,
	    "Per output: size cap of the dead-letter file. A letter that would take it past this rotates it "
	    "(`.1` is the newest old file); a letter larger than the cap is dropped. 0 = no cap. Dropped "
	    "letters are counted in `iocbus_output_dead_letter_dropped_total`. Not applied to stderr."),
	ROW("dead_letter_max_files", IOCB_CT_UINT, "5", 0, 1000, OFF(pipeline.dead_letter_max_files), NO, NO, NULL,
	    NULL, 0,
	    "Per output: rotated dead-letter files kept; the oldest is deleted and its letters counted as "
	    "dropped. 0 = no rotation: once the file is full, new letters are dropped (and counted). Disk "
	    "use is at most `dead_letter_max_bytes` times this plus one."),
};

static const struct iocb_config__section pipeline_sec = {
	"pipeline", pipeline_rows, N(pipeline_rows), 0, NO,
	"How events move from `inputs` to `outputs` in `iocbus run`: batches, memory queues, spools.", NULL,
};

/* ---- root ------------------------------------------------------------------ */

static const struct iocb_config__opt root_rows[] = {
	ROW("misp", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &misp_sec, IOCB_CF_ONCE, "See `misp`."),
	ROW("plugins", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &plugins_sec, IOCB_CF_ALT,
	    "See `plugins`."),
	ROW("store", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &store_sec, 0, "See `store`."),
	ROW("intel", IOCB_CT_STRLIST, NULL, 0, 4096, OFF(intel), OFF(nintel), NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "Intel files or directories loaded at start."),
	ROW("feeds", IOCB_CT_LIST, NULL, 0, 32, OFF(feeds), OFF(nfeeds), NO, NULL, &feed_sec, IOCB_CF_NULLABLE,
	    "MISP-format feeds (see `feeds[]`), at most 32."),
	ROW("http", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &http_sec, 0, "See `http`."),
	ROW("logging", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &logging_sec, 0, "See `logging`."),
	ROW("enrich", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &enrich_sec, 0, "See `enrich`."),
	ROW("inputs", IOCB_CT_LIST, NULL, 0, IOCB_CONFIG_MAX_INPUTS, OFF(inputs), OFF(ninputs), NO, NULL, &input_sec,
	    IOCB_CF_NULLABLE, "Log inputs of `iocbus run` (see `inputs[]`)."),
	ROW("outputs", IOCB_CT_LIST, NULL, 0, IOCB_CONFIG_MAX_OUTPUTS, OFF(outputs), OFF(noutputs), NO, NULL,
	    &output_sec, IOCB_CF_NULLABLE, "Outputs of the enriched events (see `outputs[]`); needed with `inputs`."),
	ROW("pipeline", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &pipeline_sec, 0, "See `pipeline`."),
	ROW("bus", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(bus.present), NULL, &iocb_config__bus, IOCB_CF_ONCE, "See `bus`."),
	ROW("sightings", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(sightings.present), NULL, &iocb_config__sightings, 0,
	    "See `sightings`."),
	ROW("exports", IOCB_CT_LIST, NULL, 0, 16, OFF(exports), OFF(nexports), NO, NULL, &iocb_config__exports,
	    IOCB_CF_NULLABLE, "Files `iocbus run` rewrites on store changes (see `exports[]`), at most 16."),
	ROW("memcached", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(memcached.present), NULL, &iocb_config__memcached, 0,
	    "See `memcached`."),
	ROW("quality", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &iocb_config__quality, 0, "See `quality`."),
};

enum { ROOT_FEEDS = 4, ROOT_INPUTS = 8, ROOT_OUTPUTS = 9 }; /* indexes of rows in root_rows */

/* Feed names label metrics and persisted feed state, so they must be unique. */
static int root_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
		      const struct iocb_config__node *const *vals)
{
	struct iocb_config *c = base;

	(void)map;
	for (size_t i = 0; i < c->nfeeds; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->feeds[i].name, c->feeds[j].name) == 0)
				return iocb_config__fail(ctx, vals[ROOT_FEEDS], "feeds",
							 "name '%s' is used twice (%s and %s)", c->feeds[i].name,
							 c->feeds[j].where ? c->feeds[j].where : "?",
							 c->feeds[i].where ? c->feeds[i].where : "?");
	for (size_t i = 0; i < c->ninputs; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->inputs[i].name, c->inputs[j].name) == 0)
				return iocb_config__fail(ctx, vals[ROOT_INPUTS], "inputs", "name '%s' is used twice",
							 c->inputs[i].name);
	for (size_t i = 0; i < c->noutputs; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(c->outputs[i].name, c->outputs[j].name) == 0)
				return iocb_config__fail(ctx, vals[ROOT_OUTPUTS], "outputs", "name '%s' is used twice",
							 c->outputs[i].name);
	if (c->ninputs && !c->noutputs)
		return iocb_config__fail(ctx, vals[ROOT_INPUTS], "inputs", "inputs need at least one entry in `outputs`");
	if (c->noutputs && !c->ninputs)
		return iocb_config__fail(ctx, vals[ROOT_OUTPUTS], "outputs", "outputs need at least one entry in `inputs`");
	return IOCB_OK;
}

const struct iocb_config__section iocb_config__root = {
	"", root_rows, N(root_rows), 0, NO, "The top level of the file.", root_check,
};

/* ---- helpers --------------------------------------------------------------- */

const char *iocb_config__type_name(const struct iocb_config__opt *o)
{
	switch (o->type) {
	case IOCB_CT_STR: return "string";
	case IOCB_CT_CSV: return "list of strings";
	case IOCB_CT_BOOL: return "bool";
	case IOCB_CT_PORT: return "integer";
	case IOCB_CT_UINT: return "integer";
	case IOCB_CT_SIZE: return "size";
	case IOCB_CT_DOUBLE: return "number";
	case IOCB_CT_DURATION: return "duration";
	case IOCB_CT_ENUM: return "enum";
	case IOCB_CT_STRLIST: return "list of strings";
	case IOCB_CT_KV: return "map of scalars";
	case IOCB_CT_SECTION: return "map";
	case IOCB_CT_LIST: return "list of maps";
	case IOCB_CT_SECRET: return "string (secret)";
	case IOCB_CT_SSL: return "bool or path";
	case IOCB_CT_IGNORED: return "ignored";
	}
	return "?";
}

/* Set the secret, wiping whatever it held. Takes ownership of v. */
void iocb_config__secret_take(struct iocb_secret *s, char *v)
{
	if (s->value_) {
		explicit_bzero(s->value_, strlen(s->value_));
		free(s->value_);
	}
	s->value_ = v;
}

/*
 * Read a key file (api.key_file, http.misp_api.keys_file) into out; `what`
 * names the option in messages, which name the file, never its contents.
 * Trailing whitespace is trimmed; with lines false the key must be on one
 * line.
 */
int iocb_config__read_secret_file(struct iocb_config__ctx *ctx, const struct iocb_config__node *at, const char *path,
				  const char *what, bool lines, struct iocb_secret *out)
{
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd = -1, rc;
	char q[160];

	iocb_config__quote(q, sizeof(q), path, strlen(path), 120);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = iocb_config__fail(ctx, at, what, "cannot open '%s': %s", q, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = iocb_config__fail(ctx, at, what, "'%s' is not a regular file", q);
		goto out;
	}
	if (st.st_mode & S_IROTH)
		iocb_config__warn(ctx, at, what, "'%s' is readable by every user; chmod o-r it", q);
	buf = iocb_xmalloc(IOCB_CONFIG_MAX_KEY_FILE + 1);
	for (;;) {
		ssize_t n = read(fd, buf + len, IOCB_CONFIG_MAX_KEY_FILE + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = iocb_config__fail(ctx, at, what, "cannot read '%s': %s", q,
					       strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > IOCB_CONFIG_MAX_KEY_FILE) {
			rc = iocb_config__fail(ctx, at, what, "'%s' is larger than %d bytes", q,
					       IOCB_CONFIG_MAX_KEY_FILE);
			goto out;
		}
	}
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
		       buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == 0) {
		rc = iocb_config__fail(ctx, at, what, "'%s' is empty", q);
		goto out;
	}
	if (memchr(buf, '\0', len) || (!lines && (memchr(buf, '\n', len) || memchr(buf, '\r', len)))) {
		rc = iocb_config__fail(ctx, at, what, "'%s' must hold the key on one line", q);
		goto out;
	}
	iocb_config__secret_take(out, iocb_xstrndup(buf, len));
	rc = IOCB_OK;
out:
	if (buf) {
		explicit_bzero(buf, IOCB_CONFIG_MAX_KEY_FILE + 1);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int iocb_config__api_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
			   const struct iocb_config__node *const *vals)
{
	struct iocb_config *c = base;
	const struct iocb_config__node *src = NULL;
	int nsrc = 0;
	bool b;

	if (strncasecmp(c->api.host, "https://", 8) != 0 && strncasecmp(c->api.host, "http://", 7) != 0)
		return iocb_config__fail(ctx, vals[API_HOST], "misp.api.host",
					 "must start with https:// or http://");
	for (int i = API_KEY; i <= API_KEY_ENV; i++) {
		if (!vals[i] || iocb_config__is_null(vals[i]))
			continue;
		if (nsrc++)
			return iocb_config__fail(ctx, vals[i], "misp.api",
						 "give only one of key, key_file and key_env (another is at line %d)",
						 src->line);
		src = vals[i];
	}
	if (!nsrc)
		return iocb_config__fail(ctx, map, "misp.api", "one of key, key_file or key_env is required");
	if (vals[API_SSL] && vals[API_CA] && !iocb_config__is_null(vals[API_CA])) {
		if (!iocb_config__parse_bool(vals[API_SSL], &b))
			return iocb_config__fail(ctx, vals[API_CA], "misp.api.ca_file",
						 "ssl already names a CA file (line %d); give only one",
						 vals[API_SSL]->line);
		if (!b)
			return iocb_config__fail(ctx, vals[API_CA], "misp.api.ca_file",
						 "a CA file is pointless with ssl: false (line %d)",
						 vals[API_SSL]->line);
	}
	if (c->api.key_file)
		return iocb_config__read_secret_file(ctx, vals[API_KEY_FILE], c->api.key_file, "misp.api.key_file", false,
						     &c->api.key);
	if (c->api.key_env) {
		const char *v = getenv(c->api.key_env);
		char q[300];

		iocb_config__quote(q, sizeof(q), c->api.key_env, strlen(c->api.key_env), 256);
		if (!v || !*v)
			return iocb_config__fail(ctx, vals[API_KEY_ENV], "misp.api.key_env",
						 "environment variable '%s' is not set or empty", q);
		iocb_config__secret_take(&c->api.key, iocb_xstrdup(v));
	}
	return IOCB_OK;
}
