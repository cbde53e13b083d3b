/* SPDX-License-Identifier: Apache-2.0 */
#include "export_text.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

const char *export_text(struct iocb_store *s, const char *name, const struct iocb_export_opts *o,
			struct iocb_export_stats *st)
{
	static char buf[8192];
	const struct iocb_export_format *fmt = iocb_export_format_find(name);
	struct iocb_export_sink k;
	struct iocb_err err;
	FILE *fp = tmpfile();
	size_t n;

	assert_non_null(fmt);
	assert_non_null(fp);
	iocb_export_sink_fd(&k, fileno(fp));
	assert_int_equal(fmt->run(s, o, &k, st, &err), IOCB_OK);
	assert_int_equal(iocb_export_sink_commit(&k, &err), IOCB_OK);
	rewind(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}
