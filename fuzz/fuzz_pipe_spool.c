/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the spool reader (src/pipe/spool.c): the input is the content of a
 * segment file as a crash, a full disk or a stray write may have left it.
 * The reader must hand out only records whose length and checksum hold,
 * skip the rest of a damaged segment, and delete the segment once every
 * record read from it is settled. Invariants (abort() on violation):
 *  - every batch read has len <= the file size and whole lines' worth of
 *    bytes as recorded (nlines as written, data in bounds);
 *  - after settling everything, the spool has nothing unread and the
 *    segment file is gone (deleted, or renamed *.damaged when a record
 *    could not be read).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipe/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void setup(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/iocb-fuzz-spool-%d", (int)getpid());
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_pipe__output_metrics m = {0};
	struct iocb_pipe__spool *s = NULL;
	char path[128];
	FILE *f;
	size_t reads = 0;

	setup();
	if (iocb_pipe__mkdir_p(dir, "fuzz", NULL) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/seg-0000000000000001.spool", dir);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	if (iocb_pipe__spool_open(dir, 0, false, &m, &s, NULL) < 0)
		abort();
	for (;;) {
		struct iocb_pipe__batch *b = iocb_pipe__spool_read(s);

		if (!b)
			break;
		if (b->len > size || b->spool != s || b->pending != 1 || ++reads > size)
			abort();
		iocb_pipe__batch_settle(b);
	}
	if (iocb_pipe__spool_has_unread(s) || access(path, F_OK) == 0)
		abort();
	iocb_pipe__spool_close(s);
	strcat(path, ".damaged");
	unlink(path);
	rmdir(dir);
	return 0;
}
