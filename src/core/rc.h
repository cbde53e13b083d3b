/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Return codes and error reports shared by every module.
 *
 * Every fallible function returns an enum iocb_rc: 0 is success and errors are
 * negative, so `if (rc < 0)` always works. A caller that wants to know *what*
 * and *where* passes an optional struct iocb_err; the callee fills its text,
 * including the input location (file:line:col, byte offset, attribute uuid).
 * The text never contains secrets: callers format only values they own.
 */
#ifndef IOCB_CORE_RC_H
#define IOCB_CORE_RC_H

#include <stdarg.h>
#include <stddef.h>

#define IOCB_MUST_USE __attribute__((warn_unused_result))
#define IOCB_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define IOCB_LIKELY(x) __builtin_expect(!!(x), 1)
#define IOCB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define IOCB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

enum iocb_rc {
	IOCB_OK = 0,
	IOCB_ENOMEM = -1,      /* allocation failed (only where we can recover) */
	IOCB_EPARSE = -2,      /* malformed input */
	IOCB_ELIMIT = -3,      /* a configured cap was reached */
	IOCB_EIO = -4,         /* I/O error; errno-derived text in iocb_err */
	IOCB_EAGAIN = -5,      /* try again later (queue full, would block) */
	IOCB_EINVAL = -6,      /* invalid value (well-formed input, wrong content) */
	IOCB_ENOTFOUND = -7,   /* no such item */
	IOCB_ETYPE = -8,       /* wrong JSON/YAML type */
	IOCB_EEXIST = -9,      /* item already present */
	IOCB_ECONFIG = -10,    /* configuration error */
	IOCB_EUNSUPPORTED = -11, /* valid but not handled (e.g. non-atomic type) */
	IOCB_EEND = -12,       /* end of input / iteration */
	IOCB_ECANCELED = -13,  /* stopped: the operation was given up because the process is stopping */
};

/* Name of a return code ("IOCB_EPARSE"), never NULL. Any thread. */
const char *iocb_rc_str(int rc);

/*
 * An error report. `msg` holds one line of text such as
 * "config.yaml:12:5: unknown key 'org'". Fixed size: no allocation on the
 * error path. A NULL struct iocb_err * is accepted everywhere and ignored.
 */
struct iocb_err {
	int rc;          /* the enum iocb_rc that was returned */
	char msg[512];   /* human-readable message with location, NUL-terminated */
};

/*
 * Fill `err` (if not NULL) with rc and a formatted message; returns rc so
 * callers can write `return iocb_err_set(err, IOCB_EPARSE, "...")`.
 */
int iocb_err_set(struct iocb_err *err, int rc, const char *fmt, ...) IOCB_PRINTF(3, 4);
int iocb_err_vset(struct iocb_err *err, int rc, const char *fmt, va_list ap) IOCB_PRINTF(3, 0);

/* Prefix the existing message with "prefix: " (e.g. a file name). */
void iocb_err_prefix(struct iocb_err *err, const char *fmt, ...) IOCB_PRINTF(2, 3);

/* Reset to IOCB_OK and an empty message. */
void iocb_err_clear(struct iocb_err *err);

#endif
