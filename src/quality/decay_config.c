/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The decay object of a configuration: `quality.decay` and
 * `quality.expire_after` (rule source names resolved to the store source
 * ids of sources/sources.h), shared by `iocbus run` and `iocbus lookup`.
 */
#include "quality/decay.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "core/mem.h"
#include "sources/sources.h"

/* The store source id of a rule's source name: intel, misp, or a feed. -1 if unknown. */
static int source_id(const struct iocb_config *c, const char *name)
{
	if (strcmp(name, "intel") == 0)
		return IOCB_SRCID_INTEL;
	if (strcmp(name, "misp") == 0)
		return IOCB_SRCID_MISP;
	for (size_t i = 0; i < c->nfeeds; i++)
		if (strcmp(c->feeds[i].name, name) == 0 && IOCB_SRCID_FEED0 + i < IOCB_STORE_MAX_SOURCES)
			return (int)(IOCB_SRCID_FEED0 + i);
	return -1;
}

int iocb_quality_decay_from_config(const struct iocb_config *c, struct iocb_quality_decay **out,
				   struct iocb_err *err)
{
	struct iocb_quality_decay_opts o = {0};
	struct iocb_decay_tag_value *tv = NULL;
	struct iocb_decay_type_age *ta = NULL;
	int rc = IOCB_OK;

	o.model_paths = (const char *const *)c->quality.decay.models;
	o.nmodel_paths = c->quality.decay.nmodels;
	if (c->quality.decay.ntag_values) {
		tv = iocb_xcalloc(c->quality.decay.ntag_values, sizeof(*tv));
		for (size_t i = 0; i < c->quality.decay.ntag_values; i++) {
			tv[i].tag = c->quality.decay.tag_values[i].key;
			tv[i].value = strtod(c->quality.decay.tag_values[i].value, NULL); /* checked by config */
		}
	}
	o.tag_values = tv;
	o.ntag_values = c->quality.decay.ntag_values;
	o.expire_after_s = c->quality.expire_after.default_s;
	ta = iocb_xcalloc(c->quality.expire_after.nrules + 1, sizeof(*ta));
	for (size_t i = 0; i < c->quality.expire_after.nrules; i++) {
		const struct iocb_config_expire_rule *r = &c->quality.expire_after.rules[i];
		if (r->type) {
			ta[o.ntype_expire].type = r->type;
			ta[o.ntype_expire++].max_age_s = r->max_age_s;
			continue;
		}
		int id = source_id(c, r->source);
		if (id < 0) {
			rc = iocb_err_set(err, IOCB_ECONFIG, "%s: quality.expire_after.rules[]: unknown source '%s' "
					  "(intel, misp or a feeds[] name)", r->where ? r->where : "?", r->source);
			goto out;
		}
		o.source_expire_s[id] = r->max_age_s;
	}
	o.type_expire = ta;
	rc = iocb_quality_decay_new(&o, out, err);
out:
	free(tv);
	free(ta);
	return rc;
}

