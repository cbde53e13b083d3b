/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the enrichment of log lines (ECS, Suricata EVE, Zeek: preset auto)
 * against a small in-memory store built once from an embedded restSearch
 * document whose values the seed corpus hits.
 *
 * The input's first line goes through iocb_enrich_line() on two workers
 * (plain; and --on-miss mark with parent domains and max_hits 2); the whole
 * input goes through iocb_enrich_block() with and without a reject buffer.
 * Invariants checked (abort() on violation):
 *  - a line that is one valid JSON object is a miss or a hit, never
 *    rejected; anything else is rejected or blank and never changed;
 *  - a miss is copied byte for byte (plain) or marked (mark), a hit or a
 *    marked miss is valid JSON; when the event had no top-level threat or
 *    misp key, the output is the input with text inserted just before its
 *    final closing brace;
 *  - block output equals the per-line outputs with their terminators, and
 *    with a reject buffer the rejected lines go there, in order.
 * The store and field map are built once and kept in statics (libFuzzer
 * calls the harness many times in one process; both are immutable). The
 * workers are made per input, so that a crash reproduces from its input
 * alone and not from scratch memory an earlier input left behind.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "enrich/enrich.h"
#include "json/json.h"
#include "misp/misp.h"
#include "store/store.h"

#include "intel_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EV "\"Event\":{\"id\":\"7\",\"uuid\":\"5a0ac036-6fbc-4855-83af-422b950d2100\",\"info\":\"fuzz\",\"orgc_id\":\"1\"}"
#define ATTR(n, type, value, ids) \
	"{\"uuid\":\"5a0ac036-6fbc-4855-83af-4220000000" n "\",\"event_id\":\"7\",\"type\":\"" type \
	"\",\"category\":\"Network activity\",\"value\":\"" value "\",\"to_ids\":" ids ",\"timestamp\":\"1790000000\"," \
	"\"Tag\":[{\"name\":\"tlp:amber\"}]," EV "}"

static const char intel[] =
	"{\"response\":{\"Attribute\":["
	ATTR("01", "ip-dst", "203.0.113.77", "true") ","
	ATTR("02", "ip-src", "198.51.100.0/24", "true") ","
	ATTR("03", "ip-dst", "2001:db8::bad", "true") ","
	ATTR("04", "domain", "evil.example", "true") ","
	ATTR("05", "hostname", "www.testmyids.com", "true") ","
	ATTR("06", "url", "http://evil.example/gate.php?id=1", "true") ","
	ATTR("07", "url", "www.eicar.org/download/eicar.com", "true") ","
	ATTR("08", "md5", "44d88612fea8a8f36de82e1278abb02f", "true") ","
	ATTR("09", "sha256", "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", "true") ","
	ATTR("10", "email-dst", "drop@stealer-panel.example", "true") ","
	ATTR("11", "ja3-fingerprint-md5", "e7d705a3286e19ea42f587b344ee6865", "true") ","
	ATTR("12", "x509-fingerprint-sha1", "90:86:a4:3b:f5:cf:1b:2e:4e:f7:97:96:f9:de:ba:b9:66:35:86:3f", "true") ","
	ATTR("13", "AS", "AS64500", "true") ","
	ATTR("14", "mac-address", "00:00:5e:00:53:af", "true") ","
	ATTR("15", "user-agent", "curl/7.43.0", "true") ","
	ATTR("16", "ip-dst|port", "192.0.2.10|8443", "true") ","
	ATTR("17", "domain|ip", "c2.evil.example|203.0.113.5", "true") ","
	ATTR("18", "hostname", "ise.wrccdc.cpp.edu", "true") ","
	ATTR("19", "domain", "client-cf.dropbox.com", "false") ","
	ATTR("20", "x509-fingerprint-sha256", "b2dafbcdbc75210672f137f27ce882ccb799887631655d4f11191d5a678e44fe", "true")
	"]}}";

struct harness {
	struct iocb_store *store;
	struct iocb_enrich_map *map;
	struct iocb_enrich_opts plain_o, mark_o;
};

static struct harness *harness(void)
{
	static struct harness h;
	static bool ready;
	struct iocb_err err;

	if (ready)
		return &h;
	h.store = fuzz_intel_store(intel, sizeof(intel) - 1, true);
	iocb_store_reader_register();
	if (iocb_enrich_map_new(IOCB_PRESET_AUTO, NULL, 0, &h.map, &err) != IOCB_OK)
		abort();
	iocb_enrich_opts_default(&h.plain_o);
	h.plain_o.store = h.store;
	h.plain_o.map = h.map;
	h.plain_o.occurred = "2026-01-01T00:00:00.000Z";
	h.mark_o = h.plain_o;
	h.mark_o.on_miss = IOCB_ON_MISS_MARK;
	h.mark_o.parent_domains = true;
	h.mark_o.max_hits = 2;
	ready = true;
	return &h;
}

/* buf[0..len) is exactly one JSON value (at the engine's default depth) and it is an object. */
static bool is_object(const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	return i < len && buf[i] == '{' && iocb_json_validate(buf, len, 64, NULL) == IOCB_OK;
}

/* Whether the object in buf has a top-level member named `key`. buf must be a valid object. */
static bool has_top_key(const char *buf, size_t len, const char *key)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	int rc;

	iocb_json_init(&p, buf, len, 64, false);
	if (iocb_json_next(&p, &t, NULL) != IOCB_OK || t.type != IOCB_JSON_OBJ)
		abort();
	while ((rc = iocb_json_next_member(&p, &t, NULL, NULL)) > 0) {
		if (iocb_json_tok_eq(&t, key))
			return true;
		if (iocb_json_skip_value(&p, NULL) != IOCB_OK)
			abort();
	}
	if (rc < 0)
		abort();
	return false;
}

/* Output of a changed line: valid JSON, and a plain splice when the event had no threat/misp. */
static void check_changed(const char *in, size_t n, const struct iocb_str out)
{
	if (iocb_json_validate(out.ptr, out.len, 0, NULL) != IOCB_OK)
		abort();
	if (has_top_key(in, n, "threat") || has_top_key(in, n, "misp"))
		return;
	size_t k = n;
	while (k > 0 && in[k - 1] != '}')
		k--;
	if (k == 0 || out.len <= n)
		abort();
	k--; /* in[k] is the final '}' */
	if (memcmp(out.ptr, in, k) != 0 || memcmp(out.ptr + out.len - (n - k), in + k, n - k) != 0)
		abort();
}

/* Enrich one line with worker e into out (appended); returns the verdict and checks the invariants. */
static int one_line(struct iocb_enrich *e, bool mark, const char *in, size_t n, struct iocb_buf *out)
{
	enum iocb_enrich_reject why = IOCB_REJ__COUNT;
	size_t start = out->len;
	int v = iocb_enrich_line(e, in, n, out, &why);
	struct iocb_str o;

	if (v < 0)
		abort(); /* out is uncapped: no error is possible */
	o = iocb_str_make(out->ptr + start, out->len - start);
	bool same = o.len == n && (n == 0 || memcmp(o.ptr, in, n) == 0);
	if (is_object(in, n)) {
		if (v != IOCB_ENRICH_MISS && v != IOCB_ENRICH_HIT)
			abort();
		/* Plain misses are copied; marked ones change unless the event already has a misp key. */
		if (v == IOCB_ENRICH_MISS && !mark && !same)
			abort();
		if (v == IOCB_ENRICH_MISS && mark && same && !has_top_key(in, n, "misp"))
			abort();
		if (!same)
			check_changed(in, n, o);
	} else {
		if (v == IOCB_ENRICH_MISS || v == IOCB_ENRICH_HIT || !same)
			abort();
		if (v == IOCB_ENRICH_REJECT && why >= IOCB_REJ__COUNT)
			abort();
	}
	return v;
}

static bool same_bytes(const struct iocb_buf *a, const struct iocb_buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->ptr, b->ptr, a->len) == 0);
}

/*
 * Block mode must give the per-line results with their terminators, in
 * order; with a reject buffer the rejected lines go there instead.
 */
static void check_block(struct iocb_enrich *e, const char *buf, size_t len)
{
	struct iocb_buf line, all, out, rej, b_all, b_out, b_rej;
	size_t i = 0;

	iocb_buf_init(&line, 0);
	iocb_buf_init(&all, 0);
	iocb_buf_init(&out, 0);
	iocb_buf_init(&rej, 0);
	iocb_buf_init(&b_all, 0);
	iocb_buf_init(&b_out, 0);
	iocb_buf_init(&b_rej, 0);
	while (i < len) {
		const char *nl = memchr(buf + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (buf + i)) : len - i;
		int v;

		iocb_buf_reset(&line);
		v = iocb_enrich_line(e, buf + i, n, &line, NULL);
		if (v < 0 || (nl && iocb_buf_putc(&line, '\n') < 0))
			abort();
		if (iocb_buf_append(&all, line.ptr, line.len) < 0 ||
		    iocb_buf_append(v == IOCB_ENRICH_REJECT ? &rej : &out, line.ptr, line.len) < 0)
			abort();
		i += n + (nl ? 1 : 0);
	}
	if (iocb_enrich_block(e, buf, len, 1, &b_all, NULL) != IOCB_OK ||
	    iocb_enrich_block(e, buf, len, 1, &b_out, &b_rej) != IOCB_OK)
		abort();
	if (!same_bytes(&all, &b_all) || !same_bytes(&out, &b_out) || !same_bytes(&rej, &b_rej))
		abort();
	iocb_buf_fini(&line);
	iocb_buf_fini(&all);
	iocb_buf_fini(&out);
	iocb_buf_fini(&rej);
	iocb_buf_fini(&b_all);
	iocb_buf_fini(&b_out);
	iocb_buf_fini(&b_rej);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness *h = harness();
	const char *in = (const char *)data;
	const char *nl = memchr(in, '\n', size);
	size_t n = nl ? (size_t)(nl - in) : size;
	struct iocb_enrich *plain = iocb_enrich_new(&h->plain_o);
	struct iocb_enrich *mark = iocb_enrich_new(&h->mark_o);
	struct iocb_buf out;

	if (!plain || !mark)
		abort();
	iocb_buf_init(&out, 0);
	one_line(plain, false, in, n, &out);
	iocb_buf_reset(&out);
	one_line(mark, true, in, n, &out);
	iocb_buf_fini(&out);
	check_block(plain, in, size);
	iocb_enrich_free(plain);
	iocb_enrich_free(mark);
	return 0;
}
