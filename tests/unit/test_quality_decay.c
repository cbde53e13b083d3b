/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Decaying models (quality/decay.h): MISP's Polynomial formula, base scores
 * from taxonomy tags, the "decay from" instant, the expiry instant solved
 * from the formula, the model files, the store callback with expire_after,
 * and the confidence mapping.
 *
 * The expected scores of the table were computed with this Python
 * transcription of MISP's app/Model/DecayingModelsFormulas/Base.php
 * (computeBasescore, __getPrioritisedTag, __getRatioScore,
 * computeCurrentScore) and Polynomial.php (computeScore), independent of
 * the C code; each row is printed by
 *   print('{"%s", {...}, {...}, ts, last_seen, last_sighting, now, %.9f (base), %.9f (score), decayed}')
 * for the `cases` list (times relative to T0 = 1700000000, 0 = none):
 *
 * (gen.py)
 * import re, math
 * # MISP app/Model/DecayingModelsFormulas/{Base,Polynomial}.php, transcribed
 * def basename(t):
 *     if re.match(r'^[^:="]+:[^:="]+="[^:="]+"$', t): return t.split(':')[0]+':'+t.split(':')[1].split('=')[0]
 *     if re.match(r'^[^:="]+:[^:="]+$', t): return t.split(':')[0]
 *     return t
 * def base_score(m, etags, atags, nv):
 *     tags=list(etags); mp={}
 *     for i,t in enumerate(etags): mp.setdefault(basename(t),[]).append(i)
 *     for t in atags:
 *         b=basename(t)
 *         if mp.get(b):
 *             for k,i in enumerate(mp[b]):
 *                 if k==0: tags[i]=t
 *                 else: tags[i]=None
 *         else: tags.append(t)
 *     tags=[t for t in tags if t is not None]
 *     cfg=m['bsc']; tot=0.0; r={}
 *     for t in tags:
 *         if basename(t) in cfg and t in nv: tot+=cfg[basename(t)]
 *     for t in tags:
 *         if basename(t) in cfg and t in nv: r[basename(t)]=cfg[basename(t)]/tot
 *     s=0; hit=False
 *     for t in tags:
 *         if basename(t) in r: hit=True; s+=r[basename(t)]*nv.get(t,0)
 *     return s if hit else m['dbs']
 * def frm(ts, ls, sig):
 *     last = sig if sig else (ls if ls else ts)
 *     if ts > last: last = ls if ls else ts
 *     return last
 * def score(m, b, el):
 *     if el < 0: el = 0   # iocbus deviation (MISP: 0); see decay.h
 *     s = b*(1-math.pow(el/(m['life']*86400), 1/m['ds']))
 *     return max(s,0)
 * nids={'life':120,'ds':2,'thr':30,'dbs':80,'bsc':{"estimative-language:confidence-in-analytic-judgment":0.1667,"estimative-language:likelihood-probability":0.1667,"false-positive:risk":0.1667,"priority-level":0.1667,"retention":0.1667,"targeted-threat-index:targeting-sophistication-base-value":0.0833,"targeted-threat-index:technical-sophistication-multiplier":0.0833}}
 * ph={'life':3,'ds':2.3,'thr':30,'dbs':80,'bsc':{"estimative-language:confidence-in-analytic-judgment":0.25,"estimative-language:likelihood-probability":0.25,"phishing:psychological-acceptability":0.25,"phishing:state":0.25}}
 * NV={'estimative-language:likelihood-probability="very-likely"':87.5,'estimative-language:likelihood-probability="unlikely"':32.5,
 * 'estimative-language:confidence-in-analytic-judgment="high"':100,'estimative-language:confidence-in-analytic-judgment="low"':25,
 * 'false-positive:risk="low"':25,'false-positive:risk="high"':75,'phishing:state="active"':100,'phishing:state="down"':10,
 * 'retention':60,'targeted-threat-index:targeting-sophistication-base-value="targeted-but-not-customized"':20}
 * T0=1700000000; D=86400
 * LV='estimative-language:likelihood-probability="very-likely"'; LU='estimative-language:likelihood-probability="unlikely"'
 * CH='estimative-language:confidence-in-analytic-judgment="high"'; CL='estimative-language:confidence-in-analytic-judgment="low"'
 * FL='false-positive:risk="low"'; FH='false-positive:risk="high"'; PA='phishing:state="active"'; PD='phishing:state="down"'
 * TT='targeted-threat-index:targeting-sophistication-base-value="targeted-but-not-customized"'
 * cases=[ # model, event tags, attr tags, timestamp, last_seen, last_sighting, now
 *  ('nids',[],[],T0,0,0,T0),
 *  ('nids',[],[],T0,0,0,T0+1*D),
 *  ('nids',[],[],T0,0,0,T0+30*D),
 *  ('nids',[],[],T0,0,0,T0+60*D),
 *  ('nids',[],[],T0,0,0,T0+119*D),
 *  ('nids',[],[],T0,0,0,T0+200*D),
 *  ('nids',[],['tlp:green'],T0,0,0,T0+10*D),
 *  ('nids',[],[LV],T0,0,0,T0+10*D),
 *  ('nids',[LV],[CH],T0,0,0,T0+10*D),
 *  ('nids',[LU],[LV],T0,0,0,T0+10*D),
 *  ('nids',[LV,CL,FH],[],T0,0,0,T0+45*D),
 *  ('nids',['retention',TT],[],T0,0,0,T0+5*D),
 *  ('nids',['priority-level:high'],[],T0,0,0,T0+5*D),
 *  ('nids',[],[],T0,0,T0+50*D,T0+60*D),
 *  ('nids',[],[],T0+55*D,0,T0+50*D,T0+60*D),
 *  ('nids',[],[],T0,T0+20*D,0,T0+60*D),
 *  ('nids',[],[],T0+30*D,T0+20*D,T0+10*D,T0+60*D),
 *  ('nids',[],[],T0,0,0,T0-3600),
 *  ('phish',[],[],T0,0,0,T0+3600),
 *  ('phish',[],[],T0,0,0,T0+1*D),
 *  ('phish',[],[PA],T0,0,0,T0+1*D),
 *  ('phish',[PD],[PA,CH],T0,0,0,T0+2*D),
 *  ('phish',[PA,LU],[],T0,0,0,T0+12*3600),
 *  ('phish',[],[],T0,0,T0+2*D,T0+2*D+7200),
 *  ('phish',[CL,PD],[],T0,0,0,T0+3600),
 * ]
 *     m = nids if c[0]=='nids' else ph
 *     b = base_score(m, c[1], c[2], NV)
 *     f = frm(c[3], c[4], c[5])
 *     s = score(m, b, c[6]-f)
 *     print('{"%s", {%s}, {%s}, %d, %d, %d, %d, %.9f, %.9f, %d},' % (c[0], ', '.join('"%s"'%t.replace('"','\\"') for t in c[1]) or 'NULL', ', '.join('"%s"'%t.replace('"','\\"') for t in c[2]) or 'NULL', c[3]-T0, c[4] and c[4]-T0, c[5] and c[5]-T0, c[6]-T0, b, s, s < m['thr']))
 *
 */
#include "quality/decay.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture_store.h"

#define T0 1700000000
#define MAXT 4

struct row {
	const char *model;             /* "nids" or "phish" */
	const char *ev[MAXT];          /* event tags, NULL-terminated */
	const char *at[MAXT];          /* attribute tags */
	int64_t ts, last_seen, sighting, now; /* relative to T0; 0 = none for last_seen and sighting */
	double base, score;            /* expected (Python above) */
	int decayed;                   /* expected: score < threshold */
};

static const struct row rows[] = {
	{"nids", {NULL}, {NULL}, 0, 0, 0, 0, 80.000000000, 80.000000000, 0},
	{"nids", {NULL}, {NULL}, 0, 0, 0, 86400, 80.000000000, 72.697032567, 0},
	{"nids", {NULL}, {NULL}, 0, 0, 0, 2592000, 80.000000000, 40.000000000, 0},
	{"nids", {NULL}, {NULL}, 0, 0, 0, 5184000, 80.000000000, 23.431457505, 1},
	{"nids", {NULL}, {NULL}, 0, 0, 0, 10281600, 80.000000000, 0.334030686, 1},
	{"nids", {NULL}, {NULL}, 0, 0, 0, 17280000, 80.000000000, 0.000000000, 1},
	{"nids", {NULL}, {"tlp:green"}, 0, 0, 0, 864000, 80.000000000, 56.905989232, 0},
	{"nids", {NULL}, {"estimative-language:likelihood-probability=\"very-likely\""}, 0, 0, 0, 864000, 87.500000000, 62.240925723, 0},
	{"nids", {"estimative-language:likelihood-probability=\"very-likely\""}, {"estimative-language:confidence-in-analytic-judgment=\"high\""}, 0, 0, 0, 864000, 93.750000000, 66.686706132, 0},
	{"nids", {"estimative-language:likelihood-probability=\"unlikely\""}, {"estimative-language:likelihood-probability=\"very-likely\""}, 0, 0, 0, 864000, 87.500000000, 62.240925723, 0},
	{"nids", {"estimative-language:likelihood-probability=\"very-likely\"", "estimative-language:confidence-in-analytic-judgment=\"low\"", "false-positive:risk=\"high\""}, {NULL}, 0, 0, 0, 3888000, 62.500000000, 24.226722769, 1},
	{"nids", {"retention", "targeted-threat-index:targeting-sophistication-base-value=\"targeted-but-not-customized\""}, {NULL}, 0, 0, 0, 432000, 46.672000000, 37.145117894, 0},
	{"nids", {"priority-level:high"}, {NULL}, 0, 0, 0, 432000, 80.000000000, 63.670068381, 0},
	{"nids", {NULL}, {NULL}, 0, 0, 4320000, 5184000, 80.000000000, 56.905989232, 0},
	{"nids", {NULL}, {NULL}, 4752000, 0, 4320000, 5184000, 80.000000000, 63.670068381, 0},
	{"nids", {NULL}, {NULL}, 0, 1728000, 0, 5184000, 80.000000000, 33.811978465, 0},
	{"nids", {NULL}, {NULL}, 2592000, 1728000, 864000, 5184000, 80.000000000, 33.811978465, 0},
	{"nids", {NULL}, {NULL}, 0, 0, 0, -3600, 80.000000000, 80.000000000, 0},
	{"phish", {NULL}, {NULL}, 0, 0, 0, 3600, 80.000000000, 67.538964910, 0},
	{"phish", {NULL}, {NULL}, 0, 0, 0, 86400, 80.000000000, 30.381233558, 0},
	{"phish", {NULL}, {"phishing:state=\"active\""}, 0, 0, 0, 86400, 100.000000000, 37.976541947, 0},
	{"phish", {"phishing:state=\"down\""}, {"phishing:state=\"active\"", "estimative-language:confidence-in-analytic-judgment=\"high\""}, 0, 0, 0, 172800, 100.000000000, 16.162449100, 1},
	{"phish", {"phishing:state=\"active\"", "estimative-language:likelihood-probability=\"unlikely\""}, {NULL}, 0, 0, 0, 43200, 66.250000000, 35.851003175, 0},
	{"phish", {NULL}, {NULL}, 0, 0, 172800, 180000, 80.000000000, 63.156329937, 0},
	{"phish", {"estimative-language:confidence-in-analytic-judgment=\"low\"", "phishing:state=\"down\""}, {NULL}, 0, 0, 0, 3600, 17.500000000, 14.774148574, 1},
};

/* The numerical values of the tags the table uses (MISP takes them from the taxonomies). */
static const struct iocb_decay_tag_value values[] = {
	{"estimative-language:likelihood-probability=\"very-likely\"", 87.5},
	{"estimative-language:likelihood-probability=\"unlikely\"", 32.5},
	{"estimative-language:confidence-in-analytic-judgment=\"high\"", 100},
	{"estimative-language:confidence-in-analytic-judgment=\"low\"", 25},
	{"false-positive:risk=\"low\"", 25},
	{"false-positive:risk=\"high\"", 75},
	{"phishing:state=\"active\"", 100},
	{"phishing:state=\"down\"", 10},
	{"retention", 60},
	{"targeted-threat-index:targeting-sophistication-base-value=\"targeted-but-not-customized\"", 20},
};

static bool lookup(const void *ud, struct iocb_str tag, double *v)
{
	(void)ud;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		if (iocb_str_eq_c(tag, values[i].tag)) {
			*v = values[i].value;
			return true;
		}
	return false;
}

static void load(const char *file, struct iocb_decay_model *m)
{
	char path[512];
	struct iocb_err err;
	FILE *f;
	char buf[8192];
	size_t n;
	snprintf(path, sizeof(path), "%s/misp/decaying-models/%s", IOCB_FIXTURES_DIR, file);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (iocb_decay_model_parse(buf, n, m, &err) != IOCB_OK)
		fail_msg("%s: %s", file, err.msg);
}

static size_t tags(const char *const *in, struct iocb_str *out)
{
	size_t n = 0;
	while (n < MAXT && in[n]) {
		out[n] = iocb_str_c(in[n]);
		n++;
	}
	return n;
}

static void test_table(void **state)
{
	struct iocb_decay_model nids, phish;
	(void)state;
	load("nids-simple-model.json", &nids);
	load("phishing-model.json", &phish);
	assert_true(sizeof(rows) / sizeof(rows[0]) >= 20);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		const struct iocb_decay_model *m = strcmp(r->model, "nids") == 0 ? &nids : &phish;
		struct iocb_str ev[MAXT], at[MAXT];
		size_t nev = tags(r->ev, ev), nat = tags(r->at, at);
		double base = iocb_decay_base_score(m, ev, nev, at, nat, lookup, NULL);
		int64_t from = iocb_decay_from(T0 + r->ts, r->last_seen ? T0 + r->last_seen : 0,
					       r->sighting ? T0 + r->sighting : 0);
		double score = iocb_decay_score(m, base, (double)(T0 + r->now - from));
		int64_t exp = iocb_decay_expiry(m, base, from);
		print_message("row %zu: base %.9f score %.9f expires %+lld\n", i, base, score, (long long)(exp - T0));
		assert_true(fabs(base - r->base) < 1e-6);
		assert_true(fabs(score - r->score) < 1e-6);
		/* the precomputed instant agrees with the score, to the second */
		assert_int_equal(T0 + r->now >= exp, r->decayed);
		if (exp == 0) { /* decayed from the start */
			assert_true(base < m->threshold);
			continue;
		}
		assert_true(iocb_decay_score(m, base, (double)(exp - 1 - from)) >= m->threshold);
		assert_true(iocb_decay_score(m, base, (double)(exp - from)) < m->threshold);
	}
}

static void test_model_files(void **state)
{
	struct iocb_decay_model m;
	struct iocb_err err;
	const struct iocb_misp_type *dom = iocb_misp_type_find(iocb_str_c("domain"));
	const struct iocb_misp_type *md5 = iocb_misp_type_find(iocb_str_c("md5"));
	(void)state;
	load("nids-simple-model.json", &m);
	assert_string_equal(m.name, "NIDS Simple Decaying Model");
	assert_string_equal(m.uuid, "073fae4a-2377-4cfa-bd34-2516830d33c3");
	assert_true(m.lifetime_d == 120 && m.decay_speed == 2 && m.threshold == 30 && m.default_base_score == 80);
	assert_int_equal(m.nbsc, 7);
	assert_true(m.types[dom->id / 64] >> (dom->id % 64) & 1);
	assert_false(m.types[md5->id / 64] >> (md5->id % 64) & 1);
	/* a model exported from MISP, parameters as strings */
	const char *exported = "{\"DecayingModel\":{\"name\":\"x\",\"formula\":\"Polynomial\",\"parameters\":{\"lifetime\":\"7\","
			       "\"decay_speed\":\"1.5\",\"threshold\":\"20\"},\"attribute_types\":[\"md5\",\"no-such-type\"]}}";
	assert_int_equal(iocb_decay_model_parse(exported, strlen(exported), &m, &err), IOCB_OK);
	assert_true(m.lifetime_d == 7 && m.decay_speed == 1.5 && m.threshold == 20 && m.default_base_score == 0);
	assert_true(m.types[md5->id / 64] >> (md5->id % 64) & 1);
	const char *sightings = "{\"formula\":\"Sightings\",\"parameters\":{\"lifetime\":1,\"decay_speed\":1,\"threshold\":1}}";
	assert_int_equal(iocb_decay_model_parse(sightings, strlen(sightings), &m, &err), IOCB_EUNSUPPORTED);
	const char *missing = "{\"name\":\"m\",\"parameters\":{\"lifetime\":1,\"threshold\":1}}";
	assert_int_equal(iocb_decay_model_parse(missing, strlen(missing), &m, &err), IOCB_EPARSE);
	assert_non_null(strstr(err.msg, "decay_speed"));
	const char *zero = "{\"parameters\":{\"lifetime\":0,\"decay_speed\":1,\"threshold\":1}}";
	assert_int_equal(iocb_decay_model_parse(zero, strlen(zero), &m, &err), IOCB_EPARSE);
	assert_int_equal(iocb_decay_model_parse("[1]", 3, &m, &err), IOCB_EPARSE);
	assert_int_equal(iocb_decay_model_parse("{\"parameters\":", 14, &m, &err) < 0, 1);
}

static void test_expiry_edges(void **state)
{
	struct iocb_decay_model m = {.lifetime_d = 1, .decay_speed = 1, .threshold = 50};
	(void)state;
	/* linear: score 100 -> 50 at half a day */
	assert_int_equal(iocb_decay_expiry(&m, 100, 1000), 1000 + 43200 + 1);
	assert_int_equal(iocb_decay_expiry(&m, 40, 1000), 0);      /* below the threshold from the start */
	assert_int_equal(iocb_decay_expiry(&m, 50, 1000), 1001);   /* at it: alive at t = 0 only */
	m.threshold = 0;
	assert_int_equal(iocb_decay_expiry(&m, 100, 1000), INT64_MAX);
	/* MISP's "decay from": a sighting, else last_seen, else timestamp; an edit after the sighting wins */
	assert_int_equal(iocb_decay_from(100, 0, 0), 100);
	assert_int_equal(iocb_decay_from(100, 150, 0), 150);
	assert_int_equal(iocb_decay_from(100, 0, 300), 300);
	assert_int_equal(iocb_decay_from(400, 0, 300), 400);
	assert_int_equal(iocb_decay_from(400, 350, 300), 350);
}

static void test_confidence(void **state)
{
	(void)state;
	assert_string_equal(iocb_quality_confidence(100, false), "High");
	assert_string_equal(iocb_quality_confidence(69.5, false), "High");
	assert_string_equal(iocb_quality_confidence(69.4, false), "Medium");
	assert_string_equal(iocb_quality_confidence(30, false), "Medium");
	assert_string_equal(iocb_quality_confidence(29.4, false), "Low");
	assert_string_equal(iocb_quality_confidence(0.6, false), "Low");
	assert_string_equal(iocb_quality_confidence(0.4, false), "None");
	assert_string_equal(iocb_quality_confidence(-1, false), "High");
	assert_string_equal(iocb_quality_confidence(-1, true), "Medium");
	assert_string_equal(iocb_quality_confidence(50, true), "Low");
	assert_string_equal(iocb_quality_confidence(10, true), "None");
	assert_string_equal(iocb_quality_confidence(0, true), "None");
}

/* The store callback: models by type, tags from the record and its event, expire_after. */
static void test_store_callback(void **state)
{
	char dir[512];
	const char *paths[] = {dir};
	struct iocb_quality_decay_opts o = {0};
	struct iocb_quality_decay *d;
	struct iocb_err err;
	struct fixture_attr t;
	struct iocb_store_quality q;
	struct iocb_misp_tag tag = {.name = IOCB_STR_LIT("estimative-language:likelihood-probability=\"very-likely\"")};
	(void)state;

	snprintf(dir, sizeof(dir), "%s/misp/decaying-models", IOCB_FIXTURES_DIR);
	o.model_paths = paths;
	o.nmodel_paths = 1;
	o.tag_values = values;
	o.ntag_values = sizeof(values) / sizeof(values[0]);
	o.source_expire_s[0] = 10 * 86400.0;
	if (iocb_quality_decay_new(&o, &d, &err) != IOCB_OK)
		fail_msg("%s", err.msg);
	assert_int_equal(iocb_quality_decay_nmodels(d), 2);
	assert_true(iocb_quality_decay_active(d));
	struct iocb_store *s = fixture_store_open(false);
	iocb_store_reader_register();
	assert_true(iocb_store_quality_add(s, iocb_quality_decay_apply, d) >= 0);
	/* a domain: both models apply, NIDS (120 days) keeps it longest; tagged very-likely: base 87.5 */
	fixture_attr_make(&t, 1, "domain", "a.example", NULL, -1, 1, true);
	t.a.tags = &tag;
	t.a.ntags = 1;
	fixture_store_upsert(s, &t.a);
	fixture_store_upsert(s, fixture_attr_make(&t, 2, "md5", "d41d8cd98f00b204e9800998ecf8427e", NULL, -1, 1, true));
	iocb_store_read_lock();
	char u[37];
	fixture_uuid(u, 0xa, 1);
	iocb_store_attr_quality(iocb_store_get(s, iocb_str_c(u)), &q);
	assert_int_equal(q.model, 1); /* files load in name order: nids-simple-model.json first */
	assert_true(fabs(q.base_score - 87.5) < 1e-6);
	assert_int_equal(q.decay_from, 1700000001);
	/* the source's 10 days cap the model's 120 * (1 - 30/87.5)^2 = 51.9 days */
	assert_int_equal(q.expires_at, 1700000001 + 10 * 86400);
	assert_true(fabs(iocb_quality_decay_score(d, &q, 1700000001 + 86400) - 87.5 * (1 - sqrt(1.0 / 120))) < 1e-3);
	/* the md5: no model, only the maximum age */
	fixture_uuid(u, 0xa, 2);
	iocb_store_attr_quality(iocb_store_get(s, iocb_str_c(u)), &q);
	assert_int_equal(q.model, 0);
	assert_true(q.base_score < 0);
	assert_int_equal(q.expires_at, 1700000002 + 10 * 86400);
	assert_true(iocb_quality_decay_score(d, &q, 1700000002) < 0);
	iocb_store_read_unlock();
	/* a type-0 sighting restarts both clocks */
	fixture_uuid(u, 0xa, 1);
	assert_int_equal(iocb_store_sighting(s, iocb_str_c(u), 0, 1700500000, &err), IOCB_OK);
	iocb_store_read_lock();
	iocb_store_attr_quality(iocb_store_get(s, iocb_str_c(u)), &q);
	assert_int_equal(q.decay_from, 1700500000);
	assert_int_equal(q.expires_at, 1700500000 + 10 * 86400);
	iocb_store_read_unlock();
	iocb_store_free(s);
	iocb_store_reader_unregister();
	iocb_quality_decay_free(d);

	/* without the cap the model decides; an unknown type in the rules is refused */
	o.source_expire_s[0] = 0;
	const struct iocb_decay_type_age bad[1] = {{"no-such-type", 1}};
	o.type_expire = bad;
	o.ntype_expire = 1;
	assert_int_equal(iocb_quality_decay_new(&o, &d, &err), IOCB_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_model_files),
		cmocka_unit_test(test_expiry_edges),
		cmocka_unit_test(test_confidence),
		cmocka_unit_test(test_store_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
