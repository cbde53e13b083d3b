/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The store's metadata: small key/value pairs (sync cursors, the schema
 * version) kept in memory and persisted with the next commit. Keys under
 * "iocb.store." are the store's own.
 */
#include "store/internal.h"

#include <stdlib.h>

#include "core/mem.h"

#define META_RESERVED "iocb.store."

static struct store_meta_kv *meta_find(struct iocb_store *s, const char *key)
{
	for (struct store_meta_kv *kv = s->meta; kv; kv = kv->next)
		if (strcmp(kv->key, key) == 0)
			return kv;
	return NULL;
}

void iocb_store__meta_put(struct iocb_store *s, const char *key, struct iocb_str value, bool dirty)
{
	struct store_meta_kv *kv = meta_find(s, key);
	if (!kv) {
		kv = iocb_xcalloc(1, sizeof(*kv));
		kv->key = iocb_xstrdup(key);
		kv->next = s->meta;
		s->meta = kv;
	}
	free(kv->val);
	kv->val = iocb_xmalloc(value.len + 1);
	if (value.len)
		memcpy(kv->val, value.ptr, value.len);
	kv->val[value.len] = '\0';
	kv->len = value.len;
	kv->dirty = dirty;
}

int iocb_store_meta_set(struct iocb_store *s, const char *key, struct iocb_str value, struct iocb_err *err)
{
	size_t kl = key ? strlen(key) : 0;
	if (kl == 0 || kl > 255)
		return iocb_err_set(err, IOCB_EINVAL, "store: meta key must be 1..255 bytes");
	if (strncmp(key, META_RESERVED, sizeof(META_RESERVED) - 1) == 0)
		return iocb_err_set(err, IOCB_EINVAL, "store: meta key prefix '%s' is reserved", META_RESERVED);
	if (value.len > (1u << 20))
		return iocb_err_set(err, IOCB_ELIMIT, "store: meta value over 1 MiB");
	pthread_mutex_lock(&s->wlock);
	iocb_store__meta_put(s, key, value, s->p != NULL);
	pthread_mutex_unlock(&s->wlock);
	return IOCB_OK;
}

int iocb_store_meta_get(struct iocb_store *s, const char *key, char *out, size_t cap, size_t *out_len)
{
	int rc = IOCB_OK;
	pthread_mutex_lock(&s->wlock);
	struct store_meta_kv *kv = meta_find(s, key);
	if (!kv) {
		rc = IOCB_ENOTFOUND;
	} else {
		if (out_len)
			*out_len = kv->len;
		if (kv->len > cap)
			rc = IOCB_ELIMIT;
		else if (kv->len)
			memcpy(out, kv->val, kv->len);
		if (rc == IOCB_OK && kv->len < cap)
			out[kv->len] = '\0';
	}
	pthread_mutex_unlock(&s->wlock);
	return rc;
}
