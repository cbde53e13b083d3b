/* SPDX-License-Identifier: Apache-2.0 */
/* Writing a hit: ECS threat.enrichments and misp, spliced into the original bytes (see engine.h). */
#include <math.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/time.h"
#include "enrich/engine.h"
#include "json/json.h"
#include "json/lex.h"
#include "misp/misp.h"
#include "quality/decay.h"

/* ------------------------------------------------------------ write */

/* An instant gmtime_r cannot represent is written as the epoch, as it always was. */
static void iso_time(char *out, size_t cap, int64_t sec, uint32_t frac_us)
{
	if (!iocb_time_iso8601(out, cap, sec, frac_us, IOCB_TIME_MS_Z))
		snprintf(out, cap, "1970-01-01T00:00:00.000Z");
}

static void iso_time_us(char *out, size_t cap, int64_t us)
{
	if (!iocb_time_iso8601_us(out, cap, us, IOCB_TIME_MS_Z))
		snprintf(out, cap, "1970-01-01T00:00:00.000Z");
}

static void set_occurred(struct iocb_enrich *e)
{
	struct timespec ts;

	if (e->o->occurred) {
		snprintf(e->occurred, sizeof(e->occurred), "%s", e->o->occurred);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	iso_time(e->occurred, sizeof(e->occurred), (int64_t)ts.tv_sec, (uint32_t)(ts.tv_nsec / 1000));
}

/* The ECS leaves an attribute's parts go to. */
struct leaves {
	struct iocb_str ip, url_domain, url_full, file_name, hash, imphash, email, mac;
	char hash_algo[32];
	uint64_t port, asn;
	bool has_port, has_asn;
};

static void hash_algo(const struct iocb_misp_type *t, char *out, size_t cap)
{
	const char *bar = strchr(t->name, '|');

	snprintf(out, cap, "%s", bar ? bar + 1 : t->name);
}

static void collect_leaves(const struct iocb_store_attr_view *av, struct leaves *l)
{
	memset(l, 0, sizeof(*l));
	for (unsigned i = 0; i < av->nparts && i < 2; i++) {
		struct iocb_str v = av->part[i];
		switch (av->type->mc[i]) {
		case IOCB_MC_IP:
			if (av->prefix[i] < 0)
				l->ip = v;
			break;
		case IOCB_MC_PORT:
			l->has_port = iocb_str_to_u64(v, &l->port);
			break;
		case IOCB_MC_DOMAIN:
			l->url_domain = v;
			break;
		case IOCB_MC_URL:
			l->url_full = v;
			break;
		case IOCB_MC_FILENAME:
			l->file_name = v;
			break;
		case IOCB_MC_HASH:
			hash_algo(av->type, l->hash_algo, sizeof(l->hash_algo));
			if (strcmp(l->hash_algo, "imphash") == 0)
				l->imphash = v;
			else
				l->hash = v;
			break;
		case IOCB_MC_EMAIL:
			l->email = v;
			break;
		case IOCB_MC_ASN:
			l->has_asn = iocb_str_to_u64(v, &l->asn);
			break;
		case IOCB_MC_MAC:
			l->mac = v;
			break;
		default:
			break;
		}
	}
}

static const char *stix_type(enum iocb_match_class mc, struct iocb_str part)
{
	switch (mc) {
	case IOCB_MC_IP:
		return memchr(part.ptr, ':', part.len) ? "ipv6-addr" : "ipv4-addr";
	case IOCB_MC_DOMAIN:
		return "domain-name";
	case IOCB_MC_URL:
		return "url";
	case IOCB_MC_HASH:
	case IOCB_MC_FILENAME:
		return "file";
	case IOCB_MC_EMAIL:
		return "email-addr";
	case IOCB_MC_X509:
		return "x509-certificate";
	case IOCB_MC_ASN:
		return "autonomous-system";
	case IOCB_MC_MAC:
		return "mac-addr";
	default:
		return NULL;
	}
}

static void jw_str_or_null(struct iocb_jw *w, struct iocb_str s)
{
	if (s.len)
		iocb_jw_str(w, s);
	else
		iocb_jw_null(w);
}

/* The ECS leaves of indicator.* that the record's parts give (ip, port, as, email, file, mac, url). */
static void write_leaves(struct iocb_jw *w, const struct leaves *l)
{
	if (l->ip.len) {
		iocb_jw_key(w, "ip");
		iocb_jw_str(w, l->ip);
	}
	if (l->has_port) {
		iocb_jw_key(w, "port");
		iocb_jw_u64(w, l->port);
	}
	if (l->has_asn) {
		iocb_jw_key(w, "as");
		iocb_jw_obj(w);
		iocb_jw_key(w, "number");
		iocb_jw_u64(w, l->asn);
		iocb_jw_obj_end(w);
	}
	if (l->email.len) {
		iocb_jw_key(w, "email");
		iocb_jw_obj(w);
		iocb_jw_key(w, "address");
		iocb_jw_str(w, l->email);
		iocb_jw_obj_end(w);
	}
	if (l->file_name.len || l->hash.len || l->imphash.len) {
		iocb_jw_key(w, "file");
		iocb_jw_obj(w);
		if (l->file_name.len) {
			iocb_jw_key(w, "name");
			iocb_jw_str(w, l->file_name);
		}
		if (l->hash.len) {
			iocb_jw_key(w, "hash");
			iocb_jw_obj(w);
			iocb_jw_key(w, l->hash_algo);
			iocb_jw_str(w, l->hash);
			iocb_jw_obj_end(w);
		}
		if (l->imphash.len) {
			iocb_jw_key(w, "pe");
			iocb_jw_obj(w);
			iocb_jw_key(w, "imphash");
			iocb_jw_str(w, l->imphash);
			iocb_jw_obj_end(w);
		}
		iocb_jw_obj_end(w);
	}
	if (l->mac.len) {
		iocb_jw_key(w, "mac");
		iocb_jw_str(w, l->mac);
	}
	if (l->url_domain.len || l->url_full.len) {
		iocb_jw_key(w, "url");
		iocb_jw_obj(w);
		if (l->url_domain.len) {
			iocb_jw_key(w, "domain");
			iocb_jw_str(w, l->url_domain);
		}
		if (l->url_full.len) {
			iocb_jw_key(w, "full");
			iocb_jw_str(w, l->url_full);
		}
		iocb_jw_obj_end(w);
	}
}

/* Where the indicator comes from: description, provider, reference, TLP marking, first/last seen, modified. */
static void write_provenance(struct iocb_enrich *e, struct iocb_jw *w, const struct mhit *h,
			     const struct iocb_store_attr_view *av, const struct iocb_store_event_view *ev)
{
	char ts[96];

	if (ev && ev->info.len) {
		iocb_jw_key(w, "description");
		iocb_jw_str(w, ev->info);
	}
	iocb_jw_key(w, "provider");
	if (ev && ev->orgc_name.len)
		iocb_jw_str(w, ev->orgc_name);
	else
		iocb_jw_cstr(w, e->o->provider ? e->o->provider : "misp");
	if (e->o->misp_url && ev && ev->id) {
		char ref[512];
		size_t ul = strlen(e->o->misp_url);
		while (ul && e->o->misp_url[ul - 1] == '/')
			ul--;
		snprintf(ref, sizeof(ref), "%.*s/events/view/%llu", (int)ul, e->o->misp_url, (unsigned long long)ev->id);
		iocb_jw_key(w, "reference");
		iocb_jw_cstr(w, ref);
	}
	struct iocb_str tlp = iocb_store_attr_tlp(h->attr);
	if (tlp.len && tlp.len < 32) {
		char up[32];
		for (size_t i = 0; i < tlp.len; i++)
			up[i] = (tlp.ptr[i] >= 'a' && tlp.ptr[i] <= 'z') ? (char)(tlp.ptr[i] - 32) : tlp.ptr[i];
		iocb_jw_key(w, "marking");
		iocb_jw_obj(w);
		iocb_jw_key(w, "tlp");
		iocb_jw_str(w, iocb_str_make(up, tlp.len));
		iocb_jw_obj_end(w);
	}
	if (av->first_seen_us != INT64_MIN) {
		iso_time_us(ts, sizeof(ts), av->first_seen_us);
		iocb_jw_key(w, "first_seen");
		iocb_jw_cstr(w, ts);
	}
	if (av->last_seen_us != INT64_MIN) {
		iso_time_us(ts, sizeof(ts), av->last_seen_us);
		iocb_jw_key(w, "last_seen");
		iocb_jw_cstr(w, ts);
	}
	if (av->timestamp) {
		iso_time(ts, sizeof(ts), (int64_t)av->timestamp, 0);
		iocb_jw_key(w, "modified_at");
		iocb_jw_cstr(w, ts);
	}
}

/*
 * The record's decay score now (negative: no model applies) and its
 * confidence (decay.h iocb_quality_confidence(): a warninglist flag lowers it).
 */
static double hit_score(const struct iocb_enrich *e, const struct mhit *h, const char **confidence)
{
	struct iocb_store_quality q;
	iocb_store_attr_quality(h->attr, &q);
	double score = iocb_quality_decay_score(e->o->decay, &q, e->now_s);
	*confidence = iocb_quality_confidence(score, q.wl_action == IOCB_STORE_WL_FLAG);
	return score;
}

static void write_indicator(struct iocb_enrich *e, struct iocb_jw *w, const struct mhit *h,
			    const struct iocb_store_attr_view *av, const struct iocb_store_event_view *ev,
			    const char *confidence)
{
	struct leaves l;
	const char *type = stix_type((enum iocb_match_class)h->mc, av->part[h->part]);

	collect_leaves(av, &l);
	iocb_jw_key(w, "indicator");
	iocb_jw_obj(w);
	if (type) {
		iocb_jw_key(w, "type");
		iocb_jw_cstr(w, type);
	}
	iocb_jw_key(w, "name");
	iocb_jw_str(w, av->value);
	write_leaves(w, &l);
	write_provenance(e, w, h, av, ev);
	iocb_jw_key(w, "confidence");
	iocb_jw_cstr(w, confidence);
	iocb_jw_obj_end(w);
}

static bool str_seen(const struct iocb_str *set, size_t n, struct iocb_str s)
{
	for (size_t i = 0; i < n; i++)
		if (iocb_str_eq(set[i], s))
			return true;
	return false;
}

/* Build e->enr ("[...]" of our enrichments) and e->mis (the misp members, no braces). */
/* threat.enrichments[].matched: what in the event matched, where and when. */
static void write_matched(struct iocb_enrich *e, struct iocb_jw *w, const struct mhit *h,
			  const struct iocb_store_attr_view *av)
{
	iocb_jw_key(w, "matched");
	iocb_jw_obj(w);
	iocb_jw_key(w, "atomic");
	iocb_jw_str(w, iocb_str_make(e->atom.ptr + h->atom_off, h->atom_len));
	iocb_jw_key(w, "field");
	iocb_jw_cstr(w, e->m->fields[h->field].path);
	iocb_jw_key(w, "occurred");
	iocb_jw_cstr(w, e->occurred);
	iocb_jw_key(w, "type");
	iocb_jw_cstr(w, e->o->match_type ? e->o->match_type : "indicator_match_rule");
	iocb_jw_key(w, "id");
	iocb_jw_cstr(w, av->uuid);
	iocb_jw_obj_end(w);
}

/* misp.attributes: each matching attribute once, with its event's ids and creator org. */
static void write_attributes(struct iocb_enrich *e, struct iocb_jw *w)
{
	iocb_jw_key(w, "attributes");
	iocb_jw_arr(w);
	for (size_t i = 0; i < e->nhits; i++) {
		bool dup = false;
		for (size_t k = 0; k < i && !dup; k++)
			dup = e->hits[k].attr == e->hits[i].attr;
		if (dup)
			continue;
		struct iocb_store_attr_view av;
		struct iocb_store_event_view ev;
		iocb_store_attr_view(e->hits[i].attr, &av);
		memset(&ev, 0, sizeof(ev));
		if (av.event)
			iocb_store_event_view(av.event, &ev);
		iocb_jw_obj(w);
		iocb_jw_key(w, "uuid");
		iocb_jw_cstr(w, av.uuid);
		iocb_jw_key(w, "type");
		iocb_jw_cstr(w, av.type ? av.type->name : "");
		iocb_jw_key(w, "category");
		iocb_jw_str(w, av.category);
		iocb_jw_key(w, "value");
		iocb_jw_str(w, av.value);
		iocb_jw_key(w, "to_ids");
		iocb_jw_bool(w, av.to_ids);
		iocb_jw_key(w, "event_uuid");
		jw_str_or_null(w, iocb_str_c(ev.uuid));
		iocb_jw_key(w, "event_id");
		if (ev.id)
			iocb_jw_u64(w, ev.id);
		else
			iocb_jw_null(w);
		iocb_jw_key(w, "orgc");
		jw_str_or_null(w, ev.orgc_name);
		iocb_jw_obj_end(w);
	}
	iocb_jw_arr_end(w);
}

/* misp.warninglists (issue #15): the lists of the flagged records among the hits, each once. */
struct wl_names {
	struct iocb_str v[32]; /* names seen (copies in buf: the lists may be reloaded between calls) */
	size_t n;              /* entries of v */
	char buf[2048];        /* their bytes */
	size_t used;           /* bytes of buf used */
	struct iocb_jw *w;     /* where they go */
};

static void wl_emit(void *ctx, struct iocb_str name)
{
	struct wl_names *ns = ctx;
	if (ns->n >= IOCB_ARRAY_LEN(ns->v) || name.len > sizeof(ns->buf) - ns->used || str_seen(ns->v, ns->n, name))
		return;
	if (ns->n == 0) {
		iocb_jw_key(ns->w, "warninglists");
		iocb_jw_arr(ns->w);
	}
	memcpy(ns->buf + ns->used, name.ptr, name.len);
	ns->v[ns->n++] = iocb_str_make(ns->buf + ns->used, name.len);
	ns->used += name.len;
	iocb_jw_str(ns->w, name);
}

static void write_warninglists(struct iocb_enrich *e, struct iocb_jw *w)
{
	struct wl_names ns = {.n = 0, .used = 0, .w = w};
	if (!e->o->wl)
		return;
	for (size_t i = 0; i < e->nhits; i++) {
		struct iocb_store_quality q;
		iocb_store_attr_quality(e->hits[i].attr, &q);
		if (q.wl_action == IOCB_STORE_WL_FLAG && q.wl_set)
			e->o->wl->names(e->o->wl->ud, q.wl_set, wl_emit, &ns);
	}
	if (ns.n)
		iocb_jw_arr_end(w);
}

static int build_hit_texts(struct iocb_enrich *e)
{
	struct iocb_jw w;
	struct iocb_str tags[MAX_TAGS], infos[64];
	size_t ntags = 0, ninfos = 0;
	double best = -1; /* misp.decay_score: the highest score of the matched indicators */

	set_occurred(e);
	iocb_buf_reset(&e->enr);
	iocb_jw_init(&w, &e->enr);
	iocb_jw_arr(&w);
	for (size_t i = 0; i < e->nhits; i++) {
		const struct mhit *h = &e->hits[i];
		struct iocb_store_attr_view av;
		struct iocb_store_event_view evv, *ev = NULL;

		iocb_store_attr_view(h->attr, &av);
		if (av.event) {
			iocb_store_event_view(av.event, &evv);
			ev = &evv;
		}
		const char *confidence;
		double score = hit_score(e, h, &confidence);
		if (score > best)
			best = score;
		iocb_jw_obj(&w);
		write_indicator(e, &w, h, &av, ev, confidence);
		write_matched(e, &w, h, &av);
		iocb_jw_obj_end(&w);

		for (size_t k = 0; k < av.ntags && ntags < MAX_TAGS; k++) {
			struct iocb_str t = iocb_store_attr_tag(h->attr, k);
			if (!str_seen(tags, ntags, t))
				tags[ntags++] = t;
		}
		for (size_t k = 0; ev && k < ev->ntags && ntags < MAX_TAGS; k++) {
			struct iocb_str t = iocb_store_event_tag(av.event, k);
			if (!str_seen(tags, ntags, t))
				tags[ntags++] = t;
		}
		if (ev && ev->info.len && ninfos < 64 && !str_seen(infos, ninfos, ev->info))
			infos[ninfos++] = ev->info;
		e->st.by_field[h->field]++;
		if (av.type)
			e->st.by_type[av.type->id]++;
	}
	iocb_jw_arr_end(&w);

	iocb_buf_reset(&e->mis);
	iocb_jw_init(&w, &e->mis);
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "hit");
	iocb_jw_bool(&w, true);
	iocb_jw_key(&w, "tag");
	iocb_jw_arr(&w);
	for (size_t i = 0; i < ntags; i++)
		iocb_jw_str(&w, tags[i]);
	iocb_jw_arr_end(&w);
	iocb_jw_key(&w, "eventinfo");
	iocb_jw_arr(&w);
	for (size_t i = 0; i < ninfos; i++)
		iocb_jw_str(&w, infos[i]);
	iocb_jw_arr_end(&w);
	write_attributes(e, &w);
	if (best >= 0) {
		iocb_jw_key(&w, "decay_score");
		iocb_jw_double(&w, floor(best * 100 + 0.5) / 100); /* two decimals: a score, not a measurement */
	}
	write_warninglists(e, &w);
	iocb_jw_obj_end(&w);
	return iocb_jw_rc(&w) < 0 ? iocb_jw_rc(&w) : IOCB_OK;
}

/* Strip the outer brackets/braces of a buffer built by the writer. */
static struct iocb_str inner(const struct iocb_buf *b)
{
	return b->len >= 2 ? iocb_str_make(b->ptr + 1, b->len - 2) : IOCB_STR_NULL;
}

/* Append spans v[first .. first+n) of the line, comma-separated. */
static int put_spans(struct iocb_buf *b, const struct iocb_enrich *e, const struct spanv *sv, size_t from, size_t n,
		     bool *first)
{
	for (size_t i = from; i < from + n; i++) {
		const struct span *v = sv->v;
		if ((!*first && iocb_buf_putc(b, ',') < 0) ||
		    iocb_buf_append(b, e->line + v[i].start, v[i].end - v[i].start) < 0)
			return IOCB_ENOMEM;
		*first = false;
	}
	return IOCB_OK;
}

/* The new value of `threat` (ours plus what the event had). */
static int build_threat(struct iocb_enrich *e)
{
	const struct special *s = &e->sp[SP_THREAT];
	struct iocb_str ours = inner(&e->enr);
	bool first = true;
	int rc = IOCB_OK;

	iocb_buf_reset(&e->thr);
	if (iocb_buf_putc(&e->thr, '{') < 0)
		return IOCB_ENOMEM;
	if (s->present && s->is_obj) {
		rc = put_spans(&e->thr, e, &e->kept, s->kept0, s->nkept, &first);
		if (rc < 0)
			return rc;
	}
	if ((!first && iocb_buf_putc(&e->thr, ',') < 0) || iocb_buf_append_c(&e->thr, "\"enrichments\":[") < 0)
		return IOCB_ENOMEM;
	first = true;
	if (s->present && s->is_obj)
		rc = put_spans(&e->thr, e, &e->old, s->old0, s->nold, &first);
	if (rc < 0 || (!first && ours.len && iocb_buf_putc(&e->thr, ',') < 0) ||
	    iocb_buf_append_str(&e->thr, ours) < 0 || iocb_buf_append_c(&e->thr, "]}") < 0)
		return IOCB_ENOMEM;
	return IOCB_OK;
}

/* The new value of `misp`: the event's other misp members plus ours (`members`, no braces). */
static int build_misp(struct iocb_enrich *e, struct iocb_buf *b, struct iocb_str members)
{
	const struct special *s = &e->sp[SP_MISP];
	bool first = true;
	int rc;

	iocb_buf_reset(b);
	if (iocb_buf_putc(b, '{') < 0)
		return IOCB_ENOMEM;
	if (s->present && s->is_obj) {
		rc = put_spans(b, e, &e->kept, s->kept0, s->nkept, &first);
		if (rc < 0)
			return rc;
	}
	if ((!first && iocb_buf_putc(b, ',') < 0) || iocb_buf_append_str(b, members) < 0 || iocb_buf_putc(b, '}') < 0)
		return IOCB_ENOMEM;
	return IOCB_OK;
}

struct edit {
	uint32_t start, end;
	struct iocb_str text;
};

/* Output = the line with threat/misp values replaced, duplicates deleted, new members inserted. */
static int splice(struct iocb_enrich *e, struct iocb_buf *out, bool with_threat, struct iocb_buf *misp_val)
{
	struct edit ed[3];
	bool used[3] = {false, false, false};
	size_t ned = 0, pos = 0;
	bool any_member = e->top_members > 0;

	iocb_buf_reset(&e->ins);
	if (with_threat) {
		if (e->sp[SP_THREAT].present) {
			ed[ned++] = (struct edit){e->sp[SP_THREAT].val_off, e->sp[SP_THREAT].val_end, iocb_buf_str(&e->thr)};
		} else {
			if ((any_member && iocb_buf_putc(&e->ins, ',') < 0) || iocb_buf_append_c(&e->ins, "\"threat\":") < 0 ||
			    iocb_buf_append_str(&e->ins, iocb_buf_str(&e->thr)) < 0)
				return IOCB_ENOMEM;
			any_member = true;
		}
	}
	if (e->sp[SP_MISP].present) {
		ed[ned++] = (struct edit){e->sp[SP_MISP].val_off, e->sp[SP_MISP].val_end, iocb_buf_str(misp_val)};
	} else {
		if ((any_member && iocb_buf_putc(&e->ins, ',') < 0) || iocb_buf_append_c(&e->ins, "\"misp\":") < 0 ||
		    iocb_buf_append_str(&e->ins, iocb_buf_str(misp_val)) < 0)
			return IOCB_ENOMEM;
	}
	if (e->ins.len)
		ed[ned++] = (struct edit){e->obj_close, e->obj_close, iocb_buf_str(&e->ins)};
	/* Deletions are merged in order with the (at most three) other edits. */
	size_t di = 0;
	for (;;) {
		const struct span *d = di < e->dels.n ? &e->dels.v[di] : NULL;
		size_t best = ned;
		for (size_t i = 0; i < ned; i++)
			if (!used[i] && (best == ned || ed[i].start < ed[best].start))
				best = i;
		if (d && (best == ned || d->start < ed[best].start)) {
			if (iocb_buf_append(out, e->line + pos, d->start - pos) < 0)
				return IOCB_ENOMEM;
			pos = d->end;
			di++;
			continue;
		}
		if (best == ned)
			break;
		if (iocb_buf_append(out, e->line + pos, ed[best].start - pos) < 0 ||
		    iocb_buf_append_str(out, ed[best].text) < 0)
			return IOCB_ENOMEM;
		pos = ed[best].end;
		used[best] = true;
	}
	return iocb_buf_append(out, e->line + pos, e->len - pos);
}

int iocb_enrich__write_mark(struct iocb_enrich *e)
{
	iocb_buf_reset(&e->lout);
	if (build_misp(e, &e->misv, IOCB_STR_LIT("\"hit\":false")) < 0 || splice(e, &e->lout, false, &e->misv) < 0)
		return IOCB_ENOMEM;
	return IOCB_OK;
}

int iocb_enrich__write_hit(struct iocb_enrich *e)
{
	iocb_buf_reset(&e->lout);
	/* e->mis holds {"hit":true,...}: its members go into the event's misp object. */
	if (build_hit_texts(e) < 0 || build_threat(e) < 0 || build_misp(e, &e->misv, inner(&e->mis)) < 0 ||
	    splice(e, &e->lout, true, &e->misv) < 0)
		return IOCB_ENOMEM;
	return IOCB_OK;
}

