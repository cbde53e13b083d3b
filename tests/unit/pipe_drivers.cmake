# SPDX-License-Identifier: Apache-2.0
# pipe/drivers.c: every configured type has a driver; a type without one fails start-up by name.
iocb_unit_test(test_pipe_drivers SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pipe_drivers.c DEPS iocb_pipe)
