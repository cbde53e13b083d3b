/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "zeek" export: a Zeek Intel framework file (export.h; the rules are
 * exports.md §2). Zeek reads it with the input framework's ASCII reader:
 * a `#fields` header naming the columns, TAB between fields, `-` for an
 * unset field, and `\xHH` escapes undone in every string. Every record part
 * with an Intel::Type (the table in zeek_type()) becomes one line; the
 * lines go through the sorted line set (internal.h), so an unchanged store
 * gives a byte-identical file and Zeek, which re-reads the whole file when
 * its inode or mtime changes, re-inserts nothing needlessly.
 */
#include "export/internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/time.h"

static const char zeek_header[] = "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n";
/* With removals (zeek_removals.c): the removal policy's column, T on a removed indicator's line. */
static const char zeek_header_rm[] =
	"#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\tmeta.remove\n";

struct zeek {
	const struct iocb_export_opts *o;
	struct iocb_export_stats *st;
	struct iocb_export__lines lines;
	struct iocb_str base_url; /* o->misp_url without trailing '/'; empty = no meta.url */
};

/*
 * Zeek's Intel::Type for part i of a record seen as v, or NULL when Zeek has
 * none (exports.md §2.2): the part's match class decides, except that only
 * `url` (not `uri`, a path) is a URL and only the SHA-1 certificate
 * fingerprint is a CERT_HASH.
 */
static const char *zeek_type(const struct iocb_store_attr_view *v, unsigned i)
{
	switch (v->type->mc[i]) {
	case IOCB_MC_IP:
		return v->prefix[i] >= 0 || memchr(v->part[i].ptr, '/', v->part[i].len) ? "Intel::SUBNET"
											 : "Intel::ADDR";
	case IOCB_MC_DOMAIN:
		return "Intel::DOMAIN";
	case IOCB_MC_URL:
		return strcmp(v->type->name, "url") == 0 ? "Intel::URL" : NULL;
	case IOCB_MC_HASH:
		return "Intel::FILE_HASH";
	case IOCB_MC_FILENAME:
		return "Intel::FILE_NAME";
	case IOCB_MC_EMAIL:
		return "Intel::EMAIL";
	case IOCB_MC_USER_AGENT:
		return "Intel::SOFTWARE";
	case IOCB_MC_X509:
		return strcmp(v->type->name, "x509-fingerprint-sha1") == 0 ? "Intel::CERT_HASH" : NULL;
	default:
		return NULL;
	}
}

/* True when byte c must be written as \xHH in a Zeek field. */
static bool zeek_must_escape(unsigned char c)
{
	/* Control bytes (TAB the separator, LF/CR the line end), backslash (the
	 * escape itself) and ',' (the set separator, in case a column becomes a
	 * set). Bytes >= 0x80 stay: the file is UTF-8. */
	return c < 0x20 || c == 0x7f || c == '\\' || c == ',';
}

/*
 * Append s as one Zeek field. Empty -> "-" (unset); a value that reads as
 * the reader's unset ("-") or empty ("(empty)") marker gets its first byte
 * escaped so it stays a literal.
 */
static int zeek_field(struct iocb_buf *b, struct iocb_str s)
{
	int rc = IOCB_OK;
	bool marker = (s.len == 1 && s.ptr[0] == '-') || (s.len == 7 && memcmp(s.ptr, "(empty)", 7) == 0);

	if (!s.len)
		return iocb_buf_putc(b, '-');
	for (size_t i = 0; i < s.len && rc == IOCB_OK; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		/* A leading '#' would make the line a comment for the reader. */
		if (zeek_must_escape(c) || (i == 0 && (marker || c == '#')))
			rc = iocb_buf_printf(b, "\\x%02x", c);
		else
			rc = iocb_buf_putc(b, (char)c);
	}
	return rc;
}

/* Zeek's URL indicators carry no scheme (it compares host + URI). */
static struct iocb_str zeek_strip_scheme(struct iocb_str u)
{
	if (u.len > 7 && strncasecmp(u.ptr, "http://", 7) == 0)
		return iocb_str_make(u.ptr + 7, u.len - 7);
	if (u.len > 8 && strncasecmp(u.ptr, "https://", 8) == 0)
		return iocb_str_make(u.ptr + 8, u.len - 8);
	return u;
}

/* The meta columns (source, desc, url) after the type, each preceded by its TAB. */
static int zeek_meta(struct zeek *z, struct iocb_buf *b, const struct iocb_store_attr_view *v)
{
	struct iocb_store_event_view ev = {0};
	char tmp[1024];
	const char *name = z->o->source_name ? z->o->source_name : "MISP";
	int n, rc;

	if (v->event)
		iocb_store_event_view(v->event, &ev);
	/* MISP's BroExport form: "<instance> (<event uuid>) - <orgc name>". */
	n = snprintf(tmp, sizeof(tmp), "%s", name);
	if (ev.uuid[0] && n > 0 && (size_t)n < sizeof(tmp))
		n += snprintf(tmp + n, sizeof(tmp) - (size_t)n, " (%s)", ev.uuid);
	if (ev.orgc_name.len && n > 0 && (size_t)n < sizeof(tmp))
		snprintf(tmp + n, sizeof(tmp) - (size_t)n, " - %.*s", (int)ev.orgc_name.len, ev.orgc_name.ptr);
	rc = iocb_buf_putc(b, '\t');
	if (rc == IOCB_OK)
		rc = zeek_field(b, iocb_str_c(tmp));
	if (rc == IOCB_OK)
		rc = iocb_buf_putc(b, '\t');
	/* meta.desc: "<event info>. <comment>", as MISP writes it. */
	if (rc == IOCB_OK && ev.info.len && v->comment.len) {
		n = snprintf(tmp, sizeof(tmp), "%.*s. %.*s", (int)ev.info.len, ev.info.ptr, (int)v->comment.len,
			     v->comment.ptr);
		rc = zeek_field(b, iocb_str_make(tmp, n > 0 && (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1));
	} else if (rc == IOCB_OK) {
		rc = zeek_field(b, ev.info.len ? ev.info : v->comment);
	}
	if (rc == IOCB_OK)
		rc = iocb_buf_putc(b, '\t');
	if (rc == IOCB_OK && z->base_url.len && ev.id) {
		n = snprintf(tmp, sizeof(tmp), "%.*s/events/view/%llu", (int)z->base_url.len, z->base_url.ptr,
			     (unsigned long long)ev.id);
		rc = n > 0 && (size_t)n < sizeof(tmp) ? zeek_field(b, iocb_str_make(tmp, (size_t)n)) : iocb_buf_putc(b, '-');
	} else if (rc == IOCB_OK) {
		rc = iocb_buf_putc(b, '-');
	}
	return rc;
}

/* One line for part i (type t) of the record seen as v. */
static int zeek_line(struct zeek *z, const struct iocb_store_attr_view *v, unsigned i, const char *t)
{
	struct iocb_buf *b = &z->lines.text;
	size_t start = b->len;
	struct iocb_str val = v->part[i];
	int rc;

	if (strcmp(t, "Intel::URL") == 0)
		val = zeek_strip_scheme(val);
	rc = zeek_field(b, val);
	if (rc == IOCB_OK)
		rc = iocb_buf_putc(b, '\t');
	if (rc == IOCB_OK)
		rc = iocb_buf_append_c(b, t);
	if (rc == IOCB_OK)
		rc = zeek_meta(z, b, v);
	if (rc == IOCB_OK && z->o->removals)
		rc = iocb_buf_append_c(b, "\tF");
	if (rc == IOCB_OK)
		rc = iocb_export__line_end(&z->lines, start);
	return rc;
}

static int zeek_one(void *ud, const struct iocb_store_attr *a)
{
	struct zeek *z = ud;
	struct iocb_store_attr_view v;
	unsigned lines = 0;

	iocb_store_attr_view(a, &v);
	z->st->records++;
	if (!iocb_export_selected(z->o, &v))
		return IOCB_OK;
	z->st->selected++;
	for (unsigned i = 0; i < v.nparts && i < 2; i++) {
		const char *t = zeek_type(&v, i);
		int rc;

		/* An indicator cannot be unset ('-' would be read as such). */
		if (!t || !v.part[i].len)
			continue;
		rc = zeek_line(z, &v, i, t);
		if (rc < 0)
			return rc;
		lines++;
	}
	if (!lines)
		z->st->skipped++;
	return IOCB_OK;
}

/* The walk, then the live lines and the tombstones of o->removals (meta.remove T) after them. */
static int zeek_write_removals(struct iocb_store *s, struct zeek *z, struct iocb_export_sink *k,
			       struct iocb_export_stats *st, struct iocb_err *err)
{
	struct iocb_buf tombs;
	int rc = iocb_store_each(s, zeek_one, z);

	if (rc == IOCB_ELIMIT)
		return iocb_err_set(err, rc, "export: the selected entries exceed %zu bytes", z->lines.text.max);
	if (rc < 0)
		return iocb_err_set(err, rc, "export: %s", iocb_rc_str(rc));
	iocb_export__lines_sort(&z->lines);
	iocb_buf_init(&tombs, z->lines.text.max);
	rc = iocb_export__zeek_removals_update(z->o->removals, k->atomic ? k->path : NULL, &z->lines,
					       iocb_time_real_us() / 1000000, &tombs);
	if (rc < 0)
		rc = iocb_err_set(err, rc, "export: removals: %s", iocb_rc_str(rc));
	if (rc == IOCB_OK)
		rc = iocb_export_sink_write(k, zeek_header_rm, sizeof(zeek_header_rm) - 1, err);
	if (rc == IOCB_OK)
		rc = iocb_export__lines_write(&z->lines, k, &st->written, err);
	if (rc == IOCB_OK && tombs.len)
		rc = iocb_export_sink_write(k, tombs.ptr, tombs.len, err);
	st->removals = iocb_export__zeek_removals_count(z->o->removals);
	iocb_buf_fini(&tombs);
	return rc;
}

int iocb_export_zeek(struct iocb_store *s, const struct iocb_export_opts *o, struct iocb_export_sink *k,
		     struct iocb_export_stats *st, struct iocb_err *err)
{
	struct zeek z = {.o = o, .st = st};
	int rc;

	memset(st, 0, sizeof(*st));
	if (o->misp_url) {
		z.base_url = iocb_str_c(o->misp_url);
		while (z.base_url.len && z.base_url.ptr[z.base_url.len - 1] == '/')
			z.base_url.len--;
	}
	iocb_export__lines_init(&z.lines, o->max_bytes);
	if (o->removals)
		rc = zeek_write_removals(s, &z, k, st, err);
	else
		rc = iocb_export__walk_write(s, &z.lines, zeek_one, &z, zeek_header, k, st, err);
	iocb_export__lines_fini(&z.lines);
	return rc;
}
