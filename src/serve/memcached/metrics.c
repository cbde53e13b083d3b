/* SPDX-License-Identifier: Apache-2.0 */
/* The memcached endpoint's /metrics families (docs/METRICS.md). */
#include "serve/memcached/memcached.h"

#include <stddef.h>

#include "core/prom.h"

#define P(n, t, h, f) {"iocbus_memcached_" n, t, h, offsetof(struct iocb_mc_server_stats, f)}
static const struct iocb_prom_row PLAIN[] = {
	P("connections", "gauge", "Client connections open now", connections),
	P("connections_total", "counter", "Client connections accepted", accepted),
	P("connections_refused_total", "counter", "Connections closed at once: max_connections reached", refused),
	P("hits_total", "counter", "Keys answered with a value", mc.hits),
	P("misses_total", "counter", "Keys with no value", mc.misses),
	P("long_key_values", "gauge", "Stored values long enough for Dalli to shorten their key, indexed", digest_values),
	P("long_key_index_bytes", "gauge", "Bytes of the index of Dalli's shortened keys", digest_bytes),
};

static const char *const CMD[IOCB_MC_CMD__N] = {"get", "noop", "version", "stat", "quit", "write", "unknown"};

int iocb_mc_metrics_render(const struct iocb_mc_server_stats *st, struct iocb_buf *out)
{
	struct iocb_prom p;

	iocb_prom_begin(&p, out);
	iocb_prom_rows(&p, PLAIN, sizeof(PLAIN) / sizeof(PLAIN[0]), st);
	iocb_prom_head(&p, "iocbus_memcached_requests_total", "counter",
		       "Requests by command (get: binary GET*, text get/gets, meta mg; write: refused writes; unknown: also bad requests)");
	for (int i = 0; i < IOCB_MC_CMD__N; i++) {
		const char *l[] = {"command", CMD[i], NULL};
		iocb_prom_u64(&p, "iocbus_memcached_requests_total", l, st->mc.requests[i]);
	}
	return iocb_prom_end(&p, "memcached");
}
