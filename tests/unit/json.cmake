iocb_unit_test(test_json SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_json.c DEPS iocb_json)
