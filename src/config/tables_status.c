/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The option tables of the status page side of the HTTP endpoint (issue
 * #16): `http.auth`, `http.status`, and the http table's check that refuses
 * an endpoint beyond loopback without authentication. Beside tables.c,
 * which names them in the http table; same row conventions (config/internal.h).
 */
#include "config/internal.h"

/* In the order of enum iocb_config_tlp. */
static const char *const tlp_levels[] = {"clear", "white", "green", "amber", "amber+strict", "red", NULL};
_Static_assert(sizeof(enum iocb_config_tlp) == sizeof(int), "IOCB_CT_ENUM stores an int");

static const struct iocb_config__opt http_auth_rows[] = {
	ROW("token_file", IOCB_CT_STR, NULL, 1, 4096, OFF(http.auth_token_file), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "File of bearer tokens, one per line (16 to 512 printable characters, no spaces; `#` lines are "
	    "comments). Clients send `Authorization: Bearer <token>`. Read at start and by `check-config`; a "
	    "file readable or writable by group or others is refused (`chmod 600` it)."),
	ROW("users_file", IOCB_CT_STR, NULL, 1, 4096, OFF(http.auth_users_file), NO, NO, NULL, NULL, IOCB_CF_NULLABLE,
	    "htpasswd file for basic auth: `user:hash` lines with crypt(3) hashes as `htpasswd -B` (bcrypt) or "
	    "`mkpasswd -m sha-512`/`yescrypt` write them; plain-text, MD5 and SHA-1 entries are refused. Same "
	    "file mode rule as `token_file`."),
	ROW("realm", IOCB_CT_STR, "iocbus", 1, 63, OFF(http.auth_realm), NO, NO, NULL, NULL, 0,
	    "Realm named in `WWW-Authenticate` (letters, digits, space, `._-` kept)."),
};

static int http_auth_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
			   const struct iocb_config__node *const *vals)
{
	struct iocb_config *c = base;

	(void)vals;
	if (map && !c->http.auth_token_file && !c->http.auth_users_file)
		return iocb_config__fail(ctx, map, "http.auth", "set `token_file` or `users_file`");
	return IOCB_OK;
}

const struct iocb_config__section iocb_config__http_auth = {
	"http.auth", http_auth_rows, N(http_auth_rows), 0, NO,
	"Authentication of the HTTP endpoint: a bearer token or basic auth (either or both). Applies to every "
	"route except `/healthz` (liveness probes) and the MISP API `/attributes/*` (MISP's own keys). A "
	"request without valid credentials gets 401 with `WWW-Authenticate`; results are counted in "
	"`iocbus_http_auth_requests_total`. Secrets are never logged.",
	http_auth_check,
};

static const struct iocb_config__opt http_status_rows[] = {
	ROW("max_tlp", IOCB_CT_ENUM, "green", 0, 0, OFF(http.status_max_tlp), NO, NO, tlp_levels, NULL, IOCB_CF_PLAIN,
	    "Most restrictive TLP whose match values and event infos the status page and `/v1/status` show: a "
	    "match whose attribute or event carries a higher `tlp:` tag (amber, amber+strict, red with the "
	    "default) is listed with its value and event info masked. Matches without a TLP tag are shown."),
	ROW("refresh", IOCB_CT_DURATION, "5s", 1, 3600, OFF(http.status_refresh_s), NO, NO, NULL, NULL, 0,
	    "How often the page polls `/v1/status`."),
	ROW("matches", IOCB_CT_UINT, "50", 0, 1000, OFF(http.status_matches), NO, NO, NULL, NULL, 0,
	    "Last matches of the log pipeline kept for the page (in memory, newest first); 0 keeps none."),
};

const struct iocb_config__section iocb_config__http_status = {
	"http.status", http_status_rows, N(http_status_rows), 0, NO,
	"The status page (`GET /`) and its JSON (`GET /v1/status`): docs/STATUS.md.",
	NULL,
};

int iocb_config__http_check(struct iocb_config__ctx *ctx, void *base, const struct iocb_config__node *map,
			    const struct iocb_config__node *const *vals)
{
	struct iocb_config *c = base;

	(void)vals;
	if (map && c->http.enabled && !c->http.auth_present && !c->http.allow_no_auth &&
	    !iocb_config__is_loopback(c->http.host))
		return iocb_config__fail(ctx, map, "http",
					 "host %s is beyond loopback: set `http.auth` (token_file or users_file), or "
					 "`allow_no_auth: true` to serve it unauthenticated",
					 c->http.host);
	return IOCB_OK;
}
