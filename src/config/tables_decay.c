/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `quality.decay` and `quality.expire_after` (issue #15 §2): MISP decaying
 * models and plain maximum ages, built into a quality/decay.h object by
 * the daemon. Same row conventions as tables.c (config/internal.h).
 */
#include "config/internal.h"

#include <math.h>
#include <stdlib.h>

static const struct iocb_config__opt decay_rows[] = {
	ROW("models", IOCB_CT_STRLIST, NULL, 0, 64, OFF(quality.decay.models), OFF(quality.decay.nmodels), NO, NULL,
	    NULL, IOCB_CF_NULLABLE,
	    "MISP decaying model files (the JSON of MISP/misp-decaying-models, or a model exported from "
	    "MISP), or directories of `*.json` files, loaded at start in name order. Only the `Polynomial` "
	    "formula is implemented; another fails the start. A model applies to the attribute types it "
	    "lists; of several, the one that keeps an indicator alive longest counts."),
	ROW("tag_values", IOCB_CT_KV, NULL, 0, 100000, OFF(quality.decay.tag_values), OFF(quality.decay.ntag_values),
	    NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "Numerical value of a taxonomy tag, by full tag name (e.g. "
	    "`'estimative-language:likelihood-probability=\"very-likely\"': 87.5`): MISP takes them from its "
	    "taxonomies. A model's base score is the weighted mean of the values of the tags its "
	    "`base_score_config` names; without one it is the model's `default_base_score`."),
};

/* tag_values: every value a finite number. */
static int decay_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
		       const struct iocb_config__node *const *vals)
{
	struct iocb_config *c = base;
	(void)map;
	for (size_t i = 0; i < c->quality.decay.ntag_values; i++) {
		char *end;
		const char *v = c->quality.decay.tag_values[i].value;
		double d = v ? strtod(v, &end) : NAN;
		if (!v || end == v || *end || !isfinite(d))
			return iocb_config__fail(ctx, vals[1], "quality.decay.tag_values", "value of '%s' is not a number",
						 c->quality.decay.tag_values[i].key);
	}
	return IOCB_OK;
}

const struct iocb_config__section iocb_config__quality_decay = {
	"quality.decay", decay_rows, N(decay_rows), 0, NO,
	"MISP decaying models: an indicator's score falls with the time since its last type-0 sighting "
	"(else its `last_seen`, else its timestamp); below the model's threshold it stops matching until "
	"MISP updates it or a sighting arrives.",
	decay_check,
};

#define FOFF_RULE(f) offsetof(struct iocb_config_expire_rule, f)

static const struct iocb_config__opt rule_rows[] = {
	ROW("source", IOCB_CT_STR, NULL, 1, 64, FOFF_RULE(source), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "`intel` (files loaded at start), `misp` (ZeroMQ, Kafka and REST) or a `feeds[]` name."),
	ROW("type", IOCB_CT_STR, NULL, 1, 64, FOFF_RULE(type), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "A MISP attribute type (`ip-dst`, `domain`, ...)."),
	ROW("max_age", IOCB_CT_DURATION, NULL, 1, 86400.0 * 36500, FOFF_RULE(max_age_s), NO, NO, NULL, NULL,
	    IOCB_CF_REQUIRED, "Maximum age of the indicators of that source or type."),
};

/* Exactly one of source and type. */
static int rule_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
		      const struct iocb_config__node *const *vals)
{
	struct iocb_config_expire_rule *r = base;
	(void)vals;
	if (!r->source == !r->type)
		return iocb_config__fail(ctx, map, "quality.expire_after.rules[]", "give exactly one of source and type");
	return IOCB_OK;
}

static const struct iocb_config__section rule_sec = {
	"quality.expire_after.rules[]", rule_rows, N(rule_rows), sizeof(struct iocb_config_expire_rule),
	FOFF_RULE(where), "A maximum age for one source or one MISP type.", rule_check,
};

static const struct iocb_config__opt expire_rows[] = {
	ROW("default", IOCB_CT_DURATION, "0", 0, 86400.0 * 36500, OFF(quality.expire_after.default_s), NO, NO, NULL,
	    NULL, 0, "Maximum age of every indicator; 0: none."),
	ROW("rules", IOCB_CT_LIST, NULL, 0, 512, OFF(quality.expire_after.rules), OFF(quality.expire_after.nrules),
	    NO, NULL, &rule_sec, IOCB_CF_NULLABLE,
	    "Maximum ages per source or per type (see `quality.expire_after.rules[]`)."),
};

const struct iocb_config__section iocb_config__quality_expire = {
	"quality.expire_after", expire_rows, N(expire_rows), 0, NO,
	"Plain expiry, for sites without decaying models: an indicator older than its maximum age stops "
	"matching. Its age runs from the latest of its timestamp, its `last_seen` and its last type-0 "
	"sighting; the shortest of the default, its source's and its type's maximum age applies, and a "
	"decaying model's expiry too when one applies.",
	NULL,
};
