/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Read-only file mapping. Large intel files (a 1 GB restSearch dump) are
 * mapped, not read, so parsing streams over the page cache and resident
 * memory stays proportional to what we keep, not to the file size.
 */
#ifndef IOCB_CORE_FILE_H
#define IOCB_CORE_FILE_H

#include <stddef.h>

#include "core/rc.h"

struct iocb_file_map {
	const char *data; /* mapped bytes (or a small heap copy for pipes); never NUL-terminated */
	size_t len;       /* size in bytes */
	int mapped_;      /* private: 1 if mmapped, 0 if heap */
};

/*
 * Map `path` ("-" = stdin, read into memory up to max_bytes).
 * Files larger than max_bytes fail with IOCB_ELIMIT (0 = no cap).
 */
int iocb_file_map(const char *path, size_t max_bytes, struct iocb_file_map *out,
		  struct iocb_err *err) IOCB_MUST_USE;
void iocb_file_unmap(struct iocb_file_map *m);

#endif
