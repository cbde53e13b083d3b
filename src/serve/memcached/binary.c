/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The binary protocol (exports.md §1.2): 24-byte big-endian headers,
 * responses in request order with opcode and opaque echoed, quiet gets
 * silent on a miss. What Logstash's Dalli speaks: VERSION on connect, then
 * GETKQ per key and a NOOP closing each batch.
 */
#include "serve/memcached/internal.h"

#include <stdio.h>
#include <string.h>

#define HDR 24u

enum {
	ST_OK = 0x0000,
	ST_NOT_FOUND = 0x0001,
	ST_EINVAL = 0x0004,
	ST_NOT_STORED = 0x0005,
	ST_UNKNOWN = 0x0081,
	ST_NOT_SUPPORTED = 0x0083,
};

struct req {
	uint8_t op;
	uint16_t keylen;
	uint8_t extlen;
	uint32_t bodylen;
	uint8_t opaque[4];
	struct iocb_str key;
};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* One response packet: header, extras, key, value. */
static int respond(struct iocb_buf *out, const struct req *r, uint16_t status, const void *ext, uint8_t extlen,
		   struct iocb_str key, struct iocb_str val)
{
	uint8_t h[HDR] = {0x81, r->op};
	int rc;

	h[2] = (uint8_t)(key.len >> 8);
	h[3] = (uint8_t)key.len;
	h[4] = extlen;
	h[6] = (uint8_t)(status >> 8);
	h[7] = (uint8_t)status;
	put32(h + 8, (uint32_t)(extlen + key.len + val.len));
	memcpy(h + 12, r->opaque, 4);
	rc = iocb_buf_append(out, h, HDR);
	if (rc == IOCB_OK)
		rc = iocb_buf_append(out, ext, extlen);
	if (rc == IOCB_OK)
		rc = iocb_buf_append_str(out, key);
	if (rc == IOCB_OK)
		rc = iocb_buf_append_str(out, val);
	return rc;
}

/* memcached's error packet: status plus its text in the value. */
static int error(struct iocb_buf *out, const struct req *r, uint16_t status)
{
	const char *t = status == ST_NOT_FOUND	   ? "Not found"
			: status == ST_EINVAL	   ? "Invalid arguments"
			: status == ST_NOT_STORED  ? "Not stored."
			: status == ST_NOT_SUPPORTED ? "Not supported"
						     : "Unknown command";
	return respond(out, r, status, NULL, 0, (struct iocb_str){NULL, 0}, iocb_str_c(t));
}

static int get(struct iocb_mc_session *s, const struct req *r, struct iocb_buf *out)
{
	static const uint8_t flags[4] = {0, 0, 0, 0};
	bool withkey = r->op == 0x0C || r->op == 0x0D, quiet = r->op == 0x09 || r->op == 0x0D;
	struct iocb_str none = {NULL, 0};

	s->stats->requests[IOCB_MC_CMD_GET]++;
	if (r->extlen != 0 || r->keylen == 0 || r->bodylen != r->keylen)
		return error(out, r, ST_EINVAL);
	if (iocb_mc__lookup(s, r->key)) {
		/* A shortened key is answered under the whole key it stands for: Dalli files answers by key. */
		struct iocb_str k = s->whole.len ? iocb_buf_str(&s->whole) : r->key;
		return respond(out, r, ST_OK, flags, 4, withkey ? k : none, iocb_buf_str(&s->value));
	}
	if (quiet)
		return IOCB_OK;
	/* memcached: a GETK miss carries the key and no text, a GET miss the text. */
	return withkey ? respond(out, r, ST_NOT_FOUND, NULL, 0, r->key, none) : error(out, r, ST_NOT_FOUND);
}

static int stat(struct iocb_mc_session *s, const struct req *r, struct iocb_buf *out)
{
	char v[32];
	int rc = IOCB_OK;
	struct iocb_str none = {NULL, 0};

	s->stats->requests[IOCB_MC_CMD_STAT]++;
	if (r->keylen != 0) /* a group (settings, items, ...): memcached's answer to one it does not know */
		return error(out, r, ST_NOT_FOUND);
	{
		rc = respond(out, r, ST_OK, NULL, 0, iocb_str_c("version"), iocb_str_c(IOCB_MC_VERSION));
		snprintf(v, sizeof v, "%llu", (unsigned long long)s->stats->hits);
		if (rc == IOCB_OK)
			rc = respond(out, r, ST_OK, NULL, 0, iocb_str_c("get_hits"), iocb_str_c(v));
		snprintf(v, sizeof v, "%llu", (unsigned long long)s->stats->misses);
		if (rc == IOCB_OK)
			rc = respond(out, r, ST_OK, NULL, 0, iocb_str_c("get_misses"), iocb_str_c(v));
	}
	return rc == IOCB_OK ? respond(out, r, ST_OK, NULL, 0, none, none) : rc;
}

static bool is_storage(uint8_t op)
{
	return (op >= 0x01 && op <= 0x03) || (op >= 0x11 && op <= 0x13) || op == 0x0E || op == 0x0F || op == 0x19 ||
	       op == 0x1A;
}

static bool is_other_write(uint8_t op)
{
	/* DELETE(Q), INCR/DECR(Q), FLUSH(Q), TOUCH, GAT(Q), GATK(Q) */
	return op == 0x04 || op == 0x14 || op == 0x05 || op == 0x06 || op == 0x15 || op == 0x16 || op == 0x08 ||
	       op == 0x18 || op == 0x1C || op == 0x1D || op == 0x1E || op == 0x23 || op == 0x24;
}

static int dispatch(struct iocb_mc_session *s, const struct req *r, struct iocb_buf *out)
{
	struct iocb_str none = {NULL, 0};

	switch (r->op) {
	case 0x00: case 0x09: case 0x0C: case 0x0D:
		return get(s, r, out);
	case 0x0A:
		s->stats->requests[IOCB_MC_CMD_NOOP]++;
		return respond(out, r, ST_OK, NULL, 0, none, none);
	case 0x0B:
		s->stats->requests[IOCB_MC_CMD_VERSION]++;
		return respond(out, r, ST_OK, NULL, 0, none, iocb_str_c(IOCB_MC_VERSION));
	case 0x07: case 0x17:
		s->stats->requests[IOCB_MC_CMD_QUIT]++;
		s->close = true;
		return r->op == 0x07 ? respond(out, r, ST_OK, NULL, 0, none, none) : IOCB_OK;
	case 0x10:
		return stat(s, r, out);
	default:
		break;
	}
	if (is_storage(r->op) || is_other_write(r->op)) {
		s->stats->requests[IOCB_MC_CMD_WRITE]++;
		return error(out, r, is_storage(r->op) ? ST_NOT_STORED : ST_NOT_SUPPORTED);
	}
	s->stats->requests[IOCB_MC_CMD_UNKNOWN]++;
	return error(out, r, ST_UNKNOWN);
}

long iocb_mc__binary_one(struct iocb_mc_session *s, const uint8_t *in, size_t len, struct iocb_buf *out)
{
	struct req r;
	int rc;

	if (in[0] != 0x80) { /* memcached closes on a bad magic, without a word */
		s->stats->requests[IOCB_MC_CMD_UNKNOWN]++;
		s->close = true;
		return (long)len;
	}
	if (len < HDR)
		return 0;
	r.op = in[1];
	r.keylen = (uint16_t)(in[2] << 8 | in[3]);
	r.extlen = in[4];
	r.bodylen = be32(in + 8);
	memcpy(r.opaque, in + 12, 4);
	/* A key over 250 bytes, an inconsistent or oversized body: EINVAL, then close (as memcached). */
	if (r.keylen > IOCB_MC_KEY_MAX || (uint32_t)r.keylen + r.extlen > r.bodylen || r.bodylen > IOCB_MC_BODY_MAX) {
		s->stats->requests[IOCB_MC_CMD_UNKNOWN]++;
		s->close = true;
		rc = error(out, &r, ST_EINVAL);
		return rc < 0 ? rc : (long)len;
	}
	if (len - HDR < r.bodylen)
		return 0;
	r.key = (struct iocb_str){(const char *)in + HDR + r.extlen, r.keylen};
	rc = dispatch(s, &r, out);
	return rc < 0 ? rc : (long)(HDR + r.bodylen);
}
