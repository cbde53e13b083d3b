# Exports (src/export through export.h): the "values" format and the atomic file sink.
iocb_unit_test(test_export SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_export.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_export iocb_store)
