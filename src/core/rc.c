/* SPDX-License-Identifier: Apache-2.0 */
/* Return-code names and error reports (see rc.h). */
#include "core/rc.h"

#include <stdio.h>
#include <string.h>

const char *iocb_rc_str(int rc)
{
	switch (rc) {
	case IOCB_OK: return "IOCB_OK";
	case IOCB_ENOMEM: return "IOCB_ENOMEM";
	case IOCB_EPARSE: return "IOCB_EPARSE";
	case IOCB_ELIMIT: return "IOCB_ELIMIT";
	case IOCB_EIO: return "IOCB_EIO";
	case IOCB_EAGAIN: return "IOCB_EAGAIN";
	case IOCB_EINVAL: return "IOCB_EINVAL";
	case IOCB_ENOTFOUND: return "IOCB_ENOTFOUND";
	case IOCB_ETYPE: return "IOCB_ETYPE";
	case IOCB_EEXIST: return "IOCB_EEXIST";
	case IOCB_ECONFIG: return "IOCB_ECONFIG";
	case IOCB_EUNSUPPORTED: return "IOCB_EUNSUPPORTED";
	case IOCB_EEND: return "IOCB_EEND";
	case IOCB_ECANCELED: return "IOCB_ECANCELED";
	}
	return "IOCB_E?";
}

int iocb_err_vset(struct iocb_err *err, int rc, const char *fmt, va_list ap)
{
	if (!err)
		return rc;
	err->rc = rc;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return rc;
}

int iocb_err_set(struct iocb_err *err, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	iocb_err_vset(err, rc, fmt, ap);
	va_end(ap);
	return rc;
}

void iocb_err_prefix(struct iocb_err *err, const char *fmt, ...)
{
	char pre[256], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Truncation is fine: the message is for humans and stays NUL-terminated. */
	size_t n = strnlen(pre, sizeof(pre) - 1);
	memcpy(err->msg, pre, n);
	size_t rest = sizeof(err->msg) - 1 - n;
	if (rest >= 2) {
		err->msg[n++] = ':';
		err->msg[n++] = ' ';
		rest -= 2;
		size_t m = strnlen(old, rest);
		memcpy(err->msg + n, old, m);
		n += m;
	}
	err->msg[n] = '\0';
}

void iocb_err_clear(struct iocb_err *err)
{
	if (!err)
		return;
	err->rc = IOCB_OK;
	err->msg[0] = '\0';
}
