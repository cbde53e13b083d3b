# HTTP endpoint tests (src/serve/http through http.h, over loopback sockets) and the
# Prometheus rendering of the sources' counters (iocb_sources_sync_metrics_render).
iocb_unit_test(test_http SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_http.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_http iocb_render iocb_sources iocb_store)
# issue #16 status page: http.auth parsers and checks, the 401 gate, the status page's ETag (tests/unit/test_http_auth.c).
iocb_unit_test(test_http_auth SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_http_auth.c DEPS iocb_http iocb_store crypt)
