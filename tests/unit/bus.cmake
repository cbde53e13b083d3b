# Threat Bus compatible zmq-app endpoint (src/serve/bus through bus.h): the pure
# management request parser and the endpoint over loopback ZeroMQ sockets.
iocb_unit_test(test_bus SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bus.c ${CMAKE_CURRENT_LIST_DIR}/fixture_zmq.c DEPS iocb_bus PkgConfig::ZMQ)
# The data plane with a real memory store and real SUB clients: the change feed,
# snapshots, stale subscribers and resync; the store's resumable walk; metrics.
iocb_unit_test(test_bus_feed SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bus_feed.c ${CMAKE_CURRENT_LIST_DIR}/fixture_store.c
               ${CMAKE_CURRENT_LIST_DIR}/fixture_zmq.c
               DEPS iocb_bus iocb_store PkgConfig::ZMQ)
