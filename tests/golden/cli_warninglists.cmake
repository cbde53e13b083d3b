# SPDX-License-Identifier: Apache-2.0
# `iocbus warninglists check` and `iocbus lookup` with quality.warninglists (tests/cli/test_warninglists.sh).
add_test(NAME test_cli_warninglists COMMAND bash ${PROJECT_SOURCE_DIR}/tests/cli/test_warninglists.sh $<TARGET_FILE:iocbus> ${PROJECT_SOURCE_DIR})
set_tests_properties(test_cli_warninglists PROPERTIES LABELS golden TIMEOUT 120)
