/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `quality` section (issue #15, docs/QUALITY.md): warninglists and
 * decaying models. Each piece keeps its own table file; this one only
 * names them. Same row conventions (config/internal.h).
 */
#include "config/internal.h"

static const struct iocb_config__opt quality_rows[] = {
	ROW("warninglists", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(warninglists.present), NULL,
	    &iocb_config__warninglists, 0, "See `quality.warninglists`."),
};

const struct iocb_config__section iocb_config__quality = {
	"quality", quality_rows, N(quality_rows), 0, NO,
	"Indicator quality (docs/QUALITY.md): which indicators match, and how much they are trusted.",
	NULL,
};
