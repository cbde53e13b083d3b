/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A MISP sighting message (ZeroMQ misp_json_sighting, misp.md §6):
 * {"Sighting": {"type": "0", "date_sighting": "1729510000",
 *               "attribute_uuid"?: "...", "Attribute": {"uuid": "...", ...}, ...},
 *  "action": "add"}
 * Only what the indicator quality needs is read: the attribute's uuid, the
 * type (0 sighting, 1 false positive, 2 expiration) and the instant.
 */
#include "misp/internal.h"

#include <string.h>

/* The Attribute object inside Sighting: its uuid. */
static int parse_attr(struct iocb_json_parser *p, struct iocb_misp_sighting *out, struct iocb_err *err)
{
	struct iocb_json_tok k, v;
	int rc;
	while ((rc = iocb_json_next_member(p, &k, &v, err)) > 0) {
		if (iocb_json_tok_eq(&k, "uuid") && v.type == IOCB_JSON_STR && !v.escaped)
			out->attr_uuid = v.s;
		else if ((rc = iocb_json_skip(p, &v, err)) < 0)
			return rc;
	}
	return rc;
}

static int parse_body(struct iocb_json_parser *p, struct iocb_misp_sighting *out, struct iocb_err *err)
{
	struct iocb_json_tok k, v;
	uint64_t u;
	int rc;
	while ((rc = iocb_json_next_member(p, &k, &v, err)) > 0) {
		if (iocb_json_tok_eq(&k, "type")) {
			if (!iocb_misp__tok_u64(&v, &u) || u > 255)
				return iocb_err_set(err, IOCB_EPARSE, "sighting: bad type");
			out->type = (int)u;
		} else if (iocb_json_tok_eq(&k, "date_sighting")) {
			if (!iocb_misp__tok_u64(&v, &u) || u > (uint64_t)INT64_MAX)
				return iocb_err_set(err, IOCB_EPARSE, "sighting: bad date_sighting");
			out->date = (int64_t)u;
		} else if (iocb_json_tok_eq(&k, "attribute_uuid") && v.type == IOCB_JSON_STR && !v.escaped) {
			if (!out->attr_uuid.len)
				out->attr_uuid = v.s;
		} else if (iocb_json_tok_eq(&k, "Attribute") && v.type == IOCB_JSON_OBJ) {
			rc = parse_attr(p, out, err);
		} else {
			rc = iocb_json_skip(p, &v, err);
		}
		if (rc < 0)
			return rc;
	}
	return rc;
}

int iocb_misp_parse_sighting(const char *buf, size_t len, struct iocb_misp_sighting *out, struct iocb_err *err)
{
	struct iocb_json_parser p;
	struct iocb_json_tok t, k, v;
	bool seen = false;
	int rc;

	memset(out, 0, sizeof(*out));
	out->type = -1;
	out->add = true;
	iocb_json_init(&p, buf, len, 32, false);
	if ((rc = iocb_json_next(&p, &t, err)) < 0)
		return rc;
	if (t.type != IOCB_JSON_OBJ)
		return iocb_err_set(err, IOCB_EPARSE, "sighting: not a JSON object");
	while ((rc = iocb_json_next_member(&p, &k, &v, err)) > 0) {
		if (iocb_json_tok_eq(&k, "Sighting") && v.type == IOCB_JSON_OBJ) {
			seen = true;
			rc = parse_body(&p, out, err);
		} else if (iocb_json_tok_eq(&k, "action") && v.type == IOCB_JSON_STR) {
			out->add = iocb_json_tok_eq(&v, "add");
		} else {
			rc = iocb_json_skip(&p, &v, err);
		}
		if (rc < 0)
			return rc;
	}
	if (rc < 0)
		return rc;
	if ((rc = iocb_json_next(&p, &t, err)) < 0 && rc != IOCB_EEND)
		return rc;
	if (!seen || out->type < 0 || !out->attr_uuid.len)
		return iocb_err_set(err, IOCB_EPARSE, "sighting: no Sighting with a type and an attribute uuid");
	return IOCB_OK;
}
