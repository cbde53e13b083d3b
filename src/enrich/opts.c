/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The enrich options and field maps of a loaded configuration, built here
 * once for `iocbus enrich`, `iocbus check-config` and the log pipeline of
 * `iocbus run` (each used to build them itself).
 *
 * This is the one file of enrich that reads struct iocb_config. The bridge
 * sits in enrich, above config, because config must not depend on enrich
 * (docs/ARCHITECTURE.md): the `enrich:` section keeps field specs as text
 * and its choices as config's enums, which are kept equal to enrich's own
 * below, so converting one is a cast checked at compile time.
 */
#include "enrich/enrich.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

_Static_assert(IOCB_PRESET_ECS == (int)IOCB_CONFIG_PRESET_ECS &&
		       IOCB_PRESET_SURICATA == (int)IOCB_CONFIG_PRESET_SURICATA &&
		       IOCB_PRESET_ZEEK == (int)IOCB_CONFIG_PRESET_ZEEK && IOCB_PRESET_AUTO == (int)IOCB_CONFIG_PRESET_AUTO &&
		       IOCB_PRESET_NONE == (int)IOCB_CONFIG_PRESET_NONE && IOCB_PRESET__COUNT == 5,
	       "enum iocb_config_preset follows enum iocb_enrich_preset");
_Static_assert(IOCB_ON_MISS_PASS == (int)IOCB_CONFIG_ON_MISS_PASS && IOCB_ON_MISS_MARK == (int)IOCB_CONFIG_ON_MISS_MARK,
	       "enum iocb_config_on_miss follows enum iocb_enrich_on_miss");

void iocb_enrich_opts_from_config(const struct iocb_config *cfg, struct iocb_enrich_opts *o)
{
	iocb_enrich_opts_default(o);
	o->on_miss = (enum iocb_enrich_on_miss)cfg->enrich.on_miss;
	o->match_type = cfg->enrich.match_type;
	o->provider = cfg->enrich.provider;
	o->misp_url = cfg->api.present ? cfg->api.host : NULL;
	o->parent_domains = cfg->enrich.parent_domains;
	o->hits_only = cfg->enrich.hits_only;
	o->max_line = (size_t)cfg->enrich.max_line;
	o->max_hits = cfg->enrich.max_hits;
}

enum iocb_enrich_preset iocb_enrich_preset_from_config(const struct iocb_config *cfg,
						       const struct iocb_config_input *in)
{
	if (in && in->preset != IOCB_CONFIG_PRESET_UNSET)
		return (enum iocb_enrich_preset)in->preset;
	return (enum iocb_enrich_preset)cfg->enrich.preset;
}

int iocb_enrich_map_from_config(const struct iocb_config *cfg, const struct iocb_config_input *in,
				struct iocb_enrich_map **out, struct iocb_err *err)
{
	size_t nin = in ? in->nfields : 0;
	struct iocb_enrich_field_spec *specs = iocb_xcalloc(cfg->enrich.nfields + nin + 1, sizeof(*specs));
	size_t n = 0;
	int rc;

	for (size_t i = 0; i < cfg->enrich.nfields; i++)
		specs[n++] = (struct iocb_enrich_field_spec){cfg->enrich.fields[i].key, cfg->enrich.fields[i].value};
	for (size_t i = 0; i < nin; i++)
		specs[n++] = (struct iocb_enrich_field_spec){in->fields[i].key, in->fields[i].value};
	rc = iocb_enrich_map_new(iocb_enrich_preset_from_config(cfg, in), specs, n, out, err);
	free(specs);
	if (rc < 0 && in && err) {
		const char *where = in->where ? in->where : "?";
		char msg[sizeof(err->msg)];

		/* A long message is cut: the location and input name come first. */
		if (snprintf(msg, sizeof(msg), "%s: inputs[%s]: %s", where, in->name, err->msg) < 0)
			msg[0] = 0;
		memcpy(err->msg, msg, sizeof(msg));
	}
	return rc;
}
