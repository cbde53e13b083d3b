/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every exporter shares (see export.h): the format table, the
 * selection, and the sink that replaces a file atomically.
 *
 * Why a temporary file and rename rather than writing in place: the
 * readers of these files (Suricata, Zeek, firewalls) reload them when they
 * change, often by watching the path; a rename makes the new content
 * appear whole or not at all, and an export that fails half-way (disk full,
 * a cap) leaves the last good file for them. The temporary file sits in
 * the destination's directory because rename() only replaces atomically
 * within one file system.
 */
#include "export/export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct iocb_export_format formats[] = {
	{"values", "distinct normalised values, one per line, sorted", iocb_export_values},
	{"zeek", "Zeek Intel framework file (#fields indicator indicator_type meta.source ...)", iocb_export_zeek},
	{"suricata-dataset", "Suricata dataset file (--dataset-type string|md5|sha256|ipv4|ip)",
	 iocb_export_suricata_dataset},
	{"suricata-iprep", "Suricata IP reputation file (<ip|cidr>,<category>,<score>) from tag rules",
	 iocb_export_suricata_iprep},
};

const struct iocb_export_format *iocb_export_format_find(const char *name)
{
	for (size_t i = 0; i < IOCB_ARRAY_LEN(formats); i++)
		if (strcmp(formats[i].name, name) == 0)
			return &formats[i];
	return NULL;
}

const struct iocb_export_format *iocb_export_format_get(size_t i)
{
	return i < IOCB_ARRAY_LEN(formats) ? &formats[i] : NULL;
}

bool iocb_export_selected(const struct iocb_export_opts *o, const struct iocb_store_attr_view *v)
{
	if (!v->to_ids && !o->non_ids)
		return false;
	if (!o->types)
		return true;
	for (size_t i = 0; i < o->ntypes; i++)
		if (o->types[i] == v->type)
			return true;
	return false;
}

/* ------------------------------------------------------------ sink */

void iocb_export_sink_fd(struct iocb_export_sink *k, int fd)
{
	memset(k, 0, sizeof(*k));
	k->fd = fd;
}

int iocb_export_sink_path(struct iocb_export_sink *k, const char *path, struct iocb_err *err)
{
	int n;

	memset(k, 0, sizeof(*k));
	k->fd = -1;
	n = snprintf(k->path, sizeof(k->path), "%s", path);
	if (n <= 0 || (size_t)n >= sizeof(k->path))
		return iocb_err_set(err, IOCB_EINVAL, "export: bad path length");
	snprintf(k->tmp, sizeof(k->tmp), "%s.tmp.%ld", path, (long)getpid());
	k->fd = open(k->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (k->fd < 0)
		return iocb_err_set(err, IOCB_EIO, "%s: %s", k->tmp, strerror(errno));
	k->atomic = true;
	return IOCB_OK;
}

int iocb_export_sink_write(struct iocb_export_sink *k, const void *p, size_t n, struct iocb_err *err)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(k->fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return iocb_err_set(err, IOCB_EIO, "%s: %s", k->atomic ? k->tmp : "export",
					    w < 0 ? strerror(errno) : "short write");
		c += w;
		n -= (size_t)w;
	}
	return IOCB_OK;
}

/* fsync the directory holding `path`, so the rename itself survives a crash. */
static int sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int iocb_export_sink_commit(struct iocb_export_sink *k, struct iocb_err *err)
{
	int rc = IOCB_OK;

	if (!k->atomic)
		return IOCB_OK;
	if (fsync(k->fd) < 0) {
		rc = iocb_err_set(err, IOCB_EIO, "%s: %s", k->tmp, strerror(errno));
		goto out;
	}
	if (close(k->fd) < 0) {
		k->fd = -1;
		rc = iocb_err_set(err, IOCB_EIO, "%s: %s", k->tmp, strerror(errno));
		goto out;
	}
	k->fd = -1;
	if (rename(k->tmp, k->path) < 0) {
		rc = iocb_err_set(err, IOCB_EIO, "%s: %s", k->path, strerror(errno));
		goto out;
	}
	k->atomic = false; /* renamed: nothing left to remove */
	if (sync_dir(k->path) < 0)
		rc = iocb_err_set(err, IOCB_EIO, "%s: directory sync: %s", k->path, strerror(errno));
out:
	iocb_export_sink_abort(k);
	return rc;
}

void iocb_export_sink_abort(struct iocb_export_sink *k)
{
	if (!k->atomic)
		return;
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	unlink(k->tmp);
	k->atomic = false;
}
