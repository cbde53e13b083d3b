/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "suricata-dataset" export (export.h; the rules are exports.md §3.2).
 * Suricata 6.0/7.0 read a dataset file with a 1024-byte fgets and always
 * drop each line's last character, so every line, the last one included,
 * ends in '\n', and a line must fit in 1023 bytes; an MD5 line must be
 * exactly 33 bytes. 8.0 parses in Rust and takes blank lines as items, so
 * nothing but items is written. Items go through the sorted line set
 * (internal.h): an unchanged store gives a byte-identical file.
 */
#include "export/internal.h"

#include <string.h>

/* Longest item line Suricata 6/7 read whole: 1024-byte fgets, less the '\n' and the NUL. */
#define SURICATA_MAX_ITEM 1022

struct suricata {
	const struct iocb_export_opts *o;
	struct iocb_export_stats *st;
	struct iocb_export__lines lines;
	enum iocb_export_dataset ds;
};

static const char *const dataset_names[] = {
	[IOCB_EXPORT_DS_STRING] = "string", [IOCB_EXPORT_DS_MD5] = "md5", [IOCB_EXPORT_DS_SHA256] = "sha256",
	[IOCB_EXPORT_DS_IPV4] = "ipv4",     [IOCB_EXPORT_DS_IP] = "ip",
};

const char *iocb_export_dataset_name(enum iocb_export_dataset t)
{
	return t > IOCB_EXPORT_DS_AUTO && t <= IOCB_EXPORT_DS_IP ? dataset_names[t] : NULL;
}

enum iocb_export_dataset iocb_export_dataset_parse(const char *name)
{
	for (int t = IOCB_EXPORT_DS_STRING; t <= IOCB_EXPORT_DS_IP; t++)
		if (strcmp(name, dataset_names[t]) == 0)
			return (enum iocb_export_dataset)t;
	return IOCB_EXPORT_DS_AUTO;
}

/* The dataset type a MISP type's values go to when none is given. */
static enum iocb_export_dataset dataset_for(const struct iocb_misp_type *t)
{
	if (t->mc[0] == IOCB_MC_IP)
		return IOCB_EXPORT_DS_IP;
	if (strcmp(t->name, "md5") == 0)
		return IOCB_EXPORT_DS_MD5;
	if (strcmp(t->name, "sha256") == 0)
		return IOCB_EXPORT_DS_SHA256;
	return IOCB_EXPORT_DS_STRING;
}

static bool all_hex(struct iocb_str s)
{
	for (size_t i = 0; i < s.len; i++)
		if (!((s.ptr[i] >= '0' && s.ptr[i] <= '9') || (s.ptr[i] >= 'a' && s.ptr[i] <= 'f')))
			return false;
	return true;
}

/* True when part i of the record seen as v is an item of dataset type ds. */
bool iocb_export__suricata_fits(enum iocb_export_dataset ds, const struct iocb_store_attr_view *v, unsigned i)
{
	enum iocb_match_class mc = v->type->mc[i];
	struct iocb_str p = v->part[i];

	if (!p.len)
		return false;
	switch (ds) {
	case IOCB_EXPORT_DS_STRING:
		/* §3.7: the buffers a string set is matched on (dns.query, tls.sni, http.host,
		 * http.user_agent, ja3.hash, http.uri). Base64 of n bytes is 4 * ceil(n / 3). */
		return (mc == IOCB_MC_DOMAIN || mc == IOCB_MC_URL || mc == IOCB_MC_USER_AGENT || mc == IOCB_MC_TLS_FP) &&
		       (p.len + 2) / 3 * 4 <= SURICATA_MAX_ITEM;
	case IOCB_EXPORT_DS_MD5:
		return mc == IOCB_MC_HASH && p.len == 32 && all_hex(p);
	case IOCB_EXPORT_DS_SHA256:
		return mc == IOCB_MC_HASH && p.len == 64 && all_hex(p);
	case IOCB_EXPORT_DS_IPV4:
		/* datasets hold single addresses: a CIDR needs iprep */
		return mc == IOCB_MC_IP && v->prefix[i] < 0 && !memchr(p.ptr, '/', p.len) && !memchr(p.ptr, ':', p.len);
	case IOCB_EXPORT_DS_IP:
		return mc == IOCB_MC_IP && v->prefix[i] < 0 && !memchr(p.ptr, '/', p.len);
	default:
		return false;
	}
}

static int suricata_one(void *ud, const struct iocb_store_attr *a)
{
	struct suricata *c = ud;
	struct iocb_store_attr_view v;
	unsigned items = 0;

	iocb_store_attr_view(a, &v);
	c->st->records++;
	if (!iocb_export_selected(c->o, &v))
		return IOCB_OK;
	c->st->selected++;
	for (unsigned i = 0; i < v.nparts && i < 2; i++) {
		size_t start = c->lines.text.len;
		int rc;

		if (!iocb_export__suricata_fits(c->ds, &v, i))
			continue;
		rc = iocb_export__suricata_item(&c->lines.text, c->ds, v.part[i]);
		if (rc == IOCB_OK && c->o->datarep)
			rc = iocb_buf_printf(&c->lines.text, ",%u", c->o->datarep);
		if (rc == IOCB_OK)
			rc = iocb_export__line_end(&c->lines, start);
		if (rc < 0)
			return rc;
		items++;
	}
	if (!items)
		c->st->skipped++;
	return IOCB_OK;
}

int iocb_export__suricata_item(struct iocb_buf *b, enum iocb_export_dataset ds, struct iocb_str p)
{
	if (ds == IOCB_EXPORT_DS_STRING)
		return iocb_buf_append_base64(b, p.ptr, p.len);
	return iocb_buf_append_str(b, p);
}

enum iocb_export_dataset iocb_export_dataset_of(const struct iocb_export_opts *o)
{
	if (o->dataset != IOCB_EXPORT_DS_AUTO)
		return o->dataset;
	return o->ntypes ? dataset_for(o->types[0]) : IOCB_EXPORT_DS_STRING;
}

int iocb_export__suricata_collect(struct iocb_store *s, const struct iocb_export_opts *o,
				  struct iocb_export__lines *l, struct iocb_export_stats *st)
{
	struct suricata c = {.o = o, .st = st, .ds = iocb_export_dataset_of(o)};
	int rc;

	memset(st, 0, sizeof(*st));
	c.lines = *l;
	rc = iocb_store_each(s, suricata_one, &c);
	*l = c.lines;
	return rc;
}

int iocb_export_suricata_dataset(struct iocb_store *s, const struct iocb_export_opts *o, struct iocb_export_sink *k,
				 struct iocb_export_stats *st, struct iocb_err *err)
{
	struct suricata c = {.o = o, .st = st, .ds = iocb_export_dataset_of(o)};
	int rc;

	memset(st, 0, sizeof(*st));
	iocb_export__lines_init(&c.lines, o->max_bytes);
	rc = iocb_export__walk_write(s, &c.lines, suricata_one, &c, NULL, k, st, err);
	iocb_export__lines_fini(&c.lines);
	return rc;
}
