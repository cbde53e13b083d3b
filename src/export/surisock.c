/* SPDX-License-Identifier: Apache-2.0 */
/* Suricata datasets fed over the unix socket (surisock.h): listener, queue and socket thread. */
#include "export/surisock.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/log.h"
#include "core/time.h"
#include "export/internal.h"

#define SURISOCK_ITEM_MAX 768 /* raw part bytes: a string item fits a line when its base64 is <= 1022 (766 bytes) */
#define SURISOCK_IDLE_MS 100   /* how often an idle thread looks at the stop request */
#define SURISOCK_HELLO "{\"version\": \"0.2\"}"

enum { OP_ADD = 1, OP_REMOVE = 2 };

/* One queued change: a raw part (not yet encoded) to add to or remove from a set. */
struct item {
	uint8_t op;                    /* OP_ADD / OP_REMOVE */
	uint8_t set;                   /* index in sets[] */
	uint8_t mc;                    /* the part's match class (for the removal's store lookup) */
	uint16_t len;                  /* bytes in val */
	uint8_t uuid[16];              /* removals: the record that held it (a lookup may still see it) */
	char val[SURISOCK_ITEM_MAX];   /* the part as the store normalised it */
};

struct iocb_surisock {
	struct iocb_store *s;                           /* borrowed */
	struct iocb_surisock_opts o;                    /* with defaults applied; sets points at sets[] */
	struct iocb_surisock_set sets[IOCB_SURISOCK_MAX_SETS];
	char path[108];                                 /* sun_path */
	int listener;                                   /* store listener handle */
	pthread_t thread;
	int wake_fd;                                    /* eventfd: items queued into an empty ring */
	int stop_fd;                                    /* eventfd: stop requested */
	atomic_bool stop;
	/* The ring: the listener (one at a time, under the writer lock) produces, the thread consumes. */
	struct item *ring;                              /* queue_cap slots */
	atomic_size_t head;                             /* next slot to take (consumer) */
	atomic_size_t tail;                             /* next slot to fill (producer) */
	atomic_bool lost;                               /* an item was dropped: resync */
	/* Socket state: the thread only. */
	int fd;                                         /* -1 while down */
	struct iocb_buf out;                            /* the command being sent */
	char in[IOCB_SURISOCK_LINE_MAX];                /* the answer being read */
	struct iocb_ratelimit rl;                       /* NOK warnings */
	/* Counters (surisock.h). */
	atomic_uint_fast64_t commands[IOCB_SURISOCK_MAX_SETS], nok[IOCB_SURISOCK_MAX_SETS];
	atomic_uint_fast64_t retries[IOCB_SURISOCK_MAX_SETS];
	atomic_uint_fast64_t reconnects, resyncs, overflows, reloads;
	atomic_bool reload_wanted;                      /* iocb_surisock_reload_rules() was called */
	int64_t last_reload_ns;                         /* the thread only: monotonic time of the last reload */
	atomic_bool connected;
	atomic_int version_major;
};

/* ------------------------------------------------------------ listener side */

/* Push one item; never blocks. Caller: the store listener (one producer at a time). */
static void push(struct iocb_surisock *k, uint8_t op, size_t set, enum iocb_match_class mc, struct iocb_str p,
		 const struct iocb_store_attr *a)
{
	size_t tail = atomic_load_explicit(&k->tail, memory_order_relaxed);
	size_t head = atomic_load(&k->head);
	struct item *it;

	if (tail - head >= k->o.queue_cap || p.len > SURISOCK_ITEM_MAX) {
		atomic_fetch_add(&k->overflows, 1);
		atomic_store(&k->lost, true);
		goto wake;
	}
	it = &k->ring[tail % k->o.queue_cap];
	it->op = op;
	it->set = (uint8_t)set;
	it->mc = (uint8_t)mc;
	it->len = (uint16_t)p.len;
	memcpy(it->val, p.ptr, p.len);
	iocb_store_attr_uuid(a, it->uuid);
	atomic_store(&k->tail, tail + 1);
	/* Wake only when the thread may have found the ring empty: it stores head, then loads tail;
	 * we store tail, then load head (both seq_cst), so one of us sees the other. */
	if (atomic_load(&k->head) != tail)
		return;
wake:;
	uint64_t one = 1;
	if (write(k->wake_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the thread is awake anyway */
	}
}

/* The parts of the record seen as v (NULL: none) that are items of set i; returns how many. */
static unsigned items_of(const struct iocb_surisock_set *set, const struct iocb_store_attr *a,
			 struct iocb_store_attr_view *v, unsigned idx[2])
{
	unsigned n = 0;

	if (!a)
		return 0;
	iocb_store_attr_view(a, v);
	if (!iocb_export_selected(&set->sel, v))
		return 0;
	for (unsigned i = 0; i < v->nparts && i < 2; i++)
		if (iocb_export__suricata_fits(set->type, v, i))
			idx[n++] = i;
	return n;
}

static bool holds(const struct iocb_store_attr_view *v, const unsigned idx[2], unsigned n, struct iocb_str p)
{
	for (unsigned i = 0; i < n; i++)
		if (iocb_str_eq(v->part[idx[i]], p))
			return true;
	return false;
}

/* The store listener: under the writer lock. Diffs the items of old and nw per set. */
static void on_change(void *ud, const struct iocb_store_attr *old, const struct iocb_store_attr *nw)
{
	struct iocb_surisock *k = ud;

	if (old == nw)
		return; /* event metadata only: the items are the same */
	for (size_t s = 0; s < k->o.nsets; s++) {
		struct iocb_store_attr_view vo, vn;
		unsigned io[2], in[2];
		unsigned no = items_of(&k->sets[s], old, &vo, io);
		unsigned nn = items_of(&k->sets[s], nw, &vn, in);

		for (unsigned i = 0; i < no; i++)
			if (!nn || !holds(&vn, in, nn, vo.part[io[i]]))
				push(k, OP_REMOVE, s, vo.type->mc[io[i]], vo.part[io[i]], old);
		for (unsigned i = 0; i < nn; i++)
			if (!no || !holds(&vo, io, no, vn.part[in[i]]))
				push(k, OP_ADD, s, vn.type->mc[in[i]], vn.part[in[i]], nw);
	}
}

/* ------------------------------------------------------------ socket I/O (the thread) */

/* Wait up to ms for the stop request; true when stopping. */
static bool pause_ms(struct iocb_surisock *k, int ms)
{
	struct pollfd p = {.fd = k->stop_fd, .events = POLLIN};

	if (atomic_load(&k->stop))
		return true;
	(void)poll(&p, 1, ms);
	return atomic_load(&k->stop);
}

static void disconnect(struct iocb_surisock *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	atomic_store(&k->connected, false);
}

/* Send n bytes. IOCB_EIO. */
static int send_all(struct iocb_surisock *k, const char *p, size_t n)
{
	while (n) {
		struct pollfd pf = {.fd = k->fd, .events = POLLOUT};
		ssize_t w;

		if (poll(&pf, 1, (int)k->o.timeout_ms) <= 0)
			return IOCB_EIO;
		w = send(k->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return IOCB_EIO;
		p += w;
		n -= (size_t)w;
	}
	return IOCB_OK;
}

/*
 * Read one answer: up to a '\n' (protocol 0.2), or a whole JSON value when
 * the peer sends no newline (0.1). IOCB_EIO (closed, timeout), IOCB_EPARSE.
 */
static int read_reply(struct iocb_surisock *k, struct iocb_surisock_reply *r)
{
	size_t n = 0;

	for (;;) {
		struct pollfd pf = {.fd = k->fd, .events = POLLIN};
		ssize_t got;
		char *nl;

		if (poll(&pf, 1, (int)k->o.timeout_ms) <= 0)
			return IOCB_EIO;
		got = recv(k->fd, k->in + n, sizeof(k->in) - 1 - n, MSG_DONTWAIT);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0)
			return IOCB_EIO;
		n += (size_t)got;
		nl = memchr(k->in, '\n', n);
		if (nl)
			return iocb_surisock_reply_parse(k->in, (size_t)(nl - k->in) + 1, r);
		if (iocb_surisock_reply_parse(k->in, n, r) == IOCB_OK)
			return IOCB_OK;
		if (n == sizeof(k->in) - 1)
			return IOCB_EPARSE;
	}
}

/* One round trip of the line in k->out. */
static int round_trip(struct iocb_surisock *k, struct iocb_surisock_reply *r)
{
	int rc = send_all(k, k->out.ptr, k->out.len);

	if (rc == IOCB_OK)
		rc = read_reply(k, r);
	return rc;
}

/* Suricata's major version from a `version` answer ("7.0.2 RELEASE"); 0 when unreadable. */
static int major_of(const char *msg)
{
	int v = 0;

	for (const char *p = msg; *p >= '0' && *p <= '9' && v < 1000; p++)
		v = v * 10 + (*p - '0');
	return v;
}

/* Connect, handshake, ask the version. IOCB_EIO. */
static int dial(struct iocb_surisock *k)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct iocb_surisock_reply r;
	int rc;

	memcpy(sa.sun_path, k->path, sizeof(k->path));
	k->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (k->fd < 0)
		return IOCB_EIO;
	if (connect(k->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		disconnect(k);
		return IOCB_EIO;
	}
	iocb_buf_reset(&k->out);
	rc = iocb_buf_append_c(&k->out, SURISOCK_HELLO);
	if (rc == IOCB_OK)
		rc = round_trip(k, &r);
	if (rc == IOCB_OK && !r.ok)
		rc = IOCB_EIO;
	iocb_buf_reset(&k->out);
	if (rc == IOCB_OK)
		rc = iocb_surisock_command(&k->out, "version", NULL, NULL, IOCB_STR_NULL);
	if (rc == IOCB_OK)
		rc = round_trip(k, &r);
	if (rc != IOCB_OK) {
		disconnect(k);
		return IOCB_EIO;
	}
	atomic_store(&k->version_major, r.ok ? major_of(r.message) : 0);
	atomic_store(&k->connected, true);
	return IOCB_OK;
}

/* Tell whether the failure of cmd's answer r is worth counting (remove of an absent item is not). */
static bool is_nok(const char *cmd, const struct iocb_surisock_reply *r)
{
	if (r->ok)
		return false;
	return !(strcmp(cmd, "dataset-remove") == 0 && strcmp(r->message, "failed to remove data") == 0);
}

/*
 * Send one dataset command (value encoded already, or NULL ptr for none) and
 * retry it while Suricata answers busy. IOCB_OK once answered (OK or NOK,
 * counted), IOCB_EIO when the connection failed.
 */
static int command(struct iocb_surisock *k, const char *cmd, const struct iocb_surisock_set *set,
		   struct iocb_str value)
{
	const char *type = iocb_export_dataset_name(set->type);
	size_t si = (size_t)(set - k->sets);
	struct iocb_surisock_reply r;

	for (unsigned attempt = 0;; attempt++) {
		int rc;

		iocb_buf_reset(&k->out);
		rc = iocb_surisock_command(&k->out, cmd, set->name, type, value);
		if (rc < 0)
			return IOCB_OK; /* cannot be written (cap): the item is dropped, nothing to retry */
		rc = round_trip(k, &r);
		if (rc == IOCB_EPARSE)
			iocb_log(IOCB_LOG_WARN, "export", "\"suricata socket: unreadable answer\" path=\"%s\"", k->path);
		if (rc < 0)
			return IOCB_EIO;
		atomic_fetch_add(&k->commands[si], 1);
		if (!r.ok || !iocb_surisock_reply_busy(&r))
			break;
		if (attempt >= k->o.busy_retries) {
			r.ok = false;
			break;
		}
		atomic_fetch_add(&k->retries[si], 1);
		if (pause_ms(k, (int)(iocb_backoff_delay(0.001, 0.2, attempt, 0.2) * 1000) + 1))
			return IOCB_EIO;
	}
	if (is_nok(cmd, &r)) {
		uint64_t dropped;

		atomic_fetch_add(&k->nok[si], 1);
		if (iocb_ratelimit_ok(&k->rl, &dropped))
			iocb_log(IOCB_LOG_WARN, "export",
				 "\"suricata socket: command refused\" cmd=%s set=%s answer=\"%s\" suppressed=%llu", cmd,
				 set->name, r.message, (unsigned long long)dropped);
	}
	return IOCB_OK;
}

/* Encode raw part p as set's type wants it into scratch and send cmd. */
static int command_raw(struct iocb_surisock *k, const char *cmd, const struct iocb_surisock_set *set,
		       struct iocb_str p, struct iocb_buf *scratch)
{
	iocb_buf_reset(scratch);
	if (iocb_export__suricata_item(scratch, set->type, p) != IOCB_OK)
		return IOCB_OK;
	return command(k, cmd, set, iocb_buf_str(scratch));
}

/* ------------------------------------------------------------ the thread */

/*
 * True when another live record selected by set still holds the item of it (a removal). The
 * record it came from is not counted: the listener runs before the writer unlinks it, so a
 * lookup right after may still find it.
 */
static bool still_held(struct iocb_surisock *k, const struct iocb_surisock_set *set, const struct item *it)
{
	struct iocb_str p = iocb_str_make(it->val, it->len);
	struct iocb_store_hit hits[8];
	bool held = false;
	size_t n;

	iocb_store_read_lock();
	n = iocb_store_lookup(k->s, (enum iocb_match_class)it->mc, p, hits, 8);
	for (size_t i = 0; i < n && i < 8 && !held; i++) {
		struct iocb_store_attr_view v;
		uint8_t uuid[16];

		iocb_store_attr_uuid(hits[i].attr, uuid);
		if (memcmp(uuid, it->uuid, sizeof(uuid)) == 0)
			continue;
		iocb_store_attr_view(hits[i].attr, &v);
		held = hits[i].prefix < 0 && iocb_export_selected(&set->sel, &v) &&
		       iocb_export__suricata_fits(set->type, &v, hits[i].part) && iocb_str_eq(v.part[hits[i].part], p);
	}
	iocb_store_read_unlock();
	return held || n > 8; /* more holders than looked at: keep it (a resync settles it) */
}

/* Reload every set: clear (7.0+), then add each item of a fresh snapshot. IOCB_EIO. */
static int resync(struct iocb_surisock *k)
{
	int rc = IOCB_OK;

	atomic_fetch_add(&k->resyncs, 1);
	for (size_t s = 0; s < k->o.nsets && rc == IOCB_OK; s++) {
		const struct iocb_surisock_set *set = &k->sets[s];
		struct iocb_export__lines l;
		struct iocb_export_stats st;
		const char *p, *end;

		if (atomic_load(&k->version_major) >= 7)
			rc = command(k, "dataset-clear", set, IOCB_STR_NULL);
		iocb_export__lines_init(&l, set->sel.max_bytes);
		if (rc == IOCB_OK && iocb_export__suricata_collect(k->s, &set->sel, &l, &st) != IOCB_OK)
			iocb_log(IOCB_LOG_WARN, "export", "\"suricata socket: set too large to reload\" set=%s", set->name);
		p = l.text.ptr;
		end = p ? p + l.text.len : p;
		while (rc == IOCB_OK && p && p < end && !atomic_load(&k->stop)) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));

			if (!nl)
				break;
			rc = command(k, "dataset-add", set, iocb_str_make(p, (size_t)(nl - p)));
			p = nl + 1;
		}
		iocb_export__lines_fini(&l);
	}
	return rc;
}

/* Send the reload asked for, when due. IOCB_EIO. */
static int reload_rules(struct iocb_surisock *k)
{
	int64_t now = iocb_time_mono_ns();
	struct iocb_surisock_reply r;
	int rc;

	if (!atomic_load(&k->reload_wanted) ||
	    (k->last_reload_ns && now - k->last_reload_ns < (int64_t)(k->o.reload_min_s * 1e9)))
		return IOCB_OK;
	atomic_store(&k->reload_wanted, false);
	k->last_reload_ns = now;
	iocb_buf_reset(&k->out);
	rc = iocb_surisock_command(&k->out, "ruleset-reload-nonblocking", NULL, NULL, IOCB_STR_NULL);
	if (rc == IOCB_OK)
		rc = round_trip(k, &r);
	if (rc < 0) {
		atomic_store(&k->reload_wanted, true); /* asked again after the reconnect */
		return IOCB_EIO;
	}
	if (r.ok)
		atomic_fetch_add(&k->reloads, 1);
	else
		iocb_log(IOCB_LOG_WARN, "export", "\"suricata socket: rule reload refused\" answer=\"%s\"", r.message);
	return IOCB_OK;
}

/* Send the queued items until the ring is empty. IOCB_EIO. */
static int drain(struct iocb_surisock *k, struct iocb_buf *scratch)
{
	for (;;) {
		size_t head = atomic_load(&k->head);
		const struct item *it;
		const struct iocb_surisock_set *set;
		struct iocb_str p;
		int rc = IOCB_OK;

		if (head == atomic_load(&k->tail) || atomic_load(&k->lost) || atomic_load(&k->stop))
			return IOCB_OK;
		it = &k->ring[head % k->o.queue_cap];
		set = &k->sets[it->set];
		p = iocb_str_make(it->val, it->len);
		if (it->op == OP_ADD)
			rc = command_raw(k, "dataset-add", set, p, scratch);
		else if (!still_held(k, set, it))
			rc = command_raw(k, "dataset-remove", set, p, scratch);
		/* Taken even on a failed send: the resync after the reconnect covers it. */
		atomic_store(&k->head, head + 1);
		if (rc < 0)
			return rc;
	}
}

/* Connect with backoff until connected or stopping; true when connected. */
static bool connect_loop(struct iocb_surisock *k, bool *first)
{
	for (unsigned attempt = 0; !atomic_load(&k->stop); attempt++) {
		if (dial(k) == IOCB_OK) {
			if (!*first)
				atomic_fetch_add(&k->reconnects, 1);
			*first = false;
			iocb_log(IOCB_LOG_INFO, "export", "\"suricata socket connected\" path=\"%s\" version=%d", k->path,
				 atomic_load(&k->version_major));
			return true;
		}
		if (attempt == 0)
			iocb_log(IOCB_LOG_WARN, "export", "\"suricata socket unreachable, retrying\" path=\"%s\"", k->path);
		if (pause_ms(k, (int)(iocb_backoff_delay(0.05, k->o.reconnect_max_s, attempt, 0.2) * 1000)))
			return false;
	}
	return false;
}

static void *sock_main(void *arg)
{
	struct iocb_surisock *k = arg;
	struct iocb_buf scratch;
	bool first = true;

	iocb_store_reader_register();
	iocb_buf_init(&scratch, 4096);
	while (!atomic_load(&k->stop)) {
		uint64_t cnt;
		struct pollfd pf[2] = {{.fd = k->wake_fd, .events = POLLIN}, {.fd = k->stop_fd, .events = POLLIN}};

		if (k->fd < 0) {
			if (!connect_loop(k, &first))
				break;
			atomic_store(&k->lost, true); /* what Suricata holds is unknown: reload */
		}
		if (atomic_exchange(&k->lost, false) && resync(k) < 0) {
			atomic_store(&k->lost, true);
			disconnect(k);
			continue;
		}
		if (drain(k, &scratch) < 0 || reload_rules(k) < 0) {
			disconnect(k);
			continue;
		}
		if (atomic_load(&k->lost))
			continue;
		(void)poll(pf, 2, SURISOCK_IDLE_MS);
		if (read(k->wake_fd, &cnt, sizeof(cnt)) < 0) {
			/* EAGAIN: woken by the timeout */
		}
	}
	disconnect(k);
	iocb_buf_fini(&scratch);
	iocb_store_reader_unregister();
	return NULL;
}

/* ------------------------------------------------------------ start / stop */

static void destroy(struct iocb_surisock *k)
{
	if (k->wake_fd >= 0)
		close(k->wake_fd);
	if (k->stop_fd >= 0)
		close(k->stop_fd);
	iocb_buf_fini(&k->out);
	free(k->ring);
	free(k);
}

int iocb_surisock_start(struct iocb_surisock **out, struct iocb_store *s, const struct iocb_surisock_opts *o,
			struct iocb_err *err)
{
	struct iocb_surisock *k;
	size_t plen = o->path ? strlen(o->path) : 0;

	*out = NULL;
	if (o->nsets > IOCB_SURISOCK_MAX_SETS)
		return iocb_err_set(err, IOCB_EINVAL, "suricata socket: at most %d sets", IOCB_SURISOCK_MAX_SETS);
	if (!plen || plen >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return iocb_err_set(err, IOCB_EINVAL, "suricata socket: the path is empty or longer than 107 bytes");
	k = calloc(1, sizeof(*k));
	if (!k)
		return iocb_err_set(err, IOCB_ENOMEM, "suricata socket: out of memory");
	k->s = s;
	k->o = *o;
	if (o->nsets)
		memcpy(k->sets, o->sets, o->nsets * sizeof(*o->sets));
	k->o.sets = k->sets;
	memcpy(k->path, o->path, plen);
	k->o.path = k->path;
	k->o.queue_cap = o->queue_cap ? o->queue_cap : 4096;
	k->o.timeout_ms = o->timeout_ms ? o->timeout_ms : 5000;
	k->o.busy_retries = o->busy_retries ? o->busy_retries : 10;
	k->o.reconnect_max_s = o->reconnect_max_s > 0.05 ? o->reconnect_max_s : 5;
	k->o.reload_min_s = o->reload_min_s > 0 ? o->reload_min_s : 60;
	k->fd = -1;
	k->rl.interval_s = 10;
	iocb_buf_init(&k->out, 8192);
	k->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	k->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	k->ring = calloc(k->o.queue_cap, sizeof(*k->ring));
	if (!k->ring || k->wake_fd < 0 || k->stop_fd < 0) {
		destroy(k);
		return iocb_err_set(err, IOCB_ENOMEM, "suricata socket: out of memory or file descriptors");
	}
	k->listener = iocb_store_listen(s, on_change, k);
	if (k->listener < 0) {
		destroy(k);
		return iocb_err_set(err, IOCB_ELIMIT, "suricata socket: no store listener slot left");
	}
	if (pthread_create(&k->thread, NULL, sock_main, k) != 0) {
		iocb_store_unlisten(s, k->listener);
		destroy(k);
		return iocb_err_set(err, IOCB_EIO, "suricata socket: cannot start the thread");
	}
	*out = k;
	return IOCB_OK;
}

void iocb_surisock_stop(struct iocb_surisock *k)
{
	uint64_t one = 1;

	if (!k)
		return;
	iocb_store_unlisten(k->s, k->listener);
	atomic_store(&k->stop, true);
	if (write(k->stop_fd, &one, sizeof(one)) < 0) {
		/* cannot fail on a fresh eventfd; the thread also polls the flag */
	}
	pthread_join(k->thread, NULL);
	destroy(k);
}

void iocb_surisock_reload_rules(struct iocb_surisock *k)
{
	uint64_t one = 1;

	atomic_store(&k->reload_wanted, true);
	if (write(k->wake_fd, &one, sizeof(one)) < 0) {
		/* saturated: the thread is awake anyway */
	}
}

void iocb_surisock_stats(struct iocb_surisock *k, struct iocb_surisock_stats *out)
{
	size_t head = atomic_load(&k->head), tail = atomic_load(&k->tail);

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < k->o.nsets; i++) {
		out->commands[i] = atomic_load(&k->commands[i]);
		out->nok[i] = atomic_load(&k->nok[i]);
		out->retries[i] = atomic_load(&k->retries[i]);
	}
	out->reconnects = atomic_load(&k->reconnects);
	out->resyncs = atomic_load(&k->resyncs);
	out->overflows = atomic_load(&k->overflows);
	out->reloads = atomic_load(&k->reloads);
	out->queued = tail >= head ? tail - head : 0;
	out->connected = atomic_load(&k->connected);
	out->version_major = atomic_load(&k->version_major);
}
