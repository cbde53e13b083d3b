/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Warninglists from the configuration: the one place that turns
 * `quality.warninglists` into a struct iocb_wl and a policy, for
 * `iocbus run` and `iocbus warninglists check` alike.
 */
#include <string.h>

#include "config/config.h"
#include "quality/warninglist.h"

int iocb_wl_load_config(const struct iocb_config_warninglists *c, iocb_wl_skip_cb skip, void *ud, struct iocb_wl **out,
			struct iocb_wl_load_stats *st, struct iocb_err *err)
{
	struct iocb_wl_select sel = {.ids = (const char *const *)c->lists, .nids = c->nlists};
	for (size_t i = 0; i < c->ncategories; i++) {
		bool all = strcmp(c->categories[i], "all") == 0;
		if (all || strcmp(c->categories[i], "false-positive") == 0)
			sel.category[IOCB_WL_CAT_FALSE_POSITIVE] = true;
		if (all || strcmp(c->categories[i], "known") == 0)
			sel.category[IOCB_WL_CAT_KNOWN] = true;
	}
	/* Neither lists nor categories: every list. */
	if (!c->nlists && !c->ncategories)
		sel.category[IOCB_WL_CAT_FALSE_POSITIVE] = sel.category[IOCB_WL_CAT_KNOWN] = true;
	struct iocb_wl_builder *b = iocb_wl_builder_new();
	for (size_t i = 0; i < c->npaths; i++) {
		int rc = iocb_wl_builder_add_path(b, c->paths[i], &sel, skip, ud, st, err);
		if (rc < 0) {
			iocb_wl_builder_free(b);
			return rc;
		}
	}
	return iocb_wl_builder_finish(b, out, err);
}

static enum iocb_wl_action from_word(int w)
{
	/* enum iocb_config_wl_policy is IGNORE, FLAG, SUPPRESS from 0; enum iocb_wl_action from 1. */
	return w < 0 ? IOCB_WL_ACT_NONE : (enum iocb_wl_action)(w + 1);
}
_Static_assert((int)IOCB_WL_ACT_IGNORE == IOCB_CONFIG_WL_IGNORE + 1 && (int)IOCB_WL_ACT_SUPPRESS == IOCB_CONFIG_WL_SUPPRESS + 1,
	       "policy words map onto actions");

void iocb_wl_policy_from_config(const struct iocb_config_warninglists *c, int source_override,
				struct iocb_wl_policy *p)
{
	iocb_wl_policy_default(p);
	if (c && c->present) {
		p->category[IOCB_WL_CAT_FALSE_POSITIVE] = from_word(c->false_positive);
		p->category[IOCB_WL_CAT_KNOWN] = from_word(c->known);
	}
	p->all = from_word(source_override);
}
