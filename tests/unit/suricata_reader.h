/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A model of how Suricata loads a dataset file (`load`, exports.md §3.2),
 * for tests: Suricata is not installable here. Two readers:
 *   6.0/7.0 (C): 1024-byte fgets, then each line's last character is
 *     dropped (the '\n' when there is one); lines of 1 byte or less are
 *     skipped; an md5 line must be 33 bytes, a sha256 line 65; string items
 *     are strictly decoded standard base64;
 *   8.0 (Rust): CRLF and a missing final newline handled; a blank line is an
 *     item; lines with two or more commas ignored; hex not length-checked.
 * Items come back decoded (strings) or as written (the other types).
 */
#ifndef IOCB_TESTS_SURICATA_READER_H
#define IOCB_TESTS_SURICATA_READER_H

#include <stddef.h>

#define SURICATA_READER_MAX 64

struct suricata_read {
	char items[SURICATA_READER_MAX][1100];
	size_t len[SURICATA_READER_MAX]; /* bytes of each item (strings may hold any byte) */
	size_t n;                        /* items loaded */
	size_t bad;                      /* lines logged as bad and skipped */
};

/* type: "string", "md5", "sha256", "ipv4", "ip"; v8: the 8.0 reader, else 6.0/7.0. */
void suricata_reader_parse(const char *text, const char *type, int v8, struct suricata_read *out);

#endif
