/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Threat Bus side of `iocbus run` (issue #13): the sightings queue
 * (`sightings:`), the zmq-app bus (`bus:`, with CURVE keys from
 * `bus.curve`), the Kafka indicator stream (`bus.kafka`) and their
 * /metrics, /healthz and reload pieces. daemon.c
 * starts them after the store is open and before the sources, so the bus's
 * store listener sees every change, and stops them after the sources and
 * before the store closes. They are set before the HTTP endpoint starts and
 * cleared after it stops, so the HTTP thread reads them without a lock.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "daemon/internal.h"
#include "serve/bus/bus.h"
#include "serve/bus/curve.h"
#include "serve/memcached/memcached.h"
#include "serve/stream/stream.h"
#include "sightings/sightings.h"

#define MOD "daemon"

/* Bus thread: one sighting frame from an app, handed to the intake thread (intake.c). */
static void on_sighting(void *ud, enum iocb_bus_gen gen, const char *json, size_t len)
{
	struct iocb_daemon__services *sv = ud;

	iocb_daemon__intake_push(sv->intake, (int)gen, json, len);
}

static int sightings_start(struct iocb_daemon__services *sv, const struct iocb_config *c, struct iocb_err *err)
{
	struct iocb_sightings_opts so;
	char dir[4096];
	int rc;

	if (!c->sightings.present)
		return IOCB_OK;
	iocb_sightings_opts_default(&so);
	so.base_url = c->api.host;
	so.api_key = iocb_secret_str(&c->api.key);
	so.verify = c->api.ssl_verify;
	so.ca_file = c->api.ca_file;
	so.timeout_s = c->api.timeout_s;
	if (c->sightings.state_dir)
		snprintf(dir, sizeof(dir), "%s", c->sightings.state_dir);
	else if (snprintf(dir, sizeof(dir), "%s/sightings", c->store.path ? c->store.path : ".") >= (int)sizeof(dir))
		return iocb_err_set(err, IOCB_ECONFIG, "sightings: store.path too long for its state directory");
	so.state_dir = dir;
	so.batch_max = c->sightings.batch_max;
	so.max_per_second = c->sightings.max_per_second;
	so.dedup_window_s = c->sightings.dedup_window_s;
	rc = iocb_sightings_new(&so, &sv->sightings, err);
	if (rc < 0) {
		iocb_err_prefix(err, "sightings");
		return rc;
	}
	/* Only the bus hands over frames (from_matches has its own path). */
	if (c->bus.present) {
		rc = iocb_daemon__intake_start(sv->sightings, &sv->intake, err);
		if (rc < 0)
			return rc;
	}
	iocb_log(IOCB_LOG_INFO, MOD, "\"sightings to MISP\" state_dir=\"%s\" from_matches=%s", dir,
		 c->sightings.from_matches ? "true" : "false");
	return IOCB_OK;
}

static int bus_start(struct iocb_daemon__services *sv, const struct iocb_config *c, struct iocb_store *store,
		     struct iocb_err *err)
{
	struct iocb_bus_opts bo = {
		.host = c->bus.host,
		.advertise_host = c->bus.advertise_host,
		.manage_port = c->bus.manage_port,
		.pub_port = c->bus.pub_port,
		.sub_port = c->bus.sub_port,
		.max_subscribers = c->bus.max_subscribers,
		.heartbeat_timeout_s = c->bus.heartbeat_timeout_s,
		.max_frame_bytes = (size_t)c->bus.max_frame_bytes,
		.queue_max = c->bus.queue_max,
		.store = store,
		.subscriber_hwm = c->bus.subscriber_queue,
		/* Without `sightings:` the bus counts sightings (iocbus_bus_sightings_in_total) and drops them. */
		.on_sighting = sv->intake ? on_sighting : NULL,
		.ud = sv,
	};
	int rc;

	if (!c->bus.present)
		return IOCB_OK;
	if (c->bus.curve_present) {
		rc = iocb_bus_curve_load(c->bus.curve_secret_key_file, c->bus.curve_clients_file, &sv->curve, err);
		if (rc < 0)
			return rc;
		bo.curve = sv->curve;
		iocb_log(IOCB_LOG_INFO, MOD, "\"bus CURVE on\" public_key=\"%s\" clients=%zu", sv->curve->server_public,
			 sv->curve->nclients);
	}
	if (!sv->sightings)
		iocb_log(IOCB_LOG_INFO, MOD, "\"no sightings section: sightings from apps are counted and dropped\"");
	return iocb_bus_start(&bo, &sv->bus, err);
}

/* `bus.kafka`: every store change to a Kafka topic (serve/stream/stream.h). */
static int stream_start(struct iocb_daemon__services *sv, const struct iocb_config *c, struct iocb_store *store,
			struct iocb_err *err)
{
	struct iocb_stream_opts so = {
		.topic = c->bus.kafka.topic,
		.config = c->bus.kafka.config,
		.nconfig = c->bus.kafka.nconfig,
		.store = store,
	};
	int rc;

	if (!c->bus.kafka.present)
		return IOCB_OK;
	rc = iocb_stream_start(&so, &sv->stream, err);
	if (rc < 0)
		iocb_err_prefix(err, "bus.kafka");
	return rc;
}

/* `memcached:`: the memcached-protocol lookup endpoint (serve/memcached/memcached.h). */
_Static_assert(IOCB_MC_VALUE_ELASTIMISPSTASH == 0 && IOCB_MC_VALUE_JSON == 1 && IOCB_MC_VALUE_EVENT_INFO == 2,
	       "config/tables_memcached.c mc_values[] follows enum iocb_mc_value");
static int mc_start(struct iocb_daemon__services *sv, const struct iocb_config *c, struct iocb_store *store,
		    struct iocb_err *err)
{
	struct iocb_mc_opts o = {
		.host = c->memcached.host,
		.port = c->memcached.port,
		.max_connections = c->memcached.max_connections,
		.threads = c->memcached.threads,
		.ns = c->memcached.ns,
		.value = (enum iocb_mc_value)c->memcached.value,
		.store = store,
	};
	int rc;

	if (!c->memcached.present)
		return IOCB_OK;
	rc = iocb_mc_start(&o, &sv->mc, err);
	if (rc == IOCB_OK)
		iocb_log(IOCB_LOG_INFO, MOD, "\"memcached listening\" host=\"%s\" port=%u", o.host ? o.host : "127.0.0.1",
			 (unsigned)iocb_mc_port(sv->mc));
	return rc;
}

int iocb_daemon__services_start(struct iocb_daemon__services *sv, const struct iocb_config *c,
				struct iocb_store *store, struct iocb_err *err)
{
	int rc = sightings_start(sv, c, err);

	if (rc == IOCB_OK)
		rc = bus_start(sv, c, store, err);
	if (rc == IOCB_OK)
		rc = stream_start(sv, c, store, err);
	if (rc == IOCB_OK)
		rc = iocb_daemon__exports_start(&sv->exports, c, store, err);
	if (rc == IOCB_OK)
		rc = mc_start(sv, c, store, err);
	if (rc < 0)
		iocb_daemon__services_stop(sv);
	return rc;
}

void iocb_daemon__services_stop(struct iocb_daemon__services *sv)
{
	iocb_daemon__exports_stop(sv->exports);
	sv->exports = NULL;
	iocb_mc_stop(sv->mc); /* before the store closes: its thread is a reader */
	sv->mc = NULL;
	/* The stream flushes what librdkafka holds (bounded); the bus before the queue it hands sightings to. */
	iocb_stream_stop(sv->stream);
	sv->stream = NULL;
	iocb_bus_stop(sv->bus);
	sv->bus = NULL;
	iocb_bus_curve_free(sv->curve);
	sv->curve = NULL;
	iocb_daemon__intake_stop(sv->intake); /* commits what the bus handed over */
	sv->intake = NULL;
	iocb_sightings_free(sv->sightings);
	sv->sightings = NULL;
}

int iocb_daemon__services_metrics(struct iocb_daemon__services *sv, struct iocb_buf *out)
{
	int rc = IOCB_OK;

	if (sv->bus) {
		struct iocb_bus_stats bs;
		iocb_bus_stats(sv->bus, &bs);
		rc = iocb_bus_metrics_render(&bs, out);
	}
	if (rc == IOCB_OK && sv->stream) {
		struct iocb_stream_stats ks;
		iocb_stream_stats(sv->stream, &ks);
		rc = iocb_stream_metrics_render(&ks, out);
	}
	if (rc == IOCB_OK && sv->sightings) {
		struct iocb_sightings_stats ss;
		iocb_sightings_stats(sv->sightings, &ss);
		rc = iocb_sightings_metrics_render(&ss, out);
	}
	if (rc == IOCB_OK && sv->intake)
		rc = iocb_daemon__intake_metrics(sv->intake, out);
	if (rc == IOCB_OK)
		rc = iocb_daemon__exports_metrics(sv->exports, out);
	if (rc == IOCB_OK && sv->mc) {
		struct iocb_mc_server_stats ms;
		iocb_mc_server_stats(sv->mc, &ms);
		rc = iocb_mc_metrics_render(&ms, out);
	}
	return rc;
}

static bool s_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool kv_eq(const struct iocb_kv *a, size_t na, const struct iocb_kv *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].key, b[i].key) != 0 || strcmp(a[i].value, b[i].value) != 0)
			return false;
	return true;
}

bool iocb_daemon__services_changed(const struct iocb_config *o, const struct iocb_config *n)
{
	const __typeof__(o->bus) *x = &o->bus, *y = &n->bus;
	const __typeof__(o->sightings) *s = &o->sightings, *t = &n->sightings;

	const __typeof__(o->memcached) *m = &o->memcached, *w = &n->memcached;

	if (m->present != w->present || !s_eq(m->host, w->host) || m->port != w->port ||
	    m->max_connections != w->max_connections || m->threads != w->threads || !s_eq(m->ns, w->ns))
		return true;
	return x->present != y->present || !s_eq(x->host, y->host) || !s_eq(x->advertise_host, y->advertise_host) ||
	       x->manage_port != y->manage_port || x->pub_port != y->pub_port || x->sub_port != y->sub_port ||
	       x->max_subscribers != y->max_subscribers || x->heartbeat_timeout_s != y->heartbeat_timeout_s ||
	       x->subscriber_queue != y->subscriber_queue || x->queue_max != y->queue_max ||
	       x->max_frame_bytes != y->max_frame_bytes || x->curve_present != y->curve_present ||
	       !s_eq(x->curve_secret_key_file, y->curve_secret_key_file) ||
	       !s_eq(x->curve_clients_file, y->curve_clients_file) || x->kafka.present != y->kafka.present ||
	       !s_eq(x->kafka.topic, y->kafka.topic) ||
	       !kv_eq(x->kafka.config, x->kafka.nconfig, y->kafka.config, y->kafka.nconfig) ||
	       s->present != t->present || !s_eq(s->state_dir, t->state_dir) || s->batch_max != t->batch_max ||
	       s->max_per_second != t->max_per_second || s->dedup_window_s != t->dedup_window_s ||
	       s->from_matches != t->from_matches || s->from_matches_window_s != t->from_matches_window_s ||
	       /* the queue keeps the MISP client it started with */
	       (t->present && (!s_eq(o->api.host, n->api.host) || o->api.ssl_verify != n->api.ssl_verify ||
			       !s_eq(o->api.ca_file, n->api.ca_file) || o->api.timeout_s != n->api.timeout_s ||
			       !s_eq(iocb_secret_str(&o->api.key), iocb_secret_str(&n->api.key))));
}
