/* SPDX-License-Identifier: Apache-2.0 */
/* For the export format tests: run one format into memory. */
#ifndef IOCB_TESTS_EXPORT_TEXT_H
#define IOCB_TESTS_EXPORT_TEXT_H

#include "export/export.h"

/* Run format `name` over s with o through a borrowed-fd sink; the bytes written (static buffer). */
const char *export_text(struct iocb_store *s, const char *name, const struct iocb_export_opts *o,
			struct iocb_export_stats *st);

#endif
