# Indicator quality (issue #15): decaying models, expiry, confidence.
iocb_unit_test(test_quality_decay SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_quality_decay.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_quality iocb_store)
