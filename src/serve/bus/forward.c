/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot requests between apps, as Threat Bus relays them (threatbus.md
 * §1.2, exports.md §4.1): a subscribe with a snapshot is also sent to every
 * other subscriber as "<p2p>snapshotrequest {…}", and the envelopes they
 * answer with on the SUB socket ("threatbus/snapshotenvelope {…}") are
 * unwrapped and their body sent to the requester as a plain intel /
 * indicator (or sighting) frame. So retro-matching apps keep working: an
 * app may hold sightings or indicators the store does not.
 *
 * The snapshot_id -> requester table is a ring of FWD_MAX entries that
 * expire after FWD_TTL (Threat Bus keeps them forever): an envelope for an
 * unknown, expired or departed requester is counted in frames_ignored.
 * Bus thread only.
 */
#include "serve/bus/internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "core/counter.h"
#include "core/log.h"
#include "core/time.h"
#include "json/json.h"

#define MOD "bus"
#define FWD_TTL_NS (600LL * 1000000000) /* an envelope more than 10 min after its request is dropped */
#define ENVELOPE_DEPTH 64

int iocb_bus_parse_envelope(const char *json, size_t len, struct iocb_bus_envelope *out)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t, key, val;
	bool have_id = false, have_body = false;
	int rc;

	memset(out, 0, sizeof(*out));
	iocb_json_init(&p, json, len, ENVELOPE_DEPTH, false);
	if (iocb_json_next(&p, &t, NULL) < 0 || t.type != IOCB_JSON_OBJ)
		return IOCB_EPARSE;
	while ((rc = iocb_json_next_member(&p, &key, &val, NULL)) > 0) {
		if (iocb_json_tok_eq(&key, "snapshot_id") && val.type == IOCB_JSON_STR) {
			size_t n = 0;
			if (iocb_json_unescape(&val, out->snapshot_id, IOCB_BUS_SNAPSHOT_ID_MAX, &n) < 0 ||
			    memchr(out->snapshot_id, 0, n))
				return IOCB_EPARSE;
			out->snapshot_id[n] = 0;
			have_id = true;
		} else if (iocb_json_tok_eq(&key, "snapshot_type") && val.type == IOCB_JSON_NUM) {
			out->snapshot_type = iocb_str_eq_c(val.s, "1") ? 1 : iocb_str_eq_c(val.s, "2") ? 2 : 0;
		} else if (iocb_json_tok_eq(&key, "body") && val.type == IOCB_JSON_OBJ) {
			out->body_off = val.offset;
			rc = iocb_json_skip(&p, &val, NULL);
			out->body_len = p.pos - val.offset;
			have_body = true;
		} else {
			rc = iocb_json_skip(&p, &val, NULL);
		}
		if (rc < 0)
			return IOCB_EPARSE;
	}
	if (rc < 0 || iocb_json_next(&p, &t, NULL) != IOCB_EEND)
		return IOCB_EPARSE;
	if (!have_id || !have_body || !out->snapshot_type)
		return IOCB_EPARSE;
	return IOCB_OK;
}

/* A uuid4 text from getrandom(). */
static void random_uuid(char out[37])
{
	unsigned char r[16];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		memset(r, 0x5a, sizeof(r)); /* never in practice; an id need not be secret */
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3],
		 r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
}

/* Which kinds a subscriber's topics ask a snapshot of (Threat Bus's rule): bit 1 intel, bit 2 sightings. */
static unsigned kinds_of(const struct iocb_bus__sub *s)
{
	unsigned k = 0;
	for (unsigned i = 0; i < s->ntopics; i++) {
		const char *t = s->topics[i];
		size_t n = strlen(t);
		if (n >= 5 && (strcmp(t + n - 5, "intel") == 0 || (n >= 9 && strcmp(t + n - 9, "indicator") == 0)))
			k |= 1;
		else if (n >= 8 && strcmp(t + n - 8, "sighting") == 0)
			k |= 2;
		else
			k |= 3; /* "threatbus", "stix2": both */
	}
	return k;
}

static void forward_one(struct iocb_bus *b, const struct iocb_bus__sub *req, int type)
{
	struct iocb_bus__fwd *f = &b->fwd[b->fwd_next++ % IOCB_BUS__FWD_MAX];
	char frame[256];

	random_uuid(f->id);
	f->slot = (unsigned)(req - b->subs);
	memcpy(f->p2p, req->p2p, sizeof(f->p2p));
	f->type = type;
	f->at_ns = iocb_time_mono_ns();
	for (unsigned i = 0; i < b->o.max_subscribers; i++) {
		struct iocb_bus__sub *s = &b->subs[i];
		if (!s->used || s == req)
			continue;
		/* 2020.12 decoders know a request by its keys; 2021+ ones read "type" (threatbus #102). */
		int n = snprintf(frame, sizeof(frame),
				 "%ssnapshotrequest {%s\"snapshot_type\":%d,\"snapshot_id\":\"%s\",\"snapshot\":%llu}", s->p2p,
				 s->gen == IOCB_BUS_GEN_2020 ? "" : "\"type\":\"snapshotrequest\",", type, f->id,
				 (unsigned long long)req->snapshot_s);
		if (n > 0 && (size_t)n < sizeof(frame)) {
			iocb_bus__deliver(b, s, frame, (size_t)n, s->gen, IOCB_BUS_KIND__N);
			IOCB_M_ADD(b->st.snapshot_forwarded, 1);
		}
	}
}

void iocb_bus__forward_request(struct iocb_bus *b, const struct iocb_bus__sub *req)
{
	unsigned k = kinds_of(req);
	if (k & 1)
		forward_one(b, req, 1);
	if (k & 2)
		forward_one(b, req, 2);
}

void iocb_bus__envelope_in(struct iocb_bus *b, const char *json, size_t len)
{
	struct iocb_bus_envelope env;
	int64_t now = iocb_time_mono_ns();

	if (iocb_bus_parse_envelope(json, len, &env) != IOCB_OK)
		goto ignored;
	for (unsigned i = 0; i < IOCB_BUS__FWD_MAX; i++) {
		const struct iocb_bus__fwd *f = &b->fwd[i];
		if (!f->id[0] || strcmp(f->id, env.snapshot_id) != 0 || now - f->at_ns > FWD_TTL_NS)
			continue;
		struct iocb_bus__sub *s = &b->subs[f->slot];
		if (!s->used || strcmp(s->p2p, f->p2p) != 0)
			goto ignored; /* the requester left */
		enum iocb_bus_kind kind = f->type == 2 ? IOCB_BUS_KIND_SIGHTING : IOCB_BUS_KIND_INTEL;
		if (env.body_len > b->o.max_frame_bytes)
			goto ignored;
		size_t n = iocb_bus__frame(b, s, iocb_bus__suffix[s->gen][kind], json + env.body_off, env.body_len);
		iocb_bus__deliver(b, s, b->frame, n, s->gen, kind);
		IOCB_M_ADD(b->st.envelopes_in, 1);
		return;
	}
ignored:
	IOCB_M_ADD(b->st.frames_ignored, 1);
}
