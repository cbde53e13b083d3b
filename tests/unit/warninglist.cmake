# SPDX-License-Identifier: Apache-2.0
# quality/warninglist: list types, matching_attributes, sets, policy, located errors.
iocb_unit_test(test_warninglist SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_warninglist.c DEPS iocb_quality)
