# SPDX-License-Identifier: Apache-2.0
# MISP type table and value normalisation (src/misp/types.c, normalize.c).
iocb_unit_test(test_misp_types SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_misp_types.c DEPS iocb_misp)
