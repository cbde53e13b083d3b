/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Micro-benchmark of sightings.from_matches on the pipeline's hot path (not a
 * ctest test; bench/README.md). One thread enriches ECS lines with
 * iocb_enrich_line(), as a pipeline input thread does (src/pipe/pipe.c
 * iocb_pipe__submit), in blocks of BLOCK lines, in three modes, alternated
 * over ROUNDS:
 *   off   opts.on_match NULL (the default: `sightings.from_matches` off);
 *   on    opts.on_match = what the pipe installs (attribute view, then
 *         iocb_sightings_matches_note()), iocb_sightings_matches_flush() per
 *         block, into a real queue (LMDB in a temporary directory; its MISP
 *         URL leads nowhere, so everything stays queued);
 *   recent opts.on_hit = what the pipe installs for the status page's last
 *         matches (iocb_pipe_recent_note() into a 50-entry ring, issue #16);
 * and prints events per CPU second of the enriching thread per mode (median;
 * CPU time, not wall time, because the machine is shared) with the
 * sightings the queue got.
 *
 *   bench_matches [events] [attrs] [hit_percent] [rounds]
 * defaults: 1000000 events, 100000 domain attributes, 1 % of the events
 * carrying one, 5 rounds; BLOCK 2000 lines (about a 1 MiB pipeline batch).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/time.h"
#include "enrich/enrich.h"
#include "misp/misp.h"
#include "pipe/pipe.h"
#include "sightings/sightings.h"
#include "store/store.h"

#define BLOCK 2000

struct hook {
	struct iocb_sightings_matches *m;
	int64_t now_s;
};

/* The pipe's note_match (src/pipe/pipe.c), verbatim but for the struct it reads. */
static void note_match(void *ud, const struct iocb_store_attr *attr)
{
	struct hook *h = ud;
	struct iocb_store_attr_view v;

	iocb_store_attr_view(attr, &v);
	iocb_sightings_matches_note(h->m, v.uuid, h->now_s);
}

/* The pipe's note_hit (src/pipe/pipe.c): one ring entry per hit. */
static void note_hit(void *ud, const struct iocb_store_attr *attr, const char *field, struct iocb_str atom)
{
	(void)atom;
	iocb_pipe_recent_note(ud, "bench", attr, field, iocb_time_real_us());
}

static void die(const char *what, const struct iocb_err *err)
{
	fprintf(stderr, "bench_matches: %s: %s\n", what, err->msg);
	exit(1);
}

static struct iocb_store *load(size_t n)
{
	struct iocb_store_opts o;
	struct iocb_store *s;
	struct iocb_err err;
	const struct iocb_misp_type *t = iocb_misp_type_find(iocb_str_c("domain"));
	iocb_store_opts_default(&o);
	o.expected_attrs = n;
	if (iocb_store_open(&o, &s, &err) < 0)
		die("store", &err);
	for (size_t i = 0; i < n; i++) {
		char uuid[64], evu[64], val[64];
		struct iocb_misp_event ev = {0};
		struct iocb_misp_attr a = {0};
		snprintf(uuid, sizeof(uuid), "a%07zx-0000-4000-8000-%012zx", i % 0x10000000, i & (size_t)0xffffffffffff);
		snprintf(evu, sizeof(evu), "e%07zx-0000-4000-8000-%012zx", i / 10 % 0x10000000, i / 10 & (size_t)0xffffffffffff);
		snprintf(val, sizeof(val), "evil-%zu.example.com", i);
		ev.uuid = iocb_str_make(evu, 36);
		ev.id = i / 10 + 1;
		ev.info = IOCB_STR_LIT("bench");
		ev.timestamp = 1700000000;
		a.type = t;
		a.uuid = iocb_str_make(uuid, 36);
		a.id = i + 1;
		a.event_id = ev.id;
		a.category = iocb_str_c(t->default_category);
		a.part[0] = a.value = iocb_str_c(val);
		a.nparts = 1;
		a.prefix[0] = a.prefix[1] = -1;
		a.to_ids = true;
		a.timestamp = 1700000000;
		a.first_seen_us = a.last_seen_us = INT64_MIN;
		a.event = &ev;
		if (iocb_store_upsert(s, &a, 0, 1700000000, &err) < 0)
			die("upsert", &err);
	}
	if (iocb_store_commit(s, &err) < 0)
		die("commit", &err);
	return s;
}

/* ECS lines, one in 100/hit_pct naming an attribute's domain; offsets of each line in *offs. */
static char *events(size_t n, size_t attrs, unsigned hit_pct, size_t **offs, size_t *len)
{
	size_t cap = n * 200 + 1, o = 0;
	char *b = malloc(cap);
	*offs = malloc((n + 1) * sizeof(**offs));
	for (size_t i = 0; i < n; i++) {
		bool hit = hit_pct && i % (100 / hit_pct) == 0;
		(*offs)[i] = o;
		o += (size_t)snprintf(b + o, cap - o,
				      "{\"@timestamp\":\"2024-03-01T10:00:00.000Z\",\"event\":{\"sequence\":%zu},"
				      "\"source\":{\"ip\":\"10.0.%zu.%zu\",\"port\":51514},\"destination\":{\"domain\":"
				      "\"%s%zu.example.com\",\"port\":443}}",
				      i, i / 256 % 256, i % 256, hit ? "evil-" : "benign-", (i * 7919) % attrs);
	}
	(*offs)[n] = o;
	*len = o;
	return b;
}

/* This thread's CPU seconds: the machine is shared, so wall time would measure the neighbours. */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run(struct iocb_enrich *e, const char *b, const size_t *offs, size_t n, struct hook *h)
{
	struct iocb_buf out;
	iocb_buf_init(&out, 0);
	double t0 = cpu_s();
	for (size_t i = 0; i < n; i++) {
		if (h && i % BLOCK == 0)
			h->now_s = iocb_time_real_us() / 1000000;
		if (iocb_enrich_line(e, b + offs[i], offs[i + 1] - offs[i], &out, NULL) < 0)
			abort();
		if (i % BLOCK == BLOCK - 1 || i == n - 1) {
			if (h)
				iocb_sightings_matches_flush(h->m);
			iocb_buf_reset(&out);
		}
	}
	double dt = cpu_s() - t0;
	iocb_buf_fini(&out);
	return dt;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000, attrs = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
	unsigned hit = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1, rounds = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 5;
	struct iocb_err err;
	struct iocb_store *s = load(attrs);
	size_t *offs, len;
	char *b = events(n, attrs, hit > 100 ? 100 : hit, &offs, &len);
	struct iocb_enrich_map *map;
	if (iocb_enrich_map_new(IOCB_PRESET_ECS, NULL, 0, &map, &err) < 0)
		die("map", &err);
	char dir[] = "/tmp/bench-matches-XXXXXX";
	if (!mkdtemp(dir))
		return 1;
	struct iocb_sightings_opts so;
	struct iocb_sightings *q;
	iocb_sightings_opts_default(&so);
	so.base_url = "http://127.0.0.1:9";
	so.api_key = "k";
	so.state_dir = dir;
	so.backoff_initial_s = 60;
	if (iocb_sightings_new(&so, &q, &err) < 0)
		die("sightings", &err);
	struct hook h = {iocb_sightings_matches_new(q, "bench", 300), 0};
	struct iocb_enrich_opts off, on, rec;
	struct iocb_pipe_recent *ring = iocb_pipe_recent_new(50);
	iocb_enrich_opts_default(&off);
	off.store = s;
	off.map = map;
	off.occurred = "2024-03-01T10:00:00.000Z";
	on = off;
	on.on_match = note_match;
	on.on_match_ud = &h;
	rec = off;
	rec.on_hit = note_hit;
	rec.on_hit_ud = ring;
	iocb_store_reader_register();
	struct iocb_enrich *eoff = iocb_enrich_new(&off), *eon = iocb_enrich_new(&on), *erec = iocb_enrich_new(&rec);
	double *toff = calloc(rounds, sizeof(double)), *ton = calloc(rounds, sizeof(double));
	double *trec = calloc(rounds, sizeof(double));
	for (unsigned r = 0; r < rounds; r++) {
		toff[r] = run(eoff, b, offs, n, NULL);
		ton[r] = run(eon, b, offs, n, &h);
		trec[r] = run(erec, b, offs, n, NULL);
	}
	qsort(toff, rounds, sizeof(double), cmp);
	qsort(ton, rounds, sizeof(double), cmp);
	qsort(trec, rounds, sizeof(double), cmp);
	iocb_sightings_matches_free(h.m);
	struct iocb_sightings_stats st;
	for (int i = 0; i < 500; i++) { /* the flusher commits within a wake-up */
		iocb_sightings_stats(q, &st);
		if (st.matches + st.matches_dropped > 0 && st.queued == st.matches)
			break;
		iocb_time_sleep_s(0.01);
	}
	const struct iocb_enrich_stats *es = iocb_enrich_stats(eon);
	printf("events=%zu attrs=%zu hit_pct=%u rounds=%u bytes=%zu matched_per_round=%llu\n", n, attrs, hit, rounds, len,
	       (unsigned long long)(es->matched / rounds));
	printf("off events_per_cpu_s=%.0f (median of %u; min %.0f max %.0f)\n", n / toff[rounds / 2], rounds,
	       n / toff[rounds - 1], n / toff[0]);
	printf("on  events_per_cpu_s=%.0f (median of %u; min %.0f max %.0f) sightings_queued=%llu deduplicated=%llu "
	       "dropped=%llu\n",
	       n / ton[rounds / 2], rounds, n / ton[rounds - 1], n / ton[0], (unsigned long long)st.matches,
	       (unsigned long long)st.matches_deduplicated, (unsigned long long)st.matches_dropped);
	printf("recent events_per_cpu_s=%.0f (median of %u; min %.0f max %.0f) ring_entries=%llu\n", n / trec[rounds / 2],
	       rounds, n / trec[rounds - 1], n / trec[0], (unsigned long long)iocb_pipe_recent_total(ring));
	iocb_enrich_free(eoff);
	iocb_enrich_free(eon);
	iocb_enrich_free(erec);
	iocb_pipe_recent_free(ring);
	free(trec);
	iocb_store_reader_unregister();
	iocb_sightings_free(q);
	iocb_enrich_map_free(map);
	iocb_store_free(s);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
