/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MISP decaying models (Polynomial), plain maximum ages and the confidence
 * mapping; see decay.h for the formula and where it comes from.
 *
 * Model files are small (a kilobyte), parsed once at start-up with the
 * streaming JSON parser; everything the hot path needs ends up in the
 * store record's expires_at.
 */
#include "quality/decay.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/file.h"
#include "core/mem.h"
#include "json/json.h"
#include "misp/misp.h"

/* ------------------------------------------------------------ the formula */

double iocb_decay_score(const struct iocb_decay_model *m, double base_score, double t)
{
	double tau = m->lifetime_d * 86400.0, score;
	if (t < 0)
		t = 0; /* MISP: 0; see decay.h */
	score = base_score * (1.0 - pow(t / tau, 1.0 / m->decay_speed));
	return score < 0 ? 0 : score;
}

int64_t iocb_decay_expiry(const struct iocb_decay_model *m, double base_score, int64_t from)
{
	double tau = m->lifetime_d * 86400.0, t;
	if (m->threshold <= 0)
		return INT64_MAX;
	if (base_score < m->threshold || base_score <= 0)
		return 0;
	/* score(t) >= threshold  <=>  t <= tau * (1 - threshold / base)^decay_speed */
	t = tau * pow(1.0 - m->threshold / base_score, m->decay_speed);
	if (!(t < 9.0e15))
		return INT64_MAX;
	return from + (int64_t)floor(t) + 1;
}

int64_t iocb_decay_from(int64_t timestamp, int64_t last_seen, int64_t last_sighting)
{
	int64_t from = last_sighting ? last_sighting : last_seen ? last_seen : timestamp;
	if (timestamp > from) /* modified after the last sighting */
		from = last_seen ? last_seen : timestamp;
	return from;
}

/* ------------------------------------------------------------ base score */

static bool plain(char c)
{
	return c != ':' && c != '=' && c != '"';
}

/*
 * MISP's __extractTagBasename: 'ns:pred="value"' -> "ns:pred", 'ns:pred' ->
 * "ns", anything else -> the whole name (each part non-empty and free of
 * ':', '=' and '"').
 */
static struct iocb_str tag_base(struct iocb_str t)
{
	size_t i = 0, ns, pred;
	while (i < t.len && plain(t.ptr[i]))
		i++;
	ns = i;
	if (ns == 0 || i == t.len || t.ptr[i] != ':')
		return t;
	i++;
	while (i < t.len && plain(t.ptr[i]))
		i++;
	pred = i;
	if (pred == ns + 1)
		return t;
	if (i == t.len)
		return iocb_str_make(t.ptr, ns);
	if (t.ptr[i] != '=' || i + 1 >= t.len || t.ptr[i + 1] != '"')
		return t;
	i += 2;
	size_t vstart = i;
	while (i < t.len && plain(t.ptr[i]))
		i++;
	if (i == vstart || i + 1 != t.len || t.ptr[i] != '"')
		return t;
	return iocb_str_make(t.ptr, pred);
}

static int bsc_find(const struct iocb_decay_model *m, struct iocb_str base)
{
	for (size_t i = 0; i < m->nbsc; i++)
		if (strlen(m->bsc[i].taxonomy) == base.len && memcmp(m->bsc[i].taxonomy, base.ptr, base.len) == 0)
			return (int)i;
	return -1;
}

#define MAX_TAGS 512

double iocb_decay_base_score(const struct iocb_decay_model *m, const struct iocb_str *event_tags, size_t nev,
			     const struct iocb_str *attr_tags, size_t nattr,
			     bool (*lookup)(const void *ud, struct iocb_str tag, double *value), const void *ud)
{
	struct iocb_str tags[MAX_TAGS];
	bool gone[MAX_TAGS] = {false};
	size_t n = 0;
	double total = 0, base = 0, v;
	bool matched = false;

	if (nev > MAX_TAGS / 2)
		nev = MAX_TAGS / 2;
	if (nattr > MAX_TAGS / 2)
		nattr = MAX_TAGS / 2;
	for (size_t i = 0; i < nev; i++)
		tags[n++] = event_tags[i];
	/* __getPrioritisedTag: an attribute tag takes the place of the first event tag of its
	 * basename and removes the others; with none it is appended */
	for (size_t j = 0; j < nattr; j++) {
		struct iocb_str b = tag_base(attr_tags[j]);
		bool first = true;
		for (size_t i = 0; i < nev; i++) {
			if (!iocb_str_eq(tag_base(event_tags[i]), b))
				continue;
			if (first)
				tags[i] = attr_tags[j], gone[i] = false;
			else
				gone[i] = true;
			first = false;
		}
		if (first)
			tags[n++] = attr_tags[j];
	}
	/* __getRatioScore: the weights of the matching numerical tags, normalised */
	for (size_t i = 0; i < n; i++) {
		int k = gone[i] ? -1 : bsc_find(m, tag_base(tags[i]));
		if (k >= 0 && lookup(ud, tags[i], &v))
			total += m->bsc[k].weight;
	}
	for (size_t i = 0; i < n && total > 0; i++) {
		int k = gone[i] ? -1 : bsc_find(m, tag_base(tags[i]));
		if (k < 0)
			continue;
		/* a basename gets a ratio when one of its tags is numerical; a tag without a value
		 * then counts 0, as PHP multiplies by null */
		bool has_ratio = false;
		for (size_t j = 0; j < n && !has_ratio; j++)
			has_ratio = !gone[j] && iocb_str_eq(tag_base(tags[j]), tag_base(tags[i])) && lookup(ud, tags[j], &v);
		if (!has_ratio)
			continue;
		matched = true;
		if (!lookup(ud, tags[i], &v))
			v = 0;
		base += m->bsc[k].weight / total * v;
	}
	return matched ? base : m->default_base_score;
}

/* ------------------------------------------------------------ confidence */

const char *iocb_quality_confidence(double score, bool wl_flagged)
{
	static const char *const level[] = {"None", "Low", "Medium", "High"};
	int l;
	if (score < 0) {
		l = 3;
	} else {
		double r = floor(score + 0.5);
		l = r >= 70 ? 3 : r >= 30 ? 2 : r >= 1 ? 1 : 0;
	}
	if (wl_flagged && l > 0)
		l--;
	return level[l];
}

/* ------------------------------------------------------------ model files */

/* A NUM token, or a STR holding a number (MISP exports parameters as either). */
static bool tok_number(const struct iocb_json_tok *t, double *out)
{
	char buf[64];
	char *end;
	if (t->type == IOCB_JSON_NUM)
		return iocb_json_tok_double(t, out) && isfinite(*out);
	if (t->type != IOCB_JSON_STR || t->escaped || !t->s.len || t->s.len >= sizeof(buf))
		return false;
	memcpy(buf, t->s.ptr, t->s.len);
	buf[t->s.len] = '\0';
	*out = strtod(buf, &end);
	return *end == '\0' && isfinite(*out);
}

/* Copy a STR token into out (cap bytes, NUL-terminated). */
static int tok_text(const struct iocb_json_tok *t, char *out, size_t cap, const char *what, struct iocb_err *err)
{
	size_t n;
	if (t->type != IOCB_JSON_STR && t->type != IOCB_JSON_KEY)
		return iocb_err_set(err, IOCB_EPARSE, "decaying model: %s is not a string", what);
	if (iocb_json_unescape(t, out, cap - 1, &n) < 0)
		return iocb_err_set(err, IOCB_EPARSE, "decaying model: %s: too long or badly escaped", what);
	out[n] = '\0';
	return IOCB_OK;
}

static int parse_bsc(struct iocb_json_parser *p, struct iocb_decay_model *m, struct iocb_err *err)
{
	struct iocb_json_tok k, v;
	int rc;
	while ((rc = iocb_json_next_member(p, &k, &v, err)) > 0) {
		if (m->nbsc == IOCB_DECAY_MAX_BSC)
			return iocb_err_set(err, IOCB_ELIMIT, "decaying model: more than %d base_score_config entries",
					    IOCB_DECAY_MAX_BSC);
		if ((rc = tok_text(&k, m->bsc[m->nbsc].taxonomy, sizeof(m->bsc[0].taxonomy), "a taxonomy", err)) < 0)
			return rc;
		if (!tok_number(&v, &m->bsc[m->nbsc].weight) || m->bsc[m->nbsc].weight < 0)
			return iocb_err_set(err, IOCB_EPARSE, "decaying model: base_score_config.%s is not a number >= 0",
					    m->bsc[m->nbsc].taxonomy);
		m->nbsc++;
	}
	return rc;
}

/* The `parameters` object; `seen` gets a bit per required parameter found. */
static int parse_params(struct iocb_json_parser *p, struct iocb_decay_model *m, unsigned *seen, struct iocb_err *err)
{
	static const char *const names[] = {"lifetime", "decay_speed", "threshold", "default_base_score"};
	double *fields[] = {&m->lifetime_d, &m->decay_speed, &m->threshold, &m->default_base_score};
	struct iocb_json_tok k, v;
	int rc;
	while ((rc = iocb_json_next_member(p, &k, &v, err)) > 0) {
		bool known = false;
		for (unsigned i = 0; i < 4 && !known; i++) {
			if (!iocb_json_tok_eq(&k, names[i]))
				continue;
			known = true;
			if (!tok_number(&v, fields[i]))
				return iocb_err_set(err, IOCB_EPARSE, "decaying model: parameters.%s is not a number", names[i]);
			*seen |= 1u << i;
		}
		if (known)
			continue;
		if (iocb_json_tok_eq(&k, "base_score_config") && v.type == IOCB_JSON_OBJ)
			rc = parse_bsc(p, m, err);
		else
			rc = iocb_json_skip(p, &v, err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

static int parse_types(struct iocb_json_parser *p, struct iocb_decay_model *m, struct iocb_err *err)
{
	struct iocb_json_tok t;
	int rc;
	for (;;) {
		char name[64];
		size_t n;
		if ((rc = iocb_json_next(p, &t, err)) < 0)
			return rc;
		if (t.type == IOCB_JSON_ARR_END)
			return IOCB_OK;
		if (t.type != IOCB_JSON_STR)
			return iocb_err_set(err, IOCB_EPARSE, "decaying model: attribute_types holds a non-string");
		if (iocb_json_unescape(&t, name, sizeof(name), &n) < 0)
			continue; /* no MISP type is that long */
		const struct iocb_misp_type *ty = iocb_misp_type_find(iocb_str_make(name, n));
		if (ty && ty->id < 256)
			m->types[ty->id / 64] |= (uint64_t)1 << (ty->id % 64);
	}
}

static int parse_body(struct iocb_json_parser *p, struct iocb_decay_model *m, unsigned *seen, struct iocb_err *err)
{
	struct iocb_json_tok k, v;
	char formula[32] = "Polynomial";
	int rc;
	while ((rc = iocb_json_next_member(p, &k, &v, err)) > 0) {
		if (iocb_json_tok_eq(&k, "DecayingModel") && v.type == IOCB_JSON_OBJ)
			rc = parse_body(p, m, seen, err);
		else if (iocb_json_tok_eq(&k, "name"))
			rc = tok_text(&v, m->name, sizeof(m->name), "name", err);
		else if (iocb_json_tok_eq(&k, "uuid"))
			rc = tok_text(&v, m->uuid, sizeof(m->uuid), "uuid", err);
		else if (iocb_json_tok_eq(&k, "formula") && (rc = tok_text(&v, formula, sizeof(formula), "formula", err)) >= 0)
			rc = strcmp(formula, "Polynomial") == 0 ? IOCB_OK
								: iocb_err_set(err, IOCB_EUNSUPPORTED,
									       "decaying model: formula %s (iocbus implements Polynomial)",
									       formula);
		else if (iocb_json_tok_eq(&k, "parameters") && v.type == IOCB_JSON_OBJ)
			rc = parse_params(p, m, seen, err);
		else if (iocb_json_tok_eq(&k, "attribute_types") && v.type == IOCB_JSON_ARR)
			rc = parse_types(p, m, err);
		else if (!iocb_json_tok_eq(&k, "formula"))
			rc = iocb_json_skip(p, &v, err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

int iocb_decay_model_parse(const char *json, size_t len, struct iocb_decay_model *out, struct iocb_err *err)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t;
	unsigned seen = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	iocb_json_init(&p, json, len, 16, false);
	if ((rc = iocb_json_next(&p, &t, err)) < 0)
		return rc;
	if (t.type != IOCB_JSON_OBJ)
		return iocb_err_set(err, IOCB_EPARSE, "decaying model: not a JSON object");
	if ((rc = parse_body(&p, out, &seen, err)) < 0)
		return rc;
	if ((rc = iocb_json_next(&p, &t, err)) < 0 && rc != IOCB_EEND)
		return rc;
	if ((seen & 7) != 7)
		return iocb_err_set(err, IOCB_EPARSE, "decaying model %s: parameters lifetime, decay_speed and threshold "
				    "are required", out->name);
	if (!(out->lifetime_d > 0) || !(out->decay_speed > 0))
		return iocb_err_set(err, IOCB_EPARSE, "decaying model %s: lifetime and decay_speed must be > 0", out->name);
	return IOCB_OK;
}

/* ------------------------------------------------------------ the decay object */

struct tagval {
	char *tag;    /* full tag name */
	size_t len;   /* its length */
	double value; /* numerical value */
};

struct iocb_quality_decay {
	struct iocb_decay_model *models; /* loaded models */
	size_t nmodels;
	struct tagval *tv;               /* numerical values, sorted by tag */
	size_t ntv;
	double default_age;              /* expire_after default, s; 0 = none */
	double source_age[IOCB_STORE_MAX_SOURCES];
	double type_age[256];            /* by MISP type id */
};

static int tv_cmp(const void *a, const void *b)
{
	const struct tagval *x = a, *y = b;
	int c = memcmp(x->tag, y->tag, x->len < y->len ? x->len : y->len);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static bool tv_lookup(const void *ud, struct iocb_str tag, double *value)
{
	const struct iocb_quality_decay *d = ud;
	struct tagval key = {(char *)(uintptr_t)tag.ptr, tag.len, 0};
	const struct tagval *f = d->ntv ? bsearch(&key, d->tv, d->ntv, sizeof(*d->tv), tv_cmp) : NULL;
	if (!f)
		return false;
	*value = f->value;
	return true;
}

static int load_file(struct iocb_quality_decay *d, const char *path, struct iocb_err *err)
{
	struct iocb_file_map fm;
	int rc;
	if (d->nmodels == IOCB_DECAY_MAX_MODELS)
		return iocb_err_set(err, IOCB_ELIMIT, "quality.decay: more than %d models", IOCB_DECAY_MAX_MODELS);
	if ((rc = iocb_file_map(path, IOCB_DECAY_MAX_FILE, &fm, err)) < 0)
		return rc;
	rc = iocb_decay_model_parse(fm.data, fm.len, &d->models[d->nmodels], err);
	iocb_file_unmap(&fm);
	if (rc < 0) {
		char msg[sizeof(err->msg)];
		if (!err)
			return rc;
		snprintf(msg, sizeof(msg), "%s", err->msg);
		return iocb_err_set(err, rc, "%s: %s", path, msg);
	}
	d->nmodels++;
	return IOCB_OK;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file, or the *.json files of a directory in name order (so model indexes are stable). */
static int load_path(struct iocb_quality_decay *d, const char *path, struct iocb_err *err)
{
	struct stat st;
	char *names[IOCB_DECAY_MAX_MODELS + 1];
	size_t n = 0;
	int rc = IOCB_OK;
	if (stat(path, &st) < 0)
		return iocb_err_set(err, IOCB_EIO, "quality.decay: %s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return load_file(d, path, err);
	DIR *dir = opendir(path);
	if (!dir)
		return iocb_err_set(err, IOCB_EIO, "quality.decay: %s: %s", path, strerror(errno));
	for (struct dirent *e; (e = readdir(dir)) && n <= IOCB_DECAY_MAX_MODELS;) {
		size_t l = strlen(e->d_name);
		if (e->d_name[0] != '.' && l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
			names[n++] = iocb_xstrdup(e->d_name);
	}
	closedir(dir);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char full[4096];
		if (rc >= 0 && (size_t)snprintf(full, sizeof(full), "%s/%s", path, names[i]) < sizeof(full))
			rc = load_file(d, full, err);
		free(names[i]);
	}
	return rc;
}

static int set_rules(struct iocb_quality_decay *d, const struct iocb_quality_decay_opts *o, struct iocb_err *err)
{
	d->default_age = o->expire_after_s > 0 ? o->expire_after_s : 0;
	for (unsigned i = 0; i < IOCB_STORE_MAX_SOURCES; i++)
		d->source_age[i] = o->source_expire_s[i] > 0 ? o->source_expire_s[i] : 0;
	for (size_t i = 0; i < o->ntype_expire; i++) {
		const struct iocb_misp_type *t = iocb_misp_type_find(iocb_str_c(o->type_expire[i].type));
		if (!t || t->id >= 256)
			return iocb_err_set(err, IOCB_EINVAL, "quality.expire_after.types: unknown MISP type '%s'",
					    o->type_expire[i].type);
		d->type_age[t->id] = o->type_expire[i].max_age_s > 0 ? o->type_expire[i].max_age_s : 0;
	}
	if (o->ntag_values) {
		d->tv = iocb_xcalloc(o->ntag_values, sizeof(*d->tv));
		for (size_t i = 0; i < o->ntag_values; i++) {
			d->tv[i].tag = iocb_xstrdup(o->tag_values[i].tag);
			d->tv[i].len = strlen(d->tv[i].tag);
			d->tv[i].value = o->tag_values[i].value;
		}
		d->ntv = o->ntag_values;
		qsort(d->tv, d->ntv, sizeof(*d->tv), tv_cmp);
	}
	return IOCB_OK;
}

int iocb_quality_decay_new(const struct iocb_quality_decay_opts *o, struct iocb_quality_decay **out,
			   struct iocb_err *err)
{
	struct iocb_quality_decay *d = iocb_xcalloc(1, sizeof(*d));
	int rc;
	d->models = iocb_xcalloc(IOCB_DECAY_MAX_MODELS, sizeof(*d->models));
	for (size_t i = 0; i < o->nmodel_paths; i++)
		if ((rc = load_path(d, o->model_paths[i], err)) < 0)
			goto fail;
	if ((rc = set_rules(d, o, err)) < 0)
		goto fail;
	*out = d;
	return IOCB_OK;
fail:
	iocb_quality_decay_free(d);
	return rc;
}

void iocb_quality_decay_free(struct iocb_quality_decay *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->ntv; i++)
		free(d->tv[i].tag);
	free(d->tv);
	free(d->models);
	free(d);
}

bool iocb_quality_decay_active(const struct iocb_quality_decay *d)
{
	bool any = d->nmodels || d->default_age > 0;
	for (unsigned i = 0; i < IOCB_STORE_MAX_SOURCES && !any; i++)
		any = d->source_age[i] > 0;
	for (unsigned i = 0; i < 256 && !any; i++)
		any = d->type_age[i] > 0;
	return any;
}

size_t iocb_quality_decay_nmodels(const struct iocb_quality_decay *d)
{
	return d->nmodels;
}

const struct iocb_decay_model *iocb_quality_decay_model(const struct iocb_quality_decay *d, size_t i)
{
	return i < d->nmodels ? &d->models[i] : NULL;
}

/* ------------------------------------------------------------ the store callback */

#define CB_TAGS 256

/* Pick the applicable model keeping the record alive longest; sets q's decay fields. */
static void apply_models(const struct iocb_quality_decay *d, const struct iocb_store_attr *a,
			 const struct iocb_store_attr_view *v, int64_t ls, struct iocb_store_quality *q)
{
	struct iocb_str et[CB_TAGS], at[CB_TAGS];
	size_t net = 0, nat = 0;
	unsigned tid = v->type->id;
	int64_t best = -1;

	if (v->event) {
		struct iocb_store_event_view ev;
		iocb_store_event_view(v->event, &ev);
		for (; net < ev.ntags && net < CB_TAGS; net++)
			et[net] = iocb_store_event_tag(v->event, net);
	}
	for (; nat < v->ntags && nat < CB_TAGS; nat++)
		at[nat] = iocb_store_attr_tag(a, nat);
	for (size_t i = 0; i < d->nmodels; i++) {
		const struct iocb_decay_model *m = &d->models[i];
		if (tid >= 256 || !(m->types[tid / 64] >> (tid % 64) & 1))
			continue;
		double base = iocb_decay_base_score(m, et, net, at, nat, tv_lookup, d);
		int64_t from = iocb_decay_from((int64_t)v->timestamp, ls, q->last_sighting);
		int64_t e = iocb_decay_expiry(m, base, from);
		if (e > best) {
			best = e;
			q->model = (uint16_t)(i + 1);
			q->base_score = (float)base;
			q->decay_from = from;
		}
	}
	if (best >= 0 && best < q->expires_at)
		q->expires_at = best;
}

void iocb_quality_decay_apply(void *ud, const struct iocb_store_attr *a, struct iocb_store_quality *q)
{
	const struct iocb_quality_decay *d = ud;
	struct iocb_store_attr_view v;
	int64_t ls, anchor;
	double age = d->default_age;

	iocb_store_attr_view(a, &v);
	ls = v.last_seen_us != INT64_MIN && v.last_seen_us > 0 ? v.last_seen_us / 1000000 : 0;
	q->model = 0;
	q->base_score = -1.0f;
	q->decay_from = 0;
	if (d->nmodels)
		apply_models(d, a, &v, ls, q);
	/* expire_after: the shortest maximum age that applies */
	if (d->source_age[v.source % IOCB_STORE_MAX_SOURCES] > 0 &&
	    (!(age > 0) || d->source_age[v.source % IOCB_STORE_MAX_SOURCES] < age))
		age = d->source_age[v.source % IOCB_STORE_MAX_SOURCES];
	if (v.type->id < 256 && d->type_age[v.type->id] > 0 && (!(age > 0) || d->type_age[v.type->id] < age))
		age = d->type_age[v.type->id];
	if (!(age > 0))
		return;
	anchor = (int64_t)v.timestamp;
	if (ls > anchor)
		anchor = ls;
	if (q->last_sighting > anchor)
		anchor = q->last_sighting;
	if (!q->model)
		q->decay_from = anchor;
	int64_t e = age >= 9.0e15 ? INT64_MAX : anchor + (int64_t)ceil(age);
	if (e < q->expires_at)
		q->expires_at = e;
}

double iocb_quality_decay_score(const struct iocb_quality_decay *d, const struct iocb_store_quality *q, int64_t now)
{
	if (!d || !q->model || q->model > d->nmodels || q->base_score < 0)
		return -1;
	return iocb_decay_score(&d->models[q->model - 1], q->base_score, (double)(now - q->decay_from));
}
