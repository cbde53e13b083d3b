// SPDX-License-Identifier: Apache-2.0
/*
 * Sightings from the bus: the two shapes Threat Bus apps send (2020.12
 * `threatbus/sighting` JSON, 2021+ STIX 2.1 Sighting) read into one
 * iocb_sightings_item, the way Threat Bus's MISP plugin maps them
 * (threatbus.md §2.5, exports.md §4.4). The parser is pure (its fuzz
 * target is fuzz/fuzz_sightings_bus.c) and strict about what it uses: each
 * field it reads must have its type and form, and appear once; fields it
 * does not read (contexts, embedded indicators, STIX extras) are skipped
 * unread but must be valid JSON. One frame is at most
 * IOCB_SIGHTINGS_BUS_MAX bytes and 64 levels deep.
 */
#include "sightings/sightings.h"

#include <string.h>

#include "core/time.h"
#include "json/json.h"

#define GEN0 "threatbus/sighting"
#define GEN1 "stix2/sighting"
#define TIME_MAX 64              /* longest time string read */
#define EPOCH_MAX 253402300799LL /* 9999-12-31T23:59:59Z */

/* The fields read, one bit each, so a second copy of one is refused. */
enum field {
	F_TYPE = 1u << 0,
	F_SPEC = 1u << 1,
	F_ID = 1u << 2,
	F_REF = 1u << 3,
	F_CREATED = 1u << 4,
	F_LAST_SEEN = 1u << 5,
	F_SOURCE = 1u << 6,
	F_STYPE = 1u << 7,
	F_TS = 1u << 8,
	F_INTEL = 1u << 9,
	F_CONTEXT = 1u << 10,
	F_IOC = 1u << 11,
};

struct rd {
	const char *gen;                  /* "threatbus/sighting" / "stix2/sighting", for errors */
	unsigned seen;                    /* enum field bits */
	int64_t created, last_seen, ts;   /* epoch seconds */
	struct iocb_sightings_bus_item *o; /* output */
};

static int bad(struct rd *r, const struct iocb_json_tok *at, const char *field, const char *why, struct iocb_err *err)
{
	return iocb_err_set(err, IOCB_EPARSE, "sightings: %s frame: byte %zu: %s: %s", r->gen, at->offset, field, why);
}

/* A 36-char RFC 4122 text uuid (any version, either case) into out (lower case, NUL-terminated). */
static bool uuid_of(const char *s, size_t n, char out[IOCB_SIGHTINGS_UUID_LEN + 1])
{
	if (n != IOCB_SIGHTINGS_UUID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (c >= 'A' && c <= 'F') {
			c = (char)(c - 'A' + 'a');
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return false;
		}
		out[i] = c;
	}
	out[n] = 0;
	return true;
}

/* A string value decoded into buf (cap bytes, NUL-terminated); false when it is no string or too long. */
static bool str_of(const struct iocb_json_tok *v, char *buf, size_t cap, size_t *len)
{
	if (v->type != IOCB_JSON_STR || iocb_json_unescape(v, buf, cap - 1, len) != IOCB_OK)
		return false;
	buf[*len] = 0;
	return true;
}

/* A time string into epoch seconds (floored). stix: RFC 3339 with 'T' and 'Z' only. */
static int time_of(struct rd *r, const struct iocb_json_tok *v, const char *name, bool stix, int64_t *out,
		   struct iocb_err *err)
{
	char b[TIME_MAX];
	size_t n;
	int64_t us;
	if (!str_of(v, b, sizeof(b), &n))
		return bad(r, v, name, "not a time string", err);
	if (stix && (n < 20 || b[10] != 'T' || b[n - 1] != 'Z'))
		return bad(r, v, name, "not an RFC 3339 UTC time (YYYY-MM-DDThh:mm:ss[.s]Z)", err);
	if (!iocb_time_parse_iso8601_us(b, n, &us))
		return bad(r, v, name, stix ? "not an RFC 3339 UTC time (YYYY-MM-DDThh:mm:ss[.s]Z)"
					    : "not a time (YYYY-MM-DD hh:mm:ss[.ffffff][+hh:mm])",
			   err);
	int64_t s = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
	if (s < 0 || s > EPOCH_MAX)
		return bad(r, v, name, "before 1970 or after 9999", err);
	*out = s;
	return IOCB_OK;
}

static int source_of(struct rd *r, const struct iocb_json_tok *v, const char *name, struct iocb_err *err)
{
	size_t n;
	if (v->type != IOCB_JSON_STR)
		return bad(r, v, name, "not a string", err);
	if (!str_of(v, r->o->source, sizeof(r->o->source), &n))
		return bad(r, v, name, "longer than 255 bytes or a bad escape", err);
	r->o->item.source = (struct iocb_str){r->o->source, n};
	return IOCB_OK;
}

/* x_misp_sighting_type: 0, 1, 2 or "0", "1", "2" (MISP's Sighting::TYPE). */
static int stype_of(struct rd *r, const struct iocb_json_tok *v, const char *name, struct iocb_err *err)
{
	uint64_t t = 3;
	if (v->type == IOCB_JSON_NUM) {
		if (!iocb_json_tok_u64(v, &t))
			t = 3;
	} else if (v->type == IOCB_JSON_STR && v->s.len == 1 && !v->escaped) {
		t = (uint64_t)(unsigned char)v->s.ptr[0] - '0';
	} else {
		return bad(r, v, name, "not a number or string", err);
	}
	if (t > 2)
		return bad(r, v, name, "not 0 (sighting), 1 (false positive) or 2 (expiration)", err);
	r->o->item.type = (unsigned)t;
	return IOCB_OK;
}

/* A constant-string field (type, spec_version). */
static int want_str(struct rd *r, const struct iocb_json_tok *v, const char *name, const char *want,
		    struct iocb_err *err)
{
	if (v->type != IOCB_JSON_STR || !iocb_json_tok_eq(v, want))
		return bad(r, v, name, want[0] == 's' ? "not \"sighting\"" : "not \"2.1\"", err);
	return IOCB_OK;
}

/* "<prefix><uuid>": the uuid into the output. */
static int ref_of(struct rd *r, const struct iocb_json_tok *v, const char *name, const char *prefix,
		  struct iocb_err *err)
{
	size_t pl = strlen(prefix);
	if (v->type != IOCB_JSON_STR || v->escaped || v->s.len < pl || memcmp(v->s.ptr, prefix, pl) != 0)
		return bad(r, v, name, pl ? "not \"indicator--<uuid>\"" : "not a string", err);
	if (!uuid_of(v->s.ptr + pl, v->s.len - pl, r->o->uuid))
		return bad(r, v, name, "not a uuid (8-4-4-4-12 hex digits)", err);
	return IOCB_OK;
}

/* The fields read, by name; `stix`/`tb`: read in that shape (`ctx`: inside the 2020.12 context). */
static const struct {
	const char *name; /* key, or "context.<key>" for the 2020.12 context */
	unsigned f;       /* enum field bit */
	bool stix;        /* a STIX Sighting property */
} fields[] = {
	{"type", F_TYPE, true},
	{"spec_version", F_SPEC, true},
	{"id", F_ID, true},
	{"sighting_of_ref", F_REF, true},
	{"created", F_CREATED, true},
	{"last_seen", F_LAST_SEEN, true},
	{"x_threatbus_source", F_SOURCE, true},
	{"x_misp_sighting_type", F_STYPE, true},
	{"ts", F_TS, false},
	{"intel", F_INTEL, false},
	{"context", F_CONTEXT, false},
	{"ioc", F_IOC, false},
	{"context.source", F_SOURCE, false},
	{"context.x_misp_sighting_type", F_STYPE, false},
};

/* The field `k` names in this shape (ctx: inside the 2020.12 context), or -1 for one not read. */
static int field_of(const struct iocb_json_tok *k, bool stix, bool ctx)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *n = fields[i].name;
		bool in_ctx = strncmp(n, "context.", 8) == 0;
		if (fields[i].stix == stix && in_ctx == ctx && iocb_json_tok_eq(k, in_ctx ? n + 8 : n))
			return (int)i;
	}
	return -1;
}

/* The value `v` of field i (its first token; an object or list is left for the caller to skip). */
static int read_field(struct rd *r, size_t i, const struct iocb_json_tok *v, struct iocb_err *err)
{
	const char *name = fields[i].name;
	char tmp[IOCB_SIGHTINGS_UUID_LEN + 1];
	switch (fields[i].f) {
	case F_TYPE:
		return want_str(r, v, name, "sighting", err);
	case F_SPEC:
		return want_str(r, v, name, "2.1", err);
	case F_ID:
		if (v->type != IOCB_JSON_STR || v->s.len < 10 || memcmp(v->s.ptr, "sighting--", 10) != 0 ||
		    !uuid_of(v->s.ptr + 10, v->s.len - 10, tmp))
			return bad(r, v, name, "not \"sighting--<uuid>\"", err);
		return IOCB_OK;
	case F_REF:
		return ref_of(r, v, name, "indicator--", err);
	case F_INTEL:
		return ref_of(r, v, name, "", err);
	case F_CREATED:
		return time_of(r, v, name, true, &r->created, err);
	case F_LAST_SEEN:
		return time_of(r, v, name, true, &r->last_seen, err);
	case F_TS:
		return time_of(r, v, name, false, &r->ts, err);
	case F_SOURCE:
		return source_of(r, v, name, err);
	case F_STYPE:
		return stype_of(r, v, name, err);
	case F_CONTEXT:
		return v->type == IOCB_JSON_OBJ ? IOCB_OK : bad(r, v, name, "not an object", err);
	case F_IOC:
		return v->type == IOCB_JSON_NULL || v->type == IOCB_JSON_ARR ? IOCB_OK
									     : bad(r, v, name, "not a list or null", err);
	default:
		return IOCB_OK;
	}
}

/*
 * The members of the object whose '{' was just read: each field read once,
 * every value consumed. ctx: the 2020.12 context (its own fields).
 */
static int members(struct rd *r, struct iocb_json_parser *p, bool stix, bool ctx, struct iocb_err *err)
{
	struct iocb_json_tok k, v;
	for (;;) {
		int rc = iocb_json_next_member(p, &k, &v, err);
		if (rc <= 0)
			return rc;
		int i = field_of(&k, stix, ctx);
		if (i >= 0) {
			if (r->seen & fields[i].f)
				return bad(r, &k, fields[i].name, "given twice", err);
			r->seen |= fields[i].f;
			rc = read_field(r, (size_t)i, &v, err);
			if (rc != IOCB_OK)
				return rc;
			if (fields[i].f == F_CONTEXT) {
				rc = members(r, p, false, true, err);
				if (rc < 0)
					return rc;
				continue;
			}
		}
		rc = iocb_json_skip(p, &v, err);
		if (rc != IOCB_OK)
			return rc;
	}
}

/* The first required field of the shape missing from `seen`, or NULL. */
static const char *missing(unsigned seen, bool stix)
{
	static const struct {
		unsigned f;
		const char *name;
	} req[] = {
		{F_TYPE, "type"}, {F_SPEC, "spec_version"}, {F_ID, "id"},         {F_REF, "sighting_of_ref"},
		{F_CREATED, "created"}, {F_INTEL, "intel"}, {F_TS, "ts"}, {F_CONTEXT, "context"},
	};
	for (size_t i = stix ? 0 : 5; i < (stix ? 5u : sizeof(req) / sizeof(req[0])); i++)
		if (!(seen & req[i].f))
			return req[i].name;
	return NULL;
}

int iocb_sightings_parse_bus(int gen, const char *json, size_t len, struct iocb_sightings_bus_item *out,
			     struct iocb_err *err)
{
	memset(out, 0, sizeof(*out));
	if (gen != 0 && gen != 1)
		return iocb_err_set(err, IOCB_EINVAL, "sightings: bus generation %d is neither 0 nor 1", gen);
	struct rd r = {.gen = gen ? GEN1 : GEN0, .o = out};
	bool stix = gen == 1;
	if (len > IOCB_SIGHTINGS_BUS_MAX)
		return iocb_err_set(err, IOCB_ELIMIT, "sightings: %s frame: %zu bytes, over the %zu-byte cap", r.gen,
				    len, IOCB_SIGHTINGS_BUS_MAX);
	struct iocb_json_parser p;
	struct iocb_json_tok v;
	iocb_json_init(&p, json, len, 64, false);
	int rc = iocb_json_next(&p, &v, err);
	if (rc == IOCB_OK && v.type != IOCB_JSON_OBJ)
		rc = bad(&r, &v, "frame", "not a JSON object", err);
	if (rc == IOCB_OK)
		rc = members(&r, &p, stix, false, err);
	if (rc == IOCB_OK && iocb_json_next(&p, &v, NULL) != IOCB_EEND)
		rc = iocb_err_set(err, IOCB_EPARSE, "sightings: %s frame: data after the object", r.gen);
	if (rc < 0) {
		if (rc != IOCB_ELIMIT)
			rc = IOCB_EPARSE;
		goto out;
	}
	const char *m = missing(r.seen, stix);
	if (m) {
		rc = iocb_err_set(err, IOCB_EPARSE, "sightings: %s frame: no %s", r.gen, m);
		goto out;
	}
	/* The observation time when the app gives it (Threat Bus posts `created`, the report time). */
	out->item.timestamp = stix ? (r.seen & F_LAST_SEEN ? r.last_seen : r.created) : r.ts;
	out->item.attr_uuid = (struct iocb_str){out->uuid, IOCB_SIGHTINGS_UUID_LEN};
	if (!(r.seen & F_SOURCE))
		out->item.source = (struct iocb_str){out->source, 0};
	rc = IOCB_OK;
out:
	if (rc != IOCB_OK)
		memset(out, 0, sizeof(*out));
	return rc;
}
