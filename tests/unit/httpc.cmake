# SPDX-License-Identifier: Apache-2.0
# httpc: the libcurl client against a loopback server inside the test (tests/unit/test_httpc.c).
iocb_unit_test(test_httpc SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_httpc.c DEPS iocb_httpc Threads::Threads)
