/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The option table of the memcached-protocol lookup endpoint (`memcached`,
 * docs/DROPINS.md). Beside tables.c, which names it in the root table;
 * same row conventions (config/internal.h).
 */
#include "config/internal.h"

/* enum iocb_mc_value order (serve/memcached/memcached.h; asserted in daemon/services.c). */
static const char *const mc_values[] = {"elastimispstash", "json", "event_info", NULL};

static const struct iocb_config__opt memcached_rows[] = {
	ROW("host", IOCB_CT_STR, "127.0.0.1", 1, 255, OFF(memcached.host), NO, NO, NULL, NULL, 0,
	    "Address the endpoint listens on: a numeric IPv4 or IPv6 address, or `0.0.0.0`/`::` for every "
	    "interface. The protocol has no authentication: keep it on loopback or a trusted network."),
	ROW("port", IOCB_CT_PORT, "11211", 0, 65535, OFF(memcached.port), NO, NO, NULL, NULL, 0,
	    "TCP port, memcached's by default. 0: any free port."),
	ROW("max_connections", IOCB_CT_UINT, "1024", 1, 65536, OFF(memcached.max_connections), NO, NO, NULL, NULL,
	    0,
	    "Client connections at once; a connection past it is closed at once (counted in "
	    "`iocbus_memcached_connections_refused_total`). Idle connections are never closed."),
	ROW("threads", IOCB_CT_UINT, "2", 1, 64, OFF(memcached.threads), NO, NO, NULL, NULL, 0,
	    "Server threads, each with its own epoll set and listening socket on the port (SO_REUSEPORT); a "
	    "connection stays on the thread the kernel gave it. Mostly system-call bound: about one per core."),
	ROW("namespace", IOCB_CT_STR, NULL, 1, 200, OFF(memcached.ns), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "Dalli's `namespace` (the Logstash filter's `namespace`): a key `<namespace>:<key>` is looked up "
	    "as `<key>`. Keys without the prefix are looked up as they are."),
	ROW("value", IOCB_CT_ENUM, "elastimispstash", 0, 0, OFF(memcached.value), NO, NO, mc_values, NULL, 0,
	    "What a hit is served with (flags 0): `elastimispstash`, the bytes elastiMISPstash's script "
	    "stored (the Python list of the `Feed-` tag names, `['Feed-A']`), so Logstash configurations "
	    "work unchanged; `json`, `{\"tags\":[...],\"event_info\":\"...\",\"tlp\":\"amber\"}` "
	    "with every tag (null for no event or no TLP); `event_info`, the event info alone."),
};

const struct iocb_config__section iocb_config__memcached = {
	"memcached", memcached_rows, N(memcached_rows), 0, NO,
	"The memcached-protocol lookup endpoint (docs/DROPINS.md): Logstash's memcached filter (Dalli, "
	"binary protocol), pymemcache and meta-protocol clients read indicators from the store with "
	"elastiMISPstash's keys and values. Writes are refused. Present: `iocbus run` starts it.",
	NULL,
};
