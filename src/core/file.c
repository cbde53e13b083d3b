/* SPDX-License-Identifier: Apache-2.0 */
/* Read-only file mapping (see file.h). */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mem.h"

static int read_all(int fd, size_t max, struct iocb_file_map *out, const char *path, struct iocb_err *err)
{
	size_t cap = 65536, len = 0;
	char *p = iocb_xmalloc(cap);

	for (;;) {
		ssize_t n;
		if (len == cap) {
			if (max && cap >= max) {
				free(p);
				return iocb_err_set(err, IOCB_ELIMIT, "%s: larger than the %zu-byte limit", path, max);
			}
			cap *= 2;
			p = iocb_xrealloc(p, cap);
		}
		n = read(fd, p + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(p);
			return iocb_err_set(err, IOCB_EIO, "%s: read: %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (max && len > max) {
		free(p);
		return iocb_err_set(err, IOCB_ELIMIT, "%s: larger than the %zu-byte limit", path, max);
	}
	out->data = p;
	out->len = len;
	out->mapped_ = 0;
	return IOCB_OK;
}

int iocb_file_map(const char *path, size_t max_bytes, struct iocb_file_map *out, struct iocb_err *err)
{
	struct stat st;
	int fd, rc;
	void *p;

	memset(out, 0, sizeof(*out));
	if (strcmp(path, "-") == 0)
		return read_all(0, max_bytes, out, "<stdin>", err);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return iocb_err_set(err, IOCB_EIO, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = iocb_err_set(err, IOCB_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = iocb_err_set(err, IOCB_EINVAL, "%s: is a directory", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = read_all(fd, max_bytes, out, path, err);
		goto out;
	}
	if (max_bytes && (uint64_t)st.st_size > max_bytes) {
		rc = iocb_err_set(err, IOCB_ELIMIT, "%s: %lld bytes, larger than the %zu-byte limit", path,
				  (long long)st.st_size, max_bytes);
		goto out;
	}
	if (st.st_size == 0) {
		out->data = "";
		out->len = 0;
		out->mapped_ = 0;
		rc = IOCB_OK;
		goto out;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		rc = iocb_err_set(err, IOCB_EIO, "%s: mmap: %s", path, strerror(errno));
		goto out;
	}
	madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	out->data = p;
	out->len = (size_t)st.st_size;
	out->mapped_ = 1;
	rc = IOCB_OK;
out:
	close(fd);
	return rc;
}

void iocb_file_unmap(struct iocb_file_map *m)
{
	if (!m->data)
		return;
	if (m->mapped_)
		munmap((void *)m->data, m->len);
	else if (m->len)
		free((void *)m->data);
	m->data = NULL;
	m->len = 0;
}
