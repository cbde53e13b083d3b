/* SPDX-License-Identifier: Apache-2.0 */
/*
 * restSearch parameters (reference misp.md §3.2) parsed into a struct
 * iocb_mispapi_query, and the per-record filter. Pure: no store writes,
 * no I/O, no allocation but the query's one string pool, so the fuzz
 * target (fuzz/fuzz_mispapi_query.c) and the unit tests drive it directly.
 *
 * MISP's casts are PHP's and CakePHP's, followed here on purpose:
 * - to_ids/published: DboSource::boolean, so only 0, "0", false, "", null
 *   are false, and "exclude" is 0 ("no" and "false" are TRUE);
 * - include* flags: PHP empty(), so "0", 0, "", false, null are off;
 * - a string with "||" is a list; strings are trimmed;
 * - times: an epoch (int, float or digits), "7d"/"12h"/"30m"/"10s" before
 *   now, or [from, to]; anything else is "now+1", which matches nothing
 *   (strtotime()'s free-form dates are not implemented: they match nothing).
 */
#include "serve/http/mispapi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/mem.h"
#include "json/json.h"

/* One scalar parameter value, whatever carried it (a JSON token or a named URL parameter). */
enum sval_kind { SV_STR, SV_NUM, SV_TRUE, SV_FALSE, SV_NULL };
struct sval {
	enum sval_kind k;
	struct iocb_str s; /* SV_STR: decoded, in the pool; SV_NUM: the number's text */
};

enum param {
	P_NONE, P_FORMAT, P_VALUE, P_TYPE, P_CATEGORY, P_EVENTID, P_UUID, P_ORG, P_TAGS, P_TO_IDS, P_PUBLISHED,
	P_DELETED, P_TIMESTAMP, P_EVENT_TS, P_PUBLISH_TS, P_FROM, P_TO, P_INC_TAGS, P_INC_CONTEXT, P_INC_UUID,
	P_LIMIT, P_PAGE,
};

static const struct {
	const char *name;
	enum param p;
} params[] = {
	{"returnFormat", P_FORMAT}, {"value", P_VALUE}, {"value1", P_VALUE}, {"value2", P_VALUE},
	{"type", P_TYPE}, {"category", P_CATEGORY}, {"eventid", P_EVENTID}, {"uuid", P_UUID}, {"org", P_ORG},
	{"tags", P_TAGS}, {"to_ids", P_TO_IDS}, {"published", P_PUBLISHED}, {"deleted", P_DELETED},
	{"timestamp", P_TIMESTAMP}, {"attribute_timestamp", P_TIMESTAMP}, {"event_timestamp", P_EVENT_TS},
	{"last", P_PUBLISH_TS}, {"publish_timestamp", P_PUBLISH_TS}, {"from", P_FROM}, {"to", P_TO},
	{"includeEventTags", P_INC_TAGS}, {"includeContext", P_INC_CONTEXT}, {"includeEventUuid", P_INC_UUID},
	{"limit", P_LIMIT}, {"page", P_PAGE},
};

static enum param param_of(struct iocb_str key)
{
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		if (iocb_str_eq_c(key, params[i].name))
			return params[i].p;
	return P_NONE;
}

/* ------------------------------------------------------------ helpers */

/* PHP trim() (iocb_str_trim's set differs only in \f for \0: neither occurs in parameters). */
#define trim iocb_str_trim

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static bool ieq(struct iocb_str a, struct iocb_str b)
{
	if (a.len != b.len)
		return false;
	for (size_t i = 0; i < a.len; i++)
		if (lower(a.ptr[i]) != lower(b.ptr[i]))
			return false;
	return true;
}

bool iocb_mispapi_like(struct iocb_str pat, struct iocb_str val, bool ci)
{
	size_t p = 0, v = 0, star_p = SIZE_MAX, star_v = 0;

	/* Greedy match with one backtrack point: '%' matches any run of bytes. */
	while (v < val.len) {
		if (p < pat.len && pat.ptr[p] == '%') {
			star_p = ++p;
			star_v = v;
		} else if (p < pat.len && (ci ? lower(pat.ptr[p]) == lower(val.ptr[v]) : pat.ptr[p] == val.ptr[v])) {
			p++;
			v++;
		} else if (star_p != SIZE_MAX) {
			p = star_p;
			v = ++star_v;
		} else {
			return false;
		}
	}
	while (p < pat.len && pat.ptr[p] == '%')
		p++;
	return p == pat.len;
}

/* Copy n bytes into the pool (sized at parse start to hold every string of the request). */
static struct iocb_str pool_put(struct iocb_mispapi_query *q, const char *p, size_t n)
{
	char *d;

	if (q->pool_cap - q->pool_len < n)
		return iocb_str_make("", 0); /* not reached: the pool holds the whole request */
	d = q->pool + q->pool_len;
	memcpy(d, p, n);
	q->pool_len += n;
	return iocb_str_make(d, n);
}

static int add_term(struct iocb_mispapi_terms *t, struct iocb_str s, const char *what, struct iocb_err *err)
{
	/* An empty term (or a bare '!') filters nothing, as MISP skips empty filter values. */
	if (s.len == 0 || (s.len == 1 && s.ptr[0] == '!'))
		return IOCB_OK;
	if (t->n >= IOCB_MISPAPI_MAX_TERMS)
		return iocb_err_set(err, IOCB_ELIMIT, "more than %d terms in %s", IOCB_MISPAPI_MAX_TERMS, what);
	t->v[t->n++] = s;
	return IOCB_OK;
}

/* ------------------------------------------------------------ scalar casts */

/* The scalar's text as PHP's string cast gives it (true "1", false/null ""). */
static struct iocb_str sval_text(const struct sval *v)
{
	if (v->k == SV_STR || v->k == SV_NUM)
		return v->s;
	return v->k == SV_TRUE ? iocb_str_c("1") : iocb_str_c("");
}

/* DboSource::boolean: -1 for null (unset). */
static int cake_bool(const struct sval *v)
{
	struct iocb_str s = trim(sval_text(v));
	double d;

	if (v->k == SV_NULL)
		return -1;
	if (v->k == SV_NUM)
		return sscanf(v->s.ptr, "%lf", &d) == 1 && d != 0;
	if (s.len == 0 || iocb_str_eq_c(s, "0") || ieq(s, iocb_str_c("exclude")))
		return 0;
	return 1;
}

/* PHP !empty(). */
static bool php_truthy(const struct sval *v)
{
	struct iocb_str s = sval_text(v);
	double d;

	if (v->k == SV_NUM)
		return sscanf(v->s.ptr, "%lf", &d) == 1 && d != 0;
	return !(s.len == 0 || iocb_str_eq_c(s, "0"));
}

/* A non-negative integer from a number or digits; false otherwise (then MISP's (int) cast gives 0). */
static bool sval_u64(const struct sval *v, uint64_t *out)
{
	struct iocb_str s = trim(sval_text(v));
	uint64_t n = 0;
	size_t i = 0;

	if (v->k != SV_STR && v->k != SV_NUM)
		return false;
	for (; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9'; i++) {
		if (n > (UINT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(s.ptr[i] - '0');
	}
	if (i == 0)
		return false;
	*out = n;
	return true;
}

/* One time value: epoch, "<n>d|h|m|s" before now, or now+1 (matches nothing). */
static int64_t one_time(const struct sval *v, int64_t now)
{
	struct iocb_str s = trim(sval_text(v));
	uint64_t n = 0;
	size_t i = 0;

	if (v->k == SV_NUM) {
		double d;
		if (sscanf(v->s.ptr, "%lf", &d) == 1 && isfinite(d) && fabs(d) < 9e15)
			return (int64_t)floor(d);
		return now + 1;
	}
	for (; i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9' && n < (uint64_t)1e15; i++)
		n = n * 10 + (uint64_t)(s.ptr[i] - '0');
	/* Digits, optionally followed by one unit letter. */
	if (i == 0 || n >= (uint64_t)1e15 || (i != s.len && i + 1 != s.len))
		return now + 1;
	if (i == s.len)
		return (int64_t)n;
	switch (s.ptr[i]) {
	case 'd': return now - (int64_t)n * 86400;
	case 'h': return now - (int64_t)n * 3600;
	case 'm': return now - (int64_t)n * 60;
	case 's': return now - (int64_t)n;
	default: return now + 1;
	}
}

/* "YYYY-MM-DD" of a date parameter: a date as given, or an epoch's UTC date. */
static void one_date(const struct sval *v, char out[11], bool upper)
{
	struct iocb_str s = trim(sval_text(v));
	bool digits = s.len > 0;
	struct tm tm;
	time_t t;

	for (size_t i = 0; i < s.len; i++)
		if ((s.ptr[i] < '0' || s.ptr[i] > '9') && !(v->k == SV_NUM && (s.ptr[i] == '.' || s.ptr[i] == 'e')))
			digits = false;
	if (s.len == 10 && s.ptr[4] == '-' && s.ptr[7] == '-') {
		memcpy(out, s.ptr, 10);
		out[10] = '\0';
		return;
	}
	t = (time_t)one_time(v, 0);
	if (digits && gmtime_r(&t, &tm) && strftime(out, 11, "%Y-%m-%d", &tm) == 10)
		return;
	/* Unparseable: a bound that matches nothing (from after every date, to before every date). */
	snprintf(out, 11, "%s", upper ? "0000-00-00" : "9999-99-99");
}

/* ------------------------------------------------------------ setting parameters */

/* Terms of one string: trimmed, split at "||" (each piece trimmed). */
static int add_string(struct iocb_mispapi_terms *t, struct iocb_str s, bool neg, const char *what,
		      struct iocb_mispapi_query *q, struct iocb_err *err)
{
	for (;;) {
		const char *bar = NULL;
		struct iocb_str piece;
		int rc;

		for (size_t i = 0; i + 1 < s.len; i++)
			if (s.ptr[i] == '|' && s.ptr[i + 1] == '|') {
				bar = s.ptr + i;
				break;
			}
		piece = trim(iocb_str_make(s.ptr, bar ? (size_t)(bar - s.ptr) : s.len));
		if (neg) {
			/* A NOT list: stored as "!term", as MISP's own '!' prefix form. */
			struct iocb_str b = pool_put(q, "!", 1);
			(void)pool_put(q, piece.ptr, piece.len);
			piece = iocb_str_make(b.ptr, piece.len + 1);
		}
		rc = add_term(t, piece, what, err);
		if (rc < 0 || !bar)
			return rc;
		s = iocb_str_make(bar + 2, s.len - (size_t)(bar + 2 - s.ptr));
	}
}

/* tags: "!x" goes to NOT, the rest to OR (or AND inside an AND list). */
static int add_tags(struct iocb_mispapi_query *q, struct iocb_str s, int list, struct iocb_err *err)
{
	struct iocb_mispapi_terms tmp;
	int rc;

	tmp.n = 0;
	rc = add_string(&tmp, s, false, "tags", q, err);
	for (size_t i = 0; i < tmp.n && rc == IOCB_OK; i++) {
		struct iocb_str t = tmp.v[i];

		if (list == 2 || (t.len && t.ptr[0] == '!')) {
			if (t.len && t.ptr[0] == '!')
				t = iocb_str_make(t.ptr + 1, t.len - 1);
			rc = add_term(&q->tags_not, t, "tags", err);
		} else {
			rc = add_term(list == 1 ? &q->tags_and : &q->tags_or, t, "tags", err);
		}
	}
	return rc;
}

static struct iocb_mispapi_terms *terms_of(struct iocb_mispapi_query *q, enum param p)
{
	switch (p) {
	case P_VALUE: return &q->value;
	case P_TYPE: return &q->type;
	case P_CATEGORY: return &q->category;
	case P_EVENTID: return &q->eventid;
	case P_UUID: return &q->uuid;
	case P_ORG: return &q->org;
	default: return NULL;
	}
}

static void set_time(struct iocb_mispapi_time *t, const struct sval *v, int64_t now)
{
	if (v->k == SV_NULL || (v->k == SV_STR && trim(v->s).len == 0))
		return;
	t->set = true;
	t->has_to = false;
	t->from = one_time(v, now);
}

/*
 * One scalar for parameter p. `list`: inside a tags {OR,AND,NOT} dict,
 * 0 OR, 1 AND, 2 NOT; for other list parameters NOT negates, OR and AND
 * add plain terms.
 */
static int set_scalar(struct iocb_mispapi_query *q, enum param p, const struct sval *v, int list, int64_t now,
		      struct iocb_err *err)
{
	struct iocb_mispapi_terms *t = terms_of(q, p);
	uint64_t n;
	int b;

	if (t)
		return v->k == SV_NULL ? IOCB_OK : add_string(t, sval_text(v), list == 2, "a filter", q, err);
	switch (p) {
	case P_TAGS:
		return v->k == SV_NULL ? IOCB_OK : add_tags(q, sval_text(v), list, err);
	case P_FORMAT:
		if (v->k != SV_NULL && !(v->k == SV_STR && (trim(v->s).len == 0 || iocb_str_eq_c(trim(v->s), "json"))))
			q->format = IOCB_MISPAPI_FMT_OTHER;
		break;
	case P_TO_IDS:
		q->to_ids = cake_bool(v);
		break;
	case P_PUBLISHED:
		q->published = cake_bool(v);
		break;
	case P_DELETED:
		b = iocb_str_eq_c(trim(sval_text(v)), "only") ? 1 : cake_bool(v);
		q->deleted = b == 1 ? 1 : 0;
		break;
	case P_TIMESTAMP: set_time(&q->timestamp, v, now); break;
	case P_EVENT_TS: set_time(&q->event_ts, v, now); break;
	case P_PUBLISH_TS: set_time(&q->publish_ts, v, now); break;
	case P_FROM:
		if (v->k != SV_NULL)
			one_date(v, q->from, false);
		break;
	case P_TO:
		if (v->k != SV_NULL)
			one_date(v, q->to, true);
		break;
	case P_INC_TAGS: q->include_event_tags = php_truthy(v); break;
	case P_INC_CONTEXT: q->include_context = php_truthy(v); break;
	case P_INC_UUID: q->include_event_uuid = php_truthy(v); break;
	case P_LIMIT:
		q->limit = sval_u64(v, &n) ? n : 0;
		break;
	case P_PAGE:
		q->page = sval_u64(v, &n) && n > 0 ? n : 1;
		break;
	default:
		break;
	}
	return IOCB_OK;
}

/* ------------------------------------------------------------ the JSON body */

/* A scalar token as an sval (strings decoded into the pool). */
static int tok_sval(struct iocb_mispapi_query *q, const struct iocb_json_tok *tok, struct sval *v,
		    struct iocb_err *err)
{
	size_t n = 0;
	int rc;

	switch (tok->type) {
	case IOCB_JSON_STR:
		/* Copied even without escapes: the query outlives the body (a walk streams after it). */
		v->k = SV_STR;
		if (!tok->escaped) {
			v->s = pool_put(q, tok->s.ptr, tok->s.len);
			return IOCB_OK;
		}
		rc = iocb_json_unescape(tok, q->pool + q->pool_len, q->pool_cap - q->pool_len, &n);
		if (rc < 0)
			return iocb_err_set(err, IOCB_EPARSE, "bad string escape");
		v->s = iocb_str_make(q->pool + q->pool_len, n);
		q->pool_len += n;
		return IOCB_OK;
	case IOCB_JSON_NUM:
		/* NUL-terminated copy, for sscanf. */
		v->k = SV_NUM;
		v->s = pool_put(q, tok->s.ptr, tok->s.len);
		(void)pool_put(q, "", 1);
		return IOCB_OK;
	case IOCB_JSON_TRUE: v->k = SV_TRUE; return IOCB_OK;
	case IOCB_JSON_FALSE: v->k = SV_FALSE; return IOCB_OK;
	default: v->k = SV_NULL; return IOCB_OK;
	}
}

/* Scalars of an array for parameter p (nested containers skipped); an empty list sets nothing. */
static int read_array(struct iocb_mispapi_query *q, struct iocb_json_parser *ps, enum param p, int list,
		      int64_t now, struct iocb_err *err)
{
	struct iocb_json_tok tok;
	struct sval v;
	struct iocb_mispapi_time *tt = p == P_TIMESTAMP ? &q->timestamp
				      : p == P_EVENT_TS ? &q->event_ts : p == P_PUBLISH_TS ? &q->publish_ts : NULL;
	size_t k = 0;
	int rc;

	for (;;) {
		rc = iocb_json_next(ps, &tok, err);
		if (rc < 0 || tok.type == IOCB_JSON_ARR_END)
			return rc;
		if (tok.type == IOCB_JSON_OBJ || tok.type == IOCB_JSON_ARR) {
			rc = iocb_json_skip(ps, &tok, err);
		} else {
			rc = tok_sval(q, &tok, &v, err);
			if (rc == IOCB_OK && tt) {
				/* [from, to], swapped when reversed. */
				int64_t t = one_time(&v, now);
				if (k == 0) {
					tt->set = true;
					tt->has_to = false;
					tt->from = t;
				} else if (k == 1) {
					tt->has_to = true;
					tt->to = t > tt->from ? t : tt->from;
					tt->from = t > tt->from ? tt->from : t;
				}
			} else if (rc == IOCB_OK && p == P_DELETED) {
				/* [0,1]: both; a list of one value: that value. */
				int b = cake_bool(&v);
				q->deleted = k == 0 ? (b == 1) : (q->deleted == (b == 1) ? q->deleted : 2);
			} else if (rc == IOCB_OK && v.k != SV_NULL && (terms_of(q, p) || p == P_TAGS)) {
				/* List items are not split at "||" (MISP splits strings only). */
				struct iocb_str s = trim(sval_text(&v));
				if (p == P_TAGS)
					rc = add_tags(q, s, list, err);
				else
					rc = add_term(terms_of(q, p), s, "a filter", err);
				if (rc == IOCB_OK && list == 2 && p != P_TAGS) {
					struct iocb_mispapi_terms *t = terms_of(q, p);
					struct iocb_str b = pool_put(q, "!", 1);
					(void)pool_put(q, s.ptr, s.len);
					t->v[t->n - 1] = iocb_str_make(b.ptr, s.len + 1);
				}
			}
		}
		k++;
		if (rc < 0)
			return rc;
	}
}

/* {"OR":[...],"AND":[...],"NOT":[...]} for parameter p. */
static int read_bool_dict(struct iocb_mispapi_query *q, struct iocb_json_parser *ps, enum param p, int64_t now,
			  struct iocb_err *err)
{
	struct iocb_json_tok key, val;
	struct sval v;
	int rc;

	while ((rc = iocb_json_next_member(ps, &key, &val, err)) > 0) {
		int list = iocb_json_tok_eq(&key, "AND") ? 1 : iocb_json_tok_eq(&key, "NOT") ? 2
			 : iocb_json_tok_eq(&key, "OR") ? 0 : -1;

		if (list < 0 || val.type == IOCB_JSON_OBJ) {
			rc = iocb_json_skip(ps, &val, err);
		} else if (val.type == IOCB_JSON_ARR) {
			rc = read_array(q, ps, p, list, now, err);
		} else {
			rc = tok_sval(q, &val, &v, err);
			if (rc == IOCB_OK)
				rc = set_scalar(q, p, &v, list, now, err);
		}
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* Members of the object just opened (the body, or its "request"). */
static int read_object(struct iocb_mispapi_query *q, struct iocb_json_parser *ps, int64_t now, struct iocb_err *err)
{
	struct iocb_json_tok key, val;
	struct sval v;
	int rc;

	while ((rc = iocb_json_next_member(ps, &key, &val, err)) > 0) {
		enum param p = key.escaped ? P_NONE : param_of(key.s);

		q->empty = false;
		if (p == P_NONE)
			rc = iocb_json_skip(ps, &val, err);
		else if (val.type == IOCB_JSON_ARR)
			rc = read_array(q, ps, p, 0, now, err);
		else if (val.type == IOCB_JSON_OBJ)
			rc = read_bool_dict(q, ps, p, now, err);
		else if ((rc = tok_sval(q, &val, &v, err)) == IOCB_OK)
			rc = set_scalar(q, p, &v, 0, now, err);
		if (rc < 0)
			return rc;
	}
	return rc;
}

/* Offset of the '{' of a top-level "request" object, or 0 when there is none. */
static int find_request(struct iocb_str body, size_t *at, struct iocb_err *err)
{
	struct iocb_json_parser ps;
	struct iocb_json_tok tok, key, val;
	int rc;

	*at = 0;
	iocb_json_init(&ps, body.ptr, body.len, 64, false);
	rc = iocb_json_next(&ps, &tok, err);
	if (rc < 0 || tok.type != IOCB_JSON_OBJ)
		return rc < 0 ? rc : iocb_err_set(err, IOCB_EPARSE, "the body is not a JSON object");
	while ((rc = iocb_json_next_member(&ps, &key, &val, err)) > 0) {
		if (!*at && val.type == IOCB_JSON_OBJ && iocb_json_tok_eq(&key, "request"))
			*at = val.offset;
		rc = iocb_json_skip(&ps, &val, err);
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	/* The whole body must be valid JSON (MISP's json_decode), not only up to the object's end. */
	rc = iocb_json_next(&ps, &tok, err);
	return rc == IOCB_EEND ? IOCB_OK : (rc < 0 ? rc : iocb_err_set(err, IOCB_EPARSE, "trailing data"));
}

static int parse_body(struct iocb_mispapi_query *q, struct iocb_str body, int64_t now, struct iocb_err *err)
{
	struct iocb_json_parser ps;
	struct iocb_json_tok tok;
	size_t at;
	int rc;

	if (trim(body).len == 0)
		return IOCB_OK;
	rc = find_request(body, &at, err);
	if (rc < 0)
		return rc == IOCB_ELIMIT ? IOCB_EPARSE : rc;
	/* MISP: `if (isset($data['request'])) $data = $data['request'];` */
	iocb_json_init(&ps, body.ptr + at, body.len - at, 64, true);
	rc = iocb_json_next(&ps, &tok, err);
	if (rc < 0)
		return rc;
	return read_object(q, &ps, now, err);
}

/* Named parameters "k:v/k:v": each a string, as CakePHP hands them over. */
static int parse_named(struct iocb_mispapi_query *q, struct iocb_str named, int64_t now, struct iocb_err *err)
{
	while (named.len) {
		const char *slash = memchr(named.ptr, '/', named.len);
		size_t seg = slash ? (size_t)(slash - named.ptr) : named.len;
		const char *colon = memchr(named.ptr, ':', seg);
		int rc = IOCB_OK;

		if (colon) {
			struct iocb_str key = iocb_str_make(named.ptr, (size_t)(colon - named.ptr));
			struct sval v = {SV_STR, pool_put(q, colon + 1, seg - key.len - 1)};
			enum param p = param_of(key);

			q->empty = false;
			if (p == P_TAGS)
				rc = add_tags(q, v.s, 0, err);
			else if (p != P_NONE)
				rc = set_scalar(q, p, &v, 0, now, err);
		}
		if (rc < 0)
			return rc;
		named = slash ? iocb_str_make(slash + 1, named.len - seg - 1) : iocb_str_make("", 0);
	}
	return IOCB_OK;
}

int iocb_mispapi_query_parse(struct iocb_mispapi_query *q, struct iocb_str body, struct iocb_str named,
			     int64_t now, struct iocb_err *err)
{
	int rc;

	memset(q, 0, sizeof(*q));
	q->to_ids = q->published = -1;
	q->page = 1;
	q->empty = true;
	q->now = now;
	/* Every decoded string fits: escapes only shrink, "!" prefixes add one byte per term. */
	q->pool_cap = body.len * 2 + named.len + 64;
	q->pool = iocb_xmalloc(q->pool_cap);
	rc = parse_body(q, body, now, err);
	if (rc == IOCB_OK)
		rc = parse_named(q, named, now, err);
	return rc;
}

void iocb_mispapi_query_fini(struct iocb_mispapi_query *q)
{
	free(q->pool);
	q->pool = NULL;
	q->pool_len = q->pool_cap = 0;
}

/* ------------------------------------------------------------ matching */

/* A term against one value: LIKE when it has '%', else equality (case-insensitive when ci). */
static bool term_hit(struct iocb_str t, struct iocb_str v, bool ci, bool like)
{
	if (like && memchr(t.ptr, '%', t.len))
		return iocb_mispapi_like(t, v, ci);
	return ci ? ieq(t, v) : iocb_str_eq(t, v);
}

/* MISP's list filter: one positive term must hit one of vals (when any is given), no '!' term may. */
static bool terms_ok(const struct iocb_mispapi_terms *t, const struct iocb_str *vals, size_t nvals, bool ci, bool like)
{
	bool any_pos = false, pos_hit = false;

	for (size_t i = 0; i < t->n; i++) {
		struct iocb_str term = t->v[i];
		bool neg = term.len && term.ptr[0] == '!';
		bool hit = false;

		if (neg)
			term = iocb_str_make(term.ptr + 1, term.len - 1);
		for (size_t k = 0; k < nvals && !hit; k++)
			hit = term_hit(term, vals[k], ci, like);
		if (neg && hit)
			return false;
		if (!neg) {
			any_pos = true;
			pos_hit = pos_hit || hit;
		}
	}
	return !any_pos || pos_hit;
}

static bool time_ok(const struct iocb_mispapi_time *t, uint64_t v)
{
	if (!t->set)
		return true;
	return (int64_t)v >= t->from && (!t->has_to || (int64_t)v <= t->to);
}

/* Any tag of the record or its event LIKE pat (tag names are case-sensitive in MISP). */
static bool has_tag(const struct iocb_store_attr *a, const struct iocb_store_attr_view *av,
		    const struct iocb_store_event_view *ev, struct iocb_str pat)
{
	for (size_t i = 0; i < av->ntags; i++)
		if (term_hit(pat, iocb_store_attr_tag(a, i), false, true))
			return true;
	for (size_t i = 0; av->event && i < ev->ntags; i++)
		if (term_hit(pat, iocb_store_event_tag(av->event, i), false, true))
			return true;
	return false;
}

static bool tags_ok(const struct iocb_mispapi_query *q, const struct iocb_store_attr *a,
		    const struct iocb_store_attr_view *av, const struct iocb_store_event_view *ev)
{
	bool any = q->tags_or.n == 0;

	for (size_t i = 0; i < q->tags_or.n && !any; i++)
		any = has_tag(a, av, ev, q->tags_or.v[i]);
	for (size_t i = 0; i < q->tags_and.n && any; i++)
		any = has_tag(a, av, ev, q->tags_and.v[i]);
	for (size_t i = 0; i < q->tags_not.n && any; i++)
		any = !has_tag(a, av, ev, q->tags_not.v[i]);
	return any;
}

/* value1 and value2 as MISP stores them: a composite value split at its first '|'. */
static size_t value_parts(const struct iocb_store_attr_view *av, struct iocb_str out[2])
{
	const char *bar = memchr(av->value.ptr, '|', av->value.len);

	if (!av->type || !av->type->composite || !bar) {
		out[0] = av->value;
		return 1;
	}
	out[0] = iocb_str_make(av->value.ptr, (size_t)(bar - av->value.ptr));
	out[1] = iocb_str_make(bar + 1, av->value.len - out[0].len - 1);
	return 2;
}

bool iocb_mispapi_value_match(const struct iocb_mispapi_query *q, const struct iocb_store_attr *a)
{
	struct iocb_store_attr_view av;
	struct iocb_str parts[2];
	size_t n;

	if (q->value.n == 0)
		return true;
	iocb_store_attr_view(a, &av);
	n = value_parts(&av, parts);
	return terms_ok(&q->value, parts, n, true, true);
}

bool iocb_mispapi_match(const struct iocb_mispapi_query *q, const struct iocb_store_attr *a)
{
	struct iocb_store_attr_view av;
	struct iocb_store_event_view ev;
	char idbuf[24];
	struct iocb_str vals[3];

	/* The store keeps no soft-deleted attributes; expired or suppressed records are not served. */
	if (q->deleted == 1 || !iocb_store_attr_live(a, q->now))
		return false;
	iocb_store_attr_view(a, &av);
	memset(&ev, 0, sizeof(ev));
	if (av.event)
		iocb_store_event_view(av.event, &ev);
	if ((q->to_ids >= 0 && av.to_ids != (q->to_ids == 1)) || (q->published >= 0 && ev.published != (q->published == 1)))
		return false;
	if (!time_ok(&q->timestamp, av.timestamp) || !time_ok(&q->event_ts, ev.timestamp) ||
	    !time_ok(&q->publish_ts, ev.publish_timestamp))
		return false;
	if ((q->from[0] && (ev.date.len != 10 || memcmp(ev.date.ptr, q->from, 10) < 0)) ||
	    (q->to[0] && (ev.date.len != 10 || memcmp(ev.date.ptr, q->to, 10) > 0)))
		return false;
	vals[0] = iocb_str_c(av.type ? av.type->name : "");
	if (!terms_ok(&q->type, vals, 1, false, true))
		return false;
	if (!terms_ok(&q->category, &av.category, 1, false, true))
		return false;
	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)ev.id);
	vals[0] = iocb_str_c(idbuf);
	vals[1] = iocb_str_c(ev.uuid);
	if (q->eventid.n && !terms_ok(&q->eventid, vals, 2, true, false))
		return false;
	vals[0] = iocb_str_c(av.uuid);
	if (q->uuid.n && !terms_ok(&q->uuid, vals, 2, true, false))
		return false;
	snprintf(idbuf, sizeof(idbuf), "%llu", (unsigned long long)ev.orgc_id);
	vals[0] = iocb_str_c(idbuf);
	vals[1] = ev.orgc_name;
	vals[2] = ev.orgc_uuid;
	if (q->org.n && !terms_ok(&q->org, vals, 3, true, false))
		return false;
	return tags_ok(q, a, &av, &ev);
}

bool iocb_mispapi_indexed(const struct iocb_mispapi_query *q)
{
	if (q->value.n == 0)
		return false;
	for (size_t i = 0; i < q->value.n; i++) {
		struct iocb_str v = q->value.v[i];
		if (v.len == 0 || v.ptr[0] == '!' || memchr(v.ptr, '%', v.len))
			return false;
	}
	return true;
}
