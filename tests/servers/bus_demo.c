/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bus_demo: the zmq-app endpoint (src/serve/bus) alone, for
 * test_bus_zmq_app.py to drive with the real test client zmq_app.py.
 * Usage: bus_demo [heartbeat_timeout_s]. Opens a memory store (so the bus
 * publishes its changes and answers snapshots from it), binds 127.0.0.1 on
 * ephemeral ports and prints {"manage":P,"pub":P,"sub":P}; then reads
 * commands, one a line, on stdin:
 *   publish 2020|2021 intel|sighting <json>   -> "ok" or "rc <name>"
 *   attr <uuid> <type> <value> <to_ids 0|1> <deleted 0|1> <timestamp|now> <event uuid>
 *                                             -> upsert into the store (one-part
 *                                                types; value without spaces): "ok"
 *   remove <uuid> / event_remove <uuid>       -> "ok" or "rc <name>"
 *   commit                                    -> "ok" (event removals go out here)
 *   stats                                     -> {"subscribers":N,...}
 *   quit (or end of input)                    -> stops the bus, exits 0
 * Each sighting an app sends is printed as "sighting 2020|2021 <json>".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/bus/bus.h"

#include <time.h>

#include "store/store.h"

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void on_sighting(void *ud, enum iocb_bus_gen gen, const char *json, size_t len)
{
	(void)ud;
	pthread_mutex_lock(&out_mu);
	printf("sighting %s %.*s\n", gen == IOCB_BUS_GEN_2020 ? "2020" : "2021", (int)len, json);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

static void say(const char *a)
{
	pthread_mutex_lock(&out_mu);
	printf("%s\n", a);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

/* "attr ..." (see the top): upsert one attribute. */
static int store_cmd_attr(struct iocb_store *st, char *args)
{
	char *f[7];
	struct iocb_misp_attr a;
	struct iocb_misp_event ev;
	struct iocb_err err;
	int n = 0;

	/* seven fields split at single spaces */
	for (char *p = args; p && n < 7; n++) {
		f[n] = p;
		p = strchr(p, ' ');
		if (p)
			*p++ = 0;
	}
	if (n != 7)
		return IOCB_EINVAL;
	memset(&a, 0, sizeof(a));
	memset(&ev, 0, sizeof(ev));
	a.uuid = iocb_str_c(f[0]);
	a.type = iocb_misp_type_find(iocb_str_c(f[1]));
	if (!a.type)
		return IOCB_EINVAL;
	a.category = iocb_str_c(a.type->default_category);
	a.value = iocb_str_c(f[2]);
	a.part[0] = a.value;
	a.nparts = 1;
	a.prefix[0] = a.prefix[1] = -1;
	a.to_ids = f[3][0] == '1';
	a.deleted = f[4][0] == '1';
	a.timestamp = strcmp(f[5], "now") == 0 ? (uint64_t)time(NULL) : strtoull(f[5], NULL, 10);
	a.first_seen_us = a.last_seen_us = INT64_MIN;
	ev.uuid = iocb_str_c(f[6]);
	ev.info = iocb_str_c("bus_demo event");
	ev.analysis = -1;
	a.event = &ev;
	return iocb_store_upsert(st, &a, 0, (uint64_t)time(NULL), &err);
}

/* The store commands; false if line is none of them. */
static bool store_cmd(struct iocb_store *st, char *line)
{
	struct iocb_err err;
	int rc;
	char buf[64];

	if (strncmp(line, "attr ", 5) == 0)
		rc = store_cmd_attr(st, line + 5);
	else if (strncmp(line, "remove ", 7) == 0)
		rc = iocb_store_remove(st, iocb_str_c(line + 7), &err);
	else if (strncmp(line, "event_remove ", 13) == 0)
		rc = iocb_store_event_remove(st, iocb_str_c(line + 13), 0, NULL, &err);
	else if (strcmp(line, "commit") == 0)
		rc = iocb_store_commit(st, &err);
	else
		return false;
	snprintf(buf, sizeof(buf), "rc %s", iocb_rc_str(rc));
	say(rc == IOCB_OK ? "ok" : buf);
	return true;
}

int main(int argc, char **argv)
{
	struct iocb_bus *bus;
	struct iocb_store *store;
	struct iocb_store_opts so;
	struct iocb_err err = {0};
	iocb_store_opts_default(&so);
	if (iocb_store_open(&so, &store, &err) != IOCB_OK) {
		fprintf(stderr, "bus_demo: %s\n", err.msg);
		return 2;
	}
	struct iocb_bus_opts o = {.host = "127.0.0.1", .manage_port = 0, .pub_port = 0, .sub_port = 0,
				  .heartbeat_timeout_s = argc > 1 ? atof(argv[1]) : 0, .on_sighting = on_sighting,
				  .store = store};
	static char line[1 << 20];
	uint16_t m, p, s;

	if (iocb_bus_start(&o, &bus, &err) != IOCB_OK) {
		fprintf(stderr, "bus_demo: %s\n", err.msg);
		return 2;
	}
	iocb_bus_ports(bus, &m, &p, &s);
	pthread_mutex_lock(&out_mu);
	printf("{\"manage\":%u,\"pub\":%u,\"sub\":%u}\n", m, p, s);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "publish ", 8) == 0 && strlen(line) > 8 + 5) {
			enum iocb_bus_gen gen = strncmp(line + 8, "2020 ", 5) == 0 ? IOCB_BUS_GEN_2020 : IOCB_BUS_GEN_2021;
			const char *k = line + 13;
			enum iocb_bus_kind kind = strncmp(k, "intel ", 6) == 0 ? IOCB_BUS_KIND_INTEL : IOCB_BUS_KIND_SIGHTING;
			const char *json = strchr(k, ' ');
			int rc = json ? iocb_bus_publish(bus, kind, gen, json + 1, strlen(json + 1)) : IOCB_EINVAL;
			char buf[64];
			snprintf(buf, sizeof(buf), "rc %s", iocb_rc_str(rc));
			say(rc == IOCB_OK ? "ok" : buf);
		} else if (store_cmd(store, line)) {
			continue;
		} else if (strcmp(line, "stats") == 0) {
			struct iocb_bus_stats st;
			char buf[256];
			iocb_bus_stats(bus, &st);
			snprintf(buf, sizeof(buf),
				 "{\"subscribers\":%llu,\"heartbeats_missed\":%llu,\"sightings_in\":%llu,\"drops\":%llu,"
				 "\"snapshot_sent\":%llu,\"changes\":%llu}",
				 (unsigned long long)st.subscribers, (unsigned long long)st.heartbeats_missed,
				 (unsigned long long)st.sightings_in, (unsigned long long)st.drops,
				 (unsigned long long)st.snapshot_sent, (unsigned long long)st.changes_seen);
			say(buf);
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else {
			say("rc unknown command");
		}
	}
	iocb_bus_stop(bus);
	iocb_store_free(store);
	return 0;
}
