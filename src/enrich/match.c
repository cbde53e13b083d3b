/* SPDX-License-Identifier: Apache-2.0 */
/* Matching: normalise each candidate by its field's kind and look it up in the store (see engine.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/time.h"
#include "enrich/engine.h"
#include "json/json.h"
#include "json/lex.h"
#include "misp/misp.h"

/* ------------------------------------------------------------ match */

static int add_hit(struct iocb_enrich *e, const struct iocb_store_hit *h, const struct cand *c, const char *atom,
		   size_t atom_len)
{
	for (size_t i = 0; i < e->nhits; i++)
		if (e->hits[i].attr == h->attr && e->hits[i].field == c->field)
			return IOCB_OK;
	if (e->nhits >= e->o->max_hits) {
		e->st.hits_dropped++;
		return IOCB_OK;
	}
	struct mhit *m = &e->hits[e->nhits];
	m->attr = h->attr;
	m->field = c->field;
	m->mc = (uint8_t)h->mc;
	m->part = (uint8_t)h->part;
	m->prefix = h->prefix;
	m->atom_off = e->atom.len;
	m->atom_len = atom_len;
	if (iocb_buf_append(&e->atom, atom, atom_len) < 0)
		return IOCB_ENOMEM;
	e->nhits++;
	return IOCB_OK;
}

static bool parse_port(const char *s, size_t n, uint64_t *out)
{
	return iocb_str_to_u64(iocb_str_make(s, n), out) && *out <= 65535;
}

/* An ip|port indicator must agree with the event's paired port, when there is one. */
static bool port_agrees(struct iocb_enrich *e, const struct cand *c, const struct iocb_store_hit *h)
{
	const struct iocb_enrich__field *f = &e->m->fields[c->field];
	struct iocb_store_attr_view v;
	uint64_t want, got;

	iocb_store_attr_view(h->attr, &v);
	if (!v.type || !v.type->composite || v.type->mc[1] != IOCB_MC_PORT || h->part != 0 || v.nparts < 2)
		return true;
	if (f->pair_slot < 0 || !e->pairs[f->pair_slot].set)
		return true;
	const struct pairval *pv = &e->pairs[f->pair_slot];
	if (!parse_port(e->line + pv->off, pv->len, &got) || !parse_port(v.part[1].ptr, v.part[1].len, &want))
		return true;
	return got == want;
}

enum filt { F_NONE, F_PORT, F_PARENT };

static bool parent_type_ok(const struct iocb_store_hit *h)
{
	struct iocb_store_attr_view v;

	iocb_store_attr_view(h->attr, &v);
	return h->part == 0 && v.type &&
	       (strcmp(v.type->name, "domain") == 0 || strcmp(v.type->name, "domain|ip") == 0);
}

static int take_hits(struct iocb_enrich *e, const struct cand *c, size_t n, enum filt filt, const char *atom,
		     size_t atom_len)
{
	if (n > TMP_HITS)
		n = TMP_HITS;
	/* one clock read per lookup that found something: hits are rare, misses pay nothing */
	e->now_s = e->o->now_s ? e->o->now_s : iocb_time_real_us() / 1000000;
	for (size_t i = 0; i < n; i++) {
		const struct iocb_store_hit *h = &e->tmp[i];
		if (!iocb_store_attr_live(h->attr, e->now_s)) {
			struct iocb_store_quality q;
			iocb_store_attr_quality(h->attr, &q);
			if (q.wl_action == IOCB_STORE_WL_SUPPRESS) {
				e->st.suppressed_skipped++;
				if (e->o->wl) /* counted per list too */
					e->o->wl->suppressed(e->o->wl->ud, q.wl_set);
			} else {
				e->st.expired_skipped++;
			}
			continue;
		}
		if (filt == F_PORT && !port_agrees(e, c, h))
			continue;
		if (filt == F_PARENT && !parent_type_ok(h))
			continue;
		int rc = add_hit(e, h, c, atom, atom_len);
		if (rc < 0)
			return rc;
	}
	return IOCB_OK;
}

static int lookup_str(struct iocb_enrich *e, const struct cand *c, enum iocb_match_class mc, const char *key,
		      size_t klen, enum filt filt, const char *atom, size_t atom_len)
{
	size_t n;

	if (klen == 0)
		return IOCB_OK;
	e->st.lookups++;
	n = iocb_store_lookup(e->o->store, mc, iocb_str_make(key, klen), e->tmp, TMP_HITS);
	return n ? take_hits(e, c, n, filt, atom, atom_len) : IOCB_OK;
}

/* Dotted-quad IPv4 exactly as inet_pton accepts it (no leading zeros), without the copy. */
static bool parse_ip4(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0;

	for (int k = 0; k < 4; k++) {
		unsigned v = 0, digits = 0;
		if (k && (i >= n || s[i++] != '.'))
			return false;
		while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 4) {
			v = v * 10 + (unsigned)(s[i++] - '0');
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255 || (digits > 1 && s[i - digits] == '0'))
			return false;
		out[k] = (uint8_t)v;
	}
	return i == n;
}

/* Parse an address (brackets, an IPv6 zone and surrounding blanks tolerated). */
static bool parse_ip(const char *s, size_t n, uint8_t addr[16], bool *v6)
{
	char buf[64];

	if (n >= 7 && n <= 15 && parse_ip4(s, n, addr)) {
		*v6 = false;
		return true;
	}
	while (n && (*s == ' ' || *s == '['))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == ']'))
		n--;
	const char *pct = memchr(s, '%', n);
	if (pct)
		n = (size_t)(pct - s);
	/* inet_pton stops at a NUL: "1.2.3.4\0x" is not 1.2.3.4. */
	if (n == 0 || n >= sizeof(buf) || memchr(s, '\0', n))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (memchr(buf, ':', n)) {
		*v6 = true;
		return inet_pton(AF_INET6, buf, addr) == 1;
	}
	*v6 = false;
	return inet_pton(AF_INET, buf, addr) == 1;
}

static int lookup_ip_bytes(struct iocb_enrich *e, const struct cand *c, const uint8_t *addr, bool v6, const char *atom,
			   size_t atom_len)
{
	size_t n;
	int rc;

	e->st.lookups++;
	n = iocb_store_lookup_ip(e->o->store, addr, v6, e->tmp, TMP_HITS);
	rc = n ? take_hits(e, c, n, F_PORT, atom, atom_len) : IOCB_OK;
	if (rc == IOCB_OK && v6 && memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0) {
		/* An IPv4-mapped address also matches the IPv4 indicator. */
		e->st.lookups++;
		n = iocb_store_lookup_ip(e->o->store, addr + 12, false, e->tmp, TMP_HITS);
		rc = n ? take_hits(e, c, n, F_PORT, atom, atom_len) : IOCB_OK;
	}
	return rc;
}

static int lookup_norm(struct iocb_enrich *e, const struct cand *c, enum iocb_norm norm, enum iocb_match_class mc,
		       const char *v, size_t n)
{
	size_t olen;

	if (iocb_misp_normalize(norm, iocb_str_make(v, n), e->norm, NORM_CAP, &olen, NULL) < 0)
		return IOCB_OK;
	return lookup_str(e, c, mc, e->norm, olen, F_NONE, v, n);
}

/* Already in MISP's normal form: lower-case LDH labels, no leading/trailing or empty labels. */
static bool domain_is_normal(const char *v, size_t n)
{
	if (n == 0 || n > 253 || v[0] == '.' || v[n - 1] == '.' || v[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = v[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
		      (ch == '.' && v[i + 1] != '.')))
			return false;
	}
	return memchr(v, '.', n) != NULL;
}

static int lookup_domain(struct iocb_enrich *e, const struct cand *c, const char *v, size_t n)
{
	size_t olen;
	int rc;

	if (domain_is_normal(v, n) && n < NORM_CAP) {
		memcpy(e->norm, v, n); /* the common case skips the normaliser's copy and IDN checks */
		olen = n;
	} else if (iocb_misp_normalize(IOCB_NORM_DOMAIN, iocb_str_make(v, n), e->norm, NORM_CAP, &olen, NULL) < 0) {
		return IOCB_OK;
	}
	rc = lookup_str(e, c, IOCB_MC_DOMAIN, e->norm, olen, F_NONE, v, n);
	if (rc < 0 || !e->o->parent_domains)
		return rc;
	/* Parents with at least two labels: a.b.example.com -> b.example.com, example.com. */
	for (size_t i = 0; i < olen; i++) {
		if (e->norm[i] != '.')
			continue;
		const char *suf = e->norm + i + 1;
		size_t sl = olen - i - 1;
		if (!memchr(suf, '.', sl))
			break;
		rc = lookup_str(e, c, IOCB_MC_DOMAIN, suf, sl, F_PARENT, v, n);
		if (rc < 0)
			return rc;
	}
	return IOCB_OK;
}

/* An IP, or a host name with an optional :port. */
static int lookup_host(struct iocb_enrich *e, const struct cand *c, const char *v, size_t n)
{
	uint8_t addr[16];
	bool v6;

	if (parse_ip(v, n, addr, &v6))
		return lookup_ip_bytes(e, c, addr, v6, v, n);
	if (n && v[0] == '[') {
		const char *rb = memchr(v, ']', n);
		if (rb && parse_ip(v + 1, (size_t)(rb - v - 1), addr, &v6))
			return lookup_ip_bytes(e, c, addr, v6, v, n);
		return IOCB_OK;
	}
	const char *colon = memchr(v, ':', n);
	size_t hn = n;
	if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - v) - 1))
		hn = (size_t)(colon - v);
	if (hn < n && parse_ip(v, hn, addr, &v6))
		return lookup_ip_bytes(e, c, addr, v6, v, n);
	return lookup_domain(e, c, v, hn);
}

static const char *find_scheme_end(const char *v, size_t n)
{
	size_t lim = n < 32 ? n : 32;

	for (size_t i = 1; i + 2 < lim; i++) {
		char ch = v[i];
		if (ch == ':' && v[i + 1] == '/' && v[i + 2] == '/')
			return v + i + 3;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '+' ||
		      ch == '-' || ch == '.'))
			return NULL;
	}
	return NULL;
}

static int lookup_url(struct iocb_enrich *e, const struct cand *c, const char *v, size_t n)
{
	int rc = lookup_str(e, c, IOCB_MC_URL, v, n, F_NONE, v, n);
	const char *rest = find_scheme_end(v, n);

	/* A URL indicator written without its scheme ("evil.example/x") still matches. */
	if (rc == IOCB_OK && rest && rest < v + n)
		rc = lookup_str(e, c, IOCB_MC_URL, rest, n - (size_t)(rest - v), F_NONE, v, n);
	return rc;
}

static const char *decode(struct iocb_enrich *e, char *buf, uint32_t off, uint32_t len, bool escaped, size_t *out)
{
	struct iocb_json_tok t = {.type = IOCB_JSON_STR, .s = {e->line + off, len}, .escaped = escaped};

	if (!escaped) {
		*out = len;
		return e->line + off;
	}
	if (iocb_json_unescape(&t, buf, VAL_CAP, out) < 0)
		return NULL;
	/*
	 * "\u0000" is the only way a NUL gets into a value, and no indicator
	 * has one: the value is not looked up, so "203.0.113.1\u0000x" cannot
	 * match 203.0.113.1 through a C-string parse that stops at the NUL.
	 */
	if (memchr(buf, '\0', *out))
		return NULL;
	return buf;
}

/* A request path: on its own (MISP `uri`), and as http://host/path with the paired host. */
static int lookup_uri(struct iocb_enrich *e, const struct cand *c, const char *v, size_t n)
{
	const struct iocb_enrich__field *f = &e->m->fields[c->field];
	int rc;

	if (find_scheme_end(v, n))
		return lookup_url(e, c, v, n);
	rc = lookup_str(e, c, IOCB_MC_URL, v, n, F_NONE, v, n);
	if (rc < 0 || n == 0 || v[0] != '/' || f->pair_slot < 0 || !e->pairs[f->pair_slot].set)
		return rc;
	const struct pairval *pv = &e->pairs[f->pair_slot];
	size_t hl;
	const char *host = decode(e, e->hostbuf, pv->off, pv->len, pv->escaped, &hl);
	if (!host || hl == 0 || hl + n + 8 > NORM_CAP)
		return rc;
	/* "http://" + host + path; the schemeless form is the tail of the same buffer. */
	memcpy(e->norm, "http://", 7);
	memcpy(e->norm + 7, host, hl);
	memcpy(e->norm + 7 + hl, v, n);
	size_t full = 7 + hl + n;
	rc = lookup_str(e, c, IOCB_MC_URL, e->norm, full, F_NONE, e->norm, full);
	if (rc == IOCB_OK)
		rc = lookup_str(e, c, IOCB_MC_URL, e->norm + 7, full - 7, F_NONE, e->norm, full);
	return rc;
}

/* "Name <a@b>" and "<a@b>" -> a@b */
static int lookup_email(struct iocb_enrich *e, const struct cand *c, const char *v, size_t n)
{
	const char *lt = memchr(v, '<', n);
	const char *s = v;
	size_t sn = n;

	if (lt) {
		const char *gt = memchr(lt, '>', n - (size_t)(lt - v));
		if (!gt)
			return IOCB_OK;
		s = lt + 1;
		sn = (size_t)(gt - s);
	}
	while (sn && *s == ' ')
		s++, sn--;
	while (sn && s[sn - 1] == ' ')
		sn--;
	if (!memchr(s, '@', sn))
		return IOCB_OK;
	size_t olen;
	if (iocb_misp_normalize(IOCB_NORM_LOWER, iocb_str_make(s, sn), e->norm, NORM_CAP, &olen, NULL) < 0)
		return IOCB_OK;
	return lookup_str(e, c, IOCB_MC_EMAIL, e->norm, olen, F_NONE, v, n);
}

static int lookup_hex(struct iocb_enrich *e, const struct cand *c, enum iocb_match_class mc, const char *v, size_t n)
{
	if (n > NORM_CAP)
		return IOCB_OK;
	for (size_t i = 0; i < n; i++) {
		char ch = v[i];
		if (ch >= 'A' && ch <= 'F')
			ch = (char)(ch + 32);
		else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return IOCB_OK; /* not a hex digest: nothing can match */
		e->norm[i] = ch;
	}
	return lookup_str(e, c, mc, e->norm, n, F_NONE, v, n);
}

static int match_cand(struct iocb_enrich *e, const struct cand *c)
{
	const struct iocb_enrich__field *f = &e->m->fields[c->field];
	size_t n;
	const char *v = decode(e, e->val, c->off, c->len, c->escaped, &n);
	uint8_t addr[16];
	bool v6;

	if (!v || n == 0)
		return IOCB_OK;
	switch (f->kind) {
	case IOCB_EK_IP:
		if (!parse_ip(v, n, addr, &v6))
			return IOCB_OK;
		return lookup_ip_bytes(e, c, addr, v6, v, n);
	case IOCB_EK_HOST:
		return lookup_host(e, c, v, n);
	case IOCB_EK_DOMAIN:
		return lookup_domain(e, c, v, n);
	case IOCB_EK_URL:
		return lookup_url(e, c, v, n);
	case IOCB_EK_URI:
		return lookup_uri(e, c, v, n);
	case IOCB_EK_HASH:
		return lookup_hex(e, c, IOCB_MC_HASH, v, n);
	case IOCB_EK_TLS_FP:
		return lookup_norm(e, c, IOCB_NORM_LOWER, IOCB_MC_TLS_FP, v, n);
	case IOCB_EK_X509:
		return lookup_norm(e, c, IOCB_NORM_X509, IOCB_MC_X509, v, n);
	case IOCB_EK_EMAIL:
		return lookup_email(e, c, v, n);
	case IOCB_EK_USER_AGENT:
		return lookup_str(e, c, IOCB_MC_USER_AGENT, v, n, F_NONE, v, n);
	case IOCB_EK_ASN:
		return lookup_norm(e, c, IOCB_NORM_ASN, IOCB_MC_ASN, v, n);
	case IOCB_EK_MAC:
		return lookup_norm(e, c, IOCB_NORM_MAC, IOCB_MC_MAC, v, n);
	case IOCB_EK_FILENAME:
		return lookup_str(e, c, IOCB_MC_FILENAME, v, n, F_NONE, v, n);
	default:
		return IOCB_OK;
	}
}

/* Which preset this line is, from its marker keys (auto); IOCB_PRESET_AUTO if unclear. */
static enum iocb_enrich_preset line_preset(const struct iocb_enrich *e)
{
	switch (e->markers) {
	case 1u << IOCB_PRESET_ECS:
		return IOCB_PRESET_ECS;
	case 1u << IOCB_PRESET_SURICATA:
		return IOCB_PRESET_SURICATA;
	case 1u << IOCB_PRESET_ZEEK:
		return IOCB_PRESET_ZEEK;
	default:
		return IOCB_PRESET_AUTO;
	}
}

int iocb_enrich__match_line(struct iocb_enrich *e)
{
	enum iocb_enrich_preset lp = IOCB_PRESET_AUTO;
	int rc;

	e->nhits = 0;
	iocb_buf_reset(&e->atom);
	if (e->m->auto_detect) {
		lp = line_preset(e);
		e->st.by_preset[lp]++;
	} else {
		e->st.by_preset[e->m->preset]++;
	}
	for (size_t i = 0; i < e->ncands; i++) {
		const struct cand *c = &e->cands[i];
		if (e->m->auto_detect && lp != IOCB_PRESET_AUTO && !(e->m->fields[c->field].presets & (1u << lp)))
			continue;
		rc = match_cand(e, c);
		if (rc < 0)
			return rc;
	}
	return IOCB_OK;
}
