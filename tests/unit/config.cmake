# SPDX-License-Identifier: Apache-2.0
# config: YAML loading, errors with positions, secrets, dump, docs (tests/unit/test_config.c).
iocb_unit_test(test_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_config.c DEPS iocb_config)
