/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the memcached endpoint's key handling over a real store
 * (iocb_mc_store_lookup): type prefixes, the namespace, the per-type
 * "typed values" summary and Dalli's shortened long keys
 * ("<prefix>:md5:<hex>", digest.c), with each value template.
 * The input (at most 250 bytes, memcached's key limit) is one key, looked up
 * with and without the namespace "misp". Invariants (abort() on violation):
 *  - a hit renders a non-empty value in the elastiMISPstash and JSON
 *    templates, and the same keys hit in every template;
 *  - a shortened key that hits names its whole key, whose first bytes are
 *    the key's prefix and whose MD5 is the key's digest (what Dalli sent);
 *    any other key names none.
 * The store (with a long URL, a value beginning with a type name, a CIDR)
 * and its long-key index are built once and kept in statics (libFuzzer calls
 * the harness many times in one process; lookups do not change them).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/md5.h"
#include "misp/misp.h"
#include "serve/memcached/memcached.h"
#include "store/store.h"

#include "intel_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LONG_URL                                                                                               \
	"https://login.example.net/segment000/segment001/segment002/segment003/segment004/segment005/segment006/" \
	"segment007/segment008/segment009/segment010/segment011/segment012/segment013/segment014/segment015/"     \
	"segment016/segment017/segment018/segment019/segment020/segment021/segment022/segment023?session=abc"
#define EV "\"Event\":{\"id\":\"7\",\"uuid\":\"5a0ac036-6fbc-4855-83af-422b950d2100\",\"info\":\"fuzz\",\"orgc_id\":\"1\"}"
#define ATTR(n, type, value) \
	"{\"uuid\":\"5a0ac036-6fbc-4855-83af-4220000000" n "\",\"event_id\":\"7\",\"type\":\"" type \
	"\",\"category\":\"Network activity\",\"value\":\"" value "\",\"to_ids\":true,\"timestamp\":\"1790000000\"," \
	"\"Tag\":[{\"name\":\"Feed-x\"},{\"name\":\"tlp:amber\"}]," EV "}"

static const char intel[] = "{\"response\":{\"Attribute\":[" ATTR("01", "url", LONG_URL) ","
			    ATTR("02", "url", LONG_URL "x") "," ATTR("03", "domain", "link-login.example") ","
			    ATTR("04", "ip-dst", "198.51.100.0/24") "," ATTR("05", "domain", "evil.example") "]}}";

struct harness {
	struct iocb_store *store;
	struct iocb_mc_digest *digest;
};

static struct harness *harness(void)
{
	static struct harness h;
	static bool ready;
	struct iocb_err err;

	if (ready)
		return &h;
	h.store = fuzz_intel_store(intel, sizeof(intel) - 1, false);
	if (iocb_mc_digest_open(h.store, &h.digest, &err) != IOCB_OK)
		abort();
	iocb_store_reader_register();
	ready = true;
	return &h;
}

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A hit's whole key: the key's prefix, then more, with the key's digest. */
static void check_whole(struct iocb_str key, const struct iocb_buf *whole)
{
	struct iocb_md5 m;
	uint8_t d[16];
	size_t pre;

	if (key.len < 37 || memcmp(key.ptr + key.len - 37, ":md5:", 5) != 0)
		abort();
	pre = key.len - 37;
	if (whole->len <= pre || memcmp(whole->ptr, key.ptr, pre) != 0)
		abort();
	iocb_md5_init(&m);
	iocb_md5_update(&m, whole->ptr, whole->len);
	iocb_md5_final(&m, d);
	for (int i = 0; i < 16; i++)
		if (unhex(key.ptr[pre + 5 + 2 * i]) != d[i] >> 4 || unhex(key.ptr[pre + 6 + 2 * i]) != (d[i] & 15))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness *h = harness();
	struct iocb_str key = {(const char *)data, size};
	struct iocb_buf v, whole;

	if (size > 250)
		return 0;
	iocb_buf_init(&v, 0);
	iocb_buf_init(&whole, UINT16_MAX);
	for (int ns = 0; ns < 2; ns++) {
		int first = -2;
		for (int t = IOCB_MC_VALUE_ELASTIMISPSTASH; t <= IOCB_MC_VALUE_EVENT_INFO; t++) {
			struct iocb_mc_store_ctx c = {h->store, ns ? iocb_str_c("misp") : iocb_str_c(""),
						      (enum iocb_mc_value)t, h->digest};
			int rc;
			iocb_buf_reset(&v);
			iocb_buf_reset(&whole);
			rc = iocb_mc_store_lookup(&c, key, &v, &whole);
			if (rc < 0 || (first != -2 && rc != first))
				abort();
			first = rc;
			if (rc == 1 && t != IOCB_MC_VALUE_EVENT_INFO && v.len == 0)
				abort();
			if (whole.len)
				check_whole(key, &whole);
			if (rc == 0 && whole.len)
				abort();
		}
	}
	iocb_buf_fini(&v);
	iocb_buf_fini(&whole);
	return 0;
}
