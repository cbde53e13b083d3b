# SPDX-License-Identifier: Apache-2.0
# pipe/spool.c: the on-disk spool (append, replay in order, retire, size cap, torn records);
# pipe/dlq.c: the dead-letter size cap.
iocb_unit_test(test_pipe_spool SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pipe_spool.c DEPS iocb_pipe)
