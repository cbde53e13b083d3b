# SPDX-License-Identifier: Apache-2.0
# pipe/lines.c: the line assembler and line blocks shared by the file, stdin and tcp inputs.
iocb_unit_test(test_pipe_lines SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pipe_lines.c DEPS iocb_pipe)
