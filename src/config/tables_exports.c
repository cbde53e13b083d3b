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
	    "`zeek` (Zeek Intel file), `suricata-dataset` (one Suricata dataset file) or `values` (one value a "
	    "line), as `iocbus export --format`."),
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
};

const struct iocb_config__section iocb_config__exports = {
	"exports[]", export_rows, N(export_rows), sizeof(struct iocb_config_export), XOFF(where),
	"One file `iocbus run` writes at start and rewrites within `debounce` of a store change "
	"(docs/EXPORTS.md).",
	NULL,
};
