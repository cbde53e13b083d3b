# SPDX-License-Identifier: Apache-2.0
# daemon: /healthz line, own /metrics, reload decisions, through src/daemon/internal.h (tests/unit/test_daemon.c).
iocb_unit_test(test_daemon SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_daemon.c DEPS iocb_daemon)
# issue #16 status page: the status page's data (TLP masking, escaping, history and matches rings; tests/unit/test_daemon_status.c).
iocb_unit_test(test_daemon_status SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_daemon_status.c DEPS iocb_daemon)
