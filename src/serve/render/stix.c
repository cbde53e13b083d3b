/* SPDX-License-Identifier: Apache-2.0 */
/*
 * STIX 2.1 shapes of store records for the Threat Bus compatible bus (see
 * render.h): the pattern of a MISP type and value, the Indicator object,
 * and the Threat Bus 2020.12 intel message.
 *
 * Patterns follow exports.md §4.3: one observation per attribute, the STIX
 * object type that fits the value (ipv6-addr for IPv6, where Threat Bus
 * writes ipv4-addr), composites as comparisons AND-ed inside that one
 * observation (STIX 2.1 requires one object type per AND-ed observation,
 * hence network-traffic for ip|port), hash keys quoted when they hold a
 * hyphen, hex lengths checked as stix2's validator checks them. What does
 * not fit a type is refused rather than emitted: an app running
 * stix2.parse() drops the whole message on one bad pattern.
 */
#include "serve/render/render.h"

#include "core/time.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ patterns */

/* A STIX string literal: quoted, `\` then `'` escaped (as stix2 does). */
static int put_lit(struct iocb_buf *b, struct iocb_str s)
{
	int rc = iocb_buf_putc(b, '\'');
	size_t run = 0; /* bytes before i not yet copied: they need no escape */

	for (size_t i = 0; i < s.len && rc == IOCB_OK; i++) {
		if (s.ptr[i] != '\\' && s.ptr[i] != '\'') {
			run++;
			continue;
		}
		rc = iocb_buf_append(b, s.ptr + i - run, run);
		run = 0;
		if (rc == IOCB_OK)
			rc = iocb_buf_putc(b, '\\');
		if (rc == IOCB_OK)
			rc = iocb_buf_putc(b, s.ptr[i]);
	}
	if (rc == IOCB_OK)
		rc = iocb_buf_append(b, s.ptr + s.len - run, run);
	return rc == IOCB_OK ? iocb_buf_putc(b, '\'') : rc;
}

/* `<path> = '<s>'` */
static int put_cmp(struct iocb_buf *b, const char *path, struct iocb_str s)
{
	int rc = iocb_buf_append_c(b, path);

	if (rc == IOCB_OK)
		rc = iocb_buf_append_c(b, " = ");
	return rc == IOCB_OK ? put_lit(b, s) : rc;
}

static bool all_hex(struct iocb_str s)
{
	for (size_t i = 0; i < s.len; i++) {
		char c = s.ptr[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static bool b64_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' || c == '/';
}

/* ssdeep: <blocksize>:<b64>:<b64> (the character set stix2 checks). */
static bool ssdeep_ok(struct iocb_str s)
{
	size_t i = 0, n;

	while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9')
		i++;
	if (i == 0 || i == s.len || s.ptr[i] != ':')
		return false;
	for (int field = 0; field < 2; field++) {
		n = 0;
		for (i++; i < s.len && b64_char(s.ptr[i]); i++)
			n++;
		if (!n)
			return false;
		if (field == 0 && (i == s.len || s.ptr[i] != ':'))
			return false;
	}
	return i == s.len;
}

/* tlsh: 70 hex digits, or "T1" and 70 (the versioned digest). */
static bool tlsh_ok(struct iocb_str s)
{
	if (s.len == 72 && s.ptr[0] == 'T' && s.ptr[1] == '1')
		s = iocb_str_make(s.ptr + 2, 70);
	return s.len == 70 && all_hex(s);
}

struct hash_spec {
	const char *misp; /* MISP hash name, as in "md5" or "filename|md5" */
	const char *key;  /* the file:hashes key, quoted when it holds a hyphen */
	size_t hexlen;    /* 0: checked by ok() instead */
	bool (*ok)(struct iocb_str s);
};

static const struct hash_spec HASHES[] = {
	{"md5", "MD5", 32, NULL},
	{"sha1", "'SHA-1'", 40, NULL},
	{"sha224", "'SHA-224'", 56, NULL},
	{"sha256", "'SHA-256'", 64, NULL},
	{"sha384", "'SHA-384'", 96, NULL},
	{"sha512", "'SHA-512'", 128, NULL},
	{"sha3-224", "'SHA3-224'", 56, NULL},
	{"sha3-256", "'SHA3-256'", 64, NULL},
	{"sha3-384", "'SHA3-384'", 96, NULL},
	{"sha3-512", "'SHA3-512'", 128, NULL},
	{"ssdeep", "SSDEEP", 0, ssdeep_ok},
	{"tlsh", "TLSH", 0, tlsh_ok},
};

static const struct hash_spec *hash_find(struct iocb_str name)
{
	for (size_t i = 0; i < sizeof(HASHES) / sizeof(HASHES[0]); i++)
		if (iocb_str_eq_c(name, HASHES[i].misp))
			return &HASHES[i];
	return NULL;
}

static bool hash_ok(const struct hash_spec *h, struct iocb_str v)
{
	return h->ok ? h->ok(v) : v.len == h->hexlen && all_hex(v);
}

/* `<object>:hashes.<key> = '<v>'` */
static int put_hash(struct iocb_buf *b, const char *object, const struct hash_spec *h, struct iocb_str v)
{
	char path[64];

	if (!hash_ok(h, v))
		return IOCB_EINVAL;
	snprintf(path, sizeof(path), "%s:hashes.%s", object, h->key);
	return put_cmp(b, path, v);
}

/*
 * An address or CIDR: sets *v6 and *cidr. inet_pton on a bounded copy,
 * the prefix within the family's width.
 */
static bool ip_parse(struct iocb_str s, bool *v6, bool *cidr)
{
	char tmp[INET6_ADDRSTRLEN + 8];
	unsigned char bin[16];
	const char *slash = memchr(s.ptr, '/', s.len);
	size_t alen = slash ? (size_t)(slash - s.ptr) : s.len;
	uint64_t prefix = 0;

	if (!s.len || alen >= INET6_ADDRSTRLEN)
		return false;
	memcpy(tmp, s.ptr, alen);
	tmp[alen] = '\0';
	*v6 = memchr(tmp, ':', alen) != NULL;
	*cidr = slash != NULL;
	if (inet_pton(*v6 ? AF_INET6 : AF_INET, tmp, bin) != 1)
		return false;
	if (!slash)
		return true;
	return iocb_str_to_u64(iocb_str_make(slash + 1, s.len - alen - 1), &prefix) && prefix <= (*v6 ? 128u : 32u);
}

/* [ipv4-addr:value = 'v'], or ISSUBSET for a CIDR (exports.md §4.3). */
static int put_ip(struct iocb_buf *b, struct iocb_str v)
{
	bool v6, cidr;
	int rc;

	if (!ip_parse(v, &v6, &cidr))
		return IOCB_EINVAL;
	rc = iocb_buf_append_c(b, v6 ? "ipv6-addr:value" : "ipv4-addr:value");
	if (rc == IOCB_OK)
		rc = iocb_buf_append_c(b, cidr ? " ISSUBSET " : " = ");
	return rc == IOCB_OK ? put_lit(b, v) : rc;
}

static bool port_ok(struct iocb_str s, uint64_t *port)
{
	return s.len && s.len <= 5 && iocb_str_to_u64(s, port) && *port <= 65535;
}

/* network-traffic:<dir>_ref.type/.value and <dir>_port: the host part is an address or a name. */
static int put_host_port(struct iocb_buf *b, const char *dir, struct iocb_str host, struct iocb_str port_s,
			 bool host_is_ip)
{
	char path[64];
	uint64_t port;
	bool v6 = false, cidr = false;
	int rc;

	if (!port_ok(port_s, &port))
		return IOCB_EINVAL;
	if (host_is_ip && (!ip_parse(host, &v6, &cidr) || cidr))
		return IOCB_EINVAL;
	snprintf(path, sizeof(path), "network-traffic:%s_ref.type", dir);
	rc = put_cmp(b, path, iocb_str_c(!host_is_ip ? "domain-name" : v6 ? "ipv6-addr" : "ipv4-addr"));
	snprintf(path, sizeof(path), " AND network-traffic:%s_ref.value", dir);
	if (rc == IOCB_OK)
		rc = put_cmp(b, path, host);
	if (rc == IOCB_OK)
		rc = iocb_buf_printf(b, " AND network-traffic:%s_port = %u", dir, (unsigned)port);
	return rc;
}

/* [autonomous-system:number = 174]; MISP writes "AS174" or "174". */
static int put_as(struct iocb_buf *b, struct iocb_str v)
{
	uint64_t n;

	if (v.len > 2 && (v.ptr[0] == 'A' || v.ptr[0] == 'a') && (v.ptr[1] == 'S' || v.ptr[1] == 's'))
		v = iocb_str_make(v.ptr + 2, v.len - 2);
	if (!v.len || v.len > 10 || !iocb_str_to_u64(v, &n) || n > UINT32_MAX)
		return IOCB_EINVAL;
	return iocb_buf_printf(b, "autonomous-system:number = %llu", (unsigned long long)n);
}

/* Single-value types whose pattern is `<path> = '<value>'`. */
static const struct {
	const char *misp;
	const char *path;
} PLAIN[] = {
	{"domain", "domain-name:value"},
	{"hostname", "domain-name:value"},
	{"url", "url:value"},
	{"uri", "url:value"},
	{"link", "url:value"},
	{"email", "email-addr:value"},
	{"email-src", "email-addr:value"},
	{"email-dst", "email-addr:value"},
	{"target-email", "email-addr:value"},
	{"email-subject", "email-message:subject"},
	{"filename", "file:name"},
	{"mac-address", "mac-addr:value"},
	{"mutex", "mutex:name"},
	{"regkey", "windows-registry-key:key"},
};

/* The comparisons inside the brackets; out holds them on IOCB_OK. */
static int pattern_body(struct iocb_buf *b, struct iocb_str type, struct iocb_str value)
{
	const char *bar = memchr(value.ptr, '|', value.len);
	struct iocb_str p0 = value, p1 = {NULL, 0};
	const struct hash_spec *h;
	int rc;

	if (bar) {
		p0 = iocb_str_make(value.ptr, (size_t)(bar - value.ptr));
		p1 = iocb_str_make(bar + 1, value.len - p0.len - 1);
	}
	/* Each branch refuses an empty value itself, so an unknown type is IOCB_EUNSUPPORTED whatever its value. */
	for (size_t i = 0; i < sizeof(PLAIN) / sizeof(PLAIN[0]); i++)
		if (iocb_str_eq_c(type, PLAIN[i].misp))
			return value.len ? put_cmp(b, PLAIN[i].path, value) : IOCB_EINVAL;
	if (iocb_str_eq_c(type, "ip-src") || iocb_str_eq_c(type, "ip-dst") || iocb_str_eq_c(type, "ip"))
		return put_ip(b, value);
	if (iocb_str_eq_c(type, "AS"))
		return put_as(b, value);
	h = hash_find(type);
	if (h)
		return put_hash(b, "file", h, value);
	if (iocb_str_starts_with(type, IOCB_STR_LIT("x509-fingerprint-"))) {
		h = hash_find(iocb_str_make(type.ptr + 17, type.len - 17));
		if (!h || h->hexlen == 0)
			return IOCB_EUNSUPPORTED;
		return put_hash(b, "x509-certificate", h, value);
	}
	/* Composites from here on: two non-empty parts. */
	bool composite = memchr(type.ptr, '|', type.len) || iocb_str_eq_c(type, "malware-sample");
	if (!composite)
		return IOCB_EUNSUPPORTED;
	bool filename_hash = iocb_str_starts_with(type, IOCB_STR_LIT("filename|"));
	h = filename_hash ? hash_find(iocb_str_make(type.ptr + 9, type.len - 9))
			  : iocb_str_eq_c(type, "malware-sample") ? hash_find(IOCB_STR_LIT("md5")) : NULL;
	if (filename_hash && !h)
		return IOCB_EUNSUPPORTED;
	if (!iocb_str_eq_c(type, "domain|ip") && !iocb_str_eq_c(type, "ip-src|port") &&
	    !iocb_str_eq_c(type, "ip-dst|port") && !iocb_str_eq_c(type, "hostname|port") && !h)
		return IOCB_EUNSUPPORTED;
	if (!bar || !p0.len || !p1.len)
		return IOCB_EINVAL;
	if (h) {
		rc = put_cmp(b, "file:name", p0);
		if (rc == IOCB_OK)
			rc = iocb_buf_append_c(b, " AND ");
		return rc == IOCB_OK ? put_hash(b, "file", h, p1) : rc;
	}
	if (iocb_str_eq_c(type, "domain|ip")) {
		bool v6, cidr;
		if (!ip_parse(p1, &v6, &cidr) || cidr)
			return IOCB_EINVAL;
		rc = put_cmp(b, "domain-name:value", p0);
		return rc == IOCB_OK ? put_cmp(b, " AND domain-name:resolves_to_refs[*].value", p1) : rc;
	}
	if (iocb_str_eq_c(type, "hostname|port"))
		return put_host_port(b, "dst", p0, p1, false);
	return put_host_port(b, iocb_str_eq_c(type, "ip-src|port") ? "src" : "dst", p0, p1, true);
}

int iocb_render_stix_pattern(struct iocb_buf *out, struct iocb_str type, struct iocb_str value)
{
	size_t start = out->len;
	int rc = iocb_buf_putc(out, '[');

	if (rc == IOCB_OK)
		rc = pattern_body(out, type, value);
	if (rc == IOCB_OK)
		rc = iocb_buf_putc(out, ']');
	if (rc != IOCB_OK) {
		out->len = start;
		if (out->ptr)
			out->ptr[start] = '\0';
	}
	return rc;
}

/* ------------------------------------------------------------ indicator */

/* STIX timestamps: UTC, milliseconds, 'Z' ("2023-11-14T22:13:21.000Z"). */
static void jw_stix_time(struct iocb_jw *w, int64_t us)
{
	char buf[IOCB_TIME_ISO_MAX];
	size_t n = iocb_time_iso8601_us(buf, sizeof(buf), us, IOCB_TIME_MS_Z);

	iocb_jw_str(w, iocb_str_make(buf, n));
}

static void write_misp_props(struct iocb_jw *w, const struct iocb_store_attr *a, const struct iocb_store_attr_view *av)
{
	struct iocb_store_event_view ev;
	struct iocb_str tlp;

	if (av->event)
		iocb_store_event_view(av->event, &ev);
	tlp = iocb_store_attr_tlp(a);
	iocb_jw_key(w, "x_misp_category");
	iocb_jw_str(w, av->category);
	if (av->event) {
		iocb_jw_key(w, "x_misp_event_info");
		iocb_jw_str(w, ev.info);
		if (ev.uuid[0]) {
			iocb_jw_key(w, "x_misp_event_uuid");
			iocb_jw_cstr(w, ev.uuid);
		}
	}
	iocb_jw_key(w, "x_misp_tags");
	iocb_jw_arr(w);
	for (size_t i = 0; i < av->ntags; i++)
		iocb_jw_str(w, iocb_store_attr_tag(a, i));
	for (size_t i = 0; av->event && i < ev.ntags; i++)
		iocb_jw_str(w, iocb_store_event_tag(av->event, i));
	iocb_jw_arr_end(w);
	if (tlp.len) {
		iocb_jw_key(w, "x_misp_tlp");
		iocb_jw_str(w, tlp);
	}
	iocb_jw_key(w, "x_misp_to_ids");
	iocb_jw_bool(w, av->to_ids);
	iocb_jw_key(w, "x_misp_type");
	iocb_jw_cstr(w, av->type ? av->type->name : "");
}

int iocb_render_stix_indicator(struct iocb_jw *w, const struct iocb_store_attr *a,
			       const struct iocb_render_stix_opts *opts, struct iocb_buf *scratch)
{
	struct iocb_store_attr_view av;
	char id[64];
	int64_t ts_us, from_us;
	int rc;

	iocb_store_attr_view(a, &av);
	iocb_buf_reset(scratch);
	rc = iocb_render_stix_pattern(scratch, iocb_str_c(av.type ? av.type->name : ""), av.value);
	if (rc != IOCB_OK)
		return rc;
	ts_us = (int64_t)(av.timestamp > (uint64_t)INT64_MAX / 1000000 ? 0 : av.timestamp) * 1000000;
	from_us = av.first_seen_us != INT64_MIN ? av.first_seen_us : ts_us;
	memcpy(id, "indicator--", 11); /* not snprintf: this runs for every change the bus publishes */
	memcpy(id + 11, av.uuid, sizeof(av.uuid)); /* NUL-terminated */

	iocb_jw_obj(w);
	iocb_jw_key(w, "type");
	iocb_jw_cstr(w, "indicator");
	iocb_jw_key(w, "spec_version");
	iocb_jw_cstr(w, "2.1");
	iocb_jw_key(w, "id");
	iocb_jw_cstr(w, id);
	iocb_jw_key(w, "created");
	jw_stix_time(w, ts_us);
	iocb_jw_key(w, "modified");
	jw_stix_time(w, opts && opts->modified_us ? opts->modified_us : ts_us);
	iocb_jw_key(w, "pattern");
	iocb_jw_str(w, iocb_buf_str(scratch));
	iocb_jw_key(w, "pattern_type");
	iocb_jw_cstr(w, "stix");
	iocb_jw_key(w, "pattern_version");
	iocb_jw_cstr(w, "2.1");
	iocb_jw_key(w, "valid_from");
	jw_stix_time(w, from_us);
	if (av.last_seen_us != INT64_MIN && av.last_seen_us > from_us) {
		iocb_jw_key(w, "valid_until");
		jw_stix_time(w, av.last_seen_us);
	}
	write_misp_props(w, a, &av);
	if (opts && opts->remove) {
		iocb_jw_key(w, "x_threatbus_update");
		iocb_jw_cstr(w, "REMOVE");
	}
	iocb_jw_obj_end(w);
	return IOCB_OK;
}

/* ------------------------------------------------------------ 2020.12 */

/*
 * Threat Bus 2020.12's IntelType (threatbus.md §1.3), numbered from 1 in
 * this order; NULL marks a number whose MISP type is given by a later entry.
 */
static const char *const INTEL_TYPES[] = {
	"ip-src", "ip-dst", "ip-src|port", "ip-dst|port",                                    /* 1-4 */
	"email-src", "email-dst", "target-email", "email-attachment",                        /* 5-8 */
	"filename", "hostname", "domain", "domain|ip", "url", NULL, "user-agent",             /* 9-15 */
	"md5", "malware-sample", "filename|md5", "sha1", "filename|sha1", "sha256",          /* 16-21 */
	"filename|sha256", "x509-fingerprint-sha1", "pdb", "authentihash", "ssdeep",         /* 22-26 */
	"imphash", "pehash", "impfuzzy", "sha224", "sha384", "sha512", "sha512/224",         /* 27-33 */
	"sha512/256", "tlsh", "cdhash", "filename|authentihash", "filename|ssdeep",         /* 34-38 */
	"filename|imphash", "filename|pehash", "filename|impfuzzy", "filename|sha224",       /* 39-42 */
	"filename|sha384", "filename|sha512", "filename|sha512/224", "filename|sha512/256", /* 43-46 */
	"filename|tlsh",                                                                     /* 47 */
};

static unsigned intel_type(struct iocb_str type)
{
	if (iocb_str_eq_c(type, "uri")) /* Threat Bus maps uri to URL (13), never to URI (14) */
		return 13;
	for (size_t i = 0; i < sizeof(INTEL_TYPES) / sizeof(INTEL_TYPES[0]); i++)
		if (INTEL_TYPES[i] && iocb_str_eq_c(type, INTEL_TYPES[i]))
			return (unsigned)i + 1;
	return 0;
}

/* Python's str() of an aware UTC datetime: "2023-11-14 22:13:21+00:00". */
static void jw_py_time(struct iocb_jw *w, uint64_t sec)
{
	char buf[IOCB_TIME_ISO_MAX];
	size_t n = iocb_time_iso8601(buf, sizeof(buf), (int64_t)(sec > (uint64_t)INT64_MAX ? 0 : sec), 0,
				     IOCB_TIME_US_OFFSET);
	char *dot = n ? memchr(buf, '.', n) : NULL;

	/* Python prints no fraction when it is zero, and a space for the 'T'. */
	if (dot && n >= 7 && memcmp(dot, ".000000", 7) == 0) {
		memmove(dot, dot + 7, n - (size_t)(dot - buf) - 7);
		n -= 7;
	}
	if (n > 10 && buf[10] == 'T')
		buf[10] = ' ';
	iocb_jw_str(w, iocb_str_make(buf, n));
}

int iocb_render_tb2020_intel(struct iocb_jw *w, const struct iocb_store_attr *a, bool remove)
{
	struct iocb_store_attr_view av;
	struct iocb_str type;
	unsigned it;
	const char *bar = NULL;

	iocb_store_attr_view(a, &av);
	type = iocb_str_c(av.type ? av.type->name : "");
	it = intel_type(type);
	if (!it)
		return IOCB_EUNSUPPORTED;
	if (memchr(type.ptr, '|', type.len)) {
		bar = memchr(av.value.ptr, '|', av.value.len);
		if (!bar) /* Threat Bus drops a composite that is not two parts */
			return IOCB_EINVAL;
	}

	iocb_jw_obj(w);
	iocb_jw_key(w, "ts");
	jw_py_time(w, av.timestamp);
	iocb_jw_key(w, "id");
	iocb_jw_cstr(w, av.uuid);
	iocb_jw_key(w, "data");
	iocb_jw_obj(w);
	iocb_jw_key(w, "indicator");
	iocb_jw_arr(w);
	if (bar) {
		iocb_jw_str(w, iocb_str_make(av.value.ptr, (size_t)(bar - av.value.ptr)));
		iocb_jw_str(w, iocb_str_make(bar + 1, av.value.len - (size_t)(bar - av.value.ptr) - 1));
	} else {
		iocb_jw_str(w, av.value);
	}
	iocb_jw_arr_end(w);
	iocb_jw_key(w, "intel_type");
	iocb_jw_u64(w, it);
	iocb_jw_key(w, "source");
	iocb_jw_cstr(w, "MISP");
	iocb_jw_obj_end(w);
	iocb_jw_key(w, "operation");
	iocb_jw_cstr(w, remove ? "REMOVE" : "ADD");
	iocb_jw_obj_end(w);
	return IOCB_OK;
}
