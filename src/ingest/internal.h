/* SPDX-License-Identifier: Apache-2.0 */
/* Private to src/ingest/. */
#ifndef IOCB_INGEST_INTERNAL_H
#define IOCB_INGEST_INTERNAL_H

#include "ingest/ingest.h"

/*
 * Run parse(arg, handlers) on this thread while a second thread applies
 * what it delivers through `down` (see pipeline.c). Returns parse()'s rc.
 */
int iocb_ingest__pipe_run(struct iocb_ingest *in, const struct iocb_misp_handlers *down,
			  int (*parse)(void *arg, const struct iocb_misp_handlers *h), void *arg);

#endif
