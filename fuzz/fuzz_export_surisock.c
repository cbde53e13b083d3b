/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the parser of Suricata's unix-socket answers (src/export/surisock.h,
 * iocb_surisock_reply_parse): any bytes. Checks that the message is always
 * NUL-terminated within its buffer, that a failed parse leaves ok false and
 * the message empty, and that a success is stable: the answer rebuilt from
 * what was parsed parses to the same thing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/surisock.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_surisock_reply r, r2;
	struct iocb_buf b;
	struct iocb_jw w;

	if (iocb_surisock_reply_parse((const char *)data, size, &r) != IOCB_OK) {
		if (r.ok || r.message[0])
			abort();
		return 0;
	}
	if (!memchr(r.message, '\0', sizeof(r.message)))
		abort();
	(void)iocb_surisock_reply_busy(&r);
	iocb_buf_init(&b, 4096);
	iocb_jw_init(&w, &b);
	iocb_jw_obj(&w);
	iocb_jw_key(&w, "message");
	iocb_jw_cstr(&w, r.message);
	iocb_jw_key(&w, "return");
	iocb_jw_cstr(&w, r.ok ? "OK" : "NOK");
	iocb_jw_obj_end(&w);
	if (iocb_jw_rc(&w) != IOCB_OK || iocb_surisock_reply_parse(b.ptr, b.len, &r2) != IOCB_OK)
		abort();
	/* the writer may replace invalid UTF-8; the message parsed back is then different, ok is not */
	if (r2.ok != r.ok)
		abort();
	iocb_buf_fini(&b);
	return 0;
}
