/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Warninglist marks of a store record (the quality hook's warninglist
 * part), shared by `iocbus run` and `iocbus lookup`. The only file of the
 * module that knows the store: warninglist.c stays pure.
 */
#include "quality/warninglist.h"
#include "store/store.h"

/* The two enums are the same scale, so the verdict is stored as it is. */
_Static_assert((int)IOCB_WL_ACT_NONE == IOCB_STORE_WL_NONE && (int)IOCB_WL_ACT_IGNORE == IOCB_STORE_WL_IGNORE &&
		       (int)IOCB_WL_ACT_FLAG == IOCB_STORE_WL_FLAG && (int)IOCB_WL_ACT_SUPPRESS == IOCB_STORE_WL_SUPPRESS,
	       "enum iocb_wl_action follows enum iocb_store_wl_action");

void iocb_wl_store_mark(struct iocb_wl *w, const struct iocb_wl_policy *pol, const struct iocb_store_attr *a,
			struct iocb_store_quality *q)
{
	struct iocb_store_attr_view v;
	iocb_store_attr_view(a, &v);
	uint16_t set = iocb_wl_match(w, v.type, v.value);
	q->wl_set = set;
	q->wl_action = (uint8_t)iocb_wl_set_action(w, set, &pol[v.source % IOCB_STORE_MAX_SOURCES]);
}
