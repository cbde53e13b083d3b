/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A model of the reader Zeek's Intel framework loads files with (the input
 * framework's ASCII reader, exports.md §2.1), for tests: Zeek is not
 * installable here. Rules: LF-separated lines, a trailing CR stripped, empty
 * lines skipped; `#fields<TAB>...` names the columns and must precede the
 * first data line; other `#` lines are comments; TAB between fields and
 * exactly one field per column, otherwise the line is bad; `-` is unset,
 * illegal in indicator / indicator_type / meta.source (whose columns must
 * exist, or the whole file is rejected); `\xHH` undone in every string; an
 * unknown Intel::Type makes the line bad.
 */
#ifndef IOCB_TESTS_ZEEK_READER_H
#define IOCB_TESTS_ZEEK_READER_H

#include <stddef.h>

#define ZEEK_READER_MAX_ROWS 64

struct zeek_row {
	char indicator[256], type[32], source[256], desc[256], url[256]; /* unescaped; "" = unset */
};

struct zeek_read {
	struct zeek_row rows[ZEEK_READER_MAX_ROWS];
	size_t nrows; /* good lines */
	size_t bad;   /* lines Zeek would skip with a reporter warning */
};

/* Read text as Zeek would; -1 when Zeek would reject the whole file. */
int zeek_reader_parse(const char *text, struct zeek_read *out);

#endif
