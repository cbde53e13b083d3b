/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Golden test for the MISP parser: every fixture (restSearch responses,
 * ZeroMQ frames, Kafka values, the CIRCL feed subset, PyMISP events) is
 * parsed and each callback is rendered as one canonical text line; the
 * result must equal tests/golden/misp/<fixture>.expected byte for byte.
 * With IOCB_UPDATE_GOLDEN=1 the expected files are rewritten instead.
 * Prints "N passed, N failed".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/file.h"
#include "misp/misp.h"


/* Output helpers: the golden buffer is uncapped, so a failure is a bug. */
static void bputs(struct iocb_buf *b, const char *s)
{
	if (iocb_buf_append_c(b, s) < 0)
		abort();
}

static void bputc(struct iocb_buf *b, char c)
{
	if (iocb_buf_putc(b, c) < 0)
		abort();
}

static void bprintf(struct iocb_buf *b, const char *fmt, ...) IOCB_PRINTF(2, 3);
static void bprintf(struct iocb_buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	bputs(b, tmp);
}

static const char *action_name(enum iocb_misp_action a)
{
	static const char *n[] = {"none", "add", "edit", "soft-delete", "delete", "other"};
	return n[a];
}

static void put_str(struct iocb_buf *b, struct iocb_str s)
{
	/* Escape only what would break the line format. */
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if (c == '\n' || c == '\\' || c == '\t' || c < 0x20)
			bprintf(b, "\\x%02x", c);
		else
			bputc(b, (char)c);
	}
}

static void put_tags(struct iocb_buf *b, const struct iocb_misp_tag *t, size_t n)
{
	bputc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			bputc(b, ',');
		put_str(b, t[i].name);
		if (t[i].local)
			bputs(b, "(local)");
		if (t[i].inherited)
			bputs(b, "(inherited)");
	}
	bputc(b, ']');
}

static void put_event(struct iocb_buf *b, const struct iocb_misp_event *e)
{
	bputs(b, " ev.uuid=");
	put_str(b, e->uuid);
	bprintf(b, " ev.id=%llu ev.orgc=", (unsigned long long)e->id);
	if (e->has_orgc_id)
		bprintf(b, "%llu", (unsigned long long)e->orgc_id);
	bputc(b, '/');
	put_str(b, e->orgc_name);
	bprintf(b, " ev.tl=%d ev.info=", e->threat_level_id);
	put_str(b, e->info);
	bputs(b, " ev.tags=");
	if (e->tags_known)
		put_tags(b, e->tags, e->ntags);
	else
		bputs(b, "?");
}

static int on_attr(void *ud, const struct iocb_misp_attr *a)
{
	struct iocb_buf *b = ud;

	bprintf(b, "attr %s uuid=", action_name(a->action));
	put_str(b, a->uuid);
	bprintf(b, " id=%llu type=%s ind=%d", (unsigned long long)a->id, a->type ? a->type->name : "?",
			      a->indicator);
	for (unsigned i = 0; i < a->nparts; i++) {
		bprintf(b, " %s=", iocb_match_class_name(a->type->mc[i]));
		put_str(b, a->part[i]);
		if (a->prefix[i] >= 0)
			bprintf(b, " pfx=%d", a->prefix[i]);
	}
	bprintf(b, " ids=%d del=%d ts=%llu", a->to_ids, a->deleted, (unsigned long long)a->timestamp);
	if (a->first_seen_us != INT64_MIN)
		bprintf(b, " fs=%lld", (long long)a->first_seen_us);
	if (a->object_id)
		bprintf(b, " obj=%llu", (unsigned long long)a->object_id);
	bputs(b, " tags=");
	put_tags(b, a->tags, a->ntags);
	put_event(b, a->event);
	bputc(b, '\n');
	return 0;
}

static int on_event(void *ud, const struct iocb_misp_event *e, enum iocb_misp_action action)
{
	struct iocb_buf *b = ud;

	bprintf(b, "event %s", action_name(action));
	put_event(b, e);
	bputc(b, '\n');
	return 0;
}

static void on_skip(void *ud, enum iocb_misp_skip r, const char *detail)
{
	struct iocb_buf *b = ud;
	const char *d = strrchr(detail, '/');

	/* Paths differ between machines: keep only what follows the last '/'. */
	bprintf(b, "skip %s %s\n", iocb_misp_skip_name(r), d ? d + 1 : detail);
}

struct fixture {
	const char *path;  /* relative to the fixtures dir */
	const char *name;  /* golden file name */
	int kind;          /* 0 json document, 1 zmq frames (one per line), 2 feed dir */
};

static const struct fixture fixtures[] = {
	{"rest/derived/restSearch-response-default.json", "rest-default", 0},
	{"rest/derived/restSearch-response-empty.json", "rest-empty", 0},
	{"rest/derived/restSearch-response-includeEventTags.json", "rest-includeEventTags", 0},
	{"rest/derived/restSearch-response-includeContext-includeEventTags.json", "rest-includeContext", 0},
	{"rest/derived/restSearch-response-includeDecayScore.json", "rest-includeDecayScore", 0},
	{"zmq/wire-frames.txt", "zmq-wire-frames", 1},
	{"zmq/misp_json_attribute-add-tagged.json", "zmq-add-tagged", 0},
	{"zmq/misp_json_attribute-add-composite-localtag.json", "zmq-add-composite", 0},
	{"zmq/misp_json_attribute-add-in-object.json", "zmq-add-in-object", 0},
	{"zmq/misp_json_attribute-add-cidr-untagged.json", "zmq-add-cidr", 0},
	{"zmq/misp_json_attribute-edit-to_ids-off.json", "zmq-edit-to_ids-off", 0},
	{"zmq/misp_json_attribute-soft-delete.json", "zmq-soft-delete", 0},
	{"zmq/misp_json_attribute-delete.json", "zmq-delete", 0},
	{"zmq/misp_json_event-edit.json", "zmq-event-edit", 0},
	{"zmq/misp_json_event-delete.json", "zmq-event-delete", 0},
	{"zmq/misp_json_event-add_from_connected_server.json", "zmq-event-sync", 0},
	{"zmq/misp_json-publish.json", "zmq-publish", 0},
	{"zmq/misp_json_self-heartbeat.json", "zmq-heartbeat", 0},
	{"zmq/misp_json_sighting-add.json", "zmq-sighting", 0},
	{"zmq/misp_json_tag-attached-to-attribute.json", "zmq-tag", 0},
	{"kafka/misp_attribute-add.value.json", "kafka-add", 0},
	{"kafka/misp_attribute-delete.value.json", "kafka-delete", 0},
	{"feeds/circl-osint-subset-pymisp", "feed-circl", 2},
	{"pymisp/misp_event.json", "pymisp-event", 0},
	{"pymisp/sighting_1.json", "pymisp-sighting_1", 0},
};

static int run_fixture(const char *fixdir, const struct fixture *f, struct iocb_buf *out)
{
	struct iocb_misp_handlers h = {on_attr, on_event, on_skip, out, NULL, NULL};
	struct iocb_misp_stats st = {0};
	struct iocb_file_map m;
	struct iocb_err err = {0};
	char path[4096];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", fixdir, f->path);
	if (f->kind == 2) {
		rc = iocb_misp_parse_feed_dir(path, &h, NULL, &st, &err);
	} else {
		rc = iocb_file_map(path, 0, &m, &err);
		if (rc < 0)
			return rc;
		if (f->kind == 0) {
			rc = iocb_misp_parse(m.data, m.len, "doc", &h, NULL, &st, &err);
		} else {
			const char *p = m.data, *end = m.data + m.len;
			while (p < end) {
				const char *nl = memchr(p, '\n', (size_t)(end - p));
				size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
				struct iocb_str topic;
				if (n) {
					bputs(out, "# frame\n");
					rc = iocb_misp_parse_zmq_frame(p, n, &topic, &h, NULL, &st, &err);
					if (rc < 0)
						bprintf(out, "error %s\n", err.msg);
				}
				p += n + 1;
			}
			rc = 0;
		}
		iocb_file_unmap(&m);
	}
	if (rc < 0)
		bprintf(out, "error %s\n", err.msg);
	bprintf(out, "stats attributes=%llu events=%llu\n", (unsigned long long)st.attributes,
			      (unsigned long long)st.events);
	return 0;
}

int main(int argc, char **argv)
{
	bool update = getenv("IOCB_UPDATE_GOLDEN") != NULL;
	unsigned passed = 0, failed = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: %s FIXTURES_MISP_DIR GOLDEN_DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		struct iocb_buf out;
		struct iocb_file_map exp;
		char gpath[4096];

		iocb_buf_init(&out, 0);
		bputs(&out, "");
		if (run_fixture(argv[1], &fixtures[i], &out) < 0) {
			printf("FAIL %s: cannot read fixture %s\n", fixtures[i].name, fixtures[i].path);
			failed++;
			iocb_buf_fini(&out);
			continue;
		}
		snprintf(gpath, sizeof(gpath), "%s/%s.expected", argv[2], fixtures[i].name);
		if (update) {
			FILE *fp = fopen(gpath, "w");
			if (!fp || fwrite(out.ptr, 1, out.len, fp) != out.len) {
				printf("FAIL %s: cannot write %s\n", fixtures[i].name, gpath);
				failed++;
			} else {
				passed++;
			}
			if (fp)
				fclose(fp);
		} else if (iocb_file_map(gpath, 0, &exp, NULL) < 0) {
			printf("FAIL %s: no golden file %s (run with IOCB_UPDATE_GOLDEN=1)\n", fixtures[i].name, gpath);
			failed++;
		} else {
			if (exp.len == out.len && memcmp(exp.data, out.ptr, out.len) == 0) {
				passed++;
			} else {
				printf("FAIL %s: output differs from %s; got:\n%s\n", fixtures[i].name, gpath, out.ptr);
				failed++;
			}
			iocb_file_unmap(&exp);
		}
		iocb_buf_fini(&out);
	}
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
