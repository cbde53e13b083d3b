// SPDX-License-Identifier: Apache-2.0
/*
 * The pure pieces of delivery: which queued sightings share a request, the
 * request body, how MISP's answer is judged, the rate limiter and the
 * dedup window. No I/O here, so the unit test covers them directly.
 */
#include "sightings/internal.h"

#include <string.h>

#include "core/hash.h"
#include "json/json.h"

bool iocb_sightings__same_batch(const struct iocb_sightings__rec *a, const struct iocb_sightings__rec *b)
{
	return a->type == b->type && a->timestamp == b->timestamp && a->source_len == b->source_len &&
	       memcmp(a->source, b->source, a->source_len) == 0;
}

int iocb_sightings__body(const struct iocb_sightings__rec *recs, size_t n, struct iocb_buf *out)
{
	/* MISP: `id` may be a uuid, "a|b|c" a list (misp.md §3.5); `type` as a string so "2" replaces. */
	struct iocb_buf ids;
	iocb_buf_init(&ids, 0);
	int rc = IOCB_OK;
	for (size_t i = 0; i < n && rc == IOCB_OK; i++) {
		if (i)
			rc = iocb_buf_putc(&ids, '|');
		if (rc == IOCB_OK)
			rc = iocb_buf_append(&ids, recs[i].uuid, IOCB_SIGHTINGS_UUID_LEN);
	}
	if (rc != IOCB_OK || n == 0)
		goto out;
	char type[2] = {(char)('0' + recs[0].type), 0};
	struct iocb_jw w;
	iocb_jw_init(&w, out);
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "id");
	iocb_jw_str(&w, iocb_buf_str(&ids));
	iocb_jw_key(&w, "source");
	iocb_jw_str(&w, (struct iocb_str){recs[0].source, recs[0].source_len});
	iocb_jw_key(&w, "type");
	iocb_jw_cstr(&w, type);
	iocb_jw_key(&w, "timestamp");
	iocb_jw_i64(&w, recs[0].timestamp);
	iocb_jw_obj_end(&w);
	rc = iocb_jw_rc(&w);
out:
	iocb_buf_fini(&ids);
	return rc;
}

enum iocb_sightings__verdict iocb_sightings__judge(long status, const char *body, size_t len)
{
	if (status != 200)
		return IOCB_SIGHTINGS__RETRY;
	/* Success and failure are both 200: a top-level `Sighting` is success, `message` failure. */
	struct iocb_json_parser p;
	struct iocb_json_tok tok, key;
	iocb_json_init(&p, body, len, 16, false);
	if (iocb_json_next(&p, &tok, NULL) != IOCB_OK || tok.type != IOCB_JSON_OBJ)
		return IOCB_SIGHTINGS__RETRY;
	enum iocb_sightings__verdict v = IOCB_SIGHTINGS__RETRY;
	for (;;) {
		int r = iocb_json_next_member(&p, &key, &tok, NULL);
		if (r != 1)
			break;
		if (iocb_json_tok_eq(&key, "Sighting"))
			v = IOCB_SIGHTINGS__SENT;
		else if (iocb_json_tok_eq(&key, "message"))
			return IOCB_SIGHTINGS__REJECTED;
		if ((tok.type == IOCB_JSON_OBJ || tok.type == IOCB_JSON_ARR) && iocb_json_skip(&p, &tok, NULL) != IOCB_OK)
			break;
	}
	return v;
}

void iocb_sightings__rl_init(struct iocb_sightings__rl *rl, double rate, double now)
{
	rl->rate = rate;
	rl->tokens = rate > 1 ? rate : 1;
	rl->last = now;
}

double iocb_sightings__rl_take(struct iocb_sightings__rl *rl, double n, double now)
{
	if (rl->rate <= 0)
		return 0;
	double burst = rl->rate > 1 ? rl->rate : 1;
	if (n > burst)
		n = burst;
	rl->tokens += (now - rl->last) * rl->rate;
	if (rl->tokens > burst)
		rl->tokens = burst;
	rl->last = now;
	if (rl->tokens >= n) {
		rl->tokens -= n;
		return 0;
	}
	return (n - rl->tokens) / rl->rate;
}

bool iocb_sightings__dedup_hit(struct iocb_sightings__dedup *d, const struct iocb_sightings__rec *r, double now,
			       double window_s, struct iocb_sightings__dedup_undo *undo)
{
	if (window_s <= 0)
		return false;
	uint64_t h = iocb_hash64(r->uuid, IOCB_SIGHTINGS_UUID_LEN, r->type);
	return iocb_sightings__window_hit(d, iocb_hash64(r->source, r->source_len, h) | 1, now, window_s, undo);
}

bool iocb_sightings__window_hit(struct iocb_sightings__dedup *d, uint64_t h, double now, double window_s,
				struct iocb_sightings__dedup_undo *undo)
{
	/* h is never 0: 0 marks an empty slot */
	size_t slot = (size_t)(h % IOCB_SIGHTINGS__DEDUP_SLOTS);
	if (d->key[slot] == h && now - d->seen[slot] < window_s)
		return true;
	if (undo)
		*undo = (struct iocb_sightings__dedup_undo){slot, d->key[slot], d->seen[slot]};
	d->key[slot] = h;
	d->seen[slot] = now;
	return false;
}
