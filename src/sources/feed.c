/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Feed source: follows MISP-format feeds (manifest.json + <uuid>.json) over
 * HTTP(S) or in a local directory, for `iocbus run` (contract in sources.h).
 *
 * One thread serves every feed; each feed has its own schedule (first check
 * at start) and the thread sleeps in iocb_sources_sync_sleep() until the next one is
 * due, so a stop wakes it at once.
 *
 * Per feed we keep, in memory only, the last manifest we parsed ("want":
 * event uuid -> timestamp) and, per event, the timestamp of the version we
 * applied and that file's ETag (HTTP) or mtime+size (local). A round:
 *   1. the manifest, conditionally (If-None-Match / mtime+size): unchanged ->
 *      keep "want"; changed -> parse it, carry the per-event state over, and
 *      note the events it no longer lists ("gone");
 *   2. every event not applied at its manifest timestamp is fetched (again
 *      conditionally) and applied with iocb_ingest_doc(); an observer
 *      collects the attribute uuids it upserted ("seen");
 *   3. a sweep (one iocb_store_remove_if pass, done every few dozen events
 *      and at the end of the round) removes this feed's attributes of gone
 *      events and the attributes of re-applied events that were not seen
 *      (the old version's leftovers). The first sweep after a start also
 *      removes this feed's attributes of every event the manifest does not
 *      list, since the previous process's manifest is not known. Removal is
 *      by store source id, so another source's copy of an event is never
 *      touched (events are shared; iocb_store_event_remove is not used).
 *   4. iocb_sources_sync_publish (feeds never move the MISP cursor) and commit.
 * Sweeping in batches rather than after each event keeps a big first load
 * from scanning the whole store once per event; readers see an old
 * version's leftovers for at most one batch.
 *
 * Failures (unreachable, non-200/304, broken JSON, a missing event file)
 * count in `errors`, log a rate-limited warning naming the feed and the
 * file, and leave the previous state: a failed event keeps its old
 * applied timestamp, so the next round retries it.
 *
 * Threads: iocb_sources_feed_start() and the join run on the daemon thread;
 * everything else runs on the feed thread, which is the only user of the
 * per-feed state (the metrics are atomics read by the HTTP thread).
 */
#include "sources/sources.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/file.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/str.h"
#include "httpc/httpc.h"
#include "misp/misp.h"
#include "sources/internal.h"

#define FEED_MAX_BODY ((size_t)256 << 20)  /* largest manifest or event file accepted */
#define FEED_BATCH_EVENTS 64               /* events applied between two sweeps */
#define FEED_BATCH_SEEN ((size_t)1 << 20)  /* ... or attribute uuids collected */
#define FEED_WARN_EVERY_S 10.0             /* at most one warning per feed this often */
#define FEED_TAG_MAX 256                   /* ETag / local file identity text */

/* ------------------------------------------------------------ manifest */

static int cmp_u16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct iocb_feed__entry *x = a, *y = b;
	int c = memcmp(x->uuid, y->uuid, 16);

	if (c)
		return c;
	/* equal uuids: the newer timestamp first, so dedup keeps it */
	return x->timestamp < y->timestamp ? 1 : x->timestamp > y->timestamp ? -1 : 0;
}

/* An index being built from the entries iocb_misp_parse_manifest() hands over. */
struct index_build {
	struct iocb_feed__manifest *out; /* the index */
	size_t cap;                      /* entries allocated */
	size_t max;                      /* most entries allowed */
	struct iocb_err *err;            /* for the limit */
};

static void note_skip(struct iocb_feed__manifest *m, const char *detail)
{
	if (!m->skipped++)
		snprintf(m->first_skip, sizeof(m->first_skip), "%s", detail);
}

/* iocb_misp_skip_cb: a member that is not `<uuid>: {...}`. */
static void index_skip(void *ud, enum iocb_misp_skip reason, const char *detail)
{
	struct index_build *b = ud;

	(void)reason;
	note_skip(b->out, detail);
}

/* iocb_misp_manifest_cb: keep uuid and timestamp; an entry without a timestamp is left out. */
static int index_add(void *ud, const struct iocb_misp_manifest_entry *e)
{
	struct index_build *b = ud;
	struct iocb_feed__manifest *m = b->out;

	if (!e->has_timestamp) {
		char what[128];
		snprintf(what, sizeof(what), "manifest.json: byte %zu: event entry without a decimal \"timestamp\"",
			 e->offset);
		note_skip(m, what);
		return IOCB_OK;
	}
	if (m->n == b->max)
		return iocb_err_set(b->err, IOCB_ELIMIT, "byte %zu: the manifest lists more than %zu events", e->offset,
				    b->max);
	if (m->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		if (b->cap > b->max)
			b->cap = b->max;
		m->v = iocb_xrealloc(m->v, b->cap * sizeof(*m->v));
	}
	struct iocb_feed__entry *d = &m->v[m->n++];
	memcpy(d->uuid, e->uuid_bin, 16);
	memcpy(d->name, e->uuid.ptr, 36);
	d->name[36] = '\0';
	d->timestamp = e->ev->timestamp;
	return IOCB_OK;
}

int iocb_feed__manifest_parse(const char *buf, size_t len, size_t max_events, struct iocb_feed__manifest *out,
			      struct iocb_err *err)
{
	struct index_build b = {out, 0, max_events, err};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = iocb_misp_parse_manifest(buf, len, "manifest.json", index_add, index_skip, &b, NULL, NULL, err);
	if (rc < 0) {
		iocb_feed__manifest_fini(out);
		return rc;
	}
	if (out->n) {
		size_t w = 1;
		qsort(out->v, out->n, sizeof(*out->v), cmp_entry);
		for (size_t i = 1; i < out->n; i++)
			if (memcmp(out->v[i].uuid, out->v[w - 1].uuid, 16) != 0)
				out->v[w++] = out->v[i];
		out->n = w;
	}
	return IOCB_OK;
}

void iocb_feed__manifest_fini(struct iocb_feed__manifest *m)
{
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

const struct iocb_feed__entry *iocb_feed__manifest_find(const struct iocb_feed__manifest *m, const uint8_t uuid[16])
{
	if (!m->n)
		return NULL;
	return bsearch(uuid, m->v, m->n, sizeof(*m->v), cmp_u16);
}

/* ------------------------------------------------------------ state */

/* Per-event state, parallel to the manifest entries (same index). */
struct feed_ev {
	bool applied;          /* a version of this event was applied (or found identical) */
	uint64_t applied_ts;   /* manifest timestamp of that version */
	char *tag;             /* its file's ETag or local identity; NULL none; owned */
};

/* A growable array of 16-byte uuids. */
struct uuids {
	uint8_t (*v)[16]; /* owned */
	size_t n;         /* used */
	size_t cap;       /* allocated */
};

/* One fetched file. */
struct fetch {
	const char *data;          /* body (into resp or map) */
	size_t len;                /* its length */
	bool unchanged;            /* 304 / same mtime and size: no body */
	char tag[FEED_TAG_MAX];    /* ETag ("" none) or local identity of this version */
	struct iocb_httpc_resp resp; /* HTTP response (owns the body) */
	struct iocb_file_map map;  /* local file mapping */
};

/* One configured feed. Touched only by the feed thread (metrics aside). */
struct feed {
	const struct iocb_config_feed *cfg; /* borrowed from the sync's configuration */
	unsigned id;                      /* store source id: IOCB_SRCID_FEED0 + index */
	struct iocb_sources_sync_metrics *m;      /* "feed:<name>", owned by the sync */
	struct iocb_ingest *in;           /* applies this feed's documents; owned */
	struct iocb_httpc_client *http;    /* HTTP(S) feeds; NULL for local ones; owned */
	char *dir;                        /* local feeds: the directory; owned */
	char where[512];                  /* URL with secrets as *** (or the dir), for logs */
	double next_due;                  /* monotonic time of the next round */
	char man_tag[FEED_TAG_MAX];       /* manifest ETag / identity of "want"; "" none */
	bool have_want;                   /* a manifest was parsed since start */
	bool orphans_swept;               /* the post-start sweep of unlisted events is done */
	struct iocb_feed__manifest want;  /* last parsed manifest */
	struct feed_ev *ev;               /* per entry of want (same index); owned */
	struct uuids gone;                /* events dropped from the manifest, not swept yet */
	struct uuids applied;             /* events applied since the last sweep */
	struct uuids seen;                /* attribute uuids those upserted */
	uint8_t cur_event[16];            /* uuid of the event file being applied (observer checks it) */
	uint64_t foreign;                 /* attributes of that file whose Event.uuid is another one */
	uint8_t stray[16];                /* the last such other event uuid */
	uint64_t swept;                   /* attributes the sweeps removed (acts[remove] adds them) */
	uint64_t committed;               /* ingest change count at the last commit (skip empty commits) */
	struct iocb_ratelimit warn;       /* one warning per FEED_WARN_EVERY_S at most */
};

/* The running source: every feed and the one thread that serves them. */
struct feeds {
	struct iocb_source base;          /* must be first: the daemon holds &base */
	struct iocb_sources_sync *y;              /* borrowed */
	struct feed *f;                   /* one per configured feed; owned */
	size_t n;                         /* number of feeds */
	pthread_t thread;                 /* the feed thread */
};

static void uuids_add(struct uuids *s, const uint8_t u[16])
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->v = iocb_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	memcpy(s->v[s->n++], u, 16);
}

static void uuids_sort(struct uuids *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cmp_u16);
}

static bool uuids_has(const struct uuids *s, const uint8_t u[16])
{
	return s->n && bsearch(u, s->v, s->n, sizeof(*s->v), cmp_u16) != NULL;
}

static void uuids_fini(struct uuids *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static bool is_http(const char *url)
{
	return strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
}

/* Counted, rate-limited warning about one file of a feed. Feed thread. */
static void feed_fail(struct feed *f, const char *file, const char *why)
{
	uint64_t suppressed;

	IOCB_M_ADD(f->m->errors, 1);
	f->warn.interval_s = FEED_WARN_EVERY_S;
	if (!iocb_ratelimit_ok(&f->warn, &suppressed))
		return;
	iocb_log(IOCB_LOG_WARN, "feed", "\"feed file failed; keeping the previous state\" feed=%s url=\"%s\" file=%s "
		 "error=\"%s\" suppressed=%" PRIu64, f->cfg->name, f->where, file, why, suppressed);
}

static void fetch_init(struct fetch *x)
{
	memset(x, 0, sizeof(*x));
	iocb_httpc_resp_init(&x->resp);
}

static void fetch_fini(struct fetch *x)
{
	iocb_httpc_resp_fini(&x->resp);
	iocb_file_unmap(&x->map);
}

/*
 * Fetch `file` of the feed, conditionally on `prev` (the tag of the version
 * we have; NULL or "" none). Counts messages/bytes for bodies received.
 */
static int feed_fetch(struct feed *f, const char *file, const char *prev, struct fetch *x, struct iocb_err *err)
{
	char path[4200];
	int rc, n;

	n = snprintf(path, sizeof(path), "%s/%s", f->http ? "" : f->dir, file);
	if (n < 0 || (size_t)n >= sizeof(path))
		return iocb_err_set(err, IOCB_ELIMIT, "path too long");
	if (f->http) {
		rc = iocb_httpc_request(f->http, "GET", path, NULL, 0, prev && *prev ? prev : NULL, &x->resp, err);
		if (rc < 0)
			return rc;
		IOCB_M_SET(f->m->last_message_us, iocb_time_real_us());
		if (x->resp.status == 304 && prev && *prev) {
			x->unchanged = true;
			snprintf(x->tag, sizeof(x->tag), "%s", prev);
			return IOCB_OK;
		}
		if (x->resp.status != 200)
			return iocb_err_set(err, IOCB_EIO, "GET %s: HTTP status %ld", file, x->resp.status);
		x->data = x->resp.body.ptr ? x->resp.body.ptr : "";
		x->len = x->resp.body.len;
		snprintf(x->tag, sizeof(x->tag), "%s", x->resp.etag);
	} else {
		struct stat st;

		if (stat(path, &st) != 0)
			return iocb_err_set(err, IOCB_EIO, "%s: %s", path, strerror(errno));
		if (!S_ISREG(st.st_mode))
			return iocb_err_set(err, IOCB_EIO, "%s: not a regular file", path);
		if ((uint64_t)st.st_size > FEED_MAX_BODY)
			return iocb_err_set(err, IOCB_ELIMIT, "%s: larger than %zu bytes", path, FEED_MAX_BODY);
		snprintf(x->tag, sizeof(x->tag), "%lld.%09ld:%lld:%llu", (long long)st.st_mtim.tv_sec,
			 (long)st.st_mtim.tv_nsec, (long long)st.st_size, (unsigned long long)st.st_ino);
		IOCB_M_SET(f->m->last_message_us, iocb_time_real_us());
		if (prev && strcmp(prev, x->tag) == 0) {
			x->unchanged = true;
			return IOCB_OK;
		}
		rc = iocb_file_map(path, FEED_MAX_BODY, &x->map, err);
		if (rc < 0)
			return rc;
		x->data = x->map.data ? x->map.data : "";
		x->len = x->map.len;
	}
	IOCB_M_ADD(f->m->messages, 1);
	IOCB_M_ADD(f->m->bytes, x->len);
	return IOCB_OK;
}

/* Ingest observer: collect the attribute uuids an event's new version upserted. */
static void on_upsert(void *ud, const struct iocb_misp_attr *a)
{
	struct feed *f = ud;
	uint8_t u[16];

	if (iocb_misp_uuid_parse(a->uuid, u))
		uuids_add(&f->seen, u);
	if (!iocb_misp_uuid_parse(a->event->uuid, u)) {
		f->foreign++;
		memset(f->stray, 0, 16);
	} else if (memcmp(u, f->cur_event, 16) != 0) {
		f->foreign++;
		memcpy(f->stray, u, 16);
	}
}

/* ------------------------------------------------------------ sweep */

struct sweep {
	struct feed *f;       /* the feed (its sorted sets) */
	bool orphans;         /* also remove events the manifest does not list */
};

static bool sweep_pred(void *ud, const struct iocb_store_attr *a)
{
	const struct sweep *s = ud;
	const struct feed *f = s->f;
	struct iocb_store_attr_view av;
	struct iocb_store_event_view ev;
	uint8_t eu[16], au[16];

	iocb_store_attr_view(a, &av);
	if (av.source != f->id || !av.event)
		return false;
	iocb_store_event_view(av.event, &ev);
	if (!iocb_misp_uuid_parse(iocb_str_c(ev.uuid), eu))
		return false;
	if (s->orphans && !iocb_feed__manifest_find(&f->want, eu))
		return true;
	if (uuids_has(&f->gone, eu))
		return true;
	if (uuids_has(&f->applied, eu))
		return iocb_misp_uuid_parse(iocb_str_c(av.uuid), au) && !uuids_has(&f->seen, au);
	return false;
}

/* Remove what the events applied since the last sweep left behind, publish, commit. */
static void feed_flush(struct iocb_sources_sync *y, struct feed *f)
{
	struct sweep s = {f, f->have_want && !f->orphans_swept};
	struct iocb_err err = {0};
	const struct iocb_ingest_stats *st = iocb_ingest_stats(f->in);
	size_t removed = 0;
	uint64_t changes;

	if (s.orphans || f->gone.n || f->applied.n) {
		uuids_sort(&f->gone);
		uuids_sort(&f->applied);
		uuids_sort(&f->seen);
		if (iocb_store_remove_if(y->store, sweep_pred, &s, &removed, &err) < 0) {
			/* Re-apply those events next round so their leftovers get another sweep. */
			for (size_t i = 0; i < f->applied.n; i++) {
				const struct iocb_feed__entry *e = iocb_feed__manifest_find(&f->want, f->applied.v[i]);
				if (e) {
					struct feed_ev *fe = &f->ev[e - f->want.v];
					fe->applied = false;
					free(fe->tag);
					fe->tag = NULL;
				}
			}
			feed_fail(f, "(store sweep)", err.msg);
		} else {
			if (s.orphans)
				f->orphans_swept = true;
			f->gone.n = 0;
			f->swept += removed;
			f->m->own_removes += removed;
		}
	}
	f->applied.n = 0;
	f->seen.n = 0;
	iocb_sources_sync_publish(y, f->m, st, false); /* acts[remove] includes own_removes (the sweeps) */
	if (removed)
		IOCB_M_SET(f->m->last_update_us, iocb_time_real_us());
	changes = st->upserts + st->removes + st->event_removes + st->misp.events + f->swept;
	if (changes == f->committed)
		return;
	if (iocb_sources_sync_commit(y, &err) < 0)
		IOCB_M_ADD(f->m->errors, 1);
	else
		f->committed = changes;
}

/* ------------------------------------------------------------ a round */

/* Take a newly parsed manifest: carry per-event state over, note dropped events. */
static void adopt_manifest(struct feed *f, struct iocb_feed__manifest *nm)
{
	struct feed_ev *nev = iocb_xcalloc(nm->n ? nm->n : 1, sizeof(*nev));

	for (size_t i = 0; i < f->want.n; i++) {
		const struct iocb_feed__entry *e = iocb_feed__manifest_find(nm, f->want.v[i].uuid);
		if (e) {
			nev[e - nm->v] = f->ev[i];
		} else {
			uuids_add(&f->gone, f->want.v[i].uuid);
			free(f->ev[i].tag);
		}
	}
	free(f->ev);
	iocb_feed__manifest_fini(&f->want);
	f->want = *nm;
	f->ev = nev;
	memset(nm, 0, sizeof(*nm));
	f->have_want = true;
}

/* Fetch and apply one event. True when applied (or found unchanged). */
static bool feed_event(struct feed *f, size_t i)
{
	const struct iocb_feed__entry *e = &f->want.v[i];
	struct feed_ev *fe = &f->ev[i];
	struct iocb_err err = {0};
	struct fetch x;
	char file[48], srcname[160];
	bool ok = false;

	snprintf(file, sizeof(file), "%s.json", e->name);
	fetch_init(&x);
	if (feed_fetch(f, file, fe->tag, &x, &err) < 0) {
		feed_fail(f, file, err.msg);
		goto out;
	}
	if (!x.unchanged) {
		const struct iocb_ingest_stats *st = iocb_ingest_stats(f->in);
		uint64_t events_before = st->misp.events;
		size_t seen_before = f->seen.n;

		snprintf(srcname, sizeof(srcname), "feed:%s/%s", f->cfg->name, file);
		memcpy(f->cur_event, e->uuid, 16);
		f->foreign = 0;
		if (iocb_ingest_doc(f->in, x.data, x.len, srcname, &err) < 0) {
			f->seen.n = seen_before;
			feed_fail(f, file, err.msg);
			goto out;
		}
		if (st->misp.events == events_before) {
			f->seen.n = seen_before;
			feed_fail(f, file, "not a MISP event file ({\"Event\":{...}})");
			goto out;
		}
		/*
		 * Its attributes went to the event the file names, which the
		 * sweeps treat as unlisted: a broken feed, reported every round.
		 * When that event is not listed, the next sweep takes them out.
		 */
		if (f->foreign) {
			f->seen.n = seen_before;
			if (!iocb_feed__manifest_find(&f->want, f->stray))
				uuids_add(&f->gone, f->stray);
			feed_fail(f, file, "Event.uuid is not the uuid the manifest lists it under");
			goto out;
		}
		uuids_add(&f->applied, e->uuid);
		free(fe->tag);
		fe->tag = x.tag[0] ? iocb_xstrdup(x.tag) : NULL;
	}
	fe->applied = true;
	fe->applied_ts = e->timestamp;
	ok = true;
out:
	fetch_fini(&x);
	return ok;
}

static void feed_round(struct iocb_sources_sync *y, struct feed *f)
{
	struct iocb_feed__manifest nm = {0};
	struct iocb_err err = {0};
	struct fetch x;
	size_t batch = 0;

	fetch_init(&x);
	if (feed_fetch(f, "manifest.json", f->have_want ? f->man_tag : NULL, &x, &err) < 0) {
		IOCB_M_SET(f->m->up, 0);
		feed_fail(f, "manifest.json", err.msg);
		goto out;
	}
	IOCB_M_SET(f->m->up, 1);
	if (!x.unchanged) {
		if (iocb_feed__manifest_parse(x.data, x.len, IOCB_FEED__MAX_EVENTS, &nm, &err) < 0) {
			f->m->own_rejects[IOCB_SKIP_NOT_JSON]++;
			feed_fail(f, "manifest.json", err.msg);
			goto out;
		}
		if (nm.skipped) {
			f->m->own_rejects[IOCB_SKIP_BAD_SHAPE] += nm.skipped;
			iocb_log(IOCB_LOG_WARN, "feed", "\"manifest entries skipped\" feed=%s count=%zu first=\"%s\"",
				 f->cfg->name, nm.skipped, nm.first_skip);
		}
		adopt_manifest(f, &nm);
		snprintf(f->man_tag, sizeof(f->man_tag), "%s", x.tag);
	}
	fetch_fini(&x);
	fetch_init(&x);
	iocb_ingest_set_observer(f->in, on_upsert, f);
	for (size_t i = 0; i < f->want.n && !iocb_sources_sync_stopping(y); i++) {
		if (f->ev[i].applied && f->ev[i].applied_ts == f->want.v[i].timestamp)
			continue;
		if (feed_event(f, i))
			batch++;
		if (batch >= FEED_BATCH_EVENTS || f->seen.n >= FEED_BATCH_SEEN) {
			feed_flush(y, f);
			batch = 0;
		}
	}
	iocb_ingest_set_observer(f->in, NULL, NULL);
	feed_flush(y, f);
out:
	iocb_feed__manifest_fini(&nm);
	fetch_fini(&x);
}

/* ------------------------------------------------------------ thread */

static void *feed_thread(void *arg)
{
	struct feeds *fs = arg;
	struct iocb_sources_sync *y = fs->y;

	while (!iocb_sources_sync_stopping(y)) {
		double next = 0;
		for (size_t i = 0; i < fs->n && !iocb_sources_sync_stopping(y); i++) {
			struct feed *f = &fs->f[i];
			if (iocb_time_mono_s() >= f->next_due) {
				feed_round(y, f);
				f->next_due = iocb_time_mono_s() + f->cfg->interval_s;
			}
		}
		for (size_t i = 0; i < fs->n; i++)
			if (i == 0 || fs->f[i].next_due < next)
				next = fs->f[i].next_due;
		if (!iocb_sources_sync_sleep(y, next - iocb_time_mono_s(), false))
			break;
	}
	return NULL;
}

static void feed_free(struct feed *f)
{
	for (size_t i = 0; f->ev && i < f->want.n; i++)
		free(f->ev[i].tag);
	free(f->ev);
	iocb_feed__manifest_fini(&f->want);
	uuids_fini(&f->gone);
	uuids_fini(&f->applied);
	uuids_fini(&f->seen);
	iocb_ingest_free(f->in);
	iocb_httpc_client_free(f->http);
	free(f->dir);
}

static void feeds_free(struct feeds *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		feed_free(&fs->f[i]);
	free(fs->f);
	free(fs);
}

static void feeds_join(struct iocb_source *src)
{
	struct feeds *fs = (struct feeds *)src;

	pthread_join(fs->thread, NULL);
	feeds_free(fs);
}

/* httpc abort callback: a stop (or reload) cuts an in-flight request short. */
static bool stop_requested(void *ud)
{
	return iocb_sources_sync_stopping(ud);
}

static int feed_setup(struct iocb_sources_sync *y, struct feed *f, const struct iocb_config_feed *cfg, unsigned id,
		      struct iocb_err *err)
{
	char mname[96];
	const char *url = cfg->url;

	f->cfg = cfg;
	f->id = id;
	(void)iocb_str_redact_url(url, f->where, sizeof(f->where)); /* what logs may show */
	snprintf(mname, sizeof(mname), "feed:%s", cfg->name);
	f->m = iocb_sources_sync_metrics_add(y, mname);
	if (!f->m)
		return iocb_err_set(err, IOCB_ELIMIT, "feed %s: too many sources for the metrics table", cfg->name);
	if (is_http(url)) {
		struct iocb_httpc_opts o;
		size_t n = strlen(url);
		char *base = iocb_xstrdup(url);
		int rc;

		while (n > 0 && base[n - 1] == '/')
			base[--n] = '\0';
		iocb_httpc_opts_default(&o);
		o.base_url = base;
		o.api_key = NULL;
		o.max_body = FEED_MAX_BODY;
		o.abort_cb = stop_requested;
		o.abort_ud = y;
		rc = iocb_httpc_client_new(&o, &f->http, err);
		free(base);
		if (rc < 0) {
			iocb_err_prefix(err, "feed %s", cfg->name);
			return rc;
		}
	} else {
		size_t n;
		if (strncmp(url, "file://", 7) == 0)
			url += 7;
		n = strlen(url);
		while (n > 1 && url[n - 1] == '/')
			n--;
		f->dir = iocb_xstrndup(url, n);
	}
	f->in = iocb_ingest_new(y->store, y->filter, id);
	return IOCB_OK;
}

int iocb_sources_feed_start(struct iocb_sources_sync *y, struct iocb_source **out, struct iocb_err *err)
{
	const struct iocb_config *cfg = y->cfg;
	struct feeds *fs = NULL;
	int rc = IOCB_OK;

	*out = NULL;
	if (!cfg || !cfg->nfeeds)
		return IOCB_OK;
	if (cfg->nfeeds > IOCB_STORE_MAX_SOURCES - IOCB_SRCID_FEED0)
		return iocb_err_set(err, IOCB_ELIMIT, "at most %d feeds", IOCB_STORE_MAX_SOURCES - IOCB_SRCID_FEED0);
	fs = iocb_xcalloc(1, sizeof(*fs));
	fs->base.kind = "feeds";
	fs->base.join = feeds_join;
	fs->y = y;
	fs->f = iocb_xcalloc(cfg->nfeeds, sizeof(*fs->f));
	for (size_t i = 0; i < cfg->nfeeds; i++) {
		fs->n = i + 1;
		rc = feed_setup(y, &fs->f[i], &cfg->feeds[i], IOCB_SRCID_FEED0 + (unsigned)i, err);
		if (rc < 0)
			goto out;
		fs->f[i].next_due = 0; /* first check at once */
	}
	if (pthread_create(&fs->thread, NULL, feed_thread, fs) != 0) {
		rc = iocb_err_set(err, IOCB_EIO, "cannot start the feed thread");
		goto out;
	}
	*out = &fs->base;
out:
	if (rc < 0)
		feeds_free(fs);
	return rc;
}
