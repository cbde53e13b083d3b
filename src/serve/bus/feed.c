/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store change feed: a store listener (store.h iocb_store_listen) that
 * turns every change into the ADD/REMOVE messages of each generation that
 * has intel subscribers, and queues them for the bus thread.
 *
 * What a change means is decided per generation from whether each version is
 * "live" there: to_ids set and expressible (a STIX pattern for 2021+, an
 * IntelType for 2020.12):
 *   old live, new live, same type and value  -> ADD (an edit: new metadata)
 *   old live, new live, other type or value  -> REMOVE old, then ADD new
 *   old not live (or none), new live         -> ADD
 *   old live, new not live (or none)         -> REMOVE (delete, soft delete,
 *                                               to_ids off, a sweep, expiry)
 *   neither live                             -> nothing (counted skipped when
 *                                               to_ids but not expressible)
 * So each store change is published exactly once per generation, and what
 * an app holds after applying them is the store's live set.
 *
 * Runs on the store writer's thread under its writer lock: one writer at a
 * time, so the render buffers in b->feed need no lock of their own; they
 * grow to the largest message once and are reused (no allocation per
 * change). A generation without intel subscribers costs one atomic load.
 * A change's messages (every generation's) go to the publish queue as one
 * message (internal.h IOCB_BUS__REC_HDR). Queuing never blocks: when the
 * publish queue is full the messages are lost for those generations'
 * subscribers, counted in feed_lost, and the bus thread marks them all stale
 * so they resync from the store.
 */
#include "serve/bus/internal.h"

#include <string.h>

#include "core/counter.h"
#include "core/log.h"
#include "core/time.h"
#include "serve/render/render.h"

#define MOD "bus"

int iocb_bus__render(enum iocb_bus_gen gen, const struct iocb_store_attr *a, bool remove, int64_t modified_us,
		     struct iocb_buf *json, struct iocb_buf *scratch)
{
	struct iocb_jw w;
	int rc;

	iocb_buf_reset(json);
	iocb_jw_init(&w, json);
	if (gen == IOCB_BUS_GEN_2020) {
		rc = iocb_render_tb2020_intel(&w, a, remove);
	} else {
		const struct iocb_render_stix_opts so = {.remove = remove, .modified_us = modified_us};
		rc = iocb_render_stix_indicator(&w, a, &so, scratch);
	}
	if (rc == IOCB_OK)
		rc = iocb_jw_rc(&w);
	return rc;
}

/* Render one message into the change's batch; false when the record is not expressible in gen. */
static bool emit(struct iocb_bus *b, enum iocb_bus_gen gen, const struct iocb_store_attr *a, bool remove,
		 int64_t now_us)
{
	int rc = iocb_bus__render(gen, a, remove, remove ? now_us : 0, &b->feed.json, &b->feed.scratch);
	if (rc == IOCB_EUNSUPPORTED || rc == IOCB_EINVAL)
		return false;
	if (rc == IOCB_OK)
		rc = iocb_bus__rec_put(&b->feed.batch, gen, IOCB_BUS_KIND_INTEL, b->feed.json.ptr, b->feed.json.len);
	if (rc < 0) {
		/* Over the frame cap: the subscribers miss it, so they resync. */
		__atomic_fetch_add(&b->feed_lost[gen], 1, __ATOMIC_RELEASE);
		return true;
	}
	IOCB_M_ADD(b->st.feed_out[gen][remove ? 1 : 0], 1);
	return true;
}

/* Queue the change's records as one message; refused, each record's generation missed one. */
static void flush(struct iocb_bus *b)
{
	const unsigned char *d = (const unsigned char *)b->feed.batch.ptr;
	size_t n = b->feed.batch.len, off;
	unsigned nrec = 0;

	if (!n)
		return;
	for (off = 0; n - off >= IOCB_BUS__REC_HDR; nrec++) {
		uint32_t len;
		memcpy(&len, d + off + 2, 4);
		off += IOCB_BUS__REC_HDR + (size_t)len;
	}
	if (iocb_bus__publish_recs(b, b->feed.batch.ptr, n, nrec) == IOCB_OK)
		return;
	for (off = 0; n - off >= IOCB_BUS__REC_HDR;) {
		uint32_t len;
		memcpy(&len, d + off + 2, 4);
		__atomic_fetch_add(&b->feed_lost[d[off]], 1, __ATOMIC_RELEASE);
		off += IOCB_BUS__REC_HDR + (size_t)len;
	}
}

/* Whether a could be live: to_ids (expressibility is learnt by rendering). */
static bool ids(const struct iocb_store_attr *a, struct iocb_store_attr_view *v)
{
	if (!a)
		return false;
	iocb_store_attr_view(a, v);
	return v->to_ids;
}

static void on_change(void *ud, const struct iocb_store_attr *old, const struct iocb_store_attr *nw)
{
	struct iocb_bus *b = ud;
	struct iocb_store_attr_view ov, nv;
	bool old_ids = ids(old, &ov), new_ids = ids(nw, &nv);
	int64_t now_us = 0;

	IOCB_M_ADD(b->st.changes_seen, 1);
	if (!old_ids && !new_ids)
		return;
	iocb_buf_reset(&b->feed.batch);
	if (old_ids && !new_ids)
		now_us = iocb_time_real_us();
	for (int g = 0; g < IOCB_BUS_GEN__N; g++) {
		enum iocb_bus_gen gen = (enum iocb_bus_gen)g;
		if (!__atomic_load_n(&b->nsubs_intel[gen], __ATOMIC_ACQUIRE))
			continue;
		bool same = old_ids && new_ids && ov.type == nv.type && iocb_str_eq(ov.value, nv.value);
		if (new_ids && same) {
			/* An edit keeps the indicator: one ADD (an unexpressible one never was live). */
			if (!emit(b, gen, nw, false, 0))
				IOCB_M_ADD(b->st.changes_skipped[gen], 1);
			continue;
		}
		/*
		 * The old version's REMOVE, if it was live (rendering it tells).
		 * Its "modified" is the time of the change.
		 */
		if (old_ids) {
			if (!now_us)
				now_us = iocb_time_real_us();
			(void)emit(b, gen, old, true, now_us);
		}
		if (new_ids && !emit(b, gen, nw, false, 0))
			IOCB_M_ADD(b->st.changes_skipped[gen], 1);
	}
	flush(b);
}

int iocb_bus__feed_start(struct iocb_bus *b, struct iocb_err *err)
{
	if (!b->o.store)
		return IOCB_OK;
	iocb_buf_init(&b->feed.json, b->o.max_frame_bytes);
	iocb_buf_init(&b->feed.scratch, b->o.max_frame_bytes);
	/* At most two records (REMOVE, ADD) per generation. */
	iocb_buf_init(&b->feed.batch, 2 * IOCB_BUS_GEN__N * (IOCB_BUS__REC_HDR + b->o.max_frame_bytes));
	int h = iocb_store_listen(b->o.store, on_change, b);
	if (h < 0)
		return iocb_err_set(err, h, "bus: cannot listen to the store (%s)", iocb_rc_str(h));
	b->feed.handle = h;
	return IOCB_OK;
}

void iocb_bus__feed_stop(struct iocb_bus *b)
{
	if (!b->o.store)
		return;
	if (b->feed.handle >= 0)
		iocb_store_unlisten(b->o.store, b->feed.handle);
	b->feed.handle = -1;
	iocb_buf_fini(&b->feed.json);
	iocb_buf_fini(&b->feed.scratch);
	iocb_buf_fini(&b->feed.batch);
}
