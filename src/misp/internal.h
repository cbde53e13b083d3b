/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to src/misp: what types.c knows about a type beyond the public
 * struct iocb_misp_type and normalize.c needs to validate a value.
 */
#ifndef IOCB_MISP_INTERNAL_H
#define IOCB_MISP_INTERNAL_H

#include "misp/misp.h"

/*
 * Number of hex digits a valid value of part `part` (0 or 1) of type `t`
 * has (32 for md5, 62 for jarm-fingerprint...), or 0 when MISP does not
 * check a fixed hex length for it. Any thread.
 */
unsigned iocb_misp__type_hexlen(const struct iocb_misp_type *t, unsigned part);

#endif
