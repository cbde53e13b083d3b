/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Add-to-socket latency of the Suricata socket feed (src/export/surisock.h):
 * the time from the store upsert of a MISP domain to the arrival of its
 * `dataset-add` line at a Suricata socket stand-in (tests/unit/surisock_fake.c,
 * in-process, answering like Suricata). Two runs: a burst of N adds as fast as
 * the store takes them, and N adds paced 1 ms apart (what a MISP instance
 * publishes in practice). The queue is sized to hold the burst (an overflow
 * would turn the burst into a full reload, counted and printed).
 *
 *   bench_surisock [N]       (default 10000)
 *
 * Prints p50/p99/max in microseconds and the burst's commands per second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/unit/surisock_fake.h"
#include "bench_stats.h"
#include "core/time.h"
#include "export/surisock.h"
#include "store/store.h"

struct attrs {
	char (*uuid)[37];
	char (*val)[32];
};

static void upsert(struct iocb_store *s, const struct attrs *d, size_t i)
{
	struct iocb_misp_attr a = {0};
	struct iocb_err err;

	a.type = iocb_misp_type_find(IOCB_STR_LIT("domain"));
	a.uuid = iocb_str_make(d->uuid[i], 36);
	a.id = i + 1;
	a.category = IOCB_STR_LIT("Network activity");
	a.value = a.part[0] = iocb_str_c(d->val[i]);
	a.nparts = 1;
	a.prefix[0] = a.prefix[1] = -1;
	a.to_ids = true;
	a.timestamp = 1700000000 + i;
	a.first_seen_us = a.last_seen_us = INT64_MIN;
	if (iocb_store_upsert(s, &a, 0, 1700000000, &err) < 0) {
		fprintf(stderr, "upsert: %s\n", err.msg);
		exit(1);
	}
}

/* Upsert d[from, from + n) (paced every pace_ns, 0 = a burst); print the latencies of their adds. */
static void run(const char *what, struct iocb_store *s, struct iocb_surisock *k, struct surisock_fake *f,
		const struct attrs *d, size_t from, size_t n, int64_t pace_ns)
{
	int64_t *t_up = calloc(n, sizeof(*t_up));
	double *lat = calloc(n, sizeof(*lat));
	size_t base = surisock_fake_count(f, "dataset-add"), first = 0, got = 0;
	struct iocb_surisock_stats st;
	int64_t t0 = iocb_time_mono_ns();

	for (size_t i = 0; i < n; i++) {
		while (pace_ns && iocb_time_mono_ns() < t0 + (int64_t)i * pace_ns) {
		}
		t_up[i] = iocb_time_mono_ns();
		upsert(s, d, from + i);
	}
	if (!surisock_fake_wait(f, "dataset-add", base + n, 60))
		fprintf(stderr, "%s: not every add arrived\n", what);
	/* The adds arrive in upsert order (one FIFO queue, one connection). */
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->n && got < n; i++) {
		if (!strstr(f->lines[i], "dataset-add"))
			continue;
		if (first++ < base)
			continue;
		lat[got] = (double)(f->t_ns[i] - t_up[got]) / 1000.0;
		got++;
	}
	int64_t last = got ? f->t_ns[f->n - 1] : t0;
	pthread_mutex_unlock(&f->mu);
	qsort(lat, got, sizeof(*lat), bench_cmp_double);
	iocb_surisock_stats(k, &st);
	printf("%-6s adds=%zu p50_us=%.0f p99_us=%.0f max_us=%.0f rate_per_s=%.0f overflows=%llu resyncs=%llu\n", what,
	       got, bench_pct(lat, got, 50), bench_pct(lat, got, 99), got ? lat[got - 1] : 0,
	       (double)got / ((double)(last - t0) / 1e9), (unsigned long long)st.overflows,
	       (unsigned long long)st.resyncs);
	free(t_up);
	free(lat);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	struct iocb_store_opts so;
	struct iocb_store *s;
	struct surisock_fake f;
	struct iocb_surisock *k;
	struct iocb_err err;
	struct attrs d = {calloc(2 * n, 37), calloc(2 * n, 32)};
	const struct iocb_misp_type *dom[1] = {iocb_misp_type_find(IOCB_STR_LIT("domain"))};
	struct iocb_surisock_set set = {.name = "misp-domains", .type = IOCB_EXPORT_DS_STRING,
					.sel = {.types = dom, .ntypes = 1}};
	struct iocb_surisock_opts o = {.sets = &set, .nsets = 1, .queue_cap = 2 * n + 16};

	for (size_t i = 0; i < 2 * n; i++) {
		snprintf(d.uuid[i], 37, "5b0c0000-0000-4000-8000-%012x", (unsigned)(i & 0xffffffu));
		snprintf(d.val[i], 32, "d%07u.bench.example", (unsigned)(i % 10000000u));
	}
	iocb_store_opts_default(&so);
	iocb_store_reader_register();
	if (iocb_store_open(&so, &s, &err) < 0 || !surisock_fake_start(&f, 0)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	o.path = f.path;
	if (iocb_surisock_start(&k, s, &o, &err) < 0 || !surisock_fake_wait(&f, "dataset-clear", 1, 10)) {
		fprintf(stderr, "surisock: %s\n", err.msg);
		return 1;
	}
	run("burst", s, k, &f, &d, 0, n, 0);
	run("paced", s, k, &f, &d, n, n < 2000 ? n : 2000, 1000000);
	iocb_surisock_stop(k);
	surisock_fake_stop(&f);
	iocb_store_free(s);
	iocb_store_reader_unregister();
	free(d.uuid);
	free(d.val);
	return 0;
}
