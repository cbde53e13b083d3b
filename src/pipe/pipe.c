/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pipeline core: assembly, stop order, batches, the inputs' ack rings
 * and iocb_pipe__submit (see pipe.h and internal.h for the contract).
 *
 * Stop order, and why:
 *   1. stopping = 1, deadline = now + shutdown_timeout; pushes blocked on a
 *      full queue spill to the spool instead of waiting;
 *   2. each input leaves its read loop and drains (iocb_pipe__input_drain); when the
 *      last one has left, every queue is closed: no push can come any more;
 *   3. outputs deliver what is queued until the queue is empty or the
 *      deadline passed, spill the rest, and are joined;
 *   4. inputs, whose batches are now all settled, get their last acks,
 *      write their final positions and are joined.
 */
#include "pipe/core.h"
#include "pipe/drivers.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/time.h"
#include "sightings/sightings.h"

#define RING_CAP 1024 /* batches in flight per input; beyond, submit waits for acks */

struct iocb_pipe {
	struct iocb_store *store;
	const struct iocb_config *cfg;
	struct iocb_pipe__input *ins[IOCB_PIPE_MAX_INPUTS];
	struct iocb_enrich_opts eopts[IOCB_PIPE_MAX_INPUTS];
	size_t nins;
	struct iocb_pipe__output *outs[IOCB_PIPE_MAX_OUTPUTS];
	size_t nouts;
	bool need_ids;
	struct iocb_pipe_hooks hooks; /* copied from start */
	int stopping;          /* atomic */
	double deadline;       /* monotonic; written before stopping is set */
	pthread_mutex_t mu;    /* nleft, nended */
	size_t nleft, nended;
};

/* ------------------------------------------------------------------ misc */

double iocb_pipe__backoff(double initial_s, double max_s, unsigned attempt)
{
	return iocb_backoff_delay(initial_s, max_s, attempt, IOCB_BACKOFF_FULL_JITTER);
}

const struct iocb_config *iocb_pipe__config(const struct iocb_pipe *p)
{
	return p->cfg;
}

bool iocb_pipe__stopping(const struct iocb_pipe *p)
{
	return __atomic_load_n(&p->stopping, __ATOMIC_ACQUIRE) != 0;
}

double iocb_pipe__deadline(const struct iocb_pipe *p)
{
	return p->deadline;
}

const double iocb_pipe__output_lat_bounds[12] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

void iocb_pipe__output_observe_latency(struct iocb_pipe__output_metrics *m, double seconds)
{
	size_t i = 0;

	while (i < 12 && seconds > iocb_pipe__output_lat_bounds[i])
		i++;
	IOCB_M_ADD(m->lat_bucket[i], 1);
	IOCB_M_ADD(m->lat_count, 1);
	IOCB_M_ADD(m->lat_sum_us, (uint64_t)(seconds * 1e6));
}

int iocb_pipe__write_state(const char *path, const char *data, size_t len, struct iocb_err *err)
{
	char tmp[4200];
	int fd;
	ssize_t w;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return iocb_err_set(err, IOCB_EINVAL, "%s: path too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return iocb_err_set(err, IOCB_EIO, "%s: %s", tmp, strerror(errno));
	w = write(fd, data, len);
	if (w != (ssize_t)len || fdatasync(fd) < 0) {
		int e = w < 0 ? errno : EIO;

		close(fd);
		unlink(tmp);
		return iocb_err_set(err, IOCB_EIO, "%s: %s", tmp, strerror(e));
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return iocb_err_set(err, IOCB_EIO, "%s: %s", path, strerror(e));
	}
	return IOCB_OK;
}

int iocb_pipe__mkdir_p(const char *dir, const char *what, struct iocb_err *err)
{
	char tmp[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp))
		return iocb_err_set(err, IOCB_EINVAL, "%s: bad length", what);
	memcpy(tmp, dir, n + 1);
	for (char *q = tmp + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = 0;
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return iocb_err_set(err, IOCB_EIO, "%s: %s: %s", what, tmp, strerror(errno));
		*q = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return iocb_err_set(err, IOCB_EIO, "%s: %s: %s", what, tmp, strerror(errno));
	return IOCB_OK;
}

/* ---------------------------------------------------------------- batches */

void iocb_pipe__batch_id_hex(const struct iocb_pipe__batch *b, uint32_t i, char hex[2 * IOCB_PIPE_ID_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *id = b->ids + (size_t)i * IOCB_PIPE_ID_LEN;

	for (size_t k = 0; k < IOCB_PIPE_ID_LEN; k++) {
		hex[2 * k] = digits[id[k] >> 4];
		hex[2 * k + 1] = digits[id[k] & 15];
	}
	hex[2 * IOCB_PIPE_ID_LEN] = 0;
}

static void pin_ack(struct iocb_pipe__input *in, uint64_t seq)
{
	pthread_mutex_lock(&in->mu_);
	in->done_[seq % in->cap_] = true;
	pthread_cond_broadcast(&in->cv_);
	pthread_mutex_unlock(&in->mu_);
}

static void batch_free(struct iocb_pipe__batch *b)
{
	free(b->data);
	free(b->ids);
	free(b);
}

void iocb_pipe__batch_settle(struct iocb_pipe__batch *b)
{
	if (__atomic_sub_fetch(&b->pending, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (b->in)
		pin_ack(b->in, b->seq);
	else if (b->spool)
		iocb_pipe__spool_release(b->spool, b->spool_seg);
	batch_free(b);
}

void iocb_pipe__batch_settle_undelivered(struct iocb_pipe__batch *b)
{
	if (__atomic_sub_fetch(&b->pending, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	/* Not released: the segment keeps an outstanding read and stays on disk for the next start. */
	batch_free(b);
}

/* ------------------------------------------------------------------ inputs */

void iocb_pipe__input_thread_enter(struct iocb_pipe__input *in)
{
	struct iocb_pipe *p = in->pipe;
	size_t i = 0;

	while (i < p->nins && p->ins[i] != in)
		i++;
	iocb_store_reader_register();
	if (p->hooks.sightings)
		in->matches_ = iocb_sightings_matches_new(p->hooks.sightings, in->cfg->name, p->hooks.sightings_window_s);
	/* The options live in the pipe, which outlives the worker. */
	in->enrich_ = iocb_enrich_new(&p->eopts[i]);
}

void iocb_pipe__input_thread_leave(struct iocb_pipe__input *in)
{
	iocb_enrich_free(in->enrich_);
	in->enrich_ = NULL;
	iocb_sightings_matches_free(in->matches_); /* hands over what is pending */
	in->matches_ = NULL;
	iocb_store_reader_unregister();
}

bool iocb_pipe__input_stopping(const struct iocb_pipe__input *in)
{
	return iocb_pipe__stopping(in->pipe);
}

void iocb_pipe__input_poll_acks(struct iocb_pipe__input *in)
{
	for (;;) {
		struct iocb_pipe__input_pos pos;

		pthread_mutex_lock(&in->mu_);
		if (!in->count_ || !in->done_[in->head_]) {
			pthread_mutex_unlock(&in->mu_);
			return;
		}
		pos = in->ring_[in->head_];
		in->done_[in->head_] = false;
		in->head_ = (in->head_ + 1) % in->cap_;
		in->count_--;
		pthread_cond_broadcast(&in->cv_);
		pthread_mutex_unlock(&in->mu_);
		IOCB_M_ADD(in->m.acked, 1);
		if (in->ops->acked)
			in->ops->acked(in, &pos);
	}
}

void iocb_pipe__cv_wait(pthread_cond_t *cv, pthread_mutex_t *mu, double s)
{
	struct timespec ts = iocb_time_deadline(CLOCK_REALTIME, s);

	pthread_cond_timedwait(cv, mu, &ts);
}

static void pipe_input_left(struct iocb_pipe *p)
{
	bool all;

	pthread_mutex_lock(&p->mu);
	all = ++p->nleft == p->nins;
	pthread_mutex_unlock(&p->mu);
	/* Only when the pipe stops: an input that ends by itself (stdin EOF) leaves the others running. */
	if (all && iocb_pipe__stopping(p))
		for (size_t i = 0; i < p->nouts; i++)
			iocb_pipe__queue_close(p->outs[i]->q);
}

bool iocb_pipe__input_drain(struct iocb_pipe__input *in)
{
	struct iocb_pipe *p = in->pipe;
	bool empty;

	if (!in->left_) {
		in->left_ = true;
		pipe_input_left(p);
	}
	for (;;) {
		double limit;

		iocb_pipe__input_poll_acks(in);
		pthread_mutex_lock(&in->mu_);
		empty = in->count_ == 0;
		if (!empty)
			iocb_pipe__cv_wait(&in->cv_, &in->mu_, 0.1);
		pthread_mutex_unlock(&in->mu_);
		if (empty)
			return true;
		/* Stopping: outputs settle everything by the deadline (spilling); the margin covers the spill. */
		limit = iocb_pipe__stopping(p) ? p->deadline + 30.0 : 1e18;
		if (iocb_time_mono_s() > limit) {
			iocb_log(IOCB_LOG_ERROR, "pipe", "\"input stopped with batches not settled\" input=\"%s\"",
				 in->cfg->name);
			return false;
		}
	}
}

void iocb_pipe__input_mark_ended(struct iocb_pipe__input *in)
{
	struct iocb_pipe *p = in->pipe;

	pthread_mutex_lock(&in->mu_);
	in->ended_ = true;
	pthread_mutex_unlock(&in->mu_);
	pthread_mutex_lock(&p->mu);
	p->nended++;
	pthread_mutex_unlock(&p->mu);
	iocb_log(IOCB_LOG_INFO, "pipe", "\"input ended\" input=\"%s\"", in->cfg->name);
}

void iocb_pipe__input_reject(struct iocb_pipe__input *in, enum iocb_enrich_reject why, const char *where,
			     uint64_t bytes)
{
	static __thread struct iocb_ratelimit rl = {.interval_s = 5};
	uint64_t suppressed;

	IOCB_M_ADD(in->m.rejects[why], 1);
	IOCB_M_ADD(in->m.lines, 1);
	IOCB_M_ADD(in->m.bytes, bytes);
	if (iocb_ratelimit_ok(&rl, &suppressed))
		iocb_log(IOCB_LOG_WARN, "pipe", "\"line dropped\" input=\"%s\" reason=%s where=\"%s\" bytes=%" PRIu64
			 " suppressed=%" PRIu64, in->cfg->name, iocb_enrich_reject_name(why), where ? where : "?",
			 bytes, suppressed);
}

/* Publish the worker's counters into in->m as deltas since the last call. */
static void publish_enrich(struct iocb_pipe__input *in, struct iocb_enrich_stats *prev)
{
	const struct iocb_enrich_stats *st = iocb_enrich_stats(in->enrich_);

	IOCB_M_ADD(in->m.lines, st->lines - prev->lines);
	IOCB_M_ADD(in->m.events, st->events - prev->events);
	IOCB_M_ADD(in->m.matched, st->matched - prev->matched);
	IOCB_M_ADD(in->m.expired_hits, st->expired_skipped - prev->expired_skipped);
	prev->expired_skipped = st->expired_skipped;
	for (size_t r = 0; r < IOCB_REJ__COUNT; r++)
		IOCB_M_ADD(in->m.rejects[r], st->rejected[r] - prev->rejected[r]);
	prev->lines = st->lines;
	prev->events = st->events;
	prev->matched = st->matched;
	memcpy(prev->rejected, st->rejected, sizeof(prev->rejected));
}

/*
 * Room in the ack ring: a slow output holds every input to RING_CAP batches
 * in flight. IOCB_ECANCELED when the pipe stops while waiting.
 */
static int wait_ring_room(struct iocb_pipe__input *in)
{
	iocb_pipe__input_poll_acks(in);
	pthread_mutex_lock(&in->mu_);
	while (in->count_ == in->cap_) {
		int64_t t0;

		if (iocb_pipe__stopping(in->pipe)) {
			pthread_mutex_unlock(&in->mu_);
			return IOCB_ECANCELED;
		}
		t0 = iocb_time_real_us();
		iocb_pipe__cv_wait(&in->cv_, &in->mu_, 0.1);
		IOCB_M_ADD(in->m.blocked_us, iocb_time_real_us() - t0); /* counted as it goes: a long block shows */
		pthread_mutex_unlock(&in->mu_);
		iocb_pipe__input_poll_acks(in);
		pthread_mutex_lock(&in->mu_);
	}
	pthread_mutex_unlock(&in->mu_);
	return IOCB_OK;
}

int iocb_pipe__submit(struct iocb_pipe__input *in, const char *buf, size_t len, const struct iocb_pipe__input_pos *pos)
{
	struct iocb_pipe *p = in->pipe;
	struct iocb_enrich_stats prev;
	const struct iocb_enrich_stats *st = iocb_enrich_stats(in->enrich_);
	struct iocb_pipe__batch *b;
	size_t nlines = 0, off = 0;
	bool hits_only = p->cfg->enrich.hits_only;
	int rc;

	rc = wait_ring_room(in);
	if (rc < 0)
		return rc;
	if (in->matches_)
		in->batch_s_ = iocb_time_real_us() / 1000000;

	/* Enrich line by line: blank lines are dropped (a blank line would break Elasticsearch's NDJSON framing). */
	memcpy(&prev, st, sizeof(prev));
	prev.by_field = prev.by_type = NULL;
	/*
	 * The output buffer becomes the batch's data (no copy): start each batch
	 * with a fresh one sized for the input plus room for enrichments, so it
	 * rarely grows while lines are appended.
	 */
	iocb_buf_init(&in->out_, 0);
	if (len && iocb_buf_reserve(&in->out_, len + len / 4 + 4096) < 0)
		iocb_buf_init(&in->out_, 0); /* grows as needed instead */
	b = iocb_xcalloc(1, sizeof(*b));
	if (p->need_ids)
		b->ids = iocb_xmalloc(len / 2 + 64);
	size_t ids_cap = p->need_ids ? (len / 2 + 64) / IOCB_PIPE_ID_LEN : 0;
	while (off < len) {
		const char *line = buf + off, *nl = memchr(line, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - line) : len - off;
		size_t mark = in->out_.len;
		enum iocb_enrich_reject why;
		int v;

		off += ll + (nl ? 1 : 0);
		v = iocb_enrich_line(in->enrich_, line, ll, &in->out_, &why);
		if (v == IOCB_ENRICH_BLANK || v < 0 || (hits_only && v != IOCB_ENRICH_HIT)) {
			in->out_.len = mark;
			continue;
		}
		if (iocb_buf_putc(&in->out_, '\n') < 0) {
			in->out_.len = mark;
			continue;
		}
		if (p->need_ids) {
			XXH128_hash_t h = XXH3_128bits(line, ll);
			XXH128_canonical_t c;

			if (nlines == ids_cap) {
				ids_cap *= 2;
				b->ids = iocb_xrealloc(b->ids, ids_cap * IOCB_PIPE_ID_LEN);
			}
			XXH128_canonicalFromHash(&c, h);
			memcpy(b->ids + nlines * IOCB_PIPE_ID_LEN, c.digest, IOCB_PIPE_ID_LEN);
		}
		nlines++;
	}
	publish_enrich(in, &prev);
	if (in->matches_)
		iocb_sightings_matches_flush(in->matches_); /* per batch, never per event; no I/O */
	IOCB_M_ADD(in->m.bytes, len); /* iocb_enrich_line does not count input bytes; the block is what was read */
	IOCB_M_ADD(in->m.batches, 1);

	b->len = in->out_.len;
	b->data = in->out_.ptr ? in->out_.ptr : iocb_xmalloc(1);
	iocb_buf_init(&in->out_, 0); /* the batch owns the memory now */
	b->nlines = (uint32_t)nlines;
	if (!nlines) {
		free(b->ids);
		b->ids = NULL;
	}
	b->in = in;
	b->created_us = iocb_time_real_us();
	pthread_mutex_lock(&in->mu_);
	b->seq = in->next_seq_++;
	in->ring_[(in->head_ + in->count_) % in->cap_] = *pos;
	in->done_[(in->head_ + in->count_) % in->cap_] = false;
	in->count_++;
	pthread_mutex_unlock(&in->mu_);

	/* Shares: one per output plus ours, so no output can finish it while we still push. */
	b->pending = nlines ? (int)p->nouts + 1 : 1;
	if (nlines)
		for (size_t i = 0; i < p->nouts; i++)
			(void)!iocb_pipe__queue_push(p->outs[i]->q, b, &in->m.blocked_us); /* ECANCELED: spilled or lost; ack follows */
	iocb_pipe__batch_settle(b);
	iocb_pipe__input_poll_acks(in);
	return IOCB_OK;
}

/* ------------------------------------------------------------------ dead letters: dlq.c */

/* ------------------------------------------------------------------ assembly */

static void pin_free(struct iocb_pipe__input *in)
{
	if (!in)
		return;
	iocb_enrich_map_free(in->map_);
	iocb_buf_fini(&in->out_);
	pthread_mutex_destroy(&in->mu_);
	pthread_cond_destroy(&in->cv_);
	free(in->ring_);
	free(in->done_);
	free(in->state_path);
	free(in);
}

static void pout_free(struct iocb_pipe__output *o)
{
	if (!o)
		return;
	iocb_pipe__queue_free(o->q);
	iocb_pipe__dlq_close(o->dlq);
	free(o);
}

static void pipe_free(struct iocb_pipe *p)
{
	for (size_t i = 0; i < p->nins; i++)
		pin_free(p->ins[i]);
	for (size_t i = 0; i < p->nouts; i++)
		pout_free(p->outs[i]);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* enrich's on_match for sightings.from_matches: input thread, store read lock held. */
static void note_match(void *ud, const struct iocb_store_attr *attr)
{
	struct iocb_pipe__input *in = ud;
	struct iocb_store_attr_view v;

	iocb_store_attr_view(attr, &v);
	iocb_sightings_matches_note(in->matches_, v.uuid, in->batch_s_);
}

/* enrich's on_hit for the status page's last matches: enrichment thread, store read lock held. */
static void note_hit(void *ud, const struct iocb_store_attr *attr, const char *field, struct iocb_str atom)
{
	struct iocb_pipe__input *in = ud;

	(void)atom;
	iocb_pipe_recent_note(in->pipe->hooks.recent, in->cfg->name, attr, field, iocb_time_real_us());
}

/* The enrich options of one input: the configuration's, with the input's own max_line. */
static void fill_eopts(const struct iocb_config *cfg, struct iocb_store *store, const struct iocb_enrich_map *map,
		       uint64_t max_line, struct iocb_enrich_opts *o)
{
	iocb_enrich_opts_from_config(cfg, o);
	o->store = store;
	o->map = map;
	o->max_line = (size_t)max_line;
}

static char *path_join(const char *dir, const char *name, const char *suffix)
{
	size_t n = strlen(dir) + strlen(name) + strlen(suffix) + 2;
	char *s = iocb_xmalloc(n);

	snprintf(s, n, "%s/%s%s", dir, name, suffix);
	return s;
}

static int add_input(struct iocb_pipe *p, const struct iocb_config_input *ic, struct iocb_err *err)
{
	struct iocb_pipe__input *in = iocb_xcalloc(1, sizeof(*in));
	const struct iocb_pipe__input_driver *drv;
	size_t idx = p->nins;
	int rc;

	p->ins[p->nins++] = in;
	in->cfg = ic;
	in->pipe = p;
	in->max_line = ic->max_line ? ic->max_line : p->cfg->enrich.max_line;
	pthread_mutex_init(&in->mu_, NULL);
	pthread_cond_init(&in->cv_, NULL);
	in->cap_ = RING_CAP;
	in->ring_ = iocb_xcalloc(in->cap_, sizeof(*in->ring_));
	in->done_ = iocb_xcalloc(in->cap_, sizeof(*in->done_));
	iocb_buf_init(&in->out_, 0);
	if (p->cfg->pipeline.state_dir)
		in->state_path = path_join(p->cfg->pipeline.state_dir, ic->name, ".checkpoint");
	rc = iocb_enrich_map_from_config(p->cfg, ic, &in->map_, err);
	if (rc < 0)
		return rc;
	fill_eopts(p->cfg, p->store, in->map_, in->max_line, &p->eopts[idx]);
	p->eopts[idx].wl = p->hooks.wl;
	p->eopts[idx].decay = p->hooks.decay;
	if (p->hooks.sightings) {
		p->eopts[idx].on_match = note_match;
		p->eopts[idx].on_match_ud = in;
	}
	if (p->hooks.recent) {
		p->eopts[idx].on_hit = note_hit;
		p->eopts[idx].on_hit_ud = in;
	}
	drv = iocb_pipe__input_driver(ic->type);
	if (!drv)
		return iocb_err_set(err, IOCB_ECONFIG, "%s: inputs[%s]: unknown type \"%s\"", ic->where ? ic->where : "?",
				    ic->name, iocb_config_choice_name(IOCB_CONFIG_CHOICE_INPUT_TYPE, (int)ic->type));
	return drv->init(in, err);
}

static int add_output(struct iocb_pipe *p, const struct iocb_config_output *oc, struct iocb_err *err)
{
	const struct iocb_config *cfg = p->cfg;
	struct iocb_pipe__output *o = iocb_xcalloc(1, sizeof(*o));
	const struct iocb_pipe__output_driver *drv;
	struct iocb_pipe__spool *spool = NULL;
	char *dlq_path = NULL;
	int rc;

	p->outs[p->nouts++] = o;
	o->cfg = oc;
	o->pipe = p;
	if (cfg->pipeline.state_dir && cfg->pipeline.spool_max) {
		char *dir = path_join(cfg->pipeline.state_dir, "spool/", oc->name);

		rc = iocb_pipe__spool_open(dir, cfg->pipeline.spool_max, cfg->pipeline.spool_fsync, &o->m, &spool, err);
		free(dir);
		if (rc < 0)
			return rc;
	}
	o->q = iocb_pipe__queue_new(p, o, cfg->pipeline.queue_bytes, spool);
	if (oc->dead_letter)
		dlq_path = iocb_xstrdup(oc->dead_letter);
	else if (cfg->pipeline.state_dir)
		dlq_path = path_join(cfg->pipeline.state_dir, oc->name, ".dead.ndjson");
	rc = iocb_pipe__dlq_open(dlq_path, cfg->pipeline.dead_letter_max_bytes, cfg->pipeline.dead_letter_max_files,
			    &o->m.dead_dropped, &o->dlq, err);
	free(dlq_path);
	if (rc < 0)
		return rc;
	drv = iocb_pipe__output_driver(oc->type);
	if (!drv)
		return iocb_err_set(err, IOCB_ECONFIG, "%s: outputs[%s]: unknown type \"%s\"",
				    oc->where ? oc->where : "?", oc->name, iocb_config_choice_name(IOCB_CONFIG_CHOICE_OUTPUT_TYPE, (int)oc->type));
	rc = drv->init(o, err);
	if (rc == IOCB_OK && o->needs_ids)
		p->need_ids = true;
	return rc;
}

int iocb_pipe_start(struct iocb_store *store, const struct iocb_config *cfg, struct iocb_pipe **out,
		    struct iocb_err *err)
{
	return iocb_pipe_start_with(store, cfg, NULL, out, err);
}

int iocb_pipe_start_with(struct iocb_store *store, const struct iocb_config *cfg, const struct iocb_pipe_hooks *hooks,
			 struct iocb_pipe **out, struct iocb_err *err)
{
	struct iocb_pipe *p;
	size_t started_out = 0, started_in = 0;
	int rc;

	*out = NULL;
	if (!cfg->ninputs)
		return IOCB_OK;
	p = iocb_xcalloc(1, sizeof(*p));
	p->store = store;
	p->cfg = cfg;
	if (hooks)
		p->hooks = *hooks;
	pthread_mutex_init(&p->mu, NULL);
	if (cfg->pipeline.state_dir) {
		rc = iocb_pipe__mkdir_p(cfg->pipeline.state_dir, "pipeline.state_dir", err);
		if (rc < 0)
			goto fail;
	}
	for (size_t i = 0; i < cfg->noutputs && i < IOCB_PIPE_MAX_OUTPUTS; i++) {
		rc = add_output(p, &cfg->outputs[i], err);
		if (rc < 0)
			goto fail;
	}
	for (size_t i = 0; i < cfg->ninputs && i < IOCB_PIPE_MAX_INPUTS; i++) {
		rc = add_input(p, &cfg->inputs[i], err);
		if (rc < 0)
			goto fail;
	}
	/* Outputs first: inputs start pushing at once. */
	for (; started_out < p->nouts; started_out++) {
		rc = p->outs[started_out]->ops->start(p->outs[started_out], err);
		if (rc < 0)
			goto fail;
	}
	for (; started_in < p->nins; started_in++) {
		rc = p->ins[started_in]->ops->start(p->ins[started_in], err);
		if (rc < 0)
			goto fail;
	}
	iocb_log(IOCB_LOG_INFO, "pipe", "\"pipeline started\" inputs=%zu outputs=%zu state_dir=\"%s\"", p->nins,
		 p->nouts, cfg->pipeline.state_dir ? cfg->pipeline.state_dir : "");
	*out = p;
	return IOCB_OK;
fail:
	/* Stop what started, in the normal order; inputs never started count as having left. */
	p->deadline = iocb_time_mono_s();
	__atomic_store_n(&p->stopping, 1, __ATOMIC_RELEASE);
	for (size_t i = 0; i < p->nouts; i++)
		iocb_pipe__queue_close(p->outs[i]->q);
	/* Every init that succeeded (ops set) is joined: join frees what init built, started or not. */
	for (size_t i = 0; i < p->nouts; i++)
		if (p->outs[i]->ops)
			p->outs[i]->ops->join(p->outs[i]);
	for (size_t i = 0; i < p->nins; i++)
		if (p->ins[i]->ops)
			p->ins[i]->ops->join(p->ins[i]);
	pipe_free(p);
	return rc;
}

void iocb_pipe_stop(struct iocb_pipe *p)
{
	if (!p)
		return;
	iocb_log(IOCB_LOG_INFO, "pipe", "\"pipeline stopping\" shutdown_timeout=%.1f",
		 p->cfg->pipeline.shutdown_timeout_s);
	p->deadline = iocb_time_mono_s() + p->cfg->pipeline.shutdown_timeout_s;
	__atomic_store_n(&p->stopping, 1, __ATOMIC_RELEASE);
	for (size_t i = 0; i < p->nouts; i++)
		iocb_pipe__queue_wake(p->outs[i]->q);
	/* Inputs that had already left (stdin at EOF) did not close the queues then. */
	pthread_mutex_lock(&p->mu);
	bool all_left = p->nleft == p->nins;
	pthread_mutex_unlock(&p->mu);
	if (all_left)
		for (size_t i = 0; i < p->nouts; i++)
			iocb_pipe__queue_close(p->outs[i]->q);
	for (size_t i = 0; i < p->nouts; i++) {
		p->outs[i]->ops->join(p->outs[i]);
		iocb_pipe__queue_spill_rest(p->outs[i]->q);
	}
	for (size_t i = 0; i < p->nins; i++)
		p->ins[i]->ops->join(p->ins[i]);
	iocb_log(IOCB_LOG_INFO, "pipe", "\"pipeline stopped\"");
	pipe_free(p);
}

bool iocb_pipe_finished(struct iocb_pipe *p)
{
	bool ended;

	if (!p)
		return false;
	pthread_mutex_lock(&p->mu);
	ended = p->nended == p->nins;
	pthread_mutex_unlock(&p->mu);
	if (!ended)
		return false;
	for (size_t i = 0; i < p->nins; i++) {
		bool busy;

		pthread_mutex_lock(&p->ins[i]->mu_);
		busy = p->ins[i]->count_ != 0;
		pthread_mutex_unlock(&p->ins[i]->mu_);
		if (busy)
			return false;
	}
	for (size_t i = 0; i < p->nouts; i++)
		if (!iocb_pipe__queue_idle(p->outs[i]->q))
			return false;
	return true;
}

bool iocb_pipe_healthy(struct iocb_pipe *p)
{
	int64_t now = iocb_time_real_us();

	if (!p)
		return true;
	for (size_t i = 0; i < p->nouts; i++) {
		int64_t since = IOCB_M_GET(p->outs[i]->m.failing_since_us);
		double limit = p->outs[i]->cfg->retry_max_s > 0 ? p->outs[i]->cfg->retry_max_s : 60;

		if (since && (double)(now - since) / 1e6 > limit)
			return false;
	}
	return true;
}

void iocb_pipe__view_get(struct iocb_pipe *p, struct iocb_pipe__view *v)
{
	v->nins = p->nins;
	v->nouts = p->nouts;
	v->ins = p->ins;
	v->outs = p->outs;
}
