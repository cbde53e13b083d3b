/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "suricata-iprep" export: Suricata's IP reputation files (exports.md
 * §3.5). The reputation file has one `<ip|cidr>,<category id>,<score>` line
 * per address and category; the categories file `<id>,<short name>,<description>`
 * one line per category. Categories come from tag rules (struct
 * iocb_export_iprep_rule): an address whose attribute or event tags match a
 * rule's glob is in that rule's category with its score. Rules sharing a
 * category id agree on name and score (checked at configuration), so an
 * address has one score per category and the sorted, distinct lines never
 * give Suricata two scores for one pair. Unlike datasets, iprep takes
 * CIDRs. Suricata reads categories at start only; the reputation file on a
 * rule reload (SIGUSR2 or the socket).
 */
#include "export/internal.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IPREP_MAX_ID 59     /* "max 60" categories, ids 0..59 */
#define IPREP_MAX_SCORE 127 /* scores 1..127 (0 is "no data") */

static const struct iocb_export_iprep_rule default_rule = {.glob = "*", .id = 1, .name = "MISP", .score = 100};

struct iprep {
	const struct iocb_export_opts *o;
	struct iocb_export_stats *st;
	struct iocb_export__lines lines;
	const struct iocb_export_iprep_rule *rules;
	size_t nrules;
};

int iocb_export_iprep_rule_parse(const char *glob, const char *spec, struct iocb_export_iprep_rule *out,
				 struct iocb_err *err)
{
	unsigned long id, score;
	const char *c1 = strchr(spec, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
	char *end;
	size_t nlen;

	memset(out, 0, sizeof(*out));
	out->glob = glob;
	if (!c1 || !c2)
		return iocb_err_set(err, IOCB_EINVAL, "iprep rule \"%s\": want \"<id>,<short name>,<score>\"", glob);
	id = strtoul(spec, &end, 10);
	if (end != c1 || c1 == spec || id > IPREP_MAX_ID)
		return iocb_err_set(err, IOCB_EINVAL, "iprep rule \"%s\": category id 0..%d", glob, IPREP_MAX_ID);
	nlen = (size_t)(c2 - c1 - 1);
	if (!nlen || nlen >= sizeof(out->name))
		return iocb_err_set(err, IOCB_EINVAL, "iprep rule \"%s\": short name of 1..31 bytes", glob);
	for (const char *p = c1 + 1; p < c2; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
		      *p == '-' || *p == '.'))
			return iocb_err_set(err, IOCB_EINVAL, "iprep rule \"%s\": short name of [A-Za-z0-9_.-]", glob);
	memcpy(out->name, c1 + 1, nlen);
	score = strtoul(c2 + 1, &end, 10);
	if (*end || end == c2 + 1 || score < 1 || score > IPREP_MAX_SCORE)
		return iocb_err_set(err, IOCB_EINVAL, "iprep rule \"%s\": score 1..%d", glob, IPREP_MAX_SCORE);
	out->id = (unsigned)id;
	out->score = (unsigned)score;
	return IOCB_OK;
}

int iocb_export_iprep_rules_check(const struct iocb_export_iprep_rule *r, size_t n, struct iocb_err *err)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (r[i].id == r[j].id && (strcmp(r[i].name, r[j].name) || r[i].score != r[j].score))
				return iocb_err_set(err, IOCB_EINVAL,
						    "iprep rules \"%s\" and \"%s\": category %u with two names or scores",
						    r[j].glob, r[i].glob, r[i].id);
	return IOCB_OK;
}

/* True when tag t matches glob (t copied to be NUL-terminated; a longer tag is cut). */
static bool glob_tag(const char *glob, struct iocb_str t)
{
	char tag[256];

	snprintf(tag, sizeof(tag), "%.*s", (int)t.len, t.ptr);
	return fnmatch(glob, tag, 0) == 0;
}

/* True when one of the record's tags (its own, then its event's) matches glob; "*" always. */
static bool tag_matches(const char *glob, const struct iocb_store_attr *a, const struct iocb_store_attr_view *v)
{
	struct iocb_store_event_view ev;

	if (strcmp(glob, "*") == 0)
		return true;
	for (size_t i = 0; i < v->ntags; i++)
		if (glob_tag(glob, iocb_store_attr_tag(a, i)))
			return true;
	if (!v->event)
		return false;
	iocb_store_event_view(v->event, &ev);
	for (size_t i = 0; i < ev.ntags; i++)
		if (glob_tag(glob, iocb_store_event_tag(v->event, i)))
			return true;
	return false;
}

static int iprep_one(void *ud, const struct iocb_store_attr *a)
{
	struct iprep *c = ud;
	struct iocb_store_attr_view v;
	uint64_t cats = 0; /* bit per category id: one line per (address, category) */
	unsigned items = 0;

	iocb_store_attr_view(a, &v);
	c->st->records++;
	if (!iocb_export_selected(c->o, &v))
		return IOCB_OK;
	c->st->selected++;
	for (size_t r = 0; r < c->nrules; r++)
		if (!(cats >> c->rules[r].id & 1) && tag_matches(c->rules[r].glob, a, &v))
			cats |= (uint64_t)1 << c->rules[r].id;
	for (unsigned i = 0; i < v.nparts && i < 2 && cats; i++) {
		if (v.type->mc[i] != IOCB_MC_IP || !v.part[i].len)
			continue;
		for (size_t r = 0; r < c->nrules; r++) {
			size_t start = c->lines.text.len;
			int rc;

			if (!(cats >> c->rules[r].id & 1))
				continue;
			rc = iocb_buf_append_str(&c->lines.text, v.part[i]);
			if (rc == IOCB_OK)
				rc = iocb_buf_printf(&c->lines.text, ",%u,%u", c->rules[r].id, c->rules[r].score);
			if (rc == IOCB_OK)
				rc = iocb_export__line_end(&c->lines, start);
			if (rc < 0)
				return rc;
			items++;
		}
	}
	if (!items)
		c->st->skipped++;
	return IOCB_OK;
}

/* Write the categories file: one line per distinct id, ascending, the rule globs as description. */
static int write_categories(const struct iocb_export_iprep_rule *rules, size_t n, const char *path,
			    struct iocb_err *err)
{
	struct iocb_export_sink k;
	struct iocb_buf b;
	int rc;

	iocb_buf_init(&b, 1 << 20);
	rc = IOCB_OK;
	for (unsigned id = 0; id <= IPREP_MAX_ID && rc == IOCB_OK; id++) {
		bool first = true;

		for (size_t r = 0; r < n && rc == IOCB_OK; r++) {
			if (rules[r].id != id)
				continue;
			if (first)
				rc = iocb_buf_printf(&b, "%u,%s,MISP tags", id, rules[r].name);
			first = false;
			if (rc == IOCB_OK)
				rc = iocb_buf_putc(&b, ' ');
			/* the description is free text to the line end: keep it to one line, no commas */
			for (const char *g = rules[r].glob; *g && rc == IOCB_OK; g++)
				rc = iocb_buf_putc(&b, *g == '\n' || *g == '\r' || *g == ',' ? ' ' : *g);
		}
		if (!first && rc == IOCB_OK)
			rc = iocb_buf_putc(&b, '\n');
	}
	if (rc < 0) {
		iocb_buf_fini(&b);
		return iocb_err_set(err, rc, "export: iprep categories: %s", iocb_rc_str(rc));
	}
	rc = iocb_export_sink_path(&k, path, err);
	if (rc == IOCB_OK)
		rc = iocb_export_sink_write(&k, b.ptr ? b.ptr : "", b.len, err);
	if (rc == IOCB_OK)
		rc = iocb_export_sink_commit(&k, err);
	else
		iocb_export_sink_abort(&k);
	iocb_buf_fini(&b);
	return rc;
}

int iocb_export_suricata_iprep(struct iocb_store *s, const struct iocb_export_opts *o, struct iocb_export_sink *k,
			       struct iocb_export_stats *st, struct iocb_err *err)
{
	struct iprep c = {.o = o, .st = st, .rules = o->iprep_rules, .nrules = o->niprep_rules};
	int rc;

	memset(st, 0, sizeof(*st));
	if (!c.rules || !c.nrules) {
		c.rules = &default_rule;
		c.nrules = 1;
	}
	iocb_export__lines_init(&c.lines, o->max_bytes);
	rc = iocb_export__walk_write(s, &c.lines, iprep_one, &c, NULL, k, st, err);
	iocb_export__lines_fini(&c.lines);
	if (rc == IOCB_OK && o->iprep_categories)
		rc = write_categories(c.rules, c.nrules, o->iprep_categories, err);
	return rc;
}
