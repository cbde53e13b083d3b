/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The `quality` table (issue #15): indicator quality. Its parts have their
 * own files: decaying models and expiry (tables_decay.c), warninglists
 * (tables_warninglists.c). Same row conventions as tables.c
 * (config/internal.h).
 */
#include "config/internal.h"

static const struct iocb_config__opt quality_rows[] = {
	ROW("decay", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &iocb_config__quality_decay, 0,
	    "See `quality.decay`."),
	ROW("expire_after", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, NO, NULL, &iocb_config__quality_expire, 0,
	    "See `quality.expire_after`."),
	ROW("sweep_interval", IOCB_CT_DURATION, "60s", 1, 86400, OFF(quality.sweep_interval_s), NO, NO, NULL, NULL, 0,
	    "How often `iocbus run` looks for indicators that expired (decayed below their model's threshold "
	    "or past their maximum age) and announces them as removed to the bus, the Kafka stream and the "
	    "exports. Matching needs no sweep: an expired indicator stops matching at its instant."),
	ROW("warninglists", IOCB_CT_SECTION, NULL, 0, 0, 0, NO, OFF(warninglists.present), NULL,
	    &iocb_config__warninglists, 0, "See `quality.warninglists`."),
};

const struct iocb_config__section iocb_config__quality = {
	"quality", quality_rows, N(quality_rows), 0, NO,
	"Indicator quality: decaying models, maximum ages and warninglists (docs/QUALITY.md).",
	NULL,
};
