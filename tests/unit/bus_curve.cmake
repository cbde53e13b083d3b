# The bus's CURVE key files and keygen (src/serve/bus/curve.h).
iocb_unit_test(test_bus_curve SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_bus_curve.c DEPS iocb_bus PkgConfig::ZMQ)
