/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The warninglist parser (src/quality/warninglist.c): one list document,
 * then, when it loads, the built tables matched against slices of the same
 * input (hostname walk, CIDR probes, the substring automaton, regexes).
 * Seeds: the upstream lists in tests/fixtures/misp/warninglists/ and small
 * handwritten ones per type.
 */
#include <stddef.h>
#include <stdint.h>

#include "quality/warninglist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iocb_wl_builder *b = iocb_wl_builder_new();
	struct iocb_err err = {0};
	bool added = false;
	if (iocb_wl_builder_add_json(b, "fuzz", "fuzz.json", (const char *)data, size, NULL, &added, &err) < 0 &&
	    added)
		__builtin_trap(); /* a failed list must not be added */
	struct iocb_wl *w = NULL;
	if (iocb_wl_builder_finish(b, &w, &err) < 0)
		return 0;
	const struct iocb_misp_type *types[] = {NULL, iocb_misp_type_find(iocb_str_c("domain|ip")),
						 iocb_misp_type_find(iocb_str_c("ip-dst"))};
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		for (size_t off = 0; off < size && off < 64; off += 7) {
			size_t len = size - off < 80 ? size - off : 80;
			uint16_t set = iocb_wl_match(w, types[t], iocb_str_make((const char *)data + off, len));
			const uint16_t *ls;
			size_t n = iocb_wl_set_lists(w, set, &ls);
			for (size_t i = 0; i < n; i++)
				if (ls[i] >= iocb_wl_count(w))
					__builtin_trap();
		}
	iocb_wl_free(w);
	return 0;
}
