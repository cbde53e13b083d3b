# SPDX-License-Identifier: Apache-2.0
# `iocbus enrich` as a command: inputs, outputs, thread/block invariance, long lines, config section.
add_test(NAME test_enrich_cli COMMAND bash ${PROJECT_SOURCE_DIR}/tests/cli/test_enrich.sh $<TARGET_FILE:iocbus>)
set_tests_properties(test_enrich_cli PROPERTIES LABELS golden TIMEOUT 600)
