# Threat Bus compatible zmq-app endpoint (src/serve/bus through bus.h): the pure
# management request parser and the endpoint over loopback ZeroMQ sockets.
iocb_unit_test(test_bus SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bus.c DEPS iocb_bus PkgConfig::ZMQ)
