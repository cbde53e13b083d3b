/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to src/enrich: the per-thread worker shared by the engine's
 * stages (enrich.c drives them per line):
 *   scan.c   one token-free pass over the line; values of mapped fields
 *            become candidates (offsets into the line), paired ports and
 *            hosts and the spans of existing top-level `threat` / `misp`
 *            members are noted;
 *   match.c  candidates are normalised per kind and looked up in the store;
 *   write.c  a hit is the line with a few byte ranges replaced or inserted
 *            (never a re-serialisation of the event).
 * Every stage is bounded by the line's size.
 */
#ifndef IOCB_ENRICH_ENGINE_H
#define IOCB_ENRICH_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "enrich/internal.h"
#include "json/lex.h"
#include "store/store.h"

#define MAX_CANDS 1024          /* mapped values looked up per line at most */
#define VAL_CAP 65536           /* longest value looked up (the store caps values there) */
#define NORM_CAP (2 * VAL_CAP + 64)
#define TMP_HITS 64             /* store hits examined per lookup */
#define MAX_TAGS 256            /* distinct tags written per event */
#define SCRATCH_MAX ((size_t)64 << 20)

enum { SP_THREAT = 0, SP_MISP = 1 };

struct cand {
	uint32_t off;      /* value bytes: string contents (escapes undecoded) or number text */
	uint32_t len;
	uint16_t field;
	bool escaped;
};

struct pairval {
	uint32_t off, len;
	bool escaped;
	bool set;
};

struct span {
	uint32_t start, end;
};

/* A top-level "threat" or "misp" member of the event. */
struct special {
	bool present;
	bool is_obj;
	uint32_t val_off, val_end;  /* its value */
	size_t kept0, nkept;        /* members we keep: e->kept[kept0 .. kept0+nkept) */
	size_t old0, nold;          /* threat only: existing enrichments: e->old[old0 ..) */
};

struct mhit {
	const struct iocb_store_attr *attr;
	uint16_t field;
	uint8_t mc;
	uint8_t part;
	int prefix;
	size_t atom_off, atom_len; /* matched.atomic, in e->atom */
};

struct spanv {
	struct span *v;
	size_t n, cap;
};

struct iocb_enrich {
	const struct iocb_enrich_opts *o;
	const struct iocb_enrich_map *m;
	struct iocb_enrich_stats st;
	uint64_t line_no;

	/* per line */
	const char *line;
	size_t len;
	struct cand cands[MAX_CANDS];
	size_t ncands;
	struct pairval *pairs;
	unsigned markers;
	struct special sp[2];
	struct spanv kept, old, dels;
	uint32_t obj_close;
	unsigned top_members;
	uint32_t prev_end;
	char path[IOCB_ENRICH_MAX_PATH + 1];
	unsigned depth_cap;             /* JSON nesting allowed */
	struct iocb_json_lexerr lerr;   /* where the scan failed */

	/* match */
	char *val;                      /* decoded candidate value */
	char *norm;                     /* normalised / composed lookup key */
	char *hostbuf;                  /* decoded pair host */
	struct iocb_store_hit tmp[TMP_HITS];
	struct mhit *hits;
	size_t nhits;
	struct iocb_buf atom;

	/* write */
	struct iocb_buf enr, mis, misv, thr, ins;
	struct iocb_buf lout;           /* the current line's output when it differs from the input */
	char occurred[96];
	int64_t now_s;                  /* epoch s the current line's hits were judged at (quality) */
};

/* Count a reject, keeping the first one's message (enrich.c). */
void iocb_enrich__note_reject(struct iocb_enrich *e, enum iocb_enrich_reject r, const char *detail);
/* Append a span; IOCB_ENOMEM if the vector cannot grow (enrich.c). */
int iocb_enrich__spanv_push(struct spanv *v, size_t start, size_t end);

/* Scan e->line (scan.c). Returns 0, or 1 + the reject reason (counted). */
int iocb_enrich__scan_line(struct iocb_enrich *e);
/* Look the scanned candidates up; hits in e->hits (match.c). */
int iocb_enrich__match_line(struct iocb_enrich *e);
/* The enriched line into e->lout (write.c): with hits, or the miss marker. */
int iocb_enrich__write_hit(struct iocb_enrich *e);
int iocb_enrich__write_mark(struct iocb_enrich *e);

#endif
