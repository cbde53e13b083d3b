# SPDX-License-Identifier: Apache-2.0
# sources: the shared sync state of the live MISP sources (src/sources/sync.c), without source threads.
iocb_unit_test(test_sources_sync SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sources_sync.c DEPS iocb_sources)
