# SPDX-License-Identifier: Apache-2.0
# Service integration (issue #16 §2): the sd_notify protocol (core/notify) and the journald and JSON log line formats (core/log) (tests/unit/test_ops.c).
iocb_unit_test(test_ops SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_ops.c DEPS iocb_core)
