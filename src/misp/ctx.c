/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parse context every MISP parser of this module shares (internal.h):
 * its limits and scratch arenas, skip reporting, and the out-of-line token
 * helpers (the per-member ones are static inline in internal.h).
 *
 * Memory: strings are views into the input unless they contain escapes, in
 * which case they are decoded into an arena. The attribute arena is reset
 * after every attribute; the event arena after every event, so a document
 * of any size is parsed in bounded memory.
 */
#include "misp/misp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "misp/internal.h"

void iocb_misp_limits_default(struct iocb_misp_limits *lim)
{
	lim->max_value = 64 * 1024;
	lim->max_tags = 256;
	lim->max_depth = 64;
	lim->keep_deleted = false;
}

void iocb_misp__ctx_init(struct iocb_misp__ctx *c, const char *buf, size_t len, const char *source,
			 const struct iocb_misp_handlers *h, const struct iocb_misp_limits *lim,
			 struct iocb_misp_stats *stats, struct iocb_err *err)
{
	memset(c, 0, sizeof(*c));
	c->buf = buf;
	c->len = len;
	c->source = source ? source : "input";
	c->h = h;
	if (lim)
		c->lim = *lim;
	else
		iocb_misp_limits_default(&c->lim);
	c->stats = stats;
	c->err = err;
	/* Scratch is bounded: a value is capped, so is every decoded string. */
	iocb_arena_init(&c->attr_arena, 64 * c->lim.max_value + (1u << 20));
	iocb_arena_init(&c->ev_arena, 64 * c->lim.max_value + (1u << 20));
}

void iocb_misp__ctx_fini(struct iocb_misp__ctx *c)
{
	iocb_arena_fini(&c->attr_arena);
	iocb_arena_fini(&c->ev_arena);
}

void iocb_misp__skip(struct iocb_misp__ctx *c, enum iocb_misp_skip r, const char *fmt, ...)
{
	char detail[300];
	va_list ap;

	if (c->stats)
		c->stats->skipped[r]++;
	if (!c->h->on_skip)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	c->h->on_skip(c->h->ud, r, detail);
}

int iocb_misp__json_fail(struct iocb_misp__ctx *c, int rc, size_t base)
{
	if (c->err && base && rc == IOCB_EPARSE) {
		size_t at;
		if (sscanf(c->err->msg, "byte %zu", &at) == 1) {
			char rest[sizeof(c->err->msg)];
			const char *colon = strchr(c->err->msg, ':');
			snprintf(rest, sizeof(rest), "%s", colon ? colon + 2 : "");
			iocb_err_set(c->err, rc, "byte %zu: %s", at + base, rest);
		}
	}
	return rc;
}

int iocb_misp__next_object(struct iocb_misp__ctx *c, struct iocb_json_parser *p, struct iocb_json_tok *t,
			   size_t base, const char *what)
{
	for (;;) {
		int rc = iocb_json_next(p, t, c->err);

		if (rc < 0)
			return rc;
		if (t->type == IOCB_JSON_ARR_END)
			return 0;
		if (t->type == IOCB_JSON_OBJ)
			return 1;
		if (what)
			iocb_misp__skip(c, IOCB_SKIP_BAD_SHAPE, "%s: byte %zu: %s is not an object", c->source,
					base + t->offset, what);
		rc = iocb_json_skip(p, t, c->err);
		if (rc < 0)
			return rc;
	}
}
