/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The text and meta protocols (exports.md §1.3, §1.4): one `\r\n` line per
 * request (`\n` alone accepted, as memcached does), storage commands
 * followed by a data block that is read and refused.
 */
#include "serve/memcached/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BADFMT "CLIENT_ERROR bad command line format\r\n"
#define READONLY "SERVER_ERROR read only\r\n"

struct line {
	const char *p, *end; /* the rest of the line, tokens separated by spaces */
};

static bool next_tok(struct line *l, struct iocb_str *t)
{
	while (l->p < l->end && *l->p == ' ')
		l->p++;
	if (l->p >= l->end)
		return false;
	t->ptr = l->p;
	while (l->p < l->end && *l->p != ' ')
		l->p++;
	t->len = (size_t)(l->p - t->ptr);
	return true;
}

/* `get`/`gets`: VALUE blocks for the hits, then END; a key over 250 bytes answers only the error. */
static int get(struct iocb_mc_session *s, struct line *l, bool cas, struct iocb_buf *out)
{
	struct iocb_str k;
	size_t start = out->len, n = 0;
	int rc = IOCB_OK;

	s->stats->requests[IOCB_MC_CMD_GET]++;
	while (rc == IOCB_OK && next_tok(l, &k)) {
		n++;
		if (k.len > IOCB_MC_KEY_MAX) {
			iocb_buf_trim(out, start);
			return iocb_buf_append_c(out, BADFMT);
		}
		if (!iocb_mc__lookup(s, k))
			continue;
		rc = iocb_buf_printf(out, "VALUE %.*s 0 %zu%s\r\n", (int)k.len, k.ptr, s->value.len, cas ? " 0" : "");
		if (rc == IOCB_OK)
			rc = iocb_buf_append_str(out, iocb_buf_str(&s->value));
		if (rc == IOCB_OK)
			rc = iocb_buf_append(out, "\r\n", 2);
	}
	if (n == 0)
		return iocb_buf_append_c(out, "ERROR\r\n");
	return rc == IOCB_OK ? iocb_buf_append_c(out, "END\r\n") : rc;
}

static int stats(struct iocb_mc_session *s, struct iocb_buf *out)
{
	s->stats->requests[IOCB_MC_CMD_STAT]++;
	return iocb_buf_printf(out, "STAT version %s\r\nSTAT get_hits %llu\r\nSTAT get_misses %llu\r\nEND\r\n",
			       IOCB_MC_VERSION, (unsigned long long)s->stats->hits,
			       (unsigned long long)s->stats->misses);
}

/* Strict base64 (RFC 4648, padded) of in into out (cap bytes); returns the length, -1 if invalid or too long. */
static long b64_decode(struct iocb_str in, char *out, size_t cap)
{
	uint32_t acc = 0;
	size_t n = 0, pad = 0;

	if (in.len == 0 || in.len % 4)
		return -1;
	for (size_t i = 0; i < in.len; i++) {
		char c = in.ptr[i];
		int v = c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
			: c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : c == '=' ? 0 : -1;
		if (v < 0 || (c == '=' && i < in.len - 2) || (pad && c != '='))
			return -1;
		pad += c == '=';
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			char b[3] = {(char)(acc >> 16), (char)(acc >> 8), (char)acc};
			size_t k = 3 - (i == in.len - 1 ? pad : 0);
			if (n + k > cap)
				return -1;
			memcpy(out + n, b, k);
			n += k;
		}
	}
	return (long)n;
}

/* A key a text command could carry: printable ASCII, no space. */
static bool plain(struct iocb_str k)
{
	for (size_t i = 0; i < k.len; i++)
		if ((unsigned char)k.ptr[i] <= ' ' || (unsigned char)k.ptr[i] >= 0x7f)
			return false;
	return true;
}

/* Echo a meta flag that carries a value (k, O, f, s, t, c, h, l) the way memcached does. */
static int mg_flag(struct iocb_mc_session *s, struct iocb_buf *o, char f, struct iocb_str k, struct iocb_str tok,
		   bool hit)
{
	switch (f) {
	case 'k':
		return iocb_buf_printf(o, " k%.*s", (int)k.len, k.ptr);
	case 'O':
		return iocb_buf_printf(o, " O%.*s", (int)tok.len - 1, tok.ptr + 1);
	case 'f':
		return hit ? iocb_buf_append_c(o, " f0") : IOCB_OK;
	case 's':
		return hit ? iocb_buf_printf(o, " s%zu", s->value.len) : IOCB_OK;
	case 't':
		return hit ? iocb_buf_append_c(o, " t-1") : IOCB_OK;
	case 'c':
		return hit ? iocb_buf_append_c(o, " c0") : IOCB_OK;
	case 'h': case 'l':
		return hit ? iocb_buf_printf(o, " %c0", f) : IOCB_OK;
	default:
		return IOCB_OK;
	}
}

/* Meta get with the common flags (v f k s q O t c h l u b; T N R E accepted and ignored). */
static int mg(struct iocb_mc_session *s, struct line *l, struct iocb_buf *out)
{
	struct iocb_str k, t, lk;
	struct line flags;
	bool v = false, q = false, b = false, echo_b, hit;
	char raw[IOCB_MC_KEY_MAX];
	size_t start = out->len;
	int rc = IOCB_OK;

	s->stats->requests[IOCB_MC_CMD_GET]++;
	if (!next_tok(l, &k))
		return iocb_buf_append_c(out, BADFMT);
	if (k.len > IOCB_MC_KEY_MAX)
		return iocb_buf_append_c(out, BADFMT);
	flags = *l;
	while (next_tok(l, &t)) {
		if (!strchr("vfksqOtchlubTNRE", t.ptr[0]) || (t.len > 1 && !strchr("OTNRE", t.ptr[0])) || t.len > 33)
			return iocb_buf_append_c(out, "CLIENT_ERROR invalid flag\r\n");
		v |= t.ptr[0] == 'v';
		q |= t.ptr[0] == 'q';
		b |= t.ptr[0] == 'b';
	}
	lk = k; /* with b, the key is base64 (Dalli 5 for non-ASCII keys); k is echoed as sent */
	if (b) {
		long n = b64_decode(k, raw, sizeof raw);
		if (n <= 0)
			return iocb_buf_append_c(out, "CLIENT_ERROR error decoding key\r\n");
		lk = (struct iocb_str){raw, (size_t)n};
	}
	hit = iocb_mc__lookup(s, lk);
	/* memcached echoes a hit's key as the item holds it: plain when a text client could have stored it. */
	echo_b = b && (!hit || !plain(lk));
	if (!hit && q)
		return IOCB_OK;
	rc = hit ? (v ? iocb_buf_printf(out, "VA %zu", s->value.len) : iocb_buf_append_c(out, "HD"))
		 : iocb_buf_append_c(out, "EN");
	while (rc == IOCB_OK && next_tok(&flags, &t))
		if (hit || t.ptr[0] == 'k' || t.ptr[0] == 'O') {
			rc = mg_flag(s, out, t.ptr[0], echo_b ? k : lk, t, hit);
			if (rc == IOCB_OK && echo_b && t.ptr[0] == 'k') /* memcached: " b" after a base64 key */
				rc = iocb_buf_append_c(out, " b");
		}
	if (rc == IOCB_OK)
		rc = iocb_buf_append(out, "\r\n", 2);
	if (rc == IOCB_OK && hit && v) {
		rc = iocb_buf_append_str(out, iocb_buf_str(&s->value));
		if (rc == IOCB_OK)
			rc = iocb_buf_append(out, "\r\n", 2);
	}
	if (rc < 0)
		iocb_buf_trim(out, start);
	return rc;
}

/*
 * Size of the data block a storage command carries (set/add/replace/append/
 * prepend/cas: the 5th token; ms: the 3rd), -1 for a command without one,
 * -2 for a malformed count.
 */
static long data_len(struct iocb_str cmd, struct line l)
{
	static const char *const five[] = {"set", "add", "replace", "append", "prepend", "cas"};
	int want = iocb_str_eq_c(cmd, "ms") ? 2 : -1;
	struct iocb_str t;
	char num[16];
	char *end;
	long n;

	for (size_t i = 0; i < sizeof five / sizeof five[0]; i++)
		if (iocb_str_eq_c(cmd, five[i]))
			want = 4;
	if (want < 0)
		return -1;
	for (int i = 0; i < want; i++)
		if (!next_tok(&l, &t))
			return -2;
	if (t.len == 0 || t.len >= sizeof num || t.ptr[0] == '-')
		return -2;
	memcpy(num, t.ptr, t.len);
	num[t.len] = '\0';
	n = strtol(num, &end, 10);
	return *end || n > (long)IOCB_MC_VALUE_MAX ? -2 : n;
}

static bool is_write(struct iocb_str c)
{
	static const char *const w[] = {"delete", "incr", "decr", "touch", "gat", "gats", "flush_all", "md", "ma"};

	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
		if (iocb_str_eq_c(c, w[i]))
			return true;
	return false;
}

/* One command line (without its end of line); *skip gets the data block bytes to swallow. */
static int command(struct iocb_mc_session *s, struct line *l, struct iocb_buf *out, long *skip)
{
	struct iocb_str c;

	*skip = -1;
	if (!next_tok(l, &c)) {
		s->stats->requests[IOCB_MC_CMD_UNKNOWN]++;
		return iocb_buf_append_c(out, "ERROR\r\n");
	}
	if (iocb_str_eq_c(c, "get") || iocb_str_eq_c(c, "gets"))
		return get(s, l, c.len == 4, out);
	if (iocb_str_eq_c(c, "mg"))
		return mg(s, l, out);
	if (iocb_str_eq_c(c, "mn")) {
		s->stats->requests[IOCB_MC_CMD_NOOP]++;
		return iocb_buf_append_c(out, "MN\r\n");
	}
	if (iocb_str_eq_c(c, "version")) {
		s->stats->requests[IOCB_MC_CMD_VERSION]++;
		return iocb_buf_append_c(out, "VERSION " IOCB_MC_VERSION "\r\n");
	}
	if (iocb_str_eq_c(c, "stats")) {
		struct iocb_str g;
		if (!next_tok(l, &g))
			return stats(s, out);
		s->stats->requests[IOCB_MC_CMD_UNKNOWN]++;
		return iocb_buf_append_c(out, "ERROR\r\n"); /* a group: memcached's answer to one it does not know */
	}
	if (iocb_str_eq_c(c, "quit")) {
		s->stats->requests[IOCB_MC_CMD_QUIT]++;
		s->close = true;
		return IOCB_OK;
	}
	*skip = data_len(c, *l);
	if (*skip == -2) { /* memcached: the count is unreadable, so is the rest of the stream */
		s->stats->requests[IOCB_MC_CMD_UNKNOWN]++;
		s->close = true;
		return iocb_buf_append_c(out, BADFMT);
	}
	if (*skip >= 0 || is_write(c)) {
		s->stats->requests[IOCB_MC_CMD_WRITE]++;
		return iocb_buf_append_c(out, READONLY); /* sent even with noreply, as memcached's errors are */
	}
	s->stats->requests[IOCB_MC_CMD_UNKNOWN]++;
	return iocb_buf_append_c(out, "ERROR\r\n");
}

long iocb_mc__text_one(struct iocb_mc_session *s, const uint8_t *in, size_t len, struct iocb_buf *out)
{
	size_t scan = len < IOCB_MC_LINE_MAX ? len : IOCB_MC_LINE_MAX;
	const uint8_t *nl = memchr(in, '\n', scan);
	struct line l;
	long skip;
	size_t linelen;
	int rc;

	if (!nl) {
		if (len < IOCB_MC_LINE_MAX)
			return 0;
		s->close = true;
		rc = iocb_buf_append_c(out, "CLIENT_ERROR line too long\r\n");
		return rc < 0 ? rc : (long)len;
	}
	linelen = (size_t)(nl - in) + 1;
	/* A storage command is answered only once its data block is in. */
	l = (struct line){(const char *)in, (const char *)nl};
	if (l.end > l.p && l.end[-1] == '\r')
		l.end--;
	{
		struct line probe = l;
		struct iocb_str c;
		long d = next_tok(&probe, &c) ? data_len(c, probe) : -1;
		if (d >= 0 && len - linelen < (size_t)d + 2)
			return 0;
	}
	rc = command(s, &l, out, &skip);
	if (rc < 0)
		return rc;
	return (long)(linelen + (skip > 0 ? (size_t)skip + 2 : skip == 0 ? 2 : 0));
}
