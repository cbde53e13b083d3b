# Store module tests: the API through store.h, and crash safety of persistence.
iocb_unit_test(test_store SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_store.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_store)
iocb_unit_test(test_store_crash SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_store_crash.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_store)
iocb_unit_test(test_store_listen SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_store_listen.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_store)
# The quality hook: marks computed by callbacks, sightings, the hot path's live test, persistence.
iocb_unit_test(test_store_quality SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_store_quality.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_store)
