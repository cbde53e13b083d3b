/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Settings that are legal but weaken security: TLS certificates not verified
 * and listeners without authentication on a non-loopback address.
 *
 * They stay allowed (a lab MISP with a self-signed certificate, a listener
 * behind a firewall), so they are not load errors; `iocbus run` logs each
 * once at start (iocb_config_warn_exposure()), and not again on SIGHUP, so
 * the warnings do not drown in the log of a long run. Listeners are the
 * HTTP endpoint unless `http.auth` is set (beyond loopback the load refuses
 * it without `http.auth` unless `http.allow_no_auth` says so: then this
 * warning), `tcp` inputs, which have no authentication, and the bus
 * (`bus:`) unless `bus.curve` is set.
 */
#include "config/config.h"
#include "config/internal.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"

/* True for a host only this machine can reach: 127.0.0.0/8, ::1, ::ffff:127.x, "localhost". */
bool iocb_config__is_loopback(const char *host)
{
	unsigned char a[16];

	if (!host)
		return true;
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) == 1) {
		static const unsigned char one[16] = {[15] = 1};
		static const unsigned char v4map[12] = {[10] = 0xff, [11] = 0xff};

		return memcmp(a, one, 16) == 0 || (memcmp(a, v4map, 12) == 0 && a[12] == 127);
	}
	return false;
}

static bool is_https(const char *url)
{
	return url && strncasecmp(url, "https://", 8) == 0;
}

/* librdkafka's `enable.ssl.certificate.verification` set to false in a property list. */
static bool kafka_unverified(const struct iocb_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].key, "enable.ssl.certificate.verification") == 0 &&
		    (strcasecmp(kv[i].value, "false") == 0 || strcmp(kv[i].value, "0") == 0))
			return true;
	return false;
}

/* `section` is "misp.api", "outputs", "inputs"; `name` the item's name or NULL. */
static void tls_off(const char *section, const char *name, const char *setting)
{
	iocb_log(IOCB_LOG_WARN, "config",
		 "\"TLS certificate verification is off: the peer is not authenticated\" where=\"%s%s%s%s\" "
		 "setting=\"%s\"",
		 section, name ? "[" : "", name ? name : "", name ? "]" : "", setting);
}

static void open_listener(const char *section, const char *name, const char *host)
{
	iocb_log(IOCB_LOG_WARN, "config",
		 "\"listener without authentication on a non-loopback address\" where=\"%s%s%s%s\" host=\"%s\"",
		 section, name ? "[" : "", name ? name : "", name ? "]" : "", host);
}

size_t iocb_config_warn_exposure(const struct iocb_config *c)
{
	size_t n = 0;

	if (c->api.present && !c->api.ssl_verify && is_https(c->api.host)) {
		tls_off("misp.api", NULL, "ssl: false");
		n++;
	}
	if (c->kafka.present && kafka_unverified(c->kafka.config, c->kafka.nconfig)) {
		tls_off("misp.kafka.config", NULL, "enable.ssl.certificate.verification: false");
		n++;
	}
	for (size_t i = 0; i < c->noutputs; i++) {
		const struct iocb_config_output *o = &c->outputs[i];
		bool https = false;

		for (size_t h = 0; h < o->nhosts; h++)
			https |= is_https(o->hosts[h]);
		if (o->type == IOCB_CONFIG_OUT_ELASTICSEARCH && !o->tls_verify && https) {
			tls_off("outputs", o->name, "tls_verify: false");
			n++;
		}
		if (o->type == IOCB_CONFIG_OUT_KAFKA && kafka_unverified(o->kafka, o->nkafka)) {
			tls_off("outputs", o->name, "enable.ssl.certificate.verification: false");
			n++;
		}
	}
	for (size_t i = 0; i < c->ninputs; i++) {
		const struct iocb_config_input *in = &c->inputs[i];

		if (in->type == IOCB_CONFIG_IN_TCP && !iocb_config__is_loopback(in->host)) {
			open_listener("inputs", in->name, in->host);
			n++;
		}
		if (in->type == IOCB_CONFIG_IN_KAFKA && kafka_unverified(in->kafka, in->nkafka)) {
			tls_off("inputs", in->name, "enable.ssl.certificate.verification: false");
			n++;
		}
	}
	/* Beyond loopback http needs http.auth or http.allow_no_auth (the load refuses it otherwise). */
	if (c->http.enabled && !c->http.auth_present && !iocb_config__is_loopback(c->http.host)) {
		open_listener("http", NULL, c->http.host);
		n++;
	}
	/* The bus without bus.curve: anyone who reaches it reads the indicators and sends sightings to MISP. */
	if (c->bus.present && !c->bus.curve_present && !iocb_config__is_loopback(c->bus.host)) {
		open_listener("bus", NULL, c->bus.host);
		n++;
	}
	/* memcached has no authentication: anyone who reaches it reads the indicators. */
	if (c->memcached.present && !iocb_config__is_loopback(c->memcached.host)) {
		open_listener("memcached", NULL, c->memcached.host);
		n++;
	}
	return n;
}
