# `iocbus export` on the bundled example intel (src/export through the command line).
add_test(NAME test_cli_export COMMAND bash ${PROJECT_SOURCE_DIR}/tests/cli/test_export.sh $<TARGET_FILE:iocbus> ${PROJECT_SOURCE_DIR})
set_tests_properties(test_cli_export PROPERTIES LABELS golden TIMEOUT 120)
