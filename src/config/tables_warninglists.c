/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The option table of `quality.warninglists` (MISP warninglists, docs/QUALITY.md
 * "Warninglists"), beside tables_quality.c which names it. Same row
 * conventions (config/internal.h). Per-source policies are rows of `misp`
 * and `feeds[]` (tables.c) using iocb_config__wl_policies.
 */
#include <string.h>

#include "config/internal.h"

/* The order of enum iocb_config_wl_policy (config.h). */
const char *const iocb_config__wl_policies[] = {"ignore", "flag", "suppress", NULL};
_Static_assert(IOCB_CONFIG_WL_IGNORE == 0 && IOCB_CONFIG_WL_SUPPRESS == 2, "iocb_config__wl_policies follows the enum");

enum { WL_PATHS, WL_LISTS, WL_CATEGORIES };

/* Categories are MISP's two words; without lists or categories every list is kept. */
static int wl_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
		    const struct iocb_config__node *const *vals)
{
	struct iocb_config *c = base;
	(void)map;
	for (size_t i = 0; i < c->warninglists.ncategories; i++) {
		const char *w = c->warninglists.categories[i];
		if (strcmp(w, "false-positive") != 0 && strcmp(w, "known") != 0 && strcmp(w, "all") != 0)
			return iocb_config__fail(ctx, vals[WL_CATEGORIES], "quality.warninglists.categories",
						 "unknown category '%s' (false-positive, known, all)", w);
	}
	if (c->warninglists.present && !c->warninglists.npaths)
		return iocb_config__fail(ctx, map, "quality.warninglists", "`paths` names no directory or file");
	return IOCB_OK;
}

static const struct iocb_config__opt wl_rows[] = {
	[WL_PATHS] = ROW("paths", IOCB_CT_STRLIST, NULL, 1, 64, OFF(warninglists.paths), OFF(warninglists.npaths), NO,
			 NULL, NULL, IOCB_CF_REQUIRED,
			 "Directories or files of MISP warninglist JSON: a checkout of MISP/misp-warninglists "
			 "(`lists/<name>/list.json`), directories of `<name>/list.json` or `<name>.json`, or single "
			 "files. A broken list is skipped with a logged reason; the others load."),
	[WL_LISTS] = ROW("lists", IOCB_CT_STRLIST, NULL, 0, 4096, OFF(warninglists.lists), OFF(warninglists.nlists),
			 NO, NULL, NULL, IOCB_CF_NULLABLE,
			 "Lists to use, by name (`rfc1918`, the directory or file name) or by MISP `name`. With "
			 "`categories`, a list named here or in a chosen category is used. Neither: every list."),
	[WL_CATEGORIES] = ROW("categories", IOCB_CT_STRLIST, NULL, 0, 3, OFF(warninglists.categories),
			      OFF(warninglists.ncategories), NO, NULL, NULL, IOCB_CF_NULLABLE,
			      "Use every list of these categories: `false-positive`, `known` (MISP's `category`; a "
			      "list without one is `false-positive`), or `all`."),
	ROW("false_positive", IOCB_CT_ENUM, "suppress", 0, 0, OFF(warninglists.false_positive), NO, NO,
	    iocb_config__wl_policies, NULL, IOCB_CF_PLAIN,
	    "Policy for values on a `false-positive` list: `suppress` (kept in the store, never matched, counted: "
	    "what MISP's `enforceWarninglist` does), `flag` (matched; the match carries `misp.warninglists`) or "
	    "`ignore`."),
	ROW("known", IOCB_CT_ENUM, "flag", 0, 0, OFF(warninglists.known), NO, NO, iocb_config__wl_policies, NULL,
	    IOCB_CF_PLAIN, "Policy for values on a `known` (known identifiers) list, as `false_positive`."),
	ROW("watch", IOCB_CT_BOOL, "true", 0, 0, OFF(warninglists.watch), NO, NO, NULL, NULL, 0,
	    "Reload the lists when their files change (also on SIGHUP), and requalify the store."),
	ROW("watch_interval", IOCB_CT_DURATION, "5s", 0.1, 3600, OFF(warninglists.watch_interval_s), NO, NO, NULL,
	    NULL, 0, "How often the list files are checked for changes (size and modification time)."),
};

const struct iocb_config__section iocb_config__warninglists = {
	"quality.warninglists", wl_rows, N(wl_rows), 0, NO,
	"MISP warninglists (docs/QUALITY.md \"Warninglists\"): values on a list are kept in the store, marked "
	"with the lists they are on, and matched or not by policy. The policy of a source (`misp` or a "
	"`feeds[]` item `warninglist_policy`) overrides these for its attributes.",
	wl_check,
};
