# SPDX-License-Identifier: Apache-2.0
# filter: table-driven whitelist tests (tests/unit/test_filter.c).
iocb_unit_test(test_filter SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_filter.c DEPS iocb_filter)
