/* SPDX-License-Identifier: Apache-2.0 */
/*
 * For fuzz harnesses that look up a small store: a memory-only store
 * filled from a restSearch document and committed. Header-only (the fuzz
 * targets are one source file each); abort() on any failure.
 */
#ifndef IOCB_FUZZ_INTEL_STORE_H
#define IOCB_FUZZ_INTEL_STORE_H

#include <stdbool.h>
#include <stdlib.h>

#include "misp/misp.h"
#include "store/store.h"

static int fuzz_intel_store__on_attr(void *ud, const struct iocb_misp_attr *a)
{
	struct iocb_err err;

	if (iocb_store_upsert(ud, a, 0, 0, &err) < 0)
		abort();
	return 0;
}

static inline struct iocb_store *fuzz_intel_store(const char *json, size_t len, bool non_ids)
{
	struct iocb_store_opts so;
	struct iocb_misp_handlers mh = {0};
	struct iocb_store *s;
	struct iocb_err err;

	iocb_store_opts_default(&so);
	so.path = NULL;
	so.match_non_ids = non_ids;
	if (iocb_store_open(&so, &s, &err) != IOCB_OK)
		abort();
	mh.on_attr = fuzz_intel_store__on_attr;
	mh.ud = s;
	if (iocb_misp_parse(json, len, "fuzz", &mh, NULL, NULL, &err) != IOCB_OK ||
	    iocb_store_commit(s, &err) != IOCB_OK)
		abort();
	return s;
}

#endif
