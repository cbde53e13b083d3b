/* SPDX-License-Identifier: Apache-2.0 */
/* Apply parsed MISP documents to the store (see ingest.h for the rules). */
#include "ingest/ingest.h"
#include "ingest/internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"
#include "core/file.h"
#include "core/log.h"
#include "core/mem.h"

struct iocb_ingest {
	struct iocb_store *store;         /* borrowed */
	const struct iocb_filter *filter; /* borrowed, may be NULL */
	unsigned source;                  /* store source id */
	struct iocb_ingest_stats st;      /* counters */
	iocb_ingest_observer observe;     /* optional upsert observer */
	iocb_ingest_event_hook tagged;    /* optional: an event gained a tag */
	void *tagged_ud;
	void *observe_ud;
	/* stored event tags borrowed for one filter check (see with_event_tags) */
	struct iocb_misp_tag *tags;
	size_t ntags, captags;
	struct iocb_buf tagtext;
	size_t max_tags;
	struct iocb_misp_limits lim;      /* parser limits (keep_deleted for pulls) */
	uint64_t source_now;              /* MISP's clock (REST Date header), 0 = use the local clock */
	bool skip_unchanged;              /* a version already stored from this source is not written again */
	size_t pipeline_min;              /* files this long or longer load on two threads */
	struct iocb_ratelimit future_rl;  /* the future-timestamp warning: once an hour at most */
};

struct iocb_ingest *iocb_ingest_new(struct iocb_store *store, const struct iocb_filter *filter, unsigned source)
{
	struct iocb_ingest *in = iocb_xcalloc(1, sizeof(*in));

	in->store = store;
	in->filter = filter;
	in->source = source;
	in->st.by_type = iocb_xcalloc(iocb_misp_type_count() + 1, sizeof(uint64_t));
	iocb_buf_init(&in->tagtext, 1u << 20);
	in->max_tags = 256;
	in->pipeline_min = IOCB_INGEST_PIPELINE_MIN_BYTES;
	iocb_misp_limits_default(&in->lim);
	in->future_rl.interval_s = 3600;
	return in;
}

void iocb_ingest_free(struct iocb_ingest *in)
{
	if (!in)
		return;
	free(in->st.by_type);
	free(in->tags);
	iocb_buf_fini(&in->tagtext);
	free(in);
}

const struct iocb_ingest_stats *iocb_ingest_stats(const struct iocb_ingest *in)
{
	return &in->st;
}

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

void iocb_ingest_set_source_clock(struct iocb_ingest *in, uint64_t now)
{
	in->source_now = now;
}

void iocb_ingest_set_skip_unchanged(struct iocb_ingest *in, bool skip)
{
	in->skip_unchanged = skip;
}

void iocb_ingest_set_pipeline_min(struct iocb_ingest *in, size_t bytes)
{
	in->pipeline_min = bytes;
}

/*
 * Whether `a` is ahead of MISP's clock (the source's, else ours) by more
 * than the skew allowance. Such an attribute is still applied, but it must
 * not move the cursor: a catch-up from a cursor in the future fetches
 * nothing. Counted as a reject reason, warned about at most once an hour.
 */
static bool future_ts(struct iocb_ingest *in, const struct iocb_misp_attr *a)
{
	uint64_t now = in->source_now ? in->source_now : now_s(), suppressed = 0;

	if (a->timestamp <= now + IOCB_INGEST_FUTURE_SKEW_S)
		return false;
	in->st.misp.skipped[IOCB_SKIP_FUTURE_TIMESTAMP]++;
	if (iocb_log_enabled(IOCB_LOG_WARN, "ingest") && iocb_ratelimit_ok(&in->future_rl, &suppressed))
		iocb_log(IOCB_LOG_WARN, "ingest",
			 "\"attribute timestamp in the future; kept, but the cursor ignores it\" uuid=\"%.*s\" "
			 "timestamp=%llu misp_now=%llu more_since_last_warning=%llu",
			 IOCB_STR_FMT(a->uuid), (unsigned long long)a->timestamp, (unsigned long long)now,
			 (unsigned long long)suppressed);
	return true;
}

/* The stored record of `a` is this very version, from this source (nothing to write). */
static bool unchanged(struct iocb_ingest *in, const struct iocb_misp_attr *a)
{
	const struct iocb_store_attr *r;
	struct iocb_store_attr_view v;
	bool same = false;

	if (!a->timestamp)
		return false;
	iocb_store_read_lock();
	r = iocb_store_get(in->store, a->uuid);
	if (r) {
		iocb_store_attr_view(r, &v);
		same = v.timestamp == a->timestamp && v.source == in->source;
	}
	iocb_store_read_unlock();
	return same;
}

static void remove_attr(struct iocb_ingest *in, struct iocb_str uuid)
{
	struct iocb_err err = {0};
	int rc = iocb_store_remove(in->store, uuid, &err);

	if (rc == IOCB_OK)
		in->st.removes++;
	else if (rc != IOCB_ENOTFOUND) {
		in->st.store_errors++;
		iocb_log(IOCB_LOG_WARN, "ingest", "\"store remove failed\" error=\"%s\"", err.msg);
	}
}

void iocb_ingest_set_event_tagged_hook(struct iocb_ingest *in, iocb_ingest_event_hook fn, void *ud)
{
	in->tagged = fn;
	in->tagged_ud = ud;
}

void iocb_ingest_set_keep_deleted(struct iocb_ingest *in, bool keep)
{
	in->lim.keep_deleted = keep;
}

void iocb_ingest_set_observer(struct iocb_ingest *in, iocb_ingest_observer fn, void *ud)
{
	in->observe = fn;
	in->observe_ud = ud;
}

/* Writer-locked callback: copy the stored event's tag names into in->tags. */
static void copy_event_tags(void *ud, const struct iocb_store_event *e)
{
	struct iocb_ingest *in = ud;
	struct iocb_store_event_view v;

	iocb_store_event_view(e, &v);
	in->ntags = 0;
	iocb_buf_reset(&in->tagtext);
	for (size_t i = 0; i < v.ntags && i < in->max_tags; i++) {
		struct iocb_str t = iocb_store_event_tag(e, i);
		if (iocb_buf_append_str(&in->tagtext, t) < 0)
			break;
		if (in->ntags == in->captags) {
			in->captags = in->captags ? 2 * in->captags : 16;
			in->tags = iocb_xrealloc(in->tags, in->captags * sizeof(*in->tags));
		}
		/* offsets for now: the buffer may move while it grows */
		in->tags[in->ntags].name = iocb_str_make(NULL, t.len);
		in->tags[in->ntags].local = false;
		in->tags[in->ntags].inherited = false;
		in->ntags++;
	}
	size_t off = 0;
	for (size_t i = 0; i < in->ntags; i++) {
		in->tags[i].name.ptr = in->tagtext.ptr + off;
		off += in->tags[i].name.len;
	}
}

/*
 * The filter decision for `a`. ZeroMQ/Kafka attribute messages carry their
 * event's org but not its tags; when the filter may need them, borrow the
 * tags the store learned for that event (event messages, REST, feeds).
 */
static bool filter_pass(struct iocb_ingest *in, const struct iocb_misp_attr *a)
{
	const struct iocb_misp_event *ev = a->event;

	if (iocb_filter_pass(in->filter, a))
		return true;
	if (!ev || ev->tags_known || (!ev->uuid.len && !ev->id && !a->event_id))
		return false;
	if (iocb_store_event_with(in->store, ev->uuid, ev->id ? ev->id : a->event_id, copy_event_tags, in) !=
		    IOCB_OK ||
	    in->ntags == 0)
		return false;
	struct iocb_misp_event ev2 = *ev;
	struct iocb_misp_attr a2 = *a;
	ev2.tags = in->tags;
	ev2.ntags = in->ntags;
	ev2.tags_known = true;
	a2.event = &ev2;
	in->st.tag_lookups++;
	return iocb_filter_pass(in->filter, &a2);
}

static int on_attr(void *ud, const struct iocb_misp_attr *a)
{
	struct iocb_ingest *in = ud;
	struct iocb_err err = {0};
	bool removal = a->action == IOCB_ACT_DELETE || a->action == IOCB_ACT_SOFT_DELETE || a->deleted ||
		       !a->indicator;

	if (a->action <= IOCB_ACT_OTHER)
		in->st.by_action[a->action]++;
	if (!future_ts(in, a) && a->timestamp > in->st.max_timestamp)
		in->st.max_timestamp = a->timestamp;
	if (!removal && in->filter && !filter_pass(in, a)) {
		in->st.filtered++;
		/* A live edit that leaves the whitelist must retract the indicator. */
		if (a->action == IOCB_ACT_NONE)
			return IOCB_OK;
		removal = true;
	}
	if (removal) {
		remove_attr(in, a->uuid);
		return IOCB_OK;
	}
	if (in->skip_unchanged && unchanged(in, a)) {
		in->st.unchanged++;
		return IOCB_OK;
	}
	int rc = iocb_store_upsert_newer(in->store, a, in->source, now_s(), &err);
	if (rc == IOCB_EEXIST) {
		in->st.stale++; /* an older version arriving after a newer one */
		return IOCB_OK;
	}
	if (rc < 0) {
		in->st.store_errors++;
		iocb_log(IOCB_LOG_WARN, "ingest", "\"store upsert failed\" error=\"%s\"", err.msg);
		return IOCB_OK;
	}
	in->st.upserts++;
	in->st.by_type[a->type->id]++;
	if (in->observe)
		in->observe(in->observe_ud, a);
	return IOCB_OK;
}

static int on_event(void *ud, const struct iocb_misp_event *ev, enum iocb_misp_action action)
{
	struct iocb_ingest *in = ud;
	struct iocb_err err = {0};
	size_t removed = 0;
	int rc;

	if (action == IOCB_ACT_DELETE) {
		rc = iocb_store_event_remove(in->store, ev->uuid, ev->id, &removed, &err);
		if (rc == IOCB_OK) {
			in->st.event_removes++;
			in->st.removes += removed;
		} else if (rc != IOCB_ENOTFOUND) {
			in->st.store_errors++;
			iocb_log(IOCB_LOG_WARN, "ingest", "\"store event remove failed\" error=\"%s\"", err.msg);
		}
		return IOCB_OK;
	}
	if (!ev->uuid.len && !ev->id)
		return IOCB_OK;
	if (iocb_store_event_upsert(in->store, ev, &err) < 0) {
		in->st.store_errors++;
		iocb_log(IOCB_LOG_WARN, "ingest", "\"store event upsert failed\" error=\"%s\"", err.msg);
	}
	return IOCB_OK;
}

/* Scratch of one refilter pass: what the filter reads, rebuilt from a stored record. */
struct refilter {
	const struct iocb_filter *filter;        /* borrowed */
	uint64_t event_id;                       /* 0 = every attribute */
	struct iocb_misp_tag atags[256];         /* attribute tags of the record being judged */
	struct iocb_misp_tag etags[256];         /* its event's tags */
};

static bool refilter_reject(void *ud, const struct iocb_store_attr *a)
{
	struct refilter *r = ud;
	struct iocb_store_attr_view v;
	struct iocb_store_event_view e;
	struct iocb_misp_event ev = {0};
	struct iocb_misp_attr ma = {0};

	iocb_store_attr_view(a, &v);
	if (r->event_id) {
		if (!v.event)
			return false;
		iocb_store_event_view(v.event, &e);
		if (e.id != r->event_id)
			return false;
	}
	ma.type = v.type;
	ma.indicator = true;
	ma.uuid = iocb_str_make(v.uuid, strlen(v.uuid));
	ma.value = v.value;
	ma.to_ids = v.to_ids;
	for (size_t i = 0; i < v.ntags && i < IOCB_ARRAY_LEN(r->atags); i++) {
		r->atags[i].name = iocb_store_attr_tag(a, i);
		r->atags[i].local = false;
		r->atags[i].inherited = false;
		ma.ntags = i + 1;
	}
	ma.tags = r->atags;
	if (v.event) {
		iocb_store_event_view(v.event, &e);
		ev.id = e.id;
		ev.orgc_id = e.orgc_id;
		ev.has_orgc_id = e.orgc_id != 0;
		ev.orgc_name = e.orgc_name;
		ev.orgc_uuid = e.orgc_uuid;
		for (size_t i = 0; i < e.ntags && i < IOCB_ARRAY_LEN(r->etags); i++) {
			r->etags[i].name = iocb_store_event_tag(v.event, i);
			r->etags[i].local = false;
			r->etags[i].inherited = false;
			ev.ntags = i + 1;
		}
		ev.tags = r->etags;
		ev.tags_known = true;
	}
	ma.event = &ev;
	return !iocb_filter_pass(r->filter, &ma);
}

int iocb_ingest_refilter(struct iocb_ingest *in, uint64_t event_id, size_t *removed, struct iocb_err *err)
{
	struct refilter *r;
	size_t n = 0;
	int rc;

	if (removed)
		*removed = 0;
	if (!in->filter || iocb_filter_count(in->filter) == 0)
		return IOCB_OK;
	if (iocb_filter_needs_owner_org(in->filter))
		return iocb_err_set(err, IOCB_EUNSUPPORTED,
				    "the filter compares owner-org ids (filter_org_field: org_id), which the store does "
				    "not keep");
	r = iocb_xcalloc(1, sizeof(*r));
	r->filter = in->filter;
	r->event_id = event_id;
	rc = iocb_store_remove_if(in->store, refilter_reject, r, &n, err);
	free(r);
	in->st.refiltered += n;
	in->st.removes += n;
	if (removed)
		*removed = n;
	return rc;
}

/* Event tag attached/detached: the new tag list of the stored event (see copy_event_tags). */
static int on_tag(void *ud, const struct iocb_misp_tag_change *t)
{
	struct iocb_ingest *in = ud;
	struct iocb_err err = {0};
	struct iocb_misp_event ev = {0};
	size_t w = 0, removed = 0;
	bool present = false;

	if (iocb_store_event_with(in->store, IOCB_STR_NULL, t->event_id, copy_event_tags, in) != IOCB_OK) {
		/* An event we hold nothing of (perhaps all filtered out): MISP may now send some. */
		if (t->attached && in->tagged && in->filter && iocb_filter_count(in->filter))
			in->tagged(in->tagged_ud, t->event_id);
		return IOCB_OK;
	}
	for (size_t i = 0; i < in->ntags; i++) {
		if (iocb_str_eq(in->tags[i].name, t->name)) {
			present = true;
			if (!t->attached)
				continue;
		}
		in->tags[w++] = in->tags[i];
	}
	if (t->attached && !present) {
		if (in->ntags == in->captags) {
			/* the names point into tagtext, which does not move here */
			in->captags = in->captags ? 2 * in->captags : 16;
			in->tags = iocb_xrealloc(in->tags, in->captags * sizeof(*in->tags));
		}
		in->tags[w].name = t->name;
		in->tags[w].local = t->local;
		in->tags[w].inherited = false;
		w++;
	}
	if (t->attached == present)
		return IOCB_OK; /* already so */
	ev.id = t->event_id;
	ev.tags = in->tags;
	ev.ntags = w;
	ev.tags_known = true;
	ev.analysis = -1;
	if (iocb_store_event_upsert(in->store, &ev, &err) < 0) {
		in->st.store_errors++;
		iocb_log(IOCB_LOG_WARN, "ingest", "\"store event tag update failed\" error=\"%s\"", err.msg);
		return IOCB_OK;
	}
	in->st.tag_changes++;
	if (t->attached && in->tagged && in->filter && iocb_filter_count(in->filter))
		in->tagged(in->tagged_ud, t->event_id);
	if (!t->attached && iocb_ingest_refilter(in, t->event_id, &removed, &err) < 0 && err.rc != IOCB_EUNSUPPORTED)
		iocb_log(IOCB_LOG_WARN, "ingest", "\"refilter after untag failed\" error=\"%s\"", err.msg);
	iocb_log(IOCB_LOG_DEBUG, "ingest", "\"event tag %s\" event_id=%llu removed=%zu", t->attached ? "attached" : "detached",
		 (unsigned long long)t->event_id, removed);
	return IOCB_OK;
}

/* A MISP sighting (misp_json_sighting): the store's quality marks follow it (issue #15). */
static int on_sighting(void *ud, const struct iocb_misp_sighting *sg)
{
	struct iocb_ingest *in = ud;
	struct iocb_err err = {0};
	int rc = iocb_store_sighting(in->store, sg->attr_uuid, sg->type, sg->date, &err);
	if (rc == IOCB_OK)
		in->st.sightings++;
	else if (rc != IOCB_ENOTFOUND)
		iocb_log(IOCB_LOG_DEBUG, "ingest", "\"sighting not applied\" error=\"%s\"", err.msg);
	return IOCB_OK;
}

static void on_skip(void *ud, enum iocb_misp_skip reason, const char *detail)
{
	struct iocb_ingest *in = ud;
	unsigned *n = &in->st.nsamples[reason];

	if (*n < IOCB_INGEST_SAMPLES) {
		snprintf(in->st.samples[reason][*n], sizeof(in->st.samples[reason][*n]), "%s", detail);
		(*n)++;
	}
	iocb_log(IOCB_LOG_DEBUG, "ingest", "\"skipped\" reason=%s detail=\"%s\"", iocb_misp_skip_name(reason), detail);
}

static void handlers(struct iocb_ingest *in, struct iocb_misp_handlers *h)
{
	h->on_attr = on_attr;
	h->on_event = on_event;
	h->on_skip = on_skip;
	h->on_tag = on_tag;
	h->on_sighting = on_sighting;
	h->ud = in;
}

int iocb_ingest_doc(struct iocb_ingest *in, const char *buf, size_t len, const char *source_name, struct iocb_err *err)
{
	struct iocb_misp_handlers h;

	handlers(in, &h);
	return iocb_misp_parse(buf, len, source_name, &h, &in->lim, &in->st.misp, err);
}

int iocb_ingest_zmq_frame(struct iocb_ingest *in, const char *buf, size_t len, struct iocb_str *topic,
			  struct iocb_err *err)
{
	struct iocb_misp_handlers h;
	struct iocb_str t = {0};

	handlers(in, &h);
	int rc = iocb_misp_parse_zmq_frame(buf, len, &t, &h, &in->lim, &in->st.misp, err);
	if (topic)
		*topic = t;
	return rc;
}

static void file_error(struct iocb_ingest *in, const struct iocb_err *err)
{
	in->st.bad_files++;
	snprintf(in->st.last_error, sizeof(in->st.last_error), "%s", err->msg);
	iocb_log(IOCB_LOG_WARN, "ingest", "\"cannot load\" error=\"%s\"", err->msg);
}

struct parse_job {
	struct iocb_ingest *in;
	const struct iocb_file_map *m;
	const char *path;
	struct iocb_err *err;
};

static int parse_job_run(void *arg, const struct iocb_misp_handlers *h)
{
	struct parse_job *j = arg;

	return iocb_misp_parse(j->m->data, j->m->len, j->path, h, NULL, &j->in->st.misp, j->err);
}

int iocb_ingest_path(struct iocb_ingest *in, const char *path, struct iocb_err *err)
{
	struct iocb_misp_handlers h;
	struct iocb_file_map m;
	struct iocb_err local = {0};
	char man[PATH_MAX];
	struct stat st;
	int rc;

	if (!err)
		err = &local;
	in->st.files++;
	handlers(in, &h);
	if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(man, sizeof(man), "%s/manifest.json", path);
		if (stat(man, &st) != 0) {
			rc = iocb_err_set(err, IOCB_EINVAL, "%s: a directory without manifest.json is not a MISP feed",
					  path);
			file_error(in, err);
			return rc;
		}
		rc = iocb_misp_parse_feed_dir(path, &h, NULL, &in->st.misp, err);
	} else {
		rc = iocb_file_map(path, 0, &m, err);
		if (rc == IOCB_OK) {
			struct parse_job job = {in, &m, path, err};
			if (m.len >= in->pipeline_min)
				rc = iocb_ingest__pipe_run(in, &h, parse_job_run, &job);
			else
				rc = parse_job_run(&job, &h);
			iocb_file_unmap(&m);
		}
	}
	if (rc < 0)
		file_error(in, err);
	/* Commit what was accepted even if the file broke half-way. */
	struct iocb_err cerr = {0};
	if (iocb_store_commit(in->store, &cerr) < 0) {
		in->st.store_errors++;
		iocb_log(IOCB_LOG_ERROR, "ingest", "\"store commit failed\" error=\"%s\"", cerr.msg);
		if (rc == IOCB_OK)
			rc = iocb_err_set(err, cerr.rc, "%s", cerr.msg);
	}
	return rc;
}
