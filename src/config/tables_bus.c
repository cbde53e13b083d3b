/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The option tables of the Threat Bus side of `iocbus run`: `bus` (with
 * `bus.curve` and `bus.kafka`) and `sightings`. Beside tables.c, which
 * names them in the root table and as Threat Bus's `plugins.apps.zmq`
 * location; same row conventions (config/internal.h).
 */
#include "config/internal.h"

#include <string.h>

/* ---- bus, sightings ---------------------------------------------------------- */

static const struct iocb_config__opt bus_curve_rows[] = {
	ROW("secret_key_file", IOCB_CT_STR, NULL, 1, 4096, OFF(bus.curve_secret_key_file), NO, NO, NULL, NULL,
	    IOCB_CF_REQUIRED,
	    "File with the bus's CURVE key pair as `iocbus bus keygen` writes it (ZeroMQ's certificate "
	    "layout: `public-key = \"<Z85>\"` and `secret-key = \"<Z85>\"` lines). Read at start and by "
	    "`iocbus check-config`; a file "
	    "readable or writable by group or others is refused (`chmod 600` it)."),
	ROW("clients_file", IOCB_CT_STR, NULL, 1, 4096, OFF(bus.curve_clients_file), NO, NO, NULL, NULL,
	    IOCB_CF_REQUIRED,
	    "File of the client public keys allowed to connect, one Z85 key (40 characters) per line; `#` "
	    "at the start of a line or after the key and a space starts a comment (a key may contain `#`). "
	    "Read at start. Any other client gets no answer (counted in `iocbus_bus_curve_refused_total`)."),
};

static const struct iocb_config__section bus_curve_sec = {
	"bus.curve", bus_curve_rows, N(bus_curve_rows), 0, NO,
	"ZeroMQ CURVE on all three bus sockets: encryption, and only the listed client keys get in. "
	"Threat Bus has no authentication; apps need the server's public key and their own key pair.",
	NULL,
};

static const struct iocb_config__opt bus_kafka_rows[] = {
	ROW("topic", IOCB_CT_STR, NULL, 1, 249, OFF(bus.kafka.topic), NO, NO, NULL, NULL, IOCB_CF_REQUIRED,
	    "Kafka topic that receives every store change as a STIX 2.1 Indicator keyed by attribute uuid, "
	    "with a tombstone for a removal. Make it compacted (`cleanup.policy=compact`)."),
	ROW("config", IOCB_CT_KV, NULL, 0, 1024, OFF(bus.kafka.config), OFF(bus.kafka.nconfig), NO, NULL, NULL,
	    IOCB_CF_NULLABLE | IOCB_CF_SECRETS,
	    "librdkafka producer properties passed verbatim (e.g. `bootstrap.servers`); idempotence is always "
	    "on. Values of keys naming a password, secret, key, token, credential, `oauthbearer.config` or "
	    "`jaas` are dumped and logged as `***`."),
};

static const struct iocb_config__section bus_kafka_sec = {
	"bus.kafka", bus_kafka_rows, N(bus_kafka_rows), 0, NO,
	"Store changes to a Kafka topic: the scale-out path, where any number of consumers replay the "
	"current set from offsets.",
	NULL,
};

static const struct iocb_config__opt bus_rows[] = {
	ROW("host", IOCB_CT_STR, "127.0.0.1", 1, 255, OFF(bus.host), NO, NO, NULL, NULL, 0,
	    "Address the three sockets bind to: a numeric IPv4 or IPv6 address, or `0.0.0.0`/`::` for every "
	    "interface (then set `advertise_host`). Beyond loopback without `curve`, a warning is logged."),
	ROW("advertise_host", IOCB_CT_STR, NULL, 1, 255, OFF(bus.advertise_host), NO, NO, NULL, NULL,
	    IOCB_CF_NULLABLE,
	    "Host that subscribe replies name in `pub_endpoint`/`sub_endpoint` (2020.12 apps connect "
	    "there). Unset: `host`."),
	ROW("manage", IOCB_CT_PORT, "13370", 0, 65535, OFF(bus.manage_port), NO, NO, NULL, NULL, 0,
	    "Port of the management socket (REP: subscribe, unsubscribe, heartbeat), as Threat Bus's "
	    "`manage`. 0: any free port (logged)."),
	ROW("pub", IOCB_CT_PORT, "13371", 0, 65535, OFF(bus.pub_port), NO, NO, NULL, NULL, 0,
	    "Port of the socket apps receive indicators on, as Threat Bus's `pub`."),
	ROW("sub", IOCB_CT_PORT, "13372", 0, 65535, OFF(bus.sub_port), NO, NO, NULL, NULL, 0,
	    "Port of the socket apps send sightings to, as Threat Bus's `sub`."),
	ROW("max_subscribers", IOCB_CT_UINT, "256", 1, 65536, OFF(bus.max_subscribers), NO, NO, NULL, NULL, 0,
	    "Subscribers at once; a subscribe past it gets `{\"status\":\"error\"}`."),
	ROW("heartbeat_timeout", IOCB_CT_DURATION, "60s", 1, 86400, OFF(bus.heartbeat_timeout_s), NO, NO, NULL,
	    NULL, 0,
	    "A subscriber that sends no heartbeat for this long is dropped (counted in "
	    "`iocbus_bus_heartbeats_missed_total`); the VAST and Suricata bridges send one every 5 s."),
	ROW("subscriber_queue", IOCB_CT_UINT, "100000", 16, 100000000, OFF(bus.subscriber_queue), NO, NO, NULL,
	    NULL, 0,
	    "Frames queued for one subscriber (ZeroMQ high-water mark). A subscriber past it is marked stale, "
	    "its drops are counted, and it gets a snapshot when it reads again; nobody else waits."),
	ROW("queue_max", IOCB_CT_UINT, "65536", 16, 100000000, OFF(bus.queue_max), NO, NO, NULL, NULL, 0,
	    "Changes waiting for the bus thread; past it they are dropped and counted "
	    "(`iocbus_bus_publish_drops_total`), never waited for."),
	ROW("max_frame_bytes", IOCB_CT_SIZE, "4MiB", 4096, 268435456.0, OFF(bus.max_frame_bytes), NO, NO, NULL,
	    NULL, 0, "Largest frame sent or received; larger ones are counted and dropped."),
	ROW("curve", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(bus.curve_present), NULL, &bus_curve_sec, 0,
	    "See `bus.curve`."),
	ROW("kafka", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(bus.kafka.present), NULL, &bus_kafka_sec, 0,
	    "See `bus.kafka`."),
};

/* A wildcard cannot be echoed in a subscribe reply: 2020.12 apps connect to what it names. */
static int bus_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
		     const struct iocb_config__node *const *vals)
{
	struct iocb_config *c = base;
	const char *h = c->bus.host;

	(void)vals;
	if (map && h && !c->bus.advertise_host && (!strcmp(h, "0.0.0.0") || !strcmp(h, "::") || !strcmp(h, "*")))
		return iocb_config__fail(ctx, map, "bus",
					 "host %s listens on every interface; set `advertise_host` to the name apps "
					 "connect to", h);
	return IOCB_OK;
}

const struct iocb_config__section iocb_config__bus = {
	"bus", bus_rows, N(bus_rows), 0, NO,
	"The Threat Bus compatible zmq-app endpoint (docs/BUS.md): Zeek, Suricata, VAST/Tenzir and any "
	"zmq-app subscribe to MISP's indicators and send sightings back. Present: `iocbus run` starts it. "
	"It may also be written as Threat Bus's `plugins: apps: zmq:`, with the same keys.",
	bus_check,
};

static const struct iocb_config__opt sightings_rows[] = {
	ROW("state_dir", IOCB_CT_STR, NULL, 1, 4096, OFF(sightings.state_dir), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "Directory of the durable sighting queue (LMDB); created if missing. Unset: `sightings` beside "
	    "the store (`store.path`), which must then be set."),
	ROW("batch_max", IOCB_CT_UINT, "500", 1, 100000, OFF(sightings.batch_max), NO, NO, NULL, NULL, 0,
	    "Sightings per `/sightings/add` request (one source, type and timestamp per request). 1 sends "
	    "one request per sighting, as Threat Bus does."),
	ROW("max_per_second", IOCB_CT_DOUBLE, "1000", 0, 10000000, OFF(sightings.max_per_second), NO, NO, NULL,
	    NULL, 0, "Sightings sent to MISP per second at most; 0 = no limit. The rest wait on disk."),
	ROW("dedup_window", IOCB_CT_DURATION, "0s", 0, 86400 * 30, OFF(sightings.dedup_window_s), NO, NO, NULL,
	    NULL, 0,
	    "The same attribute, source and type is sent once per window; later ones are counted as "
	    "deduplicated. 0 = off."),
	ROW("from_matches", IOCB_CT_BOOL, "false", 0, 0, OFF(sightings.from_matches), NO, NO, NULL, NULL, 0,
	    "Every match of the log pipeline becomes a sighting of the matched attribute, with source "
	    "`iocbus/<input name>`, so MISP learns where its indicators are seen."),
	ROW("from_matches_window", IOCB_CT_DURATION, "5m", 1, 86400 * 30, OFF(sightings.from_matches_window_s), NO,
	    NO, NULL, NULL, 0, "With `from_matches`: one sighting per attribute and input per window."),
};

static int sightings_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
			   const struct iocb_config__node *const *vals)
{
	struct iocb_config *c = base;

	(void)vals;
	if (!map)
		return IOCB_OK;
	if (!c->api.present)
		return iocb_config__fail(ctx, map, "sightings", "needs `misp.api` (host and key) to reach MISP");
	if (!c->sightings.state_dir && !c->store.path)
		return iocb_config__fail(ctx, map, "sightings",
					 "needs `state_dir`, or `store.path` to keep the queue beside the store");
	return IOCB_OK;
}

const struct iocb_config__section iocb_config__sightings = {
	"sightings", sightings_rows, N(sightings_rows), 0, NO,
	"Sightings back to MISP (`POST /sightings/add`, with `misp.api`'s host and key): those the bus's "
	"apps send, and with `from_matches` the log pipeline's matches. Batched, retried, rate-limited, "
	"kept on disk until MISP answers.",
	sightings_check,
};
