/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Value normalisation: the rewriting MISP applies to an attribute value on
 * save (AttributeValidationTool::modifyBeforeValidation), plus the validity
 * checks that decide whether a value can be indexed at all.
 *
 * Indicators from MISP are compared byte for byte with log values that the
 * matcher normalises the same way, so every normaliser here is idempotent
 * (normalising its own output gives the same bytes) and emits one canonical
 * spelling: inet_ntop for addresses, lower-case punycode for names, plain
 * decimal for numbers. Where MISP's own code is sloppier than its intent
 * (it splits "::ffff:1.2.3.4.80" at the first dot, keeps "/32" on an
 * IPv4-mapped IPv6 CIDR because the value contains a dot) we follow the
 * intent. Both functions run for every attribute of a bulk load, so they
 * write into caller buffers, never allocate (except inside libidn2 for a
 * non-ASCII label) and bound every copy by the caller's capacity: a result
 * that does not fit is IOCB_ELIMIT, a value that is wrong for its kind is
 * IOCB_EINVAL with a short reason.
 */
#include "misp/misp.h"

#include <arpa/inet.h>
#include <idn2.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "misp/internal.h"

#define DNS_NAME_MAX 253     /* longest name in dotted text form (RFC 1035) */
#define DNS_LABEL_MAX 63     /* longest label */
#define IDN_LABEL_IN_MAX 256 /* longest UTF-8 label handed to libidn2 */
#define IP_TEXT_MAX 45       /* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" */

static inline char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

static inline bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/*
 * The output being built: bytes go to p[0..cap-1), always leaving room for
 * the NUL. `full` latches once anything did not fit, so writers can append
 * unconditionally and the caller checks once.
 */
struct out {
	char *p;    /* caller's buffer */
	size_t cap; /* its size, NUL included */
	size_t len; /* bytes written, NUL excluded */
	bool full;  /* an append did not fit */
};

static void out_putc(struct out *o, char c)
{
	if (o->len + 1 >= o->cap) {
		o->full = true;
		return;
	}
	o->p[o->len++] = c;
}

static void out_put(struct out *o, const char *s, size_t n)
{
	if (n >= o->cap || o->len + n >= o->cap) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void out_put_u64(struct out *o, uint64_t v)
{
	char digits[20];
	size_t n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		out_putc(o, digits[--n]);
}

/* Finish: NUL-terminate and turn a latched overflow into IOCB_ELIMIT. */
static int out_end(struct out *o, size_t *out_len, const char **why)
{
	if (o->full) {
		*why = "value too long for the output buffer";
		if (o->cap)
			o->p[0] = '\0';
		*out_len = 0;
		return IOCB_ELIMIT;
	}
	o->p[o->len] = '\0';
	*out_len = o->len;
	return IOCB_OK;
}

/* A whole view as a decimal number with at most `maxdigits` digits. */
static bool parse_dec(struct iocb_str s, size_t maxdigits, uint64_t *v)
{
	if (s.len == 0 || s.len > maxdigits)
		return false;
	return iocb_str_to_u64(s, v);
}

static int norm_copy(struct iocb_str in, bool lower_case, struct out *o)
{
	if (lower_case) {
		for (size_t i = 0; i < in.len && !o->full; i++)
			out_putc(o, lower(in.ptr[i]));
	} else {
		out_put(o, in.ptr, in.len);
	}
	return IOCB_OK;
}

/* One non-ASCII label through libidn2 (TR46 non-transitional, then transitional). */
static int idn_label(const char *p, size_t n, struct out *o, const char **why)
{
	char tmp[IDN_LABEL_IN_MAX + 1];
	char *ace = NULL;
	int rc;

	if (n > IDN_LABEL_IN_MAX) {
		*why = "domain label too long";
		return IOCB_EINVAL;
	}
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	rc = idn2_to_ascii_8z(tmp, &ace, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		/* Names valid only under IDNA2003 rules (e.g. with symbols) still resolve. */
		idn2_free(ace);
		ace = NULL;
		rc = idn2_to_ascii_8z(tmp, &ace, IDN2_NFC_INPUT | IDN2_TRANSITIONAL);
	}
	if (rc != IDN2_OK || ace == NULL) {
		idn2_free(ace);
		*why = "not a valid internationalised domain name";
		return IOCB_EINVAL;
	}
	for (const char *c = ace; *c && !o->full; c++)
		out_putc(o, lower(*c));
	idn2_free(ace);
	return IOCB_OK;
}

/* Checks the finished ASCII name: non-empty labels of [a-z0-9_-], DNS lengths. */
static int domain_check(const char *p, size_t n, const char **why)
{
	size_t label = 0;

	if (n == 0) {
		*why = "empty domain";
		return IOCB_EINVAL;
	}
	if (n > DNS_NAME_MAX) {
		*why = "domain longer than 253 characters";
		return IOCB_EINVAL;
	}
	for (size_t i = 0; i <= n; i++) {
		char c = i < n ? p[i] : '.';

		if (c == '.') {
			if (label == 0) {
				*why = "empty label in domain";
				return IOCB_EINVAL;
			}
			label = 0;
			continue;
		}
		/* Underscores are not hostname characters but real names (_dmarc, SRV) use them. */
		if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_')) {
			*why = "invalid character in domain";
			return IOCB_EINVAL;
		}
		if (++label > DNS_LABEL_MAX) {
			*why = "domain label longer than 63 characters";
			return IOCB_EINVAL;
		}
	}
	return IOCB_OK;
}

/*
 * Lower-case, leading/trailing dots trimmed (MISP trims both), non-ASCII
 * labels to punycode. Labels are converted one by one so that an ASCII label
 * is only lower-cased and never judged by IDNA2008 rules (which reject the
 * underscores of "_dmarc.example").
 */
static int norm_domain(struct iocb_str in, struct out *o, const char **why)
{
	const char *p = in.ptr;
	size_t n = in.len;
	size_t start = o->len;
	size_t i = 0;
	int rc;

	while (n && p[0] == '.') {
		p++;
		n--;
	}
	while (n && p[n - 1] == '.')
		n--;
	if (n == 0) {
		*why = "empty domain";
		return IOCB_EINVAL;
	}
	while (i < n && !o->full) {
		const char *dot = memchr(p + i, '.', n - i);
		size_t end = dot ? (size_t)(dot - p) : n;
		bool ascii = true;

		for (size_t j = i; j < end; j++)
			if ((unsigned char)p[j] >= 0x80)
				ascii = false;
		if (ascii) {
			for (size_t j = i; j < end && !o->full; j++)
				out_putc(o, lower(p[j]));
		} else {
			rc = idn_label(p + i, end - i, o, why);
			if (rc < 0)
				return rc;
		}
		if (end < n)
			out_putc(o, '.');
		i = end + 1;
	}
	if (o->full)
		return IOCB_OK; /* out_end reports ELIMIT */
	return domain_check(o->p + start, o->len - start, why);
}

/* Canonical IPv4/IPv6; with `cidr`, also addr/prefix (full-length prefixes dropped). */
static int norm_ip(struct iocb_str in, bool cidr, struct out *o, int *prefix, const char **why)
{
	const char *slash = memchr(in.ptr, '/', in.len);
	size_t alen = slash ? (size_t)(slash - in.ptr) : in.len;
	char tmp[IP_TEXT_MAX + 1];
	char txt[INET6_ADDRSTRLEN];
	unsigned char bin[sizeof(struct in6_addr)];
	uint64_t plen = 0;
	int af;

	if (slash && !cidr) {
		*why = "CIDR prefix not allowed for this type";
		return IOCB_EINVAL;
	}
	if (slash && !parse_dec(iocb_str_make(slash + 1, in.len - alen - 1), 3, &plen)) {
		*why = "invalid CIDR prefix length";
		return IOCB_EINVAL;
	}
	if (alen == 0 || alen > IP_TEXT_MAX) {
		*why = "not an IPv4/IPv6 address";
		return IOCB_EINVAL;
	}
	memcpy(tmp, in.ptr, alen);
	tmp[alen] = '\0';
	af = memchr(tmp, ':', alen) ? AF_INET6 : AF_INET;
	/* glibc's inet_pton wants exactly four dotted decimals without leading zeros. */
	if (inet_pton(af, tmp, bin) != 1 || inet_ntop(af, bin, txt, sizeof(txt)) == NULL) {
		*why = "not an IPv4/IPv6 address";
		return IOCB_EINVAL;
	}
	if (slash && plen > (af == AF_INET ? 32u : 128u)) {
		*why = "CIDR prefix length out of range";
		return IOCB_EINVAL;
	}
	out_put(o, txt, strlen(txt));
	if (slash && plen != (af == AF_INET ? 32u : 128u)) {
		/* Host bits stay as given: MISP keeps 10.1.2.3/8 and so does the store. */
		out_putc(o, '/');
		out_put_u64(o, plen);
		*prefix = (int)plen;
	}
	return IOCB_OK;
}

static int norm_x509(struct iocb_str in, struct out *o, const char **why)
{
	size_t digits = 0;

	for (size_t i = 0; i < in.len && !o->full; i++) {
		char c = in.ptr[i];

		if (c == ':')
			continue;
		if (!is_hex(c)) {
			*why = "x509 fingerprint is not hex";
			return IOCB_EINVAL;
		}
		out_putc(o, lower(c));
		digits++;
	}
	if (digits == 0 && !o->full) {
		*why = "empty x509 fingerprint";
		return IOCB_EINVAL;
	}
	return IOCB_OK;
}

/* 48-bit MAC or EUI-64 in any of the usual spellings -> aa:bb:cc:dd:ee:ff. */
static int norm_mac(struct iocb_str in, struct out *o, const char **why)
{
	char hex[16];
	size_t n = 0;

	for (size_t i = 0; i < in.len; i++) {
		char c = in.ptr[i];

		/* MISP drops these separators wherever they are, then regroups by two. */
		if (c == ':' || c == '-' || c == '.' || c == ' ')
			continue;
		if (!is_hex(c) || n == sizeof(hex)) {
			*why = "not a MAC address";
			return IOCB_EINVAL;
		}
		hex[n++] = lower(c);
	}
	if (n != 12 && n != 16) {
		*why = "MAC address needs 12 or 16 hex digits";
		return IOCB_EINVAL;
	}
	for (size_t i = 0; i < n; i += 2) {
		if (i)
			out_putc(o, ':');
		out_put(o, hex + i, 2);
	}
	return IOCB_OK;
}

/* "AS64496", "as64496", "64496" or asdot "1.10" -> asplain decimal. */
static int norm_asn(struct iocb_str in, struct out *o, const char **why)
{
	const char *dot;
	uint64_t v, hi, lo;

	if (in.len >= 2 && lower(in.ptr[0]) == 'a' && lower(in.ptr[1]) == 's') {
		in.ptr += 2;
		in.len -= 2;
	}
	dot = in.len ? memchr(in.ptr, '.', in.len) : NULL;
	if (dot) {
		size_t hl = (size_t)(dot - in.ptr);

		if (!parse_dec(iocb_str_make(in.ptr, hl), 5, &hi) ||
		    !parse_dec(iocb_str_make(dot + 1, in.len - hl - 1), 5, &lo) || hi > 65535 ||
		    lo > 65535) {
			*why = "invalid asdot AS number";
			return IOCB_EINVAL;
		}
		v = hi * 65536 + lo;
	} else if (!parse_dec(in, 10, &v) || v > UINT32_MAX) {
		*why = "invalid AS number";
		return IOCB_EINVAL;
	}
	out_put_u64(o, v);
	return IOCB_OK;
}

static int norm_port(struct iocb_str in, struct out *o, const char **why)
{
	uint64_t v;

	if (!parse_dec(in, 5, &v) || v > 65535) {
		*why = "invalid port";
		return IOCB_EINVAL;
	}
	out_put_u64(o, v);
	return IOCB_OK;
}

/* iocb_misp_normalize() with a reason for failures. */
static int normalize(enum iocb_norm kind, struct iocb_str in, char *buf, size_t cap, size_t *out_len,
		     int *prefix, const char **why)
{
	struct out o = {buf, cap, 0, false};
	int pfx = -1;
	int rc;

	*out_len = 0;
	if (cap)
		buf[0] = '\0';
	if (in.len == 0) {
		*why = "empty value";
		return IOCB_EINVAL;
	}
	/* A NUL would silently cut the value for every C-string consumer downstream. */
	if (memchr(in.ptr, '\0', in.len)) {
		*why = "NUL byte in value";
		return IOCB_EINVAL;
	}
	switch (kind) {
	case IOCB_NORM_NONE:
		rc = norm_copy(in, false, &o);
		break;
	case IOCB_NORM_LOWER:
		rc = norm_copy(in, true, &o);
		break;
	case IOCB_NORM_DOMAIN:
		rc = norm_domain(in, &o, why);
		break;
	case IOCB_NORM_IP:
	case IOCB_NORM_IP_CIDR:
		rc = norm_ip(in, kind == IOCB_NORM_IP_CIDR, &o, &pfx, why);
		break;
	case IOCB_NORM_X509:
		rc = norm_x509(in, &o, why);
		break;
	case IOCB_NORM_MAC:
		rc = norm_mac(in, &o, why);
		break;
	case IOCB_NORM_ASN:
		rc = norm_asn(in, &o, why);
		break;
	case IOCB_NORM_PORT:
		rc = norm_port(in, &o, why);
		break;
	default:
		*why = "unknown normalisation";
		rc = IOCB_EINVAL;
		break;
	}
	if (rc < 0) {
		if (cap)
			buf[0] = '\0';
		return rc;
	}
	rc = out_end(&o, out_len, why);
	if (rc == IOCB_OK && prefix)
		*prefix = pfx;
	return rc;
}

int iocb_misp_normalize(enum iocb_norm kind, struct iocb_str in, char *out, size_t out_cap,
			size_t *out_len, int *prefix)
{
	const char *why = NULL;
	size_t len_dummy;

	if (prefix)
		*prefix = -1;
	if (out_len)
		*out_len = 0;
	if (out == NULL || out_cap == 0)
		return IOCB_ELIMIT;
	return normalize(kind, in, out, out_cap, out_len ? out_len : &len_dummy, prefix, &why);
}

/* ---------------------------------------------------------------- split */

static size_t count_char(struct iocb_str s, char c)
{
	size_t n = 0;

	for (size_t i = 0; i < s.len; i++)
		n += s.ptr[i] == c;
	return n;
}

/* First occurrence of `needle` in `s`, or NULL. */
static const char *find(struct iocb_str s, const char *needle)
{
	size_t nl = strlen(needle);

	if (s.len == 0 || nl > s.len)
		return NULL;
	return memmem(s.ptr, s.len, needle, nl);
}

/* Cut s around [sep, sep+seplen) into two views. */
static void cut(struct iocb_str s, const char *sep, size_t seplen, struct iocb_str raw[2])
{
	size_t a = (size_t)(sep - s.ptr);

	raw[0] = iocb_str_make(s.ptr, a);
	raw[1] = iocb_str_make(sep + seplen, s.len - a - seplen);
}

/*
 * The ip|port spellings MISP rewrites to "ip|port": 1.2.3.4|80, 1.2.3.4:80,
 * [v6]:80, v6|80, "v6 port 80", v6#80 and v6.80 (the last dot, so that
 * "::ffff:1.2.3.4.80" also works).
 */
static bool split_ip_port(struct iocb_str v, struct iocb_str raw[2])
{
	size_t colons = count_char(v, ':');
	const char *sep;

	if (v.len && v.ptr[0] == '[') {
		sep = find(v, "]:");
		if (sep == NULL)
			return false;
		cut(v, sep, 2, raw);
		raw[0].ptr++;
		raw[0].len--;
		return true;
	}
	if (count_char(v, '|') == 1) {
		cut(v, memchr(v.ptr, '|', v.len), 1, raw);
		return true;
	}
	if (count_char(v, '|') > 1)
		return false;
	if (colons == 1) {
		cut(v, memchr(v.ptr, ':', v.len), 1, raw);
		return true;
	}
	sep = find(v, " port ");
	if (sep) {
		cut(v, sep, 6, raw);
		return true;
	}
	if (count_char(v, '#') == 1) {
		cut(v, memchr(v.ptr, '#', v.len), 1, raw);
		return true;
	}
	if (colons >= 2) {
		for (size_t i = v.len; i > 0; i--) {
			if (v.ptr[i - 1] == '.') {
				cut(v, v.ptr + i - 1, 1, raw);
				return true;
			}
		}
	}
	return false;
}

/* hostname|port: MISP turns ':' into '|' and then wants exactly two parts. */
static bool split_host_port(struct iocb_str v, struct iocb_str raw[2])
{
	const char *sep = NULL;

	if (count_char(v, ':') + count_char(v, '|') != 1)
		return false;
	sep = memchr(v.ptr, ':', v.len);
	if (sep == NULL)
		sep = memchr(v.ptr, '|', v.len);
	cut(v, sep, 1, raw);
	return true;
}

static bool hex_ok(struct iocb_str s, unsigned want)
{
	if (s.len != want)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!is_hex(s.ptr[i]))
			return false;
	return true;
}

/*
 * Error texts leave out the type and the value: the caller has both and adds
 * them with the location ("attribute <uuid>: ip-dst value: ...").
 */
int iocb_misp_value_split(const struct iocb_misp_type *t, struct iocb_str value, char *scratch,
			  size_t scratch_cap, struct iocb_str part[2], int prefix[2], unsigned *nparts,
			  struct iocb_err *err)
{
	struct iocb_str raw[2] = {IOCB_STR_NULL, IOCB_STR_NULL};
	unsigned n = 1;
	size_t used = 0;
	const char *why = NULL;
	int rc = IOCB_OK;

	part[0] = part[1] = IOCB_STR_NULL;
	prefix[0] = prefix[1] = -1;
	*nparts = 0;
	if (t == NULL)
		return iocb_err_set(err, IOCB_EINVAL, "no attribute type");

	/* MISP trims the whole value before it looks at it (Attribute::beforeValidate). */
	while (value.len && is_space(value.ptr[0])) {
		value.ptr++;
		value.len--;
	}
	while (value.len && is_space(value.ptr[value.len - 1]))
		value.len--;

	raw[0] = value;
	if (t->composite) {
		bool ok;

		n = 2;
		if (t->norm[0] == IOCB_NORM_IP && t->norm[1] == IOCB_NORM_PORT)
			ok = split_ip_port(value, raw);
		else if (t->norm[1] == IOCB_NORM_PORT)
			ok = split_host_port(value, raw);
		else if (count_char(value, '|') == 1) {
			cut(value, memchr(value.ptr, '|', value.len), 1, raw);
			ok = true;
		} else {
			ok = false;
		}
		if (!ok) {
			rc = iocb_err_set(err, IOCB_EINVAL, "composite value must have exactly two parts");
			goto out;
		}
	}

	for (unsigned i = 0; i < n; i++) {
		size_t len = 0;
		unsigned hexlen;

		if (used >= scratch_cap) {
			rc = iocb_err_set(err, IOCB_ELIMIT, "value too long for the scratch buffer");
			goto out;
		}
		rc = normalize(t->norm[i], raw[i], scratch + used, scratch_cap - used, &len, &prefix[i],
			       &why);
		if (rc < 0) {
			rc = iocb_err_set(err, rc, "%s%s", n == 2 ? (i ? "part 2: " : "part 1: ") : "", why);
			goto out;
		}
		part[i] = iocb_str_make(scratch + used, len);
		hexlen = iocb_misp__type_hexlen(t, i);
		if (hexlen && !hex_ok(part[i], hexlen)) {
			rc = iocb_err_set(err, IOCB_EINVAL, "%sexpected %u hex digits",
					  n == 2 ? (i ? "part 2: " : "part 1: ") : "", hexlen);
			goto out;
		}
		used += len + 1;
	}
	*nparts = n;

out:
	if (rc < 0) {
		part[0] = part[1] = IOCB_STR_NULL;
		prefix[0] = prefix[1] = -1;
		*nparts = 0;
	}
	return rc;
}
