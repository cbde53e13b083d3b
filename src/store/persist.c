/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LMDB persistence for the store.
 *
 * Four named databases in one environment:
 *   attrs   16-byte attribute uuid -> the attribute record as it sits in
 *           memory, with the event pointer replaced by the event's sid
 *           (8 bytes): decoding is one memcpy, so reopening 1 M attributes
 *           costs a cursor scan plus index inserts;
 *   events  8-byte big-endian sid -> the (pointer-free) event metadata;
 *   dict    kind byte + 4-byte big-endian id -> interned string ('s') or
 *           attribute type name ('t'), so the ids inside records stay valid;
 *   meta    key -> value (iocb_store_meta_set, plus "iocb.store.format").
 * Records are stored in host layout: an LMDB file is not portable between
 * architectures anyway (LMDB itself stores host-order integers).
 *
 * Writes are batched: the writer keeps lists of dirty attribute uuids and
 * event sids, and iocb_store_commit() writes the current state of each in
 * ONE write transaction (sorted, so B-tree inserts are sequential, with
 * MDB_APPEND when the database was empty). LMDB's copy-on-write commit makes
 * that transaction atomic: a process killed at any moment reopens to the last
 * completed commit. durable=false opens with MDB_NOSYNC, which keeps that
 * guarantee against a process crash (the OS still has the pages) but not a
 * power loss.
 */
#include "store/internal.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "core/mem.h"

#define FORMAT_KEY "iocb.store.format"
/*
 * 2: records may carry a quality block (ST_F_Q, quality.c). A version 1
 * store has none and reads as is; opening it marks it version 2, so an
 * older build refuses it by name instead of counting records corrupt.
 */
#define FORMAT_VERSION "2"
#define FORMAT_VERSION_OLD "1"

struct store_persist {
	MDB_env *env;   /* the environment */
	MDB_dbi attrs;  /* uuid -> record */
	MDB_dbi events; /* sid -> event metadata */
	MDB_dbi dict;   /* interned strings and types */
	MDB_dbi meta;   /* key -> value */
};

/*
 * Below this much free space, an EIO from a commit is taken for a full file
 * system: LMDB turns a short write (the disk filled during the write) into
 * EIO, and after one the file system has at most a few blocks left.
 */
#define FULL_FS_BYTES ((uint64_t)4 << 20)

/*
 * The plain reason for an LMDB or OS error code `mrc`, written to buf.
 * EIO is checked against the store's free space (see FULL_FS_BYTES).
 */
static const char *reason(const struct iocb_store *s, int mrc, char *buf, size_t cap)
{
	struct statvfs vfs;

	switch (mrc) {
	case MDB_MAP_FULL:
		snprintf(buf, cap, "store map full: store.map_size (%zu bytes) is too small; raise it", s->opts.map_size);
		return buf;
	case ENOSPC:
		return "no space left on device";
	case EDQUOT:
		return "disk quota exceeded";
	case EIO:
		if (statvfs(s->opts.path, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < FULL_FS_BYTES)
			return "no space left on device";
		return "input/output error (a failing disk?)";
	default:
		return mdb_strerror(mrc); /* LMDB's own codes, and strerror() for the OS's */
	}
}

static int lmdb_err(struct iocb_err *err, const struct iocb_store *s, const char *what, int mrc)
{
	char buf[160];

	return iocb_err_set(err, IOCB_EIO, "store: %s: %s: %s", s->opts.path, what, reason(s, mrc, buf, sizeof(buf)));
}

/* The one message for a store that cannot be read safely: what is wrong and what to do. */
static int damaged(struct iocb_err *err, const struct iocb_store *s, const char *what)
{
	return iocb_err_set(err, IOCB_EPARSE,
			    "store damaged: %s/data.mdb: %s; 'iocbus store rebuild %s' sets it aside and starts an "
			    "empty store, then reload it with 'iocbus load --store %s' or let 'iocbus run' refetch "
			    "it from MISP",
			    s->opts.path, what, s->opts.path, s->opts.path);
}

/*
 * Errors of an open or a read that mean the file is not what LMDB wrote.
 * (MDB_VERSION_MISMATCH is not one: that file is whole, for another LMDB.)
 */
static bool is_damage(int mrc)
{
	return mrc == MDB_INVALID || mrc == MDB_CORRUPTED || mrc == MDB_PAGE_NOTFOUND;
}

static int open_err(struct iocb_err *err, const struct iocb_store *s, const char *what, int mrc)
{
	char buf[200];

	if (!is_damage(mrc))
		return lmdb_err(err, s, what, mrc);
	snprintf(buf, sizeof(buf), "%s: %s", what, mdb_strerror(mrc));
	if (mrc == MDB_INVALID) {
		/* Its meta pages could not be read whole: say how short the file is. */
		char file[4096];
		struct stat fs;
		snprintf(file, sizeof(file), "%s/data.mdb", s->opts.path);
		if (stat(file, &fs) == 0)
			snprintf(buf, sizeof(buf), "%s: no valid LMDB meta pages in its %lld bytes (truncated or overwritten)",
				 what, (long long)fs.st_size);
	}
	return damaged(err, s, buf);
}

/* A cursor scan ends with MDB_NOTFOUND; anything else means a page could not be read. */
static int scan_end(struct iocb_err *err, const struct iocb_store *s, const char *what, int mrc)
{
	return mrc == MDB_NOTFOUND ? IOCB_OK : open_err(err, s, what, mrc);
}

/*
 * LMDB maps data.mdb and trusts it: a page past the end of a truncated file
 * is a SIGBUS at the first touch, with no message. Before anything reads a
 * page, compare the file's size with what the newest meta page (which
 * mdb_env_open read with pread, so it is safe) says is in use: pages
 * 0..me_last_pgno of ms_psize bytes.
 */
static int check_size(struct iocb_store *s, struct iocb_err *err)
{
	MDB_envinfo info;
	MDB_stat st;
	mdb_filehandle_t fd;
	struct stat fs;
	char what[200];
	int mrc;

	mrc = mdb_env_info(s->p->env, &info);
	if (!mrc)
		mrc = mdb_env_stat(s->p->env, &st);
	if (!mrc)
		mrc = mdb_env_get_fd(s->p->env, &fd);
	if (mrc)
		return lmdb_err(err, s, "env info", mrc);
	if (fstat(fd, &fs) < 0)
		return iocb_err_set(err, IOCB_EIO, "store: %s: stat: %s", s->opts.path, strerror(errno));
	uint64_t used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	if ((uint64_t)fs.st_size >= used)
		return IOCB_OK;
	snprintf(what, sizeof(what),
		 "the file is %lld bytes but LMDB's meta page records %llu bytes in use (it was truncated)",
		 (long long)fs.st_size, (unsigned long long)used);
	return damaged(err, s, what);
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static uint32_t rbe32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void be64(uint8_t *p, uint64_t v)
{
	be32(p, (uint32_t)(v >> 32));
	be32(p + 4, (uint32_t)v);
}
static uint64_t rbe64(const uint8_t *p)
{
	return (uint64_t)rbe32(p) << 32 | rbe32(p + 4);
}

/* ------------------------------------------------------------ load */

static int load_dict(struct iocb_store *s, MDB_txn *txn, struct iocb_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	int mrc = mdb_cursor_open(txn, s->p->dict, &c);
	if (mrc)
		return lmdb_err(err, s, "dict cursor", mrc);
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size != 5)
			continue;
		const uint8_t *kb = k.mv_data;
		uint32_t id = rbe32(kb + 1);
		struct iocb_str str = iocb_str_make(v.mv_data, v.mv_size);
		if (kb[0] == 's') {
			iocb_store__intern_restore(s, id, str);
		} else if (kb[0] == 't') {
			if (iocb_store__type_restore(s, id, str) < 0) {
				mdb_cursor_close(c);
				return iocb_err_set(err, IOCB_EUNSUPPORTED,
						    "store: %s: attribute type '%.*s' is unknown to this build",
						    s->opts.path, IOCB_STR_FMT(str));
			}
		}
	}
	mdb_cursor_close(c);
	s->dict_saved_strs = s->nstrs;
	s->dict_saved_types = s->ntypes;
	return scan_end(err, s, "dict", mrc);
}

static int load_events(struct iocb_store *s, MDB_txn *txn, struct iocb_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	int mrc = mdb_cursor_open(txn, s->p->events, &c);
	if (mrc)
		return lmdb_err(err, s, "events cursor", mrc);
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		const struct store_evmeta *src = v.mv_data;
		struct store_evmeta hdr;
		if (k.mv_size != 8 || v.mv_size < sizeof(hdr))
			continue;
		memcpy(&hdr, src, sizeof(hdr));
		if (st_evmeta_size(&hdr) != v.mv_size)
			continue;
		struct store_evmeta *m = iocb_store__slab_alloc(&s->slab, v.mv_size);
		memcpy(m, v.mv_data, v.mv_size);
		iocb_store__load_event(s, rbe64(k.mv_data), m);
	}
	mdb_cursor_close(c);
	return scan_end(err, s, "events", mrc);
}

static int load_attrs(struct iocb_store *s, MDB_txn *txn, struct iocb_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	size_t bad = 0;
	int mrc = mdb_cursor_open(txn, s->p->attrs, &c);
	if (mrc)
		return lmdb_err(err, s, "attrs cursor", mrc);
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		struct iocb_store_attr hdr;
		uint64_t sid;
		if (k.mv_size != 16 || v.mv_size < sizeof(hdr)) {
			bad++;
			continue;
		}
		memcpy(&hdr, v.mv_data, sizeof(hdr));
		if (st_attr_size(&hdr) != v.mv_size || hdr.source >= IOCB_STORE_MAX_SOURCES || !s->types[hdr.type] ||
		    memcmp(hdr.uuid, k.mv_data, 16) != 0) {
			bad++;
			continue;
		}
		struct iocb_store_attr *r = iocb_store__slab_alloc(&s->slab, v.mv_size);
		memcpy(r, v.mv_data, v.mv_size);
		memcpy(&sid, &hdr.ev, sizeof(sid));
		r->ev = sid ? iocb_store__event_by_sid(s, sid) : NULL;
		if (!r->ev)
			r->ev = &s->noev;
		iocb_store__load_attr(s, r);
	}
	mdb_cursor_close(c);
	if (bad) {
		char what[64];
		snprintf(what, sizeof(what), "%zu corrupt attribute records", bad);
		return damaged(err, s, what);
	}
	return scan_end(err, s, "attrs", mrc);
}

static int load_meta(struct iocb_store *s, MDB_txn *txn, struct iocb_err *err)
{
	MDB_cursor *c;
	MDB_val k, v;
	char key[256];
	int mrc = mdb_cursor_open(txn, s->p->meta, &c);
	if (mrc)
		return lmdb_err(err, s, "meta cursor", mrc);
	for (mrc = mdb_cursor_get(c, &k, &v, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (k.mv_size == 0 || k.mv_size >= sizeof(key))
			continue;
		memcpy(key, k.mv_data, k.mv_size);
		key[k.mv_size] = '\0';
		if (strncmp(key, "iocb.store.", 11) == 0)
			continue;
		iocb_store__meta_put(s, key, iocb_str_make(v.mv_data, v.mv_size), false);
	}
	mdb_cursor_close(c);
	return scan_end(err, s, "meta", mrc);
}

int iocb_store__persist_open(struct iocb_store *s, struct iocb_err *err)
{
	struct store_persist *p = iocb_xcalloc(1, sizeof(*p));
	MDB_txn *txn = NULL;
	MDB_val k, v;
	MDB_stat st;
	int mrc, rc = IOCB_OK;

	s->p = p;
	if (mkdir(s->opts.path, 0700) < 0 && errno != EEXIST)
		return iocb_err_set(err, IOCB_EIO, "store: %s: mkdir: %s", s->opts.path, strerror(errno));
	mrc = mdb_env_create(&p->env);
	if (mrc)
		return lmdb_err(err, s, "env create", mrc);
	(void)mdb_env_set_maxdbs(p->env, 8);
	mrc = mdb_env_set_mapsize(p->env, s->opts.map_size);
	if (mrc)
		return lmdb_err(err, s, "map size", mrc);
	mrc = mdb_env_open(p->env, s->opts.path, s->opts.durable ? 0 : MDB_NOSYNC, 0600);
	if (mrc)
		return open_err(err, s, "open", mrc);
	if ((rc = check_size(s, err)) < 0)
		return rc;
	mrc = mdb_txn_begin(p->env, NULL, 0, &txn);
	if (mrc)
		return open_err(err, s, "begin", mrc);
	if ((mrc = mdb_dbi_open(txn, "attrs", MDB_CREATE, &p->attrs)) ||
	    (mrc = mdb_dbi_open(txn, "events", MDB_CREATE, &p->events)) ||
	    (mrc = mdb_dbi_open(txn, "dict", MDB_CREATE, &p->dict)) ||
	    (mrc = mdb_dbi_open(txn, "meta", MDB_CREATE, &p->meta))) {
		rc = open_err(err, s, "open databases", mrc);
		goto out;
	}
	k.mv_data = (void *)FORMAT_KEY;
	k.mv_size = sizeof(FORMAT_KEY) - 1;
	mrc = mdb_get(txn, p->meta, &k, &v);
	if (mrc == MDB_NOTFOUND ||
	    (mrc == 0 && v.mv_size == 1 && memcmp(v.mv_data, FORMAT_VERSION_OLD, 1) == 0)) {
		v.mv_data = (void *)FORMAT_VERSION;
		v.mv_size = sizeof(FORMAT_VERSION) - 1;
		mrc = mdb_put(txn, p->meta, &k, &v, 0);
		if (mrc) {
			rc = lmdb_err(err, s, "write format", mrc);
			goto out;
		}
	} else if (mrc) {
		rc = lmdb_err(err, s, "read format", mrc);
		goto out;
	} else if (v.mv_size != sizeof(FORMAT_VERSION) - 1 || memcmp(v.mv_data, FORMAT_VERSION, v.mv_size) != 0) {
		rc = iocb_err_set(err, IOCB_EUNSUPPORTED,
				  "store: %s: unknown store format version '%.*s' (this build reads version %s)",
				  s->opts.path, (int)(v.mv_size > 32 ? 32 : v.mv_size), (const char *)v.mv_data,
				  FORMAT_VERSION);
		goto out;
	}
	/* Pre-size the tables for what is on disk. */
	if (mdb_stat(txn, p->attrs, &st) == 0 && st.ms_entries > s->opts.expected_attrs) {
		free(s->vtab);
		free(s->utab);
		s->vtab = iocb_store__tab_new(st.ms_entries + st.ms_entries / 7);
		s->utab = iocb_store__tab_new(st.ms_entries);
	}
	if (mdb_stat(txn, p->events, &st) == 0 && st.ms_entries > s->opts.expected_attrs / 8) {
		free(s->etab_uuid);
		free(s->etab_id);
		free(s->etab_sid);
		s->etab_uuid = iocb_store__tab_new(st.ms_entries);
		s->etab_id = iocb_store__tab_new(st.ms_entries);
		s->etab_sid = iocb_store__tab_new(st.ms_entries);
	}
	if ((rc = load_dict(s, txn, err)) < 0 || (rc = load_events(s, txn, err)) < 0 ||
	    (rc = load_attrs(s, txn, err)) < 0 || (rc = load_meta(s, txn, err)) < 0)
		goto out;
	mrc = mdb_txn_commit(txn);
	txn = NULL;
	if (mrc)
		rc = lmdb_err(err, s, "commit", mrc);
out:
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

void iocb_store__persist_close(struct iocb_store *s)
{
	if (!s->p)
		return;
	if (s->p->env)
		mdb_env_close(s->p->env);
	free(s->p);
	s->p = NULL;
}

/* ------------------------------------------------------------ commit */

static int cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}
static int cmpu64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int put_attrs(struct iocb_store *s, MDB_txn *txn, struct iocb_err *err)
{
	struct store_persist *p = s->p;
	MDB_stat st;
	MDB_val k, v;
	bool append;
	size_t n = s->ndirty_attrs;
	int mrc;

	if (!n)
		return IOCB_OK;
	qsort(s->dirty_attrs, n, 16, cmp16);
	append = mdb_stat(txn, p->attrs, &st) == 0 && st.ms_entries == 0;
	for (size_t i = 0; i < n; i++) {
		if (i && memcmp(s->dirty_attrs[i], s->dirty_attrs[i - 1], 16) == 0)
			continue;
		const struct iocb_store_attr *r = iocb_store__utab_find(s, s->dirty_attrs[i], NULL);
		k.mv_data = s->dirty_attrs[i];
		k.mv_size = 16;
		if (!r) {
			if (append)
				continue;
			mrc = mdb_del(txn, p->attrs, &k, NULL);
			if (mrc && mrc != MDB_NOTFOUND)
				return lmdb_err(err, s, "delete attribute", mrc);
			continue;
		}
		size_t sz = st_attr_size(r);
		uint64_t sid = r->ev->sid;
		v.mv_size = sz;
		mrc = mdb_put(txn, p->attrs, &k, &v, MDB_RESERVE | (append ? MDB_APPEND : 0));
		if (mrc)
			return lmdb_err(err, s, "write attribute", mrc);
		memcpy(v.mv_data, &sid, 8);
		memcpy((uint8_t *)v.mv_data + 8, (const uint8_t *)r + 8, sz - 8);
	}
	return IOCB_OK;
}

static int put_events(struct iocb_store *s, MDB_txn *txn, struct iocb_err *err)
{
	struct store_persist *p = s->p;
	MDB_val k, v;
	uint8_t kb[8];
	size_t n = s->ndirty_events;
	int mrc;

	if (n == 0)
		return IOCB_OK; /* a commit of metadata only (qsort wants a non-NULL array) */
	qsort(s->dirty_events, n, sizeof(uint64_t), cmpu64);
	for (size_t i = 0; i < n; i++) {
		if (i && s->dirty_events[i] == s->dirty_events[i - 1])
			continue;
		struct iocb_store_event *e = iocb_store__event_by_sid(s, s->dirty_events[i]);
		be64(kb, s->dirty_events[i]);
		k.mv_data = kb;
		k.mv_size = 8;
		if (!e) {
			mrc = mdb_del(txn, p->events, &k, NULL);
			if (mrc && mrc != MDB_NOTFOUND)
				return lmdb_err(err, s, "delete event", mrc);
			continue;
		}
		v.mv_data = e->meta;
		v.mv_size = st_evmeta_size(e->meta);
		mrc = mdb_put(txn, p->events, &k, &v, 0);
		if (mrc)
			return lmdb_err(err, s, "write event", mrc);
	}
	return IOCB_OK;
}

static int put_dict(struct iocb_store *s, MDB_txn *txn, struct iocb_err *err)
{
	MDB_val k, v;
	uint8_t kb[5];
	int mrc;

	k.mv_data = kb;
	k.mv_size = 5;
	for (uint32_t id = s->dict_saved_strs; id < s->nstrs; id++) {
		const struct store_istr *is = st_str(s, id);
		if (!is)
			continue;
		kb[0] = 's';
		be32(kb + 1, id);
		v.mv_data = (void *)is->s;
		v.mv_size = is->len;
		if ((mrc = mdb_put(txn, s->p->dict, &k, &v, 0)))
			return lmdb_err(err, s, "write dict", mrc);
	}
	for (unsigned id = s->dict_saved_types; id < s->ntypes; id++) {
		kb[0] = 't';
		be32(kb + 1, id);
		v.mv_data = (void *)s->types[id]->name;
		v.mv_size = strlen(s->types[id]->name);
		if ((mrc = mdb_put(txn, s->p->dict, &k, &v, 0)))
			return lmdb_err(err, s, "write dict", mrc);
	}
	return IOCB_OK;
}

static int put_meta(struct iocb_store *s, MDB_txn *txn, struct iocb_err *err)
{
	MDB_val k, v;
	int mrc;
	for (struct store_meta_kv *kv = s->meta; kv; kv = kv->next) {
		if (!kv->dirty)
			continue;
		k.mv_data = kv->key;
		k.mv_size = strlen(kv->key);
		v.mv_data = kv->val;
		v.mv_size = kv->len;
		if ((mrc = mdb_put(txn, s->p->meta, &k, &v, 0)))
			return lmdb_err(err, s, "write meta", mrc);
	}
	return IOCB_OK;
}

int iocb_store__persist_commit(struct iocb_store *s, bool *wrote, struct iocb_err *err)
{
	MDB_txn *txn;
	bool meta_dirty = false;
	int rc, mrc;

	*wrote = false;
	for (struct store_meta_kv *kv = s->meta; kv; kv = kv->next)
		meta_dirty |= kv->dirty;
	if (!s->ndirty_attrs && !s->ndirty_events && !meta_dirty && s->dict_saved_strs == s->nstrs &&
	    s->dict_saved_types == s->ntypes)
		return IOCB_OK;
	mrc = mdb_txn_begin(s->p->env, NULL, 0, &txn);
	if (mrc)
		return lmdb_err(err, s, "begin", mrc);
	if ((rc = put_dict(s, txn, err)) < 0 || (rc = put_events(s, txn, err)) < 0 ||
	    (rc = put_attrs(s, txn, err)) < 0 || (rc = put_meta(s, txn, err)) < 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	mrc = mdb_txn_commit(txn);
	if (mrc)
		return lmdb_err(err, s, "commit", mrc);
	*wrote = true;
	s->dict_saved_strs = s->nstrs;
	s->dict_saved_types = s->ntypes;
	for (struct store_meta_kv *kv = s->meta; kv; kv = kv->next)
		kv->dirty = false;
	return IOCB_OK;
}
