/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `exports[]` of `iocbus run`: the export files kept current by one
 * export/watch.h thread, and their /metrics. services.c starts it after the
 * store is open and before the sources (so its store listener sees every
 * change) and stops it before the store closes. Restart-only: a reload does
 * not change it.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/prom.h"
#include "daemon/internal.h"
#include "export/surisock.h"
#include "export/watch.h"

#define IPREP_RULES_MAX 60

struct iocb_daemon__exports {
	struct iocb_export_watch *w;
	size_t n;
	struct iocb_export_job jobs[IOCB_EXPORT_WATCH_MAX];
	const struct iocb_misp_type *types[IOCB_EXPORT_WATCH_MAX][64]; /* jobs[i].sel.types */
	struct iocb_export_iprep_rule rules[IOCB_EXPORT_WATCH_MAX][IPREP_RULES_MAX]; /* jobs[i].sel.iprep_rules */
	/* issue #14: the datasets fed over Suricata's socket (one socket per run) */
	struct iocb_surisock *sock;
	struct iocb_surisock_set sets[IOCB_SURISOCK_MAX_SETS];
	size_t sock_job[IOCB_SURISOCK_MAX_SETS]; /* sets[i] is jobs[sock_job[i]] */
	size_t nsets;
	const char *sock_path; /* the socket they all name (borrowed from the configuration) */
	bool reload[IOCB_EXPORT_WATCH_MAX]; /* jobs[i]'s rewrites ask Suricata for a rule reload */
};

/* The socket and iprep and removals options of job i (issue #14). IOCB_ECONFIG, IOCB_ENOMEM. */
static int job_sur_from(struct iocb_daemon__exports *x, size_t i, const struct iocb_config_export *e,
			struct iocb_err *err)
{
	struct iocb_export_job *j = &x->jobs[i];

	for (size_t r = 0; r < e->niprep_rules && r < IPREP_RULES_MAX; r++)
		if (iocb_export_iprep_rule_parse(e->iprep_rules[r].key, e->iprep_rules[r].value, &x->rules[i][r],
						 err) != IOCB_OK)
			return iocb_err_set(err, IOCB_ECONFIG, "exports[%s]: %s", e->name, err->msg);
	j->sel.iprep_rules = e->niprep_rules ? x->rules[i] : NULL;
	j->sel.niprep_rules = e->niprep_rules < IPREP_RULES_MAX ? e->niprep_rules : IPREP_RULES_MAX;
	if (iocb_export_iprep_rules_check(j->sel.iprep_rules, j->sel.niprep_rules, err) != IOCB_OK)
		return iocb_err_set(err, IOCB_ECONFIG, "exports[%s]: %s", e->name, err->msg);
	j->sel.iprep_categories = e->iprep_categories;
	j->sel.datarep = e->datarep;
	if (e->removals_keep_s > 0 && strcmp(e->format, "zeek") == 0) {
		j->sel.removals = iocb_export_zeek_removals_new(e->removals_keep_s);
		if (!j->sel.removals)
			return iocb_err_set(err, IOCB_ENOMEM, "exports: out of memory");
	}
	if (!e->socket)
		return IOCB_OK;
	if (x->sock_path && strcmp(x->sock_path, e->socket) != 0)
		return iocb_err_set(err, IOCB_ECONFIG, "exports[%s]: every socket export names the same socket", e->name);
	x->sock_path = e->socket;
	/* Files Suricata reads on rule reloads: their rewrites ask for one (exports.md §3.4). */
	if (strcmp(e->format, "suricata-iprep") == 0 || (strcmp(e->format, "suricata-dataset") == 0 && e->datarep)) {
		x->reload[i] = true;
		return IOCB_OK;
	}
	if (strcmp(e->format, "suricata-dataset") != 0)
		return iocb_err_set(err, IOCB_ECONFIG, "exports[%s]: socket is for the suricata formats", e->name);
	if (x->nsets == IOCB_SURISOCK_MAX_SETS)
		return iocb_err_set(err, IOCB_ECONFIG, "exports: at most %d socket datasets", IOCB_SURISOCK_MAX_SETS);
	x->sets[x->nsets].name = e->dataset ? e->dataset : e->name;
	x->sets[x->nsets].type = iocb_export_dataset_of(&j->sel);
	x->sets[x->nsets].sel = j->sel;
	x->sock_job[x->nsets++] = i;
	return IOCB_OK;
}

/* Fill job i from the configuration item e; IOCB_ECONFIG with the reason in err. */
static int job_from(struct iocb_daemon__exports *x, size_t i, const struct iocb_config_export *e, struct iocb_err *err)
{
	struct iocb_export_job *j = &x->jobs[i];

	j->name = e->name;
	j->path = e->path;
	j->format = iocb_export_format_find(e->format);
	if (!j->format)
		return iocb_err_set(err, IOCB_ECONFIG, "exports[%s]: unknown format \"%s\" (zeek, suricata-dataset, suricata-iprep, values)",
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
	return job_sur_from(x, i, e, err);
}

/* The watch thread rewrote job i: a file Suricata reads on rule reloads asks for one. */
static void on_written(void *ud, size_t i)
{
	struct iocb_daemon__exports *x = ud;

	if (x->reload[i] && x->sock)
		iocb_surisock_reload_rules(x->sock);
}

/* The socket thread for the sets of x (issue #14); the largest socket_queue applies. */
static int sock_start(struct iocb_daemon__exports *x, const struct iocb_config *c, struct iocb_store *store,
		      struct iocb_err *err)
{
	struct iocb_surisock_opts so = {.path = x->sock_path, .sets = x->sets, .nsets = x->nsets};

	for (size_t i = 0; i < c->nexports; i++)
		if (c->exports[i].socket && c->exports[i].socket_queue > so.queue_cap)
			so.queue_cap = c->exports[i].socket_queue;
	return iocb_surisock_start(&x->sock, store, &so, err);
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
	o.on_written = on_written;
	o.ud = x;
	/* The socket first: the watch's callback reads x->sock. */
	if (rc == IOCB_OK && x->sock_path)
		rc = sock_start(x, c, store, err);
	if (rc == IOCB_OK)
		rc = iocb_export_watch_start(&x->w, store, &o, err);
	if (rc < 0) {
		iocb_daemon__exports_stop(x);
		return rc;
	}
	*out = x;
	return IOCB_OK;
}

void iocb_daemon__exports_stop(struct iocb_daemon__exports *x)
{
	if (!x)
		return;
	iocb_export_watch_stop(x->w); /* first: its callback uses the socket */
	iocb_surisock_stop(x->sock);
	for (size_t i = 0; i < IOCB_EXPORT_WATCH_MAX; i++)
		iocb_export_zeek_removals_free(x->jobs[i].sel.removals);
	free(x);
}

/* The socket's families (issue #14): per set commands, NOK, retries; per socket the rest. */
static void sock_metrics(struct iocb_daemon__exports *x, struct iocb_prom *p)
{
	struct iocb_surisock_stats ss;
	struct iocb_prom_fam fam[] = {
		{"iocbus_export_socket_commands_total", "counter", "Dataset commands answered by Suricata's socket.", false},
		{"iocbus_export_socket_nok_total", "counter", "Dataset commands answered NOK (removing an absent item excepted).", false},
		{"iocbus_export_socket_retries_total", "counter", "Commands sent again after data is busy, try again.", false},
	};
	const struct iocb_prom_row rows[] = {
		{"iocbus_export_socket_reconnects_total", "counter", "Connections to Suricata's socket after the first.",
		 offsetof(struct iocb_surisock_stats, reconnects)},
		{"iocbus_export_socket_resyncs_total", "counter", "Full reloads of the socket datasets (connects, overflows).",
		 offsetof(struct iocb_surisock_stats, resyncs)},
		{"iocbus_export_socket_overflows_total", "counter", "Changes dropped on a full socket queue (each forces a reload).",
		 offsetof(struct iocb_surisock_stats, overflows)},
		{"iocbus_export_socket_rule_reloads_total", "counter", "ruleset-reload-nonblocking answered OK (after iprep/datarep rewrites).",
		 offsetof(struct iocb_surisock_stats, reloads)},
		{"iocbus_export_socket_queued", "gauge", "Changes waiting for the socket.",
		 offsetof(struct iocb_surisock_stats, queued)},
	};

	if (!x->sock)
		return;
	iocb_surisock_stats(x->sock, &ss);
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++)
		for (size_t i = 0; i < x->nsets; i++) {
			const char *labels[] = {"export", x->jobs[x->sock_job[i]].name, NULL};
			uint64_t v = f == 0 ? ss.commands[i] : f == 1 ? ss.nok[i] : ss.retries[i];
			iocb_prom_fam_u64(p, &fam[f], labels, v);
		}
	iocb_prom_rows(p, rows, sizeof(rows) / sizeof(rows[0]), &ss);
	iocb_prom_head(p, "iocbus_export_socket_up", "gauge", "1 while connected to Suricata's socket past the handshake.");
	iocb_prom_u64(p, "iocbus_export_socket_up", NULL, ss.connected);
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
		{"iocbus_export_removals", "gauge", "zeek with removals_keep: meta.remove T lines in the last file."},
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
			uint64_t v = f == 0   ? st[i].writes
				     : f == 1 ? st[i].errors
				     : f == 2 ? st[i].entries
				     : f == 3 ? (uint64_t)(st[i].last_write_us / 1000000)
					      : st[i].removals;
			iocb_prom_u64(&p, fam[f].name, labels, v);
		}
	}
	sock_metrics(x, &p);
	return iocb_prom_end(&p, "exports metrics");
}
