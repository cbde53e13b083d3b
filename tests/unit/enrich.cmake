# Enrich module tests: field maps and the line engine through enrich.h.
iocb_unit_test(test_enrich SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_enrich.c DEPS iocb_enrich iocb_ingest iocb_quality)
