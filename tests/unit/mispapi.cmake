# The MISP-compatible read API (src/serve/http/mispapi*.c): restSearch
# parameter parsing, the per-record filter, and MISP's attribute shape
# (src/serve/render/misp.c), over a memory store filled by hand.
iocb_unit_test(test_mispapi SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_mispapi.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_http iocb_render iocb_store)
