/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The words of Suricata's unix-command protocol (surisock.h, exports.md
 * §3.3): commands written with the JSON writer (a set name or a value may
 * hold any byte), answers read with the pull parser. Kept apart from the
 * socket thread so the answer parser can be fuzzed on its own.
 */
#include "export/surisock.h"

#include <string.h>

#include "json/json.h"

int iocb_surisock_command(struct iocb_buf *out, const char *cmd, const char *set, const char *type,
			  struct iocb_str value)
{
	struct iocb_jw w;
	int rc;

	iocb_jw_init(&w, out);
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "command");
	iocb_jw_cstr(&w, cmd);
	if (set) {
		iocb_jw_key(&w, "arguments");
		iocb_jw_obj(&w);
		iocb_jw_key(&w, "setname");
		iocb_jw_cstr(&w, set);
		iocb_jw_key(&w, "settype");
		iocb_jw_cstr(&w, type);
		if (value.ptr) {
			iocb_jw_key(&w, "datavalue");
			iocb_jw_str(&w, value);
		}
		iocb_jw_obj_end(&w);
	}
	iocb_jw_obj_end(&w);
	rc = iocb_jw_rc(&w);
	if (rc == IOCB_OK)
		rc = iocb_buf_putc(out, '\n');
	return rc;
}

/* Copy a string token into out (capped, NUL-terminated); an undecodable one becomes "". */
static void copy_str(const struct iocb_json_tok *t, char *out, size_t cap)
{
	size_t n = 0;

	if (!t->escaped) {
		n = t->s.len < cap - 1 ? t->s.len : cap - 1;
		memcpy(out, t->s.ptr, n);
	} else if (iocb_json_unescape(t, out, cap - 1, &n) != IOCB_OK) {
		/* longer than the cap once decoded, or bad: the message is for logs only */
		n = 0;
	}
	out[n] = '\0';
}

static int parse(const char *buf, size_t len, struct iocb_surisock_reply *out)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t, key, val;
	bool have_return = false;
	int rc;

	memset(out, 0, sizeof(*out));
	iocb_json_init(&p, buf, len, 16, false);
	if (iocb_json_next(&p, &t, NULL) != IOCB_OK || t.type != IOCB_JSON_OBJ)
		return IOCB_EPARSE;
	while ((rc = iocb_json_next_member(&p, &key, &val, NULL)) > 0) {
		if (iocb_json_tok_eq(&key, "return") && val.type == IOCB_JSON_STR) {
			if (iocb_json_tok_eq(&val, "OK"))
				out->ok = true;
			else if (!iocb_json_tok_eq(&val, "NOK"))
				return IOCB_EPARSE;
			have_return = true;
		} else if (iocb_json_tok_eq(&key, "message") && val.type == IOCB_JSON_STR) {
			copy_str(&val, out->message, sizeof(out->message));
		} else if (iocb_json_skip(&p, &val, NULL) != IOCB_OK) {
			return IOCB_EPARSE;
		}
	}
	if (rc < 0 || iocb_json_next(&p, &t, NULL) != IOCB_EEND)
		return IOCB_EPARSE;
	return have_return ? IOCB_OK : IOCB_EPARSE;
}

int iocb_surisock_reply_parse(const char *buf, size_t len, struct iocb_surisock_reply *out)
{
	int rc = parse(buf, len, out);

	if (rc < 0)
		memset(out, 0, sizeof(*out)); /* nothing half-read survives a refused answer */
	return rc;
}

bool iocb_surisock_reply_busy(const struct iocb_surisock_reply *r)
{
	/* Suricata answers a remove of an item a packet holds with OK and this text (§3.3). */
	return strcmp(r->message, "data is busy, try again") == 0;
}
