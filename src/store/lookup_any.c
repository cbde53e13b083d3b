/* SPDX-License-Identifier: Apache-2.0 */
/*
 * iocb_store_lookup_any(): look a raw, user-typed value up under every class
 * it could plausibly belong to. Used by the CLI and the HTTP lookup, not by
 * the log pipeline (which knows its field classes), so clarity beats speed.
 *
 * Detection, in order (a value may match several):
 *   - IP address or CIDR text: exact address plus containing prefixes; for a
 *     CIDR, the prefix itself plus the stored prefixes containing it;
 *   - hex of a hash length (32/40/56/64/96/128): hash, plus JA3/JARM/hassh
 *     (tls_fp) and x509 fingerprints for the lengths those use;
 *   - contains '@': e-mail;
 *   - contains "://": URL (as given);
 *   - dotted host name: domain;
 *   - AS number ("AS1234" or digits): asn; MAC address: mac;
 *   - anything else: filename and user agent, as given.
 * Normalisation is MISP's (iocb_misp_normalize), so "EXAMPLE.com." finds
 * the stored "example.com". In its own file because it links the misp
 * module's normaliser, which the rest of the store does not need.
 */
#include "store/store.h"

#include "store/internal.h"

static size_t try_class(const struct iocb_store *s, enum iocb_match_class mc, enum iocb_norm norm, struct iocb_str raw,
			struct iocb_store_hit *out, size_t max, size_t n)
{
	char buf[1024];
	size_t len = 0;
	struct iocb_str v = raw;

	if (norm != IOCB_NORM_NONE) {
		if (iocb_misp_normalize(norm, raw, buf, sizeof(buf), &len, NULL) < 0)
			return n;
		v = iocb_str_make(buf, len);
	}
	return n + iocb_store_lookup(s, mc, v, n < max ? out + n : out, n < max ? max - n : 0);
}

static bool all_hex(struct iocb_str v)
{
	for (size_t i = 0; i < v.len; i++) {
		char c = v.ptr[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return v.len > 0;
}

static bool looks_domain(struct iocb_str v)
{
	bool dot = false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.ptr[i];
		if (c == '.')
			dot = true;
		else if (!(c >= 0x80 || c == '-' || c == '_' || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
			return false;
	}
	return dot;
}

static bool looks_asn(struct iocb_str v)
{
	size_t i = 0;
	if (v.len > 2 && (v.ptr[0] | 0x20) == 'a' && (v.ptr[1] | 0x20) == 's')
		i = 2;
	if (i == v.len)
		return false;
	for (; i < v.len; i++)
		if (!((v.ptr[i] >= '0' && v.ptr[i] <= '9') || v.ptr[i] == '.'))
			return false;
	return true;
}

static bool looks_mac(struct iocb_str v)
{
	if (v.len != 17 && v.len != 23)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		char c = v.ptr[i];
		if (i % 3 == 2 ? (c != ':' && c != '-') : !all_hex(iocb_str_make(&v.ptr[i], 1)))
			return false;
	}
	return true;
}

size_t iocb_store_lookup_any(const struct iocb_store *s, struct iocb_str raw, struct iocb_store_hit *out, size_t max)
{
	struct iocb_str v = iocb_str_trim(raw);
	uint8_t addr[16];
	bool v6;
	int plen;
	size_t n = 0;

	/*
	 * No indicator contains a NUL (iocb_misp_normalize refuses them), and a
	 * value with one is not the value before it: "203.0.113.1%00x" from the
	 * HTTP lookup must not match 203.0.113.1.
	 */
	if (!v.len || memchr(v.ptr, '\0', v.len))
		return 0;
	if (iocb_store__parse_ip(v, addr, &v6, &plen)) {
		unsigned bits = v6 ? 128 : 32;
		if (plen < 0 || (unsigned)plen >= bits)
			return iocb_store_lookup_ip(s, addr, v6, out, max);
		/* a CIDR: that prefix, then the stored prefixes containing it */
		iocb_store__u128_to_ip(iocb_store__mask(iocb_store__ip_to_u128(addr, v6), v6, (unsigned)plen), v6,
				       addr);
		return iocb_store__lookup_ip(s, addr, v6, (unsigned)plen, false, out, max, 0);
	}
	if (all_hex(v)) {
		switch (v.len) {
		case 32:
			n = try_class(s, IOCB_MC_HASH, IOCB_NORM_LOWER, v, out, max, n);
			n = try_class(s, IOCB_MC_TLS_FP, IOCB_NORM_LOWER, v, out, max, n);
			n = try_class(s, IOCB_MC_X509, IOCB_NORM_X509, v, out, max, n);
			return n;
		case 40:
		case 64:
			n = try_class(s, IOCB_MC_HASH, IOCB_NORM_LOWER, v, out, max, n);
			n = try_class(s, IOCB_MC_X509, IOCB_NORM_X509, v, out, max, n);
			return n;
		case 62:
			return try_class(s, IOCB_MC_TLS_FP, IOCB_NORM_LOWER, v, out, max, n);
		case 56:
		case 96:
		case 128:
			return try_class(s, IOCB_MC_HASH, IOCB_NORM_LOWER, v, out, max, n);
		default:
			break;
		}
	}
	if (looks_mac(v))
		return try_class(s, IOCB_MC_MAC, IOCB_NORM_MAC, v, out, max, n);
	if (memchr(v.ptr, '@', v.len) && !memchr(v.ptr, ' ', v.len))
		return try_class(s, IOCB_MC_EMAIL, IOCB_NORM_LOWER, v, out, max, n);
	for (size_t i = 0; i + 3 <= v.len; i++)
		if (memcmp(v.ptr + i, "://", 3) == 0)
			return try_class(s, IOCB_MC_URL, IOCB_NORM_NONE, v, out, max, n);
	if (looks_asn(v))
		return try_class(s, IOCB_MC_ASN, IOCB_NORM_ASN, v, out, max, n);
	if (looks_domain(v)) {
		n = try_class(s, IOCB_MC_DOMAIN, IOCB_NORM_DOMAIN, v, out, max, n);
		/* "evil.exe" is a domain shape too */
		n = try_class(s, IOCB_MC_FILENAME, IOCB_NORM_NONE, v, out, max, n);
		return n;
	}
	n = try_class(s, IOCB_MC_FILENAME, IOCB_NORM_NONE, v, out, max, n);
	n = try_class(s, IOCB_MC_USER_AGENT, IOCB_NORM_NONE, v, out, max, n);
	return n;
}
