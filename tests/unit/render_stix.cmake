# The STIX 2.1 shapes of src/serve/render (pattern golden table
# tests/golden/stix/patterns.tsv, Indicator, Threat Bus 2020.12 intel).
iocb_unit_test(test_render_stix SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_render_stix.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_render iocb_store)
