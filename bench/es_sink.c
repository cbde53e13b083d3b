/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fast Elasticsearch `_bulk` sink for the log pipeline benchmark
 * (bench/bench_pipe.sh, issue #5 item 6). Not a test double: it stores
 * nothing. tests/servers/es_server.py is the faithful emulator; it is
 * Python and tops out far below the 300 k events/s this benchmark needs, so
 * this sink keeps only the part of the contract a shipper sees on the hot
 * path (../shared/reference/elastic.md §4), in one epoll thread:
 *
 *   es_sink [--host 127.0.0.1] [--port 0] [--stats FILE] [--stats-interval S]
 *           [--seq-key KEY] [--seq-max N] [--mark STR] [--expect N]
 *           [--max-content-length BYTES] [--es-version 8.17.3] [--down]
 *
 * - `POST|PUT /_bulk` and `/<target>/_bulk`; the body by Content-Length or
 *   chunked, `Content-Encoding: gzip` inflated with libdeflate (several gzip
 *   members allowed), `Expect: 100-continue` answered, keep-alive and
 *   pipelined requests. NDJSON framing as BulkRequestParser does it: an
 *   action line (`index`, `create`, `update`, `delete`; `\r\n` accepted,
 *   blank lines skipped), then a source line except for `delete`; a body not
 *   ending in `\n` is a 400 `illegal_argument_exception` "The bulk request
 *   must be terminated by a newline [\n]"; an action line with no source
 *   line after it is ignored; no action at all, or an action without
 *   `_index` and no target in the path, is a 400
 *   `action_request_validation_exception`. Action lines are checked for
 *   shape (object, one known key, object value), not fully parsed; sources
 *   must be JSON objects (else an item 400 `document_parsing_exception`).
 * - The answer: `{"took":N,"errors":B,"items":[...]}`, one item per action
 *   in request order; `index`/`create` are 201 `created` (nothing is stored,
 *   so no 409 and no `updated`), `delete` is 404 `not_found`, `update` a 404
 *   `document_missing_exception` error. `filter_path` is honoured for the
 *   forms shippers send (`errors`, `took`, `items`, `items.*`,
 *   `items.*.<field>`, e.g. Logstash's `errors,items.*.error,items.*.status`
 *   gives `{"errors":false,"items":[{"index":{"status":201}},...]}`).
 * - `GET|HEAD /`: cluster info with `version.number` and the header
 *   `X-Elastic-Product: Elasticsearch`. `PUT` of `/_index_template/NAME`,
 *   `/_component_template/NAME`, `/_ilm/policy/NAME` is acknowledged; a `GET`/`HEAD`
 *   of them is 404 until then. Anything else: ES's "no handler found" 400.
 * - A body over --max-content-length (default 100 MB, compressed or
 *   inflated) is a 413 with an empty body, and the connection is closed.
 *
 * Outage switch: SIGUSR1 toggles "down". Down closes the listening socket
 * and every open connection (unread input makes the kernel send a reset), so
 * new connections are refused: what a shipper sees when an Elasticsearch
 * node or its host goes away, which is the case the spool exists for (a 503
 * answer would instead exercise the retry path with the connection alive).
 * Toggling again re-binds the same port (SO_REUSEADDR). --down starts down.
 *
 * Counting, for the benchmark's zero-loss check: items by action, source
 * lines, wire and inflated bytes, requests; with --seq-key KEY (e.g.
 * '"sequence":') the unsigned integer after the first KEY in each source line
 * is set in a bitmap (up to --seq-max), giving distinct, duplicate and
 * missing counts (missing = seq_max - seq_min + 1 - distinct); with --mark
 * STR the source lines containing STR (e.g. '"enrichments"') are counted.
 * --expect N records the wall-clock time at which `distinct` (or `docs`,
 * without --seq-key) first reaches N. Totals go, as one `key=value` line, to
 * the --stats file (written atomically every --stats-interval seconds when
 * something changed, at once when --expect is reached, on SIGUSR2 and at
 * exit) and to stdout on SIGTERM/SIGINT. At start it prints
 * `READY port=P` on stdout.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libdeflate.h>

#define MAX_HEADER (64u * 1024u)       /* request line + headers */
#define READ_CHUNK (256u * 1024u)      /* free space kept for one read() */
#define MAX_EVENTS 64

struct buf {
	char *p;                        /* bytes, malloc'd */
	size_t len;                     /* used */
	size_t cap;                     /* allocated */
};

/* One parsed request head. Pointers borrow from the connection's input. */
struct req {
	char method[8];                 /* GET, HEAD, POST, PUT, DELETE, ... */
	char path[1024];                /* percent-decoded path */
	char filter[512];               /* filter_path query value, "" = none */
	bool has_filter;                /* filter_path present */
	int64_t content_length;         /* -1: none */
	bool chunked;                   /* Transfer-Encoding: chunked */
	bool gzip;                      /* Content-Encoding: gzip */
	bool bad_encoding;              /* another Content-Encoding */
	bool expect_continue;           /* Expect: 100-continue */
	bool keep_alive;                /* connection stays open after the answer */
};

struct conn {
	int fd;                         /* socket, non-blocking */
	struct buf in;                  /* received, not yet consumed */
	size_t hdr_end;                 /* offset past the blank line; 0 = head incomplete */
	struct req req;                 /* valid once hdr_end != 0 */
	bool sent_continue;             /* 100 Continue already sent for this request */
	size_t chunk_pos;               /* chunked: next unparsed offset in `in` */
	struct buf chunked;             /* chunked: the body so far */
	bool chunk_done;                /* chunked: terminating chunk and trailers seen */
	struct buf out;                 /* answer bytes not yet written */
	size_t out_off;                 /* written part of `out` */
	bool close_after;               /* close once `out` is flushed */
	struct conn *prev, *next;       /* list of open connections */
};

struct stats {
	uint64_t conns;                 /* connections accepted */
	uint64_t conns_dropped;         /* closed by going down */
	uint64_t requests;              /* every request answered */
	uint64_t bulk_requests;         /* _bulk requests answered 200 */
	uint64_t bulk_rejected;         /* _bulk requests answered 4xx */
	uint64_t gzip_requests;         /* _bulk bodies that were gzip */
	uint64_t items;                 /* actions answered, any kind */
	uint64_t act[4];                /* index, create, update, delete */
	uint64_t docs;                  /* index + create items answered 201 */
	uint64_t bad_docs;              /* sources that were not objects */
	uint64_t wire_bytes;            /* _bulk bodies as received (compressed) */
	uint64_t body_bytes;            /* _bulk bodies inflated */
	uint64_t marks;                 /* sources containing --mark */
	uint64_t seq_distinct;          /* distinct --seq-key values */
	uint64_t seq_dups;              /* repeated --seq-key values */
	uint64_t seq_missing_key;       /* sources without --seq-key or a number after it */
	uint64_t seq_over;              /* values >= --seq-max (not tracked) */
	uint64_t seq_min, seq_max;      /* range seen (seq_min UINT64_MAX: none yet) */
	uint64_t toggles;               /* down/up switches */
	double t_start;                 /* wall clock at start */
	double t_first_bulk;            /* first _bulk request answered, 0 none */
	double t_last_bulk;             /* last _bulk request answered */
	double t_expect;                /* --expect reached, 0 not yet */
	double busy_s;                  /* CPU seconds spent on _bulk requests: inflating, parsing, answering */
};

static const char *const action_names[4] = { "index", "create", "update", "delete" };

static struct {
	const char *host;               /* listen address */
	unsigned port;                  /* listen port (the bound one once up) */
	const char *stats_path;         /* --stats */
	double stats_interval;          /* --stats-interval */
	const char *seq_key;            /* --seq-key, NULL none */
	size_t seq_key_len;
	uint64_t seq_limit;             /* --seq-max */
	const char *mark;               /* --mark, NULL none */
	size_t mark_len;
	uint64_t expect;                /* --expect, 0 none */
	uint64_t max_content;           /* --max-content-length */
	const char *version;            /* --es-version */

	int ep;                         /* epoll */
	int lfd;                        /* listening socket, -1 when down */
	int sfd;                        /* signalfd */
	bool down;                      /* outage switch */
	struct conn *conns;             /* open connections */
	bool dirty;                     /* stats changed since last written */
	struct libdeflate_decompressor *inflater;
	struct buf inflated;            /* scratch: inflated body */
	struct buf body;                /* scratch: answer body */
	uint8_t *seen;                  /* --seq-key bitmap */
	size_t seen_bytes;              /* allocated bytes of `seen` */
	unsigned templates;             /* bit per template kind PUT so far */
	struct stats st;
} g;

static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "es_sink: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ------------------------------------------------------------ buffers */

static void buf_reserve(struct buf *b, size_t extra)
{
	size_t want = b->len + extra;
	size_t cap = b->cap ? b->cap : 4096;

	if (want <= b->cap)
		return;
	while (cap < want)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p) {
		fprintf(stderr, "es_sink: out of memory (%zu bytes)\n", cap);
		exit(1);
	}
	b->p = p;
	b->cap = cap;
}

static void buf_add(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void buf_fmt(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	buf_reserve(b, 256);
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		buf_reserve(b, (size_t)n + 1);
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* JSON string contents (no quotes) of n raw bytes. */
static void buf_json(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			buf_add(b, e, 2);
		} else if (c < 0x20) {
			buf_fmt(b, "\\u%04x", c);
		} else {
			buf_add(b, &s[i], 1);
		}
	}
}

/* ------------------------------------------------------------ stats */

static void stats_line(struct buf *b)
{
	const struct stats *s = &g.st;
	uint64_t missing = 0;

	if (g.seq_key && s->seq_min != UINT64_MAX)
		missing = s->seq_max - s->seq_min + 1 - s->seq_distinct;
	b->len = 0;
	buf_fmt(b, "es_sink up=%d toggles=%" PRIu64 " conns=%" PRIu64 " conns_dropped=%" PRIu64
		" requests=%" PRIu64 " bulk=%" PRIu64 " bulk_rejected=%" PRIu64 " gzip=%" PRIu64
		" items=%" PRIu64 " index=%" PRIu64 " create=%" PRIu64 " update=%" PRIu64 " delete=%" PRIu64
		" docs=%" PRIu64 " bad_docs=%" PRIu64 " wire_bytes=%" PRIu64 " body_bytes=%" PRIu64
		" marks=%" PRIu64,
		!g.down, s->toggles, s->conns, s->conns_dropped, s->requests, s->bulk_requests,
		s->bulk_rejected, s->gzip_requests, s->items, s->act[0], s->act[1], s->act[2], s->act[3],
		s->docs, s->bad_docs, s->wire_bytes, s->body_bytes, s->marks);
	if (g.seq_key)
		buf_fmt(b, " distinct=%" PRIu64 " dups=%" PRIu64 " missing=%" PRIu64 " seq_min=%" PRIu64
			" seq_max=%" PRIu64 " no_seq=%" PRIu64 " seq_over=%" PRIu64,
			s->seq_distinct, s->seq_dups, missing, s->seq_min == UINT64_MAX ? 0 : s->seq_min,
			s->seq_max, s->seq_missing_key, s->seq_over);
	buf_fmt(b, " t_start=%.6f t_first=%.6f t_last=%.6f t_expect=%.6f busy_s=%.3f\n",
		s->t_start, s->t_first_bulk, s->t_last_bulk, s->t_expect, s->busy_s);
}

static void stats_write(void)
{
	struct buf b = { 0 };
	char tmp[4096];
	FILE *f;

	g.dirty = false;
	if (!g.stats_path)
		return;
	stats_line(&b);
	snprintf(tmp, sizeof tmp, "%s.tmp", g.stats_path);
	f = fopen(tmp, "w");
	if (!f) {
		fprintf(stderr, "es_sink: %s: %s\n", tmp, strerror(errno));
		free(b.p);
		return;
	}
	fwrite(b.p, 1, b.len, f);
	if (fclose(f) != 0 || rename(tmp, g.stats_path) != 0)
		fprintf(stderr, "es_sink: %s: %s\n", g.stats_path, strerror(errno));
	free(b.p);
}

static void seq_note(const char *src, size_t n)
{
	const char *k = memmem(src, n, g.seq_key, g.seq_key_len);
	const char *e = src + n;
	uint64_t v = 0;
	const char *p;

	if (!k) {
		g.st.seq_missing_key++;
		return;
	}
	p = k + g.seq_key_len;
	while (p < e && *p == ' ')
		p++;
	if (p >= e || *p < '0' || *p > '9') {
		g.st.seq_missing_key++;
		return;
	}
	while (p < e && *p >= '0' && *p <= '9' && v < UINT64_MAX / 10)
		v = v * 10 + (uint64_t)(*p++ - '0');
	if (v >= g.seq_limit) {
		g.st.seq_over++;
		return;
	}
	if (v / 8 >= g.seen_bytes) {
		size_t nb = g.seen_bytes ? g.seen_bytes : (1u << 20);
		while (nb <= v / 8)
			nb *= 2;
		uint8_t *q = realloc(g.seen, nb);
		if (!q) {
			fprintf(stderr, "es_sink: out of memory (seq bitmap)\n");
			exit(1);
		}
		memset(q + g.seen_bytes, 0, nb - g.seen_bytes);
		g.seen = q;
		g.seen_bytes = nb;
	}
	uint8_t bit = (uint8_t)(1u << (v & 7));
	if (g.seen[v / 8] & bit) {
		g.st.seq_dups++;
	} else {
		g.seen[v / 8] |= bit;
		g.st.seq_distinct++;
	}
	if (v < g.st.seq_min)
		g.st.seq_min = v;
	if (v > g.st.seq_max)
		g.st.seq_max = v;
}

/* ------------------------------------------------------------ answers */

static const char *reason_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Request Entity Too Large";
	default: return "Error";
	}
}

/* Queue an answer on c. body may be NULL (no body). */
static void respond(struct conn *c, int status, bool product, const char *body, size_t n, bool head)
{
	buf_fmt(&c->out, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
	if (product)
		buf_str(&c->out, "X-elastic-product: Elasticsearch\r\n");
	if (body)
		buf_str(&c->out, "content-type: application/json\r\n");
	buf_fmt(&c->out, "content-length: %zu\r\n", body ? n : 0);
	if (c->close_after)
		buf_str(&c->out, "connection: close\r\n");
	buf_str(&c->out, "\r\n");
	if (body && !head)
		buf_add(&c->out, body, n);
	g.st.requests++;
	g.dirty = true;
}

/* ES's whole-request error body. */
static void respond_error(struct conn *c, int status, const char *type, const char *reason, bool head)
{
	struct buf *b = &g.body;

	b->len = 0;
	buf_str(b, "{\"error\":{\"root_cause\":[{\"type\":\"");
	buf_str(b, type);
	buf_str(b, "\",\"reason\":\"");
	buf_json(b, reason, strlen(reason));
	buf_str(b, "\"}],\"type\":\"");
	buf_str(b, type);
	buf_str(b, "\",\"reason\":\"");
	buf_json(b, reason, strlen(reason));
	buf_fmt(b, "\"},\"status\":%d}", status);
	respond(c, status, true, b->p, b->len, head);
}

/* ------------------------------------------------------------ filter_path */

enum { F_INDEX, F_ID, F_VERSION, F_RESULT, F_SHARDS, F_SEQ, F_TERM, F_STATUS, F_ERROR, F_N };
static const char *const item_fields[F_N] = {
	"_index", "_id", "_version", "result", "_shards", "_seq_no", "_primary_term", "status", "error"
};

struct filter {
	bool took, errors;              /* top-level keys kept */
	bool field[F_N];                /* item fields kept */
	bool any_item;                  /* some item field kept */
};

static void filter_parse(const struct req *r, struct filter *f)
{
	char spec[sizeof r->filter];
	char *save = NULL;

	memset(f, 0, sizeof *f);
	if (!r->has_filter) {
		f->took = f->errors = f->any_item = true;
		for (int i = 0; i < F_N; i++)
			f->field[i] = true;
		return;
	}
	snprintf(spec, sizeof spec, "%s", r->filter);
	for (char *t = strtok_r(spec, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		if (!strcmp(t, "took") || !strcmp(t, "*") || !strcmp(t, "**"))
			f->took = true;
		if (!strcmp(t, "errors") || !strcmp(t, "*") || !strcmp(t, "**"))
			f->errors = true;
		if (!strcmp(t, "items") || !strcmp(t, "items.*") || !strcmp(t, "items.**") ||
		    !strcmp(t, "items.*.*") || !strcmp(t, "*") || !strcmp(t, "**")) {
			for (int i = 0; i < F_N; i++)
				f->field[i] = true;
		} else if (!strncmp(t, "items.*.", 8)) {
			for (int i = 0; i < F_N; i++)
				if (!strcmp(t + 8, item_fields[i]))
					f->field[i] = true;
		}
	}
	for (int i = 0; i < F_N; i++)
		f->any_item |= f->field[i];
}

/* ------------------------------------------------------------ _bulk */

/* Value of `"key":"..."` inside an action line (raw, escapes not undone). */
static bool meta_str(const char *s, size_t n, const char *key, const char **v, size_t *vn)
{
	size_t kn = strlen(key);
	const char *e = s + n;
	const char *p = s;

	while ((p = memmem(p, (size_t)(e - p), key, kn)) != NULL) {
		const char *q = p + kn;
		p = q;
		while (q < e && (*q == ' ' || *q == ':'))
			q++;
		if (q >= e || *q != '"' || p == q)
			continue;
		q++;
		const char *start = q;
		while (q < e && *q != '"') {
			if (*q == '\\')
				q++;
			q++;
		}
		if (q > e)
			return false;
		*v = start;
		*vn = (size_t)(q - start);
		return true;
	}
	return false;
}

struct op {
	uint8_t action;                 /* index into action_names */
	bool bad_doc;                   /* source is not an object */
	const char *index;              /* _index from the line, NULL = default */
	size_t index_len;
	const char *id;                 /* _id from the line, NULL = generated */
	size_t id_len;
};

static struct op *ops;                  /* scratch: the request's actions */
static size_t ops_cap;

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/*
 * Parse one action line into op. Returns NULL or ES's error reason (written
 * into err).
 */
static const char *parse_action(const char *s, size_t n, size_t line, struct op *op, char *err, size_t errn)
{
	const char *e = s + n;
	const char *p = s;
	const char *k;

	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= e || *p != '{') {
		snprintf(err, errn, "Malformed action/metadata line [%zu], expected START_OBJECT but found [%s]",
			 line, p < e && *p == '[' ? "START_ARRAY" : "VALUE_STRING");
		return err;
	}
	p++;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (p < e && *p == '}') {
		snprintf(err, errn, "Malformed action/metadata line [%zu], expected FIELD_NAME but found [END_OBJECT]",
			 line);
		return err;
	}
	if (p >= e || *p != '"')
		goto malformed;
	k = ++p;
	while (p < e && *p != '"')
		p++;
	if (p >= e)
		goto malformed;
	size_t kn = (size_t)(p - k);
	int a = -1;
	for (int i = 0; i < 4; i++)
		if (strlen(action_names[i]) == kn && !memcmp(k, action_names[i], kn))
			a = i;
	if (a < 0) {
		snprintf(err, errn, "Malformed action/metadata line [%zu], expected field [create], [delete], "
			 "[index] or [update] but found [%.*s]", line, (int)(kn > 200 ? 200 : kn), k);
		return err;
	}
	p++;
	while (p < e && (*p == ' ' || *p == ':' || *p == '\t'))
		p++;
	if (p >= e || *p != '{') {
		snprintf(err, errn, "Malformed action/metadata line [%zu], expected START_OBJECT or END_OBJECT "
			 "but found [VALUE_STRING]", line);
		return err;
	}
	op->action = (uint8_t)a;
	op->bad_doc = false;
	op->index = op->id = NULL;
	op->index_len = op->id_len = 0;
	meta_str(p, (size_t)(e - p), "\"_index\"", &op->index, &op->index_len);
	meta_str(p, (size_t)(e - p), "\"_id\"", &op->id, &op->id_len);
	/* the object must close on this line, followed by nothing but `}` and blanks */
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	if (e - p < 2 || e[-1] != '}' || e[-2] != '}')
		goto malformed;
	return NULL;
malformed:
	snprintf(err, errn, "Malformed action/metadata line [%zu], unexpected data after the closing brace", line);
	return err;
}

static void bulk(struct conn *c, const char *target, size_t target_len, const char *body, size_t n)
{
	double t0 = wall_s();
	struct filter f;
	char err[512];
	const char *p = body;
	const char *e = body + n;
	size_t line = 0, nops = 0;
	bool want_source = false;

	if (n > 0 && body[n - 1] != '\n') {
		g.st.bulk_rejected++;
		respond_error(c, 400, "illegal_argument_exception",
			      "The bulk request must be terminated by a newline [\\n]", false);
		return;
	}
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t ln = (size_t)(nl - p);
		line++;
		if (want_source) {
			struct op *op = &ops[nops - 1];
			const char *q = p;
			while (q < nl && (*q == ' ' || *q == '\t'))
				q++;
			op->bad_doc = q >= nl || *q != '{';
			if (op->action <= 1 && !op->bad_doc) {     /* documents only, not update bodies */
				if (g.seq_key)
					seq_note(p, ln);
				if (g.mark && memmem(p, ln, g.mark, g.mark_len))
					g.st.marks++;
			}
			want_source = false;
		} else if (!blank(p, ln)) {
			if (nops == ops_cap) {
				ops_cap = ops_cap ? 2 * ops_cap : 16384;
				ops = realloc(ops, ops_cap * sizeof *ops);
				if (!ops) {
					fprintf(stderr, "es_sink: out of memory (ops)\n");
					exit(1);
				}
			}
			const char *why = parse_action(p, ln, line, &ops[nops], err, sizeof err);
			if (why) {
				g.st.bulk_rejected++;
				respond_error(c, 400, "illegal_argument_exception", why, false);
				return;
			}
			nops++;
			want_source = ops[nops - 1].action != 3;  /* delete has none */
		}
		p = nl + 1;
	}
	if (want_source)
		nops--;         /* an action with no source line after it is ignored, as in ES */
	if (nops == 0 || target_len == 0) {
		struct buf v = { 0 };
		size_t k = 0;
		if (nops == 0)
			buf_fmt(&v, "%zu: no requests added;", ++k);
		for (size_t i = 0; i < nops && target_len == 0; i++)
			if (!ops[i].index)
				buf_fmt(&v, "%zu: index is missing;", ++k);
		if (k) {
			char *msg = malloc(v.len + 32);
			if (!msg)
				exit(1);
			snprintf(msg, v.len + 32, "Validation Failed: %.*s", (int)v.len, v.p);
			g.st.bulk_rejected++;
			respond_error(c, 400, "action_request_validation_exception", msg, false);
			free(msg);
			free(v.p);
			return;
		}
		free(v.p);
	}

	filter_parse(&c->req, &f);
	bool errors = false;
	for (size_t i = 0; i < nops; i++)
		if (ops[i].action == 2 || ops[i].bad_doc)
			errors = true;
	struct buf *b = &g.body;
	b->len = 0;
	buf_reserve(b, nops * 32 + 64);
	buf_str(b, "{");
	bool comma = false;
	if (f.took) {
		buf_fmt(b, "\"took\":%d", (int)((wall_s() - t0) * 1000.0));
		comma = true;
	}
	if (f.errors) {
		buf_str(b, comma ? ",\"errors\":" : "\"errors\":");
		buf_str(b, errors ? "true" : "false");
		comma = true;
	}
	/* which items have anything left after filtering */
	bool items_out = f.any_item && (f.field[F_INDEX] || f.field[F_ID] || f.field[F_VERSION] ||
					f.field[F_RESULT] || f.field[F_SHARDS] || f.field[F_SEQ] ||
					f.field[F_TERM] || f.field[F_STATUS] || (f.field[F_ERROR] && errors));
	if (items_out) {
		buf_str(b, comma ? ",\"items\":[" : "\"items\":[");
		bool first = true;
		for (size_t i = 0; i < nops; i++) {
			const struct op *op = &ops[i];
			bool failed = op->action == 2 || op->bad_doc;
			int status = op->action == 2 || op->action == 3 ? 404 : (op->bad_doc ? 400 : 201);
			bool fields = false;
			uint64_t seq = g.st.items + i;

			if (!(f.field[F_INDEX] || f.field[F_ID] || f.field[F_STATUS] ||
			      (failed && f.field[F_ERROR]) ||
			      (!failed && (f.field[F_VERSION] || f.field[F_RESULT] || f.field[F_SHARDS] ||
					   f.field[F_SEQ] || f.field[F_TERM]))))
				continue;        /* ES drops an item left empty */
			buf_str(b, first ? "{\"" : ",{\"");
			first = false;
			buf_str(b, action_names[op->action]);
			buf_str(b, "\":{");
#define SEP() do { if (fields) buf_add(b, ",", 1); fields = true; } while (0)
			if (f.field[F_INDEX]) {
				SEP();
				buf_str(b, "\"_index\":\"");
				if (op->index)
					buf_add(b, op->index, op->index_len);
				else
					buf_json(b, target, target_len);
				buf_str(b, "\"");
			}
			if (f.field[F_ID]) {
				SEP();
				if (op->id) {
					buf_str(b, "\"_id\":\"");
					buf_add(b, op->id, op->id_len);
					buf_str(b, "\"");
				} else {
					buf_fmt(b, "\"_id\":\"sink%012" PRIx64 "\"", seq);
				}
			}
			if (!failed || op->action == 3) {
				if (f.field[F_VERSION]) {
					SEP();
					buf_str(b, "\"_version\":1");
				}
				if (f.field[F_RESULT]) {
					SEP();
					buf_str(b, op->action == 3 ? "\"result\":\"not_found\"" : "\"result\":\"created\"");
				}
				if (f.field[F_SHARDS]) {
					SEP();
					buf_str(b, "\"_shards\":{\"total\":1,\"successful\":1,\"failed\":0}");
				}
				if (f.field[F_SEQ]) {
					SEP();
					buf_fmt(b, "\"_seq_no\":%" PRIu64, seq);
				}
				if (f.field[F_TERM]) {
					SEP();
					buf_str(b, "\"_primary_term\":1");
				}
			}
			if (f.field[F_STATUS]) {
				SEP();
				buf_fmt(b, "\"status\":%d", status);
			}
			if (failed && op->action != 3 && f.field[F_ERROR]) {
				SEP();
				if (op->action == 2)
					buf_str(b, "\"error\":{\"type\":\"document_missing_exception\","
						"\"reason\":\"document missing\"}");
				else
					buf_str(b, "\"error\":{\"type\":\"document_parsing_exception\","
						"\"reason\":\"[1:1] failed to parse: the document is not an object\"}");
			}
#undef SEP
			buf_str(b, "}}");
		}
		buf_str(b, "]");
	}
	buf_str(b, "}");

	for (size_t i = 0; i < nops; i++) {
		g.st.act[ops[i].action]++;
		if (ops[i].action <= 1 && !ops[i].bad_doc)
			g.st.docs++;
		if (ops[i].bad_doc)
			g.st.bad_docs++;
	}
	g.st.items += nops;
	g.st.bulk_requests++;
	respond(c, 200, true, b->p, b->len, false);
	g.st.t_last_bulk = wall_s();
	if (g.st.t_first_bulk == 0)
		g.st.t_first_bulk = g.st.t_last_bulk;
	if (g.expect && g.st.t_expect == 0 &&
	    (g.seq_key ? g.st.seq_distinct : g.st.docs) >= g.expect) {
		g.st.t_expect = g.st.t_last_bulk;
		g.dirty = true;
	}
}

/* Inflate a gzip body (one or more members) into g.inflated. 0, or an HTTP status. */
static int inflate_gzip(const char *in, size_t n, const char **out, size_t *outn)
{
	size_t off = 0;

	g.inflated.len = 0;
	while (off < n) {
		size_t left = n - off, got = 0, used = 0;
		uint32_t isize;
		enum libdeflate_result r;

		if (left < 18)
			return 400;
		/* ISIZE of the last member only bounds a one-member body; grow on demand */
		memcpy(&isize, in + n - 4, 4);
		size_t want = off == 0 ? (size_t)isize + 64 : 1u << 20;
		for (;;) {
			if (g.inflated.len + want > g.max_content + 64)
				want = g.max_content + 64 - g.inflated.len;
			buf_reserve(&g.inflated, want);
			r = libdeflate_gzip_decompress_ex(g.inflater, in + off, left, g.inflated.p + g.inflated.len,
							  g.inflated.cap - g.inflated.len, &used, &got);
			if (r != LIBDEFLATE_INSUFFICIENT_SPACE)
				break;
			if (g.inflated.cap - g.inflated.len >= g.max_content + 1)
				return 413;
			want = (g.inflated.cap - g.inflated.len) * 2;
		}
		if (r != LIBDEFLATE_SUCCESS)
			return 400;
		g.inflated.len += got;
		if (g.inflated.len > g.max_content)
			return 413;
		off += used;
	}
	*out = g.inflated.p;
	*outn = g.inflated.len;
	return 0;
}

/* ------------------------------------------------------------ routing */

static void handle(struct conn *c, const char *body, size_t n)
{
	struct req *r = &c->req;
	const char *path = r->path;
	bool head = !strcmp(r->method, "HEAD");
	size_t plen = strlen(path);
	char why[1400];

	while (plen > 1 && path[plen - 1] == '/')
		plen--;
	/* /_bulk, /<target>/_bulk */
	if (plen >= 6 && !memcmp(path + plen - 6, "/_bulk", 6)) {
		const char *target = path + 1;
		size_t tl = plen >= 7 ? plen - 7 : 0;
		if (tl > 0 && memchr(target, '/', tl))
			goto no_handler;
		if (strcmp(r->method, "POST") && strcmp(r->method, "PUT")) {
			snprintf(why, sizeof why, "Incorrect HTTP method for uri [%s] and method [%s], allowed: [POST, PUT]",
				 r->path, r->method);
			g.body.len = 0;
			buf_str(&g.body, "{\"error\":\"");
			buf_json(&g.body, why, strlen(why));
			buf_str(&g.body, "\",\"status\":405}");
			respond(c, 405, true, g.body.p, g.body.len, head);
			return;
		}
		if (r->bad_encoding) {
			g.st.bulk_rejected++;
			respond_error(c, 400, "illegal_argument_exception", "unsupported Content-Encoding", false);
			return;
		}
		double cpu0 = thread_cpu_s();
		g.st.wire_bytes += n;
		if (r->gzip) {
			int st = inflate_gzip(body, n, &body, &n);
			g.st.gzip_requests++;
			if (st == 413) {
				c->close_after = true;
				g.st.bulk_rejected++;
				respond(c, 413, false, NULL, 0, false);
				return;
			}
			if (st) {
				g.st.bulk_rejected++;
				respond_error(c, 400, "illegal_argument_exception", "bad gzip body", false);
				return;
			}
		}
		g.st.body_bytes += n;
		bool reached = g.st.t_expect != 0;
		bulk(c, target, tl, body, n);
		g.st.busy_s += thread_cpu_s() - cpu0;
		if (!reached && g.st.t_expect != 0)
			stats_write();  /* the benchmark waits for this one */
		return;
	}
	if (plen == 1 && path[0] == '/' && (head || !strcmp(r->method, "GET"))) {
		g.body.len = 0;
		buf_fmt(&g.body, "{\"name\":\"es-sink\",\"cluster_name\":\"iocbus-bench\","
			"\"cluster_uuid\":\"AAAAAAAAAAAAAAAAAAAAAA\",\"version\":{\"number\":\"%s\","
			"\"build_flavor\":\"default\",\"build_type\":\"docker\",\"build_snapshot\":false,"
			"\"minimum_wire_compatibility_version\":\"7.17.0\","
			"\"minimum_index_compatibility_version\":\"7.0.0\"},\"tagline\":\"You Know, for Search\"}",
			g.version);
		respond(c, 200, true, g.body.p, g.body.len, head);
		return;
	}
	static const char *const kinds[] = { "/_index_template/", "/_component_template/", "/_ilm/policy/" };
	for (unsigned k = 0; k < 3; k++) {
		size_t kl = strlen(kinds[k]);
		if (plen <= kl || strncmp(path, kinds[k], kl))
			continue;
		if (!strcmp(r->method, "PUT") || !strcmp(r->method, "POST")) {
			g.templates |= 1u << k;
			respond(c, 200, true, "{\"acknowledged\":true}", 21, false);
		} else if ((head || !strcmp(r->method, "GET")) && (g.templates & (1u << k))) {
			respond(c, 200, true, "{}", 2, head);
		} else {
			snprintf(why, sizeof why, "%.*s missing", (int)(plen - kl), path + kl);
			respond_error(c, 404, "resource_not_found_exception", why, head);
		}
		return;
	}
no_handler:
	snprintf(why, sizeof why, "no handler found for uri [%s] and method [%s]", r->path, r->method);
	g.body.len = 0;
	buf_str(&g.body, "{\"error\":\"");
	buf_json(&g.body, why, strlen(why));
	buf_str(&g.body, "\",\"status\":400}");
	respond(c, 400, true, g.body.p, g.body.len, head);
}

/* ------------------------------------------------------------ HTTP/1.1 */

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static void pct_decode(char *dst, size_t cap, const char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			dst[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			dst[o++] = s[i];
		}
	}
	dst[o] = 0;
}

static bool hdr_is(const char *name, size_t nn, const char *want)
{
	return strlen(want) == nn && !strncasecmp(name, want, nn);
}

static bool val_has(const char *v, size_t vn, const char *tok)
{
	size_t tn = strlen(tok);
	for (size_t i = 0; i + tn <= vn; i++)
		if (!strncasecmp(v + i, tok, tn))
			return true;
	return false;
}

/* Parse the head in c->in[0, hdr_end). false: malformed (400 and close). */
static bool parse_head(struct conn *c)
{
	struct req *r = &c->req;
	const char *p = c->in.p;
	const char *e = c->in.p + c->hdr_end;
	const char *eol = memmem(p, (size_t)(e - p), "\r\n", 2);
	const char *sp1, *sp2, *q;
	bool http10;

	memset(r, 0, sizeof *r);
	r->content_length = -1;
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (!sp1 || sp1 - p >= (ptrdiff_t)sizeof r->method)
		return false;
	memcpy(r->method, p, (size_t)(sp1 - p));
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2)
		return false;
	http10 = (size_t)(eol - sp2 - 1) == 8 && !memcmp(sp2 + 1, "HTTP/1.0", 8);
	r->keep_alive = !http10;
	q = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
	pct_decode(r->path, sizeof r->path, sp1 + 1, (size_t)((q ? q : sp2) - sp1 - 1));
	if (q) {
		/* filter_path=... among &-separated parameters */
		const char *a = q + 1;
		while (a < sp2) {
			const char *amp = memchr(a, '&', (size_t)(sp2 - a));
			const char *end = amp ? amp : sp2;
			if ((size_t)(end - a) >= 12 && !memcmp(a, "filter_path=", 12)) {
				pct_decode(r->filter, sizeof r->filter, a + 12, (size_t)(end - a - 12));
				r->has_filter = true;
			}
			a = end + 1;
		}
	}
	p = eol + 2;
	while (p < e) {
		eol = memmem(p, (size_t)(e - p), "\r\n", 2);
		if (!eol || eol == p)
			break;
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon)
			return false;
		const char *v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		size_t nn = (size_t)(colon - p), vn = (size_t)(eol - v);
		if (hdr_is(p, nn, "content-length")) {
			char num[32];
			char *end;
			if (vn == 0 || vn >= sizeof num)
				return false;
			memcpy(num, v, vn);
			num[vn] = 0;
			long long x = strtoll(num, &end, 10);
			if (*end || x < 0)
				return false;
			r->content_length = x;
		} else if (hdr_is(p, nn, "transfer-encoding")) {
			r->chunked = val_has(v, vn, "chunked");
		} else if (hdr_is(p, nn, "content-encoding")) {
			if (vn == 4 && !strncasecmp(v, "gzip", 4))
				r->gzip = true;
			else if (!(vn == 8 && !strncasecmp(v, "identity", 8)))
				r->bad_encoding = true;
		} else if (hdr_is(p, nn, "expect")) {
			r->expect_continue = val_has(v, vn, "100-continue");
		} else if (hdr_is(p, nn, "connection")) {
			if (val_has(v, vn, "close"))
				r->keep_alive = false;
			else if (val_has(v, vn, "keep-alive"))
				r->keep_alive = true;
		}
		p = eol + 2;
	}
	return true;
}

/*
 * Advance the chunked decoder over c->in. Returns 1 when the body is
 * complete (consumed offset in chunk_pos), 0 when more input is needed, -1
 * on a malformed or oversized body.
 */
static int chunk_step(struct conn *c)
{
	for (;;) {
		const char *p = c->in.p + c->chunk_pos;
		size_t left = c->in.len - c->chunk_pos;
		const char *eol = memmem(p, left, "\r\n", 2);
		if (!eol)
			return left > 1024 ? -1 : 0;
		if (c->chunk_done) {    /* trailers, up to the blank line */
			c->chunk_pos += (size_t)(eol - p) + 2;
			if (eol == p)
				return 1;
			continue;
		}
		uint64_t size = 0;
		const char *q = p;
		int h;
		while (q < eol && (h = hexval(*q)) >= 0) {
			size = size * 16 + (uint64_t)h;
			if (size > g.max_content)
				return -1;
			q++;
		}
		if (q == p)
			return -1;
		size_t hl = (size_t)(eol - p) + 2;
		if (size == 0) {
			c->chunk_pos += hl;
			c->chunk_done = true;
			continue;
		}
		if (left < hl + size + 2)
			return 0;
		if (c->chunked.len + size > g.max_content)
			return -1;
		buf_add(&c->chunked, p + hl, size);
		c->chunk_pos += hl + size + 2;
	}
}

static void conn_close(struct conn *c)
{
	epoll_ctl(g.ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		g.conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->in.p);
	free(c->out.p);
	free(c->chunked.p);
	free(c);
}

static void conn_watch(struct conn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };
	epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Write what is queued. false: the connection was closed. */
static bool conn_flush(struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t w = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				conn_watch(c, EPOLLOUT);
				return true;
			}
			if (errno == EINTR)
				continue;
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)w;
	}
	c->out.len = c->out_off = 0;
	if (c->close_after) {
		conn_close(c);
		return false;
	}
	conn_watch(c, EPOLLIN);
	return true;
}

/* Answer every complete request in c->in. false: the connection was closed. */
static bool conn_process(struct conn *c)
{
	for (;;) {
		if (c->out.len > c->out_off)
			return true;    /* wait for the answer to go out first */
		if (!c->hdr_end) {
			char *end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4);
			if (!end) {
				if (c->in.len > MAX_HEADER) {
					c->close_after = true;
					respond(c, 400, false, NULL, 0, false);
					return conn_flush(c);
				}
				return true;
			}
			c->hdr_end = (size_t)(end - c->in.p) + 4;
			c->sent_continue = false;
			c->chunk_pos = c->hdr_end;
			c->chunked.len = 0;
			c->chunk_done = false;
			if (!parse_head(c)) {
				c->close_after = true;
				respond(c, 400, false, NULL, 0, false);
				return conn_flush(c);
			}
			if (!c->req.keep_alive)
				c->close_after = true;
			if (c->req.content_length > (int64_t)g.max_content) {
				c->close_after = true;
				respond(c, 413, false, NULL, 0, false);
				return conn_flush(c);
			}
			if (c->req.content_length > 0)
				buf_reserve(&c->in, (size_t)c->req.content_length + c->hdr_end - c->in.len);
		}
		const char *body;
		size_t n, consumed;
		if (c->req.chunked) {
			int st = chunk_step(c);
			if (st < 0) {
				c->close_after = true;
				respond(c, 413, false, NULL, 0, false);
				return conn_flush(c);
			}
			if (st == 0)
				goto need_more;
			body = c->chunked.p;
			n = c->chunked.len;
			consumed = c->chunk_pos;
		} else {
			size_t cl = c->req.content_length > 0 ? (size_t)c->req.content_length : 0;
			if (c->in.len - c->hdr_end < cl)
				goto need_more;
			body = c->in.p + c->hdr_end;
			n = cl;
			consumed = c->hdr_end + cl;
		}
		handle(c, body ? body : "", n);
		memmove(c->in.p, c->in.p + consumed, c->in.len - consumed);
		c->in.len -= consumed;
		c->hdr_end = 0;
		if (!conn_flush(c))
			return false;
		continue;
need_more:
		if (c->req.expect_continue && !c->sent_continue) {
			c->sent_continue = true;
			buf_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
			return conn_flush(c);
		}
		return true;
	}
}

static void conn_read(struct conn *c)
{
	buf_reserve(&c->in, READ_CHUNK);
	ssize_t r = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (r < 0)
		return;
	c->in.len += (size_t)r;
	conn_process(c);
}

/* ------------------------------------------------------------ listening, outage */

static void listen_up(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)g.port) };
	int one = 1;

	if (inet_pton(AF_INET, g.host, &sa.sin_addr) != 1) {
		fprintf(stderr, "es_sink: bad --host %s (IPv4 only)\n", g.host);
		exit(2);
	}
	g.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (g.lfd < 0)
		die("socket");
	setsockopt(g.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(g.lfd, (struct sockaddr *)&sa, sizeof sa) != 0)
		die("bind");
	if (listen(g.lfd, 512) != 0)
		die("listen");
	socklen_t sl = sizeof sa;
	getsockname(g.lfd, (struct sockaddr *)&sa, &sl);
	g.port = ntohs(sa.sin_port);
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(g.ep, EPOLL_CTL_ADD, g.lfd, &e);
}

static void go_down(void)
{
	if (g.lfd >= 0) {
		epoll_ctl(g.ep, EPOLL_CTL_DEL, g.lfd, NULL);
		close(g.lfd);
		g.lfd = -1;
	}
	while (g.conns) {
		g.st.conns_dropped++;
		conn_close(g.conns);
	}
}

static void toggle(void)
{
	g.st.toggles++;
	g.down = !g.down;
	if (g.down)
		go_down();
	else
		listen_up();
	fprintf(stderr, "es_sink: %s at %.3f\n", g.down ? "down" : "up", wall_s());
	stats_write();
}

static void accept_all(void)
{
	for (;;) {
		int fd = accept4(g.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct conn *c = calloc(1, sizeof *c);
		if (!c)
			exit(1);
		c->fd = fd;
		c->next = g.conns;
		if (g.conns)
			g.conns->prev = c;
		g.conns = c;
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
		epoll_ctl(g.ep, EPOLL_CTL_ADD, fd, &e);
		g.st.conns++;
	}
}

/* ------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr, "usage: es_sink [--host 127.0.0.1] [--port 0] [--stats FILE] [--stats-interval S]\n"
		"               [--seq-key KEY] [--seq-max N] [--mark STR] [--expect N]\n"
		"               [--max-content-length BYTES] [--es-version V] [--down]\n"
		"SIGUSR1 toggles down/up (down: listening socket and connections closed),\n"
		"SIGUSR2 writes the stats file, SIGTERM/SIGINT print the totals and exit.\n");
}

int main(int argc, char **argv)
{
	bool start_down = false;
	sigset_t ss;

	g.host = "127.0.0.1";
	g.stats_interval = 0.5;
	g.seq_limit = 1ull << 31;
	g.max_content = 100u << 20;
	g.version = "8.17.3";
	g.lfd = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--down")) {
			start_down = true;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage();
			return 0;
		}
		if (!v) {
			usage();
			return 2;
		}
		i++;
		if (!strcmp(a, "--host"))
			g.host = v;
		else if (!strcmp(a, "--port"))
			g.port = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--stats"))
			g.stats_path = v;
		else if (!strcmp(a, "--stats-interval"))
			g.stats_interval = strtod(v, NULL);
		else if (!strcmp(a, "--seq-key")) {
			g.seq_key = v;
			g.seq_key_len = strlen(v);
		} else if (!strcmp(a, "--seq-max"))
			g.seq_limit = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--mark")) {
			g.mark = v;
			g.mark_len = strlen(v);
		} else if (!strcmp(a, "--expect"))
			g.expect = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--max-content-length"))
			g.max_content = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--es-version"))
			g.version = v;
		else {
			usage();
			return 2;
		}
	}
	if (g.seq_key && g.seq_key_len == 0)
		g.seq_key = NULL;
	if (g.mark && g.mark_len == 0)
		g.mark = NULL;
	g.st.seq_min = UINT64_MAX;
	g.st.t_start = wall_s();
	g.inflater = libdeflate_alloc_decompressor();
	if (!g.inflater)
		die("libdeflate_alloc_decompressor");

	sigemptyset(&ss);
	sigaddset(&ss, SIGUSR1);
	sigaddset(&ss, SIGUSR2);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	g.sfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	if (g.sfd < 0)
		die("signalfd");
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	if (g.ep < 0)
		die("epoll_create1");
	struct epoll_event se = { .events = EPOLLIN, .data.ptr = &g.sfd };
	epoll_ctl(g.ep, EPOLL_CTL_ADD, g.sfd, &se);

	listen_up();            /* binds the port (port 0: picks one) even when starting down */
	if (start_down) {
		g.down = true;
		go_down();
	}
	printf("READY port=%u\n", g.port);
	fflush(stdout);
	stats_write();

	double next_stats = wall_s() + g.stats_interval;
	for (;;) {
		struct epoll_event ev[MAX_EVENTS];
		int n = epoll_wait(g.ep, ev, MAX_EVENTS, 100);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			void *ptr = ev[i].data.ptr;
			if (ptr == &g.sfd) {
				struct signalfd_siginfo si;
				while (read(g.sfd, &si, sizeof si) == (ssize_t)sizeof si) {
					if (si.ssi_signo == SIGUSR1) {
						toggle();
					} else if (si.ssi_signo == SIGUSR2) {
						stats_write();
					} else {
						struct buf b = { 0 };
						stats_write();
						stats_line(&b);
						fwrite(b.p, 1, b.len, stdout);
						fflush(stdout);
						free(b.p);
						return 0;
					}
				}
				n = 0;  /* the connection list may have changed under the other events */
				break;
			}
			if (ptr == NULL) {
				if (g.lfd >= 0)
					accept_all();
				continue;
			}
			struct conn *c = ptr;
			if (ev[i].events & EPOLLOUT) {
				if (conn_flush(c))
					conn_process(c);
			} else if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				conn_read(c);
			}
		}
		double now = wall_s();
		if (now >= next_stats) {
			if (g.dirty)
				stats_write();
			next_stats = now + g.stats_interval;
		}
	}
}
