/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Render micro-benchmark (issue #13 "Performance"): the bus feed renders
 * every store change once per generation on the intake thread, under the
 * store writer lock. Not a ctest test.
 *
 *   bench_render [records] [rounds]
 * defaults: 100000 to_ids domain records in 1000 events, 10 rounds (1 M
 * renders per generation).
 *
 * Fills a memory store, then renders every record as the 2021+ STIX
 * Indicator and as the Threat Bus 2020.12 intel message, rounds times.
 * Prints "name value unit" lines: ns per render and an FNV-1a hash of every
 * byte rendered, so a change to the renderer can be checked to leave the
 * output byte for byte the same.
 */
#include "serve/render/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/time.h"
#include "json/json.h"
#include "store/store.h"

struct recs {
	const struct iocb_store_attr **a;
	size_t n, cap;
};

static int collect(void *ud, const struct iocb_store_attr *a)
{
	struct recs *r = ud;
	if (r->n < r->cap)
		r->a[r->n++] = a;
	return 0;
}

static uint64_t fnv(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

static void fill(struct iocb_store *st, uint64_t n, uint64_t now)
{
	char uuid[37], evuuid[37], value[64];
	struct iocb_misp_attr a;
	struct iocb_misp_event ev;
	struct iocb_err err;

	for (uint64_t i = 0; i < n; i++) {
		memset(&a, 0, sizeof(a));
		memset(&ev, 0, sizeof(ev));
		snprintf(uuid, sizeof(uuid), "aaaaaaaa-0000-4000-8000-%012llx", (unsigned long long)i);
		snprintf(evuuid, sizeof(evuuid), "eeeeeeee-0000-4000-8000-%012llx", (unsigned long long)(i % 1000));
		snprintf(value, sizeof(value), "t%llu-%llu.s1.bench.example", (unsigned long long)(now * 1000000000ull + i),
			 (unsigned long long)i);
		a.uuid = iocb_str_c(uuid);
		a.id = i + 1;
		a.type = iocb_misp_type_find(iocb_str_c("domain"));
		a.category = iocb_str_c("Network activity");
		a.value = iocb_str_c(value);
		a.part[0] = a.value;
		a.nparts = 1;
		a.prefix[0] = a.prefix[1] = -1;
		a.to_ids = true;
		a.timestamp = now - i % 3600;
		a.first_seen_us = a.last_seen_us = INT64_MIN;
		a.event = &ev;
		ev.uuid = iocb_str_c(evuuid);
		ev.id = i % 1000 + 1;
		ev.info = iocb_str_c("benchmark event \"quoted\"");
		ev.threat_level_id = 2;
		ev.analysis = -1;
		if (iocb_store_upsert(st, &a, 0, 1000, &err) != IOCB_OK) {
			fprintf(stderr, "upsert: %s\n", err.msg);
			exit(1);
		}
	}
}

/* One message as the bus feed renders it; the REMOVE's "modified" is fixed so the hash is stable. */
static int render(int gen, const struct iocb_store_attr *a, bool remove, struct iocb_buf *json, struct iocb_buf *scratch)
{
	struct iocb_jw w;
	int rc;

	iocb_buf_reset(json);
	iocb_jw_init(&w, json);
	if (gen) {
		const struct iocb_render_stix_opts o = {.remove = remove, .modified_us = remove ? 1764900000123456 : 0};
		rc = iocb_render_stix_indicator(&w, a, &o, scratch);
	} else {
		rc = iocb_render_tb2020_intel(&w, a, remove);
	}
	return rc == IOCB_OK ? iocb_jw_rc(&w) : rc;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
	int rounds = argc > 2 ? atoi(argv[2]) : 10;
	struct iocb_store_opts so;
	struct iocb_store *st;
	struct iocb_err err;
	struct recs r = {0};
	struct iocb_buf json, scratch;

	iocb_store_opts_default(&so);
	so.expected_attrs = (size_t)n;
	if (iocb_store_open(&so, &st, &err) != IOCB_OK)
		return fprintf(stderr, "store: %s\n", err.msg), 1;
	fill(st, n, 1764900000);
	if (iocb_store_commit(st, &err) != IOCB_OK)
		return 1;
	r.cap = (size_t)n;
	r.a = calloc(r.cap, sizeof(*r.a));
	if (!r.a || iocb_store_each(st, collect, &r) != IOCB_OK)
		return 1;
	iocb_buf_init(&json, 0);
	iocb_buf_init(&scratch, 0);
	for (int gen = 0; gen < 2; gen++) {
		uint64_t h = 1469598103934665603ull;
		double t0 = 0;
		/* Round 0 hashes the output and is not timed. */
		for (int k = 0; k <= rounds; k++) {
			if (k == 1)
				t0 = iocb_time_mono_s();
			for (size_t i = 0; i < r.n; i++) {
				if (render(gen, r.a[i], (i & 7) == 0, &json, &scratch) != IOCB_OK)
					return fprintf(stderr, "render failed\n"), 1;
				if (k == 0)
					h = fnv(h, json.ptr, json.len);
			}
		}
		double dt = iocb_time_mono_s() - t0;
		const char *name = gen ? "stix2021" : "tb2020";
		printf("%s_ns_per_render %.1f ns\n", name, dt * 1e9 / ((double)r.n * rounds));
		printf("%s_output_fnv %016llx hash\n", name, (unsigned long long)h);
	}
	iocb_buf_fini(&json);
	iocb_buf_fini(&scratch);
	free(r.a);
	iocb_store_free(st);
	return 0;
}
