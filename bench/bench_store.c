/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store micro-benchmark: load speed, memory per indicator, exact and CIDR
 * lookup rates with 1 and 2 reader threads, persist and reopen time.
 * Prints one figure per line as "name value unit". Not a ctest test.
 *
 *   bench_store [attrs] [cidrs] [dir]
 * defaults: 1000000 attributes in 100000 events, 100000 CIDRs, and a
 * temporary LMDB directory under /tmp for the persistence figures.
 *
 * The data mix (domains, md5/sha256, IPv4, URLs, a few composites) and value
 * lengths approximate a real MISP instance.
 */
#include "store/store.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct key {
	enum iocb_match_class mc; /* class to look up */
	uint32_t off, len;        /* value in the key text buffer */
};

struct data {
	size_t n;          /* attributes */
	char *text;        /* all values */
	size_t textlen, textcap;
	struct key *keys;  /* one lookup key per attribute (part 0), shuffled, text in key order */
	/* pre-generated input, so the load figure measures the store, not snprintf */
	const struct iocb_misp_type **type;
	char (*uuid)[37], (*evuuid)[37];
	uint32_t *p0, *p1, *val; /* offsets in gtext */
	char *gtext;
	size_t gtextlen, gtextcap;
};

static uint32_t gput(struct data *d, const char *s, size_t n)
{
	if (d->gtextlen + n + 1 > d->gtextcap) {
		d->gtextcap = (d->gtextcap + n + 1) * 2;
		d->gtext = realloc(d->gtext, d->gtextcap);
	}
	memcpy(d->gtext + d->gtextlen, s, n);
	d->gtext[d->gtextlen + n] = '\0';
	uint32_t off = (uint32_t)d->gtextlen;
	d->gtextlen += n + 1;
	return off;
}

static uint32_t put_text(struct data *d, const char *s, size_t n)
{
	if (d->textlen + n + 1 > d->textcap) {
		d->textcap = (d->textcap + n + 1) * 2;
		d->text = realloc(d->text, d->textcap);
	}
	memcpy(d->text + d->textlen, s, n);
	d->text[d->textlen + n] = '\0';
	uint32_t off = (uint32_t)d->textlen;
	d->textlen += n + 1;
	return off;
}

static const struct iocb_misp_type *T(const char *name)
{
	const struct iocb_misp_type *t = iocb_misp_type_find(iocb_str_c(name));
	if (!t) {
		fprintf(stderr, "unknown type %s\n", name);
		exit(1);
	}
	return t;
}

/* Generate value i: returns type and fills parts. */
static const struct iocb_misp_type *gen(uint64_t i, char *p0, char *p1, size_t cap, unsigned *nparts)
{
	uint64_t r = i * 0x9e3779b97f4a7c15ULL;
	static const char hx[] = "0123456789abcdef";
	*nparts = 1;
	switch (i % 20) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7:
		snprintf(p0, cap, "host%llu.evil-%llu.example.com", (unsigned long long)(r % 100000),
			 (unsigned long long)i);
		return T("domain");
	case 8: case 9: case 10: {
		uint64_t x = r;
		for (int k = 0; k < 32; k++) {
			p0[k] = hx[(x >> (4 * (k % 16))) & 15];
			if (k == 15)
				x = x * 31 + i;
		}
		p0[32] = '\0';
		return T("md5");
	}
	case 11: case 12: {
		uint64_t x = r;
		for (int k = 0; k < 64; k++) {
			p0[k] = hx[(x >> (4 * (k % 16))) & 15];
			if (k % 16 == 15)
				x = x * 31 + i;
		}
		p0[64] = '\0';
		return T("sha256");
	}
	case 13: case 14: case 15: case 16:
		snprintf(p0, cap, "%u.%u.%u.%u", (unsigned)(1 + (i >> 24) % 223), (unsigned)((i >> 16) & 255),
			 (unsigned)((i >> 8) & 255), (unsigned)(i & 255));
		return T("ip-dst");
	case 17: case 18:
		snprintf(p0, cap, "http://bad%llu.example.net/path/%llu/payload.php", (unsigned long long)(r % 1000),
			 (unsigned long long)i);
		return T("url");
	default:
		snprintf(p0, cap, "c2-%llu.example.org", (unsigned long long)i);
		snprintf(p1, cap, "%u.%u.%u.%u", (unsigned)(100 + (i >> 16) % 100), (unsigned)((i >> 8) & 255),
			 (unsigned)(i & 255), 7u);
		*nparts = 2;
		return T("domain|ip");
	}
}

static void mkuuid(char out[37], uint32_t kind, uint64_t n)
{
	snprintf(out, 37, "%08x-%04x-4%03x-8%03x-%012llx", kind, (unsigned)(n >> 48) & 0xffff,
		 (unsigned)(n >> 36) & 0xfff, (unsigned)(n * 7) & 0xfff, (unsigned long long)(n * 0x9e3779b97f4aULL) & 0xffffffffffffULL);
}

static void generate(struct data *d, size_t n)
{
	char p0[256], p1[64], val[330];
	d->type = calloc(n, sizeof(*d->type));
	d->uuid = calloc(n, sizeof(*d->uuid));
	d->evuuid = calloc(n / 10 + 1, sizeof(*d->evuuid));
	d->p0 = calloc(n, 4);
	d->p1 = calloc(n, 4);
	d->val = calloc(n, 4);
	for (size_t i = 0; i < n; i++) {
		unsigned np;
		d->type[i] = gen(i, p0, p1, sizeof(p0), &np);
		mkuuid(d->uuid[i], 0xa77, i);
		if (i % 10 == 0)
			mkuuid(d->evuuid[i / 10], 0xe7e, i / 10);
		d->p0[i] = gput(d, p0, strlen(p0));
		d->p1[i] = UINT32_MAX;
		d->val[i] = d->p0[i];
		if (np == 2) {
			d->p1[i] = gput(d, p1, strlen(p1));
			snprintf(val, sizeof(val), "%s|%s", p0, p1);
			d->val[i] = gput(d, val, strlen(val));
		}
	}
	/* lookup keys: part 0 of every attribute, in random order, text laid out in that order */
	size_t *perm = malloc(n * sizeof(*perm));
	uint64_t seed = 99;
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rng(&seed) % (i + 1), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	d->n = n;
	for (size_t k = 0; k < n; k++) {
		size_t i = perm[k];
		const char *v = d->gtext + d->p0[i];
		d->keys[k].mc = d->type[i]->mc[0];
		d->keys[k].len = (uint32_t)strlen(v);
		d->keys[k].off = put_text(d, v, d->keys[k].len);
	}
	free(perm);
}

/* Load the n pre-generated attributes (n/10 events) into s; returns seconds. */
static double load(struct iocb_store *s, const struct data *d, size_t n)
{
	struct iocb_misp_tag etags[2] = {{IOCB_STR_LIT("tlp:amber"), false, false},
					 {IOCB_STR_LIT("misp-galaxy:threat-actor=\"APT-X\""), false, false}};
	struct iocb_misp_tag atag = {IOCB_STR_LIT("kill-chain:command-and-control"), false, false};
	struct iocb_err err;
	double t0 = now_s();

	for (size_t i = 0; i < n; i++) {
		struct iocb_misp_event ev = {0};
		struct iocb_misp_attr a = {0};
		uint64_t e = i / 10;
		a.type = d->type[i];
		ev.uuid = iocb_str_make(d->evuuid[e], 36);
		ev.id = e + 1;
		ev.info = IOCB_STR_LIT("OSINT - Campaign report with a typical length of title text");
		ev.orgc_name = IOCB_STR_LIT("CIRCL");
		ev.orgc_uuid = IOCB_STR_LIT("55f6ea5e-2c60-40e5-964f-47a8950d210f");
		ev.orgc_id = 1;
		ev.has_orgc_id = true;
		ev.threat_level_id = 2;
		ev.analysis = 2;
		ev.published = true;
		ev.timestamp = 1700000000 + e;
		ev.date = IOCB_STR_LIT("2024-03-01");
		ev.tags = etags;
		ev.ntags = 2;
		ev.tags_known = true;
		a.uuid = iocb_str_make(d->uuid[i], 36);
		a.id = i + 1;
		a.event_id = ev.id;
		a.category = iocb_str_c(a.type->default_category);
		a.part[0] = iocb_str_c(d->gtext + d->p0[i]);
		a.nparts = 1;
		if (d->p1[i] != UINT32_MAX) {
			a.part[1] = iocb_str_c(d->gtext + d->p1[i]);
			a.nparts = 2;
		}
		a.value = iocb_str_c(d->gtext + d->val[i]);
		a.prefix[0] = a.prefix[1] = -1;
		a.to_ids = true;
		a.timestamp = 1700000000 + i;
		a.first_seen_us = a.last_seen_us = INT64_MIN;
		if (i % 4 == 0) {
			a.tags = &atag;
			a.ntags = 1;
		}
		a.event = &ev;
		if (iocb_store_upsert(s, &a, 0, 1700000000, &err) < 0) {
			fprintf(stderr, "upsert: %s\n", err.msg);
			exit(1);
		}
	}
	if (iocb_store_commit(s, &err) < 0) {
		fprintf(stderr, "commit: %s\n", err.msg);
		exit(1);
	}
	return now_s() - t0;
}

struct reader {
	bool miss;             /* exact mode: look up absent values (first byte changed) */
	const struct iocb_store *s;
	const struct data *d;
	const uint32_t *addrs; /* CIDR mode: addresses (network order) */
	size_t naddrs;
	size_t iters;          /* lookups to do */
	uint64_t seed;
	size_t hits;
	double secs;
};

static void *exact_reader(void *arg)
{
	struct reader *r = arg;
	struct iocb_store_hit h[8];
	size_t hits = 0;
	uint64_t seed = r->seed;
	iocb_store_reader_register();
	double t0 = now_s();
	iocb_store_read_lock();
	size_t j = rng(&seed) % r->d->n;
	for (size_t i = 0; i < r->iters; i++, j++) {
		/* keys are shuffled once; walking them in order keeps the key text
		 * in cache, as a log pipeline has the value it just parsed */
		if (j == r->d->n)
			j = 0;
		const struct key *k = &r->d->keys[j];
		struct iocb_str v = iocb_str_make(r->d->text + k->off, k->len);
		if (r->miss) {
			char buf[128];
			size_t l = v.len < sizeof(buf) ? v.len : sizeof(buf);
			memcpy(buf, v.ptr, l);
			buf[0] = 'Z';
			v = iocb_str_make(buf, l);
			hits += iocb_store_lookup(r->s, k->mc, v, h, 8);
			continue;
		}
		hits += iocb_store_lookup(r->s, k->mc, v, h, 8);
		if ((i & 1023) == 1023) {
			iocb_store_read_unlock();
			iocb_store_read_lock();
		}
	}
	iocb_store_read_unlock();
	r->secs = now_s() - t0;
	r->hits = hits;
	iocb_store_reader_unregister();
	return NULL;
}

static void *cidr_reader(void *arg)
{
	struct reader *r = arg;
	struct iocb_store_hit h[8];
	size_t hits = 0;
	uint64_t seed = r->seed;
	iocb_store_reader_register();
	double t0 = now_s();
	iocb_store_read_lock();
	for (size_t i = 0; i < r->iters; i++) {
		uint32_t a = r->addrs[rng(&seed) % r->naddrs];
		hits += iocb_store_lookup_ip(r->s, (const uint8_t *)&a, false, h, 8);
		if ((i & 1023) == 1023) {
			iocb_store_read_unlock();
			iocb_store_read_lock();
		}
	}
	iocb_store_read_unlock();
	r->secs = now_s() - t0;
	r->hits = hits;
	iocb_store_reader_unregister();
	return NULL;
}

/* Run `threads` readers; returns total lookups per second. */
static double run(void *(*fn)(void *), struct reader *tmpl, unsigned threads, size_t *hits)
{
	pthread_t th[8];
	struct reader r[8];
	double rate = 0;
	*hits = 0;
	for (unsigned t = 0; t < threads; t++) {
		r[t] = *tmpl;
		r[t].seed = 0x1234567 + t * 7919;
		pthread_create(&th[t], NULL, fn, &r[t]);
	}
	for (unsigned t = 0; t < threads; t++) {
		pthread_join(th[t], NULL);
		rate += (double)r[t].iters / r[t].secs;
		*hits += r[t].hits;
	}
	return rate;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	size_t ncidr = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
	char tmpl[] = "/tmp/iocb-bench-XXXXXX";
	const char *dir = argc > 3 ? argv[3] : mkdtemp(tmpl);
	struct iocb_store_opts o;
	struct iocb_store *s;
	struct iocb_err err;
	struct iocb_store_stats st;
	struct data d = {0};
	size_t hits;

	d.n = n;
	d.keys = calloc(n, sizeof(*d.keys));
	d.textcap = n * 48;
	d.text = malloc(d.textcap);
	iocb_store_reader_register();

	/* ---- load + memory (memory-only store) */
	generate(&d, n);
	iocb_store_opts_default(&o);
	o.expected_attrs = n;
	malloc_trim(0);
	long rss0 = rss_kb();
	struct mallinfo2 mi0 = mallinfo2();
	if (iocb_store_open(&o, &s, &err) < 0) {
		fprintf(stderr, "open: %s\n", err.msg);
		return 1;
	}
	double tl = load(s, &d, n);
	malloc_trim(0);
	long rss1 = rss_kb();
	struct mallinfo2 mi1 = mallinfo2();
	iocb_store_stats(s, &st);
	printf("load_attrs %zu attrs\n", n);
	printf("load_time %.3f s\n", tl);
	printf("upsert_cost %.0f ns\n", tl * 1e9 / (double)n);
	printf("mem_rss_per_attr %.1f bytes\n", (double)(rss1 - rss0) * 1024.0 / (double)n);
	printf("mem_heap_per_attr %.1f bytes\n",
	       (double)((mi1.uordblks + mi1.hblkhd) - (mi0.uordblks + mi0.hblkhd)) / (double)n);
	printf("mem_stats_per_attr %.1f bytes\n", (double)st.mem_bytes / (double)n);
	if (getenv("BENCH_LOAD_ONLY"))
		return 0;

	/* ---- exact lookups */
	struct reader rt = {.s = s, .d = &d, .iters = 10000000};
	double r1 = run(exact_reader, &rt, 1, &hits);
	printf("exact_lookup_1t %.2f Mops/s\n", r1 / 1e6);
	printf("exact_hits_1t %zu hits\n", hits);
	double r2 = run(exact_reader, &rt, 2, &hits);
	printf("exact_lookup_2t %.2f Mops/s\n", r2 / 1e6);
	printf("exact_scaling_2t %.2f x\n", r2 / r1);
	/* the common case in a log pipeline: the value is not an indicator */
	rt.miss = true;
	r1 = run(exact_reader, &rt, 1, &hits);
	printf("exact_miss_lookup_1t %.2f Mops/s\n", r1 / 1e6);
	printf("exact_miss_hits_1t %zu hits\n", hits);
	r2 = run(exact_reader, &rt, 2, &hits);
	printf("exact_miss_lookup_2t %.2f Mops/s\n", r2 / 1e6);
	iocb_store_free(s);

	/* ---- CIDR lookups: 100 k v4 prefixes, /8../30 weighted to /16../24 */
	iocb_store_opts_default(&o);
	o.expected_attrs = ncidr;
	if (iocb_store_open(&o, &s, &err) < 0)
		return 1;
	uint64_t seed = 42;
	const struct iocb_misp_type *ipd = T("ip-dst");
	for (size_t i = 0; i < ncidr; i++) {
		/* MISP-like: mostly /24 and longer, some /16../23, a few short ones */
		static const int lens[] = {12, 16, 16, 18, 20, 21, 22, 22, 23, 23, 24, 24, 24, 24, 24, 24, 24, 24,
					   24, 24, 25, 26, 27, 28, 28, 29, 29, 30, 30, 31};
		int pl = lens[rng(&seed) % (sizeof(lens) / sizeof(lens[0]))];
		uint32_t a = (uint32_t)rng(&seed);
		char txt[32], uuid[37];
		snprintf(txt, sizeof(txt), "%u.%u.%u.%u/%d", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, pl);
		mkuuid(uuid, 0xc1d, i);
		struct iocb_misp_event ev = {0};
		struct iocb_misp_attr at = {0};
		ev.analysis = -1;
		at.uuid = iocb_str_c(uuid);
		at.type = ipd;
		at.value = at.part[0] = iocb_str_c(txt);
		at.nparts = 1;
		at.prefix[0] = pl;
		at.prefix[1] = -1;
		at.to_ids = true;
		at.first_seen_us = at.last_seen_us = INT64_MIN;
		at.event = &ev;
		if (iocb_store_upsert(s, &at, 0, 1, &err) < 0)
			return 1;
	}
	if (iocb_store_commit(s, &err) < 0)
		return 1;
	size_t naddrs = 1 << 20;
	uint32_t *addrs = malloc(naddrs * sizeof(*addrs));
	for (size_t i = 0; i < naddrs; i++)
		addrs[i] = (uint32_t)rng(&seed);
	struct reader rc = {.s = s, .addrs = addrs, .naddrs = naddrs, .iters = 10000000};
	r1 = run(cidr_reader, &rc, 1, &hits);
	printf("cidr_prefixes %zu prefixes\n", ncidr);
	printf("cidr_lookup_1t %.2f Mops/s\n", r1 / 1e6);
	printf("cidr_hits_1t %zu hits\n", hits);
	r2 = run(cidr_reader, &rc, 2, &hits);
	printf("cidr_lookup_2t %.2f Mops/s\n", r2 / 1e6);
	printf("cidr_scaling_2t %.2f x\n", r2 / r1);
	iocb_store_free(s);
	free(addrs);

	/* ---- persistence */
	iocb_store_opts_default(&o);
	o.path = dir;
	o.durable = false;
	o.expected_attrs = n;
	if (iocb_store_open(&o, &s, &err) < 0) {
		fprintf(stderr, "open %s: %s\n", dir, err.msg);
		return 1;
	}
	double tp = load(s, &d, n);
	printf("persist_load_commit %.3f s\n", tp);
	double t0 = now_s();
	iocb_store_free(s);
	printf("persist_close %.3f s\n", now_s() - t0);
	o.expected_attrs = 0;
	t0 = now_s();
	if (iocb_store_open(&o, &s, &err) < 0) {
		fprintf(stderr, "reopen: %s\n", err.msg);
		return 1;
	}
	printf("persist_reopen %.3f s\n", now_s() - t0);
	iocb_store_stats(s, &st);
	printf("persist_reopen_attrs %llu attrs\n", (unsigned long long)st.attrs);
	iocb_store_free(s);
	if (argc <= 3) {
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	iocb_store_reader_unregister();
	free(d.keys);
	free(d.text);
	return 0;
}
