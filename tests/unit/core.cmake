# SPDX-License-Identifier: Apache-2.0
# core: strings, redaction, capped buffer, arena, return codes, file mapping, log levels (tests/unit/test_core.c).
iocb_unit_test(test_core SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_core.c DEPS iocb_core)
