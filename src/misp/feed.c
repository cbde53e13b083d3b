/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MISP feed directories: manifest.json (event uuid -> event metadata) plus
 * one <uuid>.json event file per listed event. The manifest's metadata
 * fills in what an event file lacks; a missing, unreadable or broken event
 * file is skipped with a reason and the rest still load.
 */
#include "misp/misp.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "misp/internal.h"

#define key_is IOCB_MISP__KEY_IS
struct manifest_entry {
	char uuid[64];
	struct iocb_misp_event ev; /* views into the manifest map / arena */
};

static bool uuid_like(struct iocb_str s)
{
	if (s.len != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		char ch = s.ptr[i];
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? ch != '-' : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
			return false;
	}
	return true;
}

int iocb_misp_parse_feed_dir(const char *dir, const struct iocb_misp_handlers *h, const struct iocb_misp_limits *lim,
			     struct iocb_misp_stats *stats, struct iocb_err *err)
{
	struct iocb_misp_limits l;
	struct iocb_file_map man = {0};
	struct iocb_json_parser p;
	struct iocb_json_tok t, k;
	struct iocb_arena arena;
	struct manifest_entry *ents = NULL;
	size_t nents = 0, cap = 0;
	char path[PATH_MAX];
	struct iocb_misp__ctx mc;
	int rc;

	if (lim)
		l = *lim;
	else
		iocb_misp_limits_default(&l);
	iocb_arena_init(&arena, 0);
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	rc = iocb_file_map(path, 0, &man, err);
	if (rc < 0)
		goto out;
	iocb_misp__ctx_init(&mc, man.data, man.len, path, h, &l, stats, err);
	iocb_json_init(&p, man.data, man.len, l.max_depth, false);
	rc = iocb_json_next(&p, &t, err);
	if (rc >= 0 && t.type != IOCB_JSON_OBJ)
		rc = iocb_err_set(err, IOCB_EPARSE, "%s: the manifest is not a JSON object", path);
	while (rc >= 0) {
		rc = iocb_json_next(&p, &k, err);
		if (rc < 0 || k.type == IOCB_JSON_OBJ_END)
			break;
		rc = iocb_json_next(&p, &t, err);
		if (rc < 0)
			break;
		if (t.type != IOCB_JSON_OBJ || k.escaped || !uuid_like(k.s)) {
			iocb_misp__skip(&mc, IOCB_SKIP_BAD_SHAPE, "%s: byte %zu: manifest entry is not <uuid>: {...}", path,
			     k.offset);
			rc = iocb_json_skip(&p, &t, err);
			continue;
		}
		if (nents == cap) {
			cap = cap ? cap * 2 : 64;
			ents = realloc(ents, cap * sizeof(*ents));
			if (!ents) {
				rc = iocb_err_set(err, IOCB_ENOMEM, "out of memory");
				break;
			}
		}
		struct manifest_entry *e = &ents[nents];
		struct iocb_misp__tags tags = {0};
		memset(e, 0, sizeof(*e));
		memcpy(e->uuid, k.s.ptr, 36);
		e->uuid[36] = '\0';
		iocb_misp__event_init(&e->ev);
		rc = iocb_misp__event_obj(&mc, &p, 0, &arena, &e->ev, &tags, NULL);
		if (rc < 0)
			break;
		e->ev.tags = tags.v;
		e->ev.ntags = tags.n;
		nents++;
	}
	if (rc < 0) {
		if (stats)
			stats->skipped[IOCB_SKIP_NOT_JSON]++;
		iocb_err_prefix(err, "%s", path);
		iocb_misp__ctx_fini(&mc);
		goto out;
	}
	iocb_misp__ctx_fini(&mc);

	for (size_t i = 0; i < nents; i++) {
		struct iocb_file_map ef = {0};
		struct iocb_err e2 = {0};
		struct iocb_misp__ctx c;
		char epath[PATH_MAX];

		ents[i].ev.uuid = iocb_str_make(ents[i].uuid, 36);
		snprintf(epath, sizeof(epath), "%s/%s.json", dir, ents[i].uuid);
		if (iocb_file_map(epath, 0, &ef, &e2) < 0) {
			if (stats)
				stats->skipped[IOCB_SKIP_IO]++;
			if (h->on_skip)
				h->on_skip(h->ud, IOCB_SKIP_IO, e2.msg);
			continue;
		}
		iocb_misp__ctx_init(&c, ef.data, ef.len, epath, h, &l, stats, &e2);
		/* An event file is {"Event":{...}}; find it and deliver with the manifest as fallback. */
		iocb_json_init(&p, ef.data, ef.len, l.max_depth, false);
		size_t ev_off = 0;
		int prc = iocb_json_next(&p, &t, &e2);
		if (prc >= 0 && t.type != IOCB_JSON_OBJ)
			prc = iocb_err_set(&e2, IOCB_EPARSE, "not a JSON object");
		while (prc >= 0) {
			prc = iocb_json_next(&p, &k, &e2);
			if (prc < 0 || k.type == IOCB_JSON_OBJ_END)
				break;
			prc = iocb_json_next(&p, &t, &e2);
			if (prc < 0)
				break;
			if (key_is(&k, "Event") && t.type == IOCB_JSON_OBJ)
				ev_off = t.offset;
			prc = iocb_json_skip(&p, &t, &e2);
		}
		if (prc >= 0 && !ev_off) {
			iocb_misp__skip(&c, IOCB_SKIP_BAD_SHAPE, "%s: no \"Event\" object", epath);
		} else if (prc < 0) {
			if (stats)
				stats->skipped[IOCB_SKIP_NOT_JSON]++;
			if (h->on_skip) {
				char msg[720];
				snprintf(msg, sizeof(msg), "%.180s: %.500s", epath, e2.msg);
				h->on_skip(h->ud, IOCB_SKIP_NOT_JSON, msg);
			}
		} else {
			prc = iocb_misp__event_doc(&c, ev_off, &ents[i].ev, 0, 0, IOCB_ACT_NONE, true);
			if (prc < 0 && c.cb_rc) {
				rc = c.cb_rc;
				iocb_misp__ctx_fini(&c);
				iocb_file_unmap(&ef);
				goto out;
			}
		}
		iocb_misp__ctx_fini(&c);
		iocb_file_unmap(&ef);
	}
	rc = IOCB_OK;
out:
	free(ents);
	iocb_arena_fini(&arena);
	iocb_file_unmap(&man);
	return rc;
}
