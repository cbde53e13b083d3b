# Rendering of store hits (src/serve/render through render.h): the lookup JSON.
iocb_unit_test(test_render SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_render.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_render iocb_store)
