# The memcached-protocol endpoint (src/serve/memcached through memcached.h): parser/responder and store lookup.
iocb_unit_test(test_memcached SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_memcached.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               DEPS iocb_mc iocb_store)
