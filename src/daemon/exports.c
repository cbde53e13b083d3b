/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `exports[]` of `iocbus run`: the export files kept current by one
 * export/watch.h thread, and their /metrics. services.c starts it after the
 * store is open and before the sources (so its store listener sees every
 * change) and stops it before the store closes. Restart-only: a reload does
 * not change it.
 */
#include <stdlib.h>
#include <string.h>

#include "core/prom.h"
#include "daemon/internal.h"
#include "export/watch.h"

struct iocb_daemon__exports {
	struct iocb_export_watch *w;
	size_t n;
	struct iocb_export_job jobs[IOCB_EXPORT_WATCH_MAX];
	const struct iocb_misp_type *types[IOCB_EXPORT_WATCH_MAX][64]; /* jobs[i].sel.types */
};

/* Fill job i from the configuration item e; IOCB_ECONFIG with the reason in err. */
static int job_from(struct iocb_daemon__exports *x, size_t i, const struct iocb_config_export *e, struct iocb_err *err)
{
	struct iocb_export_job *j = &x->jobs[i];

	j->name = e->name;
	j->path = e->path;
	j->format = iocb_export_format_find(e->format);
	if (!j->format)
		return iocb_err_set(err, IOCB_ECONFIG, "exports[%s]: unknown format \"%s\" (zeek, suricata-dataset, values)",
				    e->name, e->format);
	for (size_t t = 0; t < e->ntypes && t < 64; t++) {
		x->types[i][t] = iocb_misp_type_find(iocb_str_c(e->types[t]));
		if (!x->types[i][t])
			return iocb_err_set(err, IOCB_ECONFIG, "exports[%s]: unknown MISP type \"%s\"", e->name,
					    e->types[t]);
	}
	j->sel.types = e->ntypes ? x->types[i] : NULL;
	j->sel.ntypes = e->ntypes < 64 ? e->ntypes : 64;
	j->sel.non_ids = e->non_ids;
	j->sel.misp_url = e->misp_url;
	j->sel.source_name = e->source_name;
	if (e->dataset_type) {
		j->sel.dataset = iocb_export_dataset_parse(e->dataset_type);
		if (j->sel.dataset == IOCB_EXPORT_DS_AUTO)
			return iocb_err_set(err, IOCB_ECONFIG, "exports[%s]: dataset_type is string, md5, sha256, ipv4 or ip",
					    e->name);
	}
	for (size_t k = 0; k < i; k++)
		if (strcmp(x->jobs[k].name, e->name) == 0)
			return iocb_err_set(err, IOCB_ECONFIG, "exports: two items named \"%s\"", e->name);
	return IOCB_OK;
}

int iocb_daemon__exports_start(struct iocb_daemon__exports **out, const struct iocb_config *c,
			       struct iocb_store *store, struct iocb_err *err)
{
	struct iocb_daemon__exports *x;
	struct iocb_export_watch_opts o = {0};
	double debounce = 3600;
	int rc = IOCB_OK;

	*out = NULL;
	if (!c->nexports)
		return IOCB_OK;
	if (c->nexports > IOCB_EXPORT_WATCH_MAX)
		return iocb_err_set(err, IOCB_ECONFIG, "exports: at most %d", IOCB_EXPORT_WATCH_MAX);
	x = calloc(1, sizeof(*x));
	if (!x)
		return iocb_err_set(err, IOCB_ENOMEM, "exports: out of memory");
	for (size_t i = 0; i < c->nexports && rc == IOCB_OK; i++) {
		rc = job_from(x, i, &c->exports[i], err);
		if (c->exports[i].debounce_s < debounce)
			debounce = c->exports[i].debounce_s;
	}
	x->n = c->nexports;
	o.jobs = x->jobs;
	o.njobs = x->n;
	o.debounce_ms = (uint32_t)(debounce * 1000);
	if (rc == IOCB_OK)
		rc = iocb_export_watch_start(&x->w, store, &o, err);
	if (rc < 0) {
		free(x);
		return rc;
	}
	*out = x;
	return IOCB_OK;
}

void iocb_daemon__exports_stop(struct iocb_daemon__exports *x)
{
	if (!x)
		return;
	iocb_export_watch_stop(x->w);
	free(x);
}

int iocb_daemon__exports_metrics(struct iocb_daemon__exports *x, struct iocb_buf *out)
{
	struct iocb_prom p;
	struct iocb_export_job_stats st[IOCB_EXPORT_WATCH_MAX];
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{"iocbus_export_writes_total", "counter", "Export files written (replaced atomically)."},
		{"iocbus_export_errors_total", "counter", "Export writes that failed; the previous file stayed."},
		{"iocbus_export_entries", "gauge", "Lines in the export file last written."},
		{"iocbus_export_last_write_seconds", "gauge", "Wall clock of the last successful write (0: none)."},
	};

	if (!x)
		return IOCB_OK;
	for (size_t i = 0; i < x->n; i++)
		iocb_export_watch_stats(x->w, i, &st[i]);
	iocb_prom_begin(&p, out);
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		iocb_prom_head(&p, fam[f].name, fam[f].type, fam[f].help);
		for (size_t i = 0; i < x->n; i++) {
			const char *labels[] = {"export", x->jobs[i].name, NULL};
			uint64_t v = f == 0 ? st[i].writes : f == 1 ? st[i].errors : f == 2 ? st[i].entries
												 : (uint64_t)(st[i].last_write_us / 1000000);
			iocb_prom_u64(&p, fam[f].name, labels, v);
		}
	}
	return iocb_prom_end(&p, "exports metrics");
}
