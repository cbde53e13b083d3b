/* SPDX-License-Identifier: Apache-2.0 */
/* A memory store filled by hand for the tests above the store (see fixture_store.h). */
#include "fixture_store.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

void fixture_uuid(char out[37], unsigned kind, uint64_t n)
{
	/* 48 bits fill the 12 digits exactly; the mask also tells gcc the text fits */
	snprintf(out, 37, "%08x-0000-4000-8000-%012llx", kind, (unsigned long long)(n & 0xffffffffffffULL));
}

struct iocb_misp_attr *fixture_attr_make(struct fixture_attr *t, uint64_t n, const char *type, const char *p0,
					 const char *p1, int prefix, uint64_t event, bool to_ids)
{
	memset(t, 0, sizeof(*t));
	fixture_uuid(t->uuid, 0xa, n);
	t->a.uuid = iocb_str_c(t->uuid);
	t->a.id = n + 1000;
	t->a.type = iocb_misp_type_find(iocb_str_c(type));
	assert_non_null(t->a.type);
	t->a.category = iocb_str_c(t->a.type->default_category);
	assert_true(strlen(p0) + (p1 ? 1 + strlen(p1) : 0) < sizeof(t->value)); /* the parts slice t->value */
	if (p1)
		snprintf(t->value, sizeof(t->value), "%s|%s", p0, p1);
	else
		snprintf(t->value, sizeof(t->value), "%s", p0);
	t->a.value = iocb_str_c(t->value);
	t->a.part[0] = iocb_str_make(t->value, strlen(p0));
	t->a.part[1] = p1 ? iocb_str_c(t->value + strlen(p0) + 1) : IOCB_STR_NULL;
	t->a.nparts = p1 ? 2 : 1;
	t->a.prefix[0] = prefix;
	t->a.prefix[1] = -1;
	snprintf(t->comment, sizeof(t->comment), "comment-for-%s", t->uuid);
	t->a.comment = iocb_str_c(t->comment);
	t->a.to_ids = to_ids;
	t->a.timestamp = 1700000000 + n;
	t->a.first_seen_us = INT64_MIN;
	t->a.last_seen_us = INT64_MIN;
	t->a.event = &t->ev;
	if (event) {
		fixture_uuid(t->evuuid, 0xe, event);
		t->ev.uuid = iocb_str_c(t->evuuid);
		t->ev.id = event;
		t->ev.info = IOCB_STR_LIT("test event");
		t->ev.threat_level_id = 2;
	}
	t->ev.analysis = -1;
	return &t->a;
}

struct iocb_store *fixture_store_open(bool non_ids)
{
	struct iocb_store_opts o;
	struct iocb_store *s = NULL;
	struct iocb_err err;

	iocb_store_opts_default(&o);
	o.match_non_ids = non_ids;
	if (iocb_store_open(&o, &s, &err) != IOCB_OK)
		fail_msg("store open: %s", err.msg);
	return s;
}

void fixture_store_upsert(struct iocb_store *s, const struct iocb_misp_attr *a)
{
	struct iocb_err err;

	if (iocb_store_upsert(s, a, 0, 1000, &err) != IOCB_OK)
		fail_msg("upsert: %s", err.msg);
}

struct iocb_store *fixture_store_open_path(const char *dir)
{
	struct iocb_store_opts o;
	struct iocb_store *s = NULL;
	struct iocb_err err;

	iocb_store_opts_default(&o);
	o.path = dir;
	o.map_size = 64 << 20;
	o.durable = false;
	if (iocb_store_open(&o, &s, &err) != IOCB_OK)
		fail_msg("open %s: %s", dir, err.msg);
	return s;
}

void fixture_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}
