# ingest: update semantics of live messages (issue #4).
iocb_unit_test(test_ingest SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ingest.c DEPS iocb_ingest)
