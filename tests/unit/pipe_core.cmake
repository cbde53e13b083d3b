# SPDX-License-Identifier: Apache-2.0
# pipe core: the on-disk spool (append, replay in order, retire, size cap, torn records) and the dead-letter size cap.
iocb_unit_test(test_pipe_core SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pipe_core.c DEPS iocb_pipe)
