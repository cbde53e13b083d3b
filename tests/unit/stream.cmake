# The indicator stream (src/serve/stream through stream.h) against librdkafka's
# in-process mock cluster: changes, baseline, replay = live set, resends.
iocb_unit_test(test_stream SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_stream.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_stream iocb_render iocb_store PkgConfig::RDKAFKA)
