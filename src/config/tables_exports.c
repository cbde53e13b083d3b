/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The option table of `exports[]`: files `iocbus run` keeps current
 * (docs/EXPORTS.md). Named in the root table of tables.c; same row
 * conventions (config/internal.h). The format and dataset type names are
 * export's, which config does not include: the daemon checks them at start
 * (and `iocbus check-config` with it).
 */
#include "config/internal.h"

#include <stddef.h>
#include <string.h>

#define XOFF(f) offsetof(struct iocb_config_export, f)

static const struct iocb_config__opt export_rows[] = {
	ROW("name", IOCB_CT_STR, NULL, 1, 64, XOFF(name), NO, NO, NULL, NULL, IOCB_CF_REQUIRED,
	    "Label in metrics (`export` label) and logs; unique."),
	ROW("format", IOCB_CT_STR, NULL, 1, 64, XOFF(format), NO, NO, NULL, NULL, IOCB_CF_REQUIRED,
	    "`zeek` (Zeek Intel file), `suricata-dataset` (one Suricata dataset file), `suricata-iprep` (Suricata "
	    "IP reputation file) or `values` (one value a line), as `iocbus export --format`."),
	ROW("path", IOCB_CT_STR, NULL, 1, 4000, XOFF(path), NO, NO, NULL, NULL, IOCB_CF_REQUIRED,
	    "The file, replaced atomically (temporary file in the same directory, fsync, rename)."),
	ROW("types", IOCB_CT_STRLIST, NULL, 0, 64, XOFF(types), XOFF(ntypes), NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "MISP attribute types kept; unset: every type the format can carry."),
	ROW("non_ids", IOCB_CT_BOOL, "false", 0, 0, XOFF(non_ids), NO, NO, NULL, NULL, 0,
	    "Also attributes whose `to_ids` is false."),
	ROW("misp_url", IOCB_CT_STR, NULL, 1, 1024, XOFF(misp_url), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "zeek: `meta.url` is `<misp_url>/events/view/<event id>`; unset: `-`."),
	ROW("source_name", IOCB_CT_STR, NULL, 1, 128, XOFF(source_name), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "zeek: the name in `meta.source` (`<name> (<event uuid>) - <org>`); unset: `MISP`."),
	ROW("dataset_type", IOCB_CT_STR, NULL, 1, 16, XOFF(dataset_type), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "suricata-dataset: `string`, `md5`, `sha256`, `ipv4` or `ip`; unset: from the first of `types`."),
	ROW("debounce", IOCB_CT_DURATION, "1s", 0.1, 3600, XOFF(debounce_s), NO, NO, NULL, NULL, 0,
	    "The file is rewritten once no store change came for this long (the shortest of all exports "
	    "applies to all), and at most once a second."),
	/* issue #14: Suricata socket, iprep, Zeek removals */
	ROW("socket", IOCB_CT_STR, NULL, 1, 107, XOFF(socket), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "Suricata's unix-command socket (`unix-command.filename`). suricata-dataset: each store change is "
	    "sent at once as `dataset-add`/`dataset-remove`; suricata-iprep and datarep: each rewrite asks for "
	    "`ruleset-reload-nonblocking` (at most once a minute). Unset: the file only. All socket exports "
	    "name the same socket."),
	ROW("dataset", IOCB_CT_STR, NULL, 1, 64, XOFF(dataset), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "suricata-dataset with `socket`: the set's name in Suricata (`setname`); unset: `name`."),
	ROW("socket_queue", IOCB_CT_UINT, "4096", 16, 262144, XOFF(socket_queue), NO, NO, NULL, NULL, 0,
	    "suricata-dataset with `socket`: changes queued for the socket, 800 bytes each (shared by all "
	    "socket exports: the largest applies); past it the sets are reloaded whole."),
	ROW("datarep", IOCB_CT_UINT, "0", 0, 65535, XOFF(datarep), NO, NO, NULL, NULL, 0,
	    "suricata-dataset: write a datarep file, `<item>,<datarep>` lines, for `datarep:<set>,>,<n>` rules "
	    "(with `socket`: rule reloads, not live commands); 0: a plain dataset."),
	ROW("iprep_categories", IOCB_CT_STR, NULL, 1, 4000, XOFF(iprep_categories), NO, NO, NULL, NULL,
	    IOCB_CF_NULLABLE,
	    "suricata-iprep: the categories file (`reputation-categories-file`), written atomically with "
	    "`path`; unset: not written."),
	ROW("iprep_rules", IOCB_CT_KV, NULL, 0, 60, XOFF(iprep_rules), XOFF(niprep_rules), NO, NULL, NULL, 0,
	    "suricata-iprep: tag glob (`*`, `?`; attribute and event tags) -> `<category id 0-59>,<short name>,"
	    "<score 1-127>`; an address gets one line per category its tags select. `\"*\"` matches every "
	    "address, tags or not; unset: `{\"*\": \"1,MISP,100\"}`."),
	ROW("removals_keep", IOCB_CT_DURATION, "0", 0, 31536000, XOFF(removals_keep_s), NO, NO, NULL, NULL, 0,
	    "zeek: keep a removed indicator as a `meta.remove T` line this long (load contrib/zeek/iocbus.zeek, "
	    "which loads Zeek's removal policy); 0: no `meta.remove` column."),
};

const struct iocb_config__section iocb_config__exports = {
	"exports[]", export_rows, N(export_rows), sizeof(struct iocb_config_export), XOFF(where),
	"One file `iocbus run` writes at start and rewrites within `debounce` of a store change "
	"(docs/EXPORTS.md).",
	NULL,
};
