/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Indicator decay and expiry (issue #15 §2): MISP's decaying models, plain
 * maximum ages (`quality.expire_after`), and the confidence every
 * enrichment carries.
 *
 * MISP's Polynomial model (app/Model/DecayingModelsFormulas/Polynomial.php
 * and Base.php, MISP 2.4/2.5):
 *
 *     score(t) = base_score * (1 - (t / tau)^(1 / decay_speed)), floored at 0
 *
 * with tau = lifetime * 86400 s and t the seconds since the last type-0
 * sighting (none: the attribute's last_seen, else its timestamp; an
 * attribute modified after its last sighting counts from last_seen or
 * timestamp again). An attribute is decayed when threshold > score.
 * base_score is the weighted mean of the numerical values of the taxonomy
 * tags the model's base_score_config names (attribute tags override event
 * tags of the same taxonomy), or default_base_score without one.
 *
 * The score only falls with t, so "decayed" is an instant: the model is
 * solved for score == threshold when the record is built (store quality
 * callback), giving the record's expires_at; the hot path compares one
 * integer. The score itself is computed only for a match's output.
 *
 * One deviation: MISP scores 0 an attribute whose instant lies in the
 * future (t < 0, a clock ahead of ours); iocbus counts it as t = 0 (full
 * base score), so a minute of clock skew does not expire a fresh indicator.
 *
 * Immutable once built: any thread may read a decay object; the daemon
 * builds a new one on reload.
 */
#ifndef IOCB_QUALITY_DECAY_H
#define IOCB_QUALITY_DECAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/rc.h"
#include "core/str.h"
#include "store/store.h"

#define IOCB_DECAY_MAX_MODELS 64       /* models loaded at most */
#define IOCB_DECAY_MAX_BSC 64          /* base_score_config entries per model */
#define IOCB_DECAY_MAX_FILE (1u << 20) /* bytes of one model file */

/* One MISP decaying model (Polynomial). */
struct iocb_decay_model {
	char name[128];            /* "NIDS Simple Decaying Model" */
	char uuid[40];             /* the model's uuid, "" if none */
	double lifetime_d;         /* days (tau / 86400), > 0 */
	double decay_speed;        /* > 0 */
	double threshold;          /* decayed below this score */
	double default_base_score; /* base score without a matching taxonomy tag */
	size_t nbsc;               /* base_score_config entries */
	struct {
		char taxonomy[128]; /* tag basename: "ns:predicate" or "ns" */
		double weight;      /* its weight */
	} bsc[IOCB_DECAY_MAX_BSC];
	uint64_t types[4];         /* bit per MISP type id (iocb_misp_type_get()) it applies to */
};

/*
 * Parse one model from MISP's JSON (a file of misp-decaying-models/models/, or
 * a model exported from MISP: {"DecayingModel": {...}} is accepted too).
 * Types MISP knows but iocbus does not are skipped. Returns IOCB_OK,
 * IOCB_EPARSE (bad JSON, missing or bad parameter: err says which),
 * IOCB_EUNSUPPORTED (a formula other than Polynomial). Any thread.
 */
int iocb_decay_model_parse(const char *json, size_t len, struct iocb_decay_model *out,
			   struct iocb_err *err) IOCB_MUST_USE;

/* MISP's Polynomial score at t seconds after decay_from (t < 0 counts as 0, see above). */
double iocb_decay_score(const struct iocb_decay_model *m, double base_score, double t);

/*
 * The first epoch second at which a record decaying from `from` with this
 * base score is decayed (score < threshold): from + floor(t*) + 1 where
 * score(t*) == threshold; 0 when it is decayed from the start (base score
 * below the threshold); INT64_MAX when it never is (threshold <= 0).
 */
int64_t iocb_decay_expiry(const struct iocb_decay_model *m, double base_score, int64_t from);

/* A tag's numerical value (MISP: the taxonomy's numerical_value for that tag). */
struct iocb_decay_tag_value {
	const char *tag;  /* full tag name, 'ns:pred="value"' */
	double value;     /* its numerical value */
};

/*
 * MISP's base score for a record with these tags: event tags first, then
 * attribute tags, an attribute tag replacing the event tags of the same
 * basename. lookup(ud, tag) returns true and the numerical value of a tag
 * that has one. Any thread.
 */
double iocb_decay_base_score(const struct iocb_decay_model *m, const struct iocb_str *event_tags, size_t nev,
			     const struct iocb_str *attr_tags, size_t nattr,
			     bool (*lookup)(const void *ud, struct iocb_str tag, double *value), const void *ud);

/*
 * MISP's "decay from" instant: the last type-0 sighting (0 = none), else
 * last_seen (epoch s, 0 = none), else the timestamp; an attribute modified
 * after its last sighting counts from last_seen or timestamp again.
 */
int64_t iocb_decay_from(int64_t timestamp, int64_t last_seen, int64_t last_sighting);

/* ------------------------------------------------------------ the store callback */

struct iocb_quality_decay;

/* A maximum age for one MISP type (quality.expire_after.types). */
struct iocb_decay_type_age {
	const char *type;  /* MISP type name */
	double max_age_s;  /* its maximum age, s */
};

struct iocb_quality_decay_opts {
	const char *const *model_paths;   /* model files or directories of *.json */
	size_t nmodel_paths;
	const struct iocb_decay_tag_value *tag_values; /* numerical values of taxonomy tags */
	size_t ntag_values;
	double expire_after_s;                         /* default maximum age; 0 = none */
	double source_expire_s[IOCB_STORE_MAX_SOURCES]; /* per store source id; 0 = none */
	const struct iocb_decay_type_age *type_expire; /* per MISP type */
	size_t ntype_expire;
};

/*
 * Build the models and rules. Returns IOCB_OK, IOCB_EIO (unreadable
 * path), IOCB_EPARSE / IOCB_EUNSUPPORTED (a bad model: err names the
 * file), IOCB_ELIMIT (more than IOCB_DECAY_MAX_MODELS), IOCB_EINVAL (an
 * unknown type name). On success *out is the caller's. Any thread.
 */
int iocb_quality_decay_new(const struct iocb_quality_decay_opts *o, struct iocb_quality_decay **out,
			   struct iocb_err *err) IOCB_MUST_USE;
void iocb_quality_decay_free(struct iocb_quality_decay *d);
/*
 * Build it from a configuration's `quality.decay` and `quality.expire_after`
 * (rule sources: intel, misp or a feeds[] name). Same returns, plus
 * IOCB_ECONFIG for an unknown source name (err names the rule's place).
 */
struct iocb_config;
int iocb_quality_decay_from_config(const struct iocb_config *c, struct iocb_quality_decay **out,
				   struct iocb_err *err) IOCB_MUST_USE;
/* Whether it does anything (a model or an expiry rule). */
bool iocb_quality_decay_active(const struct iocb_quality_decay *d);
size_t iocb_quality_decay_nmodels(const struct iocb_quality_decay *d);
const struct iocb_decay_model *iocb_quality_decay_model(const struct iocb_quality_decay *d, size_t i);

/*
 * The store quality callback (iocb_store_quality_add(s, iocb_quality_decay_apply, d)):
 * sets expires_at, decay_from, base_score and model. Of the models that apply to
 * the record's type the one that keeps it alive longest counts (MISP's
 * excludeDecayed drops an attribute only when every applicable model says
 * decayed); a maximum age (expire_after: the shortest of the default, the
 * source's and the type's) counts from the latest of timestamp, last_seen
 * and the last type-0 sighting, and caps expires_at.
 */
void iocb_quality_decay_apply(void *ud, const struct iocb_store_attr *a, struct iocb_store_quality *q);

/* The decay score of a record with marks q at `now`; negative when no model applies. Any thread. */
double iocb_quality_decay_score(const struct iocb_quality_decay *d, const struct iocb_store_quality *q, int64_t now);

/*
 * ECS threat.indicator.confidence for a score, on the STIX 2.1 "None / Low /
 * Med / High" scale (Appendix A): 0 -> "None", 1-29 -> "Low", 30-69 ->
 * "Medium", 70-100 -> "High" (scores rounded to the nearest integer). A
 * negative score (no model: the indicator counts at full weight) is "High".
 * wl_flagged (a value on a warninglist with policy flag) lowers it one level.
 */
const char *iocb_quality_confidence(double score, bool wl_flagged);

#endif
