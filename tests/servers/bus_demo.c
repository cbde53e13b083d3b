/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bus_demo: the zmq-app endpoint (src/serve/bus) alone, for
 * test_bus_zmq_app.py to drive with the real test client zmq_app.py.
 * Usage: bus_demo [heartbeat_timeout_s]. Binds 127.0.0.1 on ephemeral ports
 * and prints {"manage":P,"pub":P,"sub":P}; then reads commands, one a line,
 * on stdin:
 *   publish 2020|2021 intel|sighting <json>   -> "ok" or "rc <name>"
 *   stats                                     -> {"subscribers":N,...}
 *   quit (or end of input)                    -> stops the bus, exits 0
 * Each sighting an app sends is printed as "sighting 2020|2021 <json>".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/bus/bus.h"

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

int main(int argc, char **argv)
{
	struct iocb_bus *bus;
	struct iocb_err err = {0};
	struct iocb_bus_opts o = {.host = "127.0.0.1", .manage_port = 0, .pub_port = 0, .sub_port = 0,
				  .heartbeat_timeout_s = argc > 1 ? atof(argv[1]) : 0, .on_sighting = on_sighting};
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
		} else if (strcmp(line, "stats") == 0) {
			struct iocb_bus_stats st;
			char buf[256];
			iocb_bus_stats(bus, &st);
			snprintf(buf, sizeof(buf),
				 "{\"subscribers\":%llu,\"heartbeats_missed\":%llu,\"sightings_in\":%llu,\"drops\":%llu}",
				 (unsigned long long)st.subscribers, (unsigned long long)st.heartbeats_missed,
				 (unsigned long long)st.sightings_in, (unsigned long long)st.drops);
			say(buf);
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else {
			say("rc unknown command");
		}
	}
	iocb_bus_stop(bus);
	return 0;
}
