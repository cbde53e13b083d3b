iocb_unit_test(test_misp_parse SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_misp_parse.c DEPS iocb_misp)
