/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kafka_mock: librdkafka's built-in mock cluster as a standalone process,
 * so that tests can point iocbus, kcat and the MISP test server at one real
 * Kafka protocol peer (test.mock.num.brokers only makes a cluster inside the
 * client that sets it).
 *
 *   kafka_mock [BROKERS [TOPIC:PARTITIONS]...]
 *
 * Prints "READY bootstraps=HOST:PORT,..." on stdout once listening, then
 * runs until SIGTERM/SIGINT or until its standard input closes (so a test
 * that dies does not leave it behind). The brokers listen on loopback.
 * Note (reference/tooling.md): the mock keeps only about the newest 4.8 MB
 * per partition.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int parse_count(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	char errstr[512];
	long brokers = 1;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	struct sigaction sa;
	int rc = 1;

	if (argc > 1 && parse_count(argv[1], 1, 16, &brokers) < 0) {
		fprintf(stderr, "kafka_mock: BROKERS must be 1..16, got '%s'\n", argv[1]);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	conf = rd_kafka_conf_new();
	/* This client only hosts the cluster: silence its "no bootstrap.servers" warning. */
	if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		fprintf(stderr, "kafka_mock: %s\n", errstr);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "kafka_mock: %s\n", errstr);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
	if (!mc) {
		fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
		goto out;
	}
	for (int i = 2; i < argc; i++) {
		char topic[256];
		const char *colon = strrchr(argv[i], ':');
		long parts = 1;
		size_t tl = colon ? (size_t)(colon - argv[i]) : strlen(argv[i]);

		if (tl == 0 || tl >= sizeof(topic) || (colon && parse_count(colon + 1, 1, 64, &parts) < 0)) {
			fprintf(stderr, "kafka_mock: bad topic spec '%s' (TOPIC[:PARTITIONS])\n", argv[i]);
			goto out;
		}
		memcpy(topic, argv[i], tl);
		topic[tl] = '\0';
		if (rd_kafka_mock_topic_create(mc, topic, (int)parts, 1) != RD_KAFKA_RESP_ERR_NO_ERROR) {
			fprintf(stderr, "kafka_mock: cannot create topic '%s'\n", topic);
			goto out;
		}
	}
	printf("READY bootstraps=%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);

	while (!stop_requested) {
		struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
		int n = poll(&pfd, 1, 200);
		if (n > 0) {
			char buf[256];
			ssize_t k = read(STDIN_FILENO, buf, sizeof(buf));
			if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN))
				break; /* our parent is gone */
		}
	}
	rc = 0;
out:
	if (mc)
		rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return rc;
}
