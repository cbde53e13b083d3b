/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for MISP value normalisation (src/misp/normalize.c).
 *
 * Input: the first byte picks what is exercised, the rest is the value.
 * Byte values below the number of normalisation kinds run
 * iocb_misp_normalize() with that kind; the others run
 * iocb_misp_value_split() with the type (byte - kinds) modulo the type
 * count. Outputs go to heap buffers of exactly the advertised size so that
 * ASan sees any write past them. Beyond "no crash", the target checks the
 * contract: only OK/EINVAL/ELIMIT come back, results are NUL-terminated,
 * inside their buffer and free of NUL bytes, prefixes are in range, and
 * normalising an output again gives the same bytes (the store compares
 * values byte for byte, so a second spelling would be a missed match).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "misp/misp.h"

#define N_KINDS (IOCB_NORM_PORT + 1)

/* Not assert(): the fuzz preset builds with NDEBUG and the checks must stay. */
#define CHECK(c)                                                                  \
	do {                                                                      \
		if (!(c)) {                                                       \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			abort();                                                  \
		}                                                                 \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_normalised(enum iocb_norm kind, const char *out, size_t len, int prefix)
{
	char *again = malloc(len + 1);
	size_t len2 = 0;
	int prefix2 = 0;
	int rc;

	CHECK(again != NULL);
	CHECK(out[len] == '\0');
	CHECK(strlen(out) == len);
	if (kind == IOCB_NORM_IP_CIDR)
		CHECK(prefix >= -1 && prefix <= 128);
	else
		CHECK(prefix == -1);
	/* Same-size buffer: a normalised value never grows on a second pass. */
	rc = iocb_misp_normalize(kind, iocb_str_make(out, len), again, len + 1, &len2, &prefix2);
	CHECK(rc == IOCB_OK);
	CHECK(len2 == len && memcmp(again, out, len) == 0);
	CHECK(prefix2 == prefix);
	free(again);
}

static void run_normalize(enum iocb_norm kind, const char *val, size_t n)
{
	/* A capacity that sometimes cuts the result short exercises ELIMIT paths. */
	size_t cap = n % 3 == 0 ? n / 2 + 1 : 2 * n + 64;
	char *out = malloc(cap);
	size_t len = 0;
	int prefix = 0;
	int rc;

	CHECK(out != NULL);
	rc = iocb_misp_normalize(kind, iocb_str_make(val, n), out, cap, &len, &prefix);
	CHECK(rc == IOCB_OK || rc == IOCB_EINVAL || rc == IOCB_ELIMIT);
	if (rc == IOCB_OK) {
		CHECK(len < cap);
		check_normalised(kind, out, len, prefix);
	} else {
		CHECK(len == 0 && prefix == -1);
	}
	free(out);
}

static void run_split(const struct iocb_misp_type *t, const char *val, size_t n)
{
	size_t cap = 2 * n + 64;
	char *scratch = malloc(cap);
	struct iocb_str part[2];
	int prefix[2];
	unsigned nparts = 0;
	struct iocb_err err;
	int rc;

	CHECK(scratch != NULL);
	rc = iocb_misp_value_split(t, iocb_str_make(val, n), scratch, cap, part, prefix, &nparts, &err);
	CHECK(rc == IOCB_OK || rc == IOCB_EINVAL || rc == IOCB_ELIMIT);
	if (rc == IOCB_OK) {
		CHECK(nparts == (t->composite ? 2u : 1u));
		for (unsigned i = 0; i < nparts; i++) {
			CHECK(part[i].len > 0);
			CHECK(part[i].ptr >= scratch && part[i].ptr + part[i].len < scratch + cap);
			check_normalised(t->norm[i], part[i].ptr, part[i].len, prefix[i]);
		}
		if (nparts == 1)
			CHECK(part[1].len == 0 && prefix[1] == -1);
	} else {
		CHECK(nparts == 0 && err.rc == rc && err.msg[0] != '\0');
	}
	free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *val;
	size_t n;

	if (size == 0)
		return 0;
	n = size - 1;
	/* Exact-size copy: a read one byte past the value is an ASan report. */
	val = malloc(n ? n : 1);
	CHECK(val != NULL);
	if (n)
		memcpy(val, data + 1, n);
	if (data[0] < N_KINDS)
		run_normalize((enum iocb_norm)data[0], val, n);
	else
		run_split(iocb_misp_type_get((uint16_t)((data[0] - N_KINDS) % iocb_misp_type_count())), val, n);
	free(val);
	return 0;
}
