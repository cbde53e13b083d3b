/* SPDX-License-Identifier: Apache-2.0 */
/* Prometheus text exposition writer (see prom.h). */
#include "core/prom.h"

#include <inttypes.h>
#include <string.h>

#include "core/log.h"

void iocb_prom_begin(struct iocb_prom *p, struct iocb_buf *out)
{
	p->out = out;
	p->start = out->len;
	p->rc = IOCB_OK;
}

int iocb_prom_end(struct iocb_prom *p, const char *what)
{
	if (p->rc == IOCB_OK)
		return IOCB_OK;
	p->out->len = p->start;
	if (p->out->ptr)
		p->out->ptr[p->start] = '\0';
	iocb_log(IOCB_LOG_ERROR, "metrics", "\"metrics exposition exceeds the buffer cap\" part=%s cap=%zu",
		 what ? what : "-", p->out->max);
	return p->rc;
}

static void put(struct iocb_prom *p, const char *s)
{
	if (p->rc == IOCB_OK)
		p->rc = iocb_buf_append_c(p->out, s);
}

void iocb_prom_escape(struct iocb_prom *p, const char *s)
{
	for (; *s && p->rc == IOCB_OK; s++) {
		switch (*s) {
		case '\\':
			p->rc = iocb_buf_append(p->out, "\\\\", 2);
			break;
		case '"':
			p->rc = iocb_buf_append(p->out, "\\\"", 2);
			break;
		case '\n':
			p->rc = iocb_buf_append(p->out, "\\n", 2);
			break;
		default:
			p->rc = iocb_buf_putc(p->out, *s);
			break;
		}
	}
}

void iocb_prom_head(struct iocb_prom *p, const char *name, const char *type, const char *help)
{
	put(p, "# HELP ");
	put(p, name);
	put(p, " ");
	put(p, help);
	put(p, "\n# TYPE ");
	put(p, name);
	put(p, " ");
	put(p, type);
	put(p, "\n");
}

void iocb_prom_sample(struct iocb_prom *p, const char *name, const char *const *labels)
{
	put(p, name);
	if (labels && labels[0]) {
		put(p, "{");
		for (size_t i = 0; labels[i]; i += 2) {
			if (i)
				put(p, ",");
			put(p, labels[i]);
			put(p, "=\"");
			iocb_prom_escape(p, labels[i + 1]);
			put(p, "\"");
		}
		put(p, "}");
	}
	put(p, " ");
}

void iocb_prom_u64(struct iocb_prom *p, const char *name, const char *const *labels, uint64_t v)
{
	iocb_prom_sample(p, name, labels);
	if (p->rc == IOCB_OK)
		p->rc = iocb_buf_printf(p->out, "%" PRIu64 "\n", v);
}

void iocb_prom_rows(struct iocb_prom *p, const struct iocb_prom_row *rows, size_t n, const void *stats)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v;

		memcpy(&v, (const char *)stats + rows[i].off, sizeof(v));
		iocb_prom_head(p, rows[i].name, rows[i].type, rows[i].help);
		iocb_prom_u64(p, rows[i].name, NULL, v);
	}
}

void iocb_prom_i64(struct iocb_prom *p, const char *name, const char *const *labels, int64_t v)
{
	iocb_prom_sample(p, name, labels);
	if (p->rc == IOCB_OK)
		p->rc = iocb_buf_printf(p->out, "%" PRId64 "\n", v);
}

void iocb_prom_f(struct iocb_prom *p, const char *name, const char *const *labels, int decimals, double v)
{
	iocb_prom_sample(p, name, labels);
	if (p->rc == IOCB_OK)
		p->rc = iocb_buf_printf(p->out, "%.*f\n", decimals, v);
}

static void fam_start(struct iocb_prom *p, struct iocb_prom_fam *f)
{
	if (!f->started) {
		f->started = true;
		iocb_prom_head(p, f->name, f->type, f->help);
	}
}

void iocb_prom_fam_u64(struct iocb_prom *p, struct iocb_prom_fam *f, const char *const *labels, uint64_t v)
{
	fam_start(p, f);
	iocb_prom_u64(p, f->name, labels, v);
}

void iocb_prom_fam_i64(struct iocb_prom *p, struct iocb_prom_fam *f, const char *const *labels, int64_t v)
{
	fam_start(p, f);
	iocb_prom_i64(p, f->name, labels, v);
}

void iocb_prom_fam_f(struct iocb_prom *p, struct iocb_prom_fam *f, const char *const *labels, int decimals,
		     double v)
{
	fam_start(p, f);
	iocb_prom_f(p, f->name, labels, decimals, v);
}
