/* SPDX-License-Identifier: Apache-2.0 */
/* Field maps: the built-in presets, configured fields, and the compiled path table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/str.h"
#include "enrich/internal.h"

#define B(p) (1u << (p))
#define ECS B(IOCB_PRESET_ECS)
#define SUR B(IOCB_PRESET_SURICATA)
#define ZEEK B(IOCB_PRESET_ZEEK)
#define ALL_PRESETS (ECS | SUR | ZEEK)

static const char *const kind_names[IOCB_EK__COUNT] = {
	[IOCB_EK_NONE] = "none",         [IOCB_EK_IP] = "ip",
	[IOCB_EK_DOMAIN] = "domain",     [IOCB_EK_HOST] = "host",
	[IOCB_EK_URL] = "url",           [IOCB_EK_URI] = "uri",
	[IOCB_EK_HASH] = "hash",         [IOCB_EK_EMAIL] = "email",
	[IOCB_EK_TLS_FP] = "tls_fp",     [IOCB_EK_X509] = "x509",
	[IOCB_EK_USER_AGENT] = "user_agent", [IOCB_EK_ASN] = "asn",
	[IOCB_EK_MAC] = "mac",           [IOCB_EK_FILENAME] = "filename",
	[IOCB_EK_PORT] = "port",
};

static const char *const preset_names[IOCB_PRESET__COUNT] = {"ecs", "suricata", "zeek", "auto", "none"};

const char *iocb_enrich_kind_name(enum iocb_enrich_kind k)
{
	return (unsigned)k < IOCB_EK__COUNT ? kind_names[k] : NULL;
}

const char *iocb_enrich_preset_name(enum iocb_enrich_preset p)
{
	return (unsigned)p < IOCB_PRESET__COUNT ? preset_names[p] : NULL;
}

int iocb_enrich_preset_parse(const char *name, enum iocb_enrich_preset *out)
{
	for (unsigned i = 0; i < IOCB_PRESET__COUNT; i++)
		if (name && strcmp(name, preset_names[i]) == 0) {
			*out = (enum iocb_enrich_preset)i;
			return IOCB_OK;
		}
	return IOCB_EINVAL;
}

/* One built-in field. */
struct preset_field {
	const char *path;
	enum iocb_enrich_kind kind;
	const char *pair;
	unsigned presets;
};

/*
 * The presets. ECS follows the fields Elastic's indicator match rules and
 * Kibana's enrichment map use (reference/elastic.md §3.3-3.4); Suricata
 * covers EVE's DNS formats v1 (dns.rrname/rdata) and v2 (dns.queries[],
 * dns.answers[], dns.grouped); Zeek uses its flat dotted connection keys.
 */
static const struct preset_field preset_fields[] = {
	/* ECS */
	{"source.ip", IOCB_EK_IP, "source.port", ECS},
	{"destination.ip", IOCB_EK_IP, "destination.port", ECS},
	{"client.ip", IOCB_EK_IP, "client.port", ECS},
	{"server.ip", IOCB_EK_IP, "server.port", ECS},
	{"dns.resolved_ip", IOCB_EK_IP, NULL, ECS},
	{"destination.domain", IOCB_EK_DOMAIN, NULL, ECS},
	{"source.domain", IOCB_EK_DOMAIN, NULL, ECS},
	{"client.domain", IOCB_EK_DOMAIN, NULL, ECS},
	{"server.domain", IOCB_EK_DOMAIN, NULL, ECS},
	{"url.domain", IOCB_EK_DOMAIN, NULL, ECS},
	{"dns.question.name", IOCB_EK_DOMAIN, NULL, ECS},
	{"dns.answers.data", IOCB_EK_HOST, NULL, ECS},
	{"tls.client.server_name", IOCB_EK_DOMAIN, NULL, ECS},
	{"url.full", IOCB_EK_URL, NULL, ECS},
	{"url.original", IOCB_EK_URL, NULL, ECS},
	{"file.hash.md5", IOCB_EK_HASH, NULL, ECS},
	{"file.hash.sha1", IOCB_EK_HASH, NULL, ECS},
	{"file.hash.sha256", IOCB_EK_HASH, NULL, ECS},
	{"file.hash.sha384", IOCB_EK_HASH, NULL, ECS},
	{"file.hash.sha512", IOCB_EK_HASH, NULL, ECS},
	{"file.pe.imphash", IOCB_EK_HASH, NULL, ECS},
	{"process.hash.md5", IOCB_EK_HASH, NULL, ECS},
	{"process.hash.sha1", IOCB_EK_HASH, NULL, ECS},
	{"process.hash.sha256", IOCB_EK_HASH, NULL, ECS},
	{"process.hash.sha384", IOCB_EK_HASH, NULL, ECS},
	{"process.hash.sha512", IOCB_EK_HASH, NULL, ECS},
	{"process.pe.imphash", IOCB_EK_HASH, NULL, ECS},
	{"dll.hash.md5", IOCB_EK_HASH, NULL, ECS},
	{"dll.hash.sha1", IOCB_EK_HASH, NULL, ECS},
	{"dll.hash.sha256", IOCB_EK_HASH, NULL, ECS},
	{"dll.hash.sha384", IOCB_EK_HASH, NULL, ECS},
	{"dll.hash.sha512", IOCB_EK_HASH, NULL, ECS},
	{"dll.pe.imphash", IOCB_EK_HASH, NULL, ECS},
	{"email.from.address", IOCB_EK_EMAIL, NULL, ECS},
	{"email.to.address", IOCB_EK_EMAIL, NULL, ECS},
	{"email.sender.address", IOCB_EK_EMAIL, NULL, ECS},
	{"email.reply_to.address", IOCB_EK_EMAIL, NULL, ECS},
	{"tls.client.ja3", IOCB_EK_TLS_FP, NULL, ECS},
	{"tls.server.ja3s", IOCB_EK_TLS_FP, NULL, ECS},
	{"tls.server.hash.md5", IOCB_EK_X509, NULL, ECS},
	{"tls.server.hash.sha1", IOCB_EK_X509, NULL, ECS},
	{"tls.server.hash.sha256", IOCB_EK_X509, NULL, ECS},
	{"user_agent.original", IOCB_EK_USER_AGENT, NULL, ECS},
	{"source.as.number", IOCB_EK_ASN, NULL, ECS},
	{"destination.as.number", IOCB_EK_ASN, NULL, ECS},
	{"source.mac", IOCB_EK_MAC, NULL, ECS},
	{"destination.mac", IOCB_EK_MAC, NULL, ECS},
	/* Suricata EVE */
	{"src_ip", IOCB_EK_IP, "src_port", SUR},
	{"dest_ip", IOCB_EK_IP, "dest_port", SUR},
	{"dns.rrname", IOCB_EK_DOMAIN, NULL, SUR},
	{"dns.rdata", IOCB_EK_HOST, NULL, SUR},
	{"dns.queries.rrname", IOCB_EK_DOMAIN, NULL, SUR},
	{"dns.query.rrname", IOCB_EK_DOMAIN, NULL, SUR}, /* alert events carry the query list */
	{"dns.answers.rrname", IOCB_EK_DOMAIN, NULL, SUR},
	{"dns.answers.rdata", IOCB_EK_HOST, NULL, SUR},
	{"dns.grouped.A", IOCB_EK_IP, NULL, SUR},
	{"dns.grouped.AAAA", IOCB_EK_IP, NULL, SUR},
	{"dns.grouped.CNAME", IOCB_EK_DOMAIN, NULL, SUR},
	{"http.hostname", IOCB_EK_HOST, NULL, SUR},
	{"http.url", IOCB_EK_URI, "http.hostname", SUR},
	{"http.http_user_agent", IOCB_EK_USER_AGENT, NULL, SUR},
	{"tls.sni", IOCB_EK_DOMAIN, NULL, SUR},
	{"tls.ja3.hash", IOCB_EK_TLS_FP, NULL, SUR},
	{"tls.ja3s.hash", IOCB_EK_TLS_FP, NULL, SUR},
	{"tls.fingerprint", IOCB_EK_X509, NULL, SUR},
	{"quic.sni", IOCB_EK_DOMAIN, NULL, SUR},
	{"fileinfo.md5", IOCB_EK_HASH, NULL, SUR},
	{"fileinfo.sha1", IOCB_EK_HASH, NULL, SUR},
	{"fileinfo.sha256", IOCB_EK_HASH, NULL, SUR},
	{"email.from", IOCB_EK_EMAIL, NULL, SUR},
	{"email.to", IOCB_EK_EMAIL, NULL, SUR},
	/* Zeek JSON */
	{"id.orig_h", IOCB_EK_IP, "id.orig_p", ZEEK},
	{"id.resp_h", IOCB_EK_IP, "id.resp_p", ZEEK},
	{"query", IOCB_EK_DOMAIN, NULL, ZEEK},
	{"answers", IOCB_EK_HOST, NULL, ZEEK},
	{"host", IOCB_EK_HOST, NULL, ZEEK},
	{"uri", IOCB_EK_URI, "host", ZEEK},
	{"user_agent", IOCB_EK_USER_AGENT, NULL, ZEEK},
	{"server_name", IOCB_EK_DOMAIN, NULL, ZEEK},
	{"ja3", IOCB_EK_TLS_FP, NULL, ZEEK},
	{"ja3s", IOCB_EK_TLS_FP, NULL, ZEEK},
	{"md5", IOCB_EK_HASH, NULL, ZEEK},
	{"sha1", IOCB_EK_HASH, NULL, ZEEK},
	{"sha256", IOCB_EK_HASH, NULL, ZEEK},
	{"tx_hosts", IOCB_EK_IP, NULL, ZEEK},
	{"rx_hosts", IOCB_EK_IP, NULL, ZEEK},
	{"mailfrom", IOCB_EK_EMAIL, NULL, ZEEK},
	{"rcptto", IOCB_EK_EMAIL, NULL, ZEEK},
	{"fingerprint", IOCB_EK_X509, NULL, ZEEK},
};

/* Keys that tell the formats apart for `auto`. */
static const struct {
	const char *path;
	unsigned preset;
} markers[] = {
	{"event_type", SUR}, {"flow_id", SUR},   {"src_ip", SUR},       {"dest_ip", SUR},
	{"_path", ZEEK},     {"uid", ZEEK},      {"id.orig_h", ZEEK},   {"id.resp_h", ZEEK},
	{"_write_ts", ZEEK}, {"@timestamp", ECS}, {"ecs.version", ECS},
};

size_t iocb_enrich_map_nfields(const struct iocb_enrich_map *m)
{
	return m->nfields;
}

void iocb_enrich_map_field(const struct iocb_enrich_map *m, size_t i, struct iocb_enrich_field_info *out)
{
	const struct iocb_enrich__field *f = &m->fields[i];

	out->path = f->path;
	out->kind = f->kind;
	out->pair = f->pair;
	out->presets = f->presets;
}

static int field_index(const struct iocb_enrich_map *m, const char *path)
{
	for (size_t i = 0; i < m->nfields; i++)
		if (strcmp(m->fields[i].path, path) == 0)
			return (int)i;
	return -1;
}

static void field_fini(struct iocb_enrich__field *f)
{
	free(f->path);
	free(f->pair);
}

static void field_remove(struct iocb_enrich_map *m, size_t i)
{
	field_fini(&m->fields[i]);
	memmove(&m->fields[i], &m->fields[i + 1], (m->nfields - i - 1) * sizeof(m->fields[0]));
	m->nfields--;
}

static bool path_ok(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > IOCB_ENRICH_MAX_PATH || p[0] == '.' || p[n - 1] == '.' || strstr(p, ".."))
		return false;
	return true;
}

/* Add or replace a field; later definitions of a path replace earlier ones. */
static int field_set(struct iocb_enrich_map *m, const char *path, enum iocb_enrich_kind kind, const char *pair,
		     unsigned presets, struct iocb_err *err)
{
	int i = field_index(m, path);
	struct iocb_enrich__field f = {0};

	if (i >= 0 && m->fields[i].kind == kind && presets != ALL_PRESETS &&
	    ((m->fields[i].pair == NULL) == (pair == NULL)) && (!pair || strcmp(pair, m->fields[i].pair) == 0)) {
		m->fields[i].presets |= presets; /* the same field in two presets */
		return IOCB_OK;
	}
	if (i >= 0)
		field_remove(m, (size_t)i);
	if (kind == IOCB_EK_NONE)
		return IOCB_OK;
	if (m->nfields >= IOCB_ENRICH_MAX_FIELDS)
		return iocb_err_set(err, IOCB_ELIMIT, "enrich.fields: more than %d fields", IOCB_ENRICH_MAX_FIELDS);
	f.path = strdup(path);
	f.pair = pair ? strdup(pair) : NULL;
	f.kind = kind;
	f.pair_slot = -1;
	f.presets = presets;
	if (!f.path || (pair && !f.pair)) {
		field_fini(&f);
		return iocb_err_set(err, IOCB_ENOMEM, "out of memory");
	}
	m->fields[m->nfields++] = f;
	return IOCB_OK;
}

static int parse_kind(const char *path, const char *word, enum iocb_enrich_kind *out, struct iocb_err *err)
{
	const char *best = NULL;
	unsigned best_d = 3;

	for (unsigned k = 0; k < IOCB_EK__COUNT; k++) {
		unsigned d = iocb_str_distance(word, strlen(word), kind_names[k], strlen(kind_names[k]), 2);
		if (d == 0) {
			*out = (enum iocb_enrich_kind)k;
			return IOCB_OK;
		}
		if (d < best_d) {
			best_d = d;
			best = kind_names[k];
		}
	}
	if (best)
		return iocb_err_set(err, IOCB_ECONFIG, "enrich.fields.%s: unknown kind '%s' (did you mean '%s'?)", path,
				    word, best);
	return iocb_err_set(err, IOCB_ECONFIG,
			    "enrich.fields.%s: unknown kind '%s' (kinds: ip, domain, host, url, uri, hash, email, "
			    "tls_fp, x509, user_agent, asn, mac, filename, port, none)",
			    path, word);
}

/* The comma-separated item at spec[*pos..], blanks trimmed, into out (cap bytes); *pos moves past it. */
static void next_item(const char *spec, size_t *pos, char *out, size_t cap)
{
	const char *p = spec + *pos;
	const char *comma = strchr(p, ',');
	size_t n = comma ? (size_t)(comma - p) : strlen(p);

	*pos += n + (comma ? 1 : 0);
	while (n && *p == ' ')
		p++, n--;
	while (n && p[n - 1] == ' ')
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* "KIND[,port=PATH][,host=PATH]" */
static int apply_spec(struct iocb_enrich_map *m, const struct iocb_enrich_field_spec *sp, struct iocb_err *err)
{
	char tok[IOCB_ENRICH_MAX_PATH + 16], pair[IOCB_ENRICH_MAX_PATH + 16];
	enum iocb_enrich_kind kind = IOCB_EK_NONE;
	size_t pos = 0;
	bool has_pair = false;
	int rc;

	if (!sp->path || !path_ok(sp->path))
		return iocb_err_set(err, IOCB_ECONFIG, "enrich.fields: bad field path '%.80s' (dotted keys, at most %d bytes)",
				    sp->path ? sp->path : "", IOCB_ENRICH_MAX_PATH);
	if (!sp->spec || strlen(sp->spec) > 2 * IOCB_ENRICH_MAX_PATH + 32)
		return iocb_err_set(err, IOCB_ECONFIG, "enrich.fields.%s: missing or too long specification", sp->path);
	next_item(sp->spec, &pos, tok, sizeof(tok));
	if (tok[0] == '\0')
		return iocb_err_set(err, IOCB_ECONFIG, "enrich.fields.%s: empty specification", sp->path);
	rc = parse_kind(sp->path, tok, &kind, err);
	if (rc < 0)
		return rc;
	while (sp->spec[pos] != '\0') {
		next_item(sp->spec, &pos, tok, sizeof(tok));
		char *eq = strchr(tok, '=');
		if (!eq)
			return iocb_err_set(err, IOCB_ECONFIG, "enrich.fields.%s: expected port=PATH or host=PATH, got '%s'",
					    sp->path, tok);
		*eq = '\0';
		if (strcmp(tok, "port") != 0 && strcmp(tok, "host") != 0)
			return iocb_err_set(err, IOCB_ECONFIG, "enrich.fields.%s: unknown option '%s' (port, host)",
					    sp->path, tok);
		if (strcmp(tok, "port") == 0 && kind != IOCB_EK_IP)
			return iocb_err_set(err, IOCB_ECONFIG, "enrich.fields.%s: port= pairs only with kind ip", sp->path);
		if (strcmp(tok, "host") == 0 && kind != IOCB_EK_URI)
			return iocb_err_set(err, IOCB_ECONFIG, "enrich.fields.%s: host= pairs only with kind uri", sp->path);
		if (!path_ok(eq + 1))
			return iocb_err_set(err, IOCB_ECONFIG, "enrich.fields.%s: bad %s path '%s'", sp->path, tok, eq + 1);
		snprintf(pair, sizeof(pair), "%s", eq + 1);
		has_pair = true;
	}
	if (kind == IOCB_EK_PORT)
		return iocb_err_set(err, IOCB_ECONFIG,
				    "enrich.fields.%s: 'port' is not looked up by itself; pair it: ip,port=%s", sp->path,
				    sp->path);
	return field_set(m, sp->path, kind, has_pair ? pair : NULL, ALL_PRESETS, err);
}

static int tab_put(struct iocb_enrich_map *m, const char *path, uint8_t flags, int field, int pair_slot,
		   unsigned marker)
{
	size_t len = strlen(path);
	uint64_t h = iocb_enrich__hash(path, len);
	size_t i = (size_t)h & m->mask;

	for (;;) {
		struct iocb_enrich__entry *e = &m->tab[i];

		if (e->hash == 0) {
			e->hash = h;
			e->path = path;
			e->len = (uint16_t)len;
			e->field = -1;
			e->pair_slot = -1;
			break;
		}
		if (e->hash == h && e->len == len && memcmp(e->path, path, len) == 0)
			break;
		i = (i + 1) & m->mask;
	}
	m->tab[i].flags |= flags;
	m->tab[i].marker |= (uint8_t)marker;
	if (field >= 0)
		m->tab[i].field = (int16_t)field;
	if (pair_slot >= 0)
		m->tab[i].pair_slot = (int16_t)pair_slot;
	return IOCB_OK;
}

/* Intern a prefix string (owned by the map). */
static const char *intern(struct iocb_enrich_map *m, const char *p, size_t n)
{
	for (size_t i = 0; i < m->nstrings; i++)
		if (strlen(m->strings[i]) == n && memcmp(m->strings[i], p, n) == 0)
			return m->strings[i];
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	m->strings[m->nstrings++] = s;
	return s;
}

/* Every proper prefix of path ("a", "a.b" for "a.b.c") becomes a PREFIX entry. */
static int put_prefixes(struct iocb_enrich_map *m, const char *path)
{
	for (const char *d = strchr(path, '.'); d; d = strchr(d + 1, '.')) {
		const char *s = intern(m, path, (size_t)(d - path));
		if (!s)
			return IOCB_ENOMEM;
		tab_put(m, s, IOCB_EF_PREFIX, -1, -1, 0);
	}
	return IOCB_OK;
}

static size_t count_dots(const char *p)
{
	size_t n = 0;

	for (; *p; p++)
		n += *p == '.';
	return n;
}

static int compile(struct iocb_enrich_map *m, bool with_markers, struct iocb_err *err)
{
	/* Entries: every path, every pair path, every prefix of them, the markers. */
	size_t nent = 0, size = 64;
	int rc;

	for (size_t i = 0; i < m->nfields; i++) {
		nent += 1 + count_dots(m->fields[i].path);
		if (m->fields[i].pair)
			nent += 1 + count_dots(m->fields[i].pair);
	}
	nent += 2 * (sizeof(markers) / sizeof(markers[0]));
	while (size < 2 * nent)
		size <<= 1;
	m->tab = calloc(size, sizeof(*m->tab));
	m->strings = calloc(nent + 1, sizeof(char *));
	if (!m->tab || !m->strings)
		return iocb_err_set(err, IOCB_ENOMEM, "out of memory");
	m->mask = size - 1;
	for (size_t i = 0; i < m->nfields; i++) {
		struct iocb_enrich__field *f = &m->fields[i];

		tab_put(m, f->path, IOCB_EF_FIELD, (int)i, -1, 0);
		rc = put_prefixes(m, f->path);
		if (rc < 0)
			return iocb_err_set(err, rc, "out of memory");
		if (!f->pair)
			continue;
		/* Fields sharing a pair path share its slot. */
		for (size_t j = 0; j < i; j++)
			if (m->fields[j].pair && strcmp(m->fields[j].pair, f->pair) == 0)
				f->pair_slot = m->fields[j].pair_slot;
		if (f->pair_slot < 0)
			f->pair_slot = (int)m->npairs++;
		tab_put(m, f->pair, IOCB_EF_PAIR, -1, f->pair_slot, 0);
		rc = put_prefixes(m, f->pair);
		if (rc < 0)
			return iocb_err_set(err, rc, "out of memory");
	}
	if (with_markers)
		for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
			tab_put(m, markers[i].path, IOCB_EF_MARKER, -1, -1, markers[i].preset);
			rc = put_prefixes(m, markers[i].path);
			if (rc < 0)
				return iocb_err_set(err, rc, "out of memory");
		}
	return IOCB_OK;
}

int iocb_enrich_map_new(enum iocb_enrich_preset preset, const struct iocb_enrich_field_spec *extra, size_t nextra,
			struct iocb_enrich_map **out, struct iocb_err *err)
{
	struct iocb_enrich_map *m = calloc(1, sizeof(*m));
	unsigned want;
	int rc;

	*out = NULL;
	if (!m)
		return iocb_err_set(err, IOCB_ENOMEM, "out of memory");
	m->fields = calloc(IOCB_ENRICH_MAX_FIELDS, sizeof(*m->fields));
	if (!m->fields) {
		rc = iocb_err_set(err, IOCB_ENOMEM, "out of memory");
		goto fail;
	}
	m->preset = preset;
	switch (preset) {
	case IOCB_PRESET_ECS:
	case IOCB_PRESET_SURICATA:
	case IOCB_PRESET_ZEEK:
		want = B(preset);
		break;
	case IOCB_PRESET_AUTO:
		want = ALL_PRESETS;
		m->auto_detect = true;
		break;
	case IOCB_PRESET_NONE:
		want = 0;
		break;
	default:
		rc = iocb_err_set(err, IOCB_EINVAL, "unknown preset %d", (int)preset);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(preset_fields) / sizeof(preset_fields[0]); i++) {
		const struct preset_field *pf = &preset_fields[i];
		if (!(pf->presets & want))
			continue;
		rc = field_set(m, pf->path, pf->kind, pf->pair, pf->presets & want, err);
		if (rc < 0)
			goto fail;
	}
	for (size_t i = 0; i < nextra; i++) {
		rc = apply_spec(m, &extra[i], err);
		if (rc < 0)
			goto fail;
	}
	rc = compile(m, m->auto_detect, err);
	if (rc < 0)
		goto fail;
	*out = m;
	return IOCB_OK;
fail:
	iocb_enrich_map_free(m);
	return rc;
}

void iocb_enrich_map_free(struct iocb_enrich_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nfields; i++)
		field_fini(&m->fields[i]);
	for (size_t i = 0; i < m->nstrings; i++)
		free(m->strings[i]);
	free(m->strings);
	free(m->fields);
	free(m->tab);
	free(m);
}
